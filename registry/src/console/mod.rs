//! The web console at `/ui`: server-rendered HTML (maud), readable without
//! JavaScript, every asset embedded in the binary, nothing fetched from the
//! internet. It answers through the same authentication and authorization as
//! the API (the routes are in [`crate::auth::routes`]); a principal that may
//! not write sees no write controls, and the write forms are refused
//! cross-origin.

pub mod render;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use stele_compat::{CompatibilityLevel, SchemaType};

use crate::auth::{Access, Role};
use crate::error::{ErrorCode, RegistryError};
use crate::http::wire::Params;
use crate::http::{AppState, PathParams};
use crate::service::{ListFilter, VersionSelector};
use crate::subject::Subject;

type Caller = Option<axum::Extension<Arc<Access>>>;

const CSS: &str = r"
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#dfe6f3;text-decoration:none;margin-right:1rem}header a:hover,header a:focus{color:#fff;text-decoration:underline}
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #2f6fd6;outline-offset:1px}
@media (max-width:700px){main{padding:.6rem}table{display:block;overflow-x:auto}header{flex-wrap:wrap}}header b{font-size:1.15rem;color:#fff}
main{padding:1rem 1.4rem;max-width:1400px}h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #dde1e7;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}.muted{color:#555d6e}.ok{color:#1f7a3a;font-weight:600}.bad{color:#b3261e;font-weight:600}
.pending{color:#9a6700;font-weight:600}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
table.code td,table.diff td{border:none;padding:0 .5rem;white-space:pre}table.code,table.diff{border:1px solid #dde1e7}
td.ln{color:#5f6776;text-align:right;user-select:none}tr.del{background:#fdecea}tr.ins{background:#e8f5e9}
.k{color:#0b5cad}.s{color:#8a3b00}.n{color:#6f42c1}.w{color:#b3261e;font-weight:600}.c{color:#6b7385;font-style:italic}
.finding{white-space:normal;max-width:32rem;background:#fff8e1;border-left:3px solid #e0a800;padding:.2rem .5rem;margin:.2rem 0}
form.inline{display:inline}input,select,textarea,button{font:inherit}textarea{width:100%;font-family:ui-monospace,monospace}
.badge{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#e4e8ef;font-size:.8rem}
";

fn page(title: &str, body: &Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Stele" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    b { "Stele" }
                    nav aria-label="Console" {
                        a href="/ui/subjects" { "Subjects" } " "
                        a href="/ui/search" { "Search" } " "
                        a href="/ui/playground" { "Playground" } " "
                        a href="/ui/environments" { "Environments" }
                    }
                }
                main { (*body) }
            }
        }
    };
    let mut response = Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    response
}

/// A failure as a page, with the API's status.
fn failure(error: &RegistryError) -> Response {
    let status = crate::http::error::status_of(error.code());
    let message = match error {
        RegistryError::Client { message, .. } => message.clone(),
        other => {
            tracing::error!(error = %other, "console page failed");
            "Internal Server Error".into()
        }
    };
    let mut response = page("Error", &html! { h1 { "Error" } p { (message) } });
    *response.status_mut() = status;
    response
}

fn access(caller: &Caller) -> Arc<Access> {
    caller.as_ref().map_or_else(|| Arc::new(Access::open()), |c| Arc::clone(&c.0))
}

fn subject_link(subject: &str) -> String {
    format!("/ui/subjects/{}", crate::http::encode_segment(subject))
}

fn level_of(raw: Option<&str>, default: CompatibilityLevel) -> CompatibilityLevel {
    raw.and_then(|l| l.parse().ok()).unwrap_or(default)
}

/// `GET /ui`.
pub async fn home() -> Redirect {
    Redirect::to("/ui/subjects")
}

/// `GET /ui/subjects?q=&format=&context=&level=`: subjects the caller may read, with counts.
pub async fn subjects(State(state): State<AppState>, caller: Caller, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref());
    let q = params.get("q").unwrap_or_default().to_lowercase();
    let format = params.get("format").unwrap_or_default().to_uppercase();
    let context = params.get("context").unwrap_or_default().to_owned();
    let level = params.get("level").unwrap_or_default().to_uppercase();
    let access = access(&caller);
    let registry = &state.registry;
    let names = match registry.subjects_list("", ListFilter::default(), 0, None).await {
        Ok(names) => names,
        Err(e) => return failure(&e),
    };
    let mut rows = Vec::new();
    let mut counts: std::collections::BTreeMap<&'static str, usize> = std::collections::BTreeMap::new();
    for name in names.iter().filter(|n| access.allows(Role::Read, n)) {
        let subject = Subject::parse(name);
        let Ok((version, record)) = registry.version_get(name, VersionSelector::Latest, false).await else { continue };
        let subject_level = registry.effective_level(&subject).await.map_or("?", CompatibilityLevel::as_str);
        *counts.entry(record.schema_type.as_str()).or_default() += 1;
        let keep = (q.is_empty() || name.to_lowercase().contains(&q))
            && (format.is_empty() || record.schema_type.as_str() == format)
            && (context.is_empty() || subject.context == context)
            && (level.is_empty() || subject_level == level);
        if keep {
            rows.push((name.clone(), subject.context.clone(), record.schema_type, version.version, subject_level));
        }
    }
    let total: usize = counts.values().sum();
    page(
        "Subjects",
        &html! {
            h1 { "Subjects" }
            p.muted {
                (total) " readable subjects"
                @for (kind, count) in &counts { " · " (kind) ": " (count) }
            }
            form method="get" action="/ui/subjects" role="search" {
                label { "Name contains " input name="q" value=(q); }
                " "
                label { "Format " select name="format" {
                    option value="" { "any format" }
                    @for kind in ["AVRO", "PROTOBUF", "JSON"] { option value=(kind) selected[format == kind] { (kind) } }
                } }
                " "
                label { "Context " input name="context" value=(context) placeholder="."; }
                " "
                label { "Level " select name="level" {
                    option value="" { "any level" }
                    @for l in ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"] {
                        option value=(l) selected[level == l] { (l) }
                    }
                } }
                " " button { "Filter" }
            }
            p.muted { (rows.len()) " shown" }
            table {
                tr { th { "subject" } th { "context" } th { "format" } th { "latest" } th { "level" } }
                @for (name, ctx, kind, version, lvl) in &rows {
                    tr {
                        td { a href=(subject_link(name)) { (Subject::parse(name).name) } }
                        td { (ctx) } td { (kind.as_str()) } td { (version) } td { (lvl) }
                    }
                }
            }
        },
    )
}

/// `GET /ui/subjects/{subject}`: versions, level, mode, aliases, consumers and where each version runs.
pub async fn subject(State(state): State<AppState>, caller: Caller, path: RawPathParams) -> Response {
    let raw = PathParams::from_raw(&path).get("subject");
    match subject_page(&state, &access(&caller), &raw).await {
        Ok(response) => response,
        Err(e) => failure(&e),
    }
}

async fn subject_page(state: &AppState, access: &Access, raw: &str) -> Result<Response, RegistryError> {
    let registry = &state.registry;
    let subject = Subject::parse(&registry.resolve_alias(raw).await?);
    let qualified = subject.qualified();
    let versions = registry.versions_list(&qualified, ListFilter { deleted: true, deleted_only: false }).await?;
    let live = registry.versions_list(&qualified, ListFilter::default()).await.unwrap_or_default();
    let dates = registry.version_dates(&qualified).await?;
    let level = registry.effective_level(&subject).await?;
    let mode = registry.effective_mode(&subject).await?;
    let own = registry.config_get(Some(&qualified), false).await.ok();
    let aliases: Vec<String> = {
        let mut found = Vec::new();
        for name in registry.subjects_list("", ListFilter::default(), 0, None).await? {
            if registry
                .config_get(Some(&name), false)
                .await
                .ok()
                .and_then(|c| c.alias)
                .is_some_and(|a| a == raw || a == qualified)
            {
                found.push(name);
            }
        }
        found
    };
    let consumers = registry.consumers_status(&qualified).await?;
    // Where each version runs: service versions producing it, deployed somewhere.
    let mut runs: std::collections::BTreeMap<i32, Vec<String>> = std::collections::BTreeMap::new();
    let deployments = registry.store().deployments_list(None).await?;
    for produced in registry.store().service_schemas_on(&qualified, crate::store::deploy::Role::Produces).await? {
        let Some(version) = produced.schema.version else { continue };
        for d in deployments.iter().filter(|d| d.service == produced.service && d.version == produced.version) {
            runs.entry(version).or_default().push(format!("{} ({} {})", d.environment, d.service, d.version));
        }
    }
    let can_write = access.allows(Role::Write, &qualified);
    let can_admin = access.allows(Role::Admin, &qualified);
    let link = subject_link(&qualified);
    Ok(page(
        &qualified,
        &html! {
            h1 { (subject.name) @if !subject.is_default_context() { " " span.badge { "context " (subject.context) } } }
            p {
                "Level " b { (level.as_str()) }
                @if own.as_ref().and_then(|c| c.compatibility_level.as_ref()).is_none() { span.muted { " (inherited)" } }
                " · mode " b { (mode.as_str()) }
                @if !aliases.is_empty() { " · aliases: " @for a in &aliases { code { (a) } " " } }
            }
            @if can_admin {
                form.inline method="post" action={(link) "/config"} {
                    label { "Set the level: " select name="compatibility" {
                        @for l in ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"] {
                            option value=(l) selected[level.as_str() == l] { (l) }
                        }
                    } }
                    " " button { "Save" }
                }
            }
            h2 { "Versions" }
            @if versions.len() >= 2 {
                form method="get" action={(link) "/diff"} {
                    label { "Compare version " select name="from" { @for v in &versions { option value=(v) selected[Some(v) == versions.iter().rev().nth(1)] { (v) } } } }
                    label { " with version " select name="to" { @for v in &versions { option value=(v) selected[Some(v) == versions.last()] { (v) } } } }
                    " " button { "Diff" }
                }
            }
            table {
                tr { th { "version" } th { "registered" } th { "state" } th { "runs in" } @if can_write { th { "" } } }
                @for v in versions.iter().rev() {
                    tr {
                        td { a href={(link) "/versions/" (v)} { (v) } }
                        td { (dates.get(v).map(|d| render::date(*d)).unwrap_or_default()) }
                        td { @if live.contains(v) { "live" } @else { span.muted { "soft-deleted" } } }
                        td { @for r in runs.get(v).into_iter().flatten() { span.badge { (r) } " " } }
                        @if can_write {
                            td { @if live.contains(v) {
                                form.inline method="post" action={(link) "/versions/" (v) "/delete"} {
                                    button aria-label={"Soft-delete version " (v)} { "Soft-delete" }
                                }
                            } }
                        }
                    }
                }
            }
            h2 { "Consumers" }
            @if consumers.is_empty() { p.muted { "No consumer has published a contract on this subject." } }
            @else {
                table {
                    tr { th { "consumer" } th { "version" } th { "reads the latest?" } th { "findings" } }
                    @for c in &consumers {
                        tr {
                            td { (c.contract.consumer) }
                            td { (c.contract.consumer_version.clone().unwrap_or_default()) }
                            td { @match c.compatible { Some(true) => span.ok { "yes" }, Some(false) => span.bad { "no" }, None => span.muted { "no live version" } } }
                            td { @for f in &c.findings { div.finding { b { (f.rule) } " at " code { (f.path) } ": " (f.message) } } }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /ui/subjects/{subject}/versions/{version}`: the schema, references both ways, metadata.
pub async fn version(State(state): State<AppState>, path: RawPathParams) -> Response {
    let params = PathParams::from_raw(&path);
    let raw = params.get("subject");
    let Ok(number) = params.get("version").parse::<i32>() else {
        return failure(&RegistryError::version_not_found(params.get("version")));
    };
    let registry = &state.registry;
    let result = async {
        let (version, record) = registry.version_get(&raw, VersionSelector::Number(number), true).await?;
        let referrers = registry.referenced_by(&raw, VersionSelector::Number(number), true).await?;
        let mut referrer_links = Vec::new();
        for id in referrers {
            for usage in registry.store().versions_by_schema(&record.context, id).await? {
                referrer_links.push((usage.subject, usage.version));
            }
        }
        Ok::<_, RegistryError>((version, record, referrer_links))
    }
    .await;
    let (version, record, referrers) = match result {
        Ok(found) => found,
        Err(e) => return failure(&e),
    };
    let text = render::display_text(record.schema_type, &record.schema);
    page(
        &format!("{} v{}", version.subject, version.version),
        &html! {
            h1 { a href=(subject_link(&version.subject)) { (Subject::parse(&version.subject).name) } " · version " (version.version) }
            p { "id " b { (record.id) } " · " (record.schema_type.as_str()) @if version.deleted { " · " span.muted { "soft-deleted" } } }
            (render::code(record.schema_type, &text))
            h2 { "References" }
            @if record.references.is_empty() { p.muted { "None." } }
            ul { @for r in &record.references {
                li { code { (r.name) } " → " a href={(subject_link(&r.subject)) "/versions/" (r.version)} { (r.subject) " v" (r.version) } }
            } }
            h2 { "Referenced by" }
            @if referrers.is_empty() { p.muted { "Nothing references this version." } }
            ul { @for (subject, v) in &referrers { li { a href={(subject_link(subject)) "/versions/" (v)} { (subject) " v" (v) } } } }
            h2 { "Metadata and tags" }
            @match &record.metadata {
                Some(metadata) => pre { code { (serde_json::to_string_pretty(metadata).unwrap_or_default()) } },
                None => p.muted { "None." },
            }
        },
    )
}

/// `GET /ui/subjects/{subject}/diff?from=&to=`: side by side, each finding beside its line.
pub async fn diff(State(state): State<AppState>, path: RawPathParams, RawQuery(query): RawQuery) -> Response {
    let raw = PathParams::from_raw(&path).get("subject");
    let params = Params::parse(query.as_deref());
    let (Some(from), Some(to)) =
        (params.get("from").and_then(|v| v.parse::<i32>().ok()), params.get("to").and_then(|v| v.parse::<i32>().ok()))
    else {
        return failure(&RegistryError::new(ErrorCode::Unprocessable, "Choose two versions: ?from=N&to=M"));
    };
    let comparison = match state.registry.compare(&raw, from, to).await {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    let kind = comparison.new.1.schema_type;
    let old = render::display_text(comparison.old.1.schema_type, &comparison.old.1.schema);
    let new = render::display_text(kind, &comparison.new.1.schema);
    page(
        &format!("{raw} v{from} → v{to}"),
        &html! {
            h1 { a href=(subject_link(&raw)) { (raw) } " · version " (from) " → " (to) }
            p {
                "Checked at " b { (comparison.level.as_str()) } ": "
                @if comparison.findings.is_empty() { span.ok { "compatible" } }
                @else { span.bad { (comparison.findings.len()) " incompatibilit" (if comparison.findings.len() == 1 { "y" } else { "ies" }) } }
            }
            (render::side_by_side(kind, &old, &new, &comparison.findings))
        },
    )
}

fn playground_form(kind: &str, level: &str, subject: &str, old: &str, new: &str) -> Markup {
    html! {
        form method="post" action="/ui/playground" {
            p {
                label { "Format " select name="schemaType" { @for k in ["AVRO", "PROTOBUF", "JSON"] { option value=(k) selected[kind == k] { (k) } } } }
                label { " level " select name="level" {
                    @for l in ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"] {
                        option value=(l) selected[level == l] { (l) }
                    }
                } }
            }
            p { label { "Against a subject in the registry: " input name="subject" value=(subject) placeholder="orders-value"; } }
            p { label for="old" { "Or against this old schema (used when no subject is given):" } }
            textarea id="old" name="old" rows="8" { (old) }
            p { label for="schema" { "The new schema:" } }
            textarea id="schema" name="schema" rows="12" { (new) }
            p { button { "Check" } }
        }
    }
}

/// `GET /ui/playground`.
pub async fn playground() -> Response {
    page("Playground", &html! { h1 { "Compatibility playground" } (playground_form("AVRO", "BACKWARD", "", "", "")) })
}

/// `POST /ui/playground` (a form): the findings of the new schema against a subject or an old schema.
pub async fn playground_check(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (kind, level, subject, old, new) = (get("schemaType"), get("level"), get("subject"), get("old"), get("schema"));
    let schema_type: SchemaType = kind.parse().unwrap_or(SchemaType::Avro);
    let compat_level = level_of(Some(&level), CompatibilityLevel::Backward);
    let outcome = if subject.trim().is_empty() {
        crate::service::Registry::compare_texts(schema_type, &old, &new, compat_level).map(|f| (compat_level, f))
    } else if !access(&caller).allows(Role::Read, &Subject::parse(subject.trim()).qualified()) {
        Err(crate::http::auth::denied(Role::Read, Some(subject.trim())))
    } else {
        state
            .registry
            .check_against_latest(subject.trim(), schema_type, &new, compat_level)
            .await
            .map(|findings| (compat_level, findings))
    };
    let result = match &outcome {
        Ok((level, findings)) if findings.is_empty() => {
            html! { p { span.ok { "Compatible" } " at " (level.as_str()) } }
        }
        Ok((level, findings)) => html! {
            p { span.bad { (findings.len()) " finding(s)" } " at " (level.as_str()) }
            @for f in findings { (render::finding(f)) }
        },
        Err(e) => html! { p.bad { (e.to_string()) } },
    };
    page(
        "Playground",
        &html! { h1 { "Compatibility playground" } (result) (playground_form(&kind, &level, &subject, &old, &new)) },
    )
}

/// `GET /ui/environments`: what runs where, and whether each service's latest version may go there.
pub async fn environments(State(state): State<AppState>) -> Response {
    let registry = &state.registry;
    let result = async {
        let environments = registry.environments_list().await?;
        let deployments = registry.store().deployments_list(None).await?;
        let mut rows = Vec::new();
        for service in registry.services_list().await? {
            let latest = registry.store().service_versions_list(&service.name, 1).await?.into_iter().next();
            let mut cells = Vec::new();
            for environment in &environments {
                let running = deployments
                    .iter()
                    .find(|d| d.environment == environment.name && d.service == service.name)
                    .map(|d| d.version.clone());
                let verdict = match &latest {
                    Some(v) => Some(registry.can_i_deploy(&service.name, &v.version, &environment.name).await?),
                    None => None,
                };
                cells.push((running, verdict));
            }
            rows.push((service.name, latest.map(|v| v.version), cells));
        }
        Ok::<_, RegistryError>((environments, rows))
    }
    .await;
    let (environments, rows) = match result {
        Ok(found) => found,
        Err(e) => return failure(&e),
    };
    page(
        "Environments",
        &html! {
            h1 { "Environments" }
            @if environments.is_empty() { p.muted { "No environments yet: stele environment create prod" } }
            table {
                tr { th { "service" } th { "latest version" } @for e in &environments { th { (e.name) @if e.production { " " span.badge { "production" } } } } }
                @for (service, latest, cells) in &rows {
                    tr {
                        td { b { (service) } }
                        td { (latest.clone().unwrap_or_default()) }
                        @for (running, verdict) in cells {
                            td {
                                @if let Some(v) = running { "runs " b { (v) } } @else { span.muted { "not deployed" } }
                                br;
                                @match verdict {
                                    Some(answer) if answer.deployable => span.ok { "can deploy " (answer.version) },
                                    Some(answer) => span.bad title=(answer.reason) { "cannot deploy " (answer.version) },
                                    None => span.muted { "nothing published" },
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/search?q=`: subjects whose latest schema declares a field, record or message by that name.
pub async fn search(State(state): State<AppState>, caller: Caller, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref());
    let q = params.get("q").unwrap_or_default().trim().to_owned();
    let access = access(&caller);
    let hits = if q.is_empty() {
        Ok(Vec::new())
    } else {
        state
            .registry
            .search(&q, 500)
            .await
            .map(|hits| hits.into_iter().filter(|h| access.allows(Role::Read, &h.subject)).collect())
    };
    let hits: Vec<crate::service::SearchHit> = match hits {
        Ok(hits) => hits,
        Err(e) => return failure(&e),
    };
    page(
        "Search",
        &html! {
            h1 { "Search by field or message name" }
            form method="get" action="/ui/search" role="search" {
                label { "Field, record or message name " input name="q" value=(q) placeholder="amount, Order..."; }
                " " button { "Search" }
            }
            @if !q.is_empty() {
                p.muted { (hits.len()) " subject(s)" }
                table {
                    tr { th { "subject" } th { "format" } th { "matches in the latest version" } }
                    @for h in &hits {
                        tr {
                            td { a href={(subject_link(&h.subject)) "/versions/" (h.version)} { (h.subject) " v" (h.version) } }
                            td { (h.schema_type.as_str()) }
                            td { @for m in &h.matches { code { (m) } " " } }
                        }
                    }
                }
            }
        },
    )
}

/// Write forms are same-origin only: a page elsewhere cannot make a
/// logged-in browser post here (the browser's Basic credentials would ride along).
fn same_origin(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok())
        .map(|o| o.split("://").nth(1).unwrap_or(o).split('/').next().unwrap_or_default().to_owned());
    match origin {
        Some(origin) if !host.is_empty() && origin == host => Ok(()),
        _ => Err(Box::new(failure(&RegistryError::new(
            ErrorCode::Forbidden,
            "Cross-origin form submissions are refused",
        )))),
    }
}

/// `POST /ui/subjects/{subject}/config` (admin): sets the level, then back to the subject.
pub async fn set_level(
    State(state): State<AppState>,
    path: RawPathParams,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = same_origin(&headers) {
        return *refused;
    }
    let raw = PathParams::from_raw(&path).get("subject");
    let level = form_urlencoded::parse(&body).find(|(k, _)| k == "compatibility").map(|(_, v)| v.into_owned());
    let update = crate::service::ConfigUpdate { compatibility: level, ..Default::default() };
    match state.registry.config_put(Some(&raw), update).await {
        Ok(_) => Redirect::to(&subject_link(&raw)).into_response(),
        Err(e) => failure(&e),
    }
}

/// `POST /ui/subjects/{subject}/versions/{version}/delete` (write): a soft delete, then back.
pub async fn soft_delete(State(state): State<AppState>, path: RawPathParams, headers: HeaderMap) -> Response {
    if let Err(refused) = same_origin(&headers) {
        return *refused;
    }
    let params = PathParams::from_raw(&path);
    let raw = params.get("subject");
    let selector = match VersionSelector::parse(&params.get("version")) {
        Ok(selector) => selector,
        Err(e) => return failure(&e),
    };
    match state.registry.version_delete(&raw, selector, false).await {
        Ok(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, subject_link(&raw))]).into_response(),
        Err(e) => failure(&e),
    }
}
