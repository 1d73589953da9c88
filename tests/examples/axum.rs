//! An axum server with an endpoint behind every layer of `asynchronously::tower`.
//!
//! ```text
//! cargo run -p asynchronously-tests --example axum
//! curl localhost:3000/retried                               # 503, 503 (Retry-After: 1), then 200
//! curl -H 'x-priority: high' localhost:3000/priority/me     # one at a time, high first
//! curl -i localhost:3000/limited                            # the second within a minute: 429
//! curl -i -H 'x-client: alice' localhost:3000/keyed         # per client
//! curl localhost:3000/cached/7                              # one lookup per id
//! curl -X POST localhost:3000/batched/1                     # written in batches of up to 4
//! ```
//!
//! The server is built in `tests/src/tower/app.rs`, which the `tower` behaviour test serves on
//! an ephemeral port and drives over real HTTP.

#[path = "../src/tower/app.rs"]
#[expect(dead_code, reason = "the test reads the counters and handles; the example only serves")]
mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let app::Example { router, batch_worker, .. } = app::example(listener.local_addr()?);
    // The batch worker is a future: the application spawns it, on its own runtime.
    tokio::spawn(batch_worker);
    axum::serve(listener, router).await
}
