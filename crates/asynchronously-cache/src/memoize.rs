//! `Memoize`: an async function whose results are cached per argument.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use asynchronously_time::{Clock, RealClock};

use crate::{Cache, ComputeError};

type KeyFn<A, K> = Arc<dyn Fn(&A) -> K + Send + Sync>;

/// An async function memoized in a [`Cache`]: concurrent calls with equal keys share one
/// call of the function, and later calls get the stored result.
///
/// The key is the argument itself ([`Memoize::new`]) or derived from it by a key function
/// ([`Memoize::with_key`], the seed's `cache_transform`): for example, to ignore a field
/// that does not change the result, or to normalise case.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use asynchronously::cache::{Cache, Memoize};
///
/// let calls = Arc::new(AtomicU32::new(0));
/// let counter = calls.clone();
/// let square = Memoize::new(Cache::builder().max_capacity(100).build()?, move |n: u64| {
///     counter.fetch_add(1, Ordering::Relaxed);
///     async move { n * n }
/// });
/// assert_eq!(square.call(12).await?, 144);
/// assert_eq!(square.call(12).await?, 144);
/// assert_eq!(calls.load(Ordering::Relaxed), 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Memoize<A, K, V, F, C: Clock = RealClock, S = RandomState> {
    cache: Cache<K, V, C, S>,
    function: Arc<F>,
    key: KeyFn<A, K>,
}

impl<A, V, F, C, S> Memoize<A, A, V, F, C, S>
where
    A: Clone + 'static,
    C: Clock,
{
    /// Memoizes `function` in `cache`, keyed by its argument.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::{Cache, Memoize};
    ///
    /// let length = Memoize::new(Cache::builder().build()?, |text: String| async move { text.len() });
    /// assert_eq!(length.call("four".to_owned()).await?, 4);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn new(cache: Cache<A, V, C, S>, function: F) -> Self {
        Memoize { cache, function: Arc::new(function), key: Arc::new(A::clone) }
    }
}

impl<A, K, V, F, C: Clock, S> Memoize<A, K, V, F, C, S> {
    /// Memoizes `function` in `cache`, keyed by `key(&argument)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::{Cache, Memoize};
    ///
    /// let lookup = Memoize::with_key(
    ///     Cache::builder().build()?,
    ///     |name: &String| name.to_lowercase(),
    ///     |name: String| async move { format!("profile of {}", name.to_lowercase()) },
    /// );
    /// assert_eq!(lookup.call("Ada".to_owned()).await?, "profile of ada");
    /// assert_eq!(lookup.call("ADA".to_owned()).await?, "profile of ada");
    /// assert_eq!(lookup.cache().stats().loads, 1, "both spellings share one key");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_key(
        cache: Cache<K, V, C, S>,
        key: impl Fn(&A) -> K + Send + Sync + 'static,
        function: F,
    ) -> Self {
        Memoize { cache, function: Arc::new(function), key: Arc::new(key) }
    }

    /// The cache the results are stored in (to invalidate, inspect stats, …).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::cache::{Cache, Memoize};
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// let double = Memoize::new(cache, |n: u32| async move { n * 2 });
    /// assert_eq!(double.cache().entry_count(), 0);
    /// # Ok::<_, asynchronously::cache::BuildError>(())
    /// ```
    pub fn cache(&self) -> &Cache<K, V, C, S> {
        &self.cache
    }
}

impl<A, K, V, F, Fut, C, S> Memoize<A, K, V, F, C, S>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = V> + Send + 'static,
    C: Clock,
    S: BuildHasher,
{
    /// Returns the cached result for `argument`'s key, or calls the function once for all
    /// concurrent callers of that key.
    ///
    /// # Errors
    ///
    /// As [`Cache::get_or_compute`]: [`ComputeError::Panicked`] if the function panicked,
    /// [`ComputeError::Recursive`] if it awaited its own key.
    ///
    /// # Cancel safety
    ///
    /// As [`Cache::get_or_compute`]: dropping a call never cancels the shared computation
    /// while other callers wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::{Cache, Memoize};
    ///
    /// let double = Memoize::new(Cache::builder().build()?, |n: u32| async move { n * 2 });
    /// assert_eq!(double.call(21).await?, 42);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn call(&self, argument: A) -> Result<V, ComputeError> {
        let key = (self.key)(&argument);
        let function = Arc::clone(&self.function);
        self.cache.get_or_compute(key, move || function(argument)).await
    }
}

impl<A, K, V, F, C: Clock, S> Clone for Memoize<A, K, V, F, C, S> {
    fn clone(&self) -> Self {
        Memoize {
            cache: self.cache.clone(),
            function: Arc::clone(&self.function),
            key: Arc::clone(&self.key),
        }
    }
}

impl<A, K, V, F, C: Clock, S> fmt::Debug for Memoize<A, K, V, F, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoize").field("cache", &self.cache).finish_non_exhaustive()
    }
}
