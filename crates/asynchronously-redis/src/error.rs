use std::time::Duration;

/// Why [`Redis::connect`](crate::Redis::connect) could not reach a server.
///
/// Connecting never retries beyond the manager's own reconnect attempts: wrap the call in your
/// retry policy (`asynchronously::retry`) to keep trying, and get this error once it gives up.
///
/// # Examples
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use asynchronously::redis::{ConnectError, Redis};
///
/// match Redis::connect("redis://127.0.0.1:1/").await {
///     Err(ConnectError::Unreachable { url, .. }) => assert_eq!(url, "redis://127.0.0.1:1/"),
///     other => panic!("nothing listens on port 1: {other:?}"),
/// }
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL does not parse as a Redis URL.
    #[error("`{url}` is not a Redis URL (`redis://host:port/db`): {source}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What the `redis` crate said.
        source: redis::RedisError,
    },
    /// The server refused, or could not be reached, after the manager's reconnect attempts.
    #[error(
        "could not connect to Redis at `{url}`: {source}; check that the server runs and \
         retry with your retry policy"
    )]
    Unreachable {
        /// The URL given.
        url: String,
        /// The last connection error.
        source: redis::RedisError,
    },
    /// No connection within the connect bound (`connect_timeout` per attempt, every attempt).
    #[error(
        "no connection to Redis at `{url}` within {bound:?}; check the address and the \
         network, or raise `RedisOptions::connect_timeout`"
    )]
    TimedOut {
        /// The URL given.
        url: String,
        /// How long connecting was allowed to take.
        bound: Duration,
    },
}

/// Why a command sent to Redis failed: the server is unreachable, slow, or answered oddly.
///
/// Every call through a [`Redis`](crate::Redis) handle is bounded by its command timeout, so a
/// server killed mid-run shows up as this error within that bound, never as a hang; the
/// connection manager reconnects in the background, so a restarted server is used again by
/// the next calls.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::redis::RedisError;
///
/// let error = RedisError::TimedOut { operation: "ratelimit check", timeout: Duration::from_secs(1) };
/// assert_eq!(
///     error.to_string(),
///     "Redis did not answer `ratelimit check` within 1s; the server may be down or \
///      overloaded: retry later, or raise `RedisOptions::command_timeout`"
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The command failed: connection refused or dropped, or a server error.
    #[error(
        "Redis failed `{operation}`: {source}; the connection is re-established in the background, retry later"
    )]
    Command {
        /// What we asked Redis to do.
        operation: &'static str,
        /// What the `redis` crate said.
        source: redis::RedisError,
    },
    /// No answer within the handle's command timeout.
    #[error(
        "Redis did not answer `{operation}` within {timeout:?}; the server may be down or \
         overloaded: retry later, or raise `RedisOptions::command_timeout`"
    )]
    TimedOut {
        /// What we asked Redis to do.
        operation: &'static str,
        /// The command timeout.
        timeout: Duration,
    },
    /// The server answered with something our scripts never return: another program wrote a
    /// value of a different shape under one of our keys.
    #[error(
        "Redis answered `{operation}` with an unexpected reply: {detail}; is another program \
         writing under this key prefix?"
    )]
    UnexpectedReply {
        /// What we asked Redis to do.
        operation: &'static str,
        /// What was wrong with the reply.
        detail: String,
    },
}
