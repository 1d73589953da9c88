use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::{IntoFuture, TryFutureExt, TryJoinAll, try_join_all};
use pin_project::pin_project;

use crate::chunked::{TryChunks, fits_one_chunk};
use crate::join::{Join, finished};
use crate::limit::Limit;

/// Runs every future concurrently and returns their values in input order, or the first
/// error, after every other future was dropped.
///
/// This is the strict gather: the first child to fail cancels (drops) all its siblings
/// *before* its error is returned, unchanged. A wake-up polls only the woken child's chunk
/// of at most 30 futures, so the error of the 1000th future returns as promptly as that of
/// the first, unlike `futures::future::try_join_all` above 30 futures (which also polls all
/// N futures on every wake-up). To run only a few at a time, use [`Limit::gather`].
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
/// use asynchronously_gather::gather;
///
/// let squares = gather((1..=3).map(|n| async move { Ok::<_, String>(n * n) })).await?;
/// assert_eq!(squares, [1, 4, 9]);
/// # Ok::<(), String>(())
/// # }).unwrap();
/// ```
pub fn gather<I>(futures: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    let futures = futures.into_iter();
    if !fits_one_chunk(&futures) {
        return chunked(futures);
    }
    Gather { kind: Kind::Single(try_join_all(futures)) }
}

/// Kept out of line so the small path inlines like `try_join_all` itself.
#[cold]
#[inline(never)]
fn chunked<F: TryFuture>(futures: impl Iterator<Item = F>) -> Gather<F> {
    Gather { kind: Kind::Chunked(Box::new(TryChunks::new(futures))) }
}

pub(crate) fn gather_limited<I>(futures: I, limit: Limit) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    let mut join = Join::new(futures.into_iter().map(TryFutureExt::into_future));
    join.set_limit(limit.get());
    Gather { kind: Kind::Limited(Box::new(Limited { join, values: Vec::new() })) }
}

/// Future returned by [`gather`] and [`Limit::gather`].
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
/// Dropping it drops every unfinished child.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct Gather<F: TryFuture> {
    #[pin]
    kind: Kind<F>,
}

#[pin_project(project = KindProj)]
enum Kind<F: TryFuture> {
    /// Up to 30 futures, inline in one pinned allocation, all polled on each wake-up.
    Single(#[pin] TryJoinAll<F>),
    /// More: chunks of 30, polled when woken. Boxed, like `Limited`, so that the common
    /// small gather stays as small to move as `try_join_all`.
    Chunked(Box<TryChunks<F>>),
    /// Under a concurrency limit: one child per future, admitted as places free up.
    Limited(Box<Limited<F>>),
}

struct Limited<F: TryFuture> {
    join: Join<IntoFuture<F>>,
    values: Vec<Option<F::Ok>>,
}

impl<F: TryFuture> Future for Gather<F> {
    type Output = Result<Vec<F::Ok>, F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The large engines stay out of line, so polling a small gather costs what polling
        // `try_join_all` does.
        match self.project().kind.project() {
            KindProj::Single(join) => join.poll(cx),
            KindProj::Chunked(chunks) => poll_chunked(chunks, cx),
            KindProj::Limited(limited) => limited.poll(cx),
        }
    }
}

#[inline(never)]
fn poll_chunked<F: TryFuture>(
    chunks: &mut TryChunks<F>,
    cx: &Context<'_>,
) -> Poll<Result<Vec<F::Ok>, F::Error>> {
    chunks.poll(cx)
}

impl<F: TryFuture> Limited<F> {
    #[inline(never)]
    fn poll(&mut self, cx: &Context<'_>) -> Poll<Result<Vec<F::Ok>, F::Error>> {
        let Self { join, values } = self;
        if values.len() != join.total() {
            values.resize_with(join.total(), || None);
        }
        let mut pass = join.begin(cx);
        loop {
            match join.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((index, Ok(value)))) => values[index] = Some(value),
                Poll::Ready(Some((_, Err(error)))) => {
                    join.clear();
                    *values = Vec::new();
                    return Poll::Ready(Err(error));
                }
                Poll::Ready(None) => {
                    let values = std::mem::take(values);
                    return Poll::Ready(Ok(values.into_iter().map(finished).collect()));
                }
            }
        }
    }
}

impl<F: TryFuture> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Gather");
        match &self.kind {
            Kind::Single(_) => debug.field("engine", &"single chunk"),
            Kind::Chunked(chunks) => debug.field("engine", chunks),
            Kind::Limited(limited) => debug.field("engine", &limited.join),
        };
        debug.finish_non_exhaustive()
    }
}
