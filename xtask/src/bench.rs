//! `cargo xtask bench [capability]`: our code and the anchor crates, side by side.
//!
//! Each bench in `tests/benches/<capability>.rs` measures ours and an anchor in one process
//! and prints `bench <capability>/<case> ours <ns> ns <anchor> <ns> ns ratio <ours/anchor>`.

use crate::cargo;
use crate::ci::CAPABILITIES;

/// Benches that are not capabilities: time, and the adapters (`redis` skips, saying so, when no
/// `redis-server` is installed).
const EXTRA: &[&str] = &["time", "tower", "redis"];

pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let all: Vec<&str> = EXTRA.iter().chain(CAPABILITIES).copied().collect();
    let chosen: Vec<&str> = match args {
        [] => all.clone(),
        [one] if all.contains(one) => vec![*one],
        _ => {
            return Err(format!(
                "usage: cargo xtask bench [capability]; the benches are: {}",
                all.join(", ")
            ));
        }
    };
    for capability in chosen {
        let bench = capability.replace('-', "_");
        cargo(&["bench", "--locked", "-p", "asynchronously-tests", "--bench", &bench])?;
    }
    Ok(())
}
