//! Stele extension: webhooks, under `/stele/v1/webhooks` (skeleton; filled by the webhooks work).

use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::response::Response;

use super::AppState;
use crate::error::{ErrorCode, RegistryError, Result};

fn unbuilt() -> Result<Response> {
    Err(RegistryError::new(ErrorCode::RouteNotFound, "webhooks are not built yet"))
}

pub async fn create(State(_state): State<AppState>, _body: Bytes) -> Result<Response> {
    unbuilt()
}

pub async fn list(State(_state): State<AppState>) -> Result<Response> {
    unbuilt()
}

pub async fn get(State(_state): State<AppState>, _path: RawPathParams) -> Result<Response> {
    unbuilt()
}

pub async fn delete(State(_state): State<AppState>, _path: RawPathParams) -> Result<Response> {
    unbuilt()
}

pub async fn deliveries(State(_state): State<AppState>, _path: RawPathParams) -> Result<Response> {
    unbuilt()
}
