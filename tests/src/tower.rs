//! Behaviour tests of `asynchronously::tower`: every layer under every runtime, timing on
//! virtual time; and the axum example served on 127.0.0.1 and driven over real HTTP (tokio
//! only: axum runs on tokio).

mod app;
mod http;

use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use asynchronously::cache::{Cache, ComputeError};
use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
use asynchronously::ratelimit::{KeyedRateLimiter, Quota, RateLimiter};
use asynchronously::retry::{Backoff, RetryBudget, RetryError, RetryPolicy, Verdict};
use asynchronously::time::{Clock, VirtualClock};
use asynchronously::tower::{
    BatchLayer, CacheLayer, KeyedRateLimitLayer, PriorityConcurrencyLimitLayer, PriorityLimitError,
    RateLimitError, RateLimitLayer, RetryLayer,
};
use asynchronously::waterfall::SubmitError;
use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::{Shared, join_all};
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::runtime_test;
use crate::support::{ms, poll_once, secs};

// Compile-time promises: the services and their futures can be moved to other tasks.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<asynchronously::tower::future::RateLimitFuture<std::future::Ready<()>>>();
    assert_send::<asynchronously::tower::future::CacheFuture<String, std::io::Error>>();
    assert_send::<asynchronously::tower::future::BatchFuture<u32, u32, std::io::Error>>();
    assert_send::<asynchronously::tower::RateLimit<(), VirtualClock>>();
};

type Io = std::io::Error;

/// A status, and the `Retry-After` an upstream sent with it.
type Reply = (u16, Option<Duration>);

/// Retries 5xx and errors; a `Retry-After` the response carried becomes the delay.
fn classify(outcome: &Result<Reply, Io>) -> Verdict {
    match outcome {
        Ok((status, Some(after))) if *status >= 500 => Verdict::RetryAfter(*after),
        Ok((status, None)) if *status >= 500 => Verdict::Retry,
        Ok(_) => Verdict::Fail,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => Verdict::Fail,
        Err(_) => Verdict::Retry,
    }
}

/// An upstream answering the scripted replies in order (the last one from then on), counting
/// its calls. `Err("denied")` is a permanent error, any other `Err` a connection error.
fn scripted(
    replies: Vec<Result<Reply, &'static str>>,
) -> (
    impl Service<u32, Response = Reply, Error = Io, Future: Send> + Clone + Send + 'static,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let replies = Arc::new(replies);
    let service = service_fn(move |_request: u32| {
        let call = counter.fetch_add(1, SeqCst) as usize;
        let reply = replies[call.min(replies.len() - 1)];
        async move {
            reply.map_err(|kind| match kind {
                "denied" => Io::from(std::io::ErrorKind::PermissionDenied),
                _ => Io::other("connection reset"),
            })
        }
    });
    (service, calls)
}

fn policy(clock: &VirtualClock, retries: u32) -> RetryPolicy<VirtualClock> {
    RetryPolicy::builder()
        .backoff(Backoff::constant(secs(1)))
        .max_retries(retries)
        .with_clock(clock.clone())
        .build()
        .expect("a valid policy")
}

// ---- RetryLayer ----

runtime_test!(
    async fn retry_layer_retries_5xx_responses_and_errors_until_a_final_response() {
        let clock = VirtualClock::new();
        let (upstream, calls) =
            scripted(vec![Ok((503, None)), Err("reset"), Ok((200, None)), Ok((500, None))]);
        let service = RetryLayer::new(policy(&clock, 5), classify).layer(upstream);
        let mut call = pin!(service.oneshot(1));
        assert!(poll_once(&mut call).is_pending());
        clock.advance(secs(1));
        assert!(poll_once(&mut call).is_pending());
        assert_eq!(calls.load(SeqCst), 2);
        clock.advance(secs(1));
        match poll_once(&mut call) {
            Poll::Ready(Ok(reply)) => assert_eq!(reply, (200, None)),
            other => panic!("expected the 200 after two 1 s backoffs, got {other:?}"),
        }
        assert_eq!(calls.load(SeqCst), 3, "stops at the first final response");
    }
);

runtime_test!(
    async fn retry_layer_honours_the_retry_after_the_classifier_extracts() {
        let clock = VirtualClock::new();
        let (upstream, calls) = scripted(vec![Ok((503, Some(secs(7)))), Ok((200, None))]);
        let service = RetryLayer::new(policy(&clock, 3), classify).layer(upstream);
        let mut call = pin!(service.oneshot(1));
        assert!(poll_once(&mut call).is_pending());
        clock.advance(secs(6));
        assert!(poll_once(&mut call).is_pending(), "Retry-After: 7 s replaces the 1 s backoff");
        assert_eq!(calls.load(SeqCst), 1);
        clock.advance(secs(1));
        assert!(matches!(poll_once(&mut call), Poll::Ready(Ok((200, None)))));
        assert_eq!(calls.load(SeqCst), 2);
    }
);

runtime_test!(
    async fn retry_layer_returns_the_last_response_when_retries_run_out() {
        let clock = VirtualClock::new();
        let (upstream, calls) = scripted(vec![Ok((503, None))]);
        let service = RetryLayer::new(policy(&clock, 2), classify).layer(upstream);
        let (reply, ()) = futures::join!(service.oneshot(1), clock.run_for(secs(5)));
        assert_eq!(reply.expect("the upstream's last answer"), (503, None));
        assert_eq!(calls.load(SeqCst), 3);
    }
);

runtime_test!(
    async fn retry_layer_reports_errors_with_typed_retry_errors() {
        let clock = VirtualClock::new();
        let (upstream, calls) = scripted(vec![Err("reset")]);
        let service = RetryLayer::new(policy(&clock, 2), classify).layer(upstream);
        let (reply, ()) = futures::join!(service.oneshot(1), clock.run_for(secs(5)));
        assert!(matches!(reply, Err(RetryError::Exhausted { attempts: 3, .. })), "{reply:?}");
        assert_eq!(calls.load(SeqCst), 3);

        let (upstream, calls) = scripted(vec![Err("denied")]);
        let service = RetryLayer::new(policy(&clock, 2), classify).layer(upstream);
        let reply = service.oneshot(1).await;
        assert!(matches!(reply, Err(RetryError::Permanent { attempts: 1, .. })), "{reply:?}");
        assert_eq!(calls.load(SeqCst), 1, "a permanent error is not retried");
    }
);

runtime_test!(
    async fn retry_layer_stops_retrying_when_the_shared_budget_is_spent() {
        let clock = VirtualClock::new();
        // No retries banked, none earned per call: every retry is refused.
        let budget = RetryBudget::with_clock(clock.clone(), 0.0, 0, 0).expect("a budget");
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(secs(1)))
            .max_retries(5)
            .budget(budget)
            .with_clock(clock.clone())
            .build()
            .expect("a valid policy");
        let (upstream, calls) = scripted(vec![Ok((503, None))]);
        let service = RetryLayer::new(policy, classify).layer(upstream);
        let reply = service.oneshot(1).await;
        assert_eq!(reply.expect("the 503 the budget left us with"), (503, None));
        assert_eq!(calls.load(SeqCst), 1, "no retry without budget");
    }
);

runtime_test!(
    async fn dropping_a_retry_future_during_its_backoff_stops_every_attempt() {
        let clock = VirtualClock::new();
        let (upstream, calls) = scripted(vec![Ok((503, None))]);
        let service = RetryLayer::new(policy(&clock, 5), classify).layer(upstream);
        let mut call = Box::pin(service.oneshot(1));
        assert!(poll_once(&mut call).is_pending());
        assert_eq!(clock.pending_sleepers(), 1, "sleeping before the retry");
        drop(call);
        assert_eq!(clock.pending_sleepers(), 0, "the sleep went with the future");
        clock.run_for(secs(10)).await;
        assert_eq!(calls.load(SeqCst), 1);
    }
);

// ---- PriorityConcurrencyLimitLayer ----

/// A service that records the order requests reach it, each finishing when its gate opens.
#[derive(Clone)]
struct Gated {
    order: Arc<Mutex<Vec<&'static str>>>,
    gate: Shared<oneshot::Receiver<()>>,
}

impl Service<(&'static str, Priority)> for Gated {
    type Response = &'static str;
    type Error = Io;
    type Future = futures::future::BoxFuture<'static, Result<&'static str, Io>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Io>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (name, _): (&'static str, Priority)) -> Self::Future {
        self.order.lock().unwrap().push(name);
        let gate = self.gate.clone();
        Box::pin(async move {
            let _ = gate.await;
            Ok(name)
        })
    }
}

fn gated() -> (Gated, oneshot::Sender<()>, Arc<Mutex<Vec<&'static str>>>) {
    let (open, gate) = oneshot::channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    (Gated { order: Arc::clone(&order), gate: gate.shared() }, open, order)
}

fn by_priority(request: &(&'static str, Priority)) -> Priority {
    request.1
}

runtime_test!(
    async fn priority_limit_serves_queued_requests_by_priority_then_fifo() {
        let (inner, open, order) = gated();
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let layer = PriorityConcurrencyLimitLayer::new(Arc::clone(&semaphore), by_priority);
        let service = layer.layer(inner);
        let mut holder = Box::pin(service.clone().oneshot(("holder", Priority::LOW)));
        assert!(poll_once(&mut holder).is_pending());
        assert_eq!(semaphore.available_permits(), 0, "the holder runs");
        let mut queued: Vec<_> = [
            ("low-1", Priority::LOW),
            ("normal", Priority::NORMAL),
            ("low-2", Priority::LOW),
            ("high", Priority::HIGH),
        ]
        .into_iter()
        .map(|request| Box::pin(service.clone().oneshot(request)))
        .collect();
        for call in &mut queued {
            assert!(poll_once(call).is_pending());
        }
        assert_eq!(semaphore.waiting_total(), 4);
        open.send(()).expect("the gate is open");
        let (held, served) = futures::join!(holder, join_all(queued));
        assert_eq!(held.expect("served"), "holder");
        assert!(served.iter().all(Result::is_ok));
        assert_eq!(*order.lock().unwrap(), ["holder", "high", "normal", "low-1", "low-2"]);
        assert_eq!(semaphore.available_permits(), 1, "every permit came back");
    }
);

runtime_test!(
    async fn priority_limit_releases_permits_of_dropped_futures_waiting_or_running() {
        let (inner, open, order) = gated();
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let service =
            PriorityConcurrencyLimitLayer::new(Arc::clone(&semaphore), by_priority).layer(inner);
        let mut running = Box::pin(service.clone().oneshot(("running", Priority::NORMAL)));
        assert!(poll_once(&mut running).is_pending());
        let mut waiting = Box::pin(service.clone().oneshot(("waiting", Priority::HIGH)));
        assert!(poll_once(&mut waiting).is_pending());
        assert_eq!(semaphore.waiting_total(), 1);
        drop(waiting);
        assert_eq!(semaphore.waiting_total(), 0, "a dropped waiter leaves the queue");
        drop(running);
        assert_eq!(semaphore.available_permits(), 1, "a dropped running call releases");
        // A permit taken by `poll_ready` is the service's until `call`, and goes with it.
        let mut ready = service.clone();
        ready.ready().await.expect("ready");
        assert_eq!(semaphore.available_permits(), 0);
        drop(ready);
        assert_eq!(semaphore.available_permits(), 1);
        drop(open);
        assert_eq!(*order.lock().unwrap(), ["running"], "the dropped waiter was never sent");
    }
);

runtime_test!(
    async fn priority_limit_reports_a_closed_semaphore() {
        let (inner, _open, _order) = gated();
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let service =
            PriorityConcurrencyLimitLayer::new(Arc::clone(&semaphore), by_priority).layer(inner);
        let mut running = Box::pin(service.clone().oneshot(("running", Priority::NORMAL)));
        assert!(poll_once(&mut running).is_pending());
        let waiting = service.clone().oneshot(("waiting", Priority::NORMAL));
        semaphore.close();
        assert!(matches!(waiting.await, Err(PriorityLimitError::Closed)));
        let mut fresh = service.clone();
        assert!(matches!(fresh.ready().await, Err(PriorityLimitError::Closed)));
    }
);

// ---- RateLimitLayer, KeyedRateLimitLayer ----

fn ok200() -> impl Service<u32, Response = u16, Error = Io, Future: Send> + Clone + Send + 'static {
    service_fn(|_request: u32| async { Ok::<u16, Io>(200) })
}

fn one_per_second(clock: &VirtualClock) -> Arc<RateLimiter<VirtualClock>> {
    Arc::new(RateLimiter::with_clock(Quota::per_second(1).expect("a quota"), clock.clone()))
}

runtime_test!(
    async fn rejecting_rate_limit_answers_rate_limited_with_retry_after() {
        let clock = VirtualClock::new();
        let mut service = RateLimitLayer::rejecting(one_per_second(&clock)).layer(ok200());
        assert_eq!(service.ready().await.expect("ready").call(1).await.expect("conforms"), 200);
        clock.advance(ms(250));
        let error = service.ready().await.expect("ready").call(2).await.unwrap_err();
        assert!(
            matches!(error, RateLimitError::RateLimited { retry_after } if retry_after == ms(750)),
            "{error:?}"
        );
        assert_eq!(error.retry_after_secs(), Some(1), "the header rounds up");
        clock.advance(ms(750));
        assert_eq!(service.ready().await.expect("ready").call(3).await.expect("conforms"), 200);
    }
);

runtime_test!(
    async fn waiting_rate_limit_admits_waiters_in_arrival_order_at_their_instants() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let service = RateLimitLayer::waiting(one_per_second(&clock)).layer(ok200());
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let callers = join_all((0..4).map(|n| {
            let (service, admitted, clock) =
                (service.clone(), Arc::clone(&admitted), clock.clone());
            async move {
                let reply = service.oneshot(n).await.expect("waits, never rejects");
                admitted.lock().unwrap().push((n, clock.now() - start));
                reply
            }
        }));
        let (replies, ()) = futures::join!(callers, clock.run_for(secs(5)));
        assert_eq!(replies, [200; 4]);
        let expected: Vec<_> = (0..4).map(|n| (n, secs(u64::from(n)))).collect();
        assert_eq!(*admitted.lock().unwrap(), expected);
    }
);

runtime_test!(
    async fn a_dropped_waiting_service_returns_its_reserved_cell() {
        let clock = VirtualClock::new();
        let limiter = one_per_second(&clock);
        let service = RateLimitLayer::waiting(Arc::clone(&limiter)).layer(ok200());
        let mut first = service.clone();
        first.ready().await.expect("conforms at once");
        let mut second = service.clone();
        let mut waiting = Box::pin(async move {
            second.ready().await.map(|_| ())?;
            Ok::<_, RateLimitError<Io>>(second)
        });
        assert!(poll_once(&mut waiting).is_pending(), "reserved the cell due at 1 s");
        assert_eq!(limiter.queued(), 1);
        drop(waiting);
        assert_eq!(limiter.queued(), 0, "the reservation was cancelled");
        clock.advance(secs(1));
        let mut third = service.clone();
        assert!(poll_once(&mut Box::pin(third.ready())).is_ready(), "the returned cell is free");
    }
);

runtime_test!(
    async fn keyed_rate_limit_limits_each_key_on_its_own() {
        let clock = VirtualClock::new();
        let limiter = Arc::new(
            KeyedRateLimiter::with_clock(
                Quota::per_second(1).expect("a quota"),
                100,
                clock.clone(),
            )
            .expect("a limiter"),
        );
        let mut service =
            KeyedRateLimitLayer::new(limiter, |request: &u32| request % 2).layer(ok200());
        for request in [0, 1] {
            assert_eq!(service.ready().await.expect("ready").call(request).await.ok(), Some(200));
        }
        let error = service.ready().await.expect("ready").call(2).await.unwrap_err();
        assert!(
            matches!(error, RateLimitError::RateLimited { retry_after } if retry_after == secs(1))
        );
        clock.advance(secs(1));
        assert_eq!(service.ready().await.expect("ready").call(2).await.ok(), Some(200));
    }
);

// ---- CacheLayer ----

/// A lookup that counts its calls and answers when its gate opens; `id` 0 fails.
fn lookup(
    gate: Shared<oneshot::Receiver<()>>,
) -> (
    impl Service<u32, Response = String, Error = Io, Future: Send> + Clone + Send + 'static,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let service = service_fn(move |id: u32| {
        counter.fetch_add(1, SeqCst);
        let gate = gate.clone();
        async move {
            let _ = gate.await;
            if id == 0 { Err(Io::other("not found")) } else { Ok(format!("user {id}")) }
        }
    });
    (service, calls)
}

runtime_test!(
    async fn cache_layer_makes_one_inner_call_for_concurrent_requests_of_a_key() {
        let (open, gate) = oneshot::channel::<()>();
        let (inner, calls) = lookup(gate.shared());
        let cache: Cache<u32, String> = Cache::builder().build().expect("a cache");
        let service = CacheLayer::new(cache.clone(), |id: &u32| *id).layer(inner);
        let mut requests: Vec<_> = (0..10).map(|_| Box::pin(service.clone().oneshot(7))).collect();
        for request in &mut requests {
            assert!(poll_once(request).is_pending());
        }
        // One caller gives up: the shared call goes on for the others.
        drop(requests.pop());
        open.send(()).expect("open");
        let replies = join_all(requests).await;
        assert!(replies.iter().all(|reply| reply.as_deref().ok() == Some("user 7")));
        assert_eq!(calls.load(SeqCst), 1, "single flight");
        assert_eq!(service.clone().oneshot(7).await.expect("a hit"), "user 7");
        assert_eq!(calls.load(SeqCst), 1);
        assert_eq!(cache.stats().hits, 1);
    }
);

runtime_test!(
    async fn cache_layer_shares_errors_but_does_not_store_them() {
        let (open, gate) = oneshot::channel::<()>();
        open.send(()).expect("open");
        let (inner, calls) = lookup(gate.shared());
        let cache: Cache<u32, String> = Cache::builder().build().expect("a cache");
        let service = CacheLayer::new(cache, |id: &u32| *id).layer(inner);
        for expected_calls in [1, 2] {
            let error = service.clone().oneshot(0).await.unwrap_err();
            assert!(
                matches!(&error, ComputeError::Failed(error) if error.to_string() == "not found")
            );
            assert_eq!(calls.load(SeqCst), expected_calls, "the error was not cached");
        }
    }
);

// ---- BatchLayer ----

/// The batches a bulk insert received.
type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

/// A bulk insert recording its batches; answers each row with `row * 10`, fails on row 0.
fn bulk_insert() -> (
    impl Service<Vec<u32>, Response = Vec<u32>, Error = Io, Future: Send> + Clone + Send + 'static,
    Batches,
) {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&batches);
    let service = service_fn(move |rows: Vec<u32>| {
        log.lock().unwrap().push(rows.clone());
        async move {
            if rows.contains(&0) {
                return Err(Io::other("constraint violated"));
            }
            Ok(rows.iter().map(|row| row * 10).collect())
        }
    });
    (service, batches)
}

runtime_test!(
    async fn batch_layer_sends_full_batches_at_once_and_the_rest_after_max_wait() {
        let clock = VirtualClock::new();
        let (inner, batches) = bulk_insert();
        let (service, worker) = BatchLayer::new(3, secs(1))
            .with_clock(clock.clone())
            .pair(inner)
            .expect("a valid layer");
        let calls: Vec<_> = (1..=5).map(|row| service.clone().oneshot(row)).collect();
        drop(service);
        let (replies, (), ()) = futures::join!(join_all(calls), worker, clock.run_for(secs(2)));
        let replies: Vec<u32> = replies.into_iter().map(|reply| reply.expect("inserted")).collect();
        assert_eq!(replies, [10, 20, 30, 40, 50], "each caller gets its own response");
        assert_eq!(*batches.lock().unwrap(), [vec![1, 2, 3], vec![4, 5]]);
    }
);

runtime_test!(
    async fn batch_layer_shares_a_batch_error_and_drops_cancelled_requests() {
        let clock = VirtualClock::new();
        let (inner, batches) = bulk_insert();
        let (service, worker) = BatchLayer::new(10, secs(1))
            .with_clock(clock.clone())
            .pair(inner)
            .expect("a valid layer");
        let mut cancelled = Box::pin(service.clone().oneshot(99));
        assert!(poll_once(&mut cancelled).is_pending(), "queued");
        drop(cancelled);
        let calls = join_all([0, 1].map(|row| service.clone().oneshot(row)));
        drop(service);
        let (replies, (), ()) = futures::join!(calls, worker, clock.run_for(secs(2)));
        assert!(replies.iter().all(|reply| matches!(reply, Err(SubmitError::Failed(_)))));
        assert_eq!(*batches.lock().unwrap(), [vec![0, 1]], "the cancelled row was not sent");
    }
);

runtime_test!(
    async fn batch_layer_rejects_zero_sizes_with_a_typed_error() {
        let (inner, _) = bulk_insert();
        assert!(BatchLayer::new(0, secs(1)).pair(inner.clone()).is_err());
        assert!(BatchLayer::new(1, Duration::ZERO).pair(inner).is_err());
    }
);

// ---- The axum example over real HTTP ----

#[cfg(feature = "tokio")]
#[test]
fn axum_example_serves_every_layer_over_real_http() {
    // Sockets need tokio's IO driver, which the suite's virtual-time runtime leaves off.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let run = http::drive_the_example();
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("bounded")
    });
}
