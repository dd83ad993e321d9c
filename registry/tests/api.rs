//! The registry crate's integration tests: the router driven with `oneshot`
//! over a real `SQLite` file, one fresh database per test.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stele_compat::CompatibilityLevel;
use stele_registry::http::{ROUTES, app, request};
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, LogFormat, Settings};
use tower::ServiceExt as _;

struct TestApp {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseUrl::new(format!("sqlite://{}", dir.path().join("stele.db").display())),
        default_compatibility: CompatibilityLevel::Backward,
        log_format: LogFormat::Text,
    };
    let store = server::open_store(&settings).await.expect("store");
    TestApp { router: app(server::state(store, &settings)), _dir: dir }
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
    let in_router: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let missing_from_spec: Vec<_> = in_router.difference(&in_spec).collect();
    let missing_from_router: Vec<_> = in_spec.difference(&in_router).collect();
    assert!(missing_from_spec.is_empty(), "routes missing from openapi.yaml: {missing_from_spec:?}");
    assert!(missing_from_router.is_empty(), "openapi.yaml paths with no route: {missing_from_router:?}");
}

#[tokio::test]
async fn register_then_fetch_by_id_and_version_returns_the_canonical_text() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn register_returns_409_naming_the_field_when_a_field_without_default_is_added() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn an_invalid_schema_is_42201_and_a_malformed_body_is_400() {
    let app = spawn_app().await;
    let (status, body) =
        app.call(Method::POST, "/subjects/s/versions", Some(json!({"schema": "{\"type\":\"record\"}"}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)));
    let response =
        app.router.clone().oneshot(request(Method::POST, "/subjects/s/versions", Some("{"))).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_confluents_envelope() {
    let app = spawn_app().await;
    assert_eq!(
        app.call(Method::GET, "/nope", None).await,
        (StatusCode::NOT_FOUND, json!({"error_code": 404, "message": "HTTP 404 Not Found"}))
    );
    let (status, body) = app.call(Method::PUT, "/subjects", Some(json!({}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!(405)));
}

#[tokio::test]
async fn concurrent_registrations_of_one_schema_under_many_subjects_share_one_id() {
    let app = Arc::new(spawn_app().await);
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

#[tokio::test]
async fn concurrent_registrations_of_different_schemas_under_one_subject_get_dense_distinct_versions() {
    let app = Arc::new(spawn_app().await);
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

#[tokio::test]
async fn the_lenient_json_policy_accepts_an_optional_property_on_an_open_model() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn protobuf_rules_choose_between_confluents_verdict_and_bufs_categories() {
    let app = spawn_app().await;
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
