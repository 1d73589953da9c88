use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use futures::task::AtomicWaker;

use crate::task_handle::{FailureSlot, Slot, TaskHandle};

/// Adds children to a [`TaskGroup`](crate::TaskGroup), before or while it runs; cloneable
/// and `Send`, so children and other tasks can spawn too.
///
/// Nothing is spawned on a runtime: the group's own future polls its children.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::TaskGroup;
///
/// let group = TaskGroup::<()>::new();
/// let spawner = group.spawner();
/// let outcome = group
///     .run(async move {
///         let child = spawner.spawn(async { Ok(2) });
///         child.await.unwrap() * 10
///     })
///     .await
///     .unwrap();
/// assert_eq!(outcome.value, 20);
/// # });
/// ```
pub struct Spawner<'a, E> {
    shared: Arc<Shared<'a, E>>,
}

/// A child as the group sees it: its output says how it ended.
pub(crate) type BoxedChild<'a, E> = Pin<Box<dyn Future<Output = Exit<'a, E>> + Send + 'a>>;

/// How a child ended.
pub(crate) enum Exit<'a, E> {
    Succeeded,
    Failed(E, Arc<dyn FailureSlot<E> + 'a>),
    Panicked(Box<dyn Any + Send>, Arc<dyn FailureSlot<E> + 'a>),
}

/// What the spawners share with the group.
pub(crate) struct Shared<'a, E> {
    pub(crate) incoming: Mutex<Incoming<'a, E>>,
    pub(crate) waker: AtomicWaker,
    /// Children spawned and not yet ended.
    pub(crate) active: AtomicUsize,
}

pub(crate) struct Incoming<'a, E> {
    pub(crate) children: Vec<BoxedChild<'a, E>>,
    /// The group has ended or was dropped: new children are cancelled at once.
    pub(crate) closed: bool,
}

impl<'a, E> Shared<'a, E> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            incoming: Mutex::new(Incoming { children: Vec::new(), closed: false }),
            waker: AtomicWaker::new(),
            active: AtomicUsize::new(0),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Incoming<'a, E>> {
        self.incoming.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses new children and drops the queued ones (outside the lock: their drop may
    /// spawn). Returns how many were dropped.
    pub(crate) fn close(&self) -> usize {
        let queued = {
            let mut incoming = self.lock();
            incoming.closed = true;
            std::mem::take(&mut incoming.children)
        };
        let n = queued.len();
        drop(queued);
        n
    }
}

impl<'a, E: Send + 'a> Spawner<'a, E> {
    pub(crate) fn new(shared: Arc<Shared<'a, E>>) -> Self {
        Self { shared }
    }

    /// Adds a child to the group and returns its handle.
    ///
    /// The child starts on the group's next poll. If the group has already ended, the
    /// child is dropped at once and its handle yields [`TaskError::Cancelled`](crate::TaskError::Cancelled).
    ///
    /// # Examples
    ///
    /// See [`Spawner`].
    pub fn spawn<T, F>(&self, future: F) -> TaskHandle<T, E>
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
    {
        let (handle, slot) = TaskHandle::new();
        let guard = ChildGuard { slot, shared: Arc::clone(&self.shared), ended: false };
        self.shared.active.fetch_add(1, Ordering::Relaxed);
        let child: BoxedChild<'a, E> = Box::pin(async move {
            let mut guard = guard;
            // The group decides what a panic means (contained or resumed), so catch it here.
            let output = AssertUnwindSafe(future).catch_unwind().await;
            guard.ended = true;
            match output {
                Ok(Ok(value)) => {
                    guard.slot.succeed(value);
                    Exit::Succeeded
                }
                Ok(Err(error)) => Exit::Failed(error, guard.slot.clone()),
                Err(payload) => Exit::Panicked(payload, guard.slot.clone()),
            }
        });
        let rejected = {
            let mut incoming = self.shared.lock();
            if incoming.closed {
                Some(child)
            } else {
                incoming.children.push(child);
                None
            }
        };
        // Dropped outside the lock: the child's guard marks the handle cancelled.
        drop(rejected);
        self.shared.waker.wake();
        handle
    }

    /// Children spawned and not yet ended (finished, failed or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously_gather::TaskGroup;
    ///
    /// let group = TaskGroup::<()>::new();
    /// let spawner = group.spawner();
    /// let _handle = spawner.spawn(async { Ok(()) });
    /// assert_eq!(spawner.active(), 1);
    /// group.run(async {}).await.unwrap();
    /// assert_eq!(spawner.active(), 0);
    /// # });
    /// ```
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }
}

/// Marks a child's handle cancelled when the child is dropped before it ended.
struct ChildGuard<'a, T, E> {
    slot: Arc<Slot<T, E>>,
    shared: Arc<Shared<'a, E>>,
    ended: bool,
}

impl<T, E> Drop for ChildGuard<'_, T, E> {
    fn drop(&mut self) {
        if !self.ended {
            self.slot.cancel();
        }
        self.shared.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<E> Clone for Spawner<'_, E> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<E> fmt::Debug for Spawner<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("active", &self.shared.active.load(Ordering::Relaxed))
            .field("closed", &self.shared.lock().closed)
            .finish()
    }
}
