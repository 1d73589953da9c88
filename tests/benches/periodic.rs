//! Benchmarks of `asynchronously::periodic` against a bare `futures_timer::Delay` loop and
//! `tokio::time::interval`. Run with `cargo bench -p asynchronously-tests --bench periodic`.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use asynchronously::periodic::{Cadence, MissedTicks, Periodic, Tick};
use asynchronously_tests::bench::{self, CountingAllocator};
use futures::executor::block_on;
use futures_timer::Delay;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A period short enough that every tick goes through the timer thread and back.
const TINY: Duration = Duration::from_micros(1);

fn main() {
    tick_overhead();
    drift_10k();
}

/// Runs `ticks` ticks of a no-op job on the real clock, in this thread.
fn run_ours(ticks: u64) {
    let handle: Arc<OnceLock<Periodic>> = Arc::new(OnceLock::new());
    let stopper = Arc::clone(&handle);
    let (periodic, worker) = Periodic::builder(TINY)
        .build_sync(move |tick: Tick| {
            if tick.number() >= ticks {
                drop(stopper.get().expect("set before the first tick").stop());
            }
        })
        .expect("a valid schedule");
    handle.set(periodic).expect("set once");
    block_on(worker);
}

/// The anchor: a bare loop re-arming one `Delay` in place.
fn run_delay_loop(ticks: u64) {
    block_on(async {
        let mut delay = Delay::new(TINY);
        for _ in 0..ticks {
            (&mut delay).await;
            delay.reset(TINY);
        }
    });
}

fn tick_overhead() {
    bench::report(
        "periodic/tick-overhead",
        "futures-timer",
        |iterations| {
            let start = Instant::now();
            run_ours(iterations);
            start.elapsed()
        },
        |iterations| {
            let start = Instant::now();
            run_delay_loop(iterations);
            start.elapsed()
        },
    );
    let ours = bench::allocations_per_op(1, || run_ours(10_000)) / 10_000.0;
    let anchor = bench::allocations_per_op(1, || run_delay_loop(10_000)) / 10_000.0;
    bench::note(
        "periodic/tick-overhead",
        &format!("allocations per tick: ours {ours:.3}, futures-timer loop {anchor:.3}"),
    );
}

/// Mean and max of a set of lateness samples, in microseconds.
fn summary(lateness: &[Duration]) -> (f64, f64) {
    let total: Duration = lateness.iter().sum();
    let max = lateness.iter().max().copied().unwrap_or_default();
    (total.as_secs_f64() * 1e6 / lateness.len() as f64, max.as_secs_f64() * 1e6)
}

fn drift_10k() {
    const TICKS: u64 = 10_000;
    const PERIOD: Duration = Duration::from_millis(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime builds");

    // Ours: on the grid, catching up like tokio's default (burst), spawned on tokio.
    let lateness = Arc::new(Mutex::new(Vec::with_capacity(10_000)));
    let handle: Arc<OnceLock<Periodic>> = Arc::new(OnceLock::new());
    let (periodic, worker) = Periodic::builder(PERIOD)
        .cadence(Cadence::Grid)
        .missed_ticks(MissedTicks::Burst(u32::MAX))
        .build_sync({
            let lateness = Arc::clone(&lateness);
            let handle = Arc::clone(&handle);
            move |tick: Tick| {
                // `lag` is `now - scheduled`, and `scheduled` is `start + k × period`.
                lateness.lock().unwrap().push(tick.lag());
                if tick.number() >= TICKS {
                    drop(handle.get().expect("set before the first tick").stop());
                }
            }
        })
        .expect("a valid schedule");
    handle.set(periodic).expect("set once");
    runtime.block_on(async { tokio::spawn(worker).await.expect("the worker does not panic") });
    let (ours_mean, ours_max) = summary(&lateness.lock().unwrap());

    // tokio::time::interval, same period, default (burst) missed-tick behaviour.
    let tokio_lateness = runtime.block_on(async {
        tokio::spawn(async {
            let mut interval = tokio::time::interval(PERIOD);
            interval.tick().await; // the first tick completes at once
            let mut lateness = Vec::with_capacity(10_000);
            for _ in 0..TICKS {
                let scheduled = interval.tick().await.into_std();
                lateness.push(Instant::now().saturating_duration_since(scheduled));
            }
            lateness
        })
        .await
        .expect("the loop does not panic")
    });
    let (tokio_mean, tokio_max) = summary(&tokio_lateness);
    bench::note(
        "periodic/drift-10k",
        &format!(
            "lateness against the grid over {TICKS} ticks of 1 ms on tokio: ours mean {ours_mean:.1} us max {ours_max:.1} us; tokio::time::interval mean {tokio_mean:.1} us max {tokio_max:.1} us"
        ),
    );
}
