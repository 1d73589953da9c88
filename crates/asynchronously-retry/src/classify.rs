use std::fmt;
use std::time::Duration;

/// A classifier's answer for one error: retry it, retry it after a given delay, or give up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::retry::Verdict;
///
/// enum HttpError { Unavailable { retry_after: Option<Duration> }, NotFound }
///
/// fn classify(error: &HttpError) -> Verdict {
///     match error {
///         HttpError::Unavailable { retry_after: Some(delay) } => Verdict::RetryAfter(*delay),
///         HttpError::Unavailable { retry_after: None } => Verdict::Retry,
///         HttpError::NotFound => Verdict::Fail,
///     }
/// }
/// assert_eq!(classify(&HttpError::NotFound), Verdict::Fail);
/// let busy = HttpError::Unavailable { retry_after: Some(Duration::from_secs(3)) };
/// assert_eq!(classify(&busy), Verdict::RetryAfter(Duration::from_secs(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Transient: retry after the policy's next scheduled delay.
    Retry,
    /// Transient, and the error says when (an HTTP `Retry-After`, a rate limiter's reset):
    /// retry after this delay, clamped into the policy's `[min_delay, max_delay]`. Like any
    /// delay, it never extends past the policy's `max_elapsed`.
    RetryAfter(Duration),
    /// Permanent: stop now with [`RetryError::Permanent`](crate::RetryError::Permanent).
    Fail,
}

/// Decides, per error, whether a [`Retry`](crate::Retry) tries again.
///
/// Implemented for closures `FnMut(&E) -> Verdict`, for [`RetryAll`] (the default) and for
/// [`RetryIf`] (a `bool` predicate). Set it with [`Retry::classify`](crate::Retry::classify)
/// or [`Retry::retry_if`](crate::Retry::retry_if).
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Classify, Verdict};
///
/// struct OnlyTimeouts;
///
/// impl Classify<std::io::Error> for OnlyTimeouts {
///     fn classify(&mut self, error: &std::io::Error) -> Verdict {
///         if error.kind() == std::io::ErrorKind::TimedOut { Verdict::Retry } else { Verdict::Fail }
///     }
/// }
///
/// let mut classifier = OnlyTimeouts;
/// let error = std::io::Error::from(std::io::ErrorKind::NotFound);
/// assert_eq!(classifier.classify(&error), Verdict::Fail);
/// ```
pub trait Classify<E> {
    /// Returns whether (and when) to retry after `error`.
    fn classify(&mut self, error: &E) -> Verdict;
}

/// The default classifier: every error is retried.
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Classify, RetryAll, Verdict};
///
/// assert_eq!(RetryAll.classify(&"any error"), Verdict::Retry);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryAll;

/// A classifier from a `bool` predicate: `true` retries, `false` fails at once.
///
/// Made by [`Retry::retry_if`](crate::Retry::retry_if).
///
/// # Examples
///
/// ```
/// use asynchronously::retry::{Classify, RetryIf, Verdict};
///
/// let mut classifier = RetryIf::new(|error: &&str| *error == "busy");
/// assert_eq!(classifier.classify(&"busy"), Verdict::Retry);
/// assert_eq!(classifier.classify(&"forbidden"), Verdict::Fail);
/// ```
#[derive(Clone, Copy)]
pub struct RetryIf<P> {
    predicate: P,
}

impl<P> RetryIf<P> {
    /// Wraps `predicate`: errors it accepts are retried, the others returned at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::RetryIf;
    ///
    /// let _classifier = RetryIf::new(|error: &std::io::Error| error.kind() == std::io::ErrorKind::Interrupted);
    /// ```
    pub fn new(predicate: P) -> Self {
        RetryIf { predicate }
    }
}

impl<E, F: FnMut(&E) -> Verdict> Classify<E> for F {
    #[inline]
    fn classify(&mut self, error: &E) -> Verdict {
        self(error)
    }
}

impl<E> Classify<E> for RetryAll {
    #[inline]
    fn classify(&mut self, _error: &E) -> Verdict {
        Verdict::Retry
    }
}

impl<E, P: FnMut(&E) -> bool> Classify<E> for RetryIf<P> {
    #[inline]
    fn classify(&mut self, error: &E) -> Verdict {
        if (self.predicate)(error) { Verdict::Retry } else { Verdict::Fail }
    }
}

impl<P> fmt::Debug for RetryIf<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryIf").finish_non_exhaustive()
    }
}
