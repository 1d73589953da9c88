use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};
use futures::TryFuture;
use pin_project::pin_project;

use crate::delays::Cursor;
use crate::{
    AsyncHook, Attempt, Classify, Hook, NoHook, RetryAll, RetryError, RetryIf, RetryPolicy,
    SyncHook, Verdict,
};

/// Future returned by [`RetryPolicy::retry`] and [`Retryable::retry`](crate::Retryable::retry):
/// calls the operation until it succeeds or the policy gives up.
///
/// Between attempts it sleeps the policy's next delay on the policy's clock — only between
/// attempts, never after the last failure. A zero delay still yields to the executor once, so
/// a tight retry loop cannot starve other tasks. It resolves to the operation's value, or to
/// a [`RetryError`] that says why it stopped, how many calls ran, how long it took and what
/// the last error was.
///
/// Per call site, [`retry_if`](Self::retry_if) / [`classify`](Self::classify) choose which
/// errors are retried (all, by default) and [`on_retry`](Self::on_retry) /
/// [`on_retry_async`](Self::on_retry_async) observe each retry.
///
/// The state machine stores the attempt's future inline and reuses one timer: no heap
/// allocation per attempt (the real clock allocates its timer once, on the first real sleep;
/// a per-attempt timeout combined with zero delays re-creates it after each timed attempt).
///
/// # Cancel safety
///
/// Dropping it stops everything at once: the running attempt's future is dropped, the sleep
/// is cancelled, and the operation is not called again.
///
/// # Panics
///
/// Polling it after it returned `Ready` panics. A panic in the operation, the classifier or
/// a hook propagates to the caller polling it.
///
/// With the `tracing` feature, each retry is also logged as a WARN event whose message is the
/// [`Attempt`] line (`retry K/N in DELAY`), with `retry`, `elapsed`, `delay` and `timed_out`
/// fields.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_retry::{Backoff, RetryError, RetryPolicy};
/// use asynchronously_time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::constant(Duration::from_secs(1)))
///     .max_retries(2)
///     .with_clock(clock.clone())
///     .build()?;
/// let retry = policy.retry(|| async { Err::<(), _>("down") });
/// let (result, ()) = futures::join!(retry, clock.run_for(Duration::from_secs(10)));
/// let error = result.unwrap_err();
/// assert!(matches!(error, RetryError::Exhausted { attempts: 3, last: "down", .. }));
/// assert_eq!(error.elapsed(), Duration::from_secs(2), "two sleeps, none after the last failure");
/// # Ok::<_, asynchronously_retry::PolicyError>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct Retry<'a, F, Fut, C = RealClock, K = RetryAll, H = NoHook>
where
    Fut: TryFuture,
    C: Clock,
    H: Hook<Fut::Error>,
{
    operation: F,
    core: Core<'a, C, K, H, Fut::Error>,
    #[pin]
    state: State<Fut, H::Future>,
}

/// Everything but the operation and the pinned state, so the decisions are plain methods.
struct Core<'a, C: Clock, K, H, E> {
    classifier: K,
    hook: H,
    policy: &'a RetryPolicy<C>,
    /// The schedule's position, created at the first failure (unused by a constant schedule,
    /// whose delay the policy precomputes).
    cursor: Option<Cursor>,
    /// One timer, reused for attempt timeouts and backoff sleeps.
    sleep: Option<C::Sleep>,
    /// When the first attempt started (read lazily when no time limit needs it up front).
    started: Option<Instant>,
    attempts: u32,
    /// Whether `sleep` is armed for the current phase: the attempt's timeout or deadline, or
    /// the backoff delay. (Kept out of `State` so state changes stay one-word writes.)
    armed: bool,
    /// The most recent error, kept while the next attempt runs (for the final error).
    last_error: Option<E>,
    /// Whether this retry returned `Pending` since the last failure that went through
    /// `Notify`/`Sleep` (a failure on the zero-delay fast path yields at once and goes
    /// straight back to `Start`).
    yielded: bool,
}

#[pin_project(project = StateProj)]
enum State<Fut, HookFut> {
    Start,
    Attempt {
        #[pin]
        future: Fut,
    },
    Notify {
        #[pin]
        hook: HookFut,
    },
    Sleep,
    Done,
}

impl<'a, F, Fut, C> Retry<'a, F, Fut, C>
where
    F: FnMut() -> Fut,
    Fut: TryFuture,
    C: Clock,
{
    pub(crate) fn new(policy: &'a RetryPolicy<C>, operation: F) -> Self {
        Retry {
            operation,
            core: Core {
                classifier: RetryAll,
                hook: NoHook,
                policy,
                cursor: None,
                sleep: None,
                started: None,
                attempts: 0,
                armed: false,
                last_error: None,
                yielded: false,
            },
            state: State::Start,
        }
    }
}

impl<'a, F, Fut, C, K, H> Retry<'a, F, Fut, C, K, H>
where
    F: FnMut() -> Fut,
    Fut: TryFuture,
    C: Clock,
    H: Hook<Fut::Error>,
{
    /// Retries only the errors `predicate` accepts; any other error is returned at once as
    /// [`RetryError::Permanent`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously_retry::{RetryError, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().max_retries(5).build()?;
    /// let mut calls = 0;
    /// let result = policy
    ///     .retry(|| { calls += 1; async { Err::<(), _>("forbidden") } })
    ///     .retry_if(|error| *error == "busy")
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::Permanent { attempts: 1, .. })));
    /// assert_eq!(calls, 1);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn retry_if<P>(self, predicate: P) -> Retry<'a, F, Fut, C, RetryIf<P>, H>
    where
        P: FnMut(&Fut::Error) -> bool,
    {
        self.with_classifier(RetryIf::new(predicate))
    }

    /// Decides per error: [`Verdict::Retry`], [`Verdict::RetryAfter`] (a delay the error
    /// names, clamped into the policy's bounds) or [`Verdict::Fail`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously_retry::{RetryPolicy, Verdict};
    /// use asynchronously_time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder().max_retries(1).with_clock(clock.clone()).build()?;
    /// let retry = policy
    ///     .retry(|| async { Err::<(), _>(Duration::from_secs(7)) })
    ///     .classify(|retry_after: &Duration| Verdict::RetryAfter(*retry_after));
    /// let (result, ()) = futures::join!(retry, clock.run_for(Duration::from_secs(60)));
    /// assert_eq!(result.unwrap_err().elapsed(), Duration::from_secs(7));
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn classify<K2>(self, classifier: K2) -> Retry<'a, F, Fut, C, K2, H>
    where
        K2: FnMut(&Fut::Error) -> Verdict,
    {
        self.with_classifier(classifier)
    }

    /// Uses any [`Classify`] implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously_retry::{RetryError, RetryIf, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().build()?;
    /// let result = policy
    ///     .retry(|| async { Err::<(), _>(404) })
    ///     .with_classifier(RetryIf::new(|status: &i32| *status >= 500))
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::Permanent { error: 404, .. })));
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_classifier<K2>(self, classifier: K2) -> Retry<'a, F, Fut, C, K2, H>
    where
        K2: Classify<Fut::Error>,
    {
        let Retry { operation, core, state } = self;
        Retry { operation, core: core.map(|_, hook| (classifier, hook)), state }
    }

    /// Calls `hook` before each retry's delay with the [`Attempt`] record (`retry K/N`).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(2).build()?;
    /// let mut seen = Vec::new();
    /// let _ = policy
    ///     .retry(|| async { Err::<(), _>("down") })
    ///     .on_retry(|attempt| seen.push((attempt.retry(), attempt.limit())))
    ///     .await;
    /// assert_eq!(seen, [(1, Some(2)), (2, Some(2))]);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn on_retry<G>(self, hook: G) -> Retry<'a, F, Fut, C, K, SyncHook<G>>
    where
        G: FnMut(&Attempt<'_, Fut::Error>),
    {
        self.with_hook(SyncHook::new(hook))
    }

    /// Calls `hook` before each retry's delay and awaits the future it returns (for example
    /// to refresh a credential). The delay is measured from the failure, so a hook shorter
    /// than the delay does not lengthen it.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Mutex;
    /// use std::time::Duration;
    ///
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(1).build()?;
    /// let log = Mutex::new(Vec::new());
    /// let _ = policy
    ///     .retry(|| async { Err::<(), _>("down") })
    ///     .on_retry_async(|attempt| {
    ///         let line = attempt.to_string();
    ///         let log = &log;
    ///         async move { log.lock().unwrap().push(line) }
    ///     })
    ///     .await;
    /// assert_eq!(*log.lock().unwrap(), ["retry 1/1 in 0ns"]);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn on_retry_async<G, HookFut>(self, hook: G) -> Retry<'a, F, Fut, C, K, AsyncHook<G>>
    where
        G: FnMut(&Attempt<'_, Fut::Error>) -> HookFut,
        HookFut: Future<Output = ()>,
    {
        self.with_hook(AsyncHook::new(hook))
    }

    /// Uses any [`Hook`] implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously_retry::{Attempt, RetryPolicy, SyncHook};
    ///
    /// let policy = RetryPolicy::builder().max_retries(0).build()?;
    /// let _ = policy
    ///     .retry(|| async { Err::<(), _>("down") })
    ///     .with_hook(SyncHook::new(|_: &Attempt<'_, &str>| unreachable!("no retry allowed")))
    ///     .await;
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_hook<H2>(self, hook: H2) -> Retry<'a, F, Fut, C, K, H2>
    where
        H2: Hook<Fut::Error>,
    {
        let Retry { operation, core, state } = self;
        let state = match state {
            State::Start => State::Start,
            // Hooks are set before the first poll; a started retry keeps its progress
            // except an in-flight hook future, which belongs to the old hook.
            State::Attempt { future } => State::Attempt { future },
            State::Notify { .. } | State::Sleep => State::Sleep,
            State::Done => State::Done,
        };
        Retry { operation, core: core.map(|classifier, _| (classifier, hook)), state }
    }

    /// How many times the operation has been called so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously_retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default();
    /// let retry = policy.retry(|| async { Ok::<_, ()>(1) });
    /// assert_eq!(retry.attempts(), 0, "nothing runs before the first poll");
    /// ```
    pub fn attempts(&self) -> u32 {
        self.core.attempts
    }
}

impl<'a, C: Clock, K, H, E> Core<'a, C, K, H, E> {
    fn map<K2, H2>(self, f: impl FnOnce(K, H) -> (K2, H2)) -> Core<'a, C, K2, H2, E> {
        let (classifier, hook) = f(self.classifier, self.hook);
        Core {
            classifier,
            hook,
            policy: self.policy,
            cursor: self.cursor,
            sleep: self.sleep,
            started: self.started,
            attempts: self.attempts,
            armed: self.armed,
            last_error: self.last_error,
            yielded: self.yielded,
        }
    }

    /// `started + max_elapsed`; `None` = no limit (or not started).
    fn deadline(&self) -> Option<Instant> {
        self.policy.max_elapsed.and_then(|limit| self.started?.checked_add(limit))
    }

    fn now(&self) -> Instant {
        self.policy.clock.now()
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started.unwrap_or(now))
    }

    fn arm(&mut self, deadline: Instant) {
        match &mut self.sleep {
            Some(sleep) => self.policy.clock.reset(sleep, deadline),
            None => self.sleep = Some(self.policy.clock.sleep_until(deadline)),
        }
    }

    /// Ends the retry: releases the timer (a virtual clock must not wait for it).
    #[inline]
    fn finish(&mut self) {
        if self.sleep.is_some() {
            self.sleep = None;
        }
    }

    /// Ends the retry after a successful attempt.
    #[inline]
    fn succeed(&mut self) {
        if let Some(budget) = &self.policy.budget {
            budget.deposit();
        }
        self.finish();
    }

    fn stop_at_deadline(&mut self, last: Option<E>) -> RetryError<E> {
        let now = self.now();
        self.finish();
        RetryError::DeadlineExceeded {
            attempts: self.attempts,
            elapsed: self.elapsed(now),
            last: last.or_else(|| self.last_error.take()),
        }
    }

    /// Starts an attempt: checks the deadline and arms the timer (sets `armed`).
    ///
    /// `armed` is already false here unless the policy is timed: the backoff sleep clears
    /// it when it fires, and a zero delay never sets it.
    #[inline]
    fn begin_attempt(&mut self) -> Result<(), RetryError<E>> {
        if !self.policy.timed {
            return Ok(());
        }
        self.begin_timed_attempt()
    }

    /// The part of [`begin_attempt`](Self::begin_attempt) for policies with time limits.
    #[inline(never)]
    fn begin_timed_attempt(&mut self) -> Result<(), RetryError<E>> {
        self.armed = false;
        let attempt_timeout = self.policy.attempt_timeout;
        let now = self.now();
        if self.started.is_none() {
            self.started = Some(now);
        }
        let deadline = self.deadline();
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Err(self.stop_at_deadline(None));
        }
        let attempt_deadline = attempt_timeout.and_then(|timeout| now.checked_add(timeout));
        let timer = match (attempt_deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = timer {
            self.arm(at);
            self.armed = true;
        }
        Ok(())
    }

    /// Decides what follows a failed attempt; `error` is `None` when the attempt timed out.
    ///
    /// `Ok(Some(future))`: run the hook's future, then sleep; `Ok(None)`: sleep (or yield).
    #[inline]
    fn after_failure(&mut self, error: Option<E>) -> Result<Option<H::Future>, RetryError<E>>
    where
        K: Classify<E>,
        H: Hook<E>,
    {
        let verdict = match &error {
            Some(error) => self.classifier.classify(error),
            None => Verdict::Retry,
        };
        let mut now = None;
        if self.started.is_none() {
            let at = self.now();
            self.started = Some(at);
            now = Some(at);
        }
        if verdict == Verdict::Fail
            || self.policy.max_retries.is_some_and(|max| self.attempts > max)
        {
            return Err(self.give_up(error, verdict == Verdict::Fail, now));
        }
        let observed = H::ENABLED || cfg!(feature = "tracing");
        if verdict == Verdict::Retry && self.policy.yield_only && !observed {
            // A zero delay with nothing to time, withdraw or report: just yield.
            if error.is_some() {
                self.last_error = error;
            }
            if self.armed {
                // The attempt's timer may still be registered; nothing would poll it.
                self.sleep = None;
                self.armed = false;
            }
            return Ok(None);
        }
        let shape = &self.policy.shape;
        let scheduled = match self.policy.fixed_delay {
            Some(delay) => delay,
            None => self.next_scheduled(),
        };
        let delay = match verdict {
            Verdict::RetryAfter(delay) => delay.clamp(shape.min_delay, shape.max_delay),
            _ => scheduled,
        };
        self.schedule(error, delay, now)
    }

    /// The next delay of a schedule that changes between retries.
    #[inline(never)]
    fn next_scheduled(&mut self) -> Duration {
        let shape = &self.policy.shape;
        let cursor = self.cursor.get_or_insert_with(|| Cursor::new(shape, self.policy.seed));
        cursor.next_delay(shape)
    }

    /// Ends the retry after the classifier said `Fail` (`permanent`) or the retries ran out.
    #[cold]
    #[inline(never)]
    fn give_up(
        &mut self,
        error: Option<E>,
        permanent: bool,
        now: Option<Instant>,
    ) -> RetryError<E> {
        let attempts = self.attempts;
        let now = now.unwrap_or_else(|| self.now());
        let elapsed = self.elapsed(now);
        self.finish();
        match error {
            Some(error) if permanent => RetryError::Permanent { attempts, elapsed, error },
            Some(last) => RetryError::Exhausted { attempts, elapsed, last },
            None => RetryError::TimedOut { attempts, elapsed, last: self.last_error.take() },
        }
    }

    /// The rest of [`after_failure`](Self::after_failure) when the retry sleeps, has a
    /// deadline or budget, or reports the retry: arms the timer and calls the hook.
    #[inline(never)]
    fn schedule(
        &mut self,
        error: Option<E>,
        delay: Duration,
        mut now: Option<Instant>,
    ) -> Result<Option<H::Future>, RetryError<E>>
    where
        H: Hook<E>,
    {
        let attempts = self.attempts;
        let deadline = self.deadline();
        let observed = H::ENABLED || cfg!(feature = "tracing");
        if now.is_none() && (deadline.is_some() || !delay.is_zero() || observed) {
            now = Some(self.now());
        }
        let wake_at = now.and_then(|now| now.checked_add(delay));
        if let Some(deadline) = deadline {
            if wake_at.is_none_or(|at| at >= deadline) {
                return Err(self.stop_at_deadline(error));
            }
        }
        if let Some(budget) = &self.policy.budget {
            if !budget.try_withdraw() {
                let now = now.unwrap_or_else(|| self.now());
                let elapsed = self.elapsed(now);
                self.finish();
                let last = error.or_else(|| self.last_error.take());
                return Err(RetryError::BudgetExhausted { attempts, elapsed, last });
            }
        }
        let timed_out = error.is_none();
        if error.is_some() {
            self.last_error = error;
        }
        if !delay.is_zero() {
            match wake_at {
                Some(at) => self.arm(at),
                // Past every representable instant: a sleep that never fires.
                None => self.sleep = Some(self.policy.clock.sleep(Duration::MAX)),
            }
            self.armed = true;
        } else if self.armed {
            // The attempt's timer may still be registered; nothing would poll it.
            self.sleep = None;
            self.armed = false;
        }
        self.yielded = false;
        if observed {
            let attempt = Attempt {
                retry: attempts,
                limit: self.policy.max_retries,
                elapsed: now.map_or(Duration::ZERO, |now| self.elapsed(now)),
                delay,
                error: if timed_out { None } else { self.last_error.as_ref() },
            };
            #[cfg(feature = "tracing")]
            tracing::warn!(
                retry = attempt.retry,
                elapsed = ?attempt.elapsed,
                delay = ?attempt.delay,
                timed_out = attempt.timed_out(),
                "{attempt}"
            );
            if H::ENABLED {
                return Ok(Some(self.hook.on_retry(&attempt)));
            }
        }
        Ok(None)
    }
}

impl<F, Fut, C, K, H> Future for Retry<'_, F, Fut, C, K, H>
where
    F: FnMut() -> Fut,
    Fut: TryFuture,
    C: Clock,
    K: Classify<Fut::Error>,
    H: Hook<Fut::Error>,
{
    type Output = Result<Fut::Ok, RetryError<Fut::Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let core = this.core;
        loop {
            let future = match this.state.as_mut().project() {
                StateProj::Attempt { future } => future,
                StateProj::Start => {
                    if let Err(error) = core.begin_attempt() {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                    let future = (this.operation)();
                    core.attempts = core.attempts.saturating_add(1);
                    this.state.set(State::Attempt { future });
                    match this.state.as_mut().project() {
                        StateProj::Attempt { future } => future,
                        _ => unreachable!("the attempt was just stored"),
                    }
                }
                _ => {
                    if core.poll_pause(this.state.as_mut(), cx).is_pending() {
                        return Poll::Pending;
                    }
                    continue;
                }
            };
            let error = match future.try_poll(cx) {
                Poll::Ready(Ok(value)) => {
                    core.succeed();
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(value));
                }
                Poll::Ready(Err(error)) => Some(error),
                Poll::Pending => match core.attempt_pending(cx) {
                    Ok(false) => return Poll::Pending,
                    Ok(true) => None,
                    Err(error) => {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                },
            };
            match core.after_failure(error) {
                Ok(Some(hook)) => this.state.set(State::Notify { hook }),
                Ok(None) if !core.armed => {
                    // A zero delay: still let other tasks run before the next call.
                    this.state.set(State::Start);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(None) => this.state.set(State::Sleep),
                Err(error) => {
                    this.state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
            }
        }
    }
}

impl<C: Clock, K, H: Hook<E>, E> Core<'_, C, K, H, E> {
    /// An attempt returned `Pending`: records the start and polls its timer.
    ///
    /// `Ok(true)`: the attempt timed out; `Ok(false)`: keep waiting.
    #[inline(never)]
    fn attempt_pending(&mut self, cx: &mut Context<'_>) -> Result<bool, RetryError<E>> {
        if self.started.is_none() {
            self.started = Some(self.now());
        }
        let fired = self.armed
            && self.sleep.as_mut().is_some_and(|sleep| Pin::new(sleep).poll(cx).is_ready());
        if !fired {
            return Ok(false);
        }
        if self.deadline().is_some_and(|deadline| self.now() >= deadline) {
            return Err(self.stop_at_deadline(None));
        }
        Ok(true)
    }

    /// Between attempts: runs the hook's future, then the sleep (yielding at least once).
    ///
    /// `Ready` when the next attempt may start (the state is then `Start`).
    #[inline(never)]
    fn poll_pause<Fut>(
        &mut self,
        mut state: Pin<&mut State<Fut, H::Future>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if let StateProj::Notify { hook } = state.as_mut().project() {
            if hook.poll(cx).is_pending() {
                self.yielded = true;
                return Poll::Pending;
            }
            state.set(State::Sleep);
        }
        match state.as_mut().project() {
            StateProj::Sleep => {}
            StateProj::Done => panic!("`Retry` polled after it completed"),
            _ => unreachable!("only a pause is polled here"),
        }
        if self.armed {
            if let Some(sleep) = self.sleep.as_mut() {
                if Pin::new(sleep).poll(cx).is_pending() {
                    self.yielded = true;
                    return Poll::Pending;
                }
            }
            self.armed = false;
        }
        if !self.yielded {
            // A zero (or already elapsed) delay: still let other tasks run.
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        state.set(State::Start);
        Poll::Ready(())
    }
}

impl<F, Fut, C, K, H> fmt::Debug for Retry<'_, F, Fut, C, K, H>
where
    Fut: TryFuture,
    C: Clock,
    H: Hook<Fut::Error>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            // After a zero-delay failure the retry waits at `Start` for its yield to end:
            // still the pause between attempts.
            State::Start if self.core.attempts > 0 => "sleep",
            State::Start => "start",
            State::Attempt { .. } => "attempt",
            State::Notify { .. } => "hook",
            State::Sleep => "sleep",
            State::Done => "done",
        };
        f.debug_struct("Retry")
            .field("attempts", &self.core.attempts)
            .field("state", &state)
            .field("policy", &self.core.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests;
