//! `stele serve`: run the registry.
//!
//! Settings come from, lowest first: built-in defaults, the `--config` TOML
//! file, environment variables, flags. The file is validated at start and every
//! error names its key; README.md documents every key with a full example.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use stele_compat::CompatibilityLevel;
use stele_registry::auth::{AuthSettings, Grant, JwksSource, JwtSettings, TokenEntry, UserEntry};
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, Limits, LogFormat, Settings, TlsSettings, WebhookOptions};

#[derive(Args, Debug)]
pub struct ServeOpts {
    /// A TOML configuration file (see README.md); environment variables and flags override it.
    #[arg(long, env = "STELE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8081].
    #[arg(long, env = "STELE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://...` [default: `sqlite://stele.db`].
    #[arg(long, env = "STELE_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Compatibility level for subjects with none configured [default: BACKWARD].
    #[arg(long, env = "STELE_DEFAULT_COMPATIBILITY", value_parser = parse_level)]
    default_compatibility: Option<CompatibilityLevel>,
    /// Log format [default: text].
    #[arg(long, env = "STELE_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormatArg>,
    /// Serve `/metrics` on this address only (default: on `--listen`).
    #[arg(long, env = "STELE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM); reloaded when the file changes or on SIGHUP.
    #[arg(long, env = "STELE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "STELE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Accept client certificates issued by this CA (PEM): mTLS, the certificate's common name is the principal.
    #[arg(long, env = "STELE_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Refuse clients without a certificate (with a client CA).
    #[arg(long, env = "STELE_TLS_REQUIRE_CLIENT_CERT")]
    tls_require_client_cert: bool,
    /// Listen beyond loopback with no authentication configured (every caller is an admin).
    #[arg(long, env = "STELE_ALLOW_ANONYMOUS")]
    allow_anonymous: bool,
    /// Largest request body, in bytes [default: 8388608].
    #[arg(long, env = "STELE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Longest a request may take, in seconds [default: 60].
    #[arg(long, env = "STELE_REQUEST_TIMEOUT_SECS")]
    request_timeout_secs: Option<u64>,
    /// Requests served at once; more wait [default: 1024].
    #[arg(long, env = "STELE_MAX_CONCURRENT_REQUESTS")]
    max_concurrent_requests: Option<usize>,
    /// Delivery attempts of one webhook event [default: 8].
    #[arg(long, env = "STELE_WEBHOOK_MAX_ATTEMPTS")]
    webhook_max_attempts: Option<u32>,
    /// Wait before a webhook's first retry, in milliseconds; it doubles each time [default: 1000].
    #[arg(long, env = "STELE_WEBHOOK_BACKOFF_MS")]
    webhook_backoff_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database: Option<String>,
    default_compatibility: Option<String>,
    log_format: Option<LogFormatArg>,
    metrics_listen: Option<SocketAddr>,
    allow_anonymous: Option<bool>,
    tls: Option<FileTls>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    webhooks: FileWebhooks,
    #[serde(default)]
    auth: FileAuth,
    #[serde(default)]
    grants: Vec<Grant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
    #[serde(default)]
    require_client_cert: bool,
    reload_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_body_bytes: Option<usize>,
    max_schema_bytes: Option<usize>,
    max_references: Option<usize>,
    max_reference_depth: Option<usize>,
    request_timeout_secs: Option<u64>,
    max_concurrent_requests: Option<usize>,
    wire_proof_budget: Option<usize>,
    cache_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhooks {
    max_attempts: Option<u32>,
    backoff_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    realm: Option<String>,
    #[serde(default)]
    mtls: bool,
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    tokens: Vec<TokenEntry>,
    jwt: Option<FileJwt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileJwt {
    issuer: String,
    audience: String,
    jwks_file: Option<PathBuf>,
    jwks_url: Option<String>,
    principal_claim: Option<String>,
    groups_claim: Option<String>,
    refresh_secs: Option<u64>,
    leeway_secs: Option<u64>,
}

/// Paths in the file are relative to the file.
fn relative(base: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() { path } else { base.join(path) }
}

fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the configuration {}", path.display()))?;
    let mut config: FileConfig =
        toml::from_str(&text).with_context(|| format!("the configuration {} is not valid", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(tls) = &mut config.tls {
        tls.cert = relative(&base, std::mem::take(&mut tls.cert));
        tls.key = relative(&base, std::mem::take(&mut tls.key));
        tls.client_ca = tls.client_ca.take().map(|p| relative(&base, p));
    }
    if let Some(jwt) = &mut config.auth.jwt {
        jwt.jwks_file = jwt.jwks_file.take().map(|p| relative(&base, p));
    }
    Ok(config)
}

/// Flags and environment over the file over the defaults, validated.
fn settings(opts: &ServeOpts) -> anyhow::Result<Settings> {
    let file = match &opts.config {
        Some(path) => load(path)?,
        None => FileConfig::default(),
    };
    let defaults = Settings::default();
    let default_compatibility = match (opts.default_compatibility, &file.default_compatibility) {
        (Some(level), _) => level,
        (None, Some(raw)) => parse_level(raw).map_err(|e| anyhow::anyhow!("default_compatibility: {e}"))?,
        (None, None) => defaults.default_compatibility,
    };
    let tls = match (&opts.tls_cert, &opts.tls_key, file.tls) {
        (Some(cert), Some(key), file_tls) => Some(TlsSettings {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: opts.tls_client_ca.clone().or_else(|| file_tls.as_ref().and_then(|t| t.client_ca.clone())),
            require_client_cert: opts.tls_require_client_cert
                || file_tls.as_ref().is_some_and(|t| t.require_client_cert),
            reload_interval: Duration::from_secs(file_tls.and_then(|t| t.reload_interval_secs).unwrap_or(10)),
        }),
        (None, None, Some(file_tls)) => Some(TlsSettings {
            cert: file_tls.cert,
            key: file_tls.key,
            client_ca: opts.tls_client_ca.clone().or(file_tls.client_ca),
            require_client_cert: opts.tls_require_client_cert || file_tls.require_client_cert,
            reload_interval: Duration::from_secs(file_tls.reload_interval_secs.unwrap_or(10)),
        }),
        (None, None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    if let Some(tls) = &tls {
        if tls.require_client_cert && tls.client_ca.is_none() {
            bail!("tls.require_client_cert needs tls.client_ca (--tls-client-ca)");
        }
        stele_registry::tls::check(tls).map_err(|e| anyhow::anyhow!("tls: {e}"))?;
    }
    let jwt = file
        .auth
        .jwt
        .map(|jwt| {
            let jwks = match (jwt.jwks_file, jwt.jwks_url) {
                (Some(file), None) => JwksSource::File(file),
                (None, Some(url)) => JwksSource::Url(url),
                _ => bail!("auth.jwt: give exactly one of jwks_file and jwks_url"),
            };
            Ok(JwtSettings {
                issuer: jwt.issuer,
                audience: jwt.audience,
                jwks,
                principal_claim: jwt.principal_claim.unwrap_or_else(|| "sub".into()),
                groups_claim: jwt.groups_claim.unwrap_or_else(|| "groups".into()),
                refresh: Duration::from_secs(jwt.refresh_secs.unwrap_or(300)),
                leeway: Duration::from_secs(jwt.leeway_secs.unwrap_or(60)),
            })
        })
        .transpose()?;
    let auth = AuthSettings {
        users: file.auth.users,
        tokens: file.auth.tokens,
        jwt,
        mtls: file.auth.mtls,
        grants: file.grants,
        realm: file.auth.realm,
    };
    if auth.mtls && tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
        bail!("auth.mtls needs TLS with a client CA (tls.client_ca or --tls-client-ca)");
    }
    for (i, grant) in auth.grants.iter().enumerate() {
        let known = ["user:", "token:", "jwt:", "group:", "cert:"].iter().any(|p| grant.principal.starts_with(p));
        if !known && grant.principal != "*" && grant.principal != "anonymous" {
            bail!(
                "grants[{i}].principal: '{}' must be user:NAME, token:NAME, jwt:SUBJECT, group:NAME, cert:NAME, \
                 anonymous or *",
                grant.principal
            );
        }
    }
    let limit = Limits::default();
    let limits = Limits {
        max_body_bytes: opts.max_body_bytes.or(file.limits.max_body_bytes).unwrap_or(limit.max_body_bytes),
        max_schema_bytes: file.limits.max_schema_bytes.unwrap_or(limit.max_schema_bytes),
        max_references: file.limits.max_references.unwrap_or(limit.max_references),
        max_reference_depth: file.limits.max_reference_depth.unwrap_or(limit.max_reference_depth),
        request_timeout: opts
            .request_timeout_secs
            .or(file.limits.request_timeout_secs)
            .map_or(limit.request_timeout, Duration::from_secs),
        max_concurrent_requests: opts
            .max_concurrent_requests
            .or(file.limits.max_concurrent_requests)
            .unwrap_or(limit.max_concurrent_requests),
        wire_proof_budget: file.limits.wire_proof_budget.unwrap_or(limit.wire_proof_budget),
        cache_bytes: file.limits.cache_bytes.unwrap_or(limit.cache_bytes),
    };
    if limits.max_body_bytes == 0 || limits.max_concurrent_requests == 0 || limits.request_timeout.is_zero() {
        bail!("limits: max_body_bytes, max_concurrent_requests and request_timeout_secs must be positive");
    }
    let webhook_defaults = WebhookOptions::default();
    let webhooks = WebhookOptions {
        max_attempts: opts.webhook_max_attempts.or(file.webhooks.max_attempts).unwrap_or(webhook_defaults.max_attempts),
        initial_backoff: opts
            .webhook_backoff_ms
            .or(file.webhooks.backoff_ms)
            .map_or(webhook_defaults.initial_backoff, Duration::from_millis),
        ..webhook_defaults
    };
    let settings = Settings {
        listen: opts.listen.or(file.listen).unwrap_or(defaults.listen),
        database: DatabaseUrl::new(
            opts.database.clone().or(file.database).unwrap_or_else(|| "sqlite://stele.db".into()),
        ),
        default_compatibility,
        log_format: match opts.log_format.or(file.log_format) {
            Some(LogFormatArg::Json) => LogFormat::Json,
            Some(LogFormatArg::Text) | None => LogFormat::Text,
        },
        metrics_listen: opts.metrics_listen.or(file.metrics_listen),
        tls,
        limits,
        auth,
        webhooks,
    };
    let allow_anonymous = opts.allow_anonymous || file.allow_anonymous.unwrap_or(false);
    if !settings.auth.enabled() && !settings.listen.ip().is_loopback() && !allow_anonymous {
        bail!(
            "refusing to listen on {} with no authentication configured: anyone who can reach it could delete \
             every subject. Configure [auth] in --config (see README.md), or pass --allow-anonymous",
            settings.listen
        );
    }
    Ok(settings)
}

pub fn run(opts: &ServeOpts) -> anyhow::Result<()> {
    let settings = settings(opts)?;
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
        let state = server::state(store, &settings).context("starting the registry")?;
        if let Some(metrics_address) = settings.metrics_listen {
            let metrics_listener = tokio::net::TcpListener::bind(metrics_address)
                .await
                .with_context(|| format!("binding {metrics_address}"))?;
            let bound = metrics_listener.local_addr().context("reading the bound metrics address")?;
            tracing::info!(metrics.address = %bound, "metrics on http://{bound}/metrics");
            tokio::spawn(server::run_metrics(metrics_listener, state.clone()));
        }
        let scheme = if settings.tls.is_some() { "https" } else { "http" };
        let auth = if settings.auth.enabled() { "on" } else { "off (every caller is an admin)" };
        tracing::info!(listen.address = %address, database = ?settings.database, auth, "stele listening on {scheme}://{address}");
        server::run(listener, state, settings.tls.as_ref(), server::shutdown_signal()).await.context("serving")?;
        anyhow::Ok(())
    });
    drop(traces);
    served
}
