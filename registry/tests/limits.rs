//! Limits: every one answered in Confluent's envelope, and a keep-alive
//! connection that survives thousands of malformed requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stele_registry::http::{Api, app, request};
use stele_registry::server;
use stele_registry::settings::{DatabaseUrl, Limits, Settings};
use tower::ServiceExt as _;

async fn router(limits: Limits) -> (Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database: DatabaseUrl::new(format!("sqlite://{}", dir.path().join("stele.db").display())),
        limits,
        ..Settings::default()
    };
    let store = server::open_store(&settings).await.expect("store");
    (app(server::state(store, &settings).expect("state")), dir)
}

async fn call(router: &Api, method: Method, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let text = body.map(ToString::to_string);
    let response = router.clone().oneshot(request(method, uri, text.as_deref())).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_size_and_reference_graphs_are_bounded() {
    let limits = Limits { max_schema_bytes: 2_000, max_references: 100, max_reference_depth: 6, ..Limits::default() };
    let (router, _dir) = router(limits).await;
    let fields: Vec<Value> = (0..100).map(|i| json!({"name": format!("field_{i}"), "type": "string"})).collect();
    let big = json!({"type": "record", "name": "Big", "fields": fields}).to_string();
    let (status, body) = call(&router, Method::POST, "/subjects/big/versions", Some(&json!({"schema": big}))).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("limits.max_schema_bytes"), "{body}");

    // A diamond at every level: A_i and B_i both import A_(i-1) and B_(i-1).
    let proto = |level: usize, name: &str| {
        if level == 0 {
            format!("syntax = \"proto3\";\nmessage {name}0 {{ string x = 1; }}\n")
        } else {
            let p = level - 1;
            format!(
                "syntax = \"proto3\";\nimport \"A{p}.proto\";\nimport \"B{p}.proto\";\nmessage {name}{level} {{ A{p} a = 1; B{p} b = 2; }}\n"
            )
        }
    };
    let mut refused = None;
    for level in 0..12 {
        for name in ["A", "B"] {
            let mut body = json!({"schema": proto(level, name), "schemaType": "PROTOBUF"});
            if level > 0 {
                let p = level - 1;
                body["references"] = json!([
                    {"name": format!("A{p}.proto"), "subject": format!("A{p}"), "version": 1},
                    {"name": format!("B{p}.proto"), "subject": format!("B{p}"), "version": 1}
                ]);
            }
            let (status, answer) =
                call(&router, Method::POST, &format!("/subjects/{name}{level}/versions"), Some(&body)).await;
            if status != StatusCode::OK {
                refused = Some((level, status, answer));
                break;
            }
        }
        if refused.is_some() {
            break;
        }
    }
    let (level, status, answer) = refused.expect("the graph grows past a limit");
    assert_eq!((status, answer["error_code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(42201)), "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("limits.max_references") || message.contains("limits.max_reference_depth"), "{message}");
    assert!(level >= 4, "smaller graphs register: refused at level {level}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_timeout_is_answered_50002() {
    let (router, _dir) = router(Limits { request_timeout: Duration::from_nanos(1), ..Limits::default() }).await;
    let schema = json!({"schema": json!({"type": "record", "name": "R", "fields": []}).to_string()});
    let (status, body) = call(&router, Method::POST, "/subjects/s/versions", Some(&schema)).await;
    assert_eq!((status, body["error_code"].clone()), (StatusCode::INTERNAL_SERVER_ERROR, json!(50002)), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("limits.request_timeout_secs"), "{body}");
}

/// Reads one response from a keep-alive connection: status, headers, body.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, String) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_never_break_a_keep_alive_connection() {
    let (router, _dir) = router(Limits { max_body_bytes: 4096, ..Limits::default() }).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut writer = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        let body = "{\"schema\": \"not a schema";
        let bad: [(&str, String, u16); 5] = [
            ("PATCH /subjects HTTP/1.1", format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()), 405),
            ("POST /subjects/s/versions HTTP/1.1", format!("Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len()), 415),
            ("POST /subjects/s/versions HTTP/1.1", format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()), 400),
            ("POST /nowhere HTTP/1.1", format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()), 404),
            ("POST /subjects/s/versions HTTP/1.1", format!("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len()), 400),
        ];
        for round in 0..2_000 {
            let (line, rest, expected) = &bad[round % bad.len()];
            writer.write_all(format!("{line}\r\nHost: x\r\n{rest}").as_bytes()).expect("write");
            let (status, headers, answer) = read_response(&mut reader);
            assert_eq!(status, *expected, "round {round}: {line}: {answer}");
            assert!(answer.starts_with("{\"error_code\":"), "round {round}: Confluent's envelope: {answer}");
            assert!(!headers.iter().any(|(k, v)| k == "connection" && v == "close"), "round {round} closed the connection");
        }
        write!(writer, "GET /subjects HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
        let (status, _, answer) = read_response(&mut reader);
        assert_eq!((status, answer.as_str()), (200, "[]"), "the connection still serves");

        // Over the limit: 413 in the envelope, and the server says it closes the connection.
        let huge = "x".repeat(10_000);
        write!(writer, "POST /subjects/s/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{huge}", huge.len()).expect("write");
        let (status, headers, answer) = read_response(&mut reader);
        assert_eq!(status, 413, "{answer}");
        assert!(answer.contains("\"error_code\":413") && answer.contains("limits.max_body_bytes"), "{answer}");
        assert!(headers.iter().any(|(k, v)| k == "connection" && v == "close"), "{headers:?}");
    })
    .await
    .expect("client");
}
