//! `/schemas/...`: schemas by id, listings, types.

use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde::Serialize;
use stele_compat::SchemaType;

use super::wire::Params;
use super::{AppState, PathParams, ok, parse_id, raw};
use crate::error::Result;
use crate::service::{ListFilter, SchemaFormat, SchemaView};

/// The `/schemas` page size when none, or one out of range, is asked for.
const DEFAULT_PAGE: usize = 1000;

pub async fn types() -> Response {
    ok(&SchemaType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>())
}

pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    let prefix = params.get("subjectPrefix").unwrap_or_default().to_owned();
    let filter = ListFilter { deleted: params.flag("deleted"), deleted_only: false };
    let offset = params.int("offset")?.unwrap_or(0).max(0) as usize;
    let limit =
        params.int("limit")?.filter(|l| *l > 0 && (*l as usize) <= DEFAULT_PAGE).map_or(DEFAULT_PAGE, |l| l as usize);
    // Rule sets are not kept (see the README), so no schema has rules of any type.
    if params.get("ruleType").is_some_and(|t| !t.is_empty()) {
        return Ok(ok(&Vec::<SchemaView>::new()));
    }
    let views = state.registry.schemas_list(&prefix, filter, params.flag("latestOnly"), offset, limit).await?;
    if !params.flag("aliases") {
        return Ok(ok(&views));
    }
    // With `aliases=true`, each entry names the subjects whose config aliases its subject.
    let aliases = state.registry.subject_aliases().await?;
    let mut entries = Vec::with_capacity(views.len());
    for view in &views {
        let mut entry = serde_json::to_value(view).map_err(|e| crate::error::RegistryError::Internal(e.to_string()))?;
        if let Some(names) = view.subject.as_ref().and_then(|s| aliases.get(s))
            && let Some(object) = entry.as_object_mut()
        {
            object.insert("aliases".to_owned(), serde_json::json!(names));
        }
        entries.push(entry);
    }
    Ok(ok(&entries))
}

fn id_and_params(path: &RawPathParams, query: Option<&str>) -> Result<(i64, Params)> {
    Ok((parse_id(&PathParams::from_raw(path).get("id"))?, Params::parse(query)))
}

pub async fn by_id(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let (id, params) = id_and_params(&path, query.as_deref())?;
    let format = SchemaFormat::parse(params.get("format"));
    let fetch_max_id = params.flag("fetchMaxId");
    // The default answer never changes (maxId does): it carries an ETag.
    if format == SchemaFormat::Default && !fetch_max_id {
        let json = state.registry.schema_json(id, params.get("subject")).await?;
        return Ok(super::schema_json_response(json, headers.get(axum::http::header::IF_NONE_MATCH)));
    }
    let view = state.registry.schema_view(id, params.get("subject"), format, fetch_max_id).await?;
    Ok(ok(&view))
}

pub async fn raw_by_id(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (id, params) = id_and_params(&path, query.as_deref())?;
    let format = SchemaFormat::parse(params.get("format"));
    let view = state.registry.schema_view(id, params.get("subject"), format, false).await?;
    Ok(raw(view.schema))
}

pub async fn subjects_by_id(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (id, params) = id_and_params(&path, query.as_deref())?;
    let usages = state.registry.schema_usages(id, params.get("subject"), params.flag("deleted")).await?;
    let mut subjects: Vec<String> = Vec::new();
    for usage in usages {
        if !subjects.contains(&usage.subject) {
            subjects.push(usage.subject);
        }
    }
    Ok(ok(&subjects))
}

#[derive(Serialize)]
struct SubjectVersion {
    subject: String,
    version: i32,
}

pub async fn versions_by_id(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (id, params) = id_and_params(&path, query.as_deref())?;
    let usages = state.registry.schema_usages(id, params.get("subject"), params.flag("deleted")).await?;
    let pairs: Vec<SubjectVersion> =
        usages.into_iter().map(|u| SubjectVersion { subject: u.subject, version: u.version }).collect();
    Ok(ok(&pairs))
}
