//! The bench harness: measures our code and an anchor crate side by side, in one process.
//!
//! Every bench in `tests/benches/` prints one line per case, in exactly this format so
//! scripts can read it (ns per operation, lower is better):
//!
//! ```text
//! bench <capability>/<case> ours <ns> ns <anchor> <ns> ns ratio <ours/anchor>
//! ```
//!
//! Samples of ours and of the anchor are interleaved, so a noisy neighbour slows both
//! alike, and the median of each is reported.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one sample should take; the iteration count is calibrated to it.
const SAMPLE_TARGET: Duration = Duration::from_millis(20);
/// Samples per side; the median is reported.
const SAMPLES: usize = 15;

/// Something to measure: given an iteration count, runs the operation that many times and
/// returns the time it took (so setup outside the loop is not counted).
pub trait Routine {
    /// Runs the operation `iterations` times and returns the elapsed time.
    fn run(&mut self, iterations: u64) -> Duration;
}

impl<F: FnMut(u64) -> Duration> Routine for F {
    fn run(&mut self, iterations: u64) -> Duration {
        self(iterations)
    }
}

/// Times `iterations` calls of `operation`: a convenience for synchronous routines.
pub fn time_iterations(iterations: u64, mut operation: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        operation();
        black_box(());
    }
    start.elapsed()
}

/// The median nanoseconds per operation of `ours` and `anchor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Nanoseconds per operation of our code.
    pub ours_ns: f64,
    /// Nanoseconds per operation of the anchor.
    pub anchor_ns: f64,
}

impl Comparison {
    /// `ours / anchor`: below 1.00 means we are faster.
    pub fn ratio(&self) -> f64 {
        self.ours_ns / self.anchor_ns
    }
}

/// Measures `ours` and `anchor` with interleaved samples and returns the medians.
pub fn compare(mut ours: impl Routine, mut anchor: impl Routine) -> Comparison {
    let ours_iterations = calibrate(&mut ours);
    let anchor_iterations = calibrate(&mut anchor);
    let mut ours_samples = Vec::with_capacity(SAMPLES);
    let mut anchor_samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        ours_samples.push(per_op(ours.run(ours_iterations), ours_iterations));
        anchor_samples.push(per_op(anchor.run(anchor_iterations), anchor_iterations));
    }
    Comparison { ours_ns: median(ours_samples), anchor_ns: median(anchor_samples) }
}

/// Measures and prints one `bench …` line; returns the comparison for further reporting.
pub fn report(
    case: &str,
    anchor_name: &str,
    ours: impl Routine,
    anchor: impl Routine,
) -> Comparison {
    let comparison = compare(ours, anchor);
    print_line(case, anchor_name, comparison);
    comparison
}

/// Prints one line in the bench format.
#[expect(clippy::print_stdout, reason = "the bench line is the harness's output")]
pub fn print_line(case: &str, anchor_name: &str, comparison: Comparison) {
    println!(
        "bench {case} ours {:.1} ns {anchor_name} {:.1} ns ratio {:.2}",
        comparison.ours_ns,
        comparison.anchor_ns,
        comparison.ratio()
    );
}

/// Prints a free-form measurement that has no anchor (allocations, lateness, …).
#[expect(clippy::print_stdout, reason = "the report is the harness's output")]
pub fn note(case: &str, text: &str) {
    println!("note {case} {text}");
}

fn calibrate(routine: &mut impl Routine) -> u64 {
    let mut iterations = 1u64;
    loop {
        let elapsed = routine.run(iterations);
        if elapsed >= SAMPLE_TARGET / 4 || iterations >= 1 << 30 {
            let per_op = elapsed.as_secs_f64() / iterations as f64;
            let wanted = (SAMPLE_TARGET.as_secs_f64() / per_op.max(1e-12)) as u64;
            return wanted.clamp(1, 1 << 32);
        }
        iterations *= 4;
    }
}

fn per_op(elapsed: Duration, iterations: u64) -> f64 {
    elapsed.as_nanos() as f64 / iterations as f64
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A global allocator that counts allocations, for "allocations per operation" reports.
///
/// Install it in a bench binary with `#[global_allocator]`, then read [`allocations`].
#[derive(Debug)]
pub struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Heap allocations made so far through [`CountingAllocator`].
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Runs `operation` `iterations` times and returns the heap allocations per call.
pub fn allocations_per_op(iterations: u64, mut operation: impl FnMut()) -> f64 {
    let before = allocations();
    for _ in 0..iterations {
        operation();
    }
    (allocations() - before) as f64 / iterations as f64
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` through `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
