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
use crate::clock::{NEVER_AFTER, within_reach};

/// How long [`RunFor`] waits, in real time, for a woken sleeper to be polled before it fails
/// the test instead of hanging it.
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long (real time) the clock must be quiet before [`RunFor`] takes a step, unless every
/// task woken by the previous step is already asleep on the clock again.
const DEFAULT_SETTLE_WINDOW: Duration = Duration::from_millis(5);

/// Consecutive yields without clock activity that [`RunFor`] waits for after each step.
const DEFAULT_SETTLE_YIELDS: u32 = 16;

/// Upper bound on yields per step, so code that keeps reading the clock cannot stall `run_for`.
const MAX_SETTLE_ROUNDS: u32 = 4096;

/// A clock for tests: time stands still until the test moves it.
///
/// Clones share one timeline. It works on any executor, multi-threaded ones included.
/// Time moves in two ways:
///
/// - [`advance`](Self::advance) / [`advance_to`](Self::advance_to) jump at once and wake every
///   due sleeper in deadline order (ties in registration order). They never wait: use them
///   when the test polls the future under test by hand.
/// - [`run_for`](Self::run_for) / [`run_until`](Self::run_until) step through the pending
///   deadlines in order. Before the first step and after each one they let the code under
///   test react (see [the settle rule](#the-settle-rule)); at each step they set `now` to the
///   next deadline and wake the sleepers due. A sleep registered in reaction therefore fires at
///   its exact virtual instant within the same call. Use them when the code under test runs
///   in spawned tasks or is joined with the call.
///
/// A sleep registers with the clock on its first poll; [`pending_sleepers`](Self::pending_sleepers)
/// counts the registered ones and [`wait_for_sleepers`](Self::wait_for_sleepers) waits until
/// enough have registered.
///
/// # The settle rule
///
/// A clock cannot see the executor, so `run_for` decides that woken code has finished
/// reacting by the following rule, applied before its first step and after every step:
///
/// 1. Every sleeper woken by the step must observe its wake-up (its sleep is polled to
///    `Ready`, or dropped). A woken sleeper that is not polled within the
///    [stall timeout](Self::set_stall_timeout) is a loud failure: `run_for` panics with an
///    explanation instead of moving on.
/// 2. `run_for` then yields to the executor until [`settle_yields`](Self::set_settle_yields)
///    yields in a row (16 by default) pass without clock activity (a sleep registering,
///    completing or dropped while registered; polling a pending sleep or reading `now()` is
///    not activity). Code joined with `run_for`, or running on the same
///    thread, can yield that many times minus one (a zero-delay retry, a hop through a helper
///    task) before it sleeps again.
/// 3. Unless every task woken by the step is already asleep on the clock again, `run_for`
///    waits until the clock has been quiet for the [settle window](Self::set_settle_window)
///    (5 ms of real time by default), so a task on another thread that works for a few
///    milliseconds, or reacts through a channel or a helper task, registers its next sleep
///    first. Before the first step the window always applies, so code spawned just before
///    `run_for` reaches its first sleep. When every woken task is back on the clock but some
///    were woken on another thread, a tenth of the window applies.
///
/// A reaction that takes longer than the window without touching the clock is not waited
/// for: raise the window for such code, or make the test wait for it
/// ([`wait_for_sleepers`](Self::wait_for_sleepers)) before calling `run_for`. Joining the
/// code under test with `run_for` is the fastest and most exact way to step.
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
/// use asynchronously::time::{Clock, VirtualClock};
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
/// use asynchronously::time::{Clock, VirtualClock};
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
/// use asynchronously::time::{Clock, VirtualClock, VirtualSleep};
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
/// use asynchronously::time::{RunFor, VirtualClock};
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

/// Future returned by [`VirtualClock::wait_for_sleepers`].
///
/// # Cancel safety
///
/// Dropping it changes nothing on the clock.
///
/// # Panics
///
/// Polling it panics if the count is not reached within the stall timeout (10 seconds of real
/// time by default, see [`VirtualClock::set_stall_timeout`]).
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::time::{Clock, VirtualClock, WaitForSleepers};
///
/// let clock = VirtualClock::new();
/// let sleep = async {
///     clock.sleep(Duration::from_secs(1)).await;
///     clock.elapsed()
/// };
/// let wait: WaitForSleepers = clock.wait_for_sleepers(1);
/// let driver = async {
///     wait.await;
///     clock.advance(Duration::from_secs(1));
/// };
/// let (woke_at, ()) = futures::join!(sleep, driver);
/// assert_eq!(woke_at, Duration::from_secs(1));
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WaitForSleepers {
    clock: VirtualClock,
    count: usize,
    since: Option<Instant>,
    watchdog: Option<Delay>,
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
    /// Tasks woken by the current `run_for` step that have not registered a sleep since.
    away: Vec<Waker>,
    /// Whether a wake-up of the current step was observed off the `run_for` thread.
    observed_elsewhere: bool,
    /// The `run_for` in progress, if any.
    runner: Option<Runner>,
    /// Bumped when a sleeper registers, completes or is dropped while registered, and at each
    /// step: the changes a reaction to a wake-up makes, which `run_for` waits to stop.
    activity: u64,
    /// Tasks waiting in `wait_for_sleepers`, woken when a sleeper registers.
    watchers: Vec<Waker>,
    stall_timeout: Duration,
    settle_window: Duration,
    settle_yields: u32,
}

/// Wakers taken out of the state under its lock, dropped or woken after it is released:
/// waker code is foreign and may use the clock (a waker can own a `VirtualSleep`).
#[derive(Default)]
struct Deferred {
    wake: Vec<Waker>,
    drop: Vec<Waker>,
}

impl Deferred {
    fn run(self) {
        drop(self.drop);
        self.wake.into_iter().for_each(Waker::wake);
    }
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

#[derive(Clone, Copy)]
enum Phase {
    /// Fire the next due deadline, or finish.
    Step,
    /// Wait until every sleeper woken by this step has observed it.
    Waiting {
        since: Instant,
    },
    /// Yield to the executor until `settle_yields` rounds in a row pass without activity.
    Yielding {
        activity: u64,
        quiet: u32,
        rounds: u32,
        first: bool,
    },
    /// Wait until the clock has been quiet for a real-time settle window.
    Settling {
        activity: u64,
        since: Instant,
        first: bool,
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
            away: Vec::new(),
            observed_elsewhere: false,
            runner: None,
            activity: 0,
            watchers: Vec::new(),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            settle_window: DEFAULT_SETTLE_WINDOW,
            settle_yields: DEFAULT_SETTLE_YIELDS,
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
    /// use asynchronously::time::VirtualClock;
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
    /// use asynchronously::time::VirtualClock;
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
    /// use asynchronously::time::{Clock, VirtualClock};
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
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.set_stall_timeout(Duration::from_secs(30));
    /// ```
    pub fn set_stall_timeout(&self, timeout: Duration) {
        self.shared.lock().stall_timeout = timeout;
    }

    /// Sets how long `run_for` waits for the clock to be quiet, in real time, before it takes
    /// a step while a task it woke has not gone back to sleep on the clock (see
    /// [the settle rule](Self#the-settle-rule)). The default is 5 ms; raise it for code that
    /// works longer than that between two sleeps, lower it for faster stepping of code that
    /// always sleeps again at once. `Duration::ZERO` skips the window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.set_settle_window(Duration::from_millis(50)); // the code under test is slow
    /// ```
    pub fn set_settle_window(&self, window: Duration) {
        self.shared.lock().settle_window = window;
    }

    /// Sets how many yields in a row without clock activity `run_for` waits for before each
    /// step (see [the settle rule](Self#the-settle-rule)). The default is 16; zero still
    /// yields once.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// clock.set_settle_yields(64); // the joined code yields many times before it sleeps
    /// ```
    pub fn set_settle_yields(&self, yields: u32) {
        self.shared.lock().settle_yields = yields;
    }

    /// Waits until at least `count` sleeps are registered (polled and not yet woken).
    ///
    /// Useful before `run_for` or `advance` when the code under test runs in spawned tasks:
    /// time then moves only after each of them reached its sleep.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing on the clock.
    ///
    /// # Panics
    ///
    /// The returned future panics with an explanation if the count is not reached within the
    /// [stall timeout](Self::set_stall_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::{Clock, VirtualClock};
    ///
    /// let clock = VirtualClock::new();
    /// let ticker = async {
    ///     clock.sleep(Duration::from_secs(1)).await;
    ///     clock.elapsed()
    /// };
    /// let driver = async {
    ///     clock.wait_for_sleepers(1).await;
    ///     clock.advance(Duration::from_secs(1));
    /// };
    /// let (woke_at, ()) = futures::join!(ticker, driver);
    /// assert_eq!(woke_at, Duration::from_secs(1));
    /// # });
    /// ```
    pub fn wait_for_sleepers(&self, count: usize) -> WaitForSleepers {
        WaitForSleepers { clock: self.clone(), count, since: None, watchdog: None }
    }

    fn runner(&self, target: Target) -> RunFor {
        RunFor {
            clock: self.clone(),
            id: self.shared.next_run_for_id.fetch_add(1, Ordering::Relaxed),
            target,
            phase: Phase::Yielding { activity: 0, quiet: 0, rounds: 0, first: true },
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
        self.shared.lock().now
    }

    fn sleep_until(&self, deadline: Instant) -> VirtualSleep {
        let deadline = self.shared.lock().never_after(deadline);
        VirtualSleep { shared: Arc::clone(&self.shared), deadline, key: None }
    }

    fn sleep(&self, duration: Duration) -> VirtualSleep {
        // The same "never" as `RealClock`: no sleep of more than a century fires.
        let deadline = if duration > NEVER_AFTER {
            None
        } else {
            self.shared.lock().now.checked_add(duration)
        };
        VirtualSleep { shared: Arc::clone(&self.shared), deadline, key: None }
    }

    fn reset(&self, sleep: &mut VirtualSleep, deadline: Instant) {
        sleep.deregister();
        sleep.shared = Arc::clone(&self.shared);
        sleep.deadline = self.shared.lock().never_after(deadline);
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
            let mut deferred = Deferred::default();
            {
                let mut state = self.shared.lock();
                state.activity += 1;
                deferred.drop.extend(state.sleepers.remove(&key));
                state.observe(key.1, &mut deferred);
                state.changed(&mut deferred);
            }
            deferred.run();
        }
    }
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else { return Poll::Pending };
        let this = &mut *self;
        let mut deferred = Deferred::default();
        let mut state = this.shared.lock();
        if state.now >= deadline {
            if let Some(key) = this.key.take() {
                state.activity += 1;
                deferred.drop.extend(state.sleepers.remove(&key));
                state.observe(key.1, &mut deferred);
                state.changed(&mut deferred);
            }
            drop(state);
            deferred.run();
            return Poll::Ready(());
        }
        match this.key {
            Some(key) => match state.back(cx.waker(), &mut deferred).sleepers.get_mut(&key) {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                Some(waker) => deferred.drop.push(std::mem::replace(waker, cx.waker().clone())),
                // Only a due sleeper leaves the map, and time never goes back; re-register
                // defensively rather than lose the waker.
                None => {
                    deferred.drop.extend(state.sleepers.insert(key, cx.waker().clone()));
                }
            },
            None => {
                let key = (deadline, state.next_seq);
                state.next_seq += 1;
                state.activity += 1;
                deferred.drop.extend(state.sleepers.insert(key, cx.waker().clone()));
                this.key = Some(key);
                state.back(cx.waker(), &mut deferred);
                state.changed(&mut deferred);
            }
        }
        drop(state);
        deferred.run();
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
                    let mut deferred = Deferred::default();
                    let mut state = self.clock.shared.lock();
                    self.claim(&mut state, cx, &mut deferred);
                    let target = match self.target {
                        Target::At(instant) => instant,
                        Target::After(duration) => {
                            let instant = saturating_add(state.now, duration);
                            self.target = Target::At(instant);
                            instant
                        }
                    };
                    deferred.drop.append(&mut state.away);
                    match state.sleepers.keys().next() {
                        Some(&(deadline, _)) if deadline <= target => {
                            state.now = state.now.max(deadline);
                            state.observed_elsewhere = false;
                            deferred.wake = state.take_due(true);
                            self.phase = Phase::Waiting { since: Instant::now() };
                        }
                        _ => {
                            state.now = state.now.max(target);
                            deferred.drop.extend(state.runner.take().map(|runner| runner.waker));
                            self.phase = Phase::Done;
                        }
                    }
                    drop(state);
                    deferred.run();
                }
                Phase::Waiting { since } => {
                    let mut deferred = Deferred::default();
                    let mut state = self.clock.shared.lock();
                    self.claim(&mut state, cx, &mut deferred);
                    if state.unobserved.is_empty() {
                        self.phase = Phase::Yielding {
                            activity: state.activity,
                            quiet: 0,
                            rounds: 0,
                            first: false,
                        };
                        drop(state);
                        deferred.run();
                        continue;
                    }
                    let stall_timeout = state.stall_timeout;
                    let stalled = state.unobserved.len();
                    let at = state.now - self.clock.shared.origin;
                    drop(state);
                    deferred.run();
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
                Phase::Yielding { activity, quiet, rounds, first } => {
                    let mut deferred = Deferred::default();
                    let mut state = self.clock.shared.lock();
                    self.claim(&mut state, cx, &mut deferred);
                    let quiet = if state.activity == activity { quiet + 1 } else { 0 };
                    let wanted = state.settle_yields.max(1);
                    let now_activity = state.activity;
                    let window = self.window(&state, first);
                    drop(state);
                    deferred.run();
                    if rounds == 0 || (quiet < wanted && rounds < MAX_SETTLE_ROUNDS) {
                        self.phase = Phase::Yielding {
                            activity: now_activity,
                            quiet,
                            rounds: rounds + 1,
                            first,
                        };
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    if window.is_zero() {
                        self.phase = Phase::Step;
                    } else {
                        self.phase = Phase::Settling {
                            activity: now_activity,
                            since: Instant::now(),
                            first,
                        };
                        self.arm_settle(window);
                    }
                }
                Phase::Settling { activity, since, first } => {
                    if let Some(settle) = &mut self.settle {
                        if Pin::new(settle).poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    let state = self.clock.shared.lock();
                    let window = self.window(&state, first);
                    let now_activity = state.activity;
                    let stall_timeout = state.stall_timeout;
                    drop(state);
                    if now_activity != activity {
                        // Something touched the clock: the quiet starts again, now.
                        self.phase = Phase::Settling { activity: now_activity, since, first };
                        if since.elapsed() < stall_timeout {
                            self.arm_settle(window);
                            continue;
                        }
                        // Code that keeps reading the clock waits for time to move: let it.
                    }
                    self.phase = Phase::Step;
                }
            }
        }
    }

    /// The real-time quiet window the settle rule asks for now.
    fn window(&self, state: &State, first: bool) -> Duration {
        if first || !state.away.is_empty() {
            state.settle_window
        } else if state.observed_elsewhere {
            state.settle_window / 10
        } else {
            Duration::ZERO
        }
    }

    /// Registers this `run_for` as the clock's runner, with the current waker and thread.
    fn claim(&self, state: &mut State, cx: &mut Context<'_>, deferred: &mut Deferred) {
        match &mut state.runner {
            Some(runner) if runner.id != self.id => panic!(
                "VirtualClock::run_for: another run_for on this clock is still in progress; \
                 await one before starting the next"
            ),
            Some(runner) => {
                if !runner.waker.will_wake(cx.waker()) {
                    deferred.drop.push(std::mem::replace(&mut runner.waker, cx.waker().clone()));
                }
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

    fn arm_settle(&mut self, window: Duration) {
        match &mut self.settle {
            Some(timer) => timer.reset(window),
            None => self.settle = Some(Delay::new(window)),
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
        let mut deferred = Deferred::default();
        {
            let mut state = self.clock.shared.lock();
            if state.runner.as_ref().is_some_and(|runner| runner.id == self.id) {
                deferred.drop.extend(state.runner.take().map(|runner| runner.waker));
                deferred.drop.append(&mut state.away);
                state.unobserved.clear();
            }
        }
        deferred.run();
    }
}

impl fmt::Debug for RunFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Step => "step",
            Phase::Waiting { .. } => "waiting for woken sleepers",
            Phase::Yielding { .. } => "yielding to woken code",
            Phase::Settling { .. } => "settling",
            Phase::Done => "done",
        };
        f.debug_struct("RunFor").field("phase", &phase).finish_non_exhaustive()
    }
}

impl Future for WaitForSleepers {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let since = *this.since.get_or_insert_with(Instant::now);
        let mut state = this.clock.shared.lock();
        let registered = state.sleepers.len();
        if registered >= this.count {
            return Poll::Ready(());
        }
        if !state.watchers.iter().any(|watcher| watcher.will_wake(cx.waker())) {
            state.watchers.push(cx.waker().clone());
        }
        let stall_timeout = state.stall_timeout;
        drop(state);
        let watchdog = this.watchdog.get_or_insert_with(|| Delay::new(stall_timeout));
        if Pin::new(&mut *watchdog).poll(cx).is_ready() {
            let waited = since.elapsed();
            if waited >= stall_timeout {
                panic!(
                    "VirtualClock::wait_for_sleepers: {registered} of {} sleeps registered \
                     within {stall_timeout:?} of real time; the code under test must be polled \
                     (spawned or joined) and reach its sleeps",
                    this.count
                );
            }
            watchdog.reset(stall_timeout - waited);
            let _ = Pin::new(watchdog).poll(cx);
        }
        Poll::Pending
    }
}

impl fmt::Debug for WaitForSleepers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForSleepers").field("count", &self.count).finish_non_exhaustive()
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
    /// their wakers. With `track`, the current `run_for` step waits for each to observe it
    /// and for its task to come back to the clock.
    fn take_due(&mut self, track: bool) -> Vec<Waker> {
        self.activity += 1;
        let mut due = Vec::new();
        while let Some(entry) = self.sleepers.first_entry() {
            let (deadline, seq) = *entry.key();
            if deadline > self.now {
                break;
            }
            let waker = entry.remove();
            if track {
                self.unobserved.insert(seq);
                if !self.away.iter().any(|task| task.will_wake(&waker)) {
                    self.away.push(waker.clone());
                }
            }
            due.push(waker);
        }
        due
    }

    /// Records that sleeper `seq` observed its wake-up, and defers waking the runner when that
    /// was the last one it waited for.
    fn observe(&mut self, seq: u64, deferred: &mut Deferred) {
        if !self.unobserved.remove(&seq) {
            return;
        }
        let Some(runner) = self.runner.as_ref() else { return };
        if runner.thread != thread::current().id() {
            self.observed_elsewhere = true;
        }
        if self.unobserved.is_empty() {
            deferred.wake.push(runner.waker.clone());
        }
    }

    /// A task polled a sleep that is still pending: it is asleep on the clock again.
    fn back(&mut self, task: &Waker, deferred: &mut Deferred) -> &mut State {
        if let Some(index) = self.away.iter().position(|away| away.will_wake(task)) {
            deferred.drop.push(self.away.swap_remove(index));
        }
        self
    }

    /// A sleeper registered or left: wake the `wait_for_sleepers` futures to recount.
    fn changed(&mut self, deferred: &mut Deferred) {
        deferred.wake.append(&mut self.watchers);
    }

    /// `Some(deadline)`, or `None` ("never") for a deadline more than a century ahead, as
    /// `RealClock` has it.
    fn never_after(&self, deadline: Instant) -> Option<Instant> {
        within_reach(self.now, deadline)
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
    assert_send_sync_unpin::<WaitForSleepers>();
};
