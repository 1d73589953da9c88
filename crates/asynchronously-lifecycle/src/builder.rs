use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use crate::component::DynComponent;
use crate::context::{Hook, Registry};
use crate::graph::Graph;
use crate::lifecycle::{Node, Shared};
use crate::{BuildError, Component, Lifecycle, LifecycleEvent, Shutdown};

/// Registers named components and their dependencies, then checks the graph and builds a
/// [`Lifecycle`].
///
/// [`build`](LifecycleBuilder::build) rejects a duplicate name, a dependency on an unknown
/// name, and a dependency cycle (in init order, or in deinit order once explicit deinit
/// dependencies are added), naming the components involved.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::lifecycle::{FnComponent, Lifecycle};
///
/// let mut builder = Lifecycle::builder();
/// builder.deinit_timeout(Duration::from_secs(30));
/// builder.component("database", FnComponent::new()).init_timeout(Duration::from_secs(5));
/// builder.component("cache", FnComponent::new());
/// builder.component("server", FnComponent::new()).after("database").after("cache");
/// let lifecycle = builder.build()?;
/// lifecycle.init().await?;
/// assert!(lifecycle.is_ready());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct LifecycleBuilder<C = RealClock> {
    clock: C,
    entries: Vec<Entry>,
    hook: Option<Hook>,
    init_timeout: Option<Duration>,
    deinit_timeout: Option<Duration>,
    shutdown: Shutdown,
}

struct Entry {
    name: String,
    component: Box<dyn DynComponent>,
    init_after: Vec<String>,
    deinit_after: Vec<String>,
    init_timeout: Option<Duration>,
    deinit_timeout: Option<Duration>,
    restart: Option<Box<dyn Iterator<Item = Duration> + Send>>,
}

/// Options of one registered component, returned by [`LifecycleBuilder::component`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::lifecycle::{FnComponent, Lifecycle};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// builder
///     .component("server", FnComponent::new())
///     .after("database")
///     .init_timeout(Duration::from_secs(10))
///     .deinit_timeout(Duration::from_secs(5))
///     .restart([Duration::from_millis(100), Duration::from_secs(1)]);
/// assert_eq!(builder.build()?.len(), 2);
/// # Ok::<_, asynchronously::lifecycle::BuildError>(())
/// ```
pub struct ComponentOptions<'a> {
    entry: &'a mut Entry,
}

impl LifecycleBuilder<RealClock> {
    /// Creates an empty builder on the [`RealClock`]; same as [`Lifecycle::builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::LifecycleBuilder;
    ///
    /// assert!(LifecycleBuilder::new().build()?.is_empty());
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn new() -> Self {
        LifecycleBuilder {
            clock: RealClock,
            entries: Vec::new(),
            hook: None,
            init_timeout: None,
            deinit_timeout: None,
            shutdown: Shutdown::new(),
        }
    }
}

impl Default for LifecycleBuilder<RealClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> LifecycleBuilder<C> {
    /// Measures timeouts and restart delays on `clock` (a
    /// [`VirtualClock`](asynchronously_time::VirtualClock) in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::Lifecycle;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let lifecycle = Lifecycle::builder().with_clock(VirtualClock::new()).build()?;
    /// # drop(lifecycle);
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> LifecycleBuilder<C2> {
        LifecycleBuilder {
            clock,
            entries: self.entries,
            hook: self.hook,
            init_timeout: self.init_timeout,
            deinit_timeout: self.deinit_timeout,
            shutdown: self.shutdown,
        }
    }

    /// Uses `shutdown` as the lifecycle's trigger instead of a new one, so one trigger can
    /// stop several lifecycles or be created before them (for a signal handler, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{Lifecycle, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let mut builder = Lifecycle::builder();
    /// builder.shutdown(shutdown.clone());
    /// let lifecycle = builder.build()?;
    /// shutdown.trigger();
    /// assert!(lifecycle.shutdown().is_triggered());
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn shutdown(&mut self, shutdown: Shutdown) -> &mut Self {
        self.shutdown = shutdown;
        self
    }

    /// Registers `component` under `name`; returns its options to declare dependencies and
    /// timeouts.
    ///
    /// # Examples
    ///
    /// See [`LifecycleBuilder`].
    pub fn component(
        &mut self,
        name: impl Into<String>,
        component: impl Component,
    ) -> ComponentOptions<'_> {
        self.entries.push(Entry {
            name: name.into(),
            component: Box::new(component),
            init_after: Vec::new(),
            deinit_after: Vec::new(),
            init_timeout: None,
            deinit_timeout: None,
            restart: None,
        });
        let last = self.entries.len() - 1;
        ComponentOptions { entry: &mut self.entries[last] }
    }

    /// Calls `hook` with every [`LifecycleEvent`], synchronously, from the task that drives
    /// the phase. Keep it quick; a panic in it propagates to that task.
    ///
    /// # Examples
    ///
    /// See [`LifecycleEvent`].
    pub fn on_event<F>(&mut self, hook: F) -> &mut Self
    where
        F: Fn(&LifecycleEvent<'_>) + Send + Sync + 'static,
    {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Bounds the whole `init`: when `timeout` passes, the components still initialising are
    /// cancelled and the rest rolled back ([`InitError::DeadlineExceeded`](crate::InitError::DeadlineExceeded)).
    /// The default, like [`Duration::MAX`], is no bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::lifecycle::Lifecycle;
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.init_timeout(Duration::from_secs(60));
    /// # drop(builder);
    /// ```
    pub fn init_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.init_timeout = Some(timeout);
        self
    }

    /// Bounds the whole `deinit` (and every rollback): when `timeout` passes, the components
    /// still deinitialising are cancelled and the ones not started are skipped, each reported
    /// as [`Outcome::DeadlineExceeded`](crate::Outcome::DeadlineExceeded). The default, like
    /// [`Duration::MAX`], is no bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::lifecycle::Lifecycle;
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.deinit_timeout(Duration::from_secs(30));
    /// # drop(builder);
    /// ```
    pub fn deinit_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.deinit_timeout = Some(timeout);
        self
    }

    /// Checks the graph and builds the lifecycle.
    ///
    /// # Errors
    ///
    /// [`BuildError::DuplicateName`], [`BuildError::UnknownDependency`] or
    /// [`BuildError::Cycle`] (naming every component on the cycle).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{BuildError, FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("server", FnComponent::new()).after("databse");
    /// builder.component("database", FnComponent::new());
    /// assert_eq!(
    ///     builder.build().unwrap_err(),
    ///     BuildError::UnknownDependency { component: "server".into(), dependency: "databse".into() }
    /// );
    /// ```
    pub fn build(self) -> Result<Lifecycle<C>, BuildError> {
        let mut index = HashMap::with_capacity(self.entries.len());
        for (position, entry) in self.entries.iter().enumerate() {
            if index.insert(entry.name.as_str(), position).is_some() {
                return Err(BuildError::DuplicateName { name: entry.name.clone() });
            }
        }
        let resolve = |entry: &Entry, names: &[String]| -> Result<Vec<usize>, BuildError> {
            names
                .iter()
                .map(|name| {
                    index.get(name.as_str()).copied().ok_or_else(|| BuildError::UnknownDependency {
                        component: entry.name.clone(),
                        dependency: name.clone(),
                    })
                })
                .collect()
        };
        let mut graph = Graph::with_len(self.entries.len());
        for (position, entry) in self.entries.iter().enumerate() {
            graph.init_after[position] = resolve(entry, &entry.init_after)?;
            graph.deinit_after[position] = resolve(entry, &entry.deinit_after)?;
        }
        graph.plan = graph.plan().map_err(|cycle| BuildError::Cycle {
            phase: cycle.phase,
            names: cycle.members.iter().map(|&member| self.entries[member].name.clone()).collect(),
        })?;
        let names = self.entries.iter().map(|entry| entry.name.as_str().into()).collect();
        let registry = Arc::new(Registry::new(names, graph, self.shutdown, self.hook));
        let nodes = self
            .entries
            .into_iter()
            .map(|entry| Node {
                component: entry.component,
                init_timeout: entry.init_timeout,
                deinit_timeout: entry.deinit_timeout,
                restart: std::sync::Mutex::new(entry.restart),
            })
            .collect();
        Ok(Lifecycle {
            shared: Arc::new(Shared::new(
                registry,
                nodes,
                self.clock,
                self.init_timeout,
                self.deinit_timeout,
            )),
        })
    }
}

impl<C: Clock> fmt::Debug for LifecycleBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|entry| entry.name.as_str()).collect();
        f.debug_struct("LifecycleBuilder")
            .field("components", &names)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ComponentOptions<'_> {
    /// Starts this component's `init` only after `dependency`'s `init` finished, and stops
    /// `dependency` only after this component's `deinit` finished.
    ///
    /// # Examples
    ///
    /// See [`ComponentOptions`].
    pub fn after(&mut self, dependency: impl Into<String>) -> &mut Self {
        self.entry.init_after.push(dependency.into());
        self
    }

    /// [`after`](Self::after) for each of `dependencies`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new());
    /// builder.component("cache", FnComponent::new());
    /// builder.component("server", FnComponent::new()).after_all(["database", "cache"]);
    /// assert_eq!(builder.build()?.len(), 3);
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn after_all<I>(&mut self, dependencies: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.entry.init_after.extend(dependencies.into_iter().map(Into::into));
        self
    }

    /// Adds a deinit-only ordering: this component's `deinit` starts only after `other`'s
    /// `deinit` finished (the seed's `wait_before_async_deinit_for`). Init order is
    /// unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("database", FnComponent::new()).deinit_after("http");
    /// builder.component("http", FnComponent::new());
    /// let lifecycle = builder.build()?;
    /// lifecycle.init().await?;
    /// let report = lifecycle.deinit().await;
    /// assert_eq!(report.names().collect::<Vec<_>>(), ["http", "database"]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn deinit_after(&mut self, other: impl Into<String>) -> &mut Self {
        self.entry.deinit_after.push(other.into());
        self
    }

    /// Bounds this component's `init`: past `timeout` it is cancelled and `init` fails with
    /// [`InitError::TimedOut`](crate::InitError::TimedOut). [`Duration::MAX`] means never.
    ///
    /// # Examples
    ///
    /// See [`ComponentOptions`].
    pub fn init_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.entry.init_timeout = Some(timeout);
        self
    }

    /// Bounds this component's `deinit`: past `timeout` it is cancelled and reported as
    /// [`Outcome::TimedOut`](crate::Outcome::TimedOut). [`Duration::MAX`] means never.
    ///
    /// # Examples
    ///
    /// See [`ComponentOptions`].
    pub fn deinit_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.entry.deinit_timeout = Some(timeout);
        self
    }

    /// Restarts a failed (or panicked) [`run`](Component::run) after each of `delays` in
    /// turn; when they run out, the next failure shuts the lifecycle down. Without this a
    /// run is not restarted.
    ///
    /// Any `IntoIterator<Item = Duration>` fits: an array, `std::iter::repeat(d)`, or a retry
    /// policy's schedule (`RetryPolicy::delays()` from `asynchronously::retry`).
    ///
    /// # Examples
    ///
    /// See [`ComponentOptions`] and [`run_until_shutdown`](crate::run_until_shutdown).
    pub fn restart<I>(&mut self, delays: I) -> &mut Self
    where
        I: IntoIterator<Item = Duration>,
        I::IntoIter: Send + 'static,
    {
        self.entry.restart = Some(Box::new(delays.into_iter()));
        self
    }
}

impl fmt::Debug for ComponentOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentOptions")
            .field("name", &self.entry.name)
            .field("after", &self.entry.init_after)
            .field("deinit_after", &self.entry.deinit_after)
            .field("init_timeout", &self.entry.init_timeout)
            .field("deinit_timeout", &self.entry.deinit_timeout)
            .finish_non_exhaustive()
    }
}
