//! `cargo xtask bench time`: `RealClock` against a bare `futures_timer::Delay`.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use asynchronously::time::{Clock, RealClock};
use asynchronously_tests::bench::{self, time_iterations};
use futures_timer::Delay;

fn main() {
    // Create a one-second sleep, poll it once (which arms the timer), drop it.
    bench::report(
        "time/sleep-register",
        "futures-timer",
        |iterations| {
            time_iterations(iterations, || {
                let mut sleep = RealClock.sleep(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                let mut delay = Delay::new(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut delay).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
    );

    // Re-arm one long-lived sleep to the next instant of a one-second grid and poll it, as a
    // periodic loop does. (futures-timer takes a duration, so its grid is implicit.)
    let mut sleep = RealClock.sleep(Duration::from_secs(1));
    let mut next = RealClock.now();
    let mut delay = Delay::new(Duration::from_secs(1));
    bench::report(
        "time/sleep-reset",
        "futures-timer",
        |iterations| {
            time_iterations(iterations, || {
                next += black_box(Duration::from_secs(1));
                RealClock.reset(&mut sleep, next);
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                delay.reset(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut delay).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
    );
}
