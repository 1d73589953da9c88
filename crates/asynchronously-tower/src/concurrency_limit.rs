use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use asynchronously_priority_semaphore::{
    AcquireOwned, OwnedPermit, Priority, PrioritySemaphore, TryAcquireError,
};
use asynchronously_time::{Clock, RealClock};
use pin_project::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Limits how many requests run at once, serving waiting requests by priority.
///
/// Built from a shared [`PrioritySemaphore`] (one permit per request in flight) and a
/// function reading each request's [`Priority`] (from a header, a route, a tenant). When the
/// limit is reached, requests wait in the semaphore's queue: lower priority values first,
/// FIFO among equals, no barging by newcomers. Share one semaphore between several services
/// to give them one limit.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
///
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
/// use asynchronously::tower::PriorityConcurrencyLimitLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let echo = service_fn(|(_tier, body): (&'static str, u32)| async move { Ok::<_, std::io::Error>(body) });
/// let semaphore = Arc::new(PrioritySemaphore::new(10));
/// let priority = |(tier, _): &(&'static str, u32)| if *tier == "paid" { Priority::HIGH } else { Priority::LOW };
/// let service = PriorityConcurrencyLimitLayer::new(Arc::clone(&semaphore), priority).layer(echo);
/// assert_eq!(service.oneshot(("paid", 7)).await?, 7);
/// assert_eq!(semaphore.available_permits(), 10, "the permit came back with the response");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct PriorityConcurrencyLimitLayer<P, C: Clock = RealClock> {
    semaphore: Arc<PrioritySemaphore<C>>,
    priority: P,
}

impl<P, C: Clock> PriorityConcurrencyLimitLayer<P, C> {
    /// A layer taking one permit of `semaphore` per request, queueing at `priority(&request)`.
    ///
    /// # Examples
    ///
    /// See [`PriorityConcurrencyLimitLayer`].
    pub fn new(semaphore: Arc<PrioritySemaphore<C>>, priority: P) -> Self {
        PriorityConcurrencyLimitLayer { semaphore, priority }
    }
}

impl<P: Clone, C: Clock> Clone for PriorityConcurrencyLimitLayer<P, C> {
    fn clone(&self) -> Self {
        PriorityConcurrencyLimitLayer {
            semaphore: Arc::clone(&self.semaphore),
            priority: self.priority.clone(),
        }
    }
}

impl<P, C: Clock> fmt::Debug for PriorityConcurrencyLimitLayer<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityConcurrencyLimitLayer")
            .field("available_permits", &self.semaphore.available_permits())
            .finish_non_exhaustive()
    }
}

impl<S, P: Clone, C: Clock> Layer<S> for PriorityConcurrencyLimitLayer<P, C> {
    type Service = PriorityConcurrencyLimit<S, P, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PriorityConcurrencyLimit {
            inner,
            semaphore: Arc::clone(&self.semaphore),
            priority: self.priority.clone(),
            permit: None,
        }
    }
}

/// The service made by [`PriorityConcurrencyLimitLayer`].
///
/// # `poll_ready` and `call`
///
/// `poll_ready` takes a free permit when there is one and no request is queued, the way
/// tower's `ConcurrencyLimit` does, and then polls the inner service. A request's priority is
/// known only in `call`, so when no permit was free `poll_ready` does not wait: `call` queues
/// the request at its priority, and the returned future sends it to the (already readied)
/// inner service once its permit is handed over. Back-pressure is therefore the queue: each
/// caller waits in its own response future, in priority order. That is why the inner service
/// must be `Clone` (the readied service moves into the future, as with tower's `Buffer`).
///
/// The permit is released as soon as the inner future completes, or when the response future
/// is dropped. A permit taken by `poll_ready` is held by the service until `call` (or until
/// the service is dropped), as with tower's `ConcurrencyLimit`.
///
/// # Errors
///
/// [`PriorityLimitError::Closed`] once the semaphore is
/// [closed](PrioritySemaphore::close) (from `poll_ready`, or from a queued request's
/// future); [`PriorityLimitError::Inner`] for the inner service's errors.
///
/// # Cancel safety
///
/// Dropping the [`PriorityLimitFuture`] while it waits removes it from the queue; if a permit
/// had already been handed to it, the permit passes on to the next waiter. Dropping it while
/// the inner future runs drops that future and releases the permit. No permit is leaked.
///
/// # Examples
///
/// See [`PriorityConcurrencyLimitLayer`].
pub struct PriorityConcurrencyLimit<S, P, C: Clock = RealClock> {
    inner: S,
    semaphore: Arc<PrioritySemaphore<C>>,
    priority: P,
    /// Taken by `poll_ready` when one was free; moved into the next call's future.
    permit: Option<OwnedPermit<C>>,
}

impl<S: Clone, P: Clone, C: Clock> Clone for PriorityConcurrencyLimit<S, P, C> {
    /// A clone shares the semaphore but not a permit its original took in `poll_ready`.
    fn clone(&self) -> Self {
        PriorityConcurrencyLimit {
            inner: self.inner.clone(),
            semaphore: Arc::clone(&self.semaphore),
            priority: self.priority.clone(),
            permit: None,
        }
    }
}

impl<S: fmt::Debug, P, C: Clock> fmt::Debug for PriorityConcurrencyLimit<S, P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityConcurrencyLimit")
            .field("inner", &self.inner)
            .field("holds_permit", &self.permit.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a [`PriorityConcurrencyLimit`] did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityLimitError<E> {
    /// The semaphore was closed, so no permit will be handed out: the service is shutting
    /// down. Answer 503 and stop sending requests to it.
    #[error("concurrency limit closed: the semaphore no longer hands out permits")]
    Closed,
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
}

impl<S, P, C, Req> Service<Req> for PriorityConcurrencyLimit<S, P, C>
where
    S: Service<Req> + Clone,
    P: Fn(&Req) -> Priority,
    C: Clock,
{
    type Response = S::Response;
    type Error = PriorityLimitError<S::Error>;
    type Future = PriorityLimitFuture<S, Req, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            match Arc::clone(&self.semaphore).try_acquire_owned(Priority::NORMAL) {
                Ok(permit) => self.permit = Some(permit),
                Err(TryAcquireError::Closed) => {
                    return Poll::Ready(Err(PriorityLimitError::Closed));
                }
                // Busy: `call` queues the request at its own priority.
                Err(_) => {}
            }
        }
        self.inner.poll_ready(cx).map_err(PriorityLimitError::Inner)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let state = match self.permit.take() {
            Some(permit) => LimitState::Called { future: self.inner.call(request), permit },
            None => {
                let priority = (self.priority)(&request);
                let clone = self.inner.clone();
                LimitState::Waiting {
                    acquire: Arc::clone(&self.semaphore).acquire_owned(priority),
                    service: mem::replace(&mut self.inner, clone),
                    request: Some(request),
                }
            }
        };
        PriorityLimitFuture { state }
    }
}

/// Future returned by [`PriorityConcurrencyLimit`]'s `call`: waits for a permit at the
/// request's priority (unless `poll_ready` had one), then runs the inner future holding it.
///
/// # Cancel safety
///
/// Dropping it while it waits leaves the queue (a permit already handed to it passes on);
/// dropping it later drops the inner future and releases the permit.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct PriorityLimitFuture<S: Service<Req>, Req, C: Clock = RealClock> {
    #[pin]
    state: LimitState<S, Req, C>,
}

#[pin_project(project = LimitProj)]
enum LimitState<S: Service<Req>, Req, C: Clock> {
    Waiting {
        acquire: AcquireOwned<C>,
        service: S,
        request: Option<Req>,
    },
    Called {
        #[pin]
        future: S::Future,
        permit: OwnedPermit<C>,
    },
    Done,
}

impl<S: Service<Req>, Req, C: Clock> Future for PriorityLimitFuture<S, Req, C> {
    type Output = Result<S::Response, PriorityLimitError<S::Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                LimitProj::Waiting { acquire, service, request } => {
                    let Ok(permit) = ready!(Pin::new(acquire).poll(cx)) else {
                        // Closed (a single permit is never too large for a semaphore that
                        // handed one out before; a zero-permit semaphore is closed or waits).
                        state.set(LimitState::Done);
                        return Poll::Ready(Err(PriorityLimitError::Closed));
                    };
                    let request = request.take().expect("the request is sent once");
                    let future = service.call(request);
                    state.set(LimitState::Called { future, permit });
                }
                LimitProj::Called { future, .. } => {
                    let output = ready!(future.poll(cx));
                    // Release the permit now, not when the caller drops the future.
                    state.set(LimitState::Done);
                    return Poll::Ready(output.map_err(PriorityLimitError::Inner));
                }
                LimitProj::Done => panic!("`PriorityLimitFuture` polled after it completed"),
            }
        }
    }
}

impl<S: Service<Req>, Req, C: Clock> fmt::Debug for PriorityLimitFuture<S, Req, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            LimitState::Waiting { .. } => "waiting",
            LimitState::Called { .. } => "called",
            LimitState::Done => "done",
        };
        f.debug_struct("PriorityLimitFuture").field("state", &state).finish()
    }
}
