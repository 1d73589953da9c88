use std::fmt;
use std::time::Duration;

/// Why a [`Retry`](crate::Retry) (or a [`RetryBlocking`](crate::RetryBlocking)) stopped
/// without a success.
///
/// Every variant says how many calls ran and how long it all took (attempts included), and
/// holds the last error the operation returned where there is one. `last` is `None` only
/// when no attempt returned an error (each one timed out or was cut off). The `Display` line
/// ends with that error's message, and [`source`](std::error::Error::source) returns it.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).max_retries(1).build()?;
/// let error = policy.retry(|| async { Err::<(), _>("down") }).await.unwrap_err();
/// assert_eq!(error.attempts(), 2);
/// assert_eq!(error.to_string(), "operation failed after 2 attempts, no retries left: down");
/// assert_eq!(error.into_last_error(), Some("down"));
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<E> {
    /// Every allowed attempt failed with a retryable error; `last` is the final one.
    #[error("operation failed after {}, no retries left: {last}", Count(.attempts))]
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
        "operation failed with an error the classifier does not retry, after {}: {error}",
        Count(.attempts)
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
    #[error("the last of {} timed out, no retries left{}", Count(.attempts), Cause(.last))]
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
        "gave up after {} in {elapsed:?}: the retry deadline would be exceeded{}",
        Count(.attempts),
        Cause(.last)
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
    #[error(
        "gave up after {}: the retry budget is exhausted{}",
        Count(.attempts),
        Cause(.last)
    )]
    BudgetExhausted {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to giving up.
        elapsed: Duration,
        /// The last error an attempt returned, if any.
        #[source]
        last: Option<E>,
    },
    /// The next delay could not be honoured: a
    /// [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) beyond `max_delay` under
    /// [`LongRetryAfter::GiveUp`](crate::LongRetryAfter::GiveUp), or a delay that never ends
    /// ([`Duration::MAX`] with no `max_delay` cap).
    #[error(
        "gave up after {}: the next delay ({delay:?}) is beyond max_delay or never ends; raise max_delay or use LongRetryAfter::Clamp{}",
        Count(.attempts),
        Cause(.last)
    )]
    DelayTooLong {
        /// How many times the operation was called.
        attempts: u32,
        /// Time from the first call to giving up.
        elapsed: Duration,
        /// The delay that was asked for.
        delay: Duration,
        /// The last error an attempt returned, if any.
        #[source]
        last: Option<E>,
    },
}

/// `1 attempt`, `2 attempts`.
struct Count<'a>(&'a u32);

/// `; last error: <error>` when there is a last error.
struct Cause<'a, E>(&'a Option<E>);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = *self.0;
        write!(f, "{n} attempt{}", if n == 1 { "" } else { "s" })
    }
}

impl<E: fmt::Display> fmt::Display for Cause<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(error) => write!(f, "; last error: {error}"),
            None => Ok(()),
        }
    }
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
            | RetryError::BudgetExhausted { attempts, .. }
            | RetryError::DelayTooLong { attempts, .. } => *attempts,
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
            | RetryError::BudgetExhausted { elapsed, .. }
            | RetryError::DelayTooLong { elapsed, .. } => *elapsed,
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
            | RetryError::BudgetExhausted { last, .. }
            | RetryError::DelayTooLong { last, .. } => last.as_ref(),
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
            | RetryError::BudgetExhausted { last, .. }
            | RetryError::DelayTooLong { last, .. } => last,
        }
    }
}
