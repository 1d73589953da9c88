use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context::{ChangeListener, Registry};
use crate::{Outcome, Phase};

/// A milestone within a phase, as in the seed's three events per phase.
///
/// # Examples
///
/// ```
/// use asynchronously::lifecycle::Stage;
///
/// assert_eq!(Stage::Started.to_string(), "started");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// The phase was asked for (for example `init()` was called); its work may not have
    /// begun: it may be waiting for dependencies.
    Scheduled,
    /// Every dependency finished; the component's own work began.
    Started,
    /// The component's own work returned (with any [`Outcome`]).
    Finished,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Scheduled => "scheduled",
            Stage::Started => "started",
            Stage::Finished => "finished",
        })
    }
}

/// Everything that happens in a lifecycle, as seen by the hook of
/// [`LifecycleBuilder::on_event`](crate::LifecycleBuilder::on_event).
///
/// Its `Display` is a log line (`init of database finished: ok`); the `tracing` feature logs
/// exactly those lines.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::{Arc, Mutex};
///
/// use asynchronously::lifecycle::{FnComponent, Lifecycle};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = lines.clone();
/// let mut builder = Lifecycle::builder();
/// builder.on_event(move |event| sink.lock().unwrap().push(event.to_string()));
/// builder.component("database", FnComponent::new());
/// builder.build()?.init().await?;
/// assert_eq!(
///     *lines.lock().unwrap(),
///     [
///         "init of database scheduled",
///         "init of database started",
///         "init of database finished: ok",
///         "lifecycle ready",
///     ]
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum LifecycleEvent<'a> {
    /// A component's phase was scheduled.
    Scheduled {
        /// The component.
        name: &'a str,
        /// The phase.
        phase: Phase,
    },
    /// A component's phase started: its dependencies are done.
    Started {
        /// The component.
        name: &'a str,
        /// The phase.
        phase: Phase,
    },
    /// A component's phase finished.
    Finished {
        /// The component.
        name: &'a str,
        /// The phase.
        phase: Phase,
        /// How it ended.
        outcome: &'a Outcome,
    },
    /// A run phase failed and restarts after `delay`.
    Restarting {
        /// The component.
        name: &'a str,
        /// The restart about to happen, from 1.
        restart: u32,
        /// The delay before it.
        delay: Duration,
        /// How the previous run ended.
        outcome: &'a Outcome,
    },
    /// Every component finished `init` successfully.
    Ready,
    /// The shutdown trigger fired (or `main` returned) and `run_until_shutdown` is stopping.
    ShutdownRequested,
}

impl fmt::Display for LifecycleEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleEvent::Scheduled { name, phase } => write!(f, "{phase} of {name} scheduled"),
            LifecycleEvent::Started { name, phase } => write!(f, "{phase} of {name} started"),
            LifecycleEvent::Finished { name, phase, outcome } => {
                write!(f, "{phase} of {name} finished: {outcome}")
            }
            LifecycleEvent::Restarting { name, restart, delay, outcome } => {
                write!(f, "run of {name} {outcome}; restart {restart} in {delay:?}")
            }
            LifecycleEvent::Ready => f.write_str("lifecycle ready"),
            LifecycleEvent::ShutdownRequested => f.write_str("lifecycle shutdown requested"),
        }
    }
}

/// One component's milestones: which have been reached, and futures to await them.
///
/// From [`Lifecycle::events`](crate::Lifecycle::events) or
/// [`Context::events`](crate::Context::events). Milestones are reached once and stay
/// reached.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{FnComponent, Lifecycle, Phase, Stage};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// let lifecycle = builder.build()?;
/// let database = lifecycle.events("database").ok_or("no database")?;
/// assert!(!database.has(Phase::Init, Stage::Scheduled));
/// let ((), result) = futures::join!(database.wait(Phase::Init, Stage::Finished), lifecycle.init());
/// result?;
/// assert!(database.has(Phase::Init, Stage::Finished));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ComponentEvents {
    pub(crate) registry: Arc<Registry>,
    pub(crate) node: usize,
}

impl ComponentEvents {
    /// Returns the component's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// assert_eq!(lifecycle.events("database").map(|events| events.name().to_owned()).as_deref(), Some("database"));
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.registry.names[self.node]
    }

    /// Returns whether the milestone was reached.
    ///
    /// # Examples
    ///
    /// See [`ComponentEvents`].
    pub fn has(&self, phase: Phase, stage: Stage) -> bool {
        self.registry.has(self.node, phase, stage)
    }

    /// Waits until the milestone is reached; completes at once if it was.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only unregisters its wake-up.
    ///
    /// # Examples
    ///
    /// See [`ComponentEvents`].
    pub fn wait(&self, phase: Phase, stage: Stage) -> Milestone {
        Milestone { events: self.clone(), phase, stage, listener: None }
    }
}

impl fmt::Debug for ComponentEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentEvents").field("name", &self.name()).finish_non_exhaustive()
    }
}

/// Future returned by [`ComponentEvents::wait`].
///
/// # Cancel safety
///
/// Dropping it only unregisters its wake-up.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Milestone {
    events: ComponentEvents,
    phase: Phase,
    stage: Stage,
    listener: Option<ChangeListener>,
}

impl Future for Milestone {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.events.has(self.phase, self.stage) {
                self.listener = None;
                return Poll::Ready(());
            }
            match &mut self.listener {
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.listener = None;
                }
                None => self.listener = Some(self.events.registry.listen()),
            }
        }
    }
}

impl fmt::Debug for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Milestone")
            .field("name", &self.events.name())
            .field("phase", &self.phase)
            .field("stage", &self.stage)
            .finish()
    }
}

const _: () = {
    const fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}
    assert_send_sync_unpin::<ComponentEvents>();
    assert_send_sync_unpin::<Milestone>();
};
