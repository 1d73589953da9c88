//! A small key-value service built from every `asynchronously` crate, under load, on smol.
//!
//! `cargo run --release --example service-smol [-- --seconds 5 --connections 64 --port 0]`
//!
//! The same core as `--example service`, with nothing tied to tokio: this file only picks
//! smol, wires Ctrl-C and prints. `docs/guide/service.md` walks through it.

#![expect(clippy::print_stdout, clippy::print_stderr, reason = "an example prints its results")]

use std::process::ExitCode;
use std::sync::Arc;

use asynchronously::lifecycle::Shutdown;
use asynchronously_tests::service::cli::{ArgsError, Options, ProgressLine};
use asynchronously_tests::service::runtime::Smol;
use asynchronously_tests::service::{Service, run_under_load};

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(ArgsError::Help) => {
            println!("{}", ArgsError::Help);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // smol's global executor runs spawned tasks on its own threads.
    smol::block_on(async {
        let service = match Service::new(Arc::new(Smol), options.config()) {
            Ok(service) => service,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        };
        // Ctrl-C stops the load; the service then shuts down in order as usual.
        let stop = Shutdown::new();
        match stop.on_signals() {
            Ok(signals) => smol::spawn(signals).detach(),
            Err(error) => eprintln!("Ctrl-C will not stop the load early: {error}"),
        }
        let progress = ProgressLine::new();
        service.on_progress(move |report| progress.print(report));
        println!(
            "service on smol: {} connections for {} s on 127.0.0.1 (Ctrl-C stops early)",
            options.connections, options.seconds,
        );
        let summary = run_under_load(&service, &options.load(), &stop, 1000).await;
        progress.finish();
        println!("{summary}");
        if summary.clean { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    })
}
