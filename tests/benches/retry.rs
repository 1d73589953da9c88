//! `retry` against backon: the cost of the retry machinery around a trivial operation.
//!
//! The `bench` lines use the same call shape on both sides, `op.retry(policy)` (ours borrows
//! the policy, backon copies its builder); the owned `policy.retry(op)`, which clones the
//! policy into the future so that it can be spawned, is reported as a note.
//!
//! Both sides drive the same operation (an `async` block returning a `Result` at once) on
//! `futures::executor::block_on`, one `block_on` per retried call, with policies built
//! outside the timed loop (backon's builder is `Copy` and is turned into a backoff per call,
//! as its `Retryable` trait does).
//!
//! Sleeper: with a zero delay our `Retry` starts no timer and yields to the executor once
//! before the next attempt (so a zero-delay loop cannot starve other tasks). backon always
//! calls its sleeper; its default sleepers need tokio or a futures-timer thread, so the bench
//! gives it the equivalent of ours: a sleeper that yields once. Notes below also report backon
//! with a no-op `ready()` sleeper (which never yields) and with our `RealClock` sleep.

use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::retry::{Backoff, RetryPolicy};
use asynchronously::time::{Clock, RealClock};
use asynchronously_tests::bench::{self, CountingAllocator, allocations_per_op};
use backon::{ConstantBuilder, Retryable as _};
use futures::executor::block_on;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A future that returns `Pending` once (after waking itself), then `Ready`.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_sleeper(_: Duration) -> YieldOnce {
    YieldOnce(false)
}

fn ready_sleeper(_: Duration) -> Ready<()> {
    ready(())
}

fn real_clock_sleeper(delay: Duration) -> asynchronously::time::RealSleep {
    RealClock.sleep(delay)
}

/// Polls a future to completion with a no-op waker: a reusable executor with no overhead.
///
/// Always inlined, so neither side pays for moving its future into a separate frame (left
/// to the optimiser, it inlined the loop for one side and not the other).
#[inline(always)]
fn spin<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// `operation` as a closure of its own type, so that a side case monomorphizes its own copy
/// of the retry machinery and leaves the inlining of the main cases as it was.
fn distinct<R>(mut operation: impl FnMut() -> R) -> impl FnMut() -> R {
    move || operation()
}

/// Fails `failures` times, then succeeds: the operation both sides retry.
fn failing(failures: u32) -> impl FnMut() -> Ready<Result<u32, u32>> {
    let mut call = 0;
    move || {
        call += 1;
        ready(if call <= failures { Err(black_box(call)) } else { Ok(black_box(call)) })
    }
}

fn main() {
    let ours = RetryPolicy::builder()
        .backoff(Backoff::constant(Duration::ZERO))
        .max_retries(10)
        .build()
        .expect("a valid policy");
    let theirs = ConstantBuilder::default().with_delay(Duration::ZERO).with_max_times(10);

    // Sanity: both sides make the same number of calls and return the same value.
    assert_eq!(block_on(ours.retry(failing(10))), Ok(11));
    assert_eq!(block_on(failing(10).retry(theirs).sleep(yield_sleeper)), Ok(11));

    bench::report(
        "retry/success-first-try",
        "backon",
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(
                    block_on(asynchronously::retry::Retryable::retry(failing(0), &ours)).ok(),
                );
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(block_on(failing(0).retry(theirs).sleep(yield_sleeper)).ok());
            }
            start.elapsed()
        },
    );
    bench::report(
        "retry/ten-failures-zero-delay",
        "backon",
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(
                    block_on(asynchronously::retry::Retryable::retry(failing(10), &ours)).ok(),
                );
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(block_on(failing(10).retry(theirs).sleep(yield_sleeper)).ok());
            }
            start.elapsed()
        },
    );

    // The owned form, `policy.retry(op)`, which clones the policy into the future so that it
    // can be spawned: the same cases, reported as notes.
    for (case, failures) in [("retry/success-first-try", 0), ("retry/ten-failures-zero-delay", 10)]
    {
        let owned = bench::compare(
            |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(block_on(ours.retry(failing(failures))).ok());
                }
                start.elapsed()
            },
            |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(block_on(failing(failures).retry(theirs).sleep(yield_sleeper)).ok());
                }
                start.elapsed()
            },
        );
        bench::note(
            case,
            &format!(
                "owned policy.retry(op): ours {:.1} ns backon {:.1} ns ratio {:.2}",
                owned.ours_ns,
                owned.anchor_ns,
                owned.ratio()
            ),
        );
    }

    // A custom schedule of the same ten zero delays: each retried call clones the schedule's
    // iterator into a box at its first failure, and the cursor walks it.
    let custom = RetryPolicy::builder()
        .backoff(Backoff::custom([Duration::ZERO; 10]))
        .unlimited_retries()
        .build()
        .expect("a valid policy");
    assert_eq!(
        block_on(asynchronously::retry::Retryable::retry(distinct(failing(10)), &custom)),
        Ok(11)
    );
    let custom_failures = bench::compare(
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(
                    block_on(asynchronously::retry::Retryable::retry(
                        distinct(failing(10)),
                        &custom,
                    ))
                    .ok(),
                );
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(block_on(failing(10).retry(theirs).sleep(yield_sleeper)).ok());
            }
            start.elapsed()
        },
    );
    let custom_allocations = allocations_per_op(10_000, || {
        black_box(
            spin(asynchronously::retry::Retryable::retry(distinct(failing(10)), &custom)).ok(),
        );
    });
    bench::note(
        "retry/ten-failures-zero-delay",
        &format!(
            "Backoff::custom([0; 10]): ours {:.1} ns backon {:.1} ns ratio {:.2}; ours {:.2} allocations per retried call",
            custom_failures.ours_ns,
            custom_failures.anchor_ns,
            custom_failures.ratio(),
            custom_allocations
        ),
    );

    // The same cases on a no-op-waker spin loop (no executor cost at all), for reference.
    let spin_success = bench::compare(
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(spin(asynchronously::retry::Retryable::retry(failing(0), &ours)).ok());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(spin(failing(0).retry(theirs).sleep(yield_sleeper)).ok());
            }
            start.elapsed()
        },
    );
    bench::note(
        "retry/success-first-try",
        &format!(
            "spin executor: ours {:.1} ns backon {:.1} ns ratio {:.2}",
            spin_success.ours_ns,
            spin_success.anchor_ns,
            spin_success.ratio()
        ),
    );
    let spin_failures = bench::compare(
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(spin(asynchronously::retry::Retryable::retry(failing(10), &ours)).ok());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(spin(failing(10).retry(theirs).sleep(yield_sleeper)).ok());
            }
            start.elapsed()
        },
    );
    bench::note(
        "retry/ten-failures-zero-delay",
        &format!(
            "spin executor: ours {:.1} ns backon {:.1} ns ratio {:.2}",
            spin_failures.ours_ns,
            spin_failures.anchor_ns,
            spin_failures.ratio()
        ),
    );

    // backon with other sleepers, on block_on.
    for (name, routine) in [
        (
            "backon with a ready() sleeper (never yields)",
            Box::new(|n: u64| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(block_on(failing(10).retry(theirs).sleep(ready_sleeper)).ok());
                }
                start.elapsed()
            }) as Box<dyn FnMut(u64) -> Duration>,
        ),
        (
            "backon with RealClock.sleep",
            Box::new(|n: u64| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(block_on(failing(10).retry(theirs).sleep(real_clock_sleeper)).ok());
                }
                start.elapsed()
            }),
        ),
    ] {
        let comparison = bench::compare(
            |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(
                        block_on(asynchronously::retry::Retryable::retry(failing(10), &ours)).ok(),
                    );
                }
                start.elapsed()
            },
            routine,
        );
        bench::note(
            "retry/ten-failures-zero-delay",
            &format!(
                "vs {name}: ours {:.1} ns backon {:.1} ns ratio {:.2}",
                comparison.ours_ns,
                comparison.anchor_ns,
                comparison.ratio()
            ),
        );
    }

    bench::note(
        "retry/future-size",
        &format!(
            "ours {} bytes backon {} bytes (same operation)",
            std::mem::size_of_val(&ours.retry(failing(10))),
            std::mem::size_of_val(&failing(10).retry(theirs).sleep(yield_sleeper))
        ),
    );

    // Heap allocations: per call on success, per retry on the failure path.
    let iterations = 10_000;
    let success = allocations_per_op(iterations, || {
        black_box(spin(asynchronously::retry::Retryable::retry(failing(0), &ours)).ok());
    });
    let ten_failures = allocations_per_op(iterations, || {
        black_box(spin(asynchronously::retry::Retryable::retry(failing(10), &ours)).ok());
    });
    let backon_ten = allocations_per_op(iterations, || {
        black_box(spin(failing(10).retry(theirs).sleep(yield_sleeper)).ok());
    });
    bench::note(
        "retry/allocations",
        &format!(
            "ours {success:.2} per successful call, {:.2} per retry; backon {:.2} per retry",
            (ten_failures - success) / 10.0,
            backon_ten / 10.0
        ),
    );
}
