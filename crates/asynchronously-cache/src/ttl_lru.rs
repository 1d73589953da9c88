//! `TtlLru`: an [`Lru`] whose entries also expire a fixed time after they were inserted.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::{BuildError, Lru};

/// A synchronous LRU map whose entries expire `ttl` after insertion (the seed `TTLLRU`).
///
/// Expired entries are never returned; they are removed when looked up or when
/// [`remove_expired`](TtlLru::remove_expired) runs, and count toward
/// [`len`](TtlLru::len) until then. Time comes from a [`Clock`], so tests use virtual time.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
///
/// use asynchronously::cache::TtlLru;
/// use asynchronously::time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let mut map = TtlLru::with_clock(NonZeroUsize::new(10).unwrap(), Duration::from_secs(1), clock.clone())?;
/// map.insert("a", 1);
/// assert_eq!(map.get(&"a"), Some(&1));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(map.get(&"a"), None);
/// # Ok::<_, asynchronously::cache::BuildError>(())
/// ```
pub struct TtlLru<K, V, C: Clock = RealClock> {
    entries: Lru<K, (V, Option<Instant>)>,
    ttl: Duration,
    clock: C,
}

impl<K: Hash + Eq + Clone, V> TtlLru<K, V> {
    /// An empty map of at most `capacity` entries, each living `ttl` on the real clock.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroDuration`] if `ttl` is zero. [`Duration::MAX`] means never.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let map: TtlLru<u32, u32> = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// assert!(map.is_empty());
    /// assert!(TtlLru::<u32, u32>::new(NonZeroUsize::MIN, Duration::ZERO).is_err());
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Result<Self, BuildError> {
        TtlLru::with_clock(capacity, ttl, RealClock)
    }
}

impl<K: Hash + Eq + Clone, V, C: Clock> TtlLru<K, V, C> {
    /// Like [`TtlLru::new`], measuring time on `clock`.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroDuration`] if `ttl` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let map: TtlLru<u32, u32, VirtualClock> =
    ///     TtlLru::with_clock(NonZeroUsize::MIN, Duration::from_secs(1), VirtualClock::new())?;
    /// assert!(map.is_empty());
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn with_clock(capacity: NonZeroUsize, ttl: Duration, clock: C) -> Result<Self, BuildError> {
        if ttl.is_zero() {
            return Err(BuildError::ZeroDuration { setting: "ttl" });
        }
        Ok(TtlLru { entries: Lru::new(capacity), ttl, clock })
    }

    /// Returns the value of `key` unless it expired, and marks it as the most recently used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let mut map = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// map.insert(1, "one");
    /// assert_eq!(map.get(&1), Some(&"one"));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.clock.now();
        let (_, deadline) = self.entries.peek(key)?;
        if deadline.is_some_and(|deadline| now >= deadline) {
            self.entries.remove(key);
            return None;
        }
        self.entries.get(key).map(|(value, _)| value)
    }

    /// Stores `value` for `ttl` from now, as the most recently used entry; returns the entry
    /// evicted to make room (or replaced), expired or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let mut map = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// map.insert(1, "one");
    /// assert_eq!(map.insert(2, "two"), Some((1, "one")));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let deadline = self.clock.deadline_after(self.ttl);
        self.entries.insert(key, (value, deadline)).map(|(key, (value, _))| (key, value))
    }

    /// Removes `key`; returns its value if it had not expired.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let mut map = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// map.insert(1, "one");
    /// assert_eq!(map.remove(&1), Some("one"));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.clock.now();
        let (value, deadline) = self.entries.remove(key)?;
        deadline.is_none_or(|deadline| now < deadline).then_some(value)
    }

    /// Removes every expired entry; returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let mut map = TtlLru::with_clock(NonZeroUsize::new(4).unwrap(), Duration::from_secs(1), clock.clone())?;
    /// map.insert(1, 1);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!((map.len(), map.remove_expired(), map.len()), (1, 1, 0));
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn remove_expired(&mut self) -> usize
    where
        K: Clone,
    {
        let now = self.clock.now();
        let expired: Vec<K> = self
            .entries
            .expired_keys(|(_, deadline)| deadline.is_some_and(|deadline| now >= deadline));
        for key in &expired {
            self.entries.remove(key);
        }
        expired.len()
    }

    /// The number of entries, expired ones not yet removed included.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let mut map = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// map.insert(1, 1);
    /// assert_eq!(map.len(), 1);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let map: TtlLru<u32, u32> = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// assert!(map.is_empty());
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::TtlLru;
    ///
    /// let mut map = TtlLru::new(NonZeroUsize::MIN, Duration::from_secs(60))?;
    /// map.insert(1, 1);
    /// map.clear();
    /// assert!(map.is_empty());
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<K, V, C: Clock> fmt::Debug for TtlLru<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlLru")
            .field("entries", &self.entries)
            .field("ttl", &self.ttl)
            .field("clock", &self.clock)
            .finish()
    }
}
