//! Gather many futures safely: strict, keyed, settled and racing joins, task groups and a sync bridge.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod children;
mod chunked;
mod error;
mod gather;
mod join;
mod limit;

pub use crate::error::{BlockOnError, GroupError, KeyedError, RaceError, RunError, TaskError};
pub use crate::gather::{Gather, gather};
pub use crate::limit::{Limit, LimitError};
