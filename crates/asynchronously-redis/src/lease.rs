use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};
use futures::channel::oneshot;
use futures::future::{self, BoxFuture, Either, FutureExt, Shared};
use redis::Script;

use crate::connection::Redis;
use crate::error::RedisError;

/// KEYS: holder, fence counter. ARGV: holder id, ttl ms. Takes a free lease with a new token,
/// extends our own (same token), or returns nil.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and string.sub(current, sep + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(current, 1, sep - 1))
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return token
",
    )
});

/// KEYS: holder. ARGV: "token|holder", ttl ms. Extends the lease only if it is still ours.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// KEYS: holder. ARGV: "token|holder". Deletes the lease only if it is still ours.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// KEYS: a hash {token, value}. ARGV: value, token. Writes unless a newer token wrote first;
/// returns 0 when written, else the newer token.
static FENCED_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local last = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
if tonumber(ARGV[2]) < last then return last end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'value', ARGV[1])
return 0
",
    )
});

/// A fencing token: every acquisition of a lease gets a larger one, so a store that remembers
/// the largest token it has seen can refuse a write from a holder whose lease has passed on.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::FencingToken;
///
/// assert!(FencingToken::new(2) > FencingToken::new(1));
/// assert_eq!(FencingToken::new(7).get(), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(u64);

impl FencingToken {
    /// A token with this value (as stored by your own fenced store).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::FencingToken;
    ///
    /// assert_eq!(FencingToken::new(3).get(), 3);
    /// ```
    #[must_use]
    pub fn new(value: u64) -> FencingToken {
        FencingToken(value)
    }

    /// The token's value: pass it along with writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::FencingToken;
    ///
    /// assert_eq!(FencingToken::new(3).get(), 3);
    /// ```
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What [`RedisLease::fenced_set`] did.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{FencedWrite, FencingToken};
///
/// let refused = FencedWrite::Stale { newer: FencingToken::new(5) };
/// assert!(!refused.is_written());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum FencedWrite {
    /// The value was written.
    Written,
    /// Refused: a holder with a newer token already wrote; this writer's lease has passed on.
    Stale {
        /// The newer token that wrote.
        newer: FencingToken,
    },
}

impl FencedWrite {
    /// Whether the value was written.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::FencedWrite;
    ///
    /// assert!(FencedWrite::Written.is_written());
    /// ```
    #[must_use]
    pub fn is_written(self) -> bool {
        self == FencedWrite::Written
    }
}

/// Why a [`RedisLease`] cannot be built.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::LeaseError;
///
/// assert!(LeaseError::ZeroTtl.to_string().contains("longer than zero"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// A lease that expires at once could never be held.
    #[error("a lease needs a ttl longer than zero (and at least 1 ms)")]
    ZeroTtl,
    /// A holder id containing `|`, which separates it from the token in Redis.
    #[error("a lease holder id must not contain `|`; got `{0}`")]
    InvalidHolder(String),
}

/// A leader lease in Redis with fencing tokens: at most one holder at a time, fleet-wide.
///
/// - [`try_acquire`](Self::try_acquire): set-if-absent with expiry; a new acquisition gets a
///   larger [`FencingToken`]. Calling it again while holding extends the lease, same token.
/// - [`renew`](Self::renew) and [`release`](Self::release): compare-and-set scripts that act
///   only while the lease is still this holder's, with this token.
/// - [`leader_only`](Self::leader_only): wraps a periodic job so it runs only on the holder,
///   renewing while it runs; losing the lease mid-run is reported and, by option, cancels it.
///
/// The lease expires on Redis's clock (`PX`), so a holder that dies or stops renewing hands
/// over after at most `ttl`. Keys: `{name}:holder` and `{name}:fence` (one hash slot).
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::redis::{Redis, RedisLease};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// let lease = RedisLease::new(redis, "nightly-report", "replica-1", Duration::from_secs(10))?;
/// if let Some(token) = lease.try_acquire().await? {
///     // ... lead; pass `token` along with writes ...
///     lease.release(token).await?;
/// }
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RedisLease<C = RealClock> {
    redis: Redis,
    holder_key: String,
    fence_key: String,
    holder: String,
    ttl: Duration,
    clock: C,
}

impl RedisLease {
    /// The lease `name`, contended for by `holder` (unique per replica), expiring `ttl` after
    /// it was last acquired or renewed.
    ///
    /// # Errors
    ///
    /// [`LeaseError::ZeroTtl`] for a ttl under a millisecond, [`LeaseError::InvalidHolder`]
    /// for a holder id containing `|`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{LeaseError, Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(RedisLease::new(redis.clone(), "job", "a", Duration::ZERO).unwrap_err(), LeaseError::ZeroTtl);
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// # let _ = &lease;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn new(
        redis: Redis,
        name: &str,
        holder: impl Into<String>,
        ttl: Duration,
    ) -> Result<RedisLease, LeaseError> {
        let holder = holder.into();
        if ttl < Duration::from_millis(1) {
            return Err(LeaseError::ZeroTtl);
        }
        if holder.contains('|') {
            return Err(LeaseError::InvalidHolder(holder));
        }
        Ok(RedisLease {
            redis,
            holder_key: format!("{{{name}}}:holder"),
            fence_key: format!("{{{name}}}:fence"),
            holder,
            ttl,
            clock: RealClock,
        })
    }
}

impl<C: Clock> RedisLease<C> {
    /// The same lease, sleeping between renewals on `clock`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    /// use asynchronously::time::RealClock;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?.with_clock(RealClock);
    /// # let _ = &lease;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> RedisLease<C2> {
        RedisLease {
            redis: self.redis,
            holder_key: self.holder_key,
            fence_key: self.fence_key,
            holder: self.holder,
            ttl: self.ttl,
            clock,
        }
    }

    /// This contender's holder id.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "replica-7", Duration::from_secs(5))?;
    /// assert_eq!(lease.holder(), "replica-7");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The lease's time to live.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// assert_eq!(lease.ttl(), Duration::from_secs(5));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes the lease if it is free, or extends it if this holder has it; returns its token,
    /// or `None` while another holder has it.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may have taken the lease without telling
    /// you: it then expires after `ttl` unless this holder acquires again (which returns it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let a = RedisLease::new(redis.clone(), "job", "a", Duration::from_secs(5))?;
    /// let b = RedisLease::new(redis, "job", "b", Duration::from_secs(5))?;
    /// let token = a.try_acquire().await?.expect("free");
    /// assert_eq!(b.try_acquire().await?, None);
    /// assert_eq!(a.try_acquire().await?, Some(token), "extends, same token");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn try_acquire(&self) -> Result<Option<FencingToken>, RedisError> {
        let mut invocation = ACQUIRE.key(&self.holder_key);
        invocation.key(&self.fence_key).arg(&self.holder).arg(self.ttl_millis());
        let token: Option<u64> = self.redis.invoke("lease acquire", &invocation).await?;
        Ok(token.map(FencingToken))
    }

    /// Extends the lease by `ttl` if it is still held with `token`; `false` means it was lost
    /// (expired, or taken over by another holder).
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer: the lease may be expiring, so count the `ttl`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have extended the lease.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// let token = lease.try_acquire().await?.expect("free");
    /// assert!(lease.renew(token).await?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn renew(&self, token: FencingToken) -> Result<bool, RedisError> {
        let mut invocation = RENEW.key(&self.holder_key);
        invocation.arg(self.value(token)).arg(self.ttl_millis());
        let renewed: i64 = self.redis.invoke("lease renew", &invocation).await?;
        Ok(renewed == 1)
    }

    /// Gives the lease up if it is still held with `token`, so another holder can take it at
    /// once; `false` if it had already been lost.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer (the lease then expires after `ttl`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have released the lease.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// let token = lease.try_acquire().await?.expect("free");
    /// assert!(lease.release(token).await?);
    /// assert!(!lease.release(token).await?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn release(&self, token: FencingToken) -> Result<bool, RedisError> {
        let mut invocation = RELEASE.key(&self.holder_key);
        invocation.arg(self.value(token));
        let released: i64 = self.redis.invoke("lease release", &invocation).await?;
        Ok(released == 1)
    }

    /// Whether the lease is held right now with `token` (by this holder).
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
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// let token = lease.try_acquire().await?.expect("free");
    /// assert!(lease.is_current(token).await?);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn is_current(&self, token: FencingToken) -> Result<bool, RedisError> {
        let value: Option<String> =
            self.redis.query("lease read", redis::cmd("GET").arg(&self.holder_key)).await?;
        Ok(value.is_some_and(|value| value == self.value(token)))
    }

    /// Writes `value` to the Redis hash `key` only if no holder with a newer token wrote there
    /// first: the fencing check, done by the store. A holder whose lease passed on while it
    /// was paused gets [`FencedWrite::Stale`] instead of overwriting its successor's data.
    /// Read the value back with [`fenced_get`](Self::fenced_get).
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot answer.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before Redis answered may or may not have written.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{FencedWrite, Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// let token = lease.try_acquire().await?.expect("free");
    /// assert_eq!(lease.fenced_set("report", b"done", token).await?, FencedWrite::Written);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn fenced_set(
        &self,
        key: &str,
        value: &[u8],
        token: FencingToken,
    ) -> Result<FencedWrite, RedisError> {
        let mut invocation = FENCED_SET.key(key);
        invocation.arg(value).arg(token.0);
        let newer: u64 = self.redis.invoke("fenced write", &invocation).await?;
        Ok(if newer == 0 {
            FencedWrite::Written
        } else {
            FencedWrite::Stale { newer: FencingToken(newer) }
        })
    }

    /// The value and token last written by [`fenced_set`](Self::fenced_set) to `key`.
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
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(5))?;
    /// let token = lease.try_acquire().await?.expect("free");
    /// let _ = lease.fenced_set("report", b"done", token).await?;
    /// assert_eq!(lease.fenced_get("report").await?, Some((b"done".to_vec(), token)));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn fenced_get(
        &self,
        key: &str,
    ) -> Result<Option<(Vec<u8>, FencingToken)>, RedisError> {
        let (value, token): (Option<Vec<u8>>, Option<u64>) = self
            .redis
            .query("fenced read", redis::cmd("HMGET").arg(key).arg("value").arg("token"))
            .await?;
        Ok(value.zip(token).map(|(value, token)| (value, FencingToken(token))))
    }

    /// Wraps `job` so that it runs only on the replica holding this lease.
    ///
    /// Each call of the returned closure (one periodic tick) tries to take or extend the
    /// lease. Not the holder: the run is skipped and returns `Ok(())`. The holder: `job` runs
    /// with a [`LeaderRun`] while the lease is renewed every `ttl / 3`. If a renewal finds the
    /// lease lost (or Redis has not confirmed it for a whole `ttl`), the loss is visible
    /// through [`LeaderRun::is_lost`] / [`LeaderRun::lost`], the run ends with
    /// [`LeaderError::LeaseLost`], and with [`LeaderOptions::cancel_on_loss`] the job's
    /// future is dropped at once. The lease is kept between runs, so leadership is sticky
    /// while `ttl` exceeds the period; it passes on when the holder stops.
    ///
    /// The closure fits `Periodic::builder(period).build(job)` (`asynchronously::periodic`)
    /// as the job: its argument is passed through (the periodic `Tick`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::periodic::{Periodic, Tick};
    /// use asynchronously::redis::{LeaderOptions, LeaderRun, Redis, RedisLease};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let lease = RedisLease::new(redis, "compaction", "replica-1", Duration::from_secs(30))?;
    /// let job = lease.leader_only(LeaderOptions::new().cancel_on_loss(true), |_tick: Tick, run: LeaderRun| async move {
    ///     let _token = run.token(); // ... compact, tagging writes with it ...
    ///     Ok::<_, std::io::Error>(())
    /// });
    /// let (_periodic, worker) = Periodic::builder(Duration::from_secs(10)).build(job)?;
    /// // spawn `worker` on your runtime
    /// # drop(worker);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn leader_only<T, F, Fut, E>(
        &self,
        options: LeaderOptions,
        mut job: F,
    ) -> impl FnMut(T) -> BoxFuture<'static, Result<(), LeaderError<E>>> + Send + 'static
    where
        F: FnMut(T, LeaderRun) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        let lease = self.clone();
        move |argument: T| {
            let lease = lease.clone();
            let (lost_sender, lost_receiver) = oneshot::channel::<()>();
            let state =
                Arc::new(RunState { token: AtomicU64::new(0), lost: AtomicBool::new(false) });
            let run = LeaderRun { state: state.clone(), lost: lost_receiver.shared() };
            // A future does nothing until polled: this one is polled only once we lead.
            let running = job(argument, run);
            async move {
                let token = match lease.try_acquire().await {
                    Ok(None) => return Ok(()),
                    Ok(Some(token)) => token,
                    Err(error) => return Err(LeaderError::Redis(error)),
                };
                state.token.store(token.0, Ordering::Release);
                let renewing = lease.keep(token, &state, lost_sender);
                let mut running = pin!(running);
                match future::select(running.as_mut(), pin!(renewing)).await {
                    Either::Left((outcome, _)) => outcome.map_err(LeaderError::Job),
                    Either::Right(((), _)) if options.cancel_on_loss => {
                        Err(LeaderError::LeaseLost { cancelled: true })
                    }
                    Either::Right(((), _)) => match running.await {
                        Ok(()) => Err(LeaderError::LeaseLost { cancelled: false }),
                        Err(error) => Err(LeaderError::Job(error)),
                    },
                }
            }
            .boxed()
        }
    }

    /// Renews every `ttl / 3` until the lease is lost; then flags it and returns.
    async fn keep(&self, token: FencingToken, state: &RunState, lost: oneshot::Sender<()>) {
        let every = self.ttl / 3;
        let mut unconfirmed = Duration::ZERO;
        loop {
            self.clock.sleep(every).await;
            match self.renew(token).await {
                Ok(true) => unconfirmed = Duration::ZERO,
                Ok(false) => break,
                Err(_) => {
                    unconfirmed += every;
                    if unconfirmed >= self.ttl {
                        break;
                    }
                }
            }
        }
        state.lost.store(true, Ordering::Release);
        let _ = lost.send(());
    }

    fn value(&self, token: FencingToken) -> String {
        format!("{}|{}", token.0, self.holder)
    }

    fn ttl_millis(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }
}

/// What a run's [`LeaderRun`] handles share with the renewal loop.
#[derive(Debug)]
struct RunState {
    token: AtomicU64,
    lost: AtomicBool,
}

/// Options of [`RedisLease::leader_only`].
///
/// # Examples
///
/// ```
/// use asynchronously::redis::LeaderOptions;
///
/// let options = LeaderOptions::new().cancel_on_loss(true);
/// assert!(options.cancels_on_loss());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaderOptions {
    cancel_on_loss: bool,
}

impl LeaderOptions {
    /// Runs finish even when the lease is lost mid-run (the loss is still reported).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::LeaderOptions;
    ///
    /// assert!(!LeaderOptions::new().cancels_on_loss());
    /// ```
    #[must_use]
    pub fn new() -> LeaderOptions {
        LeaderOptions { cancel_on_loss: false }
    }

    /// Whether a run is cancelled (its future dropped) as soon as the lease is found lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::LeaderOptions;
    ///
    /// assert!(LeaderOptions::new().cancel_on_loss(true).cancels_on_loss());
    /// ```
    #[must_use]
    pub fn cancel_on_loss(mut self, cancel: bool) -> LeaderOptions {
        self.cancel_on_loss = cancel;
        self
    }

    /// Whether runs are cancelled on loss.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::LeaderOptions;
    ///
    /// assert!(!LeaderOptions::default().cancels_on_loss());
    /// ```
    #[must_use]
    pub fn cancels_on_loss(&self) -> bool {
        self.cancel_on_loss
    }
}

/// What a leader-only job gets for one run: its fencing token and the news of a lost lease.
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::redis::{LeaderOptions, LeaderRun, Redis, RedisLease};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// let lease = RedisLease::new(redis, "job", "a", Duration::from_secs(3))?;
/// let mut job = lease.leader_only(LeaderOptions::new(), |(), run: LeaderRun| async move {
///     for _ in 0..10 {
///         if run.is_lost() {
///             return Ok::<_, std::io::Error>(()); // stop early, tidily
///         }
///         // ... one step ...
///     }
///     Ok(())
/// });
/// job(()).await?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct LeaderRun {
    state: Arc<RunState>,
    lost: Shared<oneshot::Receiver<()>>,
}

impl LeaderRun {
    /// The fencing token of this run's lease: pass it with every write the run makes.
    ///
    /// # Examples
    ///
    /// See [`LeaderRun`].
    #[must_use]
    pub fn token(&self) -> FencingToken {
        FencingToken(self.state.token.load(Ordering::Acquire))
    }

    /// Whether the lease has been found lost during this run.
    ///
    /// # Examples
    ///
    /// See [`LeaderRun`].
    #[must_use]
    pub fn is_lost(&self) -> bool {
        self.state.lost.load(Ordering::Acquire)
    }

    /// Completes when the lease is found lost during this run; never, if it is not.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    ///
    /// # Examples
    ///
    /// See [`LeaderRun`].
    pub async fn lost(&self) {
        if self.lost.clone().await.is_err() {
            future::pending::<()>().await;
        }
    }
}

/// Why a [`leader_only`](RedisLease::leader_only) run failed.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::LeaderError;
///
/// let error = LeaderError::<std::io::Error>::LeaseLost { cancelled: true };
/// assert!(error.to_string().contains("lost"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaderError<E> {
    /// The job itself failed.
    #[error("the leader's job failed: {0}")]
    Job(E),
    /// The lease was lost mid-run (expired or taken over); `cancelled` if the run was dropped.
    #[error(
        "the leader lease was lost mid-run (cancelled: {cancelled}); another replica may be \
         running the job: make its writes fenced"
    )]
    LeaseLost {
        /// Whether the run was cancelled ([`LeaderOptions::cancel_on_loss`]).
        cancelled: bool,
    },
    /// Redis could not answer whether this replica leads; the run was skipped.
    #[error("could not take the leader lease: {0}")]
    Redis(RedisError),
}
