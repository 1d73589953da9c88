//! Batch items by count, weight or time, with per-item results, back-pressure and nothing
//! lost, on any runtime.
//!
//! [`Waterfall::builder`] configures a batcher; [`build`](WaterfallBuilder::build) turns it
//! into a cloneable [`Waterfall`] handle and the [`WaterfallWorker`] future that sends the
//! batches, which you spawn on any runtime. Producers [`put`](Waterfall::put) items (fire and
//! forget) or [`submit`](Waterfall::submit) them and await each item's own result. Time is
//! measured on a [`Clock`](asynchronously_time::Clock), so batching is tested on virtual time.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//!
//! use asynchronously::time::VirtualClock;
//! use asynchronously::waterfall::Waterfall;
//!
//! let clock = VirtualClock::new();
//! let (log, batches) = std::sync::mpsc::channel();
//! let (waterfall, worker) = Waterfall::builder(3, Duration::from_millis(100))
//!     .queue_capacity(8) // room for all seven at once
//!     .with_clock(clock.clone())
//!     .build(move |batch: Vec<u32>| {
//!         let _ = log.send(batch.clone());
//!         async move { Ok::<_, std::io::Error>(batch.iter().map(|n| n * 10).collect::<Vec<_>>()) }
//!     })?;
//!
//! // In an application: `tokio::spawn(worker)`; here, join it with virtual time.
//! let (results, ()) = futures::join!(
//!     async {
//!         // Seven submitters: two full batches go at once, the seventh item 100 ms later.
//!         let results = futures::future::join_all((0..7).map(|n| waterfall.submit(n)));
//!         let (results, ()) = futures::join!(results, clock.run_for(Duration::from_millis(100)));
//!         waterfall.close().await;
//!         results
//!     },
//!     worker,
//! );
//! let results: Vec<u32> = results.into_iter().collect::<Result<_, _>>()?;
//! assert_eq!(results, [0, 10, 20, 30, 40, 50, 60], "each submitter got its own result");
//! assert_eq!(batches.try_iter().collect::<Vec<_>>(), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! - **Batch**: items in arrival order, sent when it holds `max_items` items (or reaches
//!   [`max_weight`](WaterfallBuilder::max_weight)), when `max_wait` has passed since its
//!   **first** item arrived, on [`flush`](Waterfall::flush), or on [`close`](Waterfall::close).
//!   Never empty.
//! - **Batch function**: an `FnMut(Vec<T>) -> impl Future` (see [`BatchFn`]) returning `()` or
//!   `Result<(), E>`, or one result per item (`Vec<Out>` or `Result<Vec<Out>, E>`; see
//!   [`BatchOutput`]). A batch-level error reaches every submitter of the batch as
//!   [`SubmitError::Failed`] holding an `Arc<E>`: `E` need not be `Clone`. Failures and panics
//!   are also reported to the worker's hook ([`WaterfallEvent`]); the batch counts as done.
//! - **Flow control**: at most [`max_in_flight`](WaterfallBuilder::max_in_flight) batches run
//!   at once; at most [`queue_capacity`](WaterfallBuilder::queue_capacity) items wait. `put`
//!   and `submit` wait for room; `try_put` and `try_submit` return [`TryPutError::Full`].
//! - **Close**: refuses new items ([`PutError::Closed`]), sends everything pending in batches
//!   of at most `max_items`, in order, and completes when every batch finished, bounded by an
//!   optional [`finalize_timeout`](WaterfallBuilder::finalize_timeout) after which running
//!   batches are cancelled and unsent items handed back. Dropping the last handle closes too.
//! - **Stream face**: [`WaterfallExt::waterfall`] batches any `Stream` with the same rules.
//!
//! # When not to use this crate
//!
//! If the items already come from a `Stream` consumed by one task and need no per-item
//! results, [`WaterfallExt::waterfall`] (or futures-batch's `chunks_timeout`) is all you need.
//! For a `tower::Service` on tokio, `tower-batch-control` composes with the rest of tower.
//!
//! # Cancel safety
//!
//! [`Put`] and [`Submit`] hand an item back or drop it unqueued when dropped before it was
//! queued; a [`Submit`] dropped after queueing removes its item from its batch (if not yet
//! sent). Dropping the [`WaterfallWorker`] loses nothing silently: submitters get their items
//! back ([`SubmitError::Unsent`]) or learn that their running batch was cancelled, and `put`
//! items are handed to the hook ([`WaterfallEvent::Unsent`]). [`Close`] may be dropped freely.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod error;
mod event;
mod output;
mod reply;
mod shared;
mod stream;
mod waterfall;
mod worker;

pub use crate::builder::WaterfallBuilder;
pub use crate::error::{BuildError, PutError, SubmitError, TryPutError};
pub use crate::event::WaterfallEvent;
pub use crate::output::{BatchFn, BatchOutput};
pub use crate::stream::{WaterfallExt, WaterfallStream};
pub use crate::waterfall::{Close, Put, Submit, Waterfall};
pub use crate::worker::WaterfallWorker;
