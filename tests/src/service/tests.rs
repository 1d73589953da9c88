//! The service under a short real load on loopback, on every runtime; the store on virtual time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use asynchronously::lifecycle::{Shutdown, ShutdownReason};
use asynchronously::time::VirtualClock;

use super::client::Client;
use super::components::GRAPH;
use super::load::LoadConfig;
use super::runtime::Runtime;
use super::store::{Store, StoreConfig, StoreError};
use super::{Config, MAX_VALUE_LEN, Service, run_under_load};
use crate::runtime_test;
use crate::support::ms;

fn runtime(rt: crate::runtime::Runtime) -> Arc<dyn Runtime> {
    match rt {
        #[cfg(feature = "tokio")]
        crate::runtime::Runtime::Tokio => Arc::new(super::runtime::Tokio),
        #[cfg(feature = "smol")]
        crate::runtime::Runtime::Smol => Arc::new(super::runtime::Smol),
        #[cfg(feature = "async-std")]
        crate::runtime::Runtime::AsyncStd => Arc::new(super::runtime::AsyncStd),
        #[allow(unreachable_patterns, reason = "reachable only when a runtime feature is off")]
        other => panic!("runtime {other:?} is not enabled in this build"),
    }
}

/// A small, quick service that still fails, stalls and contends: every code path runs.
fn config() -> Config {
    Config {
        store: StoreConfig {
            failure_rate: 0.05,
            stall_every: ms(100),
            stall_for: ms(10),
            preloaded_keys: 500,
            ..StoreConfig::default()
        },
        store_permits: 4,
        reindex_workers: 2,
        cache_ttl: ms(50),
        report_every: ms(50),
        ..Config::default()
    }
}

fn load() -> LoadConfig {
    LoadConfig {
        duration: ms(400),
        connections: 8,
        requests_per_connection: 20,
        hot_keys: 8,
        keys: 500,
        write_ratio: 0.2,
        ..LoadConfig::default()
    }
}

runtime_test!(async fn answers_every_request_and_stops_in_reverse_order(rt) {
    let service = Service::new(runtime(rt), config()).expect("the test config is valid");
    let reports = Arc::new(AtomicU32::new(0));
    service.on_progress({
        let reports = Arc::clone(&reports);
        move |_| {
            reports.fetch_add(1, SeqCst);
        }
    });
    let summary = run_under_load(&service, &load(), &Shutdown::new(), usize::MAX).await;

    assert!(summary.clean, "{summary}");
    assert_eq!(summary.reason, ShutdownReason::MainReturned);
    assert!(!summary.stopped_early);
    let load = &summary.load;
    assert!(load.sent > 100, "the load ran: {summary}");
    assert_eq!(load.answered, load.sent, "every request answered: {summary}");
    assert_eq!((load.errors, load.failed_connections), (0, 0), "{summary}");
    assert!(load.connections > 8, "connections were reopened under the limit: {summary}");

    // Every acknowledged write is readable afterwards, through the server and its cache.
    assert!(!load.writes.is_empty());
    assert_eq!(summary.verification.checked, load.writes.len() as u64);
    assert_eq!(summary.verification.wrong, Vec::<String>::new());

    // Each crate did its job.
    let stats = &summary.stats;
    assert_eq!(stats.requests, load.sent + summary.verification.checked);
    assert_eq!(stats.store.connects, 3, "two failed connects, then one that worked");
    assert!(stats.retries >= 2, "{summary}");
    assert!(stats.cache.hits > 0 && stats.cache.loads > 0, "{summary}");
    assert!(stats.batches > 0 && stats.batched_writes >= load.writes.len() as u64, "{summary}");
    assert!(stats.background.count() > 0 && stats.reindexed > 0, "the background job ran");
    assert!(reports.load(SeqCst) >= 1, "the reporter reported");

    // Shutdown in reverse order: every component stopped after all that depend on it.
    let order: Vec<&str> = summary.components.iter().map(|time| time.name).collect();
    assert_eq!(order.len(), GRAPH.len(), "{order:?}");
    assert!(summary.components.iter().all(|time| time.deinit.is_some()), "{order:?}");
    let stopped = |name: &str| order.iter().position(|&stopped| stopped == name).unwrap();
    for &(name, dependencies) in GRAPH {
        for dependency in dependencies {
            assert!(stopped(dependency) > stopped(name), "{dependency} stopped before {name}: {order:?}");
        }
    }

    // Nothing left running: workers and connection handlers all ended.
    assert_eq!(service.live_tasks(), 0);
    assert_eq!(stats.open_connections, 0);
});

runtime_test!(async fn each_write_gets_its_own_result(rt) {
    let service = Service::new(runtime(rt), config()).expect("the test config is valid");
    let runtime = Arc::clone(service.runtime());
    let report = service
        .run(|addr| async move {
            let mut first = Client::connect(&*runtime, addr).await?;
            let mut second = Client::connect(&*runtime, addr).await?;
            let mut third = Client::connect(&*runtime, addr).await?;
            let too_large = "x".repeat(MAX_VALUE_LEN + 1);
            // Three writes submitted together, so they share batches; one is refused alone.
            let (a, b, c) = futures::join!(
                first.set("a", "1"),
                second.set("big", &too_large),
                third.set("c", "3"),
            );
            a?;
            c?;
            let refused = b.expect_err("a too large value is refused").to_string();
            assert!(refused.starts_with("ERR value of 1025 bytes"), "{refused}");
            assert_eq!(first.get("a").await?.as_deref(), Some("1"));
            assert_eq!(first.get("c").await?.as_deref(), Some("3"));
            assert_eq!(first.get("big").await?, None);
            assert_eq!(first.get("key-3").await?.as_deref(), Some("value-3"));
            // A write replaces what the cache held.
            first.set("key-3", "new").await?;
            assert_eq!(second.get("key-3").await?.as_deref(), Some("new"));
            let unknown = first.request("DELETE a").await?.to_owned();
            assert!(unknown.starts_with("ERR unknown request"), "{unknown}");
            Ok::<_, std::io::Error>(())
        })
        .await;
    assert!(report.is_clean(), "{report}");
    report.into_main().expect("main returned").expect("every request succeeded");
    assert_eq!(service.stats().rejected_writes, 1);
    assert_eq!(service.live_tasks(), 0);
});

runtime_test!(async fn a_stop_ends_the_load_early_and_still_shuts_down_cleanly(rt) {
    let service = Service::new(runtime(rt), config()).expect("the test config is valid");
    let stop = Shutdown::new();
    let long = LoadConfig { duration: Duration::from_secs(60), ..load() };
    // As a Ctrl-C would, once the load is under way: at the reporter's first report (50 ms).
    service.on_progress({
        let stop = stop.clone();
        move |_| {
            stop.trigger();
        }
    });
    let summary = run_under_load(&service, &long, &stop, usize::MAX).await;
    assert!(summary.clean, "{summary}");
    assert!(summary.load.elapsed < Duration::from_secs(5), "{summary}");
    assert!(summary.stopped_early && summary.addr.is_some(), "{summary}");
    assert!(summary.load.sent > 0, "the load had started: {summary}");
    assert_eq!(summary.load.answered, summary.load.sent);
    assert_eq!(service.live_tasks(), 0);
});

runtime_test!(
    async fn the_store_stalls_fails_and_connects_on_its_clock() {
        let clock = VirtualClock::new();
        let config = StoreConfig {
            read_latency: ms(1),
            failure_rate: 0.0,
            stall_every: ms(100),
            stall_for: ms(10),
            connect_failures: 2,
            preloaded_keys: 2,
            ..StoreConfig::default()
        };
        let store = Store::with_clock(config, clock.clone());
        assert_eq!(store.get("key-0").await, Err(StoreError::NotConnected));
        for _ in 0..2 {
            let (connected, ()) = futures::join!(store.connect(), clock.run_for(ms(1)));
            assert_eq!(connected, Err(StoreError::Transient));
        }
        let (connected, ()) = futures::join!(store.connect(), clock.run_for(ms(1)));
        assert_eq!(connected, Ok(()));

        let (read, ()) = futures::join!(store.get("key-1"), clock.run_for(ms(1)));
        assert_eq!(read, Ok(Some("value-1".to_owned())));
        assert_eq!(clock.elapsed(), ms(4), "four round trips of 1 ms each");

        clock.advance(ms(92)); // 96 ms: inside the stall that closes the first 100 ms
        assert_eq!(store.get("key-1").await, Err(StoreError::Overloaded { retry_after: ms(4) }));
        clock.advance(ms(4));
        let pairs = [("key-1".to_owned(), "new".to_owned())];
        let (written, ()) = futures::join!(store.set_many(&pairs), clock.run_for(ms(2)),);
        assert_eq!(written, Ok(()));
        let (read, ()) = futures::join!(store.get("key-1"), clock.run_for(ms(1)));
        assert_eq!(read, Ok(Some("new".to_owned())));
        let stats = store.stats();
        assert_eq!((stats.connects, stats.overloaded, stats.items_written), (3, 1, 1));
        store.disconnect();
        assert_eq!(store.get("key-1").await, Err(StoreError::NotConnected));
    }
);
