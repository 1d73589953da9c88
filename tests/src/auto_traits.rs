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
    let _: Option<Elapsed> = None;
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
