use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_timer::Delay;

use crate::Clock;

use crate::clock::NEVER_AFTER;

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
/// use asynchronously::time::{Clock, RealClock};
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
/// `sleep(duration)` arms its timer at once, exactly like `futures_timer::Delay::new`.
/// `sleep_until(deadline)` and [`reset`](Clock::reset) arm it lazily, on the first poll that
/// finds the deadline still ahead, so a sleep that is already due completes without touching
/// the timer thread, and a re-armed sleep reuses its timer instead of allocating a new one.
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
/// use asynchronously::time::{Clock, RealClock, RealSleep};
///
/// let sleep: RealSleep = RealClock.sleep(Duration::ZERO);
/// sleep.await; // already due: completes on the first poll
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RealSleep {
    target: Target,
    /// When it completes, `None` for never; kept for `Debug`.
    deadline: Option<Instant>,
    /// The timer, once created; reused across resets.
    delay: Option<Delay>,
}

#[derive(Debug)]
enum Target {
    /// The sleep never completes.
    Never,
    /// Complete at this instant; the timer (if any) is not armed for it yet.
    At(Instant),
    /// The timer is armed for the right instant: its completion is ours.
    Armed,
}

impl Clock for RealClock {
    type Sleep = RealSleep;

    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn sleep_until(&self, deadline: Instant) -> RealSleep {
        RealSleep { target: Target::At(deadline), deadline: Some(deadline), delay: None }
    }

    #[inline]
    fn sleep(&self, duration: Duration) -> RealSleep {
        let now = Instant::now();
        if duration.is_zero() {
            RealSleep { target: Target::At(now), deadline: Some(now), delay: None }
        } else if duration > NEVER_AFTER {
            RealSleep { target: Target::Never, deadline: None, delay: None }
        } else {
            RealSleep {
                target: Target::Armed,
                deadline: now.checked_add(duration),
                delay: Some(Delay::new(duration)),
            }
        }
    }

    #[inline]
    fn reset(&self, sleep: &mut RealSleep, deadline: Instant) {
        // The timer, if any, is re-armed lazily by the next poll.
        sleep.target = Target::At(deadline);
        sleep.deadline = Some(deadline);
    }
}

impl Future for RealSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.target {
            Target::Never => return Poll::Pending,
            Target::Armed => {}
            Target::At(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Poll::Ready(());
                }
                let remaining = deadline - now;
                if remaining > NEVER_AFTER {
                    // The same "never" as `sleep`, and as `VirtualClock`.
                    this.target = Target::Never;
                    this.deadline = None;
                    return Poll::Pending;
                }
                match &mut this.delay {
                    Some(delay) => delay.reset(remaining),
                    None => this.delay = Some(Delay::new(remaining)),
                }
                this.target = Target::Armed;
            }
        }
        match &mut this.delay {
            Some(delay) => Pin::new(delay).poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl fmt::Debug for RealSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RealSleep");
        match self.deadline {
            Some(deadline) => debug.field("deadline", &deadline),
            None => debug.field("deadline", &"never"),
        };
        debug.field("armed", &matches!(self.target, Target::Armed)).finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<RealClock>();
    assert_send_sync_unpin::<RealSleep>();
};
