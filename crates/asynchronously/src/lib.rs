//! Building blocks for long-lived async services, on any runtime.
//!
//! One module per capability, each its own small crate re-exported here. Nothing spawns:
//! background work is a future for you to spawn on the runtime you already use, and all
//! timing goes through a [`Clock`](time::Clock), so tests run on virtual time.
//!
//! # Examples
//!
//! At most two calls in flight, each retried with backoff, all gathered in input order
//! (with `futures = { version = "0.3", features = ["executor"] }` for `block_on`; on tokio,
//! write `#[tokio::main] async fn main` instead):
//!
//! ```
//! use std::error::Error;
//! use std::io;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use asynchronously::gather::gather;
//! use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
//! use asynchronously::retry::{Backoff, RetryPolicy};
//!
//! type BoxError = Box<dyn Error + Send + Sync>;
//!
//! fn main() -> Result<(), BoxError> {
//!     futures::executor::block_on(async {
//!         // Built once, validated, shared by every call site.
//!         let policy = RetryPolicy::builder()
//!             .backoff(Backoff::exponential(Duration::from_millis(1), 2.0))
//!             .max_retries(3)
//!             .build()?;
//!         // At most two calls in flight; callers with lower priority values would go first.
//!         let in_flight = PrioritySemaphore::new(2);
//!         let resets = AtomicU32::new(0);
//!
//!         let fetch = |id: u32| {
//!             let (policy, in_flight, resets) = (&policy, &in_flight, &resets);
//!             async move {
//!                 let _permit = in_flight.acquire(Priority::NORMAL).await?;
//!                 let body = policy
//!                     .retry(|| async move {
//!                         // The first call for item 2 is reset by the peer; the retry succeeds.
//!                         if id == 2 && resets.fetch_add(1, Ordering::Relaxed) == 0 {
//!                             Err(io::Error::from(io::ErrorKind::ConnectionReset))
//!                         } else {
//!                             Ok(id * 10)
//!                         }
//!                     })
//!                     .await?;
//!                 Ok::<_, BoxError>(body)
//!             }
//!         };
//!
//!         // Results in input order; a failure would drop every other call before it is returned.
//!         let bodies = gather((1..=4).map(fetch)).await?;
//!         assert_eq!(bodies, [10, 20, 30, 40]);
//!         Ok(())
//!     })
//! }
//! ```
//!
//! # Modules and features
//!
//! Every module but [`time`] sits behind a feature of the same name (`priority_semaphore`'s
//! is `priority-semaphore`); all are on by default (`full`). Optional features of the crates
//! are forwarded by features of the same name here, and each turns on only in the modules
//! you enabled.
//!
//! | Module | Feature | Crate | Optional features | Use it to |
//! |---|---|---|---|---|
//! | [`time`] | none: always there | `asynchronously-time` | `tokio` (`TokioClock`), `async-io` (`AsyncIoClock`) | read time and sleep through a [`Clock`](time::Clock); test timing on a [`VirtualClock`](time::VirtualClock) |
//! | [`lifecycle`] | `lifecycle` | `asynchronously-lifecycle` | `tracing`, `signals` (SIGINT/SIGTERM) | start components in dependency order, stop them in reverse, roll back on failure; shutdown and run phases |
//! | [`retry`] | `retry` | `asynchronously-retry` | `tracing` | retry fallible operations with backoff, limits, budgets and hooks |
//! | [`periodic`] | `periodic` | `asynchronously-periodic` | — | run jobs on a period, with overlap and missed-tick policies; schedule one-shot payloads |
//! | [`gather`] | `gather` | `asynchronously-gather` | `tokio` (`block_on` inside tokio is a typed error) | join many futures safely: strict, keyed, settled, racing; task groups; a sync bridge |
//! | [`cache`] | `cache` | `asynchronously-cache` | `tracing` | cache async computations: single flight per key, TTL, LRU, stale-while-revalidate |
//! | [`ratelimit`] | `ratelimit` | `asynchronously-ratelimit` | `tracing` | limit rates: GCRA with fair waiting, sliding windows, composite and keyed limiters, lockouts |
//! | [`waterfall`] | `waterfall` | `asynchronously-waterfall` | `tracing` | batch items by count, weight or time, with per-item results and back-pressure |
//! | [`priority_semaphore`] | `priority-semaphore` | `asynchronously-priority-semaphore` | — | limit concurrency with a fair semaphore that serves lower priority values first, FIFO among equals |
//! | `tower` | `tower` (off by default, not in `full`) | `asynchronously-tower` | — | use retry, the priority semaphore, rate limits, the cache and batching as tower layers |
//! | `redis` | `redis` (off by default, not in `full`) | `asynchronously-redis` | `redis-smol`, `redis-serde` | fleet-wide GCRA limits, lockouts, leader leases and a shared cache tier on Redis |
//!
//! The optional features, forwarded here:
//!
//! - **`tokio`**: `time::TokioClock`, tokio's timer, so `tokio::time::pause` and
//!   `#[tokio::test(start_paused = true)]` drive every module; with `gather`, `block_on`
//!   inside a tokio runtime returns an error instead of blocking it. Brings in `tokio` with
//!   only its `time` and `rt` features.
//! - **`async-io`**: `time::AsyncIoClock`, the reactor timers of smol and async-std.
//! - **`tracing`**: events of retry, cache, ratelimit, waterfall and lifecycle as `tracing`
//!   events.
//! - **`signals`**: lifecycle's shutdown trigger on SIGINT/SIGTERM, on every runtime.
//!
//! Only what you need, for example retry alone (with [`time`], which is always there):
//!
//! ```toml
//! [dependencies]
//! asynchronously = { git = "https://github.com/asynchronously-rs/asynchronously", default-features = false, features = ["retry"] }
//! ```
//!
//! Each module is also usable as its crate directly (`asynchronously-retry`, …); the
//! examples everywhere are written with this facade's paths (`asynchronously::retry::…`).

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

#[cfg(feature = "redis")]
#[doc(inline)]
pub use asynchronously_redis as redis;
#[cfg(feature = "tower")]
#[doc(inline)]
pub use asynchronously_tower as tower;
