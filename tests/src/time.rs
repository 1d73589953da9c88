//! Behaviour of `asynchronously::time`: `VirtualClock`, `RealClock` and `timeout`.

use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use asynchronously::time::{Clock, RealClock, VirtualClock, timeout, timeout_at};
use futures::FutureExt;
use futures::future::{self, Either};

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{ms, secs, splitmix};

/// A waker that records its id in a shared log when woken.
struct Recorder {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

runtime_test!(
    async fn advance_wakes_sleepers_in_deadline_then_registration_order() {
        let clock = VirtualClock::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        // Registered in this order (id, deadline ms): ties at 20 and 50 ms.
        let plan = [(0, 50), (1, 20), (2, 50), (3, 10), (4, 20), (5, 30)];
        let mut sleeps: Vec<_> =
            plan.iter().map(|&(_, at)| Box::pin(clock.sleep(ms(at)))).collect();
        for (sleep, &(id, _)) in sleeps.iter_mut().zip(&plan) {
            let waker = Waker::from(Arc::new(Recorder { id, log: Arc::clone(&log) }));
            assert!(sleep.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        }
        assert_eq!(clock.pending_sleepers(), 6);
        assert_eq!(clock.next_deadline(), Some(clock.now() + ms(10)));

        clock.advance(ms(25));
        assert_eq!(*log.lock().unwrap(), [3, 1, 4], "due sleepers woken by deadline, ties FIFO");
        clock.advance(ms(100));
        assert_eq!(*log.lock().unwrap(), [3, 1, 4, 5, 0, 2]);
        assert_eq!(clock.pending_sleepers(), 0);
        for sleep in &mut sleeps {
            assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
        }
    }
);

runtime_test!(
    async fn run_for_wakes_joined_sleepers_in_order_at_their_deadlines() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let woke = Mutex::new(Vec::new());
        let deadlines = [30, 10, 20, 10, 40, 20];
        let sleepers = deadlines.iter().enumerate().map(|(id, &at)| {
            let (clock, woke) = (&clock, &woke);
            async move {
                clock.sleep(ms(at)).await;
                woke.lock().unwrap().push((id, clock.now() - start));
            }
        });
        future::join(future::join_all(sleepers), clock.run_for(ms(100))).await;
        let woke = woke.into_inner().unwrap();
        assert_eq!(
            woke,
            [(1, ms(10)), (3, ms(10)), (2, ms(20)), (5, ms(20)), (0, ms(30)), (4, ms(40))],
            "each sleeper observes exactly its own deadline, in deadline order"
        );
        assert_eq!(clock.now() - start, ms(100));
    }
);

runtime_test!(
    async fn run_for_fires_a_sleep_registered_in_reaction_at_its_exact_instant() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let chain = async {
            let mut instants = Vec::new();
            // Each sleep is registered only after the previous one fired.
            for step in [7, 1, 0, 13, 39] {
                clock.sleep(ms(step)).await;
                instants.push(clock.now() - start);
            }
            instants
        };
        let other = async {
            clock.sleep(ms(15)).await;
            clock.now() - start
        };
        let ((instants, other_at), ()) =
            future::join(future::join(chain, other), clock.run_for(ms(60))).await;
        assert_eq!(instants, [7, 8, 8, 21, 60].map(ms), "each reaction fires at its exact instant");
        assert_eq!(other_at, ms(15));
    }
);

runtime_test!(
    async fn run_for_stops_at_its_end_and_leaves_later_sleepers_pending() {
        let clock = VirtualClock::new();
        let mut late = pin!(clock.sleep(ms(500)));
        assert!(late.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        clock.run_for(ms(499)).await;
        assert_eq!(clock.elapsed(), ms(499));
        assert_eq!(clock.pending_sleepers(), 1);
        assert!(late.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        // Polled by hand: advance, which does not wait for the sleeper to observe its wake-up.
        clock.advance(ms(1));
        assert!(late.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
    }
);

runtime_test!(
    async fn dropped_sleeps_are_not_waited_for() {
        let clock = VirtualClock::new();
        {
            let mut sleep = pin!(clock.sleep(ms(10)));
            assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
            assert_eq!(clock.pending_sleepers(), 1);
        }
        assert_eq!(clock.pending_sleepers(), 0, "a dropped sleep deregisters");
        clock.run_for(ms(100)).await;
        assert_eq!(clock.elapsed(), ms(100));

        // A sleeper woken by run_for whose owner drops it instead of polling it counts as observed.
        let racing = async {
            // Both are woken at 105 ms; `select` polls the first and drops the second unpolled.
            let first = clock.sleep(ms(5));
            let second = clock.sleep(ms(5));
            match future::select(first, second).await {
                Either::Left(((), second)) => drop(second),
                Either::Right(_) => panic!("select polled the second sleep first"),
            }
            clock.elapsed()
        };
        let (won_at, ()) = future::join(racing, clock.run_for(ms(50))).await;
        assert_eq!(won_at, ms(105));
        assert_eq!(clock.elapsed(), ms(150));
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn timeout_returns_the_output_when_the_future_is_first() {
        let clock = VirtualClock::new();
        let work = async {
            clock.sleep(ms(40)).await;
            "done"
        };
        let (result, ()) =
            future::join(timeout(&clock, ms(50), work), clock.run_for(ms(100))).await;
        assert_eq!(result, Ok("done"));
        assert_eq!(clock.pending_sleepers(), 0, "the timer is dropped with the timeout");
    }
);

runtime_test!(
    async fn timeout_fails_with_elapsed_at_the_deadline() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let bounded = async {
            let result = timeout(&clock, ms(50), future::pending::<()>()).await;
            (result, clock.now() - start)
        };
        let ((result, at), ()) = future::join(bounded, clock.run_for(ms(100))).await;
        assert!(result.is_err());
        assert_eq!(at, ms(50));
        assert!(result.unwrap_err().to_string().contains("deadline elapsed"));

        let result = timeout_at(&clock, clock.now() - ms(1), future::ready(3)).await;
        assert_eq!(result, Ok(3), "a ready future beats a deadline in the past");
    }
);

runtime_test!(
    async fn huge_durations_never_fire_and_never_panic() {
        let clock = VirtualClock::new();
        let mut never = pin!(clock.sleep(Duration::MAX));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(never.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_secs(u64::MAX / 2));
        clock.advance(Duration::MAX);
        assert!(never.as_mut().poll(&mut cx).is_pending(), "Duration::MAX means never");
        clock.run_for(Duration::MAX).await;
        assert!(never.as_mut().poll(&mut cx).is_pending());
        assert!(clock.deadline_after(Duration::MAX).is_none());
        let result = timeout(&clock, Duration::MAX, future::ready(1)).await;
        assert_eq!(result, Ok(1));

        let mut real_never = pin!(RealClock.sleep(Duration::MAX));
        assert!(real_never.as_mut().poll(&mut cx).is_pending());
    }
);

runtime_test!(
    async fn deadlines_in_the_past_complete_at_once() {
        let clock = VirtualClock::new();
        clock.advance(ms(100));
        let mut past = pin!(clock.sleep_until(clock.now() - ms(50)));
        assert!(past.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
        let mut zero = pin!(clock.sleep(Duration::ZERO));
        assert!(zero.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn reset_moves_a_sleep_to_a_new_deadline() {
        let clock = VirtualClock::new();
        let mut sleep = clock.sleep(ms(100));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        clock.reset(&mut sleep, clock.now() + ms(10));
        clock.advance(ms(10));
        assert!(Pin::new(&mut sleep).poll(&mut cx).is_ready());
        assert_eq!(clock.pending_sleepers(), 0, "the old registration is gone");

        let mut real = RealClock.sleep(Duration::from_secs(3600));
        assert!(Pin::new(&mut real).poll(&mut cx).is_pending());
        RealClock.reset(&mut real, RealClock.now());
        assert!(Pin::new(&mut real).poll(&mut cx).is_ready());
    }
);

runtime_test!(
    async fn real_clock_sleeps_complete() {
        let start = RealClock.now();
        RealClock.sleep(ms(2)).await;
        assert!(RealClock.now() - start >= ms(2));
        let result = timeout(&RealClock, Duration::from_secs(60), async { 5 }).await;
        assert_eq!(result, Ok(5));
    }
);

runtime_test!(
    async fn run_for_fails_with_an_explanation_when_a_woken_sleeper_is_never_polled() {
        let clock = VirtualClock::new();
        clock.set_stall_timeout(ms(50));
        let mut orphan = Box::pin(clock.sleep(ms(10)));
        assert!(orphan.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        // The orphan is never polled again while run_for waits for it.
        let outcome = AssertUnwindSafe(clock.run_for(ms(20))).catch_unwind().await;
        let message = match outcome {
            Ok(()) => panic!("run_for returned although a woken sleeper was never polled"),
            Err(panic) => panic.downcast::<String>().map(|text| *text).unwrap_or_default(),
        };
        assert!(message.contains("were not polled"), "unexpected message: {message}");
        assert!(message.contains("join it with run_for"), "the message says what to do: {message}");
        // The clock is still usable afterwards.
        drop(orphan);
        clock.run_for(ms(20)).await;
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(async fn spawned_sleepers_each_observe_their_own_deadline(rt) {
    let clock = VirtualClock::new();
    let start = clock.now();
    let tasks = 1000;
    let late = Arc::new(AtomicUsize::new(0));
    let mut seed = 7;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            // 50 distinct deadlines, so many tasks share each one.
            let after = ms(1 + splitmix(&mut seed) % 50);
            let (clock, late) = (clock.clone(), Arc::clone(&late));
            rt.spawn(async move {
                let deadline = start + after;
                clock.sleep_until(deadline).await;
                if clock.now() != deadline {
                    late.fetch_add(1, Relaxed);
                }
            })
        })
        .collect();
    // Wait until every task registered its sleep, so none starts after time moved.
    while clock.pending_sleepers() < tasks {
        yield_now().await;
    }
    clock.run_for(ms(100)).await;
    future::join_all(handles).await;
    assert_eq!(late.load(Relaxed), 0, "tasks woke at an instant other than their deadline");
    assert_eq!(clock.elapsed(), ms(100));
});

runtime_test!(
    async fn advance_to_and_run_until_never_move_time_backwards() {
        let clock = VirtualClock::new();
        let start = clock.now();
        clock.advance_to(start + ms(30));
        assert_eq!(clock.elapsed(), ms(30));
        clock.advance_to(start + ms(10));
        assert_eq!(clock.elapsed(), ms(30), "advance_to an earlier instant changes nothing");
        clock.run_until(start + ms(20)).await;
        assert_eq!(clock.elapsed(), ms(30), "run_until an earlier instant changes nothing");

        let waiter = async {
            clock.sleep_until(start + ms(45)).await;
            clock.elapsed()
        };
        let (woke_at, ()) = future::join(waiter, clock.run_until(start + ms(50))).await;
        assert_eq!(woke_at, ms(45));
        assert_eq!(clock.elapsed(), ms(50));
        assert!(format!("{clock:?}").contains("VirtualClock"));
    }
);

runtime_test!(
    async fn run_for_lets_joined_code_yield_before_it_sleeps_again() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let woke = Mutex::new(Vec::new());
        let job = async {
            loop {
                clock.sleep(ms(10)).await;
                woke.lock().unwrap().push(clock.now() - start);
                // Reacts only after yielding to the executor, as a zero-delay retry does.
                yield_now().await;
                yield_now().await;
            }
        };
        let mut job = pin!(job);
        match future::select(job.as_mut(), clock.run_for(ms(35))).await {
            Either::Left(_) => unreachable!("the job loops forever"),
            Either::Right(((), _)) => {}
        }
        assert_eq!(
            *woke.lock().unwrap(),
            [10, 20, 30].map(ms),
            "a sleep registered after a yield was skipped"
        );
        assert_eq!(clock.elapsed(), ms(35));
    }
);

/// Spawns a ticker that sleeps 100 ms three times and records when it woke.
fn spawn_ticker(
    rt: crate::runtime::Runtime,
    clock: &VirtualClock,
    react: impl Fn() -> crate::runtime::Task<()> + Send + 'static,
) -> crate::runtime::Task<Vec<Duration>> {
    let clock = clock.clone();
    rt.spawn(async move {
        let start = clock.now();
        let mut woke = Vec::new();
        for _ in 0..3 {
            clock.sleep(ms(100)).await;
            woke.push(clock.now() - start);
            react().await;
        }
        woke
    })
}

runtime_test!(async fn run_for_lets_spawned_code_reach_its_first_sleep(rt) {
    for _ in 0..20 {
        let clock = VirtualClock::new();
        // The default window is 5 ms; this machine is shared with parallel builds, whose
        // scheduling delays a worker thread by more than that now and then.
        clock.set_settle_window(ms(25));
        let ticker = spawn_ticker(rt, &clock, || Box::pin(async {}));
        // No wait for the ticker's first sleep: run_for gives it the chance itself.
        clock.run_for(secs(1)).await;
        assert_eq!(ticker.await, [100, 200, 300].map(ms), "ticks skipped or late");
        assert_eq!(clock.elapsed(), secs(1));
    }
});

runtime_test!(async fn run_for_waits_for_a_reaction_that_works_a_millisecond(rt) {
    let clock = VirtualClock::new();
    clock.set_settle_window(ms(25));
    let ticker = spawn_ticker(rt, &clock, || {
        Box::pin(async {
            // Busy for a millisecond of real time without touching the virtual clock.
            let start = RealClock.now();
            while RealClock.now() - start < ms(1) {
                std::hint::spin_loop();
            }
        })
    });
    clock.wait_for_sleepers(1).await;
    clock.run_for(secs(2)).await;
    assert_eq!(ticker.await, [100, 200, 300].map(ms));
});

runtime_test!(async fn run_for_waits_for_a_reaction_through_a_helper_task(rt) {
    let clock = VirtualClock::new();
    clock.set_settle_window(ms(25));
    let ticker = spawn_ticker(rt, &clock, move || {
        // The reaction hops through a helper task that yields three times, and a channel.
        let (done, finished) = futures::channel::oneshot::channel();
        let helper = rt.spawn(async move {
            for _ in 0..3 {
                yield_now().await;
            }
            let _ = done.send(());
        });
        Box::pin(async move {
            finished.await.expect("the helper replies");
            helper.await;
        })
    });
    clock.wait_for_sleepers(1).await;
    clock.run_for(secs(2)).await;
    assert_eq!(ticker.await, [100, 200, 300].map(ms));
});

runtime_test!(
    async fn run_for_waits_for_joined_code_that_yields_through_a_helper() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let woke = Mutex::new(Vec::new());
        let job = async {
            loop {
                clock.sleep(ms(10)).await;
                woke.lock().unwrap().push(clock.now() - start);
                // Ten yields before the next sleep, as a chain of helper hops would take.
                for _ in 0..10 {
                    yield_now().await;
                }
            }
        };
        let mut job = pin!(job);
        match future::select(job.as_mut(), clock.run_for(ms(35))).await {
            Either::Left(_) => unreachable!("the job loops forever"),
            Either::Right(((), _)) => {}
        }
        assert_eq!(*woke.lock().unwrap(), [10, 20, 30].map(ms));
    }
);

runtime_test!(
    async fn settle_window_and_yields_are_configurable() {
        let clock = VirtualClock::new();
        clock.set_settle_window(Duration::ZERO);
        clock.set_settle_yields(1);
        let start = clock.now();
        let job = async {
            clock.sleep(ms(10)).await;
            clock.sleep(ms(10)).await;
            clock.now() - start
        };
        let (finished_at, ()) = future::join(job, clock.run_for(ms(50))).await;
        assert_eq!(finished_at, ms(20), "code that sleeps again at once needs no window");
    }
);

/// A waker that owns a sleep registered on the clock: dropping the waker drops the sleep,
/// which takes the clock's lock.
struct OwnsSleep {
    _owned: Pin<Box<asynchronously::time::VirtualSleep>>,
}

impl Wake for OwnsSleep {
    fn wake(self: Arc<Self>) {}
}

fn waker_owning_a_sleep(clock: &VirtualClock) -> Waker {
    let mut owned = Box::pin(clock.sleep(secs(60)));
    assert!(owned.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    Waker::from(Arc::new(OwnsSleep { _owned: owned }))
}

/// Runs `body` on a helper thread and fails the test if it does not finish: a deadlock must
/// fail, not hang the suite.
fn finishes(body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    finished.recv_timeout(secs(10)).expect("the clock deadlocked");
}

runtime_test!(
    async fn wakers_that_own_sleeps_are_dropped_outside_the_clock_lock() {
        finishes(|| {
            let clock = VirtualClock::new();
            // Replaced by a re-poll with another waker.
            let mut sleep = Box::pin(clock.sleep(secs(1)));
            let owning = waker_owning_a_sleep(&clock);
            assert!(sleep.as_mut().poll(&mut Context::from_waker(&owning)).is_pending());
            drop(owning);
            assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
            // Dropped with a registered sleep.
            let owning = waker_owning_a_sleep(&clock);
            assert!(sleep.as_mut().poll(&mut Context::from_waker(&owning)).is_pending());
            drop(owning);
            drop(sleep);
            // Woken by advance, and dropped by the wake.
            let mut sleep = Box::pin(clock.sleep(secs(1)));
            let owning = waker_owning_a_sleep(&clock);
            assert!(sleep.as_mut().poll(&mut Context::from_waker(&owning)).is_pending());
            drop(owning);
            clock.advance(secs(1));
            assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
            assert_eq!(clock.pending_sleepers(), 0, "every owned sleep was released");
        });
    }
);

runtime_test!(async fn wait_for_sleepers_waits_until_spawned_tasks_reach_their_sleeps(rt) {
    let clock = VirtualClock::new();
    let tasks: Vec<_> = (1..=8)
        .map(|n| {
            let clock = clock.clone();
            rt.spawn(async move {
                clock.sleep(ms(n)).await;
                clock.elapsed()
            })
        })
        .collect();
    clock.wait_for_sleepers(8).await;
    assert_eq!(clock.pending_sleepers(), 8);
    clock.run_for(ms(10)).await;
    assert_eq!(future::join_all(tasks).await, (1..=8).map(ms).collect::<Vec<_>>());
});

runtime_test!(
    async fn wait_for_sleepers_fails_with_an_explanation_instead_of_hanging() {
        let clock = VirtualClock::new();
        clock.set_stall_timeout(ms(20));
        let outcome = AssertUnwindSafe(clock.wait_for_sleepers(1)).catch_unwind().await;
        let message = match outcome {
            Ok(()) => panic!("returned with no sleeper registered"),
            Err(panic) => panic.downcast::<String>().map(|text| *text).unwrap_or_default(),
        };
        assert!(message.contains("0 of 1 sleeps registered"), "unexpected message: {message}");
    }
);

runtime_test!(
    async fn both_clocks_agree_that_a_century_means_never() {
        let century = secs(100 * 365 * 24 * 60 * 60 + 1);
        let clock = VirtualClock::new();
        let mut sleep = Box::pin(clock.sleep(century));
        let mut until = Box::pin(clock.sleep_until(clock.now() + century));
        assert!(poll_pin(&mut sleep).is_pending());
        assert!(poll_pin(&mut until).is_pending());
        clock.advance(century * 2);
        assert!(poll_pin(&mut sleep).is_pending(), "a century-long virtual sleep fired");
        assert!(poll_pin(&mut until).is_pending(), "a virtual sleep a century ahead fired");
        let mut real = Box::pin(RealClock.sleep(century));
        let mut real_until = Box::pin(RealClock.sleep_until(RealClock.now() + century));
        assert!(poll_pin(&mut real).is_pending());
        assert!(poll_pin(&mut real_until).is_pending());
        assert!(format!("{real:?}").contains("never"), "{real:?}");
        assert!(format!("{real_until:?}").contains("never"), "{real_until:?}");
        let soon = RealClock.sleep(ms(1));
        assert!(format!("{soon:?}").contains("deadline: Instant"), "{soon:?}");
    }
);

fn poll_pin<F: std::future::Future + ?Sized>(
    future: &mut Pin<Box<F>>,
) -> std::task::Poll<F::Output> {
    future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

runtime_test!(
    async fn timeout_gives_mutable_access_to_the_inner_future() {
        let clock = VirtualClock::new();
        let mut bounded = timeout(&clock, secs(1), future::ready(3));
        *bounded.get_mut() = future::ready(4);
        assert_eq!(bounded.await, Ok(4));
    }
);
