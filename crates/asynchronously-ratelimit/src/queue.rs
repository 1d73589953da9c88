//! The queue of pending reservations shared by the waiting limiters.
//!
//! A waiter claims its slot when it enqueues: the limiter's state is advanced past it at once
//! and the entry records when it becomes due (`start`). Entries stay in reservation order, so
//! `start` never decreases along the queue and `id`s increase: lookups are binary searches.
//! Each entry also remembers the limiter state just before and just after its reservation,
//! so that a cancelled reservation can be taken out and the ones behind it replanned earlier.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Nanoseconds since a limiter's origin: the unit of every limiter's arithmetic.
pub(crate) fn nanos_since(origin: Instant, instant: Instant) -> u64 {
    let nanos = instant.saturating_duration_since(origin).as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// The instant `nanos` after `origin`, or `None` ("never") if it cannot be represented.
pub(crate) fn instant_at(origin: Instant, nanos: u64) -> Option<Instant> {
    origin.checked_add(Duration::from_nanos(nanos))
}

/// Locks `mutex`, ignoring poison: no user code runs while our locks are held, so a poisoned
/// lock can only come from a panic in `Hash`/`Eq` of a user key, which leaves the map intact.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The replanned `(start, before, after)` of each reservation behind a cancelled one.
pub(crate) type Plan<S> = Vec<(u64, S, S)>;

pub(crate) struct Entry<S> {
    pub(crate) id: u64,
    pub(crate) n: u32,
    /// When the reservation is due, in nanoseconds since the origin.
    pub(crate) start: u64,
    /// The limiter state just before this reservation was made.
    pub(crate) before: S,
    /// The limiter state just after it.
    pub(crate) after: S,
    /// The waiter's task, woken when the reservation is moved earlier.
    waker: Option<Waker>,
}

pub(crate) struct Queue<S> {
    next_id: u64,
    entries: VecDeque<Entry<S>>,
}

impl<S: Clone> Queue<S> {
    pub(crate) fn new() -> Self {
        Queue { next_id: 0, entries: VecDeque::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn push(&mut self, n: u32, start: u64, before: S, after: S) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back(Entry { id, n, start, before, after, waker: None });
        id
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |entry| entry.id).ok()
    }

    /// The limiter state after the last reservation, if any is queued.
    pub(crate) fn last_after(&self) -> Option<&S> {
        self.entries.back().map(|entry| &entry.after)
    }

    /// Whether reservation `id` is due at `now` (`None`: it is, and it left the queue);
    /// otherwise when it will be, and `waker` is kept to be told when the reservation moves.
    pub(crate) fn turn(&mut self, id: u64, now: u64, waker: &Waker) -> Option<u64> {
        let index = self.index(id)?;
        let entry = &mut self.entries[index];
        if entry.start <= now {
            self.entries.remove(index);
            return None;
        }
        match &mut entry.waker {
            Some(stored) => stored.clone_from(waker),
            slot @ None => *slot = Some(waker.clone()),
        }
        Some(entry.start)
    }

    /// When reservation `id` is due, if it is still queued.
    pub(crate) fn start_of(&self, id: u64) -> Option<u64> {
        self.index(id).map(|index| self.entries[index].start)
    }

    /// Takes reservation `id` out of the queue without giving anything back.
    pub(crate) fn remove(&mut self, id: u64) {
        if let Some(index) = self.index(id) {
            self.entries.remove(index);
        }
    }

    /// Plans taking reservation `id` out while returning its cells: if it is still queued
    /// and not yet due at `now`, returns the replanned `(start, before, after)` of every
    /// reservation behind it and the limiter state after the last of them. `place` makes one
    /// reservation of `n` cells on a state at `now` and returns when it is due; the ones
    /// behind are treated as arriving `now` (later than they did: never more generous).
    pub(crate) fn plan_cancel(
        &self,
        id: u64,
        now: u64,
        mut place: impl FnMut(&mut S, u32, u64) -> u64,
    ) -> Option<(Plan<S>, S)> {
        let index = self.index(id)?;
        if self.entries[index].start <= now {
            return None;
        }
        let mut state = self.entries[index].before.clone();
        let plan = self
            .entries
            .iter()
            .skip(index + 1)
            .map(|entry| {
                let before = state.clone();
                let start = place(&mut state, entry.n, now);
                (start, before, state.clone())
            })
            .collect();
        Some((plan, state))
    }

    /// Applies a plan from [`plan_cancel`](Self::plan_cancel): removes `id`, moves the
    /// reservations behind it and wakes each one whose start changed.
    pub(crate) fn apply_cancel(&mut self, id: u64, plan: Plan<S>) {
        let Some(index) = self.index(id) else { return };
        self.entries.remove(index);
        for (entry, (start, before, after)) in self.entries.iter_mut().skip(index).zip(plan) {
            entry.before = before;
            entry.after = after;
            if entry.start != start {
                entry.start = start;
                if let Some(waker) = entry.waker.take() {
                    waker.wake();
                }
            }
        }
    }
}
