/// What a [`Cadence::Grid`](crate::Cadence::Grid) schedule does with grid instants that
/// passed while no run could start (a slow job, a busy executor, a sleeping laptop).
///
/// Say the period is 100 ms and the worker comes back at 450 ms, after the ticks of 200, 300
/// and 400 ms fell due:
///
/// | policy | runs at 450 ms (scheduled instant) | next run |
/// |---|---|---|
/// | `Skip` (default) | 400 (2 missed) | 500 |
/// | `Burst(2)` | 300 (1 missed), then 400 | 500 |
/// | `Burst(3)` or more | 200, 300, 400 | 500 |
/// | `Delay` | 400 (2 missed) | 550: the grid moves to the late run |
///
/// The number of skipped instants reaches the job as [`Tick::missed`](crate::Tick::missed).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Cadence, MissedTicks, Periodic};
///
/// let builder = Periodic::builder(Duration::from_secs(1))
///     .cadence(Cadence::Grid)
///     .missed_ticks(MissedTicks::Burst(5));
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissedTicks {
    /// Run once for the latest due instant, skip the older ones, stay on the grid.
    #[default]
    Skip,
    /// Catch up by running the most recent due instants back to back, at most this many
    /// (at least 1; `Burst(1)` is `Skip`); older ones are skipped. Stays on the grid.
    Burst(u32),
    /// Run once for the latest due instant, then restart the grid from that late run.
    Delay,
}
