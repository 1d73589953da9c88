use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use asynchronously_time::{Clock, RealClock};

use crate::semaphore::Fast;
use crate::semaphore::queue::Status;

use crate::{AcquireError, OwnedPermit, Permit, Priority, PrioritySemaphore};

/// Future returned by [`PrioritySemaphore::acquire`] and its `_many`/`_ambient` variants.
///
/// It does nothing until polled. The first poll takes the permits at once if they are free and
/// nobody is queued ahead (one atomic operation, no allocation), otherwise it queues the
/// waiter; later polls only check the outcome.
///
/// # Cancel safety
///
/// Dropping this future removes its waiter from the queue, and waiters behind it keep their
/// places. If permits had already been handed to it (the waiter was woken but not polled
/// again), they pass on to the next waiter: no permit is lost.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::priority_semaphore::{Acquire, Priority, PrioritySemaphore};
///
/// let semaphore = PrioritySemaphore::new(1);
/// let acquire: Acquire<'_> = semaphore.acquire(Priority::NORMAL);
/// let _permit = acquire.await?;
/// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a, C: Clock = RealClock> {
    semaphore: &'a PrioritySemaphore<C>,
    state: Waiter,
}

/// Future returned by [`PrioritySemaphore::acquire_owned`] and its variants: like [`Acquire`],
/// but holds an `Arc` of the semaphore and yields an [`OwnedPermit`].
///
/// # Cancel safety
///
/// Cancel safe, like [`Acquire`]: dropping it leaves the queue and passes on permits already
/// handed to it.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
///
/// use asynchronously::priority_semaphore::{AcquireOwned, Priority, PrioritySemaphore};
///
/// let semaphore = Arc::new(PrioritySemaphore::new(1));
/// let acquire: AcquireOwned = semaphore.acquire_owned(Priority::NORMAL);
/// let permit = acquire.await?;
/// assert_eq!(permit.semaphore().available_permits(), 0);
/// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AcquireOwned<C: Clock = RealClock> {
    /// `None` once the permit was handed out.
    semaphore: Option<Arc<PrioritySemaphore<C>>>,
    state: Waiter,
}

/// The state machine shared by both futures.
#[derive(Debug)]
struct Waiter {
    permits: usize,
    /// `None` until the first poll for ambient acquires.
    priority: Option<Priority>,
    /// While queued.
    slot: Option<Queued>,
    done: bool,
}

/// A queued waiter's handles; one `Option` for both, so the uncontended path checks (and
/// drops) nothing more than before it queued.
#[derive(Debug)]
struct Queued {
    slot_idx: usize,
    /// The cell its outcome is published in.
    status: Status,
}

impl<'a, C: Clock> Acquire<'a, C> {
    #[inline]
    pub(crate) fn new(
        semaphore: &'a PrioritySemaphore<C>,
        permits: usize,
        priority: Option<Priority>,
    ) -> Self {
        Acquire { semaphore, state: Waiter::new(permits, priority) }
    }
}

impl<C: Clock> AcquireOwned<C> {
    #[inline]
    pub(crate) fn new(
        semaphore: Arc<PrioritySemaphore<C>>,
        permits: usize,
        priority: Option<Priority>,
    ) -> Self {
        AcquireOwned { semaphore: Some(semaphore), state: Waiter::new(permits, priority) }
    }
}

impl Waiter {
    #[inline]
    fn new(permits: usize, priority: Option<Priority>) -> Waiter {
        Waiter { permits, priority, slot: None, done: false }
    }

    #[inline]
    fn poll<C: Clock>(
        &mut self,
        semaphore: &PrioritySemaphore<C>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Priority, AcquireError>> {
        // The uncontended first poll: one compare-and-swap, nothing else.
        if self.slot.is_none()
            && !self.done
            && self.permits != 0
            && semaphore.try_take_fast(self.permits) == Fast::Taken
        {
            self.done = true;
            return Poll::Ready(Ok(*self.priority.get_or_insert_with(Priority::current)));
        }
        self.poll_slow(semaphore, cx)
    }

    #[inline(never)]
    fn poll_slow<C: Clock>(
        &mut self,
        semaphore: &PrioritySemaphore<C>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Priority, AcquireError>> {
        assert!(!self.done, "acquire future polled after completion");
        let priority = *self.priority.get_or_insert_with(Priority::current);
        let outcome = match &mut self.slot {
            Some(queued) => {
                let outcome = std::task::ready!(semaphore.poll_queued(
                    queued.slot_idx,
                    &queued.status,
                    self.permits,
                    cx.waker(),
                ));
                self.slot = None;
                outcome
            }
            None if self.permits == 0 => {
                if semaphore.is_closed() {
                    Err(AcquireError::Closed)
                } else {
                    Ok(())
                }
            }
            None => match semaphore.try_take_fast(self.permits) {
                Fast::Taken => Ok(()),
                Fast::NotEnough | Fast::Slow => {
                    match semaphore.register(self.permits, priority, cx.waker()) {
                        Ok(None) => Ok(()),
                        Ok(Some((slot_idx, status))) => {
                            self.slot = Some(Queued { slot_idx, status });
                            return Poll::Pending;
                        }
                        Err(error) => Err(error),
                    }
                }
            },
        };
        self.done = true;
        Poll::Ready(outcome.map(|()| priority))
    }

    #[inline]
    fn cancel<C: Clock>(&mut self, semaphore: &PrioritySemaphore<C>) {
        if let Some(queued) = self.slot.take() {
            semaphore.cancel(queued.slot_idx, &queued.status, self.permits);
        }
    }
}

impl<'a, C: Clock> Future for Acquire<'a, C> {
    type Output = Result<Permit<'a, C>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let semaphore = this.semaphore;
        this.state
            .poll(semaphore, cx)
            .map_ok(|priority| Permit::new(semaphore, this.state.permits, priority))
    }
}

impl<C: Clock> Future for AcquireOwned<C> {
    type Output = Result<OwnedPermit<C>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let semaphore = this.semaphore.as_ref().expect("acquire future polled after completion");
        let outcome = std::task::ready!(this.state.poll(semaphore, cx));
        let semaphore = this.semaphore.take().expect("checked above");
        Poll::Ready(
            outcome.map(|priority| OwnedPermit::new(semaphore, this.state.permits, priority)),
        )
    }
}

impl<C: Clock> Drop for Acquire<'_, C> {
    #[inline]
    fn drop(&mut self) {
        self.state.cancel(self.semaphore);
    }
}

impl<C: Clock> Drop for AcquireOwned<C> {
    #[inline]
    fn drop(&mut self) {
        if let Some(semaphore) = &self.semaphore {
            self.state.cancel(semaphore);
        }
    }
}

impl<C: Clock> fmt::Debug for Acquire<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.state.permits)
            .field("priority", &self.state.priority)
            .field("queued", &self.state.slot.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: Clock> fmt::Debug for AcquireOwned<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.state.permits)
            .field("priority", &self.state.priority)
            .field("queued", &self.state.slot.is_some())
            .finish_non_exhaustive()
    }
}

// Compile-time promises, kept next to the types: losing them is a breaking change.
const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<Acquire<'static>>();
    assert_send_sync_unpin::<AcquireOwned>();
};
