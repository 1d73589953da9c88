use std::time::Duration;

/// How the delay between attempts grows: the shape of a [`RetryPolicy`](crate::RetryPolicy)'s
/// schedule, before jitter and before the policy's `[min_delay, max_delay]` bounds.
///
/// A small value type (`Copy`), so a policy stays `Clone + Send + Sync` without boxing.
/// Growth saturates: no count of attempts and no [`Duration::MAX`] input overflows or panics.
///
/// | constructor | delay before retry *n* (1-based) |
/// |---|---|
/// | [`constant(d)`](Self::constant) | `d` |
/// | [`linear(initial, step)`](Self::linear) | `initial + (n - 1) * step` |
/// | [`exponential(initial, factor)`](Self::exponential) | `initial * factor^(n - 1)` |
/// | [`fibonacci(initial)`](Self::fibonacci) | `initial * fib(n)`: 1, 1, 2, 3, 5, … |
/// | [`decorrelated_jitter(base)`](Self::decorrelated_jitter) | random in `[base, 3 * previous]` |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously_retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::fibonacci(Duration::from_millis(10)))
///     .max_retries(5)
///     .build()?;
/// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [10, 10, 20, 30, 50]);
/// # Ok::<_, asynchronously_retry::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub(crate) kind: BackoffKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BackoffKind {
    Constant(Duration),
    Linear { initial: Duration, step: Duration },
    Exponential { initial: Duration, factor: f64 },
    Fibonacci(Duration),
    DecorrelatedJitter(Duration),
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
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::constant(Duration::from_secs(2)))
    ///     .max_retries(3)
    ///     .build()?;
    /// assert!(policy.delays().all(|d| d == Duration::from_secs(2)));
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
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
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::linear(Duration::from_millis(100), Duration::from_millis(50)))
    ///     .max_retries(3)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [100, 150, 200]);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
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
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::exponential(Duration::from_millis(100), 2.0))
    ///     .max_delay(Duration::from_millis(500))
    ///     .max_retries(5)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [100, 200, 400, 500, 500]);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
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
    /// use asynchronously_retry::{Backoff, RetryPolicy};
    ///
    /// let policy = RetryPolicy::builder()
    ///     .backoff(Backoff::fibonacci(Duration::from_secs(1)))
    ///     .max_retries(6)
    ///     .build()?;
    /// let delays: Vec<_> = policy.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(delays, [1, 1, 2, 3, 5, 8]);
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
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
    /// use asynchronously_retry::{Backoff, RetryPolicy};
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
    /// # Ok::<_, asynchronously_retry::PolicyError>(())
    /// ```
    pub const fn decorrelated_jitter(base: Duration) -> Self {
        Backoff { kind: BackoffKind::DecorrelatedJitter(base) }
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
