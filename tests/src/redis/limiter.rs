//! `RedisRateLimiter`: GCRA in one script, shared by every replica.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use asynchronously::ratelimit::{AcquireError, CheckError, Quota};
use asynchronously::redis::{RedisAcquireError, RedisCheckError, RedisRateLimiter};
use asynchronously::time::{Clock, RealClock};
use futures::future::join_all;

use super::{redis_test, replica};

redis_test!(async fn check_admits_the_burst_then_says_when(server, _rt) {
    let redis = replica(&server.url()).await;
    let limiter = RedisRateLimiter::new(redis, "check", Quota::per_minute(60).unwrap().with_burst(3).unwrap());
    for _ in 0..3 {
        limiter.check("k", 1).await.expect("within the burst");
    }
    match limiter.check("k", 1).await {
        Err(RedisCheckError::Refused(CheckError::RateLimited { retry_after })) => {
            assert!(retry_after > Duration::from_millis(900), "{retry_after:?}");
            assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    limiter.check("other-key", 1).await.expect("keys are independent");
    limiter.check("k", 0).await.expect("zero cells always conform");
});

redis_test!(async fn more_cells_than_the_burst_are_refused_at_once(server, _rt) {
    let redis = replica(&server.url()).await;
    let limiter = RedisRateLimiter::new(redis, "burst", Quota::per_second(10).unwrap());
    assert!(matches!(
        limiter.check("k", 11).await,
        Err(RedisCheckError::Refused(CheckError::InsufficientCapacity { requested: 11, burst: 10 }))
    ));
    assert!(matches!(
        limiter.acquire("k", 11).await,
        Err(RedisAcquireError::Refused(AcquireError::InsufficientCapacity { requested: 11, burst: 10 }))
    ));
    limiter.check("k", 10).await.expect("the refusals took nothing");
});

redis_test!(async fn acquire_sleeps_until_the_reported_instant(server, _rt) {
    let redis = replica(&server.url()).await;
    // 20 per second, burst 1: the second cell conforms 50 ms after the first.
    let limiter = RedisRateLimiter::new(redis, "acquire", Quota::per_second(20).unwrap().with_burst(1).unwrap());
    let start = RealClock.now();
    for _ in 0..5 {
        limiter.acquire("k", 1).await.expect("acquires");
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(195), "four waits of 50 ms, got {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The reservations moved the state: a check right now is refused.
    assert!(matches!(limiter.check("k", 1).await, Err(RedisCheckError::Refused(_))));
});

redis_test!(async fn a_dropped_acquire_never_admits_more(server, _rt) {
    let redis = replica(&server.url()).await;
    let limiter = RedisRateLimiter::new(redis, "drop", Quota::per_second(2).unwrap().with_burst(1).unwrap());
    limiter.acquire("k", 1).await.expect("the burst");
    // Reserve the next cell (500 ms away), then drop the waiter mid-sleep.
    let waiting = asynchronously::time::timeout(&RealClock, Duration::from_millis(100), limiter.acquire("k", 1)).await;
    assert!(waiting.is_err(), "it had to wait");
    // Its cell stays taken: the fleet is never over-admitted.
    match limiter.check("k", 1).await {
        Err(RedisCheckError::Refused(CheckError::RateLimited { retry_after })) => {
            assert!(retry_after > Duration::from_millis(600), "{retry_after:?}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
});

redis_test!(async fn four_replicas_share_one_quota(server, rt) {
    // Four replicas, each its own connection, four callers each, on one quota of 100/s
    // (burst 10) for 2 s: the GCRA allows at most 10 + 2 s × 100/s (+1 at the boundary).
    let quota = Quota::per_second(100).unwrap().with_burst(10).unwrap();
    let window = Duration::from_secs(2);
    let allowed = 10 + 200 + 1;
    let admitted = Arc::new(AtomicU32::new(0));
    let start = RealClock.now();
    let deadline = start + window;
    let mut callers = Vec::new();
    for replica_index in 0..4 {
        let limiter = RedisRateLimiter::new(replica(&server.url()).await, "fleet", quota);
        for _ in 0..4 {
            let limiter = limiter.clone();
            let admitted = admitted.clone();
            callers.push(rt.spawn(async move {
                let _ = replica_index;
                while RealClock.now() < deadline {
                    limiter.acquire("upstream", 1).await.expect("Redis answers");
                    if RealClock.now() < deadline {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    join_all(callers).await;
    let admitted = admitted.load(Ordering::Relaxed);
    assert!(admitted <= allowed, "admitted {admitted}, the quota allows {allowed}");
    assert!(admitted * 10 >= allowed * 9, "admitted {admitted}, under 90 % of {allowed}");
});
