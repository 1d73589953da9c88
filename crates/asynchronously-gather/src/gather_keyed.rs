use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::iter::Map;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::TryFuture;
use pin_project::pin_project;

use crate::KeyedError;
use crate::gather::{Gather, gather};
use crate::limit::Limit;

/// Runs a future per key concurrently and returns a map with the same keys, or the first
/// error with its key, after every other future was dropped.
///
/// Takes `(key, future)` pairs: a `Vec`, an iterator or a map of futures. Fail-fast like
/// [`gather`]: the first error cancels every other key before it is returned. If pairs repeat
/// a key, every future still runs and the map keeps the value of the last one in input order,
/// as `HashMap::from_iter` does; pass a map to rule duplicates out.
///
/// # Cancel safety
///
/// Dropping the future drops every unfinished child.
///
/// # Errors
///
/// [`KeyedError`] with the failing key and its error, unchanged.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::collections::HashMap;
///
/// use asynchronously::gather::gather_keyed;
///
/// let mut jobs = HashMap::new();
/// jobs.insert("one", futures::future::ready(Ok::<_, ()>(1)));
/// jobs.insert("two", futures::future::ready(Ok(2)));
/// let values = gather_keyed(jobs).await.unwrap();
/// assert_eq!(values["two"], 2);
/// # });
/// ```
pub fn gather_keyed<I, K, F>(pairs: I) -> GatherKeyed<K, F, I::IntoIter>
where
    I: IntoIterator<Item = (K, F)>,
    K: Eq + Hash,
    F: TryFuture,
{
    GatherKeyed { inner: gather(pairs.into_iter().map(Keyed::new as fn((K, F)) -> Keyed<K, F>)) }
}

// The limited form, beside the unlimited one.
impl Limit {
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
    pub fn gather_keyed<I, K, F>(self, pairs: I) -> GatherKeyed<K, F, I::IntoIter>
    where
        I: IntoIterator<Item = (K, F)>,
        K: Eq + Hash,
        F: TryFuture,
    {
        let pairs = pairs.into_iter().map(Keyed::new as fn((K, F)) -> Keyed<K, F>);
        GatherKeyed { inner: self.gather(pairs) }
    }
}

/// Future returned by [`gather_keyed`] and [`Limit::gather_keyed`]; `I` is the iterator the
/// pairs are pulled from.
///
/// # Errors
///
/// [`KeyedError`] with the first failing key and its error, after every other child was
/// dropped.
///
/// # Panics
///
/// A child's panic, or one of the keys' `Hash`/`Eq`, propagates to the caller.
///
/// # Cancel safety
///
/// Dropping it drops every unfinished child.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project]
pub struct GatherKeyed<K, F: TryFuture, I = std::vec::IntoIter<(K, F)>> {
    #[pin]
    inner: Gather<Keyed<K, F>, KeyedPairs<K, F, I>>,
}

type KeyedPairs<K, F, I> = Map<I, fn((K, F)) -> Keyed<K, F>>;

impl<K: Eq + Hash, F: TryFuture, I: Iterator<Item = (K, F)>> Future for GatherKeyed<K, F, I> {
    type Output = Result<HashMap<K, F::Ok>, KeyedError<K, F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pairs = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(pairs.into_iter().collect()))
    }
}

impl<K, F: TryFuture, I> fmt::Debug for GatherKeyed<K, F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatherKeyed").field("inner", &self.inner).finish()
    }
}

impl<K: Eq + Hash, F: TryFuture> FromIterator<(K, F)> for GatherKeyed<K, F> {
    /// [`gather_keyed`] of the collected pairs.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::GatherKeyed;
    ///
    /// let all: GatherKeyed<_, _> = ["a", "b"].map(|k| (k, async move { Ok::<_, ()>(k.len()) })).into_iter().collect();
    /// assert_eq!(all.await.map(|map| map["b"]), Ok(1));
    /// # });
    /// ```
    fn from_iter<T: IntoIterator<Item = (K, F)>>(pairs: T) -> Self {
        gather_keyed(pairs.into_iter().collect::<Vec<_>>())
    }
}

/// A child future carrying its key to the output.
#[pin_project]
pub(crate) struct Keyed<K, F> {
    key: Option<K>,
    #[pin]
    future: F,
}

impl<K, F> Keyed<K, F> {
    fn new((key, future): (K, F)) -> Self {
        Self { key: Some(key), future }
    }
}

impl<K, F: TryFuture> Future for Keyed<K, F> {
    type Output = Result<(K, F::Ok), KeyedError<K, F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.future.try_poll(cx));
        // A child is never polled after it finished, so the key is still there.
        let Some(key) = this.key.take() else { return Poll::Pending };
        Poll::Ready(match output {
            Ok(value) => Ok((key, value)),
            Err(error) => Err(KeyedError { key, error }),
        })
    }
}
