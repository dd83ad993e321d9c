//! Authentication, authorization and the audit of changes, for every routed
//! request, by the table in [`crate::auth::routes`].
//!
//! A missing or refused credential is 401 with `WWW-Authenticate`
//! (`{"error_code": 401, "message": "Unauthorized"}`, as Confluent answers);
//! a forbidden action is 403 with `error_code` 40301 and Confluent's
//! sentence "User is denied operation Write on Subject: orders-value".
//! Listings are answered with only what the caller may read.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{AppState, PathParams};
use crate::auth::authn::Authenticator;
use crate::auth::routes::{Rule, Scope, rule_of};
use crate::auth::{Access, Grant, Principal, Role};
use crate::error::{ErrorCode, RegistryError};
use crate::store::audit::AuditRecord;
use crate::subject::{DEFAULT_CONTEXT, Subject};

/// The authentication configuration, built once at start.
pub struct AuthState {
    pub authenticator: Authenticator,
    pub grants: Vec<Grant>,
}

/// The largest listing body filtered in memory.
const LISTING_LIMIT: usize = 64 * 1024 * 1024;

fn request_id(request: &Request) -> Option<String> {
    request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn unauthorized(challenge: &str) -> Response {
    let mut response = super::json_response(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error_code": 401, "message": "Unauthorized"}).to_string(),
    );
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Confluent's denial: 403, error code 40301.
pub fn denied(role: Role, subject: Option<&str>) -> RegistryError {
    let target = match subject {
        Some(subject) => format!("Subject: {subject}"),
        None => "this resource".to_owned(),
    };
    RegistryError::new(ErrorCode::Forbidden, format!("User is denied operation {} on {target}", role.operation()))
}

/// Whether the query asks for a permanent delete.
fn permanent(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split_once('=').is_some_and(|(k, v)| k == "permanent" && v.eq_ignore_ascii_case("true")))
    })
}

/// The context a schema-id request reads: its `subject` parameter's, else the default.
fn id_context(uri: &axum::http::Uri) -> String {
    uri.query()
        .and_then(|q| {
            q.split('&').find_map(|pair| pair.strip_prefix("subject=")).map(|raw| {
                let subject = percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned();
                Subject::parse(&subject).context
            })
        })
        .unwrap_or_else(|| DEFAULT_CONTEXT.to_owned())
}

/// Decides a request: `Ok(subject)` (the subject checked, for the audit) or the refusal.
async fn decide(
    state: &AppState,
    access: &Access,
    rule: Rule,
    params: &PathParams,
    uri: &axum::http::Uri,
) -> Result<Option<String>, Option<String>> {
    let role = if rule.admin_if_permanent && permanent(uri) { Role::Admin } else { rule.role };
    let authenticated =
        access.principal.method != crate::auth::Method::Anonymous || access.allows_somewhere(Role::Read);
    match rule.scope {
        Scope::Public => Ok(None),
        Scope::Authenticated | Scope::Listing => {
            if authenticated {
                Ok(None)
            } else {
                Err(None)
            }
        }
        Scope::Subject | Scope::SubjectUnaliased => {
            let raw = params.get("subject");
            let subject = if rule.scope == Scope::Subject {
                state.registry.resolve_alias(&raw).await.unwrap_or(raw)
            } else {
                raw
            };
            let qualified = Subject::parse(&subject).qualified();
            if access.allows(role, &qualified) { Ok(Some(qualified)) } else { Err(Some(qualified)) }
        }
        Scope::Global => {
            if access.allows_everything(role) {
                Ok(None)
            } else {
                Err(None)
            }
        }
        Scope::Somewhere => {
            if access.allows_somewhere(role) {
                Ok(None)
            } else {
                Err(None)
            }
        }
        Scope::SchemaId => {
            if access.allows_everything(role) {
                return Ok(None);
            }
            let Ok(id) = params.get("id").parse::<i64>() else { return Ok(None) };
            let context = id_context(uri);
            let versions = state.registry.store().versions_by_schema(&context, id).await.unwrap_or_default();
            if versions.is_empty() && !access.allows_somewhere(role) {
                return Err(None);
            }
            // An unknown id answers 404 to anyone who may read something.
            if versions.is_empty() || versions.iter().any(|v| access.allows(role, &v.subject)) {
                Ok(None)
            } else {
                Err(None)
            }
        }
    }
}

/// Keeps only what the caller may read in a listing's JSON answer.
async fn filter_listing(response: Response, access: &Access, contexts: bool) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, LISTING_LIMIT).await else {
        return RegistryError::Internal("a listing was too large to filter".into()).into_response();
    };
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let kept: Vec<Value> = items
        .into_iter()
        .filter(|item| match item {
            Value::String(name) if contexts => access.reads_context(name),
            Value::String(subject) => access.allows(Role::Read, subject),
            Value::Object(object) => {
                object.get("subject").and_then(Value::as_str).is_none_or(|subject| access.allows(Role::Read, subject))
            }
            _ => true,
        })
        .collect();
    let mut response = Response::from_parts(parts, Body::from(Value::Array(kept).to_string()));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// The middleware: every routed request passes here.
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    raw: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let route = matched.as_ref().map_or("", MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let rule = rule_of(&method, &route);
    let params = PathParams::from_raw(&raw);
    let action = format!("{method} {route}");
    let id = request_id(&request);
    let audit = |principal: &str, subject: Option<String>, result: &str, status: StatusCode, detail: Option<String>| {
        state.registry.audit(AuditRecord {
            id: uuid::Uuid::new_v4().to_string(),
            at: crate::store::now_millis(),
            principal: principal.to_owned(),
            action: action.clone(),
            subject,
            result: result.to_owned(),
            status: i32::from(status.as_u16()),
            detail,
            request_id: id.clone(),
        });
    };
    let Some(auth) = state.auth.as_ref() else {
        // No authentication configured: everything is allowed; changes are still audited.
        request.extensions_mut().insert(Arc::new(Access::open()));
        let subject = (!params.get("subject").is_empty()).then(|| Subject::parse(&params.get("subject")).qualified());
        let response = next.run(request).await;
        if rule.is_some_and(|r| r.changes) && !unchanged(&response) {
            let result = if response.status().is_success() { "ok" } else { "failed" };
            audit("anonymous", subject, result, response.status(), None);
        }
        return response;
    };
    let Some(rule) = rule else {
        return RegistryError::Internal(format!("no permission rule for {action}")).into_response();
    };
    if rule.scope == Scope::Public {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<crate::tls::PeerIdentity>().cloned();
    let principal = match auth.authenticator.authenticate(request.headers(), peer.as_ref()).await {
        Ok(Some(principal)) => principal,
        Ok(None) => Principal::anonymous(),
        Err(refused) => {
            audit("unknown", None, "unauthenticated", StatusCode::UNAUTHORIZED, Some(refused.0));
            return unauthorized(&auth.authenticator.challenge());
        }
    };
    let access = Access::new(principal, &auth.grants);
    let uri = request.uri().clone();
    let subject = match decide(&state, &access, rule, &params, &uri).await {
        Ok(subject) => subject,
        Err(subject) => {
            let name = access.principal.name.clone();
            if access.principal.method == crate::auth::Method::Anonymous {
                audit(&name, subject, "unauthenticated", StatusCode::UNAUTHORIZED, Some("no credentials".into()));
                return unauthorized(&auth.authenticator.challenge());
            }
            let role = if rule.admin_if_permanent && permanent(&uri) { Role::Admin } else { rule.role };
            audit(&name, subject.clone(), "denied", StatusCode::FORBIDDEN, Some(format!("needs {}", role.as_str())));
            return denied(role, subject.as_deref()).into_response();
        }
    };
    let access = Arc::new(access);
    request.extensions_mut().insert(Arc::clone(&access));
    let response = next.run(request).await;
    let response = if rule.scope == Scope::Listing && !access.allows_everything(Role::Read) {
        filter_listing(response, &access, route == "/contexts").await
    } else {
        response
    };
    if rule.changes && !unchanged(&response) {
        let result = if response.status().is_success() { "ok" } else { "failed" };
        audit(&access.principal.name, subject, result, response.status(), None);
    }
    response
}

/// Marks a successful answer to a write route that changed nothing (a
/// schema registered again answers its existing id): not audited, because
/// producers send one on every start and the audit is of changes.
#[derive(Debug, Clone, Copy)]
pub struct Unchanged;

fn unchanged(response: &Response) -> bool {
    response.status().is_success() && response.extensions().get::<Unchanged>().is_some()
}

/// Handlers that act on subjects named in the body (publishing a service
/// version) check each with this.
pub fn require(access: Option<&Arc<Access>>, role: Role, qualified_subject: &str) -> Result<(), RegistryError> {
    match access {
        Some(access) if !access.allows(role, qualified_subject) => Err(denied(role, Some(qualified_subject))),
        _ => Ok(()),
    }
}
