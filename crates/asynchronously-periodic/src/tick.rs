use std::time::{Duration, Instant};

/// What a run (or an item of [`Ticks`](crate::Ticks)) knows about its place in the schedule.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::Periodic;
/// use asynchronously::time::{Clock, VirtualClock};
/// use futures::StreamExt;
///
/// let clock = VirtualClock::new();
/// let start = clock.now();
/// let mut ticks = Periodic::builder(Duration::from_secs(1)).with_clock(clock.clone()).ticks()?;
/// let (tick, ()) = futures::join!(ticks.next(), clock.run_for(Duration::from_secs(1)));
/// let tick = tick.expect("ticks never end");
/// assert_eq!(tick.scheduled() - start, Duration::from_secs(1));
/// assert_eq!(tick.lag(), Duration::ZERO);
/// assert_eq!((tick.number(), tick.missed()), (1, 0));
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tick {
    pub(crate) scheduled: Instant,
    pub(crate) actual: Instant,
    pub(crate) missed: u64,
    pub(crate) number: u64,
    pub(crate) manual: bool,
}

impl Tick {
    /// The instant this run was scheduled for: a grid instant with
    /// [`Cadence::Grid`](crate::Cadence::Grid), the end of the previous run plus one period
    /// with [`Cadence::AfterJob`](crate::Cadence::AfterJob), or the instant
    /// [`run_now`](crate::Periodic::run_now) was acted on. Jitter is not included.
    pub fn scheduled(&self) -> Instant {
        self.scheduled
    }

    /// The instant the run actually started (the clock's `now()`).
    pub fn actual(&self) -> Instant {
        self.actual
    }

    /// How late the run started: `actual - scheduled` (jitter included).
    pub fn lag(&self) -> Duration {
        self.actual.saturating_duration_since(self.scheduled)
    }

    /// How many grid instants were skipped just before this one by the
    /// [`MissedTicks`](crate::MissedTicks) policy.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The run number, from 1: scheduled runs and [`run_now`](crate::Periodic::run_now)
    /// runs share the count. For [`Ticks`](crate::Ticks), the tick number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Whether this run was requested with [`run_now`](crate::Periodic::run_now) rather than
    /// scheduled.
    pub fn is_run_now(&self) -> bool {
        self.manual
    }
}
