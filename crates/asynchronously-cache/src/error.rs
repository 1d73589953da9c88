//! The errors of building a cache and of computing a value.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Returned by [`CacheBuilder::build`](crate::CacheBuilder::build) and the map constructors
/// when a setting cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A capacity of zero could never hold a value.
    #[error("capacity must be at least 1, got 0; leave the capacity unset for an unbounded cache")]
    ZeroCapacity,
    /// A zero time-to-live (or time-to-idle) would expire every value as it is stored.
    #[error(
        "{setting} must be longer than zero, got 0; leave it unset for values that never expire"
    )]
    ZeroDuration {
        /// The setting that was zero (`time_to_live`, `time_to_idle`, `refresh_after`, …).
        setting: &'static str,
    },
    /// Values could never be served stale: the max-stale bound ends before a refresh starts.
    #[error(
        "max_stale ({max_stale:?}) must be at least refresh_after ({refresh_after:?}); \
         raise max_stale or lower refresh_after"
    )]
    MaxStaleShorterThanRefresh {
        /// The configured refresh-after duration.
        refresh_after: Duration,
        /// The configured max-stale duration.
        max_stale: Duration,
    },
    /// A max-stale bound without refresh-after does nothing.
    #[error("max_stale is set but refresh_after is not; set refresh_after too, or drop max_stale")]
    MaxStaleWithoutRefresh,
    /// Zero shards could hold nothing.
    #[error("shards must be at least 1, got 0; leave it unset to size it by the core count")]
    ZeroShards,
}

/// Why [`Cache::get_or_compute`](crate::Cache::get_or_compute) or
/// [`Cache::try_get_or_compute`](crate::Cache::try_get_or_compute) returned no value.
///
/// `E` is the computation's error type ([`Infallible`] for `get_or_compute`). The error is
/// shared by every caller that waited for the same computation, so it is behind an [`Arc`]:
/// `E: Clone` is not required.
#[non_exhaustive]
pub enum ComputeError<E = Infallible> {
    /// The computation returned this error (shared with every concurrent waiter).
    Failed(Arc<E>),
    /// The computation panicked; the message is the panic's, if it was a string.
    ///
    /// The panic is caught, so the key is not poisoned: the next call computes again.
    Panicked(Arc<str>),
    /// The computation awaited a value of its own key, which can never be ready.
    ///
    /// Detected when the nested call is polled from inside the computation (the usual
    /// `cache.get_or_compute(same_key, …).await` inside the computation). A computation that
    /// waits for its own key through a *spawned* task is not detected and never completes.
    Recursive,
    /// A concurrent caller of the same key started the computation with a different error
    /// type, so its error cannot be shared as `E`. Use one error type per cache.
    ErrorTypeMismatch,
}

impl<E> Clone for ComputeError<E> {
    fn clone(&self) -> Self {
        match self {
            ComputeError::Failed(error) => ComputeError::Failed(Arc::clone(error)),
            ComputeError::Panicked(message) => ComputeError::Panicked(Arc::clone(message)),
            ComputeError::Recursive => ComputeError::Recursive,
            ComputeError::ErrorTypeMismatch => ComputeError::ErrorTypeMismatch,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for ComputeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            ComputeError::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            ComputeError::Recursive => f.write_str("Recursive"),
            ComputeError::ErrorTypeMismatch => f.write_str("ErrorTypeMismatch"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ComputeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeError::Failed(error) => write!(f, "computation failed: {error}"),
            ComputeError::Panicked(message) => write!(
                f,
                "computation panicked: {message}; the key was not cached and the next call computes again"
            ),
            ComputeError::Recursive => f.write_str(
                "computation awaited its own key, which can never be ready; compute the value without reading its own key",
            ),
            ComputeError::ErrorTypeMismatch => f.write_str(
                "a concurrent caller of this key computes with a different error type; use one error type per cache",
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ComputeError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ComputeError::Failed(error) => Some(&**error),
            _ => None,
        }
    }
}
