use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;

use crate::join::{Join, Streamed};
use crate::limit::Limit;

/// Runs the futures a stream yields, each as soon as the stream yields it, and yields their
/// outputs as they complete, with each future's index in the stream.
///
/// This is [`as_completed`](crate::as_completed()) for futures that arrive over time (a
/// channel of jobs, a paginated listing) rather than from an iterator, and futures'
/// `FuturesUnordered` fed by a stream. It ends once the stream has ended and every future
/// finished. Every future the stream has ready is started at once (at most 1024 per poll,
/// then it lets the executor run), so a stream that is endless and always ready grows it
/// without bound: to run only a few at a time, use [`Limit::as_completed_stream`], the
/// equivalent of futures' `buffer_unordered`, which may be fed an endless stream.
///
/// # Cancel safety
///
/// Dropping the stream drops the source stream and every running future; outputs not
/// taken yet are lost. Between items nothing is lost: a finished output waits until the
/// next poll.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::as_completed_stream;
/// use futures::StreamExt;
///
/// let jobs = futures::stream::iter(1..=3).map(|n| async move { n * 10 });
/// let mut outputs: Vec<(usize, i32)> = as_completed_stream(jobs).collect().await;
/// outputs.sort();
/// assert_eq!(outputs, [(0, 10), (1, 20), (2, 30)]);
/// # });
/// ```
pub fn as_completed_stream<S>(stream: S) -> AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    AsCompletedStream { join: Join::new(Streamed(Box::pin(stream))), terminated: false }
}

// The limited forms, beside the unlimited one.
impl Limit {
    /// [`as_completed_stream`] with this limit: the stream is polled for a new future only
    /// while fewer than the limit run, so an endless stream is fine and memory stays
    /// O(limit). Futures' `buffer_unordered`, on the engine of the other limited joins.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    /// use futures::StreamExt;
    ///
    /// let endless = futures::stream::iter(0..).map(|n| async move { n * 2 });
    /// let first: Vec<(usize, u64)> = Limit::new(4)?.as_completed_stream(endless).take(3).collect().await;
    /// assert_eq!(first.len(), 3);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn as_completed_stream<S>(self, stream: S) -> AsCompletedStream<S>
    where
        S: Stream,
        S::Item: Future,
    {
        let mut join = Join::new(Streamed(Box::pin(stream)));
        join.set_limit(self.get());
        AsCompletedStream { join, terminated: false }
    }

    /// Runs up to this many of the futures a stream yields at once, and yields their
    /// outputs in the stream's order: futures' `buffered`.
    ///
    /// Outputs that finished ahead of an earlier, slower future wait for it, and count
    /// against the limit while they wait, so one slow future cannot make the stream buffer
    /// more than the limit of outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    /// use futures::StreamExt;
    ///
    /// let pages = futures::stream::iter(1..=5).map(|page| async move { format!("page {page}") });
    /// let in_order: Vec<String> = Limit::new(2)?.buffered(pages).collect().await;
    /// assert_eq!(in_order[0], "page 1");
    /// assert_eq!(in_order[4], "page 5");
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn buffered<S>(self, stream: S) -> Buffered<S>
    where
        S: Stream,
        S::Item: Future,
    {
        let mut join = Join::new(Streamed(Box::pin(stream)));
        join.set_limit(self.get());
        Buffered { join, window: VecDeque::new(), held: 0, next: 0, terminated: false }
    }
}

/// Stream returned by [`as_completed_stream`] and [`Limit::as_completed_stream`]: the
/// outputs of a stream's futures as they complete, each with its index in the stream.
///
/// # Panics
///
/// A future's panic propagates to the caller; that future is dropped, the others go on.
///
/// # Cancel safety
///
/// Dropping it drops the source stream and every running future.
#[must_use = "streams do nothing unless polled"]
pub struct AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    join: Join<S::Item, Streamed<S>>,
    terminated: bool,
}

impl<S> AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Futures running now.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::as_completed_stream;
    ///
    /// let stream = as_completed_stream(futures::stream::iter([async { 1 }]));
    /// assert_eq!(stream.running(), 0, "nothing starts before the first poll");
    /// ```
    pub fn running(&self) -> usize {
        self.join.running()
    }
}

impl<S> Stream for AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    type Item = (usize, <S::Item as Future>::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.terminated {
            return Poll::Ready(None);
        }
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

impl<S> FusedStream for AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<S> fmt::Debug for AsCompletedStream<S>
where
    S: Stream,
    S::Item: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompletedStream").field("join", &self.join).finish()
    }
}

const PANICKED_EARLIER: &str = "a future of this stream panicked in an earlier poll, and its \
    output can never come; drop the stream instead of polling it again";

/// Stream returned by [`Limit::buffered`]: the outputs of a stream's futures, in the
/// stream's order, at most the limit of futures running or waiting to be yielded.
///
/// # Panics
///
/// A future's panic propagates to the caller, and the stream cannot go on past that
/// future's place: polled again, it panics (once nothing else can make progress) rather
/// than skip an output or wait for it forever.
///
/// # Cancel safety
///
/// Dropping it drops the source stream, every running future and the outputs waiting for
/// an earlier one.
#[must_use = "streams do nothing unless polled"]
pub struct Buffered<S>
where
    S: Stream,
    S::Item: Future,
{
    join: Join<S::Item, Streamed<S>>,
    /// Outputs from index `next` on; `None` where the future has not finished.
    window: VecDeque<Option<<S::Item as Future>::Output>>,
    /// The `Some` entries of `window`.
    held: usize,
    next: usize,
    terminated: bool,
}

// The stream and the futures are boxed, and outputs are never pinned.
impl<S> Unpin for Buffered<S>
where
    S: Stream,
    S::Item: Future,
{
}

impl<S> Stream for Buffered<S>
where
    S: Stream,
    S::Item: Future,
{
    type Item = <S::Item as Future>::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.terminated {
            return Poll::Ready(None);
        }
        let mut pass = this.join.begin(cx);
        loop {
            if let Some(Some(_)) = this.window.front() {
                let output = this.window.pop_front().flatten();
                this.held -= 1;
                this.next += 1;
                this.join.set_held(this.held);
                return Poll::Ready(output);
            }
            this.join.set_held(this.held);
            match this.join.poll_next(&mut pass) {
                Poll::Ready(Some((index, output))) => {
                    let at = index - this.next;
                    if this.window.len() <= at {
                        this.window.resize_with(at + 1, || None);
                    }
                    this.window[at] = Some(output);
                    this.held += 1;
                }
                Poll::Ready(None) => {
                    // Every future finished, so every output was handed out, unless a
                    // future panicked in an earlier poll and its output never came.
                    assert_eq!(this.next, this.join.total(), "{PANICKED_EARLIER}");
                    this.terminated = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    // The next output's future started, has not finished, and nothing runs
                    // any more: it panicked. Waiting would hang.
                    assert!(
                        this.next == this.join.total() || this.join.running() > 0,
                        "{PANICKED_EARLIER}"
                    );
                    return Poll::Pending;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.join.size_hint();
        (low.saturating_add(self.held), high.and_then(|high| high.checked_add(self.held)))
    }
}

impl<S> FusedStream for Buffered<S>
where
    S: Stream,
    S::Item: Future,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<S> fmt::Debug for Buffered<S>
where
    S: Stream,
    S::Item: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffered")
            .field("join", &self.join)
            .field("waiting_outputs", &self.held)
            .finish()
    }
}
