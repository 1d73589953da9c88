use std::fmt;
use std::num::NonZeroUsize;

use std::future::Future;
use std::hash::Hash;

use futures::TryFuture;

/// A concurrency limit for the gathers: at most this many children run at once, and the
/// next one (in input order) starts as soon as one finishes.
///
/// The semantics are those of the unlimited functions ([`gather`](crate::gather()), …); only
/// the number of children alive at once changes.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::Limit;
///
/// let limit = Limit::new(2)?;
/// let all = limit.gather((0..10).map(|n| async move { Ok::<_, ()>(n) })).await;
/// assert_eq!(all, Ok((0..10).collect()));
/// # Ok::<(), asynchronously::gather::LimitError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(NonZeroUsize);

/// Returned by [`Limit::new`] for a limit of zero, which would never run anything.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{Limit, LimitError};
///
/// assert_eq!(Limit::new(0), Err(LimitError::Zero));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// Zero children at a time would never finish; use at least 1.
    #[error("a concurrency limit must be at least 1, got 0; use 1 to run one future at a time")]
    Zero,
}

impl Limit {
    /// A limit of `max` children at a time.
    ///
    /// # Errors
    ///
    /// [`LimitError::Zero`] if `max` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::Limit;
    ///
    /// assert_eq!(Limit::new(4).map(|limit| limit.get().get()), Ok(4));
    /// ```
    pub fn new(max: usize) -> Result<Self, LimitError> {
        NonZeroUsize::new(max).map(Self).ok_or(LimitError::Zero)
    }

    /// The maximum number of children at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::gather::Limit;
    ///
    /// let limit = Limit::from(NonZeroUsize::MIN);
    /// assert_eq!(limit.get(), NonZeroUsize::MIN);
    /// ```
    pub fn get(self) -> NonZeroUsize {
        self.0
    }

    /// [`gather`](crate::gather()) with this limit.
    ///
    /// # Examples
    ///
    /// See [`Limit`].
    pub fn gather<I>(self, futures: I) -> crate::Gather<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: TryFuture,
    {
        crate::gather::gather_limited(futures, self)
    }

    /// [`gather_keyed`](crate::gather_keyed) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    ///
    /// let pairs = (0..5).map(|n| (n, async move { Ok::<_, ()>(n * 10) }));
    /// let values = Limit::new(2)?.gather_keyed(pairs).await.unwrap();
    /// assert_eq!(values[&4], 40);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn gather_keyed<I, K, F>(self, pairs: I) -> crate::GatherKeyed<K, F, I::IntoIter>
    where
        I: IntoIterator<Item = (K, F)>,
        K: Eq + Hash,
        F: TryFuture,
    {
        crate::gather_keyed::gather_keyed_limited(pairs, self)
    }

    /// [`gather_settled`](crate::gather_settled) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    ///
    /// let outputs = Limit::new(1)?.gather_settled([1, 2].map(|n| async move { n })).await;
    /// assert_eq!(outputs, [1, 2]);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn gather_settled<I>(self, futures: I) -> crate::GatherSettled<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Future,
    {
        crate::gather_settled::gather_settled_limited(futures, self)
    }

    /// [`gather_partial`](crate::gather_partial) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    ///
    /// let futures = [Err("busy"), Ok(2)].map(|result| async move { result });
    /// let outputs = Limit::new(1)?.gather_partial(futures, |e: &&str| *e == "busy").await;
    /// assert_eq!(outputs, Ok(vec![Err("busy"), Ok(2)]));
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn gather_partial<I, P>(
        self,
        futures: I,
        accept: P,
    ) -> crate::GatherPartial<I::Item, P, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: TryFuture,
        P: FnMut(&<I::Item as TryFuture>::Error) -> bool,
    {
        crate::gather_partial::gather_partial_limited(futures, accept, self)
    }

    /// [`as_completed`](crate::as_completed) with this limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::Limit;
    /// use futures::StreamExt;
    ///
    /// let stream = Limit::new(1)?.as_completed(['a', 'b'].map(|c| async move { c }));
    /// assert_eq!(stream.collect::<Vec<_>>().await, [(0, 'a'), (1, 'b')]);
    /// # Ok::<(), asynchronously::gather::LimitError>(())
    /// # }).unwrap();
    /// ```
    pub fn as_completed<I>(self, futures: I) -> crate::AsCompleted<I::Item, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Future,
    {
        crate::as_completed::as_completed_limited(futures, self)
    }
}

impl From<NonZeroUsize> for Limit {
    fn from(max: NonZeroUsize) -> Self {
        Self(max)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at a time", self.0)
    }
}
