use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use event_listener::EventListener;

use crate::shared::Shared;

/// Future returned by [`Waterfall::close`](crate::Waterfall::close): completes when the worker
/// has sent everything and every batch has finished, or when the worker is dropped.
///
/// It owns a reference to the shared state, so it may outlive the handle and be spawned.
///
/// # Cancel safety
///
/// Dropping it changes nothing: the waterfall stays closed and the worker goes on finishing.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::waterfall::Waterfall;
///
/// let (waterfall, worker) =
///     Waterfall::builder(3, Duration::from_millis(10)).build(|_batch: Vec<u32>| async {})?;
/// let close = waterfall.close();
/// drop(waterfall);
/// futures::join!(close, worker);
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Close<T, Out, E> {
    shared: Arc<Shared<T, Out, E>>,
    listener: Option<EventListener>,
}

impl<T, Out, E> Close<T, Out, E> {
    pub(crate) fn new(shared: Arc<Shared<T, Out, E>>) -> Self {
        Close { shared, listener: None }
    }
}

impl<T, Out, E> Future for Close<T, Out, E> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if this.shared.is_finished() {
                this.listener = None;
                return Poll::Ready(());
            }
            match &mut this.listener {
                None => this.listener = Some(this.shared.finished.listen()),
                Some(listener) => {
                    ready!(Pin::new(listener).poll(cx));
                    this.listener = None;
                }
            }
        }
    }
}

impl<T, Out, E> fmt::Debug for Close<T, Out, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Close").field("finished", &self.shared.is_finished()).finish()
    }
}
