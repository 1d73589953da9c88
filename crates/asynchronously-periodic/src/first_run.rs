use std::time::Instant;

/// When the first run of a periodic job (or the first tick of [`Ticks`](crate::Ticks)) happens.
///
/// "Start" is the first poll of the [`PeriodicWorker`](crate::PeriodicWorker) (or of the
/// [`Ticks`](crate::Ticks) stream).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::{FirstRun, Periodic};
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let mut ticks = Periodic::builder(Duration::from_secs(1))
///     .first_run(FirstRun::Immediately)
///     .with_clock(clock.clone())
///     .ticks()?;
/// let tick = futures::StreamExt::next(&mut ticks).await.expect("ticks never end");
/// assert_eq!(tick.scheduled(), clock.now(), "the first tick does not wait");
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FirstRun {
    /// One period after start (the default, as the seed's `Periodic`).
    #[default]
    AfterPeriod,
    /// At start, without waiting (as aiotools' `create_timer`).
    Immediately,
    /// At the given instant of the clock. An instant already past at start runs at once,
    /// and the worker reports it with [`PeriodicEvent::FirstRunLate`](crate::PeriodicEvent::FirstRunLate).
    At(Instant),
}
