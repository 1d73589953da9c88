use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::queue::{instant_at, lock, nanos_since};

/// A [`Lockout`](crate::Lockout) that admits waiters strictly in arrival order.
///
/// Entries wait until every lockout has expired, as with `Lockout`, and then enter one after
/// another in the order they first polled: the head of the line sleeps on the clock until the
/// lockout ends, and each waiter, as it enters, wakes the next. Nothing depends on anyone
/// being "inside", so the line moves even when nobody is (the seed hangs then), and a waiter
/// dropped while in line never enters (the seed lets it in anyway): the next one is woken
/// instead. A newcomer never passes someone already waiting.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::FifoLockout;
/// use asynchronously::time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let lockout = FifoLockout::with_clock(clock.clone());
/// lockout.lockout_for(Duration::from_millis(100));
/// let order = Mutex::new(Vec::new());
/// let callers = futures::future::join_all((0..3).map(|caller| {
///     let (lockout, order) = (&lockout, &order);
///     async move {
///         lockout.enter().await;
///         order.lock().unwrap().push(caller);
///     }
/// }));
/// futures::join!(callers, clock.run_for(Duration::from_secs(1)));
/// assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
/// # });
/// ```
pub struct FifoLockout<C: Clock = RealClock> {
    origin: Instant,
    clock: C,
    state: Mutex<State>,
}

struct State {
    /// The end of the latest lockout, in nanoseconds since `origin`; `u64::MAX` is "never".
    until: u64,
    next_id: u64,
    /// Waiters in arrival order, each with the waker to call when it becomes the head.
    line: VecDeque<(u64, Option<Waker>)>,
}

/// Future returned by [`FifoLockout::enter`].
///
/// # Cancel safety
///
/// Dropping it takes it out of the line; if it was at the head, the next waiter is woken. A
/// dropped waiter never enters.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::ratelimit::{FifoEnter, FifoLockout};
///
/// let lockout = FifoLockout::new();
/// let enter: FifoEnter<'_> = lockout.enter();
/// enter.await;
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct FifoEnter<'a, C: Clock = RealClock> {
    lockout: &'a FifoLockout<C>,
    /// Our place in line, once we have one.
    id: Option<u64>,
    /// The sleep of the head of the line and the end it is armed for.
    sleep: Option<(u64, C::Sleep)>,
    done: bool,
}

impl FifoLockout {
    /// A FIFO lockout gate on the real clock, open.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::FifoLockout;
    ///
    /// assert!(!FifoLockout::new().is_locked());
    /// ```
    pub fn new() -> FifoLockout {
        FifoLockout::with_clock(RealClock)
    }
}

impl Default for FifoLockout {
    fn default() -> FifoLockout {
        FifoLockout::new()
    }
}

impl<C: Clock> FifoLockout<C> {
    /// A FIFO lockout gate on `clock`, open.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::FifoLockout;
    /// use asynchronously::time::VirtualClock;
    ///
    /// assert_eq!(FifoLockout::with_clock(VirtualClock::new()).waiting(), 0);
    /// ```
    pub fn with_clock(clock: C) -> FifoLockout<C> {
        let state = State { until: 0, next_id: 0, line: VecDeque::new() };
        FifoLockout { origin: clock.now(), clock, state: Mutex::new(state) }
    }

    /// Locks new entries out for `duration` from now, unless a longer lockout is in force.
    /// [`Duration::MAX`] locks out forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::FifoLockout;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let lockout = FifoLockout::with_clock(VirtualClock::new());
    /// lockout.lockout_for(Duration::from_secs(1));
    /// assert!(lockout.is_locked());
    /// ```
    pub fn lockout_for(&self, duration: Duration) {
        let now = self.now();
        let end = u64::try_from(duration.as_nanos()).map_or(u64::MAX, |d| now.saturating_add(d));
        let mut state = lock(&self.state);
        state.until = state.until.max(end);
        #[cfg(feature = "tracing")]
        tracing::debug!(duration = ?duration, "ratelimit: locked out for {duration:?}");
    }

    /// Whether a lockout is in force now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::FifoLockout;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let lockout = FifoLockout::with_clock(clock.clone());
    /// lockout.lockout_for(Duration::from_secs(1));
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!lockout.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        lock(&self.state).until > self.now()
    }

    /// How many callers are in line.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::FifoLockout;
    ///
    /// assert_eq!(FifoLockout::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        lock(&self.state).line.len()
    }

    /// Waits until no lockout is in force and everyone who arrived earlier has entered, then
    /// enters.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future takes it out of the line; it never enters. See [`FifoEnter`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::FifoLockout;
    ///
    /// FifoLockout::new().enter().await;
    /// # });
    /// ```
    pub fn enter(&self) -> FifoEnter<'_, C> {
        FifoEnter { lockout: self, id: None, sleep: None, done: false }
    }

    fn now(&self) -> u64 {
        nanos_since(self.origin, self.clock.now())
    }
}

impl<C: Clock> Future for FifoEnter<'_, C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        assert!(!this.done, "`FifoEnter` polled after it completed");
        let lockout = this.lockout;
        loop {
            let until = {
                let mut state = lock(&lockout.state);
                let now = lockout.now();
                let id = match this.id {
                    Some(id) => id,
                    None if state.line.is_empty() && state.until <= now => {
                        this.done = true;
                        return Poll::Ready(());
                    }
                    None => {
                        let id = state.next_id;
                        state.next_id += 1;
                        state.line.push_back((id, None));
                        this.id = Some(id);
                        id
                    }
                };
                let head = state.line.front().is_some_and(|&(first, _)| first == id);
                if head && state.until <= now {
                    state.line.pop_front();
                    if let Some((_, Some(next))) =
                        state.line.front_mut().map(|(id, waker)| (id, waker.take()))
                    {
                        next.wake();
                    }
                    this.id = None;
                    this.sleep = None;
                    this.done = true;
                    return Poll::Ready(());
                }
                if let Some((_, waker)) = state.line.iter_mut().find(|(waiter, _)| *waiter == id) {
                    match waker {
                        Some(stored) => stored.clone_from(cx.waker()),
                        empty @ None => *empty = Some(cx.waker().clone()),
                    }
                }
                if !head {
                    return Poll::Pending;
                }
                state.until
            };
            let sleep = match &mut this.sleep {
                Some((at, sleep)) if *at == until => sleep,
                slot => {
                    let sleep = match instant_at(lockout.origin, until) {
                        Some(deadline) => lockout.clock.sleep_until(deadline),
                        None => lockout.clock.sleep(Duration::MAX),
                    };
                    &mut slot.insert((until, sleep)).1
                }
            };
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<C: Clock> Drop for FifoEnter<'_, C> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let mut state = lock(&self.lockout.state);
        let Some(index) = state.line.iter().position(|&(waiter, _)| waiter == id) else { return };
        state.line.remove(index);
        if index == 0 {
            if let Some((_, Some(next))) =
                state.line.front_mut().map(|(id, waker)| (id, waker.take()))
            {
                next.wake();
            }
        }
    }
}

impl<C: Clock> fmt::Debug for FifoLockout<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoLockout")
            .field("locked", &self.is_locked())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

impl<C: Clock> fmt::Debug for FifoEnter<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoEnter").field("in_line", &self.id.is_some()).finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FifoLockout>();
    assert_send_sync::<FifoEnter<'static>>();
};
