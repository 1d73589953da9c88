use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::TryFutureExt;

use crate::join::{Join, TryJoin, finished, store};
use crate::limit::Limit;

/// Runs every future concurrently; errors the predicate accepts become per-slot values,
/// any other error cancels the rest and is returned.
///
/// This is miniasync's `return_exceptions`: `accept(&error)` returning `true` keeps the
/// error as that future's slot (`Err(error)` in the output) while the others continue;
/// `false` makes it fatal, exactly as in [`gather`](crate::gather()).
///
/// # Cancel safety
///
/// Dropping the future drops every unfinished child.
///
/// # Errors
///
/// The first error the predicate rejects, unchanged, after every other child was dropped.
///
/// # Panics
///
/// A panic of the predicate propagates to the caller; the children are dropped with the
/// future.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::gather_partial;
///
/// let outputs = gather_partial(
///     [Ok(1), Err("timeout")].map(|result| async move { result }),
///     |error: &&str| *error == "timeout",
/// )
/// .await?;
/// assert_eq!(outputs, [Ok(1), Err("timeout")]);
/// # Ok::<(), &str>(())
/// # }).unwrap();
/// ```
pub fn gather_partial<I, P>(futures: I, accept: P) -> GatherPartial<I::Item, P, I::IntoIter>
where
    I: IntoIterator,
    I::Item: TryFuture,
    P: FnMut(&<I::Item as TryFuture>::Error) -> bool,
{
    let futures = futures.into_iter().map(TryFutureExt::into_future as fn(I::Item) -> _);
    GatherPartial { join: Join::new(futures), outputs: Vec::new(), accept }
}

// The limited form, beside the unlimited one.
impl Limit {
    /// [`gather_partial`](crate::gather_partial) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    ///
    /// let futures = [Err("busy"), Ok(2)].map(|result| async move { result });
    /// let outputs = Limit::new(1)?.gather_partial(futures, |e: &&str| *e == "busy").await;
    /// assert_eq!(outputs, Ok(vec![Err("busy"), Ok(2)]));
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn gather_partial<I, P>(
        self,
        futures: I,
        accept: P,
    ) -> GatherPartial<I::Item, P, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: TryFuture,
        P: FnMut(&<I::Item as TryFuture>::Error) -> bool,
    {
        let mut gather = gather_partial(futures, accept);
        gather.join.set_limit(self.get());
        gather
    }
}

/// Future returned by [`gather_partial`] and [`Limit::gather_partial`]; `I` is the iterator
/// the futures are pulled from.
///
/// # Errors
///
/// The first error the predicate rejects, unchanged, after every other child was dropped.
///
/// # Panics
///
/// A panic of a child or of the predicate propagates to the caller. Drop the future after a
/// child's panic: polled again, it may panic again, and it never returns a result short of
/// a value.
///
/// # Cancel safety
///
/// Dropping it drops every unfinished child.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct GatherPartial<F: TryFuture, P, I = std::vec::IntoIter<F>> {
    join: TryJoin<F, I>,
    outputs: Vec<Option<Result<F::Ok, F::Error>>>,
    accept: P,
}

// Children are boxed and outputs are never pinned.
impl<F: TryFuture, P, I> Unpin for GatherPartial<F, P, I> {}

impl<F, P, I> Future for GatherPartial<F, P, I>
where
    F: TryFuture,
    P: FnMut(&F::Error) -> bool,
    I: Iterator<Item = F>,
{
    type Output = Result<Vec<Result<F::Ok, F::Error>>, F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut pass = this.join.begin(cx);
        if this.outputs.capacity() == 0 {
            this.outputs.reserve(this.join.expected());
        }
        loop {
            match this.join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((_, Err(error)))) if !(this.accept)(&error) => {
                    this.join.clear();
                    this.outputs = Vec::new();
                    return Poll::Ready(Err(error));
                }
                Poll::Ready(Some((index, output))) => store(&mut this.outputs, index, output),
                Poll::Ready(None) => {
                    let mut outputs = std::mem::take(&mut this.outputs);
                    outputs.resize_with(this.join.total(), || None);
                    return Poll::Ready(Ok(outputs.into_iter().map(finished).collect()));
                }
            }
        }
    }
}

impl<F: TryFuture, P, I> fmt::Debug for GatherPartial<F, P, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatherPartial").field("join", &self.join).finish_non_exhaustive()
    }
}
