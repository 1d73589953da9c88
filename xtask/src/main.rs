//! Repository automation: `cargo xtask <task>` (see `cargo xtask help`).
//!
//! Plain Rust, no dependencies, the same commands locally and in CI
//! (<https://github.com/matklad/cargo-xtask>).

mod bench;
mod ci;
mod loom;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  ci [--keep-going] [step]   every CI step in order, or one: fmt | clippy | test | doc | features | tidy
  bench [capability]         ours vs the anchor crates, one process per capability; prints ratios
  loom                       the loom models of the lock-free cores (not in ci: a release build of its own)
  tidy                       repository invariants (also a step of ci)
  help                       this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci", rest @ ..] => ci::run(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["loom"] => loom::run(),
        ["tidy"] => tidy::run(),
        ["help" | "--help" | "-h"] => {
            report(HELP);
            Ok(())
        }
        _ => Err(HELP.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            report(&message);
            ExitCode::FAILURE
        }
    }
}

/// Prints a line of xtask's own output (to stderr, so it interleaves with cargo's).
#[expect(clippy::print_stderr, reason = "xtask is a command-line tool")]
fn report(message: &str) {
    eprintln!("{message}");
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent folder").to_path_buf()
}

/// Runs `cargo <args>` at the workspace root with `env` added, echoing the command first.
fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let shown: Vec<String> = env
        .iter()
        .map(|(key, value)| format!("{key}={value:?}"))
        .chain(std::iter::once("cargo".to_owned()))
        .chain(args.iter().map(|arg| (*arg).to_owned()))
        .collect();
    let shown = shown.join(" ");
    report(&format!("$ {shown}"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|error| format!("could not start cargo: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed ({status}); rerun with:\n  {shown}"))
    }
}

/// Runs `cargo <args>` at the workspace root, echoing the command first.
fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}
