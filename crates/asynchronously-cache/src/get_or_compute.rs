//! The futures of `get_or_compute` and `try_get_or_compute`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};

use asynchronously_time::Clock;

use crate::cache::Found;
use crate::flight::{BoxComputation, ErrorBox, Failure, Flight, FlightResult, panic_message};
use crate::key::{Borrowed, Hashed};
use crate::{Cache, ComputeError, ReadOutcome};

/// The future of [`Cache::get_or_compute`]: the value, or why there is none.
///
/// # Cancel safety
///
/// Dropping it never cancels a computation other callers wait for; see
/// [`Cache::get_or_compute`].
#[must_use = "futures do nothing unless polled"]
pub struct GetOrCompute<'a, K, V, C: Clock, S, F> {
    load: Load<'a, K, V, C, S, F>,
}

/// The future of [`Cache::try_get_or_compute`]: the value, or why there is none.
///
/// # Cancel safety
///
/// Dropping it never cancels a computation other callers wait for; see
/// [`Cache::get_or_compute`].
#[must_use = "futures do nothing unless polled"]
pub struct TryGetOrCompute<'a, K, V, C: Clock, S, F, E> {
    load: Load<'a, K, V, C, S, F>,
    _error: PhantomData<fn() -> E>,
}

/// A [`GetOrCompute`] or [`TryGetOrCompute`] that also says how the read was answered.
///
/// # Cancel safety
///
/// As for the future it wraps.
#[must_use = "futures do nothing unless polled"]
pub struct WithOutcome<'a, K, V, C: Clock, S, F, E> {
    load: Load<'a, K, V, C, S, F>,
    _error: PhantomData<fn() -> E>,
}

/// A type-erased `leave`: `Drop` impls cannot have the bounds the real one needs.
pub(crate) type LeaveFn<T, K, V> = fn(&T, &Arc<Flight<K, V>>, usize);

/// The state machine all three share.
struct Load<'a, K, V, C: Clock, S, F> {
    cache: &'a Cache<K, V, C, S>,
    state: State<K, V, F>,
    start: fn(F) -> BoxComputation<V>,
    /// `Inner::leave`, captured where its bounds hold, for `Drop` (which cannot add bounds).
    leave: LeaveFn<Cache<K, V, C, S>, K, V>,
}

enum State<K, V, F> {
    Start { key: K, compute: F },
    Waiting { flight: Arc<Flight<K, V>>, id: usize, outcome: ReadOutcome },
    Done,
}

// The computation is boxed inside the flight and the key and closure are only moved, never
// pinned: these futures are `Unpin` whatever `K` and `F` are.
impl<K, V, C: Clock, S, F> Unpin for GetOrCompute<'_, K, V, C, S, F> {}
impl<K, V, C: Clock, S, F, E> Unpin for TryGetOrCompute<'_, K, V, C, S, F, E> {}
impl<K, V, C: Clock, S, F, E> Unpin for WithOutcome<'_, K, V, C, S, F, E> {}

fn start_infallible<V, F, Fut>(compute: F) -> BoxComputation<V>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = V> + Send + 'static,
{
    let future = compute();
    Box::pin(async move { Ok(future.await) })
}

fn start_fallible<V, F, Fut, E>(compute: F) -> BoxComputation<V>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>> + Send + 'static,
    E: Send + Sync + 'static,
{
    let future = compute();
    Box::pin(async move { future.await.map_err(|error| Arc::new(error) as ErrorBox) })
}

fn error_of<E: Send + Sync + 'static>(error: ErrorBox) -> ComputeError<E> {
    match error.downcast::<E>() {
        Ok(error) => ComputeError::Failed(error),
        Err(_) => ComputeError::ErrorTypeMismatch,
    }
}

fn failure_of<E: Send + Sync + 'static>(failure: Failure) -> ComputeError<E> {
    match failure {
        Failure::Error(error) => error_of(error),
        Failure::Panicked(message) => ComputeError::Panicked(message),
        Failure::Recursive => ComputeError::Recursive,
    }
}

impl<'a, K, V, C, S, F> GetOrCompute<'a, K, V, C, S, F>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    pub(crate) fn new<Fut>(cache: &'a Cache<K, V, C, S>, key: K, compute: F) -> Self
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        GetOrCompute { load: Load::new(cache, key, compute, start_infallible::<V, F, Fut>) }
    }

    /// Also returns how the read was answered: [`ReadOutcome`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::{Cache, ReadOutcome};
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// let (value, outcome) = cache.get_or_compute(1, || async { 10 }).with_outcome().await?;
    /// assert_eq!((value, outcome), (10, ReadOutcome::Computed));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_outcome(self) -> WithOutcome<'a, K, V, C, S, F, Infallible> {
        WithOutcome { load: self.load, _error: PhantomData }
    }
}

impl<'a, K, V, C, S, F, E> TryGetOrCompute<'a, K, V, C, S, F, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
    E: Send + Sync + 'static,
{
    pub(crate) fn new<Fut>(cache: &'a Cache<K, V, C, S>, key: K, compute: F) -> Self
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        TryGetOrCompute {
            load: Load::new(cache, key, compute, start_fallible::<V, F, Fut, E>),
            _error: PhantomData,
        }
    }

    /// Also returns how the read was answered: [`ReadOutcome`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::cache::{Cache, ReadOutcome};
    ///
    /// let cache: Cache<u32, u32> = Cache::builder().build()?;
    /// cache.insert(1, 10);
    /// let (value, outcome) =
    ///     cache.try_get_or_compute(1, || async { Ok::<_, std::io::Error>(0) }).with_outcome().await?;
    /// assert_eq!((value, outcome), (10, ReadOutcome::Hit));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_outcome(self) -> WithOutcome<'a, K, V, C, S, F, E> {
        WithOutcome { load: self.load, _error: PhantomData }
    }
}

impl<'a, K, V, C, S, F> Load<'a, K, V, C, S, F>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    fn new(
        cache: &'a Cache<K, V, C, S>,
        key: K,
        compute: F,
        start: fn(F) -> BoxComputation<V>,
    ) -> Self {
        Load {
            cache,
            state: State::Start { key, compute },
            start,
            leave: |cache, flight, id| cache.inner.leave(flight, id),
        }
    }

    /// Starts the computation of a freshly installed flight (waiter 0 is this call).
    fn begin(&self, flight: &Arc<Flight<K, V>>, compute: F) {
        let inner = &*self.cache.inner;
        inner.stats.loads.fetch_add(1, Relaxed);
        let start = self.start;
        match panic::catch_unwind(AssertUnwindSafe(move || start(compute))) {
            Ok(computation) => flight.start(computation),
            Err(payload) => {
                let failure: FlightResult<V> = Err(Failure::Panicked(panic_message(&*payload)));
                let _ = inner.complete(flight, failure);
            }
        }
    }

    fn poll_load<E: Send + Sync + 'static>(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(V, ReadOutcome), ComputeError<E>>> {
        let inner = &*self.cache.inner;
        loop {
            match &self.state {
                State::Done => panic!("`GetOrCompute` polled after it completed"),
                State::Waiting { flight, id, outcome } => {
                    let Poll::Ready(result) = inner.poll_flight(flight, *id, cx) else {
                        return Poll::Pending;
                    };
                    let outcome = *outcome;
                    let State::Waiting { flight, id, .. } =
                        std::mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("the state was just matched as waiting")
                    };
                    inner.leave(&flight, id);
                    return Poll::Ready(match result {
                        Some(Ok(value)) => Ok((value, outcome)),
                        Some(Err(failure)) => Err(failure_of(failure)),
                        // A waiter keeps its flight alive, so this cannot happen; answer
                        // with an error rather than a hang if it ever did.
                        None => Err(ComputeError::Panicked(Arc::from("computation abandoned"))),
                    });
                }
                State::Start { key, .. } => {
                    // The hit path: answer without moving the key or the closure.
                    let hash = inner.hash(key);
                    let now = inner.now();
                    let found = inner.lookup(Borrowed { hash, key }, now);
                    if let Found::Hit(value) = found {
                        inner.stats.hit();
                        self.state = State::Done;
                        return Poll::Ready(Ok((value, ReadOutcome::Hit)));
                    }
                    let State::Start { key, compute } =
                        std::mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("the state was just matched as start")
                    };
                    if let Some(ready) = self.start_load(key, compute, hash, now, found) {
                        return Poll::Ready(ready);
                    }
                }
            }
        }
    }

    /// Answers from what the first lookup `found` (or later ones): a stale value or a stored
    /// error at once, or moves to waiting for a computation (joined or started).
    #[inline(never)]
    fn start_load<E: Send + Sync + 'static>(
        &mut self,
        key: K,
        compute: F,
        hash: u64,
        now: u64,
        found: Found<K, V>,
    ) -> Option<Result<(V, ReadOutcome), ComputeError<E>>> {
        let inner = &*self.cache.inner;
        let mut found = Some(found);
        loop {
            let found = match found.take() {
                Some(found) => found,
                None => inner.lookup(Borrowed { hash, key: &key }, now),
            };
            match found {
                Found::Hit(value) => {
                    inner.stats.hit();
                    return Some(Ok((value, ReadOutcome::Hit)));
                }
                Found::CachedError(error) => {
                    inner.stats.hit();
                    return Some(Err(error_of(error)));
                }
                Found::Expired => continue,
                Found::Stale { value, generation, refresh } => {
                    inner.stats.stale_hits.fetch_add(1, Relaxed);
                    match refresh {
                        Some(flight) => inner.nudge(&flight),
                        None => {
                            if let Some(flight) =
                                inner.install(Hashed { hash, key: key.clone() }, Some(generation))
                            {
                                self.begin(&flight, compute);
                                let _ = inner.poll_flight(
                                    &flight,
                                    0,
                                    &mut Context::from_waker(Waker::noop()),
                                );
                                inner.leave(&flight, 0);
                            }
                        }
                    }
                    return Some(Ok((value, ReadOutcome::Stale)));
                }
                Found::Join(flight) => match flight.join() {
                    Some(id) => {
                        inner.stats.coalesced.fetch_add(1, Relaxed);
                        self.state = State::Waiting { flight, id, outcome: ReadOutcome::Coalesced };
                        return None;
                    }
                    None => inner.unlink(&flight),
                },
                Found::Miss => {
                    if let Some(flight) = inner.install(Hashed { hash, key: key.clone() }, None) {
                        inner.stats.misses.fetch_add(1, Relaxed);
                        self.begin(&flight, compute);
                        self.state =
                            State::Waiting { flight, id: 0, outcome: ReadOutcome::Computed };
                        return None;
                    }
                }
            }
        }
    }
}

impl<K, V, C: Clock, S, F> Drop for Load<'_, K, V, C, S, F> {
    fn drop(&mut self) {
        if let State::Waiting { flight, id, .. } = std::mem::replace(&mut self.state, State::Done) {
            (self.leave)(self.cache, &flight, id);
        }
    }
}

impl<K, V, C, S, F> Future for GetOrCompute<'_, K, V, C, S, F>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    type Output = Result<V, ComputeError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().load.poll_load(cx).map(|result| result.map(|(value, _)| value))
    }
}

impl<K, V, C, S, F, E> Future for TryGetOrCompute<'_, K, V, C, S, F, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
    E: Send + Sync + 'static,
{
    type Output = Result<V, ComputeError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().load.poll_load(cx).map(|result| result.map(|(value, _)| value))
    }
}

impl<K, V, C, S, F, E> Future for WithOutcome<'_, K, V, C, S, F, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
    E: Send + Sync + 'static,
{
    type Output = Result<(V, ReadOutcome), ComputeError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().load.poll_load(cx)
    }
}

impl<K, V, C: Clock, S, F> fmt::Debug for Load<'_, K, V, C, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start { .. } => "start",
            State::Waiting { outcome: ReadOutcome::Coalesced, .. } => "waiting (coalesced)",
            State::Waiting { .. } => "waiting (computing)",
            State::Done => "done",
        };
        f.debug_struct("GetOrCompute").field("state", &state).finish_non_exhaustive()
    }
}

impl<K, V, C: Clock, S, F> fmt::Debug for GetOrCompute<'_, K, V, C, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load.fmt(f)
    }
}

impl<K, V, C: Clock, S, F, E> fmt::Debug for TryGetOrCompute<'_, K, V, C, S, F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load.fmt(f)
    }
}

impl<K, V, C: Clock, S, F, E> fmt::Debug for WithOutcome<'_, K, V, C, S, F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load.fmt(f)
    }
}
