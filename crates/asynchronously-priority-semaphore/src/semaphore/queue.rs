//! The wait queue: a slab of waiter slots, linked into one FIFO list per priority level.
//!
//! Slots are reused through a free list and levels are kept in a sorted `Vec`, so after
//! warm-up queueing a waiter allocates nothing. A slot belongs to exactly one acquire
//! future from `push` until that future calls `free`: assignment, close and rejection only
//! change its state, so the future can always read the outcome.

use std::task::Waker;
use std::time::{Duration, Instant};

use crate::Priority;

const NONE: usize = usize::MAX;

/// What happened to a queued waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// On the free list.
    Free,
    /// Queued, waiting for permits.
    Waiting,
    /// Permits were handed over (already taken from the count).
    Assigned,
    /// The semaphore was closed while it waited.
    Closed,
    /// The total shrank below its request while it waited.
    TooLarge { total: usize },
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    permits: usize,
    priority: Priority,
    seq: u64,
    enqueued: Option<Instant>,
    waker: Option<Waker>,
    prev: usize,
    /// The next slot of the same level, or of the free list.
    next: usize,
}

#[derive(Debug)]
struct Level {
    priority: Priority,
    head: usize,
    tail: usize,
    len: usize,
}

/// Starvation protection: a waiter's effective priority improves by one step per `interval`
/// waited, by at most `max_boost` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aging {
    pub(crate) interval: Duration,
    pub(crate) max_boost: u32,
}

#[derive(Debug)]
pub(crate) struct Queue {
    slots: Vec<Slot>,
    free: usize,
    /// Non-empty levels, sorted by priority.
    levels: Vec<Level>,
    len: usize,
    next_seq: u64,
}

impl Queue {
    pub(crate) const fn new() -> Queue {
        Queue { slots: Vec::new(), free: NONE, levels: Vec::new(), len: 0, next_seq: 0 }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waiters queued at exactly `priority`.
    pub(crate) fn waiting(&self, priority: Priority) -> usize {
        self.find_level(priority).map_or(0, |level_idx| self.levels[level_idx].len)
    }

    /// The waiter served next and its effective priority. `now` is `Some` when aging is on.
    #[inline]
    pub(crate) fn head(&self, aging: Option<(Aging, Instant)>) -> Option<(usize, i64)> {
        let first = self.levels.first()?;
        match aging {
            None => Some((first.head, i64::from(first.priority.value()))),
            Some(aging) => Some(self.aged_head(aging)),
        }
    }

    fn aged_head(&self, aging: (Aging, Instant)) -> (usize, i64) {
        // Within a level the front waited longest, so it has the best effective priority
        // and the lowest sequence number: comparing the fronts finds the head.
        let (effective, _, slot_idx) = self
            .levels
            .iter()
            .map(|level| {
                (self.effective(level.head, Some(aging)), self.slots[level.head].seq, level.head)
            })
            .min()
            .expect("called with at least one level");
        (slot_idx, effective)
    }

    /// A waiter's priority after aging, as a wide integer so boosts never overflow.
    pub(crate) fn effective(&self, slot_idx: usize, aging: Option<(Aging, Instant)>) -> i64 {
        let slot = &self.slots[slot_idx];
        let base = i64::from(slot.priority.value());
        match (aging, slot.enqueued) {
            (Some((aging, now)), Some(enqueued)) => {
                let waited = now.saturating_duration_since(enqueued).as_nanos();
                let steps = (waited / aging.interval.as_nanos()).min(u128::from(aging.max_boost));
                // `steps <= u32::MAX`, so the conversion is lossless.
                base - i64::try_from(steps).unwrap_or(i64::from(u32::MAX))
            }
            _ => base,
        }
    }

    #[inline]
    pub(crate) fn permits(&self, slot_idx: usize) -> usize {
        self.slots[slot_idx].permits
    }

    #[inline]
    pub(crate) fn state(&self, slot_idx: usize) -> SlotState {
        self.slots[slot_idx].state
    }

    /// Queues a waiter at the back of its level and returns its slot.
    pub(crate) fn push(
        &mut self,
        permits: usize,
        priority: Priority,
        waker: Waker,
        enqueued: Option<Instant>,
    ) -> usize {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = Slot {
            state: SlotState::Waiting,
            permits,
            priority,
            seq,
            enqueued,
            waker: Some(waker),
            prev: NONE,
            next: NONE,
        };
        let slot_idx = if self.free == NONE {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let slot_idx = self.free;
            self.free = self.slots[slot_idx].next;
            self.slots[slot_idx] = slot;
            slot_idx
        };
        let level_idx = match self.levels.binary_search_by_key(&priority, |level| level.priority) {
            Ok(level_idx) => level_idx,
            Err(level_idx) => {
                self.levels.insert(level_idx, Level { priority, head: NONE, tail: NONE, len: 0 });
                level_idx
            }
        };
        let level = &mut self.levels[level_idx];
        if level.tail == NONE {
            level.head = slot_idx;
        } else {
            self.slots[level.tail].next = slot_idx;
            self.slots[slot_idx].prev = level.tail;
        }
        level.tail = slot_idx;
        level.len += 1;
        self.len += 1;
        slot_idx
    }

    /// Replaces a waiting slot's waker unless the stored one wakes the same task.
    pub(crate) fn update_waker(&mut self, slot_idx: usize, waker: &Waker) {
        let slot = &mut self.slots[slot_idx];
        match &slot.waker {
            Some(stored) if stored.will_wake(waker) => {}
            _ => slot.waker = Some(waker.clone()),
        }
    }

    /// Takes a waiting slot out of its level, gives it `state` and returns its waker.
    #[inline]
    pub(crate) fn finish(&mut self, slot_idx: usize, state: SlotState) -> Option<Waker> {
        debug_assert_eq!(self.slots[slot_idx].state, SlotState::Waiting);
        let (prev, next, priority) = {
            let slot = &self.slots[slot_idx];
            (slot.prev, slot.next, slot.priority)
        };
        let level_idx = self.find_level(priority).expect("a waiting slot is in its level");
        if prev == NONE {
            self.levels[level_idx].head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NONE {
            self.levels[level_idx].tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        self.levels[level_idx].len -= 1;
        if self.levels[level_idx].len == 0 {
            self.levels.remove(level_idx);
        }
        self.len -= 1;
        let slot = &mut self.slots[slot_idx];
        slot.state = state;
        slot.prev = NONE;
        slot.next = NONE;
        slot.waker.take()
    }

    /// Returns a slot whose waiter is gone to the free list.
    #[inline]
    pub(crate) fn free(&mut self, slot_idx: usize) {
        let slot = &mut self.slots[slot_idx];
        debug_assert_ne!(slot.state, SlotState::Waiting, "unlink a waiting slot before freeing it");
        slot.state = SlotState::Free;
        slot.waker = None;
        slot.next = self.free;
        self.free = slot_idx;
    }

    /// Any waiting slot (used to empty the queue on close).
    pub(crate) fn any_waiting(&self) -> Option<usize> {
        self.levels.first().map(|level| level.head)
    }

    /// A waiting slot that asks for more than `total` permits.
    pub(crate) fn find_larger_than(&self, total: usize) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        self.slots.iter().position(|slot| slot.state == SlotState::Waiting && slot.permits > total)
    }

    fn find_level(&self, priority: Priority) -> Option<usize> {
        self.levels.binary_search_by_key(&priority, |level| level.priority).ok()
    }
}
