//! `/`, server metadata, contexts and health probes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::wire::root_body;
use super::{AppState, json_response, ok};
use crate::error::Result;

#[derive(Serialize)]
struct Empty {}

pub async fn root() -> Response {
    ok(&Empty {})
}

/// `POST /` accepts any map of strings (an empty body too) and answers `{}`.
pub async fn root_post(body: Bytes) -> Result<Response> {
    let text = String::from_utf8_lossy(&body);
    if !text.trim().is_empty() {
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| crate::error::RegistryError::bad_request(format!("Malformed JSON body: {e}")))?;
        root_body(&value)?;
    }
    Ok(ok(&Empty {}))
}

#[derive(Serialize)]
struct Clusters {
    #[serde(rename = "kafka-cluster")]
    kafka_cluster: &'static str,
    #[serde(rename = "schema-registry-cluster")]
    schema_registry_cluster: &'static str,
}

#[derive(Serialize)]
struct Scope {
    path: Vec<String>,
    clusters: Clusters,
}

#[derive(Serialize)]
struct ClusterId {
    scope: Scope,
}

pub async fn metadata_id() -> Response {
    ok(&ClusterId {
        scope: Scope {
            path: Vec::new(),
            clusters: Clusters { kafka_cluster: "stele", schema_registry_cluster: "schema-registry" },
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerVersion {
    version: &'static str,
    commit_id: &'static str,
}

pub async fn metadata_version() -> Response {
    ok(&ServerVersion {
        version: env!("CARGO_PKG_VERSION"),
        commit_id: option_env!("STELE_COMMIT").unwrap_or("unknown"),
    })
}

pub async fn contexts(State(state): State<AppState>) -> Result<Response> {
    Ok(ok(&state.registry.contexts_list().await?))
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
}

/// Alive: the process answers.
pub async fn healthz() -> Response {
    ok(&Health { status: "ok" })
}

/// Ready: storage answers and every migration is applied; otherwise 503 with the reason.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.registry.store().ready().await {
        Ok(()) => ok(&Health { status: "ok" }),
        Err(reason) => {
            tracing::warn!(reason = %reason, "readiness check failed");
            let body = serde_json::to_vec(&Health { status: &reason }).unwrap_or_default();
            json_response(StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus's text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if !state.metrics_on_main {
        return crate::http::wire::not_found().into_response();
    }
    render_metrics(&state).await
}

/// The scrape: state gauges read now, then everything recorded.
pub async fn render_metrics(state: &AppState) -> Response {
    if let Err(error) = state.registry.report_metrics().await {
        tracing::warn!(error = %error, "could not read every gauge for /metrics");
    }
    let body = crate::metrics::install().render();
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
