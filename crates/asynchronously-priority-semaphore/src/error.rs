/// Why an acquire future completed without permits.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::priority_semaphore::{AcquireError, Priority, PrioritySemaphore};
///
/// let semaphore = PrioritySemaphore::new(2);
/// let error = semaphore.acquire_many(3, Priority::NORMAL).await.unwrap_err();
/// assert_eq!(error, AcquireError::TooLarge { requested: 3, total: 2 });
/// semaphore.close();
/// assert_eq!(semaphore.acquire(Priority::NORMAL).await.unwrap_err(), AcquireError::Closed);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// [`close`](crate::PrioritySemaphore::close) was called before permits were handed over.
    #[error("acquiring from a closed semaphore; permits are no longer handed out after `close()`")]
    Closed,
    /// More permits were requested than the semaphore holds in total (and the total is not
    /// zero), so the request could never be served and would block every waiter behind it.
    #[error(
        "requested {requested} permits but the semaphore holds only {total} in total; \
         request at most the total, or `add_permits` first"
    )]
    TooLarge {
        /// Permits requested.
        requested: usize,
        /// Permits the semaphore held in total when the request was rejected.
        total: usize,
    },
}

/// Why a `try_acquire*` call returned no permit.
///
/// # Examples
///
/// ```
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, TryAcquireError};
///
/// let semaphore = PrioritySemaphore::new(1);
/// let _permit = semaphore.try_acquire(Priority::NORMAL)?;
/// assert_eq!(semaphore.try_acquire(Priority::NORMAL).unwrap_err(), TryAcquireError::NoPermits);
/// # Ok::<(), TryAcquireError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not enough permits are free now, or waiters ahead of this priority are queued.
    #[error(
        "no permits available now without overtaking queued waiters; try later or `acquire` to wait"
    )]
    NoPermits,
    /// The semaphore was closed.
    #[error("acquiring from a closed semaphore; permits are no longer handed out after `close()`")]
    Closed,
    /// More permits were requested than the semaphore holds in total.
    #[error(
        "requested {requested} permits but the semaphore holds only {total} in total; \
         request at most the total, or `add_permits` first"
    )]
    TooLarge {
        /// Permits requested.
        requested: usize,
        /// Permits the semaphore held in total.
        total: usize,
    },
}

/// Why [`add_permits`](crate::PrioritySemaphore::add_permits) added nothing.
///
/// # Examples
///
/// ```
/// use asynchronously::priority_semaphore::{AddPermitsError, PrioritySemaphore};
///
/// let semaphore = PrioritySemaphore::new(PrioritySemaphore::MAX_PERMITS);
/// assert!(matches!(semaphore.add_permits(1), Err(AddPermitsError::TooMany { .. })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddPermitsError {
    /// The total would exceed [`PrioritySemaphore::MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS).
    #[error(
        "adding {added} permits to a total of {total} would exceed the maximum of {max}; \
         add fewer permits"
    )]
    TooMany {
        /// Permits that were to be added.
        added: usize,
        /// Total permits before the call.
        total: usize,
        /// The maximum total.
        max: usize,
    },
}

/// Why [`set_total`](crate::PrioritySemaphore::set_total) changed nothing.
///
/// # Examples
///
/// ```
/// use asynchronously::priority_semaphore::{PrioritySemaphore, SetTotalError};
///
/// let semaphore = PrioritySemaphore::new(1);
/// let error = semaphore.set_total(usize::MAX).unwrap_err();
/// assert!(matches!(error, SetTotalError::TooMany { requested: usize::MAX, .. }));
/// assert_eq!(semaphore.total_permits(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetTotalError {
    /// The total would exceed [`PrioritySemaphore::MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS).
    #[error("a total of {requested} permits exceeds the maximum of {max}; set a smaller total")]
    TooMany {
        /// The total asked for.
        requested: usize,
        /// The maximum total.
        max: usize,
    },
}

/// Why a [`Builder`](crate::Builder) could not build a semaphore.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::priority_semaphore::{BuildError, PrioritySemaphore};
///
/// let error = PrioritySemaphore::builder(1).aging(Duration::ZERO, 5).build().unwrap_err();
/// assert_eq!(error, BuildError::ZeroAgingInterval);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// More initial permits than [`PrioritySemaphore::MAX_PERMITS`](crate::PrioritySemaphore::MAX_PERMITS).
    #[error("{permits} initial permits exceed the maximum of {max}; use fewer permits")]
    TooManyPermits {
        /// Permits asked for.
        permits: usize,
        /// The maximum.
        max: usize,
    },
    /// An aging interval of zero would boost every waiter to the top at once.
    #[error(
        "aging interval must be greater than zero; use `Duration::MAX` to never boost, \
         or leave aging off"
    )]
    ZeroAgingInterval,
}
