//! The clock-free core shared by the worker and `Ticks`: where the next tick is, and what a
//! due tick looks like under the cadence and missed-tick policy.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use crate::{Cadence, FirstRun, MissedTicks};

/// How late a run may start before [`MissedTicks::Delay`] restarts the grid from it (at most
/// one period): tokio's `Interval` uses the same 5 ms.
const DELAY_TOLERANCE: Duration = Duration::from_millis(5);

#[cfg(test)]
mod tests;

/// The configuration a schedule is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScheduleConfig {
    pub(crate) period: Duration,
    pub(crate) first_run: FirstRun,
    pub(crate) cadence: Cadence,
    pub(crate) missed_ticks: MissedTicks,
    pub(crate) jitter: Duration,
    pub(crate) seed: Option<u64>,
}

/// A tick taken from the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) scheduled: Instant,
    pub(crate) missed: u64,
}

#[derive(Debug)]
pub(crate) struct Schedule {
    config: ScheduleConfig,
    /// The instant of the next tick, jitter excluded; `None` means none is scheduled (never,
    /// or waiting for the runs to finish under `AfterJob`).
    next: Option<Instant>,
    /// The instant `next` was computed from (`next = anchor + period`), so a new period can
    /// move it; `None` while the next tick is a fixed first one.
    anchor: Option<Instant>,
    /// `AfterJob`: no tick until every run has finished (`idle`).
    awaiting_idle: bool,
    /// The `FirstRun::At` instant was past at start: the grid starts at the first run.
    late_start: bool,
    /// How late a `FirstRun::At` instant was at start, reported once.
    first_late: Option<Duration>,
    /// The random delay added to `next`.
    jitter: Duration,
    rng: u64,
    started: bool,
}

impl Schedule {
    pub(crate) fn new(config: ScheduleConfig) -> Self {
        let rng = config.seed.unwrap_or_else(|| RandomState::new().hash_one(0x5eed_u64));
        Schedule {
            config,
            next: None,
            anchor: None,
            awaiting_idle: false,
            late_start: false,
            first_late: None,
            jitter: Duration::ZERO,
            rng,
            started: false,
        }
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    /// Places the first tick; `now` is the start instant.
    pub(crate) fn start(&mut self, now: Instant) {
        self.started = true;
        match self.config.first_run {
            FirstRun::AfterPeriod => self.arm_after(now),
            FirstRun::Immediately => self.set_next(Some(now), None),
            FirstRun::At(at) => {
                if at < now {
                    self.first_late = Some(now - at);
                    self.late_start = true;
                }
                self.set_next(Some(at), None);
            }
        }
    }

    /// Whether the schedule waits for every run to finish before placing the next tick.
    pub(crate) fn is_awaiting_idle(&self) -> bool {
        self.awaiting_idle
    }

    /// Returns, once, how long before start a `FirstRun::At` instant was.
    pub(crate) fn take_first_late(&mut self) -> Option<Duration> {
        self.first_late.take()
    }

    /// The instant the next tick is due (jitter included), or `None` if none is scheduled.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        self.next.and_then(|next| next.checked_add(self.jitter))
    }

    /// Takes the due tick. Call only when `due_at() <= now`.
    pub(crate) fn take(&mut self, now: Instant) -> Due {
        let Some(next) = self.next else {
            debug_assert!(false, "take() without a scheduled tick");
            return Due { scheduled: now, missed: 0 };
        };
        let period = self.config.period;
        if self.config.cadence == Cadence::AfterJob {
            // The next tick is placed when the runs finish (`idle`).
            self.set_next(None, None);
            self.awaiting_idle = true;
            return Due { scheduled: next, missed: 0 };
        }
        if self.anchor.is_none() {
            // The fixed first tick. The grid starts here, or at the run if the instant was
            // already past at start, so a late first run leaves no backlog behind it.
            let grid_start = if std::mem::take(&mut self.late_start) { now } else { next };
            self.arm_after(grid_start);
            return Due { scheduled: next, missed: 0 };
        }
        // `due` grid instants have passed: next, next + period, …
        let behind = now.saturating_duration_since(next);
        let due = 1 + u64::try_from(behind.as_nanos() / period.as_nanos()).unwrap_or(u64::MAX - 1);
        let runs = match self.config.missed_ticks {
            MissedTicks::Burst(max) => due.min(u64::from(max.max(1))),
            MissedTicks::Skip | MissedTicks::Delay => 1,
        };
        let missed = due - runs;
        let scheduled = after(next, period, missed).unwrap_or(next);
        // `Delay` restarts the grid from a late run, also one late by less than a period
        // (tokio's `MissedTickBehavior::Delay`); the tolerance keeps timer latency, and the
        // tick's own jitter, from moving the grid.
        let on_time_until = next
            .checked_add(self.jitter)
            .and_then(|due| due.checked_add(DELAY_TOLERANCE.min(period)))
            .unwrap_or(next);
        if self.config.missed_ticks == MissedTicks::Delay && now > on_time_until {
            self.arm_after(now);
        } else {
            self.arm_after(scheduled);
        }
        Due { scheduled, missed }
    }

    /// Every run has finished at `now`: with `AfterJob`, the next tick is one period away.
    pub(crate) fn idle(&mut self, now: Instant) {
        if std::mem::take(&mut self.awaiting_idle) {
            self.arm_after(now);
        }
    }

    /// A run started out of schedule (`run_now`): with `AfterJob`, the timer restarts when the
    /// runs finish.
    pub(crate) fn busy(&mut self) {
        if self.config.cadence == Cadence::AfterJob && self.started {
            self.set_next(None, None);
            self.awaiting_idle = true;
            self.late_start = false;
        }
    }

    /// Changes the period at `now`; a scheduled tick moves to its anchor plus the new period.
    ///
    /// If that instant is already past, one tick is due at `now` and the grid restarts from
    /// it: the instants between the anchor and `now` were never scheduled, so they are not a
    /// backlog to catch up.
    pub(crate) fn set_period(&mut self, period: Duration, now: Instant) {
        self.config.period = period;
        if let (Some(anchor), Some(_)) = (self.anchor, self.next) {
            match anchor.checked_add(period) {
                Some(next) if next < now => self.set_next(Some(now), None),
                _ => self.arm_after(anchor),
            }
        }
    }

    pub(crate) fn period(&self) -> Duration {
        self.config.period
    }

    /// Restarts the schedule at `now`: the next tick is at `at` (`None`: never), and the grid
    /// continues from it. Forgets a wait for the runs to finish and a late first run.
    pub(crate) fn reset(&mut self, now: Instant, at: Option<Instant>) {
        if !self.started {
            self.start(now);
        }
        self.awaiting_idle = false;
        self.late_start = false;
        match at {
            // One period from now: an ordinary grid tick, which a new period moves.
            Some(at) if now.checked_add(self.config.period) == Some(at) => self.arm_after(now),
            at => self.set_next(at, None),
        }
    }

    /// Drops the ticks that fell due while paused: the next tick is the first one after `now`.
    pub(crate) fn resume(&mut self, now: Instant) {
        let Some(next) = self.next else { return };
        if next > now {
            return;
        }
        self.late_start = false;
        match self.config.cadence {
            Cadence::AfterJob => self.arm_after(now),
            Cadence::Grid => {
                let period = self.config.period;
                let skip =
                    u64::try_from((now - next).as_nanos() / period.as_nanos()).unwrap_or(u64::MAX);
                // The last grid instant at or before `now`; the next tick follows it.
                match after(next, period, skip) {
                    Some(last) => self.arm_after(last),
                    None => self.set_next(None, None),
                }
            }
        }
    }

    /// Schedules the next tick one period after `anchor` (never, if that overflows).
    fn arm_after(&mut self, anchor: Instant) {
        let next = anchor.checked_add(self.config.period);
        self.set_next(next, Some(anchor));
    }

    fn set_next(&mut self, next: Option<Instant>, anchor: Option<Instant>) {
        self.next = next;
        self.anchor = anchor;
        self.jitter = if next.is_some() { self.draw_jitter() } else { Duration::ZERO };
    }

    /// A uniform delay in `[0, jitter]`, from a splitmix64 generator.
    fn draw_jitter(&mut self) -> Duration {
        let max = self.config.jitter;
        if max.is_zero() {
            return Duration::ZERO;
        }
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        let nanos = match max_nanos.checked_add(1) {
            Some(bound) => z % bound,
            None => z,
        };
        Duration::from_nanos(nanos)
    }
}

/// `start + period × count`, or `None` if it cannot be represented.
fn after(start: Instant, period: Duration, count: u64) -> Option<Instant> {
    let nanos = period.as_nanos().checked_mul(u128::from(count))?;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    let subsec = u32::try_from(nanos % 1_000_000_000).ok()?;
    start.checked_add(Duration::new(secs, subsec))
}
