use std::time::Duration;

use crate::schedule::Schedule;

/// How the delay between attempts grows: the shape of a [`RetryPolicy`](crate::RetryPolicy)'s
/// schedule, before jitter and before the policy's `[min_delay, max_delay]` bounds.
///
/// A small value type, so a policy stays `Clone + Send + Sync`; cloning one copies a few
/// words (a [`custom`](Self::custom) schedule is shared behind a reference count). Growth
/// saturates: no count of attempts and no [`Duration::MAX`] input overflows or panics.
///
/// | constructor | delay before retry *n* (1-based) |
/// |---|---|
/// | [`constant(d)`](Self::constant) | `d` |
/// | [`linear(initial, step)`](Self::linear) | `initial + (n - 1) * step` |
/// | [`exponential(initial, factor)`](Self::exponential) | `initial * factor^(n - 1)` |
/// | [`fibonacci(initial)`](Self::fibonacci) | `initial * fib(n)`: 1, 1, 2, 3, 5, … |
/// | [`decorrelated_jitter(base)`](Self::decorrelated_jitter) | random in `[base, 3 * previous]` |
/// | [`custom(schedule)`](Self::custom) | the schedule's *n*-th item; none left: give up |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::fibonacci(Duration::from_millis(10)))
///     .max_retries(5)
///     .build()?;
/// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [10, 10, 20, 30, 50]);
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub(crate) kind: BackoffKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BackoffKind {
    Constant(Duration),
    Linear { initial: Duration, step: Duration },
    Exponential { initial: Duration, factor: f64 },
    Fibonacci(Duration),
    DecorrelatedJitter(Duration),
    Custom(Schedule),
}

impl Backoff {
    /// The same delay before every retry. `Duration::ZERO` retries at once (after yielding
    /// to the executor).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::constant(Duration::from_secs(2)))
    ///     .max_retries(3)
    ///     .build()?;
    /// assert!(policy.delays().all(|d| d == Duration::from_secs(2)));
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub const fn constant(delay: Duration) -> Self {
        Backoff { kind: BackoffKind::Constant(delay) }
    }

    /// A delay that grows by `step` after every retry, starting at `initial`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::linear(Duration::from_millis(100), Duration::from_millis(50)))
    ///     .max_retries(3)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [100, 150, 200]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub const fn linear(initial: Duration, step: Duration) -> Self {
        Backoff { kind: BackoffKind::Linear { initial, step } }
    }

    /// A delay multiplied by `factor` after every retry, starting at `initial`.
    ///
    /// `factor` must be finite and at least `1.0`;
    /// [`RetryPolicyBuilder::build`](crate::RetryPolicyBuilder::build) rejects anything else
    /// with [`PolicyError::InvalidFactor`](crate::PolicyError::InvalidFactor). Cap the growth
    /// with [`max_delay`](crate::RetryPolicyBuilder::max_delay).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0))
    ///     .max_delay(Duration::from_millis(500))
    ///     .max_retries(5)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [100, 200, 400, 500, 500]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub const fn exponential(initial: Duration, factor: f64) -> Self {
        Backoff { kind: BackoffKind::Exponential { initial, factor } }
    }

    /// Delays that follow the Fibonacci sequence in units of `initial`: 1, 1, 2, 3, 5, 8, …
    ///
    /// Grows more gently than doubling.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::fibonacci(Duration::from_secs(1)))
    ///     .max_retries(6)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(delays, [1, 1, 2, 3, 5, 8]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub const fn fibonacci(initial: Duration) -> Self {
        Backoff { kind: BackoffKind::Fibonacci(initial) }
    }

    /// AWS's "decorrelated jitter": each delay is random in `[base, 3 * previous delay]`,
    /// starting from `base`, then capped by the policy's `max_delay`.
    ///
    /// Already random; a [`Jitter`](crate::Jitter) on top is allowed but rarely useful.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::decorrelated_jitter(Duration::from_millis(10)))
    ///     .max_delay(Duration::from_secs(1))
    ///     .max_retries(20)
    ///     .seed(7)
    ///     .build()?;
    /// for delay in policy.delays() {
    ///     assert!(delay >= Duration::from_millis(10) && delay <= Duration::from_secs(1));
    /// }
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub const fn decorrelated_jitter(base: Duration) -> Self {
        Backoff { kind: BackoffKind::DecorrelatedJitter(base) }
    }

    /// Any schedule of delays: the delay before retry *n* is the schedule's *n*-th item, and
    /// when the schedule ends the retry gives up.
    ///
    /// Takes what tokio-retry takes as a strategy — any `IntoIterator<Item = Duration>` whose
    /// iterator is `Clone` — such as an array, a `Vec`, a `(1..).map(…)` chain or another
    /// crate's backoff iterator. The iterator is stored as given and cloned, from its first
    /// item, by each [`Retry`](crate::Retry) at its first scheduled delay (one allocation per
    /// retried call; a call that succeeds at once pays nothing). Nothing is collected, so an
    /// endless schedule is fine.
    ///
    /// The policy's other settings still apply, in this order: each item is capped at
    /// `max_delay`, then [`Jitter`](crate::Jitter) is applied, then the result is clamped
    /// into `[min_delay, max_delay]`; the retry limit, `max_elapsed` and the
    /// [`RetryBudget`](crate::RetryBudget) are checked as for any backoff.
    ///
    /// **When the schedule ends**, the retry stops with
    /// [`RetryError::Exhausted`](crate::RetryError::Exhausted) (or
    /// [`TimedOut`](crate::RetryError::TimedOut) if the last attempt timed out), exactly as
    /// when the retry limit is reached: an empty schedule makes one call. The number of
    /// retries is the smaller of the schedule's length and
    /// [`max_retries`](crate::RetryPolicyBuilder::max_retries) (3 by default): call
    /// [`unlimited_retries`](crate::RetryPolicyBuilder::unlimited_retries) to let the
    /// schedule alone decide. A [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) waits the
    /// delay the error named instead and does not consume an item.
    ///
    /// Two `custom` backoffs are equal only if one is a clone of the other.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::custom([10, 50, 200].map(Duration::from_millis)))
    ///     .unlimited_retries()
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [10, 50, 200], "three retries, then the retry gives up");
    ///
    /// // An endless schedule: 1 s, 2 s, 3 s, …, capped by `max_delay`.
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::custom((1..).map(Duration::from_secs)))
    ///     .max_delay(Duration::from_secs(3))
    ///     .max_retries(5)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 3, 3, 3]);
    /// # Ok::<_, asynchronously::retry::PolicyError>(())
    /// ```
    pub fn custom<S>(schedule: S) -> Self
    where
        S: IntoIterator<Item = Duration>,
        S::IntoIter: Clone + Send + Sync + 'static,
    {
        Backoff { kind: BackoffKind::Custom(Schedule::new(schedule.into_iter())) }
    }

    /// Whether this backoff draws random numbers itself.
    pub(crate) fn is_random(&self) -> bool {
        matches!(self.kind, BackoffKind::DecorrelatedJitter(_))
    }
}

impl Default for Backoff {
    /// `exponential(100 ms, 2.0)`.
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(100), 2.0)
    }
}
