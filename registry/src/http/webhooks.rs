//! Stele extension: webhooks, under `/stele/v1/webhooks` (global admins only).

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde_json::Value;

use super::wire::Params;
use super::{AppState, PathParams, ok, parse_body};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::service::WebhookRequest;

fn unprocessable(message: &str) -> RegistryError {
    RegistryError::new(ErrorCode::Unprocessable, message)
}

fn optional_text(body: &Value, field: &str) -> Result<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(unprocessable(&format!("'{field}' must be a string"))),
    }
}

/// `POST /stele/v1/webhooks`: `{"url", "events": [...], "subjectPattern"?, "secret"?}`.
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response> {
    let body = parse_body(&body)?;
    let events = match body.get("events") {
        Some(Value::Array(events)) => events
            .iter()
            .map(|e| e.as_str().map(str::to_owned).ok_or_else(|| unprocessable("'events' must be a list of strings")))
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(unprocessable("'events' must be a list of event names")),
    };
    let request = WebhookRequest {
        url: optional_text(&body, "url")?.ok_or_else(|| unprocessable("'url' is required"))?,
        events,
        subject_pattern: optional_text(&body, "subjectPattern")?,
        secret: optional_text(&body, "secret")?,
    };
    Ok(ok(&state.registry.webhook_create(request).await?))
}

pub async fn list(State(state): State<AppState>) -> Result<Response> {
    Ok(ok(&state.registry.webhooks_list().await?))
}

pub async fn get(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    Ok(ok(&state.registry.webhook_get(&PathParams::from_raw(&path).get("id")).await?))
}

pub async fn delete(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    Ok(ok(&state.registry.webhook_delete(&PathParams::from_raw(&path).get("id")).await?))
}

/// `GET /stele/v1/webhooks/{id}/deliveries?limit=N`: newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let limit = Params::parse(query.as_deref()).int("limit")?.map_or(100, i64::from);
    Ok(ok(&state.registry.webhook_deliveries(&PathParams::from_raw(&path).get("id"), limit).await?))
}
