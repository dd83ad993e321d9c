//! `/subjects/...`: registration, lookup, versions, deletes.

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use super::wire::{Params, register_request};
use super::{AppState, PathParams, ok, parse_body, raw};
use crate::error::{RegistryError, Result};
use crate::metrics::HotRoute;
use crate::service::{Answer, AnswerKey, ListFilter, SchemaFormat, SchemaView, VersionSelector, schema_type_label};

#[derive(Serialize)]
struct IdOnly {
    id: i64,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Registered<'a> {
    Id(IdOnly),
    Full(&'a SchemaView),
}

/// Stele adds `warnings` only when a consumer contract breaks under WARN, or
/// the wire oracle finds a failing value under `wireProof: WARN`.
#[derive(Serialize)]
struct WithWarnings<'a> {
    #[serde(flatten)]
    body: Registered<'a>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

fn filter(params: &Params) -> ListFilter {
    ListFilter { deleted: params.flag("deleted"), deleted_only: params.flag("deletedOnly") }
}

fn limit(params: &Params) -> Result<Option<usize>> {
    Ok(params.int("limit")?.filter(|l| *l > 0).map(|l| l as usize))
}

pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let params = Params::parse(query.as_deref());
    let prefix = params.get("subjectPrefix").unwrap_or(":*:").to_owned();
    let offset = params.int("offset")?.unwrap_or(0).max(0) as usize;
    let subjects = state.registry.subjects_list(&prefix, filter(&params), offset, limit(&params)?).await?;
    Ok(ok(&subjects))
}

pub async fn versions(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    let params = Params::parse(query.as_deref());
    Ok(ok(&state.registry.versions_list(&subject, filter(&params)).await?))
}

/// What a repeated re-registration or lookup finds among the kept answers.
pub(super) enum Kept {
    /// The answer, ready to send.
    Answer(Response),
    /// None: the key to keep the answer under once it is made.
    Missing(AnswerKey),
}

/// The kept answer to a re-registration or lookup (`route`) of `subject` with
/// this query and body (see `service::answers`), as the handlers below and
/// the hot path ahead of the middleware find it.
pub(super) async fn kept_answer(
    state: &AppState,
    route: HotRoute,
    subject: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Kept> {
    let name = if route == HotRoute::Register { "register" } else { "lookup" };
    let key = AnswerKey::of(name, subject, query, body);
    let Some(answer) = state.registry.cached_answer(&key).await? else { return Ok(Kept::Missing(key)) };
    let mut response = super::json_response(axum::http::StatusCode::OK, answer.body.clone());
    if route == HotRoute::Register {
        crate::metrics::registration(crate::metrics::RegistrationOutcome::Existing, answer.schema_type);
        response.extensions_mut().insert(super::auth::Unchanged);
    }
    Ok(Kept::Answer(response))
}

pub async fn register(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    // A repeated re-registration: the kept answer, without parsing anything.
    let key = match kept_answer(&state, HotRoute::Register, &subject, query.as_deref(), &body).await? {
        Kept::Answer(response) => return Ok(response),
        Kept::Missing(key) => key,
    };
    let ticket = state.registry.answer_ticket();
    let request = register_request(&parse_body(&body)?)?;
    let schema_type = schema_type_label(request.schema_type.as_deref());
    let params = Params::parse(query.as_deref());
    let outcome = {
        let (state, subject) = (state.clone(), subject.clone());
        to_completion(async move { state.registry.register(&subject, request, params.flag("normalize")).await }).await?
    };
    let answer = match &outcome.view {
        Some(view) => Registered::Full(view),
        None => Registered::Id(IdOnly { id: outcome.id }),
    };
    let bytes = bytes::Bytes::from(
        serde_json::to_vec(&WithWarnings { body: answer, warnings: &outcome.warnings })
            .map_err(|e| RegistryError::Internal(format!("response did not serialize: {e}")))?,
    );
    let mut response = super::json_response(axum::http::StatusCode::OK, bytes.clone());
    if !outcome.created {
        // The answer to a schema already registered is what every repeat gets,
        // unless it warns (a warning must repeat).
        if outcome.warnings.is_empty() {
            let answer =
                Answer::new(bytes, &subject, &outcome.subject, (outcome.version, outcome.id), false, schema_type);
            state.registry.remember_answer(ticket, key, answer);
        }
        response.extensions_mut().insert(super::auth::Unchanged);
    }
    Ok(response)
}

/// Runs a write to its end even when the request is dropped first (its
/// client went away, or its time ran out): a registration handed to the
/// group-commit writer is stored whether or not anyone waits for it, and what
/// follows its commit (this process's cache evictions, the webhook event) must
/// happen with it.
async fn to_completion<T: Send + 'static>(write: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    tokio::spawn(tracing::Instrument::in_current_span(write))
        .await
        .map_err(|error| RegistryError::Internal(format!("the write did not finish: {error}")))?
}

/// `POST /subjects/{s}/versions/{v}/tags`: a new version with tags changed.
pub async fn tags(State(state): State<AppState>, path: RawPathParams, body: Bytes) -> Result<Response> {
    let (subject, selector) = subject_and_version(&path)?;
    let request = super::wire::tags_request(&parse_body(&body)?)?;
    let outcome = to_completion(async move { state.registry.modify_tags(&subject, selector, request).await }).await?;
    Ok(match &outcome.view {
        Some(view) => ok(view.as_ref()),
        None => ok(&IdOnly { id: outcome.id }),
    })
}

pub async fn lookup(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    let key = match kept_answer(&state, HotRoute::Lookup, &subject, query.as_deref(), &body).await? {
        Kept::Answer(response) => return Ok(response),
        Kept::Missing(key) => key,
    };
    let ticket = state.registry.answer_ticket();
    let request = register_request(&parse_body(&body)?)?;
    let params = Params::parse(query.as_deref());
    let include_deleted = params.flag("deleted");
    let view = state.registry.lookup(&subject, request, params.flag("normalize"), include_deleted).await?;
    if let (Ok(bytes), Some(found), Some(version), Some(id)) =
        (serde_json::to_vec(&view), &view.subject, view.version, view.id)
    {
        let answer = Answer::new(bytes.into(), &subject, found, (version, id), include_deleted, "");
        state.registry.remember_answer(ticket, key, answer);
    }
    Ok(ok(&view))
}

pub async fn delete(State(state): State<AppState>, path: RawPathParams, RawQuery(query): RawQuery) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    let params = Params::parse(query.as_deref());
    Ok(ok(&state.registry.subject_delete(&subject, params.flag("permanent")).await?))
}

fn subject_and_version(path: &RawPathParams) -> Result<(String, VersionSelector)> {
    let params = PathParams::from_raw(path);
    Ok((params.get("subject"), VersionSelector::parse(&params.get("version"))?))
}

pub async fn version(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (subject, selector) = subject_and_version(&path)?;
    let params = Params::parse(query.as_deref());
    let format = SchemaFormat::parse(params.get("format"));
    Ok(ok(&state.registry.version_view(&subject, selector, params.flag("deleted"), format).await?))
}

pub async fn raw_version(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (subject, selector) = subject_and_version(&path)?;
    let params = Params::parse(query.as_deref());
    let format = SchemaFormat::parse(params.get("format"));
    let view = state.registry.version_view(&subject, selector, params.flag("deleted"), format).await?;
    Ok(raw(view.schema))
}

pub async fn referenced_by(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (subject, selector) = subject_and_version(&path)?;
    let params = Params::parse(query.as_deref());
    Ok(ok(&state.registry.referenced_by(&subject, selector, params.flag("deleted")).await?))
}

pub async fn delete_version(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (subject, selector) = subject_and_version(&path)?;
    let params = Params::parse(query.as_deref());
    Ok(ok(&state.registry.version_delete(&subject, selector, params.flag("permanent")).await?))
}

/// `GET /subjects/{s}/metadata?key=k&value=v`: the latest version whose
/// metadata properties hold every given pair.
pub async fn by_metadata(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let subject = PathParams::from_raw(&path).get("subject");
    let pairs: Vec<(String, String)> = {
        let raw = query.unwrap_or_default();
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for pair in raw.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned();
            match k {
                "key" => keys.push(v),
                "value" => values.push(v),
                _ => {}
            }
        }
        keys.into_iter().zip(values).collect()
    };
    let view = state.registry.version_by_metadata(&subject, &pairs).await?;
    view.map(|v| ok(&v)).ok_or_else(RegistryError::schema_not_found)
}
