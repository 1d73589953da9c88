use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// Sleeps longer than this (about a century) mean "never" on every clock: no timer wheel can
/// honour them, and `futures-timer` would overflow adding them to `Instant::now()` on some
/// platforms.
pub(crate) const NEVER_AFTER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `Some(deadline)`, or `None` ("never") for a deadline more than [`NEVER_AFTER`] past `now`.
#[inline]
pub(crate) fn within_reach(now: Instant, deadline: Instant) -> Option<Instant> {
    (deadline.saturating_duration_since(now) <= NEVER_AFTER).then_some(deadline)
}

/// A source of time and sleeps: the one way `asynchronously` crates observe time.
///
/// Implemented by [`RealClock`](crate::RealClock) for production and
/// [`VirtualClock`](crate::VirtualClock) for tests, and behind features by `TokioClock`
/// (`tokio`) and `AsyncIoClock` (`async-io`), which sleep on the runtime's own timer. Crates
/// take a `C: Clock = RealClock` type parameter, so the real path is a zero-sized type and
/// costs nothing extra.
///
/// # Contract
///
/// - `now()` never goes backwards.
/// - A sleep whose deadline is at or before `now()` completes on its first poll.
/// - [`sleep`](Clock::sleep) with a duration too large to add to `now()` (such as
///   [`Duration::MAX`]), or longer than about a century (100 × 365 days), returns a sleep
///   that never completes; so does [`sleep_until`](Clock::sleep_until) a deadline more than a
///   century ahead. It never panics. [`RealClock`](crate::RealClock),
///   [`VirtualClock`](crate::VirtualClock) and the optional native clocks agree on this.
/// - Dropping a sleep releases everything it registered.
///
/// # Examples
///
/// Code generic over the clock, tested on virtual time:
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::time::{Clock, VirtualClock};
///
/// async fn wait_twice<C: Clock>(clock: &C) -> Duration {
///     let start = clock.now();
///     clock.sleep(Duration::from_millis(10)).await;
///     clock.sleep(Duration::from_millis(20)).await;
///     clock.now() - start
/// }
///
/// let clock = VirtualClock::new();
/// let (waited, ()) = futures::join!(wait_twice(&clock), clock.run_for(Duration::from_secs(1)));
/// assert_eq!(waited, Duration::from_millis(30));
/// # });
/// ```
pub trait Clock: Clone + fmt::Debug + Send + Sync + 'static {
    /// The future returned by [`sleep`](Clock::sleep) and [`sleep_until`](Clock::sleep_until).
    ///
    /// It is `Unpin`, so it can be stored in a struct and polled without pinning.
    type Sleep: Future<Output = ()> + fmt::Debug + Send + Sync + Unpin + 'static;

    /// Returns the current instant of this clock.
    fn now(&self) -> Instant;

    /// Returns a future that completes once `now()` reaches `deadline`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future cancels the sleep and releases its registration.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Returns a future that completes once `duration` has passed.
    ///
    /// A `duration` too large to be added to `now()` means "never": the future stays pending.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future cancels the sleep and releases its registration.
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// Moves an existing sleep to a new deadline, reusing its resources where the clock can.
    ///
    /// The default replaces the sleep with a new one; [`RealClock`](crate::RealClock) resets
    /// its timer in place, which avoids an allocation on every tick of a periodic job.
    fn reset(&self, sleep: &mut Self::Sleep, deadline: Instant) {
        *sleep = self.sleep_until(deadline);
    }

    /// Returns `now() + duration`, or `None` when that instant cannot be represented.
    ///
    /// `None` means "never": use it for deadlines that must not fire and must not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::{Clock, RealClock};
    ///
    /// assert!(RealClock.deadline_after(Duration::from_secs(1)).is_some());
    /// assert!(RealClock.deadline_after(Duration::MAX).is_none());
    /// ```
    fn deadline_after(&self, duration: Duration) -> Option<Instant> {
        self.now().checked_add(duration)
    }
}

impl<C: Clock> Clock for &'static C {
    type Sleep = C::Sleep;

    fn now(&self) -> Instant {
        (**self).now()
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        (**self).sleep_until(deadline)
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        (**self).sleep(duration)
    }

    fn reset(&self, sleep: &mut Self::Sleep, deadline: Instant) {
        (**self).reset(sleep, deadline);
    }

    fn deadline_after(&self, duration: Duration) -> Option<Instant> {
        (**self).deadline_after(duration)
    }
}
