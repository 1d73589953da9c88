use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::task::Waker;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::acquire::{Acquire, Limiter};
use crate::error::{AcquireError, BuildError, CheckError};
use crate::queue::{lock, nanos_since};

/// The largest period a window may have: about 146 years (see [`Quota`](crate::Quota)).
const MAX_PERIOD_NANOS: u64 = 1 << 62;

/// A sliding-window-log limiter: at most `limit` starts in any rolling `period`.
///
/// It limits *starts*, not concurrency: leaving does not release anything, a start simply
/// stops counting `period` after it happened. Waiting callers claim their start instant when
/// they enqueue and are admitted in arrival order, each woken once by its own timer (no
/// polling); a caller dropped before its instant gives it back to those behind.
///
/// Unlike GCRA, the window is exact: `limit` starts may happen back to back, and then none
/// until the oldest of them is `period` old.
///
/// # Examples
///
/// The seed's case: 2 per 200 ms with 5 callers enters at 0, 0, 200, 200 and 400 ms.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::SlidingWindow;
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let window = SlidingWindow::with_clock(2, Duration::from_millis(200), clock.clone())?;
/// let start = clock.now();
/// let callers = futures::future::join_all((0..5).map(|_| async {
///     window.acquire().await.map(|()| clock.now() - start)
/// }));
/// let (entered, ()) = futures::join!(callers, clock.run_for(Duration::from_secs(1)));
/// let entered: Vec<Duration> = entered.into_iter().collect::<Result<_, _>>()?;
/// assert_eq!(entered, [0, 0, 200, 200, 400].map(Duration::from_millis));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct SlidingWindow<C: Clock = RealClock> {
    limit: usize,
    period: u64,
    origin: Instant,
    clock: C,
    log: Mutex<Log>,
}

/// The recent starts and the reserved ones, in order of start (and of id).
struct Log {
    next_id: u64,
    slots: VecDeque<Slot>,
}

struct Slot {
    id: u64,
    start: u64,
    /// A reservation whose waiter has not yet seen it due.
    waiting: bool,
    waker: Option<Waker>,
}

impl SlidingWindow {
    /// A window admitting at most `limit` starts in any rolling `period`, on the real clock.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if `limit` or `period` is zero or `period` exceeds about 146 years.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::SlidingWindow;
    ///
    /// let window = SlidingWindow::new(2, Duration::from_secs(1))?;
    /// assert!(window.check().is_ok());
    /// # Ok::<_, asynchronously::ratelimit::BuildError>(())
    /// ```
    pub fn new(limit: usize, period: Duration) -> Result<SlidingWindow, BuildError> {
        SlidingWindow::with_clock(limit, period, RealClock)
    }
}

impl<C: Clock> SlidingWindow<C> {
    /// A window admitting at most `limit` starts in any rolling `period`, on `clock`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if `limit` or `period` is zero or `period` exceeds about 146 years
    /// ([`Duration::MAX`] included).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{BuildError, SlidingWindow};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let error = SlidingWindow::with_clock(0, Duration::from_secs(1), VirtualClock::new());
    /// assert_eq!(error.unwrap_err(), BuildError::ZeroLimit);
    /// ```
    pub fn with_clock(
        limit: usize,
        period: Duration,
        clock: C,
    ) -> Result<SlidingWindow<C>, BuildError> {
        if limit == 0 {
            return Err(BuildError::ZeroLimit);
        }
        if period.is_zero() {
            return Err(BuildError::ZeroPeriod);
        }
        let period = match u64::try_from(period.as_nanos()) {
            Ok(nanos) if nanos <= MAX_PERIOD_NANOS => nanos,
            _ => return Err(BuildError::PeriodTooLong { period }),
        };
        Ok(SlidingWindow {
            limit,
            period,
            origin: clock.now(),
            clock,
            log: Mutex::new(Log { next_id: 0, slots: VecDeque::new() }),
        })
    }

    /// Starts now if fewer than `limit` starts happened in the last `period` and nobody is
    /// waiting; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::RateLimited`] with the time until a start would be admitted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::SlidingWindow;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let window = SlidingWindow::with_clock(1, Duration::from_secs(1), clock.clone())?;
    /// assert!(window.check().is_ok());
    /// assert!(window.check().is_err());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(window.check().is_ok());
    /// # Ok::<_, asynchronously::ratelimit::BuildError>(())
    /// ```
    pub fn check(&self) -> Result<(), CheckError> {
        let mut log = lock(&self.log);
        let now = self.now();
        let start = self.next_start(&log.slots, log.slots.len(), now);
        if start > now {
            return Err(CheckError::RateLimited { retry_after: Duration::from_nanos(start - now) });
        }
        self.push(&mut log, start, false, now);
        Ok(())
    }

    /// Waits for the caller's turn to start, FIFO with the other waiters.
    ///
    /// The future never resolves to an error; its output is a `Result` only because it is the
    /// same [`Acquire`] future the other limiters return.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its start instant gives the start back to the waiters
    /// behind it; see [`Acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::SlidingWindow;
    ///
    /// let window = SlidingWindow::new(10, Duration::from_secs(1))?;
    /// window.acquire().await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn acquire(&self) -> Acquire<'_, SlidingWindow<C>> {
        Acquire::new(self, 1)
    }

    /// How many waiters are queued for a start.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::SlidingWindow;
    ///
    /// let window = SlidingWindow::new(1, Duration::from_secs(1))?;
    /// assert_eq!(window.queued(), 0);
    /// # Ok::<_, asynchronously::ratelimit::BuildError>(())
    /// ```
    pub fn queued(&self) -> usize {
        lock(&self.log).slots.iter().filter(|slot| slot.waiting).count()
    }

    fn now(&self) -> u64 {
        nanos_since(self.origin, self.clock.now())
    }

    /// When a start placed at `index` (after the slots before it) may happen, not before
    /// `now`: after the previous start (FIFO), and `period` after the start `limit` places
    /// earlier.
    fn next_start(&self, slots: &VecDeque<Slot>, index: usize, now: u64) -> u64 {
        let previous = index.checked_sub(1).map_or(0, |i| slots[i].start);
        let window = index.checked_sub(self.limit).map_or(0, |i| slots[i].start + self.period);
        now.max(previous).max(window)
    }

    fn push(&self, log: &mut Log, start: u64, waiting: bool, now: u64) -> u64 {
        let id = log.next_id;
        log.next_id += 1;
        log.slots.push_back(Slot { id, start, waiting, waker: None });
        self.trim(log, now);
        id
    }

    /// Forgets starts that can no longer matter: keeps at most `limit` slots before the
    /// first reservation still in the future (those are what replanning a cancelled waiter
    /// needs), and drops any slot whose start left the window. A reservation already due
    /// counts as a start even if its waiter has not been polled yet, so a slow waiter cannot
    /// make the log grow.
    fn trim(&self, log: &mut Log, now: u64) {
        let first_waiting = log.slots.iter().position(|slot| slot.waiting && slot.start > now);
        let mut settled = first_waiting.unwrap_or(log.slots.len());
        while settled > 0 {
            let front = &log.slots[0];
            if settled > self.limit || front.start + self.period <= now {
                log.slots.pop_front();
                settled -= 1;
            } else {
                break;
            }
        }
    }

    fn index(log: &Log, id: u64) -> Option<usize> {
        log.slots.binary_search_by_key(&id, |slot| slot.id).ok()
    }
}

impl<C: Clock> Limiter for SlidingWindow<C> {
    type Clock = C;

    fn clock(&self) -> &C {
        &self.clock
    }

    fn origin(&self) -> Instant {
        self.origin
    }

    fn enqueue(&self, n: u32) -> Result<Option<(u64, u64)>, AcquireError> {
        if n == 0 {
            return Ok(None);
        }
        let mut log = lock(&self.log);
        let now = self.now();
        let start = self.next_start(&log.slots, log.slots.len(), now);
        if start <= now {
            self.push(&mut log, start, false, now);
            return Ok(None);
        }
        let id = self.push(&mut log, start, true, now);
        crate::rate_limiter::trace_wait(1, start - now);
        Ok(Some((id, start)))
    }

    fn turn(&self, id: u64, waker: &Waker) -> Option<u64> {
        let mut log = lock(&self.log);
        let now = self.now();
        let index = Self::index(&log, id)?;
        let slot = &mut log.slots[index];
        if !slot.waiting || slot.start <= now {
            slot.waiting = false;
            slot.waker = None;
            self.trim(&mut log, now);
            return None;
        }
        match &mut slot.waker {
            Some(stored) => stored.clone_from(waker),
            empty @ None => *empty = Some(waker.clone()),
        }
        Some(slot.start)
    }

    fn start_of(&self, id: u64) -> Option<u64> {
        let log = lock(&self.log);
        let index = Self::index(&log, id)?;
        log.slots[index].waiting.then(|| log.slots[index].start)
    }

    fn cancel(&self, id: u64) {
        let mut log = lock(&self.log);
        let now = self.now();
        let Some(index) = Self::index(&log, id) else { return };
        let slot = &mut log.slots[index];
        if !slot.waiting || slot.start <= now {
            // Its instant came: the start happened, as far as the window is concerned.
            slot.waiting = false;
            slot.waker = None;
            return;
        }
        log.slots.remove(index);
        // Every slot behind a waiting one is waiting too (checks cannot pass a waiter), so
        // all of them move: replanned as if they arrived now.
        for later in index..log.slots.len() {
            let start = self.next_start(&log.slots, later, now);
            let slot = &mut log.slots[later];
            if slot.start != start {
                slot.start = start;
                if let Some(waker) = slot.waker.take() {
                    waker.wake();
                }
            }
        }
        self.trim(&mut log, now);
    }
}

impl<C: Clock> fmt::Debug for SlidingWindow<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindow")
            .field("limit", &self.limit)
            .field("period", &Duration::from_nanos(self.period))
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SlidingWindow>();
};
