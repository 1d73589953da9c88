use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::Future;
use pin_project::pin_project;

use crate::acquire::{Acquire, Limiter};

/// Adds [`rate_limited`](Self::rate_limited) to every [`Stream`].
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{Quota, RateLimitExt, RateLimiter};
/// use asynchronously::time::{Clock, VirtualClock};
/// use futures::StreamExt;
///
/// let clock = VirtualClock::new();
/// let limiter = RateLimiter::with_clock(Quota::per_second(10)?.with_burst(1)?, clock.clone());
/// let start = clock.now();
/// let stamps = futures::stream::iter(0..3)
///     .rate_limited(&limiter)
///     .map(|_| clock.now() - start)
///     .collect::<Vec<_>>();
/// let (stamps, ()) = futures::join!(stamps, clock.run_for(Duration::from_secs(1)));
/// assert_eq!(stamps, [0, 100, 200].map(Duration::from_millis));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait RateLimitExt: Stream + Sized {
    /// Yields each item of this stream only once `limiter` admits one cell for it.
    ///
    /// Works with [`RateLimiter`](crate::RateLimiter),
    /// [`CompositeRateLimiter`](crate::CompositeRateLimiter) and
    /// [`SlidingWindow`](crate::SlidingWindow). An item is pulled from the inner stream
    /// first, then waits for its cell (FIFO with the limiter's other waiters), then is
    /// yielded; the end of the stream takes no cell.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::{Quota, RateLimitExt, RateLimiter};
    /// use futures::StreamExt;
    ///
    /// let limiter = RateLimiter::new(Quota::per_second(1000)?);
    /// let items: Vec<u32> = futures::stream::iter([1, 2, 3]).rate_limited(&limiter).collect().await;
    /// assert_eq!(items, [1, 2, 3]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    fn rate_limited<L: Limiter>(self, limiter: &L) -> RateLimited<'_, Self, L> {
        RateLimited { stream: self, limiter, pending: None }
    }
}

impl<S: Stream> RateLimitExt for S {}

/// Stream returned by [`RateLimitExt::rate_limited`].
///
/// # Cancel safety
///
/// Dropping it while an item waits for its cell drops the item and returns the cell (see
/// [`Acquire`]).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::ratelimit::{Quota, RateLimitExt, RateLimited, RateLimiter};
/// use futures::StreamExt;
///
/// let limiter = RateLimiter::new(Quota::per_second(100)?);
/// let mut stream: RateLimited<'_, _, _> = futures::stream::iter([7]).rate_limited(&limiter);
/// assert_eq!(stream.next().await, Some(7));
/// assert_eq!(stream.next().await, None);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct RateLimited<'a, S: Stream, L: Limiter> {
    #[pin]
    stream: S,
    limiter: &'a L,
    /// The item pulled from `stream` and the wait for its cell.
    pending: Option<(S::Item, Acquire<'a, L>)>,
}

impl<S: Stream, L: Limiter> Stream for RateLimited<'_, S, L> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        loop {
            if let Some((_, acquire)) = this.pending.as_mut() {
                // One cell never exceeds a burst (every burst is at least 1), so this cannot
                // fail; if it somehow did, the item passes rather than being lost.
                if Pin::new(acquire).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if let Some((item, _)) = this.pending.take() {
                    return Poll::Ready(Some(item));
                }
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    *this.pending = Some((item, Acquire::new(*this.limiter, 1)))
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = usize::from(self.pending.is_some());
        let (low, high) = self.stream.size_hint();
        (low.saturating_add(pending), high.and_then(|high| high.checked_add(pending)))
    }
}

impl<S: Stream + fmt::Debug, L: Limiter> fmt::Debug for RateLimited<'_, S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("stream", &self.stream)
            .field("waiting", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}
