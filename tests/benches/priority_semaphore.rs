//! `cargo bench -p asynchronously-tests --bench priority_semaphore`: our `PrioritySemaphore`
//! against tokio's `Semaphore`, async-lock's `Semaphore` and the `priority-semaphore` crate.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
use asynchronously_tests::bench::{self, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const WAITERS: usize = 1000;

#[inline(always)]
fn poll_once<F: Future>(future: Pin<&mut F>) -> Option<F::Output> {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Inlined so that no semaphore pays for moving its future into a helper's frame.
#[inline(always)]
fn ready<F: Future>(future: F) -> F::Output {
    poll_once(pin!(future)).expect("uncontended acquire completes at once")
}

fn uncontended() {
    let ours = PrioritySemaphore::new(1);
    let ours_routine = |iterations| {
        bench::time_iterations(iterations, || {
            let permit = ready(black_box(&ours).acquire(Priority::NORMAL)).expect("open");
            black_box(&permit);
        })
    };
    let tokio_semaphore = tokio::sync::Semaphore::new(1);
    bench::report("priority-semaphore/uncontended", "tokio", ours_routine, |iterations| {
        bench::time_iterations(iterations, || {
            let permit = ready(black_box(&tokio_semaphore).acquire()).expect("open");
            black_box(&permit);
        })
    });
    let async_lock_semaphore = async_lock::Semaphore::new(1);
    bench::report("priority-semaphore/uncontended", "async-lock", ours_routine, |iterations| {
        bench::time_iterations(iterations, || {
            let guard = ready(black_box(&async_lock_semaphore).acquire());
            black_box(&guard);
        })
    });
    let their = Arc::new(priority_semaphore::PrioritySemaphore::new(1));
    bench::report(
        "priority-semaphore/uncontended",
        "priority-semaphore",
        ours_routine,
        |iterations| {
            bench::time_iterations(iterations, || {
                let permit = ready(black_box(&their).acquire(0)).expect("open");
                black_box(&permit);
            })
        },
    );
    let allocations = bench::allocations_per_op(100_000, || {
        let permit = ready(ours.acquire(Priority::NORMAL)).expect("open");
        black_box(&permit);
    });
    bench::note(
        "priority-semaphore/uncontended",
        &format!("allocations per acquire+release {allocations:.3}"),
    );
}

/// Two threads, one permit: each runs `operation` (acquire, hold briefly, release)
/// `iterations / 2` times.
fn two_threads(iterations: u64, operation: impl FnMut() + Clone + Send) -> Duration {
    let per_thread = iterations.div_ceil(2);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let mut operation = operation.clone();
            scope.spawn(move || {
                for _ in 0..per_thread {
                    operation();
                }
            });
        }
    });
    start.elapsed()
}

/// Runs `future` to completion on this thread, spinning instead of parking while it is
/// pending: a hand-off between two running threads then costs what the semaphore costs, not
/// what the OS scheduler costs (a park/unpark pair is microseconds and dominated by noise).
fn spin_on<F: Future>(future: F) -> F::Output {
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }
    thread_local! {
        // One per thread, so the harness allocates nothing per acquire.
        static FLAG: Arc<Flag> = Arc::new(Flag(AtomicBool::new(false)));
    }
    let flag = FLAG.with(Arc::clone);
    let waker = Waker::from(Arc::clone(&flag));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        let mut spins = 0u32;
        while !flag.0.swap(false, Ordering::Acquire) {
            spins += 1;
            if spins % 64 == 0 {
                // Let the other thread run if both share a core.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// A short stretch of work while holding the permit, so that the other thread is queued
/// when it is released: every release is then a hand-off, not a race for a free permit.
fn critical_section() {
    for _ in 0..HOLD_SPINS {
        std::hint::spin_loop();
    }
}

/// Two spin-loop hints (tens of ns, a small part of one hand-off). Without them the two
/// threads mostly race for a free permit instead of handing it over, and the result flips
/// between those regimes from run to run.
const HOLD_SPINS: usize = 2;

fn contended_two_threads() {
    let ours = PrioritySemaphore::new(1);
    let tokio_semaphore = tokio::sync::Semaphore::new(1);
    bench::report(
        "priority-semaphore/contended-2-threads",
        "tokio",
        |iterations| {
            two_threads(iterations, || {
                let permit = spin_on(ours.acquire(Priority::NORMAL));
                critical_section();
                drop(black_box(permit.expect("open")));
            })
        },
        |iterations| {
            two_threads(iterations, || {
                let permit = spin_on(tokio_semaphore.acquire());
                critical_section();
                drop(black_box(permit.expect("open")));
            })
        },
    );
    let handoffs = 200_000;
    let before = bench::allocations();
    two_threads(handoffs, || {
        let permit = spin_on(ours.acquire(Priority::NORMAL));
        critical_section();
        drop(black_box(permit.expect("open")));
    });
    let per_op = (bench::allocations() - before) as f64 / handoffs as f64;
    bench::note(
        "priority-semaphore/contended-2-threads",
        &format!(
            "allocations per acquire+release {per_op:.3} (including spawning the two threads)"
        ),
    );
}

/// Queues `WAITERS` acquires behind one held permit, then (timed) releases it and polls each
/// waiter in the order it is served, dropping each permit to hand over to the next.
fn drain<F: Future, H>(
    hold: impl Fn() -> H,
    acquire: impl Fn(usize) -> F,
    serve_order: &[usize],
) -> Duration {
    let held = hold();
    let mut waiters: Vec<Pin<Box<F>>> =
        (0..serve_order.len()).map(|waiter_idx| Box::pin(acquire(waiter_idx))).collect();
    for waiter in &mut waiters {
        assert!(poll_once(waiter.as_mut()).is_none(), "every waiter queues");
    }
    let start = Instant::now();
    drop(held);
    for &waiter_idx in serve_order {
        let outcome = poll_once(waiters[waiter_idx].as_mut()).expect("served in order");
        drop(black_box(outcome));
    }
    let elapsed = start.elapsed();
    drop(waiters);
    elapsed
}

fn mixed_priority(waiter_idx: usize) -> Priority {
    Priority::new(i32::try_from(waiter_idx * 7 % 5).expect("small"))
}

fn drain_waiters() {
    let ours = PrioritySemaphore::new(1);
    let mut ours_order: Vec<usize> = (0..WAITERS).collect();
    ours_order.sort_by_key(|&waiter_idx| (mixed_priority(waiter_idx), waiter_idx));
    let fifo_order: Vec<usize> = (0..WAITERS).collect();
    let tokio_semaphore = tokio::sync::Semaphore::new(1);
    let ours_drain = || {
        drain(
            || ready(ours.acquire(Priority::HIGHEST)).expect("open"),
            |waiter_idx| ours.acquire(mixed_priority(waiter_idx)),
            &ours_order,
        )
    };
    let comparison = bench::compare(
        |iterations| (0..iterations).map(|_| ours_drain()).sum(),
        |iterations| {
            (0..iterations)
                .map(|_| {
                    drain(
                        || ready(tokio_semaphore.acquire()).expect("open"),
                        |_| tokio_semaphore.acquire(),
                        &fifo_order,
                    )
                })
                .sum()
        },
    );
    // One operation = one waiter served; the harness measured whole drains.
    let per_waiter = bench::Comparison {
        ours_ns: comparison.ours_ns / WAITERS as f64,
        anchor_ns: comparison.anchor_ns / WAITERS as f64,
    };
    bench::print_line("priority-semaphore/drain-1000-waiters", "tokio", per_waiter);

    // Allocations of queueing: into a fresh semaphore, then into a warmed-up one.
    let fresh = PrioritySemaphore::new(0);
    let mut waiters: Vec<_> = (0..WAITERS).map(|_| fresh.acquire(Priority::NORMAL)).collect();
    let before = bench::allocations();
    for waiter in &mut waiters {
        assert!(poll_once(Pin::new(waiter)).is_none());
    }
    let cold = (bench::allocations() - before) as f64 / WAITERS as f64;
    drop(waiters);
    let mut waiters: Vec<_> = (0..WAITERS).map(|_| fresh.acquire(Priority::NORMAL)).collect();
    let before = bench::allocations();
    for waiter in &mut waiters {
        assert!(poll_once(Pin::new(waiter)).is_none());
    }
    let warm = (bench::allocations() - before) as f64 / WAITERS as f64;
    bench::note(
        "priority-semaphore/queued",
        &format!("allocations per queued acquire {cold:.3} (fresh semaphore) {warm:.3} (warm)"),
    );
}

/// 10,000 waiters, each at its own priority (queued in a scrambled order), drained best
/// first; tokio has no priorities, so its FIFO drain of as many waiters is the cost to match.
fn distinct_priorities() {
    const COUNT: usize = 10_000;
    let priority = |waiter_idx: usize| {
        Priority::new(i32::try_from(waiter_idx * 7_919 % COUNT).expect("small"))
    };
    let mut ours_order: Vec<usize> = (0..COUNT).collect();
    ours_order.sort_by_key(|&waiter_idx| priority(waiter_idx));
    let fifo_order: Vec<usize> = (0..COUNT).collect();
    let ours = PrioritySemaphore::new(1);
    let tokio_semaphore = tokio::sync::Semaphore::new(1);
    let comparison = bench::compare(
        |iterations| {
            (0..iterations)
                .map(|_| {
                    drain(
                        || ready(ours.acquire(Priority::HIGHEST)).expect("open"),
                        |waiter_idx| ours.acquire(priority(waiter_idx)),
                        &ours_order,
                    )
                })
                .sum()
        },
        |iterations| {
            (0..iterations)
                .map(|_| {
                    drain(
                        || ready(tokio_semaphore.acquire()).expect("open"),
                        |_| tokio_semaphore.acquire(),
                        &fifo_order,
                    )
                })
                .sum()
        },
    );
    let per_waiter = bench::Comparison {
        ours_ns: comparison.ours_ns / COUNT as f64,
        anchor_ns: comparison.anchor_ns / COUNT as f64,
    };
    bench::print_line("priority-semaphore/distinct-priorities-10000", "tokio", per_waiter);
}

/// 100,000 queued requests rejected at once by `forget`, and by `add_permits` to a semaphore
/// that had no permits: each sweep must be one pass, not a rescan per rejection.
fn reject_many() {
    const COUNT: usize = 100_000;
    let semaphore = PrioritySemaphore::new(3);
    let mut held = ready(semaphore.acquire_many(3, Priority::NORMAL)).expect("open");
    let mut waiters: Vec<_> =
        (0..COUNT).map(|_| Box::pin(semaphore.acquire_many(3, Priority::NORMAL))).collect();
    for waiter in &mut waiters {
        assert!(poll_once(waiter.as_mut()).is_none());
    }
    let start = Instant::now();
    held.split(1).expect("holds three").forget();
    let by_forget = start.elapsed();
    assert_eq!(semaphore.waiting_total(), 0, "every request was rejected");
    drop(held);
    drop(waiters);
    let empty = PrioritySemaphore::new(0);
    let mut waiters: Vec<_> =
        (0..COUNT).map(|_| Box::pin(empty.acquire_many(2, Priority::NORMAL))).collect();
    for waiter in &mut waiters {
        assert!(poll_once(waiter.as_mut()).is_none());
    }
    let start = Instant::now();
    empty.add_permits(1).expect("below the maximum");
    let by_add = start.elapsed();
    assert_eq!(empty.waiting_total(), 0, "every request was rejected");
    drop(waiters);
    bench::note(
        "priority-semaphore/reject-100000",
        &format!(
            "forget {:.1} ms add_permits {:.1} ms",
            by_forget.as_secs_f64() * 1e3,
            by_add.as_secs_f64() * 1e3
        ),
    );
}

/// 10,000 queued hand-offs on an aging semaphore (1 s per step, at most 10 steps, on the
/// real clock), against tokio's FIFO drain of as many waiters.
fn aging_handoff() {
    const COUNT: usize = 10_000;
    let order: Vec<usize> = (0..COUNT).collect();
    let ours = PrioritySemaphore::builder(1)
        .aging(Duration::from_secs(1), 10)
        .build()
        .expect("valid configuration");
    let tokio_semaphore = tokio::sync::Semaphore::new(1);
    let ours_drain = || {
        drain(
            || ready(ours.acquire(Priority::HIGHEST)).expect("open"),
            |waiter_idx| ours.acquire(mixed_priority(waiter_idx)),
            &{
                let mut order = order.clone();
                order.sort_by_key(|&waiter_idx| (mixed_priority(waiter_idx), waiter_idx));
                order
            },
        )
    };
    let comparison = bench::compare(
        |iterations| (0..iterations).map(|_| ours_drain()).sum(),
        |iterations| {
            (0..iterations)
                .map(|_| {
                    drain(
                        || ready(tokio_semaphore.acquire()).expect("open"),
                        |_| tokio_semaphore.acquire(),
                        &order,
                    )
                })
                .sum()
        },
    );
    let per_waiter = bench::Comparison {
        ours_ns: comparison.ours_ns / COUNT as f64,
        anchor_ns: comparison.anchor_ns / COUNT as f64,
    };
    bench::print_line("priority-semaphore/aging-handoff", "tokio", per_waiter);
    let before = bench::allocations();
    let _ = ours_drain();
    let per_handoff = (bench::allocations() - before) as f64 / COUNT as f64;
    bench::note(
        "priority-semaphore/aging-handoff",
        &format!(
            "allocations per queued hand-off {per_handoff:.3} (including the harness's boxed futures, 1.000)"
        ),
    );
}

fn main() {
    let only = std::env::args().nth(1).filter(|arg| !arg.starts_with('-'));
    let wants = |case: &str| only.as_deref().is_none_or(|only| case.contains(only));
    if wants("uncontended") {
        uncontended();
    }
    if wants("contended-2-threads") {
        contended_two_threads();
    }
    if wants("drain-1000-waiters") {
        drain_waiters();
    }
    if wants("distinct-priorities-10000") {
        distinct_priorities();
    }
    if wants("reject-100000") {
        reject_many();
    }
    if wants("aging-handoff") {
        aging_handoff();
    }
}
