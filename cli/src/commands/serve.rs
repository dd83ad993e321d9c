//! `stele serve`: run the registry.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use stele_compat::CompatibilityLevel;
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, LogFormat, Settings};

#[derive(Args, Debug)]
pub struct ServeOpts {
    /// Address to listen on.
    #[arg(long, env = "STELE_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://...`.
    #[arg(long, env = "STELE_DATABASE_URL", default_value = "sqlite://stele.db", hide_env_values = true)]
    database: String,
    /// Compatibility level for subjects with none configured.
    #[arg(long, env = "STELE_DEFAULT_COMPATIBILITY", default_value = "BACKWARD", value_parser = parse_level)]
    default_compatibility: CompatibilityLevel,
    /// Log format.
    #[arg(long, env = "STELE_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
    /// Serve `/metrics` on this address only (default: on `--listen`).
    #[arg(long, env = "STELE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

fn parse_level(raw: &str) -> Result<CompatibilityLevel, String> {
    raw.parse().map_err(|_| {
        "expected one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
            .to_owned()
    })
}

pub fn run(opts: &ServeOpts) -> anyhow::Result<()> {
    let settings = Settings {
        listen: opts.listen,
        database: DatabaseUrl::new(opts.database.clone()),
        default_compatibility: opts.default_compatibility,
        log_format: match opts.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        metrics_listen: opts.metrics_listen,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // Traces export from the runtime's threads; the guard flushes them at exit.
    let traces = runtime
        .block_on(async { stele_registry::telemetry::init(settings.log_format) })
        .map_err(|e| anyhow::anyhow!(e))?;
    let served = runtime.block_on(async {
        let store = server::open_store(&settings).await.context("opening the database")?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let state = server::state(store, &settings);
        if let Some(metrics_address) = settings.metrics_listen {
            let metrics_listener = tokio::net::TcpListener::bind(metrics_address)
                .await
                .with_context(|| format!("binding {metrics_address}"))?;
            let bound = metrics_listener.local_addr().context("reading the bound metrics address")?;
            tracing::info!(metrics.address = %bound, "metrics on http://{bound}/metrics");
            tokio::spawn(server::run_metrics(metrics_listener, state.clone()));
        }
        tracing::info!(listen.address = %address, database = ?settings.database, "stele listening on http://{address}");
        server::run(listener, state, server::shutdown_signal()).await.context("serving")?;
        anyhow::Ok(())
    });
    drop(traces);
    served
}
