use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::task::{Context, Poll};

use asynchronously_ratelimit::KeyedRateLimiter;
use asynchronously_time::{Clock, RealClock};
use tower_layer::Layer;
use tower_service::Service;

use crate::rate_limit::{RateLimitError, RateLimitFuture, retry_after};

/// Limits the rate per key (a client address, an API token, a tenant) with a
/// [`KeyedRateLimiter`], rejecting requests over their key's rate.
///
/// A function reads each request's key; the request takes one cell of that key's GCRA
/// state. Over the rate it fails at once with [`RateLimitError::RateLimited`] (answer 429
/// with `Retry-After`). It does not wait: a per-client queue would let one client's backlog
/// hold server resources, which is what a per-client limit exists to prevent. The limiter
/// bounds how many keys it tracks (`max_keys`), so many clients cannot exhaust memory.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{KeyedRateLimiter, Quota};
/// use asynchronously::time::VirtualClock;
/// use asynchronously::tower::{KeyedRateLimitLayer, RateLimitError};
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// let ok = service_fn(|_client: &'static str| async { Ok::<u16, std::io::Error>(200) });
/// let limiter = Arc::new(KeyedRateLimiter::with_clock(Quota::per_second(1)?, 1000, VirtualClock::new())?);
/// let mut service = KeyedRateLimitLayer::new(limiter, |client: &&'static str| *client).layer(ok);
/// assert_eq!(service.ready().await?.call("alice").await?, 200);
/// assert_eq!(service.ready().await?.call("bob").await?, 200, "bob has his own rate");
/// let error = service.ready().await?.call("alice").await.unwrap_err();
/// assert_eq!(error.retry_after_secs(), Some(1));
/// assert!(matches!(error, RateLimitError::RateLimited { retry_after } if retry_after == Duration::from_secs(1)));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct KeyedRateLimitLayer<K, F, C: Clock = RealClock, H = RandomState> {
    limiter: Arc<KeyedRateLimiter<K, C, H>>,
    key: F,
}

impl<K, F, C: Clock, H> KeyedRateLimitLayer<K, F, C, H> {
    /// A layer charging each request to `key(&request)` in `limiter`.
    ///
    /// # Examples
    ///
    /// See [`KeyedRateLimitLayer`].
    pub fn new(limiter: Arc<KeyedRateLimiter<K, C, H>>, key: F) -> Self {
        KeyedRateLimitLayer { limiter, key }
    }
}

impl<K, F: Clone, C: Clock, H> Clone for KeyedRateLimitLayer<K, F, C, H> {
    fn clone(&self) -> Self {
        KeyedRateLimitLayer { limiter: Arc::clone(&self.limiter), key: self.key.clone() }
    }
}

impl<K, F, C: Clock, H> fmt::Debug for KeyedRateLimitLayer<K, F, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimitLayer").finish_non_exhaustive()
    }
}

impl<S, K, F: Clone, C: Clock, H> Layer<S> for KeyedRateLimitLayer<K, F, C, H> {
    type Service = KeyedRateLimit<S, K, F, C, H>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedRateLimit { inner, limiter: Arc::clone(&self.limiter), key: self.key.clone() }
    }
}

/// The service made by [`KeyedRateLimitLayer`].
///
/// # `poll_ready` and `call`
///
/// `poll_ready` is the inner service's (the key is known only in `call`). `call` checks the
/// request's key: a conforming request is sent to the inner service, one over its rate is
/// answered with [`RateLimitError::RateLimited`] without calling the inner service (whose
/// readiness stays reserved for the next call).
///
/// # Cancel safety
///
/// Dropping the [`RateLimitFuture`] drops the inner future; the cell stays spent.
///
/// # Examples
///
/// See [`KeyedRateLimitLayer`].
pub struct KeyedRateLimit<S, K, F, C: Clock = RealClock, H = RandomState> {
    inner: S,
    limiter: Arc<KeyedRateLimiter<K, C, H>>,
    key: F,
}

impl<S: Clone, K, F: Clone, C: Clock, H> Clone for KeyedRateLimit<S, K, F, C, H> {
    fn clone(&self) -> Self {
        KeyedRateLimit {
            inner: self.inner.clone(),
            limiter: Arc::clone(&self.limiter),
            key: self.key.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F, C: Clock, H> fmt::Debug for KeyedRateLimit<S, K, F, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimit").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, K, F, C, H, Req> Service<Req> for KeyedRateLimit<S, K, F, C, H>
where
    S: Service<Req>,
    K: Hash + Eq + Clone,
    F: Fn(&Req) -> K,
    C: Clock,
    H: BuildHasher,
{
    type Response = S::Response;
    type Error = RateLimitError<S::Error>;
    type Future = RateLimitFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(RateLimitError::Inner)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.limiter.check(&(self.key)(&request)) {
            Ok(()) => RateLimitFuture::called(self.inner.call(request)),
            Err(error) => RateLimitFuture::rejected(retry_after(error)),
        }
    }
}
