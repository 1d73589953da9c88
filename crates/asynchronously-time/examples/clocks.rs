//! One piece of timing code, run on the real clock and then on a virtual one.
//!
//! `cargo run -p asynchronously-time --example clocks`
//!
//! A heartbeat that beats every `period` for `beats` beats is written once, generic over the
//! `Clock`. On `RealClock` five beats of 20 ms take about 100 ms of wall time; on
//! `VirtualClock` an hour of one-second beats takes well under a second, and every beat lands
//! exactly on its instant.

#![expect(clippy::print_stdout, reason = "an example reports what it did")]

use std::time::{Duration, Instant};

use asynchronously::time::{Clock, RealClock, VirtualClock};

/// Beats `beats` times, one `period` apart, and returns when each beat happened (relative to
/// the start, on `clock`).
async fn heartbeat<C: Clock>(clock: &C, period: Duration, beats: u32) -> Vec<Duration> {
    let start = clock.now();
    let mut next = start;
    let mut sleep = clock.sleep_until(start);
    let mut seen = Vec::with_capacity(beats as usize);
    for _ in 0..beats {
        next += period;
        clock.reset(&mut sleep, next);
        (&mut sleep).await;
        seen.push(clock.now() - start);
    }
    seen
}

fn main() {
    let wall = Instant::now();
    let beats = futures::executor::block_on(heartbeat(&RealClock, Duration::from_millis(20), 5));
    println!("RealClock: 5 beats of 20 ms at {beats:?} (wall time {:?})", wall.elapsed());

    let clock = VirtualClock::new();
    let wall = Instant::now();
    let (beats, ()) = futures::executor::block_on(async {
        futures::join!(
            heartbeat(&clock, Duration::from_secs(1), 3600),
            clock.run_for(Duration::from_secs(3600)),
        )
    });
    let on_grid = beats.iter().enumerate().all(|(i, at)| *at == Duration::from_secs(i as u64 + 1));
    println!(
        "VirtualClock: {} beats over one virtual hour, all exactly on the second: {on_grid} (wall time {:?})",
        beats.len(),
        wall.elapsed()
    );
}
