use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use futures::future::{AbortHandle, Abortable, Aborted};

use crate::SpawnError;
use crate::children::Node;
use crate::control::{CancelToken, Control};
use crate::task_handle::{ChildSlot, Slot, TaskHandle};

/// Adds children to a [`TaskGroup`](crate::TaskGroup), before or while it runs; cloneable
/// and `Send`, so children and other tasks can spawn too.
///
/// Nothing is spawned on a runtime: the group's own future polls its children.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::TaskGroup;
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
pub(crate) type BoxedChild<'a, E> = Pin<Box<Node<dyn Future<Output = Exit<'a, E>> + Send + 'a>>>;

/// How a child ended.
pub(crate) enum Exit<'a, E> {
    Succeeded(Arc<dyn ChildSlot<E> + 'a>),
    /// Aborted through its handle.
    Aborted,
    Failed(E, Arc<dyn ChildSlot<E> + 'a>),
    Panicked(Box<dyn Any + Send>, Arc<dyn ChildSlot<E> + 'a>),
}

/// What the spawners share with the group.
pub(crate) struct Shared<'a, E> {
    pub(crate) incoming: Mutex<Incoming<'a, E>>,
    pub(crate) control: Arc<Control>,
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
            control: Control::new(),
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
    /// child is dropped at once and its handle yields [`TaskError::Cancelled`](crate::TaskError::Cancelled);
    /// use [`try_spawn`](Spawner::try_spawn) to hear about that as an error.
    ///
    /// # Examples
    ///
    /// See [`Spawner`].
    pub fn spawn<T, F>(&self, future: F) -> TaskHandle<T, E>
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
    {
        match self.add(future) {
            Ok(handle) | Err((handle, SpawnError::Ended)) => handle,
        }
    }

    /// Adds a child like [`spawn`](Spawner::spawn), or fails if the group has ended (the
    /// future is then dropped, unpolled).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Ended`] if the group has ended or was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::{SpawnError, TaskGroup};
    ///
    /// let group = TaskGroup::<()>::new();
    /// let spawner = group.spawner();
    /// group.run(async {}).await.unwrap();
    /// assert!(matches!(spawner.try_spawn(async { Ok(1) }), Err(SpawnError::Ended)));
    /// # });
    /// ```
    pub fn try_spawn<T, F>(&self, future: F) -> Result<TaskHandle<T, E>, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
    {
        self.add(future).map_err(|(_, error)| error)
    }

    /// The token the group cancels when it is shut down through a
    /// [`GroupHandle`](crate::GroupHandle), for children to await.
    ///
    /// # Examples
    ///
    /// See [`TaskGroup::grace`](crate::TaskGroup::grace).
    pub fn token(&self) -> CancelToken {
        CancelToken::new(Arc::clone(&self.shared.control))
    }

    fn add<T, F>(&self, future: F) -> Result<TaskHandle<T, E>, (TaskHandle<T, E>, SpawnError)>
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
    {
        let (abort, registration) = AbortHandle::new_pair();
        let (handle, slot) = TaskHandle::new(abort);
        let guard = ChildGuard { slot, shared: Arc::clone(&self.shared), ended: false };
        self.shared.active.fetch_add(1, Ordering::Relaxed);
        let child: BoxedChild<'a, E> = Node::boxed(0, async move {
            let mut guard = guard;
            // The group decides what a panic means (contained or resumed), so catch it here.
            let future = Abortable::new(future, registration);
            let output = AssertUnwindSafe(future).catch_unwind().await;
            // Only an aborted child ends unended: its guard marks the handle cancelled.
            guard.ended = !matches!(output, Ok(Err(Aborted)));
            match output {
                Ok(Ok(Ok(value))) => {
                    guard.slot.succeed(value);
                    Exit::Succeeded(guard.slot.clone())
                }
                Ok(Ok(Err(error))) => Exit::Failed(error, guard.slot.clone()),
                Ok(Err(Aborted)) => Exit::Aborted,
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
        let ended = rejected.is_some();
        // Dropped outside the lock: the child's guard marks the handle cancelled.
        drop(rejected);
        self.shared.control.group.wake();
        if ended { Err((handle, SpawnError::Ended)) } else { Ok(handle) }
    }

    /// Children spawned and not yet ended (finished, failed or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::TaskGroup;
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
