use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};
use futures::TryFuture;

use crate::budget::SharedBudget;
use crate::delays::Shape;
use crate::{Delays, LongRetryAfter, Retry, Verdict};

mod builder;

pub use self::builder::{PolicyError, RetryPolicyBuilder};

/// Whether and how often to retry: a reusable, validated value, built once and used at many
/// call sites.
///
/// A policy holds the schedule ([`Backoff`](crate::Backoff), [`Jitter`](crate::Jitter), delay bounds), the limits (retries,
/// total elapsed time including attempt time, per-attempt timeout), an optional shared
/// [`RetryBudget`](crate::RetryBudget) and the [`Clock`] it measures time on. It is
/// `Clone + Send + Sync`; cloning copies a few words (and bumps the budget's reference count),
/// which is what [`retry`](Self::retry) does so that its future can be spawned.
///
/// What to retry (classification) and what to report (hooks) belong to each call site and are
/// set on the [`Retry`] future.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::exponential(Duration::from_millis(1), 2.0))
///     .max_retries(4)
///     .build()?;
///
/// let mut calls = 0;
/// let value = policy
///     .retry(|| {
///         calls += 1;
///         let call = calls;
///         async move { if call < 3 { Err(std::io::Error::other("busy")) } else { Ok(call) } }
///     })
///     .await?;
/// assert_eq!(value, 3);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RetryPolicy<C: Clock = RealClock> {
    /// Shared, so a clone (what [`retry`](Self::retry) makes) is one reference count.
    pub(crate) settings: Arc<Settings<C>>,
}

/// The settings of a policy, as the builder fills them in.
#[derive(Clone)]
pub(crate) struct Settings<C: Clock> {
    pub(crate) shape: Shape,
    /// `shape.fixed_delay()`, set by [`prepare`](Self::prepare).
    pub(crate) fixed_delay: Option<Duration>,
    /// Whether an attempt needs a timer (an attempt timeout or an overall deadline), set by
    /// [`prepare`](Self::prepare).
    pub(crate) timed: bool,
    pub(crate) max_retries: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) seed: Option<u64>,
    pub(crate) long_retry_after: LongRetryAfter,
    /// What an attempt cut off by its timeout counts as (a policy setting, so that the
    /// future stays small).
    pub(crate) on_timeout: Verdict,
    pub(crate) budget: Option<SharedBudget>,
    pub(crate) clock: C,
}

impl RetryPolicy {
    /// Starts building a policy on the real clock.
    ///
    /// Defaults: [`Backoff::exponential`](crate::Backoff::exponential)`(100 ms, 2.0)`, no
    /// jitter, delays in `[0, 60 s]` (as backon), 3 retries (4 calls), no time limits, no
    /// budget, a [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) beyond 60 s clamped.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().max_retries(10).build()?;
    /// assert_eq!(policy.max_retries(), Some(10));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::new()
    }
}

/// The policy a [`Retry`] runs under: borrowed, or a clone it owns.
pub(crate) enum PolicyRef<'a, C: Clock> {
    Borrowed(&'a Settings<C>),
    Owned(RetryPolicy<C>),
}

impl<C: Clock> Deref for PolicyRef<'_, C> {
    type Target = Settings<C>;

    #[inline]
    fn deref(&self) -> &Settings<C> {
        match self {
            PolicyRef::Borrowed(settings) => settings,
            PolicyRef::Owned(policy) => &policy.settings,
        }
    }
}

impl<C: Clock> Settings<C> {
    /// Precomputes what the retry loop checks on every attempt; called by the builder.
    pub(crate) fn prepare(&mut self) {
        self.fixed_delay = self.shape.fixed_delay();
        self.timed = self.max_elapsed.is_some() || self.attempt_timeout.is_some();
    }

    /// A delay an error asked for (`Verdict::RetryAfter`), within the policy's bounds; `true`
    /// when it exceeds `max_delay` and the policy gives up on such delays. The async and the
    /// blocking retry both decide through this.
    pub(crate) fn retry_after(&self, asked: Duration) -> (Duration, bool) {
        let shape = &self.shape;
        if asked > shape.max_delay && self.long_retry_after == LongRetryAfter::GiveUp {
            return (asked, true);
        }
        (asked.clamp(shape.min_delay, shape.max_delay), false)
    }

    /// The validated policy.
    pub(crate) fn into_policy(self) -> RetryPolicy<C> {
        RetryPolicy { settings: Arc::new(self) }
    }
}

impl<C: Clock> RetryPolicy<C> {
    /// Returns a future that calls `operation` until it succeeds or this policy gives up.
    ///
    /// The future holds a clone of the policy (a few words), so it is `'static` when the
    /// operation is: `tokio::spawn(policy.retry(op))` works as written. To borrow the policy
    /// instead, write `op.retry(&policy)` ([`Retryable`](crate::Retryable)).
    /// Narrow what is retried with [`Retry::retry_if`] or [`Retry::classify`]; observe
    /// retries with [`Retry::on_retry`] or [`Retry::on_retry_async`].
    ///
    /// # Cancel safety
    ///
    /// See [`Retry`]: dropping it stops everything.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryError, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder().max_retries(2).backoff(Backoff::constant(Duration::ZERO)).build()?;
    /// let result = policy.retry(|| async { Err::<(), _>("down") }).await;
    /// assert!(matches!(result, Err(RetryError::Exhausted { attempts: 3, last: "down", .. })));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// # }).unwrap();
    /// ```
    pub fn retry<F, Fut>(&self, operation: F) -> Retry<'static, F, Fut, C>
    where
        F: FnMut() -> Fut,
        Fut: TryFuture,
    {
        Retry::new(PolicyRef::Owned(self.clone()), operation)
    }

    /// Like [`retry`](Self::retry), borrowing the policy instead of cloning it; what
    /// [`Retryable::retry`](crate::Retryable::retry) calls.
    pub(crate) fn retry_borrowed<F, Fut>(&self, operation: F) -> Retry<'_, F, Fut, C>
    where
        F: FnMut() -> Fut,
        Fut: TryFuture,
    {
        Retry::new(PolicyRef::Borrowed(&self.settings), operation)
    }

    /// Returns the schedule: the delay before each retry, one per allowed retry (fewer if a
    /// [`Backoff::custom`](crate::Backoff::custom) schedule ends first).
    ///
    /// Unseeded policies with jitter give a different schedule each call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::linear(Duration::from_secs(1), Duration::from_secs(1)))
    ///     .max_retries(3)
    ///     .build()?;
    /// assert_eq!(policy.delays().collect::<Vec<_>>(), [1, 2, 3].map(Duration::from_secs));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn delays(&self) -> Delays {
        let settings = &*self.settings;
        Delays::new(settings.shape.clone(), settings.max_retries, settings.seed)
    }

    /// Returns the retry limit: `Some(n)` allows `n + 1` calls, `None` is unlimited.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().unlimited_retries().build()?;
    /// assert_eq!(policy.max_retries(), None);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn max_retries(&self) -> Option<u32> {
        self.settings.max_retries
    }

    /// Returns the clock this policy measures time on.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryPolicy;
    /// use asynchronously::time::RealClock;
    ///
    /// let policy = RetryPolicy::default();
    /// assert_eq!(*policy.clock(), RealClock);
    /// ```
    pub fn clock(&self) -> &C {
        &self.settings.clock
    }
}

impl Default for RetryPolicy {
    /// The [`builder`](RetryPolicy::builder)'s defaults.
    fn default() -> Self {
        RetryPolicyBuilder::new().into_policy()
    }
}

impl<C: Clock> Clone for RetryPolicy<C> {
    fn clone(&self) -> Self {
        RetryPolicy { settings: Arc::clone(&self.settings) }
    }
}

impl<C: Clock> fmt::Debug for RetryPolicy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl<C: Clock> fmt::Debug for Settings<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("backoff", &self.shape.backoff)
            .field("jitter", &self.shape.jitter)
            .field("min_delay", &self.shape.min_delay)
            .field("max_delay", &self.shape.max_delay)
            .field("max_retries", &self.max_retries)
            .field("max_elapsed", &self.max_elapsed)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("seed", &self.seed)
            .field("long_retry_after", &self.long_retry_after)
            .field("on_timeout", &self.on_timeout)
            .field("budget", &self.budget)
            .field("clock", &self.clock)
            .finish()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RetryPolicy>();
};
