//! A fair priority semaphore: lower priority values are served first, FIFO among equals, on any runtime.
//!
//! [`PrioritySemaphore`] limits how many tasks use a resource at once. When permits run out,
//! waiters queue by [`Priority`] — a lower value is served first, like Unix `nice` — and in
//! arrival order among equal priorities. Released permits go straight to the waiter at the
//! head of the queue; newcomers never barge past it.
//!
//! # Examples
//!
//! ```
//! # futures::executor::block_on(async {
//! use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, with_priority};
//!
//! let semaphore = PrioritySemaphore::new(2);
//!
//! // An explicit priority per acquire…
//! let permit = semaphore.acquire(Priority::HIGH).await?;
//! // …or the ambient priority of a `with_priority` scope.
//! let background = with_priority(Priority::LOW, async {
//!     semaphore.acquire_ambient().await
//! })
//! .await?;
//! assert_eq!(background.priority(), Priority::LOW);
//! assert_eq!(semaphore.available_permits(), 0);
//!
//! drop((permit, background));
//! assert_eq!(semaphore.available_permits(), 2);
//! # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
//! # }).unwrap();
//! ```
//!
//! # Concepts
//!
//! **Priority.** [`Priority`] wraps an `i32`; named constants ([`Priority::HIGH`],
//! [`Priority::NORMAL`], [`Priority::LOW`], …) keep call sites readable.
//!
//! **Ambient priority.** [`with_priority`] wraps a future and sets the priority used by
//! [`acquire_ambient`](PrioritySemaphore::acquire_ambient) inside it (through a thread-local
//! set during each poll, so it works on every runtime). Outside any scope it is
//! [`Priority::NORMAL`].
//!
//! **Permits.** [`acquire`](PrioritySemaphore::acquire) and friends return a [`Permit`]
//! borrowing the semaphore; the `_owned` variants take an `Arc` and return an
//! [`OwnedPermit`]. Dropping a permit returns it; [`Permit::forget`] destroys it;
//! [`add_permits`](PrioritySemaphore::add_permits) creates new ones;
//! [`set_total`](PrioritySemaphore::set_total) resizes the total while permits are out,
//! retiring the excess as they come back;
//! [`close`](PrioritySemaphore::close) fails every waiter with [`AcquireError::Closed`].
//!
//! **Fairness and the head-of-line rule.** A multi-permit request at the head of the queue
//! waits for enough permits and blocks the smaller requests behind it, so it is never starved
//! by them; a request larger than the (non-zero) total fails at once with
//! [`AcquireError::TooLarge`], so it can never idle the semaphore forever. See [`PrioritySemaphore`'s fairness
//! notes](PrioritySemaphore#fairness).
//!
//! **Aging.** Optionally ([`Builder::aging`]), a waiter's effective priority improves by one
//! step per interval waited, up to a bound, measured on a
//! [`Clock`](asynchronously_time::Clock) — a [`VirtualClock`](asynchronously_time::VirtualClock)
//! in tests.
//!
//! # When not to use this crate
//!
//! If every waiter has the same priority, tokio's `Semaphore` (or `async-lock`'s, if fairness
//! does not matter) is the smaller dependency. If you need a queue of *work items* by
//! priority rather than access control, use a priority channel or a `BinaryHeap` behind a
//! lock.
//!
//! # Cancel safety
//!
//! Every future here is cancel safe: dropping an [`Acquire`] or [`AcquireOwned`] at any point
//! removes its waiter, and if permits had already been handed to it they pass on to the next
//! waiter. No permit is ever lost or leaked.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod acquire;
mod builder;
mod error;
mod permit;
mod priority;
mod semaphore;
mod sync;
mod with_priority;

pub use crate::acquire::{Acquire, AcquireOwned};
pub use crate::builder::Builder;
pub use crate::error::{AcquireError, AddPermitsError, BuildError, SetTotalError, TryAcquireError};
pub use crate::permit::{OwnedPermit, Permit};
pub use crate::priority::Priority;
pub use crate::semaphore::PrioritySemaphore;
pub use crate::with_priority::{WithPriority, with_priority};
