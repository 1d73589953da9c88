use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_signal::{Signal, Signals};
use futures::Stream;

use crate::{Shutdown, ShutdownWait};

/// An OS signal that asks the process to stop.
///
/// # Examples
///
/// ```
/// use asynchronously::lifecycle::StopSignal;
///
/// assert_eq!(StopSignal::Terminate.to_string(), "SIGTERM");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopSignal {
    /// `SIGINT` (Ctrl+C).
    Interrupt,
    /// `SIGTERM` (what service managers and `kill` send).
    Terminate,
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

impl Shutdown {
    /// Registers handlers for `SIGINT` and `SIGTERM` (Ctrl+C on Windows) and returns the
    /// worker that fires this trigger when one arrives.
    ///
    /// The handlers are registered when this returns, before the worker is first polled, so
    /// no signal is lost (and from then on these signals no longer kill the process by
    /// default). Spawn the worker on any runtime, or join it with
    /// [`run_until_shutdown`](crate::run_until_shutdown); it completes with the signal that
    /// arrived, or with `None` once the trigger fired for another reason. Dropping it
    /// unregisters the handlers.
    ///
    /// Signals are received through `async-signal` (smol-rs), which works under every
    /// runtime because it needs no executor of its own.
    ///
    /// # Errors
    ///
    /// The OS error if a handler cannot be registered.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{Lifecycle, run_until_shutdown};
    ///
    /// let lifecycle = Lifecycle::builder().build()?;
    /// let signals = lifecycle.shutdown().on_signals()?;
    /// let (report, _signal) = futures::join!(
    ///     run_until_shutdown(&lifecycle, std::future::pending::<()>()),
    ///     signals,
    /// );
    /// assert!(report.is_clean());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn on_signals(&self) -> io::Result<SignalWorker> {
        #[cfg(unix)]
        let signals = Signals::new([Signal::Int, Signal::Term])?;
        #[cfg(not(unix))]
        let signals = Signals::new([Signal::Int])?;
        Ok(SignalWorker { signals, triggered: self.wait(), shutdown: self.clone() })
    }
}

/// Fires a [`Shutdown`] on `SIGINT` or `SIGTERM`; from [`Shutdown::on_signals`].
///
/// # Cancel safety
///
/// Dropping it unregisters the signal handlers; the trigger is unaffected.
#[must_use = "the signal handlers fire the trigger only while this worker is polled"]
pub struct SignalWorker {
    signals: Signals,
    triggered: ShutdownWait,
    shutdown: Shutdown,
}

impl Future for SignalWorker {
    type Output = io::Result<Option<StopSignal>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.signals).poll_next(cx) {
            Poll::Ready(Some(Ok(signal))) => {
                let signal = if signal == Signal::Int {
                    StopSignal::Interrupt
                } else {
                    StopSignal::Terminate
                };
                self.shutdown.trigger();
                return Poll::Ready(Ok(Some(signal)));
            }
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error)),
            Poll::Ready(None) => return Poll::Ready(Ok(None)),
            Poll::Pending => {}
        }
        if Pin::new(&mut self.triggered).poll(cx).is_ready() {
            return Poll::Ready(Ok(None));
        }
        Poll::Pending
    }
}

impl fmt::Debug for SignalWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalWorker").field("shutdown", &self.shutdown).finish_non_exhaustive()
    }
}
