use std::fmt;
use std::mem;
use std::time::{Duration, Instant};

use asynchronously_time::Clock;

use crate::acquire::{Acquire, Limiter};
use crate::queue::instant_at;

/// Cells claimed ahead of time: returned by
/// [`RateLimiter::reserve`](crate::RateLimiter::reserve) and
/// [`CompositeRateLimiter::reserve`](crate::CompositeRateLimiter::reserve).
///
/// The limiter's state has already moved past these cells; they are the holder's from
/// [`ready_at`](Self::ready_at) on. Either [`wait`](Self::wait) for that instant, act on it
/// yourself (schedule the work, or tell a client when to come back), or
/// [`cancel`](Self::cancel).
///
/// Dropping a reservation before `ready_at` cancels it and returns its cells to the
/// reservations behind it; from `ready_at` on, dropping it returns nothing.
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
/// let limiter = RateLimiter::with_clock(Quota::per_second(1)?, clock.clone());
/// let now = limiter.reserve(1)?;
/// let later = limiter.reserve(1)?;
/// assert_eq!(now.ready_at(), clock.now());
/// assert_eq!(later.ready_at() - clock.now(), Duration::from_secs(1));
///
/// later.cancel(); // the second cell goes back
/// assert!(limiter.check().is_err(), "the first reservation took the only cell");
/// clock.advance(Duration::from_secs(1));
/// assert!(limiter.check().is_ok());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a reservation before its time cancels it"]
pub struct Reservation<'a, L: Limiter> {
    limiter: &'a L,
    /// The queue entry, while it may still be cancelled.
    id: Option<u64>,
    /// When the cells were due as of the reservation.
    ready_at: Instant,
}

impl<'a, L: Limiter> Reservation<'a, L> {
    pub(crate) fn new(limiter: &'a L, ticket: Option<(u64, u64)>) -> Self {
        let (id, ready_at) = match ticket {
            // A start that cannot be represented as an `Instant` is beyond every clock: keep
            // the latest instant we can name, a tolerance after now.
            Some((id, start)) => {
                let ready_at = instant_at(limiter.origin(), start).unwrap_or_else(|| {
                    let now = limiter.clock().now();
                    now.checked_add(Duration::from_nanos(1 << 62)).unwrap_or(now)
                });
                (Some(id), ready_at)
            }
            None => (None, limiter.clock().now()),
        };
        Reservation { limiter, id, ready_at }
    }

    /// The instant from which the reserved cells conform. It can move earlier (never later)
    /// when a reservation ahead of this one is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(10)?, clock.clone());
    /// assert_eq!(limiter.reserve(10)?.ready_at(), clock.now());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready_at(&self) -> Instant {
        // Cancelled reservations ahead of this one move it earlier: ask the queue.
        self.id
            .and_then(|id| self.limiter.start_of(id))
            .and_then(|start| instant_at(self.limiter.origin(), start))
            .unwrap_or(self.ready_at)
    }

    /// Gives the cells back if they are not yet due; the same as dropping the reservation.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, RateLimiter};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let limiter = RateLimiter::with_clock(Quota::per_second(1)?, VirtualClock::new());
    /// let _now = limiter.reserve(1)?;
    /// let later = limiter.reserve(1)?;
    /// assert_eq!(limiter.queued(), 1);
    /// later.cancel();
    /// assert_eq!(limiter.queued(), 0);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(self) {
        drop(self);
    }

    /// Waits until the reserved cells are due.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before the reserved instant cancels the reservation, as
    /// dropping the reservation would. See [`Acquire`].
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
    /// let limiter = RateLimiter::with_clock(Quota::per_second(1)?, clock.clone());
    /// limiter.check()?;
    /// let reservation = limiter.reserve(1)?;
    /// let due = reservation.ready_at();
    /// let (waited, ()) = futures::join!(reservation.wait(), clock.run_for(Duration::from_secs(2)));
    /// waited?;
    /// assert!(clock.now() >= due);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn wait(mut self) -> Acquire<'a, L> {
        match self.id.take() {
            Some(id) if self.limiter.start_of(id).is_some() => Acquire::queued(self.limiter, id),
            // Due already (or never queued): an `Acquire` of zero cells completes at once.
            _ => Acquire::new(self.limiter, 0),
        }
    }
}

impl<L: Limiter> Drop for Reservation<'_, L> {
    fn drop(&mut self) {
        if let Some(id) = mem::take(&mut self.id) {
            self.limiter.cancel(id);
        }
    }
}

impl<L: Limiter> fmt::Debug for Reservation<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation").field("ready_at", &self.ready_at).finish_non_exhaustive()
    }
}
