use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::Clock;

use crate::clock::{NEVER_AFTER, within_reach};

/// tokio's clock: `tokio::time::Instant` and `tokio::time::Sleep`, so tokio's paused time
/// drives every `asynchronously` crate.
///
/// Under `#[tokio::test(start_paused = true)]` or after `tokio::time::pause()` (tokio's
/// `test-util` feature), [`now`](Clock::now) reads tokio's paused clock and sleeps are tokio
/// timers, which the runtime auto-advances when it is idle: three retries 500 ms apart finish
/// at once in real time, exactly 1.5 s apart in tokio's time. Outside paused time it is
/// tokio's ordinary timer wheel. Zero-sized and `Copy`, like [`RealClock`](crate::RealClock).
///
/// tokio's timer counts whole milliseconds: a deadline between two ticks fires at the later
/// one. Under `start_paused = true`, sleeps of whole milliseconds end exactly on time.
///
/// Enabled by the `tokio` feature (of `asynchronously-time`, or of the facade, which
/// forwards it).
///
/// # Panics
///
/// Polling a [`TokioSleep`] that is not yet due outside a tokio runtime with the time driver
/// enabled panics, as polling `tokio::time::sleep` does. Creating one anywhere is fine: its
/// tokio timer is created on the first poll.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::time::{Clock, TokioClock};
///
/// // Paused time needs tokio's `test-util` feature; `#[tokio::test(start_paused = true)]` too.
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() {
///     let start = std::time::Instant::now();
///     let clock = TokioClock;
///     let before = clock.now();
///     clock.sleep(Duration::from_secs(3600)).await;
///     assert_eq!(clock.now() - before, Duration::from_secs(3600));
///     assert!(start.elapsed() < Duration::from_secs(60), "an hour of paused time is instant");
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokioClock;

/// Future returned by [`TokioClock::sleep`](Clock::sleep) and
/// [`TokioClock::sleep_until`](Clock::sleep_until): a boxed `tokio::time::Sleep`, made
/// `Unpin` so it can be stored and re-armed like every other clock's sleep.
///
/// The tokio timer is created on the first poll and reused by [`reset`](Clock::reset)
/// (`tokio::time::Sleep::reset`), so a periodic loop allocates once.
///
/// # Cancel safety
///
/// Dropping it deregisters the tokio timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::time::{Clock, TokioClock, TokioSleep};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let sleep: TokioSleep = TokioClock.sleep(Duration::from_millis(1));
///     sleep.await;
/// }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TokioSleep {
    /// When it completes; `None` for never.
    deadline: Option<Instant>,
    /// The tokio timer, once polled; reused across resets.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A reading of `now()` at or before the present, so `reset` can tell a deadline is within
    /// a century without reading the clock again (tokio's paused clock takes a lock).
    read_at: Instant,
}

impl TokioSleep {
    fn never(now: Instant) -> TokioSleep {
        TokioSleep { deadline: None, timer: None, read_at: now }
    }
}

impl Clock for TokioClock {
    type Sleep = TokioSleep;

    #[inline]
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    #[inline]
    fn sleep_until(&self, deadline: Instant) -> TokioSleep {
        let now = self.now();
        TokioSleep { deadline: within_reach(now, deadline), timer: None, read_at: now }
    }

    #[inline]
    fn sleep(&self, duration: Duration) -> TokioSleep {
        let now = self.now();
        match now.checked_add(duration) {
            Some(deadline) if duration <= NEVER_AFTER => {
                TokioSleep { deadline: Some(deadline), timer: None, read_at: now }
            }
            _ => TokioSleep::never(now),
        }
    }

    #[inline]
    fn reset(&self, sleep: &mut TokioSleep, deadline: Instant) {
        // Time never goes backwards: within a century of an old reading is within a century
        // of now. Only a deadline further out needs a fresh reading to decide.
        sleep.deadline = match within_reach(sleep.read_at, deadline) {
            Some(deadline) => Some(deadline),
            None => {
                sleep.read_at = self.now();
                within_reach(sleep.read_at, deadline)
            }
        };
        match (sleep.deadline, &mut sleep.timer) {
            (Some(deadline), Some(timer)) => timer.as_mut().reset(deadline.into()),
            // Never: the armed timer would fire at its old deadline; drop it.
            (None, timer) => *timer = None,
            (Some(_), None) => {}
        }
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        let timer =
            this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        timer.as_mut().poll(cx)
    }
}

impl fmt::Debug for TokioSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TokioSleep");
        match self.deadline {
            Some(deadline) => debug.field("deadline", &deadline),
            None => debug.field("deadline", &"never"),
        };
        debug.field("armed", &self.timer.is_some()).finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<TokioClock>();
    assert_send_sync_unpin::<TokioSleep>();
};
