use std::fmt;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use crate::semaphore::queue::Aging;
use crate::{BuildError, PrioritySemaphore};

/// Configures a [`PrioritySemaphore`]: aging against starvation and the clock it is measured
/// on. Made by [`PrioritySemaphore::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::priority_semaphore::PrioritySemaphore;
///
/// // Every 50 ms of waiting counts as one priority step better, by at most 20 steps.
/// let semaphore = PrioritySemaphore::builder(2).aging(Duration::from_millis(50), 20).build()?;
/// assert_eq!(semaphore.available_permits(), 2);
/// # Ok::<(), asynchronously::priority_semaphore::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Clone)]
pub struct Builder<C = RealClock> {
    permits: usize,
    aging: Option<(Duration, u32)>,
    clock: C,
}

impl Builder<RealClock> {
    pub(crate) fn new(permits: usize) -> Builder<RealClock> {
        Builder { permits, aging: None, clock: RealClock }
    }
}

impl<C: Clock> Builder<C> {
    /// Turns on aging: a waiter's effective priority improves by one step (a priority value
    /// one lower) per `interval` waited, by at most `max_boost` steps.
    ///
    /// Effective priorities are compared whenever permits are handed out (on a release,
    /// [`add_permits`](PrioritySemaphore::add_permits) or cancellation) and when a newcomer
    /// arrives. While free permits are kept for a blocked head (a multi-permit request that
    /// does not fit yet), the semaphore also arms one timer on the clock for the next moment
    /// the order of the queue can change, so a waiter that ages to the head takes the free
    /// permits at once instead of waiting for the next release. There is one timer per
    /// semaphore, not per waiter, and none while every permit is held: queueing on an aging
    /// semaphore allocates nothing more than on a plain one, and aging wakes no waiter unless
    /// its timer fires.
    /// Ties still go to the earlier arrival. `Duration::MAX` never boosts; a zero interval is
    /// rejected by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// let builder = PrioritySemaphore::builder(1).aging(Duration::from_secs(1), 10);
    /// assert!(builder.build().is_ok());
    /// ```
    pub fn aging(mut self, interval: Duration, max_boost: u32) -> Builder<C> {
        self.aging = Some((interval, max_boost));
        self
    }

    /// Measures aging on `clock` (a [`VirtualClock`](asynchronously_time::VirtualClock) in
    /// tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let semaphore = PrioritySemaphore::builder(1).clock(clock.clone()).build()?;
    /// assert_eq!(semaphore.clock().now(), clock.now());
    /// # use asynchronously::time::Clock;
    /// # Ok::<(), asynchronously::priority_semaphore::BuildError>(())
    /// ```
    pub fn clock<C2: Clock>(self, clock: C2) -> Builder<C2> {
        Builder { permits: self.permits, aging: self.aging, clock }
    }

    /// Builds the semaphore.
    ///
    /// # Errors
    ///
    /// [`BuildError::TooManyPermits`] above [`PrioritySemaphore::MAX_PERMITS`];
    /// [`BuildError::ZeroAgingInterval`] for an aging interval of zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{BuildError, PrioritySemaphore};
    ///
    /// let error = PrioritySemaphore::builder(usize::MAX).build().unwrap_err();
    /// assert!(matches!(error, BuildError::TooManyPermits { .. }));
    /// ```
    pub fn build(self) -> Result<PrioritySemaphore<C>, BuildError> {
        let max = PrioritySemaphore::MAX_PERMITS;
        if self.permits > max {
            return Err(BuildError::TooManyPermits { permits: self.permits, max });
        }
        let aging = match self.aging {
            Some((interval, _)) if interval.is_zero() => return Err(BuildError::ZeroAgingInterval),
            Some((interval, max_boost)) => Some(Aging { interval, max_boost }),
            None => None,
        };
        Ok(PrioritySemaphore::from_parts(self.permits, aging, self.clock))
    }
}

impl<C: fmt::Debug> fmt::Debug for Builder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("permits", &self.permits)
            .field("aging", &self.aging)
            .field("clock", &self.clock)
            .finish()
    }
}
