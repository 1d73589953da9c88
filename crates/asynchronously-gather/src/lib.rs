//! Gather many futures safely: strict, keyed, settled and racing joins, task groups and a sync bridge.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod as_completed;
mod block_on;
mod children;
mod chunked;
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
mod sync_scope;
mod task_group;
mod task_handle;

pub use crate::as_completed::{AsCompleted, as_completed};
pub use crate::block_on::{block_on, run, run_partial, run_settled};
pub use crate::error::{BlockOnError, GroupError, KeyedError, RaceError, RunError, TaskError};
pub use crate::gather::{Gather, gather};
pub use crate::gather_keyed::{GatherKeyed, gather_keyed};
pub use crate::gather_partial::{GatherPartial, gather_partial};
pub use crate::gather_settled::{GatherSettled, gather_settled};
pub use crate::limit::{Limit, LimitError};
pub use crate::race::{Race, RaceOk, race, race_ok};
pub use crate::spawner::Spawner;
pub use crate::sync_scope::{SyncScope, SyncScopeError};
pub use crate::task_group::{ErrorMode, ExitMode, GroupOutcome, Run, TaskGroup};
pub use crate::task_handle::TaskHandle;

/// Paths used by [`gather!`]; not public API.
#[doc(hidden)]
pub mod __private {
    pub use futures;
}
