use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use futures_timer::Delay;

use crate::Clock;

/// How long [`RunFor`] waits, in real time, for a woken sleeper to be polled before it fails
/// the test instead of hanging it.
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// After a wake-up observed on another thread, how long (real time) the clock must be quiet
/// before [`RunFor`] moves on, so the woken code can register its next sleep.
const SETTLE_WINDOW: Duration = Duration::from_micros(500);

/// Upper bound on settle windows per step, so a busy neighbour cannot stall `run_for`.
const MAX_SETTLE_WINDOWS: u32 = 200;

/// Upper bound on yields per step while joined code reacts to a wake-up (see `Phase::Yielding`).
const MAX_REACTION_YIELDS: u32 = 64;

/// Consecutive yields without a sleeper registering or leaving after which joined code is
/// taken to have reacted: code may yield this many times minus one before it sleeps again.
const QUIET_YIELDS: u32 = 3;

/// A clock for tests: time stands still until the test moves it.
///
/// Clones share one timeline. It works on any executor, multi-threaded ones included.
/// Time moves in two ways:
///
/// - [`advance`](Self::advance) / [`advance_to`](Self::advance_to) jump at once and wake every
///   due sleeper in deadline order (ties in registration order). They never wait: use them
///   when the test polls the future under test by hand.
/// - [`run_for`](Self::run_for) / [`run_until`](Self::run_until) step through the pending
///   deadlines in order. At each one they set `now` to that deadline, wake the sleepers due,
///   and move on only after each woken sleeper has observed its wake-up (its sleep returned
///   `Ready` or was dropped). A sleep registered in reaction therefore fires at its exact
///   virtual instant within the same call. Use them when the code under test runs in spawned
///   tasks or is joined with the call.
///
/// A sleep registers with the clock on its first poll; [`pending_sleepers`](Self::pending_sleepers)
/// counts the registered ones.
///
/// # Multi-threaded executors
///
/// When the code under test is joined with `run_for` (for example with `futures::join!`), or
/// runs on the same thread, reactions are seen deterministically: after the wake-ups of a
/// step, `run_for` yields to the executor until three yields in a row pass with no sleeper
/// registering or leaving, so code that yields once or twice before it sleeps again (a
/// zero-delay retry, say) still gets its next sleep in before time moves on. When a wake-up is observed
/// on another thread (a task spawned on tokio's multi-thread runtime), `run_for` also waits
/// until the clock has been quiet for a short real-time window before it moves on, so that
/// the woken task can register its next sleep. Join the code under test with `run_for` for
/// exact, fastest stepping.
///
/// # Examples
///
/// Polling by hand with `advance`:
///
/// ```
/// use std::pin::pin;
/// use std::task::{Context, Waker};
/// use std::time::Duration;
///
/// use asynchronously_time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let mut sleep = pin!(clock.sleep(Duration::from_secs(60)));
/// let mut cx = Context::from_waker(Waker::noop());
///
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// clock.advance(Duration::from_secs(59));
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// clock.advance(Duration::from_secs(1));
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// ```
///
/// Stepping with `run_for`, so that each reaction happens at its exact instant:
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_time::{Clock, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let start = clock.now();
/// let ticker = async {
///     let mut seen = Vec::new();
///     for _ in 0..3 {
///         clock.sleep(Duration::from_millis(100)).await;
///         seen.push(clock.now() - start);
///     }
///     seen
/// };
/// let (seen, ()) = futures::join!(ticker, clock.run_for(Duration::from_secs(1)));
/// assert_eq!(seen, [100, 200, 300].map(Duration::from_millis));
/// assert_eq!(clock.now() - start, Duration::from_secs(1));
/// # });
/// ```
#[derive(Clone)]
pub struct VirtualClock {
    shared: Arc<Shared>,
}

/// Future returned by [`VirtualClock::sleep`](Clock::sleep) and
/// [`VirtualClock::sleep_until`](Clock::sleep_until).
///
/// # Cancel safety
///
/// Dropping it removes it from the clock; a `run_for` waiting for it to observe a wake-up
/// counts the drop as the observation.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_time::{Clock, VirtualClock, VirtualSleep};
///
/// let clock = VirtualClock::new();
/// let sleep: VirtualSleep = clock.sleep(Duration::from_secs(1));
/// clock.advance(Duration::from_secs(1));
/// sleep.await; // due: completes on the first poll
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct VirtualSleep {
    shared: Arc<Shared>,
    /// `None` means "never".
    deadline: Option<Instant>,
    /// The key this sleep is registered under, once polled.
    key: Option<Key>,
}

/// Future returned by [`VirtualClock::run_for`] and [`VirtualClock::run_until`].
///
/// # Cancel safety
///
/// Dropping it stops the stepping where it is: `now` stays at the last deadline reached, the
/// sleepers already woken stay woken, and no later `run_for` waits for them.
///
/// # Panics
///
/// Polling it panics if a woken sleeper is not polled within the stall timeout (10 seconds
/// of real time by default, see [`VirtualClock::set_stall_timeout`]) — the usual cause is a
/// future under test that is awaited only after `run_for` returns — or if another `run_for`
/// on the same clock is in progress.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously_time::{RunFor, VirtualClock};
///
/// let clock = VirtualClock::new();
/// let run: RunFor = clock.run_for(Duration::from_secs(3));
/// run.await;
/// assert_eq!(clock.elapsed(), Duration::from_secs(3));
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RunFor {
    clock: VirtualClock,
    id: u64,
    target: Target,
    phase: Phase,
    /// Real-time stall detector: armed once, re-armed only when it fires early for the
    /// current step, so stepping does not touch the timer thread at every deadline.
    watchdog: Option<Delay>,
    /// Real-time timer for settle windows.
    settle: Option<Delay>,
}

/// Sleepers are ordered by deadline, then by registration.
type Key = (Instant, u64);

struct Shared {
    origin: Instant,
    next_run_for_id: AtomicU64,
    state: Mutex<State>,
}

struct State {
    now: Instant,
    next_seq: u64,
    /// Registered sleepers not yet woken.
    sleepers: BTreeMap<Key, Waker>,
    /// Sequence numbers of sleepers woken by the current `run_for` step and not yet observed.
    unobserved: HashSet<u64>,
    /// Whether a wake-up of the current step was observed off the `run_for` thread.
    observed_elsewhere: bool,
    /// The `run_for` in progress, if any.
    runner: Option<Runner>,
    /// Bumped by every interaction with the clock; `run_for` uses it to see quiet.
    activity: u64,
    /// Bumped when a sleeper registers, completes or is dropped while registered: the
    /// changes a reaction to a wake-up makes, which `run_for` waits to stop.
    changes: u64,
    stall_timeout: Duration,
}

struct Runner {
    id: u64,
    thread: ThreadId,
    waker: Waker,
}

enum Target {
    After(Duration),
    At(Instant),
}

enum Phase {
    /// Fire the next due deadline, or finish.
    Step,
    /// Wait until every sleeper woken by this step has observed it.
    Waiting {
        since: Instant,
    },
    /// Wait until the clock has been quiet for a settle window.
    Settling {
        activity: u64,
        windows: u32,
    },
    /// Yield to the executor until a round passes in which no sleeper registered or left, so
    /// joined code that reacts to its wake-up only after a yield of its own (a zero-delay
    /// retry, say) registers its next sleep before time moves on.
    Yielding {
        changes: u64,
        quiet: u32,
        rounds: u32,
    },
    Done,
}

impl VirtualClock {
    /// Creates a clock whose time stands still at an arbitrary origin until moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let t0 = clock.now();
    /// assert_eq!(clock.now(), t0, "time stands still");
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(clock.now() - t0, Duration::from_secs(1));
    /// ```
    pub fn new() -> Self {
        // The only real-time read of a virtual clock: its origin, so its instants are ordinary
        // `Instant`s that compare and subtract like any other.
        let origin = Instant::now();
        let state = State {
            now: origin,
            next_seq: 0,
            sleepers: BTreeMap::new(),
            unobserved: HashSet::new(),
            observed_elsewhere: false,
            runner: None,
            activity: 0,
            changes: 0,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        };
        VirtualClock {
            shared: Arc::new(Shared {
                origin,
                next_run_for_id: AtomicU64::new(0),
                state: Mutex::new(state),
            }),
        }
    }

    /// Returns how much virtual time has passed since the clock was created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.advance(Duration::from_millis(250));
    /// assert_eq!(clock.elapsed(), Duration::from_millis(250));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.now() - self.shared.origin
    }

    /// Moves time forward by `duration` at once and wakes every sleeper now due.
    ///
    /// Sleepers are woken in deadline order, ties in registration order. It does not wait
    /// for them to run. Time saturates instead of overflowing: `advance(Duration::MAX)` wakes
    /// every sleeper with a representable deadline and never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.advance(Duration::from_secs(2));
    /// clock.advance(Duration::MAX); // saturates
    /// assert!(clock.elapsed() > Duration::from_secs(2));
    /// ```
    pub fn advance(&self, duration: Duration) {
        let wakers = {
            let mut state = self.shared.lock();
            let to = saturating_add(state.now, duration);
            state.now = to;
            state.take_due(false)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Moves time forward to `instant` at once and wakes every sleeper now due.
    ///
    /// An `instant` at or before `now()` changes nothing: time never goes backwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let later = clock.now() + Duration::from_secs(5);
    /// clock.advance_to(later);
    /// assert_eq!(clock.now(), later);
    /// ```
    pub fn advance_to(&self, instant: Instant) {
        let wakers = {
            let mut state = self.shared.lock();
            state.now = state.now.max(instant);
            state.take_due(false)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Steps through the pending deadlines of the next `duration`, letting woken code react.
    ///
    /// At each deadline it sets `now` to that deadline, wakes the sleepers due, and waits
    /// until each has observed its wake-up before looking for the next deadline. At the end,
    /// `now` is the start plus `duration`. The code under test must make progress while this
    /// runs: spawn it, or join it with this future.
    ///
    /// # Cancel safety
    ///
    /// See [`RunFor`]: dropping it leaves the clock at the last deadline reached.
    ///
    /// # Panics
    ///
    /// The returned future panics with an explanation if a woken sleeper is not polled
    /// within the stall timeout, or if another `run_for` on this clock is in progress.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let job = async {
    ///     clock.sleep(Duration::from_millis(10)).await;
    ///     // Registered in reaction, fires at exactly 10 + 5 ms.
    ///     clock.sleep(Duration::from_millis(5)).await;
    ///     clock.elapsed()
    /// };
    /// let (finished_at, ()) = futures::join!(job, clock.run_for(Duration::from_millis(100)));
    /// assert_eq!(finished_at, Duration::from_millis(15));
    /// # });
    /// ```
    pub fn run_for(&self, duration: Duration) -> RunFor {
        self.runner(Target::After(duration))
    }

    /// Steps through the pending deadlines up to `instant`, like [`run_for`](Self::run_for).
    ///
    /// # Cancel safety
    ///
    /// See [`RunFor`].
    ///
    /// # Panics
    ///
    /// As [`run_for`](Self::run_for).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let until = clock.now() + Duration::from_secs(1);
    /// clock.run_until(until).await;
    /// assert_eq!(clock.now(), until);
    /// # });
    /// ```
    pub fn run_until(&self, instant: Instant) -> RunFor {
        self.runner(Target::At(instant))
    }

    /// Returns how many sleeps are registered (polled at least once) and not yet woken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let mut sleep = pin!(clock.sleep(Duration::from_secs(1)));
    /// assert_eq!(clock.pending_sleepers(), 0, "registered on first poll");
    /// let _ = sleep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(clock.pending_sleepers(), 1);
    /// ```
    pub fn pending_sleepers(&self) -> usize {
        self.shared.lock().sleepers.len()
    }

    /// Returns the earliest deadline among the registered sleepers, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// assert_eq!(clock.next_deadline(), None);
    /// let mut sleep = pin!(clock.sleep(Duration::from_secs(3)));
    /// let _ = sleep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(clock.next_deadline(), Some(clock.now() + Duration::from_secs(3)));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.shared.lock().sleepers.keys().next().map(|&(deadline, _)| deadline)
    }

    /// Sets how long `run_for` waits, in real time, for a woken sleeper to be polled before
    /// it panics with an explanation. The default is 10 seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously_time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.set_stall_timeout(Duration::from_secs(30));
    /// ```
    pub fn set_stall_timeout(&self, timeout: Duration) {
        self.shared.lock().stall_timeout = timeout;
    }

    fn runner(&self, target: Target) -> RunFor {
        RunFor {
            clock: self.clone(),
            id: self.shared.next_run_for_id.fetch_add(1, Ordering::Relaxed),
            target,
            phase: Phase::Step,
            watchdog: None,
            settle: None,
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    type Sleep = VirtualSleep;

    fn now(&self) -> Instant {
        let mut state = self.shared.lock();
        state.activity += 1;
        state.now
    }

    fn sleep_until(&self, deadline: Instant) -> VirtualSleep {
        VirtualSleep { shared: Arc::clone(&self.shared), deadline: Some(deadline), key: None }
    }

    fn sleep(&self, duration: Duration) -> VirtualSleep {
        let deadline = self.shared.lock().now.checked_add(duration);
        VirtualSleep { shared: Arc::clone(&self.shared), deadline, key: None }
    }

    fn reset(&self, sleep: &mut VirtualSleep, deadline: Instant) {
        sleep.deregister();
        sleep.shared = Arc::clone(&self.shared);
        sleep.deadline = Some(deadline);
    }
}

impl fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("VirtualClock")
            .field("elapsed", &(state.now - self.shared.origin))
            .field("pending_sleepers", &state.sleepers.len())
            .finish_non_exhaustive()
    }
}

impl VirtualSleep {
    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = {
                let mut state = self.shared.lock();
                state.activity += 1;
                state.changes += 1;
                state.sleepers.remove(&key);
                state.observe(key.1)
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else { return Poll::Pending };
        let this = &mut *self;
        let mut state = this.shared.lock();
        state.activity += 1;
        if state.now >= deadline {
            let runner = this.key.take().and_then(|key| {
                state.changes += 1;
                state.sleepers.remove(&key);
                state.observe(key.1)
            });
            drop(state);
            if let Some(waker) = runner {
                waker.wake();
            }
            return Poll::Ready(());
        }
        match this.key {
            Some(key) => match state.sleepers.get_mut(&key) {
                Some(waker) => waker.clone_from(cx.waker()),
                // Only a due sleeper leaves the map, and time never goes back; re-register
                // defensively rather than lose the waker.
                None => {
                    state.sleepers.insert(key, cx.waker().clone());
                }
            },
            None => {
                let key = (deadline, state.next_seq);
                state.next_seq += 1;
                state.changes += 1;
                state.sleepers.insert(key, cx.waker().clone());
                this.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for VirtualSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualSleep")
            .field("deadline", &self.deadline.map(|deadline| deadline - self.shared.origin))
            .field("registered", &self.key.is_some())
            .finish()
    }
}

impl RunFor {
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.phase {
                Phase::Done => return Poll::Ready(()),
                Phase::Step => {
                    let mut state = self.clock.shared.lock();
                    self.claim(&mut state, cx);
                    let target = match self.target {
                        Target::At(instant) => instant,
                        Target::After(duration) => {
                            let instant = saturating_add(state.now, duration);
                            self.target = Target::At(instant);
                            instant
                        }
                    };
                    match state.sleepers.keys().next() {
                        Some(&(deadline, _)) if deadline <= target => {
                            state.now = state.now.max(deadline);
                            state.observed_elsewhere = false;
                            let wakers = state.take_due(true);
                            drop(state);
                            wakers.into_iter().for_each(Waker::wake);
                            self.phase = Phase::Waiting { since: Instant::now() };
                        }
                        _ => {
                            state.now = state.now.max(target);
                            state.runner = None;
                            self.phase = Phase::Done;
                        }
                    }
                }
                Phase::Waiting { since } => {
                    let mut state = self.clock.shared.lock();
                    self.claim(&mut state, cx);
                    if state.unobserved.is_empty() {
                        self.phase = if state.observed_elsewhere {
                            Phase::Settling { activity: state.activity, windows: 0 }
                        } else {
                            Phase::Yielding { changes: state.changes, quiet: 0, rounds: 0 }
                        };
                        drop(state);
                        if matches!(self.phase, Phase::Settling { .. }) {
                            self.arm_settle();
                        }
                        continue;
                    }
                    let stall_timeout = state.stall_timeout;
                    let stalled = state.unobserved.len();
                    let at = state.now - self.clock.shared.origin;
                    drop(state);
                    let watchdog = self.watchdog.get_or_insert_with(|| Delay::new(stall_timeout));
                    loop {
                        if Pin::new(&mut *watchdog).poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        let waited = since.elapsed();
                        if waited >= stall_timeout {
                            panic!(
                                "VirtualClock::run_for: {stalled} sleeper(s) woken at +{at:?} were \
                                 not polled within {stall_timeout:?} of real time; the future \
                                 that owns a sleep must be polled while run_for runs (spawn it, \
                                 or join it with run_for), or use advance() when polling by hand"
                            );
                        }
                        // Armed during an earlier step: wait out the rest of this one's budget.
                        watchdog.reset(stall_timeout - waited);
                    }
                }
                Phase::Yielding { changes, quiet, rounds } => {
                    let now_changes = self.clock.shared.lock().changes;
                    let quiet = if now_changes == changes { quiet + 1 } else { 0 };
                    if rounds == 0 || (quiet < QUIET_YIELDS && rounds < MAX_REACTION_YIELDS) {
                        self.phase =
                            Phase::Yielding { changes: now_changes, quiet, rounds: rounds + 1 };
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    self.phase = Phase::Step;
                }
                Phase::Settling { activity, windows } => {
                    let settle = self.settle.get_or_insert_with(|| Delay::new(SETTLE_WINDOW));
                    if Pin::new(settle).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let state = self.clock.shared.lock();
                    let quiet = state.activity == activity && state.unobserved.is_empty();
                    let now_activity = state.activity;
                    drop(state);
                    if quiet || windows >= MAX_SETTLE_WINDOWS {
                        self.phase = Phase::Step;
                    } else {
                        self.phase =
                            Phase::Settling { activity: now_activity, windows: windows + 1 };
                        self.arm_settle();
                    }
                }
            }
        }
    }

    /// Registers this `run_for` as the clock's runner, with the current waker and thread.
    fn claim(&self, state: &mut State, cx: &mut Context<'_>) {
        match &mut state.runner {
            Some(runner) if runner.id != self.id => panic!(
                "VirtualClock::run_for: another run_for on this clock is still in progress; \
                 await one before starting the next"
            ),
            Some(runner) => {
                runner.waker.clone_from(cx.waker());
                runner.thread = thread::current().id();
            }
            slot @ None => {
                *slot = Some(Runner {
                    id: self.id,
                    thread: thread::current().id(),
                    waker: cx.waker().clone(),
                });
            }
        }
    }

    fn arm_settle(&mut self) {
        match &mut self.settle {
            Some(timer) => timer.reset(SETTLE_WINDOW),
            None => self.settle = Some(Delay::new(SETTLE_WINDOW)),
        }
    }
}

impl Future for RunFor {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.step(cx)
    }
}

impl Drop for RunFor {
    fn drop(&mut self) {
        let mut state = self.clock.shared.lock();
        if state.runner.as_ref().is_some_and(|runner| runner.id == self.id) {
            state.runner = None;
            state.unobserved.clear();
        }
    }
}

impl fmt::Debug for RunFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Step => "step",
            Phase::Waiting { .. } => "waiting for woken sleepers",
            Phase::Settling { .. } => "settling",
            Phase::Yielding { .. } => "yielding to woken code",
            Phase::Done => "done",
        };
        f.debug_struct("RunFor").field("phase", &phase).finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Removes the sleepers due at `now`, in deadline then registration order, and returns
    /// their wakers. With `track`, the current `run_for` step waits for each to observe it.
    fn take_due(&mut self, track: bool) -> Vec<Waker> {
        self.activity += 1;
        let mut due = Vec::new();
        while let Some(entry) = self.sleepers.first_entry() {
            let (deadline, seq) = *entry.key();
            if deadline > self.now {
                break;
            }
            due.push(entry.remove());
            if track {
                self.unobserved.insert(seq);
            }
        }
        due
    }

    /// Records that sleeper `seq` observed its wake-up. Returns the runner's waker when that
    /// was the last one it waited for.
    fn observe(&mut self, seq: u64) -> Option<Waker> {
        if !self.unobserved.remove(&seq) {
            return None;
        }
        let runner = self.runner.as_ref()?;
        if runner.thread != thread::current().id() {
            self.observed_elsewhere = true;
        }
        self.unobserved.is_empty().then(|| runner.waker.clone())
    }
}

/// `instant + duration`, saturating at the latest instant the platform can represent.
fn saturating_add(instant: Instant, duration: Duration) -> Instant {
    if let Some(sum) = instant.checked_add(duration) {
        return sum;
    }
    let mut sum = instant;
    let mut step = duration;
    while !step.is_zero() {
        step /= 2;
        if let Some(next) = sum.checked_add(step) {
            sum = next;
        }
    }
    sum
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<VirtualClock>();
    assert_send_sync_unpin::<VirtualSleep>();
    assert_send_sync_unpin::<RunFor>();
};
