//! `cargo xtask loom`: the loom models of the lock-free cores, every interleaving explored.
//!
//! Built with `--cfg loom` into a target directory of its own (so the normal build cache is
//! untouched) and in release mode, as loom recommends. Not a step of `ci`: the separate build
//! takes minutes on a shared machine.

use crate::cargo_with_env;

/// The crates with a `tests/loom.rs` model.
const MODELS: &[&str] = &["asynchronously-priority-semaphore"];

pub(crate) fn run() -> Result<(), String> {
    let env = [
        ("RUSTFLAGS", "--cfg loom"),
        ("CARGO_TARGET_DIR", "target/loom"),
        ("LOOM_MAX_PREEMPTIONS", "3"),
    ];
    for package in MODELS {
        cargo_with_env(&["test", "--locked", "--release", "-p", package, "--test", "loom"], &env)?;
    }
    Ok(())
}
