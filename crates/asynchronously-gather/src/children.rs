//! The engine every gather, race and group is built on: a set of boxed child futures of
//! which only the ones that were woken get polled.
//!
//! Each child gets a waker of its own at its first poll, and keeps it until it finishes: a
//! wake-up pushes just that child's slot onto a shared ready list (once, until the child is
//! polled again) and wakes the owner, which then polls only the children on the list. So a
//! wake-up costs the woken child, at any number of children, and a child that keeps only the
//! waker of its first poll is still woken. A child that finishes without anyone keeping its
//! waker hands the waker on to the next child, so ready children cost no allocation beyond
//! their box.
//!
//! The slots of finished children are reused, and when the set runs empty every buffer is
//! released, so a drained set holds O(1) memory whatever its peak.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// A set of child futures, each tagged with a caller-chosen key, polled only when woken.
pub(crate) struct Children<F: ?Sized + Future> {
    slots: Vec<Option<Child<F>>>,
    /// Free slots, reused by `push`.
    free: Vec<usize>,
    len: usize,
    shared: Arc<Shared>,
    /// Slots to poll in this pass: new children, then the children woken before the pass.
    batch: Vec<usize>,
    cursor: usize,
    /// A waker whose child finished while nobody else held it, for the next child.
    spare: Option<Arc<ChildWaker>>,
}

struct Child<F: ?Sized> {
    key: usize,
    /// Made at the first poll and kept until the child finishes.
    waker: Option<(Arc<ChildWaker>, Waker)>,
    future: Pin<Box<F>>,
}

/// State shared with the wakers.
struct Shared {
    parent: AtomicWaker,
    /// Slots woken since the owner last took the list.
    woken: Mutex<Vec<usize>>,
}

/// The waker of one child: queues its slot once until the slot is polled again.
struct ChildWaker {
    slot: usize,
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.woken.lock().unwrap_or_else(PoisonError::into_inner).push(self.slot);
            self.shared.parent.wake();
        }
    }
}

/// One poll of the owner: children are polled at most once per wake-up, so a child that
/// wakes itself at once cannot starve the executor.
pub(crate) struct Pass {
    refilled: bool,
}

impl<F: ?Sized + Future> Children<F> {
    /// An empty set with room for `capacity` children.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let shared = Arc::new(Shared { parent: AtomicWaker::new(), woken: Mutex::new(Vec::new()) });
        Self {
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            len: 0,
            shared,
            batch: Vec::with_capacity(capacity),
            cursor: 0,
            spare: None,
        }
    }

    /// Makes room for `additional` more children.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        self.batch.reserve(additional);
    }

    /// Adds a child; it is first polled in the current pass, or else the next one.
    pub(crate) fn push(&mut self, key: usize, future: Pin<Box<F>>) {
        let child = Child { key, waker: None, future };
        self.len += 1;
        let slot = if let Some(slot) = self.free.pop() {
            self.slots[slot] = Some(child);
            slot
        } else {
            self.slots.push(Some(child));
            self.slots.len() - 1
        };
        self.batch.push(slot);
    }

    /// Children not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Drops every child at once, and the buffers with them.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.release_buffers();
    }

    /// Once no child is left, gives back the memory a peak of children needed.
    fn release_buffers(&mut self) {
        self.slots = Vec::new();
        self.free = Vec::new();
        self.batch = Vec::new();
        self.cursor = 0;
        // Entries for gone slots are harmless (an empty slot is skipped), but hold memory.
        *self.shared.woken.lock().unwrap_or_else(PoisonError::into_inner) = Vec::new();
    }

    /// Starts one poll of the owner: `cx`'s waker is woken when a child is.
    pub(crate) fn begin(&self, cx: &Context<'_>) -> Pass {
        self.shared.parent.register(cx.waker());
        Pass { refilled: false }
    }

    /// The next child to finish in this pass, with its key and output; `Ready(None)` when
    /// no child is left, `Pending` when every woken child was polled.
    pub(crate) fn poll_next(&mut self, pass: &mut Pass) -> Poll<Option<(usize, F::Output)>> {
        loop {
            let slot = if let Some(&slot) = self.batch.get(self.cursor) {
                self.cursor += 1;
                slot
            } else if self.len == 0 {
                if self.slots.capacity() > 0 {
                    self.release_buffers();
                }
                return Poll::Ready(None);
            } else if pass.refilled {
                return Poll::Pending;
            } else {
                pass.refilled = true;
                self.refill();
                continue;
            };
            if let Some(done) = self.poll_slot(slot) {
                return Poll::Ready(Some(done));
            }
        }
    }

    fn refill(&mut self) {
        self.batch.clear();
        self.cursor = 0;
        std::mem::swap(
            &mut *self.shared.woken.lock().unwrap_or_else(PoisonError::into_inner),
            &mut self.batch,
        );
    }

    fn poll_slot(&mut self, slot: usize) -> Option<(usize, F::Output)> {
        let mut child = self.slots.get_mut(slot)?.take()?;
        let (flag, waker) = child.waker.get_or_insert_with(|| {
            let flag = match self.spare.take() {
                Some(mut spare) => {
                    if let Some(unshared) = Arc::get_mut(&mut spare) {
                        unshared.slot = slot;
                        *unshared.queued.get_mut() = false;
                    }
                    spare
                }
                None => Arc::new(ChildWaker {
                    slot,
                    queued: AtomicBool::new(false),
                    shared: Arc::clone(&self.shared),
                }),
            };
            (Arc::clone(&flag), Waker::from(flag))
        });
        // A swap, not a store: if a wake-up's swap came first, reading its `true` here
        // (acquire) makes whatever it announced visible to the poll below; a plain store
        // could let the poll miss it while that wake-up saw `queued` still set.
        flag.queued.swap(false, Ordering::AcqRel);
        // Releases the slot when the child finishes, and also when its poll panics: the
        // child is then dropped (right after this guard) before the panic leaves, and the
        // set stays usable for the others, as futures' `FuturesUnordered` does.
        let mut release = Release { children: self, slot, armed: true };
        let poll = child.future.as_mut().poll(&mut Context::from_waker(waker));
        match poll {
            Poll::Pending => {
                release.armed = false;
                drop(release);
                self.slots[slot] = Some(child);
                None
            }
            Poll::Ready(output) => {
                release.armed = false;
                drop(release);
                let Child { key, waker, future } = child;
                drop(future);
                if let Some((mut flag, waker)) = waker {
                    drop(waker);
                    // Nobody else holds this waker: the next child may use it.
                    if Arc::get_mut(&mut flag).is_some() {
                        self.spare = Some(flag);
                    }
                }
                self.finish_slot(slot);
                Some((key, output))
            }
        }
    }

    fn finish_slot(&mut self, slot: usize) {
        self.len -= 1;
        if self.len == 0 && self.cursor >= self.batch.len() {
            self.release_buffers();
        } else {
            self.free.push(slot);
        }
    }
}

/// Frees a child's slot if its poll panicked.
struct Release<'a, F: ?Sized + Future> {
    children: &'a mut Children<F>,
    slot: usize,
    armed: bool,
}

impl<F: ?Sized + Future> Drop for Release<'_, F> {
    fn drop(&mut self) {
        if self.armed {
            self.children.finish_slot(self.slot);
        }
    }
}
