use std::fmt;
use std::sync::Arc;

/// Returned by [`WaterfallBuilder::build`](crate::WaterfallBuilder::build) and
/// [`WaterfallExt::waterfall`](crate::WaterfallExt::waterfall) when a limit would make
/// batching impossible.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::waterfall::{BuildError, Waterfall};
///
/// let built = Waterfall::<u32>::builder(0, Duration::from_millis(10)).build(|_batch| async {});
/// assert_eq!(built.err(), Some(BuildError::ZeroMaxItems));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A batch of at most zero items could never be dispatched.
    #[error("max_items must be at least 1, got 0; use 1 to send every item on its own")]
    ZeroMaxItems,
    /// A zero wait would dispatch every item alone, which is `max_items(1)`.
    #[error(
        "max_wait must be greater than zero, got 0; use max_items 1 to send every item at once, \
         or Duration::MAX to batch by count, weight and flush only"
    )]
    ZeroMaxWait,
    /// No item fits in a batch whose weight limit is zero.
    #[error("max_weight must be at least 1, got 0; every item must fit in a batch")]
    ZeroMaxWeight,
    /// No batch could ever run.
    #[error("max_in_flight must be at least 1, got 0; use 1 to run one batch at a time")]
    ZeroMaxInFlight,
    /// No item could ever be queued.
    #[error("queue_capacity must be at least 1, got 0; it bounds the items waiting for a batch")]
    ZeroQueueCapacity,
}

/// Why [`Waterfall::put`](crate::Waterfall::put) did not queue an item; the item is handed
/// back.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::waterfall::{PutError, Waterfall};
///
/// let (waterfall, _worker) =
///     Waterfall::builder(10, Duration::from_millis(5)).build(|_batch: Vec<u32>| async {})?;
/// let _closing = waterfall.close();
/// let Err(PutError::Closed(item)) = waterfall.put(7).await else { panic!("closed") };
/// assert_eq!(item, 7);
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutError<T> {
    /// The waterfall was closed (or its worker dropped) before the item was queued.
    #[error(
        "putting into a closed waterfall; items are accepted only until close() or the worker is dropped"
    )]
    Closed(T),
    /// The item alone weighs more than a batch may.
    #[error(
        "item weighs {weight}, more than the max_weight of {max_weight} a batch may hold; \
         split it or raise max_weight"
    )]
    TooHeavy {
        /// The item, handed back.
        item: T,
        /// Its weight, from the weigher.
        weight: usize,
        /// The configured limit.
        max_weight: usize,
    },
}

/// Why [`Waterfall::try_put`](crate::Waterfall::try_put) or
/// [`Waterfall::try_submit`](crate::Waterfall::try_submit) did not queue an item; the item is
/// handed back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::waterfall::{TryPutError, Waterfall};
///
/// let (waterfall, _worker) = Waterfall::builder(10, Duration::from_millis(5))
///     .queue_capacity(1)
///     .build(|_batch: Vec<u32>| async {})?;
/// waterfall.try_put(1)?;
/// assert!(matches!(waterfall.try_put(2), Err(TryPutError::Full(2))));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryPutError<T> {
    /// The queue holds `queue_capacity` items; `put` or `submit` would wait for room.
    #[error(
        "the waterfall's queue is full; wait for room with put() or submit(), or raise queue_capacity"
    )]
    Full(T),
    /// The waterfall was closed (or its worker dropped).
    #[error(
        "putting into a closed waterfall; items are accepted only until close() or the worker is dropped"
    )]
    Closed(T),
    /// The item alone weighs more than a batch may.
    #[error(
        "item weighs {weight}, more than the max_weight of {max_weight} a batch may hold; \
         split it or raise max_weight"
    )]
    TooHeavy {
        /// The item, handed back.
        item: T,
        /// Its weight, from the weigher.
        weight: usize,
        /// The configured limit.
        max_weight: usize,
    },
}

/// Why [`Waterfall::submit`](crate::Waterfall::submit) returned no result for its item.
///
/// A batch-level error is shared by every submitter of the batch as an [`Arc`], so `E` need
/// not be `Clone`. Items that never reached a batch are handed back.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::waterfall::{SubmitError, Waterfall};
///
/// let (waterfall, worker) = Waterfall::builder(2, Duration::MAX)
///     .build(|_batch: Vec<u32>| async { Err::<Vec<u32>, _>("backend down") })?;
/// let ((a, b), ()) = futures::join!(
///     async {
///         let results = futures::join!(waterfall.submit(1), waterfall.submit(2));
///         waterfall.close().await;
///         results
///     },
///     worker,
/// );
/// let Err(SubmitError::Failed(error)) = a else { panic!("the batch failed") };
/// assert_eq!(*error, "backend down");
/// assert!(matches!(b, Err(SubmitError::Failed(_))), "every submitter sees the batch error");
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// # }).unwrap();
/// ```
#[non_exhaustive]
pub enum SubmitError<T, E> {
    /// The waterfall was closed (or its worker dropped) before the item was queued.
    Closed(T),
    /// The item alone weighs more than a batch may.
    TooHeavy {
        /// The item, handed back.
        item: T,
        /// Its weight, from the weigher.
        weight: usize,
        /// The configured limit.
        max_weight: usize,
    },
    /// The batch function returned an error for the whole batch.
    Failed(Arc<E>),
    /// The batch function panicked; the panic was caught and reported to the worker's hook.
    Panicked,
    /// The batch was cancelled while running: the finalize deadline passed, or the worker was
    /// dropped.
    Cancelled,
    /// The item was queued but never sent: the finalize deadline passed, or the worker was
    /// dropped, before its batch started. The item is handed back.
    Unsent(T),
    /// The batch function returned fewer results than the batch had items.
    NoResult,
}

impl<T> PutError<T> {
    /// The item, handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::waterfall::PutError;
    ///
    /// assert_eq!(PutError::Closed("job").into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Closed(item) | PutError::TooHeavy { item, .. } => item,
        }
    }
}

impl<T> TryPutError<T> {
    /// The item, handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::waterfall::TryPutError;
    ///
    /// assert_eq!(TryPutError::Full("job").into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item)
            | TryPutError::Closed(item)
            | TryPutError::TooHeavy { item, .. } => item,
        }
    }

    /// Whether the queue was full (as opposed to closed or the item too heavy).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::waterfall::TryPutError;
    ///
    /// assert!(TryPutError::Full(1).is_full());
    /// assert!(!TryPutError::Closed(1).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }
}

impl<T> From<PutError<T>> for TryPutError<T> {
    fn from(error: PutError<T>) -> Self {
        match error {
            PutError::Closed(item) => TryPutError::Closed(item),
            PutError::TooHeavy { item, weight, max_weight } => {
                TryPutError::TooHeavy { item, weight, max_weight }
            }
        }
    }
}

impl<T, E> SubmitError<T, E> {
    /// The item, if it never reached a batch ([`Closed`](Self::Closed),
    /// [`TooHeavy`](Self::TooHeavy), [`Unsent`](Self::Unsent)).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::waterfall::SubmitError;
    ///
    /// assert_eq!(SubmitError::<_, ()>::Unsent("job").into_item(), Some("job"));
    /// assert_eq!(SubmitError::<&str, ()>::Cancelled.into_item(), None);
    /// ```
    pub fn into_item(self) -> Option<T> {
        match self {
            SubmitError::Closed(item)
            | SubmitError::TooHeavy { item, .. }
            | SubmitError::Unsent(item) => Some(item),
            _ => None,
        }
    }
}

impl<T, E: fmt::Display> fmt::Display for SubmitError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Closed(_) => f.write_str(
                "submitting to a closed waterfall; items are accepted only until close() or the worker is dropped",
            ),
            SubmitError::TooHeavy { weight, max_weight, .. } => write!(
                f,
                "item weighs {weight}, more than the max_weight of {max_weight} a batch may hold; \
                 split it or raise max_weight"
            ),
            SubmitError::Failed(error) => write!(f, "the item's batch failed: {error}"),
            SubmitError::Panicked => f.write_str(
                "the item's batch function panicked; the panic was reported to the worker's hook",
            ),
            SubmitError::Cancelled => f.write_str(
                "the item's batch was cancelled: the finalize deadline passed or the worker was dropped",
            ),
            SubmitError::Unsent(_) => f.write_str(
                "the item was never sent: the finalize deadline passed or the worker was dropped \
                 before its batch started; the item is handed back",
            ),
            SubmitError::NoResult => f.write_str(
                "the batch function returned fewer results than the batch had items; \
                 return one result per item, in order",
            ),
        }
    }
}

impl<T, E: fmt::Debug> fmt::Debug for SubmitError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Closed(_) => f.write_str("Closed(..)"),
            SubmitError::TooHeavy { weight, max_weight, .. } => f
                .debug_struct("TooHeavy")
                .field("weight", weight)
                .field("max_weight", max_weight)
                .finish_non_exhaustive(),
            SubmitError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            SubmitError::Panicked => f.write_str("Panicked"),
            SubmitError::Cancelled => f.write_str("Cancelled"),
            SubmitError::Unsent(_) => f.write_str("Unsent(..)"),
            SubmitError::NoResult => f.write_str("NoResult"),
        }
    }
}

impl<T, E> std::error::Error for SubmitError<T, E>
where
    E: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SubmitError::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}

/// The item is not shown: it need not be `Debug`.
impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::TooHeavy { weight, max_weight, .. } => f
                .debug_struct("TooHeavy")
                .field("weight", weight)
                .field("max_weight", max_weight)
                .finish_non_exhaustive(),
        }
    }
}

/// The item is not shown: it need not be `Debug`.
impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
            TryPutError::TooHeavy { weight, max_weight, .. } => f
                .debug_struct("TooHeavy")
                .field("weight", weight)
                .field("max_weight", max_weight)
                .finish_non_exhaustive(),
        }
    }
}
