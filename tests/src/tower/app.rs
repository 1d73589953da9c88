//! The axum example's server: one endpoint behind each layer of `asynchronously::tower`.
//!
//! Shared by `tests/examples/axum.rs` (which serves it) and the `tower` behaviour tests
//! (which drive it over real HTTP), so the test exercises exactly what the example shows.
//!
//! | Endpoint | Behind |
//! |---|---|
//! | `GET /retried` | `RetryLayer`: calls `GET /flaky` over HTTP, retrying its 503s, honouring `Retry-After` |
//! | `GET /flaky` | nothing: the "upstream", 503 twice (the first with `Retry-After: 1`), then 200 |
//! | `GET /priority/{name}` | `PriorityConcurrencyLimitLayer`: one at a time, `x-priority: high` first |
//! | `GET /limited` | `RateLimitLayer::rejecting`: one per minute, else 429 with `Retry-After` |
//! | `GET /keyed` | `KeyedRateLimitLayer`: one per minute per `x-client`, else 429 |
//! | `GET /cached/{id}` | `CacheLayer`: one lookup per id, single flight |
//! | `POST /batched/{value}` | `BatchLayer`: writes in batches of up to four |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asynchronously::cache::{Cache, ComputeError};
use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
use asynchronously::ratelimit::{KeyedRateLimiter, Quota, RateLimiter};
use asynchronously::retry::{Backoff, RetryError, RetryPolicy, Verdict};
use asynchronously::tower::{
    BatchLayer, BatchWorker, CacheLayer, KeyedRateLimitLayer, PriorityConcurrencyLimitLayer,
    PriorityLimitError, RateLimitError, RateLimitLayer, RetryLayer,
};
use asynchronously::waterfall::SubmitError;
use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, service_fn};

/// What the endpoints did, for the example's readers and its test.
#[derive(Default)]
pub(crate) struct Stats {
    /// Calls `GET /flaky` answered (the retried upstream).
    pub(crate) upstream_calls: AtomicU32,
    /// Requests that reached the `/priority` handler, in order.
    pub(crate) served: Mutex<Vec<String>>,
    /// Opens the `/priority/holder` request, which holds the only permit until then.
    pub(crate) release_holder: tokio::sync::Notify,
    /// Lookups behind the cache.
    pub(crate) lookups: AtomicU32,
    /// The size of each batch written.
    pub(crate) batches: Mutex<Vec<usize>>,
}

/// The server's parts: spawn `batch_worker`, serve `router`.
pub(crate) struct Example {
    pub(crate) router: Router,
    pub(crate) batch_worker: BatchWorker<BulkWrite, u32>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) semaphore: Arc<PrioritySemaphore>,
    pub(crate) cache: Cache<String, String>,
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The bulk write behind `POST /batched`: one call per batch, one result per value.
#[derive(Clone)]
pub(crate) struct BulkWrite(Arc<Stats>);

impl Service<Vec<u32>> for BulkWrite {
    type Response = Vec<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Vec<String>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, values: Vec<u32>) -> Self::Future {
        let size = values.len();
        self.0.batches.lock().expect("not poisoned").push(size);
        let stored = values.into_iter().map(|value| format!("stored {value} in a batch of {size}"));
        std::future::ready(Ok(stored.collect()))
    }
}

/// Builds the example server; `addr` is where it listens (the retried endpoint calls itself).
pub(crate) fn example(addr: SocketAddr) -> Example {
    let stats = Arc::new(Stats::default());
    let semaphore = Arc::new(PrioritySemaphore::new(1));
    let cache: Cache<String, String> =
        Cache::builder().max_capacity(1000).build().expect("a valid cache");
    let (batched, batch_worker) = BatchLayer::new(4, Duration::from_secs(5))
        .pair(BulkWrite(Arc::clone(&stats)))
        .expect("a valid batch layer");

    let router = Router::new()
        .route("/flaky", get(flaky).with_state(Arc::clone(&stats)))
        .route_service("/retried", retried(addr))
        .route_service("/priority/{name}", prioritized(Arc::clone(&semaphore), &stats))
        .route_service("/limited", limited())
        .route_service("/keyed", keyed())
        .route_service("/cached/{id}", cached(cache.clone(), &stats))
        .route_service(
            "/batched/{value}",
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(batch_failed))
                .map_request(|request: Request| last_segment(request.uri()).parse().unwrap_or(0))
                .service(batched),
        );
    Example { router, batch_worker, stats, semaphore, cache }
}

fn last_segment(uri: &Uri) -> &str {
    uri.path().rsplit('/').next().unwrap_or_default()
}

// ---- GET /flaky and GET /retried: RetryLayer ----

async fn flaky(axum::extract::State(stats): axum::extract::State<Arc<Stats>>) -> Response {
    match stats.upstream_calls.fetch_add(1, SeqCst) {
        0 => {
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "busy").into_response()
        }
        1 => (StatusCode::SERVICE_UNAVAILABLE, "still busy").into_response(),
        _ => "upstream ok".into_response(),
    }
}

/// An upstream reply: its status, its `Retry-After`, its body.
type Upstream = (StatusCode, Option<Duration>, Bytes);

/// Retries 5xx and connection errors; a `Retry-After` in seconds becomes the delay.
fn classify(outcome: &Result<Upstream, hyper_util::client::legacy::Error>) -> Verdict {
    match outcome {
        Ok((status, Some(after), _)) if status.is_server_error() => Verdict::RetryAfter(*after),
        Ok((status, None, _)) if status.is_server_error() => Verdict::Retry,
        Ok(_) => Verdict::Fail,
        Err(_) => Verdict::Retry,
    }
}

fn retried(
    addr: SocketAddr,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let uri: Uri = format!("http://{addr}/flaky").parse().expect("a valid uri");
    let upstream = service_fn(move |()| {
        let (client, uri) = (client.clone(), uri.clone());
        async move {
            let response = client.get(uri).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok()?.parse().ok())
                .map(Duration::from_secs);
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            Ok((status, retry_after, body))
        }
    });
    // Short backoffs: a delay of a second or more comes from the upstream's Retry-After.
    let policy = RetryPolicy::builder()
        .backoff(Backoff::constant(Duration::from_millis(10)))
        .max_retries(3)
        .max_delay(Duration::from_secs(5))
        .build()
        .expect("a valid policy");
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(retry_failed))
        .map_request(|_: Request| ())
        .map_response(|(status, _, body): Upstream| (status, body).into_response())
        .layer(RetryLayer::new(policy, classify))
        .service(upstream)
}

async fn retry_failed(error: RetryError<hyper_util::client::legacy::Error>) -> Response {
    (StatusCode::BAD_GATEWAY, error.to_string()).into_response()
}

// ---- GET /priority/{name}: PriorityConcurrencyLimitLayer ----

fn priority_of(request: &Request) -> Priority {
    match request.headers().get("x-priority").map(|value| value.as_bytes()) {
        Some(b"high") => Priority::HIGH,
        Some(b"low") => Priority::LOW,
        _ => Priority::NORMAL,
    }
}

fn prioritized(
    semaphore: Arc<PrioritySemaphore>,
    stats: &Arc<Stats>,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let stats = Arc::clone(stats);
    let handler = service_fn(move |request: Request| {
        let stats = Arc::clone(&stats);
        async move {
            let name = last_segment(request.uri()).to_owned();
            stats.served.lock().expect("not poisoned").push(name.clone());
            if name == "holder" {
                stats.release_holder.notified().await;
            }
            Ok::<_, Infallible>(format!("served {name}").into_response())
        }
    });
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error: PriorityLimitError<Infallible>| async move {
            (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
        }))
        .layer(PriorityConcurrencyLimitLayer::new(
            semaphore,
            priority_of as fn(&Request) -> Priority,
        ))
        .service(handler)
}

// ---- GET /limited and GET /keyed: RateLimitLayer, KeyedRateLimitLayer ----

/// 429 with `Retry-After`, the way a rate-limited HTTP service answers.
async fn too_many_requests(error: RateLimitError<Infallible>) -> Response {
    match error.retry_after_secs() {
        Some(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            error.to_string(),
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn ok_handler() -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    service_fn(|_: Request| async { Ok::<_, Infallible>("ok".into_response()) })
}

fn limited() -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let limiter = Arc::new(RateLimiter::new(Quota::per_minute(1).expect("a valid quota")));
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(too_many_requests))
        .layer(RateLimitLayer::rejecting(limiter))
        .service(ok_handler())
}

fn client_of(request: &Request) -> Vec<u8> {
    request.headers().get("x-client").map(|value| value.as_bytes().to_vec()).unwrap_or_default()
}

fn keyed() -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let quota = Quota::per_minute(1).expect("a valid quota");
    let limiter = Arc::new(KeyedRateLimiter::new(quota, 10_000).expect("a valid limiter"));
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(too_many_requests))
        .layer(KeyedRateLimitLayer::new(limiter, client_of as fn(&Request) -> Vec<u8>))
        .service(ok_handler())
}

// ---- GET /cached/{id}: CacheLayer ----

fn cached(
    cache: Cache<String, String>,
    stats: &Arc<Stats>,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let stats = Arc::clone(stats);
    let lookup = service_fn(move |request: Request| {
        stats.lookups.fetch_add(1, SeqCst);
        let id = last_segment(request.uri()).to_owned();
        async move { Ok::<_, Infallible>(format!("user {id}")) }
    });
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error: ComputeError<Infallible>| async move {
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }))
        .map_response(IntoResponse::into_response)
        .layer(CacheLayer::new(cache, |request: &Request| request.uri().path().to_owned()))
        .service(lookup)
}

// ---- POST /batched/{value}: BatchLayer ----

async fn batch_failed(error: SubmitError<u32, Infallible>) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response()
}
