//! `Lru`: a plain synchronous map bounded by entry count, evicting the least recently used.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;

/// A synchronous map of at most `capacity` entries; inserting into a full map evicts the
/// least recently *used* entry (a [`get`](Lru::get) counts as a use; [`peek`](Lru::peek)
/// does not). The seed `LRU` evicted by insertion order; this one does not.
///
/// Operations are `O(log n)`. For concurrent or async use, see [`Cache`](crate::Cache).
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
///
/// use asynchronously::cache::Lru;
///
/// let mut lru = Lru::new(NonZeroUsize::new(2).unwrap());
/// lru.insert(1, "one");
/// lru.insert(2, "two");
/// lru.get(&1); // 1 is now the most recently used
/// assert_eq!(lru.insert(3, "three"), Some((2, "two")));
/// assert_eq!(lru.get(&1), Some(&"one"));
/// ```
pub struct Lru<K, V> {
    capacity: NonZeroUsize,
    entries: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    tick: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty map holding at most `capacity` entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let lru: Lru<u32, u32> = Lru::new(NonZeroUsize::MIN);
    /// assert!(lru.is_empty());
    /// ```
    pub fn new(capacity: NonZeroUsize) -> Self {
        Lru { capacity, entries: HashMap::new(), order: BTreeMap::new(), tick: 0 }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Returns the value of `key` and marks it as the most recently used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::MIN);
    /// lru.insert("a", 1);
    /// assert_eq!(lru.get("a"), Some(&1));
    /// ```
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let tick = self.next_tick();
        let (stored_key, (_, stamp)) = self.entries.get_key_value(key)?;
        let old = *stamp;
        let stored_key = stored_key.clone();
        self.order.remove(&old);
        self.order.insert(tick, stored_key);
        let (value, stamp) = self.entries.get_mut(key)?;
        *stamp = tick;
        Some(value)
    }

    /// Returns the value of `key` without marking it as used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::new(2).unwrap());
    /// lru.insert(1, 1);
    /// lru.insert(2, 2);
    /// lru.peek(&1);
    /// assert_eq!(lru.insert(3, 3), Some((1, 1)), "peek did not save 1");
    /// ```
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).map(|(value, _)| value)
    }

    /// Stores `value` as the most recently used entry; returns the entry evicted to make
    /// room, or the old entry of `key` if it was replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::MIN);
    /// assert_eq!(lru.insert(1, "a"), None);
    /// assert_eq!(lru.insert(1, "b"), Some((1, "a")));
    /// assert_eq!(lru.insert(2, "c"), Some((1, "b")));
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let tick = self.next_tick();
        if let Some((old, stamp)) = self.entries.remove(&key) {
            self.order.remove(&stamp);
            self.order.insert(tick, key.clone());
            self.entries.insert(key.clone(), (value, tick));
            return Some((key, old));
        }
        let evicted = if self.entries.len() >= self.capacity.get() {
            self.order.pop_first().and_then(|(_, oldest)| {
                self.entries.remove(&oldest).map(|(value, _)| (oldest, value))
            })
        } else {
            None
        };
        self.order.insert(tick, key.clone());
        self.entries.insert(key, (value, tick));
        evicted
    }

    /// Removes `key`; returns its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::MIN);
    /// lru.insert(1, 1);
    /// assert_eq!(lru.remove(&1), Some(1));
    /// assert!(lru.is_empty());
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (value, stamp) = self.entries.remove(key)?;
        self.order.remove(&stamp);
        Some(value)
    }

    /// Whether `key` is stored (not a use).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::MIN);
    /// lru.insert(1, 1);
    /// assert!(lru.contains_key(&1));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains_key(key)
    }

    /// The number of entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::new(5).unwrap());
    /// lru.insert(1, 1);
    /// assert_eq!(lru.len(), 1);
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
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// assert!(Lru::<u32, u32>::new(NonZeroUsize::MIN).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The maximum number of entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// assert_eq!(Lru::<u32, u32>::new(NonZeroUsize::MIN).capacity().get(), 1);
    /// ```
    pub fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    /// The keys whose values match `expired`, for `TtlLru`.
    pub(crate) fn expired_keys(&self, mut expired: impl FnMut(&V) -> bool) -> Vec<K> {
        self.entries
            .iter()
            .filter(|(_, (value, _))| expired(value))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Removes every entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::cache::Lru;
    ///
    /// let mut lru = Lru::new(NonZeroUsize::MIN);
    /// lru.insert(1, 1);
    /// lru.clear();
    /// assert!(lru.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

impl<K, V> fmt::Debug for Lru<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lru")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
