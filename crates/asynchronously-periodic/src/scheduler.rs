use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

use crate::InsertError;

mod deliveries;

pub use self::deliveries::Deliveries;

/// One-shot scheduling: payloads inserted with an instant come out of a stream at that
/// instant (the seed's async-utils `Scheduler`).
///
/// [`Scheduler::new`] returns the scheduler (cloneable; every clone inserts into the same
/// queue) and its [`Deliveries`] stream. Payloads come out in instant order, equal instants
/// in insertion order. [`cancel`](Scheduler::cancel) takes a payload back by the
/// [`ScheduleToken`] its insert returned. [`close`](Scheduler::close) ends the stream at once,
/// even when it is empty, and delivers nothing more. The stream also ends once every
/// scheduler handle is dropped and the queue has drained.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::periodic::Scheduler;
/// use asynchronously::time::VirtualClock;
/// use futures::StreamExt;
///
/// let clock = VirtualClock::new();
/// let (scheduler, deliveries) = Scheduler::with_clock(clock.clone());
/// scheduler.insert_after(Duration::from_secs(3), "three")?;
/// scheduler.insert_after(Duration::from_secs(1), "one")?;
/// let cancelled = scheduler.insert_after(Duration::from_secs(2), "two")?;
/// assert_eq!(scheduler.cancel(cancelled), Some("two"));
/// drop(scheduler); // the stream ends once the queue drains
///
/// let (delivered, ()) =
///     futures::join!(deliveries.collect::<Vec<_>>(), clock.run_for(Duration::from_secs(5)));
/// assert_eq!(delivered, ["one", "three"]);
/// # Ok::<_, asynchronously::periodic::InsertError<&str>>(())
/// # }).unwrap();
/// ```
pub struct Scheduler<T, C: Clock = RealClock> {
    shared: Arc<Shared<T>>,
    clock: C,
}

/// Identifies a scheduled payload, to [`cancel`](Scheduler::cancel) it.
///
/// # Examples
///
/// See [`Scheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleToken {
    scheduler: u64,
    key: Key,
}

/// When a payload is due; `Never` sorts after every instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum When {
    At(Instant),
    Never,
}

/// Queue order: instant, then insertion.
pub(crate) type Key = (When, u64);

pub(crate) struct Shared<T> {
    id: u64,
    state: Mutex<State<T>>,
}

pub(crate) struct State<T> {
    pub(crate) queue: BTreeMap<Key, T>,
    next_seq: u64,
    pub(crate) closed: bool,
    /// Live `Scheduler` handles; with none left, the stream ends once the queue drains.
    pub(crate) handles: usize,
    /// The waker of the `Deliveries` stream.
    pub(crate) waker: Option<Waker>,
}

static NEXT_SCHEDULER_ID: AtomicU64 = AtomicU64::new(0);

impl<T> Scheduler<T> {
    /// Creates a scheduler on the [`RealClock`] and its stream of deliveries.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::periodic::Scheduler;
    ///
    /// let (scheduler, deliveries) = Scheduler::<String>::new();
    /// # let _ = (scheduler, deliveries);
    /// ```
    pub fn new() -> (Self, Deliveries<T>) {
        Self::with_clock(RealClock)
    }
}

impl<T, C: Clock> Scheduler<T, C> {
    /// Creates a scheduler on `clock` and its stream of deliveries.
    ///
    /// # Examples
    ///
    /// See [`Scheduler`].
    pub fn with_clock(clock: C) -> (Self, Deliveries<T, C>) {
        let shared = Arc::new(Shared {
            id: NEXT_SCHEDULER_ID.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                queue: BTreeMap::new(),
                next_seq: 0,
                closed: false,
                handles: 1,
                waker: None,
            }),
        });
        let deliveries = Deliveries::new(Arc::clone(&shared), clock.clone());
        (Scheduler { shared, clock }, deliveries)
    }

    /// Schedules `payload` for delivery at `at`. An instant already past is delivered at once.
    ///
    /// # Errors
    ///
    /// [`InsertError`], holding the payload, if the scheduler is closed or its
    /// [`Deliveries`] stream was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Scheduler;
    /// use asynchronously::time::{Clock, VirtualClock};
    /// use futures::StreamExt;
    ///
    /// let clock = VirtualClock::new();
    /// let (scheduler, mut deliveries) = Scheduler::with_clock(clock.clone());
    /// scheduler.insert_at(clock.now() - Duration::from_secs(1), "overdue")?;
    /// assert_eq!(deliveries.next().await, Some("overdue"));
    /// # Ok::<_, asynchronously::periodic::InsertError<&str>>(())
    /// # }).unwrap();
    /// ```
    pub fn insert_at(&self, at: Instant, payload: T) -> Result<ScheduleToken, InsertError<T>> {
        self.insert(When::At(at), payload)
    }

    /// Schedules `payload` for delivery `delay` from now. A delay too large for the clock
    /// (such as `Duration::MAX`) means never: the payload waits until cancelled or closed.
    ///
    /// # Errors
    ///
    /// As [`insert_at`](Scheduler::insert_at).
    ///
    /// # Examples
    ///
    /// See [`Scheduler`].
    pub fn insert_after(
        &self,
        delay: Duration,
        payload: T,
    ) -> Result<ScheduleToken, InsertError<T>> {
        let when = self.clock.deadline_after(delay).map_or(When::Never, When::At);
        self.insert(when, payload)
    }

    fn insert(&self, when: When, payload: T) -> Result<ScheduleToken, InsertError<T>> {
        let waker = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(InsertError(payload));
            }
            let key = (when, state.next_seq);
            state.next_seq += 1;
            let first = state.queue.first_key_value().is_none_or(|(&first, _)| key < first);
            state.queue.insert(key, payload);
            let waker = if first { state.waker.take() } else { None };
            (ScheduleToken { scheduler: self.shared.id, key }, waker)
        };
        let (token, waker) = waker;
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(token)
    }

    /// Takes a payload back before its delivery; `None` if it was already delivered,
    /// cancelled, discarded by [`close`](Scheduler::close), or belongs to another scheduler.
    ///
    /// # Examples
    ///
    /// See [`Scheduler`].
    pub fn cancel(&self, token: ScheduleToken) -> Option<T> {
        if token.scheduler != self.shared.id {
            return None;
        }
        let mut state = self.shared.lock();
        let was_first = state.queue.first_key_value().is_some_and(|(&first, _)| first == token.key);
        let payload = state.queue.remove(&token.key);
        let waker = if was_first { state.waker.take() } else { None };
        drop(state);
        if let Some(waker) = waker {
            // The stream sleeps until the cancelled instant; let it pick the new first one.
            waker.wake();
        }
        payload
    }

    /// Closes the scheduler: the stream ends now, even when it is empty, and nothing more
    /// is delivered or accepted. Returns the payloads that were still waiting, in delivery
    /// order, so none is lost silently. Closing twice returns nothing the second time.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Scheduler;
    /// use futures::StreamExt;
    ///
    /// let (scheduler, mut deliveries) = Scheduler::new();
    /// scheduler.insert_after(Duration::from_secs(60), 1)?;
    /// assert_eq!(scheduler.close(), [1]);
    /// assert_eq!(deliveries.next().await, None);
    /// # Ok::<_, asynchronously::periodic::InsertError<i32>>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> Vec<T> {
        let (queue, waker) = {
            let mut state = self.shared.lock();
            state.closed = true;
            (std::mem::take(&mut state.queue), state.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        queue.into_values().collect()
    }

    /// Whether the scheduler is closed (by [`close`](Scheduler::close) or because its
    /// [`Deliveries`] stream was dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::periodic::Scheduler;
    ///
    /// let (scheduler, deliveries) = Scheduler::<u8>::new();
    /// drop(deliveries);
    /// assert!(scheduler.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// How many payloads wait for delivery.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::Scheduler;
    ///
    /// let (scheduler, _deliveries) = Scheduler::new();
    /// assert!(scheduler.is_empty());
    /// scheduler.insert_after(Duration::from_secs(1), ())?;
    /// assert_eq!(scheduler.len(), 1);
    /// # Ok::<_, asynchronously::periodic::InsertError<()>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Whether no payload waits for delivery.
    ///
    /// # Examples
    ///
    /// See [`len`](Scheduler::len).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T, C: Clock> Clone for Scheduler<T, C> {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Scheduler { shared: Arc::clone(&self.shared), clock: self.clock.clone() }
    }
}

impl<T, C: Clock> Drop for Scheduler<T, C> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.handles -= 1;
            if state.handles == 0 { state.waker.take() } else { None }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, C: Clock> fmt::Debug for Scheduler<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Scheduler")
            .field("waiting", &state.queue.len())
            .field("closed", &state.closed)
            .finish_non_exhaustive()
    }
}

impl<T> Shared<T> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under this lock (payloads are dropped outside it), so a poisoned
        // lock still holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scheduler<String>>();
    assert_send_sync::<ScheduleToken>();
};
