use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use event_listener::{Event, EventListener};

use crate::graph::Graph;
use crate::{ComponentEvents, LifecycleEvent, Phase, Shutdown, Stage};

/// A hook that sees every lifecycle event.
pub(crate) type Hook = Arc<dyn Fn(&LifecycleEvent<'_>) + Send + Sync>;

/// What components share with each other and with the lifecycle: names, the graph, provided
/// values, the milestone flags and the shutdown trigger.
pub(crate) struct Registry {
    pub(crate) names: Vec<Arc<str>>,
    pub(crate) index: HashMap<Box<str>, usize>,
    pub(crate) graph: Mutex<Graph>,
    provided: Vec<Mutex<Vec<Arc<dyn Any + Send + Sync>>>>,
    flags: Vec<AtomicU16>,
    /// Notified whenever a flag or the lifecycle's state changes, if anyone listens.
    changed: Event,
    /// How many listeners of `changed` exist: notifying costs a lock, so it is skipped when
    /// nobody waits (the common case while a lifecycle starts or stops).
    listeners: AtomicUsize,
    /// How many components ever provided a value: lets deinit skip the per-component lock.
    providers: AtomicUsize,
    pub(crate) shutdown: Shutdown,
    pub(crate) hook: Option<Hook>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of our locks cannot leave the data half-updated (each
    // critical section is a single assignment or push), so poisoning is ignored.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bit(phase: Phase, stage: Stage) -> u16 {
    let phase = match phase {
        Phase::Init => 0,
        Phase::Run => 1,
        Phase::Deinit => 2,
    };
    let stage = match stage {
        Stage::Scheduled => 0,
        Stage::Started => 1,
        Stage::Finished => 2,
    };
    1 << (phase * 3 + stage)
}

impl Registry {
    pub(crate) fn new(
        names: Vec<Arc<str>>,
        graph: Graph,
        shutdown: Shutdown,
        hook: Option<Hook>,
    ) -> Registry {
        let index = names.iter().enumerate().map(|(i, name)| (Box::from(&**name), i)).collect();
        let len = names.len();
        Registry {
            names,
            index,
            graph: Mutex::new(graph),
            provided: (0..len).map(|_| Mutex::new(Vec::new())).collect(),
            flags: (0..len).map(|_| AtomicU16::new(0)).collect(),
            changed: Event::new(),
            listeners: AtomicUsize::new(0),
            providers: AtomicUsize::new(0),
            shutdown,
            hook,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn has(&self, node: usize, phase: Phase, stage: Stage) -> bool {
        self.flags[node].load(Ordering::SeqCst) & bit(phase, stage) != 0
    }

    /// Records a milestone, tells the hook, and wakes whoever awaits milestones.
    pub(crate) fn mark(&self, node: usize, phase: Phase, stage: Stage) {
        self.flags[node].fetch_or(bit(phase, stage), Ordering::SeqCst);
        self.notify_changed();
        let name = &*self.names[node];
        self.emit(&match stage {
            Stage::Scheduled => LifecycleEvent::Scheduled { name, phase },
            Stage::Started => LifecycleEvent::Started { name, phase },
            Stage::Finished => return,
        });
    }

    /// Wakes the listeners of `changed`. Call after the change is visible.
    pub(crate) fn notify_changed(&self) {
        // SeqCst pairs with `listen`: either the listener sees the change when it checks
        // again after registering, or this sees the listener.
        if self.listeners.load(Ordering::SeqCst) > 0 {
            self.changed.notify(usize::MAX);
        }
    }

    /// Registers a listener for changes; check the condition again after calling this.
    pub(crate) fn listen(self: &Arc<Self>) -> ChangeListener {
        self.listeners.fetch_add(1, Ordering::SeqCst);
        ChangeListener { listener: self.changed.listen(), registry: Arc::clone(self) }
    }

    pub(crate) fn emit(&self, event: &LifecycleEvent<'_>) {
        #[cfg(feature = "tracing")]
        match event {
            LifecycleEvent::Finished { outcome, .. } if !outcome.is_ok() => {
                tracing::warn!("{event}");
            }
            LifecycleEvent::Restarting { .. } => tracing::warn!("{event}"),
            _ => tracing::info!("{event}"),
        }
        if let Some(hook) = &self.hook {
            hook(event);
        }
    }

    pub(crate) fn clear_provided(&self, node: usize) {
        if self.providers.load(Ordering::Acquire) == 0 {
            return;
        }
        let values = std::mem::take(&mut *lock(&self.provided[node]));
        drop(values);
    }

    pub(crate) fn find<T: Any + Send + Sync>(&self, node: usize) -> Option<Arc<T>> {
        lock(&self.provided[node]).iter().find_map(|value| Arc::clone(value).downcast::<T>().ok())
    }

    /// The value of type `T` provided by `node` or, breadth-first, by its dependencies.
    fn search<T: Any + Send + Sync>(&self, node: usize) -> Option<Arc<T>> {
        let graph = lock(&self.graph);
        let mut seen = vec![false; self.len()];
        let mut queue = std::collections::VecDeque::from([node]);
        seen[node] = true;
        while let Some(current) = queue.pop_front() {
            if let Some(value) = self.find::<T>(current) {
                return Some(value);
            }
            for &dependency in &graph.init_after[current] {
                if !std::mem::replace(&mut seen[dependency], true) {
                    queue.push_back(dependency);
                }
            }
        }
        None
    }
}

/// A registered listener of [`Registry::listen`]; unregisters when dropped.
pub(crate) struct ChangeListener {
    listener: EventListener,
    registry: Arc<Registry>,
}

impl Future for ChangeListener {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        Pin::new(&mut self.listener).poll(cx)
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.registry.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A component's view of its lifecycle, passed to every phase.
///
/// Cheap to clone (one reference count). Through it a component hands values to the
/// components that depend on it ([`provide`](Context::provide) / [`get`](Context::get)),
/// awaits other components' milestones ([`events`](Context::events)), and reaches the
/// [`Shutdown`] trigger.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
///
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle};
///
/// struct Pool(&'static str);
///
/// let mut builder = Lifecycle::builder();
/// builder.component(
///     "database",
///     FnComponent::new().on_init(|cx| async move {
///         assert_eq!(cx.name(), "database");
///         cx.provide(Pool("postgres://localhost/app"));
///         Ok::<_, BoxError>(())
///     }),
/// );
/// builder
///     .component(
///         "server",
///         FnComponent::new().on_init(|cx| async move {
///             let pool: Arc<Pool> = cx.get().ok_or("the server needs a pool")?;
///             assert_eq!(pool.0, "postgres://localhost/app");
///             Ok::<_, BoxError>(())
///         }),
///     )
///     .after("database");
/// builder.build()?.init().await?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) registry: Arc<Registry>,
    pub(crate) node: usize,
}

impl Context {
    /// Returns this component's name.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    pub fn name(&self) -> &str {
        &self.registry.names[self.node]
    }

    /// Makes `value` available to this component's dependents (and to
    /// [`Lifecycle::get`](crate::Lifecycle::get)), replacing a value of the same type that
    /// this component provided before.
    ///
    /// Provided values live until this component's `deinit` finishes, then they are dropped.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    pub fn provide<T: Any + Send + Sync>(&self, value: T) {
        let mut values = lock(&self.registry.provided[self.node]);
        if values.is_empty() {
            self.registry.providers.fetch_add(1, Ordering::Release);
        }
        values.retain(|existing| !existing.is::<T>());
        values.push(Arc::new(value));
    }

    /// Returns the value of type `T` that this component or, nearest first, one of its
    /// (transitive) init dependencies provided.
    ///
    /// Dependencies finish `init` before dependents start it, so a value a dependency
    /// provides during its `init` is there for the dependents' `init`.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.registry.search(self.node)
    }

    /// Returns the value of type `T` that the component named `name` provided, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("config", FnComponent::new().on_init(|cx| async move {
    ///     cx.provide(8080_u16);
    ///     Ok::<_, BoxError>(())
    /// }));
    /// builder.component("server", FnComponent::new().on_init(|cx| async move {
    ///     let port = cx.get_from::<u16>("config").ok_or("no port")?;
    ///     assert_eq!(*port, 8080);
    ///     Ok::<_, BoxError>(())
    /// })).after("config");
    /// builder.build()?.init().await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn get_from<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.registry.index.get(name).and_then(|&node| self.registry.find(node))
    }

    /// Returns the milestones of the component named `name`, or `None` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle, Phase, Stage};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("a", FnComponent::new());
    /// builder.component("b", FnComponent::new().on_init(|cx| async move {
    ///     // Like the seed's `wait_before_async_init_for`, but an explicit dependency
    ///     // (`.after("a")`) is the better tool: it also orders deinit.
    ///     cx.events("a").ok_or("no a")?.wait(Phase::Init, Stage::Finished).await;
    ///     Ok::<_, BoxError>(())
    /// }));
    /// builder.build()?.init().await?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn events(&self, name: &str) -> Option<ComponentEvents> {
        let &node = self.registry.index.get(name)?;
        Some(ComponentEvents { registry: Arc::clone(&self.registry), node })
    }

    /// Returns the lifecycle's shutdown trigger.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("watchdog", FnComponent::new().on_init(|cx| async move {
    ///     cx.shutdown().trigger(); // e.g. a fatal condition seen during start-up
    ///     Ok::<_, BoxError>(())
    /// }));
    /// let lifecycle = builder.build()?;
    /// lifecycle.init().await?;
    /// assert!(lifecycle.shutdown().is_triggered());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self) -> &Shutdown {
        &self.registry.shutdown
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("name", &self.name()).finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Context>();
};
