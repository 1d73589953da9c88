use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::TryFutureExt;

use crate::join::{Join, TryJoin};
use crate::{RaceError, RaceOkError};

/// Runs the futures concurrently until the first one finishes; its value wins, or its error
/// does, and every other future is dropped before returning.
///
/// To keep going past errors until a success, use [`race_ok`] or [`race_ok_if`].
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
/// use asynchronously::gather::race;
///
/// let winner = race([futures::future::ready(Ok::<_, ()>(1)), futures::future::ready(Ok(2))]);
/// assert_eq!(winner.await, Ok(1));
/// # });
/// ```
pub fn race<I>(futures: I) -> Race<I::Item, I::IntoIter>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    Race { join: Join::new(futures.into_iter().map(TryFutureExt::into_future as fn(I::Item) -> _)) }
}

/// Runs the futures concurrently until one succeeds, collecting the errors of those that
/// failed before; every other future is dropped before returning.
///
/// This is aiotools' `race(continue_on_error=True)`: the output is the winning value with
/// the errors seen before it, in completion order. To go past only some errors, use
/// [`race_ok_if`].
///
/// # Cancel safety
///
/// Dropping the future drops every child; collected errors are lost.
///
/// # Errors
///
/// [`RaceOkError::AllFailed`] with every error (in completion order) if all failed,
/// [`RaceOkError::Empty`] at once if there were no futures.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::race_ok;
/// use futures::future::ready;
///
/// let (value, errors) = race_ok([ready(Err("a")), ready(Ok(4)), ready(Err("b"))]).await.unwrap();
/// assert_eq!((value, errors), (4, vec!["a"]));
/// # });
/// ```
pub fn race_ok<I>(futures: I) -> RaceOk<I::Item, I::IntoIter>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    RaceOk { core: RaceOkCore::new(futures) }
}

/// Like [`race_ok`], but goes past only the errors `accept` returns `true` for: any other
/// error ends the race at once (every other future is dropped) and is returned in
/// [`RaceOkError::Rejected`] with the errors passed before it.
///
/// For example: try mirrors until one answers, going past timeouts and refusals but not
/// past an authentication failure, which every mirror would repeat.
///
/// # Cancel safety
///
/// Dropping the future drops every child; collected errors are lost.
///
/// # Errors
///
/// [`RaceOkError::Rejected`] for an error `accept` rejected, [`RaceOkError::AllFailed`] if
/// every future failed with accepted errors, [`RaceOkError::Empty`] at once for no futures.
///
/// # Panics
///
/// A panic of `accept` propagates to the caller; the children are dropped with the future.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{RaceOkError, race_ok_if};
/// use futures::future::ready;
///
/// let busy = race_ok_if([ready(Err("busy")), ready(Ok(1))], |e: &&str| *e == "busy");
/// assert_eq!(busy.await, Ok((1, vec!["busy"])));
///
/// let denied = race_ok_if([ready(Err("denied")), ready(Ok(1))], |e: &&str| *e == "busy");
/// assert_eq!(denied.await, Err(RaceOkError::Rejected { error: "denied", passed: vec![] }));
/// # });
/// ```
pub fn race_ok_if<I, P>(futures: I, accept: P) -> RaceOkIf<I::Item, P, I::IntoIter>
where
    I: IntoIterator,
    I::Item: TryFuture,
    P: FnMut(&<I::Item as TryFuture>::Error) -> bool,
{
    RaceOkIf { core: RaceOkCore::new(futures), accept }
}

/// Future returned by [`race`]; `I` is the iterator the futures are pulled from.
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
pub struct Race<F: TryFuture, I = std::vec::IntoIter<F>> {
    join: TryJoin<F, I>,
}

/// Future returned by [`race_ok`]; `I` is the iterator the futures are pulled from.
///
/// # Errors
///
/// [`RaceOkError::AllFailed`] with every error if no child succeeded,
/// [`RaceOkError::Empty`] for no children.
///
/// # Cancel safety
///
/// Dropping it drops every child; collected errors are lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RaceOk<F: TryFuture, I = std::vec::IntoIter<F>> {
    core: RaceOkCore<F, I>,
}

/// Future returned by [`race_ok_if`]; `I` is the iterator the futures are pulled from.
///
/// # Errors
///
/// [`RaceOkError::Rejected`], [`RaceOkError::AllFailed`] or [`RaceOkError::Empty`], as
/// [`race_ok_if`] says.
///
/// # Cancel safety
///
/// Dropping it drops every child; collected errors are lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RaceOkIf<F: TryFuture, P, I = std::vec::IntoIter<F>> {
    core: RaceOkCore<F, I>,
    accept: P,
}

/// The output of `race_ok` (`R` = `Infallible`) and `race_ok_if` (`R` = the error).
type RaceOkOutput<F, R> = Result<
    (<F as TryFuture>::Ok, Vec<<F as TryFuture>::Error>),
    RaceOkError<<F as TryFuture>::Error, R>,
>;

/// What `race_ok` and `race_ok_if` share.
struct RaceOkCore<F: TryFuture, I> {
    join: TryJoin<F, I>,
    errors: Vec<F::Error>,
}

impl<F: TryFuture, I: Iterator<Item = F>> RaceOkCore<F, I> {
    fn new(futures: impl IntoIterator<IntoIter = I>) -> Self {
        let futures = futures.into_iter().map(TryFutureExt::into_future as fn(F) -> _);
        Self { join: Join::new(futures), errors: Vec::new() }
    }

    /// The winner, or why there is none (a rejected error, if `accept` rejected one).
    fn poll<R>(
        &mut self,
        cx: &Context<'_>,
        mut accept: impl FnMut(F::Error) -> Result<F::Error, R>,
    ) -> Poll<RaceOkOutput<F, R>> {
        let mut pass = self.join.begin(cx);
        loop {
            match self.join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) if self.join.total() == 0 => {
                    return Poll::Ready(Err(RaceOkError::Empty));
                }
                Poll::Ready(None) => {
                    return Poll::Ready(Err(RaceOkError::AllFailed(std::mem::take(
                        &mut self.errors,
                    ))));
                }
                Poll::Ready(Some((_, Err(error)))) => match accept(error) {
                    Ok(error) => self.errors.push(error),
                    Err(error) => {
                        self.join.clear();
                        let passed = std::mem::take(&mut self.errors);
                        return Poll::Ready(Err(RaceOkError::Rejected { error, passed }));
                    }
                },
                Poll::Ready(Some((_, Ok(value)))) => {
                    self.join.clear();
                    return Poll::Ready(Ok((value, std::mem::take(&mut self.errors))));
                }
            }
        }
    }
}

// Children are boxed; nothing is pinned in place.
impl<F: TryFuture, I> Unpin for Race<F, I> {}
impl<F: TryFuture, I> Unpin for RaceOk<F, I> {}
impl<F: TryFuture, P, I> Unpin for RaceOkIf<F, P, I> {}

impl<F: TryFuture, I: Iterator<Item = F>> Future for Race<F, I> {
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

impl<F: TryFuture, I: Iterator<Item = F>> Future for RaceOk<F, I> {
    type Output = Result<(F::Ok, Vec<F::Error>), RaceOkError<F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().core.poll(cx, Ok::<_, Infallible>)
    }
}

impl<F, P, I> Future for RaceOkIf<F, P, I>
where
    F: TryFuture,
    P: FnMut(&F::Error) -> bool,
    I: Iterator<Item = F>,
{
    type Output = Result<(F::Ok, Vec<F::Error>), RaceOkError<F::Error, F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let accept = &mut this.accept;
        this.core.poll(cx, |error| if accept(&error) { Ok(error) } else { Err(error) })
    }
}

impl<F: TryFuture, I> fmt::Debug for Race<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race").field("join", &self.join).finish()
    }
}

impl<F: TryFuture, I> fmt::Debug for RaceOk<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceOk")
            .field("join", &self.core.join)
            .field("errors", &self.core.errors.len())
            .finish()
    }
}

impl<F: TryFuture, P, I> fmt::Debug for RaceOkIf<F, P, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceOkIf")
            .field("join", &self.core.join)
            .field("errors", &self.core.errors.len())
            .finish_non_exhaustive()
    }
}
