//! A queued waiter's alarm for its aging steps.
//!
//! With aging, the order of the queue changes with time alone, without a release or any
//! other event: a waiter can become the head while free permits (kept for a larger request
//! that was the head) would already serve it. Each queued waiter therefore sleeps until its
//! next aging step, and when the step passes re-runs the hand-off. Only waiters of an aging
//! semaphore have one, so the plain paths neither allocate nor touch the clock.

use std::pin::Pin;
use std::task::Context;
use std::time::Instant;

use asynchronously_time::Clock;

use crate::semaphore::queue::Aging;

#[derive(Debug)]
pub(crate) struct AgingTimer<C: Clock> {
    aging: Aging,
    enqueued: Instant,
    stage: Stage,
    sleep: Option<C::Sleep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled since it was queued.
    Fresh,
    /// The sleep is set for this step boundary.
    Armed(Instant),
    /// The boost reached its bound (or the next step cannot be represented): no more steps.
    Done,
}

impl<C: Clock> AgingTimer<C> {
    pub(crate) fn new(aging: Aging, enqueued: Instant) -> AgingTimer<C> {
        AgingTimer { aging, enqueued, stage: Stage::Fresh, sleep: None }
    }

    /// Returns whether an aging step passed since the last call (or since the waiter was
    /// queued, on the first call), and arms the sleep for the next step, if any, with the
    /// waker of `cx`.
    pub(crate) fn poll_step(&mut self, clock: &C, cx: &mut Context<'_>) -> bool {
        let now = clock.now();
        let interval = self.aging.interval.as_nanos();
        let steps = now.saturating_duration_since(self.enqueued).as_nanos() / interval;
        let passed = match self.stage {
            Stage::Fresh => steps > 0,
            Stage::Armed(armed) => armed <= now,
            Stage::Done => false,
        };
        // The next boundary, unless the boost is at its bound or the instant is out of range.
        let next = u32::try_from(steps)
            .ok()
            .filter(|&steps| steps < self.aging.max_boost)
            .and_then(|steps| self.aging.interval.checked_mul(steps + 1))
            .and_then(|offset| self.enqueued.checked_add(offset));
        match next {
            None => {
                self.stage = Stage::Done;
                self.sleep = None;
            }
            Some(next) if self.stage != Stage::Armed(next) => {
                match &mut self.sleep {
                    Some(sleep) => clock.reset(sleep, next),
                    None => self.sleep = Some(clock.sleep_until(next)),
                }
                self.stage = Stage::Armed(next);
            }
            Some(_) => {}
        }
        let due = self.sleep.as_mut().is_some_and(|sleep| Pin::new(sleep).poll(cx).is_ready());
        if due {
            // The boundary passed while arming: be polled again to act on it.
            cx.waker().wake_by_ref();
        }
        passed
    }
}
