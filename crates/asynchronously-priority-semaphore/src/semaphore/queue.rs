//! The wait queue: a slab of waiter slots, linked into one FIFO list per priority level.
//!
//! Slots are reused through a free list and the levels are kept sorted (the first inline,
//! the others in a `BTreeMap`), so after warm-up queueing a waiter at a priority that already
//! has waiters allocates nothing. Each slot owns a reusable [`Status`]
//! cell that its acquire future also holds: the outcome (assigned, closed, too large) is
//! published there and the slot is freed at once, so a woken future reads its outcome
//! without taking the lock. While the status says waiting, the slot belongs to that future.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::Priority;
use crate::sync::{Arc, AtomicUsize, Ordering, fence};

const NONE: usize = usize::MAX;

const WAITING: usize = 0;
const ASSIGNED: usize = 1;
const CLOSED: usize = 2;
/// Low two bits; the total goes in the other bits (totals stay below `usize::MAX >> 2`).
const TOO_LARGE: usize = 3;

/// What happened to a queued waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Queued, waiting for permits.
    Waiting,
    /// Permits were handed over (already taken from the count).
    Assigned,
    /// The semaphore was closed while it waited.
    Closed,
    /// The total shrank below its request while it waited.
    TooLarge { total: usize },
}

/// A waiter's outcome, shared by its slot and its acquire future. Only written under the
/// queue lock; read by the future without it.
#[derive(Debug, Clone)]
pub(crate) struct Status(Arc<AtomicUsize>);

impl Status {
    fn new() -> Status {
        Status(Arc::new(AtomicUsize::new(WAITING)))
    }

    #[inline]
    pub(crate) fn load(&self) -> Outcome {
        match self.0.load(Ordering::Acquire) {
            WAITING => Outcome::Waiting,
            ASSIGNED => Outcome::Assigned,
            CLOSED => Outcome::Closed,
            packed => Outcome::TooLarge { total: packed >> 2 },
        }
    }

    /// Whether a future still holds this cell.
    fn is_shared(&self) -> bool {
        if Arc::strong_count(&self.0) != 1 {
            return true;
        }
        // The count is read `Relaxed`: this fence pairs with the `Release` decrement of the
        // previous future's drop, so its last read of the cell happens before the reuse.
        fence(Ordering::Acquire);
        false
    }

    fn store(&self, outcome: Outcome) {
        let packed = match outcome {
            Outcome::Waiting => WAITING,
            Outcome::Assigned => ASSIGNED,
            Outcome::Closed => CLOSED,
            Outcome::TooLarge { total } => (total << 2) | TOO_LARGE,
        };
        self.0.store(packed, Ordering::Release);
    }
}

/// One cache line holds what a hand-off touches (the fields up to `priority`); the rest is
/// read only by aging. Slots are touched by whichever thread releases, so keeping a hand-off
/// to one line per slot matters under contention.
#[derive(Debug)]
#[repr(C, align(64))]
struct Slot {
    status: Status,
    permits: usize,
    waker: Option<Waker>,
    prev: usize,
    /// The next slot of the same level, or of the free list.
    next: usize,
    priority: Priority,
    /// Whether it is queued (otherwise it is on the free list).
    queued: bool,
    seq: u64,
    enqueued: Option<Instant>,
}

#[derive(Debug)]
struct Level {
    priority: Priority,
    head: usize,
    tail: usize,
    len: usize,
}

/// The non-empty levels by priority, the best one stored inline: a hand-off at the head of
/// the queue then reads no extra heap memory (a cache line less to move between threads under
/// contention). The others sit in a `BTreeMap`, so finding, adding and removing a level is
/// O(log levels) and serving `n` waiters at `n` distinct priorities is O(n log n).
#[derive(Debug)]
struct Levels {
    /// Valid when `count > 0`.
    first: Level,
    rest: BTreeMap<Priority, Level>,
    count: usize,
}

/// Where a level lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LevelIdx {
    First,
    Rest(Priority),
}

impl Levels {
    const fn new() -> Levels {
        Levels {
            first: Level { priority: Priority::NORMAL, head: NONE, tail: NONE, len: 0 },
            rest: BTreeMap::new(),
            count: 0,
        }
    }

    #[inline]
    fn first(&self) -> Option<&Level> {
        (self.count > 0).then_some(&self.first)
    }

    fn get(&self, level_idx: LevelIdx) -> &Level {
        match level_idx {
            LevelIdx::First => &self.first,
            LevelIdx::Rest(priority) => &self.rest[&priority],
        }
    }

    fn get_mut(&mut self, level_idx: LevelIdx) -> &mut Level {
        match level_idx {
            LevelIdx::First => &mut self.first,
            LevelIdx::Rest(priority) => self.rest.get_mut(&priority).expect("the level exists"),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Level> {
        self.first().into_iter().chain(self.rest.values())
    }

    /// The level of `priority`, if it has waiters.
    #[inline]
    fn find(&self, priority: Priority) -> Option<LevelIdx> {
        if self.count == 0 {
            None
        } else if priority == self.first.priority {
            Some(LevelIdx::First)
        } else if priority > self.first.priority && self.rest.contains_key(&priority) {
            Some(LevelIdx::Rest(priority))
        } else {
            None
        }
    }

    /// The level of `priority`, created empty if needed.
    fn find_or_insert(&mut self, priority: Priority) -> LevelIdx {
        if let Some(level_idx) = self.find(priority) {
            return level_idx;
        }
        let level = Level { priority, head: NONE, tail: NONE, len: 0 };
        self.count += 1;
        if self.count == 1 {
            self.first = level;
            LevelIdx::First
        } else if priority < self.first.priority {
            let old_first = std::mem::replace(&mut self.first, level);
            self.rest.insert(old_first.priority, old_first);
            LevelIdx::First
        } else {
            self.rest.insert(priority, level);
            LevelIdx::Rest(priority)
        }
    }

    fn remove(&mut self, level_idx: LevelIdx) {
        match level_idx {
            LevelIdx::First => {
                if let Some((_, next)) = self.rest.pop_first() {
                    self.first = next;
                }
            }
            LevelIdx::Rest(priority) => {
                self.rest.remove(&priority);
            }
        }
        self.count -= 1;
    }
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
    /// The free list, last in first out (cache-warm), skipping a head whose previous future
    /// has not read its outcome yet (see `take_free_slot`).
    free: usize,
    /// Non-empty levels, sorted by priority.
    levels: Levels,
    len: usize,
    next_seq: u64,
}

impl Queue {
    pub(crate) const fn new() -> Queue {
        Queue { slots: Vec::new(), free: NONE, levels: Levels::new(), len: 0, next_seq: 0 }
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
        self.find_level(priority).map_or(0, |level_idx| self.levels.get(level_idx).len)
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
                let waited = now.saturating_duration_since(enqueued);
                if waited < aging.interval {
                    // No step yet: the common case of a short wait, without a 128-bit division.
                    return base;
                }
                let steps = (waited.as_nanos() / aging.interval.as_nanos())
                    .min(u128::from(aging.max_boost));
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

    /// Queues a waiter at the back of its level and returns its slot and status cell.
    pub(crate) fn push(
        &mut self,
        permits: usize,
        priority: Priority,
        waker: Waker,
        enqueued: Option<Instant>,
    ) -> (usize, Status) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot_idx = match self.take_free_slot() {
            Some(slot_idx) => slot_idx,
            // A few spare slots let busy ones wait for their futures instead of costing new
            // status cells; the bound keeps the slab proportional to the queue.
            None if self.free == NONE || self.slots.len() < 2 * self.len + 4 => {
                self.slots.push(Slot {
                    status: Status::new(),
                    permits: 0,
                    waker: None,
                    prev: NONE,
                    next: NONE,
                    priority,
                    queued: false,
                    seq: 0,
                    enqueued: None,
                });
                self.slots.len() - 1
            }
            None => {
                let slot_idx = self.free;
                self.free = self.slots[slot_idx].next;
                slot_idx
            }
        };
        let slot = &mut self.slots[slot_idx];
        // The previous waiter of this slot may still not have read its outcome: then it keeps
        // the old cell and this one gets a fresh cell.
        if slot.status.is_shared() {
            slot.status = Status::new();
        }
        slot.status.store(Outcome::Waiting);
        slot.queued = true;
        slot.permits = permits;
        slot.priority = priority;
        slot.seq = seq;
        slot.enqueued = enqueued;
        slot.waker = Some(waker);
        slot.prev = NONE;
        slot.next = NONE;
        let status = slot.status.clone();
        let level_idx = self.levels.find_or_insert(priority);
        let level = self.levels.get_mut(level_idx);
        if level.tail == NONE {
            level.head = slot_idx;
        } else {
            self.slots[level.tail].next = slot_idx;
            self.slots[slot_idx].prev = level.tail;
        }
        level.tail = slot_idx;
        level.len += 1;
        self.len += 1;
        (slot_idx, status)
    }

    /// Replaces a waiting slot's waker unless the stored one wakes the same task, and returns
    /// the replaced one: the caller drops it after unlocking, since dropping a waker runs
    /// foreign code that may use the semaphore.
    #[must_use = "drop the replaced waker after unlocking"]
    pub(crate) fn update_waker(&mut self, slot_idx: usize, waker: &Waker) -> Option<Waker> {
        let slot = &mut self.slots[slot_idx];
        match &slot.waker {
            Some(stored) if stored.will_wake(waker) => None,
            _ => slot.waker.replace(waker.clone()),
        }
    }

    /// Takes a queued slot out of its level, publishes `outcome` to its future, frees the slot
    /// and returns its waker.
    #[inline]
    pub(crate) fn finish(&mut self, slot_idx: usize, outcome: Outcome) -> Option<Waker> {
        debug_assert!(self.slots[slot_idx].queued);
        let (prev, next, priority) = {
            let slot = &self.slots[slot_idx];
            (slot.prev, slot.next, slot.priority)
        };
        let level_idx = self.find_level(priority).expect("a queued slot is in its level");
        if prev == NONE {
            self.levels.get_mut(level_idx).head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NONE {
            self.levels.get_mut(level_idx).tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        let level = self.levels.get_mut(level_idx);
        level.len -= 1;
        if level.len == 0 {
            self.levels.remove(level_idx);
        }
        self.len -= 1;
        let slot = &mut self.slots[slot_idx];
        slot.status.store(outcome);
        slot.queued = false;
        slot.prev = NONE;
        let waker = slot.waker.take();
        slot.next = self.free;
        self.free = slot_idx;
        waker
    }

    /// Pops a free slot whose status cell is no longer shared with a previous future. In a
    /// hand-off between two threads the most recently freed slot belongs to a waiter that is
    /// only being woken, so the one below it is tried too.
    fn take_free_slot(&mut self) -> Option<usize> {
        let head = self.free;
        if head == NONE {
            return None;
        }
        if !self.slots[head].status.is_shared() {
            self.free = self.slots[head].next;
            return Some(head);
        }
        let second = self.slots[head].next;
        if second != NONE && !self.slots[second].status.is_shared() {
            self.slots[head].next = self.slots[second].next;
            return Some(second);
        }
        None
    }

    /// The earliest instant after `now` at which the front of some level (the only waiters
    /// whose order against other levels can change) gains an aging step, if any still can.
    pub(crate) fn next_aging_step(&self, aging: Aging, now: Instant) -> Option<Instant> {
        let interval = aging.interval.as_nanos();
        self.levels
            .iter()
            .filter_map(|level| {
                let enqueued = self.slots[level.head].enqueued?;
                let steps = now.saturating_duration_since(enqueued).as_nanos() / interval;
                let steps = u32::try_from(steps).ok().filter(|&steps| steps < aging.max_boost)?;
                enqueued.checked_add(aging.interval.checked_mul(steps + 1)?)
            })
            .min()
    }

    /// The front waiter of the best level: its slot, sequence number and waker.
    pub(crate) fn front_waker(&self) -> Option<(usize, u64, &Waker)> {
        let slot_idx = self.levels.first()?.head;
        let slot = &self.slots[slot_idx];
        Some((slot_idx, slot.seq, slot.waker.as_ref()?))
    }

    /// Whether `slot_idx` still holds the queued waiter numbered `seq`.
    pub(crate) fn is_queued(&self, slot_idx: usize, seq: u64) -> bool {
        self.slots.get(slot_idx).is_some_and(|slot| slot.queued && slot.seq == seq)
    }

    /// The sequence number of a queued slot.
    pub(crate) fn seq(&self, slot_idx: usize) -> u64 {
        self.slots[slot_idx].seq
    }

    /// Any waiting slot (used to empty the queue on close).
    pub(crate) fn any_waiting(&self) -> Option<usize> {
        self.levels.first().map(|level| level.head)
    }

    /// The first waiting slot at or after `from` that asks for more than `total` permits.
    /// Callers rejecting several resume from the slot after the last one found, so a sweep
    /// over the whole queue is one pass over the slab.
    pub(crate) fn find_larger_than(&self, total: usize, from: usize) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let rest = self.slots.get(from..)?;
        rest.iter().position(|slot| slot.queued && slot.permits > total).map(|idx| idx + from)
    }

    fn find_level(&self, priority: Priority) -> Option<LevelIdx> {
        self.levels.find(priority)
    }
}
