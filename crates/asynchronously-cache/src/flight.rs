//! One shared computation of one key: pollable by any of its waiters, never poisoned.
//!
//! The user's future lives in the flight, not in the caller that started it. Whichever waiter
//! is polled first takes the future out, polls it with the flight's own waker (which wakes
//! every registered waiter) and puts it back, all without holding the lock during the poll.
//! So a dropped leader only stops polling; the next waiter woken carries on. A panic during a
//! poll is caught and becomes [`Failure::Panicked`].

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use crate::key::Hashed;

/// A computation's error, type-erased so waiters with the same `E` can share it.
pub(crate) type ErrorBox = Arc<dyn Any + Send + Sync>;

/// The user's computation, boxed so any waiter can poll it.
pub(crate) type BoxComputation<V> = Pin<Box<dyn Future<Output = Result<V, ErrorBox>> + Send>>;

/// Why a flight produced no value.
#[derive(Clone)]
pub(crate) enum Failure {
    Error(ErrorBox),
    Panicked(Arc<str>),
    Recursive,
}

pub(crate) type FlightResult<V> = Result<V, Failure>;

pub(crate) struct Flight<K, V> {
    pub(crate) key: Hashed<K>,
    /// A refresh of a stored value (which stays served while it runs).
    pub(crate) refresh: bool,
    /// Whether the computation survives its last waiter leaving (parked, or handed to a worker).
    pub(crate) keep: bool,
    state: Mutex<State<V>>,
    waker: Waker,
}

struct State<V> {
    phase: Phase<V>,
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
    waiters: usize,
    /// Handed to a worker's queue and not yet picked up.
    queued: bool,
    /// The computation woke its waker while it was being polled: poll it again.
    notified: bool,
}

enum Phase<V> {
    /// The first caller is creating the future.
    Starting,
    /// Ready to be polled by any waiter.
    Idle(BoxComputation<V>),
    /// A waiter is polling the future right now (or publishing its result).
    Polling,
    Done(FlightResult<V>),
    /// The last waiter left and the computation was dropped.
    Abandoned,
}

/// What one waiter's poll found.
pub(crate) enum Polled<V> {
    /// The computation had finished.
    Done(FlightResult<V>),
    /// This waiter's poll finished it: publish the result, then [`Flight::finish`].
    Completed(FlightResult<V>),
    /// The flight was abandoned: look the key up again.
    Abandoned,
}

/// What happened when a waiter left.
pub(crate) enum Left<V> {
    Stayed,
    /// The last waiter left a computation that is not kept: drop it and unlink the flight.
    Abandoned(Option<BoxComputation<V>>),
    /// The last waiter left a kept computation: hand it to a worker if one runs.
    Parked,
}

struct FlightWake<K, V>(Weak<Flight<K, V>>);

impl<K: Send + Sync + 'static, V: Clone + Send + 'static> Wake for FlightWake<K, V> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(flight) = self.0.upgrade() {
            flight.wake_all();
        }
    }
}

thread_local! {
    /// The flights being polled on this thread, innermost last: a waiter polled from inside
    /// its own flight's computation is a recursive wait.
    static POLLING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

struct PollingGuard;

impl PollingGuard {
    fn enter(address: usize) -> PollingGuard {
        POLLING.with(|stack| stack.borrow_mut().push(address));
        PollingGuard
    }
}

impl Drop for PollingGuard {
    fn drop(&mut self) {
        POLLING.with(|stack| stack.borrow_mut().pop());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-supplied runs under this lock, but a poisoned lock must not make every
    // later caller panic: the state is kept consistent before anything that can unwind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        Arc::from(*message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        Arc::from(message.as_str())
    } else {
        Arc::from("a non-string panic payload")
    }
}

impl<K: Send + Sync + 'static, V: Clone + Send + 'static> Flight<K, V> {
    /// A flight in its starting phase, with the starting caller as waiter 0.
    pub(crate) fn new(key: Hashed<K>, refresh: bool, keep: bool) -> Arc<Self> {
        Arc::new_cyclic(|weak| Flight {
            key,
            refresh,
            keep,
            state: Mutex::new(State {
                phase: Phase::Starting,
                wakers: vec![None],
                free: Vec::new(),
                waiters: 1,
                queued: false,
                notified: false,
            }),
            waker: Waker::from(Arc::new(FlightWake(weak.clone()))),
        })
    }

    fn address(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self).cast::<()>() as usize
    }

    /// Gives the starting caller's future to the flight.
    pub(crate) fn start(&self, computation: BoxComputation<V>) {
        let mut state = lock(&self.state);
        if matches!(state.phase, Phase::Starting) {
            state.phase = Phase::Idle(computation);
        }
    }

    /// Joins as a waiter; `None` if the flight was abandoned (look the key up again).
    pub(crate) fn join(&self) -> Option<usize> {
        let mut state = lock(&self.state);
        if matches!(state.phase, Phase::Abandoned) {
            return None;
        }
        state.waiters += 1;
        let id = match state.free.pop() {
            Some(id) => id,
            None => {
                state.wakers.push(None);
                state.wakers.len() - 1
            }
        };
        Some(id)
    }

    /// Polls on behalf of waiter `id`: returns the result, or drives the computation once.
    pub(crate) fn poll_waiter(
        self: &Arc<Self>,
        id: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Polled<V>> {
        let address = self.address();
        if POLLING.with(|stack| stack.borrow().contains(&address)) {
            return Poll::Ready(Polled::Done(Err(Failure::Recursive)));
        }
        let mut state = lock(&self.state);
        match &mut state.phase {
            Phase::Done(result) => return Poll::Ready(Polled::Done(result.clone())),
            Phase::Abandoned => return Poll::Ready(Polled::Abandoned),
            Phase::Starting | Phase::Polling | Phase::Idle(_) => {}
        }
        match &mut state.wakers[id] {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        let Phase::Idle(_) = state.phase else { return Poll::Pending };
        let Phase::Idle(mut computation) = std::mem::replace(&mut state.phase, Phase::Polling)
        else {
            unreachable!("the phase was just matched as idle")
        };
        state.notified = false;
        drop(state);

        let polled = {
            let _guard = PollingGuard::enter(address);
            let mut flight_cx = Context::from_waker(&self.waker);
            panic::catch_unwind(AssertUnwindSafe(|| computation.as_mut().poll(&mut flight_cx)))
        };
        match polled {
            Ok(Poll::Pending) => {
                let mut state = lock(&self.state);
                if matches!(state.phase, Phase::Polling) {
                    state.phase = Phase::Idle(computation);
                }
                if std::mem::take(&mut state.notified) {
                    // Woken during our own poll: the waiters it woke saw the future busy.
                    drop(state);
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            Ok(Poll::Ready(result)) => {
                drop(computation);
                Poll::Ready(Polled::Completed(result.map_err(Failure::Error)))
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                // Dropping a future that panicked may panic again; keep that contained too.
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(computation)));
                Poll::Ready(Polled::Completed(Err(Failure::Panicked(message))))
            }
        }
    }

    /// Records the result (after it was published) and wakes every waiter.
    pub(crate) fn finish(&self, result: FlightResult<V>) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.state);
            state.phase = Phase::Done(result);
            state.wakers.iter_mut().filter_map(Option::take).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Whether the computation has finished (its result is recorded).
    pub(crate) fn is_done(&self) -> bool {
        matches!(lock(&self.state).phase, Phase::Done(_))
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.state);
            if matches!(state.phase, Phase::Polling) {
                state.notified = true;
            }
            state.wakers.iter().flatten().cloned().collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Waiter `id` leaves (done, or dropped).
    pub(crate) fn leave(&self, id: usize) -> Left<V> {
        let mut state = lock(&self.state);
        state.wakers[id] = None;
        state.free.push(id);
        state.waiters -= 1;
        if state.waiters > 0 {
            return Left::Stayed;
        }
        match state.phase {
            Phase::Done(_) | Phase::Abandoned => Left::Stayed,
            _ if self.keep => Left::Parked,
            Phase::Idle(_) => match std::mem::replace(&mut state.phase, Phase::Abandoned) {
                Phase::Idle(computation) => Left::Abandoned(Some(computation)),
                _ => Left::Abandoned(None),
            },
            Phase::Starting | Phase::Polling => {
                state.phase = Phase::Abandoned;
                Left::Abandoned(None)
            }
        }
    }

    /// Marks the flight as queued for a worker; `false` if it already was.
    pub(crate) fn mark_queued(&self) -> bool {
        let mut state = lock(&self.state);
        !std::mem::replace(&mut state.queued, true)
    }

    /// A worker picked the flight up.
    pub(crate) fn unmark_queued(&self) {
        lock(&self.state).queued = false;
    }
}
