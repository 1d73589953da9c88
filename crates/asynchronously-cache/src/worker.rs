//! `CacheWorker`: drives refreshes and kept loads that no caller is waiting for.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError, Weak};
use std::task::{Context, Poll};

use asynchronously_time::Clock;
use event_listener::EventListener;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::cache::Inner;
use crate::flight::Flight;
use crate::get_or_compute::LeaveFn;

/// Drives a cache's refreshes (and, with
/// [`finish_abandoned_loads`](crate::CacheBuilder::finish_abandoned_loads), loads every
/// caller gave up on) to completion in the background. From [`Cache::worker`](crate::Cache::worker).
///
/// Spawn it on your runtime; it never spawns anything itself. It completes once every
/// handle of its cache is dropped and the computations it drives have finished. If it is
/// not polled, refreshes still complete, only later: each read of a stale key polls its
/// refresh once, and a read past `max_stale` drives it to the end.
///
/// # Cancel safety
///
/// Dropping the worker hands the computations it was driving back to their keys: nothing
/// is lost, they advance when their keys are read (or in another worker).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::cache::Cache;
/// use asynchronously::time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let cache: Cache<u32, u32, VirtualClock> = Cache::builder()
///     .refresh_after(Duration::from_secs(10))
///     .with_clock(clock.clone())
///     .build()?;
/// let worker = cache.worker();
/// cache.insert(1, 1);
/// clock.advance(Duration::from_secs(10));
/// let refresh = {
///     let clock = clock.clone();
///     move || async move {
///         clock.sleep(Duration::from_secs(1)).await;
///         2
///     }
/// };
/// assert_eq!(cache.get_or_compute(1, refresh).await?, 1, "stale, refresh started");
/// let run = async {
///     clock.run_for(Duration::from_secs(1)).await;
///     let value = cache.get(&1);
///     drop(cache);
///     value
/// };
/// let ((), value) = futures::join!(worker, run);
/// assert_eq!(value, Some(2), "the worker finished the refresh");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "a worker does nothing unless spawned or polled"]
pub struct CacheWorker<K, V, C, S> {
    inner: Weak<Inner<K, V, C, S>>,
    driving: FuturesUnordered<Drive<K, V, C, S>>,
    listener: Option<EventListener>,
}

/// One computation the worker drives, as one more waiter of its flight.
struct Drive<K, V, C, S> {
    inner: Arc<Inner<K, V, C, S>>,
    flight: Arc<Flight<K, V>>,
    id: Option<usize>,
    leave: LeaveFn<Inner<K, V, C, S>, K, V>,
}

impl<K, V, C, S> CacheWorker<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    pub(crate) fn new(inner: &Arc<Inner<K, V, C, S>>) -> Self {
        inner.workers.fetch_add(1, Relaxed);
        CacheWorker {
            inner: Arc::downgrade(inner),
            driving: FuturesUnordered::new(),
            listener: None,
        }
    }
}

impl<K, V, C, S> Future for CacheWorker<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let Some(inner) = this.inner.upgrade() else {
                // The cache is gone: finish what is in hand, then end.
                while let Poll::Ready(Some(())) = this.driving.poll_next_unpin(cx) {}
                return if this.driving.is_empty() { Poll::Ready(()) } else { Poll::Pending };
            };
            let queued =
                std::mem::take(&mut *inner.queue.lock().unwrap_or_else(PoisonError::into_inner));
            for flight in queued {
                flight.unmark_queued();
                if let Some(id) = flight.join() {
                    this.driving.push(Drive {
                        inner: Arc::clone(&inner),
                        flight,
                        id: Some(id),
                        leave: |inner, flight, id| inner.leave(flight, id),
                    });
                }
            }
            while let Poll::Ready(Some(())) = this.driving.poll_next_unpin(cx) {}
            match &mut this.listener {
                None => {
                    // Listen, then look at the queue again, so no hand-off is missed.
                    this.listener = Some(inner.queue_event.listen());
                    if inner.queue.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                        drop(inner);
                        let listener = this.listener.as_mut().expect("just set");
                        if Pin::new(listener).poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        this.listener = None;
                    }
                }
                Some(listener) => {
                    drop(inner);
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.listener = None;
                }
            }
        }
    }
}

impl<K, V, C, S> Future for Drive<K, V, C, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(id) = this.id else { return Poll::Ready(()) };
        if this.inner.poll_flight(&this.flight, id, cx).is_pending() {
            return Poll::Pending;
        }
        this.id = None;
        this.inner.leave(&this.flight, id);
        Poll::Ready(())
    }
}

impl<K, V, C, S> Drop for Drive<K, V, C, S> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            (self.leave)(&self.inner, &self.flight, id);
        }
    }
}

impl<K, V, C, S> Drop for CacheWorker<K, V, C, S> {
    fn drop(&mut self) {
        // Before the drives drop, so what they hand back is parked rather than re-queued.
        if let Some(inner) = self.inner.upgrade() {
            inner.workers.fetch_sub(1, Relaxed);
        }
    }
}

impl<K, V, C, S> fmt::Debug for CacheWorker<K, V, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheWorker")
            .field("cache_alive", &(self.inner.strong_count() > 0))
            .field("driving", &self.driving.len())
            .finish_non_exhaustive()
    }
}
