use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use asynchronously_cache::{Cache, ComputeError};
use asynchronously_time::{Clock, RealClock};
use redis::Script;

use crate::connection::Redis;
use crate::error::RedisError;
use crate::limiter::OnRedisError;

/// KEYS: value, compute lease. ARGV: lease token, lease ms. {1, value} if cached; {2, ''} if
/// the caller now holds the compute lease; {3, ''} if another caller computes.
static GET_OR_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {3, ''}
",
    )
});

/// KEYS: value, compute lease. ARGV: value, ttl ms, lease token. Stores, then ends our lease.
static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
",
    )
});

/// KEYS: compute lease. ARGV: lease token. Ends our lease (a failed computation).
static UNLEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// The first and the longest pause between two looks while another replica computes.
const FIRST_LOOK: Duration = Duration::from_millis(5);
const LONGEST_LOOK: Duration = Duration::from_millis(50);

/// How values become bytes in Redis and back.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{Codec, Utf8Codec};
///
/// let bytes = Utf8Codec.encode(&"hello".to_owned())?;
/// assert_eq!(Utf8Codec.decode(&bytes)?, "hello");
/// # Ok::<_, std::string::FromUtf8Error>(())
/// ```
pub trait Codec<V>: Send + Sync + 'static {
    /// Why bytes could not be decoded.
    type Error: Error + Send + Sync + 'static;

    /// The bytes stored for `value`.
    ///
    /// # Errors
    ///
    /// When `value` cannot be represented (a `Serialize` impl that refuses, say).
    fn encode(&self, value: &V) -> Result<Vec<u8>, Self::Error>;

    /// The value stored as `bytes`.
    ///
    /// # Errors
    ///
    /// When `bytes` are not a value (another writer, another version of the type).
    fn decode(&self, bytes: &[u8]) -> Result<V, Self::Error>;
}

/// Bytes as they are: `Vec<u8>` values.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{BytesCodec, Codec};
///
/// let bytes = BytesCodec.encode(&vec![1, 2]).unwrap();
/// assert_eq!(BytesCodec.decode(&bytes), Ok(vec![1, 2]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec<Vec<u8>> for BytesCodec {
    type Error = Infallible;

    fn encode(&self, value: &Vec<u8>) -> Result<Vec<u8>, Infallible> {
        Ok(value.clone())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, Infallible> {
        Ok(bytes.to_vec())
    }
}

/// UTF-8 text: `String` values.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{Codec, Utf8Codec};
///
/// assert!(Utf8Codec.decode(&[0xff]).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8Codec;

impl Codec<String> for Utf8Codec {
    type Error = std::string::FromUtf8Error;

    fn encode(&self, value: &String) -> Result<Vec<u8>, Self::Error> {
        Ok(value.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, Self::Error> {
        String::from_utf8(bytes.to_vec())
    }
}

/// Why [`RedisCache::get_or_compute`] returned no value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::redis::TierError;
///
/// let error = TierError::<std::io::Error>::WaitTimedOut { key: "k".into(), waited: Duration::from_secs(2) };
/// assert!(error.to_string().contains("raise `wait_bound`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TierError<E> {
    /// The computation failed; nothing was stored.
    #[error("computing the value failed: {0}")]
    Compute(E),
    /// Redis could not answer, and the tier fails closed.
    #[error(transparent)]
    Redis(RedisError),
    /// The bytes under the key did not decode with the tier's codec.
    #[error(
        "the value of `{key}` in Redis does not decode: {source}; another writer or another \
         version of the value type uses this key prefix"
    )]
    Decode {
        /// The Redis key.
        key: String,
        /// The codec's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// The computed value did not encode with the tier's codec; nothing was stored.
    #[error(
        "the value computed for `{key}` does not encode: {source}; fix the codec or the value's `Serialize`"
    )]
    Encode {
        /// The Redis key.
        key: String,
        /// The codec's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// Another replica held the compute lease for longer than the wait bound.
    #[error(
        "waited {waited:?} for another replica to compute `{key}`; raise `wait_bound`, or \
         check that computations finish within the compute lease"
    )]
    WaitTimedOut {
        /// The Redis key.
        key: String,
        /// How long this caller waited.
        waited: Duration,
    },
}

/// A shared cache tier in Redis, with fleet-wide single flight on a cold key.
///
/// [`get_or_compute`](Self::get_or_compute) returns the value stored in Redis if there is one;
/// otherwise exactly one caller in the fleet takes a short **compute lease** (set-if-absent
/// with expiry) and computes, stores the value for `ttl` and ends the lease, while every other
/// caller waits for the value, looking again after 5 ms, then up to every 50 ms, for at most
/// the wait bound. A computation that fails ends its lease, so the next caller computes; a
/// replica that dies mid-computation leaves a lease that expires after `compute_lease`, and a
/// waiter takes over.
///
/// It composes with the in-process [`Cache`](asynchronously_cache::Cache) through that
/// cache's public API: [`get_or_compute_layered`](Self::get_or_compute_layered) is L1
/// (single flight per process) → L2 Redis (single flight per fleet) → compute.
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::redis::{Redis, RedisCache, Utf8Codec};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// let tier = RedisCache::new(redis, "profiles", Utf8Codec, Duration::from_secs(60));
/// let profile = tier
///     .get_or_compute("user-7", || async { Ok::<_, std::io::Error>("Ada".to_owned()) })
///     .await?;
/// assert_eq!(profile, "Ada");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct RedisCache<V, K, C = RealClock> {
    inner: Arc<Inner<K>>,
    clock: C,
    value: PhantomData<fn() -> V>,
}

struct Inner<K> {
    redis: Redis,
    prefix: String,
    codec: K,
    ttl: Duration,
    compute_lease: Duration,
    wait_bound: Duration,
    on_error: OnRedisError,
    tokens: AtomicU64,
    seed: RandomState,
}

impl<V, K, C: Clone> Clone for RedisCache<V, K, C> {
    fn clone(&self) -> Self {
        RedisCache { inner: self.inner.clone(), clock: self.clock.clone(), value: PhantomData }
    }
}

impl<V, K, C: fmt::Debug> fmt::Debug for RedisCache<V, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.inner.prefix)
            .field("ttl", &self.inner.ttl)
            .field("compute_lease", &self.inner.compute_lease)
            .field("wait_bound", &self.inner.wait_bound)
            .field("on_redis_error", &self.inner.on_error)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<V, K: Codec<V>> RedisCache<V, K> {
    /// A tier under `prefix`, storing values with `codec` for `ttl` (at least a millisecond),
    /// with a 10-second compute lease and wait bound, failing closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{BytesCodec, Redis, RedisCache};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let tier = RedisCache::new(redis, "thumbnails", BytesCodec, Duration::from_secs(300));
    /// # let _ = &tier;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn new(
        redis: Redis,
        prefix: impl Into<String>,
        codec: K,
        ttl: Duration,
    ) -> RedisCache<V, K> {
        RedisCache {
            inner: Arc::new(Inner {
                redis,
                prefix: prefix.into(),
                codec,
                ttl: ttl.max(Duration::from_millis(1)),
                compute_lease: Duration::from_secs(10),
                wait_bound: Duration::from_secs(10),
                on_error: OnRedisError::FailClosed,
                tokens: AtomicU64::new(0),
                seed: RandomState::new(),
            }),
            clock: RealClock,
            value: PhantomData,
        }
    }
}

impl<V, K: Codec<V>, C: Clock> RedisCache<V, K, C> {
    /// How long one computation may hold the compute lease (at least a millisecond): if its
    /// replica dies, another takes over after this. Make it longer than a computation takes.
    ///
    /// # Panics
    ///
    /// If the tier has been cloned already: configure it before sharing it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisCache, Utf8Codec};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let tier = RedisCache::new(redis, "p", Utf8Codec, Duration::from_secs(60))
    ///     .compute_lease(Duration::from_secs(2))
    ///     .wait_bound(Duration::from_secs(3));
    /// # let _ = &tier;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn compute_lease(mut self, lease: Duration) -> RedisCache<V, K, C> {
        self.inner_mut().compute_lease = lease.max(Duration::from_millis(1));
        self
    }

    /// How long a caller waits for another replica's computation before
    /// [`TierError::WaitTimedOut`].
    ///
    /// # Panics
    ///
    /// If the tier has been cloned already: configure it before sharing it.
    ///
    /// # Examples
    ///
    /// See [`compute_lease`](Self::compute_lease).
    #[must_use]
    pub fn wait_bound(mut self, bound: Duration) -> RedisCache<V, K, C> {
        self.inner_mut().wait_bound = bound;
        self
    }

    /// What to do when Redis cannot answer: fail closed (return [`TierError::Redis`], the
    /// default) or fail open (compute locally, without storing).
    ///
    /// # Panics
    ///
    /// If the tier has been cloned already: configure it before sharing it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{OnRedisError, Redis, RedisCache, Utf8Codec};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let tier = RedisCache::new(redis, "p", Utf8Codec, Duration::from_secs(60))
    ///     .on_redis_error(OnRedisError::FailOpen);
    /// # let _ = &tier;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn on_redis_error(mut self, policy: OnRedisError) -> RedisCache<V, K, C> {
        self.inner_mut().on_error = policy;
        self
    }

    /// The same tier, waiting on `clock`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisCache, Utf8Codec};
    /// use asynchronously::time::RealClock;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let tier = RedisCache::new(redis, "p", Utf8Codec, Duration::from_secs(60)).with_clock(RealClock);
    /// # let _ = &tier;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> RedisCache<V, K, C2> {
        RedisCache { inner: self.inner, clock, value: PhantomData }
    }

    fn inner_mut(&mut self) -> &mut Inner<K> {
        Arc::get_mut(&mut self.inner).expect("configure a RedisCache before cloning it")
    }

    /// The value of `key` from Redis, or computed by one caller in the fleet and stored.
    ///
    /// # Errors
    ///
    /// [`TierError::Compute`] with the computation's error (nothing stored; the next caller
    /// computes), [`TierError::WaitTimedOut`] past the wait bound, [`TierError::Decode`] if
    /// the stored bytes do not decode, [`TierError::Redis`] if Redis cannot answer and the
    /// tier fails closed. If storing the computed value fails, the value is still returned.
    ///
    /// # Cancel safety
    ///
    /// A waiting caller dropped changes nothing. The computing caller dropped leaves its
    /// compute lease in Redis until it expires (`compute_lease`); the waiters then take over.
    ///
    /// # Examples
    ///
    /// See [`RedisCache`].
    pub async fn get_or_compute<F, Fut, E>(&self, key: &str, compute: F) -> Result<V, TierError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let inner = &*self.inner;
        let value_key = format!("{}:{key}", inner.prefix);
        let lease_key = format!("{}:{key}:computing", inner.prefix);
        let token = inner.seed.hash_one(inner.tokens.fetch_add(1, Ordering::Relaxed)).to_string();
        let lease_millis = u64::try_from(inner.compute_lease.as_millis()).unwrap_or(u64::MAX);
        let started = self.clock.now();
        let mut pause = FIRST_LOOK;
        loop {
            let mut look = GET_OR_LEASE.key(&value_key);
            look.key(&lease_key).arg(&token).arg(lease_millis);
            let found: Result<(i64, Vec<u8>), RedisError> =
                inner.redis.invoke("cache read", &look).await;
            match found {
                Ok((1, bytes)) => {
                    return inner.codec.decode(&bytes).map_err(|source| TierError::Decode {
                        key: value_key,
                        source: Box::new(source),
                    });
                }
                Ok((2, _)) => {
                    return self.compute_and_store(&value_key, &lease_key, &token, compute).await;
                }
                Ok(_) => {}
                Err(error) => {
                    return match inner.on_error {
                        OnRedisError::FailOpen => compute().await.map_err(TierError::Compute),
                        OnRedisError::FailClosed => Err(TierError::Redis(error)),
                    };
                }
            }
            let waited = self.clock.now().saturating_duration_since(started);
            let Some(left) = inner.wait_bound.checked_sub(waited).filter(|left| !left.is_zero())
            else {
                return Err(TierError::WaitTimedOut { key: value_key, waited });
            };
            self.clock.sleep(pause.min(left)).await;
            pause = (pause * 2).min(LONGEST_LOOK);
        }
    }

    async fn compute_and_store<F, Fut, E>(
        &self,
        value_key: &str,
        lease_key: &str,
        token: &str,
        compute: F,
    ) -> Result<V, TierError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let inner = &*self.inner;
        match compute().await {
            Ok(value) => {
                let bytes = match inner.codec.encode(&value) {
                    Ok(bytes) => bytes,
                    Err(source) => {
                        self.unlease(lease_key, token).await;
                        return Err(TierError::Encode {
                            key: value_key.to_owned(),
                            source: Box::new(source),
                        });
                    }
                };
                let ttl_millis = u64::try_from(inner.ttl.as_millis()).unwrap_or(u64::MAX);
                let mut store = STORE.key(value_key);
                store.key(lease_key).arg(bytes).arg(ttl_millis).arg(token);
                // The value is ours either way; a failed store only costs the fleet a recompute.
                let _stored: Result<i64, RedisError> =
                    inner.redis.invoke("cache store", &store).await;
                Ok(value)
            }
            Err(error) => {
                self.unlease(lease_key, token).await;
                Err(TierError::Compute(error))
            }
        }
    }

    /// Ends our compute lease early, so the next caller computes (best effort: it expires
    /// anyway).
    async fn unlease(&self, lease_key: &str, token: &str) {
        let mut unlease = UNLEASE.key(lease_key);
        unlease.arg(token);
        let _ended: Result<i64, RedisError> =
            self.inner.redis.invoke("cache unlease", &unlease).await;
    }

    /// L1 → L2 → compute: the in-process `l1` cache first (one flight per process), then this
    /// tier (one flight per fleet), then `compute`. `l1` is used only through its public
    /// [`try_get_or_compute`](asynchronously_cache::Cache::try_get_or_compute).
    ///
    /// # Errors
    ///
    /// `l1`'s [`ComputeError`](asynchronously_cache::ComputeError), with this tier's
    /// [`TierError`] in [`ComputeError::Failed`](asynchronously_cache::ComputeError::Failed).
    ///
    /// # Cancel safety
    ///
    /// As for the in-process cache: a dropped caller leaves the flight to the other waiters.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::cache::Cache;
    /// use asynchronously::redis::{Redis, RedisCache, Utf8Codec};
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let tier = RedisCache::new(redis, "profiles", Utf8Codec, Duration::from_secs(60));
    /// let l1: Cache<String, String> = Cache::builder().time_to_live(Duration::from_secs(5)).build()?;
    /// let name = tier
    ///     .get_or_compute_layered(&l1, "user-7", || async { Ok::<_, std::io::Error>("Ada".to_owned()) })
    ///     .await?;
    /// assert_eq!(l1.get(&"user-7".to_owned()), Some(name));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_or_compute_layered<C1, S, F, Fut, E>(
        &self,
        l1: &Cache<String, V, C1, S>,
        key: &str,
        compute: F,
    ) -> Result<V, ComputeError<TierError<E>>>
    where
        V: Clone + Send + Sync + 'static,
        C1: Clock,
        S: BuildHasher,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        let tier = self.clone();
        let owned = key.to_owned();
        l1.try_get_or_compute(key.to_owned(), move || async move {
            tier.get_or_compute(&owned, compute).await
        })
        .await
    }
}

/// Any `serde` value as `MessagePack` (`rmp-serde`), in its compact form: structs as arrays, so
/// the bytes carry no field names (add fields at the end only, or use your own [`Codec`]).
/// Feature `serde`.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{Codec, MessagePackCodec};
///
/// let bytes = MessagePackCodec.encode(&(7_u32, "seven".to_owned()))?;
/// assert_eq!(bytes.len(), 8, "compact: no field names, no padding");
/// let decoded: (u32, String) = MessagePackCodec.decode(&bytes)?;
/// assert_eq!(decoded, (7, "seven".to_owned()));
/// # Ok::<_, asynchronously::redis::MessagePackError>(())
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagePackCodec;

/// Why [`MessagePackCodec`] could not encode or decode a value. Feature `serde`.
///
/// # Examples
///
/// ```
/// use asynchronously::redis::{Codec, MessagePackCodec, MessagePackError};
///
/// let wrong: Result<u32, _> = MessagePackCodec.decode(b"\xa3abc"); // a string, not a number
/// assert!(matches!(wrong, Err(MessagePackError::Decode(_))));
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessagePackError {
    /// The value's `Serialize` failed.
    #[error("MessagePack encoding failed: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bytes are not `MessagePack` of this type.
    #[error("MessagePack decoding failed: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

#[cfg(feature = "serde")]
impl<V> Codec<V> for MessagePackCodec
where
    V: serde::Serialize + serde::de::DeserializeOwned,
{
    type Error = MessagePackError;

    fn encode(&self, value: &V) -> Result<Vec<u8>, MessagePackError> {
        Ok(rmp_serde::to_vec(value)?)
    }

    fn decode(&self, bytes: &[u8]) -> Result<V, MessagePackError> {
        Ok(rmp_serde::from_slice(bytes)?)
    }
}
