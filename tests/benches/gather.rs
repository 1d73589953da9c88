//! `cargo bench -p asynchronously-tests --bench gather`: strict and keyed gathers against
//! `futures::future::try_join_all` and futures-buffered's `try_join_all`, `as_completed`
//! against futures-buffered's `FuturesUnordered`, and limited joins (over an iterator and
//! over a stream, unordered and ordered) against futures' `buffer_unordered` and `buffered`.
//!
//! Every future is driven by polling with a no-op waker until it is ready, so no executor
//! cost is measured. The children are ready at once, wake themselves, or (the
//! `outside-wake` cases, the normal case in a service) wait for a signal fired from outside
//! one at a time in random order, the join being polled after each.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::gather::{Limit, as_completed, gather, gather_keyed};
use asynchronously_tests::bench::{CountingAllocator, allocations_per_op, compare, note, report};
use futures::future::try_join_all;
use futures::{Stream, StreamExt};

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

/// Fired from outside; the waiting child keeps the latest waker, as channels do.
#[derive(Default)]
struct Signal {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.fired.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

struct WaitFor {
    signal: Rc<Signal>,
    value: u64,
}

impl Future for WaitFor {
    type Output = Result<u64, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.signal.fired.get() {
            return Poll::Ready(Ok(self.value));
        }
        let mut waker = self.signal.waker.borrow_mut();
        match &*waker {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// `n` signals and their children, and a random firing order (the same for every run).
fn outside_wake(n: usize) -> (Vec<Rc<Signal>>, Vec<WaitFor>) {
    let signals: Vec<Rc<Signal>> = (0..n).map(|_| Rc::default()).collect();
    let children = signals
        .iter()
        .zip(0..)
        .map(|(signal, value)| WaitFor { signal: signal.clone(), value })
        .collect();
    (signals, children)
}

fn firing_order(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// Times `iterations` runs of: poll `join` once, then fire each signal in `order`, polling
/// after each. The children are made outside the timed part.
fn timed_outside_wake<J: Future>(
    iterations: u64,
    order: &[usize],
    mut join: impl FnMut(Vec<WaitFor>) -> J,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let (signals, children) = outside_wake(order.len());
        let start = Instant::now();
        let mut joined = pin!(join(children));
        let mut cx = Context::from_waker(Waker::noop());
        let mut output = None;
        if let Poll::Ready(done) = joined.as_mut().poll(&mut cx) {
            output = Some(done);
        }
        for &i in order {
            signals[i].fire();
            if let Poll::Ready(done) = joined.as_mut().poll(&mut cx) {
                output = Some(done);
            }
        }
        assert!(output.is_some(), "the join finished");
        drop(black_box(output));
        total += start.elapsed();
    }
    total
}

/// Drains `stream`, counting its items.
async fn count<S: Stream + Unpin>(mut stream: S) -> usize {
    let mut n = 0;
    while stream.next().await.is_some() {
        n += 1;
    }
    n
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
    let order = firing_order(100_000);
    report(
        "gather/outside-wake-100000",
        "futures-buffered",
        |n| timed_outside_wake(n, &order, gather),
        |n| timed_outside_wake(n, &order, futures_buffered::try_join_all),
    );
    report(
        "gather/as-completed-outside-wake-100000",
        "futures-buffered",
        |n| timed_outside_wake(n, &order, |children| count(as_completed(children))),
        |n| {
            timed_outside_wake(n, &order, |children| {
                count(children.into_iter().collect::<futures_buffered::FuturesUnordered<_>>())
            })
        },
    );
    let eight = Limit::new(8).expect("8 is not zero");
    report(
        "gather/limit-8-100000",
        "buffer_unordered",
        |n| timed(n, || drive(count(eight.as_completed(yield_once_futures(100_000))))),
        |n| {
            timed(n, || {
                drive(count(futures::stream::iter(yield_once_futures(100_000)).buffer_unordered(8)))
            })
        },
    );
    report(
        "gather/limit-8-stream-100000",
        "buffer_unordered",
        |n| {
            timed(n, || {
                let stream = futures::stream::iter(yield_once_futures(100_000));
                drive(count(eight.as_completed_stream(stream)))
            })
        },
        |n| {
            timed(n, || {
                drive(count(futures::stream::iter(yield_once_futures(100_000)).buffer_unordered(8)))
            })
        },
    );
    report(
        "gather/buffered-8-stream-100000",
        "buffered",
        |n| {
            timed(n, || {
                let stream = futures::stream::iter(yield_once_futures(100_000));
                drive(count(eight.buffered(stream)))
            })
        },
        |n| {
            timed(n, || {
                drive(count(futures::stream::iter(yield_once_futures(100_000)).buffered(8)))
            })
        },
    );
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
