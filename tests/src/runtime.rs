//! Runs each behaviour test once per supported runtime.

use std::future::Future;
use std::pin::Pin;

/// Defines `mod $name` with one `#[test]` per enabled runtime feature.
///
/// `cargo test waits_for_backoff` runs all three; `cargo test smol` runs one runtime.
/// The second form passes the [`Runtime`] in use, for tests that spawn:
///
/// ```text
/// runtime_test!(async fn spawned_tasks_finish(rt) {
///     assert_eq!(rt.spawn(async { 1 }).await, 1);
/// });
/// ```
#[macro_export]
macro_rules! runtime_test {
    (async fn $name:ident() $body:block) => {
        $crate::runtime_test!(async fn $name(_rt) $body);
    };
    (async fn $name:ident($rt:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "the body uses the parent's imports")]
            use super::*;

            #[cfg(feature = "tokio")]
            #[test]
            fn tokio() {
                let $rt = $crate::runtime::Runtime::Tokio;
                $crate::runtime::tokio_block_on(async move { $body })
            }

            #[cfg(feature = "smol")]
            #[test]
            fn smol() {
                let $rt = $crate::runtime::Runtime::Smol;
                ::smol::block_on(async move { $body })
            }

            #[cfg(feature = "async-std")]
            #[test]
            fn async_std() {
                let $rt = $crate::runtime::Runtime::AsyncStd;
                ::async_std::task::block_on(async move { $body })
            }
        }
    };
}

/// The runtime a [`runtime_test!`] body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// tokio's multi-thread runtime with 2 workers.
    Tokio,
    /// smol's global executor.
    Smol,
    /// async-std's global executor.
    AsyncStd,
}

/// A spawned task: await it for the output. A panic in the task resumes in the awaiter.
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Runtime {
    /// Spawns `future` on this runtime.
    ///
    /// # Panics
    ///
    /// Awaiting the returned task panics if the task panicked, or if this runtime's feature is
    /// not enabled.
    pub fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            #[cfg(feature = "tokio")]
            Runtime::Tokio => {
                let handle = ::tokio::spawn(future);
                Box::pin(async move {
                    match handle.await {
                        Ok(output) => output,
                        Err(error) => match error.try_into_panic() {
                            Ok(panic) => std::panic::resume_unwind(panic),
                            Err(error) => panic!("tokio task failed: {error}"),
                        },
                    }
                })
            }
            #[cfg(feature = "smol")]
            Runtime::Smol => Box::pin(::smol::spawn(future)),
            #[cfg(feature = "async-std")]
            Runtime::AsyncStd => Box::pin(::async_std::task::spawn(future)),
            #[allow(unreachable_patterns, reason = "reachable only when a runtime feature is off")]
            other => panic!("runtime {other:?} is not enabled in this build"),
        }
    }
}

/// Multi-threaded, so `Send` bounds and cross-thread wake-ups are exercised.
///
/// # Panics
///
/// Panics if the runtime cannot be built.
#[cfg(feature = "tokio")]
pub fn tokio_block_on<F: Future>(future: F) -> F::Output {
    ::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .enable_io()
        .build()
        .expect("tokio runtime builds")
        .block_on(future)
}

/// Yields to the executor once, so other tasks can run.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}
