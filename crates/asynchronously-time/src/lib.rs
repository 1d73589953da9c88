//! Time for async code that can be tested: one [`Clock`] trait, a real clock and a virtual one.
//!
//! Every crate of `asynchronously` reads time and sleeps only through a [`Clock`]. In
//! production that is [`RealClock`] (the default type parameter everywhere, backed by
//! `futures-timer`, so it works on any runtime). In tests it is [`VirtualClock`], whose time
//! moves only when the test says so: a one-hour schedule runs in microseconds and every
//! assertion about "when" is exact.
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
//! let start = clock.now();
//!
//! // A ten-second sleep, raced against a one-second timeout, in virtual time.
//! let slow = clock.sleep(Duration::from_secs(10));
//! let (result, ()) = futures::join!(
//!     timeout(&clock, Duration::from_secs(1), slow),
//!     clock.run_for(Duration::from_secs(5)),
//! );
//! assert!(result.is_err(), "the timeout fires first");
//! assert_eq!(clock.now() - start, Duration::from_secs(5));
//! # });
//! ```
//!
//! # Concepts
//!
//! - **[`Clock`]**: `now()`, `sleep(duration)` and `sleep_until(deadline)`. Durations too large
//!   to be represented as an [`Instant`](std::time::Instant) mean "never": such a sleep never
//!   fires and nothing panics. Deadlines in the past complete at once.
//! - **[`RealClock`]**: `std::time::Instant` and `futures_timer::Delay`. A zero-sized, `Copy`
//!   type: using it costs nothing over calling `futures-timer` directly.
//! - **[`VirtualClock`]**: a shared, cloneable clock for tests. [`VirtualClock::advance`] jumps
//!   at once and wakes the due sleepers in deadline order; [`VirtualClock::run_for`] steps
//!   through the pending deadlines and waits at each one for the woken code to react, so a
//!   sleep registered in reaction fires at its exact virtual instant.
//! - **[`BlockingClock`]**: a clock that can also block the calling thread, for synchronous
//!   code such as a blocking retry loop; on a [`VirtualClock`] it moves time instead.
//! - **[`timeout`] / [`timeout_at`]**: bound any future by a clock; the error is [`Elapsed`].
//! - **Runtime-native clocks**, optional: `TokioClock` (feature `tokio`) sleeps on tokio's
//!   timer, so `tokio::time::pause` and `#[tokio::test(start_paused = true)]` drive every
//!   crate; `AsyncIoClock` (feature `async-io`) sleeps on the reactor timers of smol and
//!   async-std. Every crate takes `C: Clock`, so each works with them unchanged.
//!
//! # Features
//!
//! | Feature | Adds | Depends on |
//! |---|---|---|
//! | `tokio` | `TokioClock`, `TokioSleep` | `tokio` with only its `time` feature |
//! | `async-io` | `AsyncIoClock`, `AsyncIoSleep` | `async-io` |
//!
//! Neither is on by default, and nothing here needs them: [`RealClock`] runs on any runtime.
//!
//! # When not to use this crate
//!
//! If your code only ever runs on tokio and your tests use `tokio::time::pause`, tokio's own
//! timers are simpler. Note that tokio's paused clock drives only `tokio::time`: a
//! `futures-timer` delay of [`RealClock`] still takes real time under it; use `TokioClock`
//! (feature `tokio`) to test `asynchronously` code on paused time.
//!
//! # Cancel safety
//!
//! Every future here is cancel-safe: dropping a [`Sleep`](Clock::Sleep) removes it from its
//! clock, and dropping a [`Timeout`] drops the inner future and the sleep.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod alarm;
#[cfg(feature = "async-io")]
mod async_io_clock;
mod blocking;
mod clock;
mod real_clock;
mod timeout;
#[cfg(feature = "tokio")]
mod tokio_clock;
mod virtual_clock;

pub use crate::alarm::Alarm;
#[cfg(feature = "async-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub use crate::async_io_clock::{AsyncIoClock, AsyncIoSleep};
pub use crate::blocking::BlockingClock;
pub use crate::clock::Clock;
pub use crate::real_clock::{RealClock, RealSleep};
pub use crate::timeout::{Elapsed, Timeout, timeout, timeout_at};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use crate::tokio_clock::{TokioClock, TokioSleep};
pub use crate::virtual_clock::{RunFor, VirtualClock, VirtualSleep, WaitForSleepers};
