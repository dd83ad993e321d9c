//! `/config` and `/mode`, at the top level and per subject or context.

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use super::wire::{Params, config_update, mode_update};
use super::{AppState, PathParams, ok, parse_body};
use crate::error::{RegistryError, Result};
use crate::service::Mode;

#[derive(Serialize)]
struct ModeBody {
    mode: String,
}

fn subject_of(path: &RawPathParams) -> String {
    PathParams::from_raw(path).get("subject")
}

async fn get_config_for(state: &AppState, subject: Option<&str>, query: Option<&str>) -> Result<Response> {
    let params = Params::parse(query);
    Ok(ok(&state.registry.config_get(subject, params.flag("defaultToGlobal")).await?))
}

async fn put_config_for(state: &AppState, subject: Option<&str>, body: &Bytes) -> Result<Response> {
    let update = config_update(&parse_body(body)?)?;
    Ok(ok(&state.registry.config_put(subject, update).await?))
}

pub async fn get_config(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    get_config_for(&state, None, query.as_deref()).await
}

pub async fn put_config(State(state): State<AppState>, body: Bytes) -> Result<Response> {
    put_config_for(&state, None, &body).await
}

pub async fn delete_config(State(state): State<AppState>) -> Result<Response> {
    Ok(ok(&state.registry.config_delete(None).await?))
}

pub async fn get_subject_config(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    get_config_for(&state, Some(&subject_of(&path)), query.as_deref()).await
}

pub async fn put_subject_config(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    put_config_for(&state, Some(&subject_of(&path)), &body).await
}

pub async fn delete_subject_config(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    Ok(ok(&state.registry.config_delete(Some(&subject_of(&path))).await?))
}

fn mode_body(mode: Mode) -> ModeBody {
    ModeBody { mode: mode.as_str().to_owned() }
}

async fn put_mode_for(state: &AppState, subject: Option<&str>, query: Option<&str>, body: &Bytes) -> Result<Response> {
    let requested = mode_update(&parse_body(body)?)?;
    let Some(requested) = requested else {
        return Err(RegistryError::new(
            crate::error::ErrorCode::InvalidMode,
            "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.",
        ));
    };
    let params = Params::parse(query);
    state.registry.mode_put(subject, &requested, params.flag("force")).await?;
    // Confluent echoes the mode as it was written.
    Ok(ok(&ModeBody { mode: requested }))
}

pub async fn get_mode(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    Ok(ok(&mode_body(state.registry.mode_get(None, params.flag("defaultToGlobal")).await?)))
}

pub async fn put_mode(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Result<Response> {
    put_mode_for(&state, None, query.as_deref(), &body).await
}

pub async fn get_subject_mode(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    let mode = state.registry.mode_get(Some(&subject_of(&path)), params.flag("defaultToGlobal")).await?;
    Ok(ok(&mode_body(mode)))
}

pub async fn put_subject_mode(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    put_mode_for(&state, Some(&subject_of(&path)), query.as_deref(), &body).await
}

pub async fn delete_subject_mode(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    Ok(ok(&mode_body(state.registry.mode_delete(&subject_of(&path)).await?)))
}
