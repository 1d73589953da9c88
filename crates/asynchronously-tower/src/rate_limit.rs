use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use asynchronously_ratelimit::{AcquireOwned, CheckError, RateLimiter};
use asynchronously_time::{Clock, RealClock};
use pin_project::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Limits the rate of requests with a GCRA [`RateLimiter`]: each request takes one cell.
///
/// Two ways to handle a request over the rate:
///
/// - [`waiting`](Self::waiting): `poll_ready` waits for the request's turn, fairly: the
///   waiter reserves its instant on the first poll (FIFO, no barging), and sleeps until it.
/// - [`rejecting`](Self::rejecting): the request fails at once with
///   [`RateLimitError::RateLimited`], whose `retry_after` is what an HTTP service puts in a
///   `429 Too Many Requests` with a `Retry-After` header.
///
/// The limiter is shared (`Arc`): share it between services to give them one rate. For a
/// limit per client, see [`KeyedRateLimitLayer`](crate::KeyedRateLimitLayer).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{Quota, RateLimiter};
/// use asynchronously::time::VirtualClock;
/// use asynchronously::tower::{RateLimitError, RateLimitLayer};
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// let ok = service_fn(|()| async { Ok::<u16, std::io::Error>(200) });
/// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1)?, VirtualClock::new()));
/// let mut service = RateLimitLayer::rejecting(limiter).layer(ok);
/// assert_eq!(service.ready().await?.call(()).await?, 200);
/// let error = service.ready().await?.call(()).await.unwrap_err();
/// assert!(matches!(error, RateLimitError::RateLimited { retry_after } if retry_after == Duration::from_secs(1)));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RateLimitLayer<C: Clock = RealClock> {
    limiter: Arc<RateLimiter<C>>,
    wait: bool,
}

impl<C: Clock> RateLimitLayer<C> {
    /// A layer whose `poll_ready` waits, in FIFO order, until a request conforms.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::tower::RateLimitLayer;
    ///
    /// let limiter = Arc::new(RateLimiter::new(Quota::per_second(100)?));
    /// let _layer = RateLimitLayer::waiting(limiter);
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn waiting(limiter: Arc<RateLimiter<C>>) -> Self {
        RateLimitLayer { limiter, wait: true }
    }

    /// A layer that fails requests over the rate with [`RateLimitError::RateLimited`].
    ///
    /// # Examples
    ///
    /// See [`RateLimitLayer`].
    pub fn rejecting(limiter: Arc<RateLimiter<C>>) -> Self {
        RateLimitLayer { limiter, wait: false }
    }
}

impl<C: Clock> Clone for RateLimitLayer<C> {
    fn clone(&self) -> Self {
        RateLimitLayer { limiter: Arc::clone(&self.limiter), wait: self.wait }
    }
}

impl<C: Clock> fmt::Debug for RateLimitLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("quota", &self.limiter.quota())
            .field("wait", &self.wait)
            .finish()
    }
}

impl<S, C: Clock> Layer<S> for RateLimitLayer<C> {
    type Service = RateLimit<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            limiter: Arc::clone(&self.limiter),
            wait: self.wait,
            state: Admission::Idle,
        }
    }
}

/// Why a rate-limited service did not produce a response.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::tower::RateLimitError;
///
/// let error: RateLimitError<std::io::Error> = RateLimitError::RateLimited { retry_after: Duration::from_millis(1500) };
/// // What an HTTP service answers: 429 with the delay in whole seconds, rounded up.
/// assert_eq!(error.retry_after_secs(), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError<E> {
    /// The request is over the rate and was not sent; it would conform after `retry_after`.
    /// Answer `429 Too Many Requests` with a `Retry-After` header
    /// ([`retry_after_secs`](Self::retry_after_secs)).
    #[error("rate limited: retry after {retry_after:?}")]
    RateLimited {
        /// How long until a request would conform.
        retry_after: Duration,
    },
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
}

impl<E> RateLimitError<E> {
    /// The `Retry-After` header's value: `retry_after` in whole seconds, rounded up (a header
    /// of `0` would invite an immediate retry that fails again); `None` for other errors.
    ///
    /// # Examples
    ///
    /// See [`RateLimitError`].
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            RateLimitError::RateLimited { retry_after } => {
                let secs = retry_after.as_secs();
                Some(if retry_after.subsec_nanos() > 0 { secs.saturating_add(1) } else { secs })
            }
            RateLimitError::Inner(_) => None,
        }
    }
}

/// The `retry_after` of a refused check. A one-cell request always fits the burst (a
/// quota's burst is at least one), so any other refusal means "not now" as well.
pub(crate) fn retry_after(error: CheckError) -> Duration {
    match error {
        CheckError::RateLimited { retry_after } => retry_after,
        _ => Duration::MAX,
    }
}

/// The service made by [`RateLimitLayer`].
///
/// # `poll_ready` and `call`
///
/// `poll_ready` takes the request's cell, like tower's `RateLimit`: when it conforms, it then
/// polls the inner service. Over the rate, a [`waiting`](RateLimitLayer::waiting) service
/// returns `Pending` until its reserved instant (back-pressure), and a
/// [`rejecting`](RateLimitLayer::rejecting) one returns `Ready(Ok)` without polling the inner
/// service, so that `call` answers [`RateLimitError::RateLimited`] without sending anything.
/// A cell taken by `poll_ready` is spent even if `call` never comes.
///
/// # Panics
///
/// `call` panics if `poll_ready` did not return `Ready(Ok)` first (the `Service` contract).
///
/// # Cancel safety
///
/// A wait in `poll_ready` is held by the service: dropping the service (or the future
/// polling it, such as `ServiceExt::ready`, and then the service) before its instant returns
/// the reserved cell to the waiters behind it. Dropping the [`RateLimitFuture`] drops the
/// inner future; the cell stays spent.
///
/// # Examples
///
/// See [`RateLimitLayer`].
pub struct RateLimit<S, C: Clock = RealClock> {
    inner: S,
    limiter: Arc<RateLimiter<C>>,
    wait: bool,
    state: Admission<C>,
}

/// What `poll_ready` has decided for the next call.
enum Admission<C: Clock> {
    Idle,
    Waiting(AcquireOwned<RateLimiter<C>>),
    /// The cell is taken.
    Admitted,
    Rejected(Duration),
}

impl<S: Clone, C: Clock> Clone for RateLimit<S, C> {
    /// A clone shares the limiter but not a cell or a wait of its original.
    fn clone(&self) -> Self {
        RateLimit {
            inner: self.inner.clone(),
            limiter: Arc::clone(&self.limiter),
            wait: self.wait,
            state: Admission::Idle,
        }
    }
}

impl<S: fmt::Debug, C: Clock> fmt::Debug for RateLimit<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            Admission::Idle => "idle",
            Admission::Waiting(_) => "waiting",
            Admission::Admitted => "admitted",
            Admission::Rejected(_) => "rejected",
        };
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for RateLimit<S, C>
where
    S: Service<Req>,
    C: Clock,
{
    type Response = S::Response;
    type Error = RateLimitError<S::Error>;
    type Future = RateLimitFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.state {
                Admission::Admitted => break,
                Admission::Rejected(_) => return Poll::Ready(Ok(())),
                Admission::Idle => match self.limiter.check() {
                    Ok(()) => self.state = Admission::Admitted,
                    Err(CheckError::RateLimited { .. }) if self.wait => {
                        self.state = Admission::Waiting(Arc::clone(&self.limiter).acquire_owned(1));
                    }
                    Err(error) => self.state = Admission::Rejected(retry_after(error)),
                },
                Admission::Waiting(acquire) => {
                    self.state = match ready!(Pin::new(acquire).poll(cx)) {
                        Ok(()) => Admission::Admitted,
                        // One cell never exceeds the burst; treat it as "not now" regardless.
                        Err(_) => Admission::Rejected(Duration::MAX),
                    };
                }
            }
        }
        self.inner.poll_ready(cx).map_err(RateLimitError::Inner)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match std::mem::replace(&mut self.state, Admission::Idle) {
            Admission::Admitted => RateLimitFuture::called(self.inner.call(request)),
            Admission::Rejected(retry_after) => RateLimitFuture::rejected(retry_after),
            Admission::Idle | Admission::Waiting(_) => {
                panic!("`RateLimit::call` before `poll_ready` returned `Ready(Ok)`")
            }
        }
    }
}

/// Future returned by the rate-limited services' `call`: the inner future, or the rejection.
///
/// # Cancel safety
///
/// Dropping it drops the inner future; a cell taken for the request stays spent.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct RateLimitFuture<F> {
    #[pin]
    state: RateLimitState<F>,
}

#[pin_project(project = RateLimitProj)]
enum RateLimitState<F> {
    Called(#[pin] F),
    Rejected(Duration),
}

impl<F> RateLimitFuture<F> {
    pub(crate) fn called(future: F) -> Self {
        RateLimitFuture { state: RateLimitState::Called(future) }
    }

    pub(crate) fn rejected(retry_after: Duration) -> Self {
        RateLimitFuture { state: RateLimitState::Rejected(retry_after) }
    }
}

impl<F: Future<Output = Result<R, E>>, R, E> Future for RateLimitFuture<F> {
    type Output = Result<R, RateLimitError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            RateLimitProj::Called(future) => future.poll(cx).map_err(RateLimitError::Inner),
            RateLimitProj::Rejected(retry_after) => {
                Poll::Ready(Err(RateLimitError::RateLimited { retry_after: *retry_after }))
            }
        }
    }
}

impl<F> fmt::Debug for RateLimitFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            RateLimitState::Called(_) => "called",
            RateLimitState::Rejected(_) => "rejected",
        };
        f.debug_struct("RateLimitFuture").field("state", &state).finish()
    }
}
