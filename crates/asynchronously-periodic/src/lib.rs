//! Periodic jobs, timers and one-shot schedules with overlap and missed-tick policies, on any
//! runtime.
//!
//! [`Periodic::builder`] configures a schedule; [`build`](PeriodicBuilder::build) turns it
//! into a [`Periodic`] handle (stop, pause, resume, run now, change the period) and the
//! [`PeriodicWorker`] future that runs the job, which you spawn on any runtime. Time is
//! measured on a [`Clock`](asynchronously_time::Clock), so schedules are tested on virtual
//! time: a day of ticks runs in milliseconds.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use asynchronously::periodic::{Cadence, Periodic, PeriodicEvent};
//! use asynchronously::time::{Clock, VirtualClock};
//!
//! let clock = VirtualClock::new();
//! let start = clock.now();
//! let mut started = Vec::new();
//! let (periodic, worker) = Periodic::builder(Duration::from_millis(100))
//!     .cadence(Cadence::Grid)
//!     .with_clock(clock.clone())
//!     .build(|tick| {
//!         started.push(tick.scheduled() - start);
//!         let clock = clock.clone();
//!         async move {
//!             clock.sleep(Duration::from_millis(99)).await; // a slow job stays on the grid
//!             if tick.number() == 2 { Err("flaky") } else { Ok(()) }
//!         }
//!     })?;
//! let failures = Arc::new(AtomicU32::new(0));
//! let worker = worker.on_event({
//!     let failures = Arc::clone(&failures);
//!     move |event| {
//!         if let PeriodicEvent::Failed { .. } = event {
//!             failures.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! });
//!
//! // In an application: `tokio::spawn(worker)`; here, join it with virtual time.
//! futures::join!(worker, async {
//!     clock.run_for(Duration::from_millis(350)).await;
//!     // Stop at 350 ms: the run started at 300 ms finishes first, at 399 ms.
//!     futures::join!(periodic.stop(), clock.run_for(Duration::from_millis(100)));
//! });
//! assert_eq!(started, [100, 200, 300].map(Duration::from_millis));
//! assert_eq!(failures.load(Ordering::Relaxed), 1, "the failure was reported and the schedule went on");
//! # Ok::<_, asynchronously::periodic::ScheduleError>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **Job**: an `FnMut(Tick) -> impl Future` returning `()` or `Result<(), E>` (see [`Job`]);
//!   [`build_sync`](PeriodicBuilder::build_sync) takes a synchronous closure. Each run gets a [`Tick`]: scheduled and actual
//!   instant, lag, missed ticks, run number. Errors, panics, timeouts and cancellations are
//!   reported as [`PeriodicEvent`]s to the hook set with [`PeriodicWorker::on_event`], and
//!   the schedule goes on.
//! - **Start**: the schedule starts at the worker's first poll. A worker is one value, so it
//!   starts once: polling it after it finished returns at once, and
//!   [`resume`](Periodic::resume) on a running schedule does nothing.
//! - **First run** ([`FirstRun`]): one period after start (default), immediately, or at an
//!   instant (a past instant runs at once and is reported).
//! - **Cadence** ([`Cadence`]): sleep a period after each run (default), or keep to the
//!   period grid without drift. On the grid, [`MissedTicks`] says what happens to ticks that
//!   passed while no run could start (skip, burst up to N, delay), and [`Overlap`] whether a
//!   run may start while others run (never, up to k, cancel the previous one).
//! - **Stop** ([`Periodic::stop`], [`Periodic::stop_within`]): prompt — it interrupts the
//!   sleep — then waits for the running runs, or cancels them after a grace period. Dropping
//!   every [`Periodic`] handle stops the job the same way, unless it was
//!   [detached](Periodic::detach); commands on a stopped schedule return
//!   [`ScheduleError::Stopped`].
//! - **[`Ticks`]**: the schedule alone, as a `Stream`, for code that only wants the timing,
//!   with [`poll_tick`](Ticks::poll_tick), [`reset`](Ticks::reset) and
//!   [`reset_after`](Ticks::reset_after) as tokio's `Interval`.
//! - **[`Scheduler`]**: one-shot payloads delivered as a stream at their instants, in
//!   instant order (ties in insertion order), cancellable by [`ScheduleToken`].
//!
//! # When not to use this crate
//!
//! If the code runs only on tokio and needs only a ticking loop, `tokio::time::interval` is
//! simpler. For cron expressions and calendars, use a cron scheduler such as
//! `tokio-cron-scheduler`: this crate schedules by period and instant only.
//!
//! # Cancel safety
//!
//! Dropping the [`PeriodicWorker`] drops the running runs and completes every [`Stop`].
//! Dropping a [`Stop`] leaves the stop requested. [`Ticks`] and [`Deliveries`] are
//! cancel-safe streams: a tick or payload is taken only when it is returned.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod cadence;
mod error;
mod event;
mod first_run;
mod job;
mod missed_ticks;
mod overlap;
mod periodic;
mod schedule;
mod scheduler;
mod tick;
mod ticks;
mod worker;

pub use crate::builder::PeriodicBuilder;
pub use crate::cadence::Cadence;
pub use crate::error::{GridOption, InsertError, ScheduleError};
pub use crate::event::{CancelReason, PeriodicEvent};
pub use crate::first_run::FirstRun;
pub use crate::job::{Job, JobOutput, SyncJob};
pub use crate::missed_ticks::MissedTicks;
pub use crate::overlap::Overlap;
pub use crate::periodic::{Periodic, Stop};
pub use crate::scheduler::{Deliveries, ScheduleToken, Scheduler};
pub use crate::tick::Tick;
pub use crate::ticks::Ticks;
pub use crate::worker::PeriodicWorker;
