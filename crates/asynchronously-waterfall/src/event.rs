use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Something a [`WaterfallWorker`](crate::WaterfallWorker) reports to its hook
/// ([`WaterfallWorker::on_event`](crate::WaterfallWorker::on_event)).
///
/// A failed, panicked or cancelled batch counts as done: its items are not retried. The
/// [`Display`](fmt::Display) form is a log line.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use asynchronously::waterfall::WaterfallEvent;
///
/// let event = WaterfallEvent::<u32, _>::Failed { batch: 3, items: 5, error: Arc::new("disk full") };
/// assert_eq!(event.to_string(), "waterfall batch 3 (5 items) failed: disk full");
/// let unsent = WaterfallEvent::<u32, &str>::Unsent { items: vec![7, 8] };
/// assert_eq!(unsent.to_string(), "waterfall: 2 queued items were never sent");
/// ```
#[non_exhaustive]
pub enum WaterfallEvent<T, E> {
    /// The batch function returned an error for the whole batch; every submitter of the
    /// batch received it too, as [`SubmitError::Failed`](crate::SubmitError::Failed).
    Failed {
        /// The batch number, from 1, in dispatch order.
        batch: u64,
        /// How many items the batch held.
        items: usize,
        /// The batch function's error.
        error: Arc<E>,
    },
    /// The batch function panicked (when called or while running); the panic was caught.
    Panicked {
        /// The batch number.
        batch: u64,
        /// How many items the batch held.
        items: usize,
        /// The panic payload, as from [`std::panic::catch_unwind`].
        payload: Box<dyn Any + Send>,
    },
    /// The batch was still running when the finalize deadline passed (or the worker was
    /// dropped), and was dropped.
    Cancelled {
        /// The batch number.
        batch: u64,
        /// How many items the batch held.
        items: usize,
    },
    /// The batch function returned fewer results than the batch had items; the submitters
    /// left without one received [`SubmitError::NoResult`](crate::SubmitError::NoResult).
    MissingResults {
        /// The batch number.
        batch: u64,
        /// How many items the batch held.
        items: usize,
        /// How many results it returned.
        results: usize,
    },
    /// Items queued with [`put`](crate::Waterfall::put) that never reached a batch: the
    /// finalize deadline passed, or the worker was dropped, first. They are handed over
    /// here, in queue order. (Submitted items go back to their submitters instead, as
    /// [`SubmitError::Unsent`](crate::SubmitError::Unsent).)
    Unsent {
        /// The items, in the order they were put.
        items: Vec<T>,
    },
}

impl<T, E: fmt::Display> fmt::Display for WaterfallEvent<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaterfallEvent::Failed { batch, items, error } => {
                write!(f, "waterfall batch {batch} ({items} items) failed: {error}")
            }
            WaterfallEvent::Panicked { batch, items, payload } => {
                let message = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
                match message {
                    Some(message) => {
                        write!(f, "waterfall batch {batch} ({items} items) panicked: {message}")
                    }
                    None => write!(f, "waterfall batch {batch} ({items} items) panicked"),
                }
            }
            WaterfallEvent::Cancelled { batch, items } => {
                write!(f, "waterfall batch {batch} ({items} items) was cancelled while running")
            }
            WaterfallEvent::MissingResults { batch, items, results } => write!(
                f,
                "waterfall batch {batch} returned {results} results for {items} items; \
                 the rest got no result"
            ),
            WaterfallEvent::Unsent { items } => {
                write!(f, "waterfall: {} queued items were never sent", items.len())
            }
        }
    }
}

impl<T, E: fmt::Debug> fmt::Debug for WaterfallEvent<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaterfallEvent::Failed { batch, items, error } => f
                .debug_struct("Failed")
                .field("batch", batch)
                .field("items", items)
                .field("error", error)
                .finish(),
            WaterfallEvent::Panicked { batch, items, .. } => f
                .debug_struct("Panicked")
                .field("batch", batch)
                .field("items", items)
                .finish_non_exhaustive(),
            WaterfallEvent::Cancelled { batch, items } => {
                f.debug_struct("Cancelled").field("batch", batch).field("items", items).finish()
            }
            WaterfallEvent::MissingResults { batch, items, results } => f
                .debug_struct("MissingResults")
                .field("batch", batch)
                .field("items", items)
                .field("results", results)
                .finish(),
            WaterfallEvent::Unsent { items } => {
                f.debug_struct("Unsent").field("items", &items.len()).finish_non_exhaustive()
            }
        }
    }
}
