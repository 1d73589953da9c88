//! `cargo xtask ci`: every check CI runs, in order, the same locally.

use std::time::Instant;

use crate::{cargo, cargo_with_env, report};

/// Every public behaviour is tested under each of these (features of `asynchronously-tests`).
pub(crate) const RUNTIMES: &[&str] = &["tokio", "smol", "async-std"];

/// The capabilities that have landed, in facade order; `tidy` checks this list against
/// `crates/`, the facade's features and re-exports, the guides, tests, benches and
/// `docs/ARCHITECTURE.md`.
pub(crate) const CAPABILITIES: &[&str] = &[
    "lifecycle",
    "retry",
    "periodic",
    "gather",
    "cache",
    "ratelimit",
    "waterfall",
    "priority-semaphore",
];

type Step = fn() -> Result<(), String>;

const STEPS: &[(&str, Step)] = &[
    ("fmt", || cargo(&["fmt", "--all", "--check"])),
    ("clippy", || {
        cargo(&[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ])
    }),
    ("test", test),
    ("doc", || {
        cargo_with_env(
            &["doc", "--locked", "--workspace", "--no-deps", "--all-features"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    }),
    ("features", features),
    ("tidy", crate::tidy::run),
];

/// `cargo xtask ci [--keep-going] [step]`.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let keep_going = args.contains(&"--keep-going");
    let only: Vec<&str> = args.iter().copied().filter(|arg| *arg != "--keep-going").collect();
    if let Some(unknown) = only.iter().find(|name| !STEPS.iter().any(|(step, _)| step == *name)) {
        let names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        return Err(format!("unknown ci step `{unknown}`; the steps are: {}", names.join(", ")));
    }
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, step) in STEPS {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        report(&format!("==> ci step `{name}`"));
        let step_started = Instant::now();
        match step() {
            Ok(()) => {
                report(&format!("==> ci step `{name}` passed in {:.0?}", step_started.elapsed()))
            }
            Err(message) if keep_going => {
                report(&format!("==> ci step `{name}` FAILED: {message}"));
                failed.push(*name);
            }
            Err(message) => return Err(format!("ci step `{name}` failed: {message}")),
        }
    }
    if failed.is_empty() {
        report(&format!("==> ci passed in {:.0?}", started.elapsed()));
        Ok(())
    } else {
        Err(format!("ci steps failed: {}", failed.join(", ")))
    }
}

fn test() -> Result<(), String> {
    // Unit tests and doctests of every crate with every feature (retry's `tracing` included),
    // and xtask's own tidy tests.
    cargo(&[
        "test",
        "--locked",
        "--workspace",
        "--exclude",
        "asynchronously-tests",
        "--all-features",
    ])?;
    // The behaviour suite, once per runtime.
    for runtime in RUNTIMES {
        cargo(&[
            "test",
            "--locked",
            "-p",
            "asynchronously-tests",
            "--lib",
            "--no-default-features",
            "--features",
            runtime,
        ])?;
    }
    // README and guides, once.
    cargo(&["test", "--locked", "-p", "asynchronously-tests", "--doc"])
}

/// The facade builds with no features, with each capability alone, and with all of them
/// (cargo-hack is not available here; the matrix is small).
fn features() -> Result<(), String> {
    cargo(&["check", "--locked", "-p", "asynchronously", "--no-default-features"])?;
    // Adapters are features too, off by default and outside `full`.
    cargo(&[
        "check",
        "--locked",
        "-p",
        "asynchronously",
        "--no-default-features",
        "--features",
        "tower",
    ])?;
    CAPABILITIES.iter().try_for_each(|capability| {
        cargo(&[
            "check",
            "--locked",
            "-p",
            "asynchronously",
            "--no-default-features",
            "--features",
            capability,
        ])
    })
}
