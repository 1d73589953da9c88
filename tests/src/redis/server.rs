//! A throwaway `redis-server` for tests and benches: 127.0.0.1, a free port, no persistence,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed or does not start: a loud failure, never a skip.
    pub fn start() -> RedisServer {
        RedisServer::try_start().unwrap_or_else(|error| panic!("{error}"))
    }

    /// Starts a server, or says why it could not (for the bench, which skips).
    ///
    /// # Errors
    ///
    /// A sentence naming the cause when `redis-server` is missing or does not become ready.
    pub fn try_start() -> Result<RedisServer, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match spawn(port) {
                Ok(child) => return Ok(RedisServer { port, child: Some(child) }),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// A free port on 127.0.0.1 with nothing listening: a "Redis down" address.
    ///
    /// # Panics
    ///
    /// If no port can be bound.
    pub fn unused_url() -> String {
        format!("redis://127.0.0.1:{}/", free_port().unwrap_or_else(|error| panic!("{error}")))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (as a crash would) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh server (empty) on the same port, after [`kill`](Self::kill).
    ///
    /// # Panics
    ///
    /// If it does not start.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(self.port).unwrap_or_else(|error| panic!("{error}")));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("cannot bind a port on 127.0.0.1: {error}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

fn spawn(port: u16) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--daemonize", "no", "--loglevel", "notice"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| {
            format!(
                "cannot run `redis-server` ({error}): the Redis tests need it; install it with \
                 `apt-get install -y redis-server` (.ci/run does)"
            )
        })?;
    let stdout = child.stdout.take().ok_or("redis-server has no stdout")?;
    // Read its log on a thread, so a server that never gets ready cannot hang us.
    let (ready, readiness) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            log.push_str(&line);
            log.push('\n');
            if line.contains("Ready to accept connections") {
                let _ = ready.send(Ok(()));
                // Keep draining so the server never blocks on a full pipe.
                continue;
            }
        }
        let _ = ready.send(Err(log));
    });
    match readiness.recv_timeout(READY_WITHIN) {
        Ok(Ok(())) => Ok(child),
        Ok(Err(log)) => {
            let _ = child.wait();
            Err(format!("redis-server on port {port} exited before it was ready:\n{log}"))
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("redis-server on port {port} was not ready within {READY_WITHIN:?}"))
        }
    }
}
