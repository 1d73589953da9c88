//! Behaviour tests of `asynchronously::cache`, on virtual time, under every runtime.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use asynchronously::cache::{
    BuildError, Cache, ComputeError, Lru, Memoize, ReadOutcome, RemovalCause, TtlLru,
};
use asynchronously::time::{Clock, VirtualClock};
use futures::channel::oneshot;
use futures::future::{self, join_all};
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{ms, poll_once, secs};

type VCache<V = u32> = Cache<u32, V, VirtualClock>;

fn virtual_cache(
    clock: &VirtualClock,
) -> asynchronously::cache::CacheBuilder<u32, u32, VirtualClock> {
    Cache::builder().with_clock(clock.clone())
}

/// A computation that counts its starts, sleeps `steps` × 10 ms on `clock`, then returns `value`.
fn slow(
    clock: &VirtualClock,
    starts: &Arc<AtomicU32>,
    steps: u32,
    value: u32,
) -> impl FnOnce() -> Pin<Box<dyn Future<Output = u32> + Send>> + use<> {
    let clock = clock.clone();
    let starts = Arc::clone(starts);
    move || {
        starts.fetch_add(1, SeqCst);
        Box::pin(async move {
            for _ in 0..steps {
                clock.sleep(ms(10)).await;
            }
            value
        })
    }
}

/// Yields until `condition` holds, for work finishing in a spawned task (a worker) that
/// shares its executor with the other tests; gives up after a million yields.
async fn eventually(mut condition: impl FnMut() -> bool) {
    for _ in 0..1_000_000 {
        if condition() {
            return;
        }
        yield_now().await;
    }
}

fn must_not_run() -> impl FnOnce() -> future::Ready<u32> {
    || panic!("this computation must not start: the value should have been shared or stored")
}

// ---- Seed semantics ----

runtime_test!(
    async fn three_concurrent_calls_of_one_key_make_one_computation_with_one_value() {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).build().unwrap();
        let starts = Arc::new(AtomicU32::new(0));
        let calls = join_all((0..3).map(|_| cache.get_or_compute(1, slow(&clock, &starts, 3, 42))));
        let (values, ()) = future::join(calls, clock.run_for(ms(100))).await;
        assert_eq!(values.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [42, 42, 42]);
        assert_eq!(starts.load(SeqCst), 1, "concurrent callers of one key share one computation");
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.coalesced, stats.loads), (1, 2, 1));
    }
);

runtime_test!(
    async fn ttl_counts_from_completion_so_a_150_ms_computation_with_100_ms_ttl_is_a_hit_then_recomputed()
     {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).time_to_live(ms(100)).build().unwrap();
        let starts = Arc::new(AtomicU32::new(0));
        let (value, ()) = future::join(
            cache.get_or_compute(1, slow(&clock, &starts, 15, 7)),
            clock.run_for(ms(150)),
        )
        .await;
        assert_eq!(value.unwrap(), 7);
        let (_, outcome) = cache.get_or_compute(1, must_not_run()).with_outcome().await.unwrap();
        assert_eq!(outcome, ReadOutcome::Hit, "the TTL must count from completion (t = 150 ms)");
        clock.advance(ms(90));
        let (_, outcome) = cache.get_or_compute(1, must_not_run()).with_outcome().await.unwrap();
        assert_eq!(outcome, ReadOutcome::Hit, "90 ms after completion the value is fresh");
        clock.advance(ms(30));
        let (result, ()) = future::join(
            cache.get_or_compute(1, slow(&clock, &starts, 15, 8)).with_outcome(),
            clock.run_for(ms(150)),
        )
        .await;
        assert_eq!(result.unwrap(), (8, ReadOutcome::Computed), "120 ms after completion: expired");
        assert_eq!(starts.load(SeqCst), 2);
    }
);

runtime_test!(
    async fn lru_of_two_with_accesses_1_2_1_3_1_2_computes_1_2_3_2_because_it_evicts_by_recency() {
        let cache: Cache<u32, u32> = Cache::builder().max_capacity(2).build().unwrap();
        let computed = Mutex::new(Vec::new());
        for key in [1, 2, 1, 3, 1, 2] {
            let value = cache
                .get_or_compute(key, || {
                    computed.lock().unwrap().push(key);
                    async move { key * 10 }
                })
                .await
                .unwrap();
            assert_eq!(value, key * 10);
        }
        // Insertion order would have evicted 1 when 3 came in and computed 1, 2, 3, 1, 2.
        assert_eq!(*computed.lock().unwrap(), [1, 2, 3, 2]);
        let stats = cache.stats();
        assert_eq!(
            (stats.hits, stats.misses, cache.entry_count()),
            (2, 4, 2),
            "aiotools' counters"
        );
        assert_eq!(stats.evicted, 2);
        cache.clear();
        assert_eq!(cache.entry_count(), 0);
        assert_eq!(cache.get(&1), None, "clear removes every value");
        assert_eq!(cache.stats().invalidated, 2);
    }
);

#[test]
fn a_large_cache_keeps_recently_read_values_through_a_scan_of_new_keys() {
    let cache: Cache<u32, u32> = Cache::builder().max_capacity(1_000).build().unwrap();
    (0..1_000).for_each(|key| cache.insert(key, key));
    for key in 0..100 {
        assert_eq!(cache.get(&key), Some(key));
    }
    (1_000..1_800).for_each(|key| cache.insert(key, key));
    assert_eq!(cache.entry_count(), 1_000);
    assert!((0..100).all(|key| cache.get(&key).is_some()), "the values read last survive the scan");
    assert!((100..900).all(|key| cache.get(&key).is_none()), "the least recently used went first");
    assert_eq!(cache.stats().evicted, 800);
}

#[test]
fn sync_lru_of_two_with_gets_1_2_1_3_1_2_misses_1_2_3_2() {
    let mut lru = Lru::new(NonZeroUsize::new(2).unwrap());
    let mut missed = Vec::new();
    for key in [1, 2, 1, 3, 1, 2] {
        if lru.get(&key).is_none() {
            missed.push(key);
            lru.insert(key, key);
        }
    }
    assert_eq!(missed, [1, 2, 3, 2]);
    assert_eq!(lru.len(), 2);
}

#[test]
fn ttl_lru_expires_entries_and_keeps_recency_on_get() {
    let clock = VirtualClock::new();
    let mut map =
        TtlLru::with_clock(NonZeroUsize::new(2).unwrap(), secs(10), clock.clone()).unwrap();
    map.insert(1, "a");
    map.insert(2, "b");
    assert_eq!(map.get(&1), Some(&"a"));
    assert_eq!(map.insert(3, "c"), Some((2, "b")), "2 was the least recently used");
    clock.advance(secs(10));
    assert_eq!(map.get(&1), None, "expired 10 s after insertion");
    assert_eq!(map.get(&3), None);
    assert!(map.is_empty());
    assert_eq!(
        TtlLru::<u32, u32>::new(NonZeroUsize::MIN, Duration::ZERO).err(),
        Some(BuildError::ZeroDuration { setting: "ttl" })
    );
    let mut forever = TtlLru::new(NonZeroUsize::MIN, Duration::MAX).unwrap();
    forever.insert(1, 1);
    assert_eq!(forever.get(&1), Some(&1), "Duration::MAX means never");
}

// ---- Cancellation ----

const STEPS: u32 = 5;

runtime_test!(
    async fn dropping_the_computing_caller_at_any_await_point_lets_the_ten_waiters_finish_it() {
        let clock = VirtualClock::new();
        for drop_after in 0..=STEPS + 1 {
            let cache = virtual_cache(&clock).build().unwrap();
            let starts = Arc::new(AtomicU32::new(0));
            let mut leader = Box::pin(cache.get_or_compute(1, slow(&clock, &starts, STEPS, 7)));
            assert!(poll_once(&mut leader).is_pending());
            let extra = Arc::new(AtomicU32::new(0));
            let mut waiters: Vec<_> = (0..10)
                .map(|_| Box::pin(cache.get_or_compute(1, slow(&clock, &extra, STEPS, 99))))
                .collect();
            for waiter in &mut waiters {
                assert!(poll_once(waiter).is_pending());
            }
            for _ in 0..drop_after {
                clock.advance(ms(10));
                if poll_once(&mut leader).is_ready() {
                    break; // the leader finished the computation itself
                }
            }
            drop(leader);
            let (values, ()) = future::join(join_all(waiters), clock.run_for(ms(100))).await;
            for value in values {
                assert_eq!(
                    value.unwrap(),
                    7,
                    "dropped after {drop_after} steps: a waiter lost out"
                );
            }
            assert_eq!(starts.load(SeqCst), 1);
            assert_eq!(extra.load(SeqCst), 0, "the waiters took over; nothing computed again");
            let (_, outcome) =
                cache.get_or_compute(1, must_not_run()).with_outcome().await.unwrap();
            assert_eq!(outcome, ReadOutcome::Hit, "dropped after {drop_after} steps");
        }
    }
);

runtime_test!(
    async fn dropping_the_only_caller_at_any_await_point_leaves_the_key_ready_to_compute_again() {
        let clock = VirtualClock::new();
        for drop_after in 0..STEPS {
            let cache = virtual_cache(&clock).build().unwrap();
            let starts = Arc::new(AtomicU32::new(0));
            let compute = slow(&clock, &starts, STEPS, 1);
            let mut only = Box::pin(cache.try_get_or_compute(1, move || {
                let value = compute();
                async move { Ok::<_, ()>(value.await) }
            }));
            assert!(poll_once(&mut only).is_pending());
            for _ in 0..drop_after {
                clock.advance(ms(10));
                assert!(poll_once(&mut only).is_pending());
            }
            drop(only);
            assert_eq!(clock.pending_sleepers(), 0, "the abandoned computation was dropped");
            assert_eq!(cache.entry_count(), 0);
            let (again, ()) = future::join(
                cache.get_or_compute(1, slow(&clock, &starts, 1, 2)).with_outcome(),
                clock.run_for(ms(10)),
            )
            .await;
            assert_eq!(again.unwrap(), (2, ReadOutcome::Computed), "no stale cancellation is seen");
        }
    }
);

runtime_test!(
    async fn a_kept_abandoned_load_is_resumed_by_the_next_caller_instead_of_restarted() {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).finish_abandoned_loads(true).build().unwrap();
        let starts = Arc::new(AtomicU32::new(0));
        let mut first = Box::pin(cache.get_or_compute(1, slow(&clock, &starts, STEPS, 5)));
        assert!(poll_once(&mut first).is_pending());
        clock.advance(ms(20));
        assert!(poll_once(&mut first).is_pending());
        drop(first);
        let (value, ()) = future::join(
            cache.get_or_compute(1, slow(&clock, &starts, STEPS, 6)).with_outcome(),
            clock.run_for(ms(50)),
        )
        .await;
        assert_eq!(value.unwrap(), (5, ReadOutcome::Coalesced), "the parked computation resumed");
        assert_eq!(starts.load(SeqCst), 1);
    }
);

runtime_test!(
    async fn a_worker_finishes_a_kept_load_nobody_waits_for_and_stores_it(rt) {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).finish_abandoned_loads(true).build().unwrap();
        let worker = rt.spawn(cache.worker());
        let starts = Arc::new(AtomicU32::new(0));
        let mut first = Box::pin(cache.get_or_compute(1, slow(&clock, &starts, 2, 5)));
        assert!(poll_once(&mut first).is_pending());
        drop(first);
        clock.run_for(ms(20)).await;
        eventually(|| cache.entry_count() == 1).await;
        assert_eq!(cache.get(&1), Some(5), "the worker finished and stored the value");
        drop(cache);
        worker.await;
    }
);

// ---- Panics and errors ----

runtime_test!(
    async fn a_panicking_computation_reaches_every_waiter_as_a_typed_error_and_the_key_recovers() {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).build().unwrap();
        let panicking = {
            let clock = clock.clone();
            move || async move {
                clock.sleep(ms(10)).await;
                panic!("boom after an await")
            }
        };
        let calls = future::join3(
            cache.get_or_compute(1, panicking),
            cache.get_or_compute(1, must_not_run()),
            cache.get_or_compute(1, must_not_run()),
        );
        let ((a, b, c), ()) = future::join(calls, clock.run_for(ms(10))).await;
        for result in [a, b, c] {
            assert!(
                matches!(&result, Err(ComputeError::Panicked(message)) if &**message == "boom after an await"),
                "{result:?}"
            );
        }
        let sync_panic =
            cache.get_or_compute(2, || -> future::Ready<u32> { panic!("boom at once") }).await;
        assert!(
            matches!(sync_panic, Err(ComputeError::Panicked(message)) if &*message == "boom at once")
        );
        let (again, ()) = future::join(
            cache.get_or_compute(1, slow(&clock, &Arc::default(), 1, 3)).with_outcome(),
            clock.run_for(ms(10)),
        )
        .await;
        assert_eq!(again.unwrap(), (3, ReadOutcome::Computed), "the key is not poisoned");
        assert_eq!(cache.stats().load_failures, 2);
    }
);

runtime_test!(
    async fn an_error_is_shared_with_the_waiters_and_not_stored_by_default() {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).build().unwrap();
        let failing = {
            let clock = clock.clone();
            move || async move {
                clock.sleep(ms(10)).await;
                Err::<u32, String>("unavailable".to_owned())
            }
        };
        let calls = future::join(
            cache.try_get_or_compute(1, failing),
            cache.try_get_or_compute(1, || async { Ok::<u32, String>(0) }),
        );
        let ((a, b), ()) = future::join(calls, clock.run_for(ms(10))).await;
        for result in [a, b] {
            assert!(matches!(result, Err(ComputeError::Failed(error)) if *error == "unavailable"));
        }
        assert_eq!(
            cache.try_get_or_compute(1, || async { Ok::<u32, String>(4) }).await.unwrap(),
            4
        );
    }
);

runtime_test!(
    async fn negative_caching_keeps_an_error_for_its_own_ttl() {
        let clock = VirtualClock::new();
        let cache =
            virtual_cache(&clock).cache_errors_for(secs(5)).time_to_live(secs(60)).build().unwrap();
        let failed = cache.try_get_or_compute(1, || async { Err::<u32, &str>("down") }).await;
        assert!(matches!(failed, Err(ComputeError::Failed(error)) if *error == "down"));
        clock.advance(secs(4));
        let cached = cache.try_get_or_compute(1, || async { Ok::<u32, &str>(1) }).await;
        assert!(matches!(cached, Err(ComputeError::Failed(_))), "within 5 s the error is served");
        assert_eq!(cache.get(&1), None, "a stored error is no value");
        clock.advance(secs(1));
        assert_eq!(cache.try_get_or_compute(1, || async { Ok::<u32, &str>(1) }).await.unwrap(), 1);
        assert_eq!(cache.stats().loads, 2);
    }
);

// ---- Stale-while-revalidate ----

fn refreshing(clock: &VirtualClock) -> VCache {
    virtual_cache(clock).refresh_after(secs(10)).max_stale(secs(30)).build().unwrap()
}

runtime_test!(
    async fn callers_during_a_refresh_get_the_stale_value_at_once_and_a_worker_finishes_one_refresh(rt) {
        let clock = VirtualClock::new();
        let cache = refreshing(&clock);
        let worker = rt.spawn(cache.worker());
        cache.insert(1, 1);
        clock.advance(secs(10));
        let starts = Arc::new(AtomicU32::new(0));
        for _ in 0..5 {
            let mut read = Box::pin(cache.get_or_compute(1, slow(&clock, &starts, 10, 2)).with_outcome());
            let Poll::Ready(result) = poll_once(&mut read) else {
                panic!("a read during a refresh must not wait")
            };
            assert_eq!(result.unwrap(), (1, ReadOutcome::Stale));
        }
        assert_eq!(starts.load(SeqCst), 1, "one coalesced refresh");
        clock.run_for(ms(100)).await;
        eventually(|| cache.get(&1) == Some(2)).await;
        let (value, outcome) = cache.get_or_compute(1, must_not_run()).with_outcome().await.unwrap();
        assert_eq!((value, outcome), (2, ReadOutcome::Hit), "the refreshed value is fresh");
        assert_eq!(cache.stats().replaced, 1);
        drop(cache);
        worker.await;
    }
);

runtime_test!(
    async fn without_a_worker_reads_drive_the_refresh_so_it_is_never_lost() {
        let clock = VirtualClock::new();
        let cache = refreshing(&clock);
        cache.insert(1, 1);
        clock.advance(secs(10));
        let starts = Arc::new(AtomicU32::new(0));
        let read = cache.get_or_compute(1, slow(&clock, &starts, 1, 2)).with_outcome().await;
        assert_eq!(read.unwrap(), (1, ReadOutcome::Stale));
        clock.advance(ms(10)); // the refresh's sleep is due, nobody polls it yet
        let read = cache.get_or_compute(1, must_not_run()).with_outcome().await;
        assert_eq!(read.unwrap(), (1, ReadOutcome::Stale), "this read completed the refresh");
        assert_eq!(cache.get(&1), Some(2));
        assert_eq!(starts.load(SeqCst), 1);
    }
);

runtime_test!(
    async fn a_failing_refresh_keeps_the_stale_value_until_max_stale() {
        let clock = VirtualClock::new();
        let cache = refreshing(&clock);
        cache.insert(1, 1);
        let failing = || async { Err::<u32, &str>("refresh failed") };
        clock.advance(secs(10));
        assert_eq!(
            cache.try_get_or_compute(1, failing).with_outcome().await.unwrap(),
            (1, ReadOutcome::Stale)
        );
        clock.advance(secs(19));
        assert_eq!(
            cache.try_get_or_compute(1, failing).with_outcome().await.unwrap(),
            (1, ReadOutcome::Stale),
            "29 s old: still within max-stale"
        );
        assert_eq!(cache.stats().load_failures, 2, "each stale read retried the refresh");
        clock.advance(secs(1));
        let past = cache.try_get_or_compute(1, failing).await;
        assert!(
            matches!(past, Err(ComputeError::Failed(_))),
            "30 s old: readers wait, and see the error"
        );
        assert_eq!(cache.get(&1), None);
    }
);

runtime_test!(
    async fn dropping_the_worker_mid_refresh_hands_the_refresh_back_to_its_key(rt) {
        let clock = VirtualClock::new();
        let cache = refreshing(&clock);
        let worker = cache.worker();
        cache.insert(1, 1);
        clock.advance(secs(10));
        let starts = Arc::new(AtomicU32::new(0));
        let read = cache.get_or_compute(1, slow(&clock, &starts, 2, 2)).with_outcome().await;
        assert_eq!(read.unwrap(), (1, ReadOutcome::Stale));
        let mut worker = Box::pin(worker);
        assert!(poll_once(&mut worker).is_pending(), "the worker picked the refresh up");
        clock.advance(ms(10));
        assert!(poll_once(&mut worker).is_pending());
        drop(worker);
        clock.advance(secs(25)); // past max-stale: the next reader waits for the refresh
        let _ = rt;
        let (value, outcome) = cache.get_or_compute(1, must_not_run()).with_outcome().await.unwrap();
        assert_eq!((value, outcome), (2, ReadOutcome::Coalesced), "the same refresh finished");
        assert_eq!(starts.load(SeqCst), 1, "no refresh was lost or repeated");
    }
);

runtime_test!(
    async fn a_panicking_weigher_or_listener_leaves_the_cache_usable() {
        let cache: Cache<u32, u32> = Cache::builder()
            .max_capacity(10)
            .weigher(|key: &u32, _: &u32| if *key == 13 { panic!("unlucky weigher") } else { 1 })
            .eviction_listener(|key: &u32, _: &u32, _| assert_ne!(*key, 7, "listener refuses 7"))
            .build()
            .unwrap();
        let weighed = cache.get_or_compute(13, || async { 0 }).await;
        assert!(
            matches!(weighed, Err(ComputeError::Panicked(message)) if &*message == "unlucky weigher")
        );
        assert_eq!(cache.get(&13), None);
        cache.insert(7, 7);
        let invalidated =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.invalidate(&7)));
        assert!(invalidated.is_err(), "the listener's panic reaches the caller that removed 7");
        assert_eq!(cache.get(&7), None);
        assert_eq!(cache.get_or_compute(1, || async { 1 }).await.unwrap(), 1, "still usable");
        assert_eq!(cache.entry_count(), 1);
    }
);

// ---- Scale and independence ----

runtime_test!(
    async fn ten_thousand_concurrent_callers_of_one_key_make_exactly_one_computation(rt) {
        let cache: Cache<u32, u64> = Cache::builder().build().unwrap();
        let starts = Arc::new(AtomicU32::new(0));
        let (open, gate) = oneshot::channel::<()>();
        let gate = Arc::new(Mutex::new(Some(gate)));
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                let (cache, starts, gate) = (cache.clone(), starts.clone(), gate.clone());
                rt.spawn(async move {
                    cache
                        .get_or_compute(1, move || {
                            starts.fetch_add(1, SeqCst);
                            let gate = gate.lock().unwrap().take().expect("computed twice");
                            async move {
                                gate.await.unwrap();
                                77
                            }
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for _ in 0..1_000_000 {
            let stats = cache.stats();
            if stats.misses + stats.coalesced == 10_000 {
                break;
            }
            yield_now().await;
        }
        assert_eq!(cache.stats().coalesced, 9_999, "every caller joined before the value was ready");
        open.send(()).unwrap();
        for task in tasks {
            assert_eq!(task.await, 77);
        }
        assert_eq!(starts.load(SeqCst), 1);
    }
);

runtime_test!(
    async fn ten_thousand_distinct_keys_compute_concurrently_without_waiting_on_a_slow_key(rt) {
        let cache: Cache<u32, u32> = Cache::builder().build().unwrap();
        let (open, gate) = oneshot::channel::<()>();
        let slow_key = {
            let cache = cache.clone();
            rt.spawn(async move {
                cache.get_or_compute(0, move || async move { gate.await.map_or(0, |()| 1) }).await.unwrap()
            })
        };
        let tasks: Vec<_> = (1..10_000)
            .map(|key| {
                let cache = cache.clone();
                rt.spawn(async move {
                    cache
                        .get_or_compute(key, move || async move {
                            yield_now().await;
                            key * 2
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for (key, task) in (1..).zip(tasks) {
            assert_eq!(task.await, key * 2);
        }
        assert_eq!(cache.entry_count(), 9_999, "all done while key 0 still computes");
        open.send(()).unwrap();
        assert_eq!(slow_key.await, 1);
    }
);

runtime_test!(
    async fn a_computation_that_reads_two_other_keys_does_not_deadlock() {
        let cache: Cache<u32, u32> = Cache::builder().build().unwrap();
        let inner = cache.clone();
        let sum = cache
            .get_or_compute(3, move || async move {
                let one = inner.get_or_compute(1, || async { 1 }).await.unwrap();
                let two = inner.get_or_compute(2, || async { 2 }).await.unwrap();
                one + two
            })
            .await
            .unwrap();
        assert_eq!(sum, 3);
        assert_eq!(cache.entry_count(), 3);
    }
);

runtime_test!(
    async fn a_computation_that_awaits_its_own_key_gets_a_recursive_error_instead_of_a_deadlock() {
        let cache: Cache<u32, u32> = Cache::builder().build().unwrap();
        let inner = cache.clone();
        let value = cache
            .get_or_compute(9, move || async move {
                match inner.get_or_compute(9, || async { 0 }).await {
                    Err(ComputeError::Recursive) => 99,
                    other => panic!("expected a recursive error, got {other:?}"),
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 99);
    }
);

/// Runtime shutdown while callers wait (TESTING.md C13): dropping the runtime drops the
/// parked callers, the abandoned computation goes with the last of them, and the cache is
/// usable from another executor afterwards.
#[cfg(feature = "tokio")]
#[test]
fn a_runtime_shut_down_while_callers_wait_leaves_the_cache_usable() {
    let cache: Cache<u32, u32> = Cache::builder().build().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let shared = cache.clone();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let (_never_sent, gate) = oneshot::channel::<()>();
        let gate = Arc::new(Mutex::new(Some(gate)));
        for _ in 0..100 {
            let (cache, gate) = (shared.clone(), gate.clone());
            runtime.spawn(async move {
                let compute = move || {
                    let gate = gate.lock().unwrap().take().expect("one computation");
                    async move { gate.await.map_or(0, |()| 1) }
                };
                cache.get_or_compute(1, compute).await
            });
        }
        runtime.block_on(async {
            for _ in 0..1_000_000 {
                let stats = shared.stats();
                if stats.misses + stats.coalesced == 100 {
                    break;
                }
                yield_now().await;
            }
        });
        assert_eq!(shared.stats().coalesced, 99, "every task waits on the one computation");
        drop(runtime);
        done.send(()).unwrap();
    });
    finished.recv_timeout(Duration::from_secs(10)).expect("dropping the runtime must not hang");
    let value = futures::executor::block_on(cache.get_or_compute(1, || async { 5 }).with_outcome());
    assert_eq!(
        value.unwrap(),
        (5, ReadOutcome::Computed),
        "the abandoned computation left no trace"
    );
}

// ---- Expiry, capacity, invalidation, hooks ----

runtime_test!(
    async fn time_to_idle_and_per_entry_expiry_remove_values() {
        let clock = VirtualClock::new();
        let cache: Cache<u32, (u32, Duration), VirtualClock> = Cache::builder()
            .time_to_idle(secs(5))
            .expire_after(|_: &u32, value: &(u32, Duration)| Some(value.1))
            .with_clock(clock.clone())
            .build()
            .unwrap();
        cache.insert(1, (1, secs(100)));
        cache.insert(2, (2, secs(3)));
        clock.advance(secs(4));
        assert_eq!(cache.get(&1).map(|v| v.0), Some(1));
        assert_eq!(cache.get(&2), None, "its own 3 s expiry");
        clock.advance(secs(4));
        assert_eq!(cache.get(&1).map(|v| v.0), Some(1), "read 4 s ago: not idle for 5 s");
        clock.advance(secs(5));
        assert_eq!(cache.get(&1), None, "idle for 5 s");
        assert_eq!(cache.stats().expired, 2);
    }
);

runtime_test!(
    async fn weighted_capacity_evicts_least_recently_used_and_rejects_a_value_heavier_than_all() {
        let removed = Arc::new(Mutex::new(Vec::new()));
        let log = removed.clone();
        let cache: Cache<u32, String> = Cache::builder()
            .max_capacity(10)
            .weigher(|_: &u32, value: &String| value.len() as u32)
            .eviction_listener(move |key: &u32, _: &String, cause| {
                log.lock().unwrap().push((*key, cause))
            })
            .build()
            .unwrap();
        cache.insert(1, "aaaa".into());
        cache.insert(2, "bbbb".into());
        assert!(cache.get(&1).is_some());
        cache.insert(3, "cccc".into());
        assert_eq!(
            (cache.get(&1).is_some(), cache.get(&2), cache.get(&3).is_some()),
            (true, None, true)
        );
        assert_eq!(cache.weighted_size(), 8);
        let huge = cache.get_or_compute(4, || async { "x".repeat(11) }).await.unwrap();
        assert_eq!(huge.len(), 11, "returned to the caller");
        assert_eq!(cache.get(&4), None, "but never stored");
        assert_eq!(
            *removed.lock().unwrap(),
            [(2, RemovalCause::Evicted), (4, RemovalCause::Evicted)]
        );
    }
);

runtime_test!(
    async fn the_eviction_listener_sees_every_cause() {
        let clock = VirtualClock::new();
        let removed = Arc::new(Mutex::new(Vec::new()));
        let log = removed.clone();
        let cache = virtual_cache(&clock)
            .max_capacity(2)
            .time_to_live(secs(10))
            .eviction_listener(move |key: &u32, value: &u32, cause| {
                log.lock().unwrap().push((*key, *value, cause))
            })
            .build()
            .unwrap();
        cache.insert(1, 10);
        cache.insert(1, 11);
        cache.insert(2, 20);
        cache.insert(3, 30);
        assert!(cache.invalidate(&3));
        clock.advance(secs(10));
        assert_eq!(cache.get(&2), None);
        assert_eq!(
            *removed.lock().unwrap(),
            [
                (1, 10, RemovalCause::Replaced),
                (1, 11, RemovalCause::Evicted),
                (3, 30, RemovalCause::Invalidated),
                (2, 20, RemovalCause::Expired),
            ]
        );
        let stats = cache.stats();
        assert_eq!((stats.replaced, stats.evicted, stats.invalidated, stats.expired), (1, 1, 1, 1));
    }
);

runtime_test!(
    async fn invalidating_during_a_load_keeps_its_result_out_of_the_cache() {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).build().unwrap();
        let load = cache.get_or_compute(1, slow(&clock, &Arc::default(), 1, 5));
        let invalidate = async {
            yield_now().await;
            cache.invalidate(&1);
        };
        let ((value, ()), ()) =
            future::join(future::join(load, invalidate), clock.run_for(ms(10))).await;
        assert_eq!(value.unwrap(), 5, "the waiting caller still gets its value");
        assert_eq!(cache.get(&1), None, "but the invalidated load is not stored");
        cache.insert(2, 2);
        cache.insert(3, 3);
        assert_eq!(cache.invalidate_if(|key, _| *key == 2), 1);
        assert_eq!((cache.get(&2), cache.get(&3)), (None, Some(3)));
    }
);

runtime_test!(
    async fn memoize_shares_calls_per_transformed_key() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let memo = Memoize::with_key(
            Cache::builder().build().unwrap(),
            |name: &String| name.to_lowercase(),
            move |name: String| {
                counter.fetch_add(1, SeqCst);
                async move { name.len() }
            },
        );
        let (a, b) = future::join(memo.call("Ada".to_owned()), memo.call("ADA".to_owned())).await;
        assert_eq!((a.unwrap(), b.unwrap()), (3, 3));
        assert_eq!(memo.call("ada".to_owned()).await.unwrap(), 3);
        assert_eq!(calls.load(SeqCst), 1);
    }
);

#[test]
fn bad_settings_are_typed_build_errors() {
    let build = |builder: asynchronously::cache::CacheBuilder<u32, u32>| builder.build().err();
    assert_eq!(build(Cache::builder().max_capacity(0)), Some(BuildError::ZeroCapacity));
    assert_eq!(build(Cache::builder().shards(0)), Some(BuildError::ZeroShards));
    assert_eq!(
        build(Cache::builder().time_to_live(Duration::ZERO)),
        Some(BuildError::ZeroDuration { setting: "time_to_live" })
    );
    assert_eq!(
        build(Cache::builder().refresh_after(secs(10)).max_stale(secs(5))),
        Some(BuildError::MaxStaleShorterThanRefresh {
            refresh_after: secs(10),
            max_stale: secs(5)
        })
    );
    assert_eq!(
        build(Cache::builder().max_stale(secs(5))),
        Some(BuildError::MaxStaleWithoutRefresh)
    );
    let message = BuildError::ZeroCapacity.to_string();
    assert!(message.contains("at least 1") && message.contains("got 0"), "{message}");
    let forever = Cache::<u32, u32>::builder().time_to_live(Duration::MAX).build().unwrap();
    forever.insert(1, 1);
    assert_eq!(forever.get(&1), Some(1), "Duration::MAX means never");
}

// ---- Property: the cache against a model map with TTL and LRU ----

#[derive(Debug, Clone)]
enum Op {
    Get(u32),
    Compute(u32),
    Insert(u32, u32),
    Invalidate(u32),
    Advance(u64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..6u32).prop_map(Op::Get),
        2 => (0..6u32).prop_map(Op::Compute),
        3 => (0..6u32, any::<u32>()).prop_map(|(key, value)| Op::Insert(key, value)),
        1 => (0..6u32).prop_map(Op::Invalidate),
        2 => (0..4u64).prop_map(Op::Advance),
    ];
    proptest::collection::vec(op, 0..80)
}

/// Exact LRU with a TTL from the last write, in the simplest form.
#[derive(Default)]
struct Model {
    entries: HashMap<u32, (u32, u64, u64)>, // value, expires at, last used
    now: u64,
    tick: u64,
}

impl Model {
    const CAPACITY: usize = 3;
    const TTL: u64 = 5;

    fn get(&mut self, key: u32) -> Option<u32> {
        let &(value, expires, _) = self.entries.get(&key)?;
        if self.now >= expires {
            self.entries.remove(&key);
            return None;
        }
        self.tick += 1;
        self.entries.get_mut(&key).unwrap().2 = self.tick;
        Some(value)
    }

    fn insert(&mut self, key: u32, value: u32) {
        self.tick += 1;
        self.entries.insert(key, (value, self.now + Self::TTL, self.tick));
        while self.entries.len() > Self::CAPACITY {
            let (&oldest, _) = self.entries.iter().min_by_key(|(_, entry)| entry.2).unwrap();
            self.entries.remove(&oldest);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_cache_answers_like_a_model_lru_with_ttl(ops in ops()) {
        let clock = VirtualClock::new();
        let cache = virtual_cache(&clock).max_capacity(3).time_to_live(secs(Model::TTL)).build().unwrap();
        let mut model = Model::default();
        for (index, op) in ops.into_iter().enumerate() {
            match op {
                Op::Get(key) => prop_assert_eq!(cache.get(&key), model.get(key), "op {}: get {}", index, key),
                Op::Compute(key) => {
                    let computed = 1_000 + index as u32;
                    let ours = futures::executor::block_on(cache.get_or_compute(key, || async move { computed }))
                        .unwrap();
                    let theirs = model.get(key).unwrap_or_else(|| {
                        model.insert(key, computed);
                        computed
                    });
                    prop_assert_eq!(ours, theirs, "op {}: compute {}", index, key);
                }
                Op::Insert(key, value) => {
                    cache.insert(key, value);
                    model.insert(key, value);
                }
                Op::Invalidate(key) => {
                    let had = model.entries.remove(&key).is_some();
                    prop_assert_eq!(cache.invalidate(&key), had, "op {}: invalidate {}", index, key);
                }
                Op::Advance(seconds) => {
                    clock.advance(secs(seconds));
                    model.now += seconds;
                }
            }
            prop_assert_eq!(cache.entry_count(), model.entries.len() as u64, "op {}: entry count", index);
        }
    }
}
