use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{JoinAll, join_all};
use pin_project::pin_project;

use crate::chunked::{Chunks, fits_one_chunk};
use crate::join::{Join, finished};
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
/// use asynchronously_gather::gather_settled;
///
/// let results = [Ok(3), Err("down"), Ok(1)];
/// let outputs = gather_settled(results.map(|result| async move { result })).await;
/// assert_eq!(outputs, [Ok(3), Err("down"), Ok(1)]);
/// # });
/// ```
pub fn gather_settled<I>(futures: I) -> GatherSettled<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures = futures.into_iter();
    let kind = if fits_one_chunk(&futures) {
        Kind::Single(join_all(futures))
    } else {
        Kind::Chunked(Chunks::new(futures))
    };
    GatherSettled { kind }
}

pub(crate) fn gather_settled_limited<I>(futures: I, limit: Limit) -> GatherSettled<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let mut join = Join::new(futures);
    join.set_limit(limit.get());
    GatherSettled { kind: Kind::Limited { join, outputs: Vec::new() } }
}

/// Future returned by [`gather_settled`] and [`Limit::gather_settled`].
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
pub struct GatherSettled<F: Future> {
    #[pin]
    kind: Kind<F>,
}

#[pin_project(project = KindProj)]
enum Kind<F: Future> {
    Single(#[pin] JoinAll<F>),
    Chunked(Chunks<F>),
    Limited { join: Join<F>, outputs: Vec<Option<F::Output>> },
}

impl<F: Future> Future for GatherSettled<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Single(join) => join.poll(cx),
            KindProj::Chunked(chunks) => chunks.poll(cx),
            KindProj::Limited { join, outputs } => {
                if outputs.len() != join.total() {
                    outputs.resize_with(join.total(), || None);
                }
                let mut pass = join.begin(cx);
                loop {
                    match join.poll_next(&mut pass) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some((index, output))) => outputs[index] = Some(output),
                        Poll::Ready(None) => {
                            let outputs = std::mem::take(outputs);
                            return Poll::Ready(outputs.into_iter().map(finished).collect());
                        }
                    }
                }
            }
        }
    }
}

impl<F: Future> fmt::Debug for GatherSettled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("GatherSettled");
        match &self.kind {
            Kind::Single(_) => debug.field("engine", &"single chunk"),
            Kind::Chunked(chunks) => debug.field("engine", chunks),
            Kind::Limited { join, .. } => debug.field("engine", join),
        };
        debug.finish_non_exhaustive()
    }
}
