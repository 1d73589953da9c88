use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use crate::join::Join;
use crate::limit::Limit;

/// Runs the futures concurrently and yields each output as soon as it is ready, in
/// completion order, with the future's input index.
///
/// Dropping the stream drops every future that has not finished.
///
/// # Cancel safety
///
/// Dropping the stream, or a `next()` on it, loses no output: an output is taken from its
/// child only when it is yielded.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::as_completed;
/// use futures::StreamExt;
///
/// let futures = [7, 8].map(|n| async move { n });
/// let outputs: Vec<(usize, u8)> = as_completed(futures).collect().await;
/// assert_eq!(outputs.len(), 2);
/// # });
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted { join: Join::new(futures) }
}

pub(crate) fn as_completed_limited<I>(futures: I, limit: Limit) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let mut join = Join::new(futures);
    join.set_limit(limit.get());
    AsCompleted { join }
}

/// Stream returned by [`as_completed`] and [`Limit::as_completed`].
///
/// # Cancel safety
///
/// Dropping it drops every unfinished child.
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F: Future> {
    join: Join<F>,
}

// Children are boxed; nothing is pinned in place.
impl<F: Future> Unpin for AsCompleted<F> {}

impl<F: Future> Stream for AsCompleted<F> {
    type Item = (usize, F::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let join = &mut self.get_mut().join;
        let mut pass = join.begin(cx);
        join.poll_next(&mut pass)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.join.remaining();
        (remaining, Some(remaining))
    }
}

impl<F: Future> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("join", &self.join).finish()
    }
}
