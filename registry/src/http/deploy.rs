//! Stele extension: deployment gating, under `/stele/v1/services`,
//! `/stele/v1/environments` and `/stele/v1/can-i-deploy`.

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde_json::Value;

use super::wire::{Params, register_request};
use super::{AppState, PathParams, ok, parse_body};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::service::{PublishedSchema, ServiceVersionRequest};

fn unprocessable(message: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorCode::Unprocessable, message)
}

/// A string field of a JSON object; `None` when absent or null.
fn text_field(body: &Value, field: &str) -> Result<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(unprocessable(format!("'{field}' must be a string"))),
    }
}

fn required(body: &Value, field: &str) -> Result<String> {
    text_field(body, field)?.ok_or_else(|| unprocessable(format!("'{field}' is required")))
}

fn schemas(body: &Value, field: &str) -> Result<Vec<PublishedSchema>> {
    let entries = match body.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(unprocessable(format!(
                "'{field}' must be a list of {{subject, schema, schemaType, references}}"
            )));
        }
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            if !entry.is_object() {
                return Err(unprocessable(format!("'{field}[{i}]' must be an object")));
            }
            let subject = text_field(entry, "subject")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| unprocessable(format!("'{field}[{i}].subject' is required")))?;
            Ok(PublishedSchema { subject, request: register_request(entry)? })
        })
        .collect()
}

/// `GET /stele/v1/services`.
pub async fn services(State(state): State<AppState>) -> Result<Response> {
    Ok(ok(&state.registry.services_list().await?))
}

/// `GET /stele/v1/services/{service}?limit=N`: the service, its newest versions and where it runs.
pub async fn service(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let service = PathParams::from_raw(&path).get("service");
    let limit = Params::parse(query.as_deref()).int("limit")?.filter(|l| *l > 0).map_or(100, i64::from);
    Ok(ok(&state.registry.service_view(&service, limit).await?))
}

/// `PUT /stele/v1/services/{service}`: `{"mainBranch": "main"}`.
pub async fn put_service(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    let body = parse_body(&body)?;
    let service = PathParams::from_raw(&path).get("service");
    Ok(ok(&state.registry.service_put(&service, &required(&body, "mainBranch")?).await?))
}

/// `PUT /stele/v1/services/{service}/versions/{version}`:
/// `{"branch", "produces": [{subject, schema, schemaType, references}], "consumes": [...]}`.
pub async fn publish_version(
    State(state): State<AppState>,
    access: Option<axum::Extension<std::sync::Arc<crate::auth::Access>>>,
    path: RawPathParams,
    body: Bytes,
) -> Result<Response> {
    let body = parse_body(&body)?;
    if !body.is_object() {
        return Err(unprocessable("The body must be an object: {branch, produces, consumes}"));
    }
    let params = PathParams::from_raw(&path);
    let request = ServiceVersionRequest {
        branch: text_field(&body, "branch")?,
        produces: schemas(&body, "produces")?,
        consumes: schemas(&body, "consumes")?,
    };
    // Publishing what a version produces and consumes is a write on each of those subjects.
    for published in request.produces.iter().chain(&request.consumes) {
        let subject = crate::subject::Subject::parse(&state.registry.resolve_alias(&published.subject).await?);
        super::auth::require(access.as_ref().map(|a| &a.0), crate::auth::Role::Write, &subject.qualified())?;
    }
    let view = state.registry.service_version_publish(&params.get("service"), &params.get("version"), request).await?;
    Ok(ok(&view))
}

/// `GET /stele/v1/services/{service}/versions/{version}`.
pub async fn service_version(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let params = PathParams::from_raw(&path);
    Ok(ok(&state.registry.service_version_view(&params.get("service"), &params.get("version")).await?))
}

/// `GET /stele/v1/environments`.
pub async fn environments(State(state): State<AppState>) -> Result<Response> {
    Ok(ok(&state.registry.environments_list().await?))
}

/// `PUT /stele/v1/environments/{environment}`: creates it; `{"production": true}` optional.
pub async fn put_environment(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    let production = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        match parse_body(&body)?.get("production") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(unprocessable("'production' must be true or false")),
        }
    };
    let environment = PathParams::from_raw(&path).get("environment");
    let (record, _created) = state.registry.environment_put(&environment, production).await?;
    Ok(ok(&record))
}

/// `GET /stele/v1/environments/{environment}`: the environment and what runs there.
pub async fn environment(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let environment = PathParams::from_raw(&path).get("environment");
    Ok(ok(&state.registry.environment_view(&environment).await?))
}

/// `DELETE /stele/v1/environments/{environment}`, with its deployment records.
pub async fn delete_environment(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let environment = PathParams::from_raw(&path).get("environment");
    Ok(ok(&state.registry.environment_delete(&environment).await?))
}

/// `GET /stele/v1/environments/{environment}/deployments`.
pub async fn deployments(State(state): State<AppState>, path: RawPathParams) -> Result<Response> {
    let environment = PathParams::from_raw(&path).get("environment");
    Ok(ok(&state.registry.deployments_list(&environment).await?))
}

/// `POST /stele/v1/environments/{environment}/deployments`: `{"service", "version"}`.
pub async fn record_deployment(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    let body = parse_body(&body)?;
    let environment = PathParams::from_raw(&path).get("environment");
    let (record, replaced) = state
        .registry
        .deployment_record(&environment, &required(&body, "service")?, &required(&body, "version")?)
        .await?;
    let mut answer = serde_json::to_value(&record).map_err(|e| RegistryError::Internal(e.to_string()))?;
    answer["replacedVersion"] = replaced.map_or(Value::Null, Value::String);
    Ok(ok(&answer))
}

/// `DELETE /stele/v1/environments/{environment}/deployments/{service}[?version=V]`.
pub async fn record_undeployment(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let params = PathParams::from_raw(&path);
    let query = Params::parse(query.as_deref());
    let removed = state
        .registry
        .deployment_remove(&params.get("environment"), &params.get("service"), query.get("version"))
        .await?;
    Ok(ok(&removed))
}

/// `GET /stele/v1/can-i-deploy?service=S&version=V&environment=E`.
pub async fn can_i_deploy(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    let get = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| unprocessable(format!("The query parameter '{name}' is required")))
    };
    let environment = params.get("environment").or_else(|| params.get("to")).filter(|v| !v.is_empty());
    let environment =
        environment.map(str::to_owned).ok_or_else(|| unprocessable("The query parameter 'environment' is required"))?;
    Ok(ok(&state.registry.can_i_deploy(&get("service")?, &get("version")?, &environment).await?))
}
