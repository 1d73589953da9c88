use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::error::{BuildError, CheckError};
use crate::queue::{lock, nanos_since};
use crate::quota::Quota;
use crate::rate_limiter::burst_of;

/// The most shards a keyed limiter splits its keys over.
const MAX_SHARDS: usize = 16;

/// One GCRA state per key, with memory bounded at `max_keys` and no background task.
///
/// Each key gets its own limit (`quota` per key: per user, per IP, per API token). A key
/// whose state is *idle* (its burst fully replenished) is indistinguishable from a key never
/// seen, so it can be forgotten at no cost: when a new key arrives and the bound is reached,
/// the idle keys are evicted right there, on access. If none is idle, the key closest to idle
/// is evicted, so memory stays bounded even under a flood of distinct keys (that key forgets
/// its remaining debt: the bound wins over exactness, and only for keys the flood displaced).
///
/// Keys are hashed once with `S` (a [`BuildHasher`], [`RandomState`] by default, like
/// `HashMap`'s) and spread over up to 16 shards, each behind its own lock and holding its
/// share of `max_keys`; eviction may therefore start a little before `max_keys` keys are live.
/// Checks never wait; this limiter has no `acquire`.
///
/// # Examples
///
/// ```
/// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
///
/// let limiter = KeyedRateLimiter::new(Quota::per_second(1)?, 10_000)?;
/// assert!(limiter.check(&"alice").is_ok());
/// assert!(limiter.check(&"alice").is_err(), "alice spent her cell");
/// assert!(limiter.check(&"bob").is_ok(), "bob has his own");
/// assert_eq!(limiter.len(), 2);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct KeyedRateLimiter<K, C: Clock = RealClock, S = RandomState> {
    interval: u64,
    tolerance: u64,
    max_keys: usize,
    origin: Instant,
    clock: C,
    hasher: S,
    shards: Box<[Mutex<Shard<K>>]>,
}

struct Shard<K> {
    capacity: usize,
    /// Keyed by the key's full hash, so a lookup hashes the key once.
    slots: HashMap<u64, Slot<K>, BuildHasherDefault<Prehashed>>,
    /// Keys whose hash collides with a key in `slots` (vanishingly rare).
    overflow: Vec<Slot<K>>,
}

struct Slot<K> {
    key: K,
    /// Theoretical arrival time, in nanoseconds since the origin.
    tat: u64,
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K> {
    /// A limiter giving each key `quota`, tracking at most `max_keys` keys, on the real clock.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxKeys`] if `max_keys` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// let limiter = KeyedRateLimiter::<String>::new(Quota::per_minute(60)?, 1000)?;
    /// assert_eq!(limiter.max_keys(), 1000);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(quota: Quota, max_keys: usize) -> Result<KeyedRateLimiter<K>, BuildError> {
        KeyedRateLimiter::with_clock_and_hasher(quota, max_keys, RealClock, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedRateLimiter<K, C> {
    /// A limiter giving each key `quota`, tracking at most `max_keys` keys, on `clock`.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxKeys`] if `max_keys` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let limiter = KeyedRateLimiter::<u64, _>::with_clock(Quota::per_second(1)?, 100, VirtualClock::new())?;
    /// assert!(limiter.is_empty());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(
        quota: Quota,
        max_keys: usize,
        clock: C,
    ) -> Result<KeyedRateLimiter<K, C>, BuildError> {
        KeyedRateLimiter::with_clock_and_hasher(quota, max_keys, clock, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, C: Clock, S: BuildHasher> KeyedRateLimiter<K, C, S> {
    /// A limiter giving each key `quota`, tracking at most `max_keys` keys, on `clock`, hashing
    /// keys with `hasher`.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxKeys`] if `max_keys` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::RandomState;
    ///
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    /// use asynchronously::time::RealClock;
    ///
    /// let limiter = KeyedRateLimiter::<u32, _, _>::with_clock_and_hasher(
    ///     Quota::per_second(5)?,
    ///     64,
    ///     RealClock,
    ///     RandomState::new(),
    /// )?;
    /// assert!(limiter.check(&7).is_ok());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock_and_hasher(
        quota: Quota,
        max_keys: usize,
        clock: C,
        hasher: S,
    ) -> Result<KeyedRateLimiter<K, C, S>, BuildError> {
        if max_keys == 0 {
            return Err(BuildError::ZeroMaxKeys);
        }
        // A power of two no larger than `max_keys`, so every shard has room for a key.
        let shard_count = 1 << max_keys.min(MAX_SHARDS).ilog2();
        let shards = (0..shard_count)
            .map(|index| {
                let capacity = max_keys / shard_count + usize::from(index < max_keys % shard_count);
                Mutex::new(Shard { capacity, slots: HashMap::default(), overflow: Vec::new() })
            })
            .collect();
        Ok(KeyedRateLimiter {
            interval: quota.interval_nanos(),
            tolerance: quota.tolerance_nanos(),
            max_keys,
            origin: clock.now(),
            clock,
            hasher,
            shards,
        })
    }

    /// Takes one of `key`'s cells if it conforms now; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::RateLimited`] with the time until `key` would have a cell.
    ///
    /// # Panics
    ///
    /// Panics if `K`'s `Hash`, `Eq` or `Clone` panics; the limiter stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// let limiter = KeyedRateLimiter::new(Quota::per_hour(2)?, 100)?;
    /// assert!(limiter.check(&[127, 0, 0, 1]).is_ok());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn check(&self, key: &K) -> Result<(), CheckError> {
        self.take(key, self.interval)
    }

    /// Takes `n` of `key`'s cells at once if they conform now; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::InsufficientCapacity`] if `n` exceeds the burst, and
    /// [`CheckError::RateLimited`] if the cells do not conform yet.
    ///
    /// # Panics
    ///
    /// Panics if `K`'s `Hash`, `Eq` or `Clone` panics; the limiter stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CheckError, KeyedRateLimiter, Quota};
    ///
    /// let limiter = KeyedRateLimiter::new(Quota::per_second(3)?, 100)?;
    /// assert!(limiter.check_n(&1, 3).is_ok());
    /// assert!(matches!(limiter.check_n(&1, 4), Err(CheckError::InsufficientCapacity { .. })));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_n(&self, key: &K, n: u32) -> Result<(), CheckError> {
        match self.interval.checked_mul(u64::from(n)) {
            Some(increment) if increment <= self.tolerance => self.take(key, increment),
            _ => Err(CheckError::InsufficientCapacity {
                requested: n,
                burst: burst_of(self.interval, self.tolerance),
            }),
        }
    }

    /// How many keys are tracked now (never more than [`max_keys`](Self::max_keys)).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// let limiter = KeyedRateLimiter::new(Quota::per_second(1)?, 2)?;
    /// for key in 0..10 {
    ///     limiter.check(&key)?;
    /// }
    /// assert_eq!(limiter.len(), 2);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Whether no key is tracked.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// assert!(KeyedRateLimiter::<u8>::new(Quota::per_second(1)?, 1)?.is_empty());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound on tracked keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// assert_eq!(KeyedRateLimiter::<u8>::new(Quota::per_second(1)?, 5)?.max_keys(), 5);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The quota each key gets.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    ///
    /// let quota = Quota::per_second(9)?;
    /// assert_eq!(KeyedRateLimiter::<u8>::new(quota, 5)?.quota(), quota);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn quota(&self) -> Quota {
        Quota::from_parts(self.interval, burst_of(self.interval, self.tolerance))
    }

    /// Forgets every key whose burst has fully replenished (they behave exactly like keys
    /// never seen). Checks do this on their own when the bound is reached; call it to shrink
    /// memory after a burst of traffic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let limiter = KeyedRateLimiter::with_clock(Quota::per_second(1)?, 100, clock.clone())?;
    /// limiter.check(&"a")?;
    /// clock.advance(Duration::from_secs(1));
    /// limiter.evict_idle();
    /// assert!(limiter.is_empty());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn evict_idle(&self) {
        let now = self.now();
        for shard in &*self.shards {
            lock(shard).evict_idle(now);
        }
    }

    fn now(&self) -> u64 {
        nanos_since(self.origin, self.clock.now())
    }

    #[inline]
    fn take(&self, key: &K, increment: u64) -> Result<(), CheckError> {
        let hash = self.hasher.hash_one(key);
        // Bits the shard maps do not use for bucket selection (low bits) or tags (top bits).
        let index = (hash >> 40) as usize & (self.shards.len() - 1);
        let now = self.now();
        let mut shard = lock(&self.shards[index]);
        let tolerance = self.tolerance;
        let step = |tat: &mut u64| {
            let next = (*tat).max(now) + increment;
            if next > now + tolerance {
                return Err(CheckError::RateLimited {
                    retry_after: Duration::from_nanos(next - now - tolerance),
                });
            }
            *tat = next;
            Ok(())
        };
        if let Some(slot) = shard.slots.get_mut(&hash) {
            if slot.key == *key {
                return step(&mut slot.tat);
            }
        }
        if let Some(slot) = shard.overflow.iter_mut().find(|slot| slot.key == *key) {
            return step(&mut slot.tat);
        }
        // A new key: its state is a full burst, so the cells conform.
        if shard.len() >= shard.capacity {
            shard.make_room(now);
        }
        let slot = Slot { key: key.clone(), tat: now + increment };
        match shard.slots.entry(hash) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => shard.overflow.push(slot),
        }
        Ok(())
    }
}

impl<K> Shard<K> {
    fn len(&self) -> usize {
        self.slots.len() + self.overflow.len()
    }

    fn evict_idle(&mut self, now: u64) {
        self.slots.retain(|_, slot| slot.tat > now);
        self.overflow.retain(|slot| slot.tat > now);
    }

    /// Frees at least one place: every idle key, or else the key closest to idle.
    fn make_room(&mut self, now: u64) {
        self.evict_idle(now);
        if self.len() < self.capacity {
            return;
        }
        if let Some(index) = (0..self.overflow.len()).min_by_key(|&index| self.overflow[index].tat)
        {
            self.overflow.swap_remove(index);
            return;
        }
        if let Some(hash) =
            self.slots.iter().min_by_key(|(_, slot)| slot.tat).map(|(hash, _)| *hash)
        {
            self.slots.remove(&hash);
        }
    }
}

impl<K, C: Clock, S> fmt::Debug for KeyedRateLimiter<K, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KeyedRateLimiter<String>>();
};
