use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_timer::Delay;

use crate::Clock;

/// Sleeps longer than this are treated as "never": no timer wheel can honour a century, and
/// `futures-timer` would overflow adding it to `Instant::now()` on some platforms.
const NEVER_AFTER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The system clock: `std::time::Instant` and `futures_timer::Delay`, on any runtime.
///
/// The default clock of every `asynchronously` crate. It is zero-sized and `Copy`, so code
/// generic over [`Clock`] pays nothing for the abstraction.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_time::{Clock, RealClock};
///
/// let start = RealClock.now();
/// RealClock.sleep(Duration::from_millis(1)).await;
/// assert!(RealClock.now() - start >= Duration::from_millis(1));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RealClock;

/// Future returned by [`RealClock::sleep`](Clock::sleep) and
/// [`RealClock::sleep_until`](Clock::sleep_until).
///
/// The timer is registered lazily on the first poll that finds the deadline still ahead, so
/// a sleep that is already due completes without touching the timer thread.
///
/// # Cancel safety
///
/// Dropping it deregisters the timer.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_time::{Clock, RealClock, RealSleep};
///
/// let sleep: RealSleep = RealClock.sleep(Duration::ZERO);
/// sleep.await; // already due: completes on the first poll
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RealSleep {
    /// `None` means "never".
    deadline: Option<Instant>,
    /// The timer, and the deadline it was armed for.
    timer: Option<(Delay, Instant)>,
}

impl Clock for RealClock {
    type Sleep = RealSleep;

    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn sleep_until(&self, deadline: Instant) -> RealSleep {
        RealSleep { deadline: Some(deadline), timer: None }
    }

    #[inline]
    fn sleep(&self, duration: Duration) -> RealSleep {
        let deadline =
            if duration > NEVER_AFTER { None } else { Instant::now().checked_add(duration) };
        RealSleep { deadline, timer: None }
    }

    #[inline]
    fn reset(&self, sleep: &mut RealSleep, deadline: Instant) {
        // The timer, if any, is re-armed lazily by the next poll.
        sleep.deadline = Some(deadline);
    }
}

impl Future for RealSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else { return Poll::Pending };
        let now = Instant::now();
        if now >= deadline {
            return Poll::Ready(());
        }
        let remaining = deadline - now;
        let timer = match &mut self.timer {
            Some((delay, armed_for)) => {
                if *armed_for != deadline {
                    delay.reset(remaining);
                    *armed_for = deadline;
                }
                delay
            }
            slot @ None => &mut slot.insert((Delay::new(remaining), deadline)).0,
        };
        Pin::new(timer).poll(cx)
    }
}

impl fmt::Debug for RealSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealSleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.timer.is_some())
            .finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<RealClock>();
    assert_send_sync_unpin::<RealSleep>();
};
