//! Shutting a [`TaskGroup`](crate::TaskGroup) down from outside, and the token its body and
//! children await to hear about it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::Event;
use futures::task::AtomicWaker;

/// What a group shares with its [`GroupHandle`]s and [`CancelToken`]s.
pub(crate) struct Control {
    cancelled: AtomicBool,
    event: Event,
    /// The group's own waker: woken by a shutdown and by every spawn.
    pub(crate) group: AtomicWaker,
}

impl Control {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            cancelled: AtomicBool::new(false),
            event: Event::new(),
            group: AtomicWaker::new(),
        })
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    fn cancel(&self) {
        if !self.cancelled.swap(true, Ordering::AcqRel) {
            self.event.notify(usize::MAX);
            self.group.wake();
        }
    }
}

/// Shuts a [`TaskGroup`](crate::TaskGroup) down from anywhere: cloneable, `Send`, and not
/// tied to the group's lifetime.
///
/// [`shutdown`](GroupHandle::shutdown) cancels the group's [`CancelToken`], so the body and
/// the children that await it can finish their work; the group then waits up to its
/// [`grace`](crate::TaskGroup::grace) period and drops whatever is still running.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{GroupError, TaskGroup};
///
/// let group = TaskGroup::<()>::new();
/// let handle = group.handle();
/// let run = group.run(futures::future::pending::<()>());
/// handle.shutdown();
/// assert!(matches!(run.await, Err(GroupError::ShutDown { cancelled: 0, .. })));
/// # });
/// ```
#[derive(Clone)]
pub struct GroupHandle {
    control: Arc<Control>,
}

impl GroupHandle {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        Self { control }
    }

    /// Asks the group to end: its token is cancelled at once, and after the grace period
    /// the group drops its body and children. Calling it again, or after the group ended,
    /// does nothing.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn shutdown(&self) {
        self.control.cancel();
    }

    /// Whether [`shutdown`](GroupHandle::shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::TaskGroup;
    ///
    /// let group = TaskGroup::<()>::new();
    /// let handle = group.handle();
    /// assert!(!handle.is_shut_down());
    /// handle.shutdown();
    /// assert!(handle.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.control.is_cancelled()
    }
}

impl fmt::Debug for GroupHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle").field("shut_down", &self.is_shut_down()).finish()
    }
}

/// Tells a group's body and children that the group is shutting down, so they can stop
/// cleanly before the grace period ends: await [`cancelled`](CancelToken::cancelled) (in a
/// `select` with the work) or check [`is_cancelled`](CancelToken::is_cancelled).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::TaskGroup;
///
/// let group = TaskGroup::<()>::new();
/// let token = group.token();
/// assert!(!token.is_cancelled());
/// group.handle().shutdown();
/// token.cancelled().await;
/// assert!(token.is_cancelled());
/// # });
/// ```
#[derive(Clone)]
pub struct CancelToken {
    control: Arc<Control>,
}

impl CancelToken {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        Self { control }
    }

    /// Whether the group is shutting down.
    ///
    /// # Examples
    ///
    /// See [`CancelToken`].
    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled()
    }

    /// Resolves once the group is shutting down (at once if it already is).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing; a new call resolves just the same.
    ///
    /// # Examples
    ///
    /// See [`CancelToken`].
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        let control = Arc::clone(&self.control);
        async move {
            while !control.is_cancelled() {
                let listener = control.event.listen();
                if control.is_cancelled() {
                    break;
                }
                listener.await;
            }
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken").field("cancelled", &self.is_cancelled()).finish()
    }
}
