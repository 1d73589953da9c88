use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};
use asynchronously_waterfall::{
    BatchFn, BatchOutput, BuildError, SubmitError, Waterfall, WaterfallWorker,
};
use pin_project::pin_project;
use tower_service::Service;

/// Turns a service of `Vec<Request>` (a bulk insert, a multi-get) into a service of
/// `Request`, batching concurrent requests with a [`Waterfall`].
///
/// A batch is sent when it holds `max_items` requests, or `max_wait` after its first request
/// arrived, whichever comes first; the inner service answers with one response per request,
/// in order, and each caller gets its own. Like tower's `Buffer::pair`, [`pair`](Self::pair)
/// returns the service and a [`BatchWorker`]: nothing runs until you spawn the worker on your
/// runtime (this crate never spawns). That is also why this is not a [`Layer`](tower_layer::Layer):
/// a layer could only hand the worker to a spawner of your choosing.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::tower::BatchLayer;
/// use tower::{ServiceExt, service_fn};
///
/// // A bulk insert: one row id per row, in order.
/// let bulk_insert = service_fn(|rows: Vec<&'static str>| async move {
///     Ok::<_, std::io::Error>((0..rows.len()).collect::<Vec<usize>>())
/// });
/// let (service, worker) = BatchLayer::new(2, Duration::from_secs(1)).pair(bulk_insert)?;
/// let (a, b) = (service.clone().oneshot("a"), service.oneshot("b"));
/// // The worker ends once every `Batch` clone is gone and the last batch is answered.
/// let (a, b, ()) = futures::join!(a, b, worker);
/// assert_eq!((a?, b?), (0, 1), "one batch of two");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct BatchLayer<C: Clock = RealClock> {
    max_items: usize,
    max_wait: Duration,
    max_in_flight: usize,
    queue_capacity: Option<usize>,
    clock: C,
}

impl BatchLayer {
    /// Batches of at most `max_items`, each sent at most `max_wait` after its first request.
    /// Zero for either is rejected by [`pair`](Self::pair).
    ///
    /// # Examples
    ///
    /// See [`BatchLayer`].
    pub fn new(max_items: usize, max_wait: Duration) -> Self {
        BatchLayer { max_items, max_wait, max_in_flight: 1, queue_capacity: None, clock: RealClock }
    }
}

impl<C: Clock> BatchLayer<C> {
    /// How many batches may be in the inner service at once (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::tower::BatchLayer;
    ///
    /// let _layer = BatchLayer::new(100, Duration::from_millis(2)).max_in_flight(4);
    /// ```
    #[must_use = "a builder method returns the changed layer"]
    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// How many requests may wait for a batch (default `2 × max_items`); beyond it, response
    /// futures wait for room (back-pressure).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::tower::BatchLayer;
    ///
    /// let _layer = BatchLayer::new(100, Duration::from_millis(2)).queue_capacity(1000);
    /// ```
    #[must_use = "a builder method returns the changed layer"]
    pub fn queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = Some(queue_capacity);
        self
    }

    /// Measures `max_wait` on `clock` (a [`VirtualClock`](asynchronously_time::VirtualClock)
    /// in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::VirtualClock;
    /// use asynchronously::tower::BatchLayer;
    ///
    /// let _layer = BatchLayer::new(100, Duration::from_millis(2)).with_clock(VirtualClock::new());
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> BatchLayer<C2> {
        BatchLayer {
            max_items: self.max_items,
            max_wait: self.max_wait,
            max_in_flight: self.max_in_flight,
            queue_capacity: self.queue_capacity,
            clock,
        }
    }

    /// The batching service in front of `inner`, and the worker that sends its batches.
    ///
    /// # Errors
    ///
    /// The waterfall's [`BuildError`] for a zero `max_items`, `max_wait`, `max_in_flight` or
    /// `queue_capacity`.
    ///
    /// # Examples
    ///
    /// See [`BatchLayer`].
    #[expect(clippy::type_complexity, reason = "the pair is what the caller destructures")]
    pub fn pair<S, Req, Res>(
        &self,
        inner: S,
    ) -> Result<(Batch<Req, Res, S::Error>, BatchWorker<S, Req, C>), BuildError>
    where
        S: Service<Vec<Req>, Response = Vec<Res>> + Clone,
    {
        let mut builder = Waterfall::builder(self.max_items, self.max_wait)
            .max_in_flight(self.max_in_flight)
            .with_clock(self.clock.clone());
        if let Some(capacity) = self.queue_capacity {
            builder = builder.queue_capacity(capacity);
        }
        let (waterfall, worker) =
            builder.build(BatchCall { service: inner, _request: PhantomData })?;
        Ok((Batch { waterfall }, BatchWorker { worker }))
    }
}

impl<C: Clock> fmt::Debug for BatchLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchLayer")
            .field("max_items", &self.max_items)
            .field("max_wait", &self.max_wait)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// The service made by [`BatchLayer::pair`]: each request joins the open batch.
///
/// # `poll_ready` and `call`
///
/// `poll_ready` is always ready: back-pressure is the batch queue, in which the response
/// future waits for room. The future resolves to this request's response once its batch was
/// answered. Clones share one queue.
///
/// # Errors
///
/// The waterfall's [`SubmitError`]: `Failed` with the inner service's error (shared by the
/// whole batch), `Closed(request)` once the worker is gone, `NoResult` if the inner service
/// answered with fewer responses than requests, `Panicked` / `Cancelled`.
///
/// # Cancel safety
///
/// Dropping the response future before its batch is sent removes the request from the batch
/// (a batch left empty is not sent); after that, only this request's response is discarded,
/// and the batch goes on for the others.
///
/// # Examples
///
/// See [`BatchLayer`].
pub struct Batch<Req, Res, E> {
    waterfall: Waterfall<Req, Res, E>,
}

impl<Req, Res, E> Clone for Batch<Req, Res, E> {
    fn clone(&self) -> Self {
        Batch { waterfall: self.waterfall.clone() }
    }
}

impl<Req, Res, E> fmt::Debug for Batch<Req, Res, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").field("waterfall", &self.waterfall).finish()
    }
}

impl<Req, Res, E> Service<Req> for Batch<Req, Res, E>
where
    Req: Send + 'static,
    Res: Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = Res;
    type Error = SubmitError<Req, E>;
    type Future = BatchFuture<Req, Res, E>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let waterfall = self.waterfall.clone();
        BatchFuture { future: Box::pin(async move { waterfall.submit(request).await }) }
    }
}

/// A boxed response future: the waterfall's `Submit` borrows its handle, so it is wrapped in
/// an owning `async` block.
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Future returned by [`Batch`]'s `call`: this request's response from its batch.
///
/// # Cancel safety
///
/// Dropping it before the batch is sent takes the request out of it; after, it discards only
/// this response.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct BatchFuture<Req, Res, E> {
    future: Boxed<Result<Res, SubmitError<Req, E>>>,
}

impl<Req, Res, E> Future for BatchFuture<Req, Res, E> {
    type Output = Result<Res, SubmitError<Req, E>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<Req, Res, E> fmt::Debug for BatchFuture<Req, Res, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchFuture").finish_non_exhaustive()
    }
}

/// The worker of a [`Batch`]: seals batches and sends them to the inner service. Spawn it
/// (or join it); it completes once every [`Batch`] clone is dropped and the last batch is
/// answered.
///
/// # Cancel safety
///
/// Dropping it cancels the batches in flight (their callers get `Cancelled`) and hands the
/// queued requests back to their callers (`Unsent`).
#[must_use = "the worker does nothing unless spawned, joined or polled"]
#[pin_project]
pub struct BatchWorker<S, Req, C: Clock = RealClock>
where
    S: Service<Vec<Req>> + Clone,
    Result<S::Response, S::Error>: BatchOutput,
{
    #[pin]
    worker: WaterfallWorker<Req, BatchCall<S, Req>, C>,
}

impl<S, Req, C> Future for BatchWorker<S, Req, C>
where
    S: Service<Vec<Req>> + Clone,
    Result<S::Response, S::Error>: BatchOutput,
    C: Clock,
{
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().worker.poll(cx)
    }
}

impl<S, Req, C> fmt::Debug for BatchWorker<S, Req, C>
where
    S: Service<Vec<Req>> + Clone,
    Result<S::Response, S::Error>: BatchOutput,
    C: Clock,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchWorker").finish_non_exhaustive()
    }
}

/// The waterfall's batch function: a readied clone of the inner service per batch.
pub(crate) struct BatchCall<S, Req> {
    service: S,
    _request: PhantomData<fn(Req)>,
}

impl<S, Req> BatchFn<Req> for BatchCall<S, Req>
where
    S: Service<Vec<Req>> + Clone,
    Result<S::Response, S::Error>: BatchOutput,
{
    type Output = Result<S::Response, S::Error>;
    type Future = BatchCallFuture<S, Req>;

    fn call(&mut self, batch: Vec<Req>) -> Self::Future {
        BatchCallFuture::Ready { service: self.service.clone(), batch: Some(batch) }
    }
}

/// One batch: waits for the service clone to be ready, then sends the batch.
#[pin_project(project = BatchCallProj)]
pub(crate) enum BatchCallFuture<S: Service<Vec<Req>>, Req> {
    /// Waiting for the service.
    Ready {
        /// The clone that sends this batch.
        service: S,
        /// The batch, until it is sent.
        batch: Option<Vec<Req>>,
    },
    /// Sent.
    Called(#[pin] S::Future),
}

impl<S: Service<Vec<Req>>, Req> Future for BatchCallFuture<S, Req> {
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                BatchCallProj::Ready { service, batch } => {
                    ready!(service.poll_ready(cx))?;
                    let future = service.call(batch.take().expect("a batch is sent once"));
                    self.set(BatchCallFuture::Called(future));
                }
                BatchCallProj::Called(future) => return future.poll(cx),
            }
        }
    }
}
