//! The sync bridge: run futures to completion from synchronous code.

use std::future::Future;

use crate::{BlockOnError, RunError, gather, gather_partial, gather_settled};

/// Runs `future` to completion on the current thread, parking it between wake-ups.
///
/// For synchronous code only. Calling it on a thread that is already inside `block_on` (ours
/// or futures' executor) returns [`BlockOnError::Reentrant`] instead of deadlocking. From
/// async code, `.await` the future instead.
///
/// # Inside a runtime
///
/// Blocking a runtime's worker thread stalls every task on it, and deadlocks if the future
/// needs that very thread (for example a tokio `current_thread` runtime's timers).
///
/// - **With the `tokio` feature** (of the gather crate, or the facade's `tokio`), a call on
///   a thread inside a tokio runtime returns [`BlockOnError::InsideTokio`] at once, the way
///   tokio's own `Runtime::block_on` panics there. tokio enters its runtime on
///   `spawn_blocking` threads too, so use `tokio::runtime::Handle::current().block_on` there.
/// - **Without it**, the mistake cannot be detected here. To find it in your own code, check
///   `tokio::runtime::Handle::try_current().is_err()` before calling, or run your tests on a
///   `current_thread` runtime, where the mistake hangs at once instead of under load. smol's
///   and async-std's executors do not say whether a thread is theirs; calling this from
///   their tasks blocks the worker. From any runtime's blocking pool (`spawn_blocking`,
///   `smol::unblock`) a call is fine.
///
/// # Errors
///
/// [`BlockOnError::Reentrant`] when called from inside `block_on` on the same thread;
/// [`BlockOnError::InsideTokio`] (with the `tokio` feature) on a thread inside a tokio
/// runtime. In both cases the future is dropped unpolled.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::block_on;
///
/// assert_eq!(block_on(async { 1 + 1 }), Ok(2));
/// ```
pub fn block_on<F: Future>(future: F) -> Result<F::Output, BlockOnError> {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(BlockOnError::InsideTokio);
    }
    // `enter` fails when this thread is already inside futures' executor, which is where
    // our own bridge runs too; the marker is released before `block_on` takes it again.
    drop(futures::executor::enter().map_err(|_| BlockOnError::Reentrant)?);
    Ok(futures::executor::block_on(future))
}

/// Runs the futures concurrently from synchronous code: values in input order, or the first
/// error after every other future was dropped (a blocking [`gather()`]).
///
/// # Errors
///
/// [`RunError::Failed`] with the first error, unchanged; [`RunError::Bridge`] if called
/// from inside [`block_on`] or (with the `tokio` feature) a tokio runtime (see [`block_on`]
/// for the rules about async contexts).
///
/// # Examples
///
/// ```
/// use asynchronously::gather::run;
///
/// let values = run([1, 2].map(|n| async move { Ok::<_, ()>(n) }));
/// assert_eq!(values, Ok(vec![1, 2]));
/// ```
pub fn run<I, T, E>(futures: I) -> Result<Vec<T>, RunError<E>>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    block_on(gather(futures))?.map_err(RunError::Failed)
}

/// Runs every future to completion from synchronous code; every output in input order (a
/// blocking [`gather_settled`]).
///
/// # Errors
///
/// [`BlockOnError`] if called from inside [`block_on`] or (with the `tokio` feature) a
/// tokio runtime; see [`block_on`].
///
/// # Examples
///
/// ```
/// use asynchronously::gather::run_settled;
///
/// assert_eq!(run_settled([1, 2].map(|n| async move { n })), Ok(vec![1, 2]));
/// ```
pub fn run_settled<I>(futures: I) -> Result<Vec<<I::Item as Future>::Output>, BlockOnError>
where
    I: IntoIterator,
    I::Item: Future,
{
    block_on(gather_settled(futures))
}

/// Runs the futures from synchronous code; errors `accept` approves become per-slot values,
/// any other cancels the rest (a blocking [`gather_partial`], miniasync's
/// `run(..., return_exceptions=...)`).
///
/// # Errors
///
/// [`RunError::Failed`] with the first rejected error; [`RunError::Bridge`] if called from
/// inside [`block_on`].
///
/// # Panics
///
/// A panic of `accept` propagates to the caller.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::run_partial;
///
/// use futures::future::ready;
///
/// let outputs = run_partial([ready(Err("busy")), ready(Ok(2))], |e: &&str| *e == "busy");
/// assert_eq!(outputs, Ok(vec![Err("busy"), Ok(2)]));
/// ```
pub fn run_partial<I, T, E, P>(futures: I, accept: P) -> Result<Vec<Result<T, E>>, RunError<E>>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
    P: FnMut(&E) -> bool,
{
    block_on(gather_partial(futures, accept))?.map_err(RunError::Failed)
}
