//! `cargo xtask bench redis`: our GCRA script against the floor and the common alternative,
//! each one round trip to a local `redis-server` the bench starts (and skips, saying so, when
//! the binary is missing).
//!
//! - `gcra-check` vs `ping`: one `RedisRateLimiter::check` (the script, by `EVALSHA`) against
//!   one `PING` on the same connection manager: one round trip is the floor.
//! - `gcra-check` vs `incr-expire`: against the usual fixed-window limiter, an
//!   `INCR` + `EXPIRE` pipeline (one round trip, two commands).
//!
//! Both sides run sequentially on one tokio current-thread runtime; a quota of 10⁶ per second
//! keeps every check admitted, so both sides write every time.

use std::time::{Duration, Instant};

use asynchronously::ratelimit::Quota;
use asynchronously::redis::{Redis, RedisRateLimiter};
use asynchronously_tests::bench;
use asynchronously_tests::redis::server::RedisServer;

fn main() {
    let server = match RedisServer::try_start() {
        Ok(server) => server,
        Err(why) => {
            bench::note("redis", &format!("skipped: no Redis server to measure against ({why})"));
            return;
        }
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let redis =
        runtime.block_on(Redis::connect(&server.url())).expect("connects to the bench server");
    let limiter =
        RedisRateLimiter::new(redis.clone(), "bench", Quota::per_second(1_000_000).unwrap());
    let manager = redis.manager().clone();

    let ours = |iterations: u64| {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iterations {
                limiter.check("key", 1).await.expect("admitted");
            }
            start.elapsed()
        })
    };
    let ping = |iterations: u64| -> Duration {
        let mut connection = manager.clone();
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iterations {
                let _: String =
                    redis::cmd("PING").query_async(&mut connection).await.expect("pong");
            }
            start.elapsed()
        })
    };
    let incr_expire = |iterations: u64| -> Duration {
        let mut connection = manager.clone();
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iterations {
                let (count,): (u64,) = redis::pipe()
                    .incr("window:key", 1)
                    .expire("window:key", 1)
                    .ignore()
                    .query_async(&mut connection)
                    .await
                    .expect("counts");
                std::hint::black_box(count);
            }
            start.elapsed()
        })
    };
    bench::report("redis/gcra-check", "ping", ours, ping);
    bench::report("redis/gcra-check", "incr-expire", ours, incr_expire);
    drop(server);
}
