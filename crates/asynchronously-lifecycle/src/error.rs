use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{DeinitReport, Phase};

/// Why [`LifecycleBuilder::build`](crate::LifecycleBuilder::build) rejected a graph.
///
/// # Examples
///
/// ```
/// use asynchronously::lifecycle::{BuildError, FnComponent, Lifecycle};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("a", FnComponent::new()).after("b");
/// builder.component("b", FnComponent::new()).after("a");
/// let Err(BuildError::Cycle { names, .. }) = builder.build() else { panic!("a cycle") };
/// assert_eq!(names, ["a", "b"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two components were registered under one name.
    #[error("component name `{name}` is registered twice; every component needs its own name")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A dependency names no registered component.
    #[error(
        "component `{component}` depends on `{dependency}`, which is not registered; \
         register it or fix the name"
    )]
    UnknownDependency {
        /// The component that declared the dependency.
        component: String,
        /// The name that matched no component.
        dependency: String,
    },
    /// The dependencies form a cycle, so no order can satisfy them.
    #[error("dependency cycle in {phase} order: {}; remove one of these dependencies", cycle_text(.names))]
    Cycle {
        /// The phase whose order is impossible.
        phase: Phase,
        /// Every component on the cycle; each waits for the next, the last for the first.
        names: Vec<String>,
    },
}

fn cycle_text(names: &[String]) -> String {
    let mut text: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    if let Some(first) = text.first().cloned() {
        text.push(first);
    }
    text.join(" waits for ")
}

/// Why [`Lifecycle::add_dependency`](crate::Lifecycle::add_dependency) or
/// [`Lifecycle::add_deinit_dependency`](crate::Lifecycle::add_deinit_dependency) refused.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{DependencyError, FnComponent, Lifecycle, Phase};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// builder.component("server", FnComponent::new());
/// let lifecycle = builder.build()?;
/// lifecycle.init().await?;
/// assert_eq!(
///     lifecycle.add_dependency("server", "database"),
///     Err(DependencyError::AlreadyScheduled { phase: Phase::Init })
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DependencyError {
    /// The phase the dependency would order was already scheduled.
    #[error(
        "{phase} was already scheduled, so its order is fixed; declare dependencies before \
         calling {phase}()"
    )]
    AlreadyScheduled {
        /// The phase.
        phase: Phase,
    },
    /// A name matched no component.
    #[error("no component is named `{name}`; register it when building the lifecycle")]
    UnknownComponent {
        /// The name.
        name: String,
    },
    /// The dependency would close a cycle; the graph is unchanged.
    #[error("dependency cycle in {phase} order: {}; the dependency was not added", cycle_text(.names))]
    Cycle {
        /// The phase whose order would be impossible.
        phase: Phase,
        /// The components on the cycle; each waits for the next, the last for the first.
        names: Vec<String>,
    },
}

/// Why [`Lifecycle::init`](crate::Lifecycle::init) failed.
///
/// Every failing variant names the component and carries the report of the rollback: the
/// components that had finished `init` were deinitialised, in reverse order, before the
/// error was returned. Cloneable, so every caller of `init()` gets the same error.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle, Phase};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// builder
///     .component("server", FnComponent::new().on_init(|_| async { Err::<(), BoxError>("port in use".into()) }))
///     .after("database");
/// let error = builder.build()?.init().await.unwrap_err();
/// assert_eq!(error.name(), Some("server"));
/// assert_eq!(error.phase(), Phase::Init);
/// assert_eq!(error.to_string(), "init of `server` failed: port in use; 1 initialised component(s) were rolled back");
/// assert_eq!(error.rollback().map(|report| report.names().collect::<Vec<_>>()), Some(vec!["database"]));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A component's `init` returned an error.
    #[error("init of `{name}` failed: {source}; {} initialised component(s) were rolled back", rollback.len())]
    Failed {
        /// The component.
        name: String,
        /// Its error.
        source: Arc<dyn Error + Send + Sync + 'static>,
        /// How the rollback went.
        rollback: DeinitReport,
    },
    /// A component's `init` panicked; the panic was contained.
    #[error("init of `{name}` panicked: {message}; {} initialised component(s) were rolled back", rollback.len())]
    Panicked {
        /// The component.
        name: String,
        /// The panic message.
        message: Arc<str>,
        /// How the rollback went.
        rollback: DeinitReport,
    },
    /// A component's `init` took longer than its init timeout.
    #[error(
        "init of `{name}` did not finish within its timeout of {timeout:?}; {} initialised \
         component(s) were rolled back; raise the timeout if it needs longer",
        rollback.len()
    )]
    TimedOut {
        /// The component.
        name: String,
        /// Its init timeout.
        timeout: Duration,
        /// How the rollback went.
        rollback: DeinitReport,
    },
    /// The lifecycle's overall init timeout passed while components were still initialising.
    #[error(
        "init did not finish within the overall timeout of {timeout:?}: `{name}` and {} other(s) \
         were still initialising; {} initialised component(s) were rolled back",
        pending.len() - 1,
        rollback.len()
    )]
    DeadlineExceeded {
        /// The first component still initialising (in registration order).
        name: String,
        /// Every component that was still initialising or waiting.
        pending: Vec<String>,
        /// The overall init timeout.
        timeout: Duration,
        /// How the rollback went.
        rollback: DeinitReport,
    },
    /// `deinit()` had already begun: a lifecycle starts once. Build a new one to start again.
    #[error("the lifecycle was already deinitialised; build a new lifecycle to start again")]
    Deinitialised,
}

impl InitError {
    /// Returns the component that failed, if the error is about one.
    ///
    /// # Examples
    ///
    /// See [`InitError`].
    pub fn name(&self) -> Option<&str> {
        match self {
            InitError::Failed { name, .. }
            | InitError::Panicked { name, .. }
            | InitError::TimedOut { name, .. }
            | InitError::DeadlineExceeded { name, .. } => Some(name),
            InitError::Deinitialised => None,
        }
    }

    /// Returns the phase that failed: always [`Phase::Init`].
    ///
    /// # Examples
    ///
    /// See [`InitError`].
    pub fn phase(&self) -> Phase {
        Phase::Init
    }

    /// Returns the report of the rollback, if one ran.
    ///
    /// # Examples
    ///
    /// See [`InitError`].
    pub fn rollback(&self) -> Option<&DeinitReport> {
        match self {
            InitError::Failed { rollback, .. }
            | InitError::Panicked { rollback, .. }
            | InitError::TimedOut { rollback, .. }
            | InitError::DeadlineExceeded { rollback, .. } => Some(rollback),
            InitError::Deinitialised => None,
        }
    }
}

impl fmt::Display for DeinitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures = self.failures().count();
        write!(f, "{} component(s) deinitialised, {failures} failed", self.len())?;
        for (name, outcome) in self.failures() {
            write!(f, "; {name} {outcome}")?;
        }
        Ok(())
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<BuildError>();
    assert_send_sync::<DependencyError>();
    assert_send_sync::<InitError>();
};
