//! Task-group controls: failure handler, `Ignore`, abort, shutdown with a grace period,
//! `try_spawn`, conflicting settings, and a handle of a group that panicked.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use asynchronously::gather::{
    ErrorMode, ExitMode, Failure, GroupError, SpawnError, SyncScope, TaskError, TaskGroup,
};
use asynchronously::time::{Clock, VirtualClock};
use futures::FutureExt;
use futures::future;

use super::Drops;
use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::ms;

runtime_test!(
    async fn a_panic_under_keep_going_reaches_the_failure_handler_and_nothing_is_kept() {
        let seen = Mutex::new(Vec::new());
        let group = TaskGroup::new().on_failure(|failure| seen.lock().unwrap().push(failure));
        let spawner = group.spawner();
        drop(spawner.spawn(async {
            yield_now().await;
            if true {
                panic!("boom");
            }
            Ok::<(), _>(())
        }));
        drop(spawner.spawn(async { Err::<(), _>("down".to_owned()) }));
        let ok = spawner.spawn(async { Ok::<_, String>(3) });
        let outcome = group.run(async {}).await.unwrap();
        assert!(outcome.panicked.is_empty(), "the panic went to the handler");
        assert!(outcome.unhandled.is_empty());
        assert_eq!(
            *seen.lock().unwrap(),
            [Failure::Error("down".to_owned()), Failure::Panic("boom".to_owned())]
        );
        assert_eq!(ok.await, Ok(3));
    }
);

runtime_test!(
    async fn ignore_mode_gives_failures_to_live_handles_and_discards_the_rest() {
        let group = TaskGroup::<String>::new().error_mode(ErrorMode::Ignore);
        let spawner = group.spawner();
        drop(spawner.spawn(async { Err::<(), _>("nobody listens".to_owned()) }));
        drop(spawner.spawn(async {
            if true {
                panic!("contained");
            }
            Ok::<(), _>(())
        }));
        let mut read_late = spawner.spawn(async { Err::<(), _>("kept".to_owned()) });
        let sibling = spawner.spawn(async {
            yield_now().await;
            Ok::<_, String>(1)
        });
        let outcome = group.run(async {}).await.unwrap();
        assert!(outcome.unhandled.is_empty() && outcome.panicked.is_empty());
        assert_eq!(sibling.await, Ok(1), "a failure does not cancel the others");
        // Unread at exit, it stays in its handle: nothing was escalated.
        assert_eq!(read_late.try_take(), Some(Err(TaskError::Failed("kept".to_owned()))));
    }
);

runtime_test!(
    async fn an_aborted_child_is_dropped_and_its_handle_says_cancelled() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let group = TaskGroup::<String>::new().with_clock(clock.clone());
        let spawner = group.spawner();
        let guard = drops.guard();
        let sleeper = clock.clone();
        let stuck = spawner.spawn(async move {
            let _guard = guard;
            sleeper.sleep(ms(1000)).await;
            Ok::<_, String>(0)
        });
        let body_clock = clock.clone();
        let body = async move {
            body_clock.sleep(ms(10)).await;
            stuck.abort();
            stuck.abort();
            stuck.await
        };
        let (outcome, ()) = future::join(group.run(body), clock.run_for(ms(20))).await;
        let outcome = outcome.unwrap();
        assert_eq!(outcome.value, Err(TaskError::Cancelled));
        assert_eq!(outcome.cancelled, 1);
        assert_eq!(drops.count(), 1, "the aborted child was dropped");
        assert_eq!(clock.pending_sleepers(), 0);
        assert_eq!(spawner.active(), 0);
    }
);

runtime_test!(
    async fn aborting_a_finished_child_keeps_its_result() {
        let group = TaskGroup::<String>::new();
        let handle = group.spawner().spawn(async { Ok(7) });
        group.run(async {}).await.unwrap();
        handle.abort();
        assert_eq!(handle.await, Ok(7));
    }
);

runtime_test!(
    async fn a_group_shut_down_from_another_task_drops_everything_without_a_grace_period(rt) {
        let drops = Drops::default();
        let group = TaskGroup::<String>::new();
        let (spawner, handle) = (group.spawner(), group.handle());
        let guard = drops.guard();
        let child = spawner.spawn(async move {
            let _guard = guard;
            future::pending::<Result<(), String>>().await
        });
        let stopper = rt.spawn(async move {
            yield_now().await;
            handle.shutdown();
        });
        let (outcome, ()) = future::join(group.run(future::pending::<()>()), stopper).await;
        assert_eq!(outcome, Err(GroupError::ShutDown { cancelled: 1, unhandled: vec![] }));
        assert_eq!(drops.count(), 1);
        assert_eq!(child.await, Err(TaskError::Cancelled));
        assert!(
            matches!(spawner.try_spawn(async { Ok(()) }), Err(SpawnError::Ended)),
            "a shut-down group takes no children"
        );
    }
);

runtime_test!(
    async fn a_graceful_shutdown_waits_exactly_the_grace_period_then_drops_the_rest() {
        let clock = VirtualClock::new();
        let group = TaskGroup::<String>::new().with_clock(clock.clone()).grace(ms(100));
        let (spawner, handle) = (group.spawner(), group.handle());
        let child = |cleanup: u64| {
            let (token, clock) = (spawner.token(), clock.clone());
            spawner.spawn(async move {
                token.cancelled().await;
                clock.sleep(ms(cleanup)).await;
                Ok::<_, String>(cleanup)
            })
        };
        let (quick, slow) = (child(60), child(150));
        let (token, body_clock) = (group.token(), clock.clone());
        let body = async move {
            token.cancelled().await;
            body_clock.sleep(ms(30)).await;
            "body done"
        };
        let shutter = clock.clone();
        let stop = async move {
            shutter.sleep(ms(50)).await;
            handle.shutdown();
        };
        let finished_at = async {
            let outcome = group.run(body).await;
            (outcome, clock.elapsed())
        };
        let ((outcome, at), (), ()) = futures::join!(finished_at, stop, clock.run_for(ms(1000)));
        let outcome = outcome.unwrap();
        assert_eq!(outcome.value, "body done", "the body finished within the grace period");
        assert_eq!(outcome.cancelled, 1, "the slow child was dropped");
        assert_eq!(at, ms(150), "shut down at 50 ms, with a grace period of 100 ms");
        assert_eq!(quick.await, Ok(60));
        assert_eq!(slow.await, Err(TaskError::Cancelled));
    }
);

runtime_test!(
    async fn a_graceful_shutdown_ends_early_once_everything_finished() {
        let clock = VirtualClock::new();
        let group = TaskGroup::<String>::new().with_clock(clock.clone()).grace(ms(100));
        let (spawner, handle) = (group.spawner(), group.handle());
        let (token, sleeper) = (spawner.token(), clock.clone());
        let child = spawner.spawn(async move {
            token.cancelled().await;
            sleeper.sleep(ms(20)).await;
            Ok::<_, String>(1)
        });
        handle.shutdown();
        let finished_at = async {
            let outcome = group.run(async {}).await;
            (outcome, clock.elapsed())
        };
        let ((outcome, at), ()) = future::join(finished_at, clock.run_for(ms(1000))).await;
        assert_eq!(outcome.map(|outcome| outcome.cancelled), Ok(0));
        assert_eq!(at, ms(20), "no need to wait out the grace period");
        assert_eq!(child.await, Ok(1));
    }
);

runtime_test!(
    async fn try_spawn_is_a_typed_error_once_the_group_ended() {
        let group = TaskGroup::<String>::new();
        let spawner = group.spawner();
        let before = spawner.try_spawn(async { Ok(1) }).expect("the group has not ended");
        group.run(async {}).await.unwrap();
        assert_eq!(before.await, Ok(1));
        let drops = Drops::default();
        let guard = drops.guard();
        let late = spawner.try_spawn(async move {
            let _guard = guard;
            Ok(2)
        });
        assert_eq!(late.err(), Some(SpawnError::Ended));
        assert_eq!(drops.count(), 1, "the refused future was dropped");
        assert_eq!(spawner.active(), 0);
    }
);

runtime_test!(
    async fn conflicting_settings_are_a_typed_error_and_run_nothing() {
        let drops = Drops::default();
        let groups = [
            TaskGroup::<String>::new().on_error(drop).error_mode(ErrorMode::CancelOthers),
            TaskGroup::new().error_mode(ErrorMode::Ignore).on_failure(drop),
            TaskGroup::new().error_mode(ErrorMode::CancelOthers).on_error(drop),
        ];
        for group in groups {
            let guard = drops.guard();
            let child = group.spawner().spawn(async move {
                let _guard = guard;
                Ok(())
            });
            let outcome = group.run(async { "ran" }).await;
            assert!(matches!(outcome, Err(GroupError::Conflict(_))), "{outcome:?}");
            assert_eq!(child.await, Err(TaskError::Cancelled));
        }
        assert_eq!(drops.count(), 3);
        let fine = TaskGroup::<String>::new().error_mode(ErrorMode::KeepGoing).on_error(drop);
        assert_eq!(fine.run(async { "ran" }).await.map(|outcome| outcome.value), Ok("ran"));
    }
);

runtime_test!(
    async fn the_handle_of_a_child_whose_panic_ended_the_group_says_it_panicked() {
        let group = TaskGroup::<String>::new();
        let handle = group.spawner().spawn(async {
            if true {
                panic!("boom");
            }
            Ok(())
        });
        let outcome = AssertUnwindSafe(group.run(async {})).catch_unwind().await;
        assert!(outcome.is_err(), "the panic resumed in the caller");
        assert_eq!(handle.await, Err(TaskError::Panicked("boom".to_owned())));
    }
);

#[test]
fn a_sync_scope_takes_a_group_on_any_clock() {
    let clock = VirtualClock::new();
    let scope = SyncScope::<String, VirtualClock>::with_group(
        TaskGroup::new().with_clock(clock.clone()).timeout(ms(10)),
    );
    let mut handle = scope.spawn(async { Ok(1) });
    let outcome = scope.finish().unwrap();
    assert_eq!(outcome.cancelled, 0);
    assert_eq!(handle.try_take(), Some(Ok(1)));
}

runtime_test!(
    async fn wait_and_report_counts_the_values_nobody_took() {
        let clock = VirtualClock::new();
        for mode in [ExitMode::WaitAndReport, ExitMode::Wait] {
            let group = TaskGroup::<String>::new().error_mode(ErrorMode::KeepGoing).exit_mode(mode);
            let spawner = group.spawner();
            let sleeper = |delay: u64, value: u64| {
                let clock = clock.clone();
                async move {
                    clock.sleep(ms(delay)).await;
                    Ok::<u64, String>(value)
                }
            };
            let awaited = spawner.spawn(sleeper(10, 1));
            // Dropped before its value comes: the value is dropped unread.
            drop(spawner.spawn(sleeper(20, 2)));
            // Finished, then its handle is dropped with the value in it.
            let dropped_after = spawner.spawn(sleeper(10, 3));
            // Still holding its value, unread, when the group ends.
            let mut kept = spawner.spawn(sleeper(30, 4));
            // A failure nobody reads goes to `unhandled`, not to `unawaited`.
            drop(spawner.spawn(async { Err::<u64, _>("lost".to_owned()) }));
            let body = async {
                assert_eq!(awaited.await, Ok(1));
                assert!(dropped_after.is_finished());
                drop(dropped_after);
            };
            let (outcome, ()) = future::join(group.run(body), clock.run_for(ms(100))).await;
            let outcome = outcome.unwrap();
            let expected = if mode == ExitMode::WaitAndReport { 3 } else { 0 };
            assert_eq!(outcome.unawaited, expected, "{mode:?}");
            assert_eq!(outcome.unhandled, ["lost"], "{mode:?}");
            assert_eq!(kept.try_take(), Some(Ok(4)), "{mode:?}: the handle still reads it");
        }
    }
);

runtime_test!(
    async fn wait_and_report_counts_nothing_when_every_value_was_read() {
        const CHILDREN: usize = 2_000;
        let group = TaskGroup::<()>::new().exit_mode(ExitMode::WaitAndReport);
        let spawner = group.spawner();
        let body = async {
            for i in 0..CHILDREN {
                let handle = spawner.spawn(async move {
                    yield_now().await;
                    Ok(i)
                });
                assert_eq!(handle.await, Ok(i));
            }
        };
        let outcome = group.run(body).await.unwrap();
        assert_eq!(outcome.unawaited, 0, "every value was read");
        assert_eq!(outcome.cancelled, 0);
    }
);

runtime_test!(
    async fn a_value_whose_handle_is_dropped_after_it_came_is_dropped_at_once() {
        for mode in [ExitMode::WaitAndReport, ExitMode::Wait] {
            let drops = Drops::default();
            let group = TaskGroup::<()>::new().exit_mode(mode);
            let spawner = group.spawner();
            let body = async {
                let guard = drops.guard();
                let handle = spawner.spawn(async move { Ok(guard) });
                while !handle.is_finished() {
                    yield_now().await;
                }
                assert_eq!(drops.count(), 0, "{mode:?}: the value waits in its handle");
                drop(handle);
                assert_eq!(drops.count(), 1, "{mode:?}: nobody can read it, so it is dropped");
            };
            let outcome = group.run(body).await.unwrap();
            let expected = usize::from(mode == ExitMode::WaitAndReport);
            assert_eq!(outcome.unawaited, expected, "{mode:?}");
        }
    }
);
