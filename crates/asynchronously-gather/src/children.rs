//! The engine of task groups and of limited joins: a set of boxed child futures of which
//! only the ones that were woken get polled. (Unlimited joins run on futures'
//! `FuturesUnordered`; see `join.rs`.)
//!
//! Each child gets a waker of its own at its first poll, and keeps it until it finishes: a
//! wake-up pushes just that child's slot onto a shared ready list (once, until the child is
//! polled again) and wakes the owner, which then polls only the children on the list. So a
//! wake-up costs the woken child, at any number of children, and a child that keeps only the
//! waker of its first poll is still woken. A child that finishes without anyone keeping its
//! waker hands the waker on to a later child, and an owner that recycles boxes hands the box
//! on too, so under a limit, while the source has the next child ready, a stream of
//! children allocates nothing per child.
//!
//! The slots of finished children are reused, and when the set runs empty every buffer is
//! released, so a drained set holds O(1) memory whatever its peak.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;
use pin_project::pin_project;

/// How many wakers of finished children a set keeps for newcomers: enough for the children
/// that finish in one pass under a typical limit, few enough to hold no memory to speak of.
const SPARE_WAKERS: usize = 32;

/// A set of child futures, each tagged with a caller-chosen key, polled only when woken.
pub(crate) struct Children<F: ?Sized + Future> {
    /// One pointer per slot, so that the slots of many children stay compact in cache.
    slots: Vec<Option<Pin<Box<Node<F>>>>>,
    /// Free slots, reused by `push`.
    free: Vec<usize>,
    len: usize,
    shared: Arc<Shared>,
    /// Slots to poll in this pass: new children, then the children woken before the pass.
    batch: Vec<usize>,
    cursor: usize,
    /// Wakers whose children finished while nobody else held them, for the next children;
    /// at most [`SPARE_WAKERS`].
    spare: Vec<Arc<ChildWaker>>,
    /// With `recycle`, the box of the child that finished last, its future not dropped yet:
    /// the owner either reuses the box for the next child or discards it at once.
    spare_node: Option<Pin<Box<Node<F>>>>,
    recycle: bool,
}

/// A child: its key, its waker and the future itself, in one allocation, so that polling a
/// woken child touches one place in memory.
#[pin_project]
pub(crate) struct Node<F: ?Sized> {
    key: usize,
    /// Made at the first poll and kept until the child finishes.
    waker: Option<(Arc<ChildWaker>, Waker)>,
    #[pin]
    future: F,
}

impl<F> Node<F> {
    /// A child to [`push`](Children::push) with `key`; a `Pin<Box<Node<F>>>` coerces to a
    /// node of `dyn Future`.
    pub(crate) fn boxed(key: usize, future: F) -> Pin<Box<Self>> {
        Box::pin(Self { key, waker: None, future })
    }

    /// Drops the finished future in the box `node` and puts `future` in its place, so a
    /// stream of children under a limit allocates no box per child.
    pub(crate) fn refill(mut node: Pin<Box<Self>>, key: usize, future: F) -> Pin<Box<Self>> {
        node.set(Self { key, waker: None, future });
        node
    }
}

/// State shared with the wakers.
struct Shared {
    parent: AtomicWaker,
    /// Slots woken since the owner last took the list.
    woken: Mutex<Vec<usize>>,
}

/// The waker of one child: queues its slot once until the slot is polled again.
pub(crate) struct ChildWaker {
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
    /// An empty set.
    pub(crate) fn new() -> Self {
        let shared = Arc::new(Shared { parent: AtomicWaker::new(), woken: Mutex::new(Vec::new()) });
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            shared,
            batch: Vec::new(),
            cursor: 0,
            spare: Vec::new(),
            spare_node: None,
            recycle: false,
        }
    }

    /// An empty set that keeps the box of each child that finishes for
    /// [`take_spare_node`]; its owner must take or [`discard_spare_node`] it before its poll
    /// returns, as the finished future is dropped only then.
    ///
    /// [`take_spare_node`]: Children::take_spare_node
    /// [`discard_spare_node`]: Children::discard_spare_node
    pub(crate) fn recycling() -> Self {
        Self { recycle: true, ..Self::new() }
    }

    /// Makes room for `additional` more children.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        self.batch.reserve(additional);
        // Growing these by doubling mid-run frees large buffers, which makes glibc's
        // allocator consolidate every small block freed so far.
        self.free.reserve(additional);
    }

    /// Adds a child made by [`Node::boxed`]; it is first polled in the current pass, or
    /// else the next one.
    pub(crate) fn push(&mut self, node: Pin<Box<Node<F>>>) {
        self.len += 1;
        let slot = if let Some(slot) = self.free.pop() {
            self.slots[slot] = Some(node);
            slot
        } else {
            self.slots.push(Some(node));
            self.slots.len() - 1
        };
        self.batch.push(slot);
    }

    /// The box of the child that finished last, if kept.
    pub(crate) fn take_spare_node(&mut self) -> Option<Pin<Box<Node<F>>>> {
        self.spare_node.take()
    }

    /// Drops the box of the child that finished last (and its finished future), if kept.
    pub(crate) fn discard_spare_node(&mut self) {
        self.spare_node = None;
    }

    /// Children not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Drops every child at once, and the buffers with them.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spare_node = None;
        self.release_buffers();
    }

    /// Once no child is left, gives back the memory a peak of children needed.
    fn release_buffers(&mut self) {
        self.slots = Vec::new();
        self.free = Vec::new();
        self.batch = Vec::new();
        self.cursor = 0;
        self.spare = Vec::new();
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
    ///
    /// Whenever the children of the pass so far have all been polled, `admit` may
    /// [`push`](Children::push) one more (and says whether it did): a newcomer is polled
    /// at once, so one that finishes at once leaves its box to the next.
    pub(crate) fn poll_next(
        &mut self,
        pass: &mut Pass,
        mut admit: impl FnMut(&mut Self) -> bool,
    ) -> Poll<Option<(usize, F::Output)>> {
        loop {
            let slot = if let Some(&slot) = self.batch.get(self.cursor) {
                self.cursor += 1;
                slot
            } else if admit(self) {
                continue;
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
        // Moving the box out is a pointer copy; it lets the guard below free the slot.
        let mut node = self.slots.get_mut(slot)?.take()?;
        let child = node.as_mut().project();
        let (flag, waker) = child.waker.get_or_insert_with(|| {
            // Only the set holds a spare (its child's waker was dropped), so it can be
            // relabelled in place.
            let spare = self.spare.pop().and_then(|mut spare| {
                let unshared = Arc::get_mut(&mut spare)?;
                unshared.slot = slot;
                *unshared.queued.get_mut() = false;
                Some(spare)
            });
            let flag = spare.unwrap_or_else(|| {
                Arc::new(ChildWaker {
                    slot,
                    queued: AtomicBool::new(false),
                    shared: Arc::clone(&self.shared),
                })
            });
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
        let poll = child.future.poll(&mut Context::from_waker(waker));
        release.armed = false;
        drop(release);
        match poll {
            Poll::Pending => {
                self.slots[slot] = Some(node);
                None
            }
            Poll::Ready(output) => {
                let key = *child.key;
                if let Some((mut flag, waker)) = child.waker.take() {
                    drop(waker);
                    // Nobody else holds this waker: the next child may use it.
                    if Arc::get_mut(&mut flag).is_some() && self.spare.len() < SPARE_WAKERS {
                        self.spare.push(flag);
                    }
                }
                if self.recycle {
                    self.spare_node = Some(node);
                } else {
                    drop(node);
                }
                self.finish_slot(slot);
                Some((key, output))
            }
        }
    }

    fn finish_slot(&mut self, slot: usize) {
        self.len -= 1;
        // An owner that recycles boxes admits more children, and releases the buffers
        // itself once none are left to admit.
        if self.len == 0 && self.cursor >= self.batch.len() && !self.recycle {
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
