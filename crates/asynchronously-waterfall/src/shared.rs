use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use event_listener::{Event, IntoNotification};

use crate::TryPutError;
use crate::reply::Replies;

/// The weigher given to [`WaterfallBuilder::max_weight`](crate::WaterfallBuilder::max_weight).
pub(crate) type Weigher<T> = Box<dyn Fn(&T) -> usize + Send + Sync>;

/// The settings every handle and the worker read; fixed at build.
pub(crate) struct Limits<T> {
    pub(crate) max_items: usize,
    /// `None` is never: batches close by count, weight, flush and close only.
    pub(crate) max_wait: Option<Duration>,
    pub(crate) weight: Option<(usize, Weigher<T>)>,
    pub(crate) capacity: usize,
    pub(crate) finalize_timeout: Duration,
}

/// The state shared by the handles, their futures and the worker.
pub(crate) struct Shared<T, Out, E> {
    state: Mutex<State<T, Out, E>>,
    /// Notified when queue room frees up and when the waterfall closes.
    pub(crate) room: Event,
    /// Notified when the worker finishes (or is dropped).
    pub(crate) finished: Event,
    pub(crate) limits: Limits<T>,
    /// The worker's clock, read when a batch opens and when the waterfall closes.
    now: Box<dyn Fn() -> Instant + Send + Sync>,
    /// Live [`Waterfall`](crate::Waterfall) handles: the last one dropped closes.
    pub(crate) handles: AtomicUsize,
}

/// The queue: collected items, grouped into batches as they arrive.
///
/// `queue` holds the sealed batches (sizes in `sealed`, front first) followed by the open
/// batch (`open_len` items), so `queue.len()` is their sum. A batch is sealed when it is full
/// (count or weight), when its wait is over, or on flush and close; the worker takes sealed
/// batches from the front.
pub(crate) struct State<T, Out, E> {
    pub(crate) queue: VecDeque<Entry<T>>,
    pub(crate) sealed: VecDeque<usize>,
    pub(crate) open_len: usize,
    open_weight: usize,
    /// When the open batch's first item arrived (meaningful while `open_len > 0`).
    pub(crate) open_since: Option<Instant>,
    pub(crate) closed: bool,
    /// When running batches are cancelled, once closed: `None` is never.
    pub(crate) finalize_at: Option<Instant>,
    /// The worker's waker, taken by whoever wakes it.
    pub(crate) worker: Option<Waker>,
    pub(crate) finished: bool,
    /// The reply slots of submitted items.
    pub(crate) replies: Replies<T, Out, E>,
}

/// One collected item, and its submitter's reply slot in [`State::replies`] (none for `put`).
pub(crate) struct Entry<T> {
    pub(crate) item: T,
    pub(crate) reply: Option<usize>,
}

impl<T, Out, E> Shared<T, Out, E> {
    pub(crate) fn new(limits: Limits<T>, now: Box<dyn Fn() -> Instant + Send + Sync>) -> Self {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                sealed: VecDeque::new(),
                open_len: 0,
                open_weight: 0,
                open_since: None,
                closed: false,
                finalize_at: None,
                worker: None,
                finished: false,
                replies: Replies::new(),
            }),
            room: Event::new(),
            finished: Event::new(),
            limits,
            now,
            handles: AtomicUsize::new(1),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T, Out, E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> Instant {
        (self.now)()
    }

    /// Queues `item` if there is room; wakes the worker when a batch opens or is sealed.
    /// With `reply`, takes a reply slot for the item and returns it.
    pub(crate) fn push(&self, item: T, reply: bool) -> Result<Option<usize>, TryPutError<T>> {
        // The weigher is user code: call it before locking, so a panic leaves no lock behind.
        let weight = match &self.limits.weight {
            Some((max_weight, weigher)) => {
                let weight = weigher(&item);
                if weight > *max_weight {
                    return Err(TryPutError::TooHeavy { item, weight, max_weight: *max_weight });
                }
                weight
            }
            None => 0,
        };
        let mut state = self.lock();
        if state.closed {
            return Err(TryPutError::Closed(item));
        }
        if state.queue.len() >= self.limits.capacity {
            return Err(TryPutError::Full(item));
        }
        let mut wake = false;
        if let Some((max_weight, _)) = &self.limits.weight {
            if state.open_len > 0 && state.open_weight + weight > *max_weight {
                state.seal();
                wake = true;
            }
        }
        if state.open_len == 0 {
            // Only a batch with a deadline needs the worker's alarm.
            if self.limits.max_wait.is_some() {
                state.open_since = Some(self.now());
                wake = true;
            }
        }
        state.open_len += 1;
        state.open_weight += weight;
        let reply = reply.then(|| state.replies.reserve());
        state.queue.push_back(Entry { item, reply });
        let full_by_weight =
            self.limits.weight.as_ref().is_some_and(|(max, _)| state.open_weight >= *max);
        // A full queue holding only the open batch can free room only by sending it: seal it,
        // so a `queue_capacity` below `max_items` caps batches instead of stalling them.
        let queue_stuck = state.queue.len() >= self.limits.capacity && state.sealed.is_empty();
        if state.open_len >= self.limits.max_items || full_by_weight || queue_stuck {
            state.seal();
            wake = true;
        }
        let worker = if wake { state.worker.take() } else { None };
        drop(state);
        if let Some(worker) = worker {
            worker.wake();
        }
        Ok(reply)
    }

    /// Seals the open batch, so the worker sends it as soon as a batch may start.
    pub(crate) fn flush(&self) {
        let mut state = self.lock();
        if state.open_len == 0 {
            return;
        }
        state.seal();
        let worker = state.worker.take();
        drop(state);
        if let Some(worker) = worker {
            worker.wake();
        }
    }

    /// Refuses new items, seals the open batch and starts the finalize deadline.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        state.seal();
        state.finalize_at = if self.limits.finalize_timeout == Duration::MAX {
            None
        } else {
            self.now().checked_add(self.limits.finalize_timeout)
        };
        let worker = state.worker.take();
        drop(state);
        if let Some(worker) = worker {
            worker.wake();
        }
        // Waiting putters see the close and hand their items back.
        self.room.notify(usize::MAX);
    }

    /// Called by the worker when it is done: refuses new items and completes every `Close`.
    pub(crate) fn finish(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.finished = true;
        state.worker = None;
        drop(state);
        self.room.notify(usize::MAX);
        self.finished.notify(usize::MAX);
    }

    /// Tells waiting putters that `freed` places are free.
    pub(crate) fn freed(&self, freed: usize) {
        self.room.notify(freed.additional());
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.lock().finished
    }
}

impl<T, Out, E> State<T, Out, E> {
    pub(crate) fn seal(&mut self) {
        if self.open_len > 0 {
            self.sealed.push_back(self.open_len);
            self.open_len = 0;
            self.open_weight = 0;
            self.open_since = None;
        }
    }
}

impl<T, Out, E> fmt::Debug for Shared<T, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Waterfall")
            .field("queued", &state.queue.len())
            .field("sealed_batches", &state.sealed.len())
            .field("closed", &state.closed)
            .field("finished", &state.finished)
            .finish_non_exhaustive()
    }
}
