use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::pin::pin;
use std::task::Poll;

use asynchronously_time::Clock;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::context::lock;
use crate::lifecycle::Shared;
use crate::{DeinitReport, InitError, Lifecycle, LifecycleEvent, Outcome, Phase, Stage};

/// Why [`run_until_shutdown`] stopped.
///
/// # Examples
///
/// See [`run_until_shutdown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// `main` returned.
    MainReturned,
    /// The [`Shutdown`](crate::Shutdown) trigger fired (during init or while running).
    Triggered,
    /// `init` failed (and was rolled back); `main` never ran.
    InitFailed,
    /// A component's run phase failed with no restart delay left.
    RunFailed,
}

/// What [`run_until_shutdown`] did: why it stopped, `main`'s output if it returned, and
/// every phase's outcome.
///
/// # Examples
///
/// See [`run_until_shutdown`].
#[derive(Debug)]
pub struct ShutdownReport<T> {
    reason: ShutdownReason,
    main: Option<T>,
    init: Result<(), InitError>,
    run_failure: Option<(String, Outcome)>,
    deinit: DeinitReport,
}

impl<T> ShutdownReport<T> {
    /// Returns why the lifecycle stopped.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn reason(&self) -> ShutdownReason {
        self.reason
    }

    /// Returns `main`'s output, if `main` ran to the end.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn main(&self) -> Option<&T> {
        self.main.as_ref()
    }

    /// Returns `main`'s output, if `main` ran to the end, consuming the report.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn into_main(self) -> Option<T> {
        self.main
    }

    /// Returns the init error, if `init` failed.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn init_error(&self) -> Option<&InitError> {
        self.init.as_ref().err()
    }

    /// Returns the component whose run phase failed for good, and how, if one did.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn run_failure(&self) -> Option<(&str, &Outcome)> {
        self.run_failure.as_ref().map(|(name, outcome)| (name.as_str(), outcome))
    }

    /// Returns the report of the final deinit.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn deinit(&self) -> &DeinitReport {
        &self.deinit
    }

    /// Returns whether init succeeded, no run failed for good and every deinit succeeded.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`].
    pub fn is_clean(&self) -> bool {
        self.init.is_ok() && self.run_failure.is_none() && self.deinit.is_ok()
    }
}

impl<T> fmt::Display for ShutdownReport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lifecycle stopped ({:?})", self.reason)?;
        if let Err(error) = &self.init {
            write!(f, "; {error}")?;
        }
        if let Some((name, outcome)) = &self.run_failure {
            write!(f, "; run of {name} {outcome}")?;
        }
        write!(f, "; {}", self.deinit)
    }
}

/// Runs a service: init all → run `main` and the components' run phases → wait for the
/// shutdown trigger or `main`'s end → deinit all; returns a report.
///
/// - `init` is raced with the lifecycle's [`Shutdown`](crate::Shutdown) trigger: a trigger
///   during start-up cancels it, and what had started is deinitialised.
/// - Once ready, `main` and every component's [`run`](crate::Component::run) are polled
///   concurrently, inside this future (nothing is spawned). A failed run restarts after its
///   next restart delay ([`ComponentOptions::restart`](crate::ComponentOptions::restart));
///   with none left, it shuts the lifecycle down ([`ShutdownReason::RunFailed`]).
/// - Shutdown begins when `main` returns, the trigger fires, or a run fails for good. The
///   trigger is fired (so components watching it see it), `main` and the runs are dropped,
///   and every component is deinitialised in reverse order.
///
/// # Cancel safety
///
/// Dropping the future drops `main` and the runs, and cancels `init` or `deinit` as their
/// own docs describe; call [`Lifecycle::deinit`] afterwards to finish stopping.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle, ShutdownReason, run_until_shutdown};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// builder
///     .component("server", FnComponent::new().on_run(|cx| async move {
///         cx.shutdown().wait().await; // serve until asked to stop
///         Ok::<_, BoxError>(())
///     }))
///     .after("database");
/// let lifecycle = builder.build()?;
///
/// let shutdown = lifecycle.shutdown().clone();
/// let report = run_until_shutdown(&lifecycle, async move {
///     // The service's main task; here it asks to stop at once.
///     shutdown.trigger();
///     std::future::pending::<()>().await
/// })
/// .await;
/// assert_eq!(report.reason(), ShutdownReason::Triggered);
/// assert!(report.is_clean());
/// assert_eq!(report.deinit().names().collect::<Vec<_>>(), ["server", "database"]);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn run_until_shutdown<C, F>(
    lifecycle: &Lifecycle<C>,
    main: F,
) -> ShutdownReport<F::Output>
where
    C: Clock,
    F: IntoFuture,
{
    let shared = &*lifecycle.shared;
    let shutdown = lifecycle.shutdown();
    let init = {
        let mut init = pin!(lifecycle.init());
        let mut triggered = shutdown.wait();
        poll_fn(|cx| {
            if let Poll::Ready(result) = init.as_mut().poll(cx) {
                return Poll::Ready(Some(result));
            }
            if pin!(&mut triggered).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    };
    let (reason, init, main, run_failure) = match init {
        Some(Err(error)) => (ShutdownReason::InitFailed, Err(error), None, None),
        None => (ShutdownReason::Triggered, Ok(()), None, None),
        Some(Ok(())) => {
            let mut main = pin!(main.into_future());
            let mut runs: FuturesUnordered<BoxFuture<'_, Option<(usize, Outcome)>>> =
                (0..lifecycle.len()).map(|node| Box::pin(supervise(shared, node)) as _).collect();
            let mut triggered = shutdown.wait();
            poll_fn(|cx| {
                if let Poll::Ready(output) = main.as_mut().poll(cx) {
                    return Poll::Ready((ShutdownReason::MainReturned, Ok(()), Some(output), None));
                }
                loop {
                    match runs.poll_next_unpin(cx) {
                        Poll::Ready(Some(Some((node, outcome)))) => {
                            let name = shared.registry.names[node].to_string();
                            let failure = Some((name, outcome));
                            return Poll::Ready((ShutdownReason::RunFailed, Ok(()), None, failure));
                        }
                        Poll::Ready(Some(None)) => continue,
                        Poll::Ready(None) | Poll::Pending => break,
                    }
                }
                if pin!(&mut triggered).poll(cx).is_ready() {
                    return Poll::Ready((ShutdownReason::Triggered, Ok(()), None, None));
                }
                Poll::Pending
            })
            .await
        }
    };
    shutdown.trigger();
    shared.registry.emit(&LifecycleEvent::ShutdownRequested);
    let deinit = lifecycle.deinit().await;
    ShutdownReport { reason, main, init, run_failure, deinit }
}

/// Runs one component's run phase, restarting it on its delays. `Some` means it failed with
/// no delay left.
async fn supervise<C: Clock>(shared: &Shared<C>, node: usize) -> Option<(usize, Outcome)> {
    let registry = &*shared.registry;
    let entry = &shared.nodes[node];
    let mut delays = lock(&entry.restart).take();
    registry.mark(node, Phase::Run, Stage::Scheduled);
    registry.mark(node, Phase::Run, Stage::Started);
    let mut restart = 0u32;
    loop {
        let run = entry.component.run(shared.context(node));
        let (_, outcome) = shared.guard(node, run, None).await;
        if outcome.is_ok() {
            shared.finished_run(node, &outcome);
            return None;
        }
        match delays.as_mut().and_then(Iterator::next) {
            Some(delay) => {
                restart = restart.saturating_add(1);
                registry.emit(&LifecycleEvent::Restarting {
                    name: &registry.names[node],
                    restart,
                    delay,
                    outcome: &outcome,
                });
                shared.clock.sleep(delay).await;
            }
            None => {
                shared.finished_run(node, &outcome);
                return Some((node, outcome));
            }
        }
    }
}
