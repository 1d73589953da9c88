//! Behaviour tests of `asynchronously::waterfall`: the batcher, its two faces, flow control,
//! close and cancellation, and the stream adaptor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use asynchronously::time::{Clock, VirtualClock};
use asynchronously::waterfall::{
    BuildError, Close, Put, PutError, Submit, SubmitError, TryPutError, Waterfall, WaterfallEvent,
    WaterfallExt, WaterfallStream, WaterfallWorker,
};
use futures::{SinkExt, StreamExt};
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{ms, poll_once, secs};

// Compile-time promises: the handle, its futures and the worker can cross threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    const fn assert_send_unpin<T: Send + Unpin>() {}
    assert_send_sync::<Waterfall<String, u64, std::io::Error>>();
    assert_send_sync_unpin::<Put<'static, String, u64, std::io::Error>>();
    assert_send_sync_unpin::<Submit<'static, String, u64, std::io::Error>>();
    assert_send_sync_unpin::<Close<String, u64, std::io::Error>>();
    assert_send_unpin::<
        WaterfallStream<futures::stream::Iter<std::vec::IntoIter<u32>>, VirtualClock>,
    >();
    type BatchFn = fn(Vec<u32>) -> std::future::Ready<Vec<u64>>;
    assert_send_unpin::<WaterfallWorker<u32, BatchFn, VirtualClock>>();
};

/// Batches with the (virtual) time each was sent at.
type Timed<At, T> = Vec<(At, Vec<T>)>;

/// The batches a batch function received, with the virtual instant of each call.
#[derive(Clone, Default)]
struct Batches<T> {
    seen: Arc<Mutex<Timed<Duration, T>>>,
}

impl<T: Clone> Batches<T> {
    fn record(&self, at: Duration, batch: &[T]) {
        self.seen.lock().unwrap().push((at, batch.to_vec()));
    }

    fn items(&self) -> Vec<Vec<T>> {
        self.seen.lock().unwrap().iter().map(|(_, batch)| batch.clone()).collect()
    }

    fn timed(&self) -> Vec<(Duration, Vec<T>)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Events reported by a worker, as log lines.
type Log = Arc<Mutex<Vec<String>>>;

fn event_log<T, E: std::fmt::Display>() -> (Log, impl FnMut(WaterfallEvent<T, E>) + Send + 'static)
{
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |event: WaterfallEvent<T, E>| sink.lock().unwrap().push(event.to_string()))
}

fn lines(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

runtime_test!(
    async fn seven_items_with_max_three_send_two_batches_at_once_and_the_seventh_after_max_wait() {
        let clock = VirtualClock::new();
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(3, ms(100))
            .queue_capacity(16)
            .with_clock(clock.clone())
            .build({
                let (clock, batches) = (clock.clone(), batches.clone());
                move |batch: Vec<u32>| {
                    batches.record(clock.elapsed(), &batch);
                    async {}
                }
            })
            .unwrap();
        futures::join!(worker, async {
            for n in 0..6 {
                waterfall.put(n).await.unwrap();
            }
            yield_now().await; // the worker sends the full batches before time moves
            clock.run_for(ms(30)).await;
            assert_eq!(
                batches.timed(),
                [(ms(0), vec![0, 1, 2]), (ms(0), vec![3, 4, 5])],
                "full batches go at once"
            );
            waterfall.put(6).await.unwrap();
            yield_now().await; // `run_for` moves time at once: let the worker arm its alarm first
            clock.run_for(ms(99)).await;
            assert_eq!(batches.items().len(), 2, "the seventh item went before its max_wait");
            clock.run_for(ms(1)).await;
            assert_eq!(batches.timed()[2], (ms(130), vec![6]), "sent max_wait after its arrival");
            waterfall.close().await;
        });
        assert_eq!(batches.items().len(), 3, "close sent no empty batch");
    }
);

runtime_test!(
    async fn max_wait_counts_from_the_batch_first_item_not_from_the_previous_batch() {
        let clock = VirtualClock::new();
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, ms(100))
            .with_clock(clock.clone())
            .build({
                let (clock, batches) = (clock.clone(), batches.clone());
                move |batch: Vec<u32>| {
                    batches.record(clock.elapsed(), &batch);
                    async {}
                }
            })
            .unwrap();
        futures::join!(worker, async {
            waterfall.put(1).await.unwrap();
            yield_now().await; // `run_for` moves time at once: let the worker arm its alarm first
            clock.run_for(ms(100)).await; // batch 1 goes at 100 ms
            clock.run_for(ms(90)).await;
            waterfall.put(2).await.unwrap(); // first item of batch 2, at 190 ms
            yield_now().await;
            clock.run_for(ms(99)).await;
            assert_eq!(batches.items().len(), 1, "batch 2 went early: its wait began at 190 ms");
            clock.run_for(ms(1)).await;
            waterfall.close().await;
        });
        assert_eq!(batches.timed(), [(ms(100), vec![1]), (ms(290), vec![2])]);
    }
);

runtime_test!(
    async fn five_items_then_close_are_all_delivered_in_order_in_chunks_of_at_most_three() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(3, secs(3600))
            .queue_capacity(10)
            .max_in_flight(2)
            .build({
                let batches = batches.clone();
                move |batch: Vec<u32>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        for n in 0..5 {
            waterfall.try_put(n).unwrap();
        }
        futures::join!(waterfall.close(), worker);
        assert_eq!(batches.items(), [vec![0, 1, 2], vec![3, 4]]);
    }
);

runtime_test!(
    async fn put_and_submit_after_close_are_closed_errors_that_hand_the_item_back() {
        let (waterfall, worker) =
            Waterfall::builder(3, ms(10)).build(|batch: Vec<String>| async move { batch }).unwrap();
        let close = waterfall.close();
        assert!(waterfall.is_closed());
        assert!(
            matches!(waterfall.put("a".to_owned()).await, Err(PutError::Closed(item)) if item == "a")
        );
        assert!(
            matches!(waterfall.try_put("b".to_owned()), Err(TryPutError::Closed(item)) if item == "b")
        );
        assert!(
            matches!(waterfall.submit("c".to_owned()).await, Err(SubmitError::Closed(item)) if item == "c")
        );
        assert!(
            matches!(waterfall.try_submit("d".to_owned()), Err(TryPutError::Closed(item)) if item == "d")
        );
        assert_eq!(
            PutError::Closed(()).to_string(),
            "putting into a closed waterfall; items are accepted only until close() or the worker is dropped"
        );
        futures::join!(close, worker);
    }
);

runtime_test!(
    async fn a_finalize_deadline_cancels_slow_batches_and_hands_back_unsent_items() {
        let clock = VirtualClock::new();
        let (log, hook) = event_log();
        let (waterfall, worker) = Waterfall::builder(2, secs(3600))
            .finalize_timeout(secs(1))
            .with_clock(clock.clone())
            .build({
                let clock = clock.clone();
                move |batch: Vec<u32>| {
                    let clock = clock.clone();
                    async move {
                        clock.sleep(secs(10)).await; // slower than the finalize timeout
                        Ok::<_, String>(batch)
                    }
                }
            })
            .unwrap();
        let worker = worker.on_event(hook);
        let (outcomes, ()) = futures::join!(
            async {
                let a = waterfall.try_submit(1).unwrap();
                let b = waterfall.try_submit(2).unwrap();
                let c = waterfall.try_submit(3).unwrap(); // a second batch: never starts
                yield_now().await;
                let (outcomes, ()) = futures::join!(futures::future::join3(a, b, c), async {
                    let started = clock.elapsed();
                    futures::join!(waterfall.close(), clock.run_for(secs(5)));
                    assert_eq!(clock.elapsed() - started, secs(5));
                });
                outcomes
            },
            worker,
        );
        assert!(matches!(outcomes.0, Err(SubmitError::Cancelled)));
        assert!(matches!(outcomes.1, Err(SubmitError::Cancelled)));
        assert!(matches!(outcomes.2, Err(SubmitError::Unsent(3))), "the unsent item came back");
        assert_eq!(lines(&log), ["waterfall batch 1 (2 items) was cancelled while running"]);
    }
);

runtime_test!(
    async fn close_returns_at_the_finalize_deadline_while_a_batch_is_still_running() {
        let clock = VirtualClock::new();
        let closed_at = Arc::new(Mutex::new(None));
        let (waterfall, worker) = Waterfall::builder(1, secs(3600))
            .finalize_timeout(secs(2))
            .with_clock(clock.clone())
            .build({
                let clock = clock.clone();
                move |_batch: Vec<u32>| clock.sleep(secs(3600))
            })
            .unwrap();
        futures::join!(worker, async {
            waterfall.put(1).await.unwrap();
            clock.run_for(ms(10)).await;
            let closing = waterfall.close();
            yield_now().await; // the worker sees the close and arms the deadline
            let close = async {
                closing.await;
                *closed_at.lock().unwrap() = Some(clock.elapsed());
            };
            futures::join!(close, clock.run_for(secs(10)));
        });
        assert_eq!(*closed_at.lock().unwrap(), Some(ms(2010)), "close waited past its deadline");
    }
);

runtime_test!(
    async fn the_finalize_deadline_counts_from_close_even_before_the_worker_ever_ran() {
        let clock = VirtualClock::new();
        let started = Batches::default();
        let (waterfall, worker) = Waterfall::builder(1, secs(3600))
            .finalize_timeout(secs(1))
            .with_clock(clock.clone())
            .build({
                let (clock, started) = (clock.clone(), started.clone());
                move |batch: Vec<u32>| {
                    started.record(clock.elapsed(), &batch);
                    clock.sleep(secs(3600))
                }
            })
            .unwrap();
        let (log, hook) = event_log();
        let worker = worker.on_event(hook);
        let first = waterfall.try_submit(1).unwrap();
        let second = waterfall.try_submit(2).unwrap();
        let close = waterfall.close();
        clock.advance(ms(600)); // the worker has not been polled yet
        let ((), first, second, ()) = futures::join!(worker, first, second, async {
            yield_now().await; // the worker's first poll: it arms the deadline, starts a batch
            futures::join!(close, clock.run_for(secs(5)));
        });
        assert_eq!(
            started.timed(),
            [(ms(600), vec![1])],
            "batches start late, not after the deadline"
        );
        assert!(matches!(first, Err(SubmitError::Cancelled)));
        assert!(matches!(second, Err(SubmitError::Unsent(2))));
        assert_eq!(lines(&log), ["waterfall batch 1 (1 items) was cancelled while running"]);
        assert_eq!(clock.elapsed(), ms(5600));
    }
);

runtime_test!(
    async fn a_deadline_already_passed_when_the_worker_first_runs_starts_nothing() {
        let clock = VirtualClock::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (waterfall, worker) = Waterfall::builder(2, secs(3600))
            .finalize_timeout(secs(1))
            .with_clock(clock.clone())
            .build({
                let calls = Arc::clone(&calls);
                move |_batch: Vec<u32>| {
                    calls.fetch_add(1, SeqCst);
                    async {}
                }
            })
            .unwrap();
        let (log, mut hook) = event_log::<u32, std::convert::Infallible>();
        let unsent = Arc::new(Mutex::new(Vec::new()));
        let worker = worker.on_event({
            let unsent = Arc::clone(&unsent);
            move |event| {
                if let WaterfallEvent::Unsent { items } = &event {
                    unsent.lock().unwrap().extend(items.iter().copied());
                }
                hook(event);
            }
        });
        for n in 0..3 {
            waterfall.try_put(n).unwrap();
        }
        let close = waterfall.close();
        clock.advance(secs(2));
        futures::join!(close, worker);
        assert_eq!(calls.load(SeqCst), 0, "a batch started after the finalize deadline");
        assert_eq!(*unsent.lock().unwrap(), [0, 1, 2], "put items are handed to the hook");
        assert_eq!(lines(&log), ["waterfall: 3 queued items were never sent"]);
    }
);

runtime_test!(
    async fn per_item_results_reach_the_right_submitters() {
        let clock = VirtualClock::new();
        let (waterfall, worker) = Waterfall::builder(4, ms(5))
            .queue_capacity(64)
            .max_in_flight(3)
            .with_clock(clock.clone())
            .build({
                let clock = clock.clone();
                move |batch: Vec<u64>| {
                    let clock = clock.clone();
                    async move {
                        // Later batches finish first: results still reach their own callers.
                        clock.sleep(ms(100 - batch[0])).await;
                        batch.iter().map(|n| format!("item {n}")).collect::<Vec<_>>()
                    }
                }
            })
            .unwrap();
        let (results, ()) = futures::join!(
            async {
                let submits: Vec<_> = (0..30).map(|n| waterfall.try_submit(n).unwrap()).collect();
                yield_now().await; // the worker starts the first batches before time moves
                let (results, ()) =
                    futures::join!(futures::future::join_all(submits), clock.run_for(secs(2)));
                waterfall.close().await;
                results
            },
            worker,
        );
        for (n, result) in results.into_iter().enumerate() {
            assert_eq!(result.unwrap(), format!("item {n}"));
        }
    }
);

/// An error that is not `Clone`: batch errors reach every submitter through an `Arc`.
#[derive(Debug)]
struct Unavailable(u32);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shard {} unavailable", self.0)
    }
}

impl std::error::Error for Unavailable {}

runtime_test!(
    async fn a_batch_error_reaches_every_submitter_of_that_batch_and_no_other() {
        let (log, hook) = event_log();
        let (waterfall, worker) = Waterfall::builder(2, secs(3600))
            .queue_capacity(8)
            .build(|batch: Vec<u32>| async move {
                if batch.contains(&3) { Err(Unavailable(7)) } else { Ok(batch) }
            })
            .unwrap();
        let submits: Vec<_> = (1..=4).map(|n| waterfall.try_submit(n).unwrap()).collect();
        let (results, (), ()) =
            futures::join!(futures::future::join_all(submits), worker.on_event(hook), async {
                drop(waterfall.close())
            });
        assert_eq!(results[0].as_ref().unwrap(), &1);
        assert_eq!(results[1].as_ref().unwrap(), &2);
        let (Err(SubmitError::Failed(third)), Err(SubmitError::Failed(fourth))) =
            (&results[2], &results[3])
        else {
            panic!("the failing batch's submitters got {:?}", &results[2..]);
        };
        assert!(Arc::ptr_eq(third, fourth), "one error, shared");
        assert_eq!(
            results[2].as_ref().unwrap_err().to_string(),
            "the item's batch failed: shard 7 unavailable"
        );
        let source = std::error::Error::source(results[3].as_ref().unwrap_err()).unwrap();
        assert_eq!(source.to_string(), "shard 7 unavailable");
        assert_eq!(lines(&log), ["waterfall batch 2 (2 items) failed: shard 7 unavailable"]);
    }
);

runtime_test!(
    async fn a_panicking_batch_function_is_reported_and_its_items_count_as_done() {
        let (log, hook) = event_log::<u32, std::convert::Infallible>();
        let (waterfall, worker) = Waterfall::builder(1, secs(3600))
            .queue_capacity(8)
            .build(|batch: Vec<u32>| {
                // Item 1 panics while the function is called, item 2 after an await.
                assert_ne!(batch[0], 1, "sync panic");
                async move {
                    yield_now().await;
                    assert_ne!(batch[0], 2, "async panic");
                    batch
                }
            })
            .unwrap();
        let submits: Vec<_> = (1..=3).map(|n| waterfall.try_submit(n).unwrap()).collect();
        let close = waterfall.close();
        let (results, (), ()) =
            futures::join!(futures::future::join_all(submits), worker.on_event(hook), close);
        assert!(matches!(results[0], Err(SubmitError::Panicked)));
        assert!(matches!(results[1], Err(SubmitError::Panicked)));
        assert_eq!(*results[2].as_ref().unwrap(), 3, "the batcher went on after the panics");
        assert!(
            lines(&log)[0].starts_with("waterfall batch 1 (1 items) panicked"),
            "{:?}",
            lines(&log)
        );
        assert!(
            lines(&log)[1].starts_with("waterfall batch 2 (1 items) panicked"),
            "{:?}",
            lines(&log)
        );
        assert_eq!(lines(&log).len(), 2);
    }
);

runtime_test!(
    async fn dropping_a_submitter_before_its_batch_is_sent_removes_its_item() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, secs(3600))
            .build({
                let batches = batches.clone();
                move |batch: Vec<&'static str>| {
                    batches.record(Duration::ZERO, &batch);
                    async move { batch.iter().map(|s| s.len()).collect::<Vec<_>>() }
                }
            })
            .unwrap();
        let mut a = waterfall.submit("a");
        let mut bb = waterfall.submit("bb");
        let mut ccc = waterfall.submit("ccc");
        for submit in [&mut a, &mut bb, &mut ccc] {
            assert!(poll_once(submit).is_pending(), "queued, waiting for its batch");
        }
        drop(bb);
        // A batch whose every item was dropped is not sent at all.
        waterfall.flush();
        let mut lonely = waterfall.submit("dddd");
        assert!(poll_once(&mut lonely).is_pending());
        drop(lonely);
        let close = waterfall.close();
        let (a, ccc, (), ()) = futures::join!(a, ccc, worker, close);
        assert_eq!((a.unwrap(), ccc.unwrap()), (1, 3), "the others kept their own results");
        assert_eq!(batches.items(), [vec!["a", "ccc"]]);
    }
);

runtime_test!(
    async fn back_pressure_the_fifth_put_waits_until_a_slow_batch_frees_room() {
        let clock = VirtualClock::new();
        let (waterfall, worker) = Waterfall::builder(2, secs(3600))
            .queue_capacity(4)
            .with_clock(clock.clone())
            .build({
                let clock = clock.clone();
                move |_batch: Vec<u32>| clock.sleep(secs(1))
            })
            .unwrap();
        futures::join!(worker, async {
            waterfall.put(0).await.unwrap();
            waterfall.put(1).await.unwrap(); // a full batch: in flight for 1 s
            yield_now().await;
            clock.run_for(ms(1)).await;
            assert_eq!(waterfall.queued(), 0, "the first batch was taken off the queue");
            for n in 2..6 {
                waterfall.put(n).await.unwrap(); // fills the queue of 4
            }
            let mut fifth = waterfall.put(6);
            assert!(poll_once(&mut fifth).is_pending(), "the fifth put did not wait for room");
            assert!(matches!(waterfall.try_put(7), Err(TryPutError::Full(7))));
            clock.run_for(ms(998)).await;
            assert!(poll_once(&mut fifth).is_pending(), "room freed before the slow batch ended");
            let (put, ()) = futures::join!(fifth, clock.run_for(ms(1)));
            put.unwrap();
            assert_eq!(clock.elapsed(), secs(1), "the put waited exactly until room freed");
            futures::join!(waterfall.close(), clock.run_for(secs(5)));
        });
    }
);

runtime_test!(
    async fn dropping_the_worker_hands_every_collected_item_back() {
        let clock = VirtualClock::new();
        let (waterfall, worker) = Waterfall::builder(2, secs(3600))
            .queue_capacity(8)
            .with_clock(clock.clone())
            .build({
                let clock = clock.clone();
                move |batch: Vec<String>| {
                    let clock = clock.clone();
                    async move {
                        clock.sleep(secs(3600)).await;
                        Ok::<_, String>(batch)
                    }
                }
            })
            .unwrap();
        let unsent = Arc::new(Mutex::new(Vec::new()));
        let (log, mut hook) = event_log();
        let mut worker = worker.on_event({
            let unsent = Arc::clone(&unsent);
            move |event| {
                if let WaterfallEvent::Unsent { items } = &event {
                    unsent.lock().unwrap().extend(items.iter().cloned());
                }
                hook(event);
            }
        });
        let mut running = waterfall.try_submit("running".to_owned()).unwrap();
        waterfall.flush();
        assert!(poll_once(&mut worker).is_pending(), "the first batch starts");
        let queued = waterfall.try_submit("queued".to_owned()).unwrap();
        waterfall.try_put("put".to_owned()).unwrap();
        assert!(poll_once(&mut running).is_pending());
        let close = waterfall.close();
        drop(worker);
        assert!(matches!(running.await, Err(SubmitError::Cancelled)));
        assert!(matches!(queued.await, Err(SubmitError::Unsent(item)) if item == "queued"));
        assert_eq!(*unsent.lock().unwrap(), ["put"]);
        assert_eq!(
            lines(&log),
            [
                "waterfall batch 1 (1 items) was cancelled while running",
                "waterfall: 1 queued items were never sent"
            ]
        );
        close.await;
        assert!(matches!(waterfall.try_put("late".to_owned()), Err(TryPutError::Closed(_))));
    }
);

runtime_test!(
    async fn dropping_the_worker_without_a_close_fails_waiting_putters_and_completes_close() {
        let (waterfall, worker) = Waterfall::builder(1, secs(3600))
            .queue_capacity(1)
            .build(|_batch: Vec<u32>| async {})
            .unwrap();
        waterfall.try_put(1).unwrap();
        let mut waiting = waterfall.put(2);
        assert!(poll_once(&mut waiting).is_pending());
        drop(worker);
        assert!(matches!(waiting.await, Err(PutError::Closed(2))));
        waterfall.close().await;
    }
);

runtime_test!(
    async fn max_weight_closes_batches_before_they_exceed_it_and_refuses_heavier_items() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, secs(3600))
            .max_weight(10, |word: &String| word.len())
            .queue_capacity(20)
            .build({
                let batches = batches.clone();
                move |batch: Vec<String>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        for word in ["abcd", "efghij", "k", "lmnopqrstu", "vw", "xyz"] {
            waterfall.try_put(word.to_owned()).unwrap();
        }
        let heavy = waterfall.try_put("eleven char".to_owned());
        assert!(
            matches!(&heavy, Err(TryPutError::TooHeavy { item, weight: 11, max_weight: 10 }) if item == "eleven char")
        );
        assert_eq!(
            heavy.unwrap_err().to_string(),
            "item weighs 11, more than the max_weight of 10 a batch may hold; split it or raise max_weight"
        );
        futures::join!(waterfall.close(), worker);
        assert_eq!(
            batches.items(),
            [vec!["abcd", "efghij"], vec!["k"], vec!["lmnopqrstu"], vec!["vw", "xyz"]]
        );
    }
);

runtime_test!(
    async fn flush_sends_the_partial_batch_without_waiting_for_max_wait() {
        let clock = VirtualClock::new();
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, secs(60))
            .with_clock(clock.clone())
            .build({
                let (clock, batches) = (clock.clone(), batches.clone());
                move |batch: Vec<u32>| {
                    batches.record(clock.elapsed(), &batch);
                    async {}
                }
            })
            .unwrap();
        futures::join!(worker, async {
            waterfall.put(1).await.unwrap();
            waterfall.put(2).await.unwrap();
            clock.run_for(ms(5)).await;
            waterfall.flush();
            waterfall.flush(); // nothing left to flush: no empty batch
            yield_now().await; // the worker sends the flushed batch at 5 ms
            waterfall.put(3).await.unwrap();
            clock.run_for(secs(60)).await;
            waterfall.close().await;
        });
        assert_eq!(batches.timed(), [(ms(5), vec![1, 2]), (secs(60) + ms(5), vec![3])]);
    }
);

runtime_test!(
    async fn max_in_flight_bounds_the_batches_running_at_once() {
        let clock = VirtualClock::new();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (waterfall, worker) = Waterfall::builder(1, secs(3600))
            .max_in_flight(3)
            .queue_capacity(32)
            .with_clock(clock.clone())
            .build({
                let (clock, running, most) =
                    (clock.clone(), Arc::clone(&running), Arc::clone(&most));
                move |_batch: Vec<u32>| {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    let (clock, running) = (clock.clone(), Arc::clone(&running));
                    async move {
                        clock.sleep(ms(10)).await;
                        running.fetch_sub(1, SeqCst);
                    }
                }
            })
            .unwrap();
        for n in 0..10 {
            waterfall.try_put(n).unwrap();
        }
        futures::join!(worker, async {
            futures::join!(waterfall.close(), clock.run_for(secs(1)));
        });
        assert_eq!(most.load(SeqCst), 3);
        assert_eq!(running.load(SeqCst), 0);
    }
);

runtime_test!(
    async fn dropping_every_handle_closes_and_the_worker_sends_what_is_left() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, secs(3600))
            .build({
                let batches = batches.clone();
                move |batch: Vec<u32>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        let other = waterfall.clone();
        waterfall.try_put(1).unwrap();
        other.try_put(2).unwrap();
        drop(waterfall);
        drop(other);
        worker.await;
        assert_eq!(batches.items(), [vec![1, 2]]);
    }
);

runtime_test!(
    async fn too_few_results_leave_the_rest_with_no_result_and_are_reported() {
        let (log, hook) = event_log::<u32, std::convert::Infallible>();
        let (waterfall, worker) = Waterfall::builder(3, secs(3600))
            .build(|_batch: Vec<u32>| async { vec!["only one"] })
            .unwrap();
        let submits: Vec<_> = (0..3).map(|n| waterfall.try_submit(n).unwrap()).collect();
        let close = waterfall.close();
        let (results, (), ()) =
            futures::join!(futures::future::join_all(submits), worker.on_event(hook), close);
        assert_eq!(*results[0].as_ref().unwrap(), "only one");
        assert!(matches!(results[1], Err(SubmitError::NoResult)));
        assert!(matches!(results[2], Err(SubmitError::NoResult)));
        assert_eq!(
            lines(&log),
            ["waterfall batch 1 returned 1 results for 3 items; the rest got no result"]
        );
    }
);

runtime_test!(
    async fn build_rejects_zero_limits_with_typed_errors() {
        let build = |builder: asynchronously::waterfall::WaterfallBuilder<u32>| {
            builder.build(|_batch: Vec<u32>| async {}).map(drop).unwrap_err()
        };
        assert_eq!(build(Waterfall::builder(0, ms(1))), BuildError::ZeroMaxItems);
        assert_eq!(build(Waterfall::builder(1, Duration::ZERO)), BuildError::ZeroMaxWait);
        assert_eq!(
            build(Waterfall::builder(1, ms(1)).max_weight(0, |_| 1)),
            BuildError::ZeroMaxWeight
        );
        assert_eq!(
            build(Waterfall::builder(1, ms(1)).max_in_flight(0)),
            BuildError::ZeroMaxInFlight
        );
        assert_eq!(
            build(Waterfall::builder(1, ms(1)).queue_capacity(0)),
            BuildError::ZeroQueueCapacity
        );
        assert_eq!(
            BuildError::ZeroMaxItems.to_string(),
            "max_items must be at least 1, got 0; use 1 to send every item on its own"
        );
        let stream = futures::stream::iter([1]);
        assert_eq!(
            stream.clone().waterfall(0, ms(1)).err().map(|e| e.to_string()),
            Some(BuildError::ZeroMaxItems.to_string())
        );
        assert!(matches!(stream.waterfall(1, Duration::ZERO), Err(BuildError::ZeroMaxWait)));
    }
);

runtime_test!(
    async fn duration_max_wait_means_batches_go_only_when_full_flushed_or_closed() {
        let clock = VirtualClock::new();
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(2, Duration::MAX)
            .with_clock(clock.clone())
            .build({
                let batches = batches.clone();
                move |batch: Vec<u32>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        futures::join!(worker, async {
            waterfall.put(1).await.unwrap();
            clock.run_for(secs(86_400)).await;
            assert!(batches.items().is_empty(), "a never-ending wait fired");
            assert_eq!(clock.pending_sleepers(), 0, "no timer was set");
            waterfall.close().await;
        });
        assert_eq!(batches.items(), [vec![1]]);
    }
);

runtime_test!(
    async fn a_queue_smaller_than_max_items_caps_batches_instead_of_stalling() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(10, Duration::MAX)
            .queue_capacity(3)
            .build({
                let batches = batches.clone();
                move |batch: Vec<u32>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        futures::join!(worker, async {
            for n in 0..7 {
                waterfall.put(n).await.unwrap();
            }
            waterfall.close().await;
        });
        assert_eq!(batches.items(), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }
);

// ---- cancellation at every await point ----

runtime_test!(
    async fn a_submit_dropped_at_any_poll_loses_and_duplicates_nothing() {
        for polls in 0..6 {
            let batches = Batches::default();
            let (waterfall, mut worker) = Waterfall::builder(2, secs(3600))
                .queue_capacity(2)
                .build({
                    let batches = batches.clone();
                    move |batch: Vec<u32>| {
                        batches.record(Duration::ZERO, &batch);
                        async move {
                            yield_now().await;
                            batch
                        }
                    }
                })
                .unwrap();
            let first = waterfall.try_submit(1).unwrap();
            let mut second = waterfall.submit(2);
            assert!(poll_once(&mut second).is_pending(), "queued: the batch [1, 2] is full");
            let mut third = waterfall.submit(3); // waits for room at first
            for _ in 0..polls {
                let _ = poll_once(&mut worker);
                let _ = poll_once(&mut third);
            }
            drop(third);
            let close = waterfall.close();
            let (first, second, (), ()) = futures::join!(first, second, worker, close);
            assert_eq!(first.unwrap(), 1, "after {polls} polls");
            assert_eq!(second.unwrap(), 2, "after {polls} polls");
            let delivered: Vec<u32> = batches.items().concat();
            assert!(
                delivered == [1, 2] || delivered == [1, 2, 3],
                "after {polls} polls: delivered {delivered:?}"
            );
            assert!(batches.items().iter().all(|batch| !batch.is_empty() && batch.len() <= 2));
        }
    }
);

runtime_test!(
    async fn a_put_dropped_while_waiting_for_room_passes_its_wake_up_on() {
        let (waterfall, mut worker) = Waterfall::builder(1, secs(3600))
            .queue_capacity(1)
            .build(|_batch: Vec<u32>| async {})
            .unwrap();
        waterfall.try_put(0).unwrap();
        let mut dropped = waterfall.put(1);
        let mut kept = waterfall.put(2);
        assert!(poll_once(&mut dropped).is_pending());
        assert!(poll_once(&mut kept).is_pending());
        // The worker frees one place and notifies one waiter: the dropped one.
        assert!(poll_once(&mut worker).is_pending());
        drop(dropped);
        let (kept, ()) = futures::join!(kept, async {
            yield_now().await;
        });
        kept.unwrap();
        assert_eq!(waterfall.queued(), 1);
        futures::join!(waterfall.close(), worker);
    }
);

runtime_test!(
    async fn a_close_future_dropped_leaves_the_waterfall_closing() {
        let batches = Batches::default();
        let (waterfall, worker) = Waterfall::builder(5, secs(3600))
            .build({
                let batches = batches.clone();
                move |batch: Vec<u32>| {
                    batches.record(Duration::ZERO, &batch);
                    async {}
                }
            })
            .unwrap();
        waterfall.try_put(1).unwrap();
        let mut close = waterfall.close();
        assert!(poll_once(&mut close).is_pending());
        drop(close);
        worker.await;
        assert_eq!(batches.items(), [vec![1]]);
        waterfall.close().await;
    }
);

// ---- the stream face ----

runtime_test!(
    async fn the_stream_face_batches_by_count_and_by_max_wait_from_the_first_item() {
        let clock = VirtualClock::new();
        let (mut sender, receiver) = futures::channel::mpsc::unbounded::<u32>();
        let mut batches = receiver.waterfall(3, ms(100)).unwrap().with_clock(clock.clone());
        for n in 0..7 {
            sender.send(n).await.unwrap();
        }
        assert_eq!(batches.next().await, Some(vec![0, 1, 2]));
        assert_eq!(batches.next().await, Some(vec![3, 4, 5]));
        let start = clock.elapsed();
        let (seventh, ()) = futures::join!(batches.next(), clock.run_for(secs(1)));
        assert_eq!(seventh, Some(vec![6]));
        assert_eq!(clock.elapsed() - start, secs(1));
        sender.send(7).await.unwrap();
        let mut next = batches.next();
        assert!(poll_once(&mut next).is_pending());
        clock.advance(ms(99));
        assert!(poll_once(&mut next).is_pending(), "sent before max_wait");
        clock.advance(ms(1));
        assert_eq!(poll_once(&mut next), Poll::Ready(Some(vec![7])));
        drop(sender);
        assert_eq!(batches.next().await, None);
    }
);

runtime_test!(
    async fn the_stream_face_yields_the_rest_when_the_stream_ends_and_never_an_empty_batch() {
        let batches: Vec<Vec<u32>> =
            futures::stream::iter(0..5).waterfall(2, Duration::MAX).unwrap().collect().await;
        assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4]]);
        let none: Vec<Vec<u32>> =
            futures::stream::iter(0..0).waterfall(2, ms(1)).unwrap().collect().await;
        assert!(none.is_empty());
    }
);

// ---- many producers ----

runtime_test!(
    async fn eight_tasks_of_ten_thousand_submits_each_get_their_own_results(rt) {
        const TASKS: u64 = 8;
        const PER_TASK: u64 = 10_000;
        const CHUNK: u64 = 100;
        let (waterfall, worker) = Waterfall::builder(64, Duration::MAX)
            .queue_capacity((TASKS * CHUNK) as usize)
            .max_in_flight(2)
            .build(|batch: Vec<u64>| async move { batch.iter().map(|n| n * 3).collect::<Vec<_>>() })
            .unwrap();
        let worker = rt.spawn(worker);
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let waterfall = waterfall.clone();
                rt.spawn(async move {
                    let mut checked = 0;
                    for chunk in 0..PER_TASK / CHUNK {
                        let first = task * PER_TASK + chunk * CHUNK;
                        let submits: Vec<_> =
                            (first..first + CHUNK).map(|n| waterfall.try_submit(n).unwrap()).collect();
                        waterfall.flush();
                        for (n, result) in (first..).zip(futures::future::join_all(submits).await) {
                            assert_eq!(result.unwrap(), n * 3, "submitter {n} got another's result");
                            checked += 1;
                        }
                    }
                    checked
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await;
        }
        assert_eq!(total, TASKS * PER_TASK);
        waterfall.close().await;
        worker.await;
    }
);

// ---- properties ----

#[derive(Debug, Clone)]
enum Op {
    Put(usize),
    Flush,
    Advance(u64),
    PollWorker,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..=5).prop_map(Op::Put),
        1 => Just(Op::Flush),
        2 => (0u64..150).prop_map(Op::Advance),
        3 => Just(Op::PollWorker),
        1 => Just(Op::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_item_is_delivered_exactly_once_in_order_and_no_batch_breaks_a_limit(
        max_items in 1usize..6,
        max_weight in 5usize..12,
        capacity in 1usize..10,
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let clock = VirtualClock::new();
        let batches: Arc<Mutex<Timed<Instant, (u32, usize)>>> = Arc::default();
        let (waterfall, mut worker) = Waterfall::builder(max_items, ms(100))
            .max_weight(max_weight, |item: &(u32, usize)| item.1)
            .queue_capacity(capacity)
            .with_clock(clock.clone())
            .build({
                let (clock, batches) = (clock.clone(), Arc::clone(&batches));
                move |batch: Vec<(u32, usize)>| {
                    batches.lock().unwrap().push((clock.now(), batch));
                    async {}
                }
            })
            .unwrap();
        let mut accepted = Vec::new();
        let mut arrivals = HashMap::new();
        let mut next = 0u32;
        let mut closed = false;
        for op in ops {
            match op {
                Op::Put(weight) => {
                    let item = (next, weight);
                    next += 1;
                    match waterfall.try_put(item) {
                        Ok(()) => {
                            prop_assert!(!closed, "accepted after close");
                            accepted.push(item);
                            arrivals.insert(item.0, clock.now());
                        }
                        Err(TryPutError::Full(_)) => prop_assert!(!closed),
                        Err(TryPutError::Closed(_)) => prop_assert!(closed),
                        Err(other) => prop_assert!(false, "unexpected {other:?}"),
                    }
                }
                Op::Flush => waterfall.flush(),
                Op::Advance(millis) => {
                    // Keep the worker polled as time passes, so deadlines are observed on time.
                    for _ in 0..millis {
                        clock.advance(ms(1));
                        let _ = poll_once(&mut worker);
                    }
                }
                Op::PollWorker => { let _ = poll_once(&mut worker); }
                Op::Close => {
                    closed = true;
                    drop(waterfall.close());
                }
            }
        }
        drop(waterfall.close());
        prop_assert_eq!(poll_once(&mut worker), Poll::Ready(()), "a closed idle worker finishes");
        let batches = batches.lock().unwrap();
        let delivered: Vec<(u32, usize)> = batches.iter().flat_map(|(_, batch)| batch.clone()).collect();
        prop_assert_eq!(&delivered, &accepted, "lost, duplicated or reordered items");
        for (at, batch) in batches.iter() {
            prop_assert!(!batch.is_empty(), "an empty batch");
            prop_assert!(batch.len() <= max_items, "a batch over max_items: {:?}", batch);
            let weight: usize = batch.iter().map(|item| item.1).sum();
            prop_assert!(weight <= max_weight, "a batch over max_weight: {:?}", batch);
            let waited = *at - arrivals[&batch[0].0];
            prop_assert!(waited <= ms(100), "batch {:?} waited {:?}, over max_wait", batch, waited);
        }
    }
}
