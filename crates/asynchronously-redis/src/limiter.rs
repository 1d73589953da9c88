use std::sync::LazyLock;
use std::time::Duration;

use asynchronously_ratelimit::{AcquireError, CheckError, Quota};
use asynchronously_time::{Clock, RealClock};
use redis::Script;

use crate::connection::Redis;
use crate::error::RedisError;

/// GCRA on the server's clock, in microseconds. KEYS[1]: the key's theoretical arrival time.
/// ARGV: interval (µs, whole), burst, cells, reserve ("1": take the cells even if they do not
/// conform yet). Returns {admitted now (1/0), µs until the cells conform}.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2]) * interval
local increment = tonumber(ARGV[3]) * interval
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local new_tat = tat + increment
local wait = new_tat - tolerance - now
if wait > 0 and ARGV[4] ~= '1' then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
if wait < 0 then wait = 0 end
return {1, wait}
",
    )
});

/// What a limiter does when Redis cannot answer.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::OnRedisError;
///
/// assert_eq!(OnRedisError::default(), OnRedisError::FailClosed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnRedisError {
    /// Refuse: the call returns the Redis error. Protects the upstream; the default.
    #[default]
    FailClosed,
    /// Admit: the call succeeds as if the limit allowed it. Protects your availability.
    FailOpen,
}

/// Why [`RedisRateLimiter::check`] refused.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::ratelimit::CheckError;
/// use asynchronously::redis::RedisCheckError;
///
/// let error = RedisCheckError::from(CheckError::RateLimited { retry_after: Duration::from_millis(10) });
/// assert!(matches!(error, RedisCheckError::Refused(CheckError::RateLimited { .. })));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisCheckError {
    /// The limit refused, exactly as an in-process limiter would.
    #[error(transparent)]
    Refused(#[from] CheckError),
    /// Redis could not answer, and the limiter fails closed.
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// Why [`RedisRateLimiter::acquire`] refused instead of waiting.
///
/// # Examples
///
/// ```
/// use asynchronously::ratelimit::AcquireError;
/// use asynchronously::redis::RedisAcquireError;
///
/// let error = RedisAcquireError::from(AcquireError::InsufficientCapacity { requested: 11, burst: 10 });
/// assert!(error.to_string().contains("exceed the burst of 10"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisAcquireError {
    /// The request can never conform, exactly as for an in-process limiter.
    #[error(transparent)]
    Refused(#[from] AcquireError),
    /// Redis could not answer, and the limiter fails closed.
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// A keyed GCRA rate limiter whose state lives in Redis, so every replica shares one quota.
///
/// Each decision is one round trip running one server-side Lua script: atomic, and timed by
/// the server's `TIME`, so the replicas' clocks do not matter. A key's state is one string
/// (`{prefix}:{key}`) that expires once the key is idle again. Takes the same
/// [`Quota`](asynchronously_ratelimit::Quota) as the in-process limiters and refuses with the
/// same [`CheckError`](asynchronously_ratelimit::CheckError) /
/// [`AcquireError`](asynchronously_ratelimit::AcquireError) where they mean the same thing.
///
/// Resolution is one microsecond per cell: a quota's interval is rounded **up** to whole
/// microseconds, so a limiter never admits more than asked (at most 10⁶ cells per second
/// per key).
///
/// When Redis cannot answer within the command timeout, [`OnRedisError`] decides: fail closed
/// (the default: the call returns the error) or fail open (the call is admitted).
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use asynchronously::ratelimit::Quota;
/// use asynchronously::redis::{Redis, RedisRateLimiter};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// let limiter = RedisRateLimiter::new(redis, "upstream-api", Quota::per_second(100)?);
/// limiter.acquire("tenant-42", 1).await?;
/// // ... call the upstream: every replica together stays within 100 per second.
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RedisRateLimiter<C = RealClock> {
    redis: Redis,
    prefix: String,
    quota: Quota,
    interval_micros: u64,
    on_error: OnRedisError,
    clock: C,
}

impl RedisRateLimiter {
    /// A limiter of `quota` per key, its keys under `prefix`, failing closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{Redis, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "search", Quota::per_minute(600)?);
    /// assert_eq!(limiter.quota(), Quota::per_minute(600)?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn new(redis: Redis, prefix: impl Into<String>, quota: Quota) -> RedisRateLimiter {
        let interval_micros =
            u64::try_from(quota.interval().as_nanos().div_ceil(1_000)).unwrap_or(u64::MAX).max(1);
        RedisRateLimiter {
            redis,
            prefix: prefix.into(),
            quota,
            interval_micros,
            on_error: OnRedisError::FailClosed,
            clock: RealClock,
        }
    }
}

impl<C: Clock> RedisRateLimiter<C> {
    /// The same limiter, sleeping in [`acquire`](Self::acquire) on `clock`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{Redis, RedisRateLimiter};
    /// use asynchronously::time::RealClock;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "search", Quota::per_second(5)?).with_clock(RealClock);
    /// # let _ = &limiter;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> RedisRateLimiter<C2> {
        RedisRateLimiter {
            redis: self.redis,
            prefix: self.prefix,
            quota: self.quota,
            interval_micros: self.interval_micros,
            on_error: self.on_error,
            clock,
        }
    }

    /// The same limiter, doing `policy` when Redis cannot answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{OnRedisError, Redis, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "search", Quota::per_second(5)?)
    ///     .on_redis_error(OnRedisError::FailOpen);
    /// assert_eq!(limiter.redis_error_policy(), OnRedisError::FailOpen);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn on_redis_error(mut self, policy: OnRedisError) -> RedisRateLimiter<C> {
        self.on_error = policy;
        self
    }

    /// The quota every key gets.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{Redis, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "search", Quota::per_second(5)?);
    /// assert_eq!(limiter.quota().burst(), 5);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// What the limiter does when Redis cannot answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{OnRedisError, Redis, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "search", Quota::per_second(5)?);
    /// assert_eq!(limiter.redis_error_policy(), OnRedisError::FailClosed);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn redis_error_policy(&self) -> OnRedisError {
        self.on_error
    }

    /// Takes `cells` for `key` if they conform now, across the whole fleet; never waits
    /// beyond the one round trip.
    ///
    /// `cells == 0` always conforms, without a round trip.
    ///
    /// # Errors
    ///
    /// [`RedisCheckError::Refused`] with [`CheckError::RateLimited`] (and how long until the
    /// cells would conform) or [`CheckError::InsufficientCapacity`] (more cells than the
    /// burst, refused without a round trip); [`RedisCheckError::Redis`] if Redis cannot answer
    /// and the limiter fails closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have taken the cells (the
    /// script may already have run): never more than asked, and nothing else is affected.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::{CheckError, Quota};
    /// use asynchronously::redis::{Redis, RedisCheckError, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "login", Quota::per_minute(1)?);
    /// limiter.check("alice", 1).await?;
    /// assert!(matches!(
    ///     limiter.check("alice", 1).await,
    ///     Err(RedisCheckError::Refused(CheckError::RateLimited { .. }))
    /// ));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn check(&self, key: &str, cells: u32) -> Result<(), RedisCheckError> {
        if cells > self.quota.burst() {
            return Err(CheckError::InsufficientCapacity {
                requested: cells,
                burst: self.quota.burst(),
            }
            .into());
        }
        if cells == 0 {
            return Ok(());
        }
        match self.run(key, cells, false).await {
            Ok((true, _)) => Ok(()),
            Ok((false, retry_after)) => Err(CheckError::RateLimited { retry_after }.into()),
            Err(_) if self.on_error == OnRedisError::FailOpen => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Takes `cells` for `key`, waiting on the limiter's clock until they conform.
    ///
    /// One round trip *reserves* the cells (the server moves the key's state past them and
    /// reports the instant they conform), then the future sleeps once, until that instant:
    /// waiters across the fleet are admitted in the order their reservations reached Redis,
    /// with no polling and no barging.
    ///
    /// # Errors
    ///
    /// [`RedisAcquireError::Refused`] with [`AcquireError::InsufficientCapacity`] for more
    /// cells than the burst (at once, without a round trip); [`RedisAcquireError::Redis`] if
    /// Redis cannot answer and the limiter fails closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it sleeps does **not** return its cells: they were reserved
    /// in Redis, and giving them back would need another round trip that a drop cannot make.
    /// The fleet is never over-admitted; it admits fewer for one interval per dropped cell.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::ratelimit::Quota;
    /// use asynchronously::redis::{Redis, RedisRateLimiter};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let limiter = RedisRateLimiter::new(redis, "upstream", Quota::per_second(10)?);
    /// for _ in 0..20 {
    ///     limiter.acquire("global", 1).await?; // the second ten take about a second
    /// }
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn acquire(&self, key: &str, cells: u32) -> Result<(), RedisAcquireError> {
        if cells > self.quota.burst() {
            return Err(AcquireError::InsufficientCapacity {
                requested: cells,
                burst: self.quota.burst(),
            }
            .into());
        }
        if cells == 0 {
            return Ok(());
        }
        match self.run(key, cells, true).await {
            Ok((_, wait)) => {
                if !wait.is_zero() {
                    self.clock.sleep(wait).await;
                }
                Ok(())
            }
            Err(_) if self.on_error == OnRedisError::FailOpen => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn run(
        &self,
        key: &str,
        cells: u32,
        reserve: bool,
    ) -> Result<(bool, Duration), RedisError> {
        let mut invocation = GCRA.key(format!("{}:{key}", self.prefix));
        invocation.arg(self.interval_micros).arg(self.quota.burst()).arg(cells).arg(if reserve {
            "1"
        } else {
            "0"
        });
        let (admitted, wait_micros): (i64, i64) =
            self.redis.invoke("ratelimit check", &invocation).await?;
        let wait = Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0));
        Ok((admitted == 1, wait))
    }
}
