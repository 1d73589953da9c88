use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use asynchronously_retry::{Classify, RetryError, RetryPolicy, Verdict};
use asynchronously_time::{Clock, RealClock};
use pin_project::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Retries requests under a [`RetryPolicy`], deciding per outcome with a classifier.
///
/// The classifier sees each attempt's whole `Result<Response, Error>`, so a `503` response is
/// retried like a connection error, and a `Retry-After` it reads from the response becomes a
/// [`Verdict::RetryAfter`]. Its answers mean:
///
/// - [`Verdict::Retry`]: transient; retry after the policy's next delay.
/// - [`Verdict::RetryAfter`]`(d)`: transient; retry after `d` (clamped by the policy).
/// - [`Verdict::Fail`]: final; this outcome is the answer. A success is final the same way.
///
/// Everything else is the policy's: backoff, jitter, retry limit, attempt timeout,
/// `max_elapsed`, and a shared [`RetryBudget`](asynchronously_retry::RetryBudget) so that a
/// failing upstream is not hit by a retry storm.
///
/// Requests must be `Clone`: each retry sends a clone, as tower's own retry does. A service
/// whose request is not `Clone` does not implement [`Service`] through this layer, so the
/// mistake is a compile error, not a runtime one.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy, Verdict};
/// use asynchronously::tower::RetryLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let calls = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&calls);
/// let upstream = service_fn(move |_path: &'static str| {
///     let call = counter.fetch_add(1, Ordering::Relaxed);
///     async move { Ok::<u16, std::io::Error>(if call < 2 { 503 } else { 200 }) }
/// });
/// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(3).build()?;
/// let classify = |outcome: &Result<u16, std::io::Error>| match outcome {
///     Ok(status) if *status >= 500 => Verdict::Retry,
///     Ok(_) => Verdict::Fail, // final: this response is the answer
///     Err(_) => Verdict::Retry,
/// };
/// let service = RetryLayer::new(policy, classify).layer(upstream);
/// assert_eq!(service.oneshot("/users/7").await?, 200);
/// assert_eq!(calls.load(Ordering::Relaxed), 3, "two 503s retried");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RetryLayer<K, C: Clock = RealClock> {
    policy: RetryPolicy<C>,
    classifier: K,
}

impl<K, C: Clock> RetryLayer<K, C> {
    /// A layer retrying under `policy`, with `classifier` judging each attempt's outcome.
    ///
    /// # Examples
    ///
    /// See [`RetryLayer`].
    pub fn new(policy: RetryPolicy<C>, classifier: K) -> Self {
        RetryLayer { policy, classifier }
    }
}

impl<K: Clone, C: Clock> Clone for RetryLayer<K, C> {
    fn clone(&self) -> Self {
        RetryLayer { policy: self.policy.clone(), classifier: self.classifier.clone() }
    }
}

impl<K, C: Clock> fmt::Debug for RetryLayer<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer").finish_non_exhaustive()
    }
}

impl<S, K: Clone, C: Clock> Layer<S> for RetryLayer<K, C> {
    type Service = Retry<S, K, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry { inner, policy: self.policy.clone(), classifier: self.classifier.clone() }
    }
}

/// The service made by [`RetryLayer`].
///
/// # `poll_ready` and `call`
///
/// `poll_ready` is the inner service's. `call` sends the first attempt to the inner service
/// it readied, and keeps a clone of the request and of the service for the retries, each of
/// which waits for the clone's `poll_ready` first (back-pressure applies to retries too). An
/// error from the inner `poll_ready` is returned as [`RetryError::Permanent`] with
/// `attempts: 0`: tower treats it as a broken service, so it is not retried.
///
/// If every attempt was retried and the last one was a response (a `503`), that response is
/// returned as `Ok`, as tower's retry does: the caller sees what the upstream said last.
///
/// # Cancel safety
///
/// Dropping the [`RetryFuture`] drops the attempt in flight (and whatever it holds of the
/// inner service, such as a concurrency permit) or the backoff sleep; no further attempt
/// is made.
///
/// # Examples
///
/// See [`RetryLayer`].
pub struct Retry<S, K, C: Clock = RealClock> {
    inner: S,
    policy: RetryPolicy<C>,
    classifier: K,
}

impl<S: Clone, K: Clone, C: Clock> Clone for Retry<S, K, C> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<S: fmt::Debug, K, C: Clock> fmt::Debug for Retry<S, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// One attempt's outcome that the classifier did not accept as final.
pub(crate) struct Failed<R, E> {
    outcome: Result<R, E>,
    verdict: Verdict,
}

/// Tells the retry loop what the tower classifier decided (it ran inside the attempt).
#[derive(Clone, Copy)]
pub(crate) struct ByVerdict;

impl<R, E> Classify<Failed<R, E>> for ByVerdict {
    #[inline]
    fn classify(&mut self, failed: &Failed<R, E>) -> Verdict {
        failed.verdict
    }
}

/// The operation the retry loop calls: the first attempt, already sent, then retries.
type Operation<S, Req, K> = Box<dyn FnMut() -> Attempt<S, Req, K> + Send>;

impl<S, K, C, Req> Service<Req> for Retry<S, K, C>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    Req: Clone + Send + 'static,
    K: Fn(&Result<S::Response, S::Error>) -> Verdict + Clone + Send + 'static,
    C: Clock,
{
    type Response = S::Response;
    type Error = RetryError<S::Error>;
    type Future = RetryFuture<S, Req, K, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(|error| RetryError::Permanent {
            attempts: 0,
            elapsed: std::time::Duration::ZERO,
            error,
        })
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let retry_request = request.clone();
        let first = self.inner.call(request);
        let service = self.inner.clone();
        let classifier = self.classifier.clone();
        let mut first = Some(Attempt::called(first, classifier.clone()));
        let operation: Operation<S, Req, K> = Box::new(move || match first.take() {
            Some(first) => first,
            None => Attempt::ready(service.clone(), retry_request.clone(), classifier.clone()),
        });
        RetryFuture { retry: self.policy.retry(operation).with_classifier(ByVerdict) }
    }
}

/// The retry loop behind a [`RetryFuture`].
type Looping<S, Req, K, C> =
    asynchronously_retry::Retry<'static, Operation<S, Req, K>, Attempt<S, Req, K>, C, ByVerdict>;

/// Future returned by [`Retry`]'s `call`: resolves to the first final outcome, the last
/// retried response, or the error the policy gave up with.
///
/// # Cancel safety
///
/// Dropping it drops the attempt in flight or the backoff sleep; nothing else is called.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct RetryFuture<S, Req, K, C>
where
    S: Service<Req>,
    K: Fn(&Result<S::Response, S::Error>) -> Verdict,
    C: Clock,
{
    #[pin]
    retry: Looping<S, Req, K, C>,
}

impl<S, Req, K, C> Future for RetryFuture<S, Req, K, C>
where
    S: Service<Req> + Clone,
    Req: Clone,
    K: Fn(&Result<S::Response, S::Error>) -> Verdict,
    C: Clock,
{
    type Output = Result<S::Response, RetryError<S::Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(self.project().retry.poll(cx));
        Poll::Ready(match result {
            Ok(response) => Ok(response),
            Err(error) => finish(error),
        })
    }
}

impl<S, Req, K, C> fmt::Debug for RetryFuture<S, Req, K, C>
where
    S: Service<Req> + Clone,
    Req: Clone,
    K: Fn(&Result<S::Response, S::Error>) -> Verdict,
    C: Clock,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture").field("attempts", &self.retry.attempts()).finish()
    }
}

/// The caller's answer when the retry loop stopped on a non-final outcome: the last response
/// if it was one, else the error with the inner error in place of [`Failed`].
fn finish<R, E>(error: RetryError<Failed<R, E>>) -> Result<R, RetryError<E>> {
    /// An optional last outcome: a response is dropped (an error variant has no room for it).
    fn last<R, E>(last: Option<Failed<R, E>>) -> Option<E> {
        last.and_then(|failed| failed.outcome.err())
    }
    Err(match error {
        RetryError::Exhausted { attempts, elapsed, last } => match last.outcome {
            Ok(response) => return Ok(response),
            Err(last) => RetryError::Exhausted { attempts, elapsed, last },
        },
        RetryError::Permanent { attempts, elapsed, error } => match error.outcome {
            Ok(response) => return Ok(response),
            Err(error) => RetryError::Permanent { attempts, elapsed, error },
        },
        RetryError::TimedOut { attempts, elapsed, last: previous } => {
            RetryError::TimedOut { attempts, elapsed, last: last(previous) }
        }
        RetryError::DeadlineExceeded { attempts, elapsed, last: previous } => match previous {
            Some(Failed { outcome: Ok(response), .. }) => return Ok(response),
            previous => RetryError::DeadlineExceeded { attempts, elapsed, last: last(previous) },
        },
        RetryError::BudgetExhausted { attempts, elapsed, last: previous } => match previous {
            Some(Failed { outcome: Ok(response), .. }) => return Ok(response),
            previous => RetryError::BudgetExhausted { attempts, elapsed, last: last(previous) },
        },
        RetryError::DelayTooLong { attempts, elapsed, delay, last: previous } => match previous {
            Some(Failed { outcome: Ok(response), .. }) => return Ok(response),
            previous => RetryError::DelayTooLong { attempts, elapsed, delay, last: last(previous) },
        },
        // `RetryError` is non-exhaustive: a variant added later keeps its counts, and the
        // last error is not lost silently but reported as a permanent one.
        other => RetryError::Permanent {
            attempts: other.attempts(),
            elapsed: other.elapsed(),
            error: match other.into_last_error().map(|failed| failed.outcome) {
                Some(Err(error)) => error,
                Some(Ok(response)) => return Ok(response),
                None => unreachable_last(),
            },
        },
    })
}

#[cold]
fn unreachable_last<E>() -> E {
    panic!("a future RetryError variant without a last error; update asynchronously-tower")
}

/// One attempt: the inner service's future, classified when it completes.
#[pin_project]
pub(crate) struct Attempt<S: Service<Req>, Req, K> {
    #[pin]
    state: AttemptState<S, Req>,
    classifier: K,
}

#[pin_project(project = AttemptProj)]
enum AttemptState<S: Service<Req>, Req> {
    /// A retry: waiting for the service clone to be ready.
    Ready { service: S, request: Option<Req> },
    /// The request was sent.
    Called(#[pin] S::Future),
}

impl<S: Service<Req>, Req, K> Attempt<S, Req, K> {
    fn called(future: S::Future, classifier: K) -> Self {
        Attempt { state: AttemptState::Called(future), classifier }
    }

    fn ready(service: S, request: Req, classifier: K) -> Self {
        Attempt { state: AttemptState::Ready { service, request: Some(request) }, classifier }
    }
}

impl<S, Req, K> Future for Attempt<S, Req, K>
where
    S: Service<Req>,
    K: Fn(&Result<S::Response, S::Error>) -> Verdict,
{
    type Output = Result<S::Response, Failed<S::Response, S::Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                AttemptProj::Ready { service, request } => {
                    let outcome = match ready!(service.poll_ready(cx)) {
                        Ok(()) => {
                            let request = request.take().expect("an attempt sends once");
                            let future = service.call(request);
                            this.state.set(AttemptState::Called(future));
                            continue;
                        }
                        Err(error) => Err(error),
                    };
                    return Poll::Ready(judge(this.classifier, outcome));
                }
                AttemptProj::Called(future) => {
                    let outcome = ready!(future.poll(cx));
                    return Poll::Ready(judge(this.classifier, outcome));
                }
            }
        }
    }
}

/// A final outcome passes as it is (a final error still ends the loop, as a permanent one);
/// anything else goes to the retry loop with its verdict.
#[inline]
fn judge<R, E, K>(classifier: &K, outcome: Result<R, E>) -> Result<R, Failed<R, E>>
where
    K: Fn(&Result<R, E>) -> Verdict,
{
    let verdict = classifier(&outcome);
    match (outcome, verdict) {
        (Ok(response), Verdict::Fail) => Ok(response),
        (outcome, verdict) => Err(Failed { outcome, verdict }),
    }
}

impl<R, E> fmt::Debug for Failed<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failed").field("verdict", &self.verdict).finish_non_exhaustive()
    }
}

impl fmt::Debug for ByVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByVerdict")
    }
}

impl<S: Service<Req>, Req, K> fmt::Debug for Attempt<S, Req, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt").finish_non_exhaustive()
    }
}
