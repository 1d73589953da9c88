//! Building blocks for long-lived async services, on any runtime.
//!
//! | Module | Use it to |
//! |---|---|
//! | [`time`] | read time and sleep through a [`Clock`](time::Clock); test timing on a [`VirtualClock`](time::VirtualClock) |
//! | [`lifecycle`] | start components in dependency order, stop them in reverse, roll back on failure; shutdown and run phases |
//! | [`retry`] | retry fallible operations with backoff, limits, budgets and hooks |
//! | [`periodic`] | run jobs on a period, with overlap and missed-tick policies; schedule one-shot payloads |
//! | [`gather`] | join many futures safely: strict, keyed, settled, racing; task groups; a sync bridge |
//! | [`cache`] | cache async computations: single flight per key, TTL, LRU, stale-while-revalidate |
//! | [`ratelimit`] | limit rates: GCRA with fair waiting, sliding windows, composite and keyed limiters, lockouts |
//! | [`waterfall`] | batch items by count, weight or time, with per-item results and back-pressure |
//! | [`priority_semaphore`] | limit concurrency with a fair semaphore that serves lower priority values first, FIFO among equals |
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

#[cfg(feature = "lifecycle")]
#[doc(inline)]
pub use asynchronously_lifecycle as lifecycle;

#[cfg(feature = "retry")]
#[doc(inline)]
pub use asynchronously_retry as retry;

#[cfg(feature = "periodic")]
#[doc(inline)]
pub use asynchronously_periodic as periodic;

#[cfg(feature = "gather")]
#[doc(inline)]
pub use asynchronously_gather as gather;

#[cfg(feature = "cache")]
#[doc(inline)]
pub use asynchronously_cache as cache;

#[cfg(feature = "ratelimit")]
#[doc(inline)]
pub use asynchronously_ratelimit as ratelimit;

#[cfg(feature = "waterfall")]
#[doc(inline)]
pub use asynchronously_waterfall as waterfall;

#[cfg(feature = "priority-semaphore")]
#[doc(inline)]
pub use asynchronously_priority_semaphore as priority_semaphore;
