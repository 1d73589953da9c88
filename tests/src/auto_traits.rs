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
