//! Loom model of the atomic core: `cargo xtask loom` explores every interleaving of two or
//! three threads acquiring, releasing, closing and dropping a waiter that permits were handed
//! to, and checks that no permit is lost or leaked and no waiter is stranded.

#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use asynchronously_priority_semaphore::{AcquireError, Priority, PrioritySemaphore};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

fn assert_idle(semaphore: &PrioritySemaphore, total: usize) {
    assert_eq!(semaphore.waiting_total(), 0, "no waiter stranded");
    assert_eq!(semaphore.available_permits(), total, "no permit lost or leaked");
}

#[test]
fn two_threads_acquire_and_release_one_permit() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let other = Arc::clone(&semaphore);
        let thread = thread::spawn(move || {
            drop(block_on(other.acquire(Priority::LOW)).unwrap());
        });
        drop(block_on(semaphore.acquire(Priority::HIGH)).unwrap());
        thread.join().unwrap();
        assert_idle(&semaphore, 1);
    });
}

#[test]
fn three_threads_share_two_permits() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(2));
        let threads: Vec<_> = [2, 1]
            .into_iter()
            .map(|permits| {
                let semaphore = Arc::clone(&semaphore);
                thread::spawn(move || {
                    drop(block_on(semaphore.acquire_many(permits, Priority::NORMAL)).unwrap());
                })
            })
            .collect();
        drop(block_on(semaphore.acquire(Priority::HIGH)).unwrap());
        for thread in threads {
            thread.join().unwrap();
        }
        assert_idle(&semaphore, 2);
    });
}

#[test]
fn close_races_a_queued_acquire_and_a_release() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let waiter = {
            let semaphore = Arc::clone(&semaphore);
            thread::spawn(move || match block_on(semaphore.acquire(Priority::NORMAL)) {
                Ok(permit) => drop(permit),
                Err(error) => assert_eq!(error, AcquireError::Closed),
            })
        };
        let closer = {
            let semaphore = Arc::clone(&semaphore);
            thread::spawn(move || semaphore.close())
        };
        drop(held);
        waiter.join().unwrap();
        closer.join().unwrap();
        assert_idle(&semaphore, 1);
    });
}

#[test]
fn dropping_a_waiter_that_was_handed_the_permit_passes_it_on() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(1));
        let held = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let dropper = {
            let semaphore = Arc::clone(&semaphore);
            thread::spawn(move || {
                let mut acquire = pin!(semaphore.acquire(Priority::NORMAL));
                // Queued (or served at once); dropped without being polled again, perhaps
                // after the release handed it the permit.
                let first = acquire.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                drop(first);
            })
        };
        drop(held);
        dropper.join().unwrap();
        assert_idle(&semaphore, 1);
    });
}

#[test]
fn try_acquire_is_served_while_a_worse_waiter_queues() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(2));
        let pinned = semaphore.try_acquire(Priority::NORMAL).unwrap();
        let queuer = {
            let semaphore = Arc::clone(&semaphore);
            thread::spawn(move || {
                let mut acquire = pin!(semaphore.acquire_many(2, Priority::LOW));
                let first = acquire.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                assert!(matches!(first, Poll::Pending), "one of two permits stays held");
            })
        };
        let permit = semaphore.try_acquire(Priority::HIGH);
        assert!(permit.is_ok(), "a free permit and nobody ahead: try_acquire must succeed");
        drop(permit);
        queuer.join().unwrap();
        drop(pinned);
        assert_idle(&semaphore, 2);
    });
}

#[test]
fn set_total_races_a_release_and_a_queued_acquire() {
    loom::model(|| {
        let semaphore = Arc::new(PrioritySemaphore::new(2));
        let held = semaphore.try_acquire_many(2, Priority::NORMAL).unwrap();
        let shrinker = Arc::clone(&semaphore);
        let shrink = thread::spawn(move || shrinker.set_total(1).unwrap());
        let waiter = Arc::clone(&semaphore);
        let acquire =
            thread::spawn(move || drop(block_on(waiter.acquire(Priority::HIGH)).unwrap()));
        drop(held);
        shrink.join().unwrap();
        acquire.join().unwrap();
        assert_eq!(semaphore.total_permits(), 1);
        assert_idle(&semaphore, 1);
    });
}
