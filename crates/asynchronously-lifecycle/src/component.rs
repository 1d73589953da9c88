use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::{BoxError, Context};

/// A part of a service with an async start-up, an optional long-running phase, and an async
/// shut-down: a database pool, a message consumer, an HTTP server.
///
/// Every method has a default that does nothing and returns `Ok(())`, so a component
/// implements only the phases it has. Register components with a
/// [`LifecycleBuilder`](crate::LifecycleBuilder), which calls:
///
/// - [`init`](Component::init) once, after the `init` of every component it depends on
///   finished;
/// - [`run`](Component::run) from [`run_until_shutdown`](crate::run_until_shutdown), once
///   every component is initialised, restarted on failure if it has restart delays;
/// - [`deinit`](Component::deinit) once, after the `deinit` of every component that depends
///   on it finished, and only if its `init` succeeded.
///
/// The methods take `&self`: keep state that the phases change behind a lock or in cells.
/// To hand a value to dependents, [`Context::provide`] it; they [`Context::get`] it.
/// For closures instead of a type, use [`FnComponent`].
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Mutex;
///
/// use asynchronously::lifecycle::{BoxError, Component, Context, Lifecycle};
///
/// #[derive(Default)]
/// struct Database {
///     log: Mutex<Vec<&'static str>>,
/// }
///
/// impl Component for Database {
///     async fn init(&self, cx: Context) -> Result<(), BoxError> {
///         self.log.lock().unwrap().push("connect");
///         cx.provide(String::from("pool"));
///         Ok(())
///     }
///
///     async fn deinit(&self, _cx: Context) -> Result<(), BoxError> {
///         self.log.lock().unwrap().push("close");
///         Ok(())
///     }
/// }
///
/// let database = std::sync::Arc::new(Database::default());
/// let mut builder = Lifecycle::builder();
/// builder.component("database", database.clone());
/// let lifecycle = builder.build()?;
/// lifecycle.init().await?;
/// assert_eq!(lifecycle.get::<String>("database").as_deref().map(String::as_str), Some("pool"));
/// lifecycle.deinit().await;
/// assert_eq!(*database.log.lock().unwrap(), ["connect", "close"]);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Component: Send + Sync + 'static {
    /// Starts the component. Runs once, after every dependency's `init` finished.
    ///
    /// # Errors
    ///
    /// An error (or a panic, or the component's init timeout) fails the lifecycle's
    /// [`init`](crate::Lifecycle::init): the components still initialising are cancelled and
    /// the ones already initialised are rolled back.
    fn init(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// The long-running work, such as a server's accept loop.
    ///
    /// Driven by [`run_until_shutdown`](crate::run_until_shutdown), concurrently with the
    /// other components' runs and `main`, and dropped (cancelled) when shutdown begins:
    /// graceful stopping belongs in [`deinit`](Component::deinit). Returning `Ok(())` ends the
    /// run quietly; an error or a panic restarts it after the next of its restart delays
    /// ([`ComponentOptions::restart`](crate::ComponentOptions::restart)) or, when there are
    /// none left, shuts the lifecycle down.
    ///
    /// # Errors
    ///
    /// As above: an error asks for a restart.
    fn run(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Stops the component. Runs once, after every dependent's `deinit` finished.
    ///
    /// # Errors
    ///
    /// An error is reported in the [`DeinitReport`](crate::DeinitReport) under this
    /// component's name; the other components are deinitialised regardless.
    fn deinit(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }
}

impl<T: Component> Component for Arc<T> {
    fn init(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        T::init(self, cx)
    }

    fn run(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        T::run(self, cx)
    }

    fn deinit(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        T::deinit(self, cx)
    }
}

/// The object-safe face of [`Component`] the lifecycle stores.
pub(crate) trait DynComponent: Send + Sync {
    fn init(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>>;
    fn run(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>>;
    fn deinit(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl<T: Component> DynComponent for T {
    fn init(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(Component::init(self, cx))
    }

    fn run(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(Component::run(self, cx))
    }

    fn deinit(&self, cx: Context) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(Component::deinit(self, cx))
    }
}

type PhaseFn = Arc<dyn Fn(Context) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A [`Component`] made of closures, one per phase; phases left out do nothing.
///
/// Each closure takes the component's [`Context`] (owned, so the future it returns can
/// move it in) and returns a future of `Result<(), E>` for any `E` that converts into
/// [`BoxError`].
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{BoxError, FnComponent, Lifecycle};
///
/// let mut builder = Lifecycle::builder();
/// builder.component(
///     "database",
///     FnComponent::new().on_init(|cx| async move {
///         cx.provide(42_u32); // a pool, in real life
///         Ok::<_, BoxError>(())
///     }),
/// );
/// builder
///     .component(
///         "server",
///         FnComponent::new().on_init(|cx| async move {
///             let pool = cx.get::<u32>().ok_or("no pool")?;
///             assert_eq!(*pool, 42);
///             Ok::<_, BoxError>(())
///         }),
///     )
///     .after("database");
/// builder.build()?.init().await?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct FnComponent {
    init: Option<PhaseFn>,
    run: Option<PhaseFn>,
    deinit: Option<PhaseFn>,
}

fn phase_fn<F, Fut, E>(f: F) -> PhaseFn
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Arc::new(move |cx| {
        let future = f(cx);
        Box::pin(async move { future.await.map_err(Into::into) })
    })
}

impl FnComponent {
    /// Creates a component whose phases all do nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{FnComponent, Lifecycle};
    ///
    /// let mut builder = Lifecycle::builder();
    /// builder.component("placeholder", FnComponent::new());
    /// assert_eq!(builder.build()?.len(), 1);
    /// # Ok::<_, asynchronously::lifecycle::BuildError>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `init` phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{BoxError, FnComponent};
    ///
    /// let component = FnComponent::new().on_init(|_| async { Ok::<_, BoxError>(()) });
    /// # drop(component);
    /// ```
    #[must_use]
    pub fn on_init<F, Fut, E>(mut self, init: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.init = Some(phase_fn(init));
        self
    }

    /// Sets the `run` phase (see [`Component::run`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{BoxError, FnComponent};
    ///
    /// let component = FnComponent::new().on_run(|cx| async move {
    ///     cx.shutdown().wait().await; // serve until shutdown
    ///     Ok::<_, BoxError>(())
    /// });
    /// # drop(component);
    /// ```
    #[must_use]
    pub fn on_run<F, Fut, E>(mut self, run: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.run = Some(phase_fn(run));
        self
    }

    /// Sets the `deinit` phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::{BoxError, FnComponent};
    ///
    /// let component = FnComponent::new().on_deinit(|_| async { Ok::<_, BoxError>(()) });
    /// # drop(component);
    /// ```
    #[must_use]
    pub fn on_deinit<F, Fut, E>(mut self, deinit: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.deinit = Some(phase_fn(deinit));
        self
    }
}

fn call(phase: Option<&PhaseFn>, cx: Context) -> BoxFuture<'static, Result<(), BoxError>> {
    match phase {
        Some(phase) => phase(cx),
        None => Box::pin(async { Ok(()) }),
    }
}

impl Component for FnComponent {
    fn init(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        call(self.init.as_ref(), cx)
    }

    fn run(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        call(self.run.as_ref(), cx)
    }

    fn deinit(&self, cx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        call(self.deinit.as_ref(), cx)
    }
}

impl fmt::Debug for FnComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnComponent")
            .field("init", &self.init.is_some())
            .field("run", &self.run.is_some())
            .field("deinit", &self.deinit.is_some())
            .finish()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FnComponent>();
};
