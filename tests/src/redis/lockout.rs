//! `RedisLockout`: one replica locks out, every replica waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use asynchronously::redis::RedisLockout;
use asynchronously::time::{Clock, RealClock};

use super::{redis_test, replica};

redis_test!(async fn lockouts_stack_by_keeping_the_latest_expiry(server, _rt) {
    let lockout = RedisLockout::new(replica(&server.url()).await, "stack");
    assert_eq!(lockout.remaining("api").await.unwrap(), None);
    assert_eq!(lockout.lockout_for("api", Duration::from_secs(30)).await.unwrap(), Duration::from_secs(30));
    let kept = lockout.lockout_for("api", Duration::from_secs(5)).await.unwrap();
    assert!(kept > Duration::from_secs(29), "the later expiry wins: {kept:?}");
    let longer = lockout.lockout_for("api", Duration::from_secs(60)).await.unwrap();
    assert_eq!(longer, Duration::from_secs(60));
    assert_eq!(lockout.lockout_for("forever", Duration::MAX).await.unwrap(), Duration::MAX);
    assert_eq!(lockout.lockout_for("forever", Duration::from_secs(1)).await.unwrap(), Duration::MAX);
    assert_eq!(lockout.remaining("forever").await.unwrap(), Some(Duration::MAX));
    assert!(lockout.unlock("forever").await.unwrap());
    assert_eq!(lockout.remaining("forever").await.unwrap(), None);
    assert_eq!(lockout.lockout_for("zero", Duration::ZERO).await.unwrap(), Duration::ZERO);
    assert_eq!(lockout.remaining("zero").await.unwrap(), None, "a zero lockout sets nothing");
});

redis_test!(async fn every_replica_waits_for_one_replicas_lockout(server, _rt) {
    let a = RedisLockout::new(replica(&server.url()).await, "fleet");
    let b = RedisLockout::new(replica(&server.url()).await, "fleet");
    let start = RealClock.now();
    b.wait_unlocked("api").await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(200), "no lockout: no wait");
    a.lockout_for("api", Duration::from_millis(300)).await.unwrap();
    let start = RealClock.now();
    b.wait_unlocked("api").await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(b.remaining("api").await.unwrap(), None);
});

redis_test!(async fn an_unlock_elsewhere_ends_the_wait_within_the_recheck(server, rt) {
    let a = RedisLockout::new(replica(&server.url()).await, "unlock");
    let b = RedisLockout::new(replica(&server.url()).await, "unlock").recheck_every(Duration::from_millis(50));
    a.lockout_for("api", Duration::from_secs(60)).await.unwrap();
    let start = RealClock.now();
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let waiter = rt.spawn(async move {
        let outcome = b.wait_unlocked("api").await;
        finished.store(true, Ordering::SeqCst);
        outcome
    });
    // Give the waiter time to see the lockout, then lift it from the other replica.
    RealClock.sleep(Duration::from_millis(100)).await;
    assert!(!done.load(Ordering::SeqCst), "a 60 s lockout holds the waiter");
    assert!(a.unlock("api").await.unwrap());
    waiter.await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
});
