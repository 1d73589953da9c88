//! asynchronously's primitives as [tower](https://docs.rs/tower) layers, for axum, tonic and
//! hyper services.
//!
//! | Layer | Wraps | Instead of tower's |
//! |---|---|---|
//! | [`RetryLayer`] | a [`RetryPolicy`](asynchronously_retry::RetryPolicy) and a classifier of `Result<Response, Error>` | `retry::RetryLayer`: no budget by default, no `Retry-After` |
//! | [`PriorityConcurrencyLimitLayer`] | a [`PrioritySemaphore`](asynchronously_priority_semaphore::PrioritySemaphore) and a request → [`Priority`](asynchronously_priority_semaphore::Priority) function | `limit::ConcurrencyLimitLayer`: FIFO only |
//! | [`RateLimitLayer`] | a GCRA [`RateLimiter`](asynchronously_ratelimit::RateLimiter); waits fairly or rejects with `retry_after` | `limit::RateLimitLayer`: fixed windows, waiting only |
//! | [`KeyedRateLimitLayer`] | a [`KeyedRateLimiter`](asynchronously_ratelimit::KeyedRateLimiter) and a request → key function | — |
//! | [`CacheLayer`] | a [`Cache`](asynchronously_cache::Cache) and a request → key function; single flight | — |
//! | [`BatchLayer`] | a [`Waterfall`](asynchronously_waterfall::Waterfall) in front of a `Service<Vec<Request>>` | — |
//!
//! Each layer is a thin adapter: the semantics (fairness, cancellation, errors) are those of
//! the capability crate it wraps, and each service documents its `poll_ready` / `call`
//! contract and what dropping its response future releases, in a `# Cancel safety` section.
//! Nothing here spawns: [`BatchLayer::pair`] returns a worker for you to spawn. The capability
//! crates do not depend on tower; this crate depends on them and on `tower-layer` and
//! `tower-service` only.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//!
//! use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
//! use asynchronously::ratelimit::{Quota, RateLimiter};
//! use asynchronously::retry::{RetryPolicy, Verdict};
//! use asynchronously::tower::{PriorityConcurrencyLimitLayer, RateLimitLayer, RetryLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let upstream = service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n * 2) });
//! let retry = RetryLayer::new(RetryPolicy::default(), |outcome: &Result<u32, std::io::Error>| {
//!     if outcome.is_err() { Verdict::Retry } else { Verdict::Fail }
//! });
//! let limit = PriorityConcurrencyLimitLayer::new(Arc::new(PrioritySemaphore::new(64)), |_: &u32| Priority::NORMAL);
//! let rate = RateLimitLayer::waiting(Arc::new(RateLimiter::new(Quota::per_second(1000)?)));
//! // Outermost first: the rate limit, then the concurrency limit, then retries.
//! let service = ServiceBuilder::new().layer(rate).layer(limit).layer(retry).service(upstream);
//! assert_eq!(service.oneshot(21).await?, 42);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # When not to use this crate
//!
//! Outside tower, use the capability crates directly: their futures are lighter than a
//! `Service` (no readiness protocol, no cloning of the inner service).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod batch;
mod cache;
mod concurrency_limit;
mod keyed_rate_limit;
mod rate_limit;
mod retry;

pub use crate::batch::{Batch, BatchLayer, BatchWorker};
pub use crate::cache::{Cache, CacheLayer};
pub use crate::concurrency_limit::{
    PriorityConcurrencyLimit, PriorityConcurrencyLimitLayer, PriorityLimitError,
};
pub use crate::keyed_rate_limit::{KeyedRateLimit, KeyedRateLimitLayer};
pub use crate::rate_limit::{RateLimit, RateLimitError, RateLimitLayer};
pub use crate::retry::{Retry, RetryLayer};

/// The response futures of the services.
pub mod future {
    pub use crate::batch::BatchFuture;
    pub use crate::cache::CacheFuture;
    pub use crate::concurrency_limit::PriorityLimitFuture;
    pub use crate::rate_limit::RateLimitFuture;
    pub use crate::retry::RetryFuture;
}
