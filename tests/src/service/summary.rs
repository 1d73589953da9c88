//! The summary table printed at the end of a run.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use asynchronously::lifecycle::ShutdownReason;

use super::load::{LoadReport, Verification};
use super::{ComponentTime, ServiceStats};

/// Everything a run measured, printable as a table.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The runtime's name.
    pub runtime: &'static str,
    /// Where the server listened; `None` if it never started.
    pub addr: Option<SocketAddr>,
    /// Whether the stop trigger (Ctrl-C) ended the load before its time.
    pub stopped_early: bool,
    /// What the clients saw.
    pub load: LoadReport,
    /// What reading the writes back found.
    pub verification: Verification,
    /// The service's counters.
    pub stats: ServiceStats,
    /// Start and stop times, in stop order.
    pub components: Vec<ComponentTime>,
    /// Why the service stopped.
    pub reason: ShutdownReason,
    /// Whether every component started and stopped cleanly.
    pub clean: bool,
    /// Tasks still running after the shutdown.
    pub live_tasks: usize,
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A latency with a unit a person reads at a glance: `850 µs`, `12.3 ms`, `1.20 s`.
pub fn duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1} %", 100.0 * part as f64 / whole as f64)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let load = &self.load;
        let stats = &self.stats;
        let cache = &stats.cache;
        let rows: Vec<(&str, String)> = vec![
            (
                "runtime",
                match self.addr {
                    Some(addr) => format!("{}, listening on {addr}", self.runtime),
                    None => format!("{}, never listened", self.runtime),
                },
            ),
            (
                "requests",
                format!(
                    "{} in {:.1} s = {} req/s; {} answered, {} errors",
                    thousands(load.sent),
                    load.elapsed.as_secs_f64(),
                    thousands((load.answered as f64 / load.elapsed.as_secs_f64().max(1e-9)) as u64),
                    thousands(load.answered),
                    thousands(load.errors),
                ),
            ),
            (
                "server",
                format!(
                    "{} GET, {} SET (read-back included), p99 {} from request to reply",
                    thousands(stats.gets),
                    thousands(stats.sets),
                    duration(stats.latency.quantile(0.99)),
                ),
            ),
            (
                "latency (client)",
                format!(
                    "p50 {}  p99 {}  max {}",
                    duration(load.latency.quantile(0.5)),
                    duration(load.latency.quantile(0.99)),
                    duration(load.latency.max()),
                ),
            ),
            (
                "connections",
                format!(
                    "{} opened, {} failed; {} waited for the rate limiter",
                    thousands(load.connections),
                    thousands(load.failed_connections),
                    thousands(stats.rate_limited),
                ),
            ),
            (
                "cache",
                format!(
                    "hit rate {} ({} hits, {} misses); {} loads, {} coalesced waits",
                    percent(cache.hits, cache.hits + cache.misses),
                    thousands(cache.hits),
                    thousands(cache.misses),
                    thousands(cache.loads),
                    thousands(cache.coalesced),
                ),
            ),
            (
                "write batches",
                format!(
                    "{} batches, mean {:.1} writes per batch ({} writes, {} rejected)",
                    thousands(stats.batches),
                    stats.batched_writes as f64 / stats.batches.max(1) as f64,
                    thousands(stats.batched_writes),
                    thousands(stats.rejected_writes),
                ),
            ),
            (
                "store",
                format!(
                    "{} reads, {} transient failures, {} overloaded answers",
                    thousands(stats.store.reads),
                    thousands(stats.store.transient_failures),
                    thousands(stats.store.overloaded),
                ),
            ),
            (
                "retries",
                format!(
                    "{} retries; lockout engaged {} times, {} requests waited",
                    thousands(stats.retries),
                    thousands(stats.lockouts),
                    thousands(stats.lockout_waits),
                ),
            ),
            (
                "priority (store calls)",
                format!(
                    "interactive p50 {} p99 {} ({} calls); background p50 {} p99 {} ({} calls)",
                    duration(stats.interactive.quantile(0.5)),
                    duration(stats.interactive.quantile(0.99)),
                    thousands(stats.interactive.count()),
                    duration(stats.background.quantile(0.5)),
                    duration(stats.background.quantile(0.99)),
                    thousands(stats.background.count()),
                ),
            ),
            (
                "writes read back",
                format!(
                    "{} checked, {} wrong",
                    thousands(self.verification.checked),
                    thousands(self.verification.wrong_count),
                ),
            ),
        ];
        let width = rows.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
        for (name, value) in &rows {
            writeln!(f, "  {name:<width$}  {value}")?;
        }
        let order: Vec<String> = self
            .components
            .iter()
            .map(|time| match time.deinit {
                Some(deinit) => format!("{} {}", time.name, duration(deinit)),
                None => format!("{} (running)", time.name),
            })
            .collect();
        writeln!(f, "  {:<width$}  {}", "shutdown order", order.join(" → "))?;
        write!(
            f,
            "  {:<width$}  {:?}{}, {}, {} tasks left running",
            "shutdown",
            self.reason,
            if self.stopped_early { " (load stopped early by Ctrl-C)" } else { "" },
            if self.clean { "clean" } else { "NOT clean" },
            self.live_tasks,
        )
    }
}
