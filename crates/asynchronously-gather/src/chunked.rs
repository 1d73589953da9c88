//! Many futures as chunks of at most [`CHUNK`] futures: each chunk keeps its futures inline
//! in one pinned allocation (futures' `TryJoinAll`/`JoinAll`, which take this path up to 30
//! futures), and the chunks are [`Children`], polled only when woken.
//!
//! We forbid `unsafe`, and pinning futures inline in a buffer needs it; futures' small join
//! path does exactly that, is audited, and polls at most [`CHUNK`] futures per wake-up, so
//! the whole stays prompt at any size while costing a few allocations per chunk instead of
//! one per future.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

use futures::TryFuture;
use futures::future::{JoinAll, TryJoinAll, join_all, try_join_all};

use crate::children::Children;
use crate::join::finished;

/// Futures per chunk: futures' small-join threshold.
pub(crate) const CHUNK: usize = 30;

/// Whether an iterator is known to hold at most [`CHUNK`] futures.
pub(crate) fn fits_one_chunk(iter: &impl Iterator) -> bool {
    matches!(iter.size_hint().1, Some(max) if max <= CHUNK)
}

/// Splits `futures` into chunks of at most [`CHUNK`], each joined by `join`, and returns the
/// chunks with one empty result slot per chunk.
fn split<I: Iterator, J: Future, T>(
    futures: I,
    mut join: impl FnMut(std::iter::Take<&mut std::iter::Peekable<I>>) -> J,
) -> (Children<J>, Vec<Option<Vec<T>>>) {
    let mut futures = futures.peekable();
    let mut chunks = Children::with_capacity(futures.size_hint().0.div_ceil(CHUNK));
    let mut n_chunks = 0;
    while futures.peek().is_some() {
        chunks.push(n_chunks, Box::pin(join(futures.by_ref().take(CHUNK))));
        n_chunks += 1;
    }
    let mut slots = Vec::with_capacity(n_chunks);
    slots.resize_with(n_chunks, || None);
    (chunks, slots)
}

/// Joins the finished chunks' results, in chunk order, into one `Vec` of `total` items.
fn concat<T>(slots: Vec<Option<Vec<T>>>, total: usize) -> Vec<T> {
    let mut all = Vec::with_capacity(total);
    for items in slots.into_iter().map(finished) {
        all.extend(items);
    }
    all
}

/// A strict join of many futures: values in order, or the first error after every other
/// future was dropped.
pub(crate) struct TryChunks<F: TryFuture> {
    chunks: Children<TryJoinAll<F>>,
    values: Vec<Option<Vec<F::Ok>>>,
    total: usize,
}

impl<F: TryFuture> TryChunks<F> {
    pub(crate) fn new(futures: impl Iterator<Item = F>) -> Self {
        let (chunks, values) = split(futures, |chunk| try_join_all(chunk));
        Self { chunks, values, total: 0 }
    }

    pub(crate) fn poll(&mut self, cx: &Context<'_>) -> Poll<Result<Vec<F::Ok>, F::Error>> {
        let mut pass = self.chunks.begin(cx);
        loop {
            match self.chunks.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((index, Ok(values)))) => {
                    self.total += values.len();
                    self.values[index] = Some(values);
                }
                Poll::Ready(Some((_, Err(error)))) => {
                    self.chunks.clear();
                    self.values = Vec::new();
                    return Poll::Ready(Err(error));
                }
                Poll::Ready(None) => {
                    return Poll::Ready(Ok(concat(std::mem::take(&mut self.values), self.total)));
                }
            }
        }
    }
}

impl<F: TryFuture> fmt::Debug for TryChunks<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryChunks").field("running_chunks", &self.chunks.len()).finish()
    }
}

/// A settled join of many futures: every output, in order.
pub(crate) struct Chunks<F: Future> {
    chunks: Children<JoinAll<F>>,
    outputs: Vec<Option<Vec<F::Output>>>,
    total: usize,
}

impl<F: Future> Chunks<F> {
    pub(crate) fn new(futures: impl Iterator<Item = F>) -> Self {
        let (chunks, outputs) = split(futures, |chunk| join_all(chunk));
        Self { chunks, outputs, total: 0 }
    }

    pub(crate) fn poll(&mut self, cx: &Context<'_>) -> Poll<Vec<F::Output>> {
        let mut pass = self.chunks.begin(cx);
        loop {
            match self.chunks.poll_next(&mut pass) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some((index, outputs))) => {
                    self.total += outputs.len();
                    self.outputs[index] = Some(outputs);
                }
                Poll::Ready(None) => {
                    return Poll::Ready(concat(std::mem::take(&mut self.outputs), self.total));
                }
            }
        }
    }
}

impl<F: Future> fmt::Debug for Chunks<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunks").field("running_chunks", &self.chunks.len()).finish()
    }
}
