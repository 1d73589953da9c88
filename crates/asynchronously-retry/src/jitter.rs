/// Randomness added to each delay, so many clients retrying the same failure do not retry
/// in lockstep.
///
/// Jitter is applied to the backoff's delay (already capped at `max_delay`); the result is
/// then clamped into the policy's `[min_delay, max_delay]`, so the bounds hold **after**
/// jitter. Randomness comes from a small built-in generator, seedable with
/// [`RetryPolicyBuilder::seed`](crate::RetryPolicyBuilder::seed) for reproducible schedules.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::constant(Duration::from_millis(100)))
///     .jitter(Jitter::Equal)
///     .max_retries(50)
///     .build()?;
/// for delay in policy.delays() {
///     assert!(delay >= Duration::from_millis(50) && delay <= Duration::from_millis(100));
/// }
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// The delay as the backoff computed it.
    #[default]
    None,
    /// A random delay in `[0, delay]` (AWS "full jitter"): the best spread, some retries at once.
    Full,
    /// A random delay in `[delay / 2, delay]` (AWS "equal jitter"): keeps at least half the wait.
    Equal,
}
