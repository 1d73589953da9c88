//! Admission of futures from an iterator into [`Children`], under an optional concurrency
//! limit: the iterator is pulled only as places free up.

use std::fmt;
use std::future::Future;
use std::iter::Map;
use std::num::NonZeroUsize;
use std::task::{Context, Poll};

use futures::future::IntoFuture;

use crate::children::{Children, Pass};

/// Up to this many futures (known from the iterator's size hint), a gather is futures'
/// `try_join_all` / `join_all`, which keep them inline and poll all of them on each wake-up:
/// for so few, that beats the bookkeeping of a waker per child.
const SMALL: usize = 30;

/// Whether `futures` is known to hold at most [`SMALL`] futures.
#[inline]
pub(crate) fn fits_small(futures: &impl Iterator) -> bool {
    matches!(futures.size_hint().1, Some(max) if max <= SMALL)
}

/// The output stored for a child, which is missing only if the child panicked in an earlier
/// poll (that panic reached the caller, and the child was dropped).
///
/// A join polled again after that panics rather than return a result short of a value.
pub(crate) fn finished<T>(output: Option<T>) -> T {
    output.expect("a child of this join panicked in an earlier poll; drop the join instead of polling it again")
}

/// Stores `value` at `index`, growing `outputs` as the source is pulled.
pub(crate) fn store<T>(outputs: &mut Vec<Option<T>>, index: usize, value: T) {
    if index >= outputs.len() {
        outputs.resize_with(index + 1, || None);
    }
    outputs[index] = Some(value);
}

/// A join of fallible futures, each turned into a future of its `Result`.
pub(crate) type TryJoin<F, I> = Join<IntoFuture<F>, Map<I, fn(F) -> IntoFuture<F>>>;

/// Futures pulled from an iterator and run as children, at most `limit` at a time, keyed by
/// the order they were pulled in.
pub(crate) struct Join<F: Future, I> {
    children: Children<F>,
    /// `None` once the iterator returned `None` (or the join was cleared).
    source: Option<I>,
    next_key: usize,
    limit: usize,
}

impl<F: Future, I: Iterator<Item = F>> Join<F, I> {
    pub(crate) fn new(futures: impl IntoIterator<IntoIter = I>) -> Self {
        Self {
            children: Children::with_capacity(0),
            source: Some(futures.into_iter()),
            next_key: 0,
            limit: usize::MAX,
        }
    }

    /// A join with no source: children come from [`push`](Join::push) only.
    pub(crate) fn empty() -> Self {
        Self { children: Children::with_capacity(0), source: None, next_key: 0, limit: usize::MAX }
    }

    /// How many futures were pulled (or pushed) so far.
    pub(crate) fn total(&self) -> usize {
        self.next_key
    }

    pub(crate) fn set_limit(&mut self, limit: NonZeroUsize) {
        self.limit = limit.get();
    }

    /// Adds a future past the limit's accounting: it runs at once, with the next key.
    pub(crate) fn push(&mut self, future: F) {
        self.children.push(self.next_key, Box::pin(future));
        self.next_key += 1;
    }

    /// Starts one poll of the owner, admitting children up to the limit.
    pub(crate) fn begin(&mut self, cx: &Context<'_>) -> Pass {
        if self.next_key == 0 {
            if let Some(source) = &self.source {
                // An endless iterator hints `usize::MAX`: reserve no more than a sane batch.
                let hint = source.size_hint().0.min(self.limit).min(1 << 20);
                self.children.reserve(hint);
            }
        }
        while self.children.len() < self.limit && self.admit_one() {}
        self.children.begin(cx)
    }

    fn admit_one(&mut self) -> bool {
        let Some(source) = &mut self.source else { return false };
        match source.next() {
            Some(future) => {
                self.push(future);
                true
            }
            None => {
                self.source = None;
                false
            }
        }
    }

    /// The next finished child (its key and output), `Ready(None)` once the source is
    /// exhausted and every child finished.
    pub(crate) fn poll_next(&mut self, pass: &mut Pass) -> Poll<Option<(usize, F::Output)>> {
        loop {
            match self.children.poll_next(pass) {
                Poll::Ready(Some(done)) => {
                    // A freed place goes to the next waiting future, polled within this pass.
                    if self.children.len() < self.limit {
                        self.admit_one();
                    }
                    return Poll::Ready(Some(done));
                }
                // Every child finished, but the source may still hold futures (a limit of
                // children that all finished at once in a pass that admitted no more).
                Poll::Ready(None) if self.admit_one() => {}
                other => return other,
            }
        }
    }

    /// Drops every running future and the source.
    pub(crate) fn clear(&mut self) {
        self.children.clear();
        self.source = None;
    }

    /// Children running now.
    pub(crate) fn running(&self) -> usize {
        self.children.len()
    }

    /// Whether the source has been exhausted (no future waits to be admitted).
    pub(crate) fn source_done(&self) -> bool {
        self.source.is_none()
    }

    /// Bounds on the children not finished yet, running or waiting in the source.
    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        let running = self.children.len();
        match &self.source {
            None => (running, Some(running)),
            Some(source) => {
                let (low, high) = source.size_hint();
                (running.saturating_add(low), high.and_then(|high| high.checked_add(running)))
            }
        }
    }
}

impl<F: Future, I> fmt::Debug for Join<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("started", &self.next_key)
            .field("running", &self.children.len())
            .field("source_done", &self.source.is_none())
            .finish()
    }
}
