/// Whether a run may start while earlier runs are still running.
///
/// Only meaningful with [`Cadence::Grid`](crate::Cadence::Grid) (with
/// [`Cadence::AfterJob`](crate::Cadence::AfterJob) the next tick is scheduled only after the
/// previous run finished, so anything but `Never` is rejected by the builder).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Cadence, Overlap, Periodic};
///
/// // A poll that must not pile up: a new tick replaces a run that is still stuck.
/// let builder = Periodic::builder(Duration::from_secs(1))
///     .cadence(Cadence::Grid)
///     .overlap(Overlap::CancelPrevious);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overlap {
    /// A due tick waits for the running run to finish (the default).
    #[default]
    Never,
    /// Up to this many runs at once (at least 1; `UpTo(1)` is `Never`). A tick due while
    /// all are busy waits for one to finish.
    UpTo(usize),
    /// A due tick cancels (drops) the runs still running, then starts (aiotools'
    /// `TimerDelayPolicy.CANCEL`). Each cancellation is reported as
    /// [`PeriodicEvent::Cancelled`](crate::PeriodicEvent::Cancelled).
    CancelPrevious,
}
