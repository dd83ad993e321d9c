//! The registry crate's integration tests: the router driven with `oneshot`,
//! each test on both backends (a real `SQLite` file and a throwaway PostgreSQL),
//! one fresh database per test. After every test the same router is served on
//! real HTTP and the registry's invariants are checked through it and in the
//! database.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stele_compat::CompatibilityLevel;
use stele_registry::http::{Api, AppState, ROUTES, app, request};
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, LogFormat, Settings};
use stele_tests::invariants::{Database, Ledger};
use tower::ServiceExt as _;

#[derive(Clone)]
struct TestApp {
    state: AppState,
    router: Api,
    database: Database,
    _dir: Arc<tempfile::TempDir>,
}

/// A fresh registry on `backend`; `None` when PostgreSQL is not installed
/// (outside CI only: in CI that fails the test).
async fn spawn_app(postgres: bool) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = if postgres {
        Database::Postgres(stele_tests::postgres::fresh_database()?)
    } else {
        Database::Sqlite(dir.path().join("stele.db"))
    };
    let state = open(&database).await;
    Some(TestApp { router: app(state.clone()), state, database, _dir: Arc::new(dir) })
}

/// A registry process's state over `database`: opening another on the same
/// database is a restart (on `SQLite`) or a second replica (on PostgreSQL).
async fn open(database: &Database) -> AppState {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseUrl::new(database.url()),
        default_compatibility: CompatibilityLevel::Backward,
        log_format: LogFormat::Text,
        metrics_listen: None,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await.expect("store");
    server::state(store, &settings).expect("state")
}

impl TestApp {
    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let text = body.map(|b| b.to_string());
        let response = self.router.clone().oneshot(request(method, uri, text.as_deref())).await.expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "text": String::from_utf8_lossy(&bytes) }));
        (status, value)
    }

    /// Sends a GET with extra headers; answers the status, headers and body text.
    async fn call_with(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, String) {
        self.send(Method::GET, uri, None, headers).await
    }

    /// Sends a request with extra headers; answers the status, headers and body text.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let text = body.map(Value::to_string);
        let mut request = request(method, uri, text.as_deref());
        for (name, value) in headers {
            request.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                axum::http::HeaderValue::from_str(value).expect("header value"),
            );
        }
        let response = self.router.clone().oneshot(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Serves the router on real HTTP and checks every invariant through it and in the database.
    async fn check_invariants(self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, self.router).await });
        let database = self.database.clone();
        tokio::task::spawn_blocking(move || stele_tests::invariants::check(&[addr], &database, &Ledger::default()))
            .await
            .expect("invariants");
        server.abort();
    }
}

/// Runs each named test on `SQLite` and on PostgreSQL, then checks the invariants.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = super::spawn_app(false).await.expect("SQLite");
                    super::$name(app.clone()).await;
                    app.check_invariants().await;
                }
            )*
        }
        mod postgresql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = super::spawn_app(true).await else { return };
                    super::$name(app.clone()).await;
                    app.check_invariants().await;
                }
            )*
        }
    };
}

fn record(fields: &[(&str, &str)]) -> String {
    let fields: Vec<Value> = fields.iter().map(|(name, ty)| json!({"name": name, "type": ty})).collect();
    json!({"type": "record", "name": "Order", "fields": fields}).to_string()
}

#[test]
fn every_route_is_in_the_openapi_spec_and_every_spec_path_is_a_route() {
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.yaml");
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(spec_path).expect("openapi.yaml")).expect("YAML");
    let mut in_spec = BTreeSet::new();
    for (path, operations) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in operations.as_mapping().expect("operations") {
            in_spec.insert((method.as_str().expect("method").to_owned(), path.as_str().expect("path").to_owned()));
        }
    }
    // The web console's pages (`/ui`) are HTML, not API: README.md documents them.
    let in_router: BTreeSet<(String, String)> =
        ROUTES.iter().filter(|(_, p)| !p.starts_with("/ui")).map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let missing_from_spec: Vec<_> = in_router.difference(&in_spec).collect();
    let missing_from_router: Vec<_> = in_spec.difference(&in_router).collect();
    assert!(missing_from_spec.is_empty(), "routes missing from openapi.yaml: {missing_from_spec:?}");
    assert!(missing_from_router.is_empty(), "openapi.yaml paths with no route: {missing_from_router:?}");
}

async fn register_then_fetch_by_id_and_version_returns_the_canonical_text(app: TestApp) {
    let schema = r#"{ "type": "record", "name": "Order", "fields": [ {"name": "id", "type": "string"} ] }"#;
    let (status, body) =
        app.call(Method::POST, "/subjects/orders-value/versions", Some(json!({"schema": schema}))).await;
    assert_eq!(status, StatusCode::OK);
    let id = body["id"].as_i64().expect("id");
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["schema"], record(&[("id", "string")]));
    let (_, body) = app.call(Method::GET, "/subjects/orders-value/versions/latest", None).await;
    assert_eq!(body["version"], 1);
    assert_eq!(body["subject"], "orders-value");
}

async fn register_returns_409_naming_the_field_when_a_field_without_default_is_added(app: TestApp) {
    app.call(Method::POST, "/subjects/s/versions", Some(json!({"schema": record(&[("id", "string")])}))).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/subjects/s/versions",
            Some(json!({"schema": record(&[("id", "string"), ("total", "long")])})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error_code"], 409);
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "{message}");
    assert!(message.contains("'/fields/1'"), "{message}");
}

async fn an_invalid_schema_is_42201_and_a_malformed_body_is_400(app: TestApp) {
    let (status, body) =
        app.call(Method::POST, "/subjects/s/versions", Some(json!({"schema": "{\"type\":\"record\"}"}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)));
    let response =
        app.router.clone().oneshot(request(Method::POST, "/subjects/s/versions", Some("{"))).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn unknown_routes_and_methods_answer_in_confluents_envelope(app: TestApp) {
    assert_eq!(
        app.call(Method::GET, "/nope", None).await,
        (StatusCode::NOT_FOUND, json!({"error_code": 404, "message": "HTTP 404 Not Found"}))
    );
    let (status, body) = app.call(Method::PUT, "/subjects", Some(json!({}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!(405)));
}

async fn concurrent_registrations_of_one_schema_under_many_subjects_share_one_id(app: TestApp) {
    let app = Arc::new(app);
    let schema = record(&[("id", "string")]);
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let app = Arc::clone(&app);
        let schema = schema.clone();
        tasks.push(tokio::spawn(async move {
            let (status, body) = app
                .call(Method::POST, &format!("/subjects/subject-{writer}/versions"), Some(json!({"schema": schema})))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["id"].as_i64().expect("id")
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task"));
    }
    assert_eq!(ids.len(), 1, "one schema must have one id, got {ids:?}");
}

async fn concurrent_registrations_of_different_schemas_under_one_subject_get_dense_distinct_versions(app: TestApp) {
    let app = Arc::new(app);
    app.call(Method::PUT, "/config/orders", Some(json!({"compatibility": "NONE"}))).await;
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let field = format!("f{writer}");
            let schema = record(&[(field.as_str(), "string")]);
            let (status, body) =
                app.call(Method::POST, "/subjects/orders/versions", Some(json!({"schema": schema}))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["id"].as_i64().expect("id")
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task"));
    }
    assert_eq!(ids.len(), 16, "16 schemas must get 16 ids");
    let (_, versions) = app.call(Method::GET, "/subjects/orders/versions", None).await;
    assert_eq!(versions, json!((1..=16).collect::<Vec<_>>()));
    let mut seen = BTreeSet::new();
    for version in 1..=16 {
        let (_, body) = app.call(Method::GET, &format!("/subjects/orders/versions/{version}"), None).await;
        seen.insert(body["id"].as_i64().expect("id"));
    }
    assert_eq!(seen, ids, "every version holds one of the registered schemas, each exactly once");
}

/// Registrations that arrive together share one transaction (group commit),
/// each after its own savepoint: one that fails after its first writes leaves
/// nothing behind, and the others keep their versions.
async fn registrations_committed_together_keep_their_own_outcomes(app: TestApp) {
    let app = Arc::new(app);
    let (status, body) = app.call(Method::PUT, "/mode", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let taken = json!({"schema": record(&[("held", "string")]), "id": 999, "version": 1});
    let (status, body) = app.call(Method::POST, "/subjects/taken/versions", Some(taken)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A referenced version is never overwritten by an IMPORT.
    let holder = json!({"type": "record", "name": "Holder", "fields": [{"name": "o", "type": "Order"}]});
    let references = json!([{"name": "Order", "subject": "taken", "version": 1}]);
    let request = json!({"schema": holder.to_string(), "references": references, "id": 998, "version": 1});
    let (status, body) = app.call(Method::POST, "/subjects/holder/versions", Some(request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut tasks = Vec::new();
    for writer in 0..24_i64 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let field = format!("f{writer}");
            let schema = record(&[(field.as_str(), "string")]);
            // Even writers import a new subject; odd ones a second schema as
            // version 1 of `taken`, which is refused (referenced) after its
            // schema row was written.
            let (subject, id) = if writer % 2 == 0 {
                (format!("imported-{writer}"), 1000 + writer)
            } else {
                ("taken".to_owned(), 2000 + writer)
            };
            let request = json!({"schema": schema, "id": id, "version": 1});
            let (status, body) = app.call(Method::POST, &format!("/subjects/{subject}/versions"), Some(request)).await;
            (writer, id, status, body)
        }));
    }
    for task in tasks {
        let (writer, id, status, body) = task.await.expect("task");
        if writer % 2 == 0 {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["id"], json!(id), "{body}");
            let (status, body) = app.call(Method::GET, &format!("/subjects/imported-{writer}/versions/1"), None).await;
            assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(id)), "{body}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["error_code"], json!(42206), "{body}");
            let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}"), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "the refused registration left schema {id} behind: {body}");
        }
    }
    let (_, versions) = app.call(Method::GET, "/subjects/taken/versions", None).await;
    assert_eq!(versions, json!([1]));
    let (_, body) = app.call(Method::GET, "/subjects/taken/versions/1", None).await;
    assert_eq!(body["id"], json!(999), "{body}");
    app.call(Method::PUT, "/mode", Some(json!({"mode": "READWRITE"}))).await;
}

/// `GET /schemas` pages through the versions in subject order, the latest
/// of each subject with `latestOnly`, after the deleted filter.
async fn the_schema_listing_honours_offset_limit_and_latest_only(app: TestApp) {
    app.call(Method::PUT, "/config", Some(json!({"compatibility": "NONE"}))).await;
    for subject in ["c", "a", "b"] {
        for field in ["x", "y", "z"] {
            let schema = record(&[(field, "string"), (subject, "string")]);
            let (status, body) =
                app.call(Method::POST, &format!("/subjects/{subject}/versions"), Some(json!({"schema": schema}))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let (status, body) = app.call(Method::DELETE, "/subjects/b/versions/3", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = |body: &Value| -> Vec<String> {
        body.as_array()
            .expect("a list")
            .iter()
            .map(|s| format!("{}/{}", s["subject"].as_str().expect("subject"), s["version"]))
            .collect()
    };
    let (_, body) = app.call(Method::GET, "/schemas?offset=2&limit=3", None).await;
    assert_eq!(listed(&body), ["a/3", "b/1", "b/2"], "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?latestOnly=true", None).await;
    assert_eq!(listed(&body), ["a/3", "b/2", "c/3"], "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?latestOnly=true&deleted=true&offset=1&limit=1", None).await;
    assert_eq!(listed(&body), ["b/3"], "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?offset=8", None).await;
    assert_eq!(listed(&body), Vec::<String>::new(), "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?deleted=true&offset=3&limit=3", None).await;
    assert_eq!(listed(&body), ["b/1", "b/2", "b/3"], "{body}");
    // Another context's versions are listed only when the prefix names them.
    let schema = record(&[("x", "string")]);
    let (status, body) = app.call(Method::POST, "/subjects/:.ctx:a/versions", Some(json!({"schema": schema}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?offset=7", None).await;
    assert_eq!(listed(&body), ["c/3"], "{body}");
    let (_, body) = app.call(Method::GET, "/schemas?subjectPrefix=:*:&limit=2", None).await;
    assert_eq!(listed(&body), [":.ctx:a/1", "a/1"], "{body}");
    // The invariant checker reads ids in the default context only.
    for path in ["/subjects/:.ctx:a", "/subjects/:.ctx:a?permanent=true"] {
        let (status, body) = app.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn the_subject_listing_pages_through_every_subject_with_offset_and_limit(app: TestApp) {
    // More subjects than one page of the store's listing (1,000), registered
    // concurrently in shuffled order; one is soft-deleted.
    app.call(Method::PUT, "/config", Some(json!({"compatibility": "NONE"}))).await;
    let schema = record(&[("id", "string")]);
    let mut order: Vec<usize> = (0..1005).collect();
    order.sort_by_key(|n| (n * 7919) % 1005);
    let mut writers = tokio::task::JoinSet::new();
    for chunk in order.chunks(126) {
        let (app, chunk, schema) = (app.clone(), chunk.to_vec(), schema.clone());
        writers.spawn(async move {
            for n in chunk {
                let (status, body) = app
                    .call(Method::POST, &format!("/subjects/p{n:04}/versions"), Some(json!({"schema": schema})))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    let (status, body) = app.call(Method::DELETE, "/subjects/p0999", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = |body: Value| -> Vec<String> {
        body.as_array().expect("a list").iter().map(|s| s.as_str().expect("a name").to_owned()).collect()
    };
    let (_, body) = app.call(Method::GET, "/subjects", None).await;
    let expected: Vec<String> = (0..1005).filter(|n| *n != 999).map(|n| format!("p{n:04}")).collect();
    assert_eq!(names(body), expected);
    let (_, body) = app.call(Method::GET, "/subjects?offset=997&limit=4", None).await;
    assert_eq!(names(body), ["p0997", "p0998", "p1000", "p1001"], "across the page boundary, the deleted one skipped");
    let (_, body) = app.call(Method::GET, "/subjects?deleted=true&offset=998&limit=3", None).await;
    assert_eq!(names(body), ["p0998", "p0999", "p1000"]);
    let (_, body) = app.call(Method::GET, "/subjects?deletedOnly=true", None).await;
    assert_eq!(names(body), ["p0999"]);
    let (_, body) = app.call(Method::GET, "/subjects?subjectPrefix=p100&offset=2", None).await;
    assert_eq!(names(body), ["p1002", "p1003", "p1004"]);
    let (_, body) = app.call(Method::GET, "/subjects?offset=2000", None).await;
    assert_eq!(names(body), Vec::<String>::new());
}

async fn the_lenient_json_policy_accepts_an_optional_property_on_an_open_model(app: TestApp) {
    let v1 = json!({"type": "object", "properties": {"a": {"type": "string"}}}).to_string();
    let v2 = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}).to_string();
    let register = |schema: String| json!({"schema": schema, "schemaType": "JSON"});
    app.call(Method::POST, "/subjects/users/versions", Some(register(v1))).await;
    let (status, body) = app.call(Method::POST, "/subjects/users/versions", Some(register(v2.clone()))).await;
    assert_eq!(status, StatusCode::CONFLICT, "strict by default: {body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"));
    let (status, _) = app.call(Method::PUT, "/config/users", Some(json!({"compatibilityPolicy": "LENIENT"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(Method::POST, "/subjects/users/versions", Some(register(v2))).await;
    assert_eq!(status, StatusCode::OK, "lenient accepts it: {body}");
}

async fn protobuf_rules_choose_between_confluents_verdict_and_bufs_categories(app: TestApp) {
    let proto = |body: &str| json!({"schema": format!("syntax = \"proto3\";\npackage shop.v1;\nmessage Order {{\n{body}}}\n"), "schemaType": "PROTOBUF"});
    app.call(Method::POST, "/subjects/orders/versions", Some(proto("  string id = 1;\n  string note = 2;\n"))).await;
    // Deleting a field without reserving it: Confluent allows it, buf's WIRE does not.
    let deleted = proto("  string id = 1;\n");
    let (status, body) = app
        .call(Method::POST, "/compatibility/subjects/orders/versions/latest?verbose=true", Some(deleted.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_compatible"], json!(true), "Confluent's rules: {body}");

    let (status, _) = app.call(Method::PUT, "/config/orders", Some(json!({"protobufRules": "wire"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, config) = app.call(Method::GET, "/config/orders", None).await;
    assert_eq!(config["protobufRules"], json!("WIRE"), "stored in upper case and returned by GET: {config}");
    let (status, body) = app
        .call(Method::POST, "/compatibility/subjects/orders/versions/latest?verbose=true", Some(deleted.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_compatible"], json!(false), "WIRE: {body}");
    let messages = body["messages"].to_string();
    assert!(messages.contains("FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"), "rule id: {messages}");
    assert!(messages.contains("note (2)"), "field name and number: {messages}");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(deleted)).await;
    assert_eq!(status, StatusCode::CONFLICT, "registration is refused too: {body}");

    // Reserving the number satisfies WIRE but not WIRE_JSON, which also wants the name reserved.
    let reserved = proto("  string id = 1;\n  reserved 2;\n");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(reserved.clone())).await;
    assert_eq!(status, StatusCode::OK, "WIRE accepts a reserved number: {body}");
    app.call(Method::PUT, "/config/orders", Some(json!({"protobufRules": "WIRE_JSON"}))).await;
    let renamed = proto("  string order_id = 1;\n  reserved 2;\n");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(renamed)).await;
    assert_eq!(status, StatusCode::CONFLICT, "WIRE_JSON refuses a rename: {body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("FIELD_SAME_NAME"), "{body}");

    let (status, body) = app.call(Method::PUT, "/config/orders", Some(json!({"protobufRules": "STRICTEST"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown profile is refused: {body}");
}

async fn import_mode_refuses_a_schema_that_does_not_parse_and_the_subject_keeps_working(app: TestApp) {
    let (status, _) = app.call(Method::PUT, "/mode/imported", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(
            Method::POST,
            "/subjects/imported/versions",
            Some(json!({"schema": "{\"type\": \"recrod\"}", "id": 100, "version": 1})),
        )
        .await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{body}");
    let schema = record(&[("id", "string")]);
    let (status, body) = app
        .call(Method::POST, "/subjects/imported/versions", Some(json!({"schema": schema, "id": 100, "version": 1})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.call(Method::PUT, "/mode/imported", Some(json!({"mode": "READWRITE"}))).await;
    app.call(Method::PUT, "/config/imported", Some(json!({"compatibility": "NONE"}))).await;
    let (status, body) = app
        .call(Method::POST, "/subjects/imported/versions", Some(json!({"schema": record(&[("other", "long")])})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_version_a_consumer_contract_references_cannot_be_permanently_deleted(app: TestApp) {
    let money =
        json!({"type": "record", "name": "Money", "namespace": "shop", "fields": [{"name": "cents", "type": "long"}]});
    let (status, _) =
        app.call(Method::POST, "/subjects/money/versions", Some(json!({"schema": money.to_string()}))).await;
    assert_eq!(status, StatusCode::OK);
    let order = json!({"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "total", "type": "shop.Money"}]});
    let references = json!([{"name": "shop.Money", "subject": "money", "version": 1}]);
    let (status, body) = app
        .call(
            Method::POST,
            "/subjects/orders/versions",
            Some(json!({"schema": order.to_string(), "references": references})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            Method::PUT,
            "/stele/v1/subjects/orders/consumers/billing",
            Some(json!({"schema": order.to_string(), "references": references})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The registered referrer goes for good; the contract still reads money version 1.
    for path in ["/subjects/orders", "/subjects/orders?permanent=true", "/subjects/money"] {
        let (status, body) = app.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::OK, "DELETE {path}: {body}");
    }
    let (status, body) = app.call(Method::DELETE, "/subjects/money?permanent=true", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42206)), "{body}");
    let (status, _) = app.call(Method::GET, "/subjects/money/versions/1?deleted=true", None).await;
    assert_eq!(status, StatusCode::OK, "the referenced version is still there");
    // Once the contract is gone, so may the version be.
    let (status, _) = app.call(Method::DELETE, "/stele/v1/subjects/orders/consumers/billing", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(Method::DELETE, "/subjects/money?permanent=true", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Registers `schema` under `subject` (with `references`), expecting success; answers the id.
async fn register(app: &TestApp, subject: &str, schema: &Value, references: Value) -> i64 {
    let request = json!({"schema": schema.to_string(), "references": references});
    let (status, body) = app.call(Method::POST, &format!("/subjects/{subject}/versions"), Some(request)).await;
    assert_eq!(status, StatusCode::OK, "registering under {subject}: {body}");
    body["id"].as_i64().expect("id")
}

async fn a_permanent_delete_under_a_soft_deleted_referrer_pins_the_version_number(app: TestApp) {
    let dep =
        |ty: &str| json!({"type": "record", "name": "Dep", "namespace": "x", "fields": [{"name": "v", "type": ty}]});
    let holder =
        json!({"type": "record", "name": "Holder", "namespace": "x", "fields": [{"name": "d", "type": "x.Dep"}]});
    let references = |subject: &str| json!([{"name": "x.Dep", "subject": subject, "version": 1}]);
    let mut holder_ids = Vec::new();
    for (dep_subject, holder_subject) in [("dep", "holder"), ("dep2", "holder2")] {
        register(&app, dep_subject, &dep("int"), json!([])).await;
        holder_ids.push(register(&app, holder_subject, &holder, references(dep_subject)).await);
        // Only a live referrer protects the version, as in Confluent.
        let (status, body) = app.call(Method::DELETE, &format!("/subjects/{dep_subject}"), None).await;
        assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42206)), "{body}");
        for path in [format!("/subjects/{holder_subject}"), format!("/subjects/{dep_subject}")] {
            let (status, body) = app.call(Method::DELETE, &path, None).await;
            assert_eq!((status, body), (StatusCode::OK, json!([1])), "DELETE {path}");
        }
        let path = format!("/subjects/{dep_subject}?permanent=true");
        let (status, body) = app.call(Method::DELETE, &path, None).await;
        assert_eq!((status, body), (StatusCode::OK, json!([1])), "DELETE {path}");
    }
    // The soft-deleted referrer stays readable by id, its reference as it was.
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{}", holder_ids[0]), None).await;
    assert_eq!((status, body["references"].clone()), (StatusCode::OK, references("dep")), "{body}");
    // Another schema cannot take the pinned number 1: it becomes version 2.
    for subject in ["dep", "dep2"] {
        register(&app, subject, &dep("long"), json!([])).await;
        let (_, versions) = app.call(Method::GET, &format!("/subjects/{subject}/versions"), None).await;
        assert_eq!(versions, json!([2]), "{subject}");
    }
    let (status, body) = app.call(Method::GET, "/subjects/dep/versions/1", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40402)), "{body}");
    // A new reference to the deleted version is refused.
    let request = json!({"schema": holder.to_string(), "references": references("dep")});
    let (status, body) = app.call(Method::POST, "/subjects/holder3/versions", Some(request)).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{body}");
    // Through IMPORT, only the schema the version held takes number 1 again.
    let (status, body) = app.call(Method::PUT, "/mode/dep?force=true", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let import = |ty: &str, id: i64| json!({"schema": dep(ty).to_string(), "id": id, "version": 1});
    let (status, body) = app.call(Method::POST, "/subjects/dep/versions", Some(import("string", 900))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42205)), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("soft-deleted schema")), "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/dep/versions", Some(import("int", 901))).await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!(901)), "{body}");
    app.call(Method::PUT, "/mode/dep", Some(json!({"mode": "READWRITE"}))).await;
    let (_, versions) = app.call(Method::GET, "/subjects/dep/versions", None).await;
    assert_eq!(versions, json!([1, 2]));
    // dep2 keeps its pin: the invariants check that state too.
}

async fn a_pinned_number_is_skipped_by_explicit_versions_and_tags_and_their_metadata_says_so(app: TestApp) {
    let dep = |ty: &str| json!({"type": "record", "name": "Dep", "fields": [{"name": "v", "type": ty}]});
    let holder = json!({"type": "record", "name": "Holder", "fields": [{"name": "d", "type": "Dep"}]});
    register(&app, "top", &dep("int"), json!([])).await;
    register(&app, "top", &dep("long"), json!([])).await;
    register(&app, "top-holder", &holder, json!([{"name": "Dep", "subject": "top", "version": 2}])).await;
    for path in ["/subjects/top-holder", "/subjects/top/versions/2", "/subjects/top/versions/2?permanent=true"] {
        let (status, body) = app.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::OK, "DELETE {path}: {body}");
    }
    // Tagging version 1 makes a new version past the pinned 2, stamped 3.
    let tags =
        json!({"tagsToAdd": [{"schemaEntity": {"entityPath": "Dep.v", "entityType": "sr_field"}, "tags": ["PII"]}]});
    let (status, body) = app.call(Method::POST, "/subjects/top/versions/1/tags", Some(tags)).await;
    assert_eq!((status, body["version"].clone()), (StatusCode::OK, json!(3)), "{body}");
    assert_eq!(body["metadata"]["properties"]["confluent:version"], json!("3"), "{body}");
    // An explicit version must be the next free number.
    let explicit = |version: i32| json!({"schema": dep("double").to_string(), "version": version});
    let (status, body) = app.call(Method::POST, "/subjects/top/versions", Some(explicit(2))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/top/versions", Some(explicit(4))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.call(Method::GET, "/subjects/top/versions/4", None).await;
    assert_eq!(body["metadata"]["properties"]["confluent:version"], json!("4"), "{body}");
    let (_, versions) = app.call(Method::GET, "/subjects/top/versions", None).await;
    assert_eq!(versions, json!([1, 3, 4]));
}

async fn an_import_overwrite_racing_a_new_reference_never_leaves_the_reference_meaning_the_new_schema(app: TestApp) {
    let app = Arc::new(app);
    let (status, _) = app.call(Method::PUT, "/mode", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK);
    let record = |name: &str, field: &str, ty: &str| {
        json!({"type": "record", "name": name, "fields": [{"name": field, "type": ty}]}).to_string()
    };
    for i in 0..30_i64 {
        let (x, field) = (format!("x{i}"), format!("v{i}"));
        let first = json!({"schema": record("Imp", &field, "int"), "id": 10_000 + i, "version": 1});
        let (status, body) = app.call(Method::POST, &format!("/subjects/{x}/versions"), Some(first)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // At once: x version 1 overwritten with another schema, and a schema
        // referencing x version 1 (as it was) registered.
        let overwrite = json!({"schema": record("Other", &field, "int"), "id": 20_000 + i, "version": 1});
        let referrer = json!({"schema": record("Holder", &format!("i{i}"), "Imp"), "id": 30_000 + i, "version": 1,
            "references": [{"name": "Imp", "subject": x, "version": 1}]});
        let (a, b) = (Arc::clone(&app), Arc::clone(&app));
        let path = format!("/subjects/{x}/versions");
        let overwrite = tokio::spawn(async move { a.call(Method::POST, &path, Some(overwrite)).await });
        let path = format!("/subjects/r{i}/versions");
        let referrer = tokio::spawn(async move { b.call(Method::POST, &path, Some(referrer)).await });
        let (overwrite, referrer) = (overwrite.await.expect("task"), referrer.await.expect("task"));
        // Whichever comes first, the other is refused: 42206 for the overwrite of
        // a referenced version, 42201 for a reference that no longer holds Imp.
        assert!(
            overwrite.0 != StatusCode::OK || referrer.0 != StatusCode::OK,
            "round {i}: both succeeded: {} and {}",
            overwrite.1,
            referrer.1
        );
    }
    app.call(Method::PUT, "/mode", Some(json!({"mode": "READWRITE"}))).await;
}

async fn an_import_does_not_overwrite_a_version_a_published_service_reads(app: TestApp) {
    let imp = |ty: &str| json!({"type": "record", "name": "Imp", "fields": [{"name": "v", "type": ty}]}).to_string();
    let (status, _) = app.call(Method::PUT, "/mode/imp", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK);
    let import = |ty: &str, id: i64| json!({"schema": imp(ty), "id": id, "version": 1});
    let (status, body) = app.call(Method::POST, "/subjects/imp/versions", Some(import("int", 700))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let holder = json!({"type": "record", "name": "Holder", "fields": [{"name": "i", "type": "Imp"}]});
    let published = json!({
        "branch": "feature",
        "consumes": [{"subject": "orders", "schema": holder.to_string(),
                      "references": [{"name": "Imp", "subject": "imp", "version": 1}]}],
    });
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/reader/versions/1", Some(published)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/imp/versions", Some(import("long", 701))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42206)), "{body}");
    app.call(Method::PUT, "/mode/imp", Some(json!({"mode": "READWRITE"}))).await;
}

async fn an_import_overwrites_a_version_and_keeps_the_old_id_readable(app: TestApp) {
    let schema = |ty: &str| json!({"type": "record", "name": "Imp", "fields": [{"name": "v", "type": ty}]}).to_string();
    let (status, _) = app.call(Method::PUT, "/mode/imp", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK);
    let import = |ty: &str, id: i64| json!({"schema": schema(ty), "id": id, "version": 1});
    for (ty, id) in [("int", 500), ("long", 501)] {
        let (status, body) = app.call(Method::POST, "/subjects/imp/versions", Some(import(ty, id))).await;
        assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!(id)), "{body}");
    }
    let (_, body) = app.call(Method::GET, "/subjects/imp/versions/1", None).await;
    assert_eq!(body["id"], json!(501), "version 1 now holds the imported schema: {body}");
    // The id the version held keeps its content for the messages that carry it.
    let (status, body) = app.call(Method::GET, "/schemas/ids/500", None).await;
    assert_eq!((status, body["schema"].as_str()), (StatusCode::OK, Some(schema("int").as_str())), "{body}");
    let (_, usages) = app.call(Method::GET, "/schemas/ids/500/versions", None).await;
    assert_eq!(usages, json!([]));
    let (status, _) = app.call(Method::POST, "/subjects/imp", Some(json!({"schema": schema("int")}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the overwritten version no longer holds it");
    // A referenced version is not overwritten: its referrers would change meaning.
    let holder = json!({"type": "record", "name": "Holder", "fields": [{"name": "i", "type": "Imp"}]});
    register(&app, "imp-holder", &holder, json!([{"name": "Imp", "subject": "imp", "version": 1}])).await;
    let (status, body) = app.call(Method::POST, "/subjects/imp/versions", Some(import("string", 600))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42206)), "{body}");
    let (_, body) = app.call(Method::GET, "/subjects/imp/versions/1", None).await;
    assert_eq!(body["id"], json!(501), "{body}");
    app.call(Method::PUT, "/mode/imp", Some(json!({"mode": "READWRITE"}))).await;
    // The retired schema outlives permanent deletes of what used it again.
    register(&app, "imp-again", &serde_json::from_str(&schema("int")).expect("json"), json!([])).await;
    for path in ["/subjects/imp-again", "/subjects/imp-again?permanent=true"] {
        let (status, body) = app.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::OK, "DELETE {path}: {body}");
    }
    let (status, _) = app.call(Method::GET, "/schemas/ids/500", None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn contract_writes_obey_read_only_mode_and_subject_aliases(app: TestApp) {
    let schema = record(&[("id", "string")]);
    let (status, _) = app.call(Method::POST, "/subjects/payments/versions", Some(json!({"schema": schema}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::PUT, "/config/pay", Some(json!({"alias": "payments"}))).await;
    assert_eq!(status, StatusCode::OK);
    // Through the alias, the contract lands on the aliased subject.
    let (status, body) =
        app.call(Method::PUT, "/stele/v1/subjects/pay/consumers/ledger", Some(json!({"schema": schema}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "payments");
    let (status, _) = app.call(Method::GET, "/stele/v1/subjects/payments/consumers/ledger", None).await;
    assert_eq!(status, StatusCode::OK);
    // Read-only: no contract is published or deleted.
    let (status, _) = app.call(Method::PUT, "/mode/payments", Some(json!({"mode": "READONLY"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.call(Method::PUT, "/stele/v1/subjects/payments/consumers/audit", Some(json!({"schema": schema}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42205)), "{body}");
    let (status, body) = app.call(Method::DELETE, "/stele/v1/subjects/payments/consumers/ledger", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42205)), "{body}");
    let (status, _) = app.call(Method::GET, "/stele/v1/subjects/payments/consumers/audit", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_permanently_deleted_id_is_not_served_from_memory(app: TestApp) {
    let schema = record(&[("id", "string")]);
    let (_, body) = app.call(Method::POST, "/subjects/gone/versions", Some(json!({"schema": schema}))).await;
    let id = body["id"].as_i64().expect("id");
    // Cached by reads of every kind.
    for path in
        [format!("/schemas/ids/{id}"), format!("/schemas/ids/{id}/schema"), "/subjects/gone/versions/1".to_owned()]
    {
        let (status, _) = app.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    app.call(Method::DELETE, "/subjects/gone", None).await;
    let (status, _) = app.call(Method::GET, &format!("/schemas/ids/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "a soft-deleted schema stays readable by id");
    app.call(Method::DELETE, "/subjects/gone?permanent=true", None).await;
    for path in [format!("/schemas/ids/{id}"), format!("/schemas/ids/{id}/schema")] {
        let (status, body) = app.call(Method::GET, &path, None).await;
        assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40403)), "{path}");
    }
    // The same text again is a new id: ids are never reused.
    let (_, body) = app.call(Method::POST, "/subjects/gone/versions", Some(json!({"schema": schema}))).await;
    assert!(body["id"].as_i64().expect("id") > id);
}

async fn a_read_that_falls_back_to_another_context_is_not_kept_as_this_contexts_answer(app: TestApp) {
    let team = record(&[("team", "string")]);
    let (status, body) = app.call(Method::POST, "/subjects/:.team:x/versions", Some(json!({"schema": team}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_i64().expect("id");
    // `x` is only in `.team`: a read by id naming it falls back there.
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}?subject=x"), None).await;
    assert_eq!((status, body["schema"].as_str()), (StatusCode::OK, Some(team.as_str())), "{body}");
    // The default context has no such id, before and after that read.
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}"), None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40403)), "{body}");
    // When the default context's own schema takes that id, it is served under it.
    let own = record(&[("own", "long")]);
    let (status, body) = app.call(Method::POST, "/subjects/y/versions", Some(json!({"schema": own}))).await;
    assert_eq!((status, body["id"].as_i64()), (StatusCode::OK, Some(id)), "{body}");
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}"), None).await;
    assert_eq!((status, body["schema"].as_str()), (StatusCode::OK, Some(own.as_str())), "{body}");
    // A permanent delete in `.team` forgets what the fallback read.
    for path in ["/subjects/:.team:x", "/subjects/:.team:x?permanent=true"] {
        let (status, body) = app.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app.call(Method::GET, &format!("/schemas/ids/{id}?subject=:.team:x"), None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40403)), "{body}");
}

async fn every_id_is_held_in_memory_once_warm_and_a_permanent_delete_forgets_only_its_own(app: TestApp) {
    // Enough schemas to train the packing dictionary.
    let mut ids = Vec::new();
    for i in 0..150 {
        let schema = record(&[("id", "string"), (&format!("field{i}"), "long")]);
        let (status, body) =
            app.call(Method::POST, &format!("/subjects/warm{i}/versions"), Some(json!({"schema": schema}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push((format!("warm{i}"), body["id"].as_i64().expect("id")));
    }
    // What a start does in the background (the one at this app's start found nothing).
    let registry = &app.state.0.registry;
    assert_eq!(registry.warm_schemas().await.expect("warm"), ids.len());
    for (_, id) in &ids {
        let held = registry.cached_schema_json(".", *id).expect("held in memory");
        let (status, _, fresh) = app.call_with(&format!("/schemas/ids/{id}"), &[]).await;
        assert_eq!((status, String::from_utf8_lossy(&held.body).into_owned()), (StatusCode::OK, fresh), "id {id}");
    }
    // A permanent delete removes its id from memory.
    let (subject, id) = ids[4].clone();
    for path in [format!("/subjects/{subject}"), format!("/subjects/{subject}?permanent=true")] {
        let (status, body) = app.call(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(registry.cached_schema_json(".", id).is_none());
    let (status, _, _) = app.call_with(&format!("/schemas/ids/{id}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // On PostgreSQL, a second replica warms at its start, and when it deletes
    // permanently the first forgets that id and only that one.
    if let Database::Postgres(_) = app.database {
        let replica = open(&app.database).await;
        let held = |registry: &stele_registry::service::Registry| {
            ids.iter().filter(|(_, i)| *i != id && registry.cached_schema_json(".", *i).is_some()).count()
        };
        for _ in 0..200 {
            if held(&replica.0.registry) == ids.len() - 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(held(&replica.0.registry), ids.len() - 1, "the replica holds every id after its start");
        let (subject, id) = ids[5].clone();
        let replica = TestApp { router: stele_registry::http::app(replica.clone()), state: replica, ..app.clone() };
        for path in [format!("/subjects/{subject}"), format!("/subjects/{subject}?permanent=true")] {
            let (status, body) = replica.call(Method::DELETE, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for _ in 0..100 {
            if registry.cached_schema_json(".", id).is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(registry.cached_schema_json(".", id).is_none(), "the first replica forgot the purged id");
        assert_eq!(held(registry), ids.len() - 2, "and kept every other");
    }
}

/// A warm-up over many pages, of a registry whose ids are sparse (IMPORT
/// mode): the dictionary is trained on schemas read at steps over the ids,
/// and every id is held, each answer what a read from storage gives.
async fn a_warm_up_in_pages_trains_on_ids_spread_wide_and_holds_every_schema(app: TestApp) {
    let (status, body) = app.call(Method::PUT, "/mode", Some(json!({"mode": "IMPORT"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<i64> = (0..150).map(|i| 1 + i * 997).collect();
    for (i, id) in ids.iter().enumerate() {
        let schema = record(&[("id", "string"), (&format!("field{i}"), "long")]);
        let request = json!({"schema": schema, "id": id, "version": 1});
        let (status, body) = app.call(Method::POST, &format!("/subjects/sparse{i}/versions"), Some(request)).await;
        assert_eq!((status, body["id"].as_i64()), (StatusCode::OK, Some(*id)), "{body}");
    }
    let registry = &app.state.0.registry;
    assert_eq!(registry.warm_schemas_in_pages(7).await.expect("warm"), ids.len());
    assert!(registry.packing_trained(), "150 schemas are enough samples");
    for id in &ids {
        let held = registry.cached_schema_json(".", *id).expect("held in memory");
        let (status, _, fresh) = app.call_with(&format!("/schemas/ids/{id}"), &[]).await;
        assert_eq!((status, String::from_utf8_lossy(&held.body).into_owned()), (StatusCode::OK, fresh), "id {id}");
    }
}

async fn a_subject_in_a_path_is_percent_decoded_once_ahead_of_the_router_and_behind_it(app: TestApp) {
    let schema = json!({"schema": record(&[("id", "string")])});
    // `%2541` is `%41` on the wire: the subject is `a%41`, not `aA`. The first
    // calls go through the router and keep their answer; the last is answered
    // ahead of it (no request id), which only a subject decoded as the router
    // decodes it can find.
    for (path, subject) in [("a%2541", "a%41"), ("x%2Fy", "x/y"), ("caf%C3%A9", "café")] {
        for (route, expected) in [
            (format!("/subjects/{path}/versions"), json!({"id": 1})),
            (format!("/subjects/{path}"), json!({"subject": subject, "version": 1, "id": 1})),
        ] {
            for call in 0..3 {
                let (status, headers, body) = app.send(Method::POST, &route, Some(&schema), &[]).await;
                let body: Value = serde_json::from_str(&body).expect("JSON");
                assert_eq!(status, StatusCode::OK, "{route}: {body}");
                for (key, value) in expected.as_object().expect("object") {
                    assert_eq!(&body[key], value, "{route}: {body}");
                }
                if call == 2 {
                    assert!(!headers.contains_key("x-request-id"), "{route}: answered ahead of the router");
                }
            }
        }
        let (status, body) = app.call(Method::GET, &format!("/subjects/{path}/versions"), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!([1])), "{path}");
    }
    let (_, subjects) = app.call(Method::GET, "/subjects", None).await;
    assert_eq!(subjects, json!(["a%41", "café", "x/y"]));
    // Not UTF-8 once decoded: refused, naming the path, in either URL form and
    // however often it is sent (nothing is kept for it).
    for path in
        ["/subjects/%FF/versions", "/subjects/%FF", "/contexts/.c/subjects/%FF/versions", "/contexts/%C3/subjects/a"]
    {
        for _ in 0..2 {
            let (status, body) = app.call(Method::POST, path, Some(schema.clone())).await;
            assert_eq!((status, body["error_code"].clone()), (StatusCode::BAD_REQUEST, json!(400)), "{path}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains("not UTF-8") && message.contains(path), "{path}: {body}");
        }
    }
    let (_, subjects) = app.call(Method::GET, "/subjects", None).await;
    assert_eq!(subjects, json!(["a%41", "café", "x/y"]));
}

async fn the_routes_answered_ahead_of_the_router_answer_as_it_would(app: TestApp) {
    let schema = json!({"schema": record(&[("id", "string")])});
    let (_, body) = app.call(Method::POST, "/subjects/ahead/versions", Some(schema.clone())).await;
    let id = body["id"].as_i64().expect("id");
    let by_id = format!("/schemas/ids/{id}");
    // Read twice: the second read is answered ahead of the middleware stack,
    // which is what adds a request id.
    let (_, first, first_body) = app.call_with(&by_id, &[]).await;
    let (status, second, second_body) = app.call_with(&by_id, &[]).await;
    assert_eq!((status, &second_body), (StatusCode::OK, &first_body));
    assert!(first.contains_key("x-request-id") && !second.contains_key("x-request-id"), "{second:?}");
    for name in ["content-type", "etag", "cache-control"] {
        assert_eq!(first.get(name), second.get(name), "{name}");
    }
    // A client's own request id takes the full stack, which echoes it.
    let (status, headers, body) = app.call_with(&by_id, &[("x-request-id", "mine-1")]).await;
    assert_eq!((status, &body), (StatusCode::OK, &first_body));
    assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("mine-1"));
    // Other methods on the hot paths get Confluent's 405, not the router's bare one.
    for (method, path) in
        [(Method::DELETE, by_id.as_str()), (Method::PUT, by_id.as_str()), (Method::PUT, "/subjects/ahead")]
    {
        let (status, body) = app.call(method.clone(), path, None).await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (StatusCode::METHOD_NOT_ALLOWED, json!(405)),
            "{method} {path}: {body}"
        );
    }
    // Reads of the POST routes' paths carry no `Allow` header left from a method router.
    let (status, headers, _) = app.call_with("/subjects/ahead/versions", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("allow"), "{headers:?}");
}

async fn a_schema_by_id_carries_an_etag_and_answers_304_when_the_client_has_it(app: TestApp) {
    let (_, body) =
        app.call(Method::POST, "/subjects/tagged/versions", Some(json!({"schema": record(&[("id", "string")])}))).await;
    let id = body["id"].as_i64().expect("id");
    let path = format!("/schemas/ids/{id}");
    // The first read fills the cache (full stack), the second is served from memory: both tag it.
    let (status, first, _) = app.call_with(&path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second, body) = app.call_with(&path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let etag = first.get("etag").expect("an ETag").to_str().expect("text").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong tag: {etag}");
    assert_eq!(second.get("etag").and_then(|v| v.to_str().ok()), Some(etag.as_str()), "the same bytes, the same tag");
    assert_eq!(first.get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=31536000, immutable"));
    assert!(body.contains("\"schema\""));
    // A client that has it gets 304, from memory and through the full stack (with a subject).
    for uri in [path.clone(), format!("{path}?subject=tagged")] {
        let (status, headers, body) = app.call_with(&uri, &[("If-None-Match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body.is_empty(), "{uri}: no body with 304");
        assert_eq!(headers.get("etag").and_then(|v| v.to_str().ok()), Some(etag.as_str()));
    }
    let (status, _, _) = app.call_with(&path, &[("If-None-Match", "\"something-else\", W/\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
    // maxId changes over time: that answer has no tag.
    let (status, headers, _) = app.call_with(&format!("{path}?fetchMaxId=true"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("etag").is_none() && headers.get("cache-control").is_none());
}

async fn deployment_gating_validates_every_name_and_keeps_service_versions_immutable(app: TestApp) {
    let publish =
        |fields: &[(&str, &str)]| json!({"consumes": [{"subject": "orders-value", "schema": record(fields)}]});
    // Environments: created with or without a body, names validated, deletes take their records along.
    let (status, body) = app.call(Method::PUT, "/stele/v1/environments/prod", None).await;
    assert_eq!((status, body["production"].clone()), (StatusCode::OK, json!(false)), "{body}");
    let (status, body) = app.call(Method::PUT, "/stele/v1/environments/prod", Some(json!({"production": true}))).await;
    assert_eq!((status, body["production"].clone()), (StatusCode::OK, json!(true)), "{body}");
    let (status, body) = app.call(Method::PUT, "/stele/v1/environments/-bad%20name", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(422)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("-bad name"), "{body}");
    let (status, body) = app.call(Method::PUT, "/stele/v1/environments/qa", Some(json!({"production": "yes"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A produced schema must be registered first; a consumed one must parse.
    let produces = json!({"produces": [{"subject": "orders-value", "schema": record(&[("id", "string")])}]});
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/orders/versions/1", Some(produces.clone())).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40403)), "{body}");
    app.call(Method::POST, "/subjects/orders-value/versions", Some(json!({"schema": record(&[("id", "string")])})))
        .await;
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/orders/versions/1", Some(produces)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((&body["schemas"][0]["id"], &body["schemas"][0]["version"]), (&json!(1), &json!(1)), "{body}");
    let bad = json!({"consumes": [{"subject": "orders-value", "schema": "{\"type\":\"record\"}"}]});
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(bad)).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{body}");
    let (status, body) =
        app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(json!({"consumes": "x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let twice = json!({"consumes": [
        {"subject": "orders-value", "schema": record(&[("id", "string")])},
        {"subject": "orders-value", "schema": record(&[("id", "string")])}
    ]});
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(twice)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Immutable: the same body again is fine (and adds a branch), another body is 40971.
    let (status, _) =
        app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(publish(&[("id", "string")]))).await;
    assert_eq!(status, StatusCode::OK);
    let mut merged = publish(&[("id", "string")]);
    merged["branch"] = json!("release");
    let (status, body) = app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(merged)).await;
    assert_eq!((status, body["branches"].clone()), (StatusCode::OK, json!(["main", "release"])), "{body}");
    let (status, body) =
        app.call(Method::PUT, "/stele/v1/services/billing/versions/1", Some(publish(&[("note", "string")]))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::CONFLICT, json!(40971)), "{body}");
    let (_, contract) = app.call(Method::GET, "/stele/v1/subjects/orders-value/consumers/billing", None).await;
    assert_eq!(contract["consumerVersion"], "1", "a main-branch version's contract is the consumer's: {contract}");

    // Deployments name what exists; undeploying a version that does not run is 40474.
    let deploy = |service: &str, version: &str| json!({"service": service, "version": version});
    let (status, body) =
        app.call(Method::POST, "/stele/v1/environments/nowhere/deployments", Some(deploy("billing", "1"))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40473)), "{body}");
    let (status, body) =
        app.call(Method::POST, "/stele/v1/environments/prod/deployments", Some(json!({"service": "billing"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        app.call(Method::POST, "/stele/v1/environments/prod/deployments", Some(deploy("billing", "1"))).await;
    assert_eq!((status, body["replacedVersion"].clone()), (StatusCode::OK, Value::Null), "{body}");
    let (status, body) =
        app.call(Method::DELETE, "/stele/v1/environments/prod/deployments/billing?version=2", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40474)), "{body}");
    let (_, view) = app.call(Method::GET, "/stele/v1/services/billing/versions/1", None).await;
    assert_eq!((&view["deployedIn"], &view["pending"]), (&json!(["prod"]), &json!(false)), "{view}");
    let (_, service) = app.call(Method::GET, "/stele/v1/services/billing", None).await;
    assert_eq!(service["deployments"][0]["environment"], "prod", "{service}");

    // can-i-deploy needs its three parameters and a known environment.
    let (status, body) = app.call(Method::GET, "/stele/v1/can-i-deploy?service=orders&version=1", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        app.call(Method::GET, "/stele/v1/can-i-deploy?service=orders&version=1&environment=qa", None).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40473)), "{body}");
    let (status, body) =
        app.call(Method::GET, "/stele/v1/can-i-deploy?service=orders&version=1&environment=prod", None).await;
    assert_eq!((status, body["deployable"].clone()), (StatusCode::OK, json!(true)), "{body}");
    assert_eq!(body["matrix"][0]["service"], "billing", "{body}");

    let (status, body) = app.call(Method::DELETE, "/stele/v1/environments/prod", None).await;
    assert_eq!((status, body["deployments"][0]["service"].clone()), (StatusCode::OK, json!("billing")), "{body}");
    let (_, view) = app.call(Method::GET, "/stele/v1/services/billing/versions/1", None).await;
    assert_eq!(view["deployedIn"], json!([]), "{view}");
}

async fn wire_proof_reports_a_failing_value_warns_or_refuses_as_configured(app: TestApp) {
    // int64 to int32: Confluent calls it compatible, the wire truncates.
    let proto = |ty: &str| json!({"schema": format!("syntax = \"proto3\";\npackage shop.v1;\nmessage Order {{\n  {ty} total = 1;\n}}\n"), "schemaType": "PROTOBUF"});
    let (status, _) = app.call(Method::POST, "/subjects/orders/versions", Some(proto("int64"))).await;
    assert_eq!(status, StatusCode::OK);
    let report = "/stele/v1/compatibility/subjects/orders/versions";
    let (_, body) = app.call(Method::POST, report, Some(proto("int32"))).await;
    assert_eq!((body["compatible"].clone(), body.get("warnings")), (json!(true), None), "OFF by default: {body}");

    let (status, body) = app.call(Method::PUT, "/config/orders", Some(json!({"wireProof": "warn"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, config) = app.call(Method::GET, "/config/orders", None).await;
    assert_eq!(config["wireProof"], json!("WARN"), "{config}");
    let (_, body) = app.call(Method::POST, report, Some(proto("int32"))).await;
    assert_eq!(body["compatible"], json!(true), "WARN keeps the verdict: {body}");
    let warning = &body["warnings"][0];
    assert_eq!(warning["rule"], json!("PROTOBUF_INTEGER_TRUNCATED"), "{body}");
    let message = warning["message"].as_str().unwrap_or_default();
    assert!(message.contains("Payload (shop.v1.Order): {"), "the failing value as JSON: {message}");
    assert!(message.contains("known difference from Confluent"), "{message}");

    let (status, _) = app.call(Method::PUT, "/config/orders", Some(json!({"wireProof": "ENFORCE"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(Method::POST, "/compatibility/subjects/orders/versions/latest?verbose=true", Some(proto("int32")))
        .await;
    assert_eq!((status, body["is_compatible"].clone()), (StatusCode::OK, json!(false)), "{body}");
    assert!(body["messages"].to_string().contains("PROTOBUF_INTEGER_TRUNCATED"), "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(proto("int32"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "ENFORCE refuses the registration: {body}");
    assert_eq!(body["error_code"], json!(409), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("Payload (shop.v1.Order)"), "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(proto("sint64"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "int64 to sint64 changes every value: {body}");
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(proto("uint64"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "negative numbers change sign: {body}");
    let same = json!({"schema": "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n  int64 total = 1;\n  string note = 2;\n}\n", "schemaType": "PROTOBUF"});
    let (status, body) = app.call(Method::POST, "/subjects/orders/versions", Some(same)).await;
    assert_eq!(status, StatusCode::OK, "a change that holds on the wire (a new field) registers: {body}");

    let (status, body) = app.call(Method::PUT, "/config/orders", Some(json!({"wireProof": "ALWAYS"}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(422)), "{body}");
}

async fn a_lookup_answered_from_memory_follows_deletes_and_new_versions(app: TestApp) {
    let v1 = json!({"schema": record(&[("id", "string")])});
    let v2 = json!({"schema": record(&[("id", "string"), ("note", "string")])});
    app.call(Method::POST, "/subjects/orders/versions", Some(v1.clone())).await;
    for _ in 0..2 {
        let (status, body) = app.call(Method::POST, "/subjects/orders", Some(v1.clone())).await;
        assert_eq!((status, body["version"].clone()), (StatusCode::OK, json!(1)), "{body}");
    }
    let (status, _) = app.call(Method::POST, "/subjects/orders/versions", Some(v2.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "BACKWARD refuses a field without a default");
    app.call(Method::PUT, "/config/orders", Some(json!({"compatibility": "NONE"}))).await;
    app.call(Method::POST, "/subjects/orders/versions", Some(v2.clone())).await;
    let (_, body) = app.call(Method::POST, "/subjects/orders", Some(v2.clone())).await;
    assert_eq!(body["version"], json!(2), "{body}");

    // A soft delete hides the version from a lookup, except with deleted=true.
    let (status, _) = app.call(Method::DELETE, "/subjects/orders/versions/1", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(Method::POST, "/subjects/orders", Some(v1.clone())).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(40403)), "{body}");
    let (status, body) = app.call(Method::POST, "/subjects/orders?deleted=true", Some(v1.clone())).await;
    assert_eq!((status, body["version"].clone()), (StatusCode::OK, json!(1)), "{body}");
    // Deleting the subject's other version leaves nothing to find.
    app.call(Method::DELETE, "/subjects/orders/versions/2", None).await;
    let (status, body) = app.call(Method::POST, "/subjects/orders", Some(v2.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn a_subject_config_overrides_confluents_fields_whole_and_inherits_steles_own(app: TestApp) {
    app.call(Method::PUT, "/config", Some(json!({"compatibility": "FULL", "wireProof": "WARN"}))).await;
    app.call(Method::PUT, "/config/orders", Some(json!({"normalize": true}))).await;
    // Confluent: the subject's config decides, and a level it lacks is the server's default.
    let (_, config) = app.call(Method::GET, "/config/orders?defaultToGlobal=true", None).await;
    assert_eq!(config["compatibilityLevel"], json!("BACKWARD"), "{config}");
    assert_eq!(config["normalize"], json!(true), "{config}");
    // Stele's own guards set above the subject still apply to it.
    assert_eq!(config["wireProof"], json!("WARN"), "{config}");
    let (_, global) = app.call(Method::GET, "/config", None).await;
    assert_eq!(global["compatibilityLevel"], json!("FULL"), "{global}");
}

on_both_backends!(
    the_routes_answered_ahead_of_the_router_answer_as_it_would,
    a_subject_in_a_path_is_percent_decoded_once_ahead_of_the_router_and_behind_it,
    an_import_overwrite_racing_a_new_reference_never_leaves_the_reference_meaning_the_new_schema,
    a_pinned_number_is_skipped_by_explicit_versions_and_tags_and_their_metadata_says_so,
    an_import_does_not_overwrite_a_version_a_published_service_reads,
    a_permanent_delete_under_a_soft_deleted_referrer_pins_the_version_number,
    an_import_overwrites_a_version_and_keeps_the_old_id_readable,
    the_schema_listing_honours_offset_limit_and_latest_only,
    the_subject_listing_pages_through_every_subject_with_offset_and_limit,
    registrations_committed_together_keep_their_own_outcomes,
    a_subject_config_overrides_confluents_fields_whole_and_inherits_steles_own,
    a_lookup_answered_from_memory_follows_deletes_and_new_versions,
    wire_proof_reports_a_failing_value_warns_or_refuses_as_configured,
    deployment_gating_validates_every_name_and_keeps_service_versions_immutable,
    a_schema_by_id_carries_an_etag_and_answers_304_when_the_client_has_it,
    import_mode_refuses_a_schema_that_does_not_parse_and_the_subject_keeps_working,
    a_version_a_consumer_contract_references_cannot_be_permanently_deleted,
    contract_writes_obey_read_only_mode_and_subject_aliases,
    a_permanently_deleted_id_is_not_served_from_memory,
    a_read_that_falls_back_to_another_context_is_not_kept_as_this_contexts_answer,
    every_id_is_held_in_memory_once_warm_and_a_permanent_delete_forgets_only_its_own,
    a_warm_up_in_pages_trains_on_ids_spread_wide_and_holds_every_schema,
    register_then_fetch_by_id_and_version_returns_the_canonical_text,
    register_returns_409_naming_the_field_when_a_field_without_default_is_added,
    an_invalid_schema_is_42201_and_a_malformed_body_is_400,
    unknown_routes_and_methods_answer_in_confluents_envelope,
    concurrent_registrations_of_one_schema_under_many_subjects_share_one_id,
    concurrent_registrations_of_different_schemas_under_one_subject_get_dense_distinct_versions,
    the_lenient_json_policy_accepts_an_optional_property_on_an_open_model,
    protobuf_rules_choose_between_confluents_verdict_and_bufs_categories,
);
