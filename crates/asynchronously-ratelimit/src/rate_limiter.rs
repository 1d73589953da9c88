use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::acquire::{Acquire, AcquireOwned, Limiter};
use crate::error::{AcquireError, CheckError};
use crate::queue::{Queue, lock, nanos_since};
use crate::quota::Quota;
use crate::reservation::Reservation;

/// A GCRA rate limiter whose state is one atomic, with fair FIFO waiting by reservation.
///
/// - [`check`](Self::check) / [`check_n`](Self::check_n) never wait: one clock read and one
///   compare-and-swap on the theoretical arrival time (TAT), lock-free, like governor's.
/// - [`acquire(n)`](Self::acquire) waits its turn: if the cells do not conform now, the first
///   poll **reserves** them (the TAT moves past them at once, so later checks cannot barge
///   ahead) and the waiter sleeps on the clock until its reserved instant: one wake-up per
///   admitted waiter, in arrival order. A waiter dropped before its instant returns its cells
///   to those behind it.
/// - [`reserve(n)`](Self::reserve) claims cells now and tells you when they are due.
/// - [`set_quota`](Self::set_quota) changes the rate at runtime; the state carries over.
///
/// Over any window of length `w`, the cells admitted never exceed
/// `burst + w / interval` (see [`Quota`]).
///
/// Share it by reference or in an `Arc`; it is `Send + Sync`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{Quota, RateLimiter};
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let limiter = RateLimiter::with_clock(Quota::per_second(10)?.with_burst(2)?, clock.clone());
///
/// assert!(limiter.check().is_ok());
/// assert!(limiter.check().is_ok());
/// assert!(limiter.check().is_err(), "the burst of 2 is spent");
///
/// // Waiting: the next cell is due 100 ms later.
/// let start = clock.now();
/// let (admitted, ()) = futures::join!(limiter.acquire(1), clock.run_for(Duration::from_secs(1)));
/// admitted?;
/// assert_eq!(clock.now() - start, Duration::from_secs(1));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RateLimiter<C: Clock = RealClock> {
    /// Theoretical arrival time, in nanoseconds since `origin`: the state of the GCRA.
    tat: AtomicU64,
    /// Nanoseconds per cell.
    interval: AtomicU64,
    /// `burst × interval`.
    tolerance: AtomicU64,
    origin: Instant,
    clock: C,
    /// Pending reservations; the `u64` states are TATs.
    queue: Mutex<Queue<u64>>,
}

impl RateLimiter {
    /// A limiter enforcing `quota` on the real clock, starting with a full burst.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(Quota::per_second(100)?);
    /// assert!(limiter.check_n(100).is_ok());
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn new(quota: Quota) -> RateLimiter {
        RateLimiter::with_clock(quota, RealClock)
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter enforcing `quota` on `clock`, starting with a full burst.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let limiter = RateLimiter::with_clock(Quota::per_minute(1)?, VirtualClock::new());
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn with_clock(quota: Quota, clock: C) -> RateLimiter<C> {
        RateLimiter {
            tat: AtomicU64::new(0),
            interval: AtomicU64::new(quota.interval_nanos()),
            tolerance: AtomicU64::new(quota.tolerance_nanos()),
            origin: clock.now(),
            clock,
            queue: Mutex::new(Queue::new()),
        }
    }

    /// Takes one cell if it conforms now; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::RateLimited`] with the time until a cell would conform. A check never
    /// takes a cell reserved by a waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(Quota::per_hour(1)?);
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    #[inline]
    pub fn check(&self) -> Result<(), CheckError> {
        let increment = self.interval.load(Relaxed);
        let tolerance = self.tolerance.load(Relaxed);
        self.take(increment, tolerance)
    }

    /// Takes `n` cells at once if they conform now; never waits. `n = 0` always conforms.
    ///
    /// # Errors
    ///
    /// [`CheckError::InsufficientCapacity`] if `n` exceeds the burst (such a request could
    /// never conform), [`CheckError::RateLimited`] if the cells do not conform yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CheckError, Quota, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(Quota::per_second(10)?);
    /// assert!(limiter.check_n(7).is_ok());
    /// assert!(matches!(limiter.check_n(7), Err(CheckError::RateLimited { .. })));
    /// assert!(matches!(limiter.check_n(11), Err(CheckError::InsufficientCapacity { .. })));
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn check_n(&self, n: u32) -> Result<(), CheckError> {
        let interval = self.interval.load(Relaxed);
        let tolerance = self.tolerance.load(Relaxed);
        match interval.checked_mul(u64::from(n)) {
            Some(increment) if increment <= tolerance => self.take(increment, tolerance),
            _ => Err(CheckError::InsufficientCapacity {
                requested: n,
                burst: burst_of(interval, tolerance),
            }),
        }
    }

    /// Waits until `n` cells are the caller's, in FIFO order with the other waiters.
    ///
    /// See [`Acquire`] for how waiting works (reservation on first poll, one wake-up).
    ///
    /// # Errors
    ///
    /// The future resolves to [`AcquireError::InsufficientCapacity`] at once if `n` exceeds
    /// the burst, instead of waiting forever.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its reserved instant returns the cells to the waiters
    /// behind it; see [`Acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(Quota::per_second(1000)?);
    /// limiter.acquire(10).await?; // conforms now: no waiting
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn acquire(&self, n: u32) -> Acquire<'_, RateLimiter<C>> {
        Acquire::new(self, n)
    }

    /// Like [`acquire`](Self::acquire), holding the limiter by [`Arc`] so the future is
    /// `'static` (to store it in a struct, or in a `tower::Service` between `poll_ready`
    /// calls).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire): [`AcquireError::InsufficientCapacity`] at once if `n`
    /// exceeds the burst.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire); see [`AcquireOwned`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    ///
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let limiter = Arc::new(RateLimiter::new(Quota::per_second(1000)?));
    /// let admitted = Arc::clone(&limiter).acquire_owned(10); // owns its limiter: 'static
    /// admitted.await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn acquire_owned(self: Arc<Self>, n: u32) -> AcquireOwned<RateLimiter<C>> {
        AcquireOwned::new(self, n)
    }

    /// Claims `n` cells now, due at once or at a later instant; never waits.
    ///
    /// # Errors
    ///
    /// [`AcquireError::InsufficientCapacity`] if `n` exceeds the burst.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(2)?, clock.clone());
    /// let reservations = [limiter.reserve(2)?, limiter.reserve(1)?, limiter.reserve(1)?];
    /// let due: Vec<Duration> = reservations.iter().map(|r| r.ready_at() - clock.now()).collect();
    /// assert_eq!(due, [0, 500, 1000].map(Duration::from_millis));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve(&self, n: u32) -> Result<Reservation<'_, RateLimiter<C>>, AcquireError> {
        let ticket = self.enqueue(n)?;
        Ok(Reservation::new(self, ticket))
    }

    /// Changes the quota from now on, keeping the state: the time the limiter is "behind"
    /// carries over. Reservations already made keep their instants.
    ///
    /// A `check` racing with `set_quota` on another thread may see the old quota, the new
    /// one, or the old interval with the new burst, for that one call.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let limiter = RateLimiter::with_clock(Quota::per_second(1)?, VirtualClock::new());
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// limiter.set_quota(Quota::per_second(1)?.with_burst(3)?);
    /// assert!(limiter.check_n(2).is_ok(), "the bigger burst makes room for 2 more");
    /// assert_eq!(limiter.quota().burst(), 3);
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn set_quota(&self, quota: Quota) {
        self.interval.store(quota.interval_nanos(), Relaxed);
        self.tolerance.store(quota.tolerance_nanos(), Relaxed);
    }

    /// The quota in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let quota = Quota::per_second(5)?;
    /// assert_eq!(RateLimiter::new(quota).quota(), quota);
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn quota(&self) -> Quota {
        let interval = self.interval.load(Relaxed);
        let tolerance = self.tolerance.load(Relaxed);
        Quota::from_parts(interval, burst_of(interval, tolerance))
    }

    /// How many reservations are queued and not yet claimed by their waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    ///
    /// let limiter = RateLimiter::new(Quota::per_hour(1)?);
    /// let _first = limiter.reserve(1)?; // due now: not queued
    /// let _second = limiter.reserve(1)?;
    /// assert_eq!(limiter.queued(), 1);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued(&self) -> usize {
        lock(&self.queue).len()
    }

    /// The limiter's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::{Clock, RealClock};
    ///
    /// let limiter = RateLimiter::new(Quota::per_second(1)?);
    /// let _now = limiter.clock().now();
    /// # let _: &RealClock = limiter.clock();
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn clock(&self) -> &C {
        &self.clock
    }

    #[inline]
    fn now(&self) -> u64 {
        nanos_since(self.origin, self.clock.now())
    }

    /// The lock-free GCRA step: moves the TAT by `increment` if the result stays within
    /// `tolerance` of now.
    #[inline]
    fn take(&self, increment: u64, tolerance: u64) -> Result<(), CheckError> {
        let now = self.now();
        let mut tat = self.tat.load(Relaxed);
        loop {
            let next = tat.max(now) + increment;
            let limit = now + tolerance;
            if next > limit {
                return Err(rate_limited(next - limit));
            }
            match self.tat.compare_exchange_weak(tat, next, Relaxed, Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }
}

impl<C: Clock> Limiter for RateLimiter<C> {
    type Clock = C;

    fn clock(&self) -> &C {
        &self.clock
    }

    fn origin(&self) -> Instant {
        self.origin
    }

    fn enqueue(&self, n: u32) -> Result<Option<(u64, u64)>, AcquireError> {
        let interval = self.interval.load(Relaxed);
        let tolerance = self.tolerance.load(Relaxed);
        let increment = match interval.checked_mul(u64::from(n)) {
            Some(increment) if increment <= tolerance => increment,
            _ => {
                let burst = burst_of(interval, tolerance);
                return Err(AcquireError::InsufficientCapacity { requested: n, burst });
            }
        };
        if n == 0 || self.take(increment, tolerance).is_ok() {
            return Ok(None);
        }
        // Reserve under the queue lock, so reservations enter the queue in TAT order.
        let mut queue = lock(&self.queue);
        let now = self.now();
        let mut before = self.tat.load(Relaxed);
        let after = loop {
            let after = before.max(now) + increment;
            match self.tat.compare_exchange_weak(before, after, Relaxed, Relaxed) {
                Ok(_) => break after,
                Err(actual) => before = actual,
            }
        };
        let start = after - tolerance;
        if start <= now {
            return Ok(None);
        }
        let id = queue.push(n, start, before, after);
        trace_wait(n, start - now);
        Ok(Some((id, start)))
    }

    fn turn(&self, id: u64, waker: &Waker) -> Option<u64> {
        let mut queue = lock(&self.queue);
        queue.turn(id, self.now(), waker)
    }

    fn start_of(&self, id: u64) -> Option<u64> {
        lock(&self.queue).start_of(id)
    }

    fn cancel(&self, id: u64) {
        let mut queue = lock(&self.queue);
        let now = self.now();
        let interval = self.interval.load(Relaxed);
        let tolerance = self.tolerance.load(Relaxed);
        let expected = queue.last_after().copied();
        let plan = queue.plan_cancel(id, now, |tat, n, now| {
            *tat = (*tat).max(now) + interval * u64::from(n);
            tat.saturating_sub(tolerance)
        });
        match (plan, expected) {
            // A check can move the TAT while reservations are queued only once every one of
            // them is due; then the cells were spent and nothing is returned.
            (Some((plan, tat)), Some(expected))
                if self.tat.compare_exchange(expected, tat, Relaxed, Relaxed).is_ok() =>
            {
                queue.apply_cancel(id, plan);
            }
            _ => queue.remove(id),
        }
    }
}

impl<C: Clock> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("quota", &self.quota())
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RateLimiter>();
};

/// The refusal, out of line: keeps the admitted path of `take` small enough to inline.
#[cold]
#[inline(never)]
fn rate_limited(nanos: u64) -> CheckError {
    CheckError::RateLimited { retry_after: Duration::from_nanos(nanos) }
}

pub(crate) fn burst_of(interval: u64, tolerance: u64) -> u32 {
    u32::try_from(tolerance / interval.max(1)).unwrap_or(u32::MAX)
}

/// Logs a reservation that has to wait, with the `tracing` feature.
#[cfg(feature = "tracing")]
pub(crate) fn trace_wait(n: u32, nanos: u64) {
    let wait = Duration::from_nanos(nanos);
    tracing::debug!(cells = n, wait = ?wait, "ratelimit: waiting {wait:?} for {n} cells");
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn trace_wait(_: u32, _: u64) {}

#[cfg(all(test, feature = "tracing"))]
mod tests;
