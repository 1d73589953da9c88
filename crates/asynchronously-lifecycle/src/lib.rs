//! Start async components in dependency order, stop them in reverse, and roll back on
//! failure, on any runtime.
//!
//! A [`Lifecycle`] holds named [`Component`]s and the dependencies between them, checked
//! when it is built (cycles, unknown and duplicate names are [`BuildError`]s).
//! [`Lifecycle::init`] starts each component as soon as its dependencies are up,
//! independent ones concurrently; if one fails, panics or times out, the ones still starting
//! are cancelled and the ones already up are stopped again, in reverse. [`Lifecycle::deinit`]
//! stops everything in reverse dependency order, with deadlines, reporting every outcome.
//! [`run_until_shutdown`] wraps it all around your `main`.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//!
//! use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle, run_until_shutdown};
//!
//! struct Pool(String);
//!
//! let mut builder = Lifecycle::builder();
//! builder.component(
//!     "database",
//!     FnComponent::new().on_init(|cx| async move {
//!         cx.provide(Pool("postgres://localhost/app".into()));
//!         Ok::<_, BoxError>(())
//!     }),
//! );
//! builder
//!     .component(
//!         "server",
//!         FnComponent::new().on_init(|cx| async move {
//!             let pool: Arc<Pool> = cx.get().ok_or("the server needs the pool")?;
//!             assert!(pool.0.starts_with("postgres"));
//!             Ok::<_, BoxError>(())
//!         }),
//!     )
//!     .after("database");
//! let lifecycle = builder.build()?;
//!
//! let report = run_until_shutdown(&lifecycle, async { "served" }).await;
//! assert_eq!(report.main(), Some(&"served"));
//! assert_eq!(report.deinit().names().collect::<Vec<_>>(), ["server", "database"]);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **[`Component`]**: async `init`, `run` and `deinit`, each defaulting to a no-op; or
//!   [`FnComponent`] from closures. Each phase gets a [`Context`], through which components
//!   hand values to their dependents ([`Context::provide`] / [`Context::get`]).
//! - **[`LifecycleBuilder`]**: names, dependencies (`after`, `deinit_after`), per-component
//!   and overall timeouts, restart delays, an event hook, the clock.
//! - **Milestones**: per component and phase, *scheduled*, *started* and *finished*
//!   ([`Stage`]), readable and awaitable through [`ComponentEvents`]; every change also
//!   reaches the hook as a [`LifecycleEvent`]. [`Lifecycle::is_ready`] and
//!   [`Lifecycle::ready`] for readiness probes.
//! - **[`Shutdown`]**: a cloneable, idempotent trigger; with the `signals` feature,
//!   [`Shutdown::on_signals`] fires it on `SIGINT`/`SIGTERM` on any runtime.
//! - **Run phases**: [`run_until_shutdown`] polls every component's `run` next to `main`
//!   and restarts failed runs after the delays given to
//!   [`ComponentOptions::restart`] — any `IntoIterator<Item = Duration>`, such as a retry
//!   policy's `delays()`.
//! - **Time**: timeouts and restart delays are measured on a
//!   [`Clock`](asynchronously_time::Clock), so tests run them on virtual time.
//!
//! With the `tracing` feature, every [`LifecycleEvent`] is also logged (failures at WARN,
//! the rest at INFO), with its `Display` text as the message.
//!
//! # When not to use this crate
//!
//! A service with one or two resources is clearer with plain sequential code and a drop
//! guard. If your tasks form a supervision tree on tokio rather than a dependency graph,
//! `tokio-graceful-shutdown` models that directly.
//!
//! # Cancel safety
//!
//! Nothing is spawned: phases run inside the futures you await. Dropping `init()` cancels the
//! components still starting and keeps the rest; dropping `deinit()` likewise; a later call
//! resumes. Each method's docs give the details.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod component;
mod context;
mod error;
mod event;
mod graph;
mod lifecycle;
mod outcome;
mod report;
mod run;
mod shutdown;
#[cfg(feature = "signals")]
mod signals;

pub use crate::builder::{ComponentOptions, LifecycleBuilder};
pub use crate::component::{Component, FnComponent};
pub use crate::context::Context;
pub use crate::error::{BuildError, DependencyError, InitError};
pub use crate::event::{ComponentEvents, LifecycleEvent, Milestone, Stage};
pub use crate::lifecycle::Lifecycle;
pub use crate::outcome::{BoxError, Outcome, Phase};
pub use crate::report::DeinitReport;
pub use crate::run::{ShutdownReason, ShutdownReport, run_until_shutdown};
pub use crate::shutdown::{Shutdown, ShutdownWait};
#[cfg(feature = "signals")]
pub use crate::signals::{SignalWorker, StopSignal};
