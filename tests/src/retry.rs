//! Behaviour tests of `asynchronously::retry`, on virtual time, under every runtime.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asynchronously::retry::{
    Backoff, BudgetError, Jitter, LongRetryAfter, PolicyError, Retry, RetryBudget, RetryError,
    RetryPolicy, RetryPolicyBuilder, Retryable, Verdict,
};
use asynchronously::time::{Clock, VirtualClock};
use futures::FutureExt;
use futures::future::{self, Either};
use proptest::prelude::*;

use crate::runtime_test;
use crate::support::{CountingWaker, ms};

// Compile-time promises: the policy and budget are shareable, and a retry of a `Send`
// operation can be spawned on a multi-threaded runtime.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RetryPolicy>();
    assert_send_sync::<RetryPolicy<VirtualClock>>();
    assert_send_sync::<RetryBudget>();
    assert_send_sync::<RetryError<std::io::Error>>();
};

fn assert_send<T: Send>(value: T) -> T {
    value
}

fn policy(clock: &VirtualClock) -> RetryPolicyBuilder<VirtualClock> {
    RetryPolicy::builder().with_clock(clock.clone())
}

/// An operation that fails `failures` times with `"busy"`, then returns the call number.
fn flaky(
    calls: &AtomicU32,
    failures: u32,
) -> impl FnMut() -> future::Ready<Result<u32, &'static str>> {
    move || {
        let call = calls.fetch_add(1, Relaxed) + 1;
        future::ready(if call <= failures { Err("busy") } else { Ok(call) })
    }
}

// ---- Seed semantics ----

runtime_test!(
    async fn success_on_the_first_try_makes_one_call() {
        let calls = AtomicU32::new(0);
        let value =
            RetryPolicy::builder().max_retries(5).build().unwrap().retry(flaky(&calls, 0)).await;
        assert_eq!(value, Ok(1));
        assert_eq!(calls.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn two_failures_then_success_with_limit_five_makes_three_calls_and_returns_the_value() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(10))).max_retries(5).build().unwrap();
        let (value, ()) =
            future::join(policy.retry(flaky(&calls, 2)), clock.run_for(ms(1000))).await;
        assert_eq!(value, Ok(3));
        assert_eq!(calls.load(Relaxed), 3);
    }
);

runtime_test!(
    async fn limit_three_always_failing_makes_four_calls_and_returns_the_fourth_error() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(10))).max_retries(3).build().unwrap();
        let operation = || {
            let call = calls.fetch_add(1, Relaxed) + 1;
            future::ready(Err::<(), _>(format!("failure {call}")))
        };
        let (result, ()) = future::join(policy.retry(operation), clock.run_for(ms(1000))).await;
        match result {
            Err(RetryError::Exhausted { attempts: 4, elapsed, last }) => {
                assert_eq!(last, "failure 4");
                assert_eq!(elapsed, ms(30));
            }
            other => panic!("expected Exhausted after 4 attempts, got {other:?}"),
        }
        assert_eq!(calls.load(Relaxed), 4);
    }
);

runtime_test!(
    async fn limit_zero_makes_exactly_one_call() {
        let calls = AtomicU32::new(0);
        let result =
            RetryPolicy::builder().max_retries(0).build().unwrap().retry(flaky(&calls, 9)).await;
        assert!(matches!(result, Err(RetryError::Exhausted { attempts: 1, last: "busy", .. })));
        assert_eq!(calls.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn an_error_the_filter_rejects_returns_at_once_after_one_call() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::builder().max_retries(5).build().unwrap();
        let result = policy.retry(flaky(&calls, 9)).retry_if(|error| *error == "timeout").await;
        match result {
            Err(RetryError::Permanent { attempts: 1, error: "busy", .. }) => {}
            other => panic!("expected a permanent error after 1 call, got {other:?}"),
        }
        assert_eq!(calls.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn hook_messages_count_retries_from_one_to_the_limit() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .max_retries(2)
            .build()
            .unwrap();
        let mut lines = Vec::new();
        let _ = policy
            .retry(flaky(&calls, 9))
            .on_retry(|attempt| lines.push(attempt.to_string()))
            .await;
        assert_eq!(lines, ["retry 1/2 in 0ns", "retry 2/2 in 0ns"]);

        let unlimited = RetryPolicy::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .unlimited_retries()
            .build()
            .unwrap();
        let mut lines = Vec::new();
        let calls = AtomicU32::new(0);
        let value = unlimited
            .retry(flaky(&calls, 2))
            .on_retry(|attempt| lines.push(attempt.to_string()))
            .await;
        assert_eq!(value, Ok(3));
        assert_eq!(lines, ["retry 1/unlimited in 0ns", "retry 2/unlimited in 0ns"]);
    }
);

runtime_test!(
    async fn unlimited_retries_keep_going_until_success() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .unlimited_retries()
            .build()
            .unwrap();
        assert_eq!(policy.retry(flaky(&calls, 500)).await, Ok(501));
    }
);

runtime_test!(
    async fn the_hook_record_carries_number_limit_elapsed_delay_and_error() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::linear(ms(100), ms(100)))
            .max_retries(2)
            .build()
            .unwrap();
        let mut records = Vec::new();
        let retry = policy.retry(flaky(&calls, 9)).on_retry(|attempt| {
            records.push((
                attempt.retry(),
                attempt.limit(),
                attempt.elapsed(),
                attempt.delay(),
                attempt.error().copied(),
            ))
        });
        let (_, ()) = future::join(retry, clock.run_for(ms(1000))).await;
        assert_eq!(
            records,
            [
                (1, Some(2), ms(0), ms(100), Some("busy")),
                (2, Some(2), ms(100), ms(200), Some("busy"))
            ]
        );
    }
);

// ---- Timing on the virtual clock ----

runtime_test!(
    async fn time_between_attempts_equals_the_schedule_with_no_sleep_after_the_last_failure() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let policy = policy(&clock)
            .backoff(Backoff::exponential(ms(100), 2.0))
            .max_retries(3)
            .build()
            .unwrap();
        let schedule: Vec<_> = policy.delays().collect();
        assert_eq!(schedule, [ms(100), ms(200), ms(400)]);
        let called_at = Mutex::new(Vec::new());
        let operation = || {
            called_at.lock().unwrap().push(clock.now() - start);
            future::ready(Err::<(), _>("down"))
        };
        let (result, ()) = future::join(policy.retry(operation), clock.run_for(ms(5000))).await;
        assert_eq!(*called_at.lock().unwrap(), [ms(0), ms(100), ms(300), ms(700)]);
        let error = result.unwrap_err();
        assert_eq!(error.elapsed(), ms(700), "no sleep after the last failure");
        assert_eq!(error.attempts(), 4);
    }
);

runtime_test!(
    async fn a_seeded_jittered_retry_follows_the_policys_delays_exactly() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let policy = policy(&clock)
            .backoff(Backoff::exponential(ms(100), 2.0))
            .jitter(Jitter::Full)
            .seed(99)
            .max_retries(4)
            .build()
            .unwrap();
        let mut expected = Vec::new();
        let mut at = Duration::ZERO;
        expected.push(at);
        for delay in policy.delays() {
            at += delay;
            expected.push(at);
        }
        let called_at = Mutex::new(Vec::new());
        let operation = || {
            called_at.lock().unwrap().push(clock.now() - start);
            future::ready(Err::<(), _>("down"))
        };
        let (_, ()) = future::join(policy.retry(operation), clock.run_for(ms(10_000))).await;
        assert_eq!(*called_at.lock().unwrap(), expected);
    }
);

runtime_test!(
    async fn max_elapsed_counts_attempt_time_and_never_sleeps_past_the_deadline() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(100)))
            .unlimited_retries()
            .max_elapsed(ms(1000))
            .build()
            .unwrap();
        // Each attempt takes 400 ms: 0–400 fails, sleep to 500, 500–900 fails; the next sleep
        // would end at 1000 = the deadline, so it stops at 900 without sleeping.
        let operation = || {
            calls.fetch_add(1, Relaxed);
            let clock = clock.clone();
            async move {
                clock.sleep(ms(400)).await;
                Err::<(), _>("slow")
            }
        };
        let (result, ()) = future::join(policy.retry(operation), clock.run_for(ms(5000))).await;
        match result {
            Err(RetryError::DeadlineExceeded { attempts: 2, elapsed, last: Some("slow") }) => {
                assert_eq!(elapsed, ms(900));
            }
            other => panic!("expected the deadline after 2 attempts, got {other:?}"),
        }
        assert_eq!(calls.load(Relaxed), 2);
    }
);

runtime_test!(
    async fn an_attempt_running_at_the_deadline_is_cut_off() {
        let clock = VirtualClock::new();
        let policy = policy(&clock).max_elapsed(ms(1000)).build().unwrap();
        let operation = || {
            let clock = clock.clone();
            async move {
                clock.sleep(ms(5000)).await;
                Ok::<_, &str>(())
            }
        };
        let (result, ()) = future::join(policy.retry(operation), clock.run_for(ms(10_000))).await;
        match result {
            Err(RetryError::DeadlineExceeded { attempts: 1, elapsed, last: None }) => {
                assert_eq!(elapsed, ms(1000));
            }
            other => panic!("expected the attempt to be cut off at 1 s, got {other:?}"),
        }
        assert_eq!(clock.pending_sleepers(), 0, "the attempt and the timer were dropped");
    }
);

runtime_test!(
    async fn zero_delay_retries_after_timed_out_attempts_run_at_their_exact_instants() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(Duration::ZERO))
            .max_retries(2)
            .attempt_timeout(ms(100))
            .build()
            .unwrap();
        // Every attempt hangs until its timeout; retries follow at once.
        let operation = || {
            calls.fetch_add(1, Relaxed);
            let clock = clock.clone();
            async move {
                clock.sleep(ms(60_000)).await;
                Ok::<_, &str>(())
            }
        };
        let mut retry = pin!(policy.retry(operation));
        let outcome = match future::select(retry.as_mut(), clock.run_for(ms(1000))).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(((), _)) => panic!("virtual time ran out before the retries finished"),
        };
        assert!(matches!(outcome, Err(RetryError::TimedOut { attempts: 3, .. })), "{outcome:?}");
        assert_eq!(calls.load(Relaxed), 3);
        assert_eq!(clock.elapsed(), ms(300), "three 100 ms timeouts, no delay between them");
    }
);

runtime_test!(
    async fn a_per_attempt_timeout_fires_and_counts_as_a_retryable_failure() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(10)))
            .max_retries(2)
            .attempt_timeout(ms(100))
            .build()
            .unwrap();
        // The first two attempts hang; the third answers after 50 ms.
        let operation = || {
            let call = calls.fetch_add(1, Relaxed) + 1;
            let clock = clock.clone();
            async move {
                clock.sleep(if call < 3 { ms(60_000) } else { ms(50) }).await;
                Ok::<_, &str>(call)
            }
        };
        let mut timed_out = Vec::new();
        let retry = policy.retry(operation).on_retry(|attempt| timed_out.push(attempt.timed_out()));
        let (result, ()) = future::join(retry, clock.run_for(ms(1000))).await;
        assert_eq!(result, Ok(3));
        assert_eq!(timed_out, [true, true]);
        // 100 (timeout) + 10 + 100 (timeout) + 10 + 50.
        assert_eq!(clock.elapsed(), ms(1000));
    }
);

runtime_test!(
    async fn the_last_attempt_timing_out_reports_timed_out_with_the_earlier_error() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(10)))
            .max_retries(1)
            .attempt_timeout(ms(100))
            .build()
            .unwrap();
        let operation = || {
            let call = calls.fetch_add(1, Relaxed) + 1;
            let clock = clock.clone();
            async move {
                if call == 1 {
                    return Err("refused");
                }
                clock.sleep(Duration::MAX).await;
                Ok(())
            }
        };
        let (result, ()) = future::join(policy.retry(operation), clock.run_for(ms(1000))).await;
        match result {
            Err(RetryError::TimedOut { attempts: 2, elapsed, last: Some("refused") }) => {
                assert_eq!(elapsed, ms(110));
            }
            other => panic!("expected TimedOut after 2 attempts, got {other:?}"),
        }
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn retry_after_is_honoured_and_clamped_into_the_policy_bounds() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(500)))
            .min_delay(ms(10))
            .max_delay(ms(2000))
            .max_retries(3)
            .build()
            .unwrap();
        // The server asks for 300 ms, then 1 ms (raised to 10), then 60 s (capped to 2 s).
        let asks = [ms(300), ms(1), ms(60_000), ms(0)];
        let calls = AtomicU32::new(0);
        let called_at = Mutex::new(Vec::new());
        let operation = || {
            let call = calls.fetch_add(1, Relaxed);
            called_at.lock().unwrap().push(clock.now() - start);
            future::ready(Err::<(), _>(asks[call as usize]))
        };
        let retry = policy.retry(operation).classify(|ask: &Duration| Verdict::RetryAfter(*ask));
        let (_, ()) = future::join(retry, clock.run_for(ms(10_000))).await;
        assert_eq!(*called_at.lock().unwrap(), [ms(0), ms(300), ms(310), ms(2310)]);
    }
);

runtime_test!(
    async fn retry_after_never_extends_past_the_deadline() {
        let clock = VirtualClock::new();
        let policy = policy(&clock).unlimited_retries().max_elapsed(ms(1000)).build().unwrap();
        let retry = policy
            .retry(|| future::ready(Err::<(), _>("rate limited")))
            .classify(|_| Verdict::RetryAfter(ms(5000)));
        let (result, ()) = future::join(retry, clock.run_for(ms(10_000))).await;
        assert!(
            matches!(result, Err(RetryError::DeadlineExceeded { attempts: 1, .. })),
            "{result:?}"
        );
        assert_eq!(result.unwrap_err().elapsed(), Duration::ZERO, "it gave up without sleeping");
    }
);

runtime_test!(
    async fn the_async_hook_runs_before_the_delay_without_lengthening_it() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(100))).max_retries(2).build().unwrap();
        let called_at = Mutex::new(Vec::new());
        let hooks_done = Mutex::new(Vec::new());
        let operation = || {
            called_at.lock().unwrap().push(clock.now() - start);
            future::ready(Err::<(), _>("down"))
        };
        let retry = policy.retry(operation).on_retry_async(|attempt| {
            let (clock, hooks_done, retry) = (clock.clone(), &hooks_done, attempt.retry());
            async move {
                clock.sleep(ms(30)).await;
                hooks_done.lock().unwrap().push((retry, clock.now() - start));
            }
        });
        let (_, ()) = future::join(retry, clock.run_for(ms(1000))).await;
        assert_eq!(*hooks_done.lock().unwrap(), [(1, ms(30)), (2, ms(130))]);
        assert_eq!(*called_at.lock().unwrap(), [ms(0), ms(100), ms(200)]);
    }
);

// ---- Cancellation and scheduling ----

runtime_test!(
    async fn dropping_the_future_mid_sleep_stops_further_calls() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(100))).max_retries(5).build().unwrap();
        {
            let mut retry = pin!(policy.retry(flaky(&calls, 9)));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(retry.as_mut().poll(&mut cx).is_pending());
            assert_eq!(calls.load(Relaxed), 1);
            assert_eq!(clock.pending_sleepers(), 1, "sleeping before the retry");
            clock.advance(ms(50));
            assert!(retry.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(clock.pending_sleepers(), 0, "the dropped retry cancelled its sleep");
        clock.advance(ms(10_000));
        assert_eq!(calls.load(Relaxed), 1, "no call after the drop");
    }
);

runtime_test!(
    async fn dropping_at_every_await_point_stops_everything() {
        // Each attempt awaits a 40 ms sleep and fails; delays are 100 ms; 3 retries.
        for polls in 0..12 {
            let clock = VirtualClock::new();
            let calls = AtomicU32::new(0);
            let running = Arc::new(AtomicU32::new(0));
            let policy = policy(&clock)
                .backoff(Backoff::constant(ms(100)))
                .max_retries(3)
                .attempt_timeout(ms(1000))
                .build()
                .unwrap();
            let operation = || {
                calls.fetch_add(1, Relaxed);
                let (clock, running) = (clock.clone(), Arc::clone(&running));
                async move {
                    running.fetch_add(1, Relaxed);
                    let _guard = scopeguard(running);
                    clock.sleep(ms(40)).await;
                    Err::<(), _>("down")
                }
            };
            let mut retry = Box::pin(policy.retry(operation).on_retry_async(|_| {
                let clock = clock.clone();
                async move { clock.sleep(ms(5)).await }
            }));
            let mut cx = Context::from_waker(Waker::noop());
            let mut finished = false;
            for _ in 0..polls {
                if retry.as_mut().poll(&mut cx).is_ready() {
                    finished = true;
                    break;
                }
                // Move to the next deadline so every await point is reached in turn.
                if let Some(next) = clock.next_deadline() {
                    clock.advance_to(next);
                }
            }
            let calls_before = calls.load(Relaxed);
            drop(retry);
            assert_eq!(running.load(Relaxed), 0, "after {polls} polls the attempt was dropped");
            assert_eq!(clock.pending_sleepers(), 0, "after {polls} polls no sleep is left");
            clock.advance(ms(10_000));
            assert_eq!(calls.load(Relaxed), calls_before, "no call after the drop");
            if finished {
                assert_eq!(calls_before, 4);
            }
        }
    }
);

/// Decrements `running` when dropped.
fn scopeguard(running: Arc<AtomicU32>) -> impl Drop {
    struct Guard(Arc<AtomicU32>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Relaxed);
        }
    }
    Guard(running)
}

runtime_test!(
    async fn zero_delay_retries_yield_to_the_executor_between_attempts() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .max_retries(3)
            .build()
            .unwrap();
        let mut retry = pin!(policy.retry(flaky(&calls, 9)));
        let waker = Arc::new(CountingWaker::default());
        let waker_handle = Waker::from(Arc::clone(&waker));
        let mut cx2 = Context::from_waker(&waker_handle);
        for expected_calls in 1..=3 {
            assert!(retry.as_mut().poll(&mut cx2).is_pending(), "a zero-delay retry yields");
            assert_eq!(calls.load(Relaxed), expected_calls, "one attempt per poll");
            assert_eq!(
                waker.0.load(Relaxed),
                expected_calls as usize,
                "and asks to be polled again"
            );
        }
        assert!(matches!(
            retry.as_mut().poll(&mut cx2),
            Poll::Ready(Err(RetryError::Exhausted { attempts: 4, .. }))
        ));
    }
);

runtime_test!(
    async fn a_zero_delay_retry_loop_lets_another_task_progress() {
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(Duration::ZERO))
            .unlimited_retries()
            .build()
            .unwrap();
        let flag = AtomicU32::new(0);
        // The operation succeeds only once the other task has run.
        let retry =
            policy.retry(|| future::ready(if flag.load(Relaxed) == 1 { Ok(()) } else { Err(()) }));
        let other = async {
            crate::runtime::yield_now().await;
            flag.store(1, Relaxed);
        };
        let (result, ()) = future::join(retry, other).await;
        assert_eq!(result, Ok(()));
    }
);

runtime_test!(
    async fn a_spawned_retry_runs_on_every_runtime(rt) {
        let clock = VirtualClock::new();
        let policy = policy(&clock).backoff(Backoff::constant(ms(100))).max_retries(3).build().unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&calls);
        // The retry borrows its policy: the task owns a clone.
        let task = rt.spawn(assert_send(async move {
            policy
                .retry(move || {
                    let call = counter.fetch_add(1, Relaxed) + 1;
                    future::ready(if call < 3 { Err("busy") } else { Ok(call) })
                })
                .await
        }));
        // `run_for` only steps through registered sleeps: wait until the task sleeps.
        while clock.pending_sleepers() == 0 {
            crate::runtime::yield_now().await;
        }
        let (result, ()) = future::join(task, clock.run_for(ms(1000))).await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Relaxed), 3);
    }
);

runtime_test!(
    async fn the_extension_trait_retries_a_closure_with_a_policy() {
        let calls = AtomicU32::new(0);
        let policy =
            RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).build().unwrap();
        assert_eq!(flaky(&calls, 1).retry(&policy).await, Ok(2));
    }
);

runtime_test!(
    async fn a_panicking_operation_reaches_the_caller_and_the_policy_stays_usable() {
        let policy =
            RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).build().unwrap();
        let panicked = AssertUnwindSafe(policy.retry(|| async { panic!("operation exploded") }))
            .catch_unwind()
            .await;
        let message = panicked.map(|_: Result<(), RetryError<()>>| ()).unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"operation exploded"));
        let calls = AtomicU32::new(0);
        assert_eq!(policy.retry(flaky(&calls, 1)).await, Ok(2));
    }
);

runtime_test!(
    async fn a_panicking_classifier_reaches_the_caller() {
        let policy = RetryPolicy::builder().build().unwrap();
        let retry = policy
            .retry(|| future::ready(Err::<(), _>("x")))
            .classify(|_| panic!("classifier exploded"));
        assert!(AssertUnwindSafe(retry).catch_unwind().await.is_err());
    }
);

runtime_test!(
    async fn a_panicking_hook_reaches_the_caller_and_stops_further_calls() {
        let calls = AtomicU32::new(0);
        let policy =
            RetryPolicy::builder().backoff(Backoff::constant(Duration::ZERO)).build().unwrap();
        let retry = policy.retry(flaky(&calls, 9)).on_retry(|_| panic!("hook exploded"));
        assert!(AssertUnwindSafe(retry).catch_unwind().await.is_err());
        assert_eq!(calls.load(Relaxed), 1);
    }
);

// ---- Errors ----

runtime_test!(
    async fn bad_settings_are_typed_errors_at_build_time() {
        for factor in [f64::NAN, f64::INFINITY, -2.0, 0.5] {
            let built = RetryPolicy::builder().backoff(Backoff::exponential(ms(1), factor)).build();
            assert!(matches!(built, Err(PolicyError::InvalidFactor { .. })), "factor {factor}");
        }
        let reversed = RetryPolicy::builder().min_delay(ms(10)).max_delay(ms(1)).build();
        assert_eq!(
            reversed.unwrap_err(),
            PolicyError::DelayBoundsReversed { min: ms(10), max: ms(1) }
        );
        assert_eq!(
            RetryPolicy::builder().max_elapsed(Duration::ZERO).build().unwrap_err(),
            PolicyError::ZeroMaxElapsed
        );
        assert_eq!(
            RetryPolicy::builder().attempt_timeout(Duration::ZERO).build().unwrap_err(),
            PolicyError::ZeroAttemptTimeout
        );
        let message = RetryPolicy::builder()
            .backoff(Backoff::exponential(ms(1), -2.0))
            .build()
            .unwrap_err()
            .to_string();
        assert!(message.contains("-2") && message.contains("at least 1.0"), "{message}");
        for ratio in [f64::NAN, -0.1, f64::INFINITY, 1001.0] {
            assert!(matches!(RetryBudget::new(ratio, 1, 1), Err(BudgetError::InvalidRatio { .. })));
        }
    }
);

runtime_test!(
    async fn duration_max_limits_mean_never_and_do_not_panic() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(Duration::ZERO))
            .max_elapsed(Duration::MAX)
            .attempt_timeout(Duration::MAX)
            .max_delay(Duration::MAX)
            .max_retries(3)
            .build()
            .unwrap();
        let (result, ()) =
            future::join(policy.retry(flaky(&calls, 2)), clock.run_for(ms(10))).await;
        assert_eq!(result, Ok(3));
    }
);

runtime_test!(
    async fn a_duration_max_delay_is_capped_by_default_and_gives_up_without_a_cap() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let capped = policy(&clock)
            .backoff(Backoff::constant(Duration::MAX))
            .max_retries(1)
            .build()
            .unwrap();
        assert_eq!(capped.delays().collect::<Vec<_>>(), [Duration::from_secs(60)]);
        let uncapped = policy(&clock)
            .backoff(Backoff::constant(Duration::MAX))
            .max_delay(Duration::MAX)
            .max_retries(1)
            .build()
            .unwrap();
        let mut retry = pin!(uncapped.retry(flaky(&calls, 9)));
        let mut cx = Context::from_waker(Waker::noop());
        // A delay that can never end is not a silent forever-pending future.
        let Poll::Ready(Err(RetryError::DelayTooLong {
            attempts: 1, delay, last: Some(_), ..
        })) = retry.as_mut().poll(&mut cx)
        else {
            panic!("expected DelayTooLong at once");
        };
        assert_eq!(delay, Duration::MAX);
        assert_eq!(calls.load(Relaxed), 1);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn the_final_error_reports_attempts_elapsed_and_the_last_error() {
        let clock = VirtualClock::new();
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(250))).max_retries(2).build().unwrap();
        let (result, ()) = future::join(
            policy.retry(|| future::ready(Err::<(), _>(std::io::Error::other("disk on fire")))),
            clock.run_for(ms(1000)),
        )
        .await;
        let error = result.unwrap_err();
        assert_eq!(error.attempts(), 3);
        assert_eq!(error.elapsed(), ms(500));
        assert_eq!(
            error.to_string(),
            "operation failed after 3 attempts, no retries left: disk on fire"
        );
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_eq!(error.into_last_error().map(|e| e.to_string()).as_deref(), Some("disk on fire"));
    }
);

runtime_test!(
    async fn every_final_error_that_holds_the_last_error_exposes_it_as_its_source() {
        let clock = VirtualClock::new();
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(100)))
            .max_elapsed(ms(150))
            .build()
            .unwrap();
        let (result, ()) = future::join(
            policy.retry(|| future::ready(Err::<(), _>(std::io::Error::other("disk on fire")))),
            clock.run_for(ms(1000)),
        )
        .await;
        let error = result.unwrap_err();
        assert!(matches!(error, RetryError::DeadlineExceeded { attempts: 2, .. }), "{error:?}");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        let budget = RetryBudget::with_clock(clock.clone(), 0.0, 0, 0).unwrap();
        let policy = policy_with_budget(&clock, budget);
        let error = policy
            .retry(|| future::ready(Err::<(), _>(std::io::Error::other("busy"))))
            .await
            .unwrap_err();
        assert!(matches!(error, RetryError::BudgetExhausted { attempts: 1, .. }), "{error:?}");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("busy"));
    }
);

fn policy_with_budget(
    clock: &VirtualClock,
    budget: RetryBudget<VirtualClock>,
) -> RetryPolicy<VirtualClock> {
    policy(clock).backoff(Backoff::constant(Duration::ZERO)).budget(budget).build().unwrap()
}

// ---- Budget ----

runtime_test!(
    async fn a_burst_of_failures_exhausts_the_budget_and_successes_refill_it() {
        let clock = VirtualClock::new();
        let budget = RetryBudget::with_clock(clock.clone(), 0.5, 0, 10).unwrap();
        let policy = policy(&clock)
            .backoff(Backoff::constant(Duration::ZERO))
            .max_retries(100)
            .budget(budget.clone())
            .build()
            .unwrap();
        // Ten successes earn five retries.
        for _ in 0..10 {
            assert_eq!(policy.retry(|| future::ready(Ok::<_, ()>(()))).await, Ok(()));
        }
        assert_eq!(budget.available(), 5);
        // A burst of failures spends them, then stops on the budget.
        let calls = AtomicU32::new(0);
        let result = policy.retry(flaky(&calls, u32::MAX)).await;
        match result {
            Err(RetryError::BudgetExhausted { attempts: 6, last: Some("busy"), .. }) => {}
            other => panic!("expected the budget to stop after 5 retries, got {other:?}"),
        }
        assert_eq!(budget.available(), 0);
        // Another call site sharing the budget cannot retry either...
        let calls = AtomicU32::new(0);
        assert!(matches!(
            policy.retry(flaky(&calls, 1)).await,
            Err(RetryError::BudgetExhausted { attempts: 1, .. })
        ));
        // ...until successes refill it.
        for _ in 0..2 {
            let _ = policy.retry(|| future::ready(Ok::<_, &str>(0))).await;
        }
        let calls = AtomicU32::new(0);
        assert_eq!(policy.retry(flaky(&calls, 1)).await, Ok(2));
    }
);

runtime_test!(
    async fn the_budget_floor_allows_a_few_retries_per_second_of_clock_time() {
        let clock = VirtualClock::new();
        let budget = RetryBudget::with_clock(clock.clone(), 0.0, 2, 0).unwrap();
        assert!(budget.try_withdraw() && budget.try_withdraw());
        assert!(!budget.try_withdraw(), "two per second");
        clock.advance(ms(499));
        assert!(!budget.try_withdraw());
        clock.advance(ms(1));
        assert!(budget.try_withdraw(), "refilled after half a second");
        clock.advance(Duration::from_secs(3600));
        assert!(budget.try_withdraw() && budget.try_withdraw());
        assert!(!budget.try_withdraw(), "the floor holds at most one second's worth");
    }
);

runtime_test!(
    async fn the_budget_floor_refills_at_its_rate_however_often_it_is_asked() {
        let clock = VirtualClock::new();
        let budget = RetryBudget::with_clock(clock.clone(), 0.0, 1, 0).unwrap();
        assert!(budget.try_withdraw());
        // Asked every 1.5 ms: the part of a thousandth earned between asks must carry over.
        for _ in 0..666 {
            clock.advance(Duration::from_micros(1500));
            assert!(!budget.try_withdraw(), "less than a second since the last retry");
        }
        clock.advance(ms(1));
        assert!(budget.try_withdraw(), "one retry per second however often the floor is asked");
        assert!(!budget.try_withdraw());
    }
);

runtime_test!(
    async fn a_shared_budget_is_consistent_under_concurrent_use(rt) {
        let budget = RetryBudget::new(1.0, 0, 1_000_000).unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let budget = budget.clone();
                rt.spawn(async move {
                    for _ in 0..1000 {
                        budget.deposit();
                    }
                    let mut taken = 0;
                    for _ in 0..500 {
                        taken += u32::from(budget.try_withdraw());
                    }
                    taken
                })
            })
            .collect();
        let taken: u32 = future::join_all(tasks).await.into_iter().sum();
        assert_eq!(taken, 2000);
        assert_eq!(budget.available(), 2000);
    }
);

// ---- Schedules (properties) ----

fn backoffs() -> impl Strategy<Value = Backoff> {
    let duration = prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..10_000_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
    ];
    let factor = prop_oneof![Just(1.0), Just(1e300), 1.0f64..10.0];
    prop_oneof![
        duration.clone().prop_map(Backoff::constant),
        (duration.clone(), duration.clone())
            .prop_map(|(initial, step)| Backoff::linear(initial, step)),
        (duration.clone(), factor)
            .prop_map(|(initial, factor)| Backoff::exponential(initial, factor)),
        duration.clone().prop_map(Backoff::fibonacci),
        duration.prop_map(Backoff::decorrelated_jitter),
    ]
}

fn jitters() -> impl Strategy<Value = Jitter> {
    prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)]
}

fn bounds() -> impl Strategy<Value = (Duration, Duration)> {
    let duration = prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..100_000_000_000).prop_map(Duration::from_nanos),
    ];
    (duration.clone(), duration).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_delay_of_every_backoff_and_jitter_lies_within_the_bounds(
        backoff in backoffs(),
        jitter in jitters(),
        (min, max) in bounds(),
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy::builder()
            .backoff(backoff)
            .jitter(jitter)
            .min_delay(min)
            .max_delay(max)
            .seed(seed)
            .max_retries(300)
            .build()
            .unwrap();
        let mut count = 0;
        for delay in policy.delays() {
            prop_assert!(delay >= min && delay <= max, "{delay:?} outside [{min:?}, {max:?}]");
            count += 1;
        }
        prop_assert_eq!(count, 300);
    }

    #[test]
    fn schedules_never_overflow_for_huge_attempt_counts(
        backoff in backoffs(),
        jitter in jitters(),
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy::builder()
            .backoff(backoff.clone())
            .jitter(jitter)
            .seed(seed)
            .unlimited_retries()
            .build()
            .unwrap();
        // 20 000 steps: far past the point where every growth saturates at Duration::MAX.
        let last = policy.delays().nth(20_000);
        prop_assert!(last.is_some());
        let mut limited = RetryPolicy::builder().backoff(backoff).max_retries(u32::MAX).build().unwrap().delays();
        prop_assert_eq!(limited.size_hint().0, u32::MAX as usize);
        prop_assert!(limited.nth(1000).is_some());
    }

    #[test]
    fn growing_backoffs_without_jitter_never_shrink(backoff in backoffs(), (min, max) in bounds()) {
        prop_assume!(!matches!(format!("{backoff:?}"), s if s.contains("Decorrelated")));
        let policy = RetryPolicy::builder().backoff(backoff).min_delay(min).max_delay(max).max_retries(200).build().unwrap();
        let delays: Vec<_> = policy.delays().collect();
        prop_assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]), "{delays:?}");
    }
}

#[test]
fn a_seeded_policy_repeats_its_schedule_and_unseeded_ones_differ() {
    let seeded =
        RetryPolicy::builder().jitter(Jitter::Full).seed(5).max_retries(20).build().unwrap();
    assert!(seeded.delays().eq(seeded.delays()));
    let unseeded = RetryPolicy::builder().jitter(Jitter::Full).max_retries(20).build().unwrap();
    assert!(!unseeded.delays().eq(unseeded.delays()), "each schedule draws its own seed");
}

#[test]
fn the_retry_future_is_debug_and_counts_attempts() {
    let policy = RetryPolicy::default();
    let retry: Retry<'_, _, _> = policy.retry(|| future::ready(Ok::<_, ()>(())));
    assert_eq!(retry.attempts(), 0);
    assert!(format!("{retry:?}").contains("attempts: 0"));
}

#[expect(dead_code, reason = "compile-time check that the future is Send")]
fn the_retry_future_of_a_send_operation_is_send(policy: &RetryPolicy) -> impl Future + Send + '_ {
    policy.retry(|| async { Ok::<_, std::io::Error>(()) })
}

// ---- Issue 10: deadlines for hooks, owned futures, defaults, messages ----

runtime_test!(
    async fn an_async_hook_is_cut_off_at_max_elapsed() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy(&clock)
            .backoff(Backoff::constant(ms(100)))
            .max_elapsed(Duration::from_secs(10))
            .unlimited_retries()
            .build()
            .unwrap();
        let hook_done = AtomicU32::new(0);
        let retry = policy.retry(flaky(&calls, 99)).on_retry_async(|_| {
            let clock = clock.clone();
            let hook_done = &hook_done;
            async move {
                clock.sleep(Duration::from_secs(100)).await;
                hook_done.fetch_add(1, Relaxed);
            }
        });
        let (result, ()) = future::join(retry, clock.run_for(Duration::from_secs(200))).await;
        let error = result.unwrap_err();
        assert!(matches!(error, RetryError::DeadlineExceeded { attempts: 1, last: Some(_), .. }));
        assert_eq!(error.elapsed(), Duration::from_secs(10), "not the hook's 100 s");
        assert_eq!(hook_done.load(Relaxed), 0, "the hook was dropped");
        assert_eq!(calls.load(Relaxed), 1);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn dropping_a_retry_inside_a_deadline_bound_hook_releases_everything() {
        for polls in 0..6 {
            let clock = VirtualClock::new();
            let calls = AtomicU32::new(0);
            let running = Arc::new(AtomicU32::new(0));
            let policy = policy(&clock)
                .backoff(Backoff::constant(ms(100)))
                .max_elapsed(ms(1000))
                .max_retries(3)
                .build()
                .unwrap();
            let mut retry = Box::pin(policy.retry(flaky(&calls, 9)).on_retry_async(|_| {
                let (clock, running) = (clock.clone(), Arc::clone(&running));
                async move {
                    running.fetch_add(1, Relaxed);
                    let _guard = scopeguard(running);
                    clock.sleep(ms(300)).await;
                }
            }));
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..polls {
                if retry.as_mut().poll(&mut cx).is_ready() {
                    break;
                }
                if let Some(next) = clock.next_deadline() {
                    clock.advance_to(next);
                }
            }
            let calls_before = calls.load(Relaxed);
            drop(retry);
            assert_eq!(running.load(Relaxed), 0, "after {polls} polls the hook was dropped");
            assert_eq!(clock.pending_sleepers(), 0, "after {polls} polls no sleep is left");
            clock.advance(ms(10_000));
            assert_eq!(calls.load(Relaxed), calls_before, "no call after the drop");
        }
    }
);

runtime_test!(
    async fn a_policy_retry_is_owned_and_spawns_as_written(rt) {
        let clock = VirtualClock::new();
        let policy =
            policy(&clock).backoff(Backoff::constant(ms(100))).max_retries(3).build().unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&calls);
        let retry = policy.retry(move || {
            let call = counter.fetch_add(1, Relaxed) + 1;
            future::ready(if call < 3 { Err("busy") } else { Ok(call) })
        });
        drop(policy); // the retry holds its own clone
        let task = rt.spawn(assert_send(retry));
        while clock.pending_sleepers() == 0 {
            crate::runtime::yield_now().await;
        }
        let (result, ()) = future::join(task, clock.run_for(ms(1000))).await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Relaxed), 3);
    }
);

runtime_test!(
    async fn the_default_max_delay_is_60_s_so_unlimited_retries_never_sleep_for_days() {
        let policy = RetryPolicy::builder().unlimited_retries().build().unwrap();
        let delays: Vec<_> = policy.delays().take(40).collect();
        assert_eq!(delays[..3], [ms(100), ms(200), ms(400)]);
        assert!(delays.iter().all(|delay| *delay <= Duration::from_secs(60)));
        assert_eq!(delays[39], Duration::from_secs(60));
    }
);

runtime_test!(
    async fn a_retry_after_beyond_max_delay_is_clamped_or_a_typed_give_up() {
        async fn run(
            policy: &RetryPolicy<VirtualClock>,
            clock: &VirtualClock,
            asked: Duration,
        ) -> RetryError<Duration> {
            let retry = policy
                .retry(move || future::ready(Err::<(), _>(asked)))
                .classify(|asked: &Duration| Verdict::RetryAfter(*asked));
            let (result, ()) = future::join(retry, clock.run_for(Duration::from_secs(100))).await;
            result.unwrap_err()
        }
        let clock = VirtualClock::new();
        let clamp = policy(&clock).max_retries(1).build().unwrap();
        let error = run(&clamp, &clock, Duration::from_secs(3600)).await;
        assert!(matches!(error, RetryError::Exhausted { attempts: 2, .. }));
        assert_eq!(error.elapsed(), Duration::from_secs(60), "clamped to the default max_delay");
        let error = run(&clamp, &clock, Duration::MAX).await;
        assert_eq!(error.elapsed(), Duration::from_secs(60), "even Duration::MAX");

        let give_up =
            policy(&clock).max_retries(1).long_retry_after(LongRetryAfter::GiveUp).build().unwrap();
        for asked in [Duration::from_secs(3600), Duration::MAX] {
            let error = run(&give_up, &clock, asked).await;
            assert_eq!(
                error,
                RetryError::DelayTooLong {
                    attempts: 1,
                    elapsed: Duration::ZERO,
                    delay: asked,
                    last: Some(asked)
                }
            );
        }
        let error = run(&give_up, &clock, Duration::from_secs(60)).await;
        assert!(matches!(error, RetryError::Exhausted { .. }), "within max_delay it is honoured");

        let uncapped = policy(&clock).max_retries(1).max_delay(Duration::MAX).build().unwrap();
        let error = run(&uncapped, &clock, Duration::MAX).await;
        assert!(matches!(error, RetryError::DelayTooLong { delay: Duration::MAX, .. }));
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn with_clock_after_budget_keeps_the_budget() {
        let clock = VirtualClock::new();
        let empty = RetryBudget::with_clock(clock.clone(), 0.0, 0, 0).unwrap();
        let policy = RetryPolicy::builder()
            .backoff(Backoff::constant(ms(10)))
            .budget(empty)
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let result = policy.retry(flaky(&calls, 5)).await;
        assert!(matches!(result, Err(RetryError::BudgetExhausted { attempts: 1, .. })));
        assert_eq!(calls.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn final_errors_name_the_last_error_and_count_attempts_in_good_english() {
        let plain = RetryPolicy::builder().build().unwrap();
        let error = plain
            .retry(|| future::ready(Err::<(), _>(std::io::Error::other("forbidden"))))
            .retry_if(|_| false)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "operation failed with an error the classifier does not retry, after 1 attempt: forbidden"
        );
        let clock = VirtualClock::new();
        let timed = policy(&clock)
            .backoff(Backoff::constant(Duration::ZERO))
            .attempt_timeout(ms(10))
            .max_retries(1)
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let operation = || {
            let call = calls.fetch_add(1, Relaxed) + 1;
            let clock = clock.clone();
            async move {
                if call == 1 {
                    return Err("refused");
                }
                clock.sleep(Duration::MAX).await;
                Ok(())
            }
        };
        let mut retry = pin!(timed.retry(operation));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(retry.as_mut().poll(&mut cx).is_pending(), "the first attempt failed: yield");
        assert!(retry.as_mut().poll(&mut cx).is_pending(), "the second attempt hangs");
        clock.advance(ms(10));
        let Poll::Ready(result) = retry.as_mut().poll(&mut cx) else { panic!("timed out") };
        assert_eq!(
            result.unwrap_err().to_string(),
            "the last of 2 attempts timed out, no retries left; last error: refused"
        );
        let too_long = RetryError::DelayTooLong {
            attempts: 1,
            elapsed: Duration::ZERO,
            delay: Duration::from_secs(3600),
            last: Some("busy"),
        };
        assert_eq!(
            too_long.to_string(),
            "gave up after 1 attempt: the next delay (3600s) is beyond max_delay or never ends; \
             raise max_delay or use LongRetryAfter::Clamp; last error: busy"
        );
    }
);

runtime_test!(
    async fn an_attempt_timeout_can_be_classified_like_an_error() {
        let clock = VirtualClock::new();
        let policy = |verdict| {
            policy(&clock)
                .backoff(Backoff::constant(ms(100)))
                .attempt_timeout(ms(10))
                .classify_timeout(verdict)
                .max_retries(5)
                .build()
                .unwrap()
        };
        let calls = AtomicU32::new(0);
        let slow = || {
            calls.fetch_add(1, Relaxed);
            let clock = clock.clone();
            async move {
                clock.sleep(Duration::MAX).await;
                Ok::<(), &str>(())
            }
        };
        let retry = policy(Verdict::Fail).retry(slow);
        let (result, ()) = future::join(retry, clock.run_for(ms(1000))).await;
        assert!(matches!(result, Err(RetryError::TimedOut { attempts: 1, last: None, .. })));
        assert_eq!(calls.load(Relaxed), 1);

        let start = clock.now();
        let retry = policy(Verdict::RetryAfter(ms(500))).retry(slow);
        let (result, ()) = future::join(retry, clock.run_for(ms(3000))).await;
        let error = result.unwrap_err();
        assert!(matches!(error, RetryError::TimedOut { attempts: 6, .. }));
        assert_eq!(error.elapsed(), ms(6 * 10 + 5 * 500));
        assert_eq!(clock.now() - start, ms(3000));
    }
);

// ---- Custom schedules ----

/// A retry of an always-failing operation that records the virtual time of each call.
fn calls_at(
    clock: &VirtualClock,
    times: &Mutex<Vec<Duration>>,
) -> impl FnMut() -> future::Ready<Result<(), &'static str>> {
    move || {
        times.lock().unwrap().push(clock.elapsed());
        future::ready(Err("busy"))
    }
}

runtime_test!(
    async fn a_custom_schedule_sets_the_exact_delay_before_each_retry() {
        let times = Mutex::new(Vec::new());
        let clock = VirtualClock::new();
        let policy = policy_custom(&clock, [ms(10), ms(50), ms(200)]);
        let (result, ()) =
            future::join(policy.retry(calls_at(&clock, &times)), clock.run_for(ms(10_000))).await;
        assert_eq!(*times.lock().unwrap(), [ms(0), ms(10), ms(60), ms(260)]);
        assert!(matches!(result, Err(RetryError::Exhausted { attempts: 4, .. })), "{result:?}");
    }
);

fn policy_custom<const N: usize>(
    clock: &VirtualClock,
    delays: [Duration; N],
) -> RetryPolicy<VirtualClock> {
    policy(clock).backoff(Backoff::custom(delays)).unlimited_retries().build().unwrap()
}

runtime_test!(
    async fn when_a_custom_schedule_ends_the_retry_gives_up_as_exhausted() {
        let clock = VirtualClock::new();
        let policy = policy_custom(&clock, [ms(10), ms(20)]);
        let retries = Mutex::new(Vec::new());
        let retry = policy
            .retry(|| future::ready(Err::<(), _>("busy")))
            .on_retry(|attempt| retries.lock().unwrap().push(attempt.delay()));
        let (result, ()) = future::join(retry, clock.run_for(ms(10_000))).await;
        match result {
            Err(RetryError::Exhausted { attempts: 3, elapsed, last: "busy" }) => {
                assert_eq!(elapsed, ms(30), "no sleep after the schedule ended");
            }
            other => panic!("expected Exhausted after 3 calls, got {other:?}"),
        }
        assert_eq!(*retries.lock().unwrap(), [ms(10), ms(20)]);
        // An empty schedule makes exactly one call.
        let calls = AtomicU32::new(0);
        let policy = policy_custom(&clock, []);
        let result = policy.retry(flaky(&calls, 9)).await;
        assert!(matches!(result, Err(RetryError::Exhausted { attempts: 1, .. })), "{result:?}");
        assert_eq!(calls.load(Relaxed), 1);
    }
);

runtime_test!(
    async fn a_timed_out_last_attempt_of_a_custom_schedule_gives_up_as_timed_out() {
        let clock = VirtualClock::new();
        let policy = policy(&clock)
            .backoff(Backoff::custom([ms(10)]))
            .attempt_timeout(ms(100))
            .unlimited_retries()
            .build()
            .unwrap();
        let slow = || clock.sleep(ms(1000)).map(Ok::<(), &str>);
        let (result, ()) = future::join(policy.retry(slow), clock.run_for(ms(10_000))).await;
        match result {
            Err(RetryError::TimedOut { attempts: 2, elapsed, last: None }) => {
                assert_eq!(elapsed, ms(210));
            }
            other => panic!("expected TimedOut after 2 calls, got {other:?}"),
        }
    }
);

runtime_test!(
    async fn each_retry_starts_the_custom_schedule_from_its_beginning() {
        let clock = VirtualClock::new();
        let policy = policy_custom(&clock, [ms(10), ms(20)]);
        for round in 1..=2 {
            let times = Mutex::new(Vec::new());
            let start = clock.elapsed();
            let (result, ()) =
                future::join(policy.retry(calls_at(&clock, &times)), clock.run_for(ms(1000))).await;
            assert!(result.is_err());
            let offsets: Vec<_> = times.lock().unwrap().iter().map(|t| *t - start).collect();
            assert_eq!(offsets, [ms(0), ms(10), ms(30)], "round {round}");
        }
        assert_eq!(policy.delays().collect::<Vec<_>>(), [ms(10), ms(20)]);
        assert_eq!(policy.delays().collect::<Vec<_>>(), [ms(10), ms(20)], "delays() restarts too");
    }
);

runtime_test!(
    async fn max_delay_min_delay_jitter_and_budget_apply_to_a_custom_schedule() {
        let clock = VirtualClock::new();
        // Capped at max_delay, then jittered, then clamped into [min_delay, max_delay].
        let bounded = policy(&clock)
            .backoff(Backoff::custom([ms(5), ms(1000), ms(20)]))
            .min_delay(ms(10))
            .max_delay(ms(100))
            .unlimited_retries()
            .build()
            .unwrap();
        assert_eq!(bounded.delays().collect::<Vec<_>>(), [ms(10), ms(100), ms(20)]);
        let times = Mutex::new(Vec::new());
        let (_, ()) =
            future::join(bounded.retry(calls_at(&clock, &times)), clock.run_for(ms(1000))).await;
        assert_eq!(*times.lock().unwrap(), [ms(0), ms(10), ms(110), ms(130)]);

        let jittered = policy(&clock)
            .backoff(Backoff::custom(std::iter::repeat_n(Duration::from_secs(10), 200)))
            .max_delay(ms(100))
            .jitter(Jitter::Equal)
            .seed(3)
            .unlimited_retries()
            .build()
            .unwrap();
        let delays: Vec<_> = jittered.delays().collect();
        assert_eq!(delays.len(), 200);
        assert!(delays.iter().all(|d| *d >= ms(50) && *d <= ms(100)), "{delays:?}");
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies the delays");

        let budget = RetryBudget::with_clock(clock.clone(), 0.0, 1, 0).unwrap();
        let budgeted = policy(&clock)
            .backoff(Backoff::custom([ms(10), ms(10), ms(10)]))
            .budget(budget.clone())
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let (result, ()) =
            future::join(budgeted.retry(flaky(&calls, 9)), clock.run_for(ms(1000))).await;
        assert!(
            matches!(
                result,
                Err(RetryError::BudgetExhausted { attempts: 2, last: Some("busy"), .. })
            ),
            "{result:?}"
        );
    }
);

runtime_test!(
    async fn max_retries_and_max_elapsed_still_limit_a_custom_schedule() {
        let clock = VirtualClock::new();
        let limited =
            policy(&clock).backoff(Backoff::custom([ms(10); 10])).max_retries(2).build().unwrap();
        let calls = AtomicU32::new(0);
        let (result, ()) =
            future::join(limited.retry(flaky(&calls, 99)), clock.run_for(ms(1000))).await;
        assert!(matches!(result, Err(RetryError::Exhausted { attempts: 3, .. })), "{result:?}");
        assert_eq!(limited.delays().size_hint(), (2, Some(2)));

        let clock = VirtualClock::new();
        let timed = policy(&clock)
            .backoff(Backoff::custom([ms(40); 10]))
            .max_elapsed(ms(100))
            .unlimited_retries()
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let (result, ()) =
            future::join(timed.retry(flaky(&calls, 99)), clock.run_for(ms(1000))).await;
        match result {
            Err(RetryError::DeadlineExceeded { attempts: 3, elapsed, .. }) => {
                assert_eq!(elapsed, ms(80))
            }
            other => panic!("expected DeadlineExceeded after 3 calls, got {other:?}"),
        }
    }
);

runtime_test!(
    async fn a_retry_after_verdict_does_not_consume_the_custom_schedule() {
        let clock = VirtualClock::new();
        let policy = policy_custom(&clock, [ms(10)]);
        let times = Mutex::new(Vec::new());
        let calls = AtomicU32::new(0);
        let retry = policy.retry(calls_at(&clock, &times)).classify(|_: &&str| {
            if calls.fetch_add(1, Relaxed) == 0 {
                Verdict::RetryAfter(ms(500))
            } else {
                Verdict::Retry
            }
        });
        let (result, ()) = future::join(retry, clock.run_for(ms(10_000))).await;
        assert!(matches!(result, Err(RetryError::Exhausted { attempts: 3, .. })), "{result:?}");
        assert_eq!(*times.lock().unwrap(), [ms(0), ms(500), ms(510)]);
    }
);

runtime_test!(
    async fn dropping_a_custom_schedule_retry_mid_sleep_cancels_it() {
        let clock = VirtualClock::new();
        let calls = AtomicU32::new(0);
        let policy = policy_custom(&clock, [ms(100), ms(100)]);
        {
            let mut retry = pin!(policy.retry(flaky(&calls, 9)));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(retry.as_mut().poll(&mut cx).is_pending());
            assert_eq!(clock.pending_sleepers(), 1, "sleeping its first custom delay");
        }
        assert_eq!(clock.pending_sleepers(), 0, "the dropped retry cancelled its sleep");
        clock.advance(ms(10_000));
        assert_eq!(calls.load(Relaxed), 1, "no call after the drop");
    }
);

/// An iterator that yields a delay, then `None`, then a delay again: not fused.
#[derive(Clone)]
struct Flickering(u32);

impl Iterator for Flickering {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.0 += 1;
        (self.0 % 2 == 1).then_some(ms(7))
    }
}

#[test]
fn the_delays_of_a_custom_schedule_are_fused_and_sized() {
    let policy = RetryPolicy::builder()
        .backoff(Backoff::custom(Flickering(0)))
        .unlimited_retries()
        .build()
        .unwrap();
    let mut delays = policy.delays();
    assert_eq!(delays.next(), Some(ms(7)));
    assert_eq!(delays.next(), None);
    assert_eq!(delays.next(), None, "stays ended although the iterator would resume");
    assert_eq!(delays.size_hint(), (0, Some(0)));

    let sized = |retries: Option<u32>| {
        let builder = RetryPolicy::builder().backoff(Backoff::custom(vec![ms(1); 5]));
        let builder = match retries {
            Some(n) => builder.max_retries(n),
            None => builder.unlimited_retries(),
        };
        builder.build().unwrap().delays().size_hint()
    };
    assert_eq!(sized(None), (5, Some(5)));
    assert_eq!(sized(Some(3)), (3, Some(3)));
    assert_eq!(sized(Some(9)), (5, Some(5)));
    let endless = RetryPolicy::builder()
        .backoff(Backoff::custom((1..).map(Duration::from_secs)))
        .max_retries(4)
        .build()
        .unwrap();
    assert_eq!(endless.delays().size_hint(), (4, Some(4)));
    assert_eq!(RetryPolicy::default().delays().size_hint(), (3, Some(3)));
}

#[test]
fn a_custom_backoff_equals_only_its_clones() {
    let backoff = Backoff::custom([ms(1)]);
    assert_eq!(backoff, backoff.clone());
    assert_ne!(backoff, Backoff::custom([ms(1)]));
    assert_ne!(backoff, Backoff::constant(ms(1)));
    assert!(format!("{backoff:?}").contains("Custom"), "{backoff:?}");
}

#[test]
fn the_retry_future_stays_small_with_custom_schedules() {
    // 136 bytes before custom schedules: the cursor's custom variant (a boxed iterator)
    // fits in the space of the built-in backoffs' state.
    let policy = RetryPolicy::default();
    let owned = policy.retry(|| future::ready(Ok::<u32, u32>(1)));
    assert!(std::mem::size_of_val(&owned) <= 136, "{} bytes", std::mem::size_of_val(&owned));
    let borrowed = (|| future::ready(Ok::<u32, u32>(1))).retry(&policy);
    assert!(std::mem::size_of_val(&borrowed) <= 136, "{} bytes", std::mem::size_of_val(&borrowed));
}

// ---- Blocking retry (synchronous code: plain tests, no runtime needed) ----

/// A synchronous operation that fails `failures` times with `"busy"`, each call taking
/// `work` of virtual time, then returns the call number; records when each call started.
fn blocking_flaky<'a>(
    clock: &'a VirtualClock,
    times: &'a Mutex<Vec<Duration>>,
    failures: u32,
    work: Duration,
) -> impl FnMut() -> Result<u32, &'static str> + 'a {
    move || {
        let mut times = times.lock().unwrap();
        times.push(clock.elapsed());
        clock.advance(work);
        let call = u32::try_from(times.len()).unwrap();
        if call <= failures { Err("busy") } else { Ok(call) }
    }
}

#[test]
fn a_blocking_retry_sleeps_the_schedule_on_the_clock_between_attempts() {
    let clock = VirtualClock::new();
    let policy =
        policy(&clock).backoff(Backoff::exponential(ms(100), 2.0)).max_retries(5).build().unwrap();
    let times = Mutex::new(Vec::new());
    let value = policy.retry_blocking(blocking_flaky(&clock, &times, 2, ms(1))).call();
    assert_eq!(value, Ok(3));
    assert_eq!(*times.lock().unwrap(), [ms(0), ms(101), ms(302)]);
    assert_eq!(clock.elapsed(), ms(303), "no sleep after the success");
}

#[test]
fn a_blocking_retry_gives_up_with_the_async_retrys_errors_and_messages() {
    let clock = VirtualClock::new();
    let policy = policy(&clock).backoff(Backoff::constant(ms(10))).max_retries(2).build().unwrap();
    let times = Mutex::new(Vec::new());
    let error = policy.retry_blocking(blocking_flaky(&clock, &times, 9, ms(0))).call().unwrap_err();
    assert!(matches!(error, RetryError::Exhausted { attempts: 3, last: "busy", .. }), "{error:?}");
    assert_eq!(error.elapsed(), ms(20), "no sleep after the last failure");
    assert_eq!(error.to_string(), "operation failed after 3 attempts, no retries left: busy");
    assert_eq!(clock.elapsed(), ms(20));

    let mut calls = 0;
    let error = policy
        .retry_blocking(|| {
            calls += 1;
            Err::<(), _>("forbidden")
        })
        .retry_if(|error| *error == "busy")
        .call()
        .unwrap_err();
    assert!(matches!(error, RetryError::Permanent { attempts: 1, error: "forbidden", .. }));
    assert!(error.to_string().ends_with("after 1 attempt: forbidden"), "{error}");
    assert_eq!(calls, 1);
}

#[test]
fn a_blocking_retry_reports_each_retry_to_its_hook() {
    let clock = VirtualClock::new();
    let policy =
        policy(&clock).backoff(Backoff::linear(ms(10), ms(10))).max_retries(3).build().unwrap();
    let times = Mutex::new(Vec::new());
    let mut seen = Vec::new();
    let result = policy
        .retry_blocking(blocking_flaky(&clock, &times, 9, ms(5)))
        .on_retry(|attempt| {
            seen.push((attempt.to_string(), attempt.elapsed(), attempt.error().copied()));
        })
        .call();
    assert!(result.is_err());
    assert_eq!(
        seen,
        [
            ("retry 1/3 in 10ms".to_owned(), ms(5), Some("busy")),
            ("retry 2/3 in 20ms".to_owned(), ms(20), Some("busy")),
            ("retry 3/3 in 30ms".to_owned(), ms(45), Some("busy")),
        ]
    );
}

#[test]
fn a_blocking_retry_never_sleeps_past_max_elapsed_and_keeps_a_late_success() {
    let clock = VirtualClock::new();
    let policy = policy(&clock)
        .backoff(Backoff::constant(Duration::from_secs(1)))
        .max_elapsed(Duration::from_secs(10))
        .unlimited_retries()
        .build()
        .unwrap();
    // Calls of 4 s: 0–4 fails, sleep to 5, 5–9 fails, and a sleep to 10 would reach the limit.
    let times = Mutex::new(Vec::new());
    let secs = Duration::from_secs;
    let error =
        policy.retry_blocking(blocking_flaky(&clock, &times, 9, secs(4))).call().unwrap_err();
    match error {
        RetryError::DeadlineExceeded { attempts: 2, elapsed, last: Some("busy") } => {
            assert_eq!(elapsed, secs(9));
        }
        other => panic!("expected DeadlineExceeded after 2 calls, got {other:?}"),
    }
    assert_eq!(*times.lock().unwrap(), [secs(0), secs(5)]);
    // A call cannot be interrupted: one that succeeds after the limit returns its value.
    let times = Mutex::new(Vec::new());
    assert_eq!(policy.retry_blocking(blocking_flaky(&clock, &times, 0, secs(60))).call(), Ok(1));
}

#[test]
fn a_blocking_retry_runs_every_attempt_to_its_end_despite_an_attempt_timeout() {
    let clock = VirtualClock::new();
    let policy = policy(&clock).attempt_timeout(ms(10)).build().unwrap();
    let times = Mutex::new(Vec::new());
    assert_eq!(policy.retry_blocking(blocking_flaky(&clock, &times, 0, ms(500))).call(), Ok(1));
}

#[test]
fn a_blocking_retry_draws_on_the_budget_and_deposits_its_successes() {
    let clock = VirtualClock::new();
    let budget = RetryBudget::with_clock(clock.clone(), 0.5, 0, 10).unwrap();
    let policy = policy(&clock)
        .backoff(Backoff::constant(Duration::ZERO))
        .max_retries(100)
        .budget(budget.clone())
        .build()
        .unwrap();
    for _ in 0..4 {
        assert_eq!(policy.retry_blocking(|| Ok::<_, ()>(())).call(), Ok(()));
    }
    assert_eq!(budget.available(), 2, "four successes earn two retries");
    let times = Mutex::new(Vec::new());
    let error =
        policy.retry_blocking(blocking_flaky(&clock, &times, 99, ms(0))).call().unwrap_err();
    assert!(
        matches!(error, RetryError::BudgetExhausted { attempts: 3, last: Some("busy"), .. }),
        "{error:?}"
    );
    assert_eq!(budget.available(), 0);
}

#[test]
fn a_blocking_retry_honours_retry_after_within_the_policys_rule() {
    let clock = VirtualClock::new();
    let clamp = policy(&clock).max_delay(Duration::from_secs(5)).max_retries(1).build().unwrap();
    let error = clamp
        .retry_blocking(|| Err::<(), _>(Duration::MAX))
        .classify(|asked: &Duration| Verdict::RetryAfter(*asked))
        .call()
        .unwrap_err();
    assert!(matches!(error, RetryError::Exhausted { attempts: 2, .. }), "{error:?}");
    assert_eq!(error.elapsed(), Duration::from_secs(5), "clamped to max_delay");

    let give_up = policy(&clock)
        .max_delay(Duration::from_secs(5))
        .long_retry_after(LongRetryAfter::GiveUp)
        .build()
        .unwrap();
    let before = clock.elapsed();
    let error = give_up
        .retry_blocking(|| Err::<(), _>(Duration::from_secs(60)))
        .classify(|asked: &Duration| Verdict::RetryAfter(*asked))
        .call()
        .unwrap_err();
    match error {
        RetryError::DelayTooLong { attempts: 1, delay, .. } => {
            assert_eq!(delay, Duration::from_secs(60));
        }
        other => panic!("expected DelayTooLong, got {other:?}"),
    }
    assert_eq!(clock.elapsed(), before, "it never slept");
}

#[test]
fn a_blocking_retry_follows_a_custom_schedule_to_its_end() {
    let clock = VirtualClock::new();
    let policy = policy_custom(&clock, [ms(3), ms(30)]);
    let times = Mutex::new(Vec::new());
    let error = policy.retry_blocking(blocking_flaky(&clock, &times, 9, ms(0))).call().unwrap_err();
    assert!(matches!(error, RetryError::Exhausted { attempts: 3, .. }), "{error:?}");
    assert_eq!(*times.lock().unwrap(), [ms(0), ms(3), ms(33)]);
}

#[test]
fn a_blocking_retry_runs_on_the_real_clock() {
    // Zero delays: the real clock's blocking sleep returns at once.
    let policy = RetryPolicy::builder()
        .backoff(Backoff::constant(Duration::ZERO))
        .max_retries(3)
        .build()
        .unwrap();
    let mut calls = 0;
    let value = policy
        .retry_blocking(|| {
            calls += 1;
            if calls < 3 { Err("busy") } else { Ok(calls) }
        })
        .call();
    assert_eq!(value, Ok(3));
    assert!(
        format!("{:?}", policy.retry_blocking(|| Ok::<_, ()>(()))).starts_with("RetryBlocking")
    );
}
