use std::fmt;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use super::Settings;
use crate::backoff::BackoffKind;
use crate::delays::Shape;
use crate::{Backoff, Jitter, LongRetryAfter, RetryBudget, RetryPolicy, Verdict};

/// Builds a [`RetryPolicy`]; [`build`](Self::build) validates every setting at once.
///
/// Created by [`RetryPolicy::builder`]. Setters are named after the setting they change.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::exponential(Duration::from_millis(50), 2.0))
///     .jitter(Jitter::Full)
///     .max_delay(Duration::from_secs(5))
///     .max_retries(8)
///     .max_elapsed(Duration::from_secs(30))
///     .attempt_timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(policy.max_retries(), Some(8));
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryPolicyBuilder<C: Clock = RealClock> {
    policy: Settings<C>,
}

/// Why [`RetryPolicyBuilder::build`] refused a setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An exponential factor that is NaN, infinite or below 1.0.
    #[error(
        "exponential backoff factor must be finite and at least 1.0, got {factor}; use Backoff::constant for a fixed delay"
    )]
    InvalidFactor {
        /// The factor given.
        factor: f64,
    },
    /// `min_delay` above `max_delay`: no delay could satisfy both.
    #[error(
        "min_delay ({min:?}) must not exceed max_delay ({max:?}); raise max_delay or lower min_delay"
    )]
    DelayBoundsReversed {
        /// The minimum delay given.
        min: Duration,
        /// The maximum delay given.
        max: Duration,
    },
    /// A zero `max_elapsed` would stop before the first attempt could finish.
    #[error("max_elapsed must be greater than zero; use Duration::MAX for no limit")]
    ZeroMaxElapsed,
    /// A zero `attempt_timeout` would cut off every attempt at once.
    #[error("attempt_timeout must be greater than zero; use Duration::MAX for no timeout")]
    ZeroAttemptTimeout,
}

/// The default `max_delay`: backon's, so unlimited retries never reach day-long sleeps.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

impl RetryPolicyBuilder {
    pub(crate) fn new() -> Self {
        RetryPolicyBuilder {
            policy: Settings {
                shape: Shape {
                    backoff: Backoff::default(),
                    jitter: Jitter::None,
                    min_delay: Duration::ZERO,
                    max_delay: DEFAULT_MAX_DELAY,
                },
                fixed_delay: None,
                timed: false,
                max_retries: Some(3),
                max_elapsed: None,
                attempt_timeout: None,
                seed: None,
                long_retry_after: LongRetryAfter::Clamp,
                on_timeout: Verdict::Retry,
                budget: None,
                clock: RealClock,
            },
        }
    }

    /// The defaults, which are always valid.
    pub(crate) fn into_policy(self) -> RetryPolicy {
        let mut policy = self.policy;
        policy.prepare();
        policy.into_policy()
    }
}

impl<C: Clock> RetryPolicyBuilder<C> {
    /// Sets the growth of the delay between attempts. Default: exponential, 100 ms, factor 2.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::from_secs(1))).build()?;
    /// assert_eq!(policy.delays().next(), Some(Duration::from_secs(1)));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy.shape.backoff = backoff;
        self
    }

    /// Sets the randomness added to each delay. Default: [`Jitter::None`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, Jitter, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::constant(Duration::from_secs(1)))
    ///     .jitter(Jitter::Full)
    ///     .build()?;
    /// assert!(policy.delays().all(|d| d <= Duration::from_secs(1)));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.policy.shape.jitter = jitter;
        self
    }

    /// Sets the shortest delay between attempts, applied after jitter. Default: zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, Jitter, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::constant(Duration::from_secs(1)))
    ///     .jitter(Jitter::Full)
    ///     .min_delay(Duration::from_millis(300))
    ///     .build()?;
    /// assert!(policy.delays().all(|d| d >= Duration::from_millis(300)));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn min_delay(mut self, min_delay: Duration) -> Self {
        self.policy.shape.min_delay = min_delay;
        self
    }

    /// Sets the longest delay between attempts, applied after jitter and to
    /// [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) (see
    /// [`long_retry_after`](Self::long_retry_after)). Default: 60 s, as backon, so that
    /// [`unlimited_retries`](Self::unlimited_retries) never reaches day-long sleeps.
    /// [`Duration::MAX`] removes the cap; a delay that can never end then stops the retry
    /// with [`RetryError::DelayTooLong`](crate::RetryError::DelayTooLong).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::exponential(Duration::from_secs(1), 10.0))
    ///     .max_delay(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(policy.delays().last(), Some(Duration::from_secs(60)));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.policy.shape.max_delay = max_delay;
        self
    }

    /// Allows at most `retries` retries: `retries + 1` calls in all; `0` means one call.
    /// Default: 3.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().max_retries(0).build()?;
    /// assert_eq!(policy.delays().count(), 0, "one call, no retry");
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.policy.max_retries = Some(retries);
        self
    }

    /// Retries without a count limit (time limits and the budget still apply).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().unlimited_retries().build()?;
    /// assert_eq!(policy.delays().take(1000).count(), 1000);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn unlimited_retries(mut self) -> Self {
        self.policy.max_retries = None;
        self
    }

    /// Limits the total time, **attempts included**, from the first call.
    ///
    /// An attempt still running at the limit is cut off (dropped), and no sleep is started
    /// that would end at or after the limit: the retry stops with
    /// [`RetryError::DeadlineExceeded`](crate::RetryError::DeadlineExceeded) instead.
    /// [`Duration::MAX`] means no limit. Default: no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().max_elapsed(Duration::from_secs(30)).build()?;
    /// # let _ = policy;
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.policy.max_elapsed = Some(max_elapsed);
        self
    }

    /// Limits each attempt: an attempt still running after `timeout` is dropped and counts as
    /// a retryable failure (classifiers are not asked: there is no error value to classify).
    /// If it was the last allowed attempt, the result is
    /// [`RetryError::TimedOut`](crate::RetryError::TimedOut). [`Duration::MAX`] means no
    /// timeout. Default: none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().attempt_timeout(Duration::from_secs(2)).build()?;
    /// # let _ = policy;
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.policy.attempt_timeout = Some(timeout);
        self
    }

    /// Seeds the jitter, so every schedule of this policy is the same sequence: for tests and
    /// reproducible runs. Unseeded (the default), each retry draws its own seed, so clients do
    /// not retry in lockstep.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::{Jitter, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().jitter(Jitter::Full).seed(42).build()?;
    /// assert!(policy.delays().eq(policy.delays()));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.seed = Some(seed);
        self
    }

    /// What a [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) longer than `max_delay`
    /// does: [`LongRetryAfter::Clamp`] (the default) waits `max_delay`,
    /// [`LongRetryAfter::GiveUp`] stops with
    /// [`RetryError::DelayTooLong`](crate::RetryError::DelayTooLong).
    ///
    /// # Examples
    ///
    /// See [`LongRetryAfter`].
    pub fn long_retry_after(mut self, long_retry_after: LongRetryAfter) -> Self {
        self.policy.long_retry_after = long_retry_after;
        self
    }

    /// Decides what an attempt cut off by [`attempt_timeout`](Self::attempt_timeout) counts
    /// as, as [`Retry::classify`](crate::Retry::classify) does for errors. Default:
    /// [`Verdict::Retry`]. [`Verdict::Fail`] stops at once with
    /// [`RetryError::TimedOut`](crate::RetryError::TimedOut); [`Verdict::RetryAfter`]
    /// retries after the given delay (within the policy's bounds, as for errors).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{RetryError, RetryPolicy, Verdict};
    /// use asynchronously::time::{Clock, VirtualClock};
    /// # use futures::FutureExt;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder()
    ///     .attempt_timeout(Duration::from_secs(1))
    ///     .classify_timeout(Verdict::Fail)
    ///     .max_retries(5)
    ///     .with_clock(clock.clone())
    ///     .build()?;
    /// let retry = policy.retry(|| clock.sleep(Duration::from_secs(60)).map(Ok::<(), &str>));
    /// let (result, ()) = futures::join!(retry, clock.run_for(Duration::from_secs(10)));
    /// assert!(matches!(result, Err(RetryError::TimedOut { attempts: 1, .. })));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn classify_timeout(mut self, verdict: Verdict) -> Self {
        self.policy.on_timeout = verdict;
        self
    }

    /// Draws every retry from a shared [`RetryBudget`]; a refused retry stops with
    /// [`RetryError::BudgetExhausted`](crate::RetryError::BudgetExhausted). Every success
    /// deposits into it. The budget measures its per-second floor on its own clock (the one
    /// given to [`RetryBudget::with_clock`]), so it may be set before or after
    /// [`with_clock`](Self::with_clock).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::{RetryBudget, RetryPolicy};
    ///
    /// let budget = RetryBudget::new(0.1, 10, 100)?;
    /// let reads = RetryPolicy::builder().budget(budget.clone()).build()?;
    /// let writes = RetryPolicy::builder().max_retries(1).budget(budget).build()?;
    /// # let _ = (reads, writes);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn budget<B: Clock>(mut self, budget: RetryBudget<B>) -> Self {
        self.policy.budget = Some(budget.share());
        self
    }

    /// Measures delays and limits on `clock` (a
    /// [`VirtualClock`](asynchronously_time::VirtualClock) in tests). Every other setting is
    /// kept, the budget included: the order of the setters does not matter.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let policy = RetryPolicy::builder().with_clock(clock.clone()).build()?;
    /// # let _ = policy;
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> RetryPolicyBuilder<C2> {
        let p = self.policy;
        RetryPolicyBuilder {
            policy: Settings {
                shape: p.shape,
                fixed_delay: None,
                timed: false,
                max_retries: p.max_retries,
                max_elapsed: p.max_elapsed,
                attempt_timeout: p.attempt_timeout,
                seed: p.seed,
                long_retry_after: p.long_retry_after,
                on_timeout: p.on_timeout,
                budget: p.budget,
                clock,
            },
        }
    }

    /// Validates the settings and returns the policy.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] names the first invalid setting: an exponential factor that is NaN,
    /// infinite or below 1.0, `min_delay > max_delay`, or a zero `max_elapsed` or
    /// `attempt_timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, PolicyError, RetryPolicy};
    ///
    /// let error = RetryPolicy::builder()
    ///     .backoff(Backoff::exponential(Duration::from_secs(1), f64::NAN))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(error, PolicyError::InvalidFactor { .. }));
    /// ```
    pub fn build(self) -> Result<RetryPolicy<C>, PolicyError> {
        let mut policy = self.policy;
        if let BackoffKind::Exponential { factor, .. } = policy.shape.backoff.kind {
            if !(factor.is_finite() && factor >= 1.0) {
                return Err(PolicyError::InvalidFactor { factor });
            }
        }
        let Shape { min_delay, max_delay, .. } = policy.shape;
        if min_delay > max_delay {
            return Err(PolicyError::DelayBoundsReversed { min: min_delay, max: max_delay });
        }
        if policy.max_elapsed == Some(Duration::ZERO) {
            return Err(PolicyError::ZeroMaxElapsed);
        }
        if policy.attempt_timeout == Some(Duration::ZERO) {
            return Err(PolicyError::ZeroAttemptTimeout);
        }
        policy.prepare();
        Ok(policy.into_policy())
    }
}

impl<C: Clock> fmt::Debug for RetryPolicyBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryPolicyBuilder").field(&self.policy).finish()
    }
}
