//! Behaviour tests, doctested guides and the bench harness of `asynchronously`.
//!
//! Every behaviour test runs once per runtime feature (`tokio`, `smol`, `async-std`; all on
//! by default) through [`runtime_test!`]. One module per capability, named like it:
//! `cargo test -p asynchronously-tests -- retry` runs the retry tests on every runtime.

#![warn(missing_docs)]

pub mod bench;
pub mod runtime;
pub mod service;

#[cfg(test)]
mod auto_traits;
#[cfg(test)]
mod cache;
#[cfg(test)]
mod gather;
#[cfg(test)]
mod lifecycle;
#[cfg(test)]
mod native_clocks;
#[cfg(test)]
mod periodic;
#[cfg(test)]
mod priority_semaphore;
#[cfg(test)]
mod ratelimit;
#[cfg(any(feature = "tokio", feature = "smol"))]
pub mod redis;
#[cfg(test)]
mod retry;
#[cfg(test)]
mod support;
#[cfg(test)]
mod time;
#[cfg(test)]
mod tower;
#[cfg(test)]
mod waterfall;

/// The README, the facade's README and every guide, compiled and run as doctests.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../README.md")]
    struct Readme;
    #[doc = include_str!("../../crates/asynchronously/README.md")]
    struct FacadeReadme;
    #[doc = include_str!("../../docs/guide/time.md")]
    struct Time;
    #[doc = include_str!("../../docs/guide/retry.md")]
    struct Retry;
    #[doc = include_str!("../../docs/guide/periodic.md")]
    struct Periodic;
    #[doc = include_str!("../../docs/guide/gather.md")]
    struct Gather;
    #[doc = include_str!("../../docs/guide/priority-semaphore.md")]
    struct PrioritySemaphore;
    #[doc = include_str!("../../docs/guide/ratelimit.md")]
    struct Ratelimit;
    #[doc = include_str!("../../docs/guide/cache.md")]
    struct Cache;
    #[doc = include_str!("../../docs/guide/lifecycle.md")]
    struct Lifecycle;
    #[doc = include_str!("../../docs/guide/waterfall.md")]
    struct Waterfall;
    #[doc = include_str!("../../docs/guide/tower.md")]
    struct Tower;
    #[doc = include_str!("../../docs/guide/redis.md")]
    struct Redis;
    #[doc = include_str!("../../docs/guide/service.md")]
    struct Service;
}
