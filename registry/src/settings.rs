//! The server's typed settings, validated at start-up.

use std::fmt;
use std::net::SocketAddr;

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
}
