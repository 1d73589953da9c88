use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::CatchUnwind;
use pin_project::pin_project;

use crate::JobOutput;

/// One run of the job: its future with panics caught, and its timeout.
#[pin_project]
pub(crate) struct Run<F, S> {
    #[pin]
    future: CatchUnwind<AssertUnwindSafe<F>>,
    /// The timeout's sleep and length; `None` for no timeout.
    timeout: Option<(S, Duration)>,
    number: u64,
}

/// How a run ended.
pub(crate) enum RunEnd<E> {
    Finished,
    Failed(E),
    Panicked(Box<dyn Any + Send>),
    TimedOut(Duration),
}

impl<F: Future, S> Run<F, S> {
    pub(crate) fn new(future: F, timeout: Option<(S, Duration)>, number: u64) -> Self {
        Run { future: AssertUnwindSafe(future).catch_unwind(), timeout, number }
    }

    pub(crate) fn number(&self) -> u64 {
        self.number
    }
}

impl<F, S> Future for Run<F, S>
where
    F: Future,
    F::Output: JobOutput,
    S: Future<Output = ()> + Unpin,
{
    type Output = (u64, RunEnd<<F::Output as JobOutput>::Error>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.future.poll(cx) {
            let end = match result {
                Ok(output) => match output.into_result() {
                    Ok(()) => RunEnd::Finished,
                    Err(error) => RunEnd::Failed(error),
                },
                Err(payload) => RunEnd::Panicked(payload),
            };
            return Poll::Ready((*this.number, end));
        }
        if let Some((sleep, after)) = this.timeout {
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready((*this.number, RunEnd::TimedOut(*after)));
            }
        }
        Poll::Pending
    }
}
