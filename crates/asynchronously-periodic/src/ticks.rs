use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use asynchronously_time::{Alarm, Clock, RealClock};
use futures::Stream;

use crate::Tick;
use crate::schedule::Schedule;

/// A stream of [`Tick`]s on a periodic schedule; made by
/// [`PeriodicBuilder::ticks`](crate::PeriodicBuilder::ticks).
///
/// It follows the same rules as the job runner: first run, cadence, missed-tick policy and
/// jitter. The consumer's work between two polls plays the job. The schedule starts at the
/// first poll. The stream never ends.
///
/// # Cancel safety
///
/// `next()` is cancel-safe: a tick is taken from the schedule only when it is returned.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Cadence, Periodic, Ticks};
/// use asynchronously::time::{Clock, VirtualClock};
/// use futures::StreamExt;
///
/// let clock = VirtualClock::new();
/// let start = clock.now();
/// let ticks: Ticks<VirtualClock> = Periodic::builder(Duration::from_millis(100))
///     .cadence(Cadence::Grid)
///     .with_clock(clock.clone())
///     .ticks()?;
/// let (seen, ()) = futures::join!(
///     ticks.take(3).map(|tick| tick.scheduled() - start).collect::<Vec<_>>(),
///     clock.run_for(Duration::from_secs(1)),
/// );
/// assert_eq!(seen, [100, 200, 300].map(Duration::from_millis));
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// # }).unwrap();
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Ticks<C: Clock = RealClock> {
    clock: C,
    schedule: Schedule,
    alarm: Alarm<C::Sleep>,
    count: u64,
}

impl<C: Clock> Ticks<C> {
    pub(crate) fn new(clock: C, schedule: Schedule) -> Self {
        Ticks { clock, schedule, alarm: Alarm::new(), count: 0 }
    }

    /// Restarts the schedule from now: the next tick is one period away, and the grid
    /// continues from it (tokio's `Interval::reset`). Ticks already due are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Cadence, Periodic};
    /// use asynchronously::time::{Clock, VirtualClock};
    /// use futures::StreamExt;
    ///
    /// let clock = VirtualClock::new();
    /// let start = clock.now();
    /// let mut ticks = Periodic::builder(Duration::from_secs(1))
    ///     .cadence(Cadence::Grid)
    ///     .with_clock(clock.clone())
    ///     .ticks()?;
    /// clock.advance(Duration::from_millis(700));
    /// ticks.reset();
    /// let (tick, ()) = futures::join!(ticks.next(), clock.run_for(Duration::from_secs(5)));
    /// assert_eq!(tick.map(|tick| tick.scheduled() - start), Some(Duration::from_millis(1700)));
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn reset(&mut self) {
        let now = self.clock.now();
        self.schedule.reset(now, self.clock.deadline_after(self.schedule.period()));
    }

    /// Restarts the schedule with the next tick `delay` from now (`Duration::ZERO`: at once;
    /// [`Duration::MAX`]: never, until the next reset); the grid continues from that tick.
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
    /// let mut ticks = Periodic::builder(Duration::from_secs(60)).with_clock(clock.clone()).ticks()?;
    /// ticks.reset_after(Duration::ZERO);
    /// let tick = ticks.next().await.expect("ticks never end");
    /// assert_eq!(tick.scheduled(), start, "due at once");
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn reset_after(&mut self, delay: Duration) {
        let now = self.clock.now();
        self.schedule.reset(now, self.clock.deadline_after(delay));
    }

    /// Polls for the next tick: the stream's `poll_next` without the `Option` (the stream
    /// never ends), for hand-written futures and `poll_fn`.
    ///
    /// Registers `cx`'s waker for the next tick when it is not due yet.
    ///
    /// # Cancel safety
    ///
    /// A tick is taken from the schedule only when `Ready` is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{FirstRun, Periodic};
    ///
    /// let mut ticks = Periodic::builder(Duration::from_secs(1)).first_run(FirstRun::Immediately).ticks()?;
    /// let tick = std::future::poll_fn(|cx| ticks.poll_tick(cx)).await;
    /// assert_eq!(tick.number(), 1);
    /// # Ok::<_, asynchronously::periodic::ScheduleError>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Tick> {
        let this = self;
        if !this.schedule.is_started() {
            this.schedule.start(this.clock.now());
        }
        if this.schedule.is_awaiting_idle() {
            this.schedule.idle(this.clock.now());
        }
        let Some(due) = this.schedule.due_at() else {
            // Never due: forget a registered sleep, so a virtual clock does not wait for it.
            this.alarm.disarm();
            return Poll::Pending;
        };
        if this.alarm.poll_until(&this.clock, due, cx).is_pending() {
            return Poll::Pending;
        }
        let now = this.clock.now();
        let due = this.schedule.take(now);
        this.count += 1;
        Poll::Ready(Tick {
            scheduled: due.scheduled,
            actual: now,
            missed: due.missed,
            number: this.count,
            manual: false,
        })
    }
}

impl<C: Clock> Stream for Ticks<C> {
    type Item = Tick;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Tick>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

// Nothing is pinned: the clock is only read and its sleeps are `Unpin`.
impl<C: Clock> Unpin for Ticks<C> {}

impl<C: Clock> fmt::Debug for Ticks<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticks").field("ticks", &self.count).finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<Ticks>();
};
