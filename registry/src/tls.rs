//! HTTPS with rustls (the `ring` provider): the certificate and key are PEM
//! files, reloaded without a restart when either file changes (checked every
//! `reload_interval`) or on SIGHUP. A reload that fails (a half-written file,
//! a key that does not match) is logged and the current certificate stays.
//!
//! With a client CA, clients may (or, with `require_client_cert`, must)
//! present a certificate chaining to it; its subject reaches every request of
//! the connection as a [`PeerIdentity`] extension, which authentication maps
//! to the principal `cert:<common name>`.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::settings::TlsSettings;

/// The client certificate of an mTLS connection, in each of its requests' extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub common_name: Option<String>,
    pub subject: String,
}

impl PeerIdentity {
    /// The identity in a DER certificate.
    pub fn of(der: &[u8]) -> Option<PeerIdentity> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = certificate.subject();
        let common_name = subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
        Some(PeerIdentity { common_name, subject: subject.to_string() })
    }
}

/// How long in-flight connections may finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

#[expect(
    deprecated,
    reason = "ring has no post-quantum key exchange; aws-lc-rs would, but needs a C toolchain and cmake to build"
)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the certificate {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not a PEM certificate chain: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certificates)
}

/// Loads the certificate chain and key, checking that they belong together.
fn load(tls: &TlsSettings) -> Result<Arc<CertifiedKey>, String> {
    let chain = certificates(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("cannot read a PEM private key from {}: {e}", tls.key.display()))?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        format!("{} and {} do not make a usable certificate: {e}", tls.cert.display(), tls.key.display())
    })?;
    Ok(Arc::new(certified))
}

/// Checks the files once, for a clear error at start-up.
pub fn check(tls: &TlsSettings) -> Result<(), String> {
    load(tls)?;
    if let Some(ca) = &tls.client_ca {
        certificates(ca)?;
    }
    Ok(())
}

/// The current certificate, swapped on reload.
#[derive(Debug)]
struct Resolver(parking_lot::RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.read()))
    }
}

fn config(tls: &TlsSettings, resolver: Arc<Resolver>) -> Result<rustls::ServerConfig, String> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(ca)? {
                roots.add(certificate).map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if tls.require_client_cert { verifier } else { verifier.allow_unauthenticated() };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("{}: {e}", ca.display()))?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn modified(tls: &TlsSettings) -> (Option<SystemTime>, Option<SystemTime>) {
    let time = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (time(&tls.cert), time(&tls.key))
}

/// Reloads the certificate when its files change or on SIGHUP.
async fn reload_forever(
    tls: TlsSettings,
    resolver: Arc<Resolver>,
    mut seen: (Option<SystemTime>, Option<SystemTime>),
    mut hangups: Option<tokio::signal::unix::Signal>,
) {
    let period = tls.reload_interval.max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let signalled = tokio::select! {
            _ = ticks.tick() => false,
            Some(()) = async { match hangups.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let now = modified(&tls);
        if !signalled && now == seen {
            continue;
        }
        seen = now;
        match load(&tls) {
            Ok(certified) => {
                *resolver.0.write() = certified;
                tracing::info!(
                    tls.cert = %tls.cert.display(),
                    reason = if signalled { "SIGHUP" } else { "the files changed" },
                    "reloaded the TLS certificate"
                );
            }
            Err(error) => tracing::error!(error, "the TLS certificate was not reloaded; the current one stays"),
        }
    }
}

/// Serves `app` over HTTPS on `listener` until `shutdown` completes, then lets
/// in-flight connections finish (for at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    app: crate::http::Api,
    tls: &TlsSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The files' times are taken before they are read: a change in between is reloaded.
    let seen = modified(tls);
    let resolver = Arc::new(Resolver(parking_lot::RwLock::new(load(tls).map_err(std::io::Error::other)?)));
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(config(tls, Arc::clone(&resolver)).map_err(std::io::Error::other)?));
    // Listening for SIGHUP from here on (its default action would end the process).
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let reloader = tokio::spawn(reload_forever(tls.clone(), resolver, seen, hangups));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, client.address = %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client.address = %peer, "TLS handshake timed out");
                    return;
                }
            };
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| PeerIdentity::of(leaf));
            let service = app.map_request(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                if let Some(identity) = &identity {
                    request.extensions_mut().insert(identity.clone());
                }
                request
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %error, client.address = %peer, "HTTPS connection ended with an error");
            }
        });
    }
    reloader.abort();
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN:?} were closed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_of_a_certificate_is_its_identity() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "ci-bot");
        let key = rcgen::KeyPair::generate().expect("key");
        let certificate = params.self_signed(&key).expect("certificate");
        let identity = PeerIdentity::of(certificate.der()).expect("parsed");
        assert_eq!(identity.common_name.as_deref(), Some("ci-bot"));
        assert!(identity.subject.contains("CN=ci-bot"), "{}", identity.subject);
    }
}
