//! Retry fallible async operations with backoff, limits, budgets and hooks, on any runtime.
//!
//! Build a [`RetryPolicy`] once, then call [`policy.retry(|| operation())`](RetryPolicy::retry)
//! wherever you need it. The returned [`Retry`] future calls the operation until it succeeds
//! or the policy gives up, sleeping between attempts on a [`Clock`](asynchronously_time::Clock),
//! so tests run on virtual time.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::io;
//! use std::time::Duration;
//!
//! use asynchronously::retry::{Backoff, Jitter, RetryPolicy};
//! use asynchronously::time::VirtualClock;
//!
//! let clock = VirtualClock::new();
//! let policy = RetryPolicy::builder()
//!     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0))
//!     .jitter(Jitter::Equal)
//!     .max_delay(Duration::from_secs(5))
//!     .max_retries(5)
//!     .with_clock(clock.clone())
//!     .build()?;
//!
//! let mut calls = 0;
//! let fetch = policy
//!     .retry(|| {
//!         calls += 1;
//!         let call = calls;
//!         async move {
//!             if call < 3 { Err(io::Error::from(io::ErrorKind::ConnectionRefused)) } else { Ok("data") }
//!         }
//!     })
//!     .retry_if(|error| error.kind() == io::ErrorKind::ConnectionRefused)
//!     .on_retry(|attempt| assert!(attempt.retry() <= 2));
//! let (data, ()) = futures::join!(fetch, clock.run_for(Duration::from_secs(60)));
//! assert_eq!(data?, "data");
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **[`RetryPolicy`]**: the reusable part (`Clone + Send + Sync`): schedule, limits, budget
//!   and clock, validated by [`RetryPolicyBuilder::build`] ([`PolicyError`] for NaN factors,
//!   reversed bounds, zero limits). `max_retries(n)` allows `n + 1` calls; `0` means one call.
//! - **[`Backoff`] and [`Jitter`]**: constant, linear, exponential, fibonacci and decorrelated
//!   jitter, or any iterator of delays ([`Backoff::custom`]; the retry gives up when it
//!   ends); none, full or equal jitter, seedable. Delays are clamped into
//!   `[min_delay, max_delay]` after jitter (`max_delay` defaults to 60 s).
//!   [`RetryPolicy::delays`] shows the schedule.
//! - **Limits**: retries; total elapsed time *including attempt time* (an attempt is cut off
//!   at the deadline, and no sleep is started that would reach it); a per-attempt timeout.
//! - **[`Retry`]**: the future, per call site: [`Classify`] / [`Verdict`] decide which errors
//!   are retried (`retry_if` for a `bool` predicate, `RetryAfter` for server-given delays);
//!   [`Hook`]s observe each retry through an [`Attempt`] record whose `Display` is the seed's
//!   `retry K/N` line. [`Retryable`] adds `.retry(&policy)` to closures.
//! - **[`RetryBudget`]**: shared across policies; successes deposit, retries withdraw, with a
//!   per-second floor — a retry storm stops at the budget.
//! - **Logging**: no logging dependency by default; hooks see every retry. The optional
//!   `tracing` feature also logs each retry as a WARN event (`retry K/N in DELAY`).
//! - **[`RetryError`]**: why it stopped (exhausted, permanent, timed out, deadline, budget,
//!   a delay too long to honour), with the attempt count, the elapsed time and the last
//!   error, whose message ends the `Display` line.
//! - **Ownership**: [`RetryPolicy::retry`] clones the policy into the future, so it can be
//!   spawned as is; [`Retryable::retry`] borrows it.
//! - **Blocking code**: [`RetryPolicy::retry_blocking`] retries a synchronous operation under
//!   the same policy, classification, hooks and errors, blocking the thread between attempts
//!   on a [`BlockingClock`](asynchronously_time::BlockingClock) (virtual in tests).
//!
//! # When not to use this crate
//!
//! If the operation is a `tower::Service`, `tower::retry` composes with the rest of the stack.
//! For blocking (non-async) code, use [`RetryPolicy::retry_blocking`], never the async
//! `Retry` inside a `block_on` on an executor thread.
//!
//! # Cancel safety
//!
//! Dropping a [`Retry`] at any point — during an attempt, a hook or a sleep — drops the
//! running attempt and the sleep; the operation is not called again.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod attempt;
mod backoff;
mod blocking;
mod budget;
mod classify;
mod delays;
mod error;
mod hook;
mod jitter;
mod long_retry_after;
mod policy;
mod retry;
mod retryable;
mod schedule;

pub use crate::attempt::Attempt;
pub use crate::backoff::Backoff;
pub use crate::blocking::RetryBlocking;
pub use crate::budget::{BudgetError, RetryBudget};
pub use crate::classify::{Classify, RetryAll, RetryIf, Verdict};
pub use crate::delays::Delays;
pub use crate::error::RetryError;
pub use crate::hook::{AsyncHook, Hook, NoHook, SyncHook};
pub use crate::jitter::Jitter;
pub use crate::long_retry_after::LongRetryAfter;
pub use crate::policy::{PolicyError, RetryPolicy, RetryPolicyBuilder};
pub use crate::retry::Retry;
pub use crate::retryable::Retryable;
