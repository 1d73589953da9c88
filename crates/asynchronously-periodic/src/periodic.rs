use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use event_listener::Event;

use crate::error::validate;
use crate::{Cadence, MissedTicks, Overlap, PeriodicBuilder, ScheduleError};

mod stop;

pub use self::stop::Stop;

/// A handle to a periodic job: stop, pause, resume, run now, change the period.
///
/// Built with [`Periodic::builder`], together with the [`PeriodicWorker`](crate::PeriodicWorker)
/// that runs the job: spawn the worker on any runtime (or join it), keep the handle. Handles
/// are cheap to clone and all control the same job. Commands take effect the next time the
/// worker is polled, which they trigger; once the schedule is stopped they return
/// [`ScheduleError::Stopped`].
///
/// When every handle is dropped, the job stops as if [`stop`](Periodic::stop) had been called:
/// the worker starts no new run and ends after the running one (as a channel's receiver ends
/// when every sender is gone). So a `?` that returns early does not leave the job running for
/// the life of the runtime. To keep the job running without a handle, call
/// [`detach`](Periodic::detach); it then runs until its worker is dropped.
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
/// let (periodic, worker) = Periodic::builder(Duration::from_millis(100))
///     .with_clock(clock.clone())
///     .build(|_tick| async {
///         runs.fetch_add(1, Ordering::Relaxed);
///     })?;
///
/// // In an application: `tokio::spawn(worker)`, `smol::spawn(worker).detach()`, …
/// futures::join!(worker, async {
///     clock.run_for(Duration::from_millis(350)).await;
///     periodic.stop().await;
/// });
/// assert_eq!(runs.load(Ordering::Relaxed), 3, "at 100, 200 and 300 ms");
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
pub struct Periodic {
    shared: Arc<Shared>,
}

/// State shared by the handles and the worker.
pub(crate) struct Shared {
    control: Mutex<Control>,
    /// Notified when the worker finishes or is dropped.
    finished: Event,
    jitter: Duration,
    cadence: Cadence,
    missed_ticks: MissedTicks,
    overlap: Overlap,
}

/// Commands from the handles, taken by the worker.
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) paused: bool,
    pub(crate) run_now: bool,
    pub(crate) period: Option<Duration>,
    /// The shortest grace period asked for by a stop not yet seen by the worker.
    pub(crate) stop: Option<Duration>,
    pub(crate) stopping: bool,
    pub(crate) finished: bool,
    pub(crate) worker: Option<Waker>,
    /// Live [`Periodic`] handles; the last one to go stops the job unless `detached`.
    handles: usize,
    detached: bool,
    /// When the next scheduled run is due, as the worker last published it.
    pub(crate) next_run: Option<Instant>,
}

impl Periodic {
    /// Starts configuring a periodic job that runs every `period`.
    ///
    /// The period is checked by [`build`](PeriodicBuilder::build) (zero is an error);
    /// [`Duration::MAX`] means the job never runs on its own (only by
    /// [`run_now`](Periodic::run_now)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    ///
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(60)).build_sync(|_tick| ())?;
    /// # let _ = (periodic, worker);
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// ```
    pub fn builder(period: Duration) -> PeriodicBuilder {
        PeriodicBuilder::new(period)
    }

    pub(crate) fn new(
        jitter: Duration,
        cadence: Cadence,
        missed_ticks: MissedTicks,
        overlap: Overlap,
    ) -> Self {
        let shared = Shared {
            control: Mutex::new(Control { handles: 1, ..Control::default() }),
            finished: Event::new(),
            jitter,
            cadence,
            missed_ticks,
            overlap,
        };
        Periodic { shared: Arc::new(shared) }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops the schedule at once and waits for the running runs to finish.
    ///
    /// The request is made when this method is called, not when the future is polled: a
    /// sleeping worker wakes up at once (no waiting for the next tick), starts no new
    /// scheduled run and finishes as soon as its running runs have finished. A
    /// [`run_now`](Periodic::run_now) requested before the stop and still waiting behind a
    /// running run does run, after it (use [`stop_within`](Periodic::stop_within) to bound
    /// that). The returned [`Stop`] completes when the worker has finished (or was dropped).
    /// Stopping twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(3600))
    ///     .with_clock(clock.clone())
    ///     .build(|_tick| async {})?;
    /// let start = clock.now();
    /// futures::join!(worker, periodic.stop());
    /// assert_eq!(clock.now(), start, "no waiting for the hour to pass");
    /// assert!(periodic.is_finished());
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn stop(&self) -> Stop {
        self.stop_within(Duration::MAX)
    }

    /// Stops the schedule at once and gives the running runs `grace` to finish, then
    /// cancels (drops) them.
    ///
    /// `Duration::ZERO` cancels the running runs at once; `Duration::MAX` waits as long as
    /// they take (that is [`stop`](Periodic::stop)). The grace period is measured on the
    /// worker's clock. Each cancelled run is reported as
    /// [`PeriodicEvent::Cancelled`](crate::PeriodicEvent::Cancelled). If several stops are
    /// requested, the shortest grace wins.
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
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(1))
    ///     .first_run(FirstRun::Immediately)
    ///     .with_clock(clock.clone())
    ///     .build(|_tick| clock.sleep(Duration::from_secs(60)))?; // a slow run
    /// futures::join!(worker, async {
    ///     clock.run_for(Duration::from_millis(500)).await;
    ///     periodic.stop_within(Duration::ZERO).await; // cancel it now
    /// });
    /// assert_eq!(clock.pending_sleepers(), 0, "the run's sleep was dropped");
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn stop_within(&self, grace: Duration) -> Stop {
        {
            let mut control = self.shared.lock();
            if !control.finished {
                control.stopping = true;
                control.stop = Some(control.stop.map_or(grace, |earlier| earlier.min(grace)));
            }
        }
        self.shared.wake_worker();
        Stop::new(Arc::clone(&self.shared))
    }

    /// Pauses the schedule: no scheduled run starts until [`resume`](Periodic::resume).
    ///
    /// Running runs go on. Ticks that fall due while paused are dropped, not caught up.
    /// [`run_now`](Periodic::run_now) still runs the job. Pausing twice is harmless.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Stopped`] once the schedule is stopped (or its worker dropped): there
    /// is nothing left to pause.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Periodic, ScheduleError};
    ///
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(1)).build(|_tick| async {})?;
    /// periodic.pause()?;
    /// assert!(periodic.is_paused());
    /// periodic.resume()?;
    /// assert!(!periodic.is_paused());
    /// drop(worker);
    /// assert_eq!(periodic.pause(), Err(ScheduleError::Stopped));
    /// # Ok::<_, ScheduleError>(())
    /// ```
    pub fn pause(&self) -> Result<(), ScheduleError> {
        self.command(|control| control.paused = true)
    }

    /// Resumes a paused schedule: the next run is the first tick after now (on the grid with
    /// [`Cadence::Grid`](crate::Cadence::Grid), one period from now with
    /// [`Cadence::AfterJob`](crate::Cadence::AfterJob), unless the tick scheduled before the
    /// pause is still ahead). Resuming a running schedule does nothing.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Stopped`] once the schedule is stopped (or its worker dropped).
    ///
    /// # Examples
    ///
    /// See [`pause`](Periodic::pause).
    pub fn resume(&self) -> Result<(), ScheduleError> {
        self.command(|control| control.paused = false)
    }

    /// Whether the schedule is paused.
    ///
    /// # Examples
    ///
    /// See [`pause`](Periodic::pause).
    pub fn is_paused(&self) -> bool {
        self.shared.lock().paused
    }

    /// Runs the job as soon as the overlap policy allows, outside the schedule.
    ///
    /// With [`Overlap::Never`](crate::Overlap::Never) and a run in progress, the run starts
    /// when that one finishes. Requests made before the worker acts on them are merged into
    /// one run. The grid does not move; with [`Cadence::AfterJob`](crate::Cadence::AfterJob)
    /// the next tick is one period after this run. A request made before a stop still runs
    /// if it can start before the stop's grace period ends (it is dropped then).
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Stopped`] once the schedule is stopped (or its worker dropped): the
    /// job will not run.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Periodic, ScheduleError};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let mut seen = Vec::new();
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(3600))
    ///     .with_clock(clock.clone())
    ///     .build(|tick| {
    ///         seen.push(tick.is_run_now());
    ///         async {}
    ///     })?;
    /// periodic.run_now()?;
    /// futures::join!(worker, periodic.stop());
    /// assert_eq!(seen, [true]);
    /// assert_eq!(periodic.run_now(), Err(ScheduleError::Stopped), "the worker has finished");
    /// # Ok::<_, ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn run_now(&self) -> Result<(), ScheduleError> {
        self.command(|control| control.run_now = true)
    }

    /// Changes the period from the next tick on.
    ///
    /// The tick being waited for moves to the previous tick (or start) plus the new period.
    /// If that is already past, one tick is due at once and the grid restarts from it: the
    /// instants in between were never scheduled, so no
    /// [`MissedTicks`](crate::MissedTicks) policy replays them. A fixed first run
    /// ([`FirstRun::Immediately`](crate::FirstRun::Immediately),
    /// [`FirstRun::At`](crate::FirstRun::At)) keeps its instant.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::ZeroPeriod`] if `period` is zero,
    /// [`ScheduleError::JitterNotBelowPeriod`] if it is not longer than the jitter (the
    /// period is then unchanged), and [`ScheduleError::Stopped`] once the schedule is stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Periodic, ScheduleError};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let start = clock.now();
    /// let mut at = Vec::new();
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(10))
    ///     .with_clock(clock.clone())
    ///     .build(|tick| {
    ///         at.push(tick.scheduled() - start);
    ///         async {}
    ///     })?;
    /// assert_eq!(periodic.set_period(Duration::ZERO), Err(ScheduleError::ZeroPeriod));
    /// periodic.set_period(Duration::from_secs(1))?;
    /// futures::join!(worker, async {
    ///     clock.run_for(Duration::from_secs(2)).await;
    ///     periodic.stop().await;
    /// });
    /// assert_eq!(at, [Duration::from_secs(1), Duration::from_secs(2)]);
    /// # Ok::<_, ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn set_period(&self, period: Duration) -> Result<(), ScheduleError> {
        let shared = &self.shared;
        validate(period, shared.jitter, shared.cadence, shared.missed_ticks, shared.overlap)?;
        self.command(|control| control.period = Some(period))
    }

    /// When the next scheduled run is due (jitter included), as the worker last computed it.
    ///
    /// `None` before the worker's first poll, while paused, while no run is scheduled (with
    /// [`Cadence::AfterJob`](crate::Cadence::AfterJob) the next run is placed when the
    /// running one finishes; a period of [`Duration::MAX`] never ticks) and once stopped. A
    /// run due while another still runs (with [`Overlap::Never`](crate::Overlap::Never))
    /// reports the instant it fell due.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let start = clock.now();
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(10))
    ///     .with_clock(clock.clone())
    ///     .build(|_tick| async {})?;
    /// assert_eq!(periodic.next_run_at(), None, "not started");
    /// futures::join!(worker, async {
    ///     clock.run_for(Duration::from_secs(1)).await;
    ///     assert_eq!(periodic.next_run_at(), Some(start + Duration::from_secs(10)));
    ///     periodic.stop().await;
    /// });
    /// assert_eq!(periodic.next_run_at(), None);
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn next_run_at(&self) -> Option<Instant> {
        self.shared.lock().next_run
    }

    /// Lets the job run without a handle: dropping the last handle no longer stops it, so it
    /// runs until its worker is dropped (as a detached task runs until its runtime ends).
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
    /// use futures::FutureExt;
    ///
    /// let clock = VirtualClock::new();
    /// let runs = AtomicU32::new(0);
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(1))
    ///     .with_clock(clock.clone())
    ///     .build_sync(|_tick| {
    ///         runs.fetch_add(1, Ordering::Relaxed);
    ///     })?;
    /// periodic.detach();
    /// let mut worker = worker.fuse();
    /// futures::select! {
    ///     () = worker => unreachable!("a detached job keeps running"),
    ///     () = clock.run_for(Duration::from_millis(3500)).fuse() => {}
    /// }
    /// assert_eq!(runs.load(Ordering::Relaxed), 3);
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn detach(self) {
        self.shared.lock().detached = true;
    }

    /// Applies a command, unless the schedule is stopped, and wakes the worker.
    fn command(&self, apply: impl FnOnce(&mut Control)) -> Result<(), ScheduleError> {
        {
            let mut control = self.shared.lock();
            if control.stopping {
                return Err(ScheduleError::Stopped);
            }
            apply(&mut control);
        }
        self.shared.wake_worker();
        Ok(())
    }

    /// Whether the worker has finished (after a stop) or was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Periodic;
    ///
    /// let (periodic, worker) = Periodic::builder(Duration::from_secs(1)).build(|_tick| async {})?;
    /// assert!(!periodic.is_finished());
    /// drop(worker);
    /// assert!(periodic.is_finished());
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }
}

impl Clone for Periodic {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Periodic { shared: Arc::clone(&self.shared) }
    }
}

impl Drop for Periodic {
    /// The last handle stops the job, unless it was [detached](Periodic::detach).
    fn drop(&mut self) {
        {
            let mut control = self.shared.lock();
            control.handles -= 1;
            if control.handles > 0 || control.detached || control.stopping {
                return;
            }
            control.stopping = true;
            control.stop = Some(Duration::MAX);
        }
        self.shared.wake_worker();
    }
}

impl fmt::Debug for Periodic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let control = self.shared.lock();
        f.debug_struct("Periodic")
            .field("paused", &control.paused)
            .field("stopping", &control.stopping)
            .field("finished", &control.finished)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Control> {
        // No user code runs under this lock, so a poisoned lock still holds consistent state.
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_worker(&self) {
        let waker = self.lock().worker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Marks the worker finished and wakes every `Stop`.
    pub(crate) fn finish(&self) {
        {
            let mut control = self.lock();
            control.finished = true;
            control.stopping = true;
            control.worker = None;
            control.next_run = None;
        }
        self.finished.notify(usize::MAX);
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Periodic>();
};
