/// What a [`RetryPolicy`](crate::RetryPolicy) does with a
/// [`Verdict::RetryAfter`](crate::Verdict::RetryAfter) longer than its `max_delay`; set with
/// [`RetryPolicyBuilder::long_retry_after`](crate::RetryPolicyBuilder::long_retry_after).
///
/// A server that answers `Retry-After: 3600` with a `max_delay` of 60 s either gets a retry
/// after 60 s, before it said it would be ready (`Clamp`, the default), or no retry at all
/// (`GiveUp`): the retry stops with
/// [`RetryError::DelayTooLong`](crate::RetryError::DelayTooLong) and the caller decides.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::retry::{LongRetryAfter, RetryError, RetryPolicy, Verdict};
///
/// let policy = RetryPolicy::builder()
///     .max_delay(Duration::from_secs(60))
///     .long_retry_after(LongRetryAfter::GiveUp)
///     .build()?;
/// let result = policy
///     .retry(|| async { Err::<(), _>(Duration::from_secs(3600)) })
///     .classify(|retry_after: &Duration| Verdict::RetryAfter(*retry_after))
///     .await;
/// let Err(RetryError::DelayTooLong { delay, attempts: 1, .. }) = result else { panic!() };
/// assert_eq!(delay, Duration::from_secs(3600));
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LongRetryAfter {
    /// Wait `max_delay` instead (and retry earlier than the error asked).
    #[default]
    Clamp,
    /// Stop with [`RetryError::DelayTooLong`](crate::RetryError::DelayTooLong).
    GiveUp,
}
