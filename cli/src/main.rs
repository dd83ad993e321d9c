//! `stele`: run the registry, talk to it, and gate CI on compatibility.
//!
//! # Layout
//! - `commands/`: one module per subcommand.
//! - `client`: the registry's REST API.
//! - `report`: findings and their output formats.
//! - `output`: stdout (broken pipes, colour).
//!
//! Exit codes: 0 ok or compatible, 1 incompatible, 2 usage, input or
//! infrastructure error.

mod client;
mod commands;
mod output;
mod report;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::{Client, Connection};
use crate::report::{Format, Report};

/// mimalloc: the read path allocates a little per request, and the system
/// allocator's locking shows in the benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stele: a schema registry and contract-testing service for event-driven systems.
#[derive(Parser, Debug)]
#[command(name = "stele", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// The registry's URL.
    #[arg(long, global = true, env = "STELE_REGISTRY_URL", default_value = "http://127.0.0.1:8081")]
    registry: String,
    /// Output format of commands that report findings.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Basic-auth user.
    #[arg(long, global = true, env = "STELE_REGISTRY_USER", hide_env_values = true)]
    user: Option<String>,
    /// Basic-auth password.
    #[arg(long, global = true, env = "STELE_REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Bearer token (wins over basic auth).
    #[arg(long, global = true, env = "STELE_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry server (Confluent-compatible REST API).
    Serve(commands::serve::ServeOpts),
    /// Register a schema file under a subject; prints its id.
    Register(commands::registry::RegisterOpts),
    /// Print a schema: a subject's version, or by id.
    Get(commands::registry::GetOpts),
    /// List subjects.
    Subjects(commands::registry::SubjectsOpts),
    /// List a subject's versions.
    Versions(commands::registry::VersionsOpts),
    /// Check a schema file against a subject's rule in the registry (a dry run).
    Check(commands::check::CheckOpts),
    /// Compare two schema files offline, with no registry.
    Diff(commands::diff::DiffOpts),
    /// Show or set the compatibility level, globally or of a subject.
    Config(commands::registry::ConfigOpts),
    /// Show or set the mode, globally or of a subject.
    Mode(commands::registry::ModeOpts),
    /// Delete a subject or one version, softly or permanently.
    Delete(commands::registry::DeleteOpts),
    /// Explain a compatibility rule: what it checks, why it breaks consumers, the alternative.
    Explain(commands::explain::ExplainOpts),
    /// Register the schemas a service produces and publish the contracts of what it consumes (stele.toml).
    Publish(commands::contracts::PublishOpts),
    /// Check a service's manifest in CI: schemas parse, pass their rules, every consumer can read them, examples validate.
    Verify(commands::contracts::ManifestOpts),
}

/// What a command concluded.
enum Outcome {
    Ok,
    Incompatible,
    /// A check could not run (reported in the output).
    Failed,
}

fn report(checks: Vec<report::Check>, format: Format) -> anyhow::Result<Outcome> {
    let report = Report::new(checks);
    output::print(&report.render(format, output::color()))?;
    Ok(if report.checks.iter().any(|c| c.error.is_some()) {
        Outcome::Failed
    } else if report.compatible {
        Outcome::Ok
    } else {
        Outcome::Incompatible
    })
}

fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let connection = Connection {
        url: cli.global.registry.clone(),
        user: cli.global.user.clone(),
        password: cli.global.password.clone(),
        token: cli.global.token.clone(),
    };
    let client = || Client::new(connection.clone());
    match &cli.command {
        Command::Serve(opts) => commands::serve::run(opts).map(|()| Outcome::Ok),
        Command::Register(opts) => commands::registry::register(&client()?, opts).map(|()| Outcome::Ok),
        Command::Get(opts) => commands::registry::get(&client()?, opts).map(|()| Outcome::Ok),
        Command::Subjects(opts) => commands::registry::subjects(&client()?, opts).map(|()| Outcome::Ok),
        Command::Versions(opts) => commands::registry::versions(&client()?, opts).map(|()| Outcome::Ok),
        Command::Config(opts) => commands::registry::config(&client()?, opts).map(|()| Outcome::Ok),
        Command::Mode(opts) => commands::registry::mode(&client()?, opts).map(|()| Outcome::Ok),
        Command::Delete(opts) => commands::registry::delete(&client()?, opts).map(|()| Outcome::Ok),
        Command::Explain(opts) => commands::explain::run(opts).map(|()| Outcome::Ok),
        Command::Check(opts) => report(vec![commands::check::run(&client()?, opts)?], cli.global.format),
        Command::Diff(opts) => report(vec![commands::diff::run(opts)?], cli.global.format),
        Command::Publish(opts) => commands::contracts::publish(&client()?, opts).map(|()| Outcome::Ok),
        Command::Verify(opts) => report(commands::contracts::verify(&client()?, opts)?, cli.global.format),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(&cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Incompatible) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
