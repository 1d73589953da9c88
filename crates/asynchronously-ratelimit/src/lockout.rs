use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::queue::{instant_at, nanos_since};

/// A gate that callers pass through unless it is locked out for a while.
///
/// [`lockout_for(d)`](Self::lockout_for) locks new entries out for `d`; lockouts stack, so
/// entries wait until **every** lockout has expired (the latest end wins, a shorter lockout
/// never cuts a longer one short). Callers already past the gate are not affected: a lockout
/// only delays [`enter`](Self::enter)s. Typical use: a server answered `429 Retry-After: 30`,
/// so nobody calls it for 30 seconds.
///
/// Waiting is event-driven on the clock: a waiter sleeps until the lockout's end. Waiters are
/// released together and in no particular order; [`FifoLockout`](crate::FifoLockout) admits
/// them in arrival order.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::Lockout;
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let lockout = Lockout::with_clock(clock.clone());
/// lockout.lockout_for(Duration::from_millis(200));
/// lockout.lockout_for(Duration::from_millis(100)); // stacks: still locked until 200 ms
/// let start = clock.now();
/// let (entered, ()) = futures::join!(
///     async { lockout.enter().await; clock.now() - start },
///     clock.run_for(Duration::from_secs(1)),
/// );
/// assert_eq!(entered, Duration::from_millis(200));
/// # });
/// ```
pub struct Lockout<C: Clock = RealClock> {
    /// The end of the latest lockout, in nanoseconds since `origin`; `u64::MAX` is "never".
    until: AtomicU64,
    origin: Instant,
    clock: C,
}

/// Future returned by [`Lockout::enter`].
///
/// # Cancel safety
///
/// Dropping it releases its sleep; nothing else was registered.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::ratelimit::{Enter, Lockout};
///
/// let lockout = Lockout::new();
/// let enter: Enter<'_> = lockout.enter();
/// enter.await; // not locked out: enters at once
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Enter<'a, C: Clock = RealClock> {
    lockout: &'a Lockout<C>,
    /// The sleep and the end (nanoseconds since the origin) it is armed for.
    sleep: Option<(u64, C::Sleep)>,
}

impl Lockout {
    /// A lockout gate on the real clock, open.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::Lockout;
    ///
    /// assert!(!Lockout::new().is_locked());
    /// ```
    pub fn new() -> Lockout {
        Lockout::with_clock(RealClock)
    }
}

impl Default for Lockout {
    fn default() -> Lockout {
        Lockout::new()
    }
}

impl<C: Clock> Lockout<C> {
    /// A lockout gate on `clock`, open.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::Lockout;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let lockout = Lockout::with_clock(VirtualClock::new());
    /// assert!(lockout.locked_until().is_none());
    /// ```
    pub fn with_clock(clock: C) -> Lockout<C> {
        Lockout { until: AtomicU64::new(0), origin: clock.now(), clock }
    }

    /// Locks new entries out for `duration` from now, unless a longer lockout is in force.
    /// [`Duration::MAX`] (or any duration past the clock's range) locks out forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Lockout;
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let lockout = Lockout::with_clock(clock.clone());
    /// lockout.lockout_for(Duration::from_secs(5));
    /// lockout.lockout_for(Duration::from_secs(1));
    /// assert_eq!(lockout.locked_until(), Some(clock.now() + Duration::from_secs(5)));
    /// ```
    pub fn lockout_for(&self, duration: Duration) {
        let now = nanos_since(self.origin, self.clock.now());
        let end = u64::try_from(duration.as_nanos()).map_or(u64::MAX, |d| now.saturating_add(d));
        self.until.fetch_max(end, Ordering::AcqRel);
        #[cfg(feature = "tracing")]
        tracing::debug!(duration = ?duration, "ratelimit: locked out for {duration:?}");
    }

    /// Whether new entries would wait now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Lockout;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let lockout = Lockout::with_clock(clock.clone());
    /// lockout.lockout_for(Duration::from_secs(1));
    /// assert!(lockout.is_locked());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!lockout.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.until.load(Ordering::Acquire) > nanos_since(self.origin, self.clock.now())
    }

    /// When the latest lockout ends, if one is in force (`None` also for "forever" past the
    /// clock's range: see [`is_locked`](Self::is_locked)).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::Lockout;
    ///
    /// assert_eq!(Lockout::new().locked_until(), None);
    /// ```
    pub fn locked_until(&self) -> Option<Instant> {
        if !self.is_locked() {
            return None;
        }
        instant_at(self.origin, self.until.load(Ordering::Acquire))
    }

    /// Waits until no lockout is in force, then enters.
    ///
    /// A lockout added while waiting extends the wait.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future releases its sleep; it never entered.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Lockout;
    ///
    /// let lockout = Lockout::new();
    /// lockout.enter().await;
    /// # });
    /// ```
    pub fn enter(&self) -> Enter<'_, C> {
        Enter { lockout: self, sleep: None }
    }
}

impl<C: Clock> Future for Enter<'_, C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let lockout = this.lockout;
            let until = lockout.until.load(Ordering::Acquire);
            if until <= nanos_since(lockout.origin, lockout.clock.now()) {
                this.sleep = None;
                return Poll::Ready(());
            }
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

impl<C: Clock> fmt::Debug for Lockout<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lockout").field("locked", &self.is_locked()).finish_non_exhaustive()
    }
}

impl<C: Clock> fmt::Debug for Enter<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enter").field("sleeping", &self.sleep.is_some()).finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lockout>();
    assert_send_sync::<Enter<'static>>();
};
