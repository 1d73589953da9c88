use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};
use pin_project::{pin_project, pinned_drop};

use crate::children::Children;
use crate::control::{CancelToken, GroupHandle};
use crate::spawner::{Exit, Shared, Spawner};
use crate::task_handle::ChildSlot;
use crate::{Failure, GroupError};

/// A group of child futures driven together as one future, with a body that adds children
/// while it runs; nothing is spawned on a runtime.
///
/// [`run`](TaskGroup::run) polls the body and every child. Children are added through a
/// [`Spawner`] (cloneable, `Send`, usable from the body, from children and from other
/// tasks) and each yields its result through a [`TaskHandle`](crate::TaskHandle). Modes:
///
/// - [`ErrorMode::CancelOthers`] (default, aiotools `TaskGroup`): the first child failure
///   drops the body and every other child and is returned as [`GroupError::Failed`].
/// - [`ErrorMode::KeepGoing`] (aiotools `TaskScope`): a failure goes to the child's
///   handle; if the handle was dropped, or nobody read the failure by the time the group
///   exits, it goes to the [`on_error`](TaskGroup::on_error) or
///   [`on_failure`](TaskGroup::on_failure) handler or, without one, into
///   [`GroupOutcome::unhandled`]. A panicking child is contained: its handle yields
///   [`TaskError::Panicked`](crate::TaskError::Panicked) and the message goes to the
///   `on_failure` handler, or else is listed in [`GroupOutcome::panicked`].
/// - [`ErrorMode::Ignore`] (the seed's `Supervisor`): failures and panics go to the child's
///   handle if it still exists, and are otherwise discarded; nothing is reported at exit.
/// - [`ExitMode::Wait`] (default): once the body finished, wait for every child.
///   [`ExitMode::Cancel`]: drop the unfinished children when the body finishes.
///   [`ExitMode::WaitAndReport`] (async-tamer's scope): wait, and count in
///   [`GroupOutcome::unawaited`] the values no handle took.
/// - [`timeout`](TaskGroup::timeout), measured on the group's [`Clock`]: on expiry the body
///   and all children are dropped and [`GroupError::TimedOut`] is returned.
/// - Shutdown from anywhere through a [`GroupHandle`] ([`handle`](TaskGroup::handle)): the
///   group's [`CancelToken`] is cancelled, the body and children get the
///   [`grace`](TaskGroup::grace) period to finish, then the rest is dropped.
/// - A child can be cancelled alone with [`TaskHandle::abort`](crate::TaskHandle::abort).
///
/// A finished child is dropped at once, and its place is reused, so a long-lived group holds
/// only its unfinished children; with a handler, nothing is kept for a child that ended.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{ErrorMode, TaskGroup};
///
/// let group = TaskGroup::new().error_mode(ErrorMode::KeepGoing);
/// let spawner = group.spawner();
/// let ok = spawner.spawn(async { Ok::<_, &str>(1) });
/// drop(spawner.spawn(async { Err::<u8, _>("lost") }));
/// let outcome = group.run(async {}).await.unwrap();
/// assert_eq!(ok.await, Ok(1));
/// assert_eq!(outcome.unhandled, ["lost"]);
/// # });
/// ```
#[must_use = "a task group does nothing until you `.await` its `run`"]
pub struct TaskGroup<'a, E, C: Clock = RealClock> {
    shared: Closer<'a, E>,
    error_mode: ErrorMode,
    exit_mode: ExitMode,
    handler: Option<Handler<'a, E>>,
    timeout: Option<Duration>,
    grace: Duration,
    /// Why the settings contradict each other, if they do: `run` then fails at once.
    conflict: Option<&'static str>,
    /// Whether `error_mode` was called (so `on_error` does not silently override it).
    mode_set: bool,
    clock: C,
}

/// Where failures nobody consumed go.
enum Handler<'a, E> {
    /// Errors only (`on_error`); panics are listed in the outcome.
    Errors(Box<dyn FnMut(E) + Send + 'a>),
    /// Errors and panics (`on_failure`).
    Failures(Box<dyn FnMut(Failure<E>) + Send + 'a>),
}

impl<E> Handler<'_, E> {
    fn error(&mut self, error: E) {
        match self {
            Handler::Errors(handler) => handler(error),
            Handler::Failures(handler) => handler(Failure::Error(error)),
        }
    }
}

/// What a [`TaskGroup`] does when a child fails.
///
/// # Examples
///
/// ```
/// use asynchronously::gather::{ErrorMode, TaskGroup};
///
/// let _group = TaskGroup::<()>::new().error_mode(ErrorMode::KeepGoing);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorMode {
    /// Drop the body and every other child, and return the error (aiotools `TaskGroup`).
    #[default]
    CancelOthers,
    /// Keep going; the failure goes to the child's handle, else to the handler or the
    /// outcome (aiotools `TaskScope`).
    KeepGoing,
    /// Keep going; the failure goes to the child's handle if it still exists, and is
    /// otherwise discarded, like a panic (the seed's `Supervisor`). Nothing is reported at
    /// exit, so no handler can be set.
    Ignore,
}

/// What a [`TaskGroup`] does with unfinished children when its body finishes.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::{ExitMode, TaskGroup};
///
/// let _background = TaskGroup::<()>::new().exit_mode(ExitMode::Cancel);
///
/// let group = TaskGroup::<()>::new().exit_mode(ExitMode::WaitAndReport);
/// let forgotten = group.spawner().spawn(async { Ok(7) });
/// drop(forgotten);
/// let outcome = group.run(async {}).await.unwrap();
/// assert_eq!(outcome.unawaited, 1, "a value nobody took is reported");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitMode {
    /// Wait for every child (children may still be added).
    #[default]
    Wait,
    /// Drop every unfinished child, and refuse new ones: for background loops that live as
    /// long as the body.
    Cancel,
    /// Wait for every child, as [`Wait`](ExitMode::Wait) does, and count in
    /// [`GroupOutcome::unawaited`] the children whose value nobody took by the time the
    /// group ended: their handle was dropped (before the value came, or after) or still
    /// holds it unread. async-tamer's scope, which leaves no result behind unnoticed;
    /// failures nobody read are in [`GroupOutcome::unhandled`] in every mode. The group
    /// keeps a record per unread value until it ends.
    WaitAndReport,
}

/// How a [`TaskGroup`] ended when it was not cut short.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::gather::TaskGroup;
///
/// let outcome = TaskGroup::<()>::new().run(async { "body" }).await.unwrap();
/// assert_eq!((outcome.value, outcome.cancelled), ("body", 0));
/// assert!(outcome.unhandled.is_empty());
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupOutcome<T, E> {
    /// The body's output.
    pub value: T,
    /// Failures nobody consumed (no handle read them and there is no handler), in the order
    /// they were reported.
    pub unhandled: Vec<E>,
    /// Messages of the children that panicked under [`ErrorMode::KeepGoing`], which contains
    /// panics (their handles yield [`TaskError::Panicked`](crate::TaskError::Panicked)).
    pub panicked: Vec<String>,
    /// Children dropped unfinished: at exit ([`ExitMode::Cancel`]), after a shutdown's grace
    /// period, or aborted through their handles.
    pub cancelled: usize,
    /// Under [`ExitMode::WaitAndReport`], children that succeeded but whose value no handle
    /// took by the end; 0 in the other modes.
    pub unawaited: usize,
}

impl<'a, E: Send + 'a> TaskGroup<'a, E> {
    /// A group with the defaults: cancel the others on error, wait for all at exit, no
    /// timeout, on the real clock.
    ///
    /// # Examples
    ///
    /// See [`TaskGroup`].
    pub fn new() -> Self {
        Self {
            shared: Closer(Shared::new()),
            error_mode: ErrorMode::default(),
            exit_mode: ExitMode::default(),
            handler: None,
            timeout: None,
            grace: Duration::ZERO,
            conflict: None,
            mode_set: false,
            clock: RealClock,
        }
    }
}

impl<'a, E: Send + 'a> Default for TaskGroup<'a, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, E: Send + 'a, C: Clock> TaskGroup<'a, E, C> {
    /// A handle to add children, before or while the group runs.
    ///
    /// # Examples
    ///
    /// See [`Spawner`].
    pub fn spawner(&self) -> Spawner<'a, E> {
        Spawner::new(Arc::clone(&self.shared.0))
    }

    /// A handle to shut the group down from anywhere (see [`GroupHandle`]).
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn handle(&self) -> GroupHandle {
        GroupHandle::new(Arc::clone(&self.shared.0.control))
    }

    /// The token cancelled when the group is shut down, for the body to await (children
    /// get it from [`Spawner::token`]).
    ///
    /// # Examples
    ///
    /// See [`CancelToken`].
    pub fn token(&self) -> CancelToken {
        CancelToken::new(Arc::clone(&self.shared.0.control))
    }

    /// Sets what happens when a child fails.
    ///
    /// A mode other than [`ErrorMode::KeepGoing`] after [`on_error`](TaskGroup::on_error) or
    /// [`on_failure`](TaskGroup::on_failure) contradicts the handler: the group's future
    /// then fails at once with [`GroupError::Conflict`] instead of ignoring either setting.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::gather::{ErrorMode, GroupError, TaskGroup};
    ///
    /// let group = TaskGroup::<()>::new().on_error(drop).error_mode(ErrorMode::CancelOthers);
    /// assert!(matches!(group.run(async {}).await, Err(GroupError::Conflict(_))));
    /// # });
    /// ```
    pub fn error_mode(mut self, mode: ErrorMode) -> Self {
        if self.handler.is_some() && mode != ErrorMode::KeepGoing {
            self.conflict = Some(
                "error_mode was set to a mode other than KeepGoing after on_error or on_failure, \
                 which need KeepGoing; drop one of the two settings",
            );
        }
        self.error_mode = mode;
        self.mode_set = true;
        self
    }

    /// Sets what happens to unfinished children when the body finishes.
    ///
    /// # Examples
    ///
    /// See [`ExitMode`].
    pub fn exit_mode(mut self, mode: ExitMode) -> Self {
        self.exit_mode = mode;
        self
    }

    /// Keeps going on child failures ([`ErrorMode::KeepGoing`]) and hands every failure
    /// nobody consumed to `handler`, instead of [`GroupOutcome::unhandled`].
    ///
    /// # Panics
    ///
    /// A panic of the handler propagates to the caller of the group's future.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Mutex;
    ///
    /// use asynchronously::gather::TaskGroup;
    ///
    /// let seen = Mutex::new(Vec::new());
    /// let group = TaskGroup::new().on_error(|error| seen.lock().unwrap().push(error));
    /// drop(group.spawner().spawn(async { Err::<(), _>("down") }));
    /// group.run(async {}).await.unwrap();
    /// assert_eq!(*seen.lock().unwrap(), ["down"]);
    /// # });
    /// ```
    pub fn on_error(self, handler: impl FnMut(E) + Send + 'a) -> Self {
        self.with_handler(Handler::Errors(Box::new(handler)))
    }

    /// Like [`on_error`](TaskGroup::on_error), and the handler also receives every panic of
    /// a child ([`Failure::Panic`]), which then is not listed in [`GroupOutcome::panicked`]:
    /// nothing is kept for a child that ended, however many fail.
    ///
    /// # Panics
    ///
    /// A panic of the handler propagates to the caller of the group's future.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Mutex;
    ///
    /// use asynchronously::gather::{Failure, TaskGroup};
    ///
    /// let seen = Mutex::new(Vec::new());
    /// let group = TaskGroup::new().on_failure(|failure| seen.lock().unwrap().push(failure));
    /// drop(group.spawner().spawn(async { Err::<(), _>("down") }));
    /// let outcome = group.run(async {}).await.unwrap();
    /// assert_eq!(*seen.lock().unwrap(), [Failure::Error("down")]);
    /// assert!(outcome.panicked.is_empty());
    /// # });
    /// ```
    pub fn on_failure(self, handler: impl FnMut(Failure<E>) + Send + 'a) -> Self {
        self.with_handler(Handler::Failures(Box::new(handler)))
    }

    fn with_handler(mut self, handler: Handler<'a, E>) -> Self {
        if self.mode_set && self.error_mode != ErrorMode::KeepGoing {
            self.conflict = Some(
                "on_error or on_failure was set on a group whose error_mode is not KeepGoing; \
                 drop one of the two settings",
            );
        }
        self.error_mode = ErrorMode::KeepGoing;
        self.handler = Some(handler);
        self
    }

    /// Cancels the body and every child if the group has not ended `timeout` after its
    /// first poll. `Duration::MAX` (or any duration past the clock's range) means never.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::gather::{GroupError, TaskGroup};
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let group = TaskGroup::<()>::new().with_clock(clock.clone()).timeout(Duration::from_secs(1));
    /// let sleeper = clock.clone();
    /// let run = group.run(async move { sleeper.sleep(Duration::from_secs(5)).await });
    /// let (outcome, ()) = futures::join!(run, clock.run_for(Duration::from_secs(2)));
    /// assert!(matches!(outcome, Err(GroupError::TimedOut { .. })));
    /// # });
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long a shutdown through a [`GroupHandle`] waits, after cancelling the
    /// [`CancelToken`], for the body and children to finish before dropping them (measured
    /// on the group's clock; zero, the default, drops them at once).
    ///
    /// If the body has finished by then, the group returns its outcome with the dropped
    /// children counted in [`GroupOutcome::cancelled`]; otherwise
    /// [`GroupError::ShutDown`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::gather::{TaskError, TaskGroup};
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let group = TaskGroup::<()>::new().with_clock(clock.clone()).grace(Duration::from_secs(1));
    /// let (spawner, handle) = (group.spawner(), group.handle());
    /// let token = spawner.token();
    /// // Stops cleanly when asked to.
    /// let polite = spawner.spawn(async move { token.cancelled().await; Ok("flushed") });
    /// // Ignores the token: dropped when the grace period ends.
    /// let stubborn = spawner.spawn(futures::future::pending::<Result<&str, ()>>());
    /// handle.shutdown();
    /// let (outcome, ()) = futures::join!(group.run(async {}), clock.run_for(Duration::from_secs(2)));
    /// assert_eq!(outcome.unwrap().cancelled, 1);
    /// assert_eq!(polite.await, Ok("flushed"));
    /// assert_eq!(stubborn.await, Err(TaskError::Cancelled));
    /// # });
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Measures the timeout on `clock` (a `VirtualClock` in tests).
    ///
    /// # Examples
    ///
    /// See [`timeout`](TaskGroup::timeout).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TaskGroup<'a, E, C2> {
        TaskGroup {
            shared: self.shared,
            error_mode: self.error_mode,
            exit_mode: self.exit_mode,
            handler: self.handler,
            timeout: self.timeout,
            grace: self.grace,
            conflict: self.conflict,
            mode_set: self.mode_set,
            clock,
        }
    }

    /// Runs `body` and the children until the group ends (see [`TaskGroup`]).
    ///
    /// # Examples
    ///
    /// See [`TaskGroup`].
    pub fn run<B: Future>(self, body: B) -> Run<'a, B, E, C> {
        Run {
            body: Some(body),
            value: None,
            children: Children::new(),
            sleep: None,
            grace: None,
            shutting_down: false,
            started: false,
            unread: Vec::new(),
            unread_values: Vec::new(),
            unawaited: 0,
            unhandled: Vec::new(),
            panicked: Vec::new(),
            cancelled: 0,
            group: self,
        }
    }
}

/// Closes the spawners when the group is dropped, so children queued in a group that never
/// runs are dropped and their handles report cancellation instead of waiting forever.
struct Closer<'a, E>(Arc<Shared<'a, E>>);

impl<E> Drop for Closer<'_, E> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<E, C: Clock> fmt::Debug for TaskGroup<'_, E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("error_mode", &self.error_mode)
            .field("exit_mode", &self.exit_mode)
            .field("has_handler", &self.handler.is_some())
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Future returned by [`TaskGroup::run`].
///
/// # Cancel safety
///
/// Dropping it drops the body and every child (their handles yield
/// [`TaskError::Cancelled`](crate::TaskError::Cancelled)) and closes the spawners.
///
/// # Errors
///
/// [`GroupError::Failed`] when a child fails under [`ErrorMode::CancelOthers`],
/// [`GroupError::TimedOut`] when the timeout elapses, [`GroupError::ShutDown`] when a
/// shutdown's grace period ends before the body did, [`GroupError::Conflict`] at once for
/// contradictory settings.
///
/// # Panics
///
/// A panic of the body or the error handler propagates to the caller. A child's panic is
/// contained under [`ErrorMode::KeepGoing`]; under [`ErrorMode::CancelOthers`] it drops the
/// body and every other child first, then resumes in the caller.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[pin_project(PinnedDrop)]
pub struct Run<'a, B: Future, E, C: Clock = RealClock> {
    #[pin]
    body: Option<B>,
    value: Option<B::Output>,
    children: Children<dyn Future<Output = Exit<'a, E>> + Send + 'a>,
    sleep: Option<C::Sleep>,
    /// The end of a shutdown's grace period.
    grace: Option<C::Sleep>,
    shutting_down: bool,
    started: bool,
    /// Failures delivered to live handles, reported at exit if still unread.
    unread: Vec<Arc<dyn ChildSlot<E> + 'a>>,
    /// Under [`ExitMode::WaitAndReport`], values stored for handles, counted at exit if
    /// still unread.
    unread_values: Vec<Arc<dyn ChildSlot<E> + 'a>>,
    /// Under [`ExitMode::WaitAndReport`], values dropped because their handle was gone.
    unawaited: usize,
    unhandled: Vec<E>,
    panicked: Vec<String>,
    cancelled: usize,
    group: TaskGroup<'a, E, C>,
}

/// At exit, hands the failures delivered to handles but never read to the handler, or
/// without one to `unhandled`; their handles then yield `Escalated`.
fn report_unread<'a, E>(
    unread: &mut Vec<Arc<dyn ChildSlot<E> + 'a>>,
    handler: &mut Option<Handler<'a, E>>,
    unhandled: &mut Vec<E>,
) {
    for slot in unread.drain(..) {
        if let Some(error) = slot.take_unread() {
            match handler {
                Some(handler) => handler.error(error),
                None => unhandled.push(error),
            }
        }
    }
}

/// Closes the group to newcomers and drops every child, queued or running; says how many.
fn cancel_children<'a, E>(
    children: &mut Children<dyn Future<Output = Exit<'a, E>> + Send + 'a>,
    shared: &Shared<'a, E>,
) -> usize {
    let running = children.len();
    let queued = shared.close();
    children.clear();
    running + queued
}

/// Keeps `slot` until exit; whenever the list doubles, first drops the slots `keep` says no
/// longer need keeping, so a long-lived group whose handles read their results stays small.
fn keep_unread<'a, E>(
    slots: &mut Vec<Arc<dyn ChildSlot<E> + 'a>>,
    slot: Arc<dyn ChildSlot<E> + 'a>,
    keep: impl FnMut(&Arc<dyn ChildSlot<E> + 'a>) -> bool,
) {
    if slots.len() >= 32 && slots.len().is_power_of_two() {
        slots.retain(keep);
    }
    slots.push(slot);
}

/// The values nobody took by exit: those dropped with their handle gone, and those stored
/// and still unread.
fn count_unawaited<E>(values: &mut Vec<Arc<dyn ChildSlot<E> + '_>>, discarded: usize) -> usize {
    discarded
        + values.drain(..).filter(|slot| slot.value_unread() || slot.value_discarded()).count()
}

/// The message of a panic payload, as `std` prints it.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

impl<'a, B: Future, E: Send + 'a, C: Clock> Future for Run<'a, B, E, C> {
    type Output = Result<GroupOutcome<B::Output, E>, GroupError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let group = &mut *this.group;
        if !*this.started {
            *this.started = true;
            if let Some(reason) = group.conflict {
                this.body.set(None);
                group.shared.0.close();
                return Poll::Ready(Err(GroupError::Conflict(reason)));
            }
            if let Some(deadline) = group.timeout.and_then(|t| group.clock.deadline_after(t)) {
                *this.sleep = Some(group.clock.sleep_until(deadline));
            }
        }
        if let Some(sleep) = this.sleep.as_mut() {
            if Pin::new(sleep).poll(cx).is_ready() {
                this.body.set(None);
                let cancelled = cancel_children(this.children, &group.shared.0);
                report_unread(this.unread, &mut group.handler, this.unhandled);
                let unhandled = std::mem::take(this.unhandled);
                return Poll::Ready(Err(GroupError::TimedOut { cancelled, unhandled }));
            }
        }
        group.shared.0.control.group.register(cx.waker());
        if !*this.shutting_down && group.shared.0.control.is_cancelled() {
            *this.shutting_down = true;
            if !group.grace.is_zero() {
                if let Some(deadline) = group.clock.deadline_after(group.grace) {
                    *this.grace = Some(group.clock.sleep_until(deadline));
                }
            }
        }
        if *this.shutting_down {
            let over = match this.grace.as_mut() {
                Some(grace) => Pin::new(grace).poll(cx).is_ready(),
                // A grace period past the clock's range never ends.
                None => false,
            };
            if over || group.grace.is_zero() {
                this.body.set(None);
                *this.cancelled += cancel_children(this.children, &group.shared.0);
                report_unread(this.unread, &mut group.handler, this.unhandled);
                return Poll::Ready(match this.value.take() {
                    Some(value) => Ok(GroupOutcome {
                        value,
                        unhandled: std::mem::take(this.unhandled),
                        panicked: std::mem::take(this.panicked),
                        cancelled: *this.cancelled,
                        unawaited: count_unawaited(this.unread_values, *this.unawaited),
                    }),
                    None => Err(GroupError::ShutDown {
                        cancelled: *this.cancelled,
                        unhandled: std::mem::take(this.unhandled),
                    }),
                });
            }
        }
        loop {
            if let Some(body) = this.body.as_mut().as_pin_mut() {
                if let Poll::Ready(value) = body.poll(cx) {
                    *this.value = Some(value);
                    this.body.set(None);
                    if group.exit_mode == ExitMode::Cancel {
                        *this.cancelled += cancel_children(this.children, &group.shared.0);
                    }
                }
            }
            // Children the body just spawned start in this same poll.
            for child in std::mem::take(&mut group.shared.0.lock().children) {
                this.children.push(child);
            }
            let mut pass = this.children.begin(cx);
            while let Poll::Ready(Some((_, exit))) = this.children.poll_next(&mut pass, |_| false) {
                let (error, slot) = match exit {
                    Exit::Succeeded(slot) => {
                        if group.exit_mode == ExitMode::WaitAndReport {
                            if slot.value_discarded() {
                                *this.unawaited += 1;
                            } else if slot.value_unread() {
                                // A value dropped unread is counted, and its slot let go.
                                let discarded = &mut *this.unawaited;
                                keep_unread(this.unread_values, slot, |slot| {
                                    if slot.value_discarded() {
                                        *discarded += 1;
                                        return false;
                                    }
                                    slot.value_unread()
                                });
                            }
                        }
                        continue;
                    }
                    Exit::Aborted => {
                        *this.cancelled += 1;
                        continue;
                    }
                    Exit::Failed(error, slot) => (error, slot),
                    Exit::Panicked(payload, slot) => {
                        let message = panic_message(payload.as_ref());
                        match group.error_mode {
                            ErrorMode::CancelOthers => {
                                // Siblings go first, then the panic resumes in our caller; the
                                // handle says the child panicked.
                                slot.deliver_panic(message);
                                this.body.set(None);
                                cancel_children(this.children, &group.shared.0);
                                std::panic::resume_unwind(payload);
                            }
                            ErrorMode::KeepGoing => {
                                if slot.handle_alive() {
                                    slot.deliver_panic(message.clone());
                                }
                                match &mut group.handler {
                                    Some(Handler::Failures(handler)) => {
                                        handler(Failure::Panic(message));
                                    }
                                    _ => this.panicked.push(message),
                                }
                            }
                            ErrorMode::Ignore => {
                                if slot.handle_alive() {
                                    slot.deliver_panic(message);
                                }
                            }
                        }
                        continue;
                    }
                };
                match group.error_mode {
                    ErrorMode::CancelOthers => {
                        slot.escalate();
                        this.body.set(None);
                        let cancelled = cancel_children(this.children, &group.shared.0);
                        return Poll::Ready(Err(GroupError::Failed { error, cancelled }));
                    }
                    ErrorMode::KeepGoing if slot.handle_alive() => {
                        slot.deliver(error);
                        keep_unread(this.unread, slot, |slot| slot.is_unread());
                    }
                    ErrorMode::KeepGoing => match &mut group.handler {
                        Some(handler) => handler.error(error),
                        None => this.unhandled.push(error),
                    },
                    ErrorMode::Ignore => {
                        if slot.handle_alive() {
                            slot.deliver(error);
                        }
                    }
                }
            }
            if this.body.is_some() || this.children.len() > 0 {
                return Poll::Pending;
            }
            // Close only if nothing was spawned meanwhile; otherwise run the newcomers.
            let mut incoming = group.shared.0.lock();
            if incoming.children.is_empty() {
                incoming.closed = true;
                break;
            }
        }
        report_unread(this.unread, &mut group.handler, this.unhandled);
        match this.value.take() {
            Some(value) => Poll::Ready(Ok(GroupOutcome {
                value,
                unhandled: std::mem::take(this.unhandled),
                panicked: std::mem::take(this.panicked),
                cancelled: *this.cancelled,
                unawaited: count_unawaited(this.unread_values, *this.unawaited),
            })),
            None => Poll::Pending,
        }
    }
}

#[pinned_drop]
impl<B: Future, E, C: Clock> PinnedDrop for Run<'_, B, E, C> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        cancel_children(this.children, &this.group.shared.0);
    }
}

impl<B: Future, E, C: Clock> fmt::Debug for Run<'_, B, E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("group", &self.group)
            .field("body_running", &self.body.is_some())
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}
