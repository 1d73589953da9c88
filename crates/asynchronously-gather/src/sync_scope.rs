use std::fmt;
use std::future::Future;

use asynchronously_time::{Clock, RealClock};

use crate::{BlockOnError, GroupError, GroupOutcome, Spawner, TaskGroup, TaskHandle, block_on};

/// A task group for synchronous code: add futures, then [`finish`](SyncScope::finish) runs
/// them all to completion on this thread, and each handle's result is read afterwards with
/// [`TaskHandle::try_take`] (async-tamer's `AsyncScope` and `DelayedResult`).
///
/// Children may borrow from the enclosing scope. The modes, timeout and clock are those of
/// the [`TaskGroup`] given to [`with_group`](SyncScope::with_group).
///
/// # Examples
///
/// ```
/// use asynchronously::gather::SyncScope;
///
/// let names = vec!["a", "b"];
/// let scope = SyncScope::<()>::new();
/// let mut first = scope.spawn(async { Ok(names[0].to_uppercase()) });
/// let mut second = scope.spawn(async { Ok(names[1].len()) });
/// scope.finish()?;
/// assert_eq!(first.try_take(), Some(Ok("A".to_owned())));
/// assert_eq!(second.try_take(), Some(Ok(1)));
/// # Ok::<(), asynchronously::gather::SyncScopeError<()>>(())
/// ```
#[must_use = "the children run only when the scope is finished"]
pub struct SyncScope<'a, E, C: Clock = RealClock> {
    group: TaskGroup<'a, E, C>,
    spawner: Spawner<'a, E>,
}

/// Why a [`SyncScope`] did not end normally.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{GroupError, SyncScope, SyncScopeError};
///
/// let scope = SyncScope::new();
/// drop(scope.spawn(async { Err::<(), _>("down") }));
/// assert!(matches!(scope.finish(), Err(SyncScopeError::Group(GroupError::Failed { .. }))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncScopeError<E> {
    /// The group ended early (a child failed, or the timeout elapsed).
    #[error(transparent)]
    Group(#[from] GroupError<E>),
    /// The scope was finished from inside [`block_on`]; nothing ran.
    #[error(transparent)]
    Bridge(#[from] BlockOnError),
}

impl<'a, E: Send + 'a> SyncScope<'a, E> {
    /// A scope with the [`TaskGroup`] defaults (cancel the others on error, wait for all).
    ///
    /// # Examples
    ///
    /// See [`SyncScope`].
    pub fn new() -> Self {
        Self::with_group(TaskGroup::new())
    }
}

impl<'a, E: Send + 'a, C: Clock> SyncScope<'a, E, C> {
    /// A scope running its children in `group`, with that group's modes, timeout and clock
    /// (any [`Clock`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::{ErrorMode, SyncScope, TaskGroup};
    ///
    /// let scope = SyncScope::with_group(TaskGroup::new().error_mode(ErrorMode::KeepGoing));
    /// drop(scope.spawn(async { Err::<(), _>("lost") }));
    /// assert_eq!(scope.finish().map(|outcome| outcome.unhandled), Ok(vec!["lost"]));
    /// ```
    pub fn with_group(group: TaskGroup<'a, E, C>) -> Self {
        Self { spawner: group.spawner(), group }
    }

    /// Adds a child; it runs when the scope is finished.
    ///
    /// # Examples
    ///
    /// See [`SyncScope`].
    pub fn spawn<T, F>(&self, future: F) -> TaskHandle<T, E>
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
        T: Send + 'a,
    {
        self.spawner.spawn(future)
    }

    /// A spawner, so children can add more children while the scope runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::SyncScope;
    ///
    /// let scope = SyncScope::<()>::new();
    /// let spawner = scope.spawner();
    /// let mut outer = scope.spawn(async move { Ok(spawner.spawn(async { Ok(2) })) });
    /// scope.finish()?;
    /// let mut inner = outer.try_take().and_then(Result::ok).expect("the outer child succeeded");
    /// assert_eq!(inner.try_take(), Some(Ok(2)));
    /// # Ok::<(), asynchronously::gather::SyncScopeError<()>>(())
    /// ```
    pub fn spawner(&self) -> Spawner<'a, E> {
        self.spawner.clone()
    }

    /// Runs every child to completion on this thread (see [`block_on`] for the rules about
    /// async contexts) and reports how the group ended.
    ///
    /// # Errors
    ///
    /// [`SyncScopeError::Group`] if a child failed under the default error mode or the
    /// timeout elapsed; [`SyncScopeError::Bridge`] if called from inside [`block_on`].
    ///
    /// # Panics
    ///
    /// Under the default [`ErrorMode::CancelOthers`](crate::ErrorMode::CancelOthers), a
    /// child's panic drops the other children and then resumes in the caller; under
    /// [`ErrorMode::KeepGoing`](crate::ErrorMode::KeepGoing) it is contained (see
    /// [`TaskGroup`]).
    ///
    /// # Examples
    ///
    /// See [`SyncScope`].
    pub fn finish(self) -> Result<GroupOutcome<(), E>, SyncScopeError<E>> {
        Ok(block_on(self.group.run(async {}))??)
    }
}

impl<'a, E: Send + 'a> Default for SyncScope<'a, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, C: Clock> fmt::Debug for SyncScope<'_, E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncScope").field("spawner", &self.spawner).finish_non_exhaustive()
    }
}
