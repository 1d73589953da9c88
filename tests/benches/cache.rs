//! `cache` against moka (`future::Cache`, the feature set people pick) and `quick_cache` (the
//! fastest synchronous hit path): hits, hits from two threads, misses that compute, and 1000
//! callers of one cold key; plus bytes of memory per cached entry.
//!
//! Futures are polled on a no-op-waker spin loop (`spin`), so neither side pays an
//! executor. Both caches are bounded (10,000 entries) and warmed with 1,000 keys that the
//! hit cases cycle through. moka records every read in its buffers; ours re-stamps a read
//! entry only if it is not among the most recently used eighth of the capacity (1,250 here),
//! so these hits write no stamp; a note reports a cache where every hit re-stamps (1,000
//! keys cycled through a 1,000-entry cache). moka and ours use std's
//! `RandomState`; against `quick_cache` both use its default hasher (foldhash), so
//! the comparison is of the caches, not of the hash functions (ours with its default
//! `RandomState` is reported as a note).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::cache::Cache;
use asynchronously_tests::bench;
use futures::executor::block_on;
use futures::future::join_all;

/// Counts live heap bytes, for the memory-per-entry report.
struct ByteCounter;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to `System` unchanged; the counter does not touch the memory.
unsafe impl GlobalAlloc for ByteCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from `System` through `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: ByteCounter = ByteCounter;

const CAPACITY: u64 = 10_000;
const WARM_KEYS: u64 = 1_000;

/// Polls a future to completion with a no-op waker.
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

/// Runs `operation(i)` for `iterations / 2` values of `i` on each of two threads, started
/// together; returns the longer of the two loops' times (thread start-up is not counted, so
/// a busy machine's slow spawns do not swamp short samples).
fn two_threads(iterations: u64, operation: impl Fn(u64) + Sync) -> Duration {
    let per_thread = iterations.div_ceil(2);
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let loops: Vec<_> = (0..2)
            .map(|thread| {
                let (operation, barrier) = (&operation, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..per_thread {
                        operation(i + thread * 7);
                    }
                    start.elapsed()
                })
            })
            .collect();
        loops
            .into_iter()
            .map(|thread| thread.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

fn ours() -> Cache<u64, u64> {
    Cache::builder().max_capacity(CAPACITY).build().expect("valid settings")
}

fn moka() -> moka::future::Cache<u64, u64> {
    moka::future::Cache::new(CAPACITY)
}

fn main() {
    let ours_cache = ours();
    let moka_cache = moka();
    for key in 0..WARM_KEYS {
        ours_cache.insert(key, key);
        spin(moka_cache.insert(key, key));
    }
    assert_eq!(spin(ours_cache.get_or_compute(5, || async { 0 })).ok(), Some(5));
    assert_eq!(spin(moka_cache.get_with(5, async { 0 })), 5);

    bench::report(
        "cache/hit",
        "moka",
        |n| {
            let start = Instant::now();
            for i in 0..n {
                let key = i % WARM_KEYS;
                black_box(spin(ours_cache.get_or_compute(key, || async { 0 })).ok());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for i in 0..n {
                let key = i % WARM_KEYS;
                black_box(spin(moka_cache.get_with(key, async { 0 })));
            }
            start.elapsed()
        },
    );

    // The synchronous hit path, against quick_cache, with the same hash function on both.
    let ours_fold: Cache<u64, u64, _, quick_cache::DefaultHashBuilder> = Cache::builder()
        .max_capacity(CAPACITY)
        .with_hasher(quick_cache::DefaultHashBuilder::default())
        .build()
        .expect("valid settings");
    let quick: quick_cache::sync::Cache<u64, u64> =
        quick_cache::sync::Cache::new(CAPACITY as usize);
    for key in 0..WARM_KEYS {
        ours_fold.insert(key, key);
        quick.insert(key, key);
    }
    bench::report(
        "cache/hit",
        "quick_cache",
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(ours_fold.get(&(i % WARM_KEYS)));
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(quick.get(&(i % WARM_KEYS)));
            }
            start.elapsed()
        },
    );
    let default_hasher = bench::compare(
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(ours_cache.get(&(i % WARM_KEYS)));
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(quick.get(&(i % WARM_KEYS)));
            }
            start.elapsed()
        },
    );
    bench::note(
        "cache/hit",
        &format!(
            "sync get with our default RandomState {:.1} ns vs quick_cache (foldhash) {:.1} ns ratio {:.2}",
            default_hasher.ours_ns,
            default_hasher.anchor_ns,
            default_hasher.ratio()
        ),
    );

    let restamping: Cache<u64, u64> =
        Cache::builder().max_capacity(WARM_KEYS).build().expect("valid");
    let moka_small = moka::future::Cache::new(WARM_KEYS);
    for key in 0..WARM_KEYS {
        restamping.insert(key, key);
        spin(moka_small.insert(key, key));
    }
    let every_read_stamped = bench::compare(
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(spin(restamping.get_or_compute(i % WARM_KEYS, || async { 0 })).ok());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for i in 0..n {
                black_box(spin(moka_small.get_with(i % WARM_KEYS, async { 0 })));
            }
            start.elapsed()
        },
    );
    bench::note(
        "cache/hit",
        &format!(
            "every hit re-stamped (1,000 keys cycled in a 1,000-entry cache) ours {:.1} ns moka {:.1} ns ratio {:.2}",
            every_read_stamped.ours_ns,
            every_read_stamped.anchor_ns,
            every_read_stamped.ratio()
        ),
    );
    drop((restamping, moka_small));

    bench::report(
        "cache/hit-2-threads",
        "moka",
        |n| {
            two_threads(n, |i| {
                black_box(spin(ours_cache.get_or_compute(i % WARM_KEYS, || async { 0 })).ok());
            })
        },
        |n| {
            two_threads(n, |i| {
                black_box(spin(moka_cache.get_with(i % WARM_KEYS, async { 0 })));
            })
        },
    );

    // Every call a new key: compute, store, and (past 10,000 entries) evict.
    let next_key = AtomicU64::new(1 << 32);
    bench::report(
        "cache/miss-compute",
        "moka",
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                let key = next_key.fetch_add(1, Ordering::Relaxed);
                black_box(spin(ours_cache.get_or_compute(key, move || async move { key })).ok());
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                let key = next_key.fetch_add(1, Ordering::Relaxed);
                black_box(spin(moka_cache.get_with(key, async move { key })));
            }
            start.elapsed()
        },
    );

    // 1000 callers of one cold key, joined; the computation yields once so all of them wait.
    bench::report(
        "cache/coalesced-1000",
        "moka",
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                let key = next_key.fetch_add(1, Ordering::Relaxed);
                let callers = (0..1000).map(|_| {
                    ours_cache.get_or_compute(key, move || async move {
                        asynchronously_tests::runtime::yield_now().await;
                        key
                    })
                });
                black_box(block_on(join_all(callers)));
            }
            start.elapsed()
        },
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                let key = next_key.fetch_add(1, Ordering::Relaxed);
                let callers = (0..1000).map(|_| {
                    moka_cache.get_with(key, async move {
                        asynchronously_tests::runtime::yield_now().await;
                        key
                    })
                });
                black_box(block_on(join_all(callers)));
            }
            start.elapsed()
        },
    );
    drop((ours_cache, moka_cache, ours_fold, quick));

    // Bytes per entry: live heap growth while filling an unbounded-enough cache.
    const ENTRIES: u64 = 100_000;
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let ours_mem: Cache<u64, u64> = Cache::builder().max_capacity(ENTRIES).build().expect("valid");
    (0..ENTRIES).for_each(|key| ours_mem.insert(key, key));
    let ours_bytes = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64 / ENTRIES as f64;
    assert_eq!(ours_mem.entry_count(), ENTRIES);
    drop(ours_mem);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let moka_mem: moka::future::Cache<u64, u64> = moka::future::Cache::new(ENTRIES);
    for key in 0..ENTRIES {
        spin(moka_mem.insert(key, key));
    }
    spin(moka_mem.run_pending_tasks());
    let moka_bytes = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64 / ENTRIES as f64;
    assert_eq!(moka_mem.entry_count(), ENTRIES);
    bench::note(
        "cache/memory",
        &format!(
            "bytes per entry (u64 key, u64 value, bounded to {ENTRIES}) ours {ours_bytes:.0} moka {moka_bytes:.0} ratio {:.2}",
            ours_bytes / moka_bytes
        ),
    );
}
