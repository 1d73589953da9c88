//! The errors of this crate, one per operation.

/// The error of [`gather_keyed`](crate::gather_keyed): which key failed, and its error.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{KeyedError, gather_keyed};
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
    /// use asynchronously::gather::KeyedError;
    ///
    /// assert_eq!(KeyedError::new("a", 1).key, "a");
    /// ```
    pub fn new(key: K, error: E) -> Self {
        Self { key, error }
    }
}

/// Why a [`race`](crate::race) produced no winner.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{RaceError, race};
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
    /// The first future to finish failed; the others were cancelled.
    #[error("the first future to finish failed")]
    Failed(#[source] E),
}

/// Why a [`race_ok`](crate::race_ok) or [`race_ok_if`](crate::race_ok_if) produced no
/// winner.
///
/// `R` is the type of a rejected error: [`Infallible`](std::convert::Infallible) for
/// `race_ok`, which rejects nothing (so `Rejected` cannot occur), and the error type for
/// `race_ok_if`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{RaceOkError, race_ok};
/// use futures::future::ready;
///
/// let all_down = race_ok([ready(Err::<(), _>("a")), ready(Err("b"))]).await;
/// assert_eq!(all_down, Err(RaceOkError::AllFailed(vec!["a", "b"])));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RaceOkError<E, R = std::convert::Infallible> {
    /// No futures were given, so nothing could win; pass at least one future.
    #[error("cannot race zero futures; pass at least one")]
    Empty,
    /// Every future failed; the errors, in completion order.
    #[error("all {} futures failed", .0.len())]
    AllFailed(Vec<E>),
    /// A future failed with an error the predicate of [`race_ok_if`](crate::race_ok_if)
    /// rejected, so the race stopped and the others were cancelled.
    #[error("a future failed with an error the race does not go past")]
    Rejected {
        /// The rejected error, unchanged.
        #[source]
        error: R,
        /// The errors passed before it, in completion order.
        passed: Vec<E>,
    },
}

/// How a child of a [`TaskGroup`](crate::TaskGroup) ended without a value, as seen by its
/// [`TaskHandle`](crate::TaskHandle).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{TaskError, TaskGroup};
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
    /// The child panicked; this is its message. Under
    /// [`ErrorMode::CancelOthers`](crate::ErrorMode::CancelOthers) the panic also resumed in
    /// the group's caller; the other modes contain it.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// The child was dropped before it finished (group error, timeout or exit with
    /// [`ExitMode::Cancel`](crate::ExitMode::Cancel)).
    #[error("the task was cancelled before it finished")]
    Cancelled,
    /// The child failed and its error went to the group instead: it cancelled the group
    /// (returned in [`GroupError::Failed`]), or it was still unread when the group exited
    /// and was reported there (to the handler or in the outcome's `unhandled`).
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
/// use asynchronously::gather::{GroupError, TaskGroup};
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
    /// The group was shut down through a [`GroupHandle`](crate::GroupHandle) and its body had
    /// not finished when the grace period ended: the body and the unfinished children were
    /// dropped.
    #[error("the group was shut down, so it cancelled its body and {cancelled} unfinished tasks")]
    ShutDown {
        /// How many children were dropped (including those aborted earlier).
        cancelled: usize,
        /// Failures nobody consumed before the shutdown (empty with a handler).
        unhandled: Vec<E>,
    },
    /// The group's settings contradict each other (this says which), so nothing ran: fix the
    /// builder calls.
    #[error("the task group's settings conflict: {0}")]
    Conflict(&'static str),
}

/// A failure of a [`TaskGroup`](crate::TaskGroup) child, as the
/// [`on_failure`](crate::TaskGroup::on_failure) handler receives it.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::Failure;
///
/// let failure: Failure<&str> = Failure::Panic("index out of bounds".to_owned());
/// assert_eq!(failure.to_string(), "the task panicked: index out of bounds");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure<E> {
    /// The child returned this error.
    #[error("the task failed")]
    Error(#[source] E),
    /// The child panicked; this is its message.
    #[error("the task panicked: {0}")]
    Panic(String),
}

/// Returned by [`Spawner::try_spawn`](crate::Spawner::try_spawn) once the group has ended.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{SpawnError, TaskGroup};
///
/// let group = TaskGroup::<()>::new();
/// let spawner = group.spawner();
/// drop(group);
/// assert_eq!(spawner.try_spawn(async { Ok(()) }).err(), Some(SpawnError::Ended));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The group has ended (or was dropped): the future was dropped unpolled. Spawn while the
    /// group runs, or start a new group.
    #[error(
        "the task group has ended and takes no new tasks; spawn while it runs, or start a new group"
    )]
    Ended,
}

/// Returned by [`block_on`](crate::block_on) and the sync bridge when called from inside
/// another bridge call on the same thread, which would deadlock.
///
/// With the gather crate's `tokio` feature (the facade forwards it), a call on a thread inside
/// a tokio runtime is [`InsideTokio`](BlockOnError::InsideTokio) as well.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{BlockOnError, block_on};
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
    /// This thread is inside a tokio runtime (a worker, `Runtime::block_on`, or a
    /// `spawn_blocking` task, which tokio enters too): blocking it can stall or deadlock the
    /// runtime. Only reported with the gather crate's `tokio` feature.
    #[error(
        "block_on was called on a thread inside a tokio runtime, which it would block and may \
         deadlock; `.await` the future instead, or from `tokio::task::spawn_blocking` use \
         `tokio::runtime::Handle::current().block_on`"
    )]
    InsideTokio,
}

/// The error of [`run`](crate::run) and [`run_partial`](crate::run_partial).
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{RunError, run};
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
