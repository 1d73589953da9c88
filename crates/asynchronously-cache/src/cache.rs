//! `Cache`: the sharded map of ready values and the flights that compute them.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};
use event_listener::Event;

use crate::builder::Config;
use crate::flight::{ErrorBox, Failure, Flight, FlightResult, Left, Polled, panic_message};
use crate::key::{Borrowed, Hashed, IdentityBuild, Probe};
use crate::stats::Counters;
use crate::{CacheBuilder, CacheStats, CacheWorker, GetOrCompute, RemovalCause, TryGetOrCompute};

/// An async cache in which concurrent callers of one key share one computation.
///
/// [`get_or_compute`](Cache::get_or_compute) returns the stored value, or computes it once
/// for every caller that asks while it runs. The computation belongs to the cache, not to the
/// caller that started it: dropping any caller — the one that started it included — never
/// cancels or poisons it; the remaining callers drive it on. A panic in it reaches every
/// waiting caller as [`ComputeError::Panicked`](crate::ComputeError::Panicked) and the next call
/// computes again.
///
/// `Cache` is a cheap handle (`Clone` shares the same cache) and is `Send + Sync`. Values are
/// cloned out on every read: for large values store an [`Arc<V>`](std::sync::Arc).
///
/// # Concepts
///
/// - **Capacity**: by entries, or by total weight with a weigher; over it, the least recently
///   *used* values are evicted. The order is kept lazily, so a hit only stamps its entry. It
///   is exact for weighted caches and caches of up to 64 entries; in larger ones a read of a
///   value already among the most recently used eighth of the capacity is not re-stamped, so
///   the eviction order is exact to within that eighth (and hot reads write nothing shared).
/// - **Expiry**: time-to-live counted from the computation's completion, time-to-idle,
///   per-entry expiry from the value; expired values are removed when read, when evicting,
///   or by [`remove_expired`](Cache::remove_expired).
/// - **Refresh** (stale-while-revalidate): past `refresh_after`, a read returns the stored
///   value at once and starts one coalesced refresh; past `max_stale`, readers wait for it.
/// - **Errors** are shared with the callers waiting at that moment and not stored, unless
///   [`cache_errors_for`](CacheBuilder::cache_errors_for) asks for negative caching.
/// - **Sharding**: keys are spread over independent shards, each a read-write lock around a
///   hash map; a hit takes only its shard's read lock.
///
/// # Where refreshes run
///
/// Nothing here spawns. A refresh is polled first by the read that started it (once, before
/// that read returns the stale value). After that it advances in a [`CacheWorker`] if you
/// spawn one ([`Cache::worker`]); without a worker, each later read of the key polls it once,
/// and a read past `max_stale` waits for it and drives it to the end. Either way it is never
/// lost: the refresh stays attached to its key until it completes or the key is invalidated.
///
/// # No locks across user code
///
/// No lock is held while a computation, weigher, expiry function or listener runs. A
/// computation may read other keys of the same cache. A computation that awaits its *own*
/// key gets [`ComputeError::Recursive`](crate::ComputeError::Recursive) at once instead of
/// deadlocking (see its docs for the one case that is not detected).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use asynchronously::cache::Cache;
///
/// let cache: Cache<u32, String> = Cache::builder().max_capacity(1_000).build()?;
/// let computations = AtomicU32::new(0);
/// let load = |id: u32| {
///     computations.fetch_add(1, Ordering::Relaxed);
///     async move { format!("user {id}") }
/// };
/// let (a, b) = futures::join!(
///     cache.get_or_compute(7, || load(7)),
///     cache.get_or_compute(7, || load(7)),
/// );
/// assert_eq!((a?, b?), ("user 7".to_owned(), "user 7".to_owned()));
/// assert_eq!(computations.load(Ordering::Relaxed), 1, "one computation for both callers");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Cache<K, V, C: Clock = RealClock, S = RandomState> {
    pub(crate) inner: Arc<Inner<K, V, C, S>>,
}

pub(crate) struct Inner<K, V, C, S> {
    shards: Box<[Shard<K, V>]>,
    shard_mask: usize,
    hasher: S,
    clock: C,
    origin: Instant,
    pub(crate) config: Config<K, V>,
    /// Any time-based setting: only then does a read look at the clock.
    timed: bool,
    bounded: bool,
    /// A read re-stamps its entry only if at least this many stamps were handed out since
    /// the entry's own: 1 is exact LRU; larger caches use 1/8 of their capacity, so reads of
    /// the most recently used eighth write nothing shared (see `touch`).
    recency_window: u64,
    /// Stamps and generations: unique, increasing.
    tick: AtomicU64,
    weight: AtomicU64,
    count: AtomicUsize,
    policy: Mutex<Policy<K>>,
    pub(crate) stats: Counters,
    pub(crate) queue: Mutex<Vec<Arc<Flight<K, V>>>>,
    pub(crate) queue_event: Event,
    pub(crate) workers: AtomicUsize,
}

#[repr(align(128))]
struct Shard<K, V> {
    map: RwLock<HashMap<Hashed<K>, Slot<K, V>, IdentityBuild>>,
}

struct Slot<K, V> {
    ready: Option<Ready<V>>,
    flight: Option<Arc<Flight<K, V>>>,
}

struct Ready<V> {
    stored: Stored<V>,
    generation: u64,
    stamp: AtomicU64,
    /// Nanoseconds since the cache's origin at which the value was stored.
    written: u64,
    /// When it expires (`u64::MAX`: never).
    expires: u64,
    accessed: AtomicU64,
    weight: u32,
}

enum Stored<V> {
    Value(V),
    Error(ErrorBox),
}

/// Least-recently-used order, kept lazily: one record per stored value with the stamp it
/// had when recorded. Hits only raise the entry's own stamp; an eviction pops the oldest
/// record and, if the entry was used since, puts it back with its current stamp. Since a
/// record's stamp never exceeds its entry's, the first record popped whose stamp is current
/// is the least recently used entry.
struct Policy<K> {
    heap: BinaryHeap<Record<K>>,
}

struct Record<K> {
    stamp: u64,
    generation: u64,
    key: Hashed<K>,
}

impl<K> PartialEq for Record<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.stamp, self.generation) == (other.stamp, other.generation)
    }
}

impl<K> Eq for Record<K> {}

impl<K> PartialOrd for Record<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Record<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: `BinaryHeap` pops the greatest, we want the oldest.
        (other.stamp, other.generation).cmp(&(self.stamp, self.generation))
    }
}

/// What a lookup found.
pub(crate) enum Found<K, V> {
    Hit(V),
    CachedError(ErrorBox),
    Stale {
        value: V,
        generation: u64,
        refresh: Option<Arc<Flight<K, V>>>,
    },
    Join(Arc<Flight<K, V>>),
    /// An expired value was removed: look again.
    Expired,
    Miss,
}

enum Freshness {
    Fresh,
    Stale,
    Expired,
}

/// Values removed under a lock, reported to the listener after it is released.
struct Removed<K, V>(Vec<(K, V, RemovalCause)>);

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Caches of up to this many entries (and every weighted cache) keep exact LRU order.
const EXACT_LRU_UP_TO: u64 = 64;

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl<K, V> Cache<K, V> {
    /// Starts building a cache: capacity, expiry, refresh, hooks, clock and hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().max_capacity(100).build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::new()
    }
}

impl<K, V, C, S> Cache<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    pub(crate) fn from_builder(config: Config<K, V>, clock: C, hasher: S, shards: usize) -> Self {
        let timed = config.time_to_live.is_some()
            || config.time_to_idle.is_some()
            || config.expire_after.is_some()
            || config.refresh_after.is_some()
            || config.negative_ttl.is_some();
        let bounded = config.max_capacity.is_some();
        let recency_window = match config.max_capacity {
            Some(capacity) if config.weigher.is_none() && capacity >= EXACT_LRU_UP_TO => {
                capacity / 8
            }
            _ => 1,
        };
        let origin = clock.now();
        let shards: Box<[Shard<K, V>]> = (0..shards)
            .map(|_| Shard { map: RwLock::new(HashMap::with_hasher(IdentityBuild::default())) })
            .collect();
        Cache {
            inner: Arc::new(Inner {
                shard_mask: shards.len() - 1,
                shards,
                hasher,
                clock,
                origin,
                config,
                timed,
                bounded,
                recency_window,
                tick: AtomicU64::new(0),
                weight: AtomicU64::new(0),
                count: AtomicUsize::new(0),
                policy: Mutex::new(Policy { heap: BinaryHeap::new() }),
                stats: Counters::default(),
                queue: Mutex::new(Vec::new()),
                queue_event: Event::new(),
                workers: AtomicUsize::new(0),
            }),
        }
    }

    /// Returns the value of `key`, computing it with `compute` if it is not stored.
    ///
    /// Concurrent callers of one key share one computation; `compute` is called only by the
    /// caller that starts it. The value is stored when the computation completes, and its
    /// time-to-live counts from then. Past `refresh_after` the stored value is returned at
    /// once and `compute` starts one refresh.
    ///
    /// The computation must be `Send + 'static` because any waiting caller may be the one that
    /// polls it to the end. To read other keys inside it, move a clone of the cache in.
    ///
    /// # Errors
    ///
    /// [`ComputeError::Panicked`](crate::ComputeError::Panicked) if the computation (or the
    /// weigher or expiry function, when storing its value) panicked;
    /// [`ComputeError::Recursive`](crate::ComputeError::Recursive) if it awaited its own key.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future at any point never cancels the computation while other
    /// callers wait for it: one of them carries it on. When the last waiting caller is
    /// dropped, the computation is dropped too, unless
    /// [`finish_abandoned_loads`](CacheBuilder::finish_abandoned_loads) keeps it. Either way
    /// the key is left consistent: the next call finds a value, joins the kept computation
    /// or starts a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<&str, usize> = Cache::builder().build()?;
    /// let length = cache.get_or_compute("hello", || async { "hello".len() }).await?;
    /// assert_eq!(length, 5);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn get_or_compute<F, Fut>(&self, key: K, compute: F) -> GetOrCompute<'_, K, V, C, S, F>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        GetOrCompute::new(self, key, compute)
    }

    /// Like [`get_or_compute`](Cache::get_or_compute), for computations that can fail.
    ///
    /// An error is shared with every caller waiting for that computation, behind an `Arc`
    /// (`E: Clone` is not needed), and is not stored unless
    /// [`cache_errors_for`](CacheBuilder::cache_errors_for) is set: the next call computes
    /// again. A failed *refresh* keeps the stale value.
    ///
    /// # Errors
    ///
    /// [`ComputeError::Failed`](crate::ComputeError::Failed) with the computation's error, and
    /// the errors of [`get_or_compute`](Cache::get_or_compute).
    ///
    /// # Cancel safety
    ///
    /// As for [`get_or_compute`](Cache::get_or_compute).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::io;
    ///
    /// use asynchronously::cache::{Cache, ComputeError};
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// let failed = cache.try_get_or_compute(1, || async { Err::<u32, _>(io::Error::other("offline")) }).await;
    /// assert!(matches!(failed, Err(ComputeError::Failed(error)) if error.to_string() == "offline"));
    /// let value = cache.try_get_or_compute(1, || async { Ok::<_, io::Error>(10) }).await?;
    /// assert_eq!(value, 10, "the error was not stored");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn try_get_or_compute<F, Fut, E>(
        &self,
        key: K,
        compute: F,
    ) -> TryGetOrCompute<'_, K, V, C, S, F, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        TryGetOrCompute::new(self, key, compute)
    }

    /// Returns the stored value of `key`, without computing anything.
    ///
    /// A stale value (past `refresh_after`) is returned too, but `get` starts no refresh.
    /// Counts as a hit or a miss and refreshes the value's recency and idle time.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// assert_eq!(cache.get(&1), None);
    /// cache.insert(1, 10);
    /// assert_eq!(cache.get(&1), Some(10));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        let inner = &*self.inner;
        let hash = inner.hash(key);
        let now = inner.now();
        loop {
            match inner.lookup(Borrowed { hash, key }, now) {
                Found::Hit(value) => {
                    inner.stats.hit();
                    return Some(value);
                }
                Found::Stale { value, .. } => {
                    inner.stats.stale_hits.fetch_add(1, Relaxed);
                    return Some(value);
                }
                Found::Expired => continue,
                Found::CachedError(_) | Found::Join(_) | Found::Miss => {
                    inner.stats.misses.fetch_add(1, Relaxed);
                    return None;
                }
            }
        }
    }

    /// Stores `value` for `key`, replacing any stored value (reported as
    /// [`RemovalCause::Replaced`]).
    ///
    /// A computation of `key` that is running keeps going for the callers waiting for it, but
    /// its result is not stored over this value.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<&str, u32> = Cache::builder().build()?;
    /// cache.insert("a", 1);
    /// cache.insert("a", 2);
    /// assert_eq!(cache.get(&"a"), Some(2));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn insert(&self, key: K, value: V) {
        let inner = &*self.inner;
        let hash = inner.hash(&key);
        inner.store(Hashed { hash, key }, Stored::Value(value), None);
    }

    /// Removes the value of `key`, if any ([`RemovalCause::Invalidated`]); returns whether
    /// there was one.
    ///
    /// A computation of `key` that is running keeps going for the callers already waiting for
    /// it, but its result is not stored; the next call computes afresh.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// cache.insert(1, 10);
    /// assert!(cache.invalidate(&1));
    /// assert!(!cache.invalidate(&1));
    /// assert_eq!(cache.get(&1), None);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn invalidate(&self, key: &K) -> bool {
        let inner = &*self.inner;
        let hash = inner.hash(key);
        let mut removed = Removed(Vec::new());
        let found = {
            let mut map = write(&inner.shard(hash).map);
            match map.remove(&Borrowed { hash, key } as &dyn Probe<K>) {
                Some(slot) => match slot.ready {
                    Some(ready) => {
                        inner.removed(key, ready, RemovalCause::Invalidated, &mut removed);
                        true
                    }
                    None => false,
                },
                None => false,
            }
        };
        inner.notify(removed);
        found
    }

    /// Removes every value for which `predicate(key, value)` is true; returns how many.
    ///
    /// The predicate runs under a shard's read lock, so it must not write to this cache.
    /// A value stored concurrently may or may not be tested.
    ///
    /// # Panics
    ///
    /// If `predicate` panics, the panic propagates to the caller; the values removed before
    /// it stay removed and the cache stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// (0..10).for_each(|n| cache.insert(n, n * 10));
    /// assert_eq!(cache.invalidate_if(|key, _| key % 2 == 0), 5);
    /// assert_eq!(cache.entry_count(), 5);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn invalidate_if(&self, mut predicate: impl FnMut(&K, &V) -> bool) -> usize {
        let inner = &*self.inner;
        let mut total = 0;
        for shard in inner.shards.iter() {
            let doomed: Vec<(Hashed<K>, u64)> = read(&shard.map)
                .iter()
                .filter_map(|(key, slot)| match &slot.ready {
                    Some(Ready { stored: Stored::Value(value), generation, .. })
                        if predicate(&key.key, value) =>
                    {
                        Some((key.clone(), *generation))
                    }
                    _ => None,
                })
                .collect();
            if doomed.is_empty() {
                continue;
            }
            let mut removed = Removed(Vec::new());
            {
                let mut map = write(&shard.map);
                for (key, generation) in doomed {
                    if let Some(ready) = inner.take_ready(&mut map, &key, generation) {
                        inner.removed(&key.key, ready, RemovalCause::Invalidated, &mut removed);
                        total += 1;
                    }
                }
            }
            inner.notify(removed);
        }
        total
    }

    /// Removes every value ([`RemovalCause::Invalidated`]). Computations running keep going
    /// for their waiters, but their results are not stored. Stats are kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// cache.insert(1, 10);
    /// cache.clear();
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn clear(&self) {
        let inner = &*self.inner;
        for shard in inner.shards.iter() {
            let mut removed = Removed(Vec::new());
            {
                let mut map = write(&shard.map);
                for (key, slot) in map.drain() {
                    if let Some(ready) = slot.ready {
                        inner.removed(&key.key, ready, RemovalCause::Invalidated, &mut removed);
                    }
                }
            }
            inner.notify(removed);
        }
        lock(&inner.policy).heap.clear();
    }

    /// Removes every expired value now ([`RemovalCause::Expired`]); returns how many.
    ///
    /// Expired values are otherwise removed when read or when the cache evicts; call this
    /// (for example from a periodic job) to free their memory sooner, or before
    /// [`entry_count`](Cache::entry_count) for an exact count.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::Cache;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let cache: Cache<u32, u32, VirtualClock> =
    ///     Cache::builder().time_to_live(Duration::from_secs(1)).with_clock(clock.clone()).build()?;
    /// cache.insert(1, 10);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(cache.entry_count(), 1);
    /// assert_eq!(cache.remove_expired(), 1);
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn remove_expired(&self) -> usize {
        let inner = &*self.inner;
        if !inner.timed {
            return 0;
        }
        let now = inner.now();
        let mut total = 0;
        for shard in inner.shards.iter() {
            let doomed: Vec<(Hashed<K>, u64)> = read(&shard.map)
                .iter()
                .filter_map(|(key, slot)| {
                    let ready = slot.ready.as_ref()?;
                    matches!(inner.freshness(ready, now), Freshness::Expired)
                        .then(|| (key.clone(), ready.generation))
                })
                .collect();
            let mut removed = Removed(Vec::new());
            {
                let mut map = write(&shard.map);
                for (key, generation) in doomed {
                    if let Some(ready) = inner.take_ready(&mut map, &key, generation) {
                        inner.removed(&key.key, ready, RemovalCause::Expired, &mut removed);
                        total += 1;
                    }
                }
            }
            inner.notify(removed);
        }
        total
    }

    /// The number of stored values (including expired ones not yet removed, and stored
    /// errors with negative caching).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// cache.insert(1, 10);
    /// assert_eq!(cache.entry_count(), 1);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn entry_count(&self) -> u64 {
        self.inner.count.load(Relaxed) as u64
    }

    /// The total weight of the stored values (their count without a weigher).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, String> =
    ///     Cache::builder().weigher(|_: &u32, value: &String| value.len() as u32).build()?;
    /// cache.insert(1, "abc".to_owned());
    /// assert_eq!(cache.weighted_size(), 3);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn weighted_size(&self) -> u64 {
        self.inner.weight.load(Relaxed)
    }

    /// A snapshot of the counters: hits, misses, coalesced waits, loads, failures, removals.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// assert_eq!(cache.get(&1), None);
    /// assert_eq!(cache.stats().misses, 1);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.inner.stats.snapshot()
    }

    /// Returns a worker that drives refreshes (and kept abandoned loads) in the background.
    ///
    /// Spawn it on your runtime. It completes once every handle of the cache is dropped and
    /// its computations finished. Dropping it hands the computations it was driving back to
    /// their keys (they stay attached and readers poll them). Several workers may run.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// let worker = cache.worker();
    /// drop(cache);
    /// futures::executor::block_on(worker); // the cache is gone: the worker ends
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn worker(&self) -> CacheWorker<K, V, C, S> {
        CacheWorker::new(&self.inner)
    }
}

impl<K, V, C, S> Inner<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    #[inline]
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard<K, V> {
        // The maps use the low bits and the top 7; shards take bits from the middle.
        &self.shards[(hash >> 32) as usize & self.shard_mask]
    }

    /// Nanoseconds since the cache was built, or 0 when no setting depends on time.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        if self.timed { nanos(self.clock.now().saturating_duration_since(self.origin)) } else { 0 }
    }

    fn freshness(&self, ready: &Ready<V>, now: u64) -> Freshness {
        if now >= ready.expires {
            return Freshness::Expired;
        }
        if self
            .config
            .time_to_idle
            .is_some_and(|tti| now.saturating_sub(ready.accessed.load(Relaxed)) >= nanos(tti))
        {
            return Freshness::Expired;
        }
        if let (Stored::Value(_), Some(refresh_after)) = (&ready.stored, self.config.refresh_after)
        {
            let age = now.saturating_sub(ready.written);
            if self.config.max_stale.is_some_and(|max_stale| age >= nanos(max_stale)) {
                return Freshness::Expired;
            }
            if age >= nanos(refresh_after) {
                return Freshness::Stale;
            }
        }
        Freshness::Fresh
    }

    #[inline]
    pub(crate) fn lookup(&self, probe: Borrowed<'_, K>, now: u64) -> Found<K, V> {
        let map = read(&self.shard(probe.hash).map);
        let Some(slot) = map.get(&probe as &dyn Probe<K>) else { return Found::Miss };
        if let Some(ready) = &slot.ready {
            if self.timed {
                match self.freshness(ready, now) {
                    Freshness::Fresh => {}
                    Freshness::Stale => {
                        let Stored::Value(value) = &ready.stored else {
                            unreachable!("only values go stale")
                        };
                        self.touch(ready, now);
                        return Found::Stale {
                            value: value.clone(),
                            generation: ready.generation,
                            refresh: slot.flight.clone(),
                        };
                    }
                    Freshness::Expired => {
                        let generation = ready.generation;
                        drop(map);
                        self.remove_expired_entry(probe, generation, now);
                        return Found::Expired;
                    }
                }
            }
            self.touch(ready, now);
            return match &ready.stored {
                Stored::Value(value) => Found::Hit(value.clone()),
                Stored::Error(error) => Found::CachedError(Arc::clone(error)),
            };
        }
        match &slot.flight {
            Some(flight) => Found::Join(Arc::clone(flight)),
            None => Found::Miss,
        }
    }

    /// Marks a read: recency for the LRU, last access for time-to-idle.
    #[inline]
    fn touch(&self, ready: &Ready<V>, now: u64) {
        if self.bounded {
            // An entry fewer than `recency_window` stamps old is among the `recency_window`
            // most recently used (every entry more recent holds a later stamp), so re-stamping
            // it would not change which entry is evicted next by more than that many places.
            // With a window of 1 only the most recent entry is skipped: exact LRU.
            let latest = self.tick.load(Relaxed);
            if latest.wrapping_sub(ready.stamp.load(Relaxed)) >= self.recency_window {
                ready.stamp.store(self.tick.fetch_add(1, Relaxed) + 1, Relaxed);
            }
        }
        if self.config.time_to_idle.is_some() {
            ready.accessed.store(now, Relaxed);
        }
    }

    fn remove_expired_entry(&self, probe: Borrowed<'_, K>, generation: u64, now: u64) {
        let mut removed = Removed(Vec::new());
        {
            let mut map = write(&self.shard(probe.hash).map);
            let expired = map
                .get(&probe as &dyn Probe<K>)
                .and_then(|slot| slot.ready.as_ref())
                .is_some_and(|ready| {
                    ready.generation == generation
                        && matches!(self.freshness(ready, now), Freshness::Expired)
                });
            if expired {
                let key = Hashed { hash: probe.hash, key: probe.key.clone() };
                if let Some(ready) = self.take_ready(&mut map, &key, generation) {
                    self.removed(probe.key, ready, RemovalCause::Expired, &mut removed);
                }
            }
        }
        self.notify(removed);
    }

    /// Takes the stored value of `key` if it is still generation `generation`; drops the slot
    /// when nothing is left in it.
    fn take_ready(
        &self,
        map: &mut HashMap<Hashed<K>, Slot<K, V>, IdentityBuild>,
        key: &Hashed<K>,
        generation: u64,
    ) -> Option<Ready<V>> {
        let probe = key as &dyn Probe<K>;
        let slot = map.get_mut(probe)?;
        if slot.ready.as_ref()?.generation != generation {
            return None;
        }
        let ready = slot.ready.take();
        if slot.flight.is_none() {
            map.remove(probe);
        }
        ready
    }

    /// Accounts for a value that left the cache; queues it for the listener.
    fn removed(&self, key: &K, ready: Ready<V>, cause: RemovalCause, removed: &mut Removed<K, V>) {
        self.count.fetch_sub(1, Relaxed);
        self.weight.fetch_sub(u64::from(ready.weight), Relaxed);
        self.stats.removed(cause, 1);
        #[cfg(feature = "tracing")]
        tracing::debug!(cause = ?cause, "cache removed a value");
        if let (Some(_), Stored::Value(value)) = (&self.config.listener, ready.stored) {
            removed.0.push((key.clone(), value, cause));
        }
    }

    fn notify(&self, removed: Removed<K, V>) {
        if let Some(listener) = &self.config.listener {
            for (key, value, cause) in removed.0 {
                listener(&key, &value, cause);
            }
        }
    }

    /// Installs a new flight for `key`: a load if nothing is there, or a refresh of the
    /// stored value of generation `refresh_of`. `None` if another caller got there first.
    pub(crate) fn install(
        &self,
        key: Hashed<K>,
        refresh_of: Option<u64>,
    ) -> Option<Arc<Flight<K, V>>> {
        let mut map = write(&self.shard(key.hash).map);
        match map.entry(key) {
            Entry::Occupied(mut occupied) => {
                let slot = occupied.get_mut();
                let vacant = slot.flight.is_none()
                    && match (&slot.ready, refresh_of) {
                        (None, None) => true,
                        (Some(ready), Some(generation)) => ready.generation == generation,
                        _ => false,
                    };
                if !vacant {
                    return None;
                }
                let flight = Flight::new(
                    occupied.key().clone(),
                    refresh_of.is_some(),
                    refresh_of.is_some() || self.config.finish_abandoned,
                );
                occupied.get_mut().flight = Some(Arc::clone(&flight));
                Some(flight)
            }
            Entry::Vacant(vacant) => {
                if refresh_of.is_some() {
                    return None;
                }
                let flight = Flight::new(vacant.key().clone(), false, self.config.finish_abandoned);
                vacant.insert(Slot { ready: None, flight: Some(Arc::clone(&flight)) });
                Some(flight)
            }
        }
    }

    /// Detaches `flight` from its key (if still attached); drops an empty slot.
    pub(crate) fn unlink(&self, flight: &Arc<Flight<K, V>>) {
        let mut map = write(&self.shard(flight.key.hash).map);
        let probe = &flight.key as &dyn Probe<K>;
        let Some(slot) = map.get_mut(probe) else { return };
        if slot.flight.as_ref().is_some_and(|attached| Arc::ptr_eq(attached, flight)) {
            slot.flight = None;
            if slot.ready.is_none() {
                map.remove(probe);
            }
        }
    }

    /// Polls `flight` for waiter `id`; publishes the result if this poll finished it.
    /// `None`: the flight was abandoned.
    pub(crate) fn poll_flight(
        &self,
        flight: &Arc<Flight<K, V>>,
        id: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<FlightResult<V>>> {
        match flight.poll_waiter(id, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Polled::Done(result)) => Poll::Ready(Some(result)),
            Poll::Ready(Polled::Abandoned) => Poll::Ready(None),
            Poll::Ready(Polled::Completed(result)) => {
                Poll::Ready(Some(self.complete(flight, result)))
            }
        }
    }

    /// Publishes a finished computation's result and wakes its waiters.
    pub(crate) fn complete(
        &self,
        flight: &Arc<Flight<K, V>>,
        result: FlightResult<V>,
    ) -> FlightResult<V> {
        let result = match panic::catch_unwind(AssertUnwindSafe(|| self.publish(flight, &result))) {
            Ok(()) => result,
            Err(payload) => {
                // A weigher, expiry function or listener panicked: nothing half-stored stays.
                self.unlink(flight);
                Err(Failure::Panicked(panic_message(&*payload)))
            }
        };
        flight.finish(result.clone());
        result
    }

    fn publish(&self, flight: &Arc<Flight<K, V>>, result: &FlightResult<V>) {
        match result {
            Ok(value) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(refresh = flight.refresh, "cache computation completed");
                self.store(flight.key.clone(), Stored::Value(value.clone()), Some(flight));
            }
            Err(failure) => {
                self.stats.load_failures.fetch_add(1, Relaxed);
                #[cfg(feature = "tracing")]
                tracing::debug!(refresh = flight.refresh, "cache computation failed");
                match (failure, self.config.negative_ttl) {
                    (Failure::Error(error), Some(_)) if !flight.refresh => {
                        self.store(
                            flight.key.clone(),
                            Stored::Error(Arc::clone(error)),
                            Some(flight),
                        );
                    }
                    _ => self.unlink(flight),
                }
            }
        }
    }

    /// Stores a value (or, with negative caching, an error) for `key`. With `flight`, only if
    /// that flight is still attached to the key (it was not invalidated or overwritten).
    fn store(&self, key: Hashed<K>, stored: Stored<V>, flight: Option<&Arc<Flight<K, V>>>) {
        let now = self.now();
        let (weight, lifetime) = match &stored {
            Stored::Value(value) => (
                self.config.weigher.as_ref().map_or(1, |weigher| weigher(&key.key, value)),
                self.config
                    .expire_after
                    .as_ref()
                    .and_then(|expiry| expiry(&key.key, value))
                    .or(self.config.time_to_live),
            ),
            Stored::Error(_) => (1, self.config.negative_ttl),
        };
        let mut removed = Removed(Vec::new());
        if self.config.max_capacity.is_some_and(|capacity| u64::from(weight) > capacity) {
            // Heavier than the whole cache: returned to its callers, never stored.
            if let Some(flight) = flight {
                self.unlink(flight);
            }
            self.stats.removed(RemovalCause::Evicted, 1);
            if let (Some(_), Stored::Value(value)) = (&self.config.listener, stored) {
                removed.0.push((key.key, value, RemovalCause::Evicted));
            }
            self.notify(removed);
            return;
        }
        let expires = lifetime.map_or(u64::MAX, |lifetime| now.saturating_add(nanos(lifetime)));
        let generation = self.tick.fetch_add(1, Relaxed) + 1;
        let ready = Ready {
            stored,
            generation,
            stamp: AtomicU64::new(generation),
            written: now,
            expires,
            accessed: AtomicU64::new(now),
            weight,
        };
        let record_key = self.bounded.then(|| key.clone());
        let listener_key = self.config.listener.is_some().then(|| key.key.clone());
        {
            let mut map = write(&self.shard(key.hash).map);
            let slot = match flight {
                Some(flight) => match map.get_mut(&key as &dyn Probe<K>) {
                    Some(slot)
                        if slot
                            .flight
                            .as_ref()
                            .is_some_and(|attached| Arc::ptr_eq(attached, flight)) =>
                    {
                        slot.flight = None;
                        slot
                    }
                    // Invalidated or overwritten while it ran: not stored.
                    _ => return,
                },
                None => {
                    let slot = map.entry(key).or_insert(Slot { ready: None, flight: None });
                    // The insert wins over a running load: detach it.
                    slot.flight = None;
                    slot
                }
            };
            let old = slot.ready.replace(ready);
            self.count.fetch_add(1, Relaxed);
            self.weight.fetch_add(u64::from(weight), Relaxed);
            if let Some(old) = old {
                self.count.fetch_sub(1, Relaxed);
                self.weight.fetch_sub(u64::from(old.weight), Relaxed);
                self.stats.removed(RemovalCause::Replaced, 1);
                if let (Some(key), Stored::Value(value)) = (listener_key, old.stored) {
                    removed.0.push((key, value, RemovalCause::Replaced));
                }
            }
        }
        self.notify(removed);
        if let Some(key) = record_key {
            self.record_and_evict(Record { stamp: generation, generation, key });
        }
    }

    fn record_and_evict(&self, record: Record<K>) {
        let Some(capacity) = self.config.max_capacity else { return };
        let mut removed = Removed(Vec::new());
        {
            let mut policy = lock(&self.policy);
            policy.heap.push(record);
            let now = self.now();
            let mut rebuilt = false;
            while self.weight.load(Relaxed) > capacity {
                let Some(record) = policy.heap.pop() else {
                    // Records can go missing only if `clear` raced with a store: rebuild them
                    // from the shards once rather than stay over capacity.
                    if rebuilt {
                        break;
                    }
                    rebuilt = true;
                    self.compact(&mut policy);
                    continue;
                };
                let mut map = write(&self.shard(record.key.hash).map);
                let Some(ready) = map
                    .get(&record.key as &dyn Probe<K>)
                    .and_then(|slot| slot.ready.as_ref())
                    .filter(|ready| ready.generation == record.generation)
                else {
                    continue; // a record of a value that is gone
                };
                let stamp = ready.stamp.load(Relaxed);
                if stamp != record.stamp {
                    // Used since it was recorded: back in the queue with its current stamp.
                    policy.heap.push(Record { stamp, ..record });
                    continue;
                }
                let cause = if matches!(self.freshness(ready, now), Freshness::Expired) {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Evicted
                };
                if let Some(ready) = self.take_ready(&mut map, &record.key, record.generation) {
                    self.removed(&record.key.key, ready, cause, &mut removed);
                }
            }
            let live = self.count.load(Relaxed);
            if policy.heap.len() > 2 * live + 64 {
                self.compact(&mut policy);
            }
        }
        self.notify(removed);
    }

    /// Rebuilds the LRU records from the stored values, dropping records of removed ones.
    fn compact(&self, policy: &mut Policy<K>) {
        policy.heap.clear();
        for shard in self.shards.iter() {
            let map = read(&shard.map);
            for (key, slot) in map.iter() {
                if let Some(ready) = &slot.ready {
                    policy.heap.push(Record {
                        stamp: ready.stamp.load(Relaxed),
                        generation: ready.generation,
                        key: key.clone(),
                    });
                }
            }
        }
    }

    /// Waiter `id` leaves `flight`: drops an abandoned computation, parks a kept one.
    pub(crate) fn leave(&self, flight: &Arc<Flight<K, V>>, id: usize) {
        match flight.leave(id) {
            Left::Stayed => {}
            Left::Abandoned(computation) => {
                // Unlink first, so no new caller joins a dead flight; dropping user code may
                // panic, which must not escape a destructor.
                self.unlink(flight);
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(computation)));
            }
            Left::Parked => self.park(flight),
        }
    }

    /// Hands a kept computation nobody waits for to a worker, if one runs.
    pub(crate) fn park(&self, flight: &Arc<Flight<K, V>>) {
        if self.workers.load(Relaxed) > 0 && !flight.is_done() && flight.mark_queued() {
            lock(&self.queue).push(Arc::clone(flight));
            self.queue_event.notify(1);
        }
    }

    /// Polls a refresh once on behalf of a read that returns the stale value.
    pub(crate) fn nudge(&self, flight: &Arc<Flight<K, V>>) {
        if let Some(id) = flight.join() {
            let _ = self.poll_flight(flight, id, &mut Context::from_waker(Waker::noop()));
            self.leave(flight, id);
        }
    }
}

impl<K, V, C, S> Drop for Inner<K, V, C, S> {
    fn drop(&mut self) {
        // Workers wait on this event; let them see the cache is gone.
        self.queue_event.notify(usize::MAX);
    }
}

impl<K, V, C: Clock, S> Clone for Cache<K, V, C, S> {
    fn clone(&self) -> Self {
        Cache { inner: Arc::clone(&self.inner) }
    }
}

impl<K, V, C: Clock, S> fmt::Debug for Cache<K, V, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("entry_count", &self.inner.count.load(Relaxed))
            .field("weighted_size", &self.inner.weight.load(Relaxed))
            .field("max_capacity", &self.inner.config.max_capacity)
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}
