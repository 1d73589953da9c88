//! The service's components and their dependency graph.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asynchronously::cache::Cache;
use asynchronously::lifecycle::{BoxError, BuildError, Component, Context, Lifecycle};
use asynchronously::periodic::Periodic;
use asynchronously::priority_semaphore::Priority;
use asynchronously::time::{Clock, RealClock};
use asynchronously::waterfall::Waterfall;

use super::lock;
use super::runtime::Joined;
use super::server;
use super::store::{Store, StoreError};
use super::{AccessError, ComponentTime, MAX_VALUE_LEN, Progress, Shared, WriteRejected};

/// The write batcher's handle: each `SET` submits one `(key, value)` pair.
pub(crate) type Writes = Waterfall<(String, String), Result<(), WriteRejected>, AccessError>;

/// The read cache: `None` caches "no such key" too.
pub(crate) type ReadCache = Cache<String, Option<String>>;

/// The names, in start order, with their dependencies.
pub(crate) const GRAPH: &[(&str, &[&str])] = &[
    ("store", &[]),
    ("writes", &["store"]),
    ("cache", &["store"]),
    ("reindex", &["store"]),
    ("server", &["writes", "cache"]),
    ("reporter", &["server"]),
];

pub(crate) fn lifecycle(shared: &Arc<Shared>) -> Result<Lifecycle, BuildError> {
    let mut builder = Lifecycle::builder();
    for &(name, dependencies) in GRAPH {
        let shared = Arc::clone(shared);
        let mut options = match name {
            "store" => builder.component(name, Timed::new(name, StoreComponent { shared })),
            "writes" => builder.component(name, Timed::new(name, WritesComponent { shared })),
            "cache" => builder.component(name, Timed::new(name, CacheComponent { shared })),
            "reindex" => builder.component(name, Timed::new(name, Reindex { shared })),
            "server" => {
                builder.component(name, Timed::new(name, server::ServerComponent { shared }))
            }
            _ => builder.component(name, Timed::new(name, Reporter { shared })),
        };
        options.after_all(dependencies.iter().copied());
    }
    builder.build()
}

/// Records how long a component's `init` and `deinit` took.
struct Timed<T> {
    name: &'static str,
    inner: T,
}

impl<T: Component + HasShared> Timed<T> {
    fn new(name: &'static str, inner: T) -> Self {
        Self { name, inner }
    }
}

trait HasShared {
    fn shared(&self) -> &Shared;
}

impl<T: Component + HasShared> Component for Timed<T> {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let start = Instant::now();
        let result = self.inner.init(cx).await;
        let time = ComponentTime { name: self.name, init: start.elapsed(), deinit: None };
        lock(&self.inner.shared().times).push(time);
        result
    }

    async fn run(&self, cx: Context) -> Result<(), BoxError> {
        self.inner.run(cx).await
    }

    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let start = Instant::now();
        let result = self.inner.deinit(cx).await;
        let elapsed = start.elapsed();
        let mut times = lock(&self.inner.shared().times);
        // Stopped components first, in the order they stopped.
        if let Some(index) = times.iter().position(|time| time.name == self.name) {
            let mut time = times.remove(index);
            time.deinit = Some(elapsed);
            let stopped = times.iter().take_while(|time| time.deinit.is_some()).count();
            times.insert(stopped, time);
        }
        result
    }
}

macro_rules! has_shared {
    ($($component:ty),*) => {$(
        impl HasShared for $component {
            fn shared(&self) -> &Shared {
                &self.shared
            }
        }
    )*};
}

has_shared!(
    StoreComponent,
    WritesComponent,
    CacheComponent,
    Reindex,
    server::ServerComponent,
    Reporter
);

/// Connects to the store (retried), provides it; disconnects last.
struct StoreComponent {
    shared: Arc<Shared>,
}

impl Component for StoreComponent {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let store = Store::new(self.shared.config.store.clone());
        let retries = &self.shared.counters.retries;
        self.shared
            .policy
            .retry(|| store.connect())
            .retry_if(StoreError::is_retryable)
            .on_retry(|_| {
                retries.fetch_add(1, Relaxed);
            })
            .await?;
        cx.provide(store);
        let store = cx.get::<Store>().ok_or("the store was just provided")?;
        *lock(&self.shared.store_stats) = Some(Box::new(move || store.stats()));
        Ok(())
    }

    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let store = cx.get::<Store>().ok_or("the store is provided in init")?;
        store.disconnect();
        *lock(&self.shared.final_store) = Some(store.stats());
        lock(&self.shared.store_stats).take();
        Ok(())
    }
}

/// The write batcher: a waterfall whose batch function writes one batch in one store call.
struct WritesComponent {
    shared: Arc<Shared>,
}

struct WritesWorker(Mutex<Option<Joined>>);

impl Component for WritesComponent {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let store = cx.get::<Store>().ok_or("writes need the store")?;
        let config = &self.shared.config;
        let shared = Arc::clone(&self.shared);
        let (writes, worker) = Waterfall::builder(config.batch_max_items, config.batch_max_wait)
            .max_in_flight(config.batch_in_flight)
            .build(move |batch: Vec<(String, String)>| {
                let shared = Arc::clone(&shared);
                let store = Arc::clone(&store);
                async move { write_batch(&shared, &store, batch).await }
            })?;
        let joined = self.shared.tasks.spawn(worker);
        cx.provide(writes);
        cx.provide(WritesWorker(Mutex::new(Some(joined))));
        Ok(())
    }

    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let writes = cx.get::<Writes>().ok_or("writes are provided in init")?;
        writes.close().await;
        let worker = cx.get::<WritesWorker>().ok_or("the worker is provided in init")?;
        let joined = lock(&worker.0).take();
        if let Some(joined) = joined {
            if !joined.await {
                return Err("the write batcher's worker panicked".into());
            }
        }
        Ok(())
    }
}

/// Writes the acceptable items of one batch in one store call; each item gets its own result.
async fn write_batch(
    shared: &Shared,
    store: &Store,
    batch: Vec<(String, String)>,
) -> Result<Vec<Result<(), WriteRejected>>, AccessError> {
    let results: Vec<Result<(), WriteRejected>> = batch
        .iter()
        .map(|(_, value)| {
            if value.len() > MAX_VALUE_LEN {
                Err(WriteRejected::TooLarge { len: value.len() })
            } else {
                Ok(())
            }
        })
        .collect();
    let accepted: Vec<(String, String)> = batch
        .into_iter()
        .zip(&results)
        .filter(|(_, ok)| ok.is_ok())
        .map(|(pair, _)| pair)
        .collect();
    let counters = &shared.counters;
    counters.rejected_writes.fetch_add((results.len() - accepted.len()) as u64, Relaxed);
    if !accepted.is_empty() {
        shared.access(Priority::HIGH, || store.set_many(&accepted)).await?;
        counters.batches.fetch_add(1, Relaxed);
        counters.batched_writes.fetch_add(accepted.len() as u64, Relaxed);
    }
    Ok(results)
}

/// The read cache in front of the store.
struct CacheComponent {
    shared: Arc<Shared>,
}

impl Component for CacheComponent {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let cache: ReadCache = Cache::builder()
            .max_capacity(self.shared.config.cache_capacity)
            .time_to_live(self.shared.config.cache_ttl)
            .build()?;
        let stats = cache.clone();
        *lock(&self.shared.cache_stats) = Some(Box::new(move || stats.stats()));
        cx.provide(cache);
        Ok(())
    }

    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let cache = cx.get::<ReadCache>().ok_or("the cache is provided in init")?;
        *lock(&self.shared.final_cache) = Some(cache.stats());
        lock(&self.shared.cache_stats).take();
        cache.clear();
        Ok(())
    }
}

/// The background job: re-reads every key, at low priority, for as long as the service runs.
struct Reindex {
    shared: Arc<Shared>,
}

impl Component for Reindex {
    async fn run(&self, cx: Context) -> Result<(), BoxError> {
        let store = cx.get::<Store>().ok_or("re-indexing needs the store")?;
        let keys = self.shared.config.store.preloaded_keys.max(1);
        let next = AtomicU64::new(0);
        let scanner = || async {
            loop {
                let key = format!("key-{}", next.fetch_add(1, Relaxed) % keys);
                match self.shared.access(Priority::LOW, || store.get(&key)).await {
                    Ok(_) => {
                        self.shared.counters.reindexed.fetch_add(1, Relaxed);
                    }
                    // Gave up on this key: back off a little before the next.
                    Err(_) => RealClock.sleep(Duration::from_millis(10)).await,
                }
            }
        };
        futures::future::join_all((0..self.shared.config.reindex_workers).map(|_| scanner())).await;
        Ok(())
    }
}

/// The periodic progress reporter.
struct Reporter {
    shared: Arc<Shared>,
}

struct ReporterWorker {
    periodic: Periodic,
    joined: Mutex<Option<Joined>>,
}

impl Component for Reporter {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let shared = Arc::clone(&self.shared);
        let start = Instant::now();
        let mut last = (start, 0, shared.latency.snapshot());
        let (periodic, worker) =
            Periodic::builder(self.shared.config.report_every).build_sync(move |_tick| {
                let now = Instant::now();
                let requests = shared.counters.requests.load(Relaxed);
                let latency = shared.latency.snapshot();
                let seconds = now.duration_since(last.0).as_secs_f64().max(1e-9);
                shared.report(&Progress {
                    elapsed: now.duration_since(start),
                    requests,
                    per_second: (requests - last.1) as f64 / seconds,
                    p99: latency.since(&last.2).quantile(0.99),
                    open_connections: shared.counters.open_connections.load(Relaxed),
                });
                last = (now, requests, latency);
            })?;
        let joined = self.shared.tasks.spawn(worker);
        cx.provide(ReporterWorker { periodic, joined: Mutex::new(Some(joined)) });
        Ok(())
    }

    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let reporter = cx.get::<ReporterWorker>().ok_or("the reporter is provided in init")?;
        reporter.periodic.stop().await;
        let joined = lock(&reporter.joined).take();
        if let Some(joined) = joined {
            if !joined.await {
                return Err("the reporter's worker panicked".into());
            }
        }
        Ok(())
    }
}
