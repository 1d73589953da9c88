//! `asynchronously-redis` against a real `redis-server` started per test on 127.0.0.1 (see
//! [`server`]), on tokio and smol: the `redis` crate has no async-std support, so these tests
//! are not built for async-std alone. They use real time, the server's clock, each bounded to
//! a few seconds.

pub mod server;

#[cfg(test)]
mod cache;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod lease;
#[cfg(test)]
mod limiter;
#[cfg(test)]
mod lockout;

/// Defines `mod $name` with a test per Redis runtime (tokio, smol), each with its own server.
#[cfg(test)]
macro_rules! redis_test {
    (async fn $name:ident($server:ident, $rt:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "the body uses the parent's imports")]
            use super::*;

            #[cfg(feature = "tokio")]
            #[test]
            fn tokio() {
                #[allow(unused_mut, reason = "only the fault tests kill their server")]
                let mut $server = $crate::redis::server::RedisServer::start();
                let $rt = $crate::runtime::Runtime::Tokio;
                ::tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime builds")
                    .block_on(async move { $body })
            }

            #[cfg(feature = "smol")]
            #[test]
            fn smol() {
                #[allow(unused_mut, reason = "only the fault tests kill their server")]
                let mut $server = $crate::redis::server::RedisServer::start();
                let $rt = $crate::runtime::Runtime::Smol;
                ::smol::block_on(async move { $body })
            }
        }
    };
}
#[cfg(test)]
use redis_test;

/// A connection to `url`, as one replica would have, with short bounds for the tests.
#[cfg(test)]
async fn replica(url: &str) -> asynchronously::redis::Redis {
    use std::time::Duration;

    use asynchronously::redis::{Redis, RedisOptions};

    let options = RedisOptions::new()
        .command_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500));
    Redis::connect_with(url, options).await.expect("the test server accepts connections")
}
