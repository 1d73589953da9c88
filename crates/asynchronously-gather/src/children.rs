//! The engine every gather, race and group is built on: a set of boxed child futures of
//! which only the ones that were woken get polled.
//!
//! A child's first polls use one waker shared by all children; waking it asks for a sweep
//! (poll once every child whose last poll used that waker). A child still pending after
//! those polls gets a waker of its own, which queues just that child. Ready and once-yielding
//! children so cost no allocation beyond their box, a child finishing late costs O(1), not a
//! poll of all N siblings, and a newcomer's wake-up never re-polls the older children.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// How many polls of a child use the shared sweep waker before it gets its own waker.
const SWEEP_POLLS: u8 = 2;

/// A set of child futures, each tagged with a caller-chosen key, polled only when woken.
pub(crate) struct Children<F: ?Sized + Future> {
    slots: Vec<Option<Child<F>>>,
    /// Free slots, reused by `push` so a long-lived set does not grow (when `reuse`).
    free: Vec<usize>,
    reuse: bool,
    len: usize,
    shared: Arc<Shared>,
    sweep_waker: Waker,
    /// Slots to poll in this pass before `batch`: the first pass or a sweep.
    sweep: Range<usize>,
    /// Slots to poll in this pass: new children, children woken by their own waker and, on
    /// a sweep, the `young` ones.
    batch: Vec<usize>,
    cursor: usize,
    /// Children whose last poll used the sweep waker and that are still pending: what a
    /// sweep polls.
    young: Vec<usize>,
}

struct Child<F: ?Sized> {
    key: usize,
    polls: u8,
    waker: Option<(Arc<ChildWaker>, Waker)>,
    future: Pin<Box<F>>,
}

/// State shared with the wakers.
struct Shared {
    parent: AtomicWaker,
    sweep: AtomicBool,
    woken: Mutex<Vec<usize>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.sweep.store(true, Ordering::Release);
        self.parent.wake();
    }
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
        let shared = Arc::new(Shared {
            parent: AtomicWaker::new(),
            sweep: AtomicBool::new(false),
            woken: Mutex::new(Vec::new()),
        });
        Self {
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            reuse: false,
            len: 0,
            sweep_waker: Waker::from(Arc::clone(&shared)),
            shared,
            sweep: 0..0,
            batch: Vec::new(),
            cursor: 0,
            young: Vec::new(),
        }
    }

    /// Makes room for `additional` more children.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    /// Reuses the slots of finished children, for sets that keep receiving children.
    pub(crate) fn reuse_slots(&mut self) {
        self.reuse = true;
    }

    /// Adds a child; it is first polled in the current pass, or else the next one.
    pub(crate) fn push(&mut self, key: usize, future: Pin<Box<F>>) {
        let child = Child { key, polls: 0, waker: None, future };
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            self.slots[slot] = Some(child);
            self.batch.push(slot);
        } else if self.sweep.end == self.slots.len() && self.cursor >= self.batch.len() {
            // Bulk insertion before a pass: extend the first sweep instead of queueing.
            self.slots.push(Some(child));
            self.sweep.end = self.slots.len();
        } else {
            self.slots.push(Some(child));
            self.batch.push(self.slots.len() - 1);
        }
    }

    /// Children not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Drops every child at once.
    pub(crate) fn clear(&mut self) {
        self.slots = Vec::new();
        self.free = Vec::new();
        self.batch = Vec::new();
        self.young = Vec::new();
        self.sweep = 0..0;
        self.cursor = 0;
        self.len = 0;
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
            let slot = if let Some(slot) = self.sweep.next() {
                slot
            } else if let Some(&slot) = self.batch.get(self.cursor) {
                self.cursor += 1;
                slot
            } else if self.len == 0 {
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
        if self.shared.sweep.swap(false, Ordering::Acquire) {
            // Only the children that may hold the sweep waker: the others have wakers of
            // their own, so polling them would cost O(N) per newcomer.
            self.batch.append(&mut self.young);
        }
    }

    fn poll_slot(&mut self, slot: usize) -> Option<(usize, F::Output)> {
        let n_slots = self.slots.len();
        let mut child = self.slots.get_mut(slot)?.take()?;
        // Releases the slot when the child finishes, and also when its poll panics: the
        // child is then dropped (right after this guard) before the panic leaves, and the
        // set stays usable for the others, as futures' `FuturesUnordered` does.
        let mut release = Release {
            len: &mut self.len,
            free: &mut self.free,
            reuse: self.reuse,
            slot,
            armed: true,
        };
        let poll = if child.polls < SWEEP_POLLS {
            child.polls += 1;
            let poll = child.future.as_mut().poll(&mut Context::from_waker(&self.sweep_waker));
            if poll.is_pending() {
                if self.young.capacity() == 0 {
                    // One allocation for a first pass of many pending children.
                    self.young.reserve(n_slots);
                }
                self.young.push(slot);
            }
            poll
        } else {
            let (flag, waker) = child.waker.get_or_insert_with(|| {
                let flag = Arc::new(ChildWaker {
                    slot,
                    queued: AtomicBool::new(false),
                    shared: Arc::clone(&self.shared),
                });
                (Arc::clone(&flag), Waker::from(flag))
            });
            // A swap, not a store: if a wake-up's swap came first, reading its `true` here
            // (acquire) makes whatever it announced visible to the poll below; a plain store
            // could let the poll miss it while that wake-up saw `queued` still set.
            flag.queued.swap(false, Ordering::AcqRel);
            child.future.as_mut().poll(&mut Context::from_waker(waker))
        };
        match poll {
            Poll::Pending => {
                release.armed = false;
                drop(release);
                self.slots[slot] = Some(child);
                None
            }
            // The guard releases the slot and the finished child is dropped on return.
            Poll::Ready(output) => Some((child.key, output)),
        }
    }
}

/// Frees a child's slot when dropped armed: after the child finished or panicked.
struct Release<'a> {
    len: &'a mut usize,
    free: &'a mut Vec<usize>,
    reuse: bool,
    slot: usize,
    armed: bool,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if self.armed {
            *self.len -= 1;
            if self.reuse {
                self.free.push(self.slot);
            }
        }
    }
}
