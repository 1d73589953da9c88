use std::fmt;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};
use futures::Stream;
use futures::stream::{Fuse, FusedStream, StreamExt as _};
use pin_project::pin_project;

use crate::BuildError;

/// The largest batch buffer allocated up front; larger batches grow as items arrive, so a
/// huge `max_items` costs nothing until it is used.
const PREALLOCATE_AT_MOST: usize = 1024;

/// Batches any [`Stream`]: [`waterfall`](WaterfallExt::waterfall) is the stream face of
/// [`Waterfall`](crate::Waterfall), with the same rules.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::waterfall::WaterfallExt;
/// use futures::StreamExt;
///
/// let batches: Vec<Vec<u32>> =
///     futures::stream::iter(0..7).waterfall(3, Duration::from_millis(10))?.collect().await;
/// assert_eq!(batches, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// # }).unwrap();
/// ```
pub trait WaterfallExt: Stream {
    /// Groups the stream's items into batches of at most `max_items`, yielding a batch once
    /// it is full or `max_wait` after its **first** item arrived, whichever comes first; the
    /// items left when the stream ends are yielded as a last batch. No batch is empty.
    ///
    /// `Duration::MAX` means batches are yielded only when full or at the end. Unlike
    /// `futures-batch`'s `chunks_timeout`, the timer starts only when the inner stream is
    /// pending with a partial batch, so a busy stream sets no timers at all.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxItems`] or [`BuildError::ZeroMaxWait`] for a zero limit.
    ///
    /// # Examples
    ///
    /// See [`WaterfallExt`] and [`WaterfallStream::with_clock`].
    fn waterfall(
        self,
        max_items: usize,
        max_wait: Duration,
    ) -> Result<WaterfallStream<Self>, BuildError>
    where
        Self: Sized,
    {
        if max_items == 0 {
            return Err(BuildError::ZeroMaxItems);
        }
        if max_wait.is_zero() {
            return Err(BuildError::ZeroMaxWait);
        }
        Ok(WaterfallStream {
            stream: self.fuse(),
            items: Vec::new(),
            max_items,
            max_wait,
            deadline: None,
            sleep: None,
            clock: RealClock,
        })
    }
}

impl<S: Stream> WaterfallExt for S {}

/// Stream returned by [`WaterfallExt::waterfall`]: batches of the inner stream's items.
///
/// # Cancel safety
///
/// Dropping it drops the partial batch it holds, with the inner stream. Between items no
/// batch is lost: a batch is removed only when it is returned.
///
/// # Examples
///
/// See [`WaterfallExt`].
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct WaterfallStream<S: Stream, C: Clock = RealClock> {
    #[pin]
    stream: Fuse<S>,
    items: Vec<S::Item>,
    max_items: usize,
    max_wait: Duration,
    /// When the partial batch is due: read once, at its first item (`None`: never).
    deadline: Option<Instant>,
    /// The partial batch's timer, set only once the inner stream is pending.
    sleep: Option<C::Sleep>,
    clock: C,
}

impl<S: Stream, C: Clock> WaterfallStream<S, C> {
    /// Measures `max_wait` on `clock` (for example a
    /// [`VirtualClock`](asynchronously_time::VirtualClock) in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::VirtualClock;
    /// use asynchronously::waterfall::WaterfallExt;
    /// use futures::{SinkExt, StreamExt};
    ///
    /// let clock = VirtualClock::new();
    /// let (mut sender, receiver) = futures::channel::mpsc::unbounded::<u32>();
    /// let mut batches =
    ///     receiver.waterfall(10, Duration::from_secs(1))?.with_clock(clock.clone());
    /// sender.send(1).await?;
    /// let (batch, ()) = futures::join!(batches.next(), clock.run_for(Duration::from_secs(1)));
    /// assert_eq!(batch, Some(vec![1]), "sent one second after its first item");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> WaterfallStream<S, C2> {
        WaterfallStream {
            stream: self.stream,
            items: self.items,
            max_items: self.max_items,
            max_wait: self.max_wait,
            deadline: self.deadline,
            sleep: None,
            clock,
        }
    }

    /// The inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::WaterfallExt;
    ///
    /// let batches = futures::stream::iter([1, 2]).waterfall(2, Duration::MAX)?;
    /// let _inner = batches.into_inner();
    /// # Ok::<_, asynchronously::waterfall::BuildError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }
}

impl<S: Stream, C: Clock> Stream for WaterfallStream<S, C> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<S::Item>>> {
        let mut this = self.project();
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if this.items.is_empty() {
                        if this.items.capacity() == 0 {
                            this.items.reserve_exact((*this.max_items).min(PREALLOCATE_AT_MOST));
                        }
                        *this.deadline = if *this.max_wait == Duration::MAX {
                            None
                        } else {
                            this.clock.deadline_after(*this.max_wait)
                        };
                    }
                    this.items.push(item);
                    if this.items.len() >= *this.max_items {
                        *this.sleep = None;
                        return Poll::Ready(Some(take_batch(this.items, *this.max_items)));
                    }
                }
                Poll::Ready(None) => {
                    *this.sleep = None;
                    return Poll::Ready(
                        (!this.items.is_empty()).then(|| mem::take(&mut *this.items)),
                    );
                }
                Poll::Pending => break,
            }
        }
        let Some(deadline) = *this.deadline else { return Poll::Pending };
        if this.items.is_empty() {
            return Poll::Pending;
        }
        // Armed for this batch only: a batch that fills up drops it, so no timer outlives
        // the batch it was set for.
        let sleep = match &mut *this.sleep {
            Some(sleep) => sleep,
            slot @ None => slot.insert(this.clock.sleep_until(deadline)),
        };
        match Pin::new(sleep).poll(cx) {
            Poll::Ready(()) => {
                *this.sleep = None;
                Poll::Ready(Some(take_batch(this.items, *this.max_items)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // At most `max_items` per batch, and at worst one batch per item.
        let (lower, upper) = self.stream.size_hint();
        let pending = self.items.len();
        let lower = lower.saturating_add(pending).div_ceil(self.max_items);
        (lower, upper.and_then(|upper| upper.checked_add(pending)))
    }
}

/// The full or due batch, leaving a fresh buffer behind.
fn take_batch<T>(items: &mut Vec<T>, max_items: usize) -> Vec<T> {
    mem::replace(items, Vec::with_capacity(max_items.min(PREALLOCATE_AT_MOST)))
}

impl<S: Stream, C: Clock> FusedStream for WaterfallStream<S, C> {
    fn is_terminated(&self) -> bool {
        self.stream.is_terminated() && self.items.is_empty()
    }
}

impl<S: Stream + fmt::Debug, C: Clock> fmt::Debug for WaterfallStream<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaterfallStream")
            .field("stream", self.stream.get_ref())
            .field("pending", &self.items.len())
            .field("max_items", &self.max_items)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}
