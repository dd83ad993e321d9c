//! Stele extension: consumer contracts, under `/stele/v1/subjects/{subject}/consumers`.

use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::response::Response;

use super::wire::register_request;
use super::{AppState, PathParams, ok, parse_body};
use crate::error::Result;

fn subject_and_consumer(path: &RawPathParams) -> (String, String) {
    let params = PathParams::from_raw(path);
    (params.get("subject"), params.get("consumer"))
}

/// Every consumer of a subject, and whether it can read the latest writer schema.
pub async fn list(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    Ok(ok(&state.registry.consumers_status(&subject).await?))
}

/// Publishes a consumer's contract: `{"schema", "schemaType", "references", "consumerVersion"}`.
pub async fn publish(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    let value = parse_body(&body)?;
    let request = register_request(&value)?;
    let consumer_version = value.get("consumerVersion").and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let (subject, consumer) = subject_and_consumer(&path);
    Ok(ok(&state.registry.contract_publish(&subject, &consumer, request, consumer_version).await?))
}

pub async fn get(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let (subject, consumer) = subject_and_consumer(&path);
    Ok(ok(&state.registry.contract_get(&subject, &consumer).await?))
}

pub async fn delete(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let (subject, consumer) = subject_and_consumer(&path);
    Ok(ok(&state.registry.contract_delete(&subject, &consumer).await?))
}
