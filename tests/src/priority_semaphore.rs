//! Behaviour tests of `asynchronously::priority_semaphore`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use asynchronously::priority_semaphore::{
    Acquire, AcquireError, AcquireOwned, AddPermitsError, BuildError, OwnedPermit, Permit,
    Priority, PrioritySemaphore, SetTotalError, TryAcquireError, WithPriority, with_priority,
};
use asynchronously::time::VirtualClock;
use futures::FutureExt;
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{CountingWaker, ms, splitmix};

// Compile-time promises about the returned futures and handles.
const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync_unpin::<Acquire<'static>>();
    assert_send_sync_unpin::<Acquire<'static, VirtualClock>>();
    assert_send_sync_unpin::<AcquireOwned>();
    assert_send_sync_unpin::<Permit<'static>>();
    assert_send_sync_unpin::<OwnedPermit>();
    assert_send_sync::<PrioritySemaphore<VirtualClock>>();
    assert_send_sync_unpin::<WithPriority<std::future::Ready<()>>>();
};

/// Polls once with a waker that does nothing.
fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls once; panics unless the future completed.
fn ready<F: Future + Unpin>(future: &mut F) -> F::Output {
    match poll(future) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (Arc::clone(&counter), Waker::from(counter))
}

fn wakes(counter: &CountingWaker) -> usize {
    counter.0.load(SeqCst)
}

fn assert_idle(semaphore: &PrioritySemaphore<impl asynchronously::time::Clock>, total: usize) {
    assert_eq!(semaphore.waiting_total(), 0, "no waiter left in the queue");
    assert_eq!(semaphore.total_permits(), total);
    assert_eq!(semaphore.available_permits(), total, "every permit came back");
}

// ---- Order and fairness ----

runtime_test!(
    async fn waiters_are_served_by_priority_then_arrival_like_the_seed(rt) {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (label, priority) in [("10 first", 10), ("10 second", 10), ("1", 1), ("5", 5), ("0", 0)] {
            let (task_semaphore, served) = (Arc::clone(&semaphore), Arc::clone(&served));
            let queued_before = semaphore.waiting_total();
            tasks.push(rt.spawn(async move {
                let _permit = task_semaphore.acquire(Priority::new(priority)).await.unwrap();
                served.lock().unwrap().push(label);
                yield_now().await;
            }));
            // Arrival order is part of the rule: wait until this one is queued.
            while semaphore.waiting_total() == queued_before {
                yield_now().await;
            }
        }
        assert_eq!(semaphore.waiting(Priority::new(10)), 2);
        drop(held);
        for task in tasks {
            task.await;
        }
        assert_eq!(*served.lock().unwrap(), ["0", "1", "5", "10 first", "10 second"]);
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn a_released_permit_goes_to_the_queued_waiter_never_to_a_newcomer() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut queued = semaphore.acquire(Priority::LOW);
        assert!(poll(&mut queued).is_pending());
        drop(held);
        // Handed over directly: the count stays at zero until the waiter is polled.
        assert_eq!(semaphore.available_permits(), 0);
        assert_eq!(
            semaphore.try_acquire(Priority::HIGHEST).err(),
            Some(TryAcquireError::NoPermits)
        );
        let mut newcomer = semaphore.acquire(Priority::HIGHEST);
        assert!(poll(&mut newcomer).is_pending(), "the newcomer queues");
        let permit = ready(&mut queued).unwrap();
        assert_eq!(permit.priority(), Priority::LOW);
        drop(permit);
        drop(ready(&mut newcomer).unwrap());
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn equal_priorities_are_served_first_in_first_out_over_1000_waiters() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut waiters: Vec<_> = (0..1000).map(|_| semaphore.acquire(Priority::NORMAL)).collect();
        for waiter in &mut waiters {
            assert!(poll(waiter).is_pending());
        }
        drop(held);
        for waiter_idx in 0..waiters.len() {
            if let Some(next) = waiters.get_mut(waiter_idx + 1) {
                assert!(poll(next).is_pending(), "waiter {} must not overtake", waiter_idx + 1);
            }
            assert!(semaphore.try_acquire(Priority::NORMAL).is_err(), "no barging");
            drop(ready(&mut waiters[waiter_idx]).unwrap());
        }
        drop(waiters);
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn try_acquire_succeeds_only_when_an_acquire_would_not_wait() {
        let semaphore = PrioritySemaphore::new(3);
        let held = semaphore.try_acquire_many(2, Priority::NORMAL).unwrap();
        // One permit free, but a NORMAL request for two is queued at the head.
        let mut big = semaphore.acquire_many(2, Priority::NORMAL);
        assert!(poll(&mut big).is_pending());
        assert_eq!(semaphore.available_permits(), 1);
        assert_eq!(semaphore.try_acquire(Priority::NORMAL).err(), Some(TryAcquireError::NoPermits));
        assert_eq!(semaphore.try_acquire(Priority::LOW).err(), Some(TryAcquireError::NoPermits));
        // A strictly better priority would be first in line, so it is served at once.
        let urgent = semaphore.try_acquire(Priority::HIGH).unwrap();
        drop(urgent);
        drop(held);
        drop(ready(&mut big).unwrap());
        assert_idle(&semaphore, 3);
    }
);

// ---- The head-of-line rule ----

runtime_test!(
    async fn a_large_request_at_the_head_blocks_smaller_ones_until_it_is_served() {
        let semaphore = PrioritySemaphore::new(4);
        let held = semaphore.try_acquire_many(3, Priority::NORMAL).unwrap();
        let mut big = semaphore.acquire_many(3, Priority::NORMAL);
        let mut small = semaphore.acquire(Priority::NORMAL);
        assert!(poll(&mut big).is_pending());
        assert!(poll(&mut small).is_pending(), "one permit is free but kept for the head");
        assert_eq!(semaphore.available_permits(), 1);
        drop(held);
        let big_permit = ready(&mut big).unwrap();
        assert_eq!(big_permit.num_permits(), 3);
        // The fourth permit then goes to the small request.
        drop(ready(&mut small).unwrap());
        drop(big_permit);
        assert_idle(&semaphore, 4);
    }
);

runtime_test!(
    async fn dropping_a_blocking_head_lets_the_waiters_behind_it_through() {
        let semaphore = PrioritySemaphore::new(2);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut big = semaphore.acquire_many(2, Priority::HIGH);
        assert!(poll(&mut big).is_pending());
        let (counter, waker) = counting_waker();
        let mut small = pin!(semaphore.acquire(Priority::LOW));
        assert!(small.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        drop(big);
        assert_eq!(wakes(&counter), 1, "the small waiter is woken with the free permit");
        drop(small.as_mut().poll(&mut Context::from_waker(&waker)));
        drop(held);
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn a_request_larger_than_the_total_fails_at_once() {
        let semaphore = PrioritySemaphore::new(4);
        let error = semaphore.acquire_many(5, Priority::HIGHEST).await.unwrap_err();
        assert_eq!(error, AcquireError::TooLarge { requested: 5, total: 4 });
        assert!(error.to_string().contains("requested 5 permits"));
        assert_eq!(
            semaphore.try_acquire_many(5, Priority::NORMAL).unwrap_err(),
            TryAcquireError::TooLarge { requested: 5, total: 4 }
        );
        // Also when waiters are queued.
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut queued = semaphore.acquire_many(4, Priority::NORMAL);
        assert!(poll(&mut queued).is_pending());
        assert!(matches!(
            semaphore.acquire_many(9, Priority::NORMAL).await,
            Err(AcquireError::TooLarge { requested: 9, total: 4 })
        ));
        drop(held);
        drop(ready(&mut queued).unwrap());
        assert_idle(&semaphore, 4);
    }
);

runtime_test!(
    async fn forgetting_permits_fails_queued_requests_that_no_longer_fit() {
        let semaphore = PrioritySemaphore::new(4);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut whole = semaphore.acquire_many(4, Priority::NORMAL);
        let mut one = semaphore.acquire(Priority::LOW);
        assert!(poll(&mut whole).is_pending());
        assert!(poll(&mut one).is_pending());
        held.forget();
        assert_eq!(semaphore.total_permits(), 3);
        assert_eq!(
            ready(&mut whole).unwrap_err(),
            AcquireError::TooLarge { requested: 4, total: 3 }
        );
        // The head is gone, so the request behind it got one of the three free permits.
        let permit = ready(&mut one).unwrap();
        assert_eq!(semaphore.available_permits(), 2);
        drop(permit);
        assert_idle(&semaphore, 3);
    }
);

runtime_test!(
    async fn a_semaphore_with_no_permits_queues_every_request_until_permits_are_added() {
        let semaphore = PrioritySemaphore::new(0);
        assert_eq!(semaphore.try_acquire(Priority::NORMAL).err(), Some(TryAcquireError::NoPermits));
        let mut one = semaphore.acquire(Priority::NORMAL);
        let mut three = semaphore.acquire_many(3, Priority::NORMAL);
        assert!(poll(&mut one).is_pending());
        assert!(poll(&mut three).is_pending());
        semaphore.add_permits(2).unwrap();
        let permit = ready(&mut one).unwrap();
        assert_eq!(
            ready(&mut three).unwrap_err(),
            AcquireError::TooLarge { requested: 3, total: 2 }
        );
        drop(permit);
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn add_permits_serves_waiters_and_rejects_overflow_without_adding() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut waiter = semaphore.acquire(Priority::NORMAL);
        assert!(poll(&mut waiter).is_pending());
        semaphore.add_permits(1).unwrap();
        let permit = ready(&mut waiter).unwrap();
        let max = PrioritySemaphore::MAX_PERMITS;
        assert_eq!(
            semaphore.add_permits(max),
            Err(AddPermitsError::TooMany { added: max, total: 2, max })
        );
        assert_eq!(semaphore.total_permits(), 2);
        drop((held, permit));
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn adding_many_permits_wakes_every_waiter_it_serves() {
        let semaphore = PrioritySemaphore::new(0);
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut waiters: Vec<_> =
            (0..30).map(|waiter_idx| semaphore.acquire(Priority::new(waiter_idx % 3))).collect();
        for waiter in &mut waiters {
            assert!(Pin::new(waiter).poll(&mut cx).is_pending());
        }
        semaphore.add_permits(20).unwrap();
        assert_eq!(wakes(&counter), 20, "woken in batches, each exactly once");
        assert_eq!(semaphore.waiting_total(), 10);
        let mut served = Vec::new();
        let mut still_waiting = Vec::new();
        for mut waiter in waiters {
            match poll(&mut waiter) {
                Poll::Ready(permit) => served.push(permit.unwrap()),
                Poll::Pending => still_waiting.push(waiter),
            }
        }
        assert_eq!(served.len(), 20);
        // Priorities 0 and 1 (ten each) were served; the ten at priority 2 still wait.
        assert!(served.iter().all(|permit| permit.priority() < Priority::new(2)));
        drop(served);
        for waiter in &mut still_waiting {
            drop(ready(waiter).unwrap());
        }
        drop(still_waiting);
        assert_idle(&semaphore, 20);
    }
);

runtime_test!(
    async fn shrinking_the_total_wakes_every_rejected_waiter() {
        let semaphore = PrioritySemaphore::new(3);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut waiters: Vec<_> =
            (0..12).map(|_| semaphore.acquire_many(3, Priority::NORMAL)).collect();
        for waiter in &mut waiters {
            assert!(Pin::new(waiter).poll(&mut cx).is_pending());
        }
        held.forget();
        assert_eq!(wakes(&counter), 12);
        for waiter in &mut waiters {
            assert_eq!(
                ready(waiter).unwrap_err(),
                AcquireError::TooLarge { requested: 3, total: 2 }
            );
        }
        drop(waiters);
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn zero_permit_requests_complete_at_once_unless_closed() {
        let semaphore = PrioritySemaphore::new(0);
        let permit = semaphore.acquire_many(0, Priority::LOWEST).await.unwrap();
        assert_eq!(permit.num_permits(), 0);
        assert_eq!(semaphore.try_acquire_many(0, Priority::LOWEST).unwrap().num_permits(), 0);
        drop(permit);
        semaphore.close();
        assert_eq!(
            semaphore.acquire_many(0, Priority::HIGH).await.unwrap_err(),
            AcquireError::Closed
        );
        assert_eq!(
            semaphore.try_acquire_many(0, Priority::HIGH).unwrap_err(),
            TryAcquireError::Closed
        );
    }
);

// ---- Close ----

runtime_test!(
    async fn close_wakes_every_waiter_with_an_error_and_fails_later_acquires(rt) {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut tasks = Vec::new();
        for waiter_idx in 0..40 {
            let semaphore = Arc::clone(&semaphore);
            tasks.push(rt.spawn(async move {
                semaphore.acquire(Priority::new(waiter_idx % 3)).await.map(drop)
            }));
        }
        while semaphore.waiting_total() < 40 {
            yield_now().await;
        }
        semaphore.close();
        assert!(semaphore.is_closed());
        for task in tasks {
            assert_eq!(task.await, Err(AcquireError::Closed));
        }
        assert_eq!(semaphore.acquire(Priority::HIGHEST).await.unwrap_err(), AcquireError::Closed);
        assert_eq!(semaphore.try_acquire(Priority::HIGHEST).unwrap_err(), TryAcquireError::Closed);
        // Held permits stay valid and still come back.
        drop(held);
        assert_idle(&semaphore, 1);
        semaphore.close();
    }
);

runtime_test!(
    async fn a_waiter_handed_permits_before_close_keeps_them() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut first = semaphore.acquire(Priority::NORMAL);
        let mut second = semaphore.acquire(Priority::NORMAL);
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());
        drop(held);
        semaphore.close();
        let permit = ready(&mut first).unwrap();
        assert_eq!(ready(&mut second).unwrap_err(), AcquireError::Closed);
        drop(permit);
        assert_idle(&semaphore, 1);
    }
);

/// A waker that drops the permit it holds when woken: code that runs in the middle of a
/// `close()`, between the batches of waiters it wakes.
struct ReleasingWaker(Mutex<Option<OwnedPermit>>);

impl Wake for ReleasingWaker {
    fn wake(self: Arc<Self>) {
        drop(self.0.lock().unwrap().take());
    }
}

runtime_test!(
    async fn a_permit_released_while_close_wakes_waiters_goes_to_none_of_them() {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
        let releasing = Waker::from(Arc::new(ReleasingWaker(Mutex::new(Some(held)))));
        // More waiters than `close` wakes in one batch, the first one releasing the permit
        // when it is woken, before the later ones are closed.
        let mut waiters: Vec<_> = (0..40).map(|_| semaphore.acquire(Priority::NORMAL)).collect();
        assert!(Pin::new(&mut waiters[0]).poll(&mut Context::from_waker(&releasing)).is_pending());
        for waiter in &mut waiters[1..] {
            assert!(poll(waiter).is_pending());
        }
        semaphore.close();
        for (waiter_idx, waiter) in waiters.iter_mut().enumerate() {
            assert_eq!(ready(waiter).map(drop), Err(AcquireError::Closed), "waiter {waiter_idx}");
        }
        drop(waiters);
        assert_idle(&semaphore, 1);
    }
);

// ---- Cancellation ----

/// Builds a scenario around the future under test: one permit held, the future queued
/// behind it, and a follower queued behind the future. Then runs the steps (poll the
/// future, release the held permit, poll again) and drops the future after `steps` of
/// them. The follower must then get the permit and every permit must come back.
fn drop_after<F, P>(semaphore: &PrioritySemaphore, steps: usize, make: impl FnOnce() -> F)
where
    F: Future<Output = Result<P, AcquireError>> + Unpin,
{
    let available_before = semaphore.available_permits();
    let mut held = Some(semaphore.try_acquire(Priority::NORMAL).unwrap());
    let mut under_test = make();
    let mut follower = semaphore.acquire(Priority::LOWEST);
    let mut obtained = None;
    for step in 0..steps {
        match step {
            0 => {
                assert!(poll(&mut under_test).is_pending());
                assert!(poll(&mut follower).is_pending());
            }
            1 => drop(held.take()),
            _ => obtained = Some(ready(&mut under_test).unwrap()),
        }
    }
    if steps == 0 {
        assert!(poll(&mut follower).is_pending());
    }
    drop(under_test);
    drop(obtained);
    drop(held);
    let permit = ready(&mut follower).unwrap();
    assert_eq!(semaphore.available_permits(), available_before - 1, "only the follower holds one");
    drop(permit);
    assert_eq!(semaphore.waiting_total(), 0);
    assert_eq!(semaphore.available_permits(), available_before, "every permit came back");
}

runtime_test!(
    async fn dropping_an_acquire_at_every_point_loses_no_permit() {
        for steps in 0..=3 {
            let semaphore = PrioritySemaphore::new(1);
            drop_after(&semaphore, steps, || semaphore.acquire(Priority::HIGH));
            drop_after(&semaphore, steps, || semaphore.acquire_ambient());
            // `WithPriority` is exactly as cancel safe as the future it wraps.
            drop_after(&semaphore, steps, || {
                with_priority(Priority::HIGH, semaphore.acquire_ambient())
            });
            let many = PrioritySemaphore::new(3);
            let _two = many.try_acquire_many(2, Priority::NORMAL).unwrap();
            drop_after(&many, steps, || many.acquire_many(1, Priority::HIGH));
        }
    }
);

runtime_test!(
    async fn dropping_an_owned_acquire_at_every_point_loses_no_permit() {
        for steps in 0..=3 {
            let semaphore = Arc::new(PrioritySemaphore::new(1));
            drop_after(&semaphore, steps, || Arc::clone(&semaphore).acquire_owned(Priority::HIGH));
            drop_after(&semaphore, steps, || {
                Arc::clone(&semaphore).acquire_many_owned(1, Priority::HIGH)
            });
            drop_after(&semaphore, steps, || Arc::clone(&semaphore).acquire_ambient_owned());
        }
    }
);

runtime_test!(
    async fn dropping_a_queued_waiter_keeps_the_others_in_their_places() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut waiters: Vec<_> = (0..6).map(|_| semaphore.acquire(Priority::NORMAL)).collect();
        for waiter in &mut waiters {
            assert!(poll(waiter).is_pending());
        }
        let middle = waiters.remove(2);
        drop(middle);
        assert_eq!(semaphore.waiting_total(), 5);
        drop(held);
        for waiter_idx in 0..waiters.len() {
            if let Some(next) = waiters.get_mut(waiter_idx + 1) {
                assert!(poll(next).is_pending());
            }
            drop(ready(&mut waiters[waiter_idx]).unwrap());
        }
        drop(waiters);
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn a_release_wakes_the_served_waiter_once_through_its_latest_waker() {
        let semaphore = PrioritySemaphore::new(1);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let (first_counter, first_waker) = counting_waker();
        let (second_counter, second_waker) = counting_waker();
        let mut waiter = pin!(semaphore.acquire(Priority::NORMAL));
        assert!(waiter.as_mut().poll(&mut Context::from_waker(&first_waker)).is_pending());
        assert!(waiter.as_mut().poll(&mut Context::from_waker(&second_waker)).is_pending());
        drop(held);
        assert_eq!((wakes(&first_counter), wakes(&second_counter)), (0, 1));
        let Poll::Ready(Ok(permit)) = waiter.as_mut().poll(&mut Context::from_waker(&second_waker))
        else {
            panic!("the woken waiter has its permit");
        };
        drop(permit);
        assert_eq!(wakes(&second_counter), 1, "no spurious wake-ups");
    }
);

/// A waker owning a permit, released when the last handle to the waker is dropped: user
/// code that runs wherever the semaphore drops a waker.
struct PermitOwningWaker(#[expect(dead_code, reason = "held only to be dropped")] OwnedPermit);

impl Wake for PermitOwningWaker {
    fn wake(self: Arc<Self>) {}
}

/// Runs `scenario` on a helper thread: a deadlock fails the test instead of hanging it.
fn without_deadlock(scenario: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        scenario();
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the scenario finishes (a waker dropped under the queue lock deadlocks)");
}

#[test]
fn wakers_are_dropped_outside_the_queue_lock() {
    // Replaced by a new waker on a later poll.
    without_deadlock(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
        let owning = Waker::from(Arc::new(PermitOwningWaker(held)));
        let mut waiter = Arc::clone(&semaphore).acquire_owned(Priority::NORMAL);
        assert!(Pin::new(&mut waiter).poll(&mut Context::from_waker(&owning)).is_pending());
        drop(owning);
        // Replacing the waker drops the permit it owns, which serves this very waiter.
        let (counter, waker) = counting_waker();
        assert!(Pin::new(&mut waiter).poll(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(wakes(&counter), 1);
        drop(ready(&mut waiter).unwrap());
        assert_idle(&semaphore, 1);
    });
    // Dropped with a cancelled waiter.
    without_deadlock(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
        let owning = Waker::from(Arc::new(PermitOwningWaker(held)));
        let mut waiter = Arc::clone(&semaphore).acquire_owned(Priority::NORMAL);
        assert!(Pin::new(&mut waiter).poll(&mut Context::from_waker(&owning)).is_pending());
        drop(owning);
        drop(waiter);
        assert_idle(&semaphore, 1);
    });
}

runtime_test!(
    async fn polling_a_completed_acquire_again_panics() {
        let semaphore = PrioritySemaphore::new(1);
        let mut acquire = semaphore.acquire(Priority::NORMAL);
        drop(ready(&mut acquire).unwrap());
        let again = std::panic::catch_unwind(AssertUnwindSafe(|| poll(&mut acquire).map(drop)));
        assert!(again.is_err());
        drop(acquire);
        assert_idle(&semaphore, 1);
    }
);

// ---- Ambient priority ----

runtime_test!(
    async fn with_priority_sets_the_ambient_priority_for_acquires_inside_it(rt) {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (label, priority) in [("low", Priority::LOW), ("normal", Priority::NORMAL), ("high", Priority::HIGH)] {
            let (task_semaphore, served) = (Arc::clone(&semaphore), Arc::clone(&served));
            let queued_before = semaphore.waiting_total();
            tasks.push(rt.spawn(with_priority(priority, async move {
                let permit = task_semaphore.acquire_ambient().await.unwrap();
                served.lock().unwrap().push((label, permit.priority()));
            })));
            while semaphore.waiting_total() == queued_before {
                yield_now().await;
            }
        }
        drop(held);
        for task in tasks {
            task.await;
        }
        assert_eq!(
            *served.lock().unwrap(),
            [("high", Priority::HIGH), ("normal", Priority::NORMAL), ("low", Priority::LOW)]
        );
    }
);

runtime_test!(
    async fn the_ambient_priority_is_read_at_the_first_poll_and_scopes_nest() {
        let semaphore = PrioritySemaphore::new(3);
        assert_eq!(Priority::current(), Priority::NORMAL);
        // Created outside the scope, polled inside: the scope's priority applies.
        let permit = with_priority(Priority::LOW, semaphore.acquire_ambient()).await.unwrap();
        assert_eq!(permit.priority(), Priority::LOW);
        let (outer, inner, after) = with_priority(Priority::LOW, async {
            let inner = with_priority(Priority::HIGH, async { Priority::current() }).await;
            (Priority::current(), inner, ())
        })
        .await;
        assert_eq!((outer, inner, after), (Priority::LOW, Priority::HIGH, ()));
        assert_eq!(Priority::current(), Priority::NORMAL, "restored after the scope");
        let many =
            with_priority(Priority::new(3), semaphore.acquire_many_ambient(2)).await.unwrap();
        assert_eq!(many.priority(), Priority::new(3));
    }
);

runtime_test!(
    async fn the_ambient_priority_follows_a_task_across_yields_and_threads(rt) {
        let seen = rt
            .spawn(with_priority(Priority::LOW, async {
                let mut seen = Vec::new();
                for _ in 0..20 {
                    yield_now().await;
                    seen.push(Priority::current());
                }
                seen
            }))
            .await;
        assert!(seen.iter().all(|priority| *priority == Priority::LOW));
        assert_eq!(Priority::current(), Priority::NORMAL);
    }
);

runtime_test!(
    async fn a_panic_inside_a_scope_restores_the_previous_ambient_priority() {
        let outcome = with_priority(Priority::HIGH, async {
            let inner = AssertUnwindSafe(with_priority(Priority::LOW, async {
                panic!("job failed");
            }))
            .catch_unwind()
            .await;
            (inner.is_err(), Priority::current())
        })
        .await;
        assert_eq!(outcome, (true, Priority::HIGH));
        assert_eq!(Priority::current(), Priority::NORMAL);
    }
);

// ---- Aging ----

fn aging_semaphore(clock: &VirtualClock, max_boost: u32) -> PrioritySemaphore<VirtualClock> {
    PrioritySemaphore::builder(1).aging(ms(10), max_boost).clock(clock.clone()).build().unwrap()
}

runtime_test!(
    async fn aging_lets_a_low_priority_waiter_through_after_the_configured_wait() {
        let clock = VirtualClock::new();
        let semaphore = aging_semaphore(&clock, 100);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut low = semaphore.acquire(Priority::new(10));
        assert!(poll(&mut low).is_pending());

        // After 50 ms the low waiter counts as priority 5: a new priority-0 waiter goes first.
        clock.advance(ms(50));
        let mut early = semaphore.acquire(Priority::new(0));
        assert!(poll(&mut early).is_pending());
        drop(held);
        let early_permit = ready(&mut early).unwrap();
        assert!(poll(&mut low).is_pending());

        // After 100 ms it counts as priority 0 and arrived earlier: it beats a new priority 0.
        clock.advance(ms(50));
        let mut late = semaphore.acquire(Priority::new(0));
        assert!(poll(&mut late).is_pending());
        drop(early_permit);
        let low_permit = ready(&mut low).unwrap();
        assert_eq!(low_permit.priority(), Priority::new(10));
        assert!(poll(&mut late).is_pending());
        drop(low_permit);
        drop(ready(&mut late).unwrap());
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn a_waiter_that_ages_to_the_head_takes_free_permits_without_waiting_for_a_release() {
        let clock = VirtualClock::new();
        let semaphore =
            PrioritySemaphore::builder(5).aging(ms(10), 20).clock(clock.clone()).build().unwrap();
        let long_held = semaphore.try_acquire_many(3, Priority::NORMAL).unwrap();
        let short_held = semaphore.try_acquire_many(2, Priority::NORMAL).unwrap();
        let (large_counter, large_waker) = counting_waker();
        let (small_counter, small_waker) = counting_waker();
        let mut large = pin!(semaphore.acquire_many(4, Priority::new(10)));
        assert!(large.as_mut().poll(&mut Context::from_waker(&large_waker)).is_pending());
        // 100 ms later the large request counts as priority 0: ahead of a new priority 5.
        clock.advance(ms(100));
        let mut small = pin!(semaphore.acquire(Priority::new(5)));
        assert!(small.as_mut().poll(&mut Context::from_waker(&small_waker)).is_pending());
        // Two permits come back and wait for the large request at the head.
        drop(short_held);
        assert_eq!(semaphore.available_permits(), 2);
        // The large request stops improving at -10 (after 200 ms); the small one reaches
        // -11 after 160 ms of waiting (at 260 ms) and is first in line, and it fits.
        clock.advance(ms(170));
        assert!(wakes(&small_counter) > 0, "the small waiter is woken to take its turn");
        let Poll::Ready(Ok(permit)) = small.as_mut().poll(&mut Context::from_waker(&small_waker))
        else {
            panic!("the head of the queue gets the free permit it fits in");
        };
        assert_eq!(semaphore.available_permits(), 1);
        assert!(large.as_mut().poll(&mut Context::from_waker(&large_waker)).is_pending());
        drop((permit, long_held));
        assert!(wakes(&large_counter) > 0);
        drop(ready(&mut large).unwrap());
        assert_idle(&semaphore, 5);
    }
);

runtime_test!(
    async fn aging_is_bounded_by_the_maximum_boost() {
        let clock = VirtualClock::new();
        let semaphore = aging_semaphore(&clock, 5);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut low = semaphore.acquire(Priority::new(10));
        assert!(poll(&mut low).is_pending());
        clock.advance(Duration::from_secs(3600));
        // Boosted by at most 5 steps: it counts as 5, so a new 4 still goes first.
        let mut four = semaphore.acquire(Priority::new(4));
        let mut six = semaphore.acquire(Priority::new(6));
        assert!(poll(&mut four).is_pending());
        assert!(poll(&mut six).is_pending());
        drop(held);
        let four_permit = ready(&mut four).unwrap();
        drop(four_permit);
        let low_permit = ready(&mut low).unwrap();
        assert!(poll(&mut six).is_pending());
        drop(low_permit);
        drop(ready(&mut six).unwrap());
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn aging_runs_on_virtual_time_with_tasks_waiting(rt) {
        let clock = VirtualClock::new();
        // Few aging steps: each is a `run_for` step, as every queued waiter sleeps until
        // its next one.
        let semaphore = Arc::new(
            PrioritySemaphore::builder(1).aging(ms(50), 100).clock(clock.clone()).build().unwrap(),
        );
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let low = {
            let semaphore = Arc::clone(&semaphore);
            rt.spawn(async move { semaphore.acquire(Priority::new(4)).await.map(drop) })
        };
        while semaphore.waiting_total() == 0 {
            yield_now().await;
        }
        // Sleep 250 ms of virtual time while holding the permit, then let go.
        let mut newcomer = Arc::clone(&semaphore).acquire_owned(Priority::new(0));
        let sleep_then_release = async {
            asynchronously::time::Clock::sleep(&clock, ms(250)).await;
            // The low waiter now counts as 4 - 5 = -1: it goes ahead of a new 0.
            assert!(poll(&mut newcomer).is_pending());
            drop(held);
            // The low task may run and release at once, but it must have left the queue
            // first: had the newcomer been served, the low waiter would still be queued.
            assert_eq!(semaphore.waiting(Priority::new(4)), 0, "the aged waiter was served");
        };
        futures::join!(sleep_then_release, clock.run_for(ms(250)));
        low.await.unwrap();
        drop(newcomer.await.unwrap());
        assert_idle(&semaphore, 1);
    }
);

// ---- Owned permits and introspection ----

runtime_test!(
    async fn owned_permits_keep_the_semaphore_alive_across_tasks(rt) {
        let semaphore = Arc::new(PrioritySemaphore::new(2));
        let permit = Arc::clone(&semaphore).acquire_owned(Priority::NORMAL).await.unwrap();
        let task = rt.spawn(async move {
            yield_now().await;
            permit.num_permits()
        });
        let weak = Arc::downgrade(&semaphore);
        let other = Arc::clone(&semaphore).try_acquire_many_owned(1, Priority::LOW).unwrap();
        drop(semaphore);
        assert_eq!(task.await, 1);
        assert!(weak.upgrade().is_some(), "the remaining permit keeps it alive");
        assert_eq!(other.semaphore().available_permits(), 1);
        drop(other);
        assert!(weak.upgrade().is_none());
    }
);

runtime_test!(
    async fn introspection_reports_permits_and_waiters_per_priority() {
        let semaphore = PrioritySemaphore::new(2);
        let held = semaphore.try_acquire_many(2, Priority::NORMAL).unwrap();
        let mut a = semaphore.acquire(Priority::HIGH);
        let mut b = semaphore.acquire(Priority::HIGH);
        let mut c = semaphore.acquire(Priority::LOW);
        for waiter in [&mut a, &mut b, &mut c] {
            assert!(poll(waiter).is_pending());
        }
        assert_eq!(semaphore.waiting(Priority::HIGH), 2);
        assert_eq!(semaphore.waiting(Priority::LOW), 1);
        assert_eq!(semaphore.waiting(Priority::NORMAL), 0);
        assert_eq!(semaphore.waiting_total(), 3);
        let debug = format!("{semaphore:?}");
        assert!(debug.contains("available_permits: 0") && debug.contains("waiting: 3"), "{debug}");
        assert!(format!("{a:?}").contains("queued: true"));
        drop((a, b, c, held));
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn the_builder_rejects_bad_configuration_with_typed_errors() {
        let zero = PrioritySemaphore::builder(1).aging(Duration::ZERO, 3).build().unwrap_err();
        assert_eq!(zero, BuildError::ZeroAgingInterval);
        assert!(zero.to_string().contains("greater than zero"));
        let max = PrioritySemaphore::MAX_PERMITS;
        assert_eq!(
            PrioritySemaphore::builder(max + 1).build().unwrap_err(),
            BuildError::TooManyPermits { permits: max + 1, max }
        );
        assert!(std::panic::catch_unwind(|| PrioritySemaphore::new(max + 1)).is_err());
        // `Duration::MAX` means "never boost", not an overflow.
        let clock = VirtualClock::new();
        let semaphore = PrioritySemaphore::builder(1)
            .aging(Duration::MAX, u32::MAX)
            .clock(clock.clone())
            .build()
            .unwrap();
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut lowest = semaphore.acquire(Priority::LOWEST);
        assert!(poll(&mut lowest).is_pending());
        clock.advance(Duration::from_secs(1 << 40));
        let mut highest = semaphore.acquire(Priority::HIGHEST);
        assert!(poll(&mut highest).is_pending());
        drop(held);
        drop(ready(&mut highest).unwrap());
        drop(ready(&mut lowest).unwrap());
    }
);

runtime_test!(
    async fn extreme_boosts_never_overflow_the_priority() {
        let clock = VirtualClock::new();
        let semaphore = PrioritySemaphore::builder(1)
            .aging(Duration::from_nanos(1), u32::MAX)
            .clock(clock.clone())
            .build()
            .unwrap();
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut first = semaphore.acquire(Priority::HIGHEST);
        assert!(poll(&mut first).is_pending());
        clock.advance(Duration::from_secs(10));
        let mut second = semaphore.acquire(Priority::HIGHEST);
        assert!(poll(&mut second).is_pending());
        drop(held);
        drop(ready(&mut first).unwrap());
        drop(ready(&mut second).unwrap());
        assert_idle(&semaphore, 1);
    }
);

// ---- Runtime shutdown ----

/// tokio drops the tasks parked in `acquire` when its runtime is dropped: the queue must be
/// left empty and the semaphore usable from another executor.
#[cfg(feature = "tokio")]
#[test]
fn a_runtime_shut_down_with_parked_waiters_leaves_the_semaphore_usable() {
    let semaphore = Arc::new(PrioritySemaphore::new(1));
    let held = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    for waiter_idx in 0..100 {
        let semaphore = Arc::clone(&semaphore);
        runtime
            .spawn(async move { semaphore.acquire(Priority::new(waiter_idx % 4)).await.map(drop) });
    }
    while semaphore.waiting_total() < 100 {
        std::thread::yield_now();
    }
    // Shut down on a helper thread, so a hang fails the test instead of stalling it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(runtime);
        done_tx.send(()).unwrap();
    });
    done_rx.recv_timeout(Duration::from_secs(10)).expect("the runtime shuts down");
    assert_eq!(semaphore.waiting_total(), 0);
    drop(held);
    let permit = futures::executor::block_on(semaphore.acquire(Priority::LOW)).unwrap();
    drop(permit);
    assert_idle(&semaphore, 1);
}

// ---- Stress and properties ----

runtime_test!(
    async fn ten_thousand_tasks_with_random_cancellations_conserve_permits(rt) {
        const PERMITS: usize = 4;
        let semaphore = Arc::new(PrioritySemaphore::new(PERMITS));
        let in_use = Arc::new(AtomicUsize::new(0));
        let acquired = Arc::new(AtomicUsize::new(0));
        let gave_up = Arc::new(AtomicUsize::new(0));
        let mut seed = 7;
        let mut tasks = Vec::new();
        for _ in 0..10_000 {
            let random = splitmix(&mut seed);
            let priority = Priority::new((random % 7) as i32 - 3);
            let permits = 1 + (random >> 8) as usize % 2;
            let patience = (random >> 16) % 6;
            let (semaphore, in_use, acquired, gave_up) = (
                Arc::clone(&semaphore),
                Arc::clone(&in_use),
                Arc::clone(&acquired),
                Arc::clone(&gave_up),
            );
            tasks.push(rt.spawn(async move {
                let acquire = semaphore.acquire_many(permits, priority);
                // Give up (drop the acquire) after `patience` yields, unless 0 = wait forever.
                let give_up = async {
                    if patience == 0 {
                        std::future::pending::<()>().await;
                    }
                    for _ in 0..patience {
                        yield_now().await;
                    }
                };
                futures::select_biased! {
                    permit = acquire.fuse() => {
                        let permit = permit.unwrap();
                        let now = in_use.fetch_add(permits, SeqCst) + permits;
                        assert!(now <= PERMITS, "{now} permits in use");
                        acquired.fetch_add(1, SeqCst);
                        yield_now().await;
                        in_use.fetch_sub(permits, SeqCst);
                        drop(permit);
                    }
                    () = give_up.fuse() => {
                        gave_up.fetch_add(1, SeqCst);
                    }
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        let (acquired, gave_up) = (acquired.load(SeqCst), gave_up.load(SeqCst));
        assert_eq!(acquired + gave_up, 10_000);
        assert!(acquired > 0 && gave_up > 0, "{acquired} acquired, {gave_up} gave up");
        assert_idle(&semaphore, PERMITS);
    }
);

/// Races the lock-free paths (acquire and release without waiters) against queueing,
/// hand-off and cancellation on plain threads: no permit is lost, none is duplicated, and
/// every blocked acquire is woken.
#[test]
fn threads_racing_fast_and_slow_paths_conserve_permits() {
    const PERMITS: usize = 2;
    let semaphore = Arc::new(PrioritySemaphore::new(PERMITS));
    let in_use = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for thread_idx in 0..4u64 {
        let (semaphore, in_use, done_tx) =
            (Arc::clone(&semaphore), Arc::clone(&in_use), done_tx.clone());
        std::thread::spawn(move || {
            let mut seed = thread_idx;
            for _ in 0..5_000 {
                let random = splitmix(&mut seed);
                let priority = Priority::new((random % 3) as i32);
                let permit = match random >> 8 & 3 {
                    0 => semaphore.try_acquire(priority).ok(),
                    1 => {
                        // Queue (maybe), then give up.
                        let mut acquire = semaphore.acquire(priority);
                        match poll(&mut acquire) {
                            Poll::Ready(permit) => Some(permit.unwrap()),
                            Poll::Pending => None,
                        }
                    }
                    _ => Some(futures::executor::block_on(semaphore.acquire(priority)).unwrap()),
                };
                if let Some(permit) = permit {
                    let now = in_use.fetch_add(1, SeqCst) + 1;
                    assert!(now <= PERMITS, "{now} permits in use");
                    in_use.fetch_sub(1, SeqCst);
                    drop(permit);
                }
            }
            done_tx.send(()).unwrap();
        });
    }
    drop(done_tx);
    // A lost wake-up would block a thread forever: fail instead of hanging.
    for _ in 0..4 {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a worker panicked, or a blocked acquire was never woken");
    }
    assert_idle(&semaphore, PERMITS);
}

/// The permit, or `None` for a request larger than a total that concurrent `forget`s shrank.
fn granted(outcome: Result<Permit<'_>, AcquireError>) -> Option<Permit<'_>> {
    match outcome {
        Ok(permit) => Some(permit),
        Err(AcquireError::TooLarge { requested, total }) if total < requested => None,
        Err(error) => panic!("unexpected {error:?}"),
    }
}

/// Races hand-offs against cancellation right after a hand-off, weighted requests blocking
/// the head, `forget` + `add_permits`, and `try_acquire` on plain threads: permits are never
/// over-granted, never lost, and every blocked acquire is woken.
#[test]
fn threads_racing_hand_offs_cancellations_and_total_changes_conserve_permits() {
    const PERMITS: usize = 3;
    const THREADS: u64 = 4;
    let semaphore = Arc::new(PrioritySemaphore::new(PERMITS));
    let in_use = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for thread_idx in 0..THREADS {
        let (semaphore, in_use, done_tx) =
            (Arc::clone(&semaphore), Arc::clone(&in_use), done_tx.clone());
        std::thread::spawn(move || {
            let mut seed = 1000 + thread_idx;
            let hold = |permit: Permit<'_>| {
                let now = in_use.fetch_add(permit.num_permits(), SeqCst) + permit.num_permits();
                assert!(now <= PERMITS, "{now} permits in use");
                std::thread::yield_now();
                in_use.fetch_sub(permit.num_permits(), SeqCst);
                drop(permit);
            };
            for _ in 0..10_000 {
                let random = splitmix(&mut seed);
                let priority = Priority::new((random % 4) as i32);
                let permits = 1 + (random >> 8) as usize % 2;
                match random >> 16 & 7 {
                    0 | 1 => {
                        let acquire = semaphore.acquire_many(permits, priority);
                        if let Some(permit) = granted(futures::executor::block_on(acquire)) {
                            hold(permit);
                        }
                    }
                    2 | 3 => {
                        // Queue, let a release maybe hand the permits over, then give up
                        // without looking: handed permits must pass on.
                        let mut acquire = semaphore.acquire_many(permits, priority);
                        if let Poll::Ready(outcome) = poll(&mut acquire) {
                            if let Some(permit) = granted(outcome) {
                                hold(permit);
                            }
                        } else {
                            for _ in 0..(random >> 24) % 64 {
                                std::hint::spin_loop();
                            }
                            drop(acquire);
                        }
                    }
                    4 | 5 => {
                        if let Ok(permit) = semaphore.try_acquire_many(permits, priority) {
                            hold(permit);
                        }
                    }
                    _ => {
                        // Destroy a permit and create one: the total dips below PERMITS.
                        let permit = futures::executor::block_on(semaphore.acquire(priority));
                        let permit = permit.unwrap();
                        in_use.fetch_add(1, SeqCst);
                        in_use.fetch_sub(1, SeqCst);
                        permit.forget();
                        semaphore.add_permits(1).unwrap();
                    }
                }
            }
            done_tx.send(()).unwrap();
        });
    }
    drop(done_tx);
    for _ in 0..THREADS {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a worker panicked, or a blocked acquire was never woken");
    }
    assert_idle(&semaphore, PERMITS);
}

#[derive(Debug, Clone)]
enum Op {
    Acquire { permits: usize, priority: i32 },
    TryAcquire { permits: usize, priority: i32 },
    PollAll,
    DropPermit(usize),
    ForgetPermit(usize),
    Cancel(usize),
    AddPermits(usize),
    SetTotal(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, -2..3i32).prop_map(|(permits, priority)| Op::Acquire { permits, priority }),
        2 => (0..4usize, -2..3i32).prop_map(|(permits, priority)| Op::TryAcquire { permits, priority }),
        2 => Just(Op::PollAll),
        3 => any::<usize>().prop_map(Op::DropPermit),
        1 => any::<usize>().prop_map(Op::ForgetPermit),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => (0..3usize).prop_map(Op::AddPermits),
        1 => (0..6usize).prop_map(Op::SetTotal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_operations_never_exceed_lose_or_leak_permits(
        initial in 0..5usize,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let semaphore = PrioritySemaphore::new(initial);
        let mut total = initial;
        // Held (or handed-over) permits that `set_total` still has to retire.
        let mut owed = 0usize;
        let mut pending: Vec<Acquire<'_>> = Vec::new();
        let mut permits: Vec<Permit<'_>> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire { permits: n, priority } => {
                    let mut acquire = semaphore.acquire_many(n, Priority::new(priority));
                    match poll(&mut acquire) {
                        Poll::Ready(Ok(permit)) => {
                            permits.push(permit);
                            let held: usize = permits.iter().map(Permit::num_permits).sum();
                            prop_assert!(n == 0 || held + semaphore.available_permits() <= total, "a grant past the total");
                        }
                        Poll::Ready(Err(error)) => {
                            prop_assert!(matches!(error, AcquireError::TooLarge { .. }), "unexpected {:?}", error);
                            prop_assert!(n > total && total > 0);
                        }
                        Poll::Pending => pending.push(acquire),
                    }
                }
                Op::TryAcquire { permits: n, priority } => {
                    if let Ok(permit) = semaphore.try_acquire_many(n, Priority::new(priority)) {
                        permits.push(permit);
                        let held: usize = permits.iter().map(Permit::num_permits).sum();
                        prop_assert!(n == 0 || held + semaphore.available_permits() <= total, "a grant past the total");
                    }
                }
                Op::PollAll => {
                    let mut still_pending = Vec::new();
                    for mut acquire in pending.drain(..) {
                        match poll(&mut acquire) {
                            Poll::Ready(Ok(permit)) => permits.push(permit),
                            Poll::Ready(Err(error)) => {
                                prop_assert!(matches!(error, AcquireError::TooLarge { .. }), "unexpected {:?}", error);
                            }
                            Poll::Pending => still_pending.push(acquire),
                        }
                    }
                    pending = still_pending;
                }
                Op::DropPermit(idx) if !permits.is_empty() => {
                    let permit = permits.swap_remove(idx % permits.len());
                    owed -= owed.min(permit.num_permits());
                    drop(permit);
                }
                Op::ForgetPermit(idx) if !permits.is_empty() => {
                    let permit = permits.swap_remove(idx % permits.len());
                    let retired = owed.min(permit.num_permits());
                    owed -= retired;
                    total -= permit.num_permits() - retired;
                    permit.forget();
                }
                Op::Cancel(idx) if !pending.is_empty() => {
                    let mut acquire = pending.swap_remove(idx % pending.len());
                    if owed > 0 {
                        // Permits handed to it would pay what is owed: account for them.
                        if let Poll::Ready(Ok(permit)) = poll(&mut acquire) {
                            owed -= owed.min(permit.num_permits());
                        }
                    }
                    drop(acquire);
                }
                Op::SetTotal(n) => {
                    let free = semaphore.available_permits();
                    semaphore.set_total(n).unwrap();
                    if n >= total {
                        owed -= owed.min(n - total);
                    } else {
                        owed += (total - n) - (total - n).min(free);
                    }
                    total = n;
                }
                Op::AddPermits(n) => {
                    semaphore.add_permits(n).unwrap();
                    // New permits pay what is owed first, as growing with `set_total` does.
                    owed -= owed.min(n);
                    total += n;
                }
                Op::DropPermit(_) | Op::ForgetPermit(_) | Op::Cancel(_) => {}
            }
            let held: usize = permits.iter().map(Permit::num_permits).sum();
            let free = semaphore.available_permits();
            prop_assert_eq!(semaphore.total_permits(), total);
            prop_assert!(held + free <= total + owed, "permits exceed the total and what is owed");
            prop_assert!(owed == 0 || free == 0, "a permit free while permits are retired");
            prop_assert!(semaphore.waiting_total() <= pending.len());
        }
        // Liveness: with no permit held, every remaining waiter completes, one round at a time
        // (unless there are no permits at all: then they wait for `add_permits`).
        drop(permits);
        if total == 0 {
            pending.clear();
        }
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            prop_assert!(rounds <= 100, "waiters stuck: {:?}", semaphore);
            pending.retain_mut(|acquire| poll(acquire).is_pending());
        }
        prop_assert_eq!(semaphore.waiting_total(), 0);
        prop_assert_eq!(semaphore.available_permits(), total, "every permit came back");
    }
}

// ---- Issue 19: races, scale and the tokio / async-lock parity API ----

#[test]
fn try_acquire_never_refuses_while_a_permit_is_free_and_it_is_first_in_line() {
    // Two of three permits stay free; a second thread keeps queueing and cancelling a request
    // for all three at a worse priority, which can never be served (one is held for good).
    let semaphore = Arc::new(PrioritySemaphore::new(3));
    let _pinned = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queuer = {
        let (semaphore, stop) = (Arc::clone(&semaphore), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(SeqCst) {
                let mut waiter = semaphore.acquire_many(3, Priority::LOW);
                assert!(poll(&mut waiter).is_pending());
            }
        })
    };
    let refused = (0..200_000).filter(|_| semaphore.try_acquire(Priority::HIGH).is_err()).count();
    stop.store(true, SeqCst);
    queuer.join().unwrap();
    assert_eq!(refused, 0, "try_acquire refused with permits free and nobody ahead");
}

runtime_test!(
    async fn ten_thousand_distinct_priorities_are_served_best_first() {
        let semaphore = PrioritySemaphore::new(0);
        let mut seed = 19;
        let mut priorities: Vec<i32> = (0..10_000).collect();
        for i in (1..priorities.len()).rev() {
            let j = usize::try_from(splitmix(&mut seed) % (i as u64 + 1)).unwrap();
            priorities.swap(i, j);
        }
        let mut waiters: Vec<_> = priorities
            .iter()
            .map(|&p| (p, Box::pin(semaphore.acquire(Priority::new(p)))))
            .collect();
        for (_, waiter) in &mut waiters {
            assert!(poll(waiter).is_pending());
        }
        assert_eq!(semaphore.waiting_total(), 10_000);
        waiters.sort_by_key(|&(p, _)| p);
        semaphore.add_permits(1).unwrap();
        for (p, waiter) in &mut waiters {
            let permit = ready(waiter).unwrap_or_else(|_| panic!("priority {p} served in order"));
            assert_eq!(semaphore.waiting_total(), 9_999 - usize::try_from(*p).unwrap());
            drop(permit);
        }
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn forgetting_rejects_every_one_of_many_waiters_that_no_longer_fit() {
        let semaphore = PrioritySemaphore::new(3);
        let held = semaphore.try_acquire_many(3, Priority::NORMAL).unwrap();
        let mut large: Vec<_> =
            (0..5_000).map(|i| Box::pin(semaphore.acquire_many(3, Priority::new(i)))).collect();
        let mut small: Vec<_> =
            (0..5_000).map(|i| Box::pin(semaphore.acquire(Priority::new(i)))).collect();
        for waiter in large.iter_mut().chain(&mut small) {
            assert!(poll(waiter).is_pending());
        }
        let mut held = held;
        let one = held.split(1).unwrap();
        one.forget();
        assert_eq!(semaphore.total_permits(), 2);
        for waiter in &mut large {
            assert_eq!(
                ready(waiter).unwrap_err(),
                AcquireError::TooLarge { requested: 3, total: 2 }
            );
        }
        assert_eq!(semaphore.waiting_total(), 5_000, "the requests that fit stay queued");
        drop(held);
        for waiter in &mut small {
            drop(ready(waiter).unwrap());
        }
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn split_and_merge_give_back_part_of_a_permit() {
        let semaphore = PrioritySemaphore::new(5);
        let mut permit = semaphore.acquire_many(5, Priority::HIGH).await.unwrap();
        let mut waiter = Box::pin(semaphore.acquire_many(2, Priority::NORMAL));
        assert!(poll(&mut waiter).is_pending());
        assert!(permit.split(6).is_none(), "cannot split more than held");
        assert_eq!(permit.num_permits(), 5);
        let part = permit.split(2).unwrap();
        assert_eq!((part.num_permits(), part.priority()), (2, Priority::HIGH));
        drop(part);
        let served = ready(&mut waiter).unwrap();
        permit.merge(served);
        assert_eq!(permit.num_permits(), 5);
        drop(permit);
        assert_idle(&semaphore, 5);

        let owned = Arc::new(PrioritySemaphore::new(3));
        let mut all = Arc::clone(&owned).acquire_many_owned(3, Priority::LOW).await.unwrap();
        let one = all.split(1).unwrap();
        drop(one);
        assert_eq!(owned.available_permits(), 1);
        all.merge(Arc::clone(&owned).try_acquire_owned(Priority::LOW).unwrap());
        assert_eq!(all.num_permits(), 3);
        drop(all);
        assert_idle(&owned, 3);
    }
);

runtime_test!(
    async fn merging_permits_of_two_semaphores_panics_and_loses_nothing() {
        let (a, b) = (PrioritySemaphore::new(1), PrioritySemaphore::new(1));
        let mut from_a = a.try_acquire(Priority::NORMAL).unwrap();
        let from_b = b.try_acquire(Priority::NORMAL).unwrap();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| from_a.merge(from_b)));
        assert!(outcome.is_err());
        drop(from_a);
        assert_idle(&a, 1);
        assert_idle(&b, 1);
    }
);

runtime_test!(
    async fn forget_permits_destroys_free_permits_without_holding_them() {
        let semaphore = PrioritySemaphore::new(4);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let mut large = Box::pin(semaphore.acquire_many(4, Priority::NORMAL));
        let mut small = Box::pin(semaphore.acquire(Priority::LOW));
        assert!(poll(&mut large).is_pending());
        assert!(poll(&mut small).is_pending());
        assert_eq!(semaphore.forget_permits(1), 1);
        assert_eq!(semaphore.total_permits(), 3);
        assert_eq!(
            ready(&mut large).unwrap_err(),
            AcquireError::TooLarge { requested: 4, total: 3 }
        );
        drop(ready(&mut small).unwrap());
        assert_eq!(semaphore.forget_permits(10), 2, "only the free ones");
        assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (0, 1));
        drop(held);
        assert_idle(&semaphore, 1);
        assert_eq!(semaphore.forget_permits(0), 0);
    }
);

runtime_test!(
    async fn acquire_blocking_waits_on_a_thread_for_a_release() {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL).unwrap();
        let blocked = {
            let semaphore = Arc::clone(&semaphore);
            std::thread::spawn(move || {
                let permit = semaphore.acquire_many_blocking(1, Priority::NORMAL).unwrap();
                permit.num_permits()
            })
        };
        while semaphore.waiting_total() == 0 {
            yield_now().await;
        }
        drop(held);
        assert_eq!(blocked.join().unwrap(), 1);
        semaphore.close();
        assert_eq!(semaphore.acquire_blocking(Priority::NORMAL).unwrap_err(), AcquireError::Closed);
        assert_eq!(semaphore.available_permits(), 1);
    }
);

runtime_test!(
    async fn aging_needs_no_timer_and_no_wake_up_while_no_permit_is_free() {
        let clock = VirtualClock::new();
        let semaphore = aging_semaphore(&clock, 50);
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let counters: Vec<_> = (0..10).map(|_| counting_waker()).collect();
        let mut waiters: Vec<_> =
            (0..10).map(|p| Box::pin(semaphore.acquire(Priority::new(p * 3)))).collect();
        for (waiter, (_, waker)) in waiters.iter_mut().zip(&counters) {
            assert!(waiter.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
        }
        assert_eq!(clock.pending_sleepers(), 0, "no timer while every permit is held");
        clock.advance(ms(1_000));
        assert!(counters.iter().all(|(counter, _)| wakes(counter) == 0), "nobody woken by aging");
        drop(held);
        // Served in aged order: all at the maximum boost, so by base priority.
        for waiter in &mut waiters {
            drop(ready(waiter).unwrap());
        }
        assert_idle(&semaphore, 1);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

/// A waker owning a permit of an aging semaphore on the virtual clock.
struct VirtualPermitOwningWaker(
    #[expect(dead_code, reason = "held only to be dropped")] OwnedPermit<VirtualClock>,
);

impl Wake for VirtualPermitOwningWaker {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_clock_waker_that_owns_an_aging_semaphores_permit_does_not_deadlock_the_clock() {
    use asynchronously::time::Clock;
    without_deadlock(|| {
        let clock = VirtualClock::new();
        let semaphore = Arc::new(
            PrioritySemaphore::builder(3).aging(ms(10), 5).clock(clock.clone()).build().unwrap(),
        );
        let held = Arc::clone(&semaphore).try_acquire_many_owned(2, Priority::NORMAL).unwrap();
        // A blocked head with a free permit kept for it: the semaphore's aging timer is armed.
        let mut head = Box::pin(semaphore.acquire_many(3, Priority::NORMAL));
        assert!(poll(&mut head).is_pending());
        let mut behind = Box::pin(semaphore.acquire(Priority::LOW));
        assert!(poll(&mut behind).is_pending());
        // A sleep whose waker owns the permits: replacing or dropping that waker releases
        // them, which re-arms the aging timer on the same clock.
        let owning = Waker::from(Arc::new(VirtualPermitOwningWaker(held)));
        let mut sleep = Box::pin(clock.sleep(ms(1_000)));
        assert!(sleep.as_mut().poll(&mut Context::from_waker(&owning)).is_pending());
        drop(owning);
        assert!(sleep.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        drop(ready(&mut head).unwrap());
        drop(ready(&mut behind).unwrap());
        drop(sleep);
        assert_idle(&semaphore, 3);
        assert_eq!(clock.pending_sleepers(), 0, "the aging timer is gone with the queue");
    });
}

// ---- set_total ----

runtime_test!(
    async fn shrinking_while_every_permit_is_out_retires_returned_permits_before_serving() {
        let semaphore = PrioritySemaphore::new(4);
        let mut held: Vec<_> =
            (0..4).map(|_| semaphore.try_acquire(Priority::NORMAL).unwrap()).collect();
        let (counter, waker) = counting_waker();
        let mut waiter = Box::pin(semaphore.acquire(Priority::HIGH));
        assert!(waiter.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        semaphore.set_total(2).unwrap();
        assert_eq!((semaphore.total_permits(), semaphore.available_permits()), (2, 0));
        assert_eq!(semaphore.try_acquire(Priority::HIGH).unwrap_err(), TryAcquireError::NoPermits);
        // Four held, two allowed: the first two returned are retired, the waiter not served.
        drop(held.pop());
        drop(held.pop());
        assert_eq!(semaphore.available_permits(), 0);
        assert_eq!(wakes(&counter), 0, "retired permits are not handed to the waiter");
        assert!(waiter.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        // The third is within the new total: it goes to the waiter.
        drop(held.pop());
        assert_eq!(wakes(&counter), 1);
        let served = ready(&mut waiter).unwrap();
        drop(held.pop());
        assert_eq!(semaphore.available_permits(), 1);
        drop(served);
        assert_idle(&semaphore, 2);
    }
);

runtime_test!(
    async fn shrinking_destroys_free_permits_at_once_and_forgetting_counts_as_retired() {
        let semaphore = PrioritySemaphore::new(5);
        let held = semaphore.try_acquire_many(3, Priority::NORMAL).unwrap();
        semaphore.set_total(1).unwrap();
        assert_eq!((semaphore.total_permits(), semaphore.available_permits()), (1, 0));
        // Two free permits went at once; two of the three held are still owed.
        let mut held = held;
        held.split(2).unwrap().forget();
        assert_eq!(semaphore.total_permits(), 1, "a forgotten permit pays what was owed");
        drop(held);
        assert_idle(&semaphore, 1);
        semaphore.set_total(1).unwrap();
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn growing_the_total_wakes_waiters_and_cancels_pending_retirement_first() {
        let semaphore = PrioritySemaphore::new(2);
        let held = semaphore.try_acquire_many(2, Priority::NORMAL).unwrap();
        let (counter, waker) = counting_waker();
        let mut waiters: Vec<_> =
            (0..3).map(|i| Box::pin(semaphore.acquire(Priority::new(i)))).collect();
        for waiter in &mut waiters {
            assert!(waiter.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        }
        semaphore.set_total(5).unwrap();
        assert_eq!(semaphore.total_permits(), 5);
        assert_eq!(wakes(&counter), 3, "three new permits serve three waiters");
        let served: Vec<_> = waiters.iter_mut().map(|waiter| ready(waiter).unwrap()).collect();
        drop(served);
        drop(held);
        assert_idle(&semaphore, 5);

        // Shrink below what is held, then grow back part of the way: no new permit appears
        // until the held ones are within the total again.
        let held = semaphore.try_acquire_many(5, Priority::NORMAL).unwrap();
        semaphore.set_total(1).unwrap();
        let mut waiter = Box::pin(semaphore.acquire(Priority::HIGH));
        assert!(poll(&mut waiter).is_pending());
        semaphore.set_total(3).unwrap();
        assert_eq!((semaphore.total_permits(), semaphore.available_permits()), (3, 0));
        assert!(poll(&mut waiter).is_pending(), "five held, three allowed");
        semaphore.set_total(6).unwrap();
        let served = ready(&mut waiter).unwrap();
        drop(served);
        drop(held);
        assert_idle(&semaphore, 6);
    }
);

runtime_test!(
    async fn shrinking_below_a_queued_request_fails_it_with_too_large() {
        let semaphore = PrioritySemaphore::new(4);
        let held = semaphore.try_acquire_many(4, Priority::NORMAL).unwrap();
        let mut large = Box::pin(semaphore.acquire_many(3, Priority::HIGH));
        let mut small = Box::pin(semaphore.acquire(Priority::LOW));
        assert!(poll(&mut large).is_pending());
        assert!(poll(&mut small).is_pending());
        semaphore.set_total(2).unwrap();
        assert_eq!(
            ready(&mut large).unwrap_err(),
            AcquireError::TooLarge { requested: 3, total: 2 }
        );
        assert_eq!(
            semaphore.acquire_many(3, Priority::HIGH).await.unwrap_err(),
            AcquireError::TooLarge { requested: 3, total: 2 }
        );
        assert!(poll(&mut small).is_pending());
        drop(held);
        drop(ready(&mut small).unwrap());
        assert_idle(&semaphore, 2);
        // Zero keeps every request waiting for permits, like a semaphore never given any.
        semaphore.set_total(0).unwrap();
        let mut waiter = Box::pin(semaphore.acquire_many(2, Priority::NORMAL));
        assert!(poll(&mut waiter).is_pending());
        semaphore.set_total(1).unwrap();
        assert_eq!(
            ready(&mut waiter).unwrap_err(),
            AcquireError::TooLarge { requested: 2, total: 1 }
        );
        assert_idle(&semaphore, 1);
    }
);

runtime_test!(
    async fn set_total_past_the_maximum_changes_nothing() {
        let semaphore = PrioritySemaphore::new(3);
        let _held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let max = PrioritySemaphore::MAX_PERMITS;
        assert_eq!(
            semaphore.set_total(max + 1).unwrap_err(),
            SetTotalError::TooMany { requested: max + 1, max }
        );
        assert_eq!((semaphore.total_permits(), semaphore.available_permits()), (3, 2));
        semaphore.set_total(max).unwrap();
        assert_eq!(semaphore.available_permits(), max - 1);
    }
);

/// Races acquires, cancellations and releases on plain threads against `set_total` shrinking
/// the total below the permits held and growing it back: never more permits in use than the
/// largest total, every blocked acquire is woken, and every permit comes back.
#[test]
fn threads_racing_set_total_against_hand_offs_conserve_permits() {
    const PERMITS: usize = 3;
    const THREADS: u64 = 3;
    let semaphore = Arc::new(PrioritySemaphore::new(PERMITS));
    let in_use = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for thread_idx in 0..THREADS {
        let (semaphore, in_use, done_tx) =
            (Arc::clone(&semaphore), Arc::clone(&in_use), done_tx.clone());
        std::thread::spawn(move || {
            let mut seed = 2000 + thread_idx;
            for _ in 0..5_000 {
                let random = splitmix(&mut seed);
                let priority = Priority::new((random % 4) as i32);
                let permits = 1 + (random >> 8) as usize % 2;
                match random >> 16 & 3 {
                    0 | 1 => {
                        let mut acquire = semaphore.acquire_many(permits, priority);
                        let outcome = if random >> 20 & 1 == 0 {
                            futures::executor::block_on(acquire)
                        } else if let Poll::Ready(outcome) = poll(&mut acquire) {
                            outcome
                        } else {
                            std::thread::yield_now();
                            drop(acquire);
                            continue;
                        };
                        if let Some(permit) = granted(outcome) {
                            let n = permit.num_permits();
                            let now = in_use.fetch_add(n, SeqCst) + n;
                            assert!(now <= PERMITS, "{now} permits in use");
                            std::thread::yield_now();
                            in_use.fetch_sub(n, SeqCst);
                            drop(permit);
                        }
                    }
                    2 => semaphore.set_total(1 + (random >> 24) as usize % PERMITS).unwrap(),
                    _ => semaphore.set_total(PERMITS).unwrap(),
                }
            }
            // Leave the total where every waiter of the others fits.
            semaphore.set_total(PERMITS).unwrap();
            done_tx.send(()).unwrap();
        });
    }
    drop(done_tx);
    for _ in 0..THREADS {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a worker panicked, or a blocked acquire was never woken");
    }
    semaphore.set_total(PERMITS).unwrap();
    assert_idle(&semaphore, PERMITS);
}
