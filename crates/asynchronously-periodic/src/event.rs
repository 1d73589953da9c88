use std::any::Any;
use std::fmt;
use std::time::Duration;

/// Something a [`PeriodicWorker`](crate::PeriodicWorker) reports to its hook
/// ([`PeriodicWorker::on_event`](crate::PeriodicWorker::on_event)).
///
/// Failures and panics of the job are reported here and the schedule goes on. The
/// [`Display`](fmt::Display) form is a log line.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::PeriodicEvent;
///
/// let event = PeriodicEvent::Failed { run: 3, error: "disk full" };
/// assert_eq!(event.to_string(), "periodic job run 3 failed: disk full");
/// let late = PeriodicEvent::<&str>::FirstRunLate { by: Duration::from_secs(2) };
/// assert_eq!(late.to_string(), "periodic job: the first run was due 2s before start; running it now");
/// ```
#[non_exhaustive]
pub enum PeriodicEvent<E> {
    /// The run returned an error.
    Failed {
        /// The run number (see [`Tick::number`](crate::Tick::number)).
        run: u64,
        /// The job's error.
        error: E,
    },
    /// The run panicked; the panic was caught.
    Panicked {
        /// The run number.
        run: u64,
        /// The panic payload, as from [`std::panic::catch_unwind`].
        payload: Box<dyn Any + Send>,
    },
    /// The run exceeded the per-run timeout and was dropped.
    TimedOut {
        /// The run number.
        run: u64,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The run was dropped before finishing, by a newer run
    /// ([`Overlap::CancelPrevious`](crate::Overlap::CancelPrevious)) or by a stop whose grace
    /// period ran out.
    Cancelled {
        /// The run number.
        run: u64,
        /// Why it was cancelled.
        reason: CancelReason,
    },
    /// The [`FirstRun::At`](crate::FirstRun::At) instant had already passed at start; the
    /// first run starts at once.
    FirstRunLate {
        /// How long before start the first run was due.
        by: Duration,
    },
}

/// Why a run was cancelled; part of [`PeriodicEvent::Cancelled`].
///
/// # Examples
///
/// ```
/// use asynchronously::periodic::CancelReason;
///
/// assert_eq!(CancelReason::Stopped.to_string(), "stopped");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// A newer run started under [`Overlap::CancelPrevious`](crate::Overlap::CancelPrevious).
    Superseded,
    /// The periodic was stopped and its grace period ran out.
    Stopped,
}

impl<E: fmt::Debug> fmt::Debug for PeriodicEvent<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodicEvent::Failed { run, error } => {
                f.debug_struct("Failed").field("run", run).field("error", error).finish()
            }
            PeriodicEvent::Panicked { run, payload } => f
                .debug_struct("Panicked")
                .field("run", run)
                .field("message", &panic_message(payload.as_ref()))
                .finish(),
            PeriodicEvent::TimedOut { run, after } => {
                f.debug_struct("TimedOut").field("run", run).field("after", after).finish()
            }
            PeriodicEvent::Cancelled { run, reason } => {
                f.debug_struct("Cancelled").field("run", run).field("reason", reason).finish()
            }
            PeriodicEvent::FirstRunLate { by } => {
                f.debug_struct("FirstRunLate").field("by", by).finish()
            }
        }
    }
}

impl<E: fmt::Display> fmt::Display for PeriodicEvent<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodicEvent::Failed { run, error } => {
                write!(f, "periodic job run {run} failed: {error}")
            }
            PeriodicEvent::Panicked { run, payload } => {
                write!(f, "periodic job run {run} panicked: {}", panic_message(payload.as_ref()))
            }
            PeriodicEvent::TimedOut { run, after } => {
                write!(f, "periodic job run {run} timed out after {after:?}")
            }
            PeriodicEvent::Cancelled { run, reason } => {
                write!(f, "periodic job run {run} cancelled: {reason}")
            }
            PeriodicEvent::FirstRunLate { by } => {
                write!(f, "periodic job: the first run was due {by:?} before start; running it now")
            }
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelReason::Superseded => "superseded by a newer run",
            CancelReason::Stopped => "stopped",
        })
    }
}

/// The message of a panic payload, when it is a string.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "<non-string panic payload>"
    }
}
