//! Rate limiting for async code, on any runtime: GCRA in one atomic with fair FIFO waiting,
//! sliding windows, composite and keyed limiters, lockouts and a `Stream` adaptor.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//!
//! use asynchronously::ratelimit::{Quota, RateLimiter};
//! use asynchronously::time::{Clock, VirtualClock};
//!
//! let clock = VirtualClock::new();
//! let limiter = RateLimiter::with_clock(Quota::per_second(5)?.with_burst(1)?, clock.clone());
//! let start = clock.now();
//! let callers = futures::future::join_all((0..3).map(|_| async {
//!     limiter.acquire(1).await?;
//!     Ok::<_, asynchronously::ratelimit::AcquireError>(clock.now() - start)
//! }));
//! let (admitted, ()) = futures::join!(callers, clock.run_for(Duration::from_secs(1)));
//! let admitted: Vec<Duration> = admitted.into_iter().collect::<Result<_, _>>()?;
//! assert_eq!(admitted, [0, 200, 400].map(Duration::from_millis));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **[`Quota`]**: `count` per `period` with a `burst`, validated once ([`QuotaError`]); a
//!   plain value any limiter takes.
//! - **[`RateLimiter`]**: the generic cell rate algorithm with its state in one atomic.
//!   [`check`](RateLimiter::check) never waits; [`acquire`](RateLimiter::acquire) waits its
//!   turn by **reservation**: a waiter claims its slot on its first poll and sleeps until it,
//!   so waiters are admitted in arrival order with one wake-up each, and a waiter dropped
//!   early returns its slot to those behind it. [`reserve`](RateLimiter::reserve) claims
//!   cells and tells you when they are due; [`set_quota`](RateLimiter::set_quota) changes the
//!   rate at runtime.
//! - **[`SlidingWindow`]**: at most N starts in any rolling period (a log of start times);
//!   leaving does not release. FIFO, event-driven on the clock.
//! - **[`CompositeRateLimiter`]**: all of several quotas at once (10/s *and* 1000/h); a
//!   request refused by one part consumes nothing from any.
//! - **[`KeyedRateLimiter`]**: one GCRA state per key, bounded at `max_keys`; idle keys are
//!   evicted on access, with no background task.
//! - **[`Lockout`] / [`FifoLockout`]**: [`lockout_for(d)`](Lockout::lockout_for) stacks;
//!   entries wait until every lockout has expired; the FIFO variant admits in arrival order.
//! - **[`RateLimitExt::rate_limited`]**: a `Stream` that yields items no faster than a limiter
//!   allows.
//! - **Logging**: the optional `tracing` feature logs waits and lockouts as DEBUG events.
//!
//! # When not to use this crate
//!
//! To limit how many operations run *at once* rather than how often they start, use a
//! semaphore (`asynchronously::priority_semaphore`). For a `tower::Service` stack,
//! `tower::limit::RateLimit` composes with the rest of the stack.
//!
//! # Cancel safety
//!
//! Every future here is cancel-safe: a waiter dropped before its turn gives its place (and
//! any reserved cells) back, and never enters.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod acquire;
mod composite;
mod error;
mod fifo_lockout;
mod keyed;
mod lockout;
mod queue;
mod quota;
mod rate_limiter;
mod reservation;
mod sliding_window;
mod stream;

pub use crate::acquire::{Acquire, AcquireOwned};
pub use crate::composite::CompositeRateLimiter;
pub use crate::error::{AcquireError, BuildError, CheckError, QuotaError};
pub use crate::fifo_lockout::{FifoEnter, FifoLockout};
pub use crate::keyed::KeyedRateLimiter;
pub use crate::lockout::{Enter, Lockout};
pub use crate::quota::Quota;
pub use crate::rate_limiter::RateLimiter;
pub use crate::reservation::Reservation;
pub use crate::sliding_window::SlidingWindow;
pub use crate::stream::{RateLimitExt, RateLimited};
