use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::future::AbortHandle;

use crate::TaskError;

/// The result of one child of a [`TaskGroup`](crate::TaskGroup): await it, or read it with
/// [`try_take`](TaskHandle::try_take) once the group has ended.
///
/// Dropping the handle detaches the child: it keeps running, its value is discarded and its
/// failure goes to the group's error handler or outcome. A child failure still unread when
/// the group exits is reported by the group and the handle then yields
/// [`TaskError::Escalated`].
///
/// # Cancel safety
///
/// Awaiting the handle is cancel-safe: dropping the `.await` loses nothing, the result stays
/// in the handle.
///
/// # Panics
///
/// Polling the handle again after it returned its result panics.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::TaskGroup;
///
/// let group = TaskGroup::<()>::new();
/// let mut handle = group.spawner().spawn(async { Ok(42) });
/// group.run(async {}).await.unwrap();
/// assert_eq!(handle.try_take(), Some(Ok(42)));
/// # });
/// ```
#[must_use = "dropping the handle detaches the task; its value is discarded"]
pub struct TaskHandle<T, E> {
    slot: Arc<Slot<T, E>>,
    abort: AbortHandle,
}

/// Where a child leaves its result for its handle.
pub(crate) struct Slot<T, E> {
    state: Mutex<State<T, E>>,
}

enum State<T, E> {
    Running {
        waker: Option<Waker>,
        handle_alive: bool,
    },
    Finished(Result<T, E>),
    Panicked(String),
    Cancelled,
    Escalated,
    Taken,
    /// Succeeded after its handle was dropped: the value was dropped unread.
    Discarded,
}

/// An ended child's slot, seen by the group without knowing the value type.
pub(crate) trait ChildSlot<E>: Send + Sync {
    /// Whether the handle still exists, so it can read a failure.
    fn handle_alive(&self) -> bool;
    /// Hands the failure to the handle.
    fn deliver(&self, error: E);
    /// Tells the handle the child panicked.
    fn deliver_panic(&self, message: String);
    /// The failure, if the handle has not read it; the handle then sees `Escalated`.
    fn take_unread(&self) -> Option<E>;
    /// The handle sees `Escalated` (its failure went to the group).
    fn escalate(&self);
    /// Whether a delivered failure is still unread.
    fn is_unread(&self) -> bool;
    /// Whether a value is stored that no handle has taken.
    fn value_unread(&self) -> bool;
    /// Whether the value was dropped unread, its handle gone before it came.
    fn value_discarded(&self) -> bool;
}

impl<T, E> TaskHandle<T, E> {
    pub(crate) fn new(abort: AbortHandle) -> (Self, Arc<Slot<T, E>>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Running { waker: None, handle_alive: true }),
        });
        (Self { slot: Arc::clone(&slot), abort }, slot)
    }

    /// Cancels the child: the group drops it on its next poll (or at once if it has not
    /// started), and the handle then yields [`TaskError::Cancelled`]. A child that has
    /// already ended keeps its result; aborting twice does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::{TaskError, TaskGroup};
    ///
    /// let group = TaskGroup::<()>::new();
    /// let handle = group.spawner().spawn(futures::future::pending::<Result<(), ()>>());
    /// handle.abort();
    /// let outcome = group.run(async {}).await.unwrap();
    /// assert_eq!(outcome.cancelled, 1);
    /// assert_eq!(handle.await, Err(TaskError::Cancelled));
    /// # });
    /// ```
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// The child's result if it has ended, without waiting; `None` while it runs.
    ///
    /// This is how sync code reads results after a [`SyncScope`](crate::SyncScope) ended.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken.
    ///
    /// # Examples
    ///
    /// See [`TaskHandle`].
    pub fn try_take(&mut self) -> Option<Result<T, TaskError<E>>> {
        let mut state = self.slot.lock();
        let result = match std::mem::replace(&mut *state, State::Taken) {
            running @ State::Running { .. } => {
                *state = running;
                return None;
            }
            State::Finished(result) => result.map_err(TaskError::Failed),
            State::Panicked(message) => Err(TaskError::Panicked(message)),
            State::Cancelled => Err(TaskError::Cancelled),
            State::Escalated => Err(TaskError::Escalated),
            State::Taken | State::Discarded => {
                panic!("the task's result was already taken from its handle")
            }
        };
        Some(result)
    }

    /// Whether the child has ended (finished, failed or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::TaskGroup;
    ///
    /// let group = TaskGroup::<()>::new();
    /// let handle = group.spawner().spawn(async { Ok(1) });
    /// assert!(!handle.is_finished());
    /// group.run(async {}).await.unwrap();
    /// assert!(handle.is_finished());
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        !matches!(*self.slot.lock(), State::Running { .. })
    }
}

impl<T, E> Slot<T, E> {
    fn lock(&self) -> MutexGuard<'_, State<T, E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends a running slot in `state` and wakes the handle; an ended slot stays as it is.
    fn end(&self, state: State<T, E>) {
        let mut current = self.lock();
        if let State::Running { waker, .. } = &mut *current {
            let waker = waker.take();
            *current = state;
            drop(current);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Stores a value for the handle (discarded if the handle is gone).
    pub(crate) fn succeed(&self, value: T) {
        if self.handle_alive() {
            self.end(State::Finished(Ok(value)));
        } else {
            self.end(State::Discarded);
        }
    }

    /// The child was dropped before it finished.
    pub(crate) fn cancel(&self) {
        self.end(State::Cancelled);
    }

    fn handle_alive(&self) -> bool {
        matches!(*self.lock(), State::Running { handle_alive: true, .. })
    }
}

impl<T: Send, E: Send> ChildSlot<E> for Slot<T, E> {
    fn handle_alive(&self) -> bool {
        Slot::handle_alive(self)
    }

    fn deliver(&self, error: E) {
        self.end(State::Finished(Err(error)));
    }

    fn deliver_panic(&self, message: String) {
        self.end(State::Panicked(message));
    }

    fn take_unread(&self) -> Option<E> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Escalated) {
            State::Finished(Err(error)) => Some(error),
            other => {
                *state = other;
                None
            }
        }
    }

    fn escalate(&self) {
        self.end(State::Escalated);
    }

    fn is_unread(&self) -> bool {
        matches!(*self.lock(), State::Finished(Err(_)))
    }

    fn value_unread(&self) -> bool {
        matches!(*self.lock(), State::Finished(Ok(_)))
    }

    fn value_discarded(&self) -> bool {
        matches!(*self.lock(), State::Discarded)
    }
}

impl<T, E> Future for TaskHandle<T, E> {
    type Output = Result<T, TaskError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        {
            let mut state = this.slot.lock();
            if let State::Running { waker, .. } = &mut *state {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
        }
        match this.try_take() {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

impl<T, E> Drop for TaskHandle<T, E> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        match &mut *state {
            State::Running { handle_alive, waker } => {
                *handle_alive = false;
                *waker = None;
            }
            // Nobody can read the value any more: drop it now, not with the slot.
            State::Finished(Ok(_)) => {
                let value = std::mem::replace(&mut *state, State::Discarded);
                drop(state);
                drop(value);
            }
            _ => {}
        }
    }
}

impl<T, E> fmt::Debug for TaskHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.slot.lock() {
            State::Running { .. } => "running",
            State::Finished(Ok(_)) => "succeeded",
            State::Finished(Err(_)) => "failed",
            State::Panicked(_) => "panicked",
            State::Cancelled => "cancelled",
            State::Escalated => "escalated",
            State::Taken => "taken",
            State::Discarded => "discarded",
        };
        f.debug_struct("TaskHandle").field("state", &state).finish()
    }
}
