use std::time::Duration;

use crate::{Clock, RealClock, VirtualClock};

/// A [`Clock`] that can also block the calling thread: what synchronous code (a blocking
/// retry loop) sleeps on, so that it too is tested on virtual time.
///
/// [`RealClock`] blocks with `std::thread::sleep`. [`VirtualClock`] does not block: it
/// [`advance`](VirtualClock::advance)s its time by the duration at once, as if the thread
/// had slept that long, and wakes the sleepers now due.
///
/// # Examples
///
/// Code generic over the clock, tested on virtual time without sleeping:
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::time::{BlockingClock, VirtualClock};
///
/// fn pause_twice<C: BlockingClock>(clock: &C) -> Duration {
///     let start = clock.now();
///     clock.sleep_blocking(Duration::from_millis(10));
///     clock.sleep_blocking(Duration::from_millis(20));
///     clock.now() - start
/// }
///
/// let clock = VirtualClock::new();
/// assert_eq!(pause_twice(&clock), Duration::from_millis(30));
/// ```
pub trait BlockingClock: Clock {
    /// Blocks the calling thread until `duration` has passed on this clock.
    ///
    /// A zero duration returns at once. Never call it from async code: it blocks the
    /// executor's thread (a [`VirtualClock`] only moves its time, but then skips the wait
    /// that every other sleeper of that clock would see).
    fn sleep_blocking(&self, duration: Duration);
}

impl BlockingClock for RealClock {
    /// `std::thread::sleep(duration)`; a duration beyond any representable instant (such as
    /// [`Duration::MAX`]) blocks for as long as the thread lives.
    fn sleep_blocking(&self, duration: Duration) {
        if !duration.is_zero() {
            std::thread::sleep(duration);
        }
    }
}

impl BlockingClock for VirtualClock {
    /// [`advance`](VirtualClock::advance)`(duration)`: returns at once, with the clock's time
    /// moved on (saturating, as `advance` does).
    fn sleep_blocking(&self, duration: Duration) {
        self.advance(duration);
    }
}

impl<C: BlockingClock> BlockingClock for &'static C {
    fn sleep_blocking(&self, duration: Duration) {
        (**self).sleep_blocking(duration);
    }
}
