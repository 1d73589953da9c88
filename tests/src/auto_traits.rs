//! Compile-time checks that returned futures and handles keep their auto traits.
//! Losing one of these is a breaking change, so it fails the build.

#![allow(dead_code, reason = "the functions are compile-time assertions, never called")]

use std::time::Duration;

use asynchronously::time::{Clock, Elapsed, RealClock, VirtualClock, timeout};

fn assert_send_sync<T: Send + Sync>(_: &T) {}
fn assert_send_sync_unpin<T: Send + Sync + Unpin>(_: &T) {}

fn time() {
    let clock = VirtualClock::new();
    assert_send_sync_unpin(&clock);
    assert_send_sync_unpin(&clock.sleep(Duration::ZERO));
    assert_send_sync_unpin(&clock.run_for(Duration::ZERO));
    assert_send_sync_unpin(&RealClock.sleep(Duration::ZERO));
    assert_send_sync(&timeout(&RealClock, Duration::ZERO, std::future::ready(())));
    assert_send_sync_unpin(&timeout(&clock, Duration::ZERO, std::future::ready(())));
    #[cfg(feature = "tokio")]
    assert_send_sync_unpin(&asynchronously::time::TokioClock.sleep(Duration::ZERO));
    #[cfg(feature = "tokio")]
    assert_send_sync_unpin(&timeout(
        &asynchronously::time::TokioClock,
        Duration::ZERO,
        std::future::ready(()),
    ));
    #[cfg(any(feature = "smol", feature = "async-std"))]
    assert_send_sync_unpin(&asynchronously::time::AsyncIoClock.sleep(Duration::ZERO));
    let _: Option<Elapsed> = None;
}

fn ratelimit() {
    use asynchronously::ratelimit::{
        CompositeRateLimiter, FifoLockout, Lockout, Quota, RateLimitExt, RateLimiter, SlidingWindow,
    };

    let clock = VirtualClock::new();
    let quota = Quota::per_second(1).expect("valid");
    let limiter = RateLimiter::with_clock(quota, clock.clone());
    assert_send_sync_unpin(&limiter.acquire(1));
    assert_send_sync_unpin(&limiter.reserve(1));
    let shared = std::sync::Arc::new(RateLimiter::with_clock(quota, clock.clone()));
    assert_send_sync_unpin(&shared.acquire_owned(1));
    let composite = CompositeRateLimiter::with_clock([quota], clock.clone()).expect("valid");
    assert_send_sync_unpin(&composite.acquire(1));
    let window =
        SlidingWindow::with_clock(1, Duration::from_secs(1), clock.clone()).expect("valid");
    assert_send_sync_unpin(&window.acquire());
    assert_send_sync_unpin(&futures::stream::iter([1]).rate_limited(&limiter));
    let lockout = Lockout::with_clock(clock.clone());
    assert_send_sync_unpin(&lockout.enter());
    let fifo = FifoLockout::with_clock(clock);
    assert_send_sync_unpin(&fifo.enter());
}

fn cache() {
    use asynchronously::cache::{Cache, Memoize};

    let cache: Cache<u32, u32> = Cache::builder().build().unwrap();
    assert_send_sync(&cache);
    assert_send_sync_unpin(&cache.get_or_compute(1, || async { 1 }));
    assert_send_sync_unpin(&cache.try_get_or_compute(1, || async { Ok::<_, std::io::Error>(1) }));
    assert_send_sync_unpin(&cache.get_or_compute(1, || async { 1 }).with_outcome());
    assert_send_sync_unpin(&cache.worker());
    let memo = Memoize::new(cache, |n: u32| async move { n });
    assert_send_sync(&memo);
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&memo.call(1));
}

fn lifecycle() {
    use asynchronously::lifecycle::{Lifecycle, run_until_shutdown};

    fn assert_send<T: Send>(_: &T) {}
    let lifecycle = Lifecycle::builder().with_clock(VirtualClock::new()).build().unwrap();
    assert_send_sync(&lifecycle);
    assert_send(&lifecycle.init());
    assert_send(&lifecycle.deinit());
    assert_send(&lifecycle.ready());
    assert_send(&run_until_shutdown(&lifecycle, std::future::ready(())));
    assert_send_sync_unpin(&lifecycle.shutdown().wait());
    #[cfg(unix)]
    assert_send(&lifecycle.shutdown().on_signals());
}

fn tower() {
    use std::sync::Arc;

    use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    use asynchronously::ratelimit::{Quota, RateLimiter};
    use asynchronously::retry::{RetryPolicy, Verdict};
    use asynchronously::tower::{PriorityConcurrencyLimitLayer, RateLimitLayer, RetryLayer};
    use tower::{Layer, Service, service_fn};

    let echo = service_fn(|n: u32| async move { Ok::<u32, std::io::Error>(n) });
    let classify = |_: &Result<u32, std::io::Error>| Verdict::Fail;
    let mut retry = RetryLayer::new(RetryPolicy::default(), classify).layer(echo);
    assert_send_sync(&retry);
    let retried = retry.call(1);
    let _: &dyn Send = &retried;
    let semaphore = Arc::new(PrioritySemaphore::new(1));
    let mut limit =
        PriorityConcurrencyLimitLayer::new(semaphore, |_: &u32| Priority::NORMAL).layer(echo);
    assert_send_sync(&limit);
    assert_send_sync(&limit.call(1));
    let limiter = Arc::new(RateLimiter::new(Quota::per_second(1).expect("valid")));
    let mut rate = RateLimitLayer::waiting(limiter).layer(echo);
    assert_send_sync(&rate);
    assert_send_sync(&rate.call(1));
}
