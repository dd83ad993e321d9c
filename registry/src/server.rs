//! Opening storage and serving the API on a bound listener.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::{RegistryError, Result};
use crate::http::{App, AppState, app};
use crate::service::Registry;
use crate::settings::Settings;
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;

/// Opens the store named by the settings' database URL, running its migrations.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    if settings.database.is_postgres() {
        return Ok(Arc::new(PostgresStore::connect(settings.database.expose()).await?));
    }
    if !settings.database.expose().starts_with("sqlite:") {
        return Err(RegistryError::Internal("the database URL must start with sqlite:// or postgres://".into()));
    }
    Ok(Arc::new(SqliteStore::connect(settings.database.expose()).await?))
}

/// The application state over a store.
/// Must be called inside the async runtime: with shared storage it starts the
/// task that drops cached answers when another replica writes, and it starts
/// the audit writer. Fails when the authentication settings do not hold.
pub fn state(store: Arc<dyn Store>, settings: &Settings) -> Result<AppState> {
    crate::metrics::install();
    let auth = if settings.auth.enabled() {
        let authenticator = crate::auth::authn::Authenticator::new(&settings.auth)
            .map_err(|e| RegistryError::Internal(format!("invalid authentication settings: {e}")))?;
        Some(crate::http::auth::AuthState { authenticator, grants: settings.auth.grants.clone() })
    } else {
        None
    };
    let changes = store.changes();
    let app = Arc::new(App {
        registry: Registry::new(store, settings.default_compatibility, settings.limits.clone()),
        auth,
        limits: settings.limits.clone(),
        metrics_on_main: settings.metrics_listen.is_none(),
    });
    app.registry.start_audit();
    app.registry.start_webhooks(settings.webhooks.clone());
    warm_read_path(&app);
    let weak = Arc::downgrade(&app);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::metrics::UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if weak.strong_count() == 0 {
                return;
            }
            crate::metrics::upkeep();
        }
    });
    if let Some(mut changes) = changes {
        let weak = Arc::downgrade(&app);
        tokio::spawn(async move {
            loop {
                let kind = match changes.recv().await {
                    Ok(kind) => kind,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => "lagged".to_owned(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(app) = weak.upgrade() else { return };
                // `kind@millis`: the lag is measured once the invalidation is applied.
                let (kind, sent) =
                    kind.rsplit_once('@').map_or((kind.as_str(), None), |(k, t)| (k, t.parse::<i64>().ok()));
                if app.registry.forget_cached(kind) {
                    warm_read_path(&app);
                }
                if let Some(sent) = sent {
                    let lag = crate::store::now_millis().saturating_sub(sent);
                    crate::metrics::invalidation_lag(std::time::Duration::from_millis(lag.max(0) as u64));
                }
            }
        });
    }
    Ok(AppState(app))
}

/// Packs every stored schema's by-id answer into memory in the background
/// (see `Registry::warm_schemas`): the registry serves meanwhile, reading
/// storage for what is not there yet.
fn warm_read_path(app: &Arc<App>) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match app.registry.warm_schemas().await {
            Ok(schemas) => tracing::info!(
                schemas,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "schemas by id held in memory"
            ),
            Err(error) => tracing::warn!(%error, "warming the read path failed; ids are read from storage"),
        }
    });
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight
/// requests; over HTTPS when `tls` is given (see [`crate::tls`]).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    tls: Option<&crate::settings::TlsSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        Some(tls) => crate::tls::serve(listener, app(state), tls, shutdown).await,
        None => axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await,
    }
}

/// Serves only `GET /metrics` on its own listener (`--metrics-listen`).
pub async fn run_metrics(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|axum::extract::State(state): axum::extract::State<AppState>| async move {
            crate::http::render_metrics(&state).await
        }),
    );
    axum::serve(listener, router.with_state(state)).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
