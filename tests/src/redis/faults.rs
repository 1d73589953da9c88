//! Faults: Redis down at start, killed mid-run, restarted.

use std::time::Duration;

use asynchronously::ratelimit::Quota;
use asynchronously::redis::{
    ConnectError, OnRedisError, Redis, RedisCache, RedisCheckError, RedisError, RedisLease,
    RedisLockout, RedisOptions, RedisRateLimiter, TierError, Utf8Codec,
};
use asynchronously::retry::{Backoff, RetryPolicy};
use asynchronously::time::{Clock, RealClock};

use super::{redis_test, replica};

/// Every call must fail within this after the server died (command timeout 500 ms, plus
/// slack for a loaded machine).
const BOUND: Duration = Duration::from_secs(2);

redis_test!(async fn redis_down_at_start_is_a_connect_error_after_the_retry_policy(_server, _rt) {
    let url = crate::redis::server::RedisServer::unused_url();
    let policy = RetryPolicy::builder()
        .backoff(Backoff::constant(Duration::from_millis(10)))
        .max_retries(2)
        .build()
        .unwrap();
    let options = RedisOptions::new().connect_timeout(Duration::from_millis(200)).reconnect_attempts(0);
    let start = RealClock.now();
    let outcome = policy.retry(|| Redis::connect_with(&url, options)).await;
    let error = outcome.expect_err("nothing listens there");
    assert_eq!(error.attempts(), 3, "the caller's policy: one call and two retries");
    assert!(
        matches!(error.last_error(), Some(ConnectError::Unreachable { url: failed, .. }) if *failed == url),
        "{error:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert!(matches!(Redis::connect("not a url").await, Err(ConnectError::InvalidUrl { .. })));
});

redis_test!(async fn redis_killed_mid_run_fails_every_call_in_bound_then_recovers(server, _rt) {
    let redis = replica(&server.url()).await;
    let quota = Quota::per_second(1000).unwrap();
    let closed = RedisRateLimiter::new(redis.clone(), "faults-limit", quota);
    let open = RedisRateLimiter::new(redis.clone(), "faults-limit", quota).on_redis_error(OnRedisError::FailOpen);
    let lockout = RedisLockout::new(redis.clone(), "faults-lockout");
    let lease = RedisLease::new(redis.clone(), "faults", "a", Duration::from_secs(5)).unwrap();
    let tier = RedisCache::new(redis.clone(), "faults-cache", Utf8Codec, Duration::from_secs(60));
    let open_tier = RedisCache::new(redis.clone(), "faults-cache", Utf8Codec, Duration::from_secs(60))
        .on_redis_error(OnRedisError::FailOpen);
    closed.check("k", 1).await.unwrap();
    lease.try_acquire().await.unwrap().expect("free");

    server.kill();

    let bounded = |start: std::time::Instant, what: &str| {
        let took = start.elapsed();
        assert!(took < BOUND, "{what} took {took:?}");
    };
    let start = RealClock.now();
    assert!(matches!(closed.check("k", 1).await, Err(RedisCheckError::Redis(_))));
    bounded(start, "a fail-closed check");
    let start = RealClock.now();
    assert!(matches!(closed.acquire("k", 1).await, Err(asynchronously::redis::RedisAcquireError::Redis(_))));
    bounded(start, "a fail-closed acquire");
    let start = RealClock.now();
    open.check("k", 1).await.expect("fails open");
    open.acquire("k", 1).await.expect("fails open");
    bounded(start, "fail-open calls");
    let start = RealClock.now();
    assert!(matches!(lockout.lockout_for("k", Duration::from_secs(1)).await, Err(RedisError::Command { .. } | RedisError::TimedOut { .. })));
    assert!(lockout.wait_unlocked("k").await.is_err());
    bounded(start, "lockout calls");
    let start = RealClock.now();
    assert!(lease.try_acquire().await.is_err());
    bounded(start, "a lease call");
    let start = RealClock.now();
    let read = tier.get_or_compute("k", || async { Ok::<_, std::io::Error>("v".to_owned()) }).await;
    assert!(matches!(read, Err(TierError::Redis(_))), "{read:?}");
    let local = open_tier.get_or_compute("k", || async { Ok::<_, std::io::Error>("local".to_owned()) }).await;
    assert_eq!(local.unwrap(), "local", "a fail-open tier computes locally");
    bounded(start, "cache calls");

    server.restart();

    // The same handles work again, without reconnecting by hand: the manager reconnects on
    // the next calls (the first may still see the failed connection).
    let start = RealClock.now();
    let mut recovered = false;
    while start.elapsed() < Duration::from_secs(3) {
        if closed.check("k", 1).await.is_ok() {
            recovered = true;
            break;
        }
        RealClock.sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "Redis restarted, but the limiter never recovered");
    lockout.lockout_for("k", Duration::from_millis(10)).await.expect("lockout works again");
    lease.try_acquire().await.expect("lease works again").expect("a fresh server holds no lease");
    let value = tier.get_or_compute("k", || async { Ok::<_, std::io::Error>("v".to_owned()) }).await;
    assert_eq!(value.unwrap(), "v");
});

redis_test!(async fn a_fresh_replica_connects_to_the_test_server(server, _rt) {
    let redis = replica(&server.url()).await;
    redis.ping().await.unwrap();
});
