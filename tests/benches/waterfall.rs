//! `cargo xtask bench waterfall`: the per-item cost of batching, against futures-batch's
//! `chunks_timeout`.
//!
//! Every case batches 10,000 integers into batches of 100 with a 1 s wait (which never
//! fires: the items are always there), from a fresh batcher, and consumes each batch with
//! `black_box`. Everything is driven by polling with a no-op waker, on one thread, so no
//! executor cost is measured. One harness iteration is one such run of 10,000 items (so
//! setup is amortised alike on both sides), and the lines report nanoseconds per item.
//!
//! - `stream-per-item`: `stream::iter(0..n).waterfall(100, 1 s)` against
//!   `stream::iter(0..n).chunks_timeout(100, 1 s)`: the same face, like for like.
//! - `put-per-item`: a producer `try_put`s every item into a `Waterfall` and polls the worker
//!   when the queue is full; the worker calls the batch function. The anchor is the same
//!   `chunks_timeout` over `stream::iter` (the cheapest way futures-batch can get items,
//!   with no producer handle at all); a note line also gives futures-batch fed through a
//!   `futures::channel::mpsc` channel, which is what producers in other tasks would need.
//! - `submit-per-item`: as `put`, but each item is `try_submit`ted and its own result (the
//!   item doubled, returned by the batch function) is awaited; anchor as above.

use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::waterfall::{TryPutError, Waterfall, WaterfallExt};
use asynchronously_tests::bench::{self, CountingAllocator, allocations_per_op};
use futures::Stream;
use futures_batch::ChunksTimeoutStreamExt;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const BATCH: usize = 100;
const WAIT: Duration = Duration::from_secs(1);

/// Drains a stream of batches with a no-op waker; returns the number of items seen.
fn drain<S: Stream<Item = Vec<u64>> + Unpin>(mut stream: S) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = 0;
    loop {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(batch)) => {
                items += batch.len() as u64;
                black_box(batch);
            }
            Poll::Ready(None) => return items,
            Poll::Pending => {}
        }
    }
}

fn ours_stream(n: u64) -> u64 {
    drain(futures::stream::iter(0..n).waterfall(BATCH, WAIT).expect("valid limits"))
}

fn futures_batch_stream(n: u64) -> u64 {
    drain(futures::stream::iter(0..n).chunks_timeout(BATCH, WAIT))
}

/// futures-batch fed by producers through a channel: items sent, then batched.
fn futures_batch_channel(n: u64) -> u64 {
    let (mut sender, receiver) = futures::channel::mpsc::channel::<u64>(2 * BATCH);
    let mut batches = receiver.chunks_timeout(BATCH, WAIT);
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = 0;
    let mut next = 0;
    while next < n {
        match sender.try_send(next) {
            Ok(()) => next += 1,
            Err(_) => {
                while let Poll::Ready(Some(batch)) = Pin::new(&mut batches).poll_next(&mut cx) {
                    items += batch.len() as u64;
                    black_box(batch);
                }
            }
        }
    }
    drop(sender);
    items + drain(batches)
}

fn record(batch: Vec<u64>) -> Ready<()> {
    black_box(batch);
    ready(())
}

fn ours_put(n: u64) -> u64 {
    let (waterfall, mut worker) =
        Waterfall::builder(BATCH, WAIT).build(record).expect("valid limits");
    let mut cx = Context::from_waker(Waker::noop());
    for item in 0..n {
        let mut item = item;
        loop {
            match waterfall.try_put(item) {
                Ok(()) => break,
                Err(TryPutError::Full(back)) => {
                    item = back;
                    let _ = Pin::new(&mut worker).poll(&mut cx);
                }
                Err(_) => unreachable!("open and light"),
            }
        }
    }
    drop(waterfall.close());
    while Pin::new(&mut worker).poll(&mut cx).is_pending() {}
    n
}

fn double(batch: Vec<u64>) -> Ready<Vec<u64>> {
    ready(batch.into_iter().map(|item| item * 2).collect())
}

fn ours_submit(n: u64) -> u64 {
    let (waterfall, mut worker) =
        Waterfall::builder(BATCH, WAIT).queue_capacity(BATCH).build(double).expect("valid limits");
    let mut cx = Context::from_waker(Waker::noop());
    let mut pending = Vec::with_capacity(BATCH);
    let mut sum = 0;
    let mut next = 0;
    while next < n {
        let end = (next + BATCH as u64).min(n);
        pending.extend((next..end).map(|item| waterfall.try_submit(item).expect("room")));
        next = end;
        if pending.len() < BATCH {
            waterfall.flush();
        }
        let _ = Pin::new(&mut worker).poll(&mut cx);
        for mut submit in pending.drain(..) {
            match Pin::new(&mut submit).poll(&mut cx) {
                Poll::Ready(Ok(doubled)) => sum += doubled,
                other => panic!("the result was not ready: {other:?}"),
            }
        }
    }
    drop(waterfall.close());
    while Pin::new(&mut worker).poll(&mut cx).is_pending() {}
    black_box(sum);
    n
}

/// Items per harness iteration.
const ITEMS: u64 = 10_000;

/// Times `n` runs of `ITEMS` items each.
fn runs(run: fn(u64) -> u64) -> impl FnMut(u64) -> Duration {
    move |n| {
        let start = Instant::now();
        for _ in 0..n {
            let items = black_box(run(black_box(ITEMS)));
            debug_assert_eq!(items, ITEMS, "every item was batched");
        }
        start.elapsed()
    }
}

/// Measures ours against the anchor and prints the bench line in nanoseconds per item.
fn per_item(case: &str, ours: fn(u64) -> u64, anchor: fn(u64) -> u64) -> bench::Comparison {
    let per_run = bench::compare(runs(ours), runs(anchor));
    let per_item = bench::Comparison {
        ours_ns: per_run.ours_ns / ITEMS as f64,
        anchor_ns: per_run.anchor_ns / ITEMS as f64,
    };
    bench::print_line(case, "futures-batch", per_item);
    per_item
}

fn main() {
    // Sanity: every side sees every item.
    for run in [ours_stream, futures_batch_stream, futures_batch_channel, ours_put, ours_submit] {
        assert_eq!(run(1_234), 1_234);
    }

    per_item("waterfall/stream-per-item", ours_stream, futures_batch_stream);
    per_item("waterfall/put-per-item", ours_put, futures_batch_stream);
    let channel = bench::compare(runs(ours_put), runs(futures_batch_channel));
    bench::note(
        "waterfall/put-per-item",
        &format!(
            "vs futures-batch fed through a futures mpsc channel: ours {:.1} ns futures-batch {:.1} ns per item, ratio {:.2}",
            channel.ours_ns / ITEMS as f64,
            channel.anchor_ns / ITEMS as f64,
            channel.ratio()
        ),
    );
    per_item("waterfall/submit-per-item", ours_submit, futures_batch_stream);

    let items = 100_000;
    for (case, run) in [
        ("waterfall/stream-per-item", ours_stream as fn(u64) -> u64),
        ("waterfall/put-per-item", ours_put),
        ("waterfall/submit-per-item", ours_submit),
    ] {
        let ours = allocations_per_op(1, || {
            run(items);
        }) / items as f64;
        bench::note(case, &format!("allocations per item: ours {ours:.3}"));
    }
    let anchor = allocations_per_op(1, || {
        futures_batch_stream(items);
    }) / items as f64;
    bench::note(
        "waterfall/stream-per-item",
        &format!("allocations per item: futures-batch {anchor:.3}"),
    );
}
