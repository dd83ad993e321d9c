//! The authorization matrix: every route of the router × each principal
//! (anonymous, a reader, a writer and an admin of `orders-*`, a global admin,
//! an expired token) × a subject inside and outside the grant, on a real
//! `SQLite` file and on a throwaway PostgreSQL. Allowed requests must get past
//! authorization (any status but 401 and 403), refused ones exactly 401 (no or
//! bad credentials, with `WWW-Authenticate`) or 403 (error code 40301).

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stele_registry::auth::authn::token_hash;
use stele_registry::auth::{AuthSettings, Grant, Role, TokenEntry};
use stele_registry::http::{Api, ROUTES, app, request};
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, Settings};
use tower::ServiceExt as _;

fn grant(principal: &str, role: Role, subjects: &[&str]) -> Grant {
    Grant {
        principal: principal.into(),
        role,
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        contexts: vec!["*".into()],
    }
}

fn token(name: &str, expires_at: Option<i64>) -> TokenEntry {
    TokenEntry { name: name.into(), sha256: token_hash(&format!("secret-{name}")), expires_at }
}

async fn router(postgres: bool) -> Option<(Api, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = if postgres {
        stele_tests::postgres::fresh_database()?
    } else {
        format!("sqlite://{}", dir.path().join("stele.db").display())
    };
    let settings = Settings {
        database: DatabaseUrl::new(database),
        auth: AuthSettings {
            tokens: vec![
                token("reader", None),
                token("writer", None),
                token("owner", None),
                token("root", None),
                token("expired", Some(1)),
            ],
            grants: vec![
                grant("token:reader", Role::Read, &["orders-*"]),
                grant("token:writer", Role::Write, &["orders-*"]),
                grant("token:owner", Role::Admin, &["orders-*"]),
                grant("token:root", Role::Admin, &["*"]),
                grant("token:expired", Role::Admin, &["*"]),
            ],
            ..AuthSettings::default()
        },
        ..Settings::default()
    };
    let store = server::open_store(&settings).await.expect("store");
    Some((app(server::state(store, &settings).expect("state")), dir))
}

async fn call(
    router: &Api,
    method: &Method,
    uri: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (StatusCode, Value, bool) {
    let text = body.map(ToString::to_string);
    let mut request = request(method.clone(), uri, text.as_deref());
    if uri.starts_with("/ui/") && *method == Method::POST {
        // The console's forms are same-origin only.
        request.headers_mut().insert("host", "localhost".parse().expect("header"));
        request.headers_mut().insert("origin", "http://localhost".parse().expect("header"));
    }
    if let Some(token) = token {
        request.headers_mut().insert("authorization", format!("Bearer secret-{token}").parse().expect("header"));
    }
    let response = router.clone().oneshot(request).await.expect("response");
    let challenged = response.headers().contains_key("www-authenticate");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), challenged)
}

fn record(name: &str) -> String {
    json!({"type": "record", "name": name, "fields": [{"name": "id", "type": "string"}]}).to_string()
}

/// A concrete request for a route, about `subject`.
fn concrete(method: &str, path: &str, subject: &str) -> (Method, String, Option<Value>) {
    let uri = path
        .replace("{subject}", subject)
        .replace("{version}", "1")
        .replace("{id}", "1")
        .replace("{consumer}", "billing")
        .replace("{service}", "orders")
        .replace("{environment}", "prod");
    let uri = match (method, path) {
        ("get", "/stele/v1/can-i-deploy") => format!("{uri}?service=orders&version=1&environment=prod"),
        _ => uri,
    };
    let body = match (method, path) {
        ("put", "/stele/v1/services/{service}/versions/{version}") => {
            Some(json!({"consumes": [{"subject": subject, "schema": record("Reader")}]}))
        }
        ("put", "/stele/v1/services/{service}") => Some(json!({"mainBranch": "main"})),
        ("post", "/stele/v1/environments/{environment}/deployments") => {
            Some(json!({"service": "orders", "version": "1"}))
        }
        ("post", "/stele/v1/webhooks") => {
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["schema.registered"], "secret": "s"}))
        }
        ("put", p) if p.starts_with("/config") => Some(json!({"compatibility": "BACKWARD"})),
        ("put", p) if p.starts_with("/mode") => Some(json!({"mode": "READWRITE"})),
        ("put" | "post", _) => Some(json!({"schema": record("Order")})),
        _ => None,
    };
    (method.to_ascii_uppercase().parse().expect("method"), uri, body)
}

/// Whether `who` may call a route about `subject`, by the rule the table
/// gives and the grants above: the expectation is derived independently of
/// the middleware's code.
fn allowed(who: Option<&str>, route: (&str, &str), subject: &str) -> Option<bool> {
    let method = route.0.to_ascii_uppercase().parse().expect("method");
    let rule = stele_registry::auth::routes::rule_of(&method, route.1).expect("a rule");
    use stele_registry::auth::routes::Scope;
    if rule.scope == Scope::Public {
        return Some(true);
    }
    let (role, everywhere) = match who {
        None | Some("expired") => return None,
        Some("reader") => (Role::Read, false),
        Some("writer") => (Role::Write, false),
        Some("owner") => (Role::Admin, false),
        Some(_) => (Role::Admin, true),
    };
    let inside = subject.starts_with("orders-");
    // Publishing a service version also needs `write` on each subject in its body.
    if route == ("put", "/stele/v1/services/{service}/versions/{version}") {
        return Some(role >= rule.role && (inside || everywhere));
    }
    Some(match rule.scope {
        Scope::Public | Scope::Authenticated | Scope::Listing | Scope::SchemaId => true,
        Scope::Subject | Scope::SubjectUnaliased => role >= rule.role && (inside || everywhere),
        Scope::Global => role >= rule.role && everywhere,
        Scope::Somewhere => role >= rule.role,
    })
}

async fn matrix(router: &Api) {
    // Something to read: a schema under both subjects, registered by the global admin.
    for subject in ["orders-value", "payments-value"] {
        let body = json!({"schema": record("Order")});
        let (status, answer, _) =
            call(router, &Method::POST, &format!("/subjects/{subject}/versions"), Some(&body), Some("root")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let mut checked = 0;
    for (method, path) in ROUTES {
        for subject in ["orders-value", "payments-value"] {
            for who in [None, Some("expired"), Some("reader"), Some("writer"), Some("owner"), Some("root")] {
                let (verb, uri, body) = concrete(method, path, subject);
                // Destructive calls last: the root's deletes would change what the others see.
                let (status, answer, challenged) = call(router, &verb, &uri, body.as_ref(), who).await;
                let context = format!("{method} {uri} as {who:?}: {status} {answer}");
                match allowed(who, (method, path), subject) {
                    Some(true) => assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "should be allowed: {context}"
                    ),
                    Some(false) => {
                        assert_eq!(status, StatusCode::FORBIDDEN, "should be forbidden: {context}");
                        assert_eq!(answer["error_code"], 40301, "{context}");
                        assert!(
                            answer["message"].as_str().unwrap_or_default().starts_with("User is denied operation"),
                            "{context}"
                        );
                    }
                    None => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "should be unauthenticated: {context}");
                        assert_eq!(answer, json!({"error_code": 401, "message": "Unauthorized"}), "{context}");
                        assert!(challenged, "a 401 carries WWW-Authenticate: {context}");
                    }
                }
                checked += 1;
                // Put back what an allowed destructive call removed, so the next principal sees the same state.
                if method == &"delete" && status.is_success() && path.starts_with("/subjects") {
                    let body = json!({"schema": record("Order")});
                    let uri = format!("/subjects/{subject}/versions");
                    let (status, answer, _) = call(router, &Method::POST, &uri, Some(&body), Some("root")).await;
                    assert_eq!(status, StatusCode::OK, "re-register after a delete: {answer}");
                }
            }
        }
    }
    assert!(checked >= ROUTES.len() * 12, "{checked}");

    // Spot checks of the table itself, as a user would expect them.
    let permanent = "/subjects/orders-value/versions/1?permanent=true";
    let (status, _, _) = call(router, &Method::DELETE, permanent, None, Some("writer")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a permanent delete needs admin");
    let (status, _, _) = call(router, &Method::PUT, "/mode", Some(&json!({"mode": "IMPORT"})), Some("owner")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the global mode needs a global admin");
    let (_, subjects, _) = call(router, &Method::GET, "/subjects", None, Some("reader")).await;
    assert_eq!(subjects, json!(["orders-value"]), "listings show only what the caller may read");
    let (_, subjects, _) = call(router, &Method::GET, "/schemas/ids/1/subjects", None, Some("reader")).await;
    assert_eq!(subjects, json!(["orders-value"]));
    let (_, subjects, _) = call(router, &Method::GET, "/subjects", None, Some("root")).await;
    assert_eq!(subjects.as_array().map(Vec::len), Some(2));
    // The audit log is written in the background, in batches: give it a moment.
    let mut audit = Vec::new();
    for _ in 0..50 {
        let (status, answer, _) = call(router, &Method::GET, "/stele/v1/audit?limit=10000", None, Some("root")).await;
        assert_eq!(status, StatusCode::OK);
        audit = answer.as_array().cloned().unwrap_or_default();
        if audit.iter().any(|r| r["action"] == "PUT /mode" && r["principal"] == "token:owner") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(audit.iter().any(|r| r["result"] == "denied" && r["principal"] == "token:writer"), "denials are audited");
    assert!(audit.iter().any(|r| r["result"] == "unauthenticated"), "refused credentials are audited");
    assert!(
        audit.iter().any(|r| r["result"] == "ok" && r["action"] == "POST /subjects/{subject}/versions"),
        "changes are audited"
    );
    assert!(audit.iter().all(|r| !r.to_string().contains("secret-")), "no credential in the audit log");

    // A schema registered again changes nothing and is not audited; a new one is.
    let seen: std::collections::HashSet<String> = audit.iter().map(|r| r["id"].to_string()).collect();
    let again = json!({"schema": record("Order")});
    let (status, _, _) =
        call(router, &Method::POST, "/subjects/orders-value/versions", Some(&again), Some("root")).await;
    assert_eq!(status, StatusCode::OK);
    let marker = json!({"schema": record("Marker")});
    let (status, _, _) =
        call(router, &Method::POST, "/subjects/marker-value/versions", Some(&marker), Some("root")).await;
    assert_eq!(status, StatusCode::OK);
    let mut recent = Vec::new();
    for _ in 0..50 {
        let (_, answer, _) = call(router, &Method::GET, "/stele/v1/audit?limit=10000", None, Some("root")).await;
        recent = answer.as_array().cloned().unwrap_or_default();
        recent.retain(|r| !seen.contains(&r["id"].to_string()));
        if recent.iter().any(|r| r["subject"] == "marker-value") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recent.iter().any(|r| r["subject"] == "marker-value"), "the new schema is audited: {recent:?}");
    let reregistered =
        |r: &&Value| r["subject"] == "orders-value" && r["action"] == "POST /subjects/{subject}/versions";
    assert!(!recent.iter().any(|r| reregistered(&r)), "the re-registration is not: {recent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_its_permission_on_sqlite() {
    let (router, _dir) = router(false).await.expect("SQLite");
    matrix(&router).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_its_permission_on_postgres() {
    let Some((router, _dir)) = router(true).await else { return };
    matrix(&router).await;
}
