//! `stele`: run the registry, and talk to it from CI.
//!
//! # Layout
//! - `commands/`: one module per subcommand, each with `run(opts)`.

mod commands;

/// mimalloc: the read path allocates a little per request, and the system
/// allocator's locking shows in the benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Stele: a schema registry and contract-testing service for event-driven systems.
#[derive(Parser, Debug)]
#[command(name = "stele", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry server (Confluent-compatible REST API).
    Serve(commands::serve::ServeOpts),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(opts) => commands::serve::run(opts),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
