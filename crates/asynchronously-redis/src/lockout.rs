use std::sync::LazyLock;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};
use redis::Script;

use crate::connection::Redis;
use crate::error::RedisError;

/// Lockouts longer than this (about 1,100 years, `Duration::MAX` included) never expire.
const NEVER_MILLIS: u128 = 1 << 45;

/// KEYS[1]: the lockout. ARGV[1]: milliseconds, or "never". Keeps the latest expiry; returns
/// the milliseconds left, or -1 for never.
static LOCKOUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('PTTL', KEYS[1])
if current == -1 then return -1 end
if ARGV[1] == 'never' then
  redis.call('SET', KEYS[1], 'never')
  return -1
end
local wanted = tonumber(ARGV[1])
if current >= wanted then return current end
redis.call('SET', KEYS[1], 'locked', 'PX', ARGV[1])
return wanted
",
    )
});

/// A fleet-wide lockout per key: after an upstream says "429, retry in 30 s", one replica's
/// [`lockout_for`](Self::lockout_for) makes every replica's
/// [`wait_unlocked`](Self::wait_unlocked) hold back until it expires.
///
/// Lockouts stack by keeping the latest expiry, as the in-process
/// [`Lockout`](asynchronously_ratelimit::Lockout) does. The expiry is kept by Redis (`PX` on
/// the key `{prefix}:{key}`), so the replicas' clocks do not matter.
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::redis::{Redis, RedisLockout};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// let lockout = RedisLockout::new(redis, "upstream-429");
/// lockout.lockout_for("payments-api", Duration::from_secs(30)).await?;
/// assert!(lockout.remaining("payments-api").await?.is_some());
/// // Every replica: wait, then call.
/// lockout.wait_unlocked("payments-api").await?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RedisLockout<C = RealClock> {
    redis: Redis,
    prefix: String,
    recheck: Duration,
    clock: C,
}

impl RedisLockout {
    /// Lockouts under `prefix`, re-checked at least every second while waiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts");
    /// # let _ = &lockout;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn new(redis: Redis, prefix: impl Into<String>) -> RedisLockout {
        RedisLockout {
            redis,
            prefix: prefix.into(),
            recheck: Duration::from_secs(1),
            clock: RealClock,
        }
    }
}

impl<C: Clock> RedisLockout<C> {
    /// The same lockouts, sleeping on `clock`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::{Redis, RedisLockout};
    /// use asynchronously::time::RealClock;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts").with_clock(RealClock);
    /// # let _ = &lockout;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> RedisLockout<C2> {
        RedisLockout { redis: self.redis, prefix: self.prefix, recheck: self.recheck, clock }
    }

    /// The longest [`wait_unlocked`](Self::wait_unlocked) sleeps before asking Redis again,
    /// so an [`unlock`](Self::unlock) by another replica is noticed within it (an extension
    /// is noticed at the old expiry in any case). Zero is raised to one millisecond.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts").recheck_every(Duration::from_millis(200));
    /// # let _ = &lockout;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn recheck_every(mut self, recheck: Duration) -> RedisLockout<C> {
        self.recheck = recheck.max(Duration::from_millis(1));
        self
    }

    /// Locks `key` out for `duration` across the fleet, unless it is already locked out for
    /// longer; returns how long the lockout now lasts. `Duration::MAX` (or anything over about
    /// 1,100 years) locks it out until [`unlock`](Self::unlock), reported as `Duration::MAX`.
    /// A zero duration changes nothing.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have set the lockout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts");
    /// lockout.lockout_for("api", Duration::from_secs(30)).await?;
    /// let kept = lockout.lockout_for("api", Duration::from_secs(5)).await?;
    /// assert!(kept > Duration::from_secs(5), "the later expiry wins");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn lockout_for(&self, key: &str, duration: Duration) -> Result<Duration, RedisError> {
        let millis = duration.as_nanos().div_ceil(1_000_000);
        if millis == 0 {
            return Ok(self.remaining(key).await?.unwrap_or(Duration::ZERO));
        }
        let mut invocation = LOCKOUT.key(self.key(key));
        if millis >= NEVER_MILLIS {
            invocation.arg("never");
        } else {
            invocation.arg(u64::try_from(millis).unwrap_or(u64::MAX));
        }
        let left: i64 = self.redis.invoke("lockout", &invocation).await?;
        Ok(millis_left(left).unwrap_or(Duration::ZERO))
    }

    /// How long `key` stays locked out, or `None` if it is not.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts");
    /// assert_eq!(lockout.remaining("never-locked").await?, None);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn remaining(&self, key: &str) -> Result<Option<Duration>, RedisError> {
        let left: i64 =
            self.redis.query("lockout remaining", redis::cmd("PTTL").arg(self.key(key))).await?;
        Ok(millis_left(left))
    }

    /// Lifts the lockout of `key` at once, for every replica; returns whether it was locked.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have lifted the lockout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts");
    /// lockout.lockout_for("api", Duration::MAX).await?;
    /// assert!(lockout.unlock("api").await?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn unlock(&self, key: &str) -> Result<bool, RedisError> {
        let removed: i64 =
            self.redis.query("lockout unlock", redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    /// Waits until `key` is not locked out: sleeps on the clock until the expiry Redis
    /// reports (at most [`recheck_every`](Self::recheck_every)), asks again, and returns once
    /// no lockout is left. Returns at once when there is none.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer; the caller decides whether to proceed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads and sleeps.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLockout};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lockout = RedisLockout::new(redis, "lockouts");
    /// lockout.lockout_for("api", Duration::from_millis(100)).await?;
    /// lockout.wait_unlocked("api").await?; // about 100 ms
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn wait_unlocked(&self, key: &str) -> Result<(), RedisError> {
        while let Some(left) = self.remaining(key).await? {
            self.clock.sleep(left.min(self.recheck)).await;
        }
        Ok(())
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }
}

/// A `PTTL`-style answer: -2 none, -1 forever, else milliseconds.
fn millis_left(left: i64) -> Option<Duration> {
    match left {
        -1 => Some(Duration::MAX),
        left if left >= 0 => Some(Duration::from_millis(left.unsigned_abs())),
        _ => None,
    }
}
