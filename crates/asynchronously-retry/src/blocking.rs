use std::fmt;
use std::future::Ready;

use asynchronously_time::{BlockingClock, Clock, RealClock};

use crate::delays::Cursor;
use crate::policy::Settings;
use crate::{
    Attempt, Classify, Hook, NoHook, RetryAll, RetryError, RetryIf, RetryPolicy, SyncHook, Verdict,
};

/// A retry of a synchronous operation, returned by
/// [`RetryPolicy::retry_blocking`]: set what to retry and what to report, then
/// [`call`](Self::call) it.
///
/// It follows the same policy as the async [`Retry`](crate::Retry) — schedule, jitter,
/// bounds, retry limit, `max_elapsed`, [`RetryBudget`](crate::RetryBudget),
/// [`LongRetryAfter`](crate::LongRetryAfter) — with the same classification ([`retry_if`](Self::retry_if),
/// [`classify`](Self::classify)), the same [`Attempt`] record for
/// [`on_retry`](Self::on_retry) (and the `tracing` event) and the same [`RetryError`]s.
/// Between attempts it blocks the thread on the policy's clock
/// ([`BlockingClock::sleep_blocking`]): `std::thread::sleep` on the real clock, an instant
/// [`advance`](asynchronously_time::VirtualClock::advance) on a virtual one, so tests never
/// really sleep.
///
/// What differs, because a running call cannot be interrupted:
///
/// - `attempt_timeout` and `classify_timeout` do not apply: every attempt runs to its end.
/// - `max_elapsed` cannot cut an attempt off. It is checked when an attempt fails: no sleep
///   is started that would end at or after the deadline, so a failure at or past it stops
///   with [`RetryError::DeadlineExceeded`]. An attempt that succeeds after the deadline
///   still returns its value.
///
/// Never use it in async code: it blocks the executor's thread. Use
/// [`RetryPolicy::retry`] there.
///
/// # Panics
///
/// A panic in the operation, the classifier or the hook propagates to the caller of
/// [`call`](Self::call); nothing is left behind (the budget keeps what it had).
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy};
/// use asynchronously::time::VirtualClock;
///
/// let clock = VirtualClock::new();
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::constant(Duration::from_secs(1)))
///     .max_retries(5)
///     .with_clock(clock.clone())
///     .build()?;
///
/// let mut calls = 0;
/// let contents = policy
///     .retry_blocking(|| {
///         calls += 1;
///         if calls < 3 { Err(io::Error::from(io::ErrorKind::WouldBlock)) } else { Ok("contents") }
///     })
///     .retry_if(|error| error.kind() == io::ErrorKind::WouldBlock)
///     .call()?;
/// assert_eq!(contents, "contents");
/// assert_eq!(clock.elapsed(), Duration::from_secs(2), "two delays, on virtual time");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a blocking retry does nothing until `call` is called"]
pub struct RetryBlocking<'a, F, C: Clock = RealClock, K = RetryAll, H = NoHook> {
    operation: F,
    policy: &'a Settings<C>,
    classifier: K,
    hook: H,
}

impl<C: BlockingClock> RetryPolicy<C> {
    /// Returns a retry of the synchronous `operation` under this policy, for code without
    /// an async runtime: [`call`](RetryBlocking::call) runs it, blocking the thread between
    /// attempts. See [`RetryBlocking`] for what applies.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryError, RetryPolicy};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0))
    ///     .max_retries(3)
    ///     .with_clock(clock.clone())
    ///     .build()?;
    /// let error = policy.retry_blocking(|| Err::<(), _>("locked")).call().unwrap_err();
    /// assert!(matches!(error, RetryError::Exhausted { attempts: 4, last: "locked", .. }));
    /// assert_eq!(error.elapsed(), Duration::from_millis(700), "100 + 200 + 400 ms");
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn retry_blocking<F, T, E>(&self, operation: F) -> RetryBlocking<'_, F, C>
    where
        F: FnMut() -> Result<T, E>,
    {
        RetryBlocking { operation, policy: &self.settings, classifier: RetryAll, hook: NoHook }
    }
}

impl<'a, F, T, E, C, K, H> RetryBlocking<'a, F, C, K, H>
where
    F: FnMut() -> Result<T, E>,
    C: BlockingClock,
{
    /// Retries only the errors `predicate` accepts; any other error is returned at once as
    /// [`RetryError::Permanent`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::{RetryError, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().max_retries(5).build()?;
    /// let result = policy.retry_blocking(|| Err::<(), _>("denied")).retry_if(|e| *e == "busy").call();
    /// assert!(matches!(result, Err(RetryError::Permanent { attempts: 1, error: "denied", .. })));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn retry_if<P>(self, predicate: P) -> RetryBlocking<'a, F, C, RetryIf<P>, H>
    where
        P: FnMut(&E) -> bool,
    {
        self.with_classifier(RetryIf::new(predicate))
    }

    /// Decides per error: [`Verdict::Retry`], [`Verdict::RetryAfter`] (a delay the error
    /// names, within the policy's bounds and [`LongRetryAfter`](crate::LongRetryAfter) rule) or [`Verdict::Fail`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{RetryPolicy, Verdict};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder().max_retries(1).with_clock(clock.clone()).build()?;
    /// let result = policy
    ///     .retry_blocking(|| Err::<(), _>(Duration::from_secs(7)))
    ///     .classify(|retry_after: &Duration| Verdict::RetryAfter(*retry_after))
    ///     .call();
    /// assert_eq!(result.unwrap_err().elapsed(), Duration::from_secs(7));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn classify<K2>(self, classifier: K2) -> RetryBlocking<'a, F, C, K2, H>
    where
        K2: FnMut(&E) -> Verdict,
    {
        self.with_classifier(classifier)
    }

    /// Uses any [`Classify`] implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::{RetryError, RetryIf, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().build()?;
    /// let result = policy
    ///     .retry_blocking(|| Err::<(), _>(404))
    ///     .with_classifier(RetryIf::new(|status: &i32| *status >= 500))
    ///     .call();
    /// assert!(matches!(result, Err(RetryError::Permanent { error: 404, .. })));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn with_classifier<K2>(self, classifier: K2) -> RetryBlocking<'a, F, C, K2, H>
    where
        K2: Classify<E>,
    {
        let RetryBlocking { operation, policy, hook, .. } = self;
        RetryBlocking { operation, policy, classifier, hook }
    }

    /// Calls `hook` before each retry's delay with the [`Attempt`] record (`retry K/N`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(2).build()?;
    /// let mut seen = Vec::new();
    /// let _ = policy
    ///     .retry_blocking(|| Err::<(), _>("down"))
    ///     .on_retry(|attempt| seen.push(attempt.to_string()))
    ///     .call();
    /// assert_eq!(seen, ["retry 1/2 in 0ns", "retry 2/2 in 0ns"]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn on_retry<G>(self, hook: G) -> RetryBlocking<'a, F, C, K, SyncHook<G>>
    where
        G: FnMut(&Attempt<'_, E>),
    {
        let RetryBlocking { operation, policy, classifier, .. } = self;
        RetryBlocking { operation, policy, classifier, hook: SyncHook::new(hook) }
    }

    /// Runs the operation until it succeeds or the policy gives up, blocking the thread
    /// between attempts; returns its value or why it stopped.
    ///
    /// # Errors
    ///
    /// The [`RetryError`] that says why it stopped, as for the async
    /// [`Retry`](crate::Retry) (never [`RetryError::TimedOut`]: attempts have no timeout).
    ///
    /// # Examples
    ///
    /// See [`RetryBlocking`].
    pub fn call(self) -> Result<T, RetryError<E>>
    where
        K: Classify<E>,
        H: Hook<E, Future = Ready<()>>,
    {
        let RetryBlocking { mut operation, policy, mut classifier, mut hook } = self;
        let clock = &policy.clock;
        let started = clock.now();
        let deadline = policy.max_elapsed.and_then(|limit| started.checked_add(limit));
        let mut cursor: Option<Cursor> = None;
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let error = match operation() {
                Ok(value) => {
                    if let Some(budget) = &policy.budget {
                        budget.deposit();
                    }
                    return Ok(value);
                }
                Err(error) => error,
            };
            let now = clock.now();
            let elapsed = now.saturating_duration_since(started);
            let verdict = classifier.classify(&error);
            if verdict == Verdict::Fail {
                return Err(RetryError::Permanent { attempts, elapsed, error });
            }
            if policy.max_retries.is_some_and(|max| attempts > max) {
                return Err(RetryError::Exhausted { attempts, elapsed, last: error });
            }
            let (delay, too_long) = match verdict {
                Verdict::RetryAfter(asked) => policy.retry_after(asked),
                _ => match policy.fixed_delay {
                    Some(delay) => (delay, false),
                    None => {
                        let cursor =
                            cursor.get_or_insert_with(|| Cursor::new(&policy.shape, policy.seed));
                        match cursor.next_delay(&policy.shape) {
                            Some(delay) => (delay, false),
                            // A custom schedule ended: as when the retries run out.
                            None => {
                                return Err(RetryError::Exhausted {
                                    attempts,
                                    elapsed,
                                    last: error,
                                });
                            }
                        }
                    }
                },
            };
            let wake_at = now.checked_add(delay);
            if let Some(deadline) = deadline {
                if !too_long && wake_at.is_none_or(|at| at >= deadline) {
                    return Err(RetryError::DeadlineExceeded {
                        attempts,
                        elapsed,
                        last: Some(error),
                    });
                }
            }
            // A delay past every representable instant (`Duration::MAX`) would never end.
            if too_long || wake_at.is_none() {
                return Err(RetryError::DelayTooLong {
                    attempts,
                    elapsed,
                    delay,
                    last: Some(error),
                });
            }
            if let Some(budget) = &policy.budget {
                if !budget.try_withdraw() {
                    return Err(RetryError::BudgetExhausted {
                        attempts,
                        elapsed,
                        last: Some(error),
                    });
                }
            }
            let attempt = Attempt {
                retry: attempts,
                limit: policy.max_retries,
                elapsed,
                delay,
                error: Some(&error),
            };
            attempt.trace();
            if H::ENABLED {
                drop(hook.on_retry(&attempt));
            }
            drop(error);
            clock.sleep_blocking(delay);
        }
    }
}

impl<F, C: Clock, K, H> fmt::Debug for RetryBlocking<'_, F, C, K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBlocking").field("policy", self.policy).finish_non_exhaustive()
    }
}
