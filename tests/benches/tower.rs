//! `cargo bench -p asynchronously-tests --bench tower`: our tower layers against tower's own,
//! each on its hot path (nothing to retry, a free permit, a conforming request): one
//! `poll_ready`, one `call` and the response future polled to completion, per operation.

use std::convert::Infallible;
use std::future::{Future, Ready, poll_fn, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
use asynchronously::ratelimit::{Quota, RateLimiter};
use asynchronously::retry::{RetryPolicy, Verdict};
use asynchronously::tower::{PriorityConcurrencyLimitLayer, RateLimitLayer, RetryLayer};
use asynchronously_tests::bench;
use tower::{Layer, Service};

/// The inner service: answers at once, clones for free (like most routing leaves).
#[derive(Clone, Copy)]
struct Echo;

impl Service<u32> for Echo {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: u32) -> Self::Future {
        ready(Ok(request))
    }
}

#[inline(always)]
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the hot path completes at once"),
    }
}

/// One request through `service`: `poll_ready`, `call`, the response future to completion.
#[inline(always)]
fn one<S: Service<u32>>(service: &mut S) -> Result<S::Response, S::Error> {
    now(poll_fn(|cx| service.poll_ready(cx)))?;
    now(service.call(black_box(7)))
}

fn classify(outcome: &Result<u32, Infallible>) -> Verdict {
    if outcome.is_ok() { Verdict::Fail } else { Verdict::Retry }
}

/// tower's retry policy for the same job: retry errors (there are none), clone the request.
#[derive(Clone, Copy)]
struct RetryErrors;

impl tower::retry::Policy<u32, u32, Infallible> for RetryErrors {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u32, result: &mut Result<u32, Infallible>) -> Option<Ready<()>> {
        result.is_err().then(|| ready(()))
    }

    fn clone_request(&mut self, request: &u32) -> Option<u32> {
        Some(*request)
    }
}

fn retry_layer_ok() {
    let mut ours = RetryLayer::new(RetryPolicy::default(), classify as fn(&_) -> _).layer(Echo);
    let mut theirs = tower::retry::RetryLayer::new(RetryErrors).layer(Echo);
    bench::report(
        "tower/retry-layer-ok",
        "tower-retry",
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut ours));
            })
        },
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut theirs));
            })
        },
    );
}

fn concurrency_limit_ready() {
    let semaphore = Arc::new(PrioritySemaphore::new(64));
    let priority = |_: &u32| Priority::NORMAL;
    let mut ours = PriorityConcurrencyLimitLayer::new(semaphore, priority).layer(Echo);
    let mut theirs = tower::limit::ConcurrencyLimitLayer::new(64).layer(Echo);
    bench::report(
        "tower/concurrency-limit-ready",
        "tower-concurrency-limit",
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut ours));
            })
        },
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut theirs));
            })
        },
    );
}

fn rate_limit_ready() {
    // tower's RateLimit sleeps on tokio's timer, so it needs a runtime context to be built.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    // A billion per second: never limited within a sample, so both stay on the ready path.
    let quota = Quota::new(1_000_000_000, Duration::from_secs(1)).expect("a valid quota");
    let mut ours = RateLimitLayer::waiting(Arc::new(RateLimiter::new(quota))).layer(Echo);
    let mut theirs =
        tower::limit::RateLimitLayer::new(1_000_000_000, Duration::from_secs(1)).layer(Echo);
    bench::report(
        "tower/rate-limit-ready",
        "tower-rate-limit",
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut ours));
            })
        },
        |iterations| {
            bench::time_iterations(iterations, || {
                let _ = black_box(one(&mut theirs));
            })
        },
    );
}

fn main() {
    retry_layer_ok();
    concurrency_limit_ready();
    rate_limit_ready();
}
