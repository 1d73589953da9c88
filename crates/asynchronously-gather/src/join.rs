//! Admission of a fixed list of futures into [`Children`], under an optional concurrency limit.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::task::{Context, Poll};
use std::vec;

use crate::children::{Children, Pass};

/// The output stored for a child, which is missing only if the child panicked in an earlier
/// poll (that panic reached the caller, and the child was dropped).
///
/// A join polled again after that panics rather than return a result short of a value.
pub(crate) fn finished<T>(output: Option<T>) -> T {
    output.expect("a child of this join panicked in an earlier poll; drop the join instead of polling it again")
}

/// A fixed list of futures run as children, at most `limit` at a time, keyed by input index.
pub(crate) struct Join<F: Future> {
    children: Children<F>,
    backlog: vec::IntoIter<F>,
    next_key: usize,
    total: usize,
    limit: usize,
}

impl<F: Future> Join<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let backlog: Vec<F> = futures.into_iter().collect();
        let total = backlog.len();
        Self {
            children: Children::with_capacity(0),
            backlog: backlog.into_iter(),
            next_key: 0,
            total,
            limit: usize::MAX,
        }
    }

    /// How many futures were given.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn set_limit(&mut self, limit: NonZeroUsize) {
        self.limit = limit.get();
    }

    /// Starts one poll of the owner, admitting children up to the limit.
    pub(crate) fn begin(&mut self, cx: &Context<'_>) -> Pass {
        if self.next_key == 0 && self.total > 0 {
            let admit = self.limit.min(self.total);
            self.children.reserve(admit);
            if admit < self.total {
                self.children.reuse_slots();
            }
        }
        while self.children.len() < self.limit {
            if !self.admit_one() {
                break;
            }
        }
        self.children.begin(cx)
    }

    fn admit_one(&mut self) -> bool {
        match self.backlog.next() {
            Some(future) => {
                self.children.push(self.next_key, Box::pin(future));
                self.next_key += 1;
                true
            }
            None => false,
        }
    }

    /// The next finished child (input index and output), `Ready(None)` once all finished.
    pub(crate) fn poll_next(&mut self, pass: &mut Pass) -> Poll<Option<(usize, F::Output)>> {
        let done = self.children.poll_next(pass);
        if let Poll::Ready(Some(_)) = done {
            // A freed place goes to the next waiting future, polled within this pass.
            self.admit_one();
        }
        done
    }

    /// Drops every running and waiting future.
    pub(crate) fn clear(&mut self) {
        self.children.clear();
        self.backlog = Vec::new().into_iter();
    }

    /// Children not finished yet, running or waiting.
    pub(crate) fn remaining(&self) -> usize {
        self.children.len() + self.backlog.len()
    }
}

impl<F: Future> fmt::Debug for Join<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("total", &self.total)
            .field("running", &self.children.len())
            .field("waiting", &self.backlog.len())
            .finish()
    }
}
