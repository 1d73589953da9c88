use std::fmt;
use std::time::Duration;

/// What a retry hook is told before each retry: which retry this is, of how many, how long
/// the whole operation has run, how long it will wait, and why the last attempt failed.
///
/// Its [`Display`](fmt::Display) is the seed's log line, `retry K/N in DELAY` (`N` is
/// `unlimited` when so), followed by `(attempt timed out)` when the attempt was cut off.
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
/// let mut lines = Vec::new();
/// let _ = policy
///     .retry(|| async { Err::<(), _>("down") })
///     .on_retry(|attempt| lines.push(attempt.to_string()))
///     .await;
/// assert_eq!(lines, ["retry 1/2 in 0ns", "retry 2/2 in 0ns"]);
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// # }).unwrap();
/// ```
pub struct Attempt<'a, E> {
    pub(crate) retry: u32,
    pub(crate) limit: Option<u32>,
    pub(crate) elapsed: Duration,
    pub(crate) delay: Duration,
    pub(crate) error: Option<&'a E>,
}

impl<'a, E> Attempt<'a, E> {
    /// The retry about to happen, 1-based (the `K` of `retry K/N`); it equals the number of
    /// calls made so far.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn retry(&self) -> u32 {
        self.retry
    }

    /// The retry limit (the `N` of `retry K/N`), `None` when unlimited.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn limit(&self) -> Option<u32> {
        self.limit
    }

    /// Time since the first call, attempts included.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How long the retry will wait before the next call.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The error of the failed attempt; `None` when the attempt timed out instead.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn error(&self) -> Option<&'a E> {
        self.error
    }

    /// Whether the failed attempt was cut off by the per-attempt timeout.
    ///
    /// # Examples
    ///
    /// See [`Attempt`].
    pub fn timed_out(&self) -> bool {
        self.error.is_none()
    }
}

impl<E> Attempt<'_, E> {
    /// Reports the retry as a `tracing` warning (feature `tracing`; nothing otherwise).
    #[inline]
    pub(crate) fn trace(&self) {
        #[cfg(feature = "tracing")]
        tracing::warn!(
            retry = self.retry,
            elapsed = ?self.elapsed,
            delay = ?self.delay,
            timed_out = self.timed_out(),
            "{self}"
        );
    }
}

impl<E> fmt::Display for Attempt<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "retry {}/", self.retry)?;
        match self.limit {
            Some(limit) => write!(f, "{limit}")?,
            None => f.write_str("unlimited")?,
        }
        write!(f, " in {:?}", self.delay)?;
        if self.timed_out() {
            f.write_str(" (attempt timed out)")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for Attempt<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("retry", &self.retry)
            .field("limit", &self.limit)
            .field("elapsed", &self.elapsed)
            .field("delay", &self.delay)
            .field("error", &self.error)
            .finish()
    }
}
