use std::fmt;
use std::future::Future;
use std::time::Duration;

use asynchronously_time::{RealClock, timeout};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ScriptInvocation};

use crate::error::{ConnectError, RedisError};

/// How a [`Redis`] handle connects and how long it waits for answers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::redis::RedisOptions;
///
/// let options = RedisOptions::new()
///     .command_timeout(Duration::from_millis(250))
///     .connect_timeout(Duration::from_millis(500))
///     .reconnect_attempts(3);
/// assert_eq!(options.get_command_timeout(), Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    command_timeout: Duration,
    connect_timeout: Duration,
    reconnect_attempts: usize,
}

impl Default for RedisOptions {
    fn default() -> RedisOptions {
        RedisOptions::new()
    }
}

impl RedisOptions {
    /// One second per command and per connection attempt, one reconnect attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::RedisOptions;
    ///
    /// assert_eq!(RedisOptions::new().get_command_timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn new() -> RedisOptions {
        RedisOptions {
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            reconnect_attempts: 1,
        }
    }

    /// The bound on every command: past it the call fails with [`RedisError::TimedOut`].
    ///
    /// This is what keeps a dead server from hanging callers.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::RedisOptions;
    ///
    /// let options = RedisOptions::new().command_timeout(Duration::from_millis(100));
    /// assert_eq!(options.get_command_timeout(), Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> RedisOptions {
        self.command_timeout = timeout;
        self
    }

    /// The bound on each connection attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::RedisOptions;
    ///
    /// let options = RedisOptions::new().connect_timeout(Duration::from_millis(100));
    /// assert_eq!(options.get_connect_timeout(), Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> RedisOptions {
        self.connect_timeout = timeout;
        self
    }

    /// How many times the connection manager retries a lost connection before failing the
    /// waiting commands (it tries again on the next command). Keep it small: retrying is your
    /// retry policy's job.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::RedisOptions;
    ///
    /// assert_eq!(RedisOptions::new().reconnect_attempts(0).get_reconnect_attempts(), 0);
    /// ```
    #[must_use]
    pub fn reconnect_attempts(mut self, attempts: usize) -> RedisOptions {
        self.reconnect_attempts = attempts;
        self
    }

    /// The command timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::RedisOptions;
    ///
    /// assert_eq!(RedisOptions::new().get_command_timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn get_command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// The timeout of one connection attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::RedisOptions;
    ///
    /// assert_eq!(RedisOptions::new().get_connect_timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The reconnect attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::redis::RedisOptions;
    ///
    /// assert_eq!(RedisOptions::new().get_reconnect_attempts(), 1);
    /// ```
    #[must_use]
    pub fn get_reconnect_attempts(&self) -> usize {
        self.reconnect_attempts
    }

    fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout))
            .set_number_of_retries(self.reconnect_attempts)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100))
    }

    /// Every connection attempt, plus the delays between them (at most 100 ms each).
    fn connect_bound(&self) -> Duration {
        let attempts = u32::try_from(self.reconnect_attempts.saturating_add(1)).unwrap_or(u32::MAX);
        self.connect_timeout.saturating_add(Duration::from_millis(100)).saturating_mul(attempts)
    }
}

/// A shared, cheaply cloned handle to one Redis server, on the `redis` crate's
/// [`ConnectionManager`]: one multiplexed connection, re-established in the background when it
/// drops, with every command bounded by the [command timeout](RedisOptions::command_timeout).
///
/// Every type of this crate takes a `Redis`. Clones share the connection; separate
/// [`connect`](Redis::connect) calls make separate connections (as separate replicas would).
///
/// The `redis` crate runs its connection tasks on the runtime it finds (its `tokio` or `smol`
/// support, this crate's features of the same names); async-std is not supported by it.
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use asynchronously::redis::Redis;
///
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// redis.ping().await?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Redis {
    manager: ConnectionManager,
    command_timeout: Duration,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`) with the default [`RedisOptions`].
    ///
    /// # Errors
    ///
    /// [`ConnectError`] if the URL is invalid or no server answers; wrap the call in a retry
    /// policy to keep trying.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connection attempt; nothing is left behind.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::Redis;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// # let _ = &redis;
    /// # Ok::<_, asynchronously::redis::ConnectError>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(url: &str) -> Result<Redis, ConnectError> {
        Redis::connect_with(url, RedisOptions::new()).await
    }

    /// Connects to `url` with `options`.
    ///
    /// Bounded: it fails with [`ConnectError::TimedOut`] once every attempt has had its
    /// connect timeout.
    ///
    /// # Errors
    ///
    /// [`ConnectError`] if the URL is invalid or no server answers.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connection attempt; nothing is left behind.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::redis::{Redis, RedisOptions};
    ///
    /// let options = RedisOptions::new().command_timeout(Duration::from_millis(200));
    /// let redis = Redis::connect_with("redis://127.0.0.1:6379/", options).await?;
    /// # let _ = &redis;
    /// # Ok::<_, asynchronously::redis::ConnectError>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Redis, ConnectError> {
        let client = redis::Client::open(url)
            .map_err(|source| ConnectError::InvalidUrl { url: url.to_owned(), source })?;
        let bound = options.connect_bound();
        let connecting = ConnectionManager::new_with_config(client, options.manager_config());
        match timeout(&RealClock, bound, connecting).await {
            Ok(Ok(manager)) => Ok(Redis::from_manager(manager, options)),
            Ok(Err(source)) => Err(ConnectError::Unreachable { url: url.to_owned(), source }),
            Err(_elapsed) => Err(ConnectError::TimedOut { url: url.to_owned(), bound }),
        }
    }

    /// Wraps a connection manager you built yourself (TLS, auth, RESP3 …); `options` supplies
    /// the command timeout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::{Redis, RedisOptions};
    ///
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let manager = redis::aio::ConnectionManager::new(client).await?;
    /// let redis = Redis::from_manager(manager, RedisOptions::new());
    /// # let _ = &redis;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn from_manager(manager: ConnectionManager, options: RedisOptions) -> Redis {
        Redis { manager, command_timeout: options.command_timeout }
    }

    /// The underlying connection manager, for your own commands.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::Redis;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// let mut connection = redis.manager().clone();
    /// let _: () = redis::cmd("SET").arg("greeting").arg("hello").query_async(&mut connection).await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    /// One `PING` round trip.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if the server does not answer within the command timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a `PING` changes nothing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// use asynchronously::redis::Redis;
    ///
    /// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
    /// redis.ping().await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn ping(&self) -> Result<(), RedisError> {
        let _: String = self.query("ping", &redis::cmd("PING")).await?;
        Ok(())
    }

    /// Runs `cmd`, bounded by the command timeout.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisError> {
        let mut connection = self.manager.clone();
        self.bounded(operation, async move { cmd.query_async(&mut connection).await }).await
    }

    /// Runs a script, bounded by the command timeout (a `NOSCRIPT` after a server restart
    /// loads it again).
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        operation: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        let mut connection = self.manager.clone();
        self.bounded(operation, async move { invocation.invoke_async(&mut connection).await }).await
    }

    async fn bounded<T>(
        &self,
        operation: &'static str,
        future: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisError> {
        match timeout(&RealClock, self.command_timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) if source.is_timeout() => {
                Err(RedisError::TimedOut { operation, timeout: self.command_timeout })
            }
            Ok(Err(source)) => Err(RedisError::Command { operation, source }),
            Err(_elapsed) => Err(RedisError::TimedOut { operation, timeout: self.command_timeout }),
        }
    }
}
