use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::SubmitError;
use crate::shared::{Shared, State};

/// What a submitter receives for its item.
pub(crate) type Outcome<T, Out, E> = Result<Out, SubmitError<T, E>>;

/// The reply slots of every queued or running submitted item, kept in the shared state and
/// reused across batches, so a submit allocates nothing and a whole batch's results are
/// stored under one lock.
///
/// A slot is taken when a submitted item is queued and freed by whichever side is done with
/// it last: the submitter once it took its outcome, or the worker once it saw that the
/// submitter is gone ([`Slot::Abandoned`]).
pub(crate) struct Replies<T, Out, E> {
    slots: Vec<Slot<T, Out, E>>,
    free: Vec<usize>,
}

enum Slot<T, Out, E> {
    Free,
    /// Queued or running; the submitter's waker once it waited.
    Waiting(Option<Waker>),
    /// The outcome, not yet taken by the submitter.
    Ready(Outcome<T, Out, E>),
    /// The submitter dropped its future; the worker frees the slot.
    Abandoned,
}

impl<T, Out, E> Replies<T, Out, E> {
    pub(crate) fn new() -> Self {
        Replies { slots: Vec::new(), free: Vec::new() }
    }

    /// Takes a free slot for a newly queued item.
    pub(crate) fn reserve(&mut self) -> usize {
        if let Some(slot) = self.free.pop() {
            self.slots[slot] = Slot::Waiting(None);
            slot
        } else {
            self.slots.push(Slot::Waiting(None));
            self.slots.len() - 1
        }
    }

    fn release(&mut self, slot: usize) {
        self.slots[slot] = Slot::Free;
        self.free.push(slot);
    }

    /// The worker's side: whether the submitter is gone; if so the slot is freed, and the
    /// caller must not use it again.
    pub(crate) fn release_if_abandoned(&mut self, slot: usize) -> bool {
        let abandoned = matches!(self.slots[slot], Slot::Abandoned);
        if abandoned {
            self.release(slot);
        }
        abandoned
    }

    /// The worker's side: stores `outcome` for the submitter and returns its waker; hands the
    /// outcome back when the submitter is gone (the slot is then freed).
    fn store(
        &mut self,
        slot: usize,
        outcome: Outcome<T, Out, E>,
    ) -> Result<Option<Waker>, Outcome<T, Out, E>> {
        match mem::replace(&mut self.slots[slot], Slot::Ready(outcome)) {
            Slot::Waiting(waker) => Ok(waker),
            _ => {
                let Slot::Ready(outcome) = mem::replace(&mut self.slots[slot], Slot::Free) else {
                    unreachable!("just stored")
                };
                self.free.push(slot);
                Err(outcome)
            }
        }
    }

    /// The submitter's side: the outcome once stored (freeing the slot), else registers the
    /// waker.
    pub(crate) fn poll(&mut self, slot: usize, cx: &mut Context<'_>) -> Poll<Outcome<T, Out, E>> {
        match &mut self.slots[slot] {
            Slot::Waiting(Some(waker)) => waker.clone_from(cx.waker()),
            Slot::Waiting(waker @ None) => *waker = Some(cx.waker().clone()),
            Slot::Ready(_) => {
                let Slot::Ready(outcome) = mem::replace(&mut self.slots[slot], Slot::Free) else {
                    unreachable!("matched above")
                };
                self.free.push(slot);
                return Poll::Ready(outcome);
            }
            Slot::Free | Slot::Abandoned => unreachable!("the submitter owns its slot"),
        }
        Poll::Pending
    }

    /// The submitter's side, on drop: frees the slot, or leaves it for the worker. Returns an
    /// outcome that was never taken, to be dropped after unlocking.
    pub(crate) fn abandon(&mut self, slot: usize) -> Option<Outcome<T, Out, E>> {
        match mem::replace(&mut self.slots[slot], Slot::Abandoned) {
            Slot::Ready(outcome) => {
                self.release(slot);
                Some(outcome)
            }
            _ => None,
        }
    }
}

/// The worker's end of a batch's reply slots, one per item in order (`None` for an item
/// queued with `put`). Dropped without [`send_all`](Responders::send_all) (a cancelled
/// batch, a dropped worker, an unwinding hook), it tells each submitter `Cancelled`, so no
/// submitter ever waits for an outcome nobody will send.
pub(crate) struct Responders<T, Out, E> {
    shared: Option<Arc<Shared<T, Out, E>>>,
    slots: Vec<Option<usize>>,
}

impl<T, Out, E> Default for Responders<T, Out, E> {
    fn default() -> Self {
        Responders { shared: None, slots: Vec::new() }
    }
}

impl<T, Out, E> Responders<T, Out, E> {
    /// Empty: no item has a submitter.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether no item has a submitter (nothing to send).
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds the next item's slot; the first submitted item's slot also records `shared`, and
    /// the items before it get `None`.
    pub(crate) fn push(&mut self, shared: &Arc<Shared<T, Out, E>>, before: usize, slot: usize) {
        if self.shared.is_none() {
            self.shared = Some(Arc::clone(shared));
            self.slots.resize(before, None);
        }
        self.slots.push(Some(slot));
    }

    /// Adds an item with no submitter (once some item has one).
    pub(crate) fn push_none(&mut self) {
        if !self.slots.is_empty() {
            self.slots.push(None);
        }
    }

    /// Hands each submitter its outcome, in item order, under one lock, then wakes them.
    /// Outcomes for items without a submitter, or whose submitter is gone, are dropped after
    /// unlocking (they may run user code).
    pub(crate) fn send_all(mut self, outcomes: impl IntoIterator<Item = Outcome<T, Out, E>>) {
        let Some(shared) = self.shared.take() else { return };
        let slots = mem::take(&mut self.slots);
        let mut unwanted = Vec::new();
        let mut wakers = Vec::new();
        let mut outcomes = outcomes.into_iter();
        {
            let mut state = shared.lock();
            for slot in slots {
                let Some(outcome) = outcomes.next() else { break };
                match slot {
                    Some(slot) => store(&mut state, slot, outcome, &mut wakers, &mut unwanted),
                    None => unwanted.push(outcome),
                }
            }
        }
        drop(unwanted);
        drop(outcomes);
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Hands `outcome` to each slot's submitter under one lock, then wakes them.
pub(crate) fn send_each<T, Out, E>(
    shared: &Shared<T, Out, E>,
    replies: impl IntoIterator<Item = (usize, Outcome<T, Out, E>)>,
) {
    let mut unwanted = Vec::new();
    let mut wakers = Vec::new();
    {
        let mut state = shared.lock();
        for (slot, outcome) in replies {
            store(&mut state, slot, outcome, &mut wakers, &mut unwanted);
        }
    }
    drop(unwanted);
    for waker in wakers {
        waker.wake();
    }
}

fn store<T, Out, E>(
    state: &mut State<T, Out, E>,
    slot: usize,
    outcome: Outcome<T, Out, E>,
    wakers: &mut Vec<Waker>,
    unwanted: &mut Vec<Outcome<T, Out, E>>,
) {
    match state.replies.store(slot, outcome) {
        Ok(Some(waker)) => wakers.push(waker),
        Ok(None) => {}
        Err(outcome) => unwanted.push(outcome),
    }
}

impl<T, Out, E> Drop for Responders<T, Out, E> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let slots = mem::take(&mut self.slots);
            send_each(
                &shared,
                slots.into_iter().flatten().map(|slot| (slot, Err(SubmitError::Cancelled))),
            );
        }
    }
}
