use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously_time::Clock;

use crate::error::AcquireError;
use crate::queue::instant_at;

/// The waiting side of a limiter: what [`Acquire`] and [`Reservation`](crate::Reservation)
/// need. Implemented by [`RateLimiter`](crate::RateLimiter) and
/// [`CompositeRateLimiter`](crate::CompositeRateLimiter); sealed (it cannot be named outside
/// this crate, so it cannot be implemented there).
pub trait Limiter {
    /// The clock the limiter measures time on.
    type Clock: Clock;

    /// The limiter's clock.
    fn clock(&self) -> &Self::Clock;

    /// The instant the limiter's nanosecond arithmetic counts from.
    fn origin(&self) -> Instant;

    /// Takes `n` cells now (`Ok(None)`) or reserves them, returning the reservation's id and
    /// when it is due.
    fn enqueue(&self, n: u32) -> Result<Option<(u64, u64)>, AcquireError>;

    /// Whether reservation `id` is due (`None`: it is, and it left the queue); if not, when
    /// it will be, and `waker` is kept to be told when it moves.
    fn turn(&self, id: u64, waker: &Waker) -> Option<u64>;

    /// When reservation `id` is due, if it is still queued.
    fn start_of(&self, id: u64) -> Option<u64>;

    /// Drops reservation `id`, returning its cells if it is not yet due.
    fn cancel(&self, id: u64);
}

/// Future returned by [`RateLimiter::acquire`](crate::RateLimiter::acquire),
/// [`CompositeRateLimiter::acquire`](crate::CompositeRateLimiter::acquire) and
/// [`Reservation::wait`](crate::Reservation::wait): completes once the cells are the caller's.
///
/// On its first poll it takes the cells at once if they conform; otherwise it **reserves**
/// them: its place in line is fixed then, the limiter's state moves past it, and it sleeps on
/// the clock until its reserved instant. Waiters are therefore admitted in the order they
/// first polled (FIFO, no barging by later [`check`](crate::RateLimiter::check)s), each with
/// exactly one wake-up: its own timer. Nobody re-checks in a loop.
///
/// # Cancel safety
///
/// Dropping it before its reserved instant returns its cells: the reservations behind it move
/// earlier (each is woken once to re-arm its timer). Dropping it after that instant, or after
/// completion, returns nothing: the cells were spent.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
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
/// let start = clock.now();
/// let limiter = RateLimiter::with_clock(Quota::per_second(2)?.with_burst(1)?, clock.clone());
/// let (first, second, ()) = futures::join!(
///     async { limiter.acquire(1).await.map(|()| clock.now() - start) },
///     async { limiter.acquire(1).await.map(|()| clock.now() - start) },
///     clock.run_for(Duration::from_secs(1)),
/// );
/// assert_eq!(first?, Duration::ZERO);
/// assert_eq!(second?, Duration::from_millis(500));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a, L: Limiter> {
    limiter: &'a L,
    state: State<<L::Clock as Clock>::Sleep>,
}

enum State<S> {
    Start(u32),
    Waiting {
        id: u64,
        /// The sleep and the instant (nanoseconds since the origin) it is armed for.
        sleep: Option<(u64, S)>,
    },
    Done,
}

impl<'a, L: Limiter> Acquire<'a, L> {
    pub(crate) fn new(limiter: &'a L, n: u32) -> Self {
        Acquire { limiter, state: State::Start(n) }
    }

    pub(crate) fn queued(limiter: &'a L, id: u64) -> Self {
        Acquire { limiter, state: State::Waiting { id, sleep: None } }
    }
}

impl<L: Limiter> Future for Acquire<'_, L> {
    type Output = Result<(), AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_state(this.limiter, &mut this.state, cx)
    }
}

/// The state machine shared by [`Acquire`] and [`AcquireOwned`].
#[inline]
fn poll_state<L: Limiter>(
    limiter: &L,
    state: &mut State<<L::Clock as Clock>::Sleep>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), AcquireError>> {
    loop {
        match &mut *state {
            State::Start(n) => match limiter.enqueue(*n) {
                Ok(Some((id, _))) => *state = State::Waiting { id, sleep: None },
                Ok(None) => {
                    *state = State::Done;
                    return Poll::Ready(Ok(()));
                }
                Err(error) => {
                    *state = State::Done;
                    return Poll::Ready(Err(error));
                }
            },
            State::Waiting { id, sleep } => match limiter.turn(*id, cx.waker()) {
                None => {
                    *state = State::Done;
                    return Poll::Ready(Ok(()));
                }
                Some(start) => {
                    let armed = match sleep {
                        Some((at, armed)) if *at == start => armed,
                        _ => {
                            let clock = limiter.clock();
                            let armed = match instant_at(limiter.origin(), start) {
                                Some(deadline) => clock.sleep_until(deadline),
                                None => clock.sleep(Duration::MAX),
                            };
                            &mut sleep.insert((start, armed)).1
                        }
                    };
                    if Pin::new(armed).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            },
            State::Done => panic!("`Acquire` polled after it completed"),
        }
    }
}

impl<L: Limiter> Drop for Acquire<'_, L> {
    fn drop(&mut self) {
        if let State::Waiting { id, .. } = self.state {
            self.limiter.cancel(id);
        }
    }
}

impl<L: Limiter> fmt::Debug for Acquire<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start(_) => "start",
            State::Waiting { .. } => "waiting",
            State::Done => "done",
        };
        f.debug_struct("Acquire").field("state", &state).finish_non_exhaustive()
    }
}

/// Future returned by [`RateLimiter::acquire_owned`](crate::RateLimiter::acquire_owned): an
/// [`Acquire`] that holds the limiter by [`Arc`], so it is `'static` and can be stored in a
/// struct or a `tower::Service` without a lifetime.
///
/// It waits exactly as [`Acquire`] does: cells taken at once when they conform, otherwise a
/// reservation fixed at its first poll (FIFO, no barging) and one wake-up at its instant.
///
/// # Cancel safety
///
/// As for [`Acquire`]: dropping it before its reserved instant returns its cells to the
/// waiters behind it; dropping it after that instant, or after completion, returns nothing.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{Quota, RateLimiter};
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let start = clock.now();
/// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1)?, clock.clone()));
/// Arc::clone(&limiter).acquire_owned(1).await?; // conforms now
/// let next = Arc::clone(&limiter).acquire_owned(1);
/// let (admitted, ()) = futures::join!(next, clock.run_for(Duration::from_secs(1)));
/// admitted?;
/// assert_eq!(clock.now() - start, Duration::from_secs(1));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AcquireOwned<L: Limiter> {
    limiter: Arc<L>,
    state: State<<L::Clock as Clock>::Sleep>,
}

impl<L: Limiter> AcquireOwned<L> {
    pub(crate) fn new(limiter: Arc<L>, n: u32) -> Self {
        AcquireOwned { limiter, state: State::Start(n) }
    }
}

impl<L: Limiter> Future for AcquireOwned<L> {
    type Output = Result<(), AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_state(&*this.limiter, &mut this.state, cx)
    }
}

impl<L: Limiter> Drop for AcquireOwned<L> {
    fn drop(&mut self) {
        if let State::Waiting { id, .. } = self.state {
            self.limiter.cancel(id);
        }
    }
}

impl<L: Limiter> fmt::Debug for AcquireOwned<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start(_) => "start",
            State::Waiting { .. } => "waiting",
            State::Done => "done",
        };
        f.debug_struct("AcquireOwned").field("state", &state).finish_non_exhaustive()
    }
}
