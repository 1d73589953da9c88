use std::fmt;
use std::sync::Arc;
use std::task::{Poll, Waker};

use asynchronously_time::{Clock, RealClock};

use crate::semaphore::queue::{Aging, Outcome, Queue};
use crate::semaphore::wake_list::WakeList;
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::{
    Acquire, AcquireError, AcquireOwned, AddPermitsError, Builder, OwnedPermit, Permit, Priority,
    SetTotalError, TryAcquireError,
};

mod engine;
pub(crate) mod queue;
mod wake_list;

/// Set in `state` after `close()`.
const CLOSED: usize = 1 << (usize::BITS - 1);
/// Set in `state` while the wait queue is not empty, or permits are being retired: free
/// permits then belong to the queue and only the lock holder may take them, which is what
/// stops newcomers from barging, and releases take the lock.
const WAITERS: usize = 1 << (usize::BITS - 2);
/// The free-permit count in `state`.
const PERMITS: usize = WAITERS - 1;

/// A fair async semaphore that serves waiters by [`Priority`] (lower value first), FIFO among
/// equal priorities.
///
/// Acquire with an explicit priority ([`acquire`](Self::acquire),
/// [`acquire_many`](Self::acquire_many)), or with the ambient priority of the surrounding
/// [`with_priority`](crate::with_priority) scope ([`acquire_ambient`](Self::acquire_ambient)).
/// Permits are returned when the [`Permit`] is dropped.
///
/// # Fairness
///
/// - **No barging:** while anyone is queued, a free permit never goes to a newcomer, except a
///   newcomer that would itself be first in line (a strictly better priority than the head).
/// - **Direct hand-off:** a release hands permits straight to the waiters at the head of the
///   queue (taking them from the count) before waking them, so nobody can steal them between
///   the wake-up and the poll.
/// - **Head-of-line rule:** a multi-permit request at the head blocks everyone behind it until
///   enough permits are free, so it is never starved by smaller requests (tokio's rule). It
///   cannot idle the semaphore forever: a request for more than the
///   [total](Self::total_permits) fails at once with [`AcquireError::TooLarge`], and so do
///   queued requests when [`Permit::forget`] or [`set_total`](Self::set_total) shrinks the
///   total below them. While `set_total` retires held permits beyond a smaller total, returned
///   permits are retired before the head is served. The one exception
///   is a semaphore whose total is zero (never given permits, or all forgotten): every
///   request waits for [`add_permits`](Self::add_permits), which then rejects those that
///   still do not fit.
/// - **Aging** (optional, see [`Builder::aging`]): a waiter's effective priority improves by one
///   step per configured interval waited, up to a bound, so low priorities are not starved.
///
/// # Comparison
///
/// tokio's `Semaphore` is fair FIFO without priorities; `async-lock`'s is not fair; the
/// `priority-semaphore` crate has priorities but one permit per acquire, `Arc`-only acquires,
/// an allocation per queued waiter and no aging. This type is fair, prioritised, weighted and
/// optionally aging; its uncontended acquire and release are one compare-and-swap each, and
/// queueing a waiter allocates nothing once the queue has grown (aging included: it uses one
/// timer per semaphore). Serving `n` waiters, at one priority or `n` distinct ones, and
/// rejecting `n` of them at once, cost O(n log n) or less under the queue lock.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
///
/// let semaphore = PrioritySemaphore::new(2);
/// let first = semaphore.acquire(Priority::LOW).await?;
/// let second = semaphore.acquire(Priority::HIGH).await?;
/// assert_eq!(semaphore.available_permits(), 0);
/// drop((first, second));
/// assert_eq!(semaphore.available_permits(), 2);
/// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
/// # }).unwrap();
/// ```
pub struct PrioritySemaphore<C: Clock = RealClock> {
    /// Free permits plus the `CLOSED` and `WAITERS` flags. `WAITERS` is only changed, and
    /// permits are only taken while it is set, under the `queue` lock.
    state: AtomicUsize,
    /// The target total: permits in existence (free, held or assigned) minus those still to
    /// be retired; only changed under the `queue` lock.
    total: AtomicUsize,
    /// Permits still to be retired after [`set_total`](Self::set_total) shrank the total below
    /// the permits held: returned permits pay this first. While it is non-zero no permit is
    /// free and `WAITERS` stays set, so every release takes the lock. Only changed under the
    /// `queue` lock.
    retiring: AtomicUsize,
    queue: Mutex<Queue>,
    aging: Option<Aging>,
    /// On an aging semaphore, the one timer for the next moment the queue's order can change
    /// while free permits wait for a blocked head. Only locked under the `queue` lock.
    aging_timer: Mutex<engine::AgingTimer<C>>,
    clock: C,
}

/// What the lock-free fast path found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fast {
    Taken,
    /// Too few free permits and nobody queued.
    NotEnough,
    /// Waiters are queued or the semaphore is closed: take the lock.
    Slow,
}

impl PrioritySemaphore<RealClock> {
    /// The largest total number of permits (`usize::MAX >> 2`): two bits of the counter are
    /// flags.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// assert_eq!(PrioritySemaphore::MAX_PERMITS, usize::MAX >> 2);
    /// ```
    pub const MAX_PERMITS: usize = PERMITS;

    /// A semaphore with `permits` free permits, no aging and the [`RealClock`].
    ///
    /// Zero permits is allowed: acquires wait until [`add_permits`](Self::add_permits).
    ///
    /// # Panics
    ///
    /// Panics if `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS), like tokio's
    /// `Semaphore::new`; [`PrioritySemaphore::builder`] returns an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// static LIMIT: PrioritySemaphore = PrioritySemaphore::new(8);
    /// assert_eq!(LIMIT.available_permits(), 8);
    /// ```
    #[must_use]
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> PrioritySemaphore {
        assert!(permits <= PERMITS, "PrioritySemaphore::new: more than MAX_PERMITS permits");
        PrioritySemaphore {
            state: AtomicUsize::new(permits),
            total: AtomicUsize::new(permits),
            retiring: AtomicUsize::new(0),
            queue: Mutex::new(Queue::new()),
            aging: None,
            aging_timer: Mutex::new(engine::AgingTimer::new()),
            clock: RealClock,
        }
    }

    /// As the `const` constructor, for loom models (loom's primitives are not `const`).
    #[must_use]
    #[cfg(loom)]
    pub fn new(permits: usize) -> PrioritySemaphore {
        assert!(permits <= PERMITS, "PrioritySemaphore::new: more than MAX_PERMITS permits");
        PrioritySemaphore {
            state: AtomicUsize::new(permits),
            total: AtomicUsize::new(permits),
            retiring: AtomicUsize::new(0),
            queue: Mutex::new(Queue::new()),
            aging: None,
            aging_timer: Mutex::new(engine::AgingTimer::new()),
            clock: RealClock,
        }
    }

    /// A [`Builder`] for a semaphore with `permits` permits, to configure aging and the clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let semaphore = PrioritySemaphore::builder(4)
    ///     .aging(Duration::from_millis(100), 10)
    ///     .clock(VirtualClock::new())
    ///     .build()?;
    /// assert_eq!(semaphore.total_permits(), 4);
    /// # Ok::<(), asynchronously::priority_semaphore::BuildError>(())
    /// ```
    pub fn builder(permits: usize) -> Builder<RealClock> {
        Builder::new(permits)
    }
}

impl<C: Clock> PrioritySemaphore<C> {
    pub(crate) fn from_parts(permits: usize, aging: Option<Aging>, clock: C) -> Self {
        PrioritySemaphore {
            state: AtomicUsize::new(permits),
            total: AtomicUsize::new(permits),
            retiring: AtomicUsize::new(0),
            queue: Mutex::new(Queue::new()),
            aging,
            aging_timer: Mutex::new(engine::AgingTimer::new()),
            clock,
        }
    }

    /// Waits for one permit at `priority`.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit is handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future removes the waiter, and if a permit had already been
    /// handed to it, passes that permit on to the next waiter. Waiters behind it keep their
    /// places.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// let permit = semaphore.acquire(Priority::HIGH).await?;
    /// assert_eq!(permit.num_permits(), 1);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire(&self, priority: Priority) -> Acquire<'_, C> {
        Acquire::new(self, 1, Some(priority))
    }

    /// Waits for `permits` permits at once, at `priority`.
    ///
    /// Zero permits complete at once (unless the semaphore is closed). See the
    /// head-of-line rule in the [type docs](Self#fairness).
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooLarge`] if `permits` exceeds a non-zero total, at once or when the
    /// total changes while it waits; [`AcquireError::Closed`] if the semaphore is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire): nothing is lost, permits already handed
    /// over pass on.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(5);
    /// let permit = semaphore.acquire_many(3, Priority::NORMAL).await?;
    /// assert_eq!(semaphore.available_permits(), 2);
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 5);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_many(&self, permits: usize, priority: Priority) -> Acquire<'_, C> {
        Acquire::new(self, permits, Some(priority))
    }

    /// Waits for one permit at the ambient priority ([`Priority::current`]), read when the
    /// future is first polled — so `with_priority(p, semaphore.acquire_ambient())` uses `p`.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit is handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, with_priority};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// let permit = with_priority(Priority::LOW, async { semaphore.acquire_ambient().await }).await?;
    /// assert_eq!(permit.priority(), Priority::LOW);
    /// drop(permit);
    /// assert_eq!(semaphore.acquire_ambient().await?.priority(), Priority::NORMAL);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_ambient(&self) -> Acquire<'_, C> {
        Acquire::new(self, 1, None)
    }

    /// Waits for `permits` permits at the ambient priority, read at the first poll.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, with_priority};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// let permit = with_priority(Priority::HIGH, semaphore.acquire_many_ambient(2)).await?;
    /// assert_eq!((permit.num_permits(), permit.priority()), (2, Priority::HIGH));
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_many_ambient(&self, permits: usize) -> Acquire<'_, C> {
        Acquire::new(self, permits, None)
    }

    /// Takes one permit now if an acquire at `priority` would be served at once.
    ///
    /// That is: a permit is free and no queued waiter is ahead of `priority` (ties go to the
    /// queued waiter). It never overtakes the queue.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if it would have to wait, [`TryAcquireError::Closed`]
    /// if the semaphore is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, TryAcquireError};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// let permit = semaphore.try_acquire(Priority::NORMAL)?;
    /// assert_eq!(semaphore.try_acquire(Priority::HIGH).unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// # Ok::<(), TryAcquireError>(())
    /// ```
    #[inline]
    pub fn try_acquire(&self, priority: Priority) -> Result<Permit<'_, C>, TryAcquireError> {
        self.try_acquire_many(1, priority)
    }

    /// Takes `permits` permits now if an acquire of them at `priority` would be served at once.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if it would have to wait, [`TryAcquireError::TooLarge`]
    /// if `permits` exceeds a non-zero total, [`TryAcquireError::Closed`] if the semaphore is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, TryAcquireError};
    ///
    /// let semaphore = PrioritySemaphore::new(4);
    /// let permit = semaphore.try_acquire_many(3, Priority::NORMAL)?;
    /// assert_eq!(
    ///     semaphore.try_acquire_many(2, Priority::NORMAL).unwrap_err(),
    ///     TryAcquireError::NoPermits
    /// );
    /// assert_eq!(permit.num_permits(), 3);
    /// # Ok::<(), TryAcquireError>(())
    /// ```
    #[inline]
    pub fn try_acquire_many(
        &self,
        permits: usize,
        priority: Priority,
    ) -> Result<Permit<'_, C>, TryAcquireError> {
        self.try_take(permits, priority)?;
        Ok(Permit::new(self, permits, priority))
    }

    /// Waits for one permit at `priority`; the permit keeps the semaphore alive.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit is handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// let permit = Arc::clone(&semaphore).acquire_owned(Priority::NORMAL).await?;
    /// assert_eq!(semaphore.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 1);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_owned(self: Arc<Self>, priority: Priority) -> AcquireOwned<C> {
        AcquireOwned::new(self, 1, Some(priority))
    }

    /// Waits for `permits` permits at `priority`; the permit keeps the semaphore alive.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(3));
    /// let permit = Arc::clone(&semaphore).acquire_many_owned(2, Priority::LOW).await?;
    /// assert_eq!(permit.num_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        permits: usize,
        priority: Priority,
    ) -> AcquireOwned<C> {
        AcquireOwned::new(self, permits, Some(priority))
    }

    /// Waits for one permit at the ambient priority, read at the first poll; the permit keeps
    /// the semaphore alive.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit is handed over.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore, with_priority};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// let acquire = Arc::clone(&semaphore).acquire_ambient_owned();
    /// let permit = with_priority(Priority::HIGH, acquire).await?;
    /// assert_eq!(permit.priority(), Priority::HIGH);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn acquire_ambient_owned(self: Arc<Self>) -> AcquireOwned<C> {
        AcquireOwned::new(self, 1, None)
    }

    /// Takes one permit now, as [`try_acquire`](Self::try_acquire); the permit keeps the
    /// semaphore alive.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// let permit = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL)?;
    /// assert_eq!(semaphore.available_permits(), 0);
    /// # drop(permit);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[inline]
    pub fn try_acquire_owned(
        self: Arc<Self>,
        priority: Priority,
    ) -> Result<OwnedPermit<C>, TryAcquireError> {
        self.try_acquire_many_owned(1, priority)
    }

    /// Takes `permits` permits now, as [`try_acquire_many`](Self::try_acquire_many); the permit
    /// keeps the semaphore alive.
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(3));
    /// let permit = Arc::clone(&semaphore).try_acquire_many_owned(3, Priority::NORMAL)?;
    /// assert_eq!(permit.num_permits(), 3);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[inline]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        permits: usize,
        priority: Priority,
    ) -> Result<OwnedPermit<C>, TryAcquireError> {
        self.try_take(permits, priority)?;
        Ok(OwnedPermit::new(self, permits, priority))
    }

    /// Adds `permits` new permits, handing them to queued waiters first.
    ///
    /// If the total was zero, queued requests larger than the new total fail with
    /// [`AcquireError::TooLarge`].
    ///
    /// # Errors
    ///
    /// [`AddPermitsError::TooMany`] if the total would exceed
    /// [`MAX_PERMITS`](PrioritySemaphore::MAX_PERMITS); nothing is added then.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// let semaphore = PrioritySemaphore::new(0);
    /// semaphore.add_permits(2)?;
    /// assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (2, 2));
    /// # Ok::<(), asynchronously::priority_semaphore::AddPermitsError>(())
    /// ```
    pub fn add_permits(&self, permits: usize) -> Result<(), AddPermitsError> {
        let queue = self.lock();
        let total = self.total.load(Ordering::Relaxed);
        if permits > PERMITS - total {
            return Err(AddPermitsError::TooMany { added: permits, total, max: PERMITS });
        }
        self.total.store(total + permits, Ordering::Release);
        // Requests queued while the total was zero may not fit the new total.
        let queue = if total == 0 { self.reject_too_large(queue, permits) } else { queue };
        self.dispatch_and_unlock(queue, permits);
        Ok(())
    }

    /// Destroys up to `permits` free permits without holding them, and returns how many it
    /// destroyed (fewer when fewer are free). The [total](Self::total_permits) shrinks by as
    /// many; queued requests larger than the new (non-zero) total fail with
    /// [`AcquireError::TooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(5);
    /// let _held = semaphore.try_acquire_many(2, Priority::NORMAL)?;
    /// assert_eq!(semaphore.forget_permits(4), 3, "only three were free");
    /// assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (0, 2));
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    pub fn forget_permits(&self, permits: usize) -> usize {
        let queue = self.lock();
        // Under the lock: free permits leave the count only here and through the fast path,
        // and the compare-and-swap below races only fast paths.
        let mut state = self.state.load(Ordering::Relaxed);
        let taken = loop {
            let taken = permits.min(state & PERMITS);
            match self.state.compare_exchange_weak(
                state,
                state - taken,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break taken,
                Err(actual) => state = actual,
            }
        };
        if taken == 0 {
            return 0;
        }
        let total = self.total.load(Ordering::Relaxed) - taken;
        self.total.store(total, Ordering::Release);
        let queue = self.reject_too_large(queue, total);
        self.dispatch_and_unlock(queue, 0);
        taken
    }

    /// Sets the [total](Self::total_permits) to `total`, even while permits are held: like
    /// [`Permit::forget`] without holding the permits, or [`add_permits`](Self::add_permits).
    ///
    /// [`total_permits`](Self::total_permits) reports the new total at once.
    ///
    /// - **Growing** adds the difference, as [`add_permits`](Self::add_permits) does: queued
    ///   waiters are served first.
    /// - **Shrinking** destroys free permits at once, and if more permits are held than the
    ///   new total allows, retires the excess as held permits come back (dropped, or handed
    ///   back by a cancelled waiter; a [forgotten](Permit::forget) permit counts as retired).
    ///   Meanwhile no permit is free ([`available_permits`](Self::available_permits) is zero,
    ///   never negative) and returned permits go to retirement before any waiter: the head of
    ///   the queue, and everyone behind it, wait until the held permits are down to the new
    ///   total. Queued requests for more than a non-zero new total fail at once with
    ///   [`AcquireError::TooLarge`], as when [`Permit::forget`] shrinks the total; a total of
    ///   zero keeps every request waiting for permits to be added.
    ///
    /// Growing while permits are still being retired cancels that much retirement first.
    ///
    /// # Errors
    ///
    /// [`SetTotalError::TooMany`] if `total` exceeds
    /// [`MAX_PERMITS`](PrioritySemaphore::MAX_PERMITS); nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(4);
    /// let first = semaphore.try_acquire_many(2, Priority::NORMAL)?;
    /// let second = semaphore.try_acquire_many(2, Priority::NORMAL)?;
    /// semaphore.set_total(1)?;
    /// assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (0, 1));
    /// drop(first); // both retired
    /// assert_eq!(semaphore.available_permits(), 0);
    /// drop(second); // one retired, one free
    /// assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (1, 1));
    /// semaphore.set_total(3)?;
    /// assert_eq!(semaphore.available_permits(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_total(&self, total: usize) -> Result<(), SetTotalError> {
        let queue = self.lock();
        if total > PERMITS {
            return Err(SetTotalError::TooMany { requested: total, max: PERMITS });
        }
        let old = self.total.load(Ordering::Relaxed);
        if total >= old {
            let added = total - old;
            self.total.store(total, Ordering::Release);
            // Requests queued while the total was zero may not fit the new total.
            let queue = if old == 0 { self.reject_too_large(queue, total) } else { queue };
            // Pays off retirement first, then serves waiters.
            self.dispatch_and_unlock(queue, added);
            return Ok(());
        }
        let excess = old - total;
        // Under the lock: free permits leave the count only here and through the fast path.
        // Permits still owed after the free ones keep `WAITERS` set, so releases lock.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let taken = excess.min(state & PERMITS);
            let owed = excess - taken;
            let flag = if owed == 0 { 0 } else { WAITERS };
            match self.state.compare_exchange_weak(
                state,
                (state - taken) | flag,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let retiring = self.retiring.load(Ordering::Relaxed);
                    self.retiring.store(retiring + owed, Ordering::Relaxed);
                    break;
                }
                Err(actual) => state = actual,
            }
        }
        self.total.store(total, Ordering::Release);
        let queue = self.reject_too_large(queue, total);
        // A rejected head may have blocked the waiters behind it.
        self.dispatch_and_unlock(queue, 0);
        Ok(())
    }

    /// Waits for one permit at `priority`, blocking the current thread.
    ///
    /// For synchronous code that shares a limit with async code. Do not call it from inside
    /// an async task: it blocks the executor thread.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// let permit = semaphore.acquire_blocking(Priority::NORMAL)?;
    /// assert_eq!(semaphore.available_permits(), 0);
    /// # drop(permit);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// ```
    pub fn acquire_blocking(&self, priority: Priority) -> Result<Permit<'_, C>, AcquireError> {
        block_on(self.acquire(priority))
    }

    /// Waits for `permits` permits at `priority`, blocking the current thread, as
    /// [`acquire_blocking`](Self::acquire_blocking).
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// let permit = semaphore.acquire_many_blocking(2, Priority::NORMAL)?;
    /// assert_eq!(permit.num_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
    /// ```
    pub fn acquire_many_blocking(
        &self,
        permits: usize,
        priority: Priority,
    ) -> Result<Permit<'_, C>, AcquireError> {
        block_on(self.acquire_many(permits, priority))
    }

    /// Closes the semaphore: every queued waiter and every later acquire gets
    /// [`AcquireError::Closed`] (or [`TryAcquireError::Closed`]).
    ///
    /// Permits already held stay valid and are still returned when dropped; waiters that were
    /// handed permits before the close keep them. Closing twice does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{AcquireError, Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// semaphore.close();
    /// assert!(semaphore.is_closed());
    /// assert_eq!(semaphore.acquire(Priority::HIGH).await.unwrap_err(), AcquireError::Closed);
    /// # });
    /// ```
    pub fn close(&self) {
        let mut queue = self.lock();
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        loop {
            let mut wakers = WakeList::new();
            while !wakers.is_full() {
                let Some(slot_idx) = queue.any_waiting() else { break };
                wakers.push(queue.finish(slot_idx, Outcome::Closed));
            }
            let more = !queue.is_empty();
            let mut stale = None;
            if self.idle(&queue) {
                self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            }
            if !more {
                stale = self.arm_aging(&queue);
            }
            drop(queue);
            drop(stale);
            wakers.wake_all();
            if !more {
                return;
            }
            queue = self.lock();
        }
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// assert!(!semaphore.is_closed());
    /// ```
    #[must_use]
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Permits free right now.
    ///
    /// Free permits can coexist with queued waiters when the head waiter asks for more than
    /// are free (the head-of-line rule): they are kept for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// let _permit = semaphore.try_acquire(Priority::NORMAL)?;
    /// assert_eq!(semaphore.available_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Acquire) & PERMITS
    }

    /// Permits in existence: free, held, or handed to a waiter not yet polled. It grows with
    /// [`add_permits`](Self::add_permits) and shrinks with [`Permit::forget`]; after
    /// [`set_total`](Self::set_total) it is the new total at once, even while the excess
    /// held permits are still out.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// semaphore.try_acquire(Priority::NORMAL)?.forget();
    /// assert_eq!(semaphore.total_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn total_permits(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Waiters queued at exactly `priority` (their base priority, before aging).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(0);
    /// let mut acquire = pin!(semaphore.acquire(Priority::LOW));
    /// assert!(acquire.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    /// assert_eq!(semaphore.waiting(Priority::LOW), 1);
    /// assert_eq!(semaphore.waiting(Priority::HIGH), 0);
    /// ```
    #[must_use]
    pub fn waiting(&self, priority: Priority) -> usize {
        self.lock().waiting(priority)
    }

    /// Waiters queued at any priority.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    ///
    /// assert_eq!(PrioritySemaphore::new(1).waiting_total(), 0);
    /// ```
    #[must_use]
    pub fn waiting_total(&self) -> usize {
        self.lock().len()
    }

    /// The clock aging is measured on.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::PrioritySemaphore;
    /// use asynchronously::time::RealClock;
    ///
    /// assert_eq!(*PrioritySemaphore::new(1).clock(), RealClock);
    /// ```
    #[must_use]
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

/// Polls `future` to completion on this thread, parking between wake-ups.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

impl<C: Clock> fmt::Debug for PrioritySemaphore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrioritySemaphore")
            .field("available_permits", &self.available_permits())
            .field("total_permits", &self.total_permits())
            .field("waiting", &self.waiting_total())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// Compile-time promise, kept next to the type: losing it is a breaking change.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PrioritySemaphore>();
    assert_send_sync::<PrioritySemaphore<asynchronously_time::VirtualClock>>();
};
