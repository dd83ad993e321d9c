//! `/compatibility/...`: dry-run checks.

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use super::wire::{Params, register_request};
use super::{AppState, PathParams, ok, parse_body};
use crate::error::{ErrorCode, Result};
use crate::service::{CompatibilityVerdict, VersionSelector};

#[derive(Serialize)]
struct Verdict {
    is_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<String>>,
}

fn answer(result: Result<CompatibilityVerdict>, verbose: bool) -> Result<Response> {
    match result {
        Ok(verdict) => {
            Ok(ok(&Verdict { is_compatible: verdict.compatible, messages: verbose.then_some(verdict.messages) }))
        }
        // With `verbose`, an unparseable schema is an incompatible verdict that says why.
        Err(error) if verbose && error.code() == ErrorCode::InvalidSchema => {
            Ok(ok(&Verdict { is_compatible: false, messages: Some(vec![error.to_string()]) }))
        }
        Err(error) => Err(error),
    }
}

pub async fn against_history(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let request = register_request(&parse_body(&body)?)?;
    let subject = PathParams::from_raw(&path).get("subject");
    let params = Params::parse(query.as_deref());
    let result = state.registry.check_compatibility(&subject, None, request, params.flag("normalize")).await;
    answer(result, params.flag("verbose"))
}

pub async fn against_version(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let path = PathParams::from_raw(&path);
    let selector = VersionSelector::parse(&path.get("version"))?;
    let request = register_request(&parse_body(&body)?)?;
    let params = Params::parse(query.as_deref());
    let result = state
        .registry
        .check_compatibility(&path.get("subject"), Some(selector), request, params.flag("normalize"))
        .await;
    answer(result, params.flag("verbose"))
}

/// Stele's structured report: every finding with its rule, path and sentence.
#[derive(Serialize)]
struct Report {
    compatible: bool,
    level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i32>,
    findings: Vec<Finding>,
    /// Counter-examples of the wire oracle under config `wireProof: WARN`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Finding>,
}

#[derive(Serialize)]
struct Finding {
    rule: String,
    path: String,
    message: String,
}

/// `POST /stele/v1/compatibility/subjects/{subject}/versions`: the subject's
/// check, with findings a CI can show rather than Confluent's message strings.
pub async fn report(
    State(state): State<AppState>,
    path: RawPathParams,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    let request = register_request(&parse_body(&body)?)?;
    let path = PathParams::from_raw(&path);
    let params = Params::parse(query.as_deref());
    let selector = params.get("version").map(VersionSelector::parse).transpose()?;
    let verdict =
        state.registry.check_compatibility(&path.get("subject"), selector, request, params.flag("normalize")).await?;
    let findings = |problems: Vec<stele_compat::Incompatibility>| {
        problems.into_iter().map(|p| Finding { rule: p.rule, path: p.path, message: p.description }).collect()
    };
    Ok(ok(&Report {
        compatible: verdict.compatible,
        level: verdict.level.to_string(),
        version: verdict.version,
        findings: findings(verdict.problems),
        warnings: findings(verdict.warnings),
    }))
}
