//! `CacheBuilder`: a cache's capacity, expiry, refresh and hooks, validated once.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use crate::{BuildError, Cache, RemovalCause};

pub(crate) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;
pub(crate) type Expiry<K, V> = Arc<dyn Fn(&K, &V) -> Option<Duration> + Send + Sync>;
pub(crate) type Listener<K, V> = Arc<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// Settings of a [`Cache`], from [`Cache::builder`]; [`build`](CacheBuilder::build) checks them.
///
/// Everything is optional: with no settings the cache is unbounded and values never expire.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::cache::Cache;
///
/// let cache: Cache<String, Vec<u8>> = Cache::builder()
///     .max_capacity(64 * 1024 * 1024)
///     .weigher(|key: &String, value: &Vec<u8>| (key.len() + value.len()) as u32)
///     .time_to_live(Duration::from_secs(300))
///     .refresh_after(Duration::from_secs(60))
///     .max_stale(Duration::from_secs(120))
///     .build()?;
/// cache.insert("key".to_owned(), vec![0; 5]);
/// assert_eq!(cache.weighted_size(), 8);
/// # Ok::<_, asynchronously::cache::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CacheBuilder<K, V, C: Clock = RealClock, S = RandomState> {
    pub(crate) config: Config<K, V>,
    pub(crate) clock: C,
    pub(crate) hasher: S,
    pub(crate) shards: Option<usize>,
}

pub(crate) struct Config<K, V> {
    pub(crate) max_capacity: Option<u64>,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) time_to_live: Option<Duration>,
    pub(crate) time_to_idle: Option<Duration>,
    pub(crate) expire_after: Option<Expiry<K, V>>,
    pub(crate) refresh_after: Option<Duration>,
    pub(crate) max_stale: Option<Duration>,
    pub(crate) negative_ttl: Option<Duration>,
    pub(crate) finish_abandoned: bool,
    pub(crate) listener: Option<Listener<K, V>>,
}

impl<K, V> Default for Config<K, V> {
    fn default() -> Self {
        Config {
            max_capacity: None,
            weigher: None,
            time_to_live: None,
            time_to_idle: None,
            expire_after: None,
            refresh_after: None,
            max_stale: None,
            negative_ttl: None,
            finish_abandoned: false,
            listener: None,
        }
    }
}

impl<K, V> CacheBuilder<K, V> {
    pub(crate) fn new() -> Self {
        CacheBuilder {
            config: Config::default(),
            clock: RealClock,
            hasher: RandomState::new(),
            shards: None,
        }
    }
}

impl<K, V, C: Clock, S> CacheBuilder<K, V, C, S> {
    /// Bounds the cache: at most `capacity` entries, or total weight with a
    /// [`weigher`](CacheBuilder::weigher). Over it, the least recently *used* values go first.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().max_capacity(2).build()?;
    /// cache.insert(1, 1);
    /// cache.insert(2, 2);
    /// cache.get(&1); // 1 is now more recent than 2
    /// cache.insert(3, 3);
    /// assert_eq!((cache.get(&1), cache.get(&2), cache.get(&3)), (Some(1), None, Some(3)));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn max_capacity(mut self, capacity: u64) -> Self {
        self.config.max_capacity = Some(capacity);
        self
    }

    /// Weighs each value for [`max_capacity`](CacheBuilder::max_capacity) (default: 1 each).
    ///
    /// A value heavier than the whole capacity is returned to its callers but not stored.
    /// The weigher runs outside the cache's locks; if it panics, the callers of that
    /// computation get [`ComputeError::Panicked`](crate::ComputeError::Panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, String> =
    ///     Cache::builder().max_capacity(10).weigher(|_: &u32, value: &String| value.len() as u32).build()?;
    /// cache.insert(1, "12345678".to_owned());
    /// cache.insert(2, "1234".to_owned()); // 12 > 10: the older value goes
    /// assert_eq!(cache.get(&1), None);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.config.weigher = Some(Arc::new(weigher));
        self
    }

    /// Expires a value this long after it was stored: after its computation **completed**.
    ///
    /// [`Duration::MAX`] means never.
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
    /// cache.insert(1, 1);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(cache.get(&1), None);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.config.time_to_live = Some(ttl);
        self
    }

    /// Expires a value that was not read for this long.
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
    ///     Cache::builder().time_to_idle(Duration::from_secs(2)).with_clock(clock.clone()).build()?;
    /// cache.insert(1, 1);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(cache.get(&1), Some(1)); // read: idle time starts again
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(cache.get(&1), Some(1));
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(cache.get(&1), None);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.config.time_to_idle = Some(tti);
        self
    }

    /// Gives each value its own time-to-live, from the value (`None`: the cache's TTL applies).
    ///
    /// Called once when a value is stored, outside the cache's locks.
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
    /// let cache: Cache<&str, (u32, Duration), VirtualClock> = Cache::builder()
    ///     .expire_after(|_: &&str, value: &(u32, Duration)| Some(value.1))
    ///     .with_clock(clock.clone())
    ///     .build()?;
    /// cache.insert("short", (1, Duration::from_secs(1)));
    /// cache.insert("long", (2, Duration::from_secs(60)));
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!((cache.get(&"short"), cache.get(&"long").map(|v| v.0)), (None, Some(2)));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn expire_after(
        mut self,
        expiry: impl Fn(&K, &V) -> Option<Duration> + Send + Sync + 'static,
    ) -> Self {
        self.config.expire_after = Some(Arc::new(expiry));
        self
    }

    /// Stale-while-revalidate: a value older than this is still served, at once, while one
    /// coalesced refresh computes its replacement.
    ///
    /// A refresh needs a computation, so only [`get_or_compute`](Cache::get_or_compute) and
    /// [`try_get_or_compute`](Cache::try_get_or_compute) start one; `get` serves the stale
    /// value. See [`Cache`]'s "Where refreshes run" for who drives it. A failed refresh keeps
    /// the stale value (until [`max_stale`](CacheBuilder::max_stale)) and the next read tries again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().refresh_after(Duration::from_secs(60)).build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn refresh_after(mut self, age: Duration) -> Self {
        self.config.refresh_after = Some(age);
        self
    }

    /// The oldest a stale value may be and still be served (default: no bound). Past it,
    /// readers wait for the refresh instead, and a failed refresh reaches them as an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::{BuildError, Cache};
    ///
    /// let too_short = Cache::<u32, u32>::builder()
    ///     .refresh_after(Duration::from_secs(60))
    ///     .max_stale(Duration::from_secs(30))
    ///     .build();
    /// assert!(matches!(too_short, Err(BuildError::MaxStaleShorterThanRefresh { .. })));
    /// ```
    pub fn max_stale(mut self, age: Duration) -> Self {
        self.config.max_stale = Some(age);
        self
    }

    /// Negative caching: a computation's error is stored for `ttl`, and calls within it get
    /// the same error without computing (the seed's behaviour). By default an error is only
    /// shared with the callers already waiting, and the next call computes again.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> =
    ///     Cache::builder().cache_errors_for(Duration::from_secs(5)).build()?;
    /// let first = cache.try_get_or_compute(1, || async { Err::<u32, _>("down") }).await;
    /// let second = cache.try_get_or_compute(1, || async { Ok::<_, &str>(1) }).await;
    /// assert!(first.is_err() && second.is_err(), "the error is cached for 5 s");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn cache_errors_for(mut self, ttl: Duration) -> Self {
        self.config.negative_ttl = Some(ttl);
        self
    }

    /// Keeps a computation when every caller waiting for it was dropped (default: it is
    /// dropped with the last caller).
    ///
    /// A kept computation is handed to the [`CacheWorker`](crate::CacheWorker) if one runs,
    /// which finishes it and stores the value; otherwise it stays parked with its progress,
    /// and the next caller of the key resumes it instead of starting over.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().finish_abandoned_loads(true).build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn finish_abandoned_loads(mut self, finish: bool) -> Self {
        self.config.finish_abandoned = finish;
        self
    }

    /// Calls `listener` with each value that leaves the cache and why.
    ///
    /// It runs after the cache's locks are released, on the thread that removed the value; it
    /// may use the cache. A panic in it propagates to the call that removed the value (an
    /// `insert`, `invalidate`, …); when storing a computed value made room, the panic reaches
    /// that computation's callers as [`ComputeError::Panicked`](crate::ComputeError::Panicked)
    /// instead, and the value stays stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::{Cache, RemovalCause};
    ///
    /// let cache: Cache<u32, u32> = Cache::builder()
    ///     .eviction_listener(|key: &u32, value: &u32, cause: RemovalCause| {
    ///         let _ = (key, value, cause);
    ///     })
    ///     .build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.config.listener = Some(Arc::new(listener));
        self
    }

    /// The number of internal shards (rounded up to a power of two; default: 8 per core,
    /// from 16 to 64). Reads of keys in different shards never contend.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().shards(8).build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Measures time on `clock` (a [`VirtualClock`](asynchronously_time::VirtualClock) in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::Cache;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let cache: Cache<u32, u32, VirtualClock> = Cache::builder().with_clock(VirtualClock::new()).build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> CacheBuilder<K, V, C2, S> {
        CacheBuilder { config: self.config, clock, hasher: self.hasher, shards: self.shards }
    }

    /// Hashes keys with `hasher` (default: std's `RandomState`, which resists hash flooding).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    ///
    /// use asynchronously::cache::Cache;
    ///
    /// let cache = Cache::<u32, u32>::builder()
    ///     .with_hasher(BuildHasherDefault::<DefaultHasher>::default())
    ///     .build()?;
    /// assert_eq!(cache.entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn with_hasher<S2>(self, hasher: S2) -> CacheBuilder<K, V, C, S2> {
        CacheBuilder { config: self.config, clock: self.clock, hasher, shards: self.shards }
    }
}

impl<K, V, C, S> CacheBuilder<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    /// Checks the settings and builds the cache.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a zero capacity or shard count, a zero time-to-live, time-to-idle,
    /// refresh-after or error TTL, a max-stale shorter than refresh-after, or max-stale
    /// without refresh-after.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::{BuildError, Cache};
    ///
    /// assert_eq!(Cache::<u32, u32>::builder().max_capacity(0).build().err(), Some(BuildError::ZeroCapacity));
    /// ```
    pub fn build(self) -> Result<Cache<K, V, C, S>, BuildError> {
        let config = &self.config;
        if config.max_capacity == Some(0) {
            return Err(BuildError::ZeroCapacity);
        }
        if self.shards == Some(0) {
            return Err(BuildError::ZeroShards);
        }
        for (setting, duration) in [
            ("time_to_live", config.time_to_live),
            ("time_to_idle", config.time_to_idle),
            ("refresh_after", config.refresh_after),
            ("max_stale", config.max_stale),
            ("cache_errors_for", config.negative_ttl),
        ] {
            if duration == Some(Duration::ZERO) {
                return Err(BuildError::ZeroDuration { setting });
            }
        }
        match (config.refresh_after, config.max_stale) {
            (Some(refresh_after), Some(max_stale)) if max_stale < refresh_after => {
                return Err(BuildError::MaxStaleShorterThanRefresh { refresh_after, max_stale });
            }
            (None, Some(_)) => return Err(BuildError::MaxStaleWithoutRefresh),
            _ => {}
        }
        let shards = self.shards.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(16, |cores| cores.get() * 8).clamp(16, 64)
        });
        Ok(Cache::from_builder(self.config, self.clock, self.hasher, shards.next_power_of_two()))
    }
}

impl<K, V, C: Clock, S: fmt::Debug> fmt::Debug for CacheBuilder<K, V, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.config;
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &config.max_capacity)
            .field("weigher", &config.weigher.is_some())
            .field("time_to_live", &config.time_to_live)
            .field("time_to_idle", &config.time_to_idle)
            .field("expire_after", &config.expire_after.is_some())
            .field("refresh_after", &config.refresh_after)
            .field("max_stale", &config.max_stale)
            .field("cache_errors_for", &config.negative_ttl)
            .field("finish_abandoned_loads", &config.finish_abandoned)
            .field("eviction_listener", &config.listener.is_some())
            .field("shards", &self.shards)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
