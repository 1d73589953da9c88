use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use asynchronously_time::{Alarm, Clock, RealClock};
use futures::Stream;

use super::{Shared, When};

/// The stream of payloads of a [`Scheduler`](crate::Scheduler), each at its instant; made
/// with the scheduler by [`Scheduler::new`](crate::Scheduler::new).
///
/// It ends when the scheduler is closed, or when every scheduler handle is dropped and the
/// queue has drained. Dropping it closes the scheduler and drops the waiting payloads.
///
/// # Cancel safety
///
/// `next()` is cancel-safe: a payload leaves the queue only when it is returned.
///
/// # Examples
///
/// See [`Scheduler`](crate::Scheduler).
#[must_use = "streams do nothing unless polled"]
pub struct Deliveries<T, C: Clock = RealClock> {
    shared: Arc<Shared<T>>,
    clock: C,
    alarm: Alarm<C::Sleep>,
}

impl<T, C: Clock> Deliveries<T, C> {
    pub(super) fn new(shared: Arc<Shared<T>>, clock: C) -> Self {
        Deliveries { shared, clock, alarm: Alarm::new() }
    }
}

impl<T, C: Clock> Stream for Deliveries<T, C> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            let due = {
                let mut state = this.shared.lock();
                if state.closed {
                    drop(state);
                    this.alarm.disarm();
                    return Poll::Ready(None);
                }
                match state.queue.first_key_value().map(|(&(when, _), _)| when) {
                    Some(When::At(at)) => {
                        if at <= this.clock.now() {
                            let payload = state.queue.pop_first().map(|(_, payload)| payload);
                            drop(state);
                            this.alarm.disarm();
                            return Poll::Ready(payload);
                        }
                        state.waker = Some(cx.waker().clone());
                        at
                    }
                    // Empty, or only payloads that are never due.
                    Some(When::Never) | None => {
                        if state.handles == 0 {
                            drop(state);
                            this.alarm.disarm();
                            return Poll::Ready(None);
                        }
                        state.waker = Some(cx.waker().clone());
                        drop(state);
                        this.alarm.disarm();
                        return Poll::Pending;
                    }
                }
            };
            if this.alarm.poll_until(&this.clock, due, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

// Nothing is pinned: payloads live in the shared queue and the clock's sleeps are `Unpin`.
impl<T, C: Clock> Unpin for Deliveries<T, C> {}

impl<T, C: Clock> Drop for Deliveries<T, C> {
    fn drop(&mut self) {
        let queue = {
            let mut state = self.shared.lock();
            state.closed = true;
            state.waker = None;
            std::mem::take(&mut state.queue)
        };
        // Payloads are dropped outside the lock: their destructors are user code.
        drop(queue);
    }
}

impl<T, C: Clock> fmt::Debug for Deliveries<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Deliveries")
            .field("waiting", &state.queue.len())
            .field("closed", &state.closed)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<Deliveries<String>>();
};
