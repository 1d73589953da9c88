//! `RedisCache`: a shared tier with fleet-wide single flight, under the in-process cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use asynchronously::cache::{Cache, ComputeError};
use asynchronously::redis::{BytesCodec, MessagePackCodec, RedisCache, TierError, Utf8Codec};
use asynchronously::time::{Clock, RealClock};
use futures::future::join_all;

use super::{redis_test, replica};

redis_test!(async fn four_replicas_of_a_hundred_callers_compute_a_cold_key_once(server, rt) {
    let computations = Arc::new(AtomicU32::new(0));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let tier = RedisCache::new(replica(&server.url()).await, "cold", Utf8Codec, Duration::from_secs(60))
            .compute_lease(Duration::from_secs(3))
            .wait_bound(Duration::from_secs(3));
        let l1: Cache<String, String> = Cache::builder().build().unwrap();
        for _ in 0..100 {
            let (tier, l1, computations) = (tier.clone(), l1.clone(), computations.clone());
            callers.push(rt.spawn(async move {
                tier.get_or_compute_layered(&l1, "report", move || async move {
                    computations.fetch_add(1, Ordering::SeqCst);
                    // Long enough that every replica arrives while it runs.
                    RealClock.sleep(Duration::from_millis(100)).await;
                    Ok::<_, std::io::Error>("computed once".to_owned())
                })
                .await
            }));
        }
    }
    let values = join_all(callers).await;
    for value in values {
        assert_eq!(value.expect("every caller gets the value"), "computed once");
    }
    assert_eq!(computations.load(Ordering::SeqCst), 1, "one computation in the fleet");
});

redis_test!(async fn a_failed_computation_stores_nothing_and_the_next_caller_computes(server, _rt) {
    let tier = RedisCache::new(replica(&server.url()).await, "fail", BytesCodec, Duration::from_secs(60));
    let failed = tier.get_or_compute("k", || async { Err::<Vec<u8>, _>(std::io::Error::other("upstream down")) }).await;
    assert!(matches!(failed, Err(TierError::Compute(error)) if error.to_string() == "upstream down"));
    let start = RealClock.now();
    let value = tier.get_or_compute("k", || async { Ok::<_, std::io::Error>(vec![7]) }).await.unwrap();
    assert_eq!(value, vec![7]);
    assert!(start.elapsed() < Duration::from_secs(1), "the failed lease was ended, not left to expire");
    let cached = tier.get_or_compute("k", || async { Ok::<_, std::io::Error>(vec![8]) }).await.unwrap();
    assert_eq!(cached, vec![7], "stored in Redis");
});

redis_test!(async fn waiting_is_bounded_and_a_dropped_computer_hands_over(server, _rt) {
    let computer = RedisCache::new(replica(&server.url()).await, "drop", Utf8Codec, Duration::from_secs(60))
        .compute_lease(Duration::from_millis(400));
    let waiter = RedisCache::new(replica(&server.url()).await, "drop", Utf8Codec, Duration::from_secs(60))
        .wait_bound(Duration::from_millis(150));
    // The computer takes the lease and is dropped mid-computation.
    let stuck = computer.get_or_compute("k", futures::future::pending::<Result<String, std::io::Error>>);
    let abandoned = asynchronously::time::timeout(&RealClock, Duration::from_millis(50), stuck).await;
    assert!(abandoned.is_err());
    let start = RealClock.now();
    let timed_out = waiter.get_or_compute("k", || async { Ok::<_, std::io::Error>("never".to_owned()) }).await;
    assert!(matches!(timed_out, Err(TierError::WaitTimedOut { .. })), "{timed_out:?}");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(140) && waited < Duration::from_secs(1), "{waited:?}");
    // Once the abandoned lease expires, the next caller computes.
    let patient = RedisCache::new(replica(&server.url()).await, "drop", Utf8Codec, Duration::from_secs(60))
        .wait_bound(Duration::from_secs(2));
    let value = patient.get_or_compute("k", || async { Ok::<_, std::io::Error>("taken over".to_owned()) }).await;
    assert_eq!(value.unwrap(), "taken over");
});

redis_test!(async fn undecodable_bytes_are_a_typed_error(server, _rt) {
    let redis = replica(&server.url()).await;
    let mut connection = redis.manager().clone();
    let _: () = ::redis::cmd("SET").arg("text:k").arg(&[0xff_u8, 0xfe][..]).query_async(&mut connection).await.unwrap();
    let tier = RedisCache::new(redis, "text", Utf8Codec, Duration::from_secs(60));
    let read = tier.get_or_compute("k", || async { Ok::<_, std::io::Error>("x".to_owned()) }).await;
    assert!(matches!(read, Err(TierError::Decode { ref key, .. }) if key == "text:k"), "{read:?}");
});

redis_test!(async fn the_layered_read_fills_the_in_process_cache(server, _rt) {
    let tier = RedisCache::new(replica(&server.url()).await, "layered", Utf8Codec, Duration::from_secs(60));
    let l1: Cache<String, String> = Cache::builder().build().unwrap();
    let value = tier.get_or_compute_layered(&l1, "k", || async { Ok::<_, std::io::Error>("v".to_owned()) }).await;
    assert_eq!(value.unwrap(), "v");
    assert_eq!(l1.get(&"k".to_owned()), Some("v".to_owned()));
    let failed = tier
        .get_or_compute_layered(&l1, "bad", || async { Err::<String, _>(std::io::Error::other("no")) })
        .await;
    assert!(matches!(failed, Err(ComputeError::Failed(error)) if matches!(*error, TierError::Compute(_))));
});

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Profile {
    id: u64,
    name: String,
    tags: Vec<String>,
}

redis_test!(async fn serde_values_round_trip_as_compact_message_pack(server, _rt) {
    let redis = replica(&server.url()).await;
    let tier = RedisCache::new(redis.clone(), "profiles", MessagePackCodec, Duration::from_secs(60));
    let ada = Profile { id: 7, name: "Ada".into(), tags: vec!["admin".into()] };
    let expected = ada.clone();
    let computed = tier.get_or_compute("7", || async move { Ok::<_, std::io::Error>(ada) }).await.unwrap();
    assert_eq!(computed, expected);
    let cached = tier
        .get_or_compute("7", || async { Err::<Profile, _>(std::io::Error::other("not called")) })
        .await
        .unwrap();
    assert_eq!(cached, expected, "read back from Redis and decoded");
    let mut connection = redis.manager().clone();
    let stored: Vec<u8> = ::redis::cmd("GET").arg("profiles:7").query_async(&mut connection).await.unwrap();
    assert!(stored.len() < 16, "compact: no field names ({} bytes)", stored.len());
    // A value of another shape under the key is a typed error, not a panic.
    let other: RedisCache<u64, MessagePackCodec> = RedisCache::new(redis, "profiles", MessagePackCodec, Duration::from_secs(60));
    let wrong = other.get_or_compute("7", || async { Ok::<_, std::io::Error>(1) }).await;
    assert!(matches!(wrong, Err(TierError::Decode { .. })), "{wrong:?}");
});
