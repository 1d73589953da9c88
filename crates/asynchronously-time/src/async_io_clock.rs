use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;

use crate::Clock;

use crate::clock::{NEVER_AFTER, within_reach};

/// The clock of smol and async-std: `std::time::Instant` and `async_io::Timer`, the timers of
/// the reactor those runtimes already drive.
///
/// [`RealClock`](crate::RealClock) works there too, but its `futures-timer` timers live on a
/// helper thread of their own; this clock's timers are serviced by the same reactor (and the
/// same thread's `block_on`) as the program's I/O. Zero-sized and `Copy`.
///
/// Enabled by the `async-io` feature (of `asynchronously-time`, or of the facade, which
/// forwards it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::time::{AsyncIoClock, Clock};
///
/// fn main() {
///     smol::block_on(async {
///         let clock = AsyncIoClock;
///         let start = clock.now();
///         clock.sleep(Duration::from_millis(5)).await;
///         assert!(clock.now() - start >= Duration::from_millis(5));
///     });
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AsyncIoClock;

/// Future returned by [`AsyncIoClock::sleep`](Clock::sleep) and
/// [`AsyncIoClock::sleep_until`](Clock::sleep_until): an `async_io::Timer` that completes
/// once.
///
/// The timer registers with the reactor on its first poll and is moved in place by
/// [`reset`](Clock::reset) (`Timer::set_at`), so a periodic loop allocates nothing per tick.
///
/// # Cancel safety
///
/// Dropping it deregisters the timer from the reactor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::time::{AsyncIoClock, AsyncIoSleep, Clock};
///
/// let sleep: AsyncIoSleep = AsyncIoClock.sleep(Duration::ZERO);
/// smol::block_on(sleep); // already due: completes on the first poll
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncIoSleep {
    timer: Timer,
    /// When it completes, `None` for never; kept for `Debug`.
    deadline: Option<Instant>,
    /// The timer fired: a completed timer stays pending, so remember it.
    fired: bool,
    /// A reading of `Instant::now()` at or before the present, so `reset` can tell a deadline
    /// is within a century without reading the clock again.
    read_at: Instant,
}

impl AsyncIoSleep {
    fn at(now: Instant, deadline: Instant) -> AsyncIoSleep {
        if within_reach(now, deadline).is_none() {
            return AsyncIoSleep::never(now);
        }
        AsyncIoSleep {
            timer: Timer::at(deadline),
            deadline: Some(deadline),
            fired: false,
            read_at: now,
        }
    }

    fn never(now: Instant) -> AsyncIoSleep {
        AsyncIoSleep { timer: Timer::never(), deadline: None, fired: false, read_at: now }
    }
}

impl Clock for AsyncIoClock {
    type Sleep = AsyncIoSleep;

    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn sleep_until(&self, deadline: Instant) -> AsyncIoSleep {
        AsyncIoSleep::at(Instant::now(), deadline)
    }

    #[inline]
    fn sleep(&self, duration: Duration) -> AsyncIoSleep {
        let now = Instant::now();
        match now.checked_add(duration) {
            Some(deadline) if duration <= NEVER_AFTER => AsyncIoSleep::at(now, deadline),
            _ => AsyncIoSleep::never(now),
        }
    }

    #[inline]
    fn reset(&self, sleep: &mut AsyncIoSleep, deadline: Instant) {
        sleep.fired = false;
        // Time never goes backwards: within a century of an old reading is within a century
        // of now. Only a deadline further out needs a fresh reading to decide.
        if within_reach(sleep.read_at, deadline).is_none() {
            sleep.read_at = Instant::now();
        }
        sleep.deadline = within_reach(sleep.read_at, deadline);
        match sleep.deadline {
            Some(deadline) => sleep.timer.set_at(deadline),
            None => sleep.timer.clear(),
        }
    }
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.fired {
            return Poll::Ready(());
        }
        match Pin::new(&mut this.timer).poll(cx) {
            Poll::Ready(_) => {
                this.fired = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for AsyncIoSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("AsyncIoSleep");
        match self.deadline {
            Some(deadline) => debug.field("deadline", &deadline),
            None => debug.field("deadline", &"never"),
        };
        debug.field("fired", &self.fired).finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<AsyncIoClock>();
    assert_send_sync_unpin::<AsyncIoSleep>();
};
