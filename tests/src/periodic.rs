//! Behaviour tests of `asynchronously::periodic`: the job runner, `Ticks` and `Scheduler`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use asynchronously::periodic::{
    Cadence, CancelReason, Deliveries, FirstRun, GridOption, MissedTicks, Overlap, Periodic,
    PeriodicEvent, PeriodicWorker, ScheduleError, Scheduler, Stop, Tick, Ticks,
};
use asynchronously::time::{Clock, VirtualClock};
use futures::{FutureExt, StreamExt};
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{ms, poll_once, secs};

// Compile-time promises: the handle, the futures and the streams can cross threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    const fn assert_send_unpin<T: Send + Unpin>() {}
    assert_send_sync::<Periodic>();
    assert_send_sync_unpin::<Stop>();
    assert_send_sync_unpin::<Ticks<VirtualClock>>();
    assert_send_sync_unpin::<Deliveries<String, VirtualClock>>();
    assert_send_sync::<Scheduler<String, VirtualClock>>();
    type Job = fn(Tick) -> std::future::Ready<()>;
    assert_send_unpin::<PeriodicWorker<Job, VirtualClock>>();
};

/// Counts runs that started, finished, and were dropped before finishing.
#[derive(Default)]
struct Runs {
    started: AtomicUsize,
    finished: AtomicUsize,
    dropped: AtomicUsize,
}

impl Runs {
    fn start(&self) -> RunGuard<'_> {
        self.started.fetch_add(1, Relaxed);
        RunGuard { runs: self, finished: false }
    }

    fn counts(&self) -> (usize, usize, usize) {
        (self.started.load(Relaxed), self.finished.load(Relaxed), self.dropped.load(Relaxed))
    }
}

/// Proves a cancellation: dropped before `finish`, it counts the run as dropped.
struct RunGuard<'a> {
    runs: &'a Runs,
    finished: bool,
}

impl RunGuard<'_> {
    fn finish(mut self) {
        self.finished = true;
        self.runs.finished.fetch_add(1, Relaxed);
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.runs.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// Events reported by a worker, as short strings.
type Log = Arc<Mutex<Vec<String>>>;

fn event_log<E: std::fmt::Display>() -> (Log, impl FnMut(PeriodicEvent<E>) + Send + 'static) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let hook = move |event: PeriodicEvent<E>| {
        let line = match event {
            PeriodicEvent::Failed { run, error } => format!("failed {run}: {error}"),
            PeriodicEvent::Panicked { run, .. } => format!("panicked {run}"),
            PeriodicEvent::TimedOut { run, after } => format!("timed out {run} after {after:?}"),
            PeriodicEvent::Cancelled { run, reason: CancelReason::Stopped } => {
                format!("cancelled {run} at stop")
            }
            PeriodicEvent::Cancelled { run, reason } => format!("cancelled {run}: {reason}"),
            PeriodicEvent::FirstRunLate { by } => format!("first run late by {by:?}"),
            other => other.to_string(),
        };
        sink.lock().unwrap().push(line);
    };
    (log, hook)
}

// ---------------------------------------------------------------------------------------
// Seed cases (asynchronously `Periodic`)
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn runs_exactly_three_times_in_350_ms_with_a_100_ms_period() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| at.lock().unwrap().push(tick.scheduled() - start))
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(350)).await;
            periodic.stop().await;
        });
        assert_eq!(*at.lock().unwrap(), [100, 200, 300].map(ms));
        assert_eq!(clock.elapsed(), ms(350), "stop did not wait for the next tick");
    }
);

runtime_test!(
    async fn a_first_run_30_ms_ahead_is_not_run_at_10_ms_and_runs_once_later() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let runs = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(secs(10))
            .first_run(FirstRun::At(start + ms(30)))
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| {
                assert_eq!(tick.scheduled() - start, ms(30));
                runs.fetch_add(1, Relaxed);
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(10)).await;
            assert_eq!(runs.load(Relaxed), 0, "ran before its first instant");
            clock.run_for(ms(990)).await;
            periodic.stop().await;
        });
        assert_eq!(runs.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn a_first_run_in_the_past_runs_at_once_and_is_reported() {
        let clock = VirtualClock::new();
        clock.advance(secs(60));
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(secs(10))
            .first_run(FirstRun::At(start - secs(5)))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| at.lock().unwrap().push((tick.actual() - start, tick.lag())))
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(secs(25)).await;
            periodic.stop().await;
        });
        assert_eq!(*log.lock().unwrap(), ["first run late by 5s"]);
        // The grid starts at the late run: no backlog of missed ticks behind it.
        assert_eq!(
            *at.lock().unwrap(),
            [(secs(0), secs(5)), (secs(10), secs(0)), (secs(20), secs(0))]
        );
    }
);

runtime_test!(
    async fn a_failing_job_keeps_the_loop_alive_and_each_failure_is_reported() {
        let clock = VirtualClock::new();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(secs(1))
            .with_clock(clock.clone())
            .build(|tick: Tick| async move { Err::<(), _>(format!("boom {}", tick.number())) })
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(secs(3)).await;
            periodic.stop().await;
        });
        assert_eq!(
            *log.lock().unwrap(),
            ["failed 1: boom 1", "failed 2: boom 2", "failed 3: boom 3"]
        );
    }
);

runtime_test!(
    async fn a_panicking_job_is_reported_and_the_loop_goes_on() {
        let clock = VirtualClock::new();
        let (log, hook) = event_log();
        let runs = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(secs(1))
            .with_clock(clock.clone())
            .build(|tick: Tick| {
                runs.fetch_add(1, Relaxed);
                // Run 1 panics while being called, run 2 after an await, run 3 succeeds.
                assert_ne!(tick.number(), 1, "sync panic");
                let clock = clock.clone();
                async move {
                    clock.sleep(ms(10)).await;
                    assert_ne!(tick.number(), 2, "async panic");
                    Ok::<(), String>(())
                }
            })
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(secs(3) + ms(500)).await;
            periodic.stop().await;
        });
        assert_eq!(runs.load(Relaxed), 3);
        assert_eq!(*log.lock().unwrap(), ["panicked 1", "panicked 2"]);
    }
);

runtime_test!(
    async fn a_99_ms_job_runs_3_times_in_350_ms_on_the_grid_and_fewer_after_the_job() {
        async fn count_runs(cadence: Cadence) -> Vec<Duration> {
            let clock = VirtualClock::new();
            let start = clock.now();
            let started = Mutex::new(Vec::new());
            let (periodic, worker) = Periodic::builder(ms(100))
                .cadence(cadence)
                .with_clock(clock.clone())
                .build(|_tick: Tick| {
                    started.lock().unwrap().push(clock.now() - start);
                    clock.sleep(ms(99))
                })
                .unwrap();
            futures::join!(worker, async {
                clock.run_for(ms(350)).await;
                periodic.stop_within(Duration::ZERO).await;
            });
            started.into_inner().unwrap()
        }
        assert_eq!(count_runs(Cadence::Grid).await, [100, 200, 300].map(ms));
        assert_eq!(count_runs(Cadence::AfterJob).await, [100, 299].map(ms));
    }
);

runtime_test!(
    async fn a_job_longer_than_the_period_starts_the_next_run_at_once_on_the_grid() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let started = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build(|tick: Tick| {
                started.lock().unwrap().push((clock.now() - start, tick.missed()));
                clock.sleep(ms(150))
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(560)).await;
            periodic.stop_within(Duration::ZERO).await;
        });
        // 100 → 250 (200 was due: at once), 250 → 400 (300 skipped), 400 → 550 (500 due).
        assert_eq!(
            *started.lock().unwrap(),
            [(ms(100), 0), (ms(250), 0), (ms(400), 1), (ms(550), 0)]
        );
    }
);

runtime_test!(
    async fn stop_returns_promptly_in_the_middle_of_a_sleep() {
        let clock = VirtualClock::new();
        let runs = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(secs(3600))
            .with_clock(clock.clone())
            .build_sync(|_tick: Tick| {
                runs.fetch_add(1, Relaxed);
            })
            .unwrap();
        let stopped_at = futures::join!(worker, async {
            clock.run_for(ms(50)).await;
            assert_eq!(clock.pending_sleepers(), 1, "the worker sleeps towards its tick");
            periodic.stop().await;
            clock.elapsed()
        })
        .1;
        assert_eq!(stopped_at, ms(50));
        assert_eq!(runs.load(Relaxed), 0);
        assert_eq!(clock.pending_sleepers(), 0, "the sleep was dropped");
        assert!(periodic.is_finished());
    }
);

runtime_test!(
    async fn stop_waits_for_the_running_run_to_finish() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(ms(250));
                async move {
                    sleep.await;
                    guard.finish();
                }
            })
            .unwrap();
        let stopped_at = futures::join!(worker, async {
            clock.run_for(ms(150)).await;
            let stop = async {
                periodic.stop().await;
                clock.elapsed()
            };
            futures::join!(stop, clock.run_for(secs(10))).0
        })
        .1;
        assert_eq!(stopped_at, ms(350), "the run started at 100 ms finished at 350 ms");
        assert_eq!(runs.counts(), (1, 1, 0));
    }
);

runtime_test!(
    async fn stop_within_a_grace_period_cancels_the_runs_still_running() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(secs(60));
                async move {
                    sleep.await;
                    guard.finish();
                    Ok::<(), String>(())
                }
            })
            .unwrap();
        let stopped_at = futures::join!(worker.on_event(hook), async {
            clock.run_for(ms(150)).await;
            let stop = periodic.stop_within(secs(2));
            // Let the worker see the stop (and arm the grace period) before time moves on.
            yield_now().await;
            let stop = async {
                stop.await;
                clock.elapsed()
            };
            futures::join!(stop, clock.run_for(secs(10))).0
        })
        .1;
        assert_eq!(stopped_at, ms(2150));
        assert_eq!(runs.counts(), (1, 0, 1));
        assert_eq!(*log.lock().unwrap(), ["cancelled 1 at stop"]);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn a_run_now_still_waiting_when_the_grace_period_ends_is_dropped_not_started() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(secs(3600))
            .first_run(FirstRun::Immediately)
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(secs(60));
                async move {
                    sleep.await;
                    guard.finish();
                }
            })
            .unwrap();
        let stopped_at = futures::join!(worker.on_event(hook), async {
            clock.run_for(ms(500)).await;
            // Waits for the running run (no overlap); the stop's grace ends first.
            periodic.run_now().unwrap();
            let stop = periodic.stop_within(Duration::ZERO);
            // Let the worker see the stop before time moves on.
            yield_now().await;
            let stop = async {
                stop.await;
                clock.elapsed()
            };
            futures::join!(stop, clock.run_for(secs(120))).0
        })
        .1;
        assert_eq!(stopped_at, ms(500), "the stop waited for a run started after its grace");
        assert_eq!(runs.counts(), (1, 0, 1));
        assert_eq!(*log.lock().unwrap(), ["cancelled 1 at stop"]);
    }
);

runtime_test!(
    async fn a_spawned_worker_is_woken_by_run_now_set_period_and_stop_from_another_task(rt) {
        use futures::channel::mpsc;

        let clock = VirtualClock::new();
        let start = clock.now();
        let (tx, mut rx) = mpsc::unbounded();
        let (periodic, worker) = Periodic::builder(secs(3600))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(move |tick: Tick| {
                tx.unbounded_send((tick.actual() - start, tick.is_run_now())).unwrap();
            })
            .unwrap();
        let worker = rt.spawn(worker);
        // Virtual time stands still below: only the command's wake-up can start each run
        // (a missing wake-up hangs here; the hand-polled test below fails instead).
        periodic.run_now().unwrap();
        assert_eq!(rx.next().await, Some((secs(0), true)), "run_now");

        clock.run_for(secs(10)).await;
        // The hour's tick moves to start + 1 s, already past: due at once.
        periodic.set_period(secs(1)).unwrap();
        assert_eq!(rx.next().await, Some((secs(10), false)), "set_period");

        periodic.stop().await;
        worker.await;
        assert!(periodic.is_finished());
    }
);

#[test]
fn each_command_wakes_a_parked_worker_from_another_thread() {
    use std::sync::Arc;
    use std::task::{Context, Waker};

    use crate::support::CountingWaker;

    let clock = VirtualClock::new();
    let (periodic, worker) = Periodic::builder(secs(3600))
        .with_clock(clock.clone())
        .build_sync(|_tick: Tick| ())
        .unwrap();
    let mut worker = std::pin::pin!(worker);
    let wakes = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&wakes));
    type Command<'a> = (&'a str, &'a (dyn Fn(&Periodic) + Sync));
    let commands: [Command<'_>; 5] = [
        ("pause", &|p| p.pause().unwrap()),
        ("resume", &|p| p.resume().unwrap()),
        ("run_now", &|p| p.run_now().unwrap()),
        ("set_period", &|p| p.set_period(secs(60)).unwrap()),
        ("stop", &|p| drop(p.stop_within(secs(30)))),
    ];
    for (name, command) in commands {
        assert!(worker.as_mut().poll(&mut Context::from_waker(&waker)).is_pending(), "{name}");
        let before = wakes.0.load(std::sync::atomic::Ordering::SeqCst);
        std::thread::scope(|scope| {
            scope.spawn(|| command(&periodic));
        });
        let after = wakes.0.load(std::sync::atomic::Ordering::SeqCst);
        assert!(after > before, "{name} did not wake the worker");
    }
    drop(clock);
}

// ---------------------------------------------------------------------------------------
// aiotools timer cases
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn an_immediate_timer_ticks_3_times_in_220_ms() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .first_run(FirstRun::Immediately)
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| at.lock().unwrap().push(tick.actual() - start))
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(220)).await;
            periodic.stop().await;
        });
        assert_eq!(*at.lock().unwrap(), [0, 100, 200].map(ms));
    }
);

runtime_test!(
    async fn overlapping_5_s_runs_every_second_for_9_9_s_leave_5_cancelled_at_stop() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(secs(1))
            .first_run(FirstRun::Immediately)
            .cadence(Cadence::Grid)
            .overlap(Overlap::UpTo(100))
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(secs(5));
                async move {
                    sleep.await;
                    guard.finish();
                    Ok::<(), String>(())
                }
            })
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(ms(9900)).await;
            periodic.stop_within(Duration::ZERO).await;
        });
        assert_eq!(runs.counts(), (10, 5, 5), "(started, finished, cancelled)");
        assert_eq!(
            *log.lock().unwrap(),
            (6..=10).map(|run| format!("cancelled {run} at stop")).collect::<Vec<_>>()
        );
        assert_eq!(clock.pending_sleepers(), 0, "nothing left running");
    }
);

runtime_test!(
    async fn cancel_previous_with_1_s_runs_every_10_ms_cancels_all_10() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(ms(10))
            .first_run(FirstRun::Immediately)
            .cadence(Cadence::Grid)
            .overlap(Overlap::CancelPrevious)
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(secs(1));
                async move {
                    sleep.await;
                    guard.finish();
                    Ok::<(), String>(())
                }
            })
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(ms(99)).await;
            periodic.stop_within(Duration::ZERO).await;
        });
        assert_eq!(runs.counts(), (10, 0, 10), "(started, finished, cancelled)");
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 10);
        assert!(log[..9].iter().all(|line| line.ends_with("superseded by a newer run")), "{log:?}");
        assert_eq!(log[9], "cancelled 10 at stop");
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

// ---------------------------------------------------------------------------------------
// Missed ticks
// ---------------------------------------------------------------------------------------

/// Period 100 ms; run 1 (at 100 ms) stalls for 350 ms, the others are instant. Returns
/// (actual ms, scheduled ms, missed) of every run up to 700 ms.
async fn stall_for_3_5_periods(missed_ticks: MissedTicks) -> Vec<(u64, u64, u64)> {
    let clock = VirtualClock::new();
    let start = clock.now();
    let seen = Mutex::new(Vec::new());
    let as_ms = |instant: Instant| u64::try_from((instant - start).as_millis()).unwrap();
    let (periodic, worker) = Periodic::builder(ms(100))
        .cadence(Cadence::Grid)
        .missed_ticks(missed_ticks)
        .with_clock(clock.clone())
        .build(|tick: Tick| {
            seen.lock().unwrap().push((
                as_ms(tick.actual()),
                as_ms(tick.scheduled()),
                tick.missed(),
            ));
            let stall = if tick.number() == 1 { ms(350) } else { Duration::ZERO };
            clock.sleep(stall)
        })
        .unwrap();
    futures::join!(worker, async {
        clock.run_for(ms(700)).await;
        periodic.stop().await;
    });
    seen.into_inner().unwrap()
}

runtime_test!(
    async fn after_a_stall_of_3_5_periods_skip_runs_once_and_stays_on_the_grid() {
        assert_eq!(
            stall_for_3_5_periods(MissedTicks::Skip).await,
            [(100, 100, 0), (450, 400, 2), (500, 500, 0), (600, 600, 0), (700, 700, 0)]
        );
    }
);

runtime_test!(
    async fn after_a_stall_of_3_5_periods_burst_catches_up_by_at_most_n() {
        assert_eq!(
            stall_for_3_5_periods(MissedTicks::Burst(2)).await,
            [
                (100, 100, 0),
                (450, 300, 1),
                (450, 400, 0),
                (500, 500, 0),
                (600, 600, 0),
                (700, 700, 0)
            ]
        );
        assert_eq!(
            stall_for_3_5_periods(MissedTicks::Burst(10)).await,
            [
                (100, 100, 0),
                (450, 200, 0),
                (450, 300, 0),
                (450, 400, 0),
                (500, 500, 0),
                (600, 600, 0),
                (700, 700, 0)
            ]
        );
    }
);

runtime_test!(
    async fn after_a_stall_of_3_5_periods_delay_shifts_the_grid() {
        assert_eq!(
            stall_for_3_5_periods(MissedTicks::Delay).await,
            [(100, 100, 0), (450, 400, 2), (550, 550, 0), (650, 650, 0)]
        );
    }
);

// ---------------------------------------------------------------------------------------
// A day on the grid
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn a_day_of_1_s_ticks_runs_86400_times_on_the_grid() {
        // Real time is not asserted here (a loaded CI machine would make that flaky); the run
        // takes a fraction of a second, see `cargo test -- a_day_of_1_s_ticks`.
        let clock = VirtualClock::new();
        let start = clock.now();
        let runs = AtomicUsize::new(0);
        let off_grid = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(secs(1))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| {
                let n = runs.fetch_add(1, Relaxed) + 1;
                let expected = start + secs(u64::try_from(n).unwrap());
                if tick.scheduled() != expected || tick.actual() != expected || tick.missed() != 0 {
                    off_grid.fetch_add(1, Relaxed);
                }
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(secs(86_400)).await;
            periodic.stop().await;
        });
        assert_eq!(runs.load(Relaxed), 86_400);
        assert_eq!(off_grid.load(Relaxed), 0, "every run on its grid instant");
    }
);

// ---------------------------------------------------------------------------------------
// Control: pause, resume, run_now, set_period, timeout, jitter, start once
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn pause_drops_the_ticks_due_and_resume_continues_on_the_grid() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| at.lock().unwrap().push(tick.actual() - start))
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(150)).await;
            periodic.pause().unwrap();
            periodic.pause().unwrap();
            // Commands are not clock wake-ups: let the worker see them before time moves.
            yield_now().await;
            clock.run_for(ms(300)).await;
            assert_eq!(clock.pending_sleepers(), 0, "a paused worker does not sleep");
            periodic.resume().unwrap();
            periodic.resume().unwrap();
            yield_now().await;
            clock.run_for(ms(200)).await;
            periodic.stop().await;
        });
        assert_eq!(*at.lock().unwrap(), [100, 500, 600].map(ms));
    }
);

runtime_test!(
    async fn run_now_waits_for_the_running_run_and_merges_requests() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let seen = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(secs(3600))
            .with_clock(clock.clone())
            .build(|tick: Tick| {
                seen.lock().unwrap().push((clock.now() - start, tick.is_run_now(), tick.number()));
                clock.sleep(ms(100))
            })
            .unwrap();
        futures::join!(worker, async {
            periodic.run_now().unwrap();
            yield_now().await;
            clock.run_for(ms(50)).await;
            periodic.run_now().unwrap();
            periodic.run_now().unwrap();
            yield_now().await;
            clock.run_for(ms(500)).await;
            periodic.stop().await;
        });
        assert_eq!(*seen.lock().unwrap(), [(ms(0), true, 1), (ms(100), true, 2)]);
    }
);

runtime_test!(
    async fn run_now_restarts_the_after_job_timer() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let seen = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| {
                seen.lock().unwrap().push((clock.now() - start, tick.is_run_now()));
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(60)).await;
            periodic.run_now().unwrap();
            yield_now().await;
            clock.run_for(ms(200)).await;
            periodic.stop().await;
        });
        assert_eq!(*seen.lock().unwrap(), [(ms(60), true), (ms(160), false), (ms(260), false)]);
    }
);

runtime_test!(
    async fn set_period_moves_the_next_tick_from_the_previous_one() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| at.lock().unwrap().push(tick.scheduled() - start))
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(150)).await;
            periodic.set_period(ms(300)).unwrap();
            yield_now().await;
            clock.run_for(ms(350)).await; // to 500 ms
            // 400 + 20 is past: due at once, for the latest grid instant (500 ms).
            periodic.set_period(ms(20)).unwrap();
            yield_now().await;
            clock.run_for(ms(30)).await;
            periodic.stop().await;
        });
        assert_eq!(*at.lock().unwrap(), [100, 400, 500, 520].map(ms));
    }
);

runtime_test!(
    async fn a_run_longer_than_its_timeout_is_dropped_and_reported() {
        let clock = VirtualClock::new();
        let runs = Runs::default();
        let (log, hook) = event_log();
        let (periodic, worker) = Periodic::builder(secs(1))
            .timeout(ms(300))
            .with_clock(clock.clone())
            .build(|tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(if tick.number() == 1 { secs(5) } else { ms(100) });
                async move {
                    sleep.await;
                    guard.finish();
                    Ok::<(), String>(())
                }
            })
            .unwrap();
        futures::join!(worker.on_event(hook), async {
            clock.run_for(ms(2500)).await;
            periodic.stop().await;
        });
        assert_eq!(runs.counts(), (2, 1, 1));
        assert_eq!(*log.lock().unwrap(), ["timed out 1 after 300ms"]);
    }
);

runtime_test!(
    async fn seeded_jitter_is_reproducible_bounded_and_keeps_the_grid() {
        async fn lags(seed: u64) -> Vec<(Duration, Duration)> {
            let clock = VirtualClock::new();
            let start = clock.now();
            let seen = Mutex::new(Vec::new());
            let (periodic, worker) = Periodic::builder(secs(1))
                .cadence(Cadence::Grid)
                .jitter(ms(200))
                .jitter_seed(seed)
                .with_clock(clock.clone())
                .build_sync(|tick: Tick| {
                    seen.lock().unwrap().push((tick.scheduled() - start, tick.lag()));
                })
                .unwrap();
            futures::join!(worker, async {
                clock.run_for(secs(20) + ms(500)).await;
                periodic.stop().await;
            });
            seen.into_inner().unwrap()
        }
        let first = lags(7).await;
        assert_eq!(first, lags(7).await, "same seed, same delays");
        assert_ne!(first, lags(8).await, "another seed, other delays");
        assert_eq!(first.len(), 20);
        for (k, &(scheduled, lag)) in first.iter().enumerate() {
            assert_eq!(scheduled, secs(u64::try_from(k).unwrap() + 1), "jitter moved the grid");
            assert!(lag <= ms(200), "lag {lag:?} beyond the jitter bound");
        }
        assert!(first.iter().any(|&(_, lag)| lag > Duration::ZERO), "no jitter at all");
    }
);

runtime_test!(
    async fn a_period_of_duration_max_never_runs_on_its_own_but_run_now_does() {
        let clock = VirtualClock::new();
        let runs = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(Duration::MAX)
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|_tick: Tick| {
                runs.fetch_add(1, Relaxed);
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(secs(365 * 24 * 3600)).await;
            assert_eq!(runs.load(Relaxed), 0);
            periodic.run_now().unwrap();
            yield_now().await;
            clock.run_for(secs(1)).await;
            periodic.stop().await;
        });
        assert_eq!(runs.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn a_finished_worker_polled_again_stays_finished() {
        let clock = VirtualClock::new();
        let runs = AtomicUsize::new(0);
        let (periodic, mut worker) = Periodic::builder(ms(1))
            .first_run(FirstRun::Immediately)
            .with_clock(clock.clone())
            .build_sync(|_tick: Tick| {
                runs.fetch_add(1, Relaxed);
            })
            .unwrap();
        assert!(poll_once(&mut worker).is_pending());
        assert_eq!(runs.load(Relaxed), 1);
        let mut stop = periodic.stop();
        assert!(poll_once(&mut worker).is_ready());
        assert!(poll_once(&mut stop).is_ready());
        clock.advance(secs(1));
        assert!(poll_once(&mut worker).is_ready(), "a worker starts once");
        assert_eq!(periodic.resume(), Err(ScheduleError::Stopped));
        assert_eq!(periodic.run_now(), Err(ScheduleError::Stopped));
        assert!(poll_once(&mut worker).is_ready());
        assert_eq!(runs.load(Relaxed), 1);
    }
);

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn bad_configurations_are_typed_errors_at_construction() {
        let job = |_tick: Tick| async {};
        assert_eq!(
            Periodic::builder(Duration::ZERO).build(job).unwrap_err(),
            ScheduleError::ZeroPeriod
        );
        assert_eq!(
            Periodic::builder(Duration::ZERO).ticks().unwrap_err(),
            ScheduleError::ZeroPeriod
        );
        let grid = || Periodic::builder(secs(1)).cadence(Cadence::Grid);
        assert_eq!(
            grid().overlap(Overlap::UpTo(0)).build(job).unwrap_err(),
            ScheduleError::ZeroOverlapLimit
        );
        assert_eq!(
            grid().missed_ticks(MissedTicks::Burst(0)).build(job).unwrap_err(),
            ScheduleError::ZeroBurst
        );
        let error =
            Periodic::builder(secs(1)).missed_ticks(MissedTicks::Delay).build(job).unwrap_err();
        assert_eq!(
            error,
            ScheduleError::NeedsGrid { option: GridOption::MissedTicks(MissedTicks::Delay) }
        );
        assert!(error.to_string().contains("MissedTicks::Delay needs Cadence::Grid"), "{error}");
        assert!(ScheduleError::ZeroPeriod.to_string().contains("got 0"));

        let (periodic, _worker) = grid().build(job).unwrap();
        assert_eq!(periodic.set_period(Duration::ZERO), Err(ScheduleError::ZeroPeriod));
        assert_eq!(periodic.set_period(Duration::MAX), Ok(()));
    }
);

// ---------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn dropping_the_worker_at_any_poll_drops_its_runs_and_completes_stop() {
        for polls in 0..6 {
            let clock = VirtualClock::new();
            let runs = Runs::default();
            let (periodic, worker) = Periodic::builder(ms(100))
                .first_run(FirstRun::Immediately)
                .cadence(Cadence::Grid)
                .overlap(Overlap::UpTo(3))
                .with_clock(clock.clone())
                .build(|_tick: Tick| {
                    let guard = runs.start();
                    let sleep = clock.sleep(ms(250));
                    async move {
                        sleep.await;
                        guard.finish();
                    }
                })
                .unwrap();
            let mut worker = Box::pin(worker);
            for _ in 0..polls {
                assert!(poll_once(&mut worker).is_pending());
                clock.advance(ms(100));
            }
            let mut stop = periodic.stop();
            assert!(poll_once(&mut stop).is_pending(), "the worker has not seen the stop");
            drop(worker);
            assert!(poll_once(&mut stop).is_ready(), "stop completes once the worker is dropped");
            let (started, finished, dropped) = runs.counts();
            assert_eq!(started, finished + dropped, "after {polls} polls");
            assert_eq!(started, polls, "one run started per poll");
            assert!(dropped <= 3, "after {polls} polls: {:?}", runs.counts());
            assert_eq!(clock.pending_sleepers(), 0, "after {polls} polls: nothing left registered");
            assert!(periodic.is_finished());
        }
    }
);

runtime_test!(
    async fn dropping_a_stop_at_any_poll_keeps_the_stop_requested() {
        for polls in 0..3 {
            let clock = VirtualClock::new();
            let (periodic, mut worker) = Periodic::builder(ms(100))
                .with_clock(clock.clone())
                .build(|_tick: Tick| clock.sleep(ms(50)))
                .unwrap();
            assert!(poll_once(&mut worker).is_pending());
            clock.advance(ms(100));
            assert!(poll_once(&mut worker).is_pending(), "a run is in progress");
            let mut stop = periodic.stop();
            for _ in 0..polls {
                assert!(poll_once(&mut stop).is_pending());
            }
            drop(stop);
            assert!(poll_once(&mut worker).is_pending(), "waiting for the run");
            clock.advance(ms(50));
            assert!(poll_once(&mut worker).is_ready(), "the dropped stop still stopped it");
            assert!(poll_once(&mut periodic.stop()).is_ready());
        }
    }
);

runtime_test!(
    async fn dropping_ticks_next_at_any_poll_loses_no_tick() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let mut ticks = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .ticks()
            .unwrap();
        assert!(poll_once(&mut ticks.next()).is_pending(), "the schedule starts at the first poll");
        let mut seen = Vec::new();
        for polls in 0..5u64 {
            {
                let mut next = ticks.next();
                for _ in 0..polls {
                    assert!(poll_once(&mut next).is_pending());
                }
            }
            clock.advance(ms(100));
            let tick = ticks.next().now_or_never().flatten().expect("due");
            seen.push((tick.scheduled() - start, tick.number()));
        }
        assert_eq!(seen, (1..=5).map(|k| (ms(100 * k), k)).collect::<Vec<_>>());
    }
);

runtime_test!(
    async fn dropping_deliveries_next_at_any_poll_loses_no_payload() {
        let clock = VirtualClock::new();
        let (scheduler, mut deliveries) = Scheduler::with_clock(clock.clone());
        for k in 0..4u64 {
            scheduler.insert_after(ms(10 * (k + 1)), k).unwrap();
        }
        let mut delivered = Vec::new();
        for polls in 0..4 {
            {
                let mut next = deliveries.next();
                for _ in 0..polls {
                    assert!(poll_once(&mut next).is_pending());
                }
            }
            clock.advance(ms(10));
            delivered.push(deliveries.next().now_or_never().flatten().expect("due"));
        }
        assert_eq!(delivered, [0, 1, 2, 3]);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

// ---------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn ticks_follow_the_schedule_and_report_missed_ticks() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let mut ticks = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .ticks()
            .unwrap();
        let consumer = async {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let tick = ticks.next().await.unwrap();
                seen.push((tick.actual() - start, tick.scheduled() - start, tick.missed()));
                if tick.number() == 1 {
                    clock.sleep(ms(250)).await; // a slow consumer
                }
            }
            seen
        };
        let (seen, ()) = futures::join!(consumer, clock.run_for(secs(1)));
        assert_eq!(seen, [(ms(100), ms(100), 0), (ms(350), ms(300), 1), (ms(400), ms(400), 0)]);
    }
);

runtime_test!(
    async fn after_job_ticks_wait_a_period_after_the_consumer_asks_again() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let mut ticks = Periodic::builder(ms(100)).with_clock(clock.clone()).ticks().unwrap();
        let consumer = async {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let tick = ticks.next().await.unwrap();
                seen.push(tick.actual() - start);
                clock.sleep(ms(30)).await;
            }
            seen
        };
        let (seen, ()) = futures::join!(consumer, clock.run_for(secs(1)));
        assert_eq!(seen, [100, 230, 360].map(ms));
    }
);

// ---------------------------------------------------------------------------------------
// Scheduler
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn out_of_order_inserts_come_out_in_instant_order_with_ties_fifo() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let (scheduler, deliveries) = Scheduler::with_clock(clock.clone());
        for (name, at) in [("c", 30), ("a", 10), ("b1", 20), ("d", 40), ("b2", 20), ("b3", 20)] {
            scheduler.insert_at(start + ms(at), name).unwrap();
        }
        drop(scheduler);
        let consumer = deliveries.map(|name| (name, clock.now() - start)).collect::<Vec<_>>();
        let (delivered, ()) = futures::join!(consumer, clock.run_for(secs(1)));
        assert_eq!(
            delivered,
            [
                ("a", ms(10)),
                ("b1", ms(20)),
                ("b2", ms(20)),
                ("b3", ms(20)),
                ("c", ms(30)),
                ("d", ms(40))
            ]
        );
    }
);

runtime_test!(
    async fn cancelled_payloads_never_appear() {
        let clock = VirtualClock::new();
        let (scheduler, deliveries) = Scheduler::with_clock(clock.clone());
        let tokens: Vec<_> =
            (0..10u64).map(|k| scheduler.insert_after(ms(10 * k + 10), k).unwrap()).collect();
        // Cancel the first one while the stream sleeps towards it, and every odd one.
        let consumer = deliveries.collect::<Vec<_>>();
        let canceller = async {
            clock.run_for(ms(5)).await;
            assert_eq!(scheduler.cancel(tokens[0]), Some(0));
            for token in tokens.iter().skip(1).step_by(2) {
                assert!(scheduler.cancel(*token).is_some());
            }
            assert_eq!(scheduler.cancel(tokens[1]), None, "already cancelled");
            clock.run_for(secs(1)).await;
            let (other, _other_deliveries) = Scheduler::<u64>::new();
            assert_eq!(other.cancel(tokens[2]), None, "a token of another scheduler");
            assert_eq!(scheduler.cancel(tokens[2]), None, "already delivered");
            drop(scheduler);
        };
        let (delivered, ()) = futures::join!(consumer, canceller);
        assert_eq!(delivered, [2, 4, 6, 8]);
    }
);

runtime_test!(
    async fn close_on_an_empty_scheduler_ends_the_stream() {
        let clock = VirtualClock::new();
        let (scheduler, mut deliveries) = Scheduler::<u32, _>::with_clock(clock.clone());
        let keep_alive = scheduler.clone();
        let consumer = async { deliveries.next().await };
        let closer = async {
            clock.run_for(ms(10)).await;
            assert!(scheduler.close().is_empty());
        };
        let (next, ()) = futures::join!(consumer, closer);
        assert_eq!(next, None);
        assert!(keep_alive.is_closed());
        assert_eq!(keep_alive.insert_after(ms(1), 7).unwrap_err().into_inner(), 7);
    }
);

runtime_test!(
    async fn close_delivers_nothing_more_and_returns_what_waited() {
        let clock = VirtualClock::new();
        let (scheduler, mut deliveries) = Scheduler::with_clock(clock.clone());
        scheduler.insert_after(ms(10), "soon").unwrap();
        scheduler.insert_after(ms(30), "later").unwrap();
        scheduler.insert_after(Duration::MAX, "never").unwrap();
        scheduler.insert_after(ms(20), "middle").unwrap();
        let first = futures::join!(deliveries.next(), clock.run_for(ms(15))).0;
        assert_eq!(first, Some("soon"));
        assert_eq!(scheduler.close(), ["middle", "later", "never"]);
        clock.advance(secs(1));
        assert_eq!(deliveries.next().await, None);
        assert_eq!(deliveries.next().await, None);
        assert!(scheduler.is_empty());
    }
);

runtime_test!(
    async fn the_deliveries_end_when_every_handle_is_dropped_and_the_queue_drained() {
        let clock = VirtualClock::new();
        let (scheduler, deliveries) = Scheduler::with_clock(clock.clone());
        let other = scheduler.clone();
        scheduler.insert_after(ms(10), 1).unwrap();
        other.insert_after(ms(20), 2).unwrap();
        other.insert_after(Duration::MAX, 3).unwrap();
        drop(scheduler);
        let producer = async {
            clock.run_for(ms(15)).await;
            drop(other);
            clock.run_for(ms(15)).await;
        };
        let (delivered, ()) = futures::join!(deliveries.collect::<Vec<_>>(), producer);
        assert_eq!(delivered, [1, 2], "a payload that is never due cannot keep the stream open");
    }
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random inserts and cancels: the stream delivers exactly the kept payloads, sorted by
    /// instant with ties in insertion order, each at its instant.
    #[test]
    fn the_scheduler_delivers_kept_payloads_in_instant_then_insertion_order(
        plan in proptest::collection::vec((0u64..20, any::<bool>()), 0..40)
    ) {
        futures::executor::block_on(async {
            let clock = VirtualClock::new();
            let start = clock.now();
            let (scheduler, deliveries) = Scheduler::with_clock(clock.clone());
            let mut expected = Vec::new();
            for (index, &(at, cancel)) in plan.iter().enumerate() {
                let token = scheduler.insert_at(start + ms(at), index).unwrap();
                if cancel {
                    assert_eq!(scheduler.cancel(token), Some(index));
                } else {
                    expected.push((ms(at), index));
                }
            }
            expected.sort_by_key(|&(at, index)| (at, index));
            drop(scheduler);
            let consumer = deliveries.map(|index| (clock.now() - start, index)).collect::<Vec<_>>();
            let (delivered, ()) = futures::join!(consumer, clock.run_for(secs(1)));
            assert_eq!(delivered, expected);
        });
    }

    /// Any period, any grid policy: runs with instant jobs land exactly on the grid.
    #[test]
    fn grid_runs_never_drift(period_ms in 1u64..500, policy in 0u8..3) {
        futures::executor::block_on(async {
            let missed_ticks = [MissedTicks::Skip, MissedTicks::Burst(3), MissedTicks::Delay][usize::from(policy)];
            let clock = VirtualClock::new();
            let start = clock.now();
            let scheduled = Mutex::new(Vec::new());
            let (periodic, worker) = Periodic::builder(ms(period_ms))
                .cadence(Cadence::Grid)
                .missed_ticks(missed_ticks)
                .with_clock(clock.clone())
                .build_sync(|tick: Tick| scheduled.lock().unwrap().push(tick.scheduled()))
                .unwrap();
            futures::join!(worker, async {
                clock.run_for(ms(period_ms * 200)).await;
                periodic.stop().await;
            });
            let scheduled = scheduled.into_inner().unwrap();
            assert_eq!(scheduled.len(), 200);
            for (k, instant) in (1u64..).zip(scheduled) {
                assert_eq!(instant, start + ms(period_ms * k));
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Issue 10: edge policies, commands after the end, handles, resets
// ---------------------------------------------------------------------------------------

runtime_test!(
    async fn delay_restarts_the_grid_from_a_run_late_by_less_than_a_period() {
        // tokio's `MissedTickBehavior::Delay`: period 100 ms, the first run takes 150 ms and
        // the others 10 ms, so the runs start at 100, 250, 350, 450 and 550 ms.
        let clock = VirtualClock::new();
        let start = clock.now();
        let at = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .missed_ticks(MissedTicks::Delay)
            .with_clock(clock.clone())
            .build(|tick: Tick| {
                at.lock().unwrap().push((tick.actual() - start).as_millis());
                clock.sleep(if tick.number() == 1 { ms(150) } else { ms(10) })
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(600)).await;
            periodic.stop().await;
        });
        assert_eq!(*at.lock().unwrap(), [100, 250, 350, 450, 550]);
    }
);

runtime_test!(
    async fn set_period_into_the_past_gives_one_due_tick_not_a_backlog() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let seen = Mutex::new(Vec::new());
        let (periodic, worker) = Periodic::builder(secs(10))
            .cadence(Cadence::Grid)
            .missed_ticks(MissedTicks::Burst(5))
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| {
                seen.lock().unwrap().push((
                    (tick.actual() - start).as_millis(),
                    (tick.scheduled() - start).as_millis(),
                    tick.missed(),
                ));
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(9500)).await;
            periodic.set_period(secs(1)).unwrap();
            yield_now().await;
            clock.run_for(ms(2600)).await; // to 12.1 s
            periodic.stop().await;
        });
        assert_eq!(
            *seen.lock().unwrap(),
            [(9500, 9500, 0), (10_500, 10_500, 0), (11_500, 11_500, 0)]
        );
    }
);

runtime_test!(
    async fn jitter_of_at_least_the_period_is_a_typed_error_and_shorter_jitter_misses_nothing() {
        let job = |_tick: Tick| async {};
        let jittery = |jitter| Periodic::builder(ms(100)).cadence(Cadence::Grid).jitter(jitter);
        let error = jittery(ms(300)).build(job).unwrap_err();
        assert_eq!(error, ScheduleError::JitterNotBelowPeriod { jitter: ms(300), period: ms(100) });
        assert!(error.to_string().contains("jitter 300ms with period 100ms"), "{error}");
        assert!(matches!(
            jittery(ms(100)).ticks(),
            Err(ScheduleError::JitterNotBelowPeriod { .. })
        ));
        let (periodic, _worker) = jittery(ms(50)).build(job).unwrap();
        assert_eq!(
            periodic.set_period(ms(50)),
            Err(ScheduleError::JitterNotBelowPeriod { jitter: ms(50), period: ms(50) })
        );
        assert_eq!(periodic.set_period(ms(51)), Ok(()));

        // A jitter just below the period never counts as a missed tick.
        let clock = VirtualClock::new();
        let start = clock.now();
        let seen = Mutex::new(Vec::new());
        let (periodic, worker) = jittery(ms(99))
            .jitter_seed(3)
            .with_clock(clock.clone())
            .build_sync(|tick: Tick| {
                seen.lock().unwrap().push((tick.scheduled() - start, tick.missed()))
            })
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(10_100)).await;
            periodic.stop().await;
        });
        let seen = seen.into_inner().unwrap();
        let expected: Vec<_> = (1..=100).map(|k| (ms(100 * k), 0)).collect();
        assert_eq!(seen, expected);
    }
);

runtime_test!(
    async fn commands_after_a_stop_report_that_the_schedule_is_stopped() {
        let clock = VirtualClock::new();
        let (periodic, worker) = Periodic::builder(secs(1))
            .first_run(FirstRun::Immediately)
            .with_clock(clock.clone())
            .build(|_tick: Tick| clock.sleep(secs(5)))
            .unwrap();
        futures::join!(worker, async {
            clock.run_for(ms(100)).await;
            let stop = periodic.stop();
            // Stopping, the run still going: every command already says so.
            assert!(!periodic.is_finished());
            assert_eq!(periodic.run_now(), Err(ScheduleError::Stopped));
            assert_eq!(periodic.pause(), Err(ScheduleError::Stopped));
            futures::join!(stop, clock.run_for(secs(5)));
        });
        assert!(periodic.is_finished());
        assert_eq!(periodic.set_period(secs(2)), Err(ScheduleError::Stopped));
        assert_eq!(periodic.pause(), Err(ScheduleError::Stopped));
        assert_eq!(periodic.resume(), Err(ScheduleError::Stopped));
        assert_eq!(periodic.run_now(), Err(ScheduleError::Stopped));
        assert!(ScheduleError::Stopped.to_string().contains("stopped"));
    }
);

runtime_test!(
    async fn dropping_every_handle_ends_the_worker_after_its_current_run() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let runs = Runs::default();
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build(|_tick: Tick| {
                let guard = runs.start();
                let sleep = clock.sleep(ms(50));
                async move {
                    sleep.await;
                    guard.finish();
                }
            })
            .unwrap();
        let ended_at = Mutex::new(None);
        let worker = worker.map(|()| *ended_at.lock().unwrap() = Some(clock.now() - start));
        futures::join!(worker, async {
            clock.run_for(ms(120)).await; // the first run started at 100 ms
            let clone = periodic.clone();
            drop(periodic);
            yield_now().await;
            assert!(!clone.is_finished(), "a clone still holds the job");
            drop(clone);
            clock.run_for(secs(2)).await;
        });
        assert_eq!(*ended_at.lock().unwrap(), Some(ms(150)), "ended after the running run");
        assert_eq!(runs.counts(), (1, 1, 0));
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn a_detached_job_keeps_running_without_handles() {
        let clock = VirtualClock::new();
        let runs = AtomicUsize::new(0);
        let (periodic, worker) = Periodic::builder(ms(100))
            .with_clock(clock.clone())
            .build_sync(|_tick: Tick| {
                runs.fetch_add(1, Relaxed);
            })
            .unwrap();
        let watcher = periodic.clone();
        periodic.detach();
        let mut worker = worker.fuse();
        futures::select! {
            () = worker => panic!("a detached job ended"),
            () = clock.run_for(ms(550)).fuse() => {}
        }
        assert_eq!(runs.load(Relaxed), 5);
        drop(watcher);
        futures::select! {
            () = worker => panic!("a detached job ended when the last handle went"),
            () = clock.run_for(ms(500)).fuse() => {}
        }
        assert_eq!(runs.load(Relaxed), 10);
    }
);

runtime_test!(
    async fn next_run_at_follows_the_schedule_pause_and_stop() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .build_sync(|_tick: Tick| ())
            .unwrap();
        assert_eq!(periodic.next_run_at(), None);
        futures::join!(worker, async {
            yield_now().await;
            assert_eq!(periodic.next_run_at(), Some(start + ms(100)));
            clock.run_for(ms(250)).await;
            assert_eq!(periodic.next_run_at(), Some(start + ms(300)));
            periodic.pause().unwrap();
            yield_now().await;
            assert_eq!(periodic.next_run_at(), None, "paused");
            periodic.resume().unwrap();
            yield_now().await;
            assert_eq!(periodic.next_run_at(), Some(start + ms(300)));
            periodic.stop().await;
        });
        assert_eq!(periodic.next_run_at(), None);
    }
);

runtime_test!(
    async fn ticks_reset_and_reset_after_restart_the_grid_and_poll_tick_takes_one() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let mut ticks = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(clock.clone())
            .ticks()
            .unwrap();
        let at = |tick: Option<Tick>| (tick.unwrap().scheduled() - start).as_millis();
        let (tick, ()) = futures::join!(ticks.next(), clock.run_for(ms(100)));
        assert_eq!(at(tick), 100);
        clock.advance(ms(430)); // 530 ms: the ticks of 200..500 are due
        ticks.reset();
        assert!(poll_once(&mut ticks.next()).is_pending(), "reset drops the due ticks");
        let (tick, ()) = futures::join!(ticks.next(), clock.run_for(ms(100)));
        assert_eq!(at(tick), 630);
        let (tick, ()) = futures::join!(ticks.next(), clock.run_for(ms(100)));
        assert_eq!(at(tick), 730, "the grid continues from the reset");
        ticks.reset_after(ms(30));
        let (tick, ()) = futures::join!(ticks.next(), clock.run_for(ms(30)));
        assert_eq!(at(tick), 760);
        ticks.reset_after(Duration::ZERO);
        let tick = std::future::poll_fn(|cx| ticks.poll_tick(cx)).await;
        assert_eq!((tick.scheduled() - start, tick.number()), (ms(760), 5));
        ticks.reset_after(Duration::MAX);
        assert!(poll_once(&mut ticks.next()).is_pending());
        assert_eq!(clock.pending_sleepers(), 0, "never due: no sleep registered");
        let (tick, ()) = futures::join!(
            async {
                ticks.reset_after(ms(5));
                ticks.next().await
            },
            clock.run_for(ms(5))
        );
        assert_eq!(at(tick), 765);
    }
);
