use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use asynchronously_cache::ComputeError;
use asynchronously_time::{Clock, RealClock};
use tower_layer::Layer;
use tower_service::Service;

/// Answers requests from a [`Cache`](asynchronously_cache::Cache) of responses, keyed by a function
/// of the request; a miss calls the inner service once for all concurrent requests of the
/// same key (single flight).
///
/// Everything else is the cache's: TTL, time-to-idle, capacity and LRU eviction,
/// stale-while-revalidate, stats. Errors are shared with the requests that waited for the
/// same call and are not stored (unless the cache was built with `cache_errors_for`), so the
/// next request calls the inner service again. Only `Ok` responses are stored: have the inner
/// service return `Err` for what must not be cached (a 5xx).
///
/// Responses must be `Clone` (each hit hands out a clone): cache a body type such as `Bytes`
/// or `String` inside the service, below the conversion to an HTTP response.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use asynchronously::cache::Cache;
/// use asynchronously::tower::CacheLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// let calls = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&calls);
/// let lookup = service_fn(move |id: u32| {
///     counter.fetch_add(1, Ordering::Relaxed);
///     async move { Ok::<_, std::io::Error>(format!("user {id}")) }
/// });
/// let cache: Cache<u32, String> = Cache::builder().max_capacity(10_000).build()?;
/// let mut service = CacheLayer::new(cache.clone(), |id: &u32| *id).layer(lookup);
/// for _ in 0..3 {
///     assert_eq!(service.ready().await?.call(7).await?, "user 7");
/// }
/// assert_eq!(calls.load(Ordering::Relaxed), 1, "one call, two hits");
/// assert_eq!(cache.stats().hits, 2);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct CacheLayer<K, V, F, C: Clock = RealClock, H = RandomState> {
    cache: asynchronously_cache::Cache<K, V, C, H>,
    key: F,
}

impl<K, V, F, C: Clock, H> CacheLayer<K, V, F, C, H> {
    /// A layer answering from `cache`, keyed by `key(&request)`.
    ///
    /// # Examples
    ///
    /// See [`CacheLayer`].
    pub fn new(cache: asynchronously_cache::Cache<K, V, C, H>, key: F) -> Self {
        CacheLayer { cache, key }
    }
}

impl<K, V, F: Clone, C: Clock, H> Clone for CacheLayer<K, V, F, C, H> {
    fn clone(&self) -> Self {
        CacheLayer { cache: self.cache.clone(), key: self.key.clone() }
    }
}

impl<K, V, F, C: Clock, H> fmt::Debug for CacheLayer<K, V, F, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLayer").field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl<S, K, V, F: Clone, C: Clock, H> Layer<S> for CacheLayer<K, V, F, C, H> {
    type Service = Cache<S, K, V, F, C, H>;

    fn layer(&self, inner: S) -> Self::Service {
        Cache { inner, cache: self.cache.clone(), key: self.key.clone() }
    }
}

/// The service made by [`CacheLayer`].
///
/// # `poll_ready` and `call`
///
/// `poll_ready` is the inner service's. `call` moves the readied inner service into the
/// response future (the service must be `Clone`, as for tower's `Buffer`): on a miss it is
/// called with the request, on a hit (or when another request's call is shared) it is dropped
/// unused, releasing whatever its readiness held.
///
/// # Errors
///
/// The cache's [`ComputeError`]: [`ComputeError::Failed`] holds the inner service's error
/// (shared by every request that waited for that call), [`ComputeError::Panicked`] a panic
/// of the inner future, caught so the key is not poisoned.
///
/// # Cancel safety
///
/// Dropping the [`CacheFuture`] never cancels a shared call: a request that waits for
/// another's call simply stops waiting, and a call whose requests are all gone is dropped
/// with the last of them (or, with the cache's `finish_abandoned_loads`, kept for a
/// `CacheWorker` or the next request to finish). Nothing is stored from a dropped call.
///
/// # Examples
///
/// See [`CacheLayer`].
pub struct Cache<S, K, V, F, C: Clock = RealClock, H = RandomState> {
    inner: S,
    cache: asynchronously_cache::Cache<K, V, C, H>,
    key: F,
}

impl<S: Clone, K, V, F: Clone, C: Clock, H> Clone for Cache<S, K, V, F, C, H> {
    fn clone(&self) -> Self {
        Cache { inner: self.inner.clone(), cache: self.cache.clone(), key: self.key.clone() }
    }
}

impl<S: fmt::Debug, K, V, F, C: Clock, H> fmt::Debug for Cache<S, K, V, F, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("inner", &self.inner)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<S, K, V, F, C, H, Req> Service<Req> for Cache<S, K, V, F, C, H>
where
    S: Service<Req, Response = V> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + Sync + 'static,
    Req: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(&Req) -> K,
    C: Clock + Send + Sync + 'static,
    H: BuildHasher + Send + Sync + 'static,
{
    type Response = V;
    type Error = ComputeError<S::Error>;
    type Future = CacheFuture<V, S::Error>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(|error| ComputeError::Failed(error.into()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = (self.key)(&request);
        let clone = self.inner.clone();
        let mut service = mem::replace(&mut self.inner, clone);
        let cache = self.cache.clone();
        CacheFuture {
            future: Box::pin(async move {
                cache.try_get_or_compute(key, move || service.call(request)).await
            }),
        }
    }
}

/// A boxed response future: the cache's `TryGetOrCompute` borrows the cache, so it is
/// wrapped in an owning `async` block.
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Future returned by [`Cache`]'s `call`: the cached response, or the shared outcome of the
/// one inner call for its key.
///
/// # Cancel safety
///
/// Dropping it stops this request's wait; a call other requests wait for goes on.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CacheFuture<V, E> {
    future: Boxed<Result<V, ComputeError<E>>>,
}

impl<V, E> Future for CacheFuture<V, E> {
    type Output = Result<V, ComputeError<E>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<V, E> fmt::Debug for CacheFuture<V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheFuture").finish_non_exhaustive()
    }
}
