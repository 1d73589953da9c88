//! The service example's core: a small key-value service built from every capability.
//!
//! `cargo run --release --example service` (tokio) and `--example service-smol` run it under
//! load and print a summary; `docs/guide/service.md` walks through it. Each crate does the job
//! it exists for:
//!
//! | Piece | Crate | Job |
//! |---|---|---|
//! | start in order, stop in reverse, Ctrl-C | `lifecycle` | `store` → `writes`, `cache`, `reindex` → `server` → `reporter` |
//! | connect to the store | `retry` | a [`RetryPolicy`] around `connect` and every store call |
//! | `SET k v` | `waterfall` | writes batched into one store round trip; `submit` returns each write's own result |
//! | `GET k` | `cache` | reads through a cache, one load per hot key however many ask |
//! | incoming connections | `ratelimit` | a GCRA limiter on accepts; a `FifoLockout` while the store reports overload |
//! | store access | `priority-semaphore` | interactive requests ahead of the background re-indexing job |
//! | progress line | `periodic` | a reporter every second |
//! | load generator | `gather` | many loopback connections under a concurrency [`Limit`](asynchronously::gather::Limit) |
//!
//! Nothing here is tied to a runtime: [`runtime::Runtime`] is spawn plus TCP, implemented for
//! tokio, smol and async-std.

pub mod cli;
pub mod client;
pub mod histogram;
pub mod load;
pub mod runtime;
pub mod store;
pub mod summary;

mod components;
mod rng;
mod server;
#[cfg(test)]
mod tests;

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use asynchronously::cache::CacheStats;
use asynchronously::lifecycle::{Lifecycle, Shutdown, ShutdownReport};
use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
use asynchronously::ratelimit::{FifoLockout, Quota, RateLimiter};
use asynchronously::retry::{Backoff, Jitter, RetryError, RetryPolicy};

use self::histogram::{Histogram, Snapshot};
use self::runtime::{Runtime, Tasks};
use self::store::{StoreConfig, StoreError, StoreStats};

/// Everything the service can be tuned by; [`Config::default`] is what the example runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The store's latency and failure model.
    pub store: StoreConfig,
    /// How many store operations may run at once (the priority semaphore's permits).
    pub store_permits: usize,
    /// How many background re-indexing loops compete for those permits.
    pub reindex_workers: usize,
    /// How long a read stays cached.
    pub cache_ttl: Duration,
    /// How many keys the cache holds.
    pub cache_capacity: u64,
    /// A write batch is sent when it holds this many writes…
    pub batch_max_items: usize,
    /// …or this long after its first write.
    pub batch_max_wait: Duration,
    /// How many write batches may be in flight at once.
    pub batch_in_flight: usize,
    /// New connections admitted per second, on average…
    pub connections_per_second: u32,
    /// …and at once after a quiet spell.
    pub connection_burst: u32,
    /// How often the reporter calls the progress callback.
    pub report_every: Duration,
    /// How many times a store call is retried.
    pub max_retries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            store: StoreConfig::default(),
            store_permits: 8,
            reindex_workers: 4,
            cache_ttl: Duration::from_millis(250),
            cache_capacity: 4096,
            batch_max_items: 64,
            batch_max_wait: Duration::from_millis(2),
            batch_in_flight: 2,
            connections_per_second: 1000,
            connection_burst: 50,
            report_every: Duration::from_secs(1),
            max_retries: 6,
        }
    }
}

/// Why the service could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// A limiter, policy, cache, batcher or semaphore setting is invalid.
    Config(Box<dyn Error + Send + Sync>),
    /// The component graph is invalid.
    Lifecycle(asynchronously::lifecycle::BuildError),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(error) => write!(f, "invalid service configuration: {error}"),
            SetupError::Lifecycle(error) => write!(f, "invalid component graph: {error}"),
        }
    }
}

impl Error for SetupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SetupError::Config(error) => Some(&**error),
            SetupError::Lifecycle(error) => Some(error),
        }
    }
}

fn config_error(error: impl Error + Send + Sync + 'static) -> SetupError {
    SetupError::Config(Box::new(error))
}

/// Why a store call made on a request's behalf failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AccessError {
    /// The store kept failing, or failed permanently.
    Store(RetryError<StoreError>),
    /// The store's semaphore was closed.
    Closed,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::Store(error) => write!(f, "{error}: {}", Reason(error)),
            AccessError::Closed => f.write_str("the store is shutting down; try another replica"),
        }
    }
}

/// The last store error inside a retry error.
struct Reason<'a>(&'a RetryError<StoreError>);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.source() {
            Some(source) => fmt::Display::fmt(source, f),
            None => f.write_str("no attempt was made"),
        }
    }
}

impl Error for AccessError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            AccessError::Store(error) => Some(error),
            AccessError::Closed => None,
        }
    }
}

/// A write refused on its own; the rest of its batch is written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteRejected {
    /// The value is longer than [`MAX_VALUE_LEN`].
    TooLarge {
        /// The value's length in bytes.
        len: usize,
    },
}

/// The longest value `SET` accepts, in bytes.
pub const MAX_VALUE_LEN: usize = 1024;

impl fmt::Display for WriteRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteRejected::TooLarge { len } => {
                write!(
                    f,
                    "value of {len} bytes is over the {MAX_VALUE_LEN}-byte limit; store a reference instead"
                )
            }
        }
    }
}

impl Error for WriteRejected {}

/// Counters of a running (or finished) service.
#[derive(Debug, Clone)]
pub struct ServiceStats {
    /// Requests answered by the server.
    pub requests: u64,
    /// `GET`s among them.
    pub gets: u64,
    /// `SET`s among them.
    pub sets: u64,
    /// Requests answered with `ERR`.
    pub errors: u64,
    /// Server-side time per request (read to reply).
    pub latency: Snapshot,
    /// Interactive store calls (cache loads, write batches): semaphore wait plus call.
    pub interactive: Snapshot,
    /// Background re-indexing store calls: semaphore wait plus call.
    pub background: Snapshot,
    /// Store reads by the re-indexing job.
    pub reindexed: u64,
    /// Retries of store calls (connect included).
    pub retries: u64,
    /// Times the store reported overload and the lockout was engaged.
    pub lockouts: u64,
    /// Requests that waited for the lockout.
    pub lockout_waits: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connections that waited for the rate limiter.
    pub rate_limited: u64,
    /// Connection handlers still running.
    pub open_connections: u64,
    /// Write batches sent to the store.
    pub batches: u64,
    /// Writes in those batches.
    pub batched_writes: u64,
    /// Writes refused on their own ([`WriteRejected`]).
    pub rejected_writes: u64,
    /// The cache's counters (final ones once the cache stopped).
    pub cache: CacheStats,
    /// The store's counters (final ones once the store stopped).
    pub store: StoreStats,
}

/// How long one component took to start and to stop, in the order they stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentTime {
    /// The component's name.
    pub name: &'static str,
    /// How long its `init` took.
    pub init: Duration,
    /// How long its `deinit` took; `None` while it has not stopped.
    pub deinit: Option<Duration>,
}

/// One progress report, made by the periodic reporter.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Time since the reporter started.
    pub elapsed: Duration,
    /// Requests answered so far.
    pub requests: u64,
    /// Requests per second over the last interval.
    pub per_second: f64,
    /// Server-side p99 over the last interval.
    pub p99: Duration,
    /// Open connections.
    pub open_connections: u64,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5.1} s  {:>9} req/s  p99 {:>9}  {:>4} connections  {} requests",
            self.elapsed.as_secs_f64(),
            summary::thousands(self.per_second.round() as u64),
            summary::duration(self.p99),
            self.open_connections,
            summary::thousands(self.requests),
        )
    }
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Locks `mutex`, also after a panic while it was held: every value behind our mutexes is
/// consistent between statements, so a panic elsewhere does not make it wrong.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    gets: AtomicU64,
    sets: AtomicU64,
    errors: AtomicU64,
    reindexed: AtomicU64,
    retries: AtomicU64,
    lockouts: AtomicU64,
    lockout_waits: AtomicU64,
    connections: AtomicU64,
    rate_limited: AtomicU64,
    open_connections: AtomicU64,
    batches: AtomicU64,
    batched_writes: AtomicU64,
    rejected_writes: AtomicU64,
}

/// What every component shares: configuration, limits, metrics.
struct Shared {
    config: Config,
    tasks: Tasks,
    semaphore: PrioritySemaphore,
    lockout: FifoLockout,
    limiter: RateLimiter,
    policy: RetryPolicy,
    counters: Counters,
    latency: Histogram,
    interactive: Histogram,
    background: Histogram,
    cache_stats: Mutex<Option<Box<dyn Fn() -> CacheStats + Send + Sync>>>,
    final_cache: Mutex<Option<CacheStats>>,
    store_stats: Mutex<Option<Box<dyn Fn() -> StoreStats + Send + Sync>>>,
    final_store: Mutex<Option<StoreStats>>,
    times: Mutex<Vec<ComponentTime>>,
    progress: Mutex<Option<ProgressFn>>,
}

impl Shared {
    /// Runs one store call on behalf of `priority`: a semaphore permit, then the call under the
    /// retry policy; an overload engages the lockout for as long as the store asked.
    async fn access<T, F, Fut>(&self, priority: Priority, mut call: F) -> Result<T, AccessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let start = Instant::now();
        let result = async {
            let _permit =
                self.semaphore.acquire(priority).await.map_err(|_| AccessError::Closed)?;
            self.policy
                .retry(&mut call)
                .classify(StoreError::verdict)
                .on_retry(|attempt| {
                    self.counters.retries.fetch_add(1, Relaxed);
                    if let Some(StoreError::Overloaded { retry_after }) = attempt.error() {
                        if !self.lockout.is_locked() {
                            self.counters.lockouts.fetch_add(1, Relaxed);
                        }
                        self.lockout.lockout_for(*retry_after);
                    }
                })
                .await
                .map_err(AccessError::Store)
        }
        .await;
        let histogram =
            if priority <= Priority::NORMAL { &self.interactive } else { &self.background };
        histogram.record(start.elapsed());
        result
    }

    fn report(&self, progress: &Progress) {
        let sink = lock(&self.progress).clone();
        if let Some(sink) = sink {
            sink(progress);
        }
    }
}

/// The service: its components in a [`Lifecycle`], and the metrics they keep.
pub struct Service {
    lifecycle: Lifecycle,
    shared: Arc<Shared>,
}

impl Service {
    /// Sets the service up on `runtime`; nothing starts until [`run`](Service::run).
    ///
    /// # Errors
    ///
    /// [`SetupError`] if a setting is invalid (a zero rate, zero permits…).
    pub fn new(runtime: Arc<dyn Runtime>, config: Config) -> Result<Service, SetupError> {
        let quota = Quota::per_second(config.connections_per_second)
            .and_then(|quota| quota.with_burst(config.connection_burst))
            .map_err(config_error)?;
        let policy = RetryPolicy::builder()
            .backoff(Backoff::exponential(Duration::from_millis(1), 2.0))
            .jitter(Jitter::Full)
            .max_delay(Duration::from_millis(50))
            .max_retries(config.max_retries)
            .build()
            .map_err(config_error)?;
        let semaphore =
            PrioritySemaphore::builder(config.store_permits).build().map_err(config_error)?;
        let shared = Arc::new(Shared {
            tasks: Tasks::new(runtime),
            semaphore,
            lockout: FifoLockout::new(),
            limiter: RateLimiter::new(quota),
            policy,
            counters: Counters::default(),
            latency: Histogram::new(),
            interactive: Histogram::new(),
            background: Histogram::new(),
            cache_stats: Mutex::new(None),
            final_cache: Mutex::new(None),
            store_stats: Mutex::new(None),
            final_store: Mutex::new(None),
            times: Mutex::new(Vec::new()),
            progress: Mutex::new(None),
            config,
        });
        let lifecycle = components::lifecycle(&shared).map_err(SetupError::Lifecycle)?;
        Ok(Service { lifecycle, shared })
    }

    /// Calls `progress` on every report of the periodic reporter (every
    /// [`Config::report_every`]).
    pub fn on_progress(&self, progress: impl Fn(&Progress) + Send + Sync + 'static) {
        *lock(&self.shared.progress) = Some(Arc::new(progress));
    }

    /// Starts every component in dependency order, runs `main` with the server's address,
    /// then stops everything in reverse order, when `main` returns or on
    /// [`shutdown`](Service::shutdown) (Ctrl-C in the example).
    ///
    /// # Panics
    ///
    /// Only on a bug in this module: the `server` component provides its address when it
    /// starts, before `main` runs.
    pub async fn run<F, Fut>(&self, main: F) -> ShutdownReport<Fut::Output>
    where
        F: FnOnce(SocketAddr) -> Fut,
        Fut: Future,
    {
        asynchronously::lifecycle::run_until_shutdown(&self.lifecycle, async {
            let server = self
                .lifecycle
                .get::<server::Server>("server")
                .expect("the server component provides its listener once started");
            main(server.addr).await
        })
        .await
    }

    /// The trigger that stops the service; `shutdown().on_signals()` wires Ctrl-C to it.
    pub fn shutdown(&self) -> &Shutdown {
        self.lifecycle.shutdown()
    }

    /// The component graph.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The runtime it runs on.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        self.shared.tasks.runtime()
    }

    /// Tasks the service spawned that are still running (workers, connection handlers).
    pub fn live_tasks(&self) -> usize {
        self.shared.tasks.live()
    }

    /// Start and stop times per component, in the order they stopped (then the running ones).
    pub fn component_times(&self) -> Vec<ComponentTime> {
        let mut times = lock(&self.shared.times).clone();
        times.sort_by_key(|time| time.deinit.is_none());
        times
    }

    /// The counters so far.
    pub fn stats(&self) -> ServiceStats {
        let shared = &*self.shared;
        let counters = &shared.counters;
        let cache = (*lock(&shared.final_cache))
            .or_else(|| lock(&shared.cache_stats).as_ref().map(|stats| stats()));
        let store = (*lock(&shared.final_store))
            .or_else(|| lock(&shared.store_stats).as_ref().map(|stats| stats()));
        ServiceStats {
            requests: counters.requests.load(Relaxed),
            gets: counters.gets.load(Relaxed),
            sets: counters.sets.load(Relaxed),
            errors: counters.errors.load(Relaxed),
            latency: shared.latency.snapshot(),
            interactive: shared.interactive.snapshot(),
            background: shared.background.snapshot(),
            reindexed: counters.reindexed.load(Relaxed),
            retries: counters.retries.load(Relaxed),
            lockouts: counters.lockouts.load(Relaxed),
            lockout_waits: counters.lockout_waits.load(Relaxed),
            connections: counters.connections.load(Relaxed),
            rate_limited: counters.rate_limited.load(Relaxed),
            open_connections: counters.open_connections.load(Relaxed),
            batches: counters.batches.load(Relaxed),
            batched_writes: counters.batched_writes.load(Relaxed),
            rejected_writes: counters.rejected_writes.load(Relaxed),
            cache: cache.unwrap_or_default(),
            store: store.unwrap_or_default(),
        }
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("runtime", &self.runtime().name())
            .field("lifecycle", &self.lifecycle)
            .field("live_tasks", &self.live_tasks())
            .finish_non_exhaustive()
    }
}

/// Runs `service` under the load of `load` until it ends (or `stop` fires: Ctrl-C in the
/// examples), reads back up to `verify_at_most` of the acknowledged writes, stops the service
/// and sums it all up.
pub async fn run_under_load(
    service: &Service,
    load: &load::LoadConfig,
    stop: &Shutdown,
    verify_at_most: usize,
) -> summary::Summary {
    let runtime = Arc::clone(service.runtime());
    let report = service
        .run(|addr| async move {
            let report = load::generate(&*runtime, addr, load, stop).await?;
            let writes = &report.writes[..report.writes.len().min(verify_at_most)];
            let verification =
                load::verify(&*runtime, addr, writes, load.connections.min(16)).await?;
            Ok::<_, asynchronously::gather::LimitError>((addr, report, verification))
        })
        .await;
    let clean = report.is_clean() && matches!(report.main(), Some(Ok(_)));
    let reason = report.reason();
    let (addr, load, verification) = match report.into_main() {
        Some(Ok((addr, load, verification))) => (Some(addr), load, verification),
        _ => (None, load::LoadReport::default(), load::Verification::default()),
    };
    summary::Summary {
        runtime: service.runtime().name(),
        addr,
        stopped_early: stop.is_triggered(),
        load,
        verification,
        stats: service.stats(),
        components: service.component_times(),
        reason,
        clean,
        live_tasks: service.live_tasks(),
    }
}
