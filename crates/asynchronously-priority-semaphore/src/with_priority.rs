use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use crate::Priority;

thread_local! {
    static AMBIENT: Cell<Priority> = const { Cell::new(Priority::NORMAL) };
}

/// The ambient priority on this thread (see [`Priority::current`]).
pub(crate) fn ambient() -> Priority {
    AMBIENT.with(Cell::get)
}

/// Runs `future` with `priority` as the ambient priority of every acquire made inside it.
///
/// The priority is set in a thread-local only while the wrapped future is being polled, and
/// the previous value is restored afterwards (also when the poll panics), so it follows the
/// future across threads and works on every runtime. Scopes nest: the innermost wins.
/// [`PrioritySemaphore::acquire_ambient`](crate::PrioritySemaphore::acquire_ambient) reads it
/// at its first poll; [`Priority::current`] reads it on demand.
///
/// Futures *spawned* from inside the scope run on their own and do not inherit it: wrap them too.
///
/// # Cancel safety
///
/// Dropping a [`WithPriority`] drops the wrapped future; it is exactly as cancel safe as that
/// future.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, with_priority};
///
/// let semaphore = PrioritySemaphore::new(1);
/// let permit = with_priority(Priority::HIGH, semaphore.acquire_ambient()).await?;
/// assert_eq!(permit.priority(), Priority::HIGH);
/// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
/// # }).unwrap();
/// ```
pub fn with_priority<F: Future>(priority: Priority, future: F) -> WithPriority<F> {
    WithPriority { priority, future }
}

/// Future returned by [`with_priority`]: polls the inner future with an ambient priority.
///
/// # Cancel safety
///
/// Dropping it drops the inner future; it is exactly as cancel safe as that future.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct WithPriority<F> {
    priority: Priority,
    #[pin]
    future: F,
}

impl<F> WithPriority<F> {
    /// The priority this scope sets.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, with_priority};
    ///
    /// let scope = with_priority(Priority::LOW, async {});
    /// assert_eq!(scope.priority(), Priority::LOW);
    /// ```
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Unwraps the inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, with_priority};
    ///
    /// let inner = with_priority(Priority::LOW, async { 7 }).into_inner();
    /// assert_eq!(inner.await, 7);
    /// # });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for WithPriority<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _restore = Restore(AMBIENT.with(|ambient| ambient.replace(*this.priority)));
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for WithPriority<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithPriority").field("priority", &self.priority).finish_non_exhaustive()
    }
}

/// Puts the previous ambient priority back when a poll ends, even by panic.
struct Restore(Priority);

impl Drop for Restore {
    fn drop(&mut self) {
        AMBIENT.with(|ambient| ambient.set(self.0));
    }
}
