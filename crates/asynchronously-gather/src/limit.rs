use std::fmt;
use std::num::NonZeroUsize;

// Each join adds its limited form (`Limit::gather`, …) in its own module, so this one
// depends on none of them.

/// A concurrency limit for the gathers: at most this many children run at once, and the
/// next one (in input order) starts as soon as one finishes.
///
/// The semantics are those of the unlimited functions ([`gather`](crate::gather()), …); only
/// the number of children alive at once changes.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::Limit;
///
/// let limit = Limit::new(2)?;
/// let all = limit.gather((0..10).map(|n| async move { Ok::<_, ()>(n) })).await;
/// assert_eq!(all, Ok((0..10).collect()));
/// # Ok::<(), asynchronously::gather::LimitError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(NonZeroUsize);

/// Returned by [`Limit::new`] for a limit of zero, which would never run anything.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{Limit, LimitError};
///
/// assert_eq!(Limit::new(0), Err(LimitError::Zero));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// Zero children at a time would never finish; use at least 1.
    #[error("a concurrency limit must be at least 1, got 0; use 1 to run one future at a time")]
    Zero,
}

impl Limit {
    /// A limit of `max` children at a time.
    ///
    /// # Errors
    ///
    /// [`LimitError::Zero`] if `max` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::gather::Limit;
    ///
    /// assert_eq!(Limit::new(4).map(|limit| limit.get().get()), Ok(4));
    /// ```
    pub fn new(max: usize) -> Result<Self, LimitError> {
        NonZeroUsize::new(max).map(Self).ok_or(LimitError::Zero)
    }

    /// The maximum number of children at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    ///
    /// use asynchronously::gather::Limit;
    ///
    /// let limit = Limit::from(NonZeroUsize::MIN);
    /// assert_eq!(limit.get(), NonZeroUsize::MIN);
    /// ```
    pub fn get(self) -> NonZeroUsize {
        self.0
    }
}

impl From<NonZeroUsize> for Limit {
    fn from(max: NonZeroUsize) -> Self {
        Self(max)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at a time", self.0)
    }
}
