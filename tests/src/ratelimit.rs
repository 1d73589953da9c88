//! Behaviour tests of `asynchronously::ratelimit`, on virtual time, under every runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asynchronously::ratelimit::{
    Acquire, AcquireError, BuildError, CheckError, CompositeRateLimiter, Enter, FifoEnter,
    FifoLockout, KeyedRateLimiter, Lockout, Quota, QuotaError, RateLimitExt, RateLimiter,
    Reservation, SlidingWindow,
};
use asynchronously::time::{Clock, RealClock, VirtualClock};
use futures::StreamExt;
use futures::future::join_all;
use proptest::prelude::*;

use crate::runtime_test;
use crate::support::{CountingWaker, ms, poll_once, secs, splitmix};

// Compile-time promises: limiters are shareable and their futures can be spawned.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync::<RateLimiter>();
    assert_send_sync::<RateLimiter<VirtualClock>>();
    assert_send_sync::<CompositeRateLimiter<VirtualClock>>();
    assert_send_sync::<SlidingWindow<VirtualClock>>();
    assert_send_sync::<KeyedRateLimiter<String, VirtualClock>>();
    assert_send_sync::<Lockout<VirtualClock>>();
    assert_send_sync::<FifoLockout<VirtualClock>>();
    assert_send_sync_unpin::<Acquire<'static, RateLimiter>>();
    assert_send_sync_unpin::<Acquire<'static, SlidingWindow<VirtualClock>>>();
    assert_send_sync_unpin::<Acquire<'static, CompositeRateLimiter>>();
    assert_send_sync_unpin::<Reservation<'static, RateLimiter>>();
    assert_send_sync_unpin::<Enter<'static, VirtualClock>>();
    assert_send_sync_unpin::<FifoEnter<'static, VirtualClock>>();
};

fn quota(count: u32, period: Duration, burst: u32) -> Quota {
    Quota::new(count, period).and_then(|quota| quota.with_burst(burst)).expect("a valid quota")
}

fn limiter(
    clock: &VirtualClock,
    count: u32,
    period: Duration,
    burst: u32,
) -> RateLimiter<VirtualClock> {
    RateLimiter::with_clock(quota(count, period, burst), clock.clone())
}

/// A waker that counts wake-ups, and the waker itself.
fn counting() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

fn poll_with<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

// ---- Quota: bad input gets a typed error ----

runtime_test!(
    async fn bad_quotas_are_typed_errors_found_at_construction() {
        assert_eq!(Quota::new(0, secs(1)), Err(QuotaError::ZeroCount));
        assert_eq!(Quota::new(1, Duration::ZERO), Err(QuotaError::ZeroPeriod));
        assert_eq!(
            Quota::new(1, Duration::MAX),
            Err(QuotaError::PeriodTooLong { period: Duration::MAX })
        );
        assert!(matches!(
            Quota::new(10, Duration::from_nanos(5)),
            Err(QuotaError::FinerThanNanosecond { count: 10, .. })
        ));
        assert_eq!(Quota::per_second(1).unwrap().with_burst(0), Err(QuotaError::ZeroBurst));
        assert!(matches!(
            Quota::per_hour(1).unwrap().with_burst(u32::MAX),
            Err(QuotaError::BurstTooLarge { burst: u32::MAX, .. })
        ));
        // Exactly one cell per nanosecond is the finest rate.
        assert_eq!(
            Quota::new(5, Duration::from_nanos(5)).unwrap().interval(),
            Duration::from_nanos(1)
        );
        let message = QuotaError::ZeroBurst.to_string();
        assert!(message.starts_with("a quota needs a burst"), "{message}");
    }
);

runtime_test!(
    async fn requests_larger_than_the_burst_fail_at_once_instead_of_waiting_forever() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 10, secs(1), 5);
        assert_eq!(
            limiter.check_n(6),
            Err(CheckError::InsufficientCapacity { requested: 6, burst: 5 })
        );
        assert_eq!(
            limiter.acquire(6).await,
            Err(AcquireError::InsufficientCapacity { requested: 6, burst: 5 })
        );
        assert!(limiter.reserve(u32::MAX).is_err());
        assert_eq!(limiter.queued(), 0);
        assert!(limiter.check_n(5).is_ok(), "nothing was consumed by the refusals");
        assert!(limiter.check_n(0).is_ok(), "zero cells always conform");
    }
);

// ---- GCRA ----

runtime_test!(
    async fn check_admits_the_burst_then_one_cell_per_interval() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 10, secs(1), 3);
        for _ in 0..3 {
            assert!(limiter.check().is_ok());
        }
        assert_eq!(limiter.check(), Err(CheckError::RateLimited { retry_after: ms(100) }));
        clock.advance(ms(99));
        assert_eq!(limiter.check(), Err(CheckError::RateLimited { retry_after: ms(1) }));
        clock.advance(ms(1));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        clock.advance(secs(10));
        assert!(limiter.check_n(3).is_ok(), "an idle spell refills only up to the burst");
        assert!(limiter.check().is_err());
    }
);

/// One step of the property test: wait `gap` ns, then ask for `n` cells in one of three ways.
#[derive(Debug, Clone)]
struct Step {
    gap: u64,
    n: u32,
    how: u8,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (0..3_000_000u64, 0..6u32, 0..3u8).prop_map(|(gap, n, how)| Step { gap, n, how }),
        1..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Over any window, the cells admitted (by checks, and by reservations at their instant)
    /// never exceed `burst + window / interval`, and the ones reserved are due in FIFO order.
    #[test]
    fn gcra_never_admits_more_than_burst_plus_rate_times_window(
        steps in steps(),
        burst in 1..8u32,
        per_second in 100..2000u32,
        cancel_seed in any::<u64>(),
    ) {
        let clock = VirtualClock::new();
        let limiter = RateLimiter::with_clock(quota(per_second, secs(1), burst), clock.clone());
        let interval = limiter.quota().interval().as_nanos();
        let origin = clock.now();
        let mut admitted: Vec<(u128, u32)> = Vec::new();
        let mut held: Vec<(Reservation<'_, RateLimiter<VirtualClock>>, u32)> = Vec::new();
        let mut rng = cancel_seed;
        for step in &steps {
            clock.advance(Duration::from_nanos(step.gap));
            let now = clock.now();
            // Reservations due now are spent; some of the rest are cancelled.
            held.retain(|(reservation, n)| {
                if reservation.ready_at() <= now {
                    admitted.push(((reservation.ready_at() - origin).as_nanos(), *n));
                    false
                } else {
                    true
                }
            });
            if splitmix(&mut rng) % 4 == 0 && !held.is_empty() {
                let index = (splitmix(&mut rng) as usize) % held.len();
                held.remove(index).0.cancel();
            }
            let n = step.n.min(burst);
            match step.how {
                0 => {
                    if limiter.check_n(n).is_ok() {
                        admitted.push(((now - origin).as_nanos(), n));
                    }
                }
                _ => {
                    let reservation = limiter.reserve(n).expect("n <= burst");
                    prop_assert!(reservation.ready_at() >= now);
                    // Zero cells never queue; any other reservation queues behind the held ones.
                    for (earlier, _) in held.iter().filter(|_| n > 0) {
                        prop_assert!(reservation.ready_at() >= earlier.ready_at(), "FIFO");
                    }
                    held.push((reservation, n));
                }
            }
        }
        // Let every remaining reservation come due.
        clock.advance(secs(3600));
        for (reservation, n) in held.drain(..) {
            admitted.push(((reservation.ready_at() - origin).as_nanos(), n));
        }
        admitted.sort();
        for i in 0..admitted.len() {
            let mut cells = 0u128;
            for j in i..admitted.len() {
                cells += u128::from(admitted[j].1);
                let window = admitted[j].0 - admitted[i].0;
                let allowed = u128::from(burst) + window / interval;
                prop_assert!(
                    cells <= allowed,
                    "{cells} cells in a window of {window} ns; allowed {allowed}"
                );
            }
        }
    }
}

runtime_test!(
    async fn a_hundred_waiters_are_admitted_in_arrival_order_with_one_wake_up_each() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 1000, secs(1), 1);
        limiter.check().unwrap();
        let mut waiters: Vec<_> = (0..100).map(|_| (limiter.acquire(1), counting())).collect();
        for (acquire, (_, waker)) in &mut waiters {
            assert!(poll_with(acquire, waker).is_pending());
        }
        assert_eq!(limiter.queued(), 100);
        assert!(limiter.check().is_err(), "a check never barges past the queue");
        let mut order = Vec::new();
        let mut done = [false; 100];
        for step in 1..=100u64 {
            clock.advance(ms(1));
            for (index, (acquire, (counter, waker))) in waiters.iter_mut().enumerate() {
                // Poll only the woken ones, as an executor would.
                if !done[index] && counter.0.load(SeqCst) > 0 {
                    assert_eq!(poll_with(acquire, waker), Poll::Ready(Ok(())));
                    done[index] = true;
                    order.push(index);
                }
            }
            assert_eq!(order.len() as u64, step, "one waiter per interval");
        }
        assert_eq!(order, (0..100).collect::<Vec<_>>());
        for (_, (counter, _)) in &waiters {
            assert_eq!(counter.0.load(SeqCst), 1, "exactly one wake-up per admitted waiter");
        }
        assert_eq!(limiter.queued(), 0);
    }
);

runtime_test!(
    async fn waiters_joined_on_a_runtime_enter_in_arrival_order_at_their_instants() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 5, secs(1), 1);
        let start = clock.now();
        let order = Mutex::new(Vec::new());
        let callers = join_all((0..5).map(|caller| {
            let (limiter, clock, order) = (&limiter, &clock, &order);
            async move {
                limiter.acquire(1).await.unwrap();
                order.lock().unwrap().push((caller, clock.now() - start));
            }
        }));
        futures::join!(callers, clock.run_for(secs(2)));
        let expected: Vec<_> = (0..5).map(|caller| (caller, ms(200 * caller as u64))).collect();
        assert_eq!(*order.lock().unwrap(), expected);
    }
);

runtime_test!(
    async fn a_dropped_waiter_returns_its_slot_to_those_behind_it() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 1, secs(1), 1);
        limiter.check().unwrap();
        let (first_count, first_waker) = counting();
        let (third_count, third_waker) = counting();
        let mut first = limiter.acquire(1);
        let mut second = limiter.acquire(1);
        let mut third = limiter.acquire(1);
        assert!(poll_with(&mut first, &first_waker).is_pending());
        assert!(poll_once(&mut second).is_pending());
        assert!(poll_with(&mut third, &third_waker).is_pending());
        assert_eq!(limiter.queued(), 3);

        drop(second); // due at 2 s: gives its slot to `third`, which moves from 3 s to 2 s
        assert_eq!(limiter.queued(), 2);
        assert_eq!(third_count.0.load(SeqCst), 1, "woken once to re-arm its timer earlier");
        assert_eq!(first_count.0.load(SeqCst), 0, "those ahead are not disturbed");
        assert!(poll_with(&mut third, &third_waker).is_pending());

        clock.advance(secs(1));
        assert_eq!(poll_with(&mut first, &first_waker), Poll::Ready(Ok(())));
        assert!(poll_with(&mut third, &third_waker).is_pending());
        clock.advance(secs(1));
        assert_eq!(poll_with(&mut third, &third_waker), Poll::Ready(Ok(())));
        assert!(limiter.check().is_err(), "`third` took the 2 s cell");
        clock.advance(secs(1));
        assert!(limiter.check().is_ok(), "and the 3 s cell is free: the slot came back");
    }
);

runtime_test!(
    async fn dropping_acquire_at_any_poll_leaks_no_cell_and_leaves_no_waiter() {
        for polls in 0..4 {
            let clock = VirtualClock::new();
            let limiter = limiter(&clock, 10, secs(1), 1);
            limiter.check().unwrap();
            let mut acquire = limiter.acquire(1);
            let mut completed = false;
            for _ in 0..polls {
                if poll_once(&mut acquire).is_ready() {
                    completed = true;
                    break;
                }
                clock.advance(ms(40));
            }
            drop(acquire);
            assert_eq!(limiter.queued(), 0);
            assert_eq!(clock.pending_sleepers(), 0, "the waiter's sleep is released");
            // A cell not yet due comes back; one that was due (or taken) is spent.
            let elapsed = clock.elapsed();
            clock.advance(ms(100).saturating_sub(elapsed));
            let expect_free = !completed && elapsed < ms(100);
            assert_eq!(limiter.check().is_ok(), expect_free, "polls = {polls}");
        }
    }
);

runtime_test!(
    async fn reserve_reports_when_cells_are_due_and_cancel_returns_them() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 2, secs(1), 2);
        let now = clock.now();
        let first = limiter.reserve(2).unwrap();
        let second = limiter.reserve(1).unwrap();
        let third = limiter.reserve(1).unwrap();
        assert_eq!(first.ready_at(), now);
        assert_eq!(second.ready_at() - now, ms(500));
        assert_eq!(third.ready_at() - now, secs(1));
        second.cancel();
        let (waited, ()) = futures::join!(third.wait(), clock.run_for(secs(1)));
        assert_eq!(waited, Ok(()));
        assert_eq!(clock.now() - now, secs(1));
        drop(first);
        // `third` moved to 500 ms when `second` was cancelled; the 1 s slot is free.
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
    }
);

runtime_test!(
    async fn set_quota_mid_stream_keeps_the_state_and_applies_from_now_on() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 1, secs(1), 1);
        limiter.check().unwrap();
        // Speed up: the second of debt carries over, then cells come every 100 ms.
        limiter.set_quota(quota(10, secs(1), 1));
        assert_eq!(limiter.check(), Err(CheckError::RateLimited { retry_after: secs(1) }));
        clock.advance(secs(1));
        assert!(limiter.check().is_ok());
        clock.advance(ms(100));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        // A bigger burst makes room at once; waiters queued before keep their instants.
        limiter.set_quota(quota(10, secs(1), 3));
        assert!(limiter.check_n(2).is_ok());
        let start = clock.now();
        let (admitted, ()) = futures::join!(
            async { limiter.acquire(3).await.map(|()| clock.now() - start) },
            clock.run_for(secs(1)),
        );
        assert_eq!(admitted, Ok(ms(300)));
        assert_eq!(limiter.quota(), quota(10, secs(1), 3));
    }
);

runtime_test!(
    async fn two_threads_checking_a_million_times_each_never_exceed_the_quota() {
        // Taken before the limiter exists, so every check lies within `span` of its origin.
        let start = RealClock.now();
        let limiter = Arc::new(RateLimiter::new(quota(1, Duration::from_micros(20), 50)));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..1_000_000).filter(|_| limiter.check().is_ok()).count()
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|thread| thread.join().unwrap()).sum();
        let span = RealClock.now() - start;
        let allowed = 50 + span.as_nanos() / 20_000 + 1;
        assert!(admitted as u128 <= allowed, "{admitted} admitted in {span:?}, allowed {allowed}");
        assert!(admitted >= 50, "the burst at least");
    }
);

runtime_test!(
    async fn two_threads_on_a_virtual_clock_never_exceed_the_quota_over_the_virtual_span() {
        let clock = VirtualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(
            quota(1, Duration::from_micros(1), 10),
            clock.clone(),
        ));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (limiter, clock) = (limiter.clone(), clock.clone());
                std::thread::spawn(move || {
                    let mut admitted = 0;
                    for check in 0..1_000_000u32 {
                        if check % 100 == 0 {
                            clock.advance(Duration::from_micros(1));
                        }
                        admitted += usize::from(limiter.check().is_ok());
                    }
                    admitted
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|thread| thread.join().unwrap()).sum();
        assert_eq!(clock.elapsed(), Duration::from_micros(20_000));
        assert!(admitted <= 10 + 20_000, "{admitted} admitted");
        assert!(admitted >= 10_000, "{admitted} admitted: most intervals get a cell");
    }
);

// ---- Sliding window ----

runtime_test!(
    async fn sliding_window_two_per_200ms_with_five_callers_enters_at_0_0_200_200_400() {
        let clock = VirtualClock::new();
        let window = SlidingWindow::with_clock(2, ms(200), clock.clone()).unwrap();
        let start = clock.now();
        let callers = join_all((0..5).map(|_| async {
            window.acquire().await.unwrap();
            clock.now() - start
        }));
        let (entered, ()) = futures::join!(callers, clock.run_for(secs(1)));
        assert_eq!(entered, [0, 0, 200, 200, 400].map(ms));
        assert_eq!(window.queued(), 0);
    }
);

runtime_test!(
    async fn sliding_window_limits_starts_in_any_rolling_period_and_never_deadlocks_when_full() {
        let clock = VirtualClock::new();
        let window = SlidingWindow::with_clock(3, ms(100), clock.clone()).unwrap();
        for _ in 0..3 {
            window.check().unwrap();
        }
        assert_eq!(window.check(), Err(CheckError::RateLimited { retry_after: ms(100) }));
        clock.advance(ms(60));
        assert_eq!(window.check(), Err(CheckError::RateLimited { retry_after: ms(40) }));
        clock.advance(ms(40));
        // Full again and again: each start stops counting 100 ms after it happened.
        for round in 0..5 {
            for _ in 0..3 {
                assert!(window.check().is_ok(), "round {round}");
            }
            assert!(window.check().is_err());
            clock.advance(ms(100));
        }
        // Exact, unlike GCRA: a start at 10 ms counts until 110 ms, not a fraction of it.
        let clock = VirtualClock::new();
        let window = SlidingWindow::with_clock(2, ms(100), clock.clone()).unwrap();
        window.check().unwrap();
        clock.advance(ms(10));
        window.check().unwrap();
        clock.advance(ms(90));
        assert!(window.check().is_ok(), "the 0 ms start left the window at 100 ms");
        assert!(window.check().is_err(), "the 10 ms start still counts until 110 ms");
    }
);

runtime_test!(
    async fn sliding_window_waiter_dropped_before_its_start_gives_it_to_the_next() {
        let clock = VirtualClock::new();
        let window = SlidingWindow::with_clock(1, ms(100), clock.clone()).unwrap();
        window.check().unwrap();
        let mut second = window.acquire();
        let (third_count, third_waker) = counting();
        let mut third = window.acquire();
        assert!(poll_once(&mut second).is_pending());
        assert!(poll_with(&mut third, &third_waker).is_pending());
        assert_eq!(window.queued(), 2);
        drop(second);
        assert_eq!(third_count.0.load(SeqCst), 1);
        clock.advance(ms(100));
        assert_eq!(poll_with(&mut third, &third_waker), Poll::Ready(Ok(())));
        assert!(window.check().is_err(), "`third` started at 100 ms");
        clock.advance(ms(100));
        assert!(window.check().is_ok());
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    /// However starts are asked for (checks, waiters, cancelled waiters), at most `limit`
    /// happen in any rolling period, and waiters start in arrival order.
    #[test]
    fn sliding_window_never_admits_more_than_limit_in_any_period(
        steps in proptest::collection::vec((0..40u64, 0..4u8), 1..100),
        limit in 1..5usize,
        period_ms in 10..100u64,
    ) {
        let clock = VirtualClock::new();
        let window = SlidingWindow::with_clock(limit, ms(period_ms), clock.clone()).unwrap();
        let origin = clock.now();
        let mut starts: Vec<Duration> = Vec::new();
        let mut waiting: Vec<(usize, Acquire<'_, SlidingWindow<VirtualClock>>)> = Vec::new();
        let mut started_waiters: Vec<usize> = Vec::new();
        let mut next_waiter = 0;
        // Polls every waiter; records the ones that start, at the current instant.
        let settle = |waiting: &mut Vec<(usize, Acquire<'_, SlidingWindow<VirtualClock>>)>,
                          starts: &mut Vec<Duration>,
                          started: &mut Vec<usize>| {
            waiting.retain_mut(|(id, acquire)| {
                if poll_once(acquire).is_ready() {
                    starts.push(clock.now() - origin);
                    started.push(*id);
                    false
                } else {
                    true
                }
            });
        };
        for (gap, action) in steps {
            let target = clock.now() + ms(gap);
            // Stop at every deadline on the way, so each waiter is seen at its exact start.
            while let Some(deadline) = clock.next_deadline().filter(|deadline| *deadline <= target) {
                clock.advance_to(deadline);
                settle(&mut waiting, &mut starts, &mut started_waiters);
            }
            clock.advance_to(target);
            settle(&mut waiting, &mut starts, &mut started_waiters);
            match action {
                0 => {
                    if window.check().is_ok() {
                        starts.push(clock.now() - origin);
                    }
                }
                1 if !waiting.is_empty() => {
                    drop(waiting.remove(gap as usize % waiting.len()));
                    // The ones behind moved earlier and were woken: they re-arm when polled.
                    settle(&mut waiting, &mut starts, &mut started_waiters);
                }
                _ => {
                    let mut acquire = window.acquire();
                    if poll_once(&mut acquire).is_ready() {
                        starts.push(clock.now() - origin);
                        started_waiters.push(next_waiter);
                    } else {
                        waiting.push((next_waiter, acquire));
                    }
                    next_waiter += 1;
                }
            }
        }
        while let Some(deadline) = clock.next_deadline() {
            clock.advance_to(deadline);
            settle(&mut waiting, &mut starts, &mut started_waiters);
        }
        prop_assert!(waiting.is_empty());
        prop_assert!(started_waiters.windows(2).all(|pair| pair[0] < pair[1]), "FIFO");
        starts.sort();
        for (i, first) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().take_while(|start| **start < *first + ms(period_ms)).count();
            prop_assert!(in_window <= limit, "{in_window} starts within {period_ms} ms of {first:?}");
        }
    }
}

runtime_test!(
    async fn sliding_window_refuses_bad_input() {
        let clock = VirtualClock::new();
        assert_eq!(
            SlidingWindow::with_clock(0, ms(1), clock.clone()).unwrap_err(),
            BuildError::ZeroLimit
        );
        assert_eq!(
            SlidingWindow::with_clock(1, Duration::ZERO, clock.clone()).unwrap_err(),
            BuildError::ZeroPeriod
        );
        assert!(matches!(
            SlidingWindow::with_clock(1, Duration::MAX, clock).unwrap_err(),
            BuildError::PeriodTooLong { .. }
        ));
    }
);

// ---- Composite ----

runtime_test!(
    async fn composite_refused_by_one_quota_consumes_nothing_from_any() {
        let clock = VirtualClock::new();
        let limiter = CompositeRateLimiter::with_clock(
            [quota(2, secs(1), 2), quota(3, secs(60), 3)],
            clock.clone(),
        )
        .unwrap();
        limiter.check_n(2).unwrap(); // per second: 0 left; per minute: 1 left
        clock.advance(secs(1)); // per second: 2 left again
        assert!(
            matches!(limiter.check_n(2), Err(CheckError::RateLimited { .. })),
            "per minute refuses"
        );
        // Had the refused request taken its 2 per-second cells, this would fail on them.
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "per minute is spent");
        assert_eq!(CompositeRateLimiter::with_clock([], clock).unwrap_err(), BuildError::NoQuotas);
    }
);

runtime_test!(
    async fn composite_waiters_wait_for_the_binding_quota_in_fifo_order() {
        let clock = VirtualClock::new();
        let limiter = CompositeRateLimiter::with_clock(
            [quota(10, secs(1), 10), quota(12, secs(60), 12)],
            clock.clone(),
        )
        .unwrap();
        let start = clock.now();
        let callers = join_all((0..14).map(|_| async {
            limiter.acquire(1).await.unwrap();
            clock.now() - start
        }));
        let (admitted, ()) = futures::join!(callers, clock.run_for(secs(20)));
        let mut expected: Vec<Duration> = vec![Duration::ZERO; 10];
        expected.extend([ms(100), ms(200), secs(5), secs(10)]);
        assert_eq!(admitted, expected, "10/s binds first, then 12/min");
        assert_eq!(limiter.queued(), 0);
    }
);

runtime_test!(
    async fn a_dropped_composite_waiter_returns_its_cells_to_every_quota() {
        let clock = VirtualClock::new();
        let limiter = CompositeRateLimiter::with_clock(
            [quota(1, secs(1), 1), quota(10, secs(3600), 10)],
            clock.clone(),
        )
        .unwrap();
        limiter.check().unwrap();
        let mut first = limiter.acquire(1);
        let (second_count, second_waker) = counting();
        let mut second = limiter.acquire(1);
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_with(&mut second, &second_waker).is_pending());
        drop(first);
        assert_eq!(second_count.0.load(SeqCst), 1, "moved from 2 s to 1 s");
        clock.advance(secs(1));
        assert_eq!(poll_with(&mut second, &second_waker), Poll::Ready(Ok(())));
        // 2 of the hour's 10 cells are spent; had `first` kept one, the last check would fail.
        for _ in 2..=9 {
            clock.advance(secs(1));
            assert!(limiter.check().is_ok());
        }
        clock.advance(secs(1));
        assert!(limiter.check().is_err(), "the hour's 10 cells are spent");
        assert_eq!(limiter.queued(), 0);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn dropping_a_rate_limited_stream_while_an_item_waits_returns_its_cell() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 1, secs(1), 1);
        let mut stream = futures::stream::iter([1, 2]).rate_limited(&limiter);
        assert_eq!(poll_once(&mut stream.next()), Poll::Ready(Some(1)));
        assert!(poll_once(&mut stream.next()).is_pending(), "item 2 waits for 1 s");
        assert_eq!(limiter.queued(), 1);
        drop(stream);
        assert_eq!(limiter.queued(), 0);
        clock.advance(secs(1));
        assert!(limiter.check().is_ok(), "the 1 s cell came back");
    }
);

// ---- Keyed ----

runtime_test!(
    async fn keyed_limiter_stays_bounded_while_100_000_keys_pass_through() {
        let clock = VirtualClock::new();
        let limiter =
            KeyedRateLimiter::with_clock(quota(1, secs(1), 1), 1000, clock.clone()).unwrap();
        let mut peak = 0;
        for key in 0..100_000u64 {
            assert!(limiter.check(&key).is_ok(), "a new key has its full burst");
            if key % 97 == 0 {
                peak = peak.max(limiter.len());
                clock.advance(ms(3));
            }
        }
        peak = peak.max(limiter.len());
        assert!(peak <= 1000, "{peak} live keys");
        assert!(peak >= 900, "{peak} live keys: the bound, not far below it, is what limits");
        // A recent key is still tracked and still limited.
        assert!(limiter.check(&99_999).is_err());
        // Once every key is idle, they are all forgotten.
        clock.advance(secs(2));
        limiter.evict_idle();
        assert!(limiter.is_empty());
    }
);

runtime_test!(
    async fn keyed_limiter_limits_each_key_alone_and_evicts_idle_keys_first() {
        let clock = VirtualClock::new();
        let limiter = KeyedRateLimiter::with_clock(quota(1, secs(1), 2), 1, clock.clone()).unwrap();
        assert!(limiter.check_n(&"a", 2).is_ok());
        assert!(limiter.check(&"a").is_err());
        clock.advance(secs(2)); // "a" is idle: forgetting it loses nothing
        assert!(limiter.check(&"b").is_ok());
        assert_eq!(limiter.len(), 1);
        assert!(limiter.check_n(&"a", 2).is_ok());
        assert_eq!(
            KeyedRateLimiter::<u8>::new(quota(1, secs(1), 1), 0).unwrap_err(),
            BuildError::ZeroMaxKeys
        );
    }
);

/// A key whose `Eq` panics for the value 666 and whose `Hash` panics for 667.
#[derive(Debug, Clone, Eq)]
struct Touchy(u64);

impl PartialEq for Touchy {
    fn eq(&self, other: &Touchy) -> bool {
        assert!(self.0 != 666, "user Eq panicked");
        self.0 == other.0
    }
}

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        assert!(self.0 != 667, "user Hash panicked");
        self.0.hash(state);
    }
}

runtime_test!(
    async fn a_panicking_key_reaches_only_its_caller_and_the_keyed_limiter_stays_usable() {
        use std::panic::{AssertUnwindSafe, catch_unwind};

        let clock = VirtualClock::new();
        let limiter = KeyedRateLimiter::with_clock(quota(1, secs(1), 1), 8, clock.clone()).unwrap();
        assert!(limiter.check(&Touchy(666)).is_ok(), "a new key needs no comparison");
        let eq = catch_unwind(AssertUnwindSafe(|| limiter.check(&Touchy(666))));
        assert!(eq.is_err(), "the panic of Eq propagates to its caller");
        let hash = catch_unwind(AssertUnwindSafe(|| limiter.check(&Touchy(667))));
        assert!(hash.is_err(), "the panic of Hash propagates to its caller");
        // Everyone else is unaffected, in every shard.
        for key in 0..8 {
            assert!(limiter.check(&Touchy(key)).is_ok());
            assert!(limiter.check(&Touchy(key)).is_err());
        }
        assert!(limiter.len() <= 8);
    }
);

// ---- Lockout ----

runtime_test!(
    async fn lockouts_of_200ms_and_100ms_let_the_entry_in_at_200ms() {
        let clock = VirtualClock::new();
        let lockout = Lockout::with_clock(clock.clone());
        lockout.lockout_for(ms(200));
        lockout.lockout_for(ms(100));
        let start = clock.now();
        let (entered, ()) = futures::join!(
            async {
                lockout.enter().await;
                clock.now() - start
            },
            clock.run_for(secs(1)),
        );
        assert_eq!(entered, ms(200));
    }
);

runtime_test!(
    async fn a_lockout_delays_new_entries_but_not_holders_already_inside() {
        let clock = VirtualClock::new();
        let lockout = Lockout::with_clock(clock.clone());
        let start = clock.now();
        let inside = async {
            lockout.enter().await;
            lockout.lockout_for(ms(300)); // e.g. the server said "retry after 300 ms"
            clock.sleep(ms(50)).await;
            clock.now() - start
        };
        let later = async {
            clock.sleep(ms(10)).await;
            lockout.enter().await;
            clock.now() - start
        };
        let (inside, later, ()) = futures::join!(inside, later, clock.run_for(secs(1)));
        assert_eq!(inside, ms(50), "the holder finished on its own schedule");
        assert_eq!(later, ms(300));
        // A lockout extended while waiting extends the wait.
        lockout.lockout_for(ms(100));
        let start = clock.now();
        let (entered, (), ()) = futures::join!(
            async {
                lockout.enter().await;
                clock.now() - start
            },
            async {
                clock.sleep(ms(50)).await;
                lockout.lockout_for(ms(100));
            },
            clock.run_for(secs(1)),
        );
        assert_eq!(entered, ms(150));
    }
);

runtime_test!(
    async fn a_lockout_for_duration_max_never_ends_and_never_panics() {
        let clock = VirtualClock::new();
        let lockout = Lockout::with_clock(clock.clone());
        lockout.lockout_for(Duration::MAX);
        let mut enter = lockout.enter();
        assert!(poll_once(&mut enter).is_pending());
        clock.advance(secs(365 * 24 * 3600));
        assert!(poll_once(&mut enter).is_pending());
        assert!(lockout.is_locked());
        let fifo = FifoLockout::with_clock(clock.clone());
        fifo.lockout_for(Duration::MAX);
        let mut enter = fifo.enter();
        assert!(poll_once(&mut enter).is_pending());
        drop(enter);
        assert_eq!(fifo.waiting(), 0);
    }
);

runtime_test!(
    async fn fifo_lockout_releases_waiters_in_arrival_order_with_nobody_inside() {
        let clock = VirtualClock::new();
        let lockout = FifoLockout::with_clock(clock.clone());
        lockout.lockout_for(ms(100));
        let order = Mutex::new(Vec::new());
        let start = clock.now();
        let callers = join_all((0..10).map(|caller| {
            let (lockout, order, clock) = (&lockout, &order, &clock);
            async move {
                // Arrive in order 0..10, 5 ms apart.
                clock.sleep(ms(5 * caller)).await;
                lockout.enter().await;
                order.lock().unwrap().push((caller, clock.now() - start));
            }
        }));
        futures::join!(callers, clock.run_for(secs(1)));
        let order = order.into_inner().unwrap();
        assert_eq!(
            order.iter().map(|(caller, _)| *caller).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert!(order.iter().all(|(_, at)| *at == ms(100)), "{order:?}");
        assert_eq!(lockout.waiting(), 0);
    }
);

runtime_test!(
    async fn a_cancelled_fifo_waiter_never_enters_and_the_next_one_does() {
        let clock = VirtualClock::new();
        let lockout = FifoLockout::with_clock(clock.clone());
        lockout.lockout_for(ms(100));
        let entered: Vec<AtomicBool> = (0..3).map(|_| AtomicBool::new(false)).collect();
        let mut waiters: Vec<_> = (0..3)
            .map(|index| {
                let (lockout, entered) = (&lockout, &entered);
                Box::pin(async move {
                    lockout.enter().await;
                    entered[index].store(true, SeqCst);
                })
            })
            .collect();
        let wakers: Vec<_> = (0..3).map(|_| counting()).collect();
        for (waiter, (_, waker)) in waiters.iter_mut().zip(&wakers) {
            assert!(poll_with(waiter, waker).is_pending());
        }
        clock.advance(ms(100)); // the head's timer fires ...
        assert_eq!(wakers[0].0.0.load(SeqCst), 1);
        let head = waiters.remove(0);
        drop(head); // ... but it is cancelled before it runs: it never enters
        assert_eq!(wakers[1].0.0.load(SeqCst), 1, "the next in line is woken instead");
        for (waiter, (_, waker)) in waiters.iter_mut().zip(&wakers[1..]) {
            assert!(poll_with(waiter, waker).is_ready());
        }
        let entered: Vec<bool> = entered.iter().map(|flag| flag.load(SeqCst)).collect();
        assert_eq!(entered, [false, true, true]);
        assert_eq!(lockout.waiting(), 0);
    }
);

runtime_test!(
    async fn dropping_enter_futures_at_any_poll_leaves_no_waiter_or_sleeper() {
        for polls in 0..3 {
            let clock = VirtualClock::new();
            let lockout = Lockout::with_clock(clock.clone());
            let fifo = FifoLockout::with_clock(clock.clone());
            lockout.lockout_for(ms(100));
            fifo.lockout_for(ms(100));
            let mut enter = lockout.enter();
            let mut fifo_enter = fifo.enter();
            for _ in 0..polls {
                let _ = poll_once(&mut enter);
                let _ = poll_once(&mut fifo_enter);
                clock.advance(ms(40));
            }
            drop((enter, fifo_enter));
            assert_eq!(fifo.waiting(), 0);
            assert_eq!(clock.pending_sleepers(), 0);
            clock.advance(ms(100));
            let mut next = fifo.enter();
            assert!(poll_once(&mut next).is_ready(), "the line is not blocked by the dropped one");
        }
    }
);

// ---- Stream ----

runtime_test!(
    async fn a_rate_limited_stream_yields_each_item_at_its_cells_instant() {
        let clock = VirtualClock::new();
        let limiter = limiter(&clock, 10, secs(1), 2);
        let start = clock.now();
        let stamps = futures::stream::iter(0..5u32)
            .rate_limited(&limiter)
            .map(|item| (item, clock.now() - start))
            .collect::<Vec<_>>();
        let (stamps, ()) = futures::join!(stamps, clock.run_for(secs(1)));
        assert_eq!(stamps, vec![(0, ms(0)), (1, ms(0)), (2, ms(100)), (3, ms(200)), (4, ms(300))]);
        // The same adaptor over a sliding window.
        let window = SlidingWindow::with_clock(2, ms(200), clock.clone()).unwrap();
        let start = clock.now();
        let stamps = futures::stream::iter(0..5u32)
            .rate_limited(&window)
            .map(|_| clock.now() - start)
            .collect::<Vec<_>>();
        let (stamps, ()) = futures::join!(stamps, clock.run_for(secs(1)));
        assert_eq!(stamps, [0, 0, 200, 200, 400].map(ms));
    }
);

// ---- Spawned on the runtime ----

runtime_test!(
    async fn spawned_waiters_on_a_shared_limiter_all_get_their_cells(rt) {
        let clock = VirtualClock::new();
        let limiter = Arc::new(limiter(&clock, 100, secs(1), 10));
        let admitted = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (limiter, admitted) = (limiter.clone(), admitted.clone());
                rt.spawn(async move {
                    limiter.acquire(1).await.unwrap();
                    admitted.fetch_add(1, SeqCst);
                })
            })
            .collect();
        // Spawned tasks may first poll at any point: keep time moving until all are in.
        let drive = async {
            while admitted.load(SeqCst) < 50 {
                clock.run_for(ms(100)).await;
                crate::runtime::yield_now().await;
            }
        };
        futures::join!(join_all(tasks), drive);
        assert_eq!(admitted.load(SeqCst), 50);
        assert_eq!(limiter.queued(), 0);
        // 50 cells after a burst of 10 at 10 ms each: the last one was due at 400 ms.
        assert!(clock.elapsed() >= ms(400));
    }
);

// ---- Owned acquire (for services that store the wait) ----

runtime_test!(
    async fn an_owned_acquire_waits_in_line_and_returns_its_cells_when_dropped() {
        let clock = VirtualClock::new();
        let limiter = Arc::new(limiter(&clock, 1, secs(1), 1));
        assert!(Arc::clone(&limiter).acquire_owned(1).await.is_ok(), "conforms at once");
        let mut first = Arc::clone(&limiter).acquire_owned(1);
        let mut second = Arc::clone(&limiter).acquire_owned(1);
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        assert_eq!(limiter.queued(), 2, "reserved at 1 s and 2 s");
        drop(first);
        assert_eq!(limiter.queued(), 1);
        clock.advance(secs(1));
        assert!(poll_once(&mut second).is_ready(), "moved up into the dropped waiter's place");
        assert_eq!(
            Arc::clone(&limiter).acquire_owned(2).await,
            Err(AcquireError::InsufficientCapacity { requested: 2, burst: 1 })
        );
    }
);
