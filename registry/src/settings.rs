//! The server's typed settings, validated at start-up.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use stele_compat::CompatibilityLevel;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A database URL, kept out of logs: it may carry a password.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Show the scheme only.
        let scheme = self.0.split_once("://").map_or("?", |(s, _)| s);
        write!(f, "{scheme}://<redacted>")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub default_compatibility: CompatibilityLevel,
    pub log_format: LogFormat,
    /// Serve `/metrics` on this address only, instead of on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve HTTPS with these files (see [`crate::tls`]).
    pub tls: Option<TlsSettings>,
    /// What one request may cost.
    pub limits: Limits,
    /// Who may call, and what each principal may do.
    pub auth: crate::auth::AuthSettings,
    /// How webhook deliveries are retried.
    pub webhooks: WebhookOptions,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            database: DatabaseUrl::new("sqlite://stele.db"),
            default_compatibility: CompatibilityLevel::Backward,
            log_format: LogFormat::Text,
            metrics_listen: None,
            tls: None,
            limits: Limits::default(),
            auth: crate::auth::AuthSettings::default(),
            webhooks: WebhookOptions::default(),
        }
    }
}

/// The server's certificate and key (PEM files, reloaded when they change or
/// on SIGHUP), and the CA that client certificates must chain to for mTLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With it, clients may present a certificate (its subject's common name
    /// becomes their principal); without it, none is asked for.
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required (else optional).
    pub require_client_cert: bool,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

/// What one request may cost; every limit is answered in Confluent's error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A request body's size.
    pub max_body_bytes: usize,
    /// One schema's text.
    pub max_schema_bytes: usize,
    /// References of one schema.
    pub max_references: usize,
    /// How deep references may nest.
    pub max_reference_depth: usize,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// Requests served at once; more wait.
    pub max_concurrent_requests: usize,
    /// Values the wire oracle writes per (writer, reader) pair (config `wireProof`).
    pub wire_proof_budget: usize,
    /// What the in-memory caches hold at most, together (approximate bytes).
    pub cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_schema_bytes: 4 * 1024 * 1024,
            max_references: 1000,
            max_reference_depth: 64,
            request_timeout: Duration::from_mins(1),
            max_concurrent_requests: 1024,
            wire_proof_budget: stele_compat::wire::ProofOptions::DEFAULT_BUDGET,
            cache_bytes: 512 * 1024 * 1024,
        }
    }
}

/// How webhook deliveries are made and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Attempts of one delivery, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles each time, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_mins(5),
            timeout: Duration::from_secs(10),
        }
    }
}
