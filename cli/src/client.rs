//! A blocking client for the registry's REST API.

use std::time::Duration;

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How to reach the registry: URL and credentials (never printed).
#[derive(Clone)]
pub struct Connection {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub ca_cert: Option<std::path::PathBuf>,
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are never printed.
        f.debug_struct("Connection").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The registry answered with an error: its Confluent `error_code` and message.
#[derive(Debug, thiserror::Error)]
#[error("registry error {error_code} (HTTP {status}): {message}")]
pub struct RegistryError {
    pub status: u16,
    pub error_code: i64,
    pub message: String,
}

pub struct Client {
    connection: Connection,
    http: reqwest::blocking::Client,
    /// One trace per invocation: every request carries it in `traceparent`.
    trace_id: String,
}

/// The trace this run belongs to: the caller's (`TRACEPARENT`, as CI tools
/// that trace their steps set it), else a new one.
fn trace_id() -> String {
    std::env::var("TRACEPARENT")
        .ok()
        .and_then(|value| {
            let id = value.trim().split('-').nth(1)?.to_ascii_lowercase();
            (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id != "0".repeat(32)).then_some(id)
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// A W3C `traceparent` for one request of the run's trace, sampled.
fn traceparent(trace_id: &str) -> String {
    let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace_id}-{span_id}-01")
}

const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

pub fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Client {
    pub fn new(connection: Connection) -> anyhow::Result<Client> {
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_mins(1));
        // HTTPS: the system's roots, plus --ca-cert; --client-cert/--client-key for mTLS.
        if let Some(path) = &connection.ca_cert {
            let pem = std::fs::read(path).with_context(|| format!("reading --ca-cert {}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--ca-cert {} is not a PEM certificate bundle", path.display()))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let (Some(cert), Some(key)) = (&connection.client_cert, &connection.client_key) {
            let mut pem = std::fs::read(cert).with_context(|| format!("reading --client-cert {}", cert.display()))?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).with_context(|| format!("reading --client-key {}", key.display()))?);
            builder = builder.identity(reqwest::Identity::from_pem(&pem).with_context(|| {
                format!(
                    "--client-cert {} and --client-key {} are not a PEM certificate and key",
                    cert.display(),
                    key.display()
                )
            })?);
        }
        let http = builder.build().context("building the HTTP client")?;
        Ok(Client { connection, http, trace_id: trace_id() })
    }

    /// Sends a request; a non-2xx answer becomes a [`RegistryError`].
    pub fn send(&self, method: &reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.connection.url.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("Accept", MEDIA_TYPE)
            .header("traceparent", traceparent(&self.trace_id));
        if let Some(token) = &self.connection.token {
            request = request.bearer_auth(token);
        } else if let Some(user) = &self.connection.user {
            request = request.basic_auth(user, self.connection.password.as_deref());
        }
        if let Some(body) = body {
            request = request.header("Content-Type", MEDIA_TYPE).body(body.to_string());
        }
        let response = request.send().map_err(|error| {
            // A certificate the client does not trust deserves the way out.
            let chain = format!("{:#}", anyhow::Error::from(error));
            let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
                " (is the registry's certificate signed by a CA this machine trusts? pass it with --ca-cert)"
            } else {
                ""
            };
            anyhow::anyhow!("the registry at {} is unreachable{hint}: {chain}", self.connection.url)
        })?;
        let status = response.status().as_u16();
        let text = response.text().context("reading the registry's answer")?;
        if !(200..300).contains(&status) {
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(RegistryError {
                status,
                error_code: parsed["error_code"].as_i64().unwrap_or(i64::from(status)),
                message: parsed["message"].as_str().map_or_else(|| text.clone(), str::to_owned),
            }
            .into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let value = self.send(&reqwest::Method::GET, path, None)?;
        serde_json::from_value(value).context("the registry's answer has an unexpected shape")
    }

    /// The raw text of an answer (the `/schema` endpoints).
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(match self.send(&reqwest::Method::GET, path, None)? {
            Value::String(text) => text,
            other => other.to_string(),
        })
    }
}
