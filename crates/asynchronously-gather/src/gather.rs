use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::{IntoFuture, TryFutureExt, TryJoinAll, try_join_all};
use pin_project::pin_project;

use crate::join::{Join, TryJoin, finished, fits_small, store};
use crate::limit::Limit;

/// Runs every future concurrently and returns their values in input order, or the first
/// error, after every other future was dropped.
///
/// This is the strict gather: the first child to fail cancels (drops) all its siblings
/// *before* its error is returned, unchanged. A wake-up polls only the woken child, so the
/// error of the 100,000th future returns as promptly as that of the first. Up to 30
/// futures it is futures' `try_join_all` itself (which polls all of them on each wake-up,
/// the fastest choice for so few); above, `try_join_all` switches to `FuturesOrdered`,
/// which is also wake-driven but fails late: it returns an error only once every future
/// before it in input order has finished. To run only a few at a time, use
/// [`Limit::gather`].
///
/// # Cancel safety
///
/// Dropping the future drops every child that has not finished; finished values are lost.
///
/// # Errors
///
/// The future's output is the first error of a child, unchanged.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::gather;
///
/// let squares = gather((1..=3).map(|n| async move { Ok::<_, String>(n * n) })).await?;
/// assert_eq!(squares, [1, 4, 9]);
/// # Ok::<(), String>(())
/// # }).unwrap();
/// ```
pub fn gather<I>(futures: I) -> Gather<I::Item, I::IntoIter>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    let futures = futures.into_iter();
    if fits_small(&futures) {
        return Gather { kind: Kind::Small(try_join_all(futures)) };
    }
    many(futures, None)
}

/// Kept out of line so the small path inlines like `try_join_all` itself.
#[cold]
#[inline(never)]
fn many<F: TryFuture, I: Iterator<Item = F>>(futures: I, limit: Option<Limit>) -> Gather<F, I> {
    let mut join = Join::new(futures.map(TryFutureExt::into_future as fn(F) -> IntoFuture<F>));
    if let Some(limit) = limit {
        join.set_limit(limit.get());
    }
    Gather { kind: Kind::Many(Box::new(Strict { join, values: Vec::new() })) }
}

// The limited form, beside the unlimited one.
impl Limit {
    /// [`gather`](crate::gather()) with this limit.
    ///
    /// # Examples
    ///
    /// See [`Limit`].
    pub fn gather<I>(self, futures: I) -> Gather<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: TryFuture,
    {
        many(futures.into_iter(), Some(self))
    }
}

/// Future returned by [`gather`] and [`Limit::gather`]; `I` is the iterator the futures are
/// pulled from.
///
/// # Errors
///
/// The first error of a child, unchanged, after every other child was dropped.
///
/// # Panics
///
/// A child's panic propagates to the caller. Drop the future then: polled again, it may
/// panic again, and it never returns a result short of a value.
///
/// # Cancel safety
///
/// Dropping it drops every unfinished child and the iterator.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct Gather<F: TryFuture, I = std::vec::IntoIter<F>> {
    #[pin]
    kind: Kind<F, I>,
}

#[pin_project(project = KindProj)]
enum Kind<F: TryFuture, I> {
    /// Up to 30 futures, inline in one pinned allocation, all polled on each wake-up.
    Small(#[pin] TryJoinAll<F>),
    /// More, or under a limit: a child per future with a waker of its own (see
    /// `join.rs`), pulled from the iterator as places free up. Boxed so that the common small gather stays as small to
    /// move as `try_join_all`.
    Many(Box<Strict<F, I>>),
}

struct Strict<F: TryFuture, I> {
    join: TryJoin<F, I>,
    values: Vec<Option<F::Ok>>,
}

impl<F: TryFuture, I: Iterator<Item = F>> Future for Gather<F, I> {
    type Output = Result<Vec<F::Ok>, F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The large engine stays out of line, so polling a small gather costs what polling
        // `try_join_all` does.
        match self.project().kind.project() {
            KindProj::Small(join) => join.poll(cx),
            KindProj::Many(strict) => strict.poll(cx),
        }
    }
}

impl<F: TryFuture, I: Iterator<Item = F>> Strict<F, I> {
    #[inline(never)]
    fn poll(&mut self, cx: &Context<'_>) -> Poll<Result<Vec<F::Ok>, F::Error>> {
        let Self { join, values } = self;
        let mut pass = join.begin(cx);
        if values.capacity() == 0 {
            values.reserve(join.expected());
        }
        loop {
            match join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((index, Ok(value)))) => store(values, index, value),
                Poll::Ready(Some((_, Err(error)))) => {
                    join.clear();
                    *values = Vec::new();
                    return Poll::Ready(Err(error));
                }
                Poll::Ready(None) => {
                    let mut values = std::mem::take(values);
                    values.resize_with(join.total(), || None);
                    return Poll::Ready(Ok(values.into_iter().map(finished).collect()));
                }
            }
        }
    }
}

impl<F: TryFuture> FromIterator<F> for Gather<F> {
    /// [`gather`] of the collected futures: `futures.into_iter().collect::<Gather<_>>()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Gather;
    ///
    /// let all: Gather<_> = (1..=3).map(|n| async move { Ok::<_, ()>(n) }).collect();
    /// assert_eq!(all.await, Ok(vec![1, 2, 3]));
    /// # });
    /// ```
    fn from_iter<T: IntoIterator<Item = F>>(futures: T) -> Self {
        gather(futures.into_iter().collect::<Vec<_>>())
    }
}

impl<F: TryFuture, I> fmt::Debug for Gather<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Gather");
        match &self.kind {
            Kind::Small(_) => debug.field("engine", &"small"),
            Kind::Many(strict) => debug.field("engine", &strict.join),
        };
        debug.finish_non_exhaustive()
    }
}
