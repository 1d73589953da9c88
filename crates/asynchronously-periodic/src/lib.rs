//! Periodic jobs, timers and one-shot schedules with overlap and missed-tick policies, on any runtime.
//!
//! Work in progress: see `docs/guide/periodic.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
