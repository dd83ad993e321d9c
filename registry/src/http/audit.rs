//! Stele extension: the audit log, under `/stele/v1/audit` (admins only).

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::wire::Params;
use super::{AppState, ok};
use crate::error::Result;

/// `GET /stele/v1/audit?limit=N&before=MILLIS`: newest first.
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    let limit = params.int("limit")?.map_or(100, i64::from);
    let before = params.get("before").and_then(|b| b.parse::<i64>().ok());
    Ok(ok(&state.registry.audit_list(limit, before).await?))
}
