//! The TCP server: a line protocol (`GET k`, `SET k v`, `STATS`) over the cache and the batcher.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use asynchronously::lifecycle::{BoxError, Component, Context, Shutdown};
use asynchronously::priority_semaphore::Priority;
use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::Shared;
use super::components::{ReadCache, Writes};
use super::lock;
use super::runtime::{BoxConnection, Listener};
use super::store::Store;

/// What the server component provides: its address, and the handlers still running.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    listener: Box<dyn Listener>,
    /// Every handler holds a clone; the channel closes when the last one has ended.
    alive: Mutex<Option<mpsc::Sender<()>>>,
    ended: Mutex<Option<mpsc::Receiver<()>>>,
}

pub(crate) struct ServerComponent {
    pub(crate) shared: Arc<Shared>,
}

impl Component for ServerComponent {
    async fn init(&self, cx: Context) -> Result<(), BoxError> {
        let listener = self.shared.tasks.runtime().bind(self.shared.config.addr).await?;
        let addr = listener.local_addr()?;
        let (alive, ended) = mpsc::channel(0);
        cx.provide(Server {
            addr,
            listener,
            alive: Mutex::new(Some(alive)),
            ended: Mutex::new(Some(ended)),
        });
        Ok(())
    }

    /// The accept loop: each connection waits its turn at the rate limiter, then gets a task.
    async fn run(&self, cx: Context) -> Result<(), BoxError> {
        let server = cx.get::<Server>().ok_or("the listener is provided in init")?;
        let handler = Arc::new(Handler {
            shared: Arc::clone(&self.shared),
            cache: cx.get::<ReadCache>().ok_or("the server needs the cache")?,
            writes: cx.get::<Writes>().ok_or("the server needs the write batcher")?,
            store: cx.get::<Store>().ok_or("the server needs the store")?,
        });
        let counters = &self.shared.counters;
        loop {
            let connection = match server.listener.accept().await {
                Ok(connection) => connection,
                // Out of file descriptors, a reset before accept…: the next one may be fine.
                Err(_) => continue,
            };
            if self.shared.limiter.check().is_err() {
                counters.rate_limited.fetch_add(1, Relaxed);
                self.shared.limiter.acquire(1).await?;
            }
            let Some(alive) = lock(&server.alive).clone() else {
                return Ok(()); // stopping
            };
            counters.connections.fetch_add(1, Relaxed);
            counters.open_connections.fetch_add(1, Relaxed);
            let handler = Arc::clone(&handler);
            let shutdown = cx.shutdown().clone();
            // `alive` goes last, once the task no longer counts as live: `deinit` waits for it.
            drop(self.shared.tasks.spawn_holding(alive, async move {
                handler.serve(connection, &shutdown).await;
                handler.shared.counters.open_connections.fetch_sub(1, Relaxed);
            }));
        }
    }

    /// Stops after the accept loop was dropped: lets every handler finish its request and end.
    async fn deinit(&self, cx: Context) -> Result<(), BoxError> {
        let server = cx.get::<Server>().ok_or("the listener is provided in init")?;
        cx.shutdown().trigger(); // idle handlers stop waiting for a next request
        drop(lock(&server.alive).take());
        let ended = lock(&server.ended).take();
        if let Some(mut ended) = ended {
            while ended.next().await.is_some() {}
        }
        Ok(())
    }
}

/// Answers the requests of one connection.
struct Handler {
    shared: Arc<Shared>,
    cache: Arc<ReadCache>,
    writes: Arc<Writes>,
    store: Arc<Store>,
}

impl Handler {
    async fn serve(&self, connection: BoxConnection, shutdown: &Shutdown) {
        let mut connection = BufReader::new(connection);
        let mut line = String::new();
        loop {
            line.clear();
            // Between requests, shutdown ends the connection; a request being answered finishes.
            let request = {
                let read = pin!(connection.read_line(&mut line));
                matches!(select(read, shutdown.wait()).await, Either::Left((Ok(n), _)) if n > 0)
            };
            if !request {
                return;
            }
            let start = Instant::now();
            if self.shared.lockout.is_locked() {
                self.shared.counters.lockout_waits.fetch_add(1, Relaxed);
            }
            self.shared.lockout.enter().await;
            let mut reply = self.respond(line.trim_end()).await;
            reply.push('\n');
            let writer = connection.get_mut();
            if writer.write_all(reply.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                return;
            }
            self.shared.latency.record(start.elapsed());
            self.shared.counters.requests.fetch_add(1, Relaxed);
        }
    }

    async fn respond(&self, request: &str) -> String {
        let counters = &self.shared.counters;
        let mut words = request.splitn(3, ' ');
        let reply = match (words.next(), words.next(), words.next()) {
            (Some("GET"), Some(key), None) => {
                counters.gets.fetch_add(1, Relaxed);
                self.get(key).await
            }
            (Some("SET"), Some(key), Some(value)) => {
                counters.sets.fetch_add(1, Relaxed);
                match self.writes.submit((key.to_owned(), value.to_owned())).await {
                    Ok(Ok(())) => {
                        // A load of `key` started before the write will not be stored.
                        self.cache.invalidate(&key.to_owned());
                        "OK".to_owned()
                    }
                    Ok(Err(rejected)) => format!("ERR {rejected}"),
                    Err(error) => format!("ERR write failed: {error}"),
                }
            }
            (Some("STATS"), None, None) => {
                let cache = self.cache.stats();
                format!(
                    "STATS requests={} hits={} misses={} coalesced={} loads={} batches={} retries={}",
                    counters.requests.load(Relaxed),
                    cache.hits,
                    cache.misses,
                    cache.coalesced,
                    cache.loads,
                    counters.batches.load(Relaxed),
                    counters.retries.load(Relaxed),
                )
            }
            _ => "ERR unknown request; send `GET key`, `SET key value` or `STATS`".to_owned(),
        };
        if reply.starts_with("ERR") {
            counters.errors.fetch_add(1, Relaxed);
        }
        reply
    }

    async fn get(&self, key: &str) -> String {
        let shared = Arc::clone(&self.shared);
        let store = Arc::clone(&self.store);
        let owned = key.to_owned();
        let read = self.cache.try_get_or_compute(key.to_owned(), move || async move {
            shared.access(Priority::HIGH, || store.get(&owned)).await
        });
        match read.await {
            Ok(Some(value)) => format!("VALUE {value}"),
            Ok(None) => "NONE".to_owned(),
            Err(error) => format!("ERR read failed: {error}"),
        }
    }
}
