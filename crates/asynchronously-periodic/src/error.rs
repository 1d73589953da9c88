use std::fmt;
use std::time::Duration;

use crate::{Cadence, MissedTicks, Overlap};

/// Returned when a schedule's configuration cannot be honoured, by
/// [`PeriodicBuilder::build`](crate::PeriodicBuilder::build),
/// [`PeriodicBuilder::ticks`](crate::PeriodicBuilder::ticks) and the commands of
/// [`Periodic`](crate::Periodic) ([`set_period`](crate::Periodic::set_period),
/// [`pause`](crate::Periodic::pause), [`resume`](crate::Periodic::resume),
/// [`run_now`](crate::Periodic::run_now)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Periodic, ScheduleError};
///
/// let error = Periodic::builder(Duration::ZERO).ticks().unwrap_err();
/// assert_eq!(error, ScheduleError::ZeroPeriod);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A zero period would run the job in a busy loop.
    #[error(
        "the period must be longer than zero, got 0; use a positive period, or Duration::MAX for never"
    )]
    ZeroPeriod,
    /// `Overlap::UpTo(0)` would never let a run start.
    #[error(
        "Overlap::UpTo needs a limit of at least 1, got 0; use Overlap::Never for one run at a time"
    )]
    ZeroOverlapLimit,
    /// `MissedTicks::Burst(0)` would never run a due tick.
    #[error(
        "MissedTicks::Burst needs a limit of at least 1, got 0; use MissedTicks::Skip to run only the latest"
    )]
    ZeroBurst,
    /// The option only has a meaning on the grid, and the cadence is
    /// [`Cadence::AfterJob`](crate::Cadence::AfterJob).
    #[error(
        "{option} needs Cadence::Grid: with Cadence::AfterJob the next tick is scheduled only after the previous run finished; set .cadence(Cadence::Grid)"
    )]
    NeedsGrid {
        /// The option that was set, e.g. `Overlap::CancelPrevious`.
        option: GridOption,
    },
    /// A jitter of at least the period would delay a tick past the next one, so ticks would
    /// be skipped.
    #[error(
        "the jitter must be shorter than the period, got jitter {jitter:?} with period {period:?}; lower the jitter or lengthen the period"
    )]
    JitterNotBelowPeriod {
        /// The jitter set with [`PeriodicBuilder::jitter`](crate::PeriodicBuilder::jitter).
        jitter: Duration,
        /// The period it was checked against.
        period: Duration,
    },
    /// The schedule was stopped (by a stop, by dropping every handle, or by dropping the
    /// worker), so the command has no effect.
    #[error(
        "the periodic job is stopped, so the command has no effect; build a new schedule to run the job again"
    )]
    Stopped,
}

/// An option of [`ScheduleError::NeedsGrid`]: one that only has a meaning on the grid.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{GridOption, Overlap, Periodic, ScheduleError};
///
/// let error = Periodic::builder(Duration::from_secs(1))
///     .overlap(Overlap::CancelPrevious)
///     .build(|_tick| async {})
///     .unwrap_err();
/// assert_eq!(error, ScheduleError::NeedsGrid { option: GridOption::Overlap(Overlap::CancelPrevious) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GridOption {
    /// An overlap policy other than [`Overlap::Never`].
    Overlap(Overlap),
    /// A missed-tick policy other than [`MissedTicks::Skip`].
    MissedTicks(MissedTicks),
}

impl fmt::Display for GridOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GridOption::Overlap(overlap) => write!(f, "Overlap::{overlap:?}"),
            GridOption::MissedTicks(missed) => write!(f, "MissedTicks::{missed:?}"),
        }
    }
}

/// Checks a schedule's configuration; shared by the builder and `set_period`.
pub(crate) fn validate(
    period: Duration,
    jitter: Duration,
    cadence: Cadence,
    missed: MissedTicks,
    overlap: Overlap,
) -> Result<(), ScheduleError> {
    if period.is_zero() {
        return Err(ScheduleError::ZeroPeriod);
    }
    if !jitter.is_zero() && jitter >= period {
        return Err(ScheduleError::JitterNotBelowPeriod { jitter, period });
    }
    if overlap == Overlap::UpTo(0) {
        return Err(ScheduleError::ZeroOverlapLimit);
    }
    if missed == MissedTicks::Burst(0) {
        return Err(ScheduleError::ZeroBurst);
    }
    if cadence == Cadence::AfterJob {
        if !matches!(overlap, Overlap::Never | Overlap::UpTo(1)) {
            return Err(ScheduleError::NeedsGrid { option: GridOption::Overlap(overlap) });
        }
        if !matches!(missed, MissedTicks::Skip | MissedTicks::Burst(1)) {
            return Err(ScheduleError::NeedsGrid { option: GridOption::MissedTicks(missed) });
        }
    }
    Ok(())
}

/// Returned by [`Scheduler::insert_at`](crate::Scheduler::insert_at) and
/// [`Scheduler::insert_after`](crate::Scheduler::insert_after) once the scheduler is closed;
/// it gives the payload back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::Scheduler;
///
/// let (scheduler, _deliveries) = Scheduler::new();
/// scheduler.close();
/// let error = scheduler.insert_after(Duration::from_secs(1), "late").unwrap_err();
/// assert_eq!(error.into_inner(), "late");
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot schedule a payload: the scheduler is closed; the payload is returned in this error"
)]
pub struct InsertError<T>(pub(crate) T);

impl<T> InsertError<T> {
    /// Returns the payload that could not be scheduled.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError").finish_non_exhaustive()
    }
}
