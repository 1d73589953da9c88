//! Fleet-wide coordination on Redis (or Valkey), for services that run as several replicas:
//! one shared quota, lockouts every replica honours, one leader for periodic jobs, and a
//! shared cache tier with single flight across the fleet.
//!
//! # Examples
//!
//! ```no_run
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//!
//! use asynchronously::ratelimit::Quota;
//! use asynchronously::redis::{Redis, RedisLockout, RedisRateLimiter};
//!
//! let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
//! let limiter = RedisRateLimiter::new(redis.clone(), "geo-api", Quota::per_second(100)?);
//! let lockout = RedisLockout::new(redis, "geo-api-429");
//!
//! lockout.wait_unlocked("geo-api").await?; // every replica backs off together
//! limiter.acquire("geo-api", 1).await?;    // and shares one quota of 100/s
//! // ... on a 429 with `Retry-After: 30`:
//! lockout.lockout_for("geo-api", Duration::from_secs(30)).await?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **[`Redis`]**: a cloneable handle on the `redis` crate's connection manager. Every
//!   command is bounded by a command timeout ([`RedisOptions`]), so a dead server is a
//!   [`RedisError`] within that bound, never a hang; the manager reconnects in the background,
//!   so a restarted server is used again by the next calls. Connecting fails with a typed
//!   [`ConnectError`]: wrap it in your retry policy.
//! - **[`RedisRateLimiter`]**: keyed GCRA in one Lua script on the server's clock, taking a
//!   [`Quota`](asynchronously_ratelimit::Quota); [`check`](RedisRateLimiter::check) never
//!   waits, [`acquire`](RedisRateLimiter::acquire) reserves and sleeps once on our
//!   [`Clock`](asynchronously_time::Clock). Fails closed or open by [`OnRedisError`].
//! - **[`RedisLockout`]**: [`lockout_for(key, d)`](RedisLockout::lockout_for) keeps the latest
//!   expiry; [`wait_unlocked(key)`](RedisLockout::wait_unlocked) holds back until it passes.
//! - **[`RedisLease`]**: a leader lease with a [`FencingToken`]; set-if-absent to acquire,
//!   compare-and-set scripts to renew and release, fenced writes, and
//!   [`leader_only`](RedisLease::leader_only) to run a periodic job on the holder only.
//! - **[`RedisCache`]**: a shared tier under the in-process cache, with fleet-wide single
//!   flight on a cold key and values through a [`Codec`] (bytes, UTF-8, or any `serde` value
//!   as compact `MessagePack` with the `serde` feature).
//!
//! # Runtimes
//!
//! The `redis` crate drives its connections on tokio (feature `tokio`, the default) or smol
//! (feature `smol`); with both, it uses tokio inside a tokio runtime and smol elsewhere. The
//! `redis` crate has **no async-std support**, so neither has this crate. Our own waiting
//! goes through the [`Clock`](asynchronously_time::Clock), as everywhere in `asynchronously`.
//!
//! # Cancel safety
//!
//! Dropping any future here leaves every structure consistent, but a command already sent may
//! or may not have been applied by the server; each method's docs say what that means.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "tokio", feature = "smol")))]
compile_error!(
    "asynchronously-redis needs a runtime for the `redis` crate: enable `tokio` or `smol`"
);

mod cache;
mod connection;
mod error;
mod lease;
mod limiter;
mod lockout;

pub use crate::cache::{BytesCodec, Codec, RedisCache, TierError, Utf8Codec};
#[cfg(feature = "serde")]
pub use crate::cache::{MessagePackCodec, MessagePackError};
pub use crate::connection::{Redis, RedisOptions};
pub use crate::error::{ConnectError, RedisError};
pub use crate::lease::{
    FencedWrite, FencingToken, LeaderError, LeaderOptions, LeaderRun, LeaseError, RedisLease,
};
pub use crate::limiter::{OnRedisError, RedisAcquireError, RedisCheckError, RedisRateLimiter};
pub use crate::lockout::RedisLockout;
