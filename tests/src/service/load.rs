//! The load generator: many loopback connections under a concurrency [`Limit`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use asynchronously::gather::{Limit, LimitError};
use asynchronously::lifecycle::Shutdown;

use super::client::Client;
use super::histogram::{Histogram, Snapshot};
use super::lock;
use super::rng::Rng;
use super::runtime::Runtime;

/// What the load looks like.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// How long to generate load.
    pub duration: Duration,
    /// Connections open at once (the [`Limit`]).
    pub connections: usize,
    /// Requests per connection before it reconnects.
    pub requests_per_connection: usize,
    /// Reads go to `key-0` … `key-{hot_keys - 1}` with probability [`hot_ratio`](Self::hot_ratio)…
    pub hot_keys: u64,
    /// …and otherwise to any of `key-0` … `key-{keys - 1}`.
    pub keys: u64,
    /// The share of reads that go to hot keys.
    pub hot_ratio: f64,
    /// The share of requests that are writes (each to a key of its own).
    pub write_ratio: f64,
    /// Seed of the key choice.
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(5),
            connections: 64,
            requests_per_connection: 200,
            hot_keys: 32,
            keys: 10_000,
            hot_ratio: 0.9,
            write_ratio: 0.1,
            seed: 7,
        }
    }
}

/// What the clients saw.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Requests sent.
    pub sent: u64,
    /// Requests that got a reply.
    pub answered: u64,
    /// Replies that were `ERR …`.
    pub errors: u64,
    /// Connections opened.
    pub connections: u64,
    /// Connections that failed (to open, or mid-way).
    pub failed_connections: u64,
    /// Round-trip time per answered request, as the client measured it.
    pub latency: Snapshot,
    /// Every acknowledged `SET`, as `(key, value)`.
    pub writes: Vec<(String, String)>,
    /// How long the load ran.
    pub elapsed: Duration,
}

struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
    errors: AtomicU64,
    connections: AtomicU64,
    failed: AtomicU64,
    latency: Histogram,
    writes: Mutex<Vec<(String, String)>>,
    next_connection: AtomicU64,
    rng: Rng,
}

/// Generates load on the service at `addr` for `config.duration`, or until `stop` fires.
///
/// Connections are opened in rounds of four times [`LoadConfig::connections`], at most
/// `connections` of them open at once ([`Limit::gather_settled`]); a connection that finishes
/// its requests makes room for the next.
///
/// # Errors
///
/// [`LimitError`] if `connections` is zero.
pub async fn generate(
    runtime: &dyn Runtime,
    addr: SocketAddr,
    config: &LoadConfig,
    stop: &Shutdown,
) -> Result<LoadReport, LimitError> {
    let limit = Limit::new(config.connections)?;
    let tally = Tally {
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        latency: Histogram::new(),
        writes: Mutex::new(Vec::new()),
        next_connection: AtomicU64::new(0),
        rng: Rng::new(config.seed),
    };
    let start = Instant::now();
    let deadline = start + config.duration;
    let over = || Instant::now() >= deadline || stop.is_triggered();
    while !over() {
        let round =
            (0..config.connections * 4).map(|_| connection(runtime, addr, config, &tally, &over));
        limit.gather_settled(round).await;
    }
    Ok(LoadReport {
        sent: tally.sent.load(Relaxed),
        answered: tally.answered.load(Relaxed),
        errors: tally.errors.load(Relaxed),
        connections: tally.connections.load(Relaxed),
        failed_connections: tally.failed.load(Relaxed),
        latency: tally.latency.snapshot(),
        writes: tally.writes.into_inner().unwrap_or_else(PoisonError::into_inner),
        elapsed: start.elapsed(),
    })
}

/// One connection's requests; returns early at the deadline.
async fn connection(
    runtime: &dyn Runtime,
    addr: SocketAddr,
    config: &LoadConfig,
    tally: &Tally,
    over: &impl Fn() -> bool,
) {
    if over() {
        return;
    }
    let id = tally.next_connection.fetch_add(1, Relaxed);
    tally.connections.fetch_add(1, Relaxed);
    let result: io::Result<()> = async {
        let mut client = Client::connect(runtime, addr).await?;
        for n in 0..config.requests_per_connection {
            if over() {
                break;
            }
            let write = tally.rng.chance(config.write_ratio).then(|| {
                (format!("w{id}-{n}"), format!("v{id}-{n}-{}", tally.rng.below(1_000_000)))
            });
            let request = match &write {
                Some((key, value)) => format!("SET {key} {value}"),
                None if tally.rng.chance(config.hot_ratio) => {
                    format!("GET key-{}", tally.rng.below(config.hot_keys))
                }
                None => format!("GET key-{}", tally.rng.below(config.keys)),
            };
            let sent = Instant::now();
            tally.sent.fetch_add(1, Relaxed);
            let reply = client.request(&request).await?;
            tally.latency.record(sent.elapsed());
            tally.answered.fetch_add(1, Relaxed);
            if reply.starts_with("ERR") {
                tally.errors.fetch_add(1, Relaxed);
            } else if let Some(write) = write {
                lock(&tally.writes).push(write);
            }
        }
        client.close().await
    }
    .await;
    if result.is_err() {
        tally.failed.fetch_add(1, Relaxed);
    }
}

/// What reading the writes back found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Writes read back.
    pub checked: u64,
    /// Keys whose value was not the one written (or could not be read), first 10.
    pub wrong: Vec<String>,
    /// How many keys were wrong in all.
    pub wrong_count: u64,
}

/// Reads every `(key, value)` back through the server with `GET`, over `connections`
/// connections.
///
/// # Errors
///
/// [`LimitError`] if `connections` is zero.
pub async fn verify(
    runtime: &dyn Runtime,
    addr: SocketAddr,
    writes: &[(String, String)],
    connections: usize,
) -> Result<Verification, LimitError> {
    let limit = Limit::new(connections)?;
    let chunk = writes.len().div_ceil(connections).max(1);
    let outcome = Mutex::new(Verification::default());
    let check = |pairs| check_writes(runtime, addr, pairs, &outcome);
    limit.gather_settled(writes.chunks(chunk).map(check)).await;
    Ok(outcome.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Reads `pairs` back over one connection, tallying into `outcome`.
async fn check_writes(
    runtime: &dyn Runtime,
    addr: SocketAddr,
    pairs: &[(String, String)],
    outcome: &Mutex<Verification>,
) {
    let mut client = Client::connect(runtime, addr).await.ok();
    for (key, value) in pairs {
        let read = match client.as_mut() {
            Some(client) => client.get(key).await.ok().flatten(),
            None => None,
        };
        let mut outcome = lock(outcome);
        outcome.checked += 1;
        if read.as_deref() != Some(value.as_str()) {
            outcome.wrong_count += 1;
            if outcome.wrong.len() < 10 {
                outcome.wrong.push(key.clone());
            }
        }
    }
    if let Some(client) = client {
        let _ = client.close().await;
    }
}
