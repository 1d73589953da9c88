use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use event_listener::EventListener;

use crate::reply::Outcome;
use crate::{SubmitError, TryPutError, Waterfall};

/// Future returned by [`Waterfall::submit`] and [`Waterfall::try_submit`]: queues one item
/// (waiting for room), then waits for the item's own result.
///
/// # Cancel safety
///
/// Dropping it while it waits for room drops the item unqueued. Dropping it after the item
/// was queued but before its batch is sent removes the item from the batch (a batch left
/// empty is not sent). Dropping it after the batch was sent discards the item's result; the
/// batch goes on for the other submitters.
///
/// # Panics
///
/// Panics if polled after it completed, or if the weigher panics.
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
///     .build(|batch: Vec<i32>| async move { batch.iter().map(|n| -n).collect::<Vec<_>>() })?;
/// let negated = waterfall.submit(5);
/// let (negated, ()) = futures::join!(
///     async {
///         let negated = negated.await;
///         waterfall.close().await;
///         negated
///     },
///     worker,
/// );
/// assert_eq!(negated?, -5);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Submit<'a, T, Out, E> {
    waterfall: &'a Waterfall<T, Out, E>,
    /// The item until it is queued.
    item: Option<T>,
    listener: Option<EventListener>,
    /// The item's reply slot once queued; `None` again once the outcome was taken.
    slot: Option<usize>,
}

impl<'a, T, Out, E> Submit<'a, T, Out, E> {
    pub(crate) fn new(waterfall: &'a Waterfall<T, Out, E>, item: T) -> Self {
        Submit { waterfall, item: Some(item), listener: None, slot: None }
    }

    pub(crate) fn queued(waterfall: &'a Waterfall<T, Out, E>, slot: usize) -> Self {
        Submit { waterfall, item: None, listener: None, slot: Some(slot) }
    }
}

// `Submit` never pins its item: it only moves it in and out of an `Option`.
impl<T, Out, E> Unpin for Submit<'_, T, Out, E> {}

impl<T, Out, E> Future for Submit<'_, T, Out, E> {
    type Output = Outcome<T, Out, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while let Some(item) = this.item.take() {
            match this.waterfall.shared.push(item, true) {
                Ok(slot) => {
                    this.listener = None;
                    this.slot = slot;
                }
                Err(TryPutError::Full(item)) => {
                    this.item = Some(item);
                    match &mut this.listener {
                        // Listen first, then try again: room freed in between is not missed.
                        None => this.listener = Some(this.waterfall.shared.room.listen()),
                        Some(listener) => {
                            ready!(Pin::new(listener).poll(cx));
                            this.listener = None;
                        }
                    }
                }
                Err(TryPutError::Closed(item)) => {
                    return Poll::Ready(Err(SubmitError::Closed(item)));
                }
                Err(TryPutError::TooHeavy { item, weight, max_weight }) => {
                    return Poll::Ready(Err(SubmitError::TooHeavy { item, weight, max_weight }));
                }
            }
        }
        let slot = this.slot.expect("`Submit` polled after it completed");
        let outcome = ready!(this.waterfall.shared.lock().replies.poll(slot, cx));
        this.slot = None;
        Poll::Ready(outcome)
    }
}

impl<T, Out, E> Drop for Submit<'_, T, Out, E> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            // Dropped after unlocking: the outcome may run user code.
            let unwanted = self.waterfall.shared.lock().replies.abandon(slot);
            drop(unwanted);
        }
    }
}

impl<T, Out, E> fmt::Debug for Submit<'_, T, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (&self.item, &self.slot) {
            (Some(_), _) => "queuing",
            (None, Some(_)) => "waiting for the result",
            (None, None) => "done",
        };
        f.debug_struct("Submit").field("state", &state).finish_non_exhaustive()
    }
}
