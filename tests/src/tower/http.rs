//! Serves the axum example on 127.0.0.1 (an ephemeral port) and drives it with a real HTTP
//! client: every assertion is about what went over the wire, plus the server's counters.

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::app;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// One request; returns the status, the headers and the body.
async fn send(
    client: &HttpClient,
    method: Method,
    url: String,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Empty::new()).expect("a valid request")).await;
    let response = response.expect("the server answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a whole body").to_bytes();
    (parts.status, parts.headers, String::from_utf8(body.to_vec()).expect("utf-8"))
}

/// Waits until `condition` holds: the server's state is observed, not guessed with a sleep
/// (each check yields for a millisecond; the caller's timeout bounds the whole test).
async fn until(condition: impl Fn() -> bool) {
    while !condition() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub(super) async fn drive_the_example() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("bound");
    let app::Example { router, batch_worker, stats, semaphore, cache } = app::example(addr);
    let worker = tokio::spawn(batch_worker);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = |path: &str| format!("http://{addr}{path}");

    // Retried upstream failures: two 503s, the first with `Retry-After: 1`, then a 200.
    let started = Instant::now();
    let (status, _, body) = send(&client, Method::GET, url("/retried"), &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "upstream ok"));
    assert_eq!(stats.upstream_calls.load(SeqCst), 3, "two failures retried");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the upstream's Retry-After: 1 replaced the 10 ms backoff"
    );

    // Priorities under contention: one permit, held; then low, low, high queue up.
    let request = |name: &str, priority: &'static str| {
        let (client, url) = (client.clone(), url(&format!("/priority/{name}")));
        tokio::spawn(
            async move { send(&client, Method::GET, url, &[("x-priority", priority)]).await },
        )
    };
    let holder = request("holder", "low");
    until(|| stats.served.lock().unwrap().len() == 1).await;
    let mut queued = Vec::new();
    for (waiting, (name, priority)) in
        [("low-1", "low"), ("low-2", "low"), ("high", "high")].into_iter().enumerate()
    {
        queued.push(request(name, priority));
        until(|| semaphore.waiting_total() == waiting + 1).await;
    }
    stats.release_holder.notify_one();
    assert_eq!(holder.await.expect("joined").0, StatusCode::OK);
    for request in queued {
        assert_eq!(request.await.expect("joined").0, StatusCode::OK);
    }
    assert_eq!(*stats.served.lock().unwrap(), ["holder", "high", "low-1", "low-2"]);
    assert_eq!(semaphore.available_permits(), 1);

    // 429 with Retry-After when rate-limited: one request per minute.
    let (status, _, _) = send(&client, Method::GET, url("/limited"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = send(&client, Method::GET, url("/limited"), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "60", "a minute, rounded up to whole seconds");
    // Per client: alice's second request is limited, bob's first is not.
    for (client_id, expected) in [
        ("alice", StatusCode::OK),
        ("alice", StatusCode::TOO_MANY_REQUESTS),
        ("bob", StatusCode::OK),
    ] {
        let (status, _, _) =
            send(&client, Method::GET, url("/keyed"), &[("x-client", client_id)]).await;
        assert_eq!(status, expected, "{client_id}");
    }

    // Cached responses, counted: three requests, one lookup.
    for _ in 0..3 {
        let (status, _, body) = send(&client, Method::GET, url("/cached/7"), &[]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "user 7"));
    }
    assert_eq!(stats.lookups.load(SeqCst), 1);
    assert_eq!(cache.stats().hits, 2);

    // Batched writes: four concurrent requests, one batch of four.
    let writes: Vec<_> = (1..=4)
        .map(|value| {
            let (client, url) = (client.clone(), url(&format!("/batched/{value}")));
            tokio::spawn(async move { send(&client, Method::POST, url, &[]).await })
        })
        .collect();
    for (value, write) in (1..=4).zip(writes) {
        let (status, _, body) = write.await.expect("joined");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("stored {value} in a batch of 4"));
    }
    assert_eq!(*stats.batches.lock().unwrap(), [4]);

    server.abort();
    let _ = server.await;
    worker.await.expect("the worker ends once the router (and its batch service) is gone");
}
