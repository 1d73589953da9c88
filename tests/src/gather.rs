//! Behaviour tests of `asynchronously::gather`.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asynchronously::gather::{
    AsCompleted, BlockOnError, ErrorMode, ExitMode, Gather, GatherKeyed, GatherPartial,
    GatherSettled, GroupError, KeyedError, Limit, Race, RaceError, RaceOk, RaceOkError, Run,
    RunError, Spawner, SyncScope, SyncScopeError, TaskError, TaskGroup, TaskHandle, as_completed,
    block_on, gather, gather_keyed, gather_partial, gather_settled, race, race_ok, run,
    run_partial, run_settled,
};
use asynchronously::time::{Clock, VirtualClock};
use futures::future::{self, BoxFuture};
use futures::{FutureExt, Stream, StreamExt};
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;

mod engine;
mod group;
mod set;
mod streams;
use crate::support::{CountingWaker, ms, poll_once};

type Child = BoxFuture<'static, Result<u64, String>>;

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send::<Gather<Child>>();
    assert_send::<GatherKeyed<u64, Child>>();
    assert_send::<GatherSettled<Child>>();
    assert_send::<GatherPartial<Child, fn(&String) -> bool>>();
    assert_send::<Race<Child>>();
    assert_send::<RaceOk<Child>>();
    assert_send::<AsCompleted<Child>>();
    assert_send_sync::<Gather<future::Ready<Result<u8, ()>>>>();
    assert_send_sync::<Spawner<'static, String>>();
    assert_send_sync::<TaskHandle<u64, String>>();
    assert_send::<TaskGroup<'static, String, VirtualClock>>();
    assert_send::<Run<'static, future::Ready<()>, String, VirtualClock>>();
    assert_send_sync::<GroupError<String>>();
    assert_send_sync::<SyncScopeError<String>>();
    assert_send_sync::<KeyedError<u8, String>>();
    assert_send_sync::<RaceError<String>>();
    assert_send_sync::<RaceOkError<String, String>>();
};

/// Counts how many children were dropped (finished or cancelled).
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

struct DropGuard(Drops);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, SeqCst);
    }
}

impl Drops {
    fn guard(&self) -> DropGuard {
        DropGuard(self.clone())
    }
    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A child that sleeps `delay` on `clock`, then returns `outcome`, counting its drop.
fn child(clock: &VirtualClock, delay: u64, outcome: Result<u64, String>, drops: &Drops) -> Child {
    let (clock, guard) = (clock.clone(), drops.guard());
    Box::pin(async move {
        let _guard = guard;
        clock.sleep(ms(delay)).await;
        outcome
    })
}

runtime_test!(
    async fn strict_gather_returns_the_first_error_at_its_instant_after_dropping_every_sibling() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let drops = Drops::default();
        let children = (0..5u64).map(|i| {
            let outcome = if i == 1 { Err("child 1 failed".to_owned()) } else { Ok(i) };
            child(&clock, i * 100, outcome, &drops)
        });
        let run = async {
            let outcome = gather(children).await;
            (outcome, clock.now() - start, drops.count(), clock.pending_sleepers())
        };
        let ((outcome, at, dropped, sleeping), ()) =
            future::join(run, clock.run_for(ms(1000))).await;
        assert_eq!(outcome, Err("child 1 failed".to_owned()), "the original error comes back");
        assert_eq!(at, ms(100), "the error returns when child 1 fails");
        assert_eq!(dropped, 5, "every sibling was dropped before the error was returned");
        assert_eq!(sleeping, 0, "nothing is left running");
    }
);

runtime_test!(
    async fn strict_gather_returns_values_in_input_order_whatever_the_finishing_order() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = (0..5u64).map(|i| child(&clock, (5 - i) * 100, Ok(i * 10), &drops));
        let (values, ()) = future::join(gather(children), clock.run_for(ms(600))).await;
        assert_eq!(values, Ok(vec![0, 10, 20, 30, 40]));
    }
);

runtime_test!(
    async fn a_fast_failure_behind_a_slow_first_future_returns_promptly_among_1000() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let drops = Drops::default();
        let children = (0..1000u64).map(|i| match i {
            0 => child(&clock, 60_000, Ok(0), &drops),
            99 => child(&clock, 1, Err("fast failure".to_owned()), &drops),
            _ => child(&clock, 30_000, Ok(i), &drops),
        });
        let run = async {
            let outcome = gather(children).await;
            (outcome, clock.now() - start, drops.count())
        };
        let ((outcome, at, dropped), ()) = future::join(run, clock.run_for(ms(100))).await;
        assert_eq!(outcome, Err("fast failure".to_owned()));
        assert_eq!(at, ms(1), "the error of the 100th future returns at once");
        assert_eq!(dropped, 1000, "all 999 siblings were dropped before returning");
    }
);

runtime_test!(
    async fn a_large_gather_fails_fast_from_its_last_chunk_and_keeps_order_otherwise() {
        let ok: Vec<_> = (0..200u64)
            .map(|i| async move {
                yield_now().await;
                Ok::<_, u64>(i)
            })
            .collect();
        assert_eq!(gather(ok).await, Ok((0..200).collect::<Vec<_>>()));
        let drops = Drops::default();
        let failing = (0..200u64).map(|i| {
            let guard = drops.guard();
            async move {
                let _guard = guard;
                if i == 199 { Err(i) } else { future::pending::<Result<u64, u64>>().await }
            }
        });
        assert_eq!(gather(failing).await, Err(199));
        assert_eq!(drops.count(), 200);
    }
);

runtime_test!(
    async fn dropping_a_gather_at_any_poll_drops_every_child() {
        for polls in 0..4 {
            let clock = VirtualClock::new();
            let drops = Drops::default();
            // Made up front: an iterator's futures would be made only when pulled.
            let children: Vec<_> =
                (0..40u64).map(|i| child(&clock, i % 4 * 10, Ok(i), &drops)).collect();
            let mut gathered = gather(children);
            for _ in 0..polls {
                assert!(poll_once(&mut gathered).is_pending());
                clock.advance(ms(10));
            }
            drop(gathered);
            assert_eq!(drops.count(), 40, "after {polls} polls every child is dropped");
            assert_eq!(clock.pending_sleepers(), 0);
        }
    }
);

runtime_test!(
    async fn keyed_gather_keeps_keys_and_names_the_failing_key() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let jobs: HashMap<&str, Child> =
            [("a", child(&clock, 30, Ok(1), &drops)), ("b", child(&clock, 10, Ok(2), &drops))]
                .into_iter()
                .collect();
        let (values, ()) = future::join(gather_keyed(jobs), clock.run_for(ms(50))).await;
        assert_eq!(values, Ok(HashMap::from([("a", 1), ("b", 2)])));

        let pairs = vec![
            ("slow", child(&clock, 300, Ok(1), &drops)),
            ("broken", child(&clock, 100, Err("no disk".to_owned()), &drops)),
        ];
        let (outcome, ()) = future::join(gather_keyed(pairs), clock.run_for(ms(400))).await;
        assert_eq!(outcome, Err(KeyedError::new("broken", "no disk".to_owned())));
        assert_eq!(drops.count(), 4);
    }
);

runtime_test!(
    async fn empty_inputs_return_empty_results_at_once() {
        let none = Vec::<Child>::new;
        assert_eq!(poll_once(&mut gather(none())), Poll::Ready(Ok(vec![])));
        assert_eq!(poll_once(&mut gather_settled(none())), Poll::Ready(vec![]));
        assert_eq!(
            poll_once(&mut gather_partial(none(), |_: &String| true)),
            Poll::Ready(Ok(vec![]))
        );
        let keyed = poll_once(&mut gather_keyed(Vec::<(u8, Child)>::new()));
        assert_eq!(keyed, Poll::Ready(Ok(HashMap::new())));
        assert_eq!(as_completed(none()).next().await, None);
        assert_eq!(poll_once(&mut race(none())), Poll::Ready(Err(RaceError::Empty)));
        assert_eq!(poll_once(&mut race_ok(none())), Poll::Ready(Err(RaceOkError::Empty)));
    }
);

runtime_test!(
    async fn settled_gather_keeps_every_outcome_in_order_and_cancels_nothing() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 300, Ok(3), &drops),
            child(&clock, 200, Err("failed".to_owned()), &drops),
            child(&clock, 100, Ok(1), &drops),
        ];
        let (outputs, ()) = future::join(gather_settled(children), clock.run_for(ms(300))).await;
        assert_eq!(outputs, [Ok(3), Err("failed".to_owned()), Ok(1)]);
        assert_eq!(clock.elapsed(), ms(300), "everything ran to completion");
        let many = (0..100u64).map(|i| child(&clock, 100 - i, Ok(i), &drops));
        let (outputs, ()) = future::join(gather_settled(many), clock.run_for(ms(100))).await;
        assert_eq!(outputs, (0..100).map(Ok).collect::<Vec<_>>());
    }
);

runtime_test!(
    async fn race_returns_the_first_result_and_cancels_the_others() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 100, Ok(1), &drops),
            child(&clock, 200, Ok(2), &drops),
            child(&clock, 300, Ok(3), &drops),
        ];
        let start = clock.now();
        let run = async {
            let winner = race(children).await;
            (winner, clock.now() - start, drops.count(), clock.pending_sleepers())
        };
        let ((winner, at, dropped, sleeping), ()) = future::join(run, clock.run_for(ms(400))).await;
        assert_eq!(winner, Ok(1));
        assert_eq!(at, ms(100), "the winner returns at its instant");
        assert_eq!((dropped, sleeping), (3, 0), "the two losers were cancelled, not left running");
    }
);

runtime_test!(
    async fn race_returns_the_first_failure_by_default() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 200, Ok(1), &drops),
            child(&clock, 100, Err("first".to_owned()), &drops),
        ];
        let (winner, ()) = future::join(race(children), clock.run_for(ms(300))).await;
        assert_eq!(winner, Err(RaceError::Failed("first".to_owned())));
    }
);

runtime_test!(
    async fn race_ok_collects_errors_until_a_success() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 100, Err("a".to_owned()), &drops),
            child(&clock, 200, Err("b".to_owned()), &drops),
            child(&clock, 300, Ok(4), &drops),
            child(&clock, 400, Ok(5), &drops),
        ];
        let (winner, ()) = future::join(race_ok(children), clock.run_for(ms(500))).await;
        assert_eq!(winner, Ok((4, vec!["a".to_owned(), "b".to_owned()])));
        assert_eq!(drops.count(), 4);

        let failing = (0..3u64)
            .map(|i| child(&clock, 10 * (3 - i), Err(format!("e{i}")), &drops))
            .collect::<Vec<_>>();
        let (outcome, ()) = future::join(race_ok(failing), clock.run_for(ms(40))).await;
        let expected = ["e2", "e1", "e0"].map(str::to_owned).to_vec();
        assert_eq!(
            outcome,
            Err(RaceOkError::AllFailed(expected)),
            "all errors, in completion order"
        );
    }
);

runtime_test!(
    async fn partial_gather_keeps_listed_errors_as_values_while_the_others_complete() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 100, Ok(1), &drops),
            child(&clock, 50, Err("expected".to_owned()), &drops),
            child(&clock, 200, Ok(3), &drops),
        ];
        let listed = |error: &String| error == "expected";
        let (outcome, ()) =
            future::join(gather_partial(children, listed), clock.run_for(ms(200))).await;
        assert_eq!(outcome, Ok(vec![Ok(1), Err("expected".to_owned()), Ok(3)]));
    }
);

runtime_test!(
    async fn partial_gather_cancels_the_rest_on_an_unlisted_error() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = vec![
            child(&clock, 50, Err("expected".to_owned()), &drops),
            child(&clock, 100, Err("fatal".to_owned()), &drops),
            child(&clock, 200, Ok(3), &drops),
        ];
        let listed = |error: &String| error == "expected";
        let run = async { (gather_partial(children, listed).await, clock.now(), drops.count()) };
        let start = clock.now();
        let ((outcome, at, dropped), ()) = future::join(run, clock.run_for(ms(300))).await;
        assert_eq!(outcome, Err("fatal".to_owned()));
        assert_eq!((at - start, dropped), (ms(100), 3));
    }
);

runtime_test!(
    async fn as_completed_yields_in_completion_order_and_dropping_it_cancels_the_rest() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = [300, 100, 200].map(|at| child(&clock, at, Ok(at), &drops));
        let run = async {
            let mut stream = as_completed(children);
            let first = stream.next().await;
            let second = stream.next().await;
            drop(stream);
            (first, second, drops.count())
        };
        let ((first, second, dropped), ()) = future::join(run, clock.run_for(ms(400))).await;
        assert_eq!(first, Some((1, Ok(100))));
        assert_eq!(second, Some((2, Ok(200))));
        assert_eq!(dropped, 3, "dropping the stream cancelled the last child");
    }
);

runtime_test!(
    async fn a_limit_caps_running_children_and_keeps_the_same_semantics() {
        let clock = VirtualClock::new();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let children = (0..10u64).map(|i| {
            let (clock, running, peak) = (clock.clone(), running.clone(), peak.clone());
            async move {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                clock.sleep(ms(10 * (i % 3 + 1))).await;
                running.fetch_sub(1, SeqCst);
                if i == 7 { Err(i) } else { Ok(i) }
            }
        });
        let limit = Limit::new(3).unwrap();
        let (outcome, ()) = future::join(limit.gather(children), clock.run_for(ms(200))).await;
        assert_eq!(outcome, Err(7));
        assert_eq!(peak.load(SeqCst), 3, "never more than 3 at once");

        let drops = Drops::default();
        let children = (0..10u64).map(|i| child(&clock, 10, Ok(i), &drops));
        let (values, ()) = future::join(limit.gather(children), clock.run_for(ms(40))).await;
        assert_eq!(values, Ok((0..10).collect::<Vec<_>>()));
        assert_eq!(clock.elapsed(), ms(240), "ten 10 ms children, three at a time, take 40 ms");
        assert!(Limit::new(0).is_err());
    }
);

runtime_test!(
    async fn the_macro_gathers_different_types_and_drops_the_others_on_error() {
        let (n, name) = asynchronously::gather::gather!(async { Ok::<_, ()>(1) }, async {
            yield_now().await;
            Ok("one")
        })
        .await
        .unwrap();
        assert_eq!((n, name), (1, "one"));

        let drops = Drops::default();
        let guard = drops.guard();
        let outcome = asynchronously::gather::gather!(
            async move {
                let _guard = guard;
                future::pending::<Result<u8, &str>>().await
            },
            async { Err::<u8, _>("down") },
        )
        .await;
        assert_eq!(outcome, Err("down"));
        assert_eq!(drops.count(), 1, "the pending sibling was dropped");
    }
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn gather_matches_a_sequential_model(delays in proptest::collection::vec(0..5u64, 0..80), fail in proptest::option::of(0..80usize)) {
        futures::executor::block_on(async {
            let clock = VirtualClock::new();
            let drops = Drops::default();
            let n = delays.len();
            let children = delays.iter().enumerate().map(|(i, &d)| {
                let outcome = if Some(i) == fail { Err(format!("{i}")) } else { Ok(i as u64) };
                child(&clock, d * 10, outcome, &drops)
            });
            let (outcome, ()) = future::join(gather(children), clock.run_for(ms(60))).await;
            match fail.filter(|&i| i < n) {
                Some(i) => assert_eq!(outcome, Err(format!("{i}"))),
                None => assert_eq!(outcome, Ok((0..n as u64).collect::<Vec<_>>())),
            }
            assert_eq!(drops.count(), n);
        });
    }
}

#[test]
fn pinned_gathers_can_be_polled_in_place() {
    let mut gathered = pin!(gather([future::ready(Ok::<_, ()>(1))]));
    let ready = gathered.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert_eq!(ready, Poll::Ready(Ok(vec![1])));
}

/// A group child that sleeps `delay`, then returns `outcome`, counting its drop.
fn group_child(
    clock: &VirtualClock,
    delay: u64,
    outcome: Result<u64, String>,
    drops: &Drops,
) -> impl Future<Output = Result<u64, String>> + Send + 'static {
    child(clock, delay, outcome, drops)
}

runtime_test!(
    async fn a_group_cancels_the_others_when_a_child_fails() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let drops = Drops::default();
        let group = TaskGroup::new().with_clock(clock.clone());
        let spawner = group.spawner();
        let at_300 = spawner.spawn(group_child(&clock, 300, Ok(99), &drops));
        let at_500 = spawner.spawn(group_child(&clock, 500, Err("broken".to_owned()), &drops));
        let at_700 = spawner.spawn(group_child(&clock, 700, Ok(7), &drops));
        let body_clock = clock.clone();
        let run = async {
            let outcome = group.run(async move { body_clock.sleep(ms(10_000)).await }).await;
            (outcome, clock.now() - start, drops.count())
        };
        let ((outcome, at, dropped), ()) = future::join(run, clock.run_for(ms(1000))).await;
        assert_eq!(outcome, Err(GroupError::Failed { error: "broken".to_owned(), cancelled: 1 }));
        assert_eq!((at, dropped), (ms(500), 3), "the error cancels the rest at 500 ms");
        assert_eq!(at_300.await, Ok(99), "the child done at 300 ms keeps its value");
        assert_eq!(at_500.await, Err(TaskError::Escalated));
        assert_eq!(at_700.await, Err(TaskError::Cancelled));
        assert_eq!(spawner.active(), 0);
    }
);

runtime_test!(
    async fn a_scope_keeps_going_on_a_partial_failure_and_cancels_nothing() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let group = TaskGroup::new().error_mode(ErrorMode::KeepGoing);
        let spawner = group.spawner();
        let handles: Vec<_> = [(100, 4), (200, 5), (300, 1), (50, 3)]
            .into_iter()
            .map(|(at, value)| spawner.spawn(group_child(&clock, at, Ok(value), &drops)))
            .collect();
        drop(spawner.spawn(group_child(&clock, 150, Err("oops".to_owned()), &drops)));
        let (outcome, ()) = future::join(group.run(async {}), clock.run_for(ms(400))).await;
        let outcome = outcome.unwrap();
        assert_eq!(outcome.unhandled, ["oops".to_owned()], "one error reported");
        assert_eq!(outcome.cancelled, 0);
        let values = gather(handles).await.unwrap();
        assert_eq!(values, [4, 5, 1, 3]);
        assert_eq!(clock.elapsed(), ms(400));
        assert_eq!(drops.count(), 5);
    }
);

runtime_test!(
    async fn a_scope_timeout_cancels_the_unfinished_children_and_keeps_the_results() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let group = TaskGroup::new()
            .error_mode(ErrorMode::KeepGoing)
            .with_clock(clock.clone())
            .timeout(ms(250));
        let spawner = group.spawner();
        let handles: Vec<_> = [(100, 4), (200, 1), (240, 2), (400, 9)]
            .into_iter()
            .map(|(at, value)| spawner.spawn(group_child(&clock, at, Ok(value), &drops)))
            .collect();
        let start = clock.now();
        let run = async { (group.run(async {}).await, clock.now() - start) };
        let ((outcome, at), ()) = future::join(run, clock.run_for(ms(500))).await;
        assert_eq!(outcome, Err(GroupError::TimedOut { cancelled: 1, unhandled: vec![] }));
        assert_eq!(at, ms(250));
        let results = gather_settled(handles).await;
        assert_eq!(results, [Ok(4), Ok(1), Ok(2), Err(TaskError::Cancelled)]);
    }
);

runtime_test!(
    async fn exit_mode_cancel_drops_a_long_background_child_when_the_body_ends() {
        let clock = VirtualClock::new();
        let ticks = Arc::new(AtomicUsize::new(0));
        let group = TaskGroup::<String>::new().exit_mode(ExitMode::Cancel);
        let spawner = group.spawner();
        let (background_clock, counter) = (clock.clone(), ticks.clone());
        let background = spawner.spawn(async move {
            loop {
                background_clock.sleep(ms(100)).await;
                counter.fetch_add(1, SeqCst);
            }
            #[expect(unreachable_code, reason = "the loop only ends by cancellation")]
            Ok::<(), String>(())
        });
        let body_clock = clock.clone();
        let body = async move {
            body_clock.sleep(ms(350)).await;
            "done"
        };
        let (outcome, ()) = future::join(group.run(body), clock.run_for(ms(1000))).await;
        let outcome = outcome.unwrap();
        assert_eq!((outcome.value, outcome.cancelled), ("done", 1));
        assert_eq!(ticks.load(SeqCst), 3, "the background loop ran until the body ended");
        assert_eq!(background.await, Err(TaskError::Cancelled));
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

runtime_test!(
    async fn unconsumed_failures_are_reported_at_exit_and_consumed_ones_are_not() {
        let group = TaskGroup::new().error_mode(ErrorMode::KeepGoing);
        let spawner = group.spawner();
        let consumed = spawner.spawn(async { Err::<u8, _>("read by its handle") });
        let mut unread = spawner.spawn(async { Err::<u8, _>("never read") });
        drop(spawner.spawn(async { Err::<u8, _>("detached") }));
        let body = async move {
            yield_now().await;
            consumed.await
        };
        let outcome = group.run(body).await.unwrap();
        assert_eq!(outcome.value, Err(TaskError::Failed("read by its handle")));
        // A detached failure is reported when it happens, an unread one at exit.
        assert_eq!(outcome.unhandled, ["detached", "never read"]);
        assert_eq!(unread.try_take(), Some(Err(TaskError::Escalated)));
    }
);

runtime_test!(
    async fn an_error_handler_receives_the_failures_nobody_consumed() {
        let seen = std::sync::Mutex::new(Vec::new());
        let group = TaskGroup::new().on_error(|error| seen.lock().unwrap().push(error));
        let spawner = group.spawner();
        drop(spawner.spawn(async { Err::<(), _>(1) }));
        let ok = spawner.spawn(async { Ok(2) });
        let outcome = group.run(async {}).await.unwrap();
        assert!(outcome.unhandled.is_empty());
        assert_eq!(*seen.lock().unwrap(), [1]);
        assert_eq!(ok.await, Ok(2));
    }
);

runtime_test!(
    async fn a_long_lived_group_holds_none_of_its_1000_finished_children() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let body = {
            let (clock, drops, spawner) = (clock.clone(), drops.clone(), spawner.clone());
            async move {
                for i in 0..1000u64 {
                    drop(spawner.spawn(group_child(&clock, i % 50, Ok(i), &drops)));
                    if i % 100 == 0 {
                        clock.sleep(ms(1)).await;
                    }
                }
                clock.sleep(ms(100)).await;
                (spawner.active(), drops.count())
            }
        };
        let (outcome, ()) = future::join(group.run(body), clock.run_for(ms(200))).await;
        assert_eq!(outcome.unwrap().value, (0, 1000), "finished children are released at once");
    }
);

runtime_test!(
    async fn children_and_other_tasks_can_add_children_while_the_group_runs(rt) {
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let nested = spawner.clone();
        let parent = spawner.spawn(async move {
            let grandchild = nested.spawn(async { Ok(2) });
            Ok(grandchild.await.map_err(|e| e.to_string())? + 1)
        });
        let remote = spawner.clone();
        let from_task = rt.spawn(async move { remote.spawn(async { Ok(10) }).await });
        let body = async move { (parent.await, from_task.await) };
        let outcome = group.run(body).await.unwrap();
        assert_eq!(outcome.value, (Ok(3), Ok(10)));
        let late = spawner.spawn(async { Ok(1) });
        assert_eq!(late.await, Err(TaskError::Cancelled), "a group that ended takes no children");
    }
);

runtime_test!(
    async fn dropping_a_running_group_at_any_poll_cancels_body_and_children() {
        for polls in 0..4 {
            let clock = VirtualClock::new();
            let drops = Drops::default();
            let group = TaskGroup::new().with_clock(clock.clone()).timeout(ms(1000));
            let spawner = group.spawner();
            let handles: Vec<_> =
                (0..5).map(|i| spawner.spawn(group_child(&clock, i * 10, Ok(i), &drops))).collect();
            let body_guard = drops.guard();
            let body_clock = clock.clone();
            let mut running = Box::pin(group.run(async move {
                let _guard = body_guard;
                body_clock.sleep(ms(25)).await;
            }));
            for _ in 0..polls {
                assert!(poll_once(&mut running).is_pending());
                clock.advance(ms(10));
            }
            drop(running);
            assert_eq!(
                drops.count(),
                6,
                "after {polls} polls the body and all children are dropped"
            );
            assert_eq!(clock.pending_sleepers(), 0);
            let settled = gather_settled(handles).await;
            assert!(settled.iter().all(|r| matches!(r, Ok(_) | Err(TaskError::Cancelled))));
            assert_eq!(spawner.active(), 0);
            let late = spawner.spawn(group_child(&clock, 0, Ok(9), &drops));
            assert_eq!(late.await, Err(TaskError::Cancelled), "the spawners are closed");
        }
    }
);

#[test]
fn run_returns_results_in_argument_order() {
    let futures = (0..5u64).map(|i| async move {
        for _ in 0..(5 - i) {
            yield_now().await;
        }
        Ok::<_, String>(i)
    });
    assert_eq!(run(futures), Ok(vec![0, 1, 2, 3, 4]));
    assert_eq!(run_settled([1, 2].map(|n| async move { n })), Ok(vec![1, 2]));
}

#[test]
fn run_cancels_the_rest_on_an_unlisted_error_and_keeps_listed_errors_as_values() {
    let drops = Drops::default();
    let make = |fail: &'static str| {
        let guards = [drops.guard(), drops.guard()];
        let [first, second] = guards;
        vec![
            Box::pin(async move {
                let _guard = first;
                yield_now().await;
                Ok::<u8, &str>(1)
            }) as BoxFuture<'static, Result<u8, &str>>,
            Box::pin(async move {
                let _guard = second;
                Err(fail)
            }),
        ]
    };
    let pending = drops.guard();
    let mut futures = make("fatal");
    futures.push(Box::pin(async move {
        let _guard = pending;
        future::pending().await
    }));
    assert_eq!(run_partial(futures, |e: &&str| *e == "listed"), Err(RunError::Failed("fatal")));
    assert_eq!(drops.count(), 3, "the unlisted error cancelled the others");
    assert_eq!(
        run_partial(make("listed"), |e: &&str| *e == "listed"),
        Ok(vec![Ok(1), Err("listed")])
    );
}

#[test]
fn block_on_inside_block_on_is_a_typed_error_not_a_deadlock() {
    let nested = block_on(async { block_on(async { 1 }) });
    assert_eq!(nested, Ok(Err(BlockOnError::Reentrant)));
    let nested_run = block_on(async { run([future::ready(Ok::<u8, ()>(1))]) });
    assert_eq!(nested_run, Ok(Err(RunError::Bridge(BlockOnError::Reentrant))));
    let inside_futures_executor =
        futures::executor::block_on(async { SyncScope::<()>::new().finish().map(|_| ()) });
    assert_eq!(inside_futures_executor, Err(SyncScopeError::Bridge(BlockOnError::Reentrant)));
    assert_eq!(block_on(async { 2 }), Ok(2), "the bridge is usable again afterwards");
}

#[test]
fn a_sync_scope_runs_its_children_and_their_results_are_read_after_it_ends() {
    let words = ["alpha".to_owned(), "beta".to_owned()];
    let scope = SyncScope::<String>::new();
    let mut handles: Vec<_> = words
        .iter()
        .map(|word| {
            scope.spawn(async move {
                yield_now().await;
                Ok(word.len())
            })
        })
        .collect();
    assert!(handles.iter().all(|handle| !handle.is_finished()));
    let outcome = scope.finish().unwrap();
    assert!(outcome.unhandled.is_empty());
    let lengths: Vec<_> = handles.iter_mut().map(|handle| handle.try_take()).collect();
    assert_eq!(lengths, [Some(Ok(5)), Some(Ok(4))]);

    let failing = SyncScope::new();
    let mut ok = failing.spawn(async { Ok(1) });
    let mut broken = failing.spawn(async {
        yield_now().await;
        Err::<u8, _>("broken")
    });
    assert_eq!(
        failing.finish().map(|_| ()),
        Err(SyncScopeError::Group(GroupError::Failed { error: "broken", cancelled: 0 }))
    );
    assert_eq!((ok.try_take(), broken.try_take()), (Some(Ok(1)), Some(Err(TaskError::Escalated))));
}

runtime_test!(
    async fn a_panicking_child_is_contained_when_the_group_keeps_going() {
        let group = TaskGroup::<String>::new().error_mode(ErrorMode::KeepGoing);
        let spawner = group.spawner();
        let panicking = spawner.spawn(async {
            yield_now().await;
            if true {
                panic!("boom");
            }
            Ok(0)
        });
        let sibling = spawner.spawn(async {
            yield_now().await;
            yield_now().await;
            Ok(1)
        });
        let outcome = group.run(async {}).await.unwrap();
        assert_eq!(outcome.panicked, ["boom".to_owned()]);
        assert_eq!(panicking.await, Err(TaskError::Panicked("boom".to_owned())));
        assert_eq!(sibling.await, Ok(1), "the sibling ran to completion");
    }
);

runtime_test!(
    async fn a_panicking_child_drops_its_siblings_before_the_panic_resumes() {
        let drops = Drops::default();
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let guard = drops.guard();
        let sibling = spawner.spawn(async move {
            let _guard = guard;
            future::pending::<Result<(), String>>().await
        });
        drop(spawner.spawn(async {
            yield_now().await;
            if true {
                panic!("boom");
            }
            Ok(())
        }));
        let outcome = AssertUnwindSafe(group.run(async {})).catch_unwind().await;
        let payload = outcome.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(drops.count(), 1, "the sibling was dropped");
        assert_eq!(sibling.await, Err(TaskError::Cancelled));
    }
);

runtime_test!(
    async fn a_panicking_predicate_reaches_the_caller_and_the_children_are_dropped() {
        let drops = Drops::default();
        let clock = VirtualClock::new();
        let children = vec![
            child(&clock, 0, Err("odd".to_owned()), &drops),
            child(&clock, 100, Ok(1), &drops),
        ];
        let mut partial =
            gather_partial(children, |_: &String| -> bool { panic!("predicate bug") });
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(&mut partial))).unwrap_err();
        assert_eq!(outcome.downcast_ref::<&str>(), Some(&"predicate bug"));
        drop(partial);
        assert_eq!(drops.count(), 2);
        assert_eq!(clock.pending_sleepers(), 0);
    }
);

/// A child that counts its polls and finishes after `delay`.
fn counted_child(clock: &VirtualClock, delay: u64, polls: &Arc<AtomicUsize>) -> Child {
    let (clock, polls) = (clock.clone(), polls.clone());
    let mut sleep = clock.sleep(ms(delay));
    Box::pin(future::poll_fn(move |cx| {
        polls.fetch_add(1, SeqCst);
        Pin::new(&mut sleep).poll(cx).map(|()| Ok(delay))
    }))
}

runtime_test!(
    async fn children_finishing_one_by_one_are_not_polled_quadratically() {
        const N: u64 = 1000;
        let clock = VirtualClock::new();
        let polls = Arc::new(AtomicUsize::new(0));
        let children = (1..=N).map(|i| counted_child(&clock, i, &polls));
        let (values, ()) = future::join(gather(children), clock.run_for(ms(N))).await;
        assert_eq!(values.map(|v| v.len()), Ok(N as usize));
        // Polling every child on each wake-up would take about N²/2 = 500,000 polls; a wake-up
        // costs the woken child here: its first poll, then the one its timer's wake-up asks for.
        let total = polls.load(SeqCst);
        assert!(total <= 2 * N as usize, "{total} polls for {N} children");

        polls.store(0, SeqCst);
        let children = (1..=N).map(|i| counted_child(&clock, i, &polls));
        let limit = Limit::new(N as usize).unwrap();
        let (values, ()) = future::join(limit.gather(children), clock.run_for(ms(N))).await;
        assert_eq!(values.map(|v| v.len()), Ok(N as usize));
        let total = polls.load(SeqCst);
        assert!(total <= 2 * N as usize, "{total} polls for {N} children, one waker each");
    }
);

runtime_test!(
    async fn dropping_any_join_race_or_stream_at_any_poll_drops_every_child() {
        for polls in 0..4 {
            let clock = VirtualClock::new();
            let drops = Drops::default();
            // Made up front: an iterator's futures would be made only when pulled.
            let children =
                || (0..8u64).map(|i| child(&clock, 10 + i * 10, Ok(i), &drops)).collect::<Vec<_>>();
            let limit = Limit::new(3).unwrap();
            let mut joins: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = vec![
                Box::pin(gather_keyed(children().into_iter().enumerate()).map(drop)),
                Box::pin(gather_settled(children()).map(drop)),
                Box::pin(gather_partial(children(), |_: &String| true).map(drop)),
                Box::pin(race(children()).map(drop)),
                Box::pin(race_ok(children()).map(drop)),
                Box::pin(as_completed(children()).for_each(|_| async {})),
                Box::pin(limit.gather(children()).map(drop)),
                Box::pin(limit.gather_keyed(children().into_iter().enumerate()).map(drop)),
                Box::pin(limit.gather_settled(children()).map(drop)),
                Box::pin(limit.gather_partial(children(), |_: &String| true).map(drop)),
                Box::pin(limit.as_completed(children()).for_each(|_| async {})),
                Box::pin({
                    let mut eight = children().into_iter();
                    let mut next = || eight.next().expect("eight children");
                    let (a, b, c, d, e, f, g, h) =
                        (next(), next(), next(), next(), next(), next(), next(), next());
                    asynchronously::gather::gather!(a, b, c, d, e, f, g, h).map(drop)
                }),
            ];
            for _ in 0..polls {
                for join in &mut joins {
                    assert!(poll_once(join).is_pending());
                }
                // The first child finishes at 10 ms: stay before it, so nothing completes.
                clock.advance(ms(3));
            }
            drop(joins);
            assert_eq!(drops.count(), 12 * 8, "after {polls} polls every child is dropped");
            assert_eq!(clock.pending_sleepers(), 0);
        }
    }
);

runtime_test!(
    async fn a_task_handle_keeps_its_result_when_an_await_on_it_is_dropped() {
        let group = TaskGroup::<String>::new().timeout(Duration::MAX);
        let mut handle = group.spawner().spawn(async {
            yield_now().await;
            Ok(5)
        });
        assert!(poll_once(&mut &mut handle).is_pending(), "the child has not run yet");
        let outcome = group.run(async {}).await.unwrap();
        assert_eq!(outcome.cancelled, 0, "a timeout of Duration::MAX never fires");
        assert!(handle.is_finished());
        assert_eq!(handle.await, Ok(5));
    }
);

runtime_test!(
    async fn a_group_that_is_dropped_unrun_cancels_its_queued_children() {
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let handle = spawner.spawn(async { Ok(1) });
        drop(group);
        assert_eq!(handle.await, Err(TaskError::Cancelled));
        assert_eq!(spawner.active(), 0);
    }
);

runtime_test!(
    async fn keyed_gather_with_a_repeated_key_keeps_the_last_value_like_from_iter() {
        let pairs = [("a", 1), ("b", 2), ("a", 3)].map(|(k, v)| (k, future::ready(Ok::<_, ()>(v))));
        assert_eq!(gather_keyed(pairs).await, Ok(HashMap::from([("a", 3), ("b", 2)])));
    }
);

/// A key whose `Hash` panics, to check the panic reaches the caller only.
#[derive(PartialEq, Eq)]
struct PanickyKey;

impl std::hash::Hash for PanickyKey {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {
        panic!("hash bug");
    }
}

runtime_test!(
    async fn a_key_whose_hash_panics_fails_only_the_caller() {
        let drops = Drops::default();
        let guard = drops.guard();
        let keyed = gather_keyed([(PanickyKey, async move {
            let _guard = guard;
            Ok::<_, ()>(1)
        })]);
        let outcome = AssertUnwindSafe(keyed).catch_unwind().await;
        assert!(outcome.is_err(), "the panic reached the caller");
        assert_eq!(drops.count(), 1, "the child was released");
    }
);

runtime_test!(
    async fn a_group_does_not_repoll_its_long_lived_children_for_each_newcomer() {
        const LONG_LIVED: usize = 200;
        const NEWCOMERS: u64 = 200;
        let polls = Arc::new(AtomicUsize::new(0));
        let group = TaskGroup::<String>::new().exit_mode(ExitMode::Cancel);
        let spawner = group.spawner();
        for _ in 0..LONG_LIVED {
            let polls = polls.clone();
            drop(spawner.spawn(future::poll_fn(move |_| {
                polls.fetch_add(1, SeqCst);
                Poll::<Result<(), String>>::Pending
            })));
        }
        let body = async move {
            for i in 0..NEWCOMERS {
                // Each newcomer wakes itself once, before it has a waker of its own.
                let newcomer = spawner.spawn(async move {
                    yield_now().await;
                    Ok(i)
                });
                assert_eq!(newcomer.await, Ok(i));
            }
        };
        let outcome = group.run(body).await.unwrap();
        assert_eq!(outcome.cancelled, LONG_LIVED);
        // Re-polling every child on each newcomer's wake-up would take 200 × 200 polls; a
        // child that is never woken is polled once.
        let total = polls.load(SeqCst);
        assert_eq!(total, LONG_LIVED, "{total} polls of {LONG_LIVED} children that never woke");
    }
);

runtime_test!(
    async fn a_timeout_hands_unread_failures_to_the_error_handler() {
        let clock = VirtualClock::new();
        let seen = std::sync::Mutex::new(Vec::new());
        let group = TaskGroup::new()
            .on_error(|error| seen.lock().unwrap().push(error))
            .with_clock(clock.clone())
            .timeout(ms(100));
        let spawner = group.spawner();
        let drops = Drops::default();
        let mut unread = spawner.spawn(group_child(&clock, 10, Err("unread".to_owned()), &drops));
        let body_clock = clock.clone();
        let run = group.run(async move { body_clock.sleep(ms(1000)).await });
        let (outcome, ()) = future::join(run, clock.run_for(ms(200))).await;
        assert_eq!(outcome, Err(GroupError::TimedOut { cancelled: 0, unhandled: vec![] }));
        assert_eq!(*seen.lock().unwrap(), ["unread".to_owned()], "the handler got it at exit");
        assert_eq!(unread.try_take(), Some(Err(TaskError::Escalated)));
    }
);

runtime_test!(
    async fn dropping_a_pending_next_on_as_completed_loses_no_output() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = [20, 10].map(|at| child(&clock, at, Ok(at), &drops));
        let mut stream = as_completed(children);
        for step in 0..3 {
            let mut next = stream.next();
            assert!(poll_once(&mut next).is_pending(), "nothing is due at step {step}");
            drop(next);
            clock.advance(ms(3));
        }
        // The dropped `next()`s took nothing: each output still comes, at its instant.
        clock.advance(ms(1));
        assert_eq!(stream.next().await, Some((1, Ok(10))));
        clock.advance(ms(10));
        assert_eq!(stream.next().await, Some((0, Ok(20))));
        assert_eq!(stream.next().await, None);
        assert_eq!(drops.count(), 2);
    }
);

runtime_test!(
    async fn a_panicking_error_handler_reaches_the_caller_and_cancels_the_other_children() {
        let drops = Drops::default();
        let group = TaskGroup::<String>::new().on_error(|error| panic!("handler bug: {error}"));
        let spawner = group.spawner();
        let guard = drops.guard();
        let sibling = spawner.spawn(async move {
            let _guard = guard;
            future::pending::<Result<(), String>>().await
        });
        drop(spawner.spawn(async { Err::<(), _>("down".to_owned()) }));
        let outcome = AssertUnwindSafe(group.run(async {})).catch_unwind().await;
        let payload = outcome.expect_err("the handler's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("handler bug: down"));
        assert_eq!(drops.count(), 1, "the sibling was dropped with the group");
        assert_eq!(sibling.await, Err(TaskError::Cancelled));
        assert_eq!(spawner.active(), 0);
        let late = spawner.spawn(async { Ok(()) });
        assert_eq!(late.await, Err(TaskError::Cancelled), "the dropped group takes no children");
    }
);

/// Polls `future` once with `waker`.
fn poll_with<F: Future + Unpin>(future: &mut F, waker: &Arc<CountingWaker>) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(&Waker::from(waker.clone())))
}

runtime_test!(
    async fn a_wake_up_reaches_the_waker_of_the_latest_poll_only() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let children = || (0..40u64).map(|i| child(&clock, 10 + i, Ok(i), &drops));
        let limit = Limit::new(5).unwrap();
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let mut handle = spawner.spawn(group_child(&clock, 10, Ok(1), &drops));
        let mut futures: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = vec![
            Box::pin(gather(children()).map(drop)),
            Box::pin(limit.gather(children()).map(drop)),
            Box::pin(race(children()).map(drop)),
            Box::pin(as_completed(children()).for_each(|_| async {})),
            Box::pin(group.run(future::pending::<()>()).map(drop)),
        ];
        for future in &mut futures {
            // Every child stores the first waker; later polls find the same per-child waker.
            for _ in 0..3 {
                let old = Arc::new(CountingWaker::default());
                assert!(poll_with(future, &old).is_pending());
            }
            let old = Arc::new(CountingWaker::default());
            assert!(poll_with(future, &old).is_pending());
            let new = Arc::new(CountingWaker::default());
            assert!(poll_with(future, &new).is_pending());
            clock.advance(ms(10));
            assert_eq!(old.0.load(SeqCst), 0, "the waker of an earlier poll is not woken");
            assert!(new.0.load(SeqCst) >= 1, "the latest poll's waker is woken");
            clock.advance(ms(100));
        }
        let (old, new) = (Arc::new(CountingWaker::default()), Arc::new(CountingWaker::default()));
        assert!(poll_with(&mut &mut handle, &old).is_pending());
        assert!(poll_with(&mut &mut handle, &new).is_pending());
        drop(futures);
        assert_eq!((old.0.load(SeqCst), new.0.load(SeqCst)), (0, 1), "the handle wakes the latest");
        assert_eq!(handle.await, Err(TaskError::Cancelled));
    }
);

runtime_test!(
    async fn as_completed_stays_usable_after_a_child_panics_and_drops_that_child_first() {
        let drops = Drops::default();
        let guard = drops.guard();
        let children: Vec<BoxFuture<'static, u64>> = vec![
            Box::pin(async move {
                let _guard = guard;
                if true {
                    panic!("boom");
                }
                0
            }),
            Box::pin(async {
                yield_now().await;
                1
            }),
            Box::pin(async { 2 }),
        ];
        let mut stream = as_completed(children);
        let panicked = AssertUnwindSafe(stream.next()).catch_unwind().await;
        assert_eq!(
            panicked.expect_err("the panic reaches the caller").downcast_ref(),
            Some(&"boom")
        );
        assert_eq!(drops.count(), 1, "the panicking child was dropped before the panic resumed");
        assert_eq!(Stream::size_hint(&stream), (2, Some(2)));
        let mut rest = Vec::new();
        for _ in 0..4 {
            match poll_once(&mut stream.next()) {
                Poll::Ready(Some(output)) => rest.push(output),
                Poll::Ready(None) => break,
                Poll::Pending => {}
            }
        }
        assert_eq!(rest, [(2, 2), (1, 1)]);
        assert_eq!(poll_once(&mut stream.next()), Poll::Ready(None), "the stream ends");
    }
);

runtime_test!(
    async fn a_join_polled_again_after_a_child_panicked_panics_rather_than_lose_a_value() {
        let children = || {
            (0..40u64).map(|i| {
                Box::pin(async move {
                    if i == 3 {
                        panic!("boom");
                    }
                    Ok::<u64, String>(i)
                }) as Child
            })
        };
        let limit = Limit::new(4).unwrap();
        type Join = Pin<Box<dyn Future<Output = usize> + Send>>;
        let mut joins: Vec<(&str, Join)> = vec![
            ("gather", Box::pin(gather(children()).map(|v| v.unwrap().len()))),
            ("limited gather", Box::pin(limit.gather(children()).map(|v| v.unwrap().len()))),
            ("settled", Box::pin(gather_settled(children()).map(|v| v.len()))),
            ("limited settled", Box::pin(limit.gather_settled(children()).map(|v| v.len()))),
            ("partial", Box::pin(gather_partial(children(), |_| true).map(|v| v.unwrap().len()))),
        ];
        for (name, join) in &mut joins {
            let first = std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(join)));
            assert!(first.is_err(), "{name}: the child's panic reaches the caller");
            let again = std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(join)));
            assert!(again.is_err(), "{name}: polled again, it panicked, not {again:?}");
        }
    }
);

runtime_test!(
    async fn a_race_goes_on_with_the_others_after_a_child_panics() {
        let children: Vec<Child> = vec![
            Box::pin(async {
                if true {
                    panic!("boom");
                }
                Ok(0)
            }),
            Box::pin(async {
                yield_now().await;
                Ok(1)
            }),
        ];
        let mut racing = race(children);
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(&mut racing)));
        assert!(panicked.is_err(), "the panic reaches the caller");
        assert_eq!(racing.await, Ok(1), "the other child still races");
    }
);

runtime_test!(
    async fn children_woken_from_other_threads_all_finish(rt) {
        const N: u64 = 300;
        for limit in [None, Some(Limit::new(64).unwrap())] {
            let (senders, receivers): (Vec<_>, Vec<_>) =
                (0..N).map(|_| futures::channel::oneshot::channel::<u64>()).unzip();
            // Each child waits through a few wake-ups, so most get wakers of their own.
            let children = receivers.into_iter().map(|receiver| async move {
                yield_now().await;
                receiver.await.map_err(|_| "sender dropped")
            });
            let sending = rt.spawn(async move {
                for (i, sender) in senders.into_iter().enumerate().rev() {
                    if i % 16 == 0 {
                        yield_now().await;
                    }
                    sender.send(i as u64).unwrap();
                }
            });
            let gathered: Pin<Box<dyn Future<Output = _> + Send>> = match limit {
                None => Box::pin(gather(children)),
                Some(limit) => Box::pin(limit.gather(children)),
            };
            let (values, ()) = future::join(gathered, sending).await;
            assert_eq!(values, Ok((0..N).collect::<Vec<_>>()), "limit {limit:?}");
        }
    }
);
