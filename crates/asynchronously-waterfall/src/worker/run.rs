use std::any::Any;
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use crate::reply::Responders;

/// One running batch: the batch function's future, with a panic caught and the submitters
/// to answer when it ends.
#[pin_project]
pub(super) struct Run<Fut, T, Out, E> {
    #[pin]
    future: Fut,
    batch: u64,
    items: usize,
    /// One per item, in order; empty when no item has a submitter.
    responders: Responders<T, Out, E>,
}

/// A batch that ended: its output, or the panic payload.
pub(super) struct Finished<O, T, Out, E> {
    pub(super) batch: u64,
    pub(super) items: usize,
    pub(super) outcome: Result<O, Box<dyn Any + Send>>,
    pub(super) responders: Responders<T, Out, E>,
}

impl<Fut, T, Out, E> Run<Fut, T, Out, E> {
    pub(super) fn new(
        future: Fut,
        batch: u64,
        items: usize,
        responders: Responders<T, Out, E>,
    ) -> Self {
        Run { future, batch, items, responders }
    }

    /// For a cancellation: the batch number, item count and responders.
    pub(super) fn take_responders(self: Pin<&mut Self>) -> (u64, usize, Responders<T, Out, E>) {
        let this = self.project();
        (*this.batch, *this.items, mem::take(this.responders))
    }
}

impl<Fut: Future, T, Out, E> Future for Run<Fut, T, Out, E> {
    type Output = Finished<Fut::Output, T, Out, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = this.future;
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(payload),
        };
        Poll::Ready(Finished {
            batch: *this.batch,
            items: *this.items,
            outcome,
            responders: mem::take(this.responders),
        })
    }
}
