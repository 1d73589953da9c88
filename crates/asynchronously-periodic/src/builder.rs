use std::fmt;
use std::future::Future;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use crate::error::validate;
use crate::schedule::{Schedule, ScheduleConfig};
use crate::{
    Cadence, FirstRun, Job, JobOutput, MissedTicks, Overlap, Periodic, PeriodicWorker,
    ScheduleError, SyncJob, Tick, Ticks,
};

/// Configures a periodic schedule; made by [`Periodic::builder`].
///
/// Finish with [`build`](PeriodicBuilder::build) for a job runner (a [`Periodic`] handle and
/// the [`PeriodicWorker`] to spawn), or with [`ticks`](PeriodicBuilder::ticks) for a plain
/// stream of [`Tick`](crate::Tick)s on the same schedule.
///
/// Defaults: first run one period after start, [`Cadence::AfterJob`], [`MissedTicks::Skip`],
/// [`Overlap::Never`], no timeout, no jitter, [`RealClock`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Cadence, FirstRun, MissedTicks, Overlap, Periodic};
///
/// let (periodic, worker) = Periodic::builder(Duration::from_secs(10))
///     .first_run(FirstRun::Immediately)
///     .cadence(Cadence::Grid)
///     .missed_ticks(MissedTicks::Burst(3))
///     .overlap(Overlap::UpTo(2))
///     .timeout(Duration::from_secs(30))
///     .jitter(Duration::from_millis(250))
///     .build(|_tick| async { Ok::<(), std::io::Error>(()) })?;
/// # let _ = (periodic, worker);
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// ```
#[must_use = "a builder does nothing until `build` or `ticks` is called"]
pub struct PeriodicBuilder<C: Clock = RealClock> {
    config: ScheduleConfig,
    overlap: Overlap,
    timeout: Duration,
    clock: C,
}

impl PeriodicBuilder {
    pub(crate) fn new(period: Duration) -> Self {
        PeriodicBuilder {
            config: ScheduleConfig {
                period,
                first_run: FirstRun::AfterPeriod,
                cadence: Cadence::AfterJob,
                missed_ticks: MissedTicks::Skip,
                jitter: Duration::ZERO,
                seed: None,
            },
            overlap: Overlap::Never,
            timeout: Duration::MAX,
            clock: RealClock,
        }
    }
}

impl<C: Clock> PeriodicBuilder<C> {
    /// Measures time and sleeps on `clock` (a [`VirtualClock`](asynchronously_time::VirtualClock)
    /// in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let builder = Periodic::builder(Duration::from_secs(1)).with_clock(VirtualClock::new());
    /// # let _ = builder;
    /// ```
    pub fn with_clock<D: Clock>(self, clock: D) -> PeriodicBuilder<D> {
        PeriodicBuilder { config: self.config, overlap: self.overlap, timeout: self.timeout, clock }
    }

    /// When the first run happens; see [`FirstRun`].
    ///
    /// # Examples
    ///
    /// See [`FirstRun`].
    pub fn first_run(mut self, first_run: FirstRun) -> Self {
        self.config.first_run = first_run;
        self
    }

    /// How runs are placed in time; see [`Cadence`].
    ///
    /// # Examples
    ///
    /// See [`Cadence`].
    pub fn cadence(mut self, cadence: Cadence) -> Self {
        self.config.cadence = cadence;
        self
    }

    /// What happens to grid instants that passed while no run could start; see [`MissedTicks`].
    ///
    /// # Examples
    ///
    /// See [`MissedTicks`].
    pub fn missed_ticks(mut self, missed_ticks: MissedTicks) -> Self {
        self.config.missed_ticks = missed_ticks;
        self
    }

    /// Whether runs may overlap; see [`Overlap`].
    ///
    /// # Examples
    ///
    /// See [`Overlap`].
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// Cancels (drops) a run that takes longer than `timeout`, reporting
    /// [`PeriodicEvent::TimedOut`](crate::PeriodicEvent::TimedOut). `Duration::MAX` (the
    /// default) means no timeout. Not used by [`ticks`](PeriodicBuilder::ticks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    ///
    /// let builder = Periodic::builder(Duration::from_secs(60)).timeout(Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Delays each tick by a random amount in `[0, max]`, so that many schedules do not
    /// fire in lockstep. The grid is unaffected: jitter delays a tick, it never moves the
    /// next one, and it never counts as a missed tick. See
    /// [`jitter_seed`](PeriodicBuilder::jitter_seed) for reproducible delays.
    ///
    /// `max` must be shorter than the period (also after
    /// [`set_period`](crate::Periodic::set_period)): a longer jitter would delay a tick past
    /// the next one. [`build`](PeriodicBuilder::build) rejects it with
    /// [`ScheduleError::JitterNotBelowPeriod`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    ///
    /// let builder = Periodic::builder(Duration::from_secs(60)).jitter(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn jitter(mut self, max: Duration) -> Self {
        self.config.jitter = max;
        self
    }

    /// Seeds the jitter generator, so the delays are the same on every run of the program
    /// (by default the seed is random).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    ///
    /// let builder =
    ///     Periodic::builder(Duration::from_secs(60)).jitter(Duration::from_secs(5)).jitter_seed(7);
    /// # let _ = builder;
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Builds the job runner: a [`Periodic`] handle and the [`PeriodicWorker`] that runs `job`,
    /// an `FnMut(Tick) -> impl Future` whose output is `()` or `Result<(), E>`.
    ///
    /// Nothing runs until the worker is polled: spawn it on your runtime. The schedule starts
    /// at the worker's first poll.
    ///
    /// # Errors
    ///
    /// [`ScheduleError`] if the configuration cannot be honoured: a zero period, a jitter
    /// not shorter than the period, a zero overlap or burst limit, or a grid-only option with
    /// [`Cadence::AfterJob`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Periodic, ScheduleError};
    ///
    /// let built = Periodic::builder(Duration::ZERO).build(|_tick| async {});
    /// assert_eq!(built.unwrap_err(), ScheduleError::ZeroPeriod);
    /// ```
    pub fn build<F, Fut>(self, job: F) -> Result<(Periodic, PeriodicWorker<F, C>), ScheduleError>
    where
        F: FnMut(Tick) -> Fut,
        Fut: Future,
        Fut::Output: JobOutput,
    {
        self.build_job(job)
    }

    /// Builds the job runner for a synchronous job: an `FnMut(Tick)` returning `()` or
    /// `Result<(), E>`.
    ///
    /// The closure runs inside the worker's poll, so it should be quick: a blocking closure
    /// blocks the executor thread the worker runs on.
    ///
    /// # Errors
    ///
    /// As [`build`](PeriodicBuilder::build).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let runs = AtomicU32::new(0);
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(1))
    ///     .with_clock(clock.clone())
    ///     .build_sync(|_tick| {
    ///         runs.fetch_add(1, Ordering::Relaxed);
    ///     })?;
    /// futures::join!(worker, async {
    ///     clock.run_for(Duration::from_secs(3)).await;
    ///     periodic.stop().await;
    /// });
    /// assert_eq!(runs.load(Ordering::Relaxed), 3);
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn build_sync<F, R>(
        self,
        job: F,
    ) -> Result<(Periodic, PeriodicWorker<SyncJob<F>, C>), ScheduleError>
    where
        F: FnMut(Tick) -> R,
        R: JobOutput,
    {
        self.build_job(SyncJob(job))
    }

    fn build_job<J: Job>(self, job: J) -> Result<(Periodic, PeriodicWorker<J, C>), ScheduleError> {
        let config = self.config;
        validate(config.period, config.jitter, config.cadence, config.missed_ticks, self.overlap)?;
        let periodic =
            Periodic::new(config.jitter, config.cadence, config.missed_ticks, self.overlap);
        let worker = PeriodicWorker::new(
            job,
            self.clock,
            Schedule::new(config),
            self.overlap,
            self.timeout,
            periodic.shared().clone(),
        );
        Ok((periodic, worker))
    }

    /// Builds a stream of [`Tick`](crate::Tick)s on this schedule, for code that only wants
    /// the timing.
    ///
    /// The consumer's work between two polls plays the job: with [`Cadence::AfterJob`] the
    /// next tick is one period after the stream is polled again. The overlap policy and the
    /// timeout do not apply.
    ///
    /// # Errors
    ///
    /// As [`build`](PeriodicBuilder::build).
    ///
    /// # Examples
    ///
    /// See [`Ticks`].
    pub fn ticks(self) -> Result<Ticks<C>, ScheduleError> {
        let config = self.config;
        validate(config.period, config.jitter, config.cadence, config.missed_ticks, self.overlap)?;
        Ok(Ticks::new(self.clock, Schedule::new(config)))
    }
}

impl<C: Clock> fmt::Debug for PeriodicBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicBuilder")
            .field("period", &self.config.period)
            .field("first_run", &self.config.first_run)
            .field("cadence", &self.config.cadence)
            .field("missed_ticks", &self.config.missed_ticks)
            .field("overlap", &self.overlap)
            .field("timeout", &self.timeout)
            .field("jitter", &self.config.jitter)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
