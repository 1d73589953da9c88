use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::SubmitError;

/// What a submitter receives for its item.
pub(crate) type Outcome<T, Out, E> = Result<Out, SubmitError<T, E>>;

/// The rendezvous between one submitter and the worker: the worker stores the outcome, the
/// submitter takes it. Shared by an `Arc` held by the submitter's future and by the queue
/// entry (later the running batch); a strong count of one on the worker's side means the
/// submitter is gone, with no lock taken.
pub(crate) struct Reply<T, Out, E> {
    slot: Mutex<Slot<T, Out, E>>,
}

struct Slot<T, Out, E> {
    waker: Option<Waker>,
    outcome: Option<Outcome<T, Out, E>>,
}

impl<T, Out, E> Reply<T, Out, E> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Reply { slot: Mutex::new(Slot { waker: None, outcome: None }) })
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T, Out, E>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The submitter's side: the outcome once stored, else registers the waker.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Outcome<T, Out, E>> {
        let mut slot = self.lock();
        if let Some(outcome) = slot.outcome.take() {
            return Poll::Ready(outcome);
        }
        match &mut slot.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            waker @ None => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The worker's end of a [`Reply`]: dropped without [`send`](Responder::send) (a cancelled
/// batch, a dropped worker, an unwinding hook), it tells the submitter `Cancelled`, so no
/// submitter ever waits for an outcome nobody will send.
pub(crate) struct Responder<T, Out, E> {
    reply: Option<Arc<Reply<T, Out, E>>>,
}

impl<T, Out, E> Responder<T, Out, E> {
    pub(crate) fn new(reply: Arc<Reply<T, Out, E>>) -> Self {
        Responder { reply: Some(reply) }
    }

    /// Whether the submitter dropped its future: its item is then not worth sending.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.reply.as_ref().is_none_or(|reply| Arc::strong_count(reply) == 1)
    }

    pub(crate) fn send(mut self, outcome: Outcome<T, Out, E>) {
        if let Some(reply) = self.reply.take() {
            deliver(&reply, outcome);
        }
    }
}

fn deliver<T, Out, E>(reply: &Arc<Reply<T, Out, E>>, outcome: Outcome<T, Out, E>) {
    if Arc::strong_count(reply) == 1 {
        return; // The submitter is gone; dropping the outcome here is all that is left.
    }
    let waker = {
        let mut slot = reply.lock();
        slot.outcome = Some(outcome);
        slot.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T, Out, E> Drop for Responder<T, Out, E> {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            deliver(&reply, Err(SubmitError::Cancelled));
        }
    }
}
