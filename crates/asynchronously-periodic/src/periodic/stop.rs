use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::EventListener;

use super::Shared;

/// Future returned by [`Periodic::stop`](crate::Periodic::stop) and
/// [`Periodic::stop_within`](crate::Periodic::stop_within): completes when the worker has
/// finished, or was dropped.
///
/// The stop itself was requested when the method was called; this future only waits. If the
/// worker is never polled (not spawned), it never finishes and neither does this future.
///
/// # Cancel safety
///
/// Dropping it stops nothing and cancels nothing: the stop stays requested.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Periodic, Stop};
///
/// let (periodic, worker) = Periodic::builder(Duration::from_secs(1)).build(|_tick| async {})?;
/// let stop: Stop = periodic.stop();
/// drop(worker); // a dropped worker counts as finished
/// stop.await;
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
#[must_use = "the stop is already requested; await this to wait until the worker has finished"]
pub struct Stop {
    shared: Arc<Shared>,
    listener: Option<EventListener>,
}

impl Stop {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Stop { shared, listener: None }
    }
}

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.shared.lock().finished {
                self.listener = None;
                return Poll::Ready(());
            }
            match &mut self.listener {
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.listener = None;
                }
                // Listen, then check again, so a finish in between is not missed.
                None => self.listener = Some(self.shared.finished.listen()),
            }
        }
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop").field("finished", &self.shared.lock().finished).finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<Stop>();
};
