//! How a read was answered.

/// How a call of [`get_or_compute`](crate::Cache::get_or_compute) was answered, from
/// [`GetOrCompute::with_outcome`](crate::GetOrCompute::with_outcome).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::cache::{Cache, ReadOutcome};
///
/// let cache: Cache<u32, u32> = Cache::builder().build()?;
/// let (_, first) = cache.get_or_compute(1, || async { 10 }).with_outcome().await?;
/// let (_, second) = cache.get_or_compute(1, || async { 10 }).with_outcome().await?;
/// assert_eq!((first, second), (ReadOutcome::Computed, ReadOutcome::Hit));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadOutcome {
    /// A fresh stored value.
    Hit,
    /// This call started the computation (it may have been finished by another waiter).
    Computed,
    /// This call joined a computation another caller had started.
    Coalesced,
    /// A stale value, served at once while one refresh runs.
    Stale,
}
