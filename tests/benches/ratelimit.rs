//! `cargo xtask bench ratelimit`: our limiters against governor and leaky-bucket.
//!
//! - `check`: one uncontended `check()` that is admitted (a quota of 10⁹ per second, so
//!   every check conforms and both sides do their compare-and-swap), on each side's default
//!   clock: our `RealClock` (`std::time::Instant`) and governor's `QuantaClock` (TSC).
//!   Notes report the same with governor on `std::time::Instant` (`MonotonicClock`) and ours
//!   on a TSC clock built from governor's, to separate the algorithm from the clock read.
//! - `check-2-threads`: two OS threads checking the same limiter at once; time per check.
//! - `keyed-check-1000`: checks round-robin over 1,000 hot `u64` keys (governor's dashmap
//!   store, our sharded bounded map with room for 4,096 keys so nothing is evicted).
//! - `acquire-ready`: `acquire(1).await` when the cell conforms, on one tokio current-thread
//!   runtime for both (leaky-bucket needs tokio).
//! - `acquire-contended-100`: 100 waiters queued on an exhausted limiter refilling 100 cells
//!   per millisecond, joined on the tokio runtime; time per admitted waiter. Both sides wait
//!   for real time here, so the line is dominated by the millisecond; a note reports ours on
//!   a `VirtualClock` (pure queueing cost, no waiting).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use asynchronously::ratelimit::{KeyedRateLimiter, Quota, RateLimiter};
use asynchronously::time::{Clock, RealClock, RealSleep, VirtualClock};
use asynchronously_tests::bench::{self, time_iterations};
use futures::future::join_all;
use governor::clock::{MonotonicClock, QuantaClock, QuantaInstant, Reference};

/// Our `Clock` on governor's TSC clock: shows what a cheaper clock read buys.
#[derive(Debug, Clone)]
struct TscClock {
    tsc: QuantaClock,
    tsc_origin: QuantaInstant,
    origin: Instant,
}

impl TscClock {
    fn new() -> TscClock {
        let tsc = QuantaClock::default();
        let tsc_origin = governor::clock::Clock::now(&tsc);
        TscClock { tsc, tsc_origin, origin: RealClock.now() }
    }
}

impl Clock for TscClock {
    type Sleep = RealSleep;

    #[inline]
    fn now(&self) -> Instant {
        let elapsed = governor::clock::Clock::now(&self.tsc).duration_since(self.tsc_origin);
        self.origin + Duration::from(elapsed)
    }

    fn sleep_until(&self, deadline: Instant) -> RealSleep {
        let real_deadline = RealClock.now() + deadline.saturating_duration_since(self.now());
        RealClock.sleep_until(real_deadline)
    }

    fn sleep(&self, duration: Duration) -> RealSleep {
        RealClock.sleep(duration)
    }
}

fn per_second(count: u32) -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(count).expect("non-zero"))
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime")
}

/// Runs `check` `iterations` times on each of two threads at once; returns the wall time
/// divided so that the harness reports time per check.
fn two_threads(iterations: u64, check: &(impl Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(2);
    let per_thread = iterations.div_ceil(2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    time_iterations(per_thread, check)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

fn main() {
    let ours = RateLimiter::new(Quota::per_second(1_000_000_000).expect("valid quota"));
    let theirs = governor::RateLimiter::direct(per_second(1_000_000_000));
    assert!(ours.check().is_ok() && theirs.check().is_ok());
    bench::report(
        "ratelimit/check",
        "governor",
        |n| time_iterations(n, || assert!(black_box(&ours).check().is_ok())),
        |n| time_iterations(n, || assert!(black_box(&theirs).check().is_ok())),
    );

    // The same algorithms on the same clock source, either way round.
    let governor_std =
        governor::RateLimiter::direct_with_clock(per_second(1_000_000_000), MonotonicClock);
    let same_std = bench::compare(
        |n| time_iterations(n, || assert!(black_box(&ours).check().is_ok())),
        |n| time_iterations(n, || assert!(black_box(&governor_std).check().is_ok())),
    );
    bench::note(
        "ratelimit/check",
        &format!(
            "both on std Instant: ours {:.1} ns governor {:.1} ns ratio {:.2}",
            same_std.ours_ns,
            same_std.anchor_ns,
            same_std.ratio()
        ),
    );
    let ours_tsc =
        RateLimiter::with_clock(Quota::per_second(1_000_000_000).expect("valid"), TscClock::new());
    let same_tsc = bench::compare(
        |n| time_iterations(n, || assert!(black_box(&ours_tsc).check().is_ok())),
        |n| time_iterations(n, || assert!(black_box(&theirs).check().is_ok())),
    );
    bench::note(
        "ratelimit/check",
        &format!(
            "both on the TSC: ours {:.1} ns governor {:.1} ns ratio {:.2}",
            same_tsc.ours_ns,
            same_tsc.anchor_ns,
            same_tsc.ratio()
        ),
    );
    let clock_read = bench::compare(
        |n| time_iterations(n, || _ = black_box(RealClock.now())),
        |n| {
            let tsc = QuantaClock::default();
            time_iterations(n, || _ = black_box(governor::clock::Clock::now(&tsc)))
        },
    );
    bench::note(
        "ratelimit/check",
        &format!(
            "clock read alone: std Instant::now {:.1} ns quanta {:.1} ns",
            clock_read.ours_ns, clock_read.anchor_ns
        ),
    );

    // Refused checks: a spent limiter, the path a limiter under attack takes.
    let ours_spent = RateLimiter::new(Quota::per_hour(1).expect("valid"));
    let theirs_spent = governor::RateLimiter::direct(governor::Quota::per_hour(NonZeroU32::MIN));
    let _ = (ours_spent.check(), theirs_spent.check());
    let refused = bench::compare(
        |n| time_iterations(n, || assert!(black_box(&ours_spent).check().is_err())),
        |n| time_iterations(n, || assert!(black_box(&theirs_spent).check().is_err())),
    );
    bench::note(
        "ratelimit/check",
        &format!(
            "refused: ours {:.1} ns governor {:.1} ns ratio {:.2}",
            refused.ours_ns,
            refused.anchor_ns,
            refused.ratio()
        ),
    );

    bench::report(
        "ratelimit/check-2-threads",
        "governor",
        |n| two_threads(n, &|| _ = black_box(ours.check())),
        |n| two_threads(n, &|| _ = black_box(theirs.check())),
    );

    let keys: Vec<u64> = (0..1000).map(|key| key * 7919).collect();
    let ours_keyed = KeyedRateLimiter::new(Quota::per_second(1_000_000_000).expect("valid"), 4096)
        .expect("valid");
    let theirs_keyed = governor::RateLimiter::keyed(per_second(1_000_000_000));
    bench::report(
        "ratelimit/keyed-check-1000",
        "governor",
        |n| {
            let mut index = 0;
            time_iterations(n, || {
                index = (index + 1) % keys.len();
                assert!(ours_keyed.check(black_box(&keys[index])).is_ok());
            })
        },
        |n| {
            let mut index = 0;
            time_iterations(n, || {
                index = (index + 1) % keys.len();
                assert!(theirs_keyed.check_key(black_box(&keys[index])).is_ok());
            })
        },
    );
    bench::note("ratelimit/keyed-check-1000", &format!("ours tracks {} keys", ours_keyed.len()));

    let runtime = tokio_runtime();
    let huge = 1 << 40;
    let leaky = leaky_bucket::RateLimiter::builder()
        .max(huge)
        .initial(huge)
        .refill(huge)
        .interval(Duration::from_millis(1))
        .build();
    bench::report(
        "ratelimit/acquire-ready",
        "leaky-bucket",
        |n| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(&ours).acquire(1).await.expect("conforms");
                }
                start.elapsed()
            })
        },
        |n| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(&leaky).acquire_one().await;
                }
                start.elapsed()
            })
        },
    );

    // 100 waiters on an exhausted limiter that refills 100 cells per millisecond. One routine
    // iteration is one round of 100 waiters; the line reports time per waiter.
    let waiters = 100;
    let contended = bench::compare(
        |n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let quota = Quota::new(100, Duration::from_millis(1)).expect("valid");
                let limiter = RateLimiter::new(quota);
                limiter.check_n(100).expect("a full burst");
                total += runtime.block_on(async {
                    let start = Instant::now();
                    join_all((0..waiters).map(|_| limiter.acquire(1))).await;
                    start.elapsed()
                });
            }
            total
        },
        |n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let limiter = leaky_bucket::RateLimiter::builder()
                    .max(100)
                    .initial(0)
                    .refill(100)
                    .interval(Duration::from_millis(1))
                    .build();
                total += runtime.block_on(async {
                    let start = Instant::now();
                    join_all((0..waiters).map(|_| limiter.acquire_one())).await;
                    start.elapsed()
                });
            }
            total
        },
    );
    let per_waiter = |ns: f64| ns / waiters as f64;
    bench::print_line(
        "ratelimit/acquire-contended-100",
        "leaky-bucket",
        bench::Comparison {
            ours_ns: per_waiter(contended.ours_ns),
            anchor_ns: per_waiter(contended.anchor_ns),
        },
    );
    // Ours alone on virtual time: enqueue 100 waiters, then step the clock through them.
    let virtual_cost = bench::compare(
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                let clock = VirtualClock::new();
                let quota = Quota::new(100, Duration::from_millis(1)).expect("valid");
                let limiter = RateLimiter::with_clock(quota, clock.clone());
                limiter.check_n(100).expect("a full burst");
                futures::executor::block_on(async {
                    let all = join_all((0..waiters).map(|_| limiter.acquire(1)));
                    futures::join!(all, clock.run_for(Duration::from_millis(2)));
                });
            }
            start.elapsed()
        },
        |n| {
            // Baseline: the same executor and clock stepping with plain sleeps in place of
            // the limiter, so the note can show what the limiter itself adds.
            let start = Instant::now();
            for _ in 0..n {
                let clock = VirtualClock::new();
                futures::executor::block_on(async {
                    let all = join_all(
                        (0..waiters).map(|i| clock.sleep(Duration::from_micros(10 * (i + 1)))),
                    );
                    futures::join!(all, clock.run_for(Duration::from_millis(2)));
                });
            }
            start.elapsed()
        },
    );
    bench::note(
        "ratelimit/acquire-contended-100",
        &format!(
            "ours on a VirtualClock: {:.1} ns per waiter; the same 100 plain virtual sleeps: {:.1} ns",
            per_waiter(virtual_cost.ours_ns),
            per_waiter(virtual_cost.anchor_ns)
        ),
    );
}
