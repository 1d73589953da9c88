//! The engine: a wake-up costs the woken child only, from the child's first poll, at any N.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use asynchronously::gather::{
    AsCompleted, Limit, TaskGroup, as_completed, gather, gather_partial, gather_settled, race_ok,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{poll_once, splitmix};

/// Fired from outside; the waiting child keeps only the waker of its first poll, as some
/// hand-written futures do (futures' engines keep that waker valid, and so must ours).
///
/// Store, then check, on both sides (no lock held across the check): an earlier version took
/// the waker out under a `Mutex` and woke it, and hung about once in 300 runs under tokio's
/// workers with futures' `try_join_all` as with our engine; this one has not (2 000 runs of
/// the mixed test below, 30 000 of a reproduction with `try_join_all`).
#[derive(Default)]
struct Signal {
    fired: AtomicBool,
    waker: OnceLock<Waker>,
}

impl Signal {
    fn fire(&self) {
        self.fired.store(true, SeqCst);
        if let Some(waker) = self.waker.get() {
            waker.wake_by_ref();
        }
    }
}

/// Waits for `signal`, counting its polls in `polls`.
struct FirstWakerOnly {
    signal: Arc<Signal>,
    polls: Arc<AtomicUsize>,
    value: u64,
}

impl Future for FirstWakerOnly {
    type Output = Result<u64, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.fetch_add(1, SeqCst);
        // The first poll's waker only: later ones are never stored.
        let _ = self.signal.waker.set(cx.waker().clone());
        if self.signal.fired.load(SeqCst) {
            return Poll::Ready(Ok(self.value));
        }
        Poll::Pending
    }
}

/// `n` signals, and children waiting for them that count their polls.
fn signalled(n: u64) -> (Vec<Arc<Signal>>, Vec<FirstWakerOnly>, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let signals: Vec<Arc<Signal>> = (0..n).map(|_| Arc::default()).collect();
    let children = signals
        .iter()
        .zip(0..)
        .map(|(signal, value)| FirstWakerOnly {
            signal: signal.clone(),
            polls: polls.clone(),
            value,
        })
        .collect();
    (signals, children, polls)
}

/// The indices `0..n` in a random order.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

type Joined = Pin<Box<dyn Future<Output = usize> + Send>>;

/// Every engine path over `children`: each resolves to how many values it produced.
fn every_path(children: Vec<FirstWakerOnly>, path: usize) -> Joined {
    let limit = Limit::new(children.len().max(1)).unwrap();
    match path {
        0 => Box::pin(gather(children).map(|values| values.unwrap().len())),
        1 => Box::pin(gather_settled(children).map(|outputs| outputs.len())),
        2 => Box::pin(gather_partial(children, |_| false).map(|outputs| outputs.unwrap().len())),
        3 => Box::pin(as_completed(children).count()),
        4 => Box::pin(limit.gather(children).map(|values| values.unwrap().len())),
        5 => Box::pin(limit.as_completed(children).count()),
        6 => Box::pin(children.into_iter().collect::<AsCompleted<_>>().count()),
        _ => Box::pin(
            race_ok(children.into_iter().map(|child| async move {
                // Every child but the last fails, so the race waits for all of them.
                let value = child.await?;
                if value == 0 { Ok(value) } else { Err(format!("{value} lost")) }
            }))
            .map(|won| usize::from(won.is_ok())),
        ),
    }
}

const PATHS: usize = 8;

runtime_test!(
    async fn a_child_that_keeps_only_its_first_waker_finishes_on_every_path(rt) {
        for n in [3, 100] {
            for path in 0..PATHS {
                let (signals, children, _) = signalled(n);
                let firing = rt.spawn(async move {
                    for signal in signals.iter().rev() {
                        // Let the join poll its children a few times first, with wake-ups
                        // of other children in between.
                        yield_now().await;
                        signal.fire();
                    }
                });
                let (produced, ()) = futures::join!(every_path(children, path), firing);
                let expected = if path == PATHS - 1 { 1 } else { n as usize };
                assert_eq!(produced, expected, "path {path}, {n} children");
            }
        }
    }
);

runtime_test!(
    async fn a_group_child_that_keeps_only_its_first_waker_finishes(rt) {
        let (signals, children, _) = signalled(100);
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let handles: Vec<_> = children.into_iter().map(|child| spawner.spawn(child)).collect();
        let firing = rt.spawn(async move {
            for signal in signals.iter().rev() {
                yield_now().await;
                signal.fire();
            }
        });
        let (outcome, ()) = futures::join!(group.run(async {}), firing);
        assert!(outcome.is_ok());
        for (handle, value) in handles.into_iter().zip(0..) {
            assert_eq!(handle.await, Ok(value));
        }
    }
);

runtime_test!(
    async fn each_child_woken_once_from_outside_is_polled_at_most_twice() {
        const N: u64 = 100_000;
        for path in 0..PATHS - 1 {
            let (signals, children, polls) = signalled(N);
            let mut joined = every_path(children, path);
            assert!(poll_once(&mut joined).is_pending(), "path {path}: nothing fired yet");
            assert_eq!(
                polls.load(SeqCst),
                N as usize,
                "path {path}: the first poll polls each once"
            );
            let mut done = None;
            for i in shuffled(N as usize, 7 + path as u64) {
                signals[i].fire();
                if let Poll::Ready(produced) = poll_once(&mut joined) {
                    done = Some(produced);
                }
            }
            assert_eq!(done, Some(N as usize), "path {path}");
            let total = polls.load(SeqCst);
            assert_eq!(total, 2 * N as usize, "path {path}: {total} polls for {N} children");
        }
    }
);

runtime_test!(
    async fn a_hundred_thousand_children_woken_from_other_threads_all_finish(rt) {
        const N: u64 = 100_000;
        for path in [0, 3, 4] {
            let (signals, children, _) = signalled(N);
            let order = shuffled(N as usize, 99);
            // Fired from several spawned tasks: on tokio they run on its worker threads,
            // concurrently with the join's own polls.
            let chunks: Vec<Vec<Arc<Signal>>> = order
                .chunks(N as usize / 4)
                .map(|chunk| chunk.iter().map(|&i| signals[i].clone()).collect())
                .collect();
            let firing: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    rt.spawn(async move {
                        for (k, signal) in chunk.iter().enumerate() {
                            if k % 64 == 0 {
                                yield_now().await;
                            }
                            signal.fire();
                        }
                    })
                })
                .collect();
            let (produced, _) = futures::join!(every_path(children, path), futures::future::join_all(firing));
            assert_eq!(produced, N as usize, "path {path}: no wake-up was lost");
        }
    }
);

runtime_test!(
    async fn the_strict_gather_keeps_input_order_however_children_are_woken() {
        let (signals, children, _) = signalled(1000);
        let mut gathered = gather(children);
        assert!(poll_once(&mut gathered).is_pending());
        for i in shuffled(1000, 3) {
            signals[i].fire();
        }
        let values = gathered.await.unwrap();
        assert_eq!(values, (0..1000).collect::<Vec<_>>());
    }
);

/// A child that is ready at once, for the paths that reuse a finished child's waker.
fn ready_child(value: u64) -> BoxFuture<'static, Result<u64, String>> {
    Box::pin(async move { Ok(value) })
}

runtime_test!(
    async fn ready_and_waiting_children_mix_without_losing_a_wake_up(rt) {
        // Ready children hand their unused wakers on; a waiting child must still get its own.
        let (signals, waiting, _) = signalled(50);
        let mut children: Vec<BoxFuture<'static, Result<u64, String>>> = Vec::new();
        for (i, child) in waiting.into_iter().enumerate() {
            children.push(ready_child(1000 + i as u64));
            children.push(Box::pin(child));
        }
        let firing = rt.spawn(async move {
            for signal in &signals {
                yield_now().await;
                signal.fire();
            }
        });
        let (values, ()) = futures::join!(gather(children), firing);
        assert_eq!(values.map(|values| values.len()), Ok(100));
    }
);
