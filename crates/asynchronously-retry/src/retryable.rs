use asynchronously_time::Clock;
use futures::TryFuture;

use crate::{Retry, RetryPolicy};

/// Adds `.retry(&policy)` to every closure that returns a fallible future.
///
/// `(|| fetch()).retry(&policy)` is `policy.retry(|| fetch())` borrowing the policy instead of
/// cloning it: the future lives no longer than the policy.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy, Retryable};
///
/// let policy = RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).build()?;
/// let mut calls = 0;
/// let value = (|| {
///     calls += 1;
///     let call = calls;
///     async move { if call == 1 { Err(std::io::Error::other("cold")) } else { Ok(call) } }
/// })
/// .retry(&policy)
/// .await?;
/// assert_eq!(value, 2);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Retryable<Fut: TryFuture>: FnMut() -> Fut + Sized {
    /// Returns a [`Retry`] calling `self` under `policy`.
    ///
    /// # Cancel safety
    ///
    /// See [`Retry`]: dropping it stops everything.
    ///
    /// # Examples
    ///
    /// See [`Retryable`].
    fn retry<C: Clock>(self, policy: &RetryPolicy<C>) -> Retry<'_, Self, Fut, C>;
}

impl<F, Fut> Retryable<Fut> for F
where
    F: FnMut() -> Fut,
    Fut: TryFuture,
{
    fn retry<C: Clock>(self, policy: &RetryPolicy<C>) -> Retry<'_, Self, Fut, C> {
        policy.retry_borrowed(self)
    }
}
