use std::time::Duration;

/// Why a [`Quota`](crate::Quota) cannot be built: it could never be enforced as written.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{Quota, QuotaError};
///
/// let error = Quota::new(0, Duration::from_secs(1)).unwrap_err();
/// assert_eq!(error, QuotaError::ZeroCount);
/// assert_eq!(error.to_string(), "a quota needs a count of at least 1 cell per period, got 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// The count per period was zero: nothing could ever pass.
    #[error("a quota needs a count of at least 1 cell per period, got 0")]
    ZeroCount,
    /// The period was zero: the rate would be infinite.
    #[error("a quota needs a period longer than zero; to disable limiting, do not limit")]
    ZeroPeriod,
    /// The period was longer than about 146 years ([`Duration::MAX`] included).
    #[error(
        "a quota's period must be at most 2^62 ns (about 146 years), got {period:?}; \
         for \"never\", use a lockout"
    )]
    PeriodTooLong {
        /// The period asked for.
        period: Duration,
    },
    /// More than one cell per nanosecond: finer than the limiters' resolution.
    #[error(
        "{count} cells per {period:?} is finer than one cell per nanosecond; \
         use a longer period or a smaller count"
    )]
    FinerThanNanosecond {
        /// The count asked for.
        count: u32,
        /// The period asked for.
        period: Duration,
    },
    /// The burst was zero: no request could ever conform.
    #[error("a quota needs a burst of at least 1 cell, got 0")]
    ZeroBurst,
    /// `burst × interval` exceeds about 146 years.
    #[error(
        "a burst of {burst} cells at one cell per {interval:?} spans more than 2^62 ns \
         (about 146 years); use a smaller burst"
    )]
    BurstTooLarge {
        /// The burst asked for.
        burst: u32,
        /// The quota's interval per cell.
        interval: Duration,
    },
}

/// Why [`RateLimiter::check_n`](crate::RateLimiter::check_n) (or another non-waiting check)
/// refused.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::{CheckError, Quota, RateLimiter};
/// use asynchronously::time::VirtualClock;
///
/// let limiter = RateLimiter::with_clock(Quota::per_second(1)?, VirtualClock::new());
/// assert!(limiter.check().is_ok());
/// assert_eq!(limiter.check(), Err(CheckError::RateLimited { retry_after: Duration::from_secs(1) }));
/// assert_eq!(limiter.check_n(2), Err(CheckError::InsufficientCapacity { requested: 2, burst: 1 }));
/// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The cells do not conform now; they would after `retry_after`, if nobody else takes them.
    #[error(
        "rate limited: the cells conform only in {retry_after:?}; retry then or wait with acquire"
    )]
    RateLimited {
        /// How long until the request would conform.
        retry_after: Duration,
    },
    /// More cells than the burst: the request can never conform, so it is refused at once.
    #[error(
        "{requested} cells exceed the burst of {burst}, so they can never conform; \
         split the request or raise the quota's burst"
    )]
    InsufficientCapacity {
        /// The cells asked for.
        requested: u32,
        /// The quota's burst when the request was made.
        burst: u32,
    },
}

/// Why [`RateLimiter::acquire`](crate::RateLimiter::acquire) or
/// [`RateLimiter::reserve`](crate::RateLimiter::reserve) refused instead of waiting.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::ratelimit::{AcquireError, Quota, RateLimiter};
///
/// let limiter = RateLimiter::new(Quota::per_second(10)?);
/// let error = limiter.acquire(11).await.unwrap_err();
/// assert_eq!(error, AcquireError::InsufficientCapacity { requested: 11, burst: 10 });
/// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// More cells than the burst: waiting would never end, so the request is refused at once.
    #[error(
        "{requested} cells exceed the burst of {burst}, so waiting for them would never end; \
         split the request or raise the quota's burst"
    )]
    InsufficientCapacity {
        /// The cells asked for.
        requested: u32,
        /// The quota's burst when the request was made.
        burst: u32,
    },
}

/// Why a [`KeyedRateLimiter`](crate::KeyedRateLimiter) or a
/// [`SlidingWindow`](crate::SlidingWindow) cannot be built.
///
/// # Examples
///
/// ```
/// use asynchronously::ratelimit::{BuildError, KeyedRateLimiter, Quota};
///
/// let error = KeyedRateLimiter::<u64>::new(Quota::per_second(1)?, 0).unwrap_err();
/// assert_eq!(error, BuildError::ZeroMaxKeys);
/// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A keyed limiter bounded at zero keys could track nobody.
    #[error("a keyed limiter needs room for at least 1 key, got max_keys = 0")]
    ZeroMaxKeys,
    /// A sliding window admitting zero starts per period would never admit anyone.
    #[error("a sliding window needs a limit of at least 1 start per period, got 0")]
    ZeroLimit,
    /// A sliding window with a zero period limits nothing.
    #[error("a sliding window needs a period longer than zero")]
    ZeroPeriod,
    /// A sliding window period longer than about 146 years ([`Duration::MAX`] included).
    #[error(
        "a sliding window's period must be at most 2^62 ns (about 146 years), got {period:?}; \
         for \"never\", use a lockout"
    )]
    PeriodTooLong {
        /// The period asked for.
        period: Duration,
    },
    /// A composite limiter needs at least one quota.
    #[error("a composite limiter needs at least 1 quota, got none")]
    NoQuotas,
}
