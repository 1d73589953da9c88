use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::Clock;

/// One sleep reused across deadlines, for hand-written futures that wait on a moving deadline.
///
/// [`poll_until`](Alarm::poll_until) re-arms the same sleep in place with [`Clock::reset`]
/// (no new timer per deadline); [`disarm`](Alarm::disarm) forgets a sleep that is registered
/// with its clock when nothing is due, so a [`VirtualClock`](crate::VirtualClock)'s `run_for`
/// never waits for a sleep nobody will poll again.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll};
/// use std::time::Duration;
///
/// use asynchronously::time::{Alarm, Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let mut alarm = Alarm::new();
/// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
/// let due = clock.now() + Duration::from_secs(1);
/// assert!(alarm.poll_until(&clock, due, &mut cx).is_pending());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(alarm.poll_until(&clock, due, &mut cx), Poll::Ready(()));
/// ```
pub struct Alarm<S> {
    sleep: Option<S>,
    /// The deadline `sleep` is registered for (polled and pending).
    armed: Option<Instant>,
}

impl<S: Future<Output = ()> + Unpin> Alarm<S> {
    /// An alarm with no sleep yet; the first [`poll_until`](Alarm::poll_until) creates it.
    pub fn new() -> Self {
        Alarm { sleep: None, armed: None }
    }

    /// Polls the sleep for `due`; `Ready` once `due` is reached on `clock`.
    ///
    /// A different `due` than the last poll's re-arms the same sleep in place.
    pub fn poll_until<C: Clock<Sleep = S>>(
        &mut self,
        clock: &C,
        due: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if self.armed != Some(due) {
                    clock.reset(sleep, due);
                }
                sleep
            }
            slot @ None => slot.insert(clock.sleep_until(due)),
        };
        match Pin::new(sleep).poll(cx) {
            Poll::Ready(()) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => {
                self.armed = Some(due);
                Poll::Pending
            }
        }
    }

    /// Forgets the sleep if it is registered with its clock; keeps an idle one for reuse.
    pub fn disarm(&mut self) {
        if self.armed.take().is_some() {
            self.sleep = None;
        }
    }

    /// Drops the sleep, registered or not.
    pub fn clear(&mut self) {
        self.armed = None;
        self.sleep = None;
    }
}

impl<S: Future<Output = ()> + Unpin> Default for Alarm<S> {
    fn default() -> Self {
        Alarm::new()
    }
}

impl<S> fmt::Debug for Alarm<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alarm").field("armed", &self.armed).finish_non_exhaustive()
    }
}
