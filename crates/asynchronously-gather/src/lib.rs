//! Gather many futures safely: strict, keyed, settled and racing joins, task groups and a sync bridge.
//!
//! [`gather()`] runs futures concurrently and returns their values in input order; the first
//! error drops every sibling *before* it is returned, unchanged, and it comes back as
//! promptly from the 1000th future as from the first. The other joins, [`TaskGroup`] and the
//! sync bridge share that engine and that rule: whatever is cancelled is dropped before the
//! caller hears about it.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use asynchronously::gather::{gather, gather_keyed, race};
//!
//! let sizes = gather(["a", "bb", "ccc"].map(|s| async move { Ok::<_, String>(s.len()) })).await?;
//! assert_eq!(sizes, [1, 2, 3]);
//!
//! let by_name = gather_keyed([("x", 1), ("y", 2)].map(|(k, v)| (k, async move { Ok::<_, String>(v) })));
//! assert_eq!(by_name.await.map_err(|failed| failed.error)?["y"], 2);
//!
//! let first = race([10, 20].map(|n| async move { Ok::<_, String>(n) })).await;
//! assert_eq!(first, Ok(10));
//! # Ok::<(), String>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! **Joins.** [`gather()`] (strict, fail-fast), [`gather_keyed`] (a map in, a map out, the
//! failing key in [`KeyedError`]), [`gather_settled`] (every output, nothing cancelled),
//! [`gather_partial`] (a predicate turns chosen errors into per-slot values; any other error
//! is fatal) and the [`gather!`] macro for futures of different types. [`Limit`] runs the
//! same joins with at most N children at a time.
//!
//! **Races.** [`race`] returns the first future to finish, value or error; [`race_ok`] keeps
//! going past errors until a success and returns the errors seen before it, and
//! [`race_ok_if`] goes past only the errors a predicate accepts. Racing nothing is
//! [`RaceError::Empty`] (or [`RaceOkError::Empty`]), not a hang. [`as_completed`] is a stream of outputs in completion
//! order; dropping it cancels the rest.
//!
//! **Task groups.** [`TaskGroup::run`] drives a body and children added through a
//! [`Spawner`] as one future (nothing is spawned on a runtime). [`ErrorMode`] chooses between
//! cancelling the others on a failure and keeping going; [`ExitMode`] between waiting for
//! the children and cancelling them when the body ends; a timeout runs on any
//! [`Clock`](asynchronously_time::Clock). Each child's [`TaskHandle`] yields its result;
//! failures nobody consumed are reported at exit. Finished children are dropped at once.
//!
//! **Sync bridge.** [`block_on`], [`run`], [`run_settled`], [`run_partial`] and [`SyncScope`]
//! run futures from synchronous code; a nested call is [`BlockOnError::Reentrant`], not a
//! deadlock.
//!
//! **Engine.** Children are polled only when woken, and a wake-up costs the woken child
//! alone, at any N: each child has a waker of its own from its first poll, which queues just
//! that child. Without a limit, the children run in futures' `FuturesUnordered`, which keeps
//! each child and its waker in one allocation; under a [`Limit`], in a set of our own in
//! which a finished child hands its box and its waker to the next, so while the source keeps
//! up a stream of children allocates nothing per child. (One difference shows: under a
//! limit, a child that wakes itself is polled again within the same poll of the join;
//! without one, on the next.) Up to 30 futures, [`gather()`] and [`gather_settled`] are
//! futures' own `try_join_all`/`join_all`, which keep the futures inline and poll all of
//! them on each wake-up: for so few, measurably faster. Iterators are pulled lazily, as
//! places free up under a [`Limit`], and a finished child's memory is released at once;
//! [`AsCompleted`] is also a set that grows with [`push`](AsCompleted::push), like futures'
//! `FuturesUnordered`.
//!
//! # When not to use this crate
//!
//! If the children should run in parallel on several threads, spawn them on your runtime
//! (tokio's `JoinSet`, smol's `Executor`) instead: everything here runs inside the one task
//! that polls it. For two or three futures without errors, `futures::join!` is enough.
//!
//! # Cancel safety
//!
//! Dropping any future or stream of this crate drops every child it still holds; task
//! handles of dropped children yield [`TaskError::Cancelled`]. Values of children that had
//! finished are lost with the join, but stay in their handles for a task group.
//!
//! # Panics
//!
//! A child's panic reaches whoever polls the join, race or stream. A race and an
//! as-completed stream drop the panicking child first and can be polled again to go on with
//! the others. A join that collects every output cannot complete any more, so drop it:
//! polled again, it may panic again, and it never returns a result short of a value. A
//! [`TaskGroup`] contains or resumes its children's panics as its [`ErrorMode`] says.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod as_completed;
mod block_on;
mod children;
mod control;
mod error;
mod gather;
mod gather_keyed;
mod gather_macro;
mod gather_partial;
mod gather_settled;
mod join;
mod limit;
mod race;
mod spawner;
mod stream;
mod sync_scope;
mod task_group;
mod task_handle;

pub use crate::as_completed::{AsCompleted, as_completed};
pub use crate::block_on::{block_on, run, run_partial, run_settled};
pub use crate::control::{CancelToken, GroupHandle};
pub use crate::error::{
    BlockOnError, Failure, GroupError, KeyedError, RaceError, RaceOkError, RunError, SpawnError,
    TaskError,
};
pub use crate::gather::{Gather, gather};
pub use crate::gather_keyed::{GatherKeyed, gather_keyed};
pub use crate::gather_partial::{GatherPartial, gather_partial};
pub use crate::gather_settled::{GatherSettled, gather_settled};
pub use crate::limit::{Limit, LimitError};
pub use crate::race::{Race, RaceOk, RaceOkIf, race, race_ok, race_ok_if};
pub use crate::spawner::Spawner;
pub use crate::stream::{AsCompletedStream, Buffered, as_completed_stream};
pub use crate::sync_scope::{SyncScope, SyncScopeError};
pub use crate::task_group::{ErrorMode, ExitMode, GroupOutcome, Run, TaskGroup};
pub use crate::task_handle::TaskHandle;

/// Paths used by [`gather!`]; not public API.
#[doc(hidden)]
pub mod __private {
    pub use futures;
}
