use std::time::Duration;

/// Why a [`Retry`](crate::Retry) stopped without a success.
///
/// Every variant says how many calls ran and how long it all took (attempts included), and
/// holds the last error the operation returned where there is one. `last` is `None` only
/// when no attempt returned an error (each one timed out or was cut off).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(1).build()?;
/// let error = policy.retry(|| async { Err::<(), _>("down") }).await.unwrap_err();
/// assert_eq!(error.attempts(), 2);
/// assert_eq!(error.to_string(), "operation failed after 2 attempts; no retries left");
/// assert_eq!(error.into_last_error(), Some("down"));
/// # Ok::<_, asynchronously_retry::PolicyError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<E> {
    /// Every allowed attempt failed with a retryable error; `last` is the final one.
    #[error("operation failed after {attempts} attempts; no retries left")]
    Exhausted {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to the end of the last attempt.
        elapsed: Duration,
        /// The error of the final attempt.
        #[source]
        last: E,
    },
    /// The classifier judged the error permanent, so no further attempt was made.
    #[error(
        "operation failed with an error the classifier does not retry (after {attempts} attempts)"
    )]
    Permanent {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to the end of the last attempt.
        elapsed: Duration,
        /// The permanent error.
        #[source]
        error: E,
    },
    /// The final allowed attempt was cut off by the per-attempt timeout.
    #[error("the last of {attempts} attempts timed out; no retries left")]
    TimedOut {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to the timeout.
        elapsed: Duration,
        /// The last error an earlier attempt returned, if any.
        #[source]
        last: Option<E>,
    },
    /// The policy's `max_elapsed` was reached: an attempt was cut off at the deadline, or the
    /// next delay would have ended at or after it.
    #[error(
        "gave up after {attempts} attempts in {elapsed:?}: the retry deadline would be exceeded"
    )]
    DeadlineExceeded {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to giving up.
        elapsed: Duration,
        /// The last error an attempt returned, if any.
        #[source]
        last: Option<E>,
    },
    /// The shared [`RetryBudget`](crate::RetryBudget) refused the retry.
    #[error("gave up after {attempts} attempts: the retry budget is exhausted")]
    BudgetExhausted {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to giving up.
        elapsed: Duration,
        /// The last error an attempt returned, if any.
        #[source]
        last: Option<E>,
    },
}

impl<E> RetryError<E> {
    /// How many times the operation was called.
    ///
    /// # Examples
    ///
    /// See [`RetryError`].
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Exhausted { attempts, .. }
            | RetryError::Permanent { attempts, .. }
            | RetryError::TimedOut { attempts, .. }
            | RetryError::DeadlineExceeded { attempts, .. }
            | RetryError::BudgetExhausted { attempts, .. } => *attempts,
        }
    }

    /// Time from the first call to the end, attempts included.
    ///
    /// # Examples
    ///
    /// See [`RetryError`].
    pub fn elapsed(&self) -> Duration {
        match self {
            RetryError::Exhausted { elapsed, .. }
            | RetryError::Permanent { elapsed, .. }
            | RetryError::TimedOut { elapsed, .. }
            | RetryError::DeadlineExceeded { elapsed, .. }
            | RetryError::BudgetExhausted { elapsed, .. } => *elapsed,
        }
    }

    /// The last error the operation returned, if any.
    ///
    /// # Examples
    ///
    /// See [`RetryError`].
    pub fn last_error(&self) -> Option<&E> {
        match self {
            RetryError::Exhausted { last, .. } | RetryError::Permanent { error: last, .. } => {
                Some(last)
            }
            RetryError::TimedOut { last, .. }
            | RetryError::DeadlineExceeded { last, .. }
            | RetryError::BudgetExhausted { last, .. } => last.as_ref(),
        }
    }

    /// Consumes the error and returns the last error the operation returned, if any.
    ///
    /// # Examples
    ///
    /// See [`RetryError`].
    pub fn into_last_error(self) -> Option<E> {
        match self {
            RetryError::Exhausted { last, .. } | RetryError::Permanent { error: last, .. } => {
                Some(last)
            }
            RetryError::TimedOut { last, .. }
            | RetryError::DeadlineExceeded { last, .. }
            | RetryError::BudgetExhausted { last, .. } => last,
        }
    }
}
