use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::{IntoFuture, TryFutureExt};

use crate::RaceError;
use crate::join::Join;

/// Runs the futures concurrently until the first one finishes; its value wins, or its error
/// does, and every other future is dropped before returning.
///
/// To keep going past errors until a success, use [`race_ok`].
///
/// # Cancel safety
///
/// Dropping the future drops every child.
///
/// # Errors
///
/// [`RaceError::Failed`] if the first future to finish failed, [`RaceError::Empty`] at once
/// if there were no futures.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::race;
///
/// let winner = race([futures::future::ready(Ok::<_, ()>(1)), futures::future::ready(Ok(2))]);
/// assert_eq!(winner.await, Ok(1));
/// # });
/// ```
pub fn race<I>(futures: I) -> Race<I::Item>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    Race { join: Join::new(futures.into_iter().map(TryFutureExt::into_future)) }
}

/// Runs the futures concurrently until one succeeds, collecting the errors of those that
/// failed before; every other future is dropped before returning.
///
/// This is aiotools' `race(continue_on_error=True)`: the output is the winning value with
/// the errors seen before it, in completion order.
///
/// # Cancel safety
///
/// Dropping the future drops every child; collected errors are lost.
///
/// # Errors
///
/// [`RaceError::AllFailed`] with every error (in completion order) if all failed,
/// [`RaceError::Empty`] at once if there were no futures.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::race_ok;
/// use futures::future::ready;
///
/// let (value, errors) = race_ok([ready(Err("a")), ready(Ok(4)), ready(Err("b"))]).await.unwrap();
/// assert_eq!((value, errors), (4, vec!["a"]));
/// # });
/// ```
pub fn race_ok<I>(futures: I) -> RaceOk<I::Item>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    RaceOk {
        join: Join::new(futures.into_iter().map(TryFutureExt::into_future)),
        errors: Vec::new(),
    }
}

/// Future returned by [`race`].
///
/// # Errors
///
/// [`RaceError::Failed`] if the first child to finish failed, [`RaceError::Empty`] for no
/// children.
///
/// # Cancel safety
///
/// Dropping it drops every child.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Race<F: TryFuture> {
    join: Join<IntoFuture<F>>,
}

/// Future returned by [`race_ok`].
///
/// # Errors
///
/// [`RaceError::AllFailed`] with every error if no child succeeded, [`RaceError::Empty`] for
/// no children.
///
/// # Cancel safety
///
/// Dropping it drops every child; collected errors are lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RaceOk<F: TryFuture> {
    join: Join<IntoFuture<F>>,
    errors: Vec<F::Error>,
}

// Children are boxed; nothing is pinned in place.
impl<F: TryFuture> Unpin for Race<F> {}
impl<F: TryFuture> Unpin for RaceOk<F> {}

impl<F: TryFuture> Future for Race<F> {
    type Output = Result<F::Ok, RaceError<F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let join = &mut self.get_mut().join;
        let mut pass = join.begin(cx);
        match join.poll_next(&mut pass) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(Err(RaceError::Empty)),
            Poll::Ready(Some((_, output))) => {
                join.clear();
                Poll::Ready(output.map_err(RaceError::Failed))
            }
        }
    }
}

impl<F: TryFuture> Future for RaceOk<F> {
    type Output = Result<(F::Ok, Vec<F::Error>), RaceError<F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut pass = this.join.begin(cx);
        loop {
            match this.join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) if this.join.total() == 0 => {
                    return Poll::Ready(Err(RaceError::Empty));
                }
                Poll::Ready(None) => {
                    return Poll::Ready(Err(RaceError::AllFailed(std::mem::take(
                        &mut this.errors,
                    ))));
                }
                Poll::Ready(Some((_, Err(error)))) => this.errors.push(error),
                Poll::Ready(Some((_, Ok(value)))) => {
                    this.join.clear();
                    return Poll::Ready(Ok((value, std::mem::take(&mut this.errors))));
                }
            }
        }
    }
}

impl<F: TryFuture> fmt::Debug for Race<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race").field("join", &self.join).finish()
    }
}

impl<F: TryFuture> fmt::Debug for RaceOk<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceOk")
            .field("join", &self.join)
            .field("errors", &self.errors.len())
            .finish()
    }
}
