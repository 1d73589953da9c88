//! The hand-off engine: the lock-free fast paths, queueing, dispatch of released permits to
//! the head of the queue, cancellation, rejection and the aging timer. The public API in
//! `semaphore.rs` is built on these.

use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use asynchronously_time::Clock;

use super::queue::{Aging, Outcome, Queue, Status};
use super::wake_list::WakeList;
use super::{CLOSED, Fast, PERMITS, WAITERS};
use crate::sync::{MutexGuard, Ordering};
use crate::{AcquireError, Priority, PrioritySemaphore, TryAcquireError};

/// The semaphore-level aging timer. Its sleep is always polled with the waker of a waiter
/// still queued (`owner`), so whoever it wakes polls it again.
pub(super) struct AgingTimer<C: Clock> {
    sleep: Option<C::Sleep>,
    /// The instant the sleep is set for.
    at: Option<Instant>,
    /// The queued waiter (slot, sequence number) whose waker the sleep holds.
    owner: Option<(usize, u64)>,
}

impl<C: Clock> AgingTimer<C> {
    pub(super) const fn new() -> AgingTimer<C> {
        AgingTimer { sleep: None, at: None, owner: None }
    }
}

impl<C: Clock> PrioritySemaphore<C> {
    /// Lock-free attempt to take `permits` while nobody is queued.
    #[inline]
    pub(crate) fn try_take_fast(&self, permits: usize) -> Fast {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & (CLOSED | WAITERS) != 0 {
                return Fast::Slow;
            }
            if state < permits {
                return Fast::NotEnough;
            }
            match self.state.compare_exchange_weak(
                state,
                state - permits,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Fast::Taken,
                Err(actual) => state = actual,
            }
        }
    }

    #[inline]
    pub(super) fn try_take(
        &self,
        permits: usize,
        priority: Priority,
    ) -> Result<(), TryAcquireError> {
        if permits == 0 {
            return if self.is_closed() { Err(TryAcquireError::Closed) } else { Ok(()) };
        }
        match self.try_take_fast(permits) {
            Fast::Taken => return Ok(()),
            Fast::NotEnough => {
                let total = self.total.load(Ordering::Acquire);
                return Err(if exceeds(permits, total) {
                    TryAcquireError::TooLarge { requested: permits, total }
                } else {
                    TryAcquireError::NoPermits
                });
            }
            Fast::Slow => {}
        }
        self.try_take_slow(permits, priority)
    }

    #[inline(never)]
    pub(super) fn try_take_slow(
        &self,
        permits: usize,
        priority: Priority,
    ) -> Result<(), TryAcquireError> {
        let queue = self.lock();
        let state = self.state.load(Ordering::Acquire);
        if state & CLOSED != 0 {
            return Err(TryAcquireError::Closed);
        }
        let total = self.total.load(Ordering::Relaxed);
        if exceeds(permits, total) {
            return Err(TryAcquireError::TooLarge { requested: permits, total });
        }
        if queue.is_empty() {
            // `WAITERS` is clear and stays clear while we hold the lock (only a waiter queueing
            // or `set_total` sets it, under the lock): the compare-and-swap races only other
            // fast paths. If it is set, permits are being retired and none is free.
            let taken = self.try_take_fast(permits);
            drop(queue);
            return match taken {
                Fast::Taken => Ok(()),
                Fast::NotEnough | Fast::Slow => Err(TryAcquireError::NoPermits),
            };
        }
        // `WAITERS` is set and we hold the lock: the free count can only grow under us.
        if self.is_ahead_of_queue(&queue, priority) && state & PERMITS >= permits {
            self.state.fetch_sub(permits, Ordering::AcqRel);
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Whether a newcomer at `priority` would be first in line.
    pub(super) fn is_ahead_of_queue(&self, queue: &Queue, priority: Priority) -> bool {
        queue
            .head(self.aging_now(queue))
            .is_none_or(|(_, head_priority)| i64::from(priority.value()) < head_priority)
    }

    pub(super) fn aging_now(&self, queue: &Queue) -> Option<(Aging, Instant)> {
        let aging = self.aging?;
        if queue.is_empty() { None } else { Some((aging, self.clock.now())) }
    }

    /// Slow path of an acquire's first poll: take the permits if it would be first in line
    /// and they are free, otherwise queue it. `Ok(None)` means taken, `Ok(Some(_))` queued
    /// (its slot, status cell, and when it was queued if aging is on).
    pub(crate) fn register(
        &self,
        permits: usize,
        priority: Priority,
        waker: &Waker,
    ) -> Result<Option<(usize, Status)>, AcquireError> {
        // Prepared before locking, to keep the critical section short under contention.
        let waker = waker.clone();
        let enqueued = self.aging.map(|_| self.clock.now());
        let mut queue = self.lock();
        // From here on only we may take free permits (others see `WAITERS` and lock).
        let state = self.state.fetch_or(WAITERS, Ordering::AcqRel);
        let total = self.total.load(Ordering::Relaxed);
        let rejection = if state & CLOSED != 0 {
            Some(AcquireError::Closed)
        } else if exceeds(permits, total) {
            Some(AcquireError::TooLarge { requested: permits, total })
        } else {
            None
        };
        let ahead = rejection.is_none() && self.is_ahead_of_queue(&queue, priority);
        let taken = ahead && self.state.load(Ordering::Acquire) & PERMITS >= permits;
        if taken {
            self.state.fetch_sub(permits, Ordering::AcqRel);
        }
        if rejection.is_some() || taken {
            if self.idle(&queue) {
                self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            }
            return rejection.map_or(Ok(None), Err);
        }
        let (slot_idx, status) = queue.push(permits, priority, waker, enqueued);
        let stale = self.arm_aging(&queue);
        drop(queue);
        drop(stale);
        Ok(Some((slot_idx, status)))
    }

    /// On an aging semaphore, arms its one timer for the next moment the order of the queue
    /// can change, if free permits are kept for a blocked head meanwhile (otherwise the next
    /// release or arrival compares effective priorities anyway), and disarms it when not
    /// needed. Called under the queue lock; returns a sleep to drop after unlocking.
    pub(super) fn arm_aging(&self, queue: &Queue) -> Option<C::Sleep> {
        let aging = self.aging?;
        let mut timer = self.aging_timer.lock().unwrap_or_else(PoisonError::into_inner);
        let needed = !queue.is_empty() && self.state.load(Ordering::Acquire) & PERMITS != 0;
        let next = if needed { queue.next_aging_step(aging, self.clock.now()) } else { None };
        let Some(next) = next else {
            timer.at = None;
            timer.owner = None;
            return timer.sleep.take();
        };
        let owned = timer.owner.is_some_and(|(slot_idx, seq)| queue.is_queued(slot_idx, seq));
        if owned && timer.at == Some(next) {
            return None;
        }
        let (slot_idx, seq, waker) = queue.front_waker()?;
        match &mut timer.sleep {
            Some(sleep) => self.clock.reset(sleep, next),
            None => timer.sleep = Some(self.clock.sleep_until(next)),
        }
        timer.at = Some(next);
        timer.owner = Some((slot_idx, seq));
        let sleep = timer.sleep.as_mut().expect("set above");
        if Pin::new(sleep).poll(&mut Context::from_waker(waker)).is_ready() {
            // Already due: have its owner poll again and act on it.
            waker.wake_by_ref();
        }
        None
    }

    /// Polls the aging timer for a queued waiter being polled, which becomes its owner.
    /// Returns whether it fired: the order may have changed.
    pub(super) fn poll_aging(&self, queue: &Queue, slot_idx: usize, waker: &Waker) -> bool {
        if self.aging.is_none() {
            return false;
        }
        let mut timer = self.aging_timer.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = queue.seq(slot_idx);
        let Some(sleep) = timer.sleep.as_mut() else { return false };
        if Pin::new(sleep).poll(&mut Context::from_waker(waker)).is_ready() {
            timer.at = None;
            timer.owner = None;
            true
        } else {
            timer.owner = Some((slot_idx, seq));
            false
        }
    }

    /// Polls a queued acquire. The outcome is read without the lock; only a waiter still
    /// waiting takes it, to store a new waker.
    #[inline]
    pub(crate) fn poll_queued(
        &self,
        slot_idx: usize,
        status: &Status,
        permits: usize,
        waker: &Waker,
    ) -> Poll<Result<(), AcquireError>> {
        let outcome = match status.load() {
            Outcome::Waiting => {
                let mut queue = self.lock();
                // Outcomes are published under the lock, so this one is final.
                match status.load() {
                    Outcome::Waiting => {
                        let replaced = queue.update_waker(slot_idx, waker);
                        if self.poll_aging(&queue, slot_idx, waker) {
                            // The order changed with time: a waiter that fits in the free
                            // permits may now be first in line (this one, perhaps).
                            self.dispatch_and_unlock(queue, 0);
                            drop(replaced);
                            return self.poll_queued(slot_idx, status, permits, waker);
                        }
                        drop(queue);
                        drop(replaced);
                        return Poll::Pending;
                    }
                    outcome => outcome,
                }
            }
            outcome => outcome,
        };
        Poll::Ready(match outcome {
            Outcome::Assigned => Ok(()),
            Outcome::Closed => Err(AcquireError::Closed),
            Outcome::TooLarge { total } => {
                Err(AcquireError::TooLarge { requested: permits, total })
            }
            Outcome::Waiting => unreachable!("handled above"),
        })
    }

    /// A queued acquire was dropped: leave the queue, and pass on permits handed to it.
    pub(crate) fn cancel(&self, slot_idx: usize, status: &Status, permits: usize) {
        match status.load() {
            Outcome::Assigned => self.release(permits),
            Outcome::Closed | Outcome::TooLarge { .. } => {}
            Outcome::Waiting => {
                let mut queue = self.lock();
                match status.load() {
                    Outcome::Waiting => {
                        let waker = queue.finish(slot_idx, Outcome::Closed);
                        // It may have been the head blocking smaller requests behind it.
                        self.dispatch_and_unlock(queue, 0);
                        // Dropping a waker runs foreign code, which may use the semaphore.
                        drop(waker);
                    }
                    Outcome::Assigned => self.dispatch_and_unlock(queue, permits),
                    Outcome::Closed | Outcome::TooLarge { .. } => {}
                }
            }
        }
    }

    /// Returns `permits` (a dropped permit), handing them to waiters first.
    #[inline]
    pub(crate) fn release(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        // Without waiters, return the permits to the count; the compare-and-swap fails if a
        // waiter queued meanwhile, so no wake-up is lost.
        while state & WAITERS == 0 {
            match self.state.compare_exchange_weak(
                state,
                state + permits,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
        self.release_to_waiters(permits);
    }

    /// Hands released permits straight to the waiters, without passing through the count.
    #[inline(never)]
    pub(super) fn release_to_waiters(&self, permits: usize) {
        self.dispatch_and_unlock(self.lock(), permits);
    }

    /// Destroys `permits` held permits (a forgotten permit). While permits are being retired
    /// they count as retired first; the total shrinks by the rest. Queued requests that no
    /// longer fit in the smaller total fail with `TooLarge`.
    pub(crate) fn forget(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        let queue = self.lock();
        let permits = permits - self.retire(permits);
        if permits == 0 {
            self.dispatch_and_unlock(queue, 0);
            return;
        }
        let total = self.total.load(Ordering::Relaxed) - permits;
        self.total.store(total, Ordering::Release);
        let queue = self.reject_too_large(queue, total);
        // A rejected head may have blocked the waiters behind it.
        self.dispatch_and_unlock(queue, 0);
    }

    /// Fails every queued request for more than `total` permits (the total must be non-zero:
    /// with zero permits every request waits for `add_permits`).
    pub(super) fn reject_too_large<'a>(
        &'a self,
        mut queue: MutexGuard<'a, Queue>,
        total: usize,
    ) -> MutexGuard<'a, Queue> {
        if total == 0 {
            return queue;
        }
        // One pass over the slab: a slot freed behind the cursor while unlocked is reused
        // only by a waiter that registered against the new total, which it fits.
        let mut from = 0;
        loop {
            let mut wakers = WakeList::new();
            while !wakers.is_full() {
                let Some(slot_idx) = queue.find_larger_than(total, from) else { break };
                from = slot_idx + 1;
                wakers.push(queue.finish(slot_idx, Outcome::TooLarge { total }));
            }
            let full = wakers.is_full();
            if self.idle(&queue) {
                // Keep the invariant while unlocked: `WAITERS` is set only if someone waits
                // (or permits are being retired).
                self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            }
            // Wake outside the lock, as everywhere.
            drop(queue);
            wakers.wake_all();
            queue = self.lock();
            if !full {
                return queue;
            }
        }
    }

    /// Hands `in_hand` permits (not in the count) and then free permits to head waiters until
    /// the head does not fit, puts what is left into the count, and wakes the served waiters
    /// outside the lock.
    pub(super) fn dispatch_and_unlock<'a>(
        &'a self,
        mut queue: MutexGuard<'a, Queue>,
        mut in_hand: usize,
    ) {
        loop {
            let mut wakers = WakeList::new();
            let more = self.dispatch(&mut queue, &mut wakers, &mut in_hand);
            let stale = if more { None } else { self.arm_aging(&queue) };
            drop(queue);
            drop(stale);
            wakers.wake_all();
            if !more {
                return;
            }
            queue = self.lock();
        }
    }

    /// Returns whether it stopped only because `wakers` is full. Retires what it can of
    /// `in_hand` first, then leaves `in_hand` at zero and `WAITERS` set exactly when the queue
    /// is not empty or permits are still to be retired.
    pub(super) fn dispatch(
        &self,
        queue: &mut Queue,
        wakers: &mut WakeList,
        in_hand: &mut usize,
    ) -> bool {
        *in_hand -= self.retire(*in_hand);
        let aging = self.aging_now(queue);
        // `CLOSED` is only set under the lock, so this read is exact while we hold it.
        let closed = self.state.load(Ordering::Relaxed) & CLOSED != 0;
        let more = loop {
            let Some((slot_idx, _)) = queue.head(aging) else {
                // Returning permits and clearing the flag in one step: a fast-path acquire
                // may take them as soon as the flag is clear.
                // Permits still to be retired keep the flag set (and `in_hand` is zero then).
                let leftover = std::mem::take(in_hand);
                let flag = if self.retiring.load(Ordering::Relaxed) == 0 { 0 } else { WAITERS };
                let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |state| {
                    Some(((state & !WAITERS) | flag) + leftover)
                });
                return false;
            };
            if closed {
                // `close` is failing the queue batch by batch and unlocked between batches
                // to wake them: the waiters still queued get `Closed`, not these permits.
                break false;
            }
            if wakers.is_full() {
                // Unlock to wake them; the queue is not empty, so `WAITERS` stays set.
                break true;
            }
            let permits = queue.permits(slot_idx);
            if *in_hand >= permits {
                *in_hand -= permits;
            } else {
                // `WAITERS` is set and we hold the lock: nobody else takes from the count.
                let missing = permits - *in_hand;
                if self.state.load(Ordering::Acquire) & PERMITS < missing {
                    break false;
                }
                self.state.fetch_sub(missing, Ordering::AcqRel);
                *in_hand = 0;
            }
            wakers.push(queue.finish(slot_idx, Outcome::Assigned));
        };
        // Still under the lock, so a waiter that queues after this sees the permits.
        let leftover = std::mem::take(in_hand);
        if leftover != 0 {
            self.state.fetch_add(leftover, Ordering::AcqRel);
        }
        more
    }

    /// Retires up to `permits` returned permits still owed to a shrunk total, and returns how
    /// many it retired. Called under the queue lock.
    pub(super) fn retire(&self, permits: usize) -> usize {
        let retiring = self.retiring.load(Ordering::Relaxed);
        let retired = retiring.min(permits);
        if retired != 0 {
            self.retiring.store(retiring - retired, Ordering::Relaxed);
        }
        retired
    }

    /// Whether `WAITERS` may be cleared: nobody is queued and no permit is owed to a shrunk
    /// total. Called under the queue lock.
    pub(super) fn idle(&self, queue: &Queue) -> bool {
        queue.is_empty() && self.retiring.load(Ordering::Relaxed) == 0
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        // No user code runs under this lock, so a poisoned lock still holds a consistent queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a request can never be served: more than the total, unless the total is zero
/// (a semaphore that was never given permits waits for `add_permits`).
#[inline]
fn exceeds(permits: usize, total: usize) -> bool {
    total != 0 && permits > total
}
