use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Alarm, Clock, RealClock};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pin_project::{pin_project, pinned_drop};

use crate::periodic::Shared;
use crate::schedule::Schedule;
use crate::{CancelReason, Job, JobOutput, Overlap, PeriodicEvent, Tick};

mod run;

use self::run::{Run, RunEnd};

/// Scheduled runs started in one poll before the worker yields to the executor, so a
/// schedule that is always due (a tiny period, a long burst) cannot starve other tasks.
const RUNS_PER_POLL: u32 = 32;

type JobError<J> = <<J as Job>::Output as JobOutput>::Error;
type Hook<E> = Box<dyn FnMut(PeriodicEvent<E>) + Send>;

/// The future that runs a periodic job; spawn it (or join it) and control it through the
/// [`Periodic`](crate::Periodic) handle built with it.
///
/// The schedule starts at the worker's first poll. The worker runs the job's runs itself
/// (concurrently when [`Overlap`] allows; a single run is kept inline, so a tick allocates
/// nothing), so nothing is spawned; if the worker is not
/// polled, nothing runs and [`Periodic::stop`](crate::Periodic::stop) never completes.
/// It completes after a stop, once the running runs have finished or been cancelled.
/// Polling it again after that returns `Ready` at once: a worker starts once. Dropping every
/// [`Periodic`](crate::Periodic) handle stops it like [`stop`](crate::Periodic::stop): it
/// ends after its running runs, unless the handle was
/// [detached](crate::Periodic::detach). Dropping the worker stops the job at once.
///
/// Failures, panics, timeouts and cancellations of runs are reported to the hook set with
/// [`on_event`](PeriodicWorker::on_event), and the schedule goes on.
///
/// # Cancel safety
///
/// Dropping the worker drops the running runs (no event is reported for them) and marks
/// the job finished: every [`Stop`](crate::Stop) completes.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::Periodic;
/// use asynchronously::time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let (periodic, worker) = Periodic::builder(Duration::from_secs(1))
///     .with_clock(clock.clone())
///     .build(|tick| async move { if tick.number() == 2 { Err("busy") } else { Ok(()) } })?;
/// let (log, failures) = std::sync::mpsc::channel();
/// let worker = worker.on_event(move |event| log.send(event.to_string()).unwrap());
/// futures::join!(worker, async {
///     clock.run_for(Duration::from_secs(3)).await;
///     periodic.stop().await;
/// });
/// assert_eq!(failures.try_iter().collect::<Vec<_>>(), ["periodic job run 2 failed: busy"]);
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
#[must_use = "the worker does nothing unless spawned, joined or polled"]
#[pin_project(PinnedDrop)]
pub struct PeriodicWorker<J: Job, C: Clock = RealClock> {
    core: Core<J, C>,
    /// The run, when the overlap policy allows one at a time: kept inline, so a tick
    /// allocates nothing.
    #[pin]
    slot: Option<Run<J::Future, C::Sleep>>,
}

/// Everything but the inline run.
struct Core<J: Job, C: Clock> {
    job: J,
    clock: C,
    schedule: Schedule,
    overlap: Overlap,
    timeout: Duration,
    shared: Arc<Shared>,
    hook: Option<Hook<JobError<J>>>,
    /// The runs, when the overlap policy allows several at a time.
    runs: FuturesUnordered<Run<J::Future, C::Sleep>>,
    /// The sleep until the next tick, kept and reset to avoid a new timer per tick.
    alarm: Alarm<C::Sleep>,
    paused: bool,
    run_now: bool,
    stopping: bool,
    /// When a stop's grace period ends: `None` is never.
    stop_deadline: Option<Instant>,
    stop_sleep: Option<C::Sleep>,
    runs_started: u64,
    /// The next run's instant as last published to the handles.
    published: Option<Instant>,
    done: bool,
}

impl<J: Job, C: Clock> PeriodicWorker<J, C> {
    pub(crate) fn new(
        job: J,
        clock: C,
        schedule: Schedule,
        overlap: Overlap,
        timeout: Duration,
        shared: Arc<Shared>,
    ) -> Self {
        let core = Core {
            job,
            clock,
            schedule,
            overlap,
            timeout,
            shared,
            hook: None,
            runs: FuturesUnordered::new(),
            alarm: Alarm::new(),
            paused: false,
            run_now: false,
            stopping: false,
            stop_deadline: None,
            stop_sleep: None,
            runs_started: 0,
            published: None,
            done: false,
        };
        PeriodicWorker { core, slot: None }
    }

    /// Reports failures, panics, timeouts, cancellations and a late first run to `hook`.
    ///
    /// Without a hook they are dropped. The hook runs inside the worker's poll: keep it
    /// quick. It is `'static` (the worker is usually spawned): share state with it through
    /// an `Arc` or a channel. A panic in the hook is not caught: it propagates out of the worker.
    ///
    /// # Examples
    ///
    /// See [`PeriodicWorker`].
    pub fn on_event(
        mut self,
        hook: impl FnMut(PeriodicEvent<<J::Output as JobOutput>::Error>) + Send + 'static,
    ) -> Self {
        self.core.hook = Some(Box::new(hook));
        self
    }
}

type Slot<'a, J, C> = Pin<&'a mut Option<Run<<J as Job>::Future, <C as Clock>::Sleep>>>;

impl<J: Job, C: Clock> Core<J, C> {
    /// Reads the commands of the handles.
    fn take_commands(&mut self, cx: &mut Context<'_>) {
        let (paused, period, stop) = {
            let mut control = self.shared.lock();
            match &mut control.worker {
                Some(waker) => waker.clone_from(cx.waker()),
                slot @ None => *slot = Some(cx.waker().clone()),
            }
            self.run_now |= std::mem::take(&mut control.run_now);
            (control.paused, control.period.take(), control.stop.take())
        };
        if let Some(period) = period {
            self.schedule.set_period(period, self.clock.now());
        }
        if paused != self.paused {
            self.paused = paused;
            if !paused {
                self.schedule.resume(self.clock.now());
            }
        }
        if let Some(grace) = stop {
            let deadline = self.clock.deadline_after(grace);
            let deadline =
                if self.stopping { earliest(self.stop_deadline, deadline) } else { deadline };
            if !self.stopping || deadline != self.stop_deadline {
                self.stop_deadline = deadline;
                self.stop_sleep = deadline.map(|deadline| self.clock.sleep_until(deadline));
            }
            self.stopping = true;
        }
    }

    /// Whether runs are kept in the inline slot: at most one runs at a time.
    fn one_at_a_time(&self) -> bool {
        matches!(self.overlap, Overlap::Never | Overlap::UpTo(1) | Overlap::CancelPrevious)
    }

    fn running(&self, slot: &Slot<'_, J, C>) -> usize {
        self.runs.len() + usize::from(slot.is_some())
    }

    fn has_capacity(&self, slot: &Slot<'_, J, C>) -> bool {
        match self.overlap {
            Overlap::Never => self.running(slot) == 0,
            Overlap::UpTo(limit) => self.running(slot) < limit,
            Overlap::CancelPrevious => true,
        }
    }

    fn start_run(
        &mut self,
        slot: &mut Slot<'_, J, C>,
        scheduled: Instant,
        actual: Instant,
        missed: u64,
        manual: bool,
    ) {
        if self.overlap == Overlap::CancelPrevious {
            self.cancel_all(slot, CancelReason::Superseded);
        }
        if manual {
            self.schedule.busy();
        }
        self.runs_started += 1;
        let number = self.runs_started;
        let tick = Tick { scheduled, actual, missed, number, manual };
        let job = &mut self.job;
        match panic::catch_unwind(AssertUnwindSafe(|| job.call(tick))) {
            Ok(future) => {
                let timeout = if self.timeout == Duration::MAX {
                    None
                } else {
                    self.clock
                        .deadline_after(self.timeout)
                        .map(|deadline| (self.clock.sleep_until(deadline), self.timeout))
                };
                let run = Run::new(future, timeout, number);
                if self.one_at_a_time() {
                    slot.set(Some(run));
                } else {
                    self.runs.push(run);
                }
            }
            Err(payload) => self.emit(PeriodicEvent::Panicked { run: number, payload }),
        }
    }

    /// Drops every running run, reporting each.
    fn cancel_all(&mut self, slot: &mut Slot<'_, J, C>, reason: CancelReason) {
        if let Some(run) = slot.as_ref().get_ref() {
            let run = run.number();
            slot.set(None);
            self.emit(PeriodicEvent::Cancelled { run, reason });
        }
        if self.runs.is_empty() {
            return;
        }
        let mut numbers: Vec<u64> =
            Pin::new(&self.runs).iter_pin_ref().map(|run| run.get_ref().number()).collect();
        numbers.sort_unstable();
        self.runs.clear();
        for run in numbers {
            self.emit(PeriodicEvent::Cancelled { run, reason });
        }
    }

    fn report(&mut self, run: u64, end: RunEnd<JobError<J>>) {
        let event = match end {
            RunEnd::Finished => return,
            RunEnd::Failed(error) => PeriodicEvent::Failed { run, error },
            RunEnd::Panicked(payload) => PeriodicEvent::Panicked { run, payload },
            RunEnd::TimedOut(after) => PeriodicEvent::TimedOut { run, after },
        };
        self.emit(event);
    }

    fn emit(&mut self, event: PeriodicEvent<JobError<J>>) {
        if let Some(hook) = &mut self.hook {
            hook(event);
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.alarm.clear();
        self.stop_sleep = None;
        self.shared.finish();
    }

    /// Tells the handles when the next run is due ([`Periodic::next_run_at`]); locks only
    /// when that changed.
    ///
    /// [`Periodic::next_run_at`]: crate::Periodic::next_run_at
    fn publish(&mut self, next: Option<Instant>) {
        if next != self.published {
            self.published = next;
            self.shared.lock().next_run = next;
        }
    }

    fn step(&mut self, slot: Slot<'_, J, C>, cx: &mut Context<'_>) -> Poll<()> {
        let poll = self.advance(slot, cx);
        if poll.is_pending() {
            let next = if self.paused || self.stopping { None } else { self.schedule.due_at() };
            self.publish(next);
        }
        poll
    }

    fn advance(&mut self, mut slot: Slot<'_, J, C>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        if !self.schedule.is_started() {
            self.schedule.start(self.clock.now());
            if let Some(by) = self.schedule.take_first_late() {
                self.emit(PeriodicEvent::FirstRunLate { by });
            }
        }
        self.take_commands(cx);
        let mut budget = RUNS_PER_POLL;
        loop {
            if let Some(run) = slot.as_mut().as_pin_mut() {
                if let Poll::Ready((run, end)) = run.poll(cx) {
                    slot.set(None);
                    self.report(run, end);
                }
            }
            while !self.runs.is_empty() {
                match self.runs.poll_next_unpin(cx) {
                    Poll::Ready(Some((run, end))) => self.report(run, end),
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            let idle = self.running(&slot) == 0;
            if idle && self.schedule.is_awaiting_idle() {
                self.schedule.idle(self.clock.now());
            }
            // A `run_now` is only accepted before a stop, so it still runs while stopping.
            if self.run_now && self.has_capacity(&slot) {
                self.run_now = false;
                let now = self.clock.now();
                self.start_run(&mut slot, now, now, 0, true);
                continue;
            }
            if self.stopping {
                self.alarm.disarm();
                if idle && !self.run_now {
                    self.finish();
                    return Poll::Ready(());
                }
                if let Some(sleep) = &mut self.stop_sleep {
                    if Pin::new(sleep).poll(cx).is_ready() {
                        self.stop_sleep = None;
                        // The grace is over: a `run_now` still waiting for capacity would start
                        // an unbounded run after it, so it is dropped with the running runs.
                        self.run_now = false;
                        self.cancel_all(&mut slot, CancelReason::Stopped);
                        continue;
                    }
                }
                return Poll::Pending;
            }
            let due = if self.paused { None } else { self.schedule.due_at() };
            let Some(due) = due.filter(|_| self.has_capacity(&slot)) else {
                // Paused, never due, or waiting for a run to finish (which wakes us).
                self.alarm.disarm();
                return Poll::Pending;
            };
            if self.alarm.poll_until(&self.clock, due, cx).is_pending() {
                return Poll::Pending;
            }
            let now = self.clock.now();
            let tick = self.schedule.take(now);
            self.start_run(&mut slot, tick.scheduled, now, tick.missed, false);
            budget -= 1;
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

/// The earlier of two deadlines, where `None` is never.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl<J: Job, C: Clock> Future for PeriodicWorker<J, C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        this.core.step(this.slot, cx)
    }
}

#[pinned_drop]
impl<J: Job, C: Clock> PinnedDrop for PeriodicWorker<J, C> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if !this.core.done {
            // Drop the runs first, so a `Stop` that completes sees nothing still running.
            this.slot.set(None);
            this.core.runs.clear();
            this.core.shared.finish();
        }
    }
}

impl<J: Job, C: Clock> fmt::Debug for PeriodicWorker<J, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = &self.core;
        f.debug_struct("PeriodicWorker")
            .field("runs_started", &core.runs_started)
            .field("running", &(core.runs.len() + usize::from(self.slot.is_some())))
            .field("paused", &core.paused)
            .field("stopping", &core.stopping)
            .field("finished", &core.done)
            .finish_non_exhaustive()
    }
}
