use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready, ready};

use crate::Tick;

/// The work a [`PeriodicWorker`](crate::PeriodicWorker) runs on every tick.
///
/// Implemented for every `FnMut(Tick) -> impl Future` whose output is a [`JobOutput`]
/// (`()` or `Result<(), E>`), which is what [`PeriodicBuilder::build`](crate::PeriodicBuilder::build)
/// takes, and for [`SyncJob`], what [`PeriodicBuilder::build_sync`](crate::PeriodicBuilder::build_sync)
/// makes of a synchronous closure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Periodic, Tick};
///
/// async fn refresh(tick: Tick) -> Result<(), std::io::Error> {
///     let _ = tick.number();
///     Ok(())
/// }
///
/// let (_periodic, _worker) = Periodic::builder(Duration::from_secs(60)).build(refresh)?;
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// ```
pub trait Job {
    /// What one run returns: `()` or `Result<(), E>`.
    type Output: JobOutput;
    /// One run.
    type Future: Future<Output = Self::Output>;

    /// Starts one run.
    fn call(&mut self, tick: Tick) -> Self::Future;
}

impl<F, Fut> Job for F
where
    F: FnMut(Tick) -> Fut,
    Fut: Future,
    Fut::Output: JobOutput,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&mut self, tick: Tick) -> Fut {
        self(tick)
    }
}

/// What a job may return: `()`, or `Result<(), E>` whose errors are reported.
///
/// # Examples
///
/// ```
/// use asynchronously::periodic::JobOutput;
///
/// assert!(().into_result().is_ok());
/// assert_eq!(Err::<(), _>("down").into_result(), Err("down"));
/// ```
pub trait JobOutput {
    /// The error type reported through [`PeriodicEvent::Failed`](crate::PeriodicEvent::Failed).
    type Error;

    /// Converts the output to a result.
    ///
    /// # Errors
    ///
    /// Returns the job's error, if it failed.
    fn into_result(self) -> Result<(), Self::Error>;
}

impl JobOutput for () {
    type Error = Infallible;

    fn into_result(self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<E> JobOutput for Result<(), E> {
    type Error = E;

    fn into_result(self) -> Result<(), E> {
        self
    }
}

/// A synchronous closure as a [`Job`]: the worker type of
/// [`PeriodicBuilder::build_sync`](crate::PeriodicBuilder::build_sync).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::periodic::{Periodic, PeriodicWorker, SyncJob};
/// use asynchronously::time::RealClock;
///
/// fn count(_tick: asynchronously::periodic::Tick) {}
/// let (_periodic, _worker): (_, PeriodicWorker<SyncJob<fn(_)>, RealClock>) =
///     Periodic::builder(Duration::from_secs(1)).build_sync(count as fn(_))?;
/// # Ok::<_, asynchronously::periodic::ScheduleError>(())
/// ```
#[derive(Clone)]
pub struct SyncJob<F>(pub(crate) F);

impl<F, R> Job for SyncJob<F>
where
    F: FnMut(Tick) -> R,
    R: JobOutput,
{
    type Output = R;
    type Future = Ready<R>;

    fn call(&mut self, tick: Tick) -> Ready<R> {
        ready((self.0)(tick))
    }
}

impl<F> fmt::Debug for SyncJob<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncJob").finish_non_exhaustive()
    }
}
