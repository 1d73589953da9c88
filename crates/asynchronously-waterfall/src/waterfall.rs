use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::shared::Shared;
use crate::{TryPutError, WaterfallBuilder};

mod close;
mod put;
mod submit;

pub use self::close::Close;
pub use self::put::Put;
pub use self::submit::Submit;

/// A handle for putting items into a batcher; cheap to clone, shared by every producer.
///
/// Built with [`Waterfall::builder`] together with the [`WaterfallWorker`](crate::WaterfallWorker)
/// future that sends the batches. Items are collected in arrival order and sent as a batch
/// when the batch holds `max_items` items (or `max_weight`), when `max_wait` has passed since
/// the batch's **first** item arrived, on [`flush`](Waterfall::flush), or on
/// [`close`](Waterfall::close). A batch is never empty.
///
/// Two faces share one handle:
/// - **fire and forget**: [`put`](Waterfall::put) queues an item and returns; failures of
///   its batch are reported to the worker's hook.
/// - **request/response**: [`submit`](Waterfall::submit) queues an item and waits for its own
///   result, which the batch function returns (one per item, in order; see
///   [`BatchOutput`](crate::BatchOutput)).
///
/// The queue holds at most `queue_capacity` items: `put` and `submit` wait for room, while
/// [`try_put`](Waterfall::try_put) and [`try_submit`](Waterfall::try_submit) return
/// [`TryPutError::Full`]. Dropping the last handle closes the waterfall, as
/// [`close`](Waterfall::close) does.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::waterfall::Waterfall;
///
/// // Look up many ids with one query per batch of up to 100.
/// let (waterfall, worker) = Waterfall::builder(100, Duration::from_millis(5))
///     .build(|ids: Vec<u32>| async move { ids.iter().map(|id| format!("user {id}")).collect::<Vec<_>>() })?;
/// // In an application: `tokio::spawn(worker)`; here, join it.
/// let (names, ()) = futures::join!(
///     async {
///         let names = futures::join!(waterfall.submit(1), waterfall.submit(2));
///         waterfall.close().await; // sends what is pending and waits for the batch
///         names
///     },
///     worker,
/// );
/// assert_eq!(names.0?, "user 1");
/// assert_eq!(names.1?, "user 2");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Waterfall<T, Out = (), E = Infallible> {
    pub(crate) shared: Arc<Shared<T, Out, E>>,
}

impl<T> Waterfall<T> {
    /// Starts configuring a batcher that sends up to `max_items` items at a time, waiting at
    /// most `max_wait` after a batch's first item.
    ///
    /// `Duration::MAX` for `max_wait` means batches wait for `max_items`, the weight limit,
    /// [`flush`](Waterfall::flush) or [`close`](Waterfall::close), never for time. Zero values
    /// are rejected by [`build`](WaterfallBuilder::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, _worker) = Waterfall::builder(3, Duration::from_millis(10))
    ///     .build(|batch: Vec<u32>| async move { assert!(batch.len() <= 3) })?;
    /// assert_eq!(waterfall.max_items(), 3);
    /// # Ok::<_, asynchronously::waterfall::BuildError>(())
    /// ```
    #[must_use = "a builder does nothing until `build` is called"]
    pub fn builder(max_items: usize, max_wait: Duration) -> WaterfallBuilder<T> {
        WaterfallBuilder::new(max_items, max_wait)
    }
}

impl<T, Out, E> Waterfall<T, Out, E> {
    /// Queues `item` for a batch, waiting while the queue is full.
    ///
    /// Returns once the item is queued, not when its batch is sent: the outcome of the batch
    /// goes to the worker's hook. Use [`submit`](Waterfall::submit) to wait for it.
    ///
    /// # Errors
    ///
    /// Hands the item back in [`PutError::Closed`](crate::PutError::Closed) once the waterfall
    /// is closed or its worker is gone, and in [`PutError::TooHeavy`](crate::PutError::TooHeavy)
    /// if the item alone exceeds `max_weight`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the item, which was not queued; nothing
    /// else changes. Once it completed, the item is queued and stays queued.
    ///
    /// # Panics
    ///
    /// Panics if the weigher panics (the panic reaches this caller; nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (log, batches) = std::sync::mpsc::channel();
    /// let (waterfall, worker) = Waterfall::builder(2, Duration::from_millis(10))
    ///     .build(move |batch: Vec<&'static str>| { let _ = log.send(batch); async {} })?;
    /// futures::join!(worker, async {
    ///     for line in ["a", "b", "c"] {
    ///         waterfall.put(line).await?;
    ///     }
    ///     waterfall.close().await;
    ///     Ok::<_, asynchronously::waterfall::PutError<&str>>(())
    /// }).1?;
    /// assert_eq!(batches.try_iter().collect::<Vec<_>>(), [vec!["a", "b"], vec!["c"]]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn put(&self, item: T) -> Put<'_, T, Out, E> {
        Put::new(self, item)
    }

    /// Queues `item` for a batch if there is room, without waiting.
    ///
    /// # Errors
    ///
    /// Hands the item back in [`TryPutError::Full`] when the queue holds `queue_capacity`
    /// items, in [`TryPutError::Closed`] once closed, and in [`TryPutError::TooHeavy`] if the
    /// item alone exceeds `max_weight`.
    ///
    /// # Panics
    ///
    /// Panics if the weigher panics (nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::{TryPutError, Waterfall};
    ///
    /// let (waterfall, _worker) = Waterfall::builder(8, Duration::from_millis(10))
    ///     .queue_capacity(2)
    ///     .build(|_batch: Vec<u32>| async {})?;
    /// waterfall.try_put(1)?;
    /// waterfall.try_put(2)?;
    /// assert!(matches!(waterfall.try_put(3), Err(TryPutError::Full(3))));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        self.shared.push(item, false).map(drop)
    }

    /// Queues `item` for a batch, waiting while the queue is full, then waits for the item's
    /// own result from the batch function.
    ///
    /// # Errors
    ///
    /// - [`SubmitError::Closed`](crate::SubmitError::Closed) /
    ///   [`TooHeavy`](crate::SubmitError::TooHeavy): the item was not queued (handed back).
    /// - [`SubmitError::Failed`](crate::SubmitError::Failed): the batch function returned an
    ///   error for the whole batch, shared by every submitter of the batch.
    /// - [`SubmitError::Panicked`](crate::SubmitError::Panicked) /
    ///   [`Cancelled`](crate::SubmitError::Cancelled): the batch panicked, or was cancelled by
    ///   the finalize deadline or by dropping the worker.
    /// - [`SubmitError::Unsent`](crate::SubmitError::Unsent): the item was queued but its batch
    ///   never started (handed back).
    /// - [`SubmitError::NoResult`](crate::SubmitError::NoResult): the batch function returned
    ///   fewer results than items.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits for room drops the item unqueued. Dropping it
    /// after the item was queued but before its batch is sent removes the item: it is left
    /// out of the batch (a batch left empty is not sent) and its place in the queue is freed
    /// when its batch is taken. Dropping it after the batch was sent discards the result.
    ///
    /// # Panics
    ///
    /// Panics if the weigher panics (nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, worker) = Waterfall::builder(2, Duration::from_millis(10))
    ///     .build(|numbers: Vec<u32>| async move { Ok::<_, std::io::Error>(numbers.iter().map(|n| n * n).collect::<Vec<_>>()) })?;
    /// let ((four, nine), ()) = futures::join!(
    ///     async {
    ///         let squares = futures::join!(waterfall.submit(2), waterfall.submit(3));
    ///         waterfall.close().await;
    ///         squares
    ///     },
    ///     worker,
    /// );
    /// assert_eq!((four?, nine?), (4, 9));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn submit(&self, item: T) -> Submit<'_, T, Out, E> {
        Submit::new(self, item)
    }

    /// Queues `item` if there is room, without waiting; the returned future waits for the
    /// item's result.
    ///
    /// # Errors
    ///
    /// Hands the item back as [`try_put`](Waterfall::try_put) does. The returned future
    /// fails as [`submit`](Waterfall::submit) does once queued.
    ///
    /// # Panics
    ///
    /// Panics if the weigher panics (nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, worker) = Waterfall::builder(1, Duration::from_millis(10))
    ///     .build(|words: Vec<&'static str>| async move { words.iter().map(|w| w.len()).collect::<Vec<_>>() })?;
    /// let length = waterfall.try_submit("four")?;
    /// let close = waterfall.close(); // queued items are still sent
    /// let (length, (), ()) = futures::join!(length, close, worker);
    /// assert_eq!(length?, 4);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn try_submit(&self, item: T) -> Result<Submit<'_, T, Out, E>, TryPutError<T>> {
        let slot = self.shared.push(item, true)?.expect("a submitted item gets a reply slot");
        Ok(Submit::queued(self, slot))
    }

    /// Sends the items collected so far as a batch without waiting for `max_wait`.
    ///
    /// The batch is sent as soon as `max_in_flight` allows. Does nothing when no item is
    /// waiting in an unfinished batch.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, worker) = Waterfall::builder(100, Duration::MAX)
    ///     .build(|batch: Vec<u32>| async move { batch.iter().map(|n| n + 1).collect::<Vec<_>>() })?;
    /// let (one, ()) = futures::join!(
    ///     async {
    ///         let one = waterfall.try_submit(0)?;
    ///         waterfall.flush(); // no timer, 99 places left: only the flush sends it
    ///         let one = one.await;
    ///         waterfall.close().await;
    ///         Ok::<_, Box<dyn std::error::Error>>(one?)
    ///     },
    ///     worker,
    /// );
    /// assert_eq!(one?, 1);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Closes the waterfall: new items are refused, everything pending is sent in batches of
    /// at most `max_items`, in order, and the returned future completes when every batch has
    /// finished (ok, failed, panicked or cancelled).
    ///
    /// With a [`finalize_timeout`](WaterfallBuilder::finalize_timeout), batches still running
    /// when it has passed since this call are cancelled and reported, and items not yet sent
    /// are handed back (see [`SubmitError::Unsent`](crate::SubmitError::Unsent) and
    /// [`WaterfallEvent::Unsent`](crate::WaterfallEvent::Unsent)). The deadline is counted from
    /// this call, also when the worker has not started yet.
    ///
    /// Closing takes effect at once; the returned [`Close`] only waits. Closing twice keeps the
    /// first deadline.
    ///
    /// # Cancel safety
    ///
    /// Dropping the [`Close`] future leaves the waterfall closed; the worker goes on finishing.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (log, batches) = std::sync::mpsc::channel();
    /// let (waterfall, worker) = Waterfall::builder(3, Duration::from_secs(60))
    ///     .build(move |batch: Vec<u32>| { let _ = log.send(batch); async {} })?;
    /// for n in 0..5 {
    ///     waterfall.try_put(n)?;
    /// }
    /// futures::join!(waterfall.close(), worker);
    /// assert_eq!(batches.try_iter().collect::<Vec<_>>(), [vec![0, 1, 2], vec![3, 4]]);
    /// assert!(waterfall.try_put(5).is_err(), "closed");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> Close<T, Out, E> {
        self.shared.close();
        Close::new(Arc::clone(&self.shared))
    }

    /// Whether the waterfall refuses new items (closed, or its worker gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, _worker) =
    ///     Waterfall::builder(3, Duration::from_millis(10)).build(|_batch: Vec<u32>| async {})?;
    /// assert!(!waterfall.is_closed());
    /// drop(waterfall.close());
    /// assert!(waterfall.is_closed());
    /// # Ok::<_, asynchronously::waterfall::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// How many items are queued and not yet taken into a running batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (waterfall, _worker) =
    ///     Waterfall::builder(3, Duration::from_millis(10)).build(|_batch: Vec<u32>| async {})?;
    /// waterfall.try_put(1)?;
    /// assert_eq!(waterfall.queued(), 1);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// The most items a batch holds.
    ///
    /// # Examples
    ///
    /// See [`Waterfall::builder`].
    pub fn max_items(&self) -> usize {
        self.shared.limits.max_items
    }
}

impl<T, Out, E> Clone for Waterfall<T, Out, E> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Waterfall { shared: Arc::clone(&self.shared) }
    }
}

impl<T, Out, E> Drop for Waterfall<T, Out, E> {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Nobody can put any more: close, so the worker sends what is left and finishes.
            self.shared.close();
        }
    }
}

impl<T, Out, E> fmt::Debug for Waterfall<T, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}
