use std::fmt;
use std::sync::Mutex;
use std::task::Waker;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::acquire::{Acquire, Limiter};
use crate::error::{AcquireError, BuildError, CheckError};
use crate::queue::{Queue, lock, nanos_since};
use crate::quota::Quota;
use crate::reservation::Reservation;

/// A limiter enforcing all of several quotas at once, such as 10 per second **and** 1000 per
/// hour.
///
/// A request conforms only if it conforms to every quota; then it is taken from all of them.
/// A request refused by one quota consumes nothing from any (the parts are checked and
/// committed under one lock). Waiting works as in [`RateLimiter`](crate::RateLimiter):
/// [`acquire`](Self::acquire) reserves the earliest instant at which every quota admits the
/// request, FIFO, with one wake-up per waiter, and a waiter dropped early returns its cells to
/// every quota.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{CheckError, CompositeRateLimiter, Quota};
/// use asynchronously::time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let limiter = CompositeRateLimiter::with_clock(
///     [Quota::per_second(10)?, Quota::per_hour(15)?],
///     clock.clone(),
/// )?;
/// assert!(limiter.check_n(10).is_ok());
/// assert!(limiter.check().is_err(), "the per-second quota is spent");
/// clock.advance(Duration::from_secs(1));
/// assert!(limiter.check_n(5).is_ok());
/// // The hourly quota has 0 left; the per-second one had room, yet lost nothing.
/// assert!(matches!(limiter.check(), Err(CheckError::RateLimited { .. })));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct CompositeRateLimiter<C: Clock = RealClock> {
    /// `(interval, tolerance)` of each quota, in nanoseconds.
    parts: Vec<(u64, u64)>,
    /// The largest request every part can ever admit.
    burst: u32,
    origin: Instant,
    clock: C,
    state: Mutex<State>,
}

struct State {
    /// One theoretical arrival time per part.
    tats: Vec<u64>,
    queue: Queue<Vec<u64>>,
}

impl CompositeRateLimiter {
    /// A limiter enforcing every one of `quotas` on the real clock.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoQuotas`] if `quotas` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CompositeRateLimiter, Quota};
    ///
    /// let limiter = CompositeRateLimiter::new([Quota::per_second(10)?, Quota::per_hour(1000)?])?;
    /// assert!(limiter.check().is_ok());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        quotas: impl IntoIterator<Item = Quota>,
    ) -> Result<CompositeRateLimiter, BuildError> {
        CompositeRateLimiter::with_clock(quotas, RealClock)
    }
}

impl<C: Clock> CompositeRateLimiter<C> {
    /// A limiter enforcing every one of `quotas` on `clock`.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoQuotas`] if `quotas` is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{BuildError, CompositeRateLimiter};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let error = CompositeRateLimiter::with_clock([], VirtualClock::new()).unwrap_err();
    /// assert_eq!(error, BuildError::NoQuotas);
    /// ```
    pub fn with_clock(
        quotas: impl IntoIterator<Item = Quota>,
        clock: C,
    ) -> Result<CompositeRateLimiter<C>, BuildError> {
        let quotas: Vec<Quota> = quotas.into_iter().collect();
        let burst = quotas.iter().map(Quota::burst).min().ok_or(BuildError::NoQuotas)?;
        let parts = quotas.iter().map(|quota| (quota.interval_nanos(), quota.tolerance_nanos()));
        Ok(CompositeRateLimiter {
            parts: parts.collect(),
            burst,
            origin: clock.now(),
            state: Mutex::new(State { tats: vec![0; quotas.len()], queue: Queue::new() }),
            clock,
        })
    }

    /// Takes one cell from every quota if it conforms to all of them now; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::RateLimited`] with the time until every quota would admit the cell.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CompositeRateLimiter, Quota};
    ///
    /// let limiter = CompositeRateLimiter::new([Quota::per_second(1)?, Quota::per_minute(5)?])?;
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self) -> Result<(), CheckError> {
        self.check_n(1)
    }

    /// Takes `n` cells from every quota if they conform to all of them now; never waits.
    ///
    /// # Errors
    ///
    /// [`CheckError::InsufficientCapacity`] if `n` exceeds the smallest burst,
    /// [`CheckError::RateLimited`] if some quota does not admit the cells yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CheckError, CompositeRateLimiter, Quota};
    ///
    /// let limiter = CompositeRateLimiter::new([Quota::per_second(10)?, Quota::per_minute(5)?])?;
    /// assert!(matches!(limiter.check_n(6), Err(CheckError::InsufficientCapacity { burst: 5, .. })));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_n(&self, n: u32) -> Result<(), CheckError> {
        if n > self.burst {
            return Err(CheckError::InsufficientCapacity { requested: n, burst: self.burst });
        }
        let mut state = lock(&self.state);
        let now = nanos_since(self.origin, self.clock.now());
        let start = self.earliest(&state.tats, n, now);
        if start > now {
            return Err(CheckError::RateLimited { retry_after: Duration::from_nanos(start - now) });
        }
        self.commit(&mut state.tats, n, start);
        Ok(())
    }

    /// Waits until `n` cells of every quota are the caller's, FIFO with the other waiters.
    ///
    /// # Errors
    ///
    /// The future resolves to [`AcquireError::InsufficientCapacity`] at once if `n` exceeds
    /// the smallest burst.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its reserved instant returns the cells to every quota; see
    /// [`Acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{CompositeRateLimiter, Quota};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let limiter = CompositeRateLimiter::with_clock(
    ///     [Quota::per_second(2)?, Quota::per_minute(3)?],
    ///     clock.clone(),
    /// )?;
    /// limiter.check_n(2)?;
    /// let start = clock.now();
    /// let (admitted, ()) = futures::join!(
    ///     async { limiter.acquire(1).await.map(|()| clock.now() - start) },
    ///     clock.run_for(Duration::from_secs(5)),
    /// );
    /// assert_eq!(admitted?, Duration::from_millis(500), "the per-second quota binds");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn acquire(&self, n: u32) -> Acquire<'_, CompositeRateLimiter<C>> {
        Acquire::new(self, n)
    }

    /// Claims `n` cells of every quota now, due at once or later; never waits.
    ///
    /// # Errors
    ///
    /// [`AcquireError::InsufficientCapacity`] if `n` exceeds the smallest burst.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{CompositeRateLimiter, Quota};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let limiter = CompositeRateLimiter::with_clock(
    ///     [Quota::per_second(10)?, Quota::per_minute(1)?],
    ///     clock.clone(),
    /// )?;
    /// let _first = limiter.reserve(1)?;
    /// let second = limiter.reserve(1)?;
    /// assert_eq!(second.ready_at() - clock.now(), Duration::from_secs(60));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve(
        &self,
        n: u32,
    ) -> Result<Reservation<'_, CompositeRateLimiter<C>>, AcquireError> {
        let ticket = self.enqueue(n)?;
        Ok(Reservation::new(self, ticket))
    }

    /// How many reservations are queued and not yet claimed by their waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{CompositeRateLimiter, Quota};
    ///
    /// let limiter = CompositeRateLimiter::new([Quota::per_hour(1)?])?;
    /// assert_eq!(limiter.queued(), 0);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// The earliest instant, not before `now`, at which every part admits `n` cells.
    fn earliest(&self, tats: &[u64], n: u32, now: u64) -> u64 {
        let n = u64::from(n);
        self.parts
            .iter()
            .zip(tats)
            .map(|(&(interval, tolerance), &tat)| (tat + interval * n).saturating_sub(tolerance))
            .fold(now, u64::max)
    }

    /// Takes `n` cells from every part at instant `at`.
    fn commit(&self, tats: &mut [u64], n: u32, at: u64) {
        for (&(interval, _), tat) in self.parts.iter().zip(tats) {
            *tat = (*tat).max(at) + interval * u64::from(n);
        }
    }

    fn place(&self, tats: &mut [u64], n: u32, now: u64) -> u64 {
        let start = self.earliest(tats, n, now);
        self.commit(tats, n, start);
        start
    }
}

impl<C: Clock> Limiter for CompositeRateLimiter<C> {
    type Clock = C;

    fn clock(&self) -> &C {
        &self.clock
    }

    fn origin(&self) -> Instant {
        self.origin
    }

    fn enqueue(&self, n: u32) -> Result<Option<(u64, u64)>, AcquireError> {
        if n > self.burst {
            return Err(AcquireError::InsufficientCapacity { requested: n, burst: self.burst });
        }
        if n == 0 {
            return Ok(None);
        }
        let mut state = lock(&self.state);
        let now = nanos_since(self.origin, self.clock.now());
        let start = self.earliest(&state.tats, n, now);
        if start <= now {
            self.commit(&mut state.tats, n, start);
            return Ok(None);
        }
        let before = state.tats.clone();
        self.commit(&mut state.tats, n, start);
        let after = state.tats.clone();
        let id = state.queue.push(n, start, before, after);
        crate::rate_limiter::trace_wait(n, start - now);
        Ok(Some((id, start)))
    }

    fn turn(&self, id: u64, waker: &Waker) -> Option<u64> {
        let mut state = lock(&self.state);
        let now = nanos_since(self.origin, self.clock.now());
        state.queue.turn(id, now, waker)
    }

    fn start_of(&self, id: u64) -> Option<u64> {
        lock(&self.state).queue.start_of(id)
    }

    fn cancel(&self, id: u64) {
        let mut state = lock(&self.state);
        let now = nanos_since(self.origin, self.clock.now());
        match state.queue.plan_cancel(id, now, |tats, n, now| self.place(tats, n, now)) {
            Some((plan, tats)) => {
                state.queue.apply_cancel(id, plan);
                state.tats = tats;
            }
            None => state.queue.remove(id),
        }
    }
}

impl<C: Clock> fmt::Debug for CompositeRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompositeRateLimiter")
            .field("quotas", &self.parts.len())
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompositeRateLimiter>();
};
