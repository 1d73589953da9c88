//! Counters of what the cache did, read as a [`CacheStats`] snapshot.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::RemovalCause;

/// A snapshot of a cache's counters, from [`Cache::stats`](crate::Cache::stats).
///
/// Every read of a value is exactly one of a hit, a stale hit, a miss or a coalesced wait.
/// Counters only grow; [`clear`](crate::Cache::clear) does not reset them.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::cache::Cache;
///
/// let cache: Cache<u32, u32> = Cache::builder().build()?;
/// cache.get_or_compute(1, || async { 10 }).await?;
/// cache.get_or_compute(1, || async { 10 }).await?;
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered by a fresh stored value (or a stored error, with negative caching).
    pub hits: u64,
    /// Reads answered by a stale value while a refresh runs.
    pub stale_hits: u64,
    /// Reads that found nothing: `get` returning `None`, or a call that started a computation.
    pub misses: u64,
    /// Calls that joined a computation another caller had started.
    pub coalesced: u64,
    /// Computations started (loads and refreshes).
    pub loads: u64,
    /// Computations that returned an error or panicked.
    pub load_failures: u64,
    /// Values removed because they expired.
    pub expired: u64,
    /// Values removed to stay within the capacity.
    pub evicted: u64,
    /// Values replaced by an insert or a completed refresh.
    pub replaced: u64,
    /// Values removed by `invalidate`, `invalidate_if` or `clear`.
    pub invalidated: u64,
}

impl CacheStats {
    /// `hits / (hits + misses + coalesced + stale_hits)`, or 0 before the first read.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::CacheStats;
    ///
    /// assert_eq!(CacheStats::default().hit_ratio(), 0.0);
    /// ```
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses + self.coalesced + self.stale_hits;
        if reads == 0 { 0.0 } else { self.hits as f64 / reads as f64 }
    }
}

/// Hits are counted in per-thread stripes, so threads hitting one warm cache do not contend
/// on one counter.
const STRIPES: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Stripe(AtomicU64);

#[derive(Default)]
pub(crate) struct Counters {
    hits: [Stripe; STRIPES],
    shared_hits: AtomicU64,
    pub(crate) stale_hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) load_failures: AtomicU64,
    removals: [AtomicU64; 4],
}

/// This thread's hit stripe, and whether this thread is its only writer.
///
/// The first [`STRIPES`] threads each own a stripe and count with a plain load and store
/// (no read-modify-write); later threads share the last, atomic one.
#[inline]
fn stripe() -> (usize, bool) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut index = stripe.get();
        if index == usize::MAX {
            index = NEXT.fetch_add(1, Relaxed).min(STRIPES);
            stripe.set(index);
        }
        (index, index < STRIPES)
    })
}

impl Counters {
    #[inline]
    pub(crate) fn hit(&self) {
        match stripe() {
            (index, true) => {
                let hits = &self.hits[index].0;
                hits.store(hits.load(Relaxed) + 1, Relaxed);
            }
            _ => {
                self.shared_hits.fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn removed(&self, cause: RemovalCause, count: u64) {
        self.removals[cause as usize].fetch_add(count, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.iter().map(|stripe| stripe.0.load(Relaxed)).sum::<u64>()
                + self.shared_hits.load(Relaxed),
            stale_hits: self.stale_hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            loads: self.loads.load(Relaxed),
            load_failures: self.load_failures.load(Relaxed),
            expired: self.removals[RemovalCause::Expired as usize].load(Relaxed),
            evicted: self.removals[RemovalCause::Evicted as usize].load(Relaxed),
            replaced: self.removals[RemovalCause::Replaced as usize].load(Relaxed),
            invalidated: self.removals[RemovalCause::Invalidated as usize].load(Relaxed),
        }
    }
}
