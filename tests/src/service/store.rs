//! The "store": an in-process key-value store that behaves like a remote one.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use asynchronously::retry::Verdict;
use asynchronously::time::{Clock, RealClock};

use super::lock;
use super::rng::Rng;

/// How the store misbehaves: latency per round trip, transient failures, periodic stalls.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Latency of one read.
    pub read_latency: Duration,
    /// Latency of one batched write, whatever its size.
    pub write_latency: Duration,
    /// Probability that an operation fails with [`StoreError::Transient`].
    pub failure_rate: f64,
    /// The store stalls (compaction) at the end of every period of this length…
    pub stall_every: Duration,
    /// …for this long, answering [`StoreError::Overloaded`] meanwhile.
    pub stall_for: Duration,
    /// How many connection attempts fail before one succeeds.
    pub connect_failures: u32,
    /// Keys `key-0` … present from the start, with the value `value-N`.
    pub preloaded_keys: u64,
    /// Seed of the failure rolls.
    pub seed: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            read_latency: Duration::from_millis(1),
            write_latency: Duration::from_millis(2),
            failure_rate: 0.02,
            stall_every: Duration::from_secs(1),
            stall_for: Duration::from_millis(25),
            connect_failures: 2,
            preloaded_keys: 10_000,
            seed: 1,
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// A failure that goes away when tried again (a dropped connection, a timeout).
    Transient,
    /// The store is shedding load; try again after `retry_after`.
    Overloaded {
        /// When the store expects to accept work again.
        retry_after: Duration,
    },
    /// `connect` has not succeeded yet, or the store was disconnected.
    NotConnected,
}

impl StoreError {
    /// Whether trying again can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Transient | StoreError::Overloaded { .. })
    }

    /// How a [`Retry`](asynchronously::retry::Retry) should treat it: an overload is retried
    /// when the store said it would accept work again, a transient failure on the policy's
    /// schedule, a missing connection not at all.
    pub fn verdict(&self) -> Verdict {
        match self {
            StoreError::Transient => Verdict::Retry,
            StoreError::Overloaded { retry_after } => Verdict::RetryAfter(*retry_after),
            StoreError::NotConnected => Verdict::Fail,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Transient => f.write_str("store operation failed transiently; retry it"),
            StoreError::Overloaded { retry_after } => {
                write!(f, "store is overloaded; retry after {retry_after:?}")
            }
            StoreError::NotConnected => {
                f.write_str("store is not connected; call `connect` first (or it was closed)")
            }
        }
    }
}

impl Error for StoreError {}

/// Operation counts of a [`Store`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Reads answered (including absent keys).
    pub reads: u64,
    /// Batched writes applied.
    pub write_batches: u64,
    /// Items written, over every batch.
    pub items_written: u64,
    /// Operations refused with [`StoreError::Transient`].
    pub transient_failures: u64,
    /// Operations refused with [`StoreError::Overloaded`].
    pub overloaded: u64,
    /// Connection attempts, failed ones included.
    pub connects: u64,
}

/// An in-process key-value store with injected latency, transient failures and stalls.
///
/// Time (latency and stalls) is measured on its [`Clock`], so its behaviour is testable on a
/// [`VirtualClock`](asynchronously::time::VirtualClock).
pub struct Store<C: Clock = RealClock> {
    config: StoreConfig,
    clock: C,
    origin: Instant,
    data: Mutex<HashMap<String, String>>,
    connected: AtomicBool,
    connect_attempts: AtomicU32,
    rng: Rng,
    reads: AtomicU64,
    write_batches: AtomicU64,
    items_written: AtomicU64,
    transient_failures: AtomicU64,
    overloaded: AtomicU64,
}

impl Store {
    /// A store on the real clock.
    pub fn new(config: StoreConfig) -> Self {
        Store::with_clock(config, RealClock)
    }
}

impl<C: Clock> Store<C> {
    /// A store measuring latency and stalls on `clock`; stalls count from now.
    pub fn with_clock(config: StoreConfig, clock: C) -> Self {
        let data = (0..config.preloaded_keys)
            .map(|n| (format!("key-{n}"), format!("value-{n}")))
            .collect();
        Self {
            rng: Rng::new(config.seed),
            origin: clock.now(),
            clock,
            config,
            data: Mutex::new(data),
            connected: AtomicBool::new(false),
            connect_attempts: AtomicU32::new(0),
            reads: AtomicU64::new(0),
            write_batches: AtomicU64::new(0),
            items_written: AtomicU64::new(0),
            transient_failures: AtomicU64::new(0),
            overloaded: AtomicU64::new(0),
        }
    }

    /// Connects; the first [`StoreConfig::connect_failures`] attempts fail transiently.
    ///
    /// # Errors
    ///
    /// [`StoreError::Transient`] for the configured number of first attempts.
    pub async fn connect(&self) -> Result<(), StoreError> {
        self.clock.sleep(self.config.read_latency).await;
        let attempt = self.connect_attempts.fetch_add(1, SeqCst);
        if attempt < self.config.connect_failures {
            self.transient_failures.fetch_add(1, SeqCst);
            return Err(StoreError::Transient);
        }
        self.connected.store(true, SeqCst);
        Ok(())
    }

    /// Disconnects: every later operation fails with [`StoreError::NotConnected`].
    pub fn disconnect(&self) {
        self.connected.store(false, SeqCst);
    }

    /// Whether `connect` succeeded and `disconnect` was not called since.
    pub fn is_connected(&self) -> bool {
        self.connected.load(SeqCst)
    }

    /// Reads `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotConnected`] before `connect`; [`StoreError::Overloaded`] during a
    /// stall; [`StoreError::Transient`] at the configured rate.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future reads nothing.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.admit()?;
        self.clock.sleep(self.config.read_latency).await;
        self.reads.fetch_add(1, SeqCst);
        Ok(lock(&self.data).get(key).cloned())
    }

    /// Writes every pair in one round trip, in order.
    ///
    /// # Errors
    ///
    /// As [`get`](Store::get); on an error nothing was written.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes writes nothing.
    pub async fn set_many(&self, pairs: &[(String, String)]) -> Result<(), StoreError> {
        self.admit()?;
        self.clock.sleep(self.config.write_latency).await;
        let mut data = lock(&self.data);
        for (key, value) in pairs {
            data.insert(key.clone(), value.clone());
        }
        self.write_batches.fetch_add(1, SeqCst);
        self.items_written.fetch_add(pairs.len() as u64, SeqCst);
        Ok(())
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        lock(&self.data).len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The operation counts so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            reads: self.reads.load(SeqCst),
            write_batches: self.write_batches.load(SeqCst),
            items_written: self.items_written.load(SeqCst),
            transient_failures: self.transient_failures.load(SeqCst),
            overloaded: self.overloaded.load(SeqCst),
            connects: u64::from(self.connect_attempts.load(SeqCst)),
        }
    }

    /// Checks the connection, the stall windows and the failure roll for one operation.
    fn admit(&self) -> Result<(), StoreError> {
        if !self.is_connected() {
            return Err(StoreError::NotConnected);
        }
        let every = self.config.stall_every.as_nanos();
        if every > 0 && !self.config.stall_for.is_zero() {
            let since = self.clock.now().saturating_duration_since(self.origin).as_nanos();
            // The stall closes each period, so a fresh store starts healthy.
            let left = self.config.stall_every - Duration::from_nanos((since % every) as u64);
            if left <= self.config.stall_for {
                self.overloaded.fetch_add(1, SeqCst);
                return Err(StoreError::Overloaded { retry_after: left });
            }
        }
        if self.rng.chance(self.config.failure_rate) {
            self.transient_failures.fetch_add(1, SeqCst);
            return Err(StoreError::Transient);
        }
        Ok(())
    }
}

impl<C: Clock> fmt::Debug for Store<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("connected", &self.is_connected())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
