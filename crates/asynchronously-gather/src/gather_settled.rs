use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{JoinAll, join_all};
use pin_project::pin_project;

use crate::join::{Join, finished, fits_small, store};
use crate::limit::Limit;

/// Runs every future to completion and returns every output, in input order.
///
/// Nothing is cancelled: a failing future (its output a `Result::Err`) is just one more
/// output. This is aiotools' `gather_safe` and futures' `join_all`, prompt at any size.
///
/// # Cancel safety
///
/// Dropping the future drops every unfinished child; finished outputs are lost.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::gather_settled;
///
/// let results = [Ok(3), Err("down"), Ok(1)];
/// let outputs = gather_settled(results.map(|result| async move { result })).await;
/// assert_eq!(outputs, [Ok(3), Err("down"), Ok(1)]);
/// # });
/// ```
pub fn gather_settled<I>(futures: I) -> GatherSettled<I::Item, I::IntoIter>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures = futures.into_iter();
    if fits_small(&futures) {
        return GatherSettled { kind: Kind::Small(join_all(futures)) };
    }
    many(futures, None)
}

#[cold]
#[inline(never)]
fn many<F: Future, I: Iterator<Item = F>>(futures: I, limit: Option<Limit>) -> GatherSettled<F, I> {
    let mut join = Join::new(futures);
    if let Some(limit) = limit {
        join.set_limit(limit.get());
    }
    GatherSettled { kind: Kind::Many(Box::new(Settled { join, outputs: Vec::new() })) }
}

// The limited form, beside the unlimited one.
impl Limit {
    /// [`gather_settled`](crate::gather_settled) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    ///
    /// let outputs = Limit::new(1)?.gather_settled([1, 2].map(|n| async move { n })).await;
    /// assert_eq!(outputs, [1, 2]);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn gather_settled<I>(self, futures: I) -> GatherSettled<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Future,
    {
        many(futures.into_iter(), Some(self))
    }
}

/// Future returned by [`gather_settled`] and [`Limit::gather_settled`]; `I` is the iterator
/// the futures are pulled from.
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
pub struct GatherSettled<F: Future, I = std::vec::IntoIter<F>> {
    #[pin]
    kind: Kind<F, I>,
}

#[pin_project(project = KindProj)]
enum Kind<F: Future, I> {
    Small(#[pin] JoinAll<F>),
    Many(Box<Settled<F, I>>),
}

struct Settled<F: Future, I> {
    join: Join<F, I>,
    outputs: Vec<Option<F::Output>>,
}

impl<F: Future, I: Iterator<Item = F>> Future for GatherSettled<F, I> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Small(join) => join.poll(cx),
            KindProj::Many(settled) => settled.poll(cx),
        }
    }
}

impl<F: Future, I: Iterator<Item = F>> Settled<F, I> {
    #[inline(never)]
    fn poll(&mut self, cx: &Context<'_>) -> Poll<Vec<F::Output>> {
        let Self { join, outputs } = self;
        let mut pass = join.begin(cx);
        if outputs.capacity() == 0 {
            outputs.reserve(join.expected());
        }
        loop {
            match join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((index, output))) => store(outputs, index, output),
                Poll::Ready(None) => {
                    let mut outputs = std::mem::take(outputs);
                    outputs.resize_with(join.total(), || None);
                    return Poll::Ready(outputs.into_iter().map(finished).collect());
                }
            }
        }
    }
}

impl<F: Future> FromIterator<F> for GatherSettled<F> {
    /// [`gather_settled`] of the collected futures.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::GatherSettled;
    ///
    /// let all: GatherSettled<_> = (1..=3).map(|n| async move { n }).collect();
    /// assert_eq!(all.await, [1, 2, 3]);
    /// # });
    /// ```
    fn from_iter<T: IntoIterator<Item = F>>(futures: T) -> Self {
        gather_settled(futures.into_iter().collect::<Vec<_>>())
    }
}

impl<F: Future, I> fmt::Debug for GatherSettled<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("GatherSettled");
        match &self.kind {
            Kind::Small(_) => debug.field("engine", &"small"),
            Kind::Many(settled) => debug.field("engine", &settled.join),
        };
        debug.finish_non_exhaustive()
    }
}
