//! HTTPS (being built by the TLS work).

use std::future::Future;

use tokio::net::TcpListener;

use crate::settings::TlsSettings;

/// Serves `app` over HTTPS on `listener` until `shutdown` completes.
pub async fn serve(
    _listener: TcpListener,
    _app: axum::Router,
    _tls: &TlsSettings,
    _shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Err(std::io::Error::other("HTTPS is not built yet"))
}

/// The client certificate of an mTLS connection, in each of its requests' extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub common_name: Option<String>,
    pub subject: String,
}
