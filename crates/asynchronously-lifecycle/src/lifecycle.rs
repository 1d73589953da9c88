use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::component::DynComponent;
use crate::context::{Registry, lock};
use crate::graph::Edges;
use crate::{
    BoxError, ComponentEvents, Context, DeinitReport, DependencyError, InitError, LifecycleBuilder,
    LifecycleEvent, Outcome, Phase, Shutdown, Stage,
};

/// Named components that start in dependency order, stop in reverse, and roll back.
///
/// Build one with [`Lifecycle::builder`]. [`init`](Lifecycle::init) starts every component
/// as soon as its dependencies finished (independent ones concurrently, each exactly once);
/// [`deinit`](Lifecycle::deinit) stops them in reverse. [`run_until_shutdown`](crate::run_until_shutdown)
/// does both around your `main` and the components' run phases.
///
/// Nothing is spawned: the phases run inside the futures you await, on whatever runtime
/// polls them. Cloning is cheap and shares the lifecycle.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::{Arc, Mutex};
///
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle};
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let logged = |name: &'static str| {
///     let (init_log, deinit_log) = (log.clone(), log.clone());
///     FnComponent::new()
///         .on_init(move |_| {
///             init_log.lock().unwrap().push(format!("start {name}"));
///             async { Ok::<_, BoxError>(()) }
///         })
///         .on_deinit(move |_| {
///             deinit_log.lock().unwrap().push(format!("stop {name}"));
///             async { Ok::<_, BoxError>(()) }
///         })
/// };
/// let mut builder = Lifecycle::builder();
/// builder.component("database", logged("database"));
/// builder.component("server", logged("server")).after("database");
/// let lifecycle = builder.build()?;
///
/// lifecycle.init().await?;
/// assert!(lifecycle.deinit().await.is_ok());
/// assert_eq!(
///     *log.lock().unwrap(),
///     ["start database", "start server", "stop server", "stop database"]
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Lifecycle<C: Clock = RealClock> {
    pub(crate) shared: Arc<Shared<C>>,
}

pub(crate) struct Shared<C> {
    pub(crate) registry: Arc<Registry>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) clock: C,
    init_timeout: Option<Duration>,
    deinit_timeout: Option<Duration>,
    control: Mutex<Control>,
}

pub(crate) struct Node {
    pub(crate) component: Box<dyn DynComponent>,
    pub(crate) init_timeout: Option<Duration>,
    pub(crate) deinit_timeout: Option<Duration>,
    pub(crate) restart: Mutex<Option<Box<dyn Iterator<Item = Duration> + Send>>>,
}

struct Control {
    init: InitState,
    deinit: DeinitState,
    status: Vec<Status>,
}

enum InitState {
    Idle,
    Running,
    Done(Result<(), InitError>),
}

enum DeinitState {
    Idle,
    Running,
    Done(DeinitReport),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Idle,
    Initialised,
    Deinitialised,
}

impl<C: Clock> Shared<C> {
    pub(crate) fn new(
        registry: Arc<Registry>,
        nodes: Vec<Node>,
        clock: C,
        init_timeout: Option<Duration>,
        deinit_timeout: Option<Duration>,
    ) -> Self {
        let len = nodes.len();
        Shared {
            registry,
            nodes,
            clock,
            init_timeout,
            deinit_timeout,
            control: Mutex::new(Control {
                init: InitState::Idle,
                deinit: DeinitState::Idle,
                status: vec![Status::Idle; len],
            }),
        }
    }

    pub(crate) fn context(&self, node: usize) -> Context {
        Context { registry: Arc::clone(&self.registry), node }
    }

    /// Wraps one phase of one component: contains panics, applies its timeout.
    pub(crate) fn guard<'a>(
        &'a self,
        node: usize,
        future: BoxFuture<'a, Result<(), BoxError>>,
        timeout: Option<Duration>,
    ) -> Guarded<'a, C> {
        let deadline = timeout.map(|timeout| (timeout, self.clock.deadline_after(timeout)));
        Guarded { node, future, deadline, sleep: None, clock: &self.clock }
    }

    fn finished(&self, node: usize, phase: Phase, outcome: &Outcome) {
        self.registry.mark(node, phase, Stage::Finished);
        self.registry.emit(&LifecycleEvent::Finished {
            name: &self.registry.names[node],
            phase,
            outcome,
        });
    }

    pub(crate) fn finished_run(&self, node: usize, outcome: &Outcome) {
        self.finished(node, Phase::Run, outcome);
    }

    fn notify(&self) {
        self.registry.notify_changed();
    }
}

/// One phase of one component, with its panic contained and its timeout applied.
pub(crate) struct Guarded<'a, C: Clock> {
    node: usize,
    future: BoxFuture<'a, Result<(), BoxError>>,
    deadline: Option<(Duration, Option<Instant>)>,
    sleep: Option<C::Sleep>,
    clock: &'a C,
}

impl<C: Clock> Future for Guarded<'_, C> {
    type Output = (usize, Outcome);

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<(usize, Outcome)> {
        let this = &mut *self;
        match catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(Poll::Ready(result)) => {
                return Poll::Ready((this.node, Outcome::from_result(result)));
            }
            Err(payload) => return Poll::Ready((this.node, Outcome::from_panic(&*payload))),
            Ok(Poll::Pending) => {}
        }
        if let Some((timeout, Some(deadline))) = this.deadline {
            let clock = this.clock;
            let sleep = this.sleep.get_or_insert_with(|| clock.sleep_until(deadline));
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready((this.node, Outcome::TimedOut(timeout)));
            }
        }
        Poll::Pending
    }
}

/// Walks one phase's plan: starts each component once its predecessors finished, polls it
/// at once (most phases finish on their first poll, with no task bookkeeping), and keeps the
/// pending ones in a `FuturesUnordered`.
struct Schedule<'a, C: Clock> {
    shared: &'a Shared<C>,
    phase: Phase,
    waits: Vec<u32>,
    releases: &'a Edges,
    ready: VecDeque<u32>,
    running: FuturesUnordered<Guarded<'a, C>>,
    /// Components this pass does not run (already initialised, or never initialised).
    skip: Vec<bool>,
    started: Vec<bool>,
}

impl<'a, C: Clock> Schedule<'a, C> {
    fn new(
        shared: &'a Shared<C>,
        phase: Phase,
        waits: &[u32],
        releases: &'a Edges,
        skip: Vec<bool>,
    ) -> Self {
        let ready = (0..waits.len() as u32).filter(|&node| waits[node as usize] == 0).collect();
        Schedule {
            shared,
            phase,
            waits: waits.to_vec(),
            releases,
            ready,
            running: FuturesUnordered::new(),
            started: vec![false; skip.len()],
            skip,
        }
    }

    /// Counts `node` as finished for its successors.
    fn release(&mut self, node: usize) {
        for &next in self.releases.of(node) {
            let waits = &mut self.waits[next as usize];
            *waits -= 1;
            if *waits == 0 {
                self.ready.push_back(next);
            }
        }
    }

    fn start(&self, node: usize) -> Guarded<'a, C> {
        let shared = self.shared;
        let entry = &shared.nodes[node];
        let cx = shared.context(node);
        match self.phase {
            Phase::Init => shared.guard(node, entry.component.init(cx), entry.init_timeout),
            _ => shared.guard(node, entry.component.deinit(cx), entry.deinit_timeout),
        }
    }

    /// The next component to finish, or `None` once every one has.
    fn poll_next(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<(usize, Outcome)>> {
        loop {
            if let Some(node) = self.ready.pop_front() {
                let node = node as usize;
                if self.skip[node] {
                    self.release(node);
                    continue;
                }
                self.started[node] = true;
                self.shared.registry.mark(node, self.phase, Stage::Started);
                let mut phase = self.start(node);
                match Pin::new(&mut phase).poll(cx) {
                    Poll::Ready(finished) => return Poll::Ready(Some(finished)),
                    Poll::Pending => self.running.push(phase),
                }
                continue;
            }
            return match self.running.poll_next_unpin(cx) {
                Poll::Ready(Some(finished)) => Poll::Ready(Some(finished)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    /// Waits for the next component to finish, the overall deadline, or the end.
    async fn next(&mut self, overall: &mut Option<C::Sleep>) -> Next {
        poll_fn(|cx| {
            if let Poll::Ready(next) = self.poll_next(cx) {
                return Poll::Ready(match next {
                    Some((node, outcome)) => Next::Finished(node, outcome),
                    None => Next::Done,
                });
            }
            if let Some(sleep) = overall {
                if Pin::new(sleep).poll(cx).is_ready() {
                    return Poll::Ready(Next::Deadline);
                }
            }
            Poll::Pending
        })
        .await
    }
}

enum InitFailure {
    Component(usize, Outcome),
    Deadline(usize, Vec<String>),
}

enum Next {
    Finished(usize, Outcome),
    Done,
    Deadline,
}

/// Puts the lifecycle back to "not running" if an `init` or `deinit` future is dropped
/// before it finished, keeping what the components reached, so a later call resumes.
struct Claim<'a, C: Clock> {
    shared: &'a Shared<C>,
    phase: Phase,
    status: Vec<Status>,
    done: bool,
}

impl<C: Clock> Drop for Claim<'_, C> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut control = lock(&self.shared.control);
        control.status = std::mem::take(&mut self.status);
        match self.phase {
            Phase::Init => control.init = InitState::Idle,
            _ => control.deinit = DeinitState::Idle,
        }
        drop(control);
        self.shared.notify();
    }
}

impl Lifecycle<RealClock> {
    /// Starts registering components.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle`].
    pub fn builder() -> LifecycleBuilder<RealClock> {
        LifecycleBuilder::new()
    }
}

impl<C: Clock> Lifecycle<C> {
    /// Initialises every component in dependency order; independent ones concurrently.
    ///
    /// Each component's `init` starts as soon as the `init` of each of its dependencies
    /// finished, and runs exactly once, however many dependents share it. A second call, from
    /// anywhere, waits for the first and returns its result; a call after `deinit()` began
    /// fails with [`InitError::Deinitialised`].
    ///
    /// On the first failure — an error, a panic (contained), a component's init timeout, or
    /// the overall init timeout — the components still initialising are cancelled (dropped),
    /// the ones already initialised are deinitialised in reverse order (a rollback, as in
    /// [`deinit`](Self::deinit)), and the error names the component and carries the
    /// rollback's report. Components never started are not touched.
    ///
    /// # Errors
    ///
    /// [`InitError`], as above.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the components still initialising; the ones that finished
    /// stay initialised. A later `init()` initialises the rest (a caller already waiting
    /// takes over); `deinit()` deinitialises the ones that finished.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle`] and [`InitError`].
    pub async fn init(&self) -> Result<(), InitError> {
        let shared = &*self.shared;
        let registry = &*shared.registry;
        let (status, plan) = loop {
            let listener = {
                let mut control = lock(&shared.control);
                match &control.init {
                    InitState::Done(result) => return result.clone(),
                    InitState::Idle if !matches!(control.deinit, DeinitState::Idle) => {
                        return Err(InitError::Deinitialised);
                    }
                    InitState::Idle => {
                        control.init = InitState::Running;
                        let mut graph = lock(&registry.graph);
                        graph.init_frozen = true;
                        break (control.status.clone(), Arc::clone(&graph.plan));
                    }
                    InitState::Running => shared.registry.listen(),
                }
            };
            listener.await;
        };
        let mut claim = Claim { shared, phase: Phase::Init, status, done: false };
        for node in 0..registry.len() {
            if !registry.has(node, Phase::Init, Stage::Scheduled) {
                registry.mark(node, Phase::Init, Stage::Scheduled);
            }
        }
        let skip = claim.status.iter().map(|&status| status == Status::Initialised).collect();
        let mut schedule =
            Schedule::new(shared, Phase::Init, &plan.init_waits, &plan.init_releases, skip);
        let timeout = shared.init_timeout;
        let mut overall = timeout
            .and_then(|timeout| shared.clock.deadline_after(timeout))
            .map(|deadline| shared.clock.sleep_until(deadline));
        let failure = loop {
            match schedule.next(&mut overall).await {
                Next::Finished(node, Outcome::Ok) => {
                    claim.status[node] = Status::Initialised;
                    shared.finished(node, Phase::Init, &Outcome::Ok);
                    schedule.release(node);
                }
                Next::Finished(node, outcome) => {
                    shared.finished(node, Phase::Init, &outcome);
                    break Some(InitFailure::Component(node, outcome));
                }
                Next::Done => break None,
                Next::Deadline => {
                    let pending: Vec<usize> = (0..registry.len())
                        .filter(|&node| claim.status[node] != Status::Initialised)
                        .collect();
                    let first = pending
                        .iter()
                        .copied()
                        .find(|&node| schedule.started[node])
                        .unwrap_or(pending[0]);
                    let pending = pending.iter().map(|&node| registry.names[node].to_string());
                    break Some(InitFailure::Deadline(first, pending.collect()));
                }
            }
        };
        // Cancel the components still initialising before rolling back.
        drop(schedule);
        let result = match failure {
            None => Ok(()),
            Some(failure) => {
                let rollback = self.deinit_pass(&mut claim.status).await;
                Err(match failure {
                    InitFailure::Component(node, outcome) => {
                        let name = registry.names[node].to_string();
                        match outcome {
                            Outcome::Failed(source) => InitError::Failed { name, source, rollback },
                            Outcome::Panicked(message) => {
                                InitError::Panicked { name, message, rollback }
                            }
                            _ => InitError::TimedOut {
                                name,
                                timeout: shared.nodes[node].init_timeout.unwrap_or(Duration::MAX),
                                rollback,
                            },
                        }
                    }
                    InitFailure::Deadline(node, pending) => InitError::DeadlineExceeded {
                        name: registry.names[node].to_string(),
                        pending,
                        timeout: timeout.unwrap_or(Duration::MAX),
                        rollback,
                    },
                })
            }
        };
        let mut control = lock(&shared.control);
        control.status = std::mem::take(&mut claim.status);
        control.init = InitState::Done(result.clone());
        claim.done = true;
        drop(control);
        shared.notify();
        if result.is_ok() {
            registry.emit(&LifecycleEvent::Ready);
        }
        result
    }

    /// Deinitialises every initialised component in reverse dependency order.
    ///
    /// A component's `deinit` starts once every component that depends on it (and every
    /// component it was told to [`deinit_after`](crate::ComponentOptions::deinit_after)) has
    /// finished its `deinit`; independent ones run concurrently. A failure, panic or timeout
    /// does not stop the others: every outcome is in the report, by name. Components whose
    /// `init` never succeeded are skipped. Values they [provided](Context::provide) are
    /// dropped after their `deinit`.
    ///
    /// If `init()` is running, this waits for it to finish first (to stop a start-up that
    /// hangs, drop the `init` future, as [`run_until_shutdown`](crate::run_until_shutdown)
    /// does on a shutdown trigger). A second call waits for the first and returns its report.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the components still deinitialising (they stay
    /// initialised); the ones that finished stay deinitialised. A later `deinit()`
    /// deinitialises the rest.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle`] and [`DeinitReport`].
    pub async fn deinit(&self) -> DeinitReport {
        let shared = &*self.shared;
        let status = loop {
            let listener = {
                let mut control = lock(&shared.control);
                match (&control.deinit, &control.init) {
                    (DeinitState::Done(report), _) => return report.clone(),
                    (DeinitState::Running, _) | (DeinitState::Idle, InitState::Running) => {
                        shared.registry.listen()
                    }
                    (DeinitState::Idle, _) => {
                        control.deinit = DeinitState::Running;
                        break control.status.clone();
                    }
                }
            };
            listener.await;
        };
        shared.notify();
        let mut claim = Claim { shared, phase: Phase::Deinit, status, done: false };
        let report = self.deinit_pass(&mut claim.status).await;
        let mut control = lock(&shared.control);
        control.status = std::mem::take(&mut claim.status);
        control.deinit = DeinitState::Done(report.clone());
        claim.done = true;
        drop(control);
        shared.notify();
        report
    }

    /// Deinitialises the components marked initialised in `status`, in reverse order.
    async fn deinit_pass(&self, status: &mut [Status]) -> DeinitReport {
        let shared = &*self.shared;
        let registry = &*shared.registry;
        let plan = {
            let mut graph = lock(&registry.graph);
            graph.deinit_frozen = true;
            Arc::clone(&graph.plan)
        };
        let skip: Vec<bool> = status.iter().map(|&status| status != Status::Initialised).collect();
        for node in (0..registry.len()).filter(|&node| !skip[node]) {
            registry.mark(node, Phase::Deinit, Stage::Scheduled);
        }
        let mut schedule =
            Schedule::new(shared, Phase::Deinit, &plan.deinit_waits, &plan.deinit_releases, skip);
        let timeout = shared.deinit_timeout;
        let mut overall = timeout
            .and_then(|timeout| shared.clock.deadline_after(timeout))
            .map(|deadline| shared.clock.sleep_until(deadline));
        let mut outcomes = Vec::new();
        let mut record = |node: usize, outcome: Outcome, status: &mut [Status]| {
            status[node] = Status::Deinitialised;
            shared.finished(node, Phase::Deinit, &outcome);
            registry.clear_provided(node);
            outcomes.push((Arc::clone(&registry.names[node]), outcome));
        };
        let deadline_passed = loop {
            match schedule.next(&mut overall).await {
                Next::Finished(node, outcome) => {
                    record(node, outcome, status);
                    schedule.release(node);
                }
                Next::Done => break false,
                Next::Deadline => break true,
            }
        };
        // Cancel what is still running before reporting it.
        drop(schedule);
        if deadline_passed {
            let timeout = timeout.unwrap_or(Duration::MAX);
            for node in 0..status.len() {
                if status[node] == Status::Initialised {
                    record(node, Outcome::DeadlineExceeded(timeout), status);
                }
            }
        }
        DeinitReport { outcomes: outcomes.into() }
    }

    /// Returns whether every component finished `init` successfully and `deinit` has not
    /// begun.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// assert!(!lifecycle.is_ready());
    /// lifecycle.init().await?;
    /// assert!(lifecycle.is_ready());
    /// lifecycle.deinit().await;
    /// assert!(!lifecycle.is_ready());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_ready(&self) -> bool {
        let control = lock(&self.shared.control);
        readiness(&control) == Some(true)
    }

    /// Waits until the lifecycle is ready (`true`), or until it cannot become ready:
    /// `init` failed or `deinit` began (`false`).
    ///
    /// For a readiness probe: it does not start `init` itself.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only unregisters its wake-up.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// let (ready, result) = futures::join!(lifecycle.ready(), lifecycle.init());
    /// result?;
    /// assert!(ready);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn ready(&self) -> bool {
        loop {
            let listener = {
                let control = lock(&self.shared.control);
                if let Some(ready) = readiness(&control) {
                    return ready;
                }
                self.shared.registry.listen()
            };
            listener.await;
        }
    }

    /// Adds an init dependency after building: `dependent`'s `init` waits for
    /// `dependency`'s, and `dependency`'s `deinit` waits for `dependent`'s.
    ///
    /// # Errors
    ///
    /// [`DependencyError::AlreadyScheduled`] once `init()` (or `deinit()`) was called, as in
    /// the seed; [`DependencyError::UnknownComponent`]; [`DependencyError::Cycle`], leaving
    /// the graph unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("server", FnComponent::new());
    /// builder.component("database", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// lifecycle.add_dependency("server", "database")?;
    /// lifecycle.init().await?;
    /// assert_eq!(lifecycle.deinit().await.names().collect::<Vec<_>>(), ["server", "database"]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn add_dependency(&self, dependent: &str, dependency: &str) -> Result<(), DependencyError> {
        self.add_edge(Phase::Init, dependent, dependency)
    }

    /// Adds a deinit-only ordering after building: `later`'s `deinit` waits for
    /// `earlier`'s (see [`ComponentOptions::deinit_after`](crate::ComponentOptions::deinit_after)).
    ///
    /// # Errors
    ///
    /// [`DependencyError::AlreadyScheduled`] once `deinit()` was called (or an `init` failed
    /// and rolled back); [`DependencyError::UnknownComponent`]; [`DependencyError::Cycle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// builder.component("http", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// lifecycle.add_deinit_dependency("database", "http")?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_deinit_dependency(&self, later: &str, earlier: &str) -> Result<(), DependencyError> {
        self.add_edge(Phase::Deinit, later, earlier)
    }

    fn add_edge(&self, phase: Phase, waiter: &str, waited: &str) -> Result<(), DependencyError> {
        let registry = &*self.shared.registry;
        let find = |name: &str| {
            registry
                .index
                .get(name)
                .copied()
                .ok_or_else(|| DependencyError::UnknownComponent { name: name.to_owned() })
        };
        let (waiter, waited) = (find(waiter)?, find(waited)?);
        let mut graph = lock(&registry.graph);
        if phase == Phase::Init && graph.init_frozen {
            return Err(DependencyError::AlreadyScheduled { phase: Phase::Init });
        }
        if graph.deinit_frozen {
            return Err(DependencyError::AlreadyScheduled { phase: Phase::Deinit });
        }
        let mut changed = graph.clone();
        match phase {
            Phase::Init => changed.init_after[waiter].push(waited),
            _ => changed.deinit_after[waiter].push(waited),
        }
        changed.plan = changed.plan().map_err(|cycle| DependencyError::Cycle {
            phase: cycle.phase,
            names: cycle.members.iter().map(|&member| registry.names[member].to_string()).collect(),
        })?;
        *graph = changed;
        Ok(())
    }

    /// Returns the milestones of the component named `name`, or `None` if there is none.
    ///
    /// # Examples
    ///
    /// See [`ComponentEvents`].
    pub fn events(&self, name: &str) -> Option<ComponentEvents> {
        let &node = self.shared.registry.index.get(name)?;
        Some(ComponentEvents { registry: Arc::clone(&self.shared.registry), node })
    }

    /// Returns the value of type `T` the component named `name` [provided](Context::provide).
    ///
    /// # Examples
    ///
    /// See [`Component`](crate::Component).
    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let &node = self.shared.registry.index.get(name)?;
        self.shared.registry.find(node)
    }

    /// Returns the shutdown trigger that [`run_until_shutdown`](crate::run_until_shutdown)
    /// waits for.
    ///
    /// # Examples
    ///
    /// See [`run_until_shutdown`](crate::run_until_shutdown).
    pub fn shutdown(&self) -> &Shutdown {
        &self.shared.registry.shutdown
    }

    /// Returns the component names, in registration order.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// builder.component("server", FnComponent::new());
    /// assert_eq!(builder.build()?.names().collect::<Vec<_>>(), ["database", "server"]);
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.shared.registry.names.iter().map(|name| &**name)
    }

    /// Returns how many components are registered.
    ///
    /// # Examples
    ///
    /// See [`FnComponent::new`](crate::FnComponent::new).
    pub fn len(&self) -> usize {
        self.shared.registry.len()
    }

    /// Returns whether no component is registered.
    ///
    /// # Examples
    ///
    /// See [`LifecycleBuilder::new`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the clock timeouts and restart delays are measured on.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Lifecycle;
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let lifecycle = Lifecycle::builder().with_clock(clock.clone()).build()?;
    /// assert_eq!(lifecycle.clock().now(), clock.now());
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn clock(&self) -> &C {
        &self.shared.clock
    }
}

/// `Some(true)` when ready, `Some(false)` when it can no longer become ready, `None` when
/// it may yet.
fn readiness(control: &Control) -> Option<bool> {
    match (&control.init, &control.deinit) {
        (_, DeinitState::Running | DeinitState::Done(_)) | (InitState::Done(Err(_)), _) => {
            Some(false)
        }
        (InitState::Done(Ok(())), DeinitState::Idle) => {
            Some(control.status.iter().all(|&status| status == Status::Initialised))
        }
        _ => None,
    }
}

impl<C: Clock> Clone for Lifecycle<C> {
    fn clone(&self) -> Self {
        Lifecycle { shared: Arc::clone(&self.shared) }
    }
}

impl<C: Clock> fmt::Debug for Lifecycle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.names().collect();
        f.debug_struct("Lifecycle")
            .field("components", &names)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lifecycle>();
    assert_send_sync::<Lifecycle<asynchronously_time::VirtualClock>>();
};
