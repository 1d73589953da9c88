/// How the next run is placed in time after a run starts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Cadence, Periodic};
///
/// // Keep to 00:00, 00:10, 00:20, … however long each run takes.
/// let builder = Periodic::builder(Duration::from_secs(10)).cadence(Cadence::Grid);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cadence {
    /// Sleep one period after each run finishes (the default, as the seed's `Periodic`).
    ///
    /// Runs never overlap, and there are no missed ticks: a slow run only pushes the
    /// following ones later.
    #[default]
    AfterJob,
    /// Keep to the period grid `start + k × period`, whatever the runs take (the seed's
    /// `decrease_sleep_time_by_evaluation_time`, tokio's `Interval`). A run longer than the
    /// period starts the next run at once; ticks that fall due while the job cannot start are
    /// handled by the [`MissedTicks`](crate::MissedTicks) policy. Instants are computed by
    /// adding whole periods to the grid, so the schedule does not drift.
    Grid,
}
