use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use event_listener::EventListener;

use crate::{PutError, TryPutError, Waterfall};

/// Future returned by [`Waterfall::put`]: queues one item, waiting for room.
///
/// # Cancel safety
///
/// Dropping it before it completes drops the item, which was not queued. Nothing else
/// changes: a wake-up meant for it passes on to the next waiting putter.
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
/// let (waterfall, _worker) =
///     Waterfall::builder(4, Duration::from_millis(10)).build(|_batch: Vec<u32>| async {})?;
/// let put = waterfall.put(1);
/// put.await?;
/// assert_eq!(waterfall.queued(), 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Put<'a, T, Out, E> {
    waterfall: &'a Waterfall<T, Out, E>,
    item: Option<T>,
    listener: Option<EventListener>,
}

impl<'a, T, Out, E> Put<'a, T, Out, E> {
    pub(crate) fn new(waterfall: &'a Waterfall<T, Out, E>, item: T) -> Self {
        Put { waterfall, item: Some(item), listener: None }
    }
}

// `Put` never pins its item: it only moves it in and out of an `Option`.
impl<T, Out, E> Unpin for Put<'_, T, Out, E> {}

impl<T, Out, E> Future for Put<'_, T, Out, E> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let item = this.item.take().expect("`Put` polled after it completed");
            match this.waterfall.shared.push(item, false) {
                Ok(_) => return Poll::Ready(Ok(())),
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
                Err(TryPutError::Closed(item)) => return Poll::Ready(Err(PutError::Closed(item))),
                Err(TryPutError::TooHeavy { item, weight, max_weight }) => {
                    return Poll::Ready(Err(PutError::TooHeavy { item, weight, max_weight }));
                }
            }
        }
    }
}

impl<T, Out, E> fmt::Debug for Put<'_, T, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting_for_room", &self.listener.is_some())
            .field("done", &self.item.is_none())
            .finish_non_exhaustive()
    }
}
