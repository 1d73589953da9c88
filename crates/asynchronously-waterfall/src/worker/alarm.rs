use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use asynchronously_time::Clock;

/// One sleep reused across deadlines: re-armed in place (no new timer per tick), and forgotten
/// when nothing is due, so a virtual clock's `run_for` never waits for a sleep nobody polls.
pub(super) struct Alarm<S> {
    sleep: Option<S>,
    /// The deadline `sleep` is registered for (polled and pending).
    armed: Option<Instant>,
}

impl<S: Future<Output = ()> + Unpin> Alarm<S> {
    pub(super) fn new() -> Self {
        Alarm { sleep: None, armed: None }
    }

    /// Polls the sleep for `due`; `Ready` once `due` is reached on `clock`.
    pub(super) fn poll_until<C: Clock<Sleep = S>>(
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
    pub(super) fn disarm(&mut self) {
        if self.armed.take().is_some() {
            self.sleep = None;
        }
    }

    /// Drops the sleep, registered or not.
    pub(super) fn clear(&mut self) {
        self.armed = None;
        self.sleep = None;
    }
}
