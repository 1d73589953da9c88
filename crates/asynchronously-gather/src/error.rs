//! The errors of this crate, one per operation.

/// The error of [`gather_keyed`](crate::gather_keyed): which key failed, and its error.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::{KeyedError, gather_keyed};
///
/// let jobs = [("a", Ok(1)), ("b", Err("down"))].map(|(key, result)| (key, async move { result }));
/// let outcome = gather_keyed(jobs).await;
/// let KeyedError { key, error, .. } = outcome.unwrap_err();
/// assert_eq!((key, error), ("b", "down"));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the future for one key failed, so every other key was cancelled")]
#[non_exhaustive]
pub struct KeyedError<K, E> {
    /// The key whose future failed.
    pub key: K,
    /// Its error, unchanged.
    #[source]
    pub error: E,
}

impl<K, E> KeyedError<K, E> {
    /// A keyed error, for matching in tests and for adapters.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously_gather::KeyedError;
    ///
    /// assert_eq!(KeyedError::new("a", 1).key, "a");
    /// ```
    pub fn new(key: K, error: E) -> Self {
        Self { key, error }
    }
}

/// Why a [`race`](crate::race) or [`race_ok`](crate::race_ok) produced no winner.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::{RaceError, race};
///
/// let none: Vec<std::future::Ready<Result<u8, ()>>> = Vec::new();
/// assert!(matches!(race(none).await, Err(RaceError::Empty)));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RaceError<E> {
    /// No futures were given, so nothing could win; pass at least one future.
    #[error("cannot race zero futures; pass at least one")]
    Empty,
    /// The first future to finish failed (plain [`race`](crate::race)); the others were cancelled.
    #[error("the first future to finish failed")]
    Failed(#[source] E),
    /// Every future failed ([`race_ok`](crate::race_ok)); the errors, in completion order.
    #[error("all {} futures failed", .0.len())]
    AllFailed(Vec<E>),
}

/// How a child of a [`TaskGroup`](crate::TaskGroup) ended without a value, as seen by its
/// [`TaskHandle`](crate::TaskHandle).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::{TaskError, TaskGroup};
///
/// let group = TaskGroup::<&str>::new();
/// let handle = group.spawner().spawn(async { Err::<u8, _>("down") });
/// let _ = group.run(async {}).await;
/// assert!(matches!(handle.await, Err(TaskError::Escalated)));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError<E> {
    /// The child failed with this error.
    #[error("the task failed")]
    Failed(#[source] E),
    /// The child panicked in a group with [`ErrorMode::KeepGoing`](crate::ErrorMode::KeepGoing),
    /// which contained the panic; this is its message.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// The child was dropped before it finished (group error, timeout or exit with
    /// [`ExitMode::Cancel`](crate::ExitMode::Cancel)).
    #[error("the task was cancelled before it finished")]
    Cancelled,
    /// The child failed and its error went to the group instead: it cancelled the group, or
    /// it was still unread when the group exited and was reported there.
    #[error(
        "the task failed and its error was reported by the group; read it from the group's outcome"
    )]
    Escalated,
}

/// Why a [`TaskGroup`](crate::TaskGroup) ended early.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously_gather::{GroupError, TaskGroup};
///
/// let group = TaskGroup::new();
/// drop(group.spawner().spawn(async { Err::<(), _>("down") }));
/// assert!(matches!(group.run(async {}).await, Err(GroupError::Failed { error: "down", .. })));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError<E> {
    /// A child failed under [`ErrorMode::CancelOthers`](crate::ErrorMode::CancelOthers): the
    /// body and every other child were cancelled.
    #[error("a task failed, so the group cancelled {cancelled} others")]
    Failed {
        /// The failing child's error, unchanged.
        #[source]
        error: E,
        /// How many other children were cancelled.
        cancelled: usize,
    },
    /// The group's timeout elapsed: the body and every unfinished child were cancelled.
    #[error("the group's timeout elapsed, so it cancelled {cancelled} unfinished tasks")]
    TimedOut {
        /// How many children were cancelled.
        cancelled: usize,
        /// Failures nobody consumed before the timeout (empty with an
        /// [`on_error`](crate::TaskGroup::on_error) handler, which received them).
        unhandled: Vec<E>,
    },
}

/// Returned by [`block_on`](crate::block_on) and the sync bridge when called from inside
/// another bridge call on the same thread, which would deadlock.
///
/// # Examples
///
/// ```
/// use asynchronously_gather::{BlockOnError, block_on};
///
/// let inner = block_on(async { block_on(async { 1 }) });
/// assert_eq!(inner, Ok(Err(BlockOnError::Reentrant)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockOnError {
    /// This thread is already inside `block_on`: blocking it again would deadlock.
    #[error(
        "block_on was called from inside block_on on the same thread, which would deadlock; \
         await the future instead"
    )]
    Reentrant,
}

/// The error of [`run`](crate::run) and [`run_partial`](crate::run_partial).
///
/// # Examples
///
/// ```
/// use asynchronously_gather::{RunError, run};
///
/// let outcome = run([Ok(1), Err("down")].map(|result| async move { result }));
/// assert_eq!(outcome, Err(RunError::Failed("down")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError<E> {
    /// A future failed; the others were cancelled.
    #[error("a future failed, so the others were cancelled")]
    Failed(#[source] E),
    /// The bridge was entered again from inside itself; nothing ran.
    #[error(transparent)]
    Bridge(#[from] BlockOnError),
}
