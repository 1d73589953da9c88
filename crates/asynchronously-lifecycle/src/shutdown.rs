use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};

/// A shutdown trigger: cloneable, idempotent, awaitable.
///
/// Every [`Lifecycle`](crate::Lifecycle) has one ([`Lifecycle::shutdown`](crate::Lifecycle::shutdown)),
/// which [`run_until_shutdown`](crate::run_until_shutdown) waits for and every component can
/// reach through [`Context::shutdown`](crate::Context::shutdown). Triggering it twice is the
/// same as once; a trigger is never lost, even if it happens before anyone waits.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let handle = shutdown.clone();
/// assert!(!shutdown.is_triggered());
/// handle.trigger();
/// handle.trigger(); // idempotent
/// shutdown.wait().await;
/// assert!(shutdown.is_triggered());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    event: Event,
}

impl Shutdown {
    /// Creates a trigger that has not fired.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Shutdown;
    ///
    /// assert!(!Shutdown::new().is_triggered());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the trigger and wakes everyone waiting; does nothing if it already fired.
    ///
    /// Returns `true` if this call fired it.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// assert!(shutdown.trigger());
    /// assert!(!shutdown.trigger());
    /// ```
    pub fn trigger(&self) -> bool {
        let first = !self.inner.triggered.swap(true, Ordering::SeqCst);
        if first {
            self.inner.event.notify(usize::MAX);
        }
        first
    }

    /// Returns whether the trigger has fired.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Waits until the trigger fires; completes at once if it already has.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future only unregisters its wake-up; the trigger is unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::Shutdown;
    ///
    /// let shutdown = Shutdown::new();
    /// let (_, fired) = futures::join!(shutdown.wait(), async { shutdown.trigger() });
    /// assert!(fired);
    /// # });
    /// ```
    pub fn wait(&self) -> ShutdownWait {
        ShutdownWait { shutdown: self.clone(), listener: None }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").field("triggered", &self.is_triggered()).finish()
    }
}

/// Future returned by [`Shutdown::wait`].
///
/// # Cancel safety
///
/// Dropping it only unregisters its wake-up.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ShutdownWait {
    shutdown: Shutdown,
    listener: Option<EventListener>,
}

impl Future for ShutdownWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.shutdown.is_triggered() {
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
                // Listen first, then check again: a trigger in between is not lost.
                None => self.listener = Some(self.shutdown.inner.event.listen()),
            }
        }
    }
}

impl fmt::Debug for ShutdownWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownWait").field("shutdown", &self.shutdown).finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<Shutdown>();
    assert_send_sync_unpin::<ShutdownWait>();
};
