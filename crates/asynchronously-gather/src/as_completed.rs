use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;

use crate::join::Join;
use crate::limit::Limit;

/// Runs the futures concurrently and yields each output as soon as it is ready, in
/// completion order, with the future's input index.
///
/// The iterator is pulled on the first poll (under a [`Limit`], only as places free up, so
/// it may be endless), and each finished future is dropped at once, before its output is
/// yielded. More futures can be added with [`AsCompleted::push`]. Dropping the stream drops
/// every future that has not finished.
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
/// use asynchronously::gather::as_completed;
/// use futures::StreamExt;
///
/// let futures = [7, 8].map(|n| async move { n });
/// let outputs: Vec<(usize, u8)> = as_completed(futures).collect().await;
/// assert_eq!(outputs.len(), 2);
/// # });
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item, I::IntoIter>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted { join: Join::new(futures.into_iter()), terminated: false }
}

// The limited form, beside the unlimited one.
impl Limit {
    /// [`as_completed`](crate::as_completed) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    /// use futures::StreamExt;
    ///
    /// let stream = Limit::new(1)?.as_completed(['a', 'b'].map(|c| async move { c }));
    /// assert_eq!(stream.collect::<Vec<_>>().await, [(0, 'a'), (1, 'b')]);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn as_completed<I>(self, futures: I) -> AsCompleted<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Future,
    {
        let mut join = Join::new(futures.into_iter());
        join.set_limit(self.get());
        AsCompleted { join, terminated: false }
    }
}

/// Stream returned by [`as_completed`] and [`Limit::as_completed`], and a set of futures
/// that grows with [`push`](AsCompleted::push) (futures' `FuturesUnordered`); `I` is the
/// iterator the futures are pulled from.
///
/// Each item is the output with the future's index: its position in the iterator, then
/// counting on through the pushed futures.
///
/// # Cancel safety
///
/// Dropping it drops every unfinished child and the iterator.
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F: Future, I = std::vec::IntoIter<F>> {
    join: Join<F, I>,
    terminated: bool,
}

impl<F: Future> AsCompleted<F> {
    /// An empty set, to fill with [`push`](AsCompleted::push).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::AsCompleted;
    /// use futures::StreamExt;
    ///
    /// let mut set = AsCompleted::new();
    /// assert!(set.is_empty());
    /// set.push(std::future::ready(1));
    /// set.push(std::future::ready(2));
    /// assert_eq!(set.len(), 2);
    /// let mut outputs: Vec<_> = set.map(|(_, n)| n).collect().await;
    /// outputs.sort();
    /// assert_eq!(outputs, [1, 2]);
    /// # });
    /// ```
    pub fn new() -> Self {
        Self { join: Join::empty(), terminated: false }
    }
}

impl<F: Future> Default for AsCompleted<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Future, I: Iterator<Item = F>> AsCompleted<F, I> {
    /// Adds a future; it starts on the next poll, whatever the [`Limit`] (which governs
    /// only the futures pulled from the iterator).
    ///
    /// A stream that had ended yields again after a push.
    ///
    /// # Examples
    ///
    /// See [`AsCompleted::new`].
    pub fn push(&mut self, future: F) {
        self.join.push(future);
        self.terminated = false;
    }

    /// Futures running now (started and not finished); those still in the iterator are not
    /// counted, see [`Stream::size_hint`] for them.
    ///
    /// # Examples
    ///
    /// See [`AsCompleted::new`].
    pub fn len(&self) -> usize {
        self.join.running()
    }

    /// Whether nothing runs now and the iterator is exhausted: the next poll ends the
    /// stream, unless a future is pushed first.
    ///
    /// # Examples
    ///
    /// See [`AsCompleted::new`].
    pub fn is_empty(&self) -> bool {
        self.join.running() == 0 && self.join.source_done()
    }
}

// Children are boxed; nothing is pinned in place.
impl<F: Future, I> Unpin for AsCompleted<F, I> {}

impl<F: Future, I: Iterator<Item = F>> Stream for AsCompleted<F, I> {
    type Item = (usize, F::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.join.poll_item(cx);
        if let Poll::Ready(None) = next {
            this.terminated = true;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.join.size_hint()
    }
}

impl<F: Future, I: Iterator<Item = F>> FusedStream for AsCompleted<F, I> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<F: Future> FromIterator<F> for AsCompleted<F> {
    /// [`as_completed`] of the collected futures.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::AsCompleted;
    /// use futures::StreamExt;
    ///
    /// let set: AsCompleted<_> = (0..3).map(|n| async move { n * 2 }).collect();
    /// assert_eq!(set.count().await, 3);
    /// # });
    /// ```
    fn from_iter<T: IntoIterator<Item = F>>(futures: T) -> Self {
        as_completed(futures.into_iter().collect::<Vec<_>>())
    }
}

impl<F: Future, I: Iterator<Item = F>> Extend<F> for AsCompleted<F, I> {
    fn extend<T: IntoIterator<Item = F>>(&mut self, futures: T) {
        for future in futures {
            self.push(future);
        }
    }
}

impl<F: Future, I> fmt::Debug for AsCompleted<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("join", &self.join).finish()
    }
}
