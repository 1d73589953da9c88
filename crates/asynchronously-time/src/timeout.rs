use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project::pin_project;

use crate::Clock;

/// Bounds `future` by `duration` on `clock`.
///
/// The future is polled before the timer, so a future that is ready when the deadline is
/// reached still returns its output. A `duration` too large to represent means "no timeout".
///
/// # Errors
///
/// The returned future resolves to [`Elapsed`] if `duration` passes on `clock` first.
///
/// # Cancel safety
///
/// Dropping the returned [`Timeout`] drops `future` and the timer.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::time::{Clock, VirtualClock, timeout};
///
/// let clock = VirtualClock::new();
/// let quick = async { 7 };
/// assert_eq!(timeout(&clock, Duration::from_secs(1), quick).await?, 7);
///
/// let slow = clock.sleep(Duration::from_secs(5));
/// let (result, ()) =
///     futures::join!(timeout(&clock, Duration::from_secs(1), slow), clock.run_for(Duration::from_secs(2)));
/// assert!(result.is_err());
/// # Ok::<_, asynchronously::time::Elapsed>(())
/// # }).unwrap();
/// ```
pub fn timeout<C: Clock, F: IntoFuture>(
    clock: &C,
    duration: Duration,
    future: F,
) -> Timeout<F::IntoFuture, C::Sleep> {
    Timeout { future: future.into_future(), sleep: clock.sleep(duration) }
}

/// Bounds `future` by the instant `deadline` on `clock`.
///
/// A `deadline` at or before `clock.now()` still polls `future` once.
///
/// # Errors
///
/// The returned future resolves to [`Elapsed`] if `deadline` is reached on `clock` first.
///
/// # Cancel safety
///
/// Dropping the returned [`Timeout`] drops `future` and the timer.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::time::{Clock, VirtualClock, timeout_at};
///
/// let clock = VirtualClock::new();
/// let deadline = clock.now(); // already reached
/// let result = timeout_at(&clock, deadline, futures::future::pending::<()>()).await;
/// assert!(result.is_err());
/// # });
/// ```
pub fn timeout_at<C: Clock, F: IntoFuture>(
    clock: &C,
    deadline: Instant,
    future: F,
) -> Timeout<F::IntoFuture, C::Sleep> {
    Timeout { future: future.into_future(), sleep: clock.sleep_until(deadline) }
}

/// Future returned by [`timeout`] and [`timeout_at`].
///
/// # Cancel safety
///
/// Dropping it drops the inner future and the timer; nothing else is left registered.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::time::{RealClock, Timeout, timeout};
///
/// let bounded: Timeout<_, _> = timeout(&RealClock, Duration::from_secs(1), async { "done" });
/// assert_eq!(bounded.await, Ok("done"));
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct Timeout<F, S> {
    #[pin]
    future: F,
    sleep: S,
}

impl<F, S> Timeout<F, S> {
    /// Returns a reference to the inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::{RealClock, timeout};
    ///
    /// let bounded = timeout(&RealClock, Duration::from_secs(1), std::future::ready(1));
    /// let _inner: &std::future::Ready<i32> = bounded.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Returns a mutable reference to the inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::{RealClock, timeout};
    ///
    /// let mut bounded = timeout(&RealClock, Duration::from_secs(1), std::future::ready(1));
    /// let _inner: &mut std::future::Ready<i32> = bounded.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Consumes the timeout and returns the inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::{RealClock, timeout};
    ///
    /// let bounded = timeout(&RealClock, Duration::from_secs(1), std::future::ready(1));
    /// assert_eq!(bounded.into_inner().await, 1);
    /// # });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future, S: Future<Output = ()> + Unpin> Future for Timeout<F, S> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: fmt::Debug, S: fmt::Debug> fmt::Debug for Timeout<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").field("future", &self.future).field("sleep", &self.sleep).finish()
    }
}

/// The error of a [`Timeout`]: the deadline passed before the future completed.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::time::{Clock, Elapsed, VirtualClock, timeout_at};
///
/// let clock = VirtualClock::new();
/// let error: Elapsed =
///     timeout_at(&clock, clock.now(), futures::future::pending::<()>()).await.unwrap_err();
/// assert!(error.to_string().contains("deadline elapsed"));
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "deadline elapsed before the future completed; allow a longer timeout or make the operation faster"
)]
pub struct Elapsed(());

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Elapsed>();
};
