//! Building blocks for long-lived async services, on any runtime.
//!
//! | Module | Use it to |
//! |---|---|
//! | [`time`] | read time and sleep through a [`Clock`](time::Clock); test timing on a [`VirtualClock`](time::VirtualClock) |
//! | [`retry`] | retry fallible operations with backoff, limits, budgets and hooks |
//! | [`periodic`] | run jobs on a period, with overlap and missed-tick policies; schedule one-shot payloads |
//! | [`gather`] | join many futures safely: strict, keyed, settled, racing; task groups; a sync bridge |
//! | [`priority_semaphore`] | limit concurrency with a fair semaphore that serves higher priorities first |
//! | [`waterfall`] | batch items by count, weight or time, with per-item results and back-pressure |
//!
//! Each module is also its own crate (`asynchronously-time`, …) behind a feature of the same
//! name; all are on by default. No module spawns tasks: background work is returned as a
//! future for you to spawn on your runtime.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//!
//! use asynchronously::time::{Clock, VirtualClock, timeout};
//!
//! let clock = VirtualClock::new();
//! let answer = timeout(&clock, Duration::from_secs(1), async { 42 }).await?;
//! assert_eq!(answer, 42);
//! # Ok::<_, asynchronously::time::Elapsed>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use asynchronously_time as time;

#[cfg(feature = "retry")]
#[doc(inline)]
pub use asynchronously_retry as retry;

#[cfg(feature = "periodic")]
#[doc(inline)]
pub use asynchronously_periodic as periodic;

#[cfg(feature = "gather")]
#[doc(inline)]
pub use asynchronously_gather as gather;

#[cfg(feature = "priority-semaphore")]
#[doc(inline)]
pub use asynchronously_priority_semaphore as priority_semaphore;

#[cfg(feature = "waterfall")]
#[doc(inline)]
pub use asynchronously_waterfall as waterfall;
