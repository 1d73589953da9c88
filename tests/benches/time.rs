//! `cargo xtask bench time`: `RealClock` against a bare `futures_timer::Delay`, `TokioClock`
//! against `tokio::time::sleep` and `AsyncIoClock` against `async_io::Timer` (smol's `Timer`).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use asynchronously::time::{AsyncIoClock, Clock, RealClock, TokioClock};
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

    native_clocks();
}

/// The runtime-native clocks against their runtime's own timer, created and polled the way a
/// task does: tokio's inside its runtime's context, async-io's with its global reactor.
fn native_clocks() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    bench::report(
        "time/sleep-register-tokio",
        "tokio-sleep",
        |iterations| {
            time_iterations(iterations, || {
                let mut sleep = TokioClock.sleep(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                // Pinned in place, as an `async fn` holds it: tokio's fastest case.
                let mut sleep =
                    std::pin::pin!(tokio::time::sleep(black_box(Duration::from_secs(1))));
                assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
            })
        },
    );
    let boxed = bench::compare(
        |iterations| {
            time_iterations(iterations, || {
                let mut sleep = TokioClock.sleep(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                // Boxed, as a struct that stores a sleep must (tokio's `Sleep` is `!Unpin`).
                let mut sleep = Box::pin(tokio::time::sleep(black_box(Duration::from_secs(1))));
                assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
            })
        },
    );
    bench::note(
        "time/sleep-register-tokio",
        &format!(
            "vs Box::pin(tokio::time::sleep): ours {:.1} ns tokio-sleep-boxed {:.1} ns ratio {:.2}",
            boxed.ours_ns,
            boxed.anchor_ns,
            boxed.ratio()
        ),
    );

    let mut sleep = TokioClock.sleep(Duration::from_secs(1));
    let mut next = TokioClock.now();
    let mut tokio_sleep = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
    let mut tokio_next = tokio::time::Instant::now();
    bench::report(
        "time/sleep-reset-tokio",
        "tokio-sleep",
        |iterations| {
            time_iterations(iterations, || {
                next += black_box(Duration::from_secs(1));
                TokioClock.reset(&mut sleep, next);
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                tokio_next += black_box(Duration::from_secs(1));
                tokio_sleep.as_mut().reset(tokio_next);
                assert!(
                    tokio_sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
    );

    bench::report(
        "time/sleep-register-async-io",
        "async-io-timer",
        |iterations| {
            time_iterations(iterations, || {
                let mut sleep = AsyncIoClock.sleep(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                let mut timer = smol::Timer::after(black_box(Duration::from_secs(1)));
                assert!(
                    Pin::new(&mut timer).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
    );

    let mut sleep = AsyncIoClock.sleep(Duration::from_secs(1));
    let mut next = AsyncIoClock.now();
    let mut timer = smol::Timer::after(Duration::from_secs(1));
    let mut timer_next = AsyncIoClock.now();
    bench::report(
        "time/sleep-reset-async-io",
        "async-io-timer",
        |iterations| {
            time_iterations(iterations, || {
                next += black_box(Duration::from_secs(1));
                AsyncIoClock.reset(&mut sleep, next);
                assert!(
                    Pin::new(&mut sleep).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
        |iterations| {
            time_iterations(iterations, || {
                timer_next += black_box(Duration::from_secs(1));
                timer.set_at(timer_next);
                assert!(
                    Pin::new(&mut timer).poll(&mut Context::from_waker(Waker::noop())).is_pending()
                );
            })
        },
    );
}
