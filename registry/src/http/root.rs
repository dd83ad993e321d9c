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
struct Health {
    status: &'static str,
}

/// Alive: the process answers.
pub async fn healthz() -> Response {
    ok(&Health { status: "ok" })
}

/// Ready: storage answers too.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.registry.store().ping().await {
        Ok(()) => ok(&Health { status: "ok" }),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed: storage unreachable");
            let body = serde_json::to_vec(&Health { status: "storage unreachable" }).unwrap_or_default();
            json_response(StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}
