//! Why a value left the cache.

/// Why a value left the cache: passed to the
/// [eviction listener](crate::CacheBuilder::eviction_listener).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::{Arc, Mutex};
///
/// use asynchronously::cache::{Cache, RemovalCause};
///
/// let removed = Arc::new(Mutex::new(Vec::new()));
/// let log = removed.clone();
/// let cache: Cache<&str, u32> = Cache::builder()
///     .eviction_listener(move |key: &&str, _value: &u32, cause| log.lock().unwrap().push((*key, cause)))
///     .build()?;
/// cache.insert("a", 1);
/// cache.insert("a", 2);
/// cache.invalidate(&"a");
/// assert_eq!(
///     *removed.lock().unwrap(),
///     [("a", RemovalCause::Replaced), ("a", RemovalCause::Invalidated)]
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Its time-to-live, time-to-idle, per-entry expiry or max-stale bound passed.
    Expired = 0,
    /// It was the least recently used value when the cache was over capacity (or it alone
    /// weighed more than the capacity).
    Evicted = 1,
    /// An insert or a completed refresh stored a new value for its key.
    Replaced = 2,
    /// `invalidate`, `invalidate_if` or `clear` removed it.
    Invalidated = 3,
}
