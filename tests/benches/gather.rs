//! `cargo bench -p asynchronously-tests --bench gather`: strict and keyed gathers against
//! `futures::future::try_join_all` and futures-buffered's `try_join_all`.
//!
//! Every future is driven by polling with a no-op waker until it is ready (the children
//! here are ready at once or wake themselves), so no executor cost is measured.

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::gather::{gather, gather_keyed};
use asynchronously_tests::bench::{CountingAllocator, allocations_per_op, compare, note, report};
use futures::future::try_join_all;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Polls `future` with a no-op waker until it is ready.
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

fn ready_futures(n: u64) -> impl Iterator<Item = Ready<Result<u64, ()>>> {
    (0..n).map(|i| ready(Ok(i)))
}

fn yield_once_futures(n: u64) -> impl Iterator<Item = YieldOnce> {
    (0..n).map(|value| YieldOnce { yielded: false, value })
}

/// Times `iterations` runs of `operation`, dropping each output inside the timed loop.
fn timed<T>(iterations: u64, mut operation: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        drop(black_box(operation()));
    }
    start.elapsed()
}

fn main() {
    report(
        "gather/ready-10",
        "try_join_all",
        |n| timed(n, || drive(gather(ready_futures(10)))),
        |n| timed(n, || drive(try_join_all(ready_futures(10)))),
    );
    report(
        "gather/ready-1000",
        "futures-buffered",
        |n| timed(n, || drive(gather(ready_futures(1000)))),
        |n| timed(n, || drive(futures_buffered::try_join_all(ready_futures(1000)))),
    );
    report(
        "gather/ready-1000",
        "try_join_all",
        |n| timed(n, || drive(gather(ready_futures(1000)))),
        |n| timed(n, || drive(try_join_all(ready_futures(1000)))),
    );
    report(
        "gather/yield-once-1000",
        "futures-buffered",
        |n| timed(n, || drive(gather(yield_once_futures(1000)))),
        |n| timed(n, || drive(futures_buffered::try_join_all(yield_once_futures(1000)))),
    );
    report(
        "gather/yield-once-1000",
        "try_join_all",
        |n| timed(n, || drive(gather(yield_once_futures(1000)))),
        |n| timed(n, || drive(try_join_all(yield_once_futures(1000)))),
    );
    report(
        "gather/keyed-1000",
        "try_join_all",
        |n| timed(n, || drive(gather_keyed((0..1000u64).map(|i| (i, ready(Ok::<_, ()>(i))))))),
        |n| {
            timed(n, || {
                let pairs = (0..1000u64).map(|i| ready(Ok::<_, ()>((i, i))));
                drive(try_join_all(pairs)).map(|pairs| pairs.into_iter().collect::<HashMap<_, _>>())
            })
        },
    );

    // The small path is futures' own `try_join_all` behind one dispatch; an A/A run of the
    // anchor against itself shows how much of the ready-10 ratio is noise.
    let same = compare(
        |n| timed(n, || drive(try_join_all(ready_futures(10)))),
        |n| timed(n, || drive(try_join_all(ready_futures(10)))),
    );
    note(
        "gather/ready-10",
        &format!("a/a noise: try_join_all against itself ratio {:.2}", same.ratio()),
    );
    let ours = allocations_per_op(100, || drop(black_box(drive(gather(ready_futures(10))))));
    let anchor =
        allocations_per_op(100, || drop(black_box(drive(try_join_all(ready_futures(10))))));
    note(
        "gather/ready-10",
        &format!("allocations per gather: ours {ours:.0}, try_join_all {anchor:.0}"),
    );
    for (case, futures) in [("ready-1000", false), ("yield-once-1000", true)] {
        let (ours, buffered) = if futures {
            (
                allocations_per_op(10, || drop(black_box(drive(gather(yield_once_futures(1000)))))),
                allocations_per_op(10, || {
                    drop(black_box(drive(futures_buffered::try_join_all(yield_once_futures(1000)))))
                }),
            )
        } else {
            (
                allocations_per_op(10, || drop(black_box(drive(gather(ready_futures(1000)))))),
                allocations_per_op(10, || {
                    drop(black_box(drive(futures_buffered::try_join_all(ready_futures(1000)))))
                }),
            )
        };
        note(
            &format!("gather/{case}"),
            &format!("allocations per gather: ours {ours:.0}, futures-buffered {buffered:.0}"),
        );
    }
}
