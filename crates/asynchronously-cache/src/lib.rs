//! Single-flight async caching that survives cancellation, with TTL, LRU and refresh, on any
//! runtime.
//!
//! A [`Cache`] stores values by key. [`get_or_compute`](Cache::get_or_compute) returns the
//! stored value or computes it — once for every caller that asks while it runs. The
//! computation belongs to the cache, not to the caller that started it, so dropping any
//! caller (the first one included) never cancels or poisons it, and a panic in it reaches
//! the waiting callers as a typed [`ComputeError`] while the key recovers on the next call.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//!
//! use asynchronously::cache::{Cache, ReadOutcome};
//! use asynchronously::time::VirtualClock;
//!
//! let clock = VirtualClock::new();
//! let cache: Cache<u64, String, VirtualClock> = Cache::builder()
//!     .max_capacity(10_000)
//!     .time_to_live(Duration::from_secs(300))
//!     .refresh_after(Duration::from_secs(60))
//!     .with_clock(clock.clone())
//!     .build()?;
//!
//! let fetch = |id: u64| move || async move { format!("user {id}") };
//! assert_eq!(cache.get_or_compute(7, fetch(7)).await?, "user 7");
//! let (value, outcome) = cache.get_or_compute(7, fetch(7)).with_outcome().await?;
//! assert_eq!((value.as_str(), outcome), ("user 7", ReadOutcome::Hit));
//!
//! clock.advance(Duration::from_secs(61));
//! let (_, outcome) = cache.get_or_compute(7, fetch(7)).with_outcome().await?;
//! assert_eq!(outcome, ReadOutcome::Stale, "served at once while a refresh runs");
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **[`Cache`]** and its **[`CacheBuilder`]**: capacity by entries or weight (evicting the
//!   least recently *used*), time-to-live from completion, time-to-idle, per-entry expiry,
//!   refresh-after with a max-stale bound, negative caching, an eviction listener with a
//!   [`RemovalCause`], [`CacheStats`] and a [`ReadOutcome`] per read. Invalid settings are a
//!   [`BuildError`].
//! - **Single flight**: [`GetOrCompute`] / [`TryGetOrCompute`] share one computation per key.
//!   Any waiter can drive it, so the leader may be dropped; errors are shared with the
//!   waiters (behind an `Arc`, `E: Clone` not needed) and not stored by default.
//! - **[`CacheWorker`]**: optional; drives refreshes in the background. Without it, callers
//!   drive them (see [`Cache`]'s "Where refreshes run").
//! - **[`Memoize`]**: an async function memoized per argument, with an optional key function.
//! - **[`Lru`]** and **[`TtlLru`]**: plain synchronous maps with get-refreshes-recency.
//! - **Logging**: no logging dependency by default; the optional `tracing` feature logs
//!   loads, load failures and removals as DEBUG events.
//!
//! # When not to use this crate
//!
//! For a synchronous, single-threaded memo table, [`Lru`] or a `HashMap` is enough. If you
//! need a cache shared between processes, use an external store.
//!
//! # Cancel safety
//!
//! Dropping a [`GetOrCompute`] or [`TryGetOrCompute`] at any await point leaves the key
//! consistent and never cancels a computation that other callers wait for.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod cache;
mod error;
mod flight;
mod get_or_compute;
mod key;
mod lru;
mod memoize;
mod read_outcome;
mod removal_cause;
mod stats;
mod ttl_lru;
mod worker;

pub use crate::builder::CacheBuilder;
pub use crate::cache::Cache;
pub use crate::error::{BuildError, ComputeError};
pub use crate::get_or_compute::{GetOrCompute, TryGetOrCompute, WithOutcome};
pub use crate::lru::Lru;
pub use crate::memoize::Memoize;
pub use crate::read_outcome::ReadOutcome;
pub use crate::removal_cause::RemovalCause;
pub use crate::stats::CacheStats;
pub use crate::ttl_lru::TtlLru;
pub use crate::worker::CacheWorker;

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<u32, u32>>();
    assert_send_sync::<
        CacheWorker<
            u32,
            u32,
            asynchronously_time::RealClock,
            std::collections::hash_map::RandomState,
        >,
    >();
    assert_send_sync::<ComputeError<std::io::Error>>();
};
