use std::time::{Duration, Instant};

use asynchronously_time::{Clock, VirtualClock};

use super::{Due, Schedule, ScheduleConfig, after};
use crate::{Cadence, FirstRun, MissedTicks};

fn grid(missed_ticks: MissedTicks) -> ScheduleConfig {
    ScheduleConfig {
        period: Duration::from_millis(100),
        first_run: FirstRun::AfterPeriod,
        cadence: Cadence::Grid,
        missed_ticks,
        jitter: Duration::ZERO,
        seed: Some(1),
    }
}

/// An arbitrary instant: tests read time only through a clock.
fn origin() -> Instant {
    VirtualClock::new().now()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn after_multiplies_without_overflow() {
    let start = origin();
    assert_eq!(after(start, ms(100), 3), Some(start + ms(300)));
    assert_eq!(after(start, Duration::MAX, 2), None);
}

#[test]
fn a_late_take_applies_each_missed_tick_policy() {
    let t0 = origin();
    let cases = [
        (MissedTicks::Skip, vec![Due { scheduled: t0 + ms(400), missed: 2 }], ms(500)),
        (
            MissedTicks::Burst(2),
            vec![
                Due { scheduled: t0 + ms(300), missed: 1 },
                Due { scheduled: t0 + ms(400), missed: 0 },
            ],
            ms(500),
        ),
        (
            MissedTicks::Burst(10),
            vec![
                Due { scheduled: t0 + ms(200), missed: 0 },
                Due { scheduled: t0 + ms(300), missed: 0 },
                Due { scheduled: t0 + ms(400), missed: 0 },
            ],
            ms(500),
        ),
        (MissedTicks::Delay, vec![Due { scheduled: t0 + ms(400), missed: 2 }], ms(550)),
    ];
    for (policy, expected, next) in cases {
        let mut schedule = Schedule::new(grid(policy));
        schedule.start(t0);
        assert_eq!(schedule.take(t0 + ms(100)), Due { scheduled: t0 + ms(100), missed: 0 });
        let now = t0 + ms(450);
        let mut taken = Vec::new();
        while schedule.due_at().is_some_and(|due| due <= now) {
            taken.push(schedule.take(now));
        }
        assert_eq!(taken, expected, "{policy:?}");
        assert_eq!(schedule.due_at(), Some(t0 + next), "{policy:?}");
    }
}

#[test]
fn jitter_stays_within_its_bound_and_off_the_grid() {
    let t0 = origin();
    let mut config = grid(MissedTicks::Skip);
    config.jitter = ms(10);
    let mut schedule = Schedule::new(config);
    schedule.start(t0);
    for k in 1..=1000u64 {
        let due = schedule.due_at().expect("scheduled");
        let grid_instant = t0 + ms(100) * u32::try_from(k).expect("small");
        assert!(due >= grid_instant && due <= grid_instant + ms(10), "tick {k}");
        assert_eq!(schedule.take(due).scheduled, grid_instant, "jitter never moves the grid");
    }
}

#[test]
fn a_period_too_long_for_the_clock_means_never() {
    let mut config = grid(MissedTicks::Skip);
    config.period = Duration::MAX;
    let mut schedule = Schedule::new(config);
    schedule.start(origin());
    assert_eq!(schedule.due_at(), None);
}
