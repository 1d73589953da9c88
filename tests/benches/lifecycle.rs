//! `lifecycle` against hand-written start-up code: the cost of the dependency graph,
//! milestones, rollback bookkeeping and reports around no-op components.
//!
//! One operation is a whole `init()` + `deinit()` of 1000 components. Every lifecycle is
//! built before the timer starts (a lifecycle initialises once), and dropped after it stops.
//! Both sides call the same component type, whose `init`/`deinit` are the same no-op
//! `async fn`s the anchors await directly, and both run on a no-op-waker spin loop, so no
//! executor cost is counted on either side.
//!
//! - `init-deinit-1000`: a chain (each component after the previous one) against a loop
//!   that awaits each component's start in topological order, then each stop in reverse.
//! - `init-deinit-1000-wide`: 1000 independent components against
//!   `futures::future::join_all` of their starts, then of their stops.
//!
//! The notes add the anchors a service with components of *different* types would write
//! (a `Vec<Box<dyn …>>` whose methods return boxed futures), and allocations per component.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use asynchronously::lifecycle::{BoxError, Component, Context, Lifecycle};
use asynchronously_tests::bench::{self, CountingAllocator, allocations};
use futures::future::{BoxFuture, join_all};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const N: usize = 1000;

/// A component with nothing to do, as both sides see it.
struct Noop;

impl Noop {
    async fn start(&self) -> Result<(), BoxError> {
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl Component for Noop {
    async fn init(&self, _cx: Context) -> Result<(), BoxError> {
        self.start().await
    }

    async fn deinit(&self, _cx: Context) -> Result<(), BoxError> {
        self.stop().await
    }
}

/// What a hand-written service with heterogeneous components stores.
trait DynService: Send + Sync {
    fn start(&self) -> BoxFuture<'_, Result<(), BoxError>>;
    fn stop(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl DynService for Noop {
    fn start(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(Noop::start(self))
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(Noop::stop(self))
    }
}

/// Polls a future to completion with a no-op waker.
#[inline(always)]
fn spin<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn chain() -> Lifecycle {
    let mut builder = Lifecycle::builder();
    for index in 0..N {
        let mut options = builder.component(format!("c{index}"), Noop);
        if index > 0 {
            options.after(format!("c{}", index - 1));
        }
    }
    builder.build().expect("a chain is acyclic")
}

fn wide() -> Lifecycle {
    let mut builder = Lifecycle::builder();
    for index in 0..N {
        builder.component(format!("c{index}"), Noop);
    }
    builder.build().expect("no dependencies")
}

/// Times `init` + `deinit` of `iterations` pre-built lifecycles.
fn ours(build: fn() -> Lifecycle) -> impl FnMut(u64) -> Duration {
    move |iterations| {
        let lifecycles: Vec<Lifecycle> = (0..iterations).map(|_| build()).collect();
        let start = Instant::now();
        for lifecycle in &lifecycles {
            spin(lifecycle.init()).expect("no-op components start");
            black_box(spin(lifecycle.deinit()).is_ok());
        }
        let elapsed = start.elapsed();
        drop(lifecycles);
        elapsed
    }
}

async fn sequential(components: &[Noop]) -> Result<(), BoxError> {
    for component in components {
        component.start().await?;
    }
    for component in components.iter().rev() {
        component.stop().await?;
    }
    Ok(())
}

async fn sequential_dyn(components: &[Box<dyn DynService>]) -> Result<(), BoxError> {
    for component in components {
        component.start().await?;
    }
    for component in components.iter().rev() {
        component.stop().await?;
    }
    Ok(())
}

async fn joined(components: &[Noop]) -> Result<(), BoxError> {
    join_all(components.iter().map(Noop::start)).await.into_iter().collect::<Result<(), _>>()?;
    join_all(components.iter().map(Noop::stop)).await.into_iter().collect()
}

async fn joined_dyn(components: &[Box<dyn DynService>]) -> Result<(), BoxError> {
    join_all(components.iter().map(|c| c.start())).await.into_iter().collect::<Result<(), _>>()?;
    join_all(components.iter().map(|c| c.stop())).await.into_iter().collect()
}

fn timed<F: Future<Output = Result<(), BoxError>>>(
    mut run: impl FnMut() -> F,
) -> impl FnMut(u64) -> Duration {
    move |iterations| {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(spin(run()).is_ok());
        }
        start.elapsed()
    }
}

fn allocations_per_component(build: fn() -> Lifecycle) -> f64 {
    let lifecycle = build();
    let before = allocations();
    spin(lifecycle.init()).expect("no-op components start");
    spin(lifecycle.deinit());
    (allocations() - before) as f64 / N as f64
}

fn main() {
    let components: Vec<Noop> = (0..N).map(|_| Noop).collect();
    let dyn_components: Vec<Box<dyn DynService>> =
        (0..N).map(|_| Box::new(Noop) as Box<dyn DynService>).collect();

    // Sanity: every side starts and stops all components.
    let lifecycle = chain();
    spin(lifecycle.init()).expect("starts");
    assert_eq!(spin(lifecycle.deinit()).len(), N);

    bench::report(
        "lifecycle/init-deinit-1000",
        "sequential",
        ours(chain),
        timed(|| sequential(&components)),
    );
    bench::report(
        "lifecycle/init-deinit-1000-wide",
        "join_all",
        ours(wide),
        timed(|| joined(&components)),
    );

    let reference = bench::compare(ours(chain), timed(|| sequential_dyn(&dyn_components)));
    bench::note(
        "lifecycle/init-deinit-1000",
        &format!(
            "against a loop over Vec<Box<dyn …>> with boxed futures: ours {:.1} ns, {:.1} ns, ratio {:.2}",
            reference.ours_ns,
            reference.anchor_ns,
            reference.ratio()
        ),
    );
    let reference = bench::compare(ours(wide), timed(|| joined_dyn(&dyn_components)));
    bench::note(
        "lifecycle/init-deinit-1000-wide",
        &format!(
            "against join_all over Vec<Box<dyn …>> with boxed futures: ours {:.1} ns, {:.1} ns, ratio {:.2}",
            reference.ours_ns,
            reference.anchor_ns,
            reference.ratio()
        ),
    );
    bench::note(
        "lifecycle/allocations",
        &format!(
            "per component per init+deinit: chain {:.2}, wide {:.2}",
            allocations_per_component(chain),
            allocations_per_component(wide)
        ),
    );
}
