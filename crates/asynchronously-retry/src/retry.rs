use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};
use futures::TryFuture;
use pin_project::pin_project;

use crate::delays::Cursor;
use crate::policy::PolicyRef;
use crate::{
    AsyncHook, Attempt, Classify, Hook, NoHook, RetryAll, RetryError, RetryIf, SyncHook, Verdict,
};

/// Future returned by [`RetryPolicy::retry`](crate::RetryPolicy::retry) and [`Retryable::retry`](crate::Retryable::retry):
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
/// [`RetryPolicy::retry`](crate::RetryPolicy::retry) returns an owned `Retry<'static, …>` holding a clone of the policy,
/// so `tokio::spawn(policy.retry(op))` works as written; [`Retryable::retry`](crate::Retryable::retry)
/// borrows the policy instead.
///
/// An async hook is raced against the policy's `max_elapsed`, as attempts are: a hook still
/// running at the deadline is dropped and the retry stops with
/// [`RetryError::DeadlineExceeded`].
///
/// # Cancel safety
///
/// Dropping it stops everything at once: the running attempt's future (or hook future) is
/// dropped, the sleep is cancelled, and the operation is not called again.
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
/// use asynchronously::retry::{Backoff, RetryError, RetryPolicy};
/// use asynchronously::time::VirtualClock;
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
/// # Ok::<_, asynchronously::retry::PolicyError>(())
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
    /// How many times the operation has been called (here rather than in [`Core`], so the
    /// future packs into fewer bytes).
    attempts: u32,
    core: Core<'a, C, K, H, Fut::Error>,
    #[pin]
    state: State<Fut, H::Future>,
}

/// Everything but the operation and the pinned state, so the decisions are plain methods.
struct Core<'a, C: Clock, K, H, E> {
    classifier: K,
    hook: H,
    /// Borrowed from the caller ([`Retryable::retry`](crate::Retryable::retry)) or a clone
    /// ([`RetryPolicy::retry`](crate::RetryPolicy::retry)).
    policy: PolicyRef<'a, C>,
    /// The schedule's position, created at the first failure (unused by a constant schedule,
    /// whose delay the policy precomputes).
    cursor: Option<Cursor>,
    /// One timer, reused for attempt timeouts, the deadline and backoff sleeps; the state
    /// says what it is armed for.
    timer: Option<C::Sleep>,
    /// When the first attempt started (read lazily when no time limit needs it up front).
    started: Option<Instant>,
    /// The most recent error, kept while the next attempt runs (for the final error).
    last_error: Option<E>,
}

/// What the timer is armed for while a hook runs. The wake-up comes before the deadline (a
/// delay reaching the deadline stops the retry first), so one timer serves both in turn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HookTimer {
    /// Not armed: no delay and no deadline, or the delay passed and there is no deadline.
    None,
    /// The end of the delay; the deadline (if any) comes after it.
    Wake,
    /// The deadline; the delay (if any) has passed.
    Deadline,
}

/// What follows a step of the retry: the next state, or the error that ends it.
type Next<Fut, HookFut, E> = Result<State<Fut, HookFut>, RetryError<E>>;

/// Where the retry is. Each variant carries what only it needs.
#[pin_project(project = StateProj)]
enum State<Fut, HookFut> {
    /// The next attempt starts when polled.
    Ready,
    /// A zero delay: the retry woke itself and returned `Pending` once, so other tasks ran;
    /// the next attempt starts when polled.
    Yielded,
    /// An attempt runs. `timed`: the timer is armed for its timeout or the deadline.
    Attempt {
        #[pin]
        future: Fut,
        timed: bool,
    },
    /// The hook's future runs; `timer` says what the timer is armed for (the delay counts
    /// from the failure, and the deadline cuts the hook off). `pended`: the hook returned
    /// `Pending` (so the retry has yielded).
    Hook {
        #[pin]
        hook: HookFut,
        timer: HookTimer,
        pended: bool,
    },
    /// The timer is armed for the backoff delay. `pended`: the retry has yielded since the
    /// failure.
    Sleep {
        pended: bool,
    },
    Done,
}

impl<'a, F, Fut, C> Retry<'a, F, Fut, C>
where
    F: FnMut() -> Fut,
    Fut: TryFuture,
    C: Clock,
{
    pub(crate) fn new(policy: PolicyRef<'a, C>, operation: F) -> Self {
        Retry {
            operation,
            attempts: 0,
            core: Core {
                classifier: RetryAll,
                hook: NoHook,
                policy,
                cursor: None,
                timer: None,
                started: None,
                last_error: None,
            },
            state: State::Ready,
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
    /// use asynchronously::retry::{RetryError, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().max_retries(5).build()?;
    /// let mut calls = 0;
    /// let result = policy
    ///     .retry(|| { calls += 1; async { Err::<(), _>("forbidden") } })
    ///     .retry_if(|error| *error == "busy")
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::Permanent { attempts: 1, .. })));
    /// assert_eq!(calls, 1);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
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
    /// use asynchronously::retry::{RetryPolicy, Verdict};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder().max_retries(1).with_clock(clock.clone()).build()?;
    /// let retry = policy
    ///     .retry(|| async { Err::<(), _>(Duration::from_secs(7)) })
    ///     .classify(|retry_after: &Duration| Verdict::RetryAfter(*retry_after));
    /// let (result, ()) = futures::join!(retry, clock.run_for(Duration::from_secs(60)));
    /// assert_eq!(result.unwrap_err().elapsed(), Duration::from_secs(7));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
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
    /// use asynchronously::retry::{RetryError, RetryIf, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().build()?;
    /// let result = policy
    ///     .retry(|| async { Err::<(), _>(404) })
    ///     .with_classifier(RetryIf::new(|status: &i32| *status >= 500))
    ///     .await;
    /// assert!(matches!(result, Err(RetryError::Permanent { error: 404, .. })));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_classifier<K2>(self, classifier: K2) -> Retry<'a, F, Fut, C, K2, H>
    where
        K2: Classify<Fut::Error>,
    {
        let Retry { operation, attempts, core, state } = self;
        Retry { operation, attempts, core: core.map(|_, hook| (classifier, hook)), state }
    }

    /// Calls `hook` before each retry's delay with the [`Attempt`] record (`retry K/N`).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(2).build()?;
    /// let mut seen = Vec::new();
    /// let _ = policy
    ///     .retry(|| async { Err::<(), _>("down") })
    ///     .on_retry(|attempt| seen.push((attempt.retry(), attempt.limit())))
    ///     .await;
    /// assert_eq!(seen, [(1, Some(2)), (2, Some(2))]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
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
    /// use asynchronously::retry::{Backoff, RetryPolicy};
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
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
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
    /// use asynchronously::retry::{Attempt, RetryPolicy, SyncHook};
    ///
    /// let policy = RetryPolicy::builder().max_retries(0).build()?;
    /// let _ = policy
    ///     .retry(|| async { Err::<(), _>("down") })
    ///     .with_hook(SyncHook::new(|_: &Attempt<'_, &str>| unreachable!("no retry allowed")))
    ///     .await;
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_hook<H2>(self, hook: H2) -> Retry<'a, F, Fut, C, K, H2>
    where
        H2: Hook<Fut::Error>,
    {
        let Retry { operation, attempts, core, state } = self;
        let state = match state {
            State::Ready => State::Ready,
            State::Yielded => State::Yielded,
            // Hooks are set before the first poll; a started retry keeps its progress
            // except an in-flight hook future, which belongs to the old hook: the pause goes
            // on without it.
            State::Attempt { future, timed } => State::Attempt { future, timed },
            State::Hook { timer: HookTimer::Wake, .. } => State::Sleep { pended: true },
            State::Hook { .. } => State::Ready,
            State::Sleep { pended } => State::Sleep { pended },
            State::Done => State::Done,
        };
        Retry { operation, attempts, core: core.map(|classifier, _| (classifier, hook)), state }
    }

    /// How many times the operation has been called so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default();
    /// let retry = policy.retry(|| async { Ok::<_, ()>(1) });
    /// assert_eq!(retry.attempts(), 0, "nothing runs before the first poll");
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
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
            timer: self.timer,
            started: self.started,
            last_error: self.last_error,
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
        match &mut self.timer {
            Some(timer) => self.policy.clock.reset(timer, deadline),
            None => self.timer = Some(self.policy.clock.sleep_until(deadline)),
        }
    }

    /// Forgets a timer that may still be registered with its clock (nothing will poll it,
    /// and a virtual clock must not wait for it).
    fn disarm(&mut self, armed: bool) {
        if armed {
            self.timer = None;
        }
    }

    /// Polls the timer; `Ready` once it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.timer.as_mut() {
            Some(timer) => Pin::new(timer).poll(cx),
            None => Poll::Pending,
        }
    }

    /// Ends the retry: releases the timer (a virtual clock must not wait for it).
    #[inline]
    fn finish(&mut self) {
        if self.timer.is_some() {
            self.timer = None;
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

    fn stop_at_deadline(&mut self, attempts: u32, last: Option<E>) -> RetryError<E> {
        let now = self.now();
        self.finish();
        RetryError::DeadlineExceeded {
            attempts,
            elapsed: self.elapsed(now),
            last: last.or_else(|| self.last_error.take()),
        }
    }

    /// Records the start of the first attempt, if no time limit recorded it yet.
    #[inline(never)]
    fn note_started(&mut self) {
        if self.started.is_none() {
            self.started = Some(self.now());
        }
    }

    /// Starts an attempt: checks the deadline and arms the timer for the attempt's timeout
    /// or the deadline. `Ok(true)` when the timer is armed.
    #[inline]
    fn begin_attempt(&mut self, attempts: u32) -> Result<bool, RetryError<E>> {
        if !self.policy.timed {
            return Ok(false);
        }
        self.begin_timed_attempt(attempts)
    }

    /// The part of [`begin_attempt`](Self::begin_attempt) for policies with time limits.
    #[inline(never)]
    fn begin_timed_attempt(&mut self, attempts: u32) -> Result<bool, RetryError<E>> {
        let now = self.now();
        if self.started.is_none() {
            self.started = Some(now);
        }
        let deadline = self.deadline();
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Err(self.stop_at_deadline(attempts, None));
        }
        let attempt_deadline =
            self.policy.attempt_timeout.and_then(|timeout| now.checked_add(timeout));
        let timer = match (attempt_deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match timer {
            Some(at) => {
                self.arm(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// A timed attempt returned `Pending`: polls its timer.
    ///
    /// `Ready(Ok(()))`: the attempt timed out; `Ready(Err(_))`: the deadline passed.
    #[inline(never)]
    fn poll_attempt_timer(
        &mut self,
        cx: &mut Context<'_>,
        attempts: u32,
    ) -> Poll<Result<(), RetryError<E>>> {
        if self.poll_timer(cx).is_pending() {
            return Poll::Pending;
        }
        if self.deadline().is_some_and(|deadline| self.now() >= deadline) {
            return Poll::Ready(Err(self.stop_at_deadline(attempts, None)));
        }
        Poll::Ready(Ok(()))
    }

    /// Decides what follows a failed attempt; `error` is `None` when the attempt timed out,
    /// `timed` whether its timer is armed. Returns the next state.
    #[inline]
    fn after_failure<Fut>(
        &mut self,
        error: Option<E>,
        timed: bool,
        attempts: u32,
    ) -> Next<Fut, H::Future, E>
    where
        K: Classify<E>,
        H: Hook<E>,
    {
        let verdict = match &error {
            Some(error) => self.classifier.classify(error),
            None => self.policy.on_timeout,
        };
        let mut now = None;
        if self.started.is_none() {
            let at = self.now();
            self.started = Some(at);
            now = Some(at);
        }
        if verdict == Verdict::Fail || self.policy.max_retries.is_some_and(|max| attempts > max) {
            return Err(self.give_up(error, verdict == Verdict::Fail, attempts, now));
        }
        let policy = &*self.policy;
        let observed = H::ENABLED || cfg!(feature = "tracing");
        if verdict == Verdict::Retry
            && policy.fixed_delay == Some(Duration::ZERO)
            && policy.max_elapsed.is_none()
            && policy.budget.is_none()
            && !observed
        {
            // A zero delay with nothing to time, withdraw or report: just yield.
            if error.is_some() {
                self.last_error = error;
            }
            self.disarm(timed);
            return Ok(State::Yielded);
        }
        let (delay, too_long) = match verdict {
            Verdict::RetryAfter(asked) => policy.retry_after(asked),
            _ => match policy.fixed_delay {
                Some(delay) => (delay, false),
                None => match self.next_scheduled() {
                    Some(delay) => (delay, false),
                    // A custom schedule ended: as when the retries run out.
                    None => return Err(self.give_up(error, false, attempts, now)),
                },
            },
        };
        self.schedule(error, delay, too_long, attempts, now, timed)
    }

    /// The next delay of a schedule that changes between retries; `None` when a custom
    /// schedule has ended.
    #[inline(never)]
    fn next_scheduled(&mut self) -> Option<Duration> {
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
        attempts: u32,
        now: Option<Instant>,
    ) -> RetryError<E> {
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
    /// deadline or budget, or reports the retry: checks the limits, arms the timer and calls
    /// the hook.
    #[inline(never)]
    fn schedule<Fut>(
        &mut self,
        error: Option<E>,
        delay: Duration,
        too_long: bool,
        attempts: u32,
        mut now: Option<Instant>,
        timed: bool,
    ) -> Next<Fut, H::Future, E>
    where
        H: Hook<E>,
    {
        let deadline = self.deadline();
        let observed = H::ENABLED || cfg!(feature = "tracing");
        if now.is_none() && (deadline.is_some() || !delay.is_zero() || observed) {
            now = Some(self.now());
        }
        let wake_at = now.and_then(|now| now.checked_add(delay));
        if let Some(deadline) = deadline {
            if !too_long && wake_at.is_none_or(|at| at >= deadline) {
                return Err(self.stop_at_deadline(attempts, error));
            }
        }
        // A delay past every representable instant (`Duration::MAX`) would never end.
        if too_long || (!delay.is_zero() && wake_at.is_none()) {
            let elapsed = now.map_or(Duration::ZERO, |now| self.elapsed(now));
            self.finish();
            let last = error.or_else(|| self.last_error.take());
            return Err(RetryError::DelayTooLong { attempts, elapsed, delay, last });
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
        let wake = wake_at.filter(|_| !delay.is_zero());
        let mut hook = None;
        if observed {
            let attempt = Attempt {
                retry: attempts,
                limit: self.policy.max_retries,
                elapsed: now.map_or(Duration::ZERO, |now| self.elapsed(now)),
                delay,
                error: if timed_out { None } else { self.last_error.as_ref() },
            };
            attempt.trace();
            if H::ENABLED {
                hook = Some(self.hook.on_retry(&attempt));
            }
        }
        Ok(match (hook, wake) {
            // The hook runs first, cut off at the deadline; the delay counts from the failure.
            (Some(hook), wake) => {
                let timer = match (wake, deadline) {
                    (Some(at), _) => {
                        self.arm(at);
                        HookTimer::Wake
                    }
                    (None, Some(deadline)) => {
                        self.arm(deadline);
                        HookTimer::Deadline
                    }
                    (None, None) => {
                        self.disarm(timed);
                        HookTimer::None
                    }
                };
                State::Hook { hook, timer, pended: false }
            }
            (None, Some(at)) => {
                self.arm(at);
                State::Sleep { pended: false }
            }
            (None, None) => {
                self.disarm(timed);
                State::Yielded
            }
        })
    }

    /// The hook finished: sleeps the rest of the delay, or goes on to the next attempt.
    fn after_hook<Fut>(&mut self, timer: HookTimer, pended: bool) -> State<Fut, H::Future>
    where
        H: Hook<E>,
    {
        match timer {
            HookTimer::Wake => State::Sleep { pended },
            HookTimer::Deadline | HookTimer::None => {
                self.disarm(timer == HookTimer::Deadline);
                if pended { State::Ready } else { State::Yielded }
            }
        }
    }
}

impl<C: Clock, K, H: Hook<E>, E> Core<'_, C, K, H, E> {
    /// Between attempts: runs the hook (cut off at the deadline), then the sleep.
    ///
    /// `Ready` with the next state, or with the error that ends the retry. Kept out of
    /// `poll`, so the attempt path stays small.
    #[inline(never)]
    fn poll_pause<Fut>(
        &mut self,
        state: Pin<&mut State<Fut, H::Future>>,
        cx: &mut Context<'_>,
        attempts: u32,
    ) -> Poll<Next<Fut, H::Future, E>> {
        match state.project() {
            StateProj::Hook { hook, timer, pended } => {
                if hook.poll(cx).is_ready() {
                    return Poll::Ready(Ok(self.after_hook(*timer, *pended)));
                }
                *pended = true;
                if *timer == HookTimer::Wake && self.poll_timer(cx).is_ready() {
                    // The delay passed while the hook ran: the timer now waits for the
                    // deadline, if there is one.
                    match self.deadline() {
                        Some(deadline) => {
                            self.arm(deadline);
                            *timer = HookTimer::Deadline;
                        }
                        None => {
                            self.disarm(true);
                            *timer = HookTimer::None;
                        }
                    }
                }
                if *timer == HookTimer::Deadline && self.poll_timer(cx).is_ready() {
                    // The deadline passed while the hook ran.
                    return Poll::Ready(Err(self.stop_at_deadline(attempts, None)));
                }
                Poll::Pending
            }
            StateProj::Sleep { pended } => {
                if self.poll_timer(cx).is_pending() {
                    *pended = true;
                    return Poll::Pending;
                }
                // An elapsed delay that never returned `Pending` still yields once.
                Poll::Ready(Ok(if *pended { State::Ready } else { State::Yielded }))
            }
            _ => unreachable!("only a pause is polled here"),
        }
    }
}

impl<F, Fut, C, K, H> Retry<'_, F, Fut, C, K, H>
where
    Fut: TryFuture,
    C: Clock,
    H: Hook<Fut::Error>,
{
    /// Stores the next state; `true` when it is a zero delay's yield, after waking the task
    /// so that other tasks run before the next call.
    #[inline]
    fn enter(
        mut state: Pin<&mut State<Fut, H::Future>>,
        next: State<Fut, H::Future>,
        cx: &mut Context<'_>,
    ) -> bool {
        let yielded = matches!(next, State::Yielded);
        state.set(next);
        if yielded {
            cx.waker().wake_by_ref();
        }
        yielded
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
        let attempts = this.attempts;
        loop {
            let (future, timed) = match this.state.as_mut().project() {
                StateProj::Attempt { future, timed } => (future, *timed),
                StateProj::Ready | StateProj::Yielded => match core.begin_attempt(*attempts) {
                    Ok(timed) => {
                        let future = (this.operation)();
                        *attempts = attempts.saturating_add(1);
                        this.state.set(State::Attempt { future, timed });
                        match this.state.as_mut().project() {
                            StateProj::Attempt { future, .. } => (future, timed),
                            _ => unreachable!("the attempt was just stored"),
                        }
                    }
                    Err(error) => {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                },
                StateProj::Hook { .. } | StateProj::Sleep { .. } => {
                    match core.poll_pause(this.state.as_mut(), cx, *attempts) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(state)) => {
                            if Self::enter(this.state.as_mut(), state, cx) {
                                return Poll::Pending;
                            }
                            continue;
                        }
                        Poll::Ready(Err(error)) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(error));
                        }
                    }
                }
                StateProj::Done => panic!("`Retry` polled after it completed"),
            };
            let error = match future.try_poll(cx) {
                Poll::Ready(Ok(value)) => {
                    core.succeed();
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(value));
                }
                Poll::Ready(Err(error)) => Some(error),
                Poll::Pending if !timed => {
                    if core.started.is_none() {
                        core.note_started();
                    }
                    return Poll::Pending;
                }
                Poll::Pending => match core.poll_attempt_timer(cx, *attempts) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => None,
                    Poll::Ready(Err(error)) => {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                },
            };
            let next = core.after_failure(error, timed, *attempts);
            match next {
                Ok(state) => {
                    if Self::enter(this.state.as_mut(), state, cx) {
                        return Poll::Pending;
                    }
                }
                Err(error) => {
                    this.state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
            }
        }
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
            State::Ready if self.attempts > 0 => "sleep",
            State::Ready => "start",
            State::Yielded | State::Sleep { .. } => "sleep",
            State::Attempt { .. } => "attempt",
            State::Hook { .. } => "hook",
            State::Done => "done",
        };
        f.debug_struct("Retry")
            .field("attempts", &self.attempts)
            .field("state", &state)
            .field("policy", &*self.core.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests;
