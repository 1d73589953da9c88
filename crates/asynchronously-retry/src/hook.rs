use std::fmt;
use std::future::{Future, Ready, ready};

use crate::Attempt;

/// Observes each retry before its delay starts: logging, metrics, refreshing a token.
///
/// Implemented by [`NoHook`] (the default), [`SyncHook`] (made by
/// [`Retry::on_retry`](crate::Retry::on_retry)) and [`AsyncHook`] (made by
/// [`Retry::on_retry_async`](crate::Retry::on_retry_async)). The hook's future runs before
/// the delay; the delay is measured from the failure, so a hook shorter than the delay does
/// not change the schedule. Like an attempt, the hook's future is cut off (dropped) at the
/// policy's `max_elapsed`, ending the retry with
/// [`RetryError::DeadlineExceeded`](crate::RetryError::DeadlineExceeded).
///
/// A panic in a hook propagates to the caller awaiting the [`Retry`](crate::Retry).
///
/// # Examples
///
/// ```
/// use std::future::{Ready, ready};
///
/// use asynchronously::retry::{Attempt, Hook};
///
/// struct CountRetries(u32);
///
/// impl<E> Hook<E> for CountRetries {
///     type Future = Ready<()>;
///
///     fn on_retry(&mut self, _attempt: &Attempt<'_, E>) -> Ready<()> {
///         self.0 += 1;
///         ready(())
///     }
/// }
/// # let _ = CountRetries(0);
/// ```
pub trait Hook<E> {
    /// Awaited before the delay starts.
    type Future: Future<Output = ()>;

    /// Whether the hook observes anything. `false` lets the retry skip building the
    /// [`Attempt`] record (and reading the clock for it).
    const ENABLED: bool = true;

    /// Called once per retry, before its delay.
    fn on_retry(&mut self, attempt: &Attempt<'_, E>) -> Self::Future;
}

/// The default hook: observes nothing, costs nothing.
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Hook, NoHook};
///
/// assert!(!<NoHook as Hook<()>>::ENABLED);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoHook;

/// A synchronous hook: a closure called with each [`Attempt`].
///
/// Made by [`Retry::on_retry`](crate::Retry::on_retry).
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Attempt, SyncHook};
///
/// let _hook = SyncHook::new(|attempt: &Attempt<'_, std::io::Error>| {
///     let _line = attempt.to_string();
/// });
/// ```
#[derive(Clone, Copy)]
pub struct SyncHook<F> {
    hook: F,
}

/// An asynchronous hook: a closure called with each [`Attempt`], whose future is awaited
/// before the delay starts.
///
/// The future cannot borrow the [`Attempt`]: take what you need from it before the `async`
/// block. Made by [`Retry::on_retry_async`](crate::Retry::on_retry_async).
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Attempt, AsyncHook};
///
/// let _hook = AsyncHook::new(|attempt: &Attempt<'_, std::io::Error>| {
///     let line = attempt.to_string();
///     async move { drop(line) }
/// });
/// ```
#[derive(Clone, Copy)]
pub struct AsyncHook<F> {
    hook: F,
}

impl<F> SyncHook<F> {
    /// Wraps `hook`.
    ///
    /// # Examples
    ///
    /// See [`SyncHook`].
    pub fn new(hook: F) -> Self {
        SyncHook { hook }
    }
}

impl<F> AsyncHook<F> {
    /// Wraps `hook`.
    ///
    /// # Examples
    ///
    /// See [`AsyncHook`].
    pub fn new(hook: F) -> Self {
        AsyncHook { hook }
    }
}

impl<E> Hook<E> for NoHook {
    type Future = Ready<()>;
    const ENABLED: bool = false;

    #[inline]
    fn on_retry(&mut self, _attempt: &Attempt<'_, E>) -> Ready<()> {
        ready(())
    }
}

impl<E, F: FnMut(&Attempt<'_, E>)> Hook<E> for SyncHook<F> {
    type Future = Ready<()>;

    #[inline]
    fn on_retry(&mut self, attempt: &Attempt<'_, E>) -> Ready<()> {
        (self.hook)(attempt);
        ready(())
    }
}

impl<E, F, Fut> Hook<E> for AsyncHook<F>
where
    F: FnMut(&Attempt<'_, E>) -> Fut,
    Fut: Future<Output = ()>,
{
    type Future = Fut;

    #[inline]
    fn on_retry(&mut self, attempt: &Attempt<'_, E>) -> Fut {
        (self.hook)(attempt)
    }
}

impl<F> fmt::Debug for SyncHook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncHook").finish_non_exhaustive()
    }
}

impl<F> fmt::Debug for AsyncHook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncHook").finish_non_exhaustive()
    }
}
