//! `RedisLease`: one holder at a time, hand-over after expiry, fencing, leader-only jobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use asynchronously::periodic::{Periodic, Tick};
use asynchronously::redis::{
    FencedWrite, LeaderError, LeaderOptions, LeaderRun, LeaseError, RedisLease,
};
use asynchronously::time::{Clock, RealClock, timeout};
use futures::future::join_all;

use super::{redis_test, replica};

redis_test!(async fn exactly_one_contender_holds_the_lease(server, _rt) {
    let a = RedisLease::new(replica(&server.url()).await, "one", "a", Duration::from_secs(5)).unwrap();
    let b = RedisLease::new(replica(&server.url()).await, "one", "b", Duration::from_secs(5)).unwrap();
    let mut last = None;
    for round in 0..20 {
        let (got_a, got_b) = futures::join!(a.try_acquire(), b.try_acquire());
        let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
        let (winner, token) = match (got_a, got_b) {
            (Some(token), None) => (&a, token),
            (None, Some(token)) => (&b, token),
            other => panic!("round {round}: exactly one holder expected, got {other:?}"),
        };
        assert!(last < Some(token), "tokens grow: {last:?} then {token:?}");
        last = Some(token);
        assert!(winner.is_current(token).await.unwrap());
        assert_eq!(winner.try_acquire().await.unwrap(), Some(token), "re-acquiring extends, same token");
        assert!(winner.renew(token).await.unwrap());
        assert!(winner.release(token).await.unwrap());
        assert!(!winner.release(token).await.unwrap(), "a second release finds nothing");
    }
});

redis_test!(async fn a_holder_that_stops_renewing_hands_over_after_expiry(server, _rt) {
    let ttl = Duration::from_millis(300);
    let a = RedisLease::new(replica(&server.url()).await, "handover", "a", ttl).unwrap();
    let b = RedisLease::new(replica(&server.url()).await, "handover", "b", ttl).unwrap();
    let old = a.try_acquire().await.unwrap().expect("free");
    let start = RealClock.now();
    // a's renewals stop (the replica froze). b looks every 20 ms, for at most 2 s.
    let new = loop {
        if let Some(token) = b.try_acquire().await.unwrap() {
            break token;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "b never got the lease");
        RealClock.sleep(Duration::from_millis(20)).await;
    };
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250), "not before the expiry: {waited:?}");
    assert!(new > old);
    // The stale holder finds out, and cannot renew, release or overwrite b's writes.
    assert!(!a.is_current(old).await.unwrap());
    assert!(!a.renew(old).await.unwrap());
    assert!(!a.release(old).await.unwrap());
    assert_eq!(b.fenced_set("report", b"from b", new).await.unwrap(), FencedWrite::Written);
    assert_eq!(a.fenced_set("report", b"from a", old).await.unwrap(), FencedWrite::Stale { newer: new });
    assert_eq!(a.fenced_get("report").await.unwrap(), Some((b"from b".to_vec(), new)));
});

redis_test!(async fn bad_leases_are_refused_at_construction(server, _rt) {
    let redis = replica(&server.url()).await;
    assert_eq!(RedisLease::new(redis.clone(), "x", "a", Duration::ZERO).unwrap_err(), LeaseError::ZeroTtl);
    assert!(matches!(
        RedisLease::new(redis, "x", "a|b", Duration::from_secs(1)),
        Err(LeaseError::InvalidHolder(holder)) if holder == "a|b"
    ));
});

redis_test!(async fn a_leader_only_job_runs_on_one_replica_per_tick(server, _rt) {
    let runs = [Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0))];
    let mut jobs = Vec::new();
    for (index, counter) in runs.iter().enumerate() {
        let lease = RedisLease::new(replica(&server.url()).await, "tick", format!("r{index}"), Duration::from_secs(5)).unwrap();
        let counter = counter.clone();
        jobs.push(lease.leader_only(LeaderOptions::new(), move |(), run: LeaderRun| {
            let counter = counter.clone();
            async move {
                assert!(run.token().get() > 0);
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            }
        }));
    }
    for _ in 0..10 {
        let outcomes = join_all(jobs.iter_mut().map(|job| job(()))).await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    }
    let counts = runs.map(|counter| counter.load(Ordering::SeqCst));
    assert_eq!(counts[0] + counts[1], 10, "one run per tick: {counts:?}");
    assert!(counts.contains(&10), "leadership is sticky while the lease lives: {counts:?}");
});

redis_test!(async fn losing_the_lease_mid_run_is_observable_and_can_cancel(server, _rt) {
    let ttl = Duration::from_millis(300);
    let redis = replica(&server.url()).await;
    for cancel in [true, false] {
        let name = format!("lose-{cancel}");
        let lease = RedisLease::new(redis.clone(), &name, "a", ttl).unwrap();
        let mut job = lease.leader_only(LeaderOptions::new().cancel_on_loss(cancel), |(), run: LeaderRun| async move {
            // Wait for the loss (bounded); a cancelled run never gets past it.
            let lost = timeout(&RealClock, Duration::from_secs(3), run.lost()).await;
            assert!(lost.is_ok() && run.is_lost(), "the loss is visible to the job");
            Ok::<_, std::io::Error>(())
        });
        let running = job(());
        let takeover = async {
            // Another actor takes the lease away (as an expiry and a new holder would).
            RealClock.sleep(Duration::from_millis(50)).await;
            let mut connection = redis.manager().clone();
            let _: () = ::redis::cmd("SET")
                .arg(format!("{{{name}}}:holder"))
                .arg("999|intruder")
                .query_async(&mut connection)
                .await
                .unwrap();
        };
        let start = RealClock.now();
        let (outcome, ()) = futures::join!(running, takeover);
        assert!(
            matches!(outcome, Err(LeaderError::LeaseLost { cancelled }) if cancelled == cancel),
            "{outcome:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(2), "found within a renewal: {:?}", start.elapsed());
    }
});

redis_test!(async fn a_periodic_job_runs_only_on_the_lease_holder(server, rt) {
    let runs = Arc::new(AtomicU32::new(0));
    let holders = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for index in 0..2 {
        let lease = RedisLease::new(replica(&server.url()).await, "periodic", format!("r{index}"), Duration::from_secs(5)).unwrap();
        let (runs, holders) = (runs.clone(), holders.clone());
        let job = lease.leader_only(LeaderOptions::new(), move |_tick: Tick, _run: LeaderRun| {
            let (runs, holders) = (runs.clone(), holders.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                holders.lock().unwrap().push(index);
                Ok::<_, std::io::Error>(())
            }
        });
        let (periodic, worker) = Periodic::builder(Duration::from_millis(50)).build(job).unwrap();
        handles.push((periodic, rt.spawn(worker)));
    }
    RealClock.sleep(Duration::from_millis(400)).await;
    let holders = holders.lock().unwrap().clone();
    assert!(!holders.is_empty(), "someone ran");
    assert!(holders.iter().all(|holder| *holder == holders[0]), "one replica ran every tick: {holders:?}");
    for (periodic, worker) in handles {
        periodic.stop().await;
        worker.await;
    }
});
