//! The runtime-native clocks: `TokioClock` under tokio's paused time, `AsyncIoClock` under smol
//! and async-std. Each runtime's tests need that runtime, so they are gated by its feature
//! instead of running through `runtime_test!`.

#[cfg(feature = "tokio")]
mod tokio_clock {
    use std::future::Future;
    use std::pin::{Pin, pin};
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use asynchronously::gather::{BlockOnError, RunError, block_on, run};
    use asynchronously::periodic::{Cadence, Periodic};
    use asynchronously::retry::{Backoff, RetryError, RetryPolicy};
    use asynchronously::time::{Clock, TokioClock, timeout};

    use crate::support::ms;

    /// Paused time runs ahead of the wall clock; a second of real time is far more than any of
    /// these tests needs, and far less than the virtual time each one covers.
    const REAL_TIME_BOUND: Duration = Duration::from_secs(1);

    fn flaky(calls: &Arc<AtomicU32>, failures: u32) -> impl FnMut() -> FlakyCall + Send + 'static {
        let calls = Arc::clone(calls);
        move || {
            let call = calls.fetch_add(1, Relaxed) + 1;
            std::future::ready(if call <= failures { Err(Busy) } else { Ok(call) })
        }
    }

    type FlakyCall = std::future::Ready<Result<u32, Busy>>;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Busy;

    impl std::fmt::Display for Busy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("busy")
        }
    }

    impl std::error::Error for Busy {}

    fn three_retries_500_ms_apart() -> RetryPolicy<TokioClock> {
        RetryPolicy::builder()
            .with_clock(TokioClock)
            .backoff(Backoff::constant(ms(500)))
            .max_retries(3)
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn three_retries_500_ms_apart_take_1_5_s_of_paused_time_and_no_real_time() {
        let policy = three_retries_500_ms_apart();
        let calls = Arc::new(AtomicU32::new(0));
        let real_start = Instant::now();
        let start = TokioClock.now();
        assert_eq!(policy.retry(flaky(&calls, 3)).await, Ok(4));
        assert_eq!(TokioClock.now() - start, ms(1500), "three sleeps of exactly 500 ms");
        assert_eq!(tokio::time::Instant::now().into_std() - start, ms(1500), "tokio agrees");
        assert!(real_start.elapsed() < REAL_TIME_BOUND, "took {:?}", real_start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_spawned_retry_runs_on_paused_time_and_gives_up_after_its_retries() {
        let policy = three_retries_500_ms_apart();
        let calls = Arc::new(AtomicU32::new(0));
        let real_start = Instant::now();
        let start = TokioClock.now();
        let outcome = tokio::spawn(policy.retry(flaky(&calls, u32::MAX))).await.unwrap();
        assert!(matches!(outcome, Err(RetryError::Exhausted { .. })), "{outcome:?}");
        assert_eq!(calls.load(Relaxed), 4, "the first call and three retries");
        assert_eq!(TokioClock.now() - start, ms(1500));
        assert!(real_start.elapsed() < REAL_TIME_BOUND, "took {:?}", real_start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_periodic_job_on_tokio_clock_ticks_exactly_on_its_grid_in_paused_time() {
        let start = TokioClock.now();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (periodic, worker) = Periodic::builder(ms(100))
            .cadence(Cadence::Grid)
            .with_clock(TokioClock)
            .build({
                let seen = Arc::clone(&seen);
                move |tick| {
                    seen.lock().unwrap().push((tick.scheduled() - start, tick.actual() - start));
                    async {}
                }
            })
            .unwrap();
        let real_start = Instant::now();
        let worker = tokio::spawn(worker);
        // An hour of 100 ms ticks would be 36,000 runs; half a second is enough to see the grid.
        tokio::time::sleep(ms(550)).await;
        periodic.stop().await;
        worker.await.unwrap();
        let expected: Vec<_> = (1..=5).map(|n| (ms(n * 100), ms(n * 100))).collect();
        assert_eq!(*seen.lock().unwrap(), expected, "scheduled and actual instants are exact");
        assert!(real_start.elapsed() < REAL_TIME_BOUND, "took {:?}", real_start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_on_tokio_clock_fires_at_its_deadline_and_drops_the_slow_future() {
        let start = TokioClock.now();
        let slow = TokioClock.sleep(Duration::from_secs(3600));
        assert!(timeout(&TokioClock, Duration::from_secs(1), slow).await.is_err());
        assert_eq!(TokioClock.now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn reset_moves_a_sleep_in_place_earlier_and_later() {
        let clock = TokioClock;
        let start = clock.now();
        let mut sleep = clock.sleep(Duration::from_secs(10));
        let waker = Waker::noop();
        assert!(Pin::new(&mut sleep).poll(&mut Context::from_waker(waker)).is_pending());
        clock.reset(&mut sleep, start + ms(200));
        (&mut sleep).await;
        assert_eq!(clock.now() - start, ms(200), "moved earlier");
        clock.reset(&mut sleep, start + ms(700));
        (&mut sleep).await;
        assert_eq!(clock.now() - start, ms(700), "re-armed after it completed");
    }

    #[tokio::test(start_paused = true)]
    async fn huge_sleeps_never_complete_and_past_deadlines_complete_at_once() {
        let clock = TokioClock;
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut past = clock.sleep_until(clock.now() - ms(1));
        assert_eq!(Pin::new(&mut past).poll(&mut cx), Poll::Ready(()));
        let mut zero = clock.sleep(Duration::ZERO);
        assert_eq!(Pin::new(&mut zero).poll(&mut cx), Poll::Ready(()));

        let start = clock.now();
        for never in [
            clock.sleep(Duration::MAX),
            clock.sleep(Duration::from_secs(200 * 365 * 24 * 3600)),
            clock.sleep_until(start + Duration::from_secs(200 * 365 * 24 * 3600)),
        ] {
            assert!(format!("{never:?}").contains("never"), "{never:?}");
            let waited = timeout(&clock, Duration::from_secs(86_400), never).await;
            assert!(waited.is_err(), "a day later it is still pending");
        }
        // Resetting an armed sleep to "never" drops its timer: it does not fire at the old one.
        let mut sleep = clock.sleep(ms(10));
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        clock.reset(&mut sleep, clock.now() + Duration::from_secs(200 * 365 * 24 * 3600));
        assert!(timeout(&clock, Duration::from_secs(60), &mut sleep).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_pending_sleep_mid_wait_leaves_the_clock_working() {
        // Cancel safety: the sleep is registered with tokio's timer, then dropped.
        let clock = TokioClock;
        let start = clock.now();
        {
            let mut sleep = pin!(clock.sleep(ms(300)));
            let waker = Waker::noop();
            assert!(sleep.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
        }
        clock.sleep(ms(50)).await;
        assert_eq!(clock.now() - start, ms(50));
    }

    #[test]
    fn a_sleep_created_outside_the_runtime_is_armed_on_its_first_poll_inside() {
        let sleep = TokioClock.sleep(ms(20));
        assert!(format!("{sleep:?}").contains("armed: false"), "{sleep:?}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(sleep);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn block_on_inside_a_tokio_runtime_is_a_typed_error_not_a_blocked_worker() {
        let polled = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&polled);
        let outcome = block_on(async move { counted.fetch_add(1, Relaxed) });
        assert_eq!(outcome, Err(BlockOnError::InsideTokio));
        assert_eq!(polled.load(Relaxed), 0, "the future was dropped unpolled");
        let message = BlockOnError::InsideTokio.to_string();
        assert!(message.contains(".await") && message.contains("spawn_blocking"), "{message}");

        let bridged = run([std::future::ready(Ok::<u8, ()>(1))]);
        assert_eq!(bridged, Err(RunError::Bridge(BlockOnError::InsideTokio)));

        // tokio enters the runtime on its blocking threads too; its own handle works there.
        let from_blocking = tokio::task::spawn_blocking(|| {
            let ours = block_on(async { 1 });
            let tokio = tokio::runtime::Handle::current().block_on(async { 2 });
            (ours, tokio)
        })
        .await
        .unwrap();
        assert_eq!(from_blocking, (Err(BlockOnError::InsideTokio), 2));

        // A plain thread is outside the runtime: the bridge runs there.
        let from_thread = std::thread::spawn(|| block_on(async { 3 })).join().unwrap();
        assert_eq!(from_thread, Ok(3));
    }
}

#[cfg(any(feature = "smol", feature = "async-std"))]
mod async_io_clock {
    use std::future::Future;
    use std::pin::{Pin, pin};
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use asynchronously::periodic::{Cadence, Periodic};
    use asynchronously::retry::{Backoff, RetryPolicy};
    use asynchronously::time::{AsyncIoClock, Clock, timeout};

    use crate::support::ms;

    /// Defines `mod $name` with a `#[test]` for each enabled runtime that drives async-io's
    /// reactor (smol, async-std).
    macro_rules! async_io_test {
        (async fn $name:ident() $body:block) => {
            mod $name {
                #[allow(unused_imports, reason = "the body uses the parent's imports")]
                use super::*;

                #[cfg(feature = "smol")]
                #[test]
                fn smol() {
                    ::smol::block_on(async move { $body })
                }

                #[cfg(feature = "async-std")]
                #[test]
                fn async_std() {
                    ::async_std::task::block_on(async move { $body })
                }
            }
        };
    }

    async_io_test!(
        async fn a_retry_on_async_io_clock_waits_its_backoff_on_the_reactor() {
            let policy = RetryPolicy::builder()
                .with_clock(AsyncIoClock)
                .backoff(Backoff::constant(ms(5)))
                .max_retries(3)
                .build()
                .unwrap();
            let calls = AtomicU32::new(0);
            let start = AsyncIoClock.now();
            let value = policy
                .retry(|| {
                    let call = calls.fetch_add(1, Relaxed) + 1;
                    std::future::ready(if call <= 3 { Err("busy") } else { Ok(call) })
                })
                .await;
            assert_eq!(value, Ok(4));
            assert!(AsyncIoClock.now() - start >= ms(15), "three real 5 ms sleeps");
        }
    );

    async_io_test!(
        async fn a_periodic_job_on_async_io_clock_keeps_its_grid() {
            let start = AsyncIoClock.now();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (periodic, worker) = Periodic::builder(ms(10))
                .cadence(Cadence::Grid)
                .with_clock(AsyncIoClock)
                .build({
                    let seen = Arc::clone(&seen);
                    move |tick| {
                        seen.lock().unwrap().push(tick);
                        async {}
                    }
                })
                .unwrap();
            let stop = async {
                while seen.lock().unwrap().len() < 3 {
                    AsyncIoClock.sleep(ms(1)).await;
                }
                periodic.stop().await;
            };
            futures::join!(worker, stop);
            let ticks = seen.lock().unwrap();
            // The schedule starts at the worker's first poll, a moment after `start`.
            let first = ticks[0].scheduled();
            assert!(first - start >= ms(10));
            for (n, tick) in ticks.iter().enumerate().take(3) {
                let n = u32::try_from(n).unwrap();
                assert_eq!(tick.scheduled() - first, ms(10) * n, "on the grid, no drift");
                assert!(tick.actual() >= tick.scheduled(), "never early: {tick:?}");
            }
        }
    );

    async_io_test!(
        async fn reset_moves_a_sleep_in_place_and_a_completed_sleep_stays_complete() {
            let clock = AsyncIoClock;
            let start = clock.now();
            let mut sleep = clock.sleep(Duration::from_secs(3600));
            let waker = Waker::noop();
            let mut cx = Context::from_waker(waker);
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending(), "registered");
            clock.reset(&mut sleep, start + ms(5));
            (&mut sleep).await;
            assert!(clock.now() - start >= ms(5));
            assert_eq!(Pin::new(&mut sleep).poll(&mut cx), Poll::Ready(()), "stays complete");
            clock.reset(&mut sleep, clock.now() + Duration::from_secs(3600));
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending(), "re-armed by reset");
        }
    );

    async_io_test!(
        async fn huge_sleeps_never_complete_and_past_deadlines_complete_at_once() {
            let clock = AsyncIoClock;
            let waker = Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut past = clock.sleep_until(clock.now() - ms(1));
            assert_eq!(Pin::new(&mut past).poll(&mut cx), Poll::Ready(()));
            let mut zero = clock.sleep(Duration::ZERO);
            assert_eq!(Pin::new(&mut zero).poll(&mut cx), Poll::Ready(()));

            let century_and_more = Duration::from_secs(200 * 365 * 24 * 3600);
            for never in [
                clock.sleep(Duration::MAX),
                clock.sleep(century_and_more),
                clock.sleep_until(clock.now() + century_and_more),
            ] {
                assert!(format!("{never:?}").contains("never"), "{never:?}");
                assert!(timeout(&clock, ms(5), never).await.is_err(), "still pending");
            }
            let mut sleep = clock.sleep(ms(1));
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
            clock.reset(&mut sleep, clock.now() + century_and_more);
            assert!(format!("{sleep:?}").contains("never"), "{sleep:?}");
            assert!(timeout(&clock, ms(10), &mut sleep).await.is_err(), "the old 1 ms is gone");
        }
    );

    async_io_test!(
        async fn dropping_a_registered_sleep_leaves_the_reactor_working() {
            // Cancel safety: the timer is registered with the reactor, then dropped.
            let clock = AsyncIoClock;
            {
                let mut sleep = pin!(clock.sleep(ms(1)));
                let waker = Waker::noop();
                assert!(sleep.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
            }
            let outcome = timeout(&clock, ms(1), clock.sleep(Duration::from_secs(3600))).await;
            assert!(outcome.is_err(), "the timeout's own timer fires; the slow sleep is dropped");
            let start = clock.now();
            clock.sleep(ms(2)).await;
            assert!(clock.now() - start >= ms(2));
        }
    );
}
