use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The error type component phases return: any error, boxed.
///
/// `?` converts any `std::error::Error + Send + Sync` into it, as does a `&str` or `String`
/// with `.into()`.
///
/// # Examples
///
/// ```
/// use asynchronously::lifecycle::BoxError;
///
/// let error: BoxError = "the pool is closed".into();
/// assert_eq!(error.to_string(), "the pool is closed");
/// ```
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A phase of a component's life: `init`, then `run`, then `deinit`.
///
/// # Examples
///
/// ```
/// use asynchronously::lifecycle::Phase;
///
/// assert_eq!(Phase::Init.to_string(), "init");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// [`Component::init`](crate::Component::init): start up, in dependency order.
    Init,
    /// [`Component::run`](crate::Component::run): the long-running work, supervised.
    Run,
    /// [`Component::deinit`](crate::Component::deinit): shut down, in reverse order.
    Deinit,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Init => "init",
            Phase::Run => "run",
            Phase::Deinit => "deinit",
        })
    }
}

/// How one phase of one component ended.
///
/// Cloneable (errors are shared behind an [`Arc`]), so a report can be handed to every
/// caller that awaited the same phase.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle, Outcome};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("cache", FnComponent::new().on_deinit(|_| async { Err::<(), BoxError>("flush failed".into()) }));
/// let lifecycle = builder.build()?;
/// lifecycle.init().await?;
/// let report = lifecycle.deinit().await;
/// assert!(matches!(report.outcome("cache"), Some(Outcome::Failed(_))));
/// assert_eq!(report.failures().count(), 1);
/// assert_eq!(report.iter().len(), 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// The phase returned `Ok(())`.
    Ok,
    /// The phase returned this error.
    Failed(Arc<dyn Error + Send + Sync + 'static>),
    /// The phase panicked; the panic message, when it was a string.
    Panicked(Arc<str>),
    /// The component's own timeout for this phase elapsed first; the phase was cancelled.
    TimedOut(Duration),
    /// The lifecycle's overall deadline for this phase passed before the component finished
    /// (or before it could start); it was cancelled.
    DeadlineExceeded(Duration),
}

impl Outcome {
    /// Returns `true` for [`Outcome::Ok`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Outcome;
    ///
    /// assert!(Outcome::Ok.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    pub(crate) fn from_result(result: Result<(), BoxError>) -> Outcome {
        match result {
            Ok(()) => Outcome::Ok,
            Err(error) => Outcome::Failed(Arc::from(error)),
        }
    }

    pub(crate) fn from_panic(payload: &(dyn std::any::Any + Send)) -> Outcome {
        let message = if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).into()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.as_str().into()
        } else {
            "a non-string panic payload".into()
        };
        Outcome::Panicked(message)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
            Outcome::Panicked(message) => write!(f, "panicked: {message}"),
            Outcome::TimedOut(timeout) => write!(f, "timed out after {timeout:?}"),
            Outcome::DeadlineExceeded(deadline) => {
                write!(f, "cancelled by the overall deadline of {deadline:?}")
            }
        }
    }
}
