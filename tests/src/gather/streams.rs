//! Joins fed by a `Stream` of futures: `as_completed_stream`, `Limit::as_completed_stream`
//! (futures' `buffer_unordered`) and `Limit::buffered`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};

use asynchronously::gather::{Limit, as_completed_stream};
use asynchronously::time::{Clock, VirtualClock};
use futures::future::{self, Either};
use futures::stream::FusedStream;
use futures::{FutureExt, StreamExt};

use super::{Child, Drops, child};
use crate::runtime_test;
use crate::support::{CountingWaker, ms, poll_once};

/// How many children run now, the most that ever ran at once, and how many started.
#[derive(Clone, Default)]
struct Gauge {
    live: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
}

struct Live(Gauge);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, SeqCst);
    }
}

impl Gauge {
    /// A child that counts itself live until dropped, sleeps `delay` and returns `value`.
    fn child(&self, clock: &VirtualClock, delay: u64, value: u64) -> Child {
        self.started.fetch_add(1, SeqCst);
        let now = self.live.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
        let (live, clock) = (Live(self.clone()), clock.clone());
        Box::pin(async move {
            let _live = live;
            clock.sleep(ms(delay)).await;
            Ok(value)
        })
    }
}

runtime_test!(
    async fn as_completed_stream_starts_each_future_as_the_stream_yields_it() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let (jobs, source) = futures::channel::mpsc::unbounded::<Child>();
        jobs.unbounded_send(child(&clock, 300, Ok(0), &drops)).unwrap();
        jobs.unbounded_send(child(&clock, 100, Ok(1), &drops)).unwrap();
        let mut outputs = as_completed_stream(source);
        let (first, ()) = future::join(outputs.next(), clock.run_for(ms(100))).await;
        assert_eq!(first, Some((1, Ok(1))), "both started at once; the shorter finished first");
        assert_eq!(outputs.running(), 1);

        // A future sent later starts when it arrives, beside the one still running.
        jobs.unbounded_send(child(&clock, 50, Ok(2), &drops)).unwrap();
        let (second, ()) = future::join(outputs.next(), clock.run_for(ms(50))).await;
        assert_eq!(second, Some((2, Ok(2))));
        assert!(!outputs.is_terminated(), "the channel is still open");

        drop(jobs);
        let (third, ()) = future::join(outputs.next(), clock.run_for(ms(150))).await;
        assert_eq!(third, Some((0, Ok(0))));
        assert_eq!(clock.elapsed(), ms(300));
        assert_eq!(outputs.next().await, None, "the channel closed and every future finished");
        assert!(outputs.is_terminated());
        assert_eq!(drops.count(), 3);
    }
);

runtime_test!(
    async fn a_stream_with_nothing_yet_leaves_the_join_waiting_and_wakes_it_when_one_comes() {
        for limit in [None, Some(Limit::new(2).unwrap())] {
            let (jobs, source) = futures::channel::mpsc::unbounded::<Child>();
            let mut outputs = match limit {
                None => as_completed_stream(source),
                Some(limit) => limit.as_completed_stream(source),
            };
            let counter = Arc::new(CountingWaker::default());
            let waker = Waker::from(Arc::clone(&counter));
            let mut cx = Context::from_waker(&waker);
            assert!(outputs.poll_next_unpin(&mut cx).is_pending(), "{limit:?}: nothing yet");
            assert_eq!(counter.0.load(SeqCst), 0, "{limit:?}");
            jobs.unbounded_send(Box::pin(async { Ok(7) })).unwrap();
            assert_eq!(counter.0.load(SeqCst), 1, "{limit:?}: the arrival woke the join");
            assert_eq!(outputs.poll_next_unpin(&mut cx), Poll::Ready(Some((0, Ok(7)))));
            drop(jobs);
            assert_eq!(outputs.poll_next_unpin(&mut cx), Poll::Ready(None), "{limit:?}");
        }
    }
);

runtime_test!(
    async fn an_endless_ready_stream_without_a_limit_lets_the_executor_run() {
        let endless = futures::stream::iter(0u64..).map(|i| async move { i });
        let mut outputs = as_completed_stream(endless);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        // One poll takes a bounded batch from the stream and asks to be polled again.
        assert!(outputs.poll_next_unpin(&mut cx).is_ready());
        assert!(counter.0.load(SeqCst) >= 1, "it woke itself to go on");
        let taken: Vec<_> = outputs.take(3_000).collect().await;
        assert_eq!(taken.len(), 3_000);
    }
);

runtime_test!(
    async fn a_limited_stream_is_pulled_only_while_a_place_is_free() {
        let clock = VirtualClock::new();
        let gauge = Gauge::default();
        let endless = {
            let (gauge, clock) = (gauge.clone(), clock.clone());
            futures::stream::iter(0u64..).map(move |i| gauge.child(&clock, 10 * (i % 3 + 1), i))
        };
        let outputs = Limit::new(3).unwrap().as_completed_stream(endless).take(20);
        let (outputs, ()) =
            future::join(outputs.collect::<Vec<_>>(), clock.run_for(ms(1_000))).await;
        assert_eq!(outputs.len(), 20);
        assert_eq!(gauge.peak.load(SeqCst), 3, "never more than the limit at once");
        let started = gauge.started.load(SeqCst);
        assert!((20..=23).contains(&started), "{started} pulled from an endless stream");
        assert_eq!(gauge.live.load(SeqCst), 0, "the stream's drop dropped the running ones");
    }
);

runtime_test!(
    async fn buffered_keeps_the_stream_order_and_counts_waiting_outputs_against_the_limit() {
        let clock = VirtualClock::new();
        let gauge = Gauge::default();
        let delays = [300, 10, 20, 30, 40];
        let source = {
            let (gauge, clock) = (gauge.clone(), clock.clone());
            futures::stream::iter(delays.into_iter().zip(0..))
                .map(move |(delay, i)| gauge.child(&clock, delay, i))
        };
        let mut in_order = Limit::new(3).unwrap().buffered(source);
        match future::select(in_order.next(), clock.run_for(ms(100)).boxed()).await {
            Either::Left((first, _)) => panic!("the first future takes 300 ms, got {first:?}"),
            Either::Right(((), _)) => {}
        }
        // Futures 1 and 2 finished and wait behind future 0: with it, they fill the limit.
        assert_eq!(gauge.started.load(SeqCst), 3, "no more started while outputs wait");
        assert_eq!(gauge.live.load(SeqCst), 1);

        let (rest, ()) = future::join(in_order.collect::<Vec<_>>(), clock.run_for(ms(300))).await;
        assert_eq!(rest, [0, 1, 2, 3, 4].map(Ok::<u64, String>));
        assert_eq!(gauge.peak.load(SeqCst), 3);
    }
);

runtime_test!(
    async fn dropping_a_stream_join_drops_its_stream_and_every_running_future() {
        let clock = VirtualClock::new();
        for ordered in [false, true] {
            let drops = Drops::default();
            let source_guard = drops.guard();
            let source = {
                let (clock, drops) = (clock.clone(), drops.clone());
                futures::stream::iter(0..4u64).map(move |i| {
                    let _ = &source_guard;
                    // Child 1 finishes at once: the ordered join holds its output behind 0.
                    child(&clock, if i == 1 { 0 } else { 100 }, Ok(i), &drops)
                })
            };
            let limit = Limit::new(2).unwrap();
            if ordered {
                let mut outputs = limit.buffered(source);
                assert!(poll_once(&mut outputs.next()).is_pending());
                drop(outputs);
            } else {
                let mut outputs = limit.as_completed_stream(source);
                assert_eq!(
                    poll_once(&mut outputs.next()),
                    std::task::Poll::Ready(Some((1, Ok(1))))
                );
                assert!(poll_once(&mut outputs.next()).is_pending());
                assert_eq!(outputs.running(), 2);
                drop(outputs);
            }
            // Children 0 and 1 (finished) and the stream; unordered, also a third child,
            // started in 1's place (ordered, 1's held output keeps that place).
            assert_eq!(drops.count(), if ordered { 3 } else { 4 }, "ordered: {ordered}");
            assert_eq!(clock.pending_sleepers(), 0, "ordered: {ordered}");
        }
    }
);

runtime_test!(
    async fn buffered_drops_the_outputs_it_holds_when_dropped() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let source = {
            let (clock, drops) = (clock.clone(), drops.clone());
            futures::stream::iter(0..2u64).map(move |i| {
                let (clock, output) = (clock.clone(), drops.guard());
                async move {
                    clock.sleep(ms(if i == 0 { 100 } else { 0 })).await;
                    output
                }
                .boxed()
            })
        };
        let mut in_order = Limit::new(2).unwrap().buffered(source);
        assert!(poll_once(&mut in_order.next()).is_pending(), "output 1 waits behind 0");
        assert_eq!(drops.count(), 0, "the held output is alive");
        drop(in_order);
        // Future 0, running, holds its guard; output 1, held, is one: both are dropped.
        assert_eq!(drops.count(), 2, "dropping the stream dropped the held output too");
    }
);

/// The message of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_default()
}

runtime_test!(
    async fn buffered_panics_again_rather_than_skip_or_wait_for_a_lost_output() {
        // The lost output first (later outputs wait behind it), then last (nothing follows).
        for lost in [0u64, 3] {
            let source = futures::stream::iter(0..4u64).map(move |i| {
                async move {
                    assert!(i != lost, "future {lost} fails");
                    Ok::<u64, String>(i)
                }
                .boxed()
            });
            let mut in_order = Limit::new(2).unwrap().buffered(source);
            let mut seen = Vec::new();
            let panic = loop {
                match std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(&mut in_order.next())))
                {
                    Ok(Poll::Ready(Some(output))) => seen.push(output.unwrap()),
                    Ok(other) => panic!("lost {lost}: expected the panic, got {other:?}"),
                    Err(payload) => break message(payload.as_ref()),
                }
            };
            assert_eq!(panic, format!("future {lost} fails"), "the future's own panic first");
            assert_eq!(seen, (0..lost).collect::<Vec<_>>());
            let again =
                std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(&mut in_order.next())))
                    .expect_err("polled again, it panics: it neither skips nor waits");
            assert!(message(again.as_ref()).contains("panicked in an earlier poll"), "lost {lost}");
        }
    }
);
