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
    #[command(subcommand)]
    command: Command,
}

/// How client commands reach the registry. Each client command takes these;
/// `stele serve` does not (its `--help` lists server options only).
#[derive(Args, Debug)]
struct ClientArgs {
    /// The registry's URL.
    #[arg(long, env = "STELE_REGISTRY_URL", default_value = "http://127.0.0.1:8081")]
    registry: String,
    /// Output format of commands that report findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Basic-auth user.
    #[arg(long, env = "STELE_REGISTRY_USER", hide_env_values = true)]
    user: Option<String>,
    /// Basic-auth password.
    #[arg(long, env = "STELE_REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Bearer token: an API token or a JWT (wins over basic auth).
    #[arg(long, env = "STELE_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Trust this CA (PEM) for an https:// registry, besides the system's roots.
    #[arg(long, env = "STELE_CA_CERT")]
    ca_cert: Option<std::path::PathBuf>,
    /// Present this client certificate (PEM) for mTLS, with --client-key.
    #[arg(long, env = "STELE_CLIENT_CERT", requires = "client_key")]
    client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "STELE_CLIENT_KEY", requires = "client_cert")]
    client_key: Option<std::path::PathBuf>,
}

impl ClientArgs {
    fn connection(&self) -> Connection {
        Connection {
            url: self.registry.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            token: self.token.clone(),
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }

    fn client(&self) -> anyhow::Result<Client> {
        Client::new(self.connection())
    }
}

/// A client command's own options and the registry connection.
#[derive(Args, Debug)]
struct WithClient<T: Args> {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    opts: T,
}

/// An offline command's own options and its report format.
#[derive(Args, Debug)]
struct Offline<T: Args> {
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    opts: T,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry server (Confluent-compatible REST API).
    Serve(commands::serve::ServeOpts),
    /// Register a schema file under a subject; prints its id.
    Register(WithClient<commands::registry::RegisterOpts>),
    /// Print a schema: a subject's version, or by id.
    Get(WithClient<commands::registry::GetOpts>),
    /// List subjects.
    Subjects(WithClient<commands::registry::SubjectsOpts>),
    /// List a subject's versions.
    Versions(WithClient<commands::registry::VersionsOpts>),
    /// Check a schema file against a subject's rule in the registry (a dry run).
    Check(WithClient<commands::check::CheckOpts>),
    /// Compare two schema files offline, with no registry.
    Diff(Offline<commands::diff::DiffOpts>),
    /// Show or set the compatibility level, globally or of a subject.
    Config(WithClient<commands::registry::ConfigOpts>),
    /// Show or set the mode, globally or of a subject.
    Mode(WithClient<commands::registry::ModeOpts>),
    /// Delete a subject or one version, softly or permanently.
    Delete(WithClient<commands::registry::DeleteOpts>),
    /// Explain a compatibility rule: what it checks, why it breaks consumers, the alternative.
    Explain(commands::explain::ExplainOpts),
    /// Register the schemas a service produces and publish the contracts of what it consumes (stele.toml).
    Publish(WithClient<commands::contracts::PublishOpts>),
    /// Check a service's manifest in CI: schemas parse, pass their rules, every consumer can read them, examples validate.
    Verify(WithClient<commands::contracts::ManifestOpts>),
    /// Create, list, show or delete environments (dev, staging, prod...).
    Environment(WithClient<commands::deploy::EnvironmentOpts>),
    /// Record that a service version now runs in an environment (after a deploy).
    RecordDeployment(WithClient<commands::deploy::DeploymentOpts>),
    /// Record that a service no longer runs in an environment.
    RecordUndeployment(WithClient<commands::deploy::DeploymentOpts>),
    /// May this service version go to that environment now? Exit 0 yes, 1 no.
    CanIDeploy(WithClient<commands::deploy::CanIDeployOpts>),
    /// Credentials for the server's configuration: password hashes and API tokens.
    Auth(commands::auth::AuthOpts),
    /// Write the registry's whole state (subjects, versions, ids, references, configs, modes) to one file.
    Export(WithClient<commands::migrate::ExportOpts>),
    /// Write a file `stele export` made into the registry, ids kept (through IMPORT mode; resumable).
    Import(WithClient<commands::migrate::ImportOpts>),
    /// Copy a running Confluent-compatible registry (--from) into this one, ids kept; resumable.
    Migrate(WithClient<commands::migrate::MigrateOpts>),
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
    let done = |result: anyhow::Result<()>| result.map(|()| Outcome::Ok);
    match &cli.command {
        Command::Serve(opts) => done(commands::serve::run(opts)),
        Command::Explain(opts) => done(commands::explain::run(opts)),
        Command::Auth(opts) => done(commands::auth::run(opts)),
        Command::Register(c) => done(commands::registry::register(&c.client.client()?, &c.opts)),
        Command::Get(c) => done(commands::registry::get(&c.client.client()?, &c.opts)),
        Command::Subjects(c) => done(commands::registry::subjects(&c.client.client()?, &c.opts)),
        Command::Versions(c) => done(commands::registry::versions(&c.client.client()?, &c.opts)),
        Command::Config(c) => done(commands::registry::config(&c.client.client()?, &c.opts)),
        Command::Mode(c) => done(commands::registry::mode(&c.client.client()?, &c.opts)),
        Command::Delete(c) => done(commands::registry::delete(&c.client.client()?, &c.opts)),
        Command::Check(c) => report(vec![commands::check::run(&c.client.client()?, &c.opts)?], c.client.format),
        Command::Diff(c) => report(vec![commands::diff::run(&c.opts)?], c.format),
        Command::Publish(c) => done(commands::contracts::publish(&c.client.client()?, &c.opts)),
        Command::Verify(c) => report(commands::contracts::verify(&c.client.client()?, &c.opts)?, c.client.format),
        Command::Environment(c) => done(commands::deploy::environment(&c.client.client()?, &c.opts)),
        Command::RecordDeployment(c) => done(commands::deploy::record_deployment(&c.client.client()?, &c.opts)),
        Command::RecordUndeployment(c) => done(commands::deploy::record_undeployment(&c.client.client()?, &c.opts)),
        Command::Export(c) => done(commands::migrate::export(&c.client.client()?, &c.client.registry, &c.opts)),
        Command::Import(c) => done(commands::migrate::import(&c.client.client()?, &c.opts)),
        Command::Migrate(c) => done(commands::migrate::migrate(&c.client.client()?, &c.client.connection(), &c.opts)),
        Command::CanIDeploy(c) => {
            let deployable =
                commands::deploy::can_i_deploy(&c.client.client()?, &c.opts, c.client.format, output::color())?;
            Ok(if deployable { Outcome::Ok } else { Outcome::Incompatible })
        }
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
