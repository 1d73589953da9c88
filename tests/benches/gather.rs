//! `cargo bench -p asynchronously-tests --bench gather`: strict and keyed gathers against
//! `futures::future::try_join_all` and futures-buffered's `try_join_all`.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::gather::gather;
use asynchronously_tests::bench::{CountingAllocator, allocations_per_op, note, report};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Polls `future` with a no-op waker until it is ready: every child here wakes itself.
fn drive<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Pending once (waking itself), then ready.
struct YieldOnce {
    yielded: bool,
    value: u64,
}

impl Future for YieldOnce {
    type Output = Result<u64, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.yielded {
            Poll::Ready(Ok(self.value))
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn ready_futures(n: u64) -> impl Iterator<Item = std::future::Ready<Result<u64, ()>>> {
    (0..n).map(|i| ready(Ok(i)))
}

fn yield_once_futures(n: u64) -> impl Iterator<Item = YieldOnce> {
    (0..n).map(|value| YieldOnce { yielded: false, value })
}

fn timed(iterations: u64, mut operation: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        operation();
    }
    start.elapsed()
}

fn main() {
    report(
        "gather/ready-10",
        "try_join_all",
        |n| timed(n, || drop(black_box(drive(gather(ready_futures(10)))))),
        |n| timed(n, || drop(black_box(drive(futures::future::try_join_all(ready_futures(10)))))),
    );
    for (case, make) in [("gather/ready-1000", 0), ("gather/yield-once-1000", 1)] {
        let _ = make;
        let ours = |n| {
            timed(n, || {
                if case == "gather/ready-1000" {
                    drop(black_box(drive(gather(ready_futures(1000)))));
                } else {
                    drop(black_box(drive(gather(yield_once_futures(1000)))));
                }
            })
        };
        let buffered = |n| {
            timed(n, || {
                if case == "gather/ready-1000" {
                    drop(black_box(drive(futures_buffered::try_join_all(ready_futures(1000)))));
                } else {
                    drop(black_box(drive(futures_buffered::try_join_all(yield_once_futures(
                        1000,
                    )))));
                }
            })
        };
        let joined = |n| {
            timed(n, || {
                if case == "gather/ready-1000" {
                    drop(black_box(drive(futures::future::try_join_all(ready_futures(1000)))));
                } else {
                    drop(black_box(drive(futures::future::try_join_all(yield_once_futures(1000)))));
                }
            })
        };
        report(case, "futures-buffered", ours, buffered);
        report(case, "try_join_all", ours, joined);
    }
    let per_op = allocations_per_op(100, || drop(black_box(drive(gather(ready_futures(10))))));
    let anchor = allocations_per_op(100, || {
        drop(black_box(drive(futures::future::try_join_all(ready_futures(10)))))
    });
    note("gather/ready-10", &format!("allocations ours {per_op:.0} try_join_all {anchor:.0}"));
    let per_op =
        allocations_per_op(10, || drop(black_box(drive(gather(yield_once_futures(1000))))));
    let anchor = allocations_per_op(10, || {
        drop(black_box(drive(futures_buffered::try_join_all(yield_once_futures(1000)))))
    });
    note(
        "gather/yield-once-1000",
        &format!("allocations ours {per_op:.0} futures-buffered {anchor:.0}"),
    );
}
