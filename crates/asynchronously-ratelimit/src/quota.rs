use std::time::Duration;

use crate::error::QuotaError;

/// The largest tolerance (`burst × interval`) a quota may have: about 146 years.
///
/// Keeping every instant the limiters compute below 2⁶³ ns after their origin means their
/// arithmetic can never overflow, whatever the burst and interval.
const MAX_TOLERANCE_NANOS: u64 = 1 << 62;

/// How many cells may pass, how fast: `count` per `period`, with bursts of up to `burst`.
///
/// A quota is a plain value: validated once, then `Copy`, comparable and hashable, so the same
/// quota can configure any limiter here (or another backend that takes a `Quota`).
///
/// The limiters built on it follow the *generic cell rate algorithm* (GCRA): one cell is
/// replenished every [`interval`](Self::interval) (`period / count`, rounded **up** to whole
/// nanoseconds, so a quota never admits more than asked), and at most
/// [`burst`](Self::burst) cells can be taken at once after an idle spell. Over any window of
/// length `w`, at most `burst + w / interval` cells conform.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::Quota;
///
/// let quota = Quota::per_second(10)?.with_burst(5)?;
/// assert_eq!(quota.interval(), Duration::from_millis(100));
/// assert_eq!(quota.burst(), 5);
///
/// // Bad quotas are refused with a typed error, never a panic or a limiter that hangs.
/// assert!(Quota::new(0, Duration::from_secs(1)).is_err());
/// assert!(Quota::new(1, Duration::MAX).is_err());
/// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    interval_nanos: u64,
    burst: u32,
}

impl Quota {
    /// A quota of `count` cells per `period`; the burst is `count` (the whole period's worth).
    ///
    /// # Errors
    ///
    /// [`QuotaError`] if `count` or `period` is zero, if `period` is longer than about 146
    /// years (so [`Duration::MAX`] is refused: a quota that never replenishes is a lockout,
    /// see [`Lockout`](crate::Lockout)), or if `count` cells per `period` is finer than one
    /// cell per nanosecond.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::{Quota, QuotaError};
    ///
    /// let quota = Quota::new(3, Duration::from_secs(1))?;
    /// assert_eq!(quota.interval(), Duration::from_nanos(333_333_334), "rounded up");
    /// assert_eq!(quota.burst(), 3);
    /// assert!(matches!(
    ///     Quota::new(2_000_000_000, Duration::from_secs(1)),
    ///     Err(QuotaError::FinerThanNanosecond { .. })
    /// ));
    /// # Ok::<_, QuotaError>(())
    /// ```
    pub fn new(count: u32, period: Duration) -> Result<Quota, QuotaError> {
        if count == 0 {
            return Err(QuotaError::ZeroCount);
        }
        if period.is_zero() {
            return Err(QuotaError::ZeroPeriod);
        }
        let period_nanos = match u64::try_from(period.as_nanos()) {
            Ok(nanos) if nanos <= MAX_TOLERANCE_NANOS => nanos,
            _ => return Err(QuotaError::PeriodTooLong { period }),
        };
        if u64::from(count) > period_nanos {
            return Err(QuotaError::FinerThanNanosecond { count, period });
        }
        let interval_nanos = period_nanos.div_ceil(u64::from(count));
        Quota { interval_nanos, burst: 1 }.with_burst(count)
    }

    /// A quota of `count` cells per second, with a burst of `count`.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroCount`] if `count` is zero, [`QuotaError::FinerThanNanosecond`] if it
    /// is above 10⁹.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Quota;
    ///
    /// assert_eq!(Quota::per_second(4)?.interval(), Duration::from_millis(250));
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn per_second(count: u32) -> Result<Quota, QuotaError> {
        Quota::new(count, Duration::from_secs(1))
    }

    /// A quota of `count` cells per minute, with a burst of `count`.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroCount`] if `count` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Quota;
    ///
    /// assert_eq!(Quota::per_minute(60)?.interval(), Duration::from_secs(1));
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn per_minute(count: u32) -> Result<Quota, QuotaError> {
        Quota::new(count, Duration::from_secs(60))
    }

    /// A quota of `count` cells per hour, with a burst of `count`.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroCount`] if `count` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Quota;
    ///
    /// assert_eq!(Quota::per_hour(3600)?.interval(), Duration::from_secs(1));
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn per_hour(count: u32) -> Result<Quota, QuotaError> {
        Quota::new(count, Duration::from_secs(3600))
    }

    /// The same rate with a different burst: how many cells may pass at once after an idle
    /// spell.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroBurst`] if `burst` is zero, and [`QuotaError::BurstTooLarge`] if
    /// `burst × interval` exceeds about 146 years.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::{Quota, QuotaError};
    ///
    /// let smooth = Quota::per_second(100)?.with_burst(1)?;
    /// assert_eq!(smooth.burst(), 1);
    /// assert!(matches!(Quota::per_hour(1)?.with_burst(u32::MAX), Err(QuotaError::BurstTooLarge { .. })));
    /// # Ok::<_, QuotaError>(())
    /// ```
    pub fn with_burst(self, burst: u32) -> Result<Quota, QuotaError> {
        if burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        match self.interval_nanos.checked_mul(u64::from(burst)) {
            Some(tolerance) if tolerance <= MAX_TOLERANCE_NANOS => {
                Ok(Quota { interval_nanos: self.interval_nanos, burst })
            }
            _ => Err(QuotaError::BurstTooLarge { burst, interval: self.interval() }),
        }
    }

    /// The time it takes to replenish one cell.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::ratelimit::Quota;
    ///
    /// assert_eq!(Quota::per_minute(2)?.interval(), Duration::from_secs(30));
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos)
    }

    /// How many cells may pass at once after an idle spell; also the largest `n` a single
    /// request may ask for.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::ratelimit::Quota;
    ///
    /// assert_eq!(Quota::per_second(50)?.burst(), 50);
    /// # Ok::<_, asynchronously::ratelimit::QuotaError>(())
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// A quota from already validated parts (read back from a limiter).
    pub(crate) fn from_parts(interval_nanos: u64, burst: u32) -> Quota {
        Quota { interval_nanos, burst }
    }

    pub(crate) fn interval_nanos(&self) -> u64 {
        self.interval_nanos
    }

    /// `burst × interval`: how far ahead of now the theoretical arrival time may run.
    pub(crate) fn tolerance_nanos(&self) -> u64 {
        self.interval_nanos * u64::from(self.burst)
    }
}
