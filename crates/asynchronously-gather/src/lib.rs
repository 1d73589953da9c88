//! Gather many futures safely: strict, keyed, settled and racing joins, task groups and a sync bridge.
//!
//! Work in progress: see `docs/guide/gather.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
