use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::TryFuture;
use pin_project::pin_project;

use crate::KeyedError;
use crate::gather::{Gather, gather, gather_limited};
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
/// use asynchronously_gather::gather_keyed;
///
/// let mut jobs = HashMap::new();
/// jobs.insert("one", futures::future::ready(Ok::<_, ()>(1)));
/// jobs.insert("two", futures::future::ready(Ok(2)));
/// let values = gather_keyed(jobs).await.unwrap();
/// assert_eq!(values["two"], 2);
/// # });
/// ```
pub fn gather_keyed<I, K, F>(pairs: I) -> GatherKeyed<K, F>
where
    I: IntoIterator<Item = (K, F)>,
    K: Eq + Hash,
    F: TryFuture,
{
    GatherKeyed { inner: gather(pairs.into_iter().map(Keyed::new)) }
}

pub(crate) fn gather_keyed_limited<I, K, F>(pairs: I, limit: Limit) -> GatherKeyed<K, F>
where
    I: IntoIterator<Item = (K, F)>,
    K: Eq + Hash,
    F: TryFuture,
{
    GatherKeyed { inner: gather_limited(pairs.into_iter().map(Keyed::new), limit) }
}

/// Future returned by [`gather_keyed`] and [`Limit::gather_keyed`].
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
pub struct GatherKeyed<K, F: TryFuture> {
    #[pin]
    inner: Gather<Keyed<K, F>>,
}

impl<K: Eq + Hash, F: TryFuture> Future for GatherKeyed<K, F> {
    type Output = Result<HashMap<K, F::Ok>, KeyedError<K, F::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pairs = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(pairs.into_iter().collect()))
    }
}

impl<K, F: TryFuture> fmt::Debug for GatherKeyed<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatherKeyed").field("inner", &self.inner).finish()
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
