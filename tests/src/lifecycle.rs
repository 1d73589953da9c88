//! Behaviour tests of `asynchronously::lifecycle`: ordering, rollback, deinit, events,
//! shutdown, run phases with restarts, and cancellation at every await.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use asynchronously::lifecycle::{
    BoxError, BuildError, Context, DependencyError, FnComponent, InitError, Lifecycle,
    LifecycleBuilder, Outcome, Phase, ShutdownReason, Stage, run_until_shutdown,
};
use asynchronously::time::{Clock, VirtualClock};
use proptest::prelude::*;

use crate::runtime::yield_now;
use crate::runtime_test;
use crate::support::{ms, poll_once};

/// What the components did, as `"<phase> <name>"` lines, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The lines that start with `prefix`, without it.
    fn of(&self, prefix: &str) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }
}

/// Logs `"cancel <name>"` if dropped before `finish`: proves a phase was cancelled.
struct CancelGuard {
    log: Log,
    line: Option<String>,
}

impl CancelGuard {
    fn new(log: &Log, line: String) -> Self {
        CancelGuard { log: log.clone(), line: Some(line) }
    }

    fn finish(mut self) {
        self.line = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            self.log.push(line);
        }
    }
}

/// How a test component's init ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ending {
    Ok,
    Fail,
    Panic,
    Hang,
}

/// A component whose init takes `init` and deinit takes `deinit` on the virtual clock,
/// logging `"init <name>"` / `"deinit <name>"` when each finishes and `"cancel <name>"`
/// when init is dropped midway.
fn timed(
    clock: &VirtualClock,
    log: &Log,
    name: &'static str,
    init: Duration,
    deinit: Duration,
    ending: Ending,
) -> FnComponent {
    let (init_clock, deinit_clock) = (clock.clone(), clock.clone());
    let (init_log, deinit_log) = (log.clone(), log.clone());
    FnComponent::new()
        .on_init(move |_| {
            let (clock, log) = (init_clock.clone(), init_log.clone());
            async move {
                let guard = CancelGuard::new(&log, format!("cancel {name}"));
                if !init.is_zero() {
                    clock.sleep(init).await;
                }
                match ending {
                    Ending::Ok => {}
                    Ending::Fail => {
                        guard.finish();
                        return Err::<(), BoxError>(format!("{name} is broken").into());
                    }
                    Ending::Panic => {
                        guard.finish();
                        panic!("{name} exploded");
                    }
                    Ending::Hang => std::future::pending::<()>().await,
                }
                guard.finish();
                log.push(format!("init {name}"));
                Ok(())
            }
        })
        .on_deinit(move |_| {
            let (clock, log) = (deinit_clock.clone(), deinit_log.clone());
            async move {
                if !deinit.is_zero() {
                    clock.sleep(deinit).await;
                }
                log.push(format!("deinit {name}"));
                Ok::<_, BoxError>(())
            }
        })
}

fn instant(clock: &VirtualClock, log: &Log, name: &'static str) -> FnComponent {
    timed(clock, log, name, Duration::ZERO, Duration::ZERO, Ending::Ok)
}

fn builder(clock: &VirtualClock) -> LifecycleBuilder<VirtualClock> {
    Lifecycle::builder().with_clock(clock.clone())
}

/// Runs `future` while virtual time passes, `step` at a time, until it completes.
async fn drive<F: Future>(clock: &VirtualClock, future: F) -> F::Output {
    let mut future = pin!(future);
    loop {
        let mut output = None;
        let step = async {
            clock.run_for(ms(1)).await;
        };
        let poll_future = std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(value) => {
                output = Some(value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        });
        futures::future::select(pin!(poll_future), pin!(step)).await;
        if let Some(value) = output {
            return value;
        }
    }
}

// --- the seed's timing case -------------------------------------------------------------

runtime_test!(
    async fn server_waits_for_worker_and_the_checkpoints_match_the_seed() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("worker", timed(&clock, &log, "worker", ms(40), ms(0), Ending::Ok));
        builder
            .component("server", timed(&clock, &log, "server", ms(20), ms(0), Ending::Ok))
            .after("worker");
        builder.component("controller", instant(&clock, &log, "controller"));
        let lifecycle = builder.build().unwrap();
        let [worker, server, controller] =
            ["worker", "server", "controller"].map(|name| lifecycle.events(name).unwrap());

        let checks = async {
            clock.run_for(ms(30)).await;
            assert!(controller.has(Phase::Init, Stage::Finished), "controller is instant");
            assert!(worker.has(Phase::Init, Stage::Started));
            assert!(!worker.has(Phase::Init, Stage::Finished), "worker takes 40 ms");
            assert!(server.has(Phase::Init, Stage::Scheduled));
            assert!(!server.has(Phase::Init, Stage::Started), "server waits for worker");
            assert!(!lifecycle.is_ready());

            clock.run_for(ms(20)).await; // 50 ms
            assert!(worker.has(Phase::Init, Stage::Finished));
            assert!(server.has(Phase::Init, Stage::Started), "server started at 40 ms");
            assert!(!server.has(Phase::Init, Stage::Finished), "server finishes at 60 ms");

            clock.run_for(ms(15)).await; // 65 ms
            assert!(server.has(Phase::Init, Stage::Finished));
        };
        let (result, ()) = futures::join!(lifecycle.init(), checks);
        result.unwrap();
        assert!(lifecycle.is_ready());
        assert_eq!(log.of("init "), ["controller", "worker", "server"]);
        assert_eq!(clock.elapsed(), ms(65));
    }
);

runtime_test!(
    async fn declaring_a_dependency_after_init_was_scheduled_is_an_error() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("database", timed(&clock, &log, "database", ms(10), ms(0), Ending::Ok));
        builder.component("server", instant(&clock, &log, "server"));
        builder.component("cache", instant(&clock, &log, "cache"));
        let lifecycle = builder.build().unwrap();
        // Before init: allowed, and it takes effect.
        lifecycle.add_dependency("server", "database").unwrap();
        assert_eq!(
            lifecycle.add_dependency("database", "server"),
            Err(DependencyError::Cycle {
                phase: Phase::Init,
                names: vec!["database".into(), "server".into()]
            })
        );
        assert_eq!(
            lifecycle.add_dependency("server", "nope"),
            Err(DependencyError::UnknownComponent { name: "nope".into() })
        );

        let mut init = pin!(lifecycle.init());
        assert!(poll_once(&mut init).is_pending(), "database takes 10 ms");
        assert_eq!(
            lifecycle.add_dependency("cache", "database"),
            Err(DependencyError::AlreadyScheduled { phase: Phase::Init })
        );
        let (result, ()) = futures::join!(init, clock.run_for(ms(10)));
        result.unwrap();
        assert_eq!(log.of("init "), ["cache", "database", "server"]);
        lifecycle.deinit().await;
        assert_eq!(
            lifecycle.add_deinit_dependency("cache", "server"),
            Err(DependencyError::AlreadyScheduled { phase: Phase::Deinit })
        );
    }
);

runtime_test!(
    async fn a_shared_dependency_in_a_diamond_initialises_once() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("base", timed(&clock, &log, "base", ms(5), ms(0), Ending::Ok));
        builder
            .component("left", timed(&clock, &log, "left", ms(3), ms(0), Ending::Ok))
            .after("base");
        builder
            .component("right", timed(&clock, &log, "right", ms(7), ms(0), Ending::Ok))
            .after("base");
        builder.component("top", instant(&clock, &log, "top")).after_all(["left", "right"]);
        let lifecycle = builder.build().unwrap();
        let (result, ()) = futures::join!(lifecycle.init(), clock.run_for(ms(100)));
        result.unwrap();
        assert_eq!(log.of("init "), ["base", "left", "right", "top"]);
        let report = lifecycle.deinit().await;
        assert_eq!(report.names().collect::<Vec<_>>(), ["top", "left", "right", "base"]);
        assert_eq!(log.of("deinit ").len(), 4, "each deinitialised once");
    }
);

runtime_test!(
    async fn independent_components_initialise_concurrently() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        for name in ["a", "b", "c"] {
            builder.component(name, timed(&clock, &log, name, ms(10), ms(10), Ending::Ok));
        }
        let lifecycle = builder.build().unwrap();
        let start = clock.now();
        drive(&clock, lifecycle.init()).await.unwrap();
        assert_eq!(clock.now() - start, ms(10), "three 10 ms inits overlap");
        drive(&clock, lifecycle.deinit()).await;
        assert_eq!(clock.now() - start, ms(20), "three 10 ms deinits overlap");
    }
);

runtime_test!(
    async fn deinit_mirrors_init_and_honours_an_explicit_deinit_dependency() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        // As in the seed: no init dependency between them, but the HTTP server must stop
        // accepting traffic before the database pool closes.
        builder
            .component("database", timed(&clock, &log, "database", ms(0), ms(1), Ending::Ok))
            .deinit_after("http");
        builder.component("http", timed(&clock, &log, "http", ms(0), ms(30), Ending::Ok));
        builder.component("config", timed(&clock, &log, "config", ms(0), ms(1), Ending::Ok));
        builder
            .component("api", timed(&clock, &log, "api", ms(0), ms(5), Ending::Ok))
            .after("config");
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        let database = lifecycle.events("database").unwrap();
        let http = lifecycle.events("http").unwrap();

        let checks = async {
            clock.run_for(ms(29)).await;
            assert!(http.has(Phase::Deinit, Stage::Started));
            assert!(database.has(Phase::Deinit, Stage::Scheduled));
            assert!(!database.has(Phase::Deinit, Stage::Started), "database waits for http");
            clock.run_for(ms(10)).await;
        };
        let (report, ()) = futures::join!(lifecycle.deinit(), checks);
        assert!(report.is_ok(), "{report}");
        // api (5 ms) before config; http (30 ms) before database.
        assert_eq!(report.names().collect::<Vec<_>>(), ["api", "config", "http", "database"]);
        assert_eq!(log.of("deinit "), ["api", "config", "http", "database"]);
    }
);

runtime_test!(
    async fn a_second_init_waits_for_the_first_and_shares_its_result() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("slow", timed(&clock, &log, "slow", ms(10), ms(0), Ending::Ok));
        let lifecycle = builder.build().unwrap();

        let mut first = pin!(lifecycle.init());
        let mut second = pin!(lifecycle.init());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending(), "the second init must wait, not return");
        let (first, second, ()) = futures::join!(first, second, clock.run_for(ms(10)));
        first.unwrap();
        second.unwrap();
        assert_eq!(log.of("init "), ["slow"], "init ran once");
        lifecycle.init().await.unwrap();
        assert_eq!(log.of("init ").len(), 1);

        // After a failure, every later init returns the same error.
        let mut builder = LifecycleBuilder::new();
        builder.component(
            "bad",
            FnComponent::new().on_init(|_| async { Err::<(), BoxError>("no".into()) }),
        );
        let failing = builder.build().unwrap();
        let (a, b) = futures::join!(failing.init(), failing.init());
        assert_eq!(a.unwrap_err().name(), Some("bad"));
        assert_eq!(b.unwrap_err().name(), Some("bad"));
        assert!(matches!(failing.init().await, Err(InitError::Failed { .. })));
    }
);

runtime_test!(
    async fn init_after_deinit_is_refused() {
        let lifecycle = LifecycleBuilder::new().build().unwrap();
        lifecycle.deinit().await;
        assert!(matches!(lifecycle.init().await, Err(InitError::Deinitialised)));
    }
);

runtime_test!(
    async fn an_empty_lifecycle_starts_and_stops_at_once() {
        let lifecycle = Lifecycle::builder().build().unwrap();
        assert!(lifecycle.is_empty());
        lifecycle.init().await.unwrap();
        assert!(lifecycle.is_ready());
        assert!(lifecycle.deinit().await.is_empty());
    }
);

// --- rollback in a 10-component graph ---------------------------------------------------

/// config ← db (10 ms), cache (5 ms), queue (30 ms); repo (5 ms) ← db, cache;
/// auth (2 ms) ← db; api ← repo, auth; worker ← queue; web ← api; metrics (1 ms) alone.
/// `api` ends as `ending` at 20 ms (5 ms after repo). Deinits: auth 1, metrics 2, repo 3,
/// db 1, cache 2, config 1 ms.
fn ten_components(clock: &VirtualClock, log: &Log, ending: Ending) -> Lifecycle<VirtualClock> {
    let mut builder = builder(clock);
    builder.component("config", timed(clock, log, "config", ms(0), ms(1), Ending::Ok));
    builder.component("db", timed(clock, log, "db", ms(10), ms(1), Ending::Ok)).after("config");
    builder
        .component("cache", timed(clock, log, "cache", ms(5), ms(2), Ending::Ok))
        .after("config");
    builder
        .component("queue", timed(clock, log, "queue", ms(30), ms(1), Ending::Ok))
        .after("config");
    builder
        .component("repo", timed(clock, log, "repo", ms(5), ms(3), Ending::Ok))
        .after_all(["db", "cache"]);
    builder.component("auth", timed(clock, log, "auth", ms(2), ms(1), Ending::Ok)).after("db");
    let api_init = if ending == Ending::Hang { ms(0) } else { ms(5) };
    let mut api = builder.component("api", timed(clock, log, "api", api_init, ms(1), ending));
    api.after_all(["repo", "auth"]);
    if ending == Ending::Hang {
        api.init_timeout(ms(5));
    }
    builder.component("worker", instant(clock, log, "worker")).after("queue");
    builder.component("web", instant(clock, log, "web")).after("api");
    builder.component("metrics", timed(clock, log, "metrics", ms(1), ms(2), Ending::Ok));
    builder.build().unwrap()
}

const ROLLBACK_ORDER: [&str; 6] = ["auth", "metrics", "repo", "db", "cache", "config"];

async fn assert_rollback(ending: Ending, cancelled: &[&str]) -> InitError {
    let clock = VirtualClock::new();
    let log = Log::default();
    let lifecycle = ten_components(&clock, &log, ending);
    let error = drive(&clock, lifecycle.init()).await.unwrap_err();
    assert_eq!(error.name(), Some("api"));
    assert_eq!(error.phase(), Phase::Init);
    assert_eq!(
        log.of("init "),
        ["config", "metrics", "cache", "db", "auth", "repo"],
        "initialised before the failure at 20 ms"
    );
    assert_eq!(log.of("cancel "), cancelled, "still initialising at 20 ms");
    assert_eq!(log.of("deinit "), ROLLBACK_ORDER, "rolled back in reverse order");
    let rollback = error.rollback().unwrap();
    assert_eq!(rollback.names().collect::<Vec<_>>(), ROLLBACK_ORDER);
    assert!(rollback.is_ok());
    assert_eq!(clock.elapsed(), ms(26), "failure at 20 ms, rollback takes 6 ms");
    // Nothing is left to deinitialise, and the error sticks.
    assert!(lifecycle.deinit().await.is_empty());
    assert!(!lifecycle.is_ready());
    assert!(!lifecycle.ready().await);
    assert_eq!(log.of("deinit ").len(), 6, "nothing deinitialised twice");
    error
}

runtime_test!(
    async fn a_failure_in_the_middle_of_ten_components_rolls_back_in_reverse_order() {
        let error = assert_rollback(Ending::Fail, &["queue"]).await;
        let InitError::Failed { source, .. } = &error else { panic!("{error:?}") };
        assert_eq!(source.to_string(), "api is broken");
        assert_eq!(
            error.to_string(),
            "init of `api` failed: api is broken; 6 initialised component(s) were rolled back"
        );
    }
);

runtime_test!(
    async fn a_panic_in_the_middle_of_ten_components_rolls_back_in_reverse_order() {
        let error = assert_rollback(Ending::Panic, &["queue"]).await;
        let InitError::Panicked { message, .. } = &error else { panic!("{error:?}") };
        assert_eq!(&**message, "api exploded");
    }
);

runtime_test!(
    async fn a_timeout_in_the_middle_of_ten_components_rolls_back_in_reverse_order() {
        let error = assert_rollback(Ending::Hang, &["api", "queue"]).await;
        let InitError::TimedOut { timeout, .. } = &error else { panic!("{error:?}") };
        assert_eq!(*timeout, ms(5));
    }
);

runtime_test!(
    async fn the_overall_init_timeout_cancels_and_names_what_was_pending() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.init_timeout(ms(15));
        builder.component("fast", timed(&clock, &log, "fast", ms(5), ms(0), Ending::Ok));
        builder.component("slow", timed(&clock, &log, "slow", ms(20), ms(0), Ending::Ok));
        builder.component("after", instant(&clock, &log, "after")).after("slow");
        let lifecycle = builder.build().unwrap();
        let error = drive(&clock, lifecycle.init()).await.unwrap_err();
        let InitError::DeadlineExceeded { name, pending, timeout, rollback } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(name, "slow");
        assert_eq!(pending, &["slow", "after"]);
        assert_eq!(*timeout, ms(15));
        assert_eq!(rollback.names().collect::<Vec<_>>(), ["fast"]);
        assert_eq!(log.of("cancel "), ["slow"]);
        assert_eq!(clock.elapsed(), ms(15));
    }
);

// --- build errors ---------------------------------------------------------------------------

#[test]
fn a_cycle_is_a_build_error_naming_every_component_on_it() {
    let mut builder = Lifecycle::builder();
    builder.component("outside", FnComponent::new());
    builder.component("a", FnComponent::new()).after("c");
    builder.component("b", FnComponent::new()).after("a").after("outside");
    builder.component("c", FnComponent::new()).after("b");
    let error = builder.build().unwrap_err();
    let BuildError::Cycle { phase, names } = &error else { panic!("{error:?}") };
    assert_eq!(*phase, Phase::Init);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "b", "c"], "every member, and only members");
    assert!(error.to_string().starts_with("dependency cycle in init order: "), "{error}");
    assert!(error.to_string().contains(" waits for "), "{error}");

    let mut builder = Lifecycle::builder();
    builder.component("self", FnComponent::new()).after("self");
    assert_eq!(
        builder.build().unwrap_err(),
        BuildError::Cycle { phase: Phase::Init, names: vec!["self".into()] }
    );

    // Explicit deinit orderings that contradict the reverse of init are a deinit cycle.
    let mut builder = Lifecycle::builder();
    builder.component("db", FnComponent::new());
    builder.component("server", FnComponent::new()).after("db").deinit_after("db");
    let error = builder.build().unwrap_err();
    assert!(matches!(error, BuildError::Cycle { phase: Phase::Deinit, .. }), "{error:?}");
}

#[test]
fn an_unknown_or_duplicate_name_is_a_build_error() {
    let mut builder = Lifecycle::builder();
    builder.component("server", FnComponent::new()).after("databse");
    builder.component("database", FnComponent::new());
    let error = builder.build().unwrap_err();
    assert_eq!(
        error,
        BuildError::UnknownDependency { component: "server".into(), dependency: "databse".into() }
    );
    assert_eq!(
        error.to_string(),
        "component `server` depends on `databse`, which is not registered; register it or fix the name"
    );

    let mut builder = Lifecycle::builder();
    builder.component("x", FnComponent::new()).deinit_after("y");
    assert!(matches!(builder.build(), Err(BuildError::UnknownDependency { .. })));

    let mut builder = Lifecycle::builder();
    builder.component("db", FnComponent::new());
    builder.component("db", FnComponent::new());
    assert_eq!(builder.build().unwrap_err(), BuildError::DuplicateName { name: "db".into() });
}

// --- scale ------------------------------------------------------------------------------

fn counter_component(log: &Log, name: String) -> FnComponent {
    let (init_log, deinit_log) = (log.clone(), log.clone());
    let (init_name, deinit_name) = (name.clone(), name);
    FnComponent::new()
        .on_init(move |_| {
            init_log.push(format!("init {init_name}"));
            async { Ok::<_, BoxError>(()) }
        })
        .on_deinit(move |_| {
            deinit_log.push(format!("deinit {deinit_name}"));
            async { Ok::<_, BoxError>(()) }
        })
}

runtime_test!(
    async fn a_chain_of_a_thousand_initialises_and_deinitialises_in_order() {
        let log = Log::default();
        let mut builder = Lifecycle::builder();
        for index in 0..1000 {
            let mut options = builder
                .component(format!("c{index}"), counter_component(&log, format!("c{index}")));
            if index > 0 {
                options.after(format!("c{}", index - 1));
            }
        }
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        let expected: Vec<String> = (0..1000).map(|index| format!("c{index}")).collect();
        assert_eq!(log.of("init "), expected);
        let report = lifecycle.deinit().await;
        assert!(report.is_ok());
        let reversed: Vec<String> = expected.iter().rev().cloned().collect();
        assert_eq!(log.of("deinit "), reversed);
        assert_eq!(report.names().collect::<Vec<_>>(), reversed);
    }
);

runtime_test!(
    async fn a_fan_out_of_a_thousand_initialises_and_deinitialises_in_order() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("root", counter_component(&log, "root".into()));
        let leaves: Vec<String> = (0..1000).map(|index| format!("leaf{index}")).collect();
        for leaf in &leaves {
            // Half of them take virtual time, so they are pending together.
            let sleeps = leaf.ends_with(['0', '2', '4', '6', '8']);
            let component = if sleeps {
                let (clock, log, name) = (clock.clone(), log.clone(), leaf.clone());
                FnComponent::new().on_init(move |_| {
                    let (clock, log, name) = (clock.clone(), log.clone(), name.clone());
                    async move {
                        clock.sleep(ms(10)).await;
                        log.push(format!("init {name}"));
                        Ok::<_, BoxError>(())
                    }
                })
            } else {
                counter_component(&log, leaf.clone())
            };
            builder.component(leaf.clone(), component).after("root");
        }
        builder.component("sink", counter_component(&log, "sink".into())).after_all(leaves.clone());
        let lifecycle = builder.build().unwrap();
        let (result, ()) = futures::join!(lifecycle.init(), clock.run_for(ms(10)));
        result.unwrap();
        let inits = log.of("init ");
        assert_eq!(inits.len(), 1002);
        assert_eq!(inits.first().map(String::as_str), Some("root"));
        assert_eq!(inits.last().map(String::as_str), Some("sink"));
        assert_eq!(clock.elapsed(), ms(10), "the sleeping leaves ran concurrently");
        let report = lifecycle.deinit().await;
        assert_eq!(report.len(), 1002);
        let names: Vec<&str> = report.names().collect();
        assert_eq!(names.first(), Some(&"sink"));
        assert_eq!(names.last(), Some(&"root"));
    }
);

// --- deinit -----------------------------------------------------------------------------

runtime_test!(
    async fn a_deinit_failure_panic_or_timeout_does_not_stop_the_others() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("base", instant(&clock, &log, "base"));
        builder
            .component(
                "fails",
                FnComponent::new().on_deinit(|_| async { Err::<(), BoxError>("disk full".into()) }),
            )
            .after("base");
        builder
            .component(
                "panics",
                FnComponent::new().on_deinit(|_| async { panic!("oops") as Result<(), BoxError> }),
            )
            .after("base");
        builder
            .component(
                "hangs",
                FnComponent::new().on_deinit(|_| std::future::pending::<Result<(), BoxError>>()),
            )
            .after("base")
            .deinit_timeout(ms(50));
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        let report = drive(&clock, lifecycle.deinit()).await;
        assert_eq!(clock.elapsed(), ms(50));
        assert!(
            matches!(report.outcome("fails"), Some(Outcome::Failed(error)) if error.to_string() == "disk full")
        );
        assert!(
            matches!(report.outcome("panics"), Some(Outcome::Panicked(message)) if &**message == "oops")
        );
        assert!(
            matches!(report.outcome("hangs"), Some(Outcome::TimedOut(timeout)) if *timeout == ms(50))
        );
        assert!(matches!(report.outcome("base"), Some(Outcome::Ok)));
        assert_eq!(report.names().last(), Some("base"), "base still waited for all three");
        assert_eq!(report.failures().count(), 3);
        assert!(!report.is_ok());
    }
);

runtime_test!(
    async fn the_overall_deinit_deadline_cancels_the_rest_and_reports_each() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.deinit_timeout(ms(25));
        builder.component("db", timed(&clock, &log, "db", ms(0), ms(5), Ending::Ok));
        builder
            .component("server", timed(&clock, &log, "server", ms(0), ms(40), Ending::Ok))
            .after("db");
        builder.component("quick", timed(&clock, &log, "quick", ms(0), ms(1), Ending::Ok));
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        let report = drive(&clock, lifecycle.deinit()).await;
        assert_eq!(clock.elapsed(), ms(25));
        assert_eq!(report.names().collect::<Vec<_>>(), ["quick", "db", "server"]);
        assert!(report.outcome("quick").unwrap().is_ok());
        for name in ["server", "db"] {
            assert!(
                matches!(report.outcome(name), Some(Outcome::DeadlineExceeded(deadline)) if *deadline == ms(25)),
                "{name}: {report}"
            );
        }
        assert_eq!(log.of("deinit "), ["quick"]);
    }
);

runtime_test!(
    async fn duration_max_timeouts_mean_never() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.init_timeout(Duration::MAX).deinit_timeout(Duration::MAX);
        builder
            .component("slow", timed(&clock, &log, "slow", ms(1000), ms(1000), Ending::Ok))
            .init_timeout(Duration::MAX)
            .deinit_timeout(Duration::MAX);
        let lifecycle = builder.build().unwrap();
        let (result, ()) = futures::join!(lifecycle.init(), clock.run_for(ms(1000)));
        result.unwrap();
        let (report, ()) = futures::join!(lifecycle.deinit(), clock.run_for(ms(1000)));
        assert!(report.is_ok());
    }
);

// --- values, events, readiness ----------------------------------------------------------

runtime_test!(
    async fn a_dependency_hands_a_value_to_its_dependents_and_it_is_dropped_after_deinit() {
        struct Pool {
            drops: Arc<AtomicUsize>,
        }
        impl Drop for Pool {
            fn drop(&mut self) {
                self.drops.fetch_add(1, SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Lifecycle::builder();
        let provided = drops.clone();
        builder.component(
            "database",
            FnComponent::new().on_init(move |cx: Context| {
                cx.provide(Pool { drops: provided.clone() });
                async { Ok::<_, BoxError>(()) }
            }),
        );
        builder.component("middle", FnComponent::new()).after("database");
        let sink = seen.clone();
        builder
            .component(
                "server",
                FnComponent::new().on_init(move |cx: Context| {
                    let sink = sink.clone();
                    async move {
                        // Found through a transitive dependency.
                        let pool = cx.get::<Pool>().ok_or("no pool")?;
                        sink.lock().unwrap().push(Arc::strong_count(&pool));
                        assert!(cx.get::<String>().is_none());
                        assert!(cx.get_from::<Pool>("database").is_some());
                        Ok::<_, BoxError>(())
                    }
                }),
            )
            .after("middle");
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1, "the server saw the pool");
        assert!(lifecycle.get::<Pool>("database").is_some());
        assert!(lifecycle.get::<Pool>("server").is_none());
        assert_eq!(drops.load(SeqCst), 0);
        lifecycle.deinit().await;
        assert_eq!(drops.load(SeqCst), 1, "dropped once its provider deinitialised");
        assert!(lifecycle.get::<Pool>("database").is_none());
    }
);

runtime_test!(
    async fn the_hook_sees_every_event_in_order() {
        let clock = VirtualClock::new();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut builder = builder(&clock);
        builder.on_event(move |event| sink.lock().unwrap().push(event.to_string()));
        builder.component("db", FnComponent::new());
        builder
            .component(
                "api",
                FnComponent::new().on_deinit(|_| async { Err::<(), BoxError>("stuck".into()) }),
            )
            .after("db");
        let lifecycle = builder.build().unwrap();
        lifecycle.init().await.unwrap();
        lifecycle.deinit().await;
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "init of db scheduled",
                "init of api scheduled",
                "init of db started",
                "init of db finished: ok",
                "init of api started",
                "init of api finished: ok",
                "lifecycle ready",
                "deinit of db scheduled",
                "deinit of api scheduled",
                "deinit of api started",
                "deinit of api finished: failed: stuck",
                "deinit of db started",
                "deinit of db finished: ok",
            ]
        );
    }
);

runtime_test!(
    async fn anyone_can_await_a_components_milestones_and_readiness() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", timed(&clock, &log, "db", ms(10), ms(0), Ending::Ok));
        let lifecycle = builder.build().unwrap();
        let db = lifecycle.events("db").unwrap();
        assert!(lifecycle.events("nope").is_none());
        let order = Log::default();
        let waiters = async {
            futures::join!(
                async {
                    db.wait(Phase::Init, Stage::Scheduled).await;
                    order.push(format!("scheduled {:?}", clock.elapsed()));
                },
                async {
                    db.wait(Phase::Init, Stage::Finished).await;
                    order.push(format!("finished {:?}", clock.elapsed()));
                },
                async {
                    assert!(lifecycle.ready().await);
                    order.push(format!("ready {:?}", clock.elapsed()));
                },
            )
        };
        let (result, _, ()) = futures::join!(lifecycle.init(), waiters, clock.run_for(ms(10)));
        result.unwrap();
        assert_eq!(order.lines(), ["scheduled 0ns", "finished 10ms", "ready 10ms"]);
        // Reached milestones complete at once.
        db.wait(Phase::Init, Stage::Started).await;
        let deinit_finished = db.wait(Phase::Deinit, Stage::Finished);
        let (report, ()) = futures::join!(lifecycle.deinit(), deinit_finished);
        assert!(report.is_ok());
        assert!(!lifecycle.is_ready());
        assert!(!lifecycle.ready().await);
    }
);

// --- cancellation ---------------------------------------------------------------------------

/// a (5 ms) ← b (5 ms) ← c (5 ms), each also 5 ms to deinit; counts calls per phase.
fn counted_chain(
    clock: &VirtualClock,
) -> (Lifecycle<VirtualClock>, Arc<Mutex<HashMap<String, usize>>>) {
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let mut builder = builder(clock);
    for (index, name) in ["a", "b", "c"].into_iter().enumerate() {
        let (init_clock, deinit_clock) = (clock.clone(), clock.clone());
        let (init_calls, deinit_calls) = (calls.clone(), calls.clone());
        let component = FnComponent::new()
            .on_init(move |_| {
                let (clock, calls) = (init_clock.clone(), init_calls.clone());
                async move {
                    clock.sleep(ms(5)).await;
                    *calls.lock().unwrap().entry(format!("init {name}")).or_insert(0) += 1;
                    Ok::<_, BoxError>(())
                }
            })
            .on_deinit(move |_| {
                let (clock, calls) = (deinit_clock.clone(), deinit_calls.clone());
                async move {
                    clock.sleep(ms(5)).await;
                    *calls.lock().unwrap().entry(format!("deinit {name}")).or_insert(0) += 1;
                    Ok::<_, BoxError>(())
                }
            });
        let mut options = builder.component(name, component);
        if index > 0 {
            options.after(["a", "b"][index - 1]);
        }
    }
    (builder.build().unwrap(), calls)
}

runtime_test!(
    async fn dropping_init_at_every_await_point_keeps_finished_components_and_resumes() {
        for polls in 0..6 {
            let clock = VirtualClock::new();
            let (lifecycle, calls) = counted_chain(&clock);
            let mut completed = false;
            {
                let mut init = pin!(lifecycle.init());
                for _ in 0..polls {
                    if poll_once(&mut init).is_ready() {
                        completed = true;
                        break;
                    }
                    clock.advance(ms(5));
                }
            } // dropped here, possibly mid-component
            assert_eq!(lifecycle.is_ready(), completed);
            assert_eq!(clock.pending_sleepers(), 0, "the cancelled sleep was released");
            let (result, ()) = futures::join!(lifecycle.init(), clock.run_for(ms(20)));
            result.unwrap();
            let calls = calls.lock().unwrap().clone();
            for name in ["a", "b", "c"] {
                assert_eq!(
                    calls.get(&format!("init {name}")),
                    Some(&1),
                    "after {polls} polls: {calls:?}"
                );
            }
            drop(calls);
            let (report, ()) = futures::join!(lifecycle.deinit(), clock.run_for(ms(20)));
            assert_eq!(report.names().collect::<Vec<_>>(), ["c", "b", "a"], "after {polls} polls");
        }
    }
);

runtime_test!(
    async fn dropping_deinit_at_every_await_point_keeps_the_rest_initialised_and_resumes() {
        for polls in 0..6 {
            let clock = VirtualClock::new();
            let (lifecycle, calls) = counted_chain(&clock);
            let (result, ()) = futures::join!(lifecycle.init(), clock.run_for(ms(20)));
            result.unwrap();
            {
                let mut deinit = pin!(lifecycle.deinit());
                for _ in 0..polls {
                    if poll_once(&mut deinit).is_ready() {
                        break;
                    }
                    clock.advance(ms(5));
                }
            }
            assert_eq!(clock.pending_sleepers(), 0);
            let (report, ()) = futures::join!(lifecycle.deinit(), clock.run_for(ms(20)));
            assert!(report.is_ok());
            let calls = calls.lock().unwrap().clone();
            for name in ["a", "b", "c"] {
                assert_eq!(
                    calls.get(&format!("deinit {name}")),
                    Some(&1),
                    "after {polls} polls: {calls:?}"
                );
            }
        }
    }
);

runtime_test!(
    async fn a_waiting_second_init_takes_over_when_the_first_is_dropped() {
        let clock = VirtualClock::new();
        let (lifecycle, calls) = counted_chain(&clock);
        let mut second = pin!(lifecycle.init());
        {
            let mut first = pin!(lifecycle.init());
            assert!(poll_once(&mut first).is_pending());
            assert!(poll_once(&mut second).is_pending());
            clock.advance(ms(5));
            assert!(poll_once(&mut first).is_pending());
        }
        let (result, ()) = futures::join!(second, clock.run_for(ms(20)));
        result.unwrap();
        assert_eq!(calls.lock().unwrap().get("init a"), Some(&1));
        assert!(lifecycle.is_ready());
    }
);

// --- shutdown and run phases ------------------------------------------------------------

runtime_test!(
    async fn run_until_shutdown_runs_main_then_deinitialises() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", instant(&clock, &log, "db"));
        builder.component("api", instant(&clock, &log, "api")).after("db");
        let lifecycle = builder.build().unwrap();
        let main_log = log.clone();
        let report = run_until_shutdown(&lifecycle, async move {
            main_log.push("main");
            7
        })
        .await;
        assert_eq!(report.reason(), ShutdownReason::MainReturned);
        assert_eq!(report.main(), Some(&7));
        assert!(report.is_clean(), "{report}");
        assert!(lifecycle.shutdown().is_triggered(), "shutdown is announced to components");
        assert_eq!(log.lines(), ["init db", "init api", "main", "deinit api", "deinit db"]);
    }
);

runtime_test!(
    async fn a_trigger_during_init_cancels_it_and_deinitialises_what_started() {
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", timed(&clock, &log, "db", ms(5), ms(0), Ending::Ok));
        builder.component("api", timed(&clock, &log, "api", ms(50), ms(0), Ending::Ok)).after("db");
        let lifecycle = builder.build().unwrap();
        let shutdown = lifecycle.shutdown().clone();
        let trigger = async {
            clock.run_for(ms(10)).await;
            shutdown.trigger();
            shutdown.trigger(); // idempotent
        };
        let (report, ()) =
            futures::join!(run_until_shutdown(&lifecycle, async { "never" }), trigger);
        assert_eq!(report.reason(), ShutdownReason::Triggered);
        assert_eq!(report.main(), None);
        assert_eq!(log.lines(), ["init db", "cancel api", "deinit db"]);
        assert_eq!(clock.elapsed(), ms(10));
    }
);

runtime_test!(
    async fn an_init_failure_is_reported_and_main_never_runs() {
        let mut builder = Lifecycle::builder();
        builder.component(
            "bad",
            FnComponent::new().on_init(|_| async { Err::<(), BoxError>("no".into()) }),
        );
        let lifecycle = builder.build().unwrap();
        let ran = AtomicUsize::new(0);
        let report = run_until_shutdown(&lifecycle, async { ran.fetch_add(1, SeqCst) }).await;
        assert_eq!(report.reason(), ShutdownReason::InitFailed);
        assert_eq!(report.init_error().and_then(InitError::name), Some("bad"));
        assert!(!report.is_clean());
        assert_eq!(ran.load(SeqCst), 0);
    }
);

/// A run phase that fails `failures` times, logging the instant of every attempt, then
/// serves until shutdown.
fn flaky_runner(clock: &VirtualClock, attempts: &Log, failures: usize) -> FnComponent {
    let (clock, attempts) = (clock.clone(), attempts.clone());
    let count = Arc::new(AtomicUsize::new(0));
    FnComponent::new().on_run(move |cx: Context| {
        let (clock, attempts, count) = (clock.clone(), attempts.clone(), count.clone());
        async move {
            attempts.push(format!("{:?}", clock.elapsed()));
            if count.fetch_add(1, SeqCst) < failures {
                return Err::<(), BoxError>("crashed".into());
            }
            cx.shutdown().wait().await;
            Ok(())
        }
    })
}

runtime_test!(
    async fn a_run_that_fails_twice_restarts_on_the_given_delays() {
        let clock = VirtualClock::new();
        let attempts = Log::default();
        let events = Log::default();
        let mut builder = builder(&clock);
        let sink = events.clone();
        builder.on_event(move |event| sink.push(event.to_string()));
        builder.component("server", flaky_runner(&clock, &attempts, 2)).restart([
            ms(10),
            ms(20),
            ms(40),
        ]);
        let lifecycle = builder.build().unwrap();
        let shutdown = lifecycle.shutdown().clone();
        let stop = async {
            clock.run_for(ms(100)).await;
            shutdown.trigger();
        };
        let (report, ()) =
            futures::join!(run_until_shutdown(&lifecycle, std::future::pending::<()>()), stop);
        assert_eq!(attempts.lines(), ["0ns", "10ms", "30ms"], "restarted after 10 then 20 ms");
        assert_eq!(report.reason(), ShutdownReason::Triggered);
        assert!(report.is_clean(), "{report}");
        let restarts: Vec<String> =
            events.lines().into_iter().filter(|line| line.contains("restart")).collect();
        assert_eq!(
            restarts,
            [
                "run of server failed: crashed; restart 1 in 10ms",
                "run of server failed: crashed; restart 2 in 20ms"
            ]
        );
    }
);

runtime_test!(
    async fn a_run_that_keeps_failing_shuts_down_when_the_delays_run_out() {
        let clock = VirtualClock::new();
        let attempts = Log::default();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", instant(&clock, &log, "db"));
        builder
            .component("server", flaky_runner(&clock, &attempts, usize::MAX))
            .after("db")
            .restart(std::iter::repeat_n(ms(5), 3));
        let lifecycle = builder.build().unwrap();
        let report =
            drive(&clock, run_until_shutdown(&lifecycle, std::future::pending::<()>())).await;
        assert_eq!(report.reason(), ShutdownReason::RunFailed);
        let (name, outcome) = report.run_failure().unwrap();
        assert_eq!(name, "server");
        assert!(matches!(outcome, Outcome::Failed(_)));
        assert_eq!(attempts.lines(), ["0ns", "5ms", "10ms", "15ms"]);
        assert_eq!(log.lines(), ["init db", "deinit db"]);
        assert!(!report.is_clean());
    }
);

runtime_test!(
    async fn a_panicking_run_restarts_like_a_failing_one() {
        let clock = VirtualClock::new();
        let count = Arc::new(AtomicUsize::new(0));
        let runs = count.clone();
        let mut builder = builder(&clock);
        builder
            .component(
                "server",
                FnComponent::new().on_run(move |cx: Context| {
                    let runs = runs.clone();
                    async move {
                        if runs.fetch_add(1, SeqCst) == 0 {
                            panic!("first run panics");
                        }
                        cx.shutdown().wait().await;
                        Ok::<_, BoxError>(())
                    }
                }),
            )
            .restart([ms(1)]);
        let lifecycle = builder.build().unwrap();
        let shutdown = lifecycle.shutdown().clone();
        let stop = async {
            clock.run_for(ms(10)).await;
            shutdown.trigger();
        };
        let (report, ()) =
            futures::join!(run_until_shutdown(&lifecycle, std::future::pending::<()>()), stop);
        assert!(report.is_clean(), "{report}");
        assert_eq!(count.load(SeqCst), 2);
    }
);

runtime_test!(
    async fn shutdown_during_a_restart_delay_stops_promptly() {
        let clock = VirtualClock::new();
        let attempts = Log::default();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", instant(&clock, &log, "db"));
        builder
            .component("server", flaky_runner(&clock, &attempts, usize::MAX))
            .after("db")
            .restart([Duration::from_secs(3600)]);
        let lifecycle = builder.build().unwrap();
        let shutdown = lifecycle.shutdown().clone();
        let stop = async {
            clock.run_for(ms(5)).await;
            shutdown.trigger();
        };
        let (report, ()) =
            futures::join!(run_until_shutdown(&lifecycle, std::future::pending::<()>()), stop);
        assert_eq!(report.reason(), ShutdownReason::Triggered);
        assert_eq!(clock.elapsed(), ms(5), "did not wait out the hour");
        assert_eq!(clock.pending_sleepers(), 0, "the restart delay was cancelled");
        assert_eq!(attempts.lines(), ["0ns"]);
        assert_eq!(log.lines(), ["init db", "deinit db"]);
    }
);

runtime_test!(
    async fn run_phases_work_under_a_spawned_driver(rt) {
        // The same lifecycle driven from a spawned task, triggered from here.
        let clock = VirtualClock::new();
        let attempts = Log::default();
        let mut builder = builder(&clock);
        builder.component("server", flaky_runner(&clock, &attempts, 1)).restart([ms(10)]);
        let lifecycle = builder.build().unwrap();
        let driven = lifecycle.clone();
        let task = rt.spawn(async move {
            run_until_shutdown(&driven, std::future::pending::<()>()).await.is_clean()
        });
        // Wait until the first run failed and its restart delay is registered.
        lifecycle.events("server").unwrap().wait(Phase::Run, Stage::Started).await;
        while clock.pending_sleepers() == 0 {
            yield_now().await;
        }
        clock.run_for(ms(20)).await;
        lifecycle.shutdown().trigger();
        assert!(task.await);
        assert_eq!(attempts.lines(), ["0ns", "10ms"]);
    }
);

// --- signals ----------------------------------------------------------------------------

/// Signals are process-wide: one test at a time raises one, and only while its handler is
/// registered (an unhandled SIGTERM would end the whole test process).
#[cfg(unix)]
static SIGNALS: async_lock::Mutex<()> = async_lock::Mutex::new(());

#[cfg(unix)]
runtime_test!(
    async fn a_sigterm_raised_in_process_shuts_down_cleanly() {
        use asynchronously::lifecycle::StopSignal;

        let _one_at_a_time = SIGNALS.lock().await;
        let clock = VirtualClock::new();
        let log = Log::default();
        let mut builder = builder(&clock);
        builder.component("db", instant(&clock, &log, "db"));
        builder.component("api", instant(&clock, &log, "api")).after("db");
        let lifecycle = builder.build().unwrap();
        // Registered when `on_signals` returns, before the signal is raised.
        let signals = lifecycle.shutdown().on_signals().unwrap();
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
            .unwrap();
        let (report, signal) =
            futures::join!(run_until_shutdown(&lifecycle, std::future::pending::<()>()), signals);
        assert_eq!(signal.unwrap(), Some(StopSignal::Terminate));
        assert_eq!(report.reason(), ShutdownReason::Triggered);
        assert!(report.is_clean(), "{report}");
        assert_eq!(log.lines(), ["init db", "init api", "deinit api", "deinit db"]);
    }
);

#[cfg(unix)]
runtime_test!(
    async fn the_signal_worker_ends_when_shutdown_fires_another_way() {
        let _one_at_a_time = SIGNALS.lock().await;
        let lifecycle = Lifecycle::builder().build().unwrap();
        let signals = lifecycle.shutdown().on_signals().unwrap();
        let (report, signal) = futures::join!(run_until_shutdown(&lifecycle, async {}), signals);
        assert_eq!(report.reason(), ShutdownReason::MainReturned);
        assert_eq!(signal.unwrap(), None);
    }
);

// --- properties ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On any DAG (edges only from later to earlier components), every component starts
    /// after all its dependencies and stops before all of them.
    #[test]
    fn any_dag_initialises_in_dependency_order_and_deinitialises_in_reverse(
        edges in proptest::collection::vec((1usize..20, 0usize..19), 0..60),
    ) {
        let log = Log::default();
        let mut dependencies = vec![Vec::new(); 20];
        for (dependent, dependency) in edges {
            if dependency < dependent {
                dependencies[dependent].push(dependency);
            }
        }
        let mut builder = Lifecycle::builder();
        for (index, deps) in dependencies.iter().enumerate() {
            builder
                .component(format!("c{index}"), counter_component(&log, format!("c{index}")))
                .after_all(deps.iter().map(|dep| format!("c{dep}")));
        }
        let lifecycle = builder.build().unwrap();
        futures::executor::block_on(lifecycle.init()).unwrap();
        let report = futures::executor::block_on(lifecycle.deinit());
        prop_assert!(report.is_ok());
        let position = |prefix: &str| -> HashMap<String, usize> {
            log.of(prefix).into_iter().enumerate().map(|(at, name)| (name, at)).collect()
        };
        let (inits, deinits) = (position("init "), position("deinit "));
        prop_assert_eq!(inits.len(), 20);
        prop_assert_eq!(deinits.len(), 20);
        for (index, deps) in dependencies.iter().enumerate() {
            let me = format!("c{index}");
            for dep in deps {
                let dep = format!("c{dep}");
                prop_assert!(inits[&dep] < inits[&me], "{} started before {}", me, dep);
                prop_assert!(deinits[&me] < deinits[&dep], "{} stopped after {}", me, dep);
            }
        }
    }
}
