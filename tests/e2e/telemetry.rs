//! Observability, end to end: the Prometheus scrape after a scripted workload
//! (exact counter values, and `promtool check metrics`), the OTLP span tree of
//! one registration received by a collector running in this test process, and
//! the operations files in `deploy/` (`promtool check rules`, and every metric
//! they use exists in a real scrape).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stele_tests::{Server, http, workspace};

/// `promtool`, from Debian's `prometheus` package (installed by `.ci/run`);
/// `None` outside CI when it is missing.
fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!stele_tests::postgres::required(), "promtool is required in CI (apt-get install prometheus)");
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
        return None;
    }
    Some("promtool")
}

fn record(fields: &[(&str, &str)]) -> String {
    let fields: Vec<Value> = fields.iter().map(|(name, ty)| json!({"name": name, "type": ty})).collect();
    json!({"type": "record", "name": "Order", "fields": fields}).to_string()
}

fn post(server: &Server, path: &str, body: &Value) -> http::Response {
    http::json(server.addr, "POST", path, Some(body))
}

fn scrape(server: &Server) -> String {
    let response = http::send(server.addr, "GET", "/metrics", &[], None).expect("scrape");
    assert_eq!(response.status, 200);
    assert!(response.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
    response.body
}

/// The value of one sample, by its exact name and labels as rendered.
pub fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {series} in the scrape:\n{scrape}"))
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn a_scripted_workload_shows_up_as_exact_counters_in_a_scrape_promtool_accepts() {
    let server = Server::start();
    let v1 = record(&[("id", "string")]);
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": v1})).status, 200);
    for _ in 0..2 {
        assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": v1})).status, 200);
    }
    let breaking = record(&[("id", "string"), ("total", "long")]);
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": breaking})).status, 409);
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": "{\"type\": \"recrod\"}"})).status, 422);
    let json_schema = json!({"type": "object", "properties": {"id": {"type": "string"}}}).to_string();
    let answer = post(&server, "/subjects/events/versions", &json!({"schema": json_schema, "schemaType": "JSON"}));
    assert_eq!(answer.status, 200);
    // A cache miss, then a hit.
    for _ in 0..2 {
        assert_eq!(http::json(server.addr, "GET", "/schemas/ids/1", None).status, 200);
    }
    assert_eq!(http::json(server.addr, "GET", "/subjects/nope/versions", None).status, 404);

    let text = scrape(&server);
    // Counts are whole numbers: compare them as such.
    let expect = |series: &str, value: u64| assert_eq!(sample(&text, series) as u64, value, "{series}");
    expect(r#"stele_registrations_total{outcome="new_version",schema_type="AVRO"}"#, 1);
    expect(r#"stele_registrations_total{outcome="existing",schema_type="AVRO"}"#, 2);
    expect(r#"stele_registrations_total{outcome="incompatible",schema_type="AVRO"}"#, 1);
    expect(r#"stele_registrations_total{outcome="invalid",schema_type="AVRO"}"#, 1);
    expect(r#"stele_registrations_total{outcome="new_version",schema_type="JSON"}"#, 1);
    expect(r#"stele_compatibility_findings_total{rule="READER_FIELD_MISSING_DEFAULT_VALUE",schema_type="AVRO"}"#, 1);
    expect(r#"stele_http_requests_total{method="POST",route="/subjects/{subject}/versions",status_class="2xx"}"#, 4);
    expect(r#"stele_http_requests_total{method="POST",route="/subjects/{subject}/versions",status_class="4xx"}"#, 2);
    expect(r#"stele_http_requests_total{method="GET",route="/schemas/ids/{id}",status_class="2xx"}"#, 2);
    expect(r#"stele_http_requests_total{method="GET",route="/subjects/{subject}/versions",status_class="4xx"}"#, 1);
    expect(r#"stele_http_request_duration_seconds_count{method="GET",route="/schemas/ids/{id}"}"#, 2);
    expect(r#"stele_cache_misses_total{cache="schema_json"}"#, 1);
    expect(r#"stele_cache_hits_total{cache="schema_json"}"#, 1);
    expect(r#"stele_cache_entries{cache="schema_json"}"#, 1);
    assert!(sample(&text, r#"stele_cache_bytes{cache="schema_json"}"#) > 0.0);
    expect("stele_subjects", 2);
    expect("stele_versions", 2);
    expect("stele_schemas", 2);
    assert!(sample(&text, r#"stele_db_connections{state="idle"}"#) >= 1.0);
    assert!(text.lines().any(|l| l.starts_with("stele_build_info{") && l.ends_with(" 1")), "{text}");
    assert!(!text.contains("orders"), "subject names never become labels");

    let Some(promtool) = promtool() else { return };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("scrape to promtool");
    let output = child.wait_with_output().expect("promtool ends");
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn metrics_can_move_to_their_own_listener() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("stele.db").display());
    let address = format!("127.0.0.1:{port}");
    let server = Server::start_with(dir, &["--database", &url, "--metrics-listen", &address]);
    server.wait_ready();
    assert_eq!(http::json(server.addr, "GET", "/metrics", None).status, 404);
    let response = http::send(address.parse().expect("address"), "GET", "/metrics", &[], None).expect("scrape");
    assert_eq!(response.status, 200);
    assert!(response.body.contains("stele_build_info"));
}

/// An OTLP/HTTP collector in this process: keeps every JSON export it receives.
fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                // One connection may carry several exports.
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(export) = serde_json::from_slice::<Value>(&body) {
                        kept.lock().expect("lock").push(export);
                    }
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, received)
}

#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    id: String,
    parent: String,
    name: String,
    attributes: Value,
}

fn spans(exports: &[Value]) -> Vec<Span> {
    let mut spans = Vec::new();
    for export in exports {
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_ascii_lowercase();
                    spans.push(Span {
                        trace_id: text("traceId"),
                        id: text("spanId"),
                        parent: text("parentSpanId"),
                        name: span["name"].as_str().unwrap_or_default().to_owned(),
                        attributes: span["attributes"].clone(),
                    });
                }
            }
        }
    }
    spans
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.as_array()?.iter().find(|a| a["key"] == key).map(|a| {
        let value = &a["value"];
        value["stringValue"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| value["boolValue"].as_bool().map(|b| b.to_string()))
            .or_else(|| value["intValue"].as_str().map(str::to_owned))
            .unwrap_or_else(|| value.to_string())
    })
}

#[test]
fn one_registration_exports_its_span_tree_over_otlp_under_the_callers_trace() {
    let (endpoint, received) = collector();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("stele.db").display());
    let server = Server::start_with_env(
        dir,
        &["--database", &url],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "stele-under-test"),
        ],
    );
    server.wait_ready();
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": record(&[("id", "string")])})).status, 200);
    // The second version is checked against the first: the checker's span appears.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let body = json!({"schema": json!({"type": "record", "name": "Order", "fields": [
        {"name": "id", "type": "string"}, {"name": "note", "type": "string", "default": ""}]}).to_string()});
    let answer = http::send(
        server.addr,
        "POST",
        "/subjects/orders/versions",
        &[("Content-Type", "application/vnd.schemaregistry.v1+json"), ("traceparent", &traceparent)],
        Some(body.to_string().as_bytes()),
    )
    .expect("registration");
    assert_eq!(answer.status, 200, "{}", answer.body);

    let deadline = Instant::now() + Duration::from_secs(15);
    let tree = loop {
        let all = spans(&received.lock().expect("lock"));
        let ours: Vec<Span> = all.into_iter().filter(|s| s.trace_id == trace_id).collect();
        if ours.iter().any(|s| s.name == "compat.check") && ours.iter().any(|s| s.name.starts_with("POST ")) {
            break ours;
        }
        assert!(Instant::now() < deadline, "the registration's spans never reached the collector");
        std::thread::sleep(Duration::from_millis(100));
    };
    let find = |name: &str| tree.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}: {tree:#?}"));
    let request = find("POST /subjects/{subject}/versions");
    assert_eq!(request.parent, caller_span, "the request span continues the caller's trace");
    assert_eq!(attribute(request, "http.route").as_deref(), Some("/subjects/{subject}/versions"));
    let service = find("registry.register");
    assert_eq!(service.parent, request.id, "HTTP -> service");
    assert_eq!(attribute(service, "subject").as_deref(), Some("orders"));
    assert_eq!(attribute(service, "schema.type").as_deref(), Some("AVRO"));
    assert_eq!(attribute(service, "outcome").as_deref(), Some("new_version"));
    // Store calls and the checker run under the service call.
    let under_service = |span: &Span| {
        let mut parent = span.parent.clone();
        while let Some(up) = tree.iter().find(|s| s.id == parent) {
            if up.id == service.id {
                return true;
            }
            parent = up.parent.clone();
        }
        false
    };
    let checker = find("compat.check");
    assert!(under_service(checker), "service -> checker");
    assert_eq!(attribute(checker, "compatible").as_deref(), Some("true"));
    let insert = find("store.version_insert");
    assert!(under_service(insert), "service -> store");
    let stores: BTreeSet<&str> =
        tree.iter().filter(|s| s.name.starts_with("store.")).map(|s| s.name.as_str()).collect();
    assert!(stores.len() >= 2, "several store calls: {stores:?}");
    // Every log line of the request carries the trace id and the request id.
    let logs = server.logs();
    let line = logs
        .iter()
        .find(|l| l.contains("registered schema") && l.contains("version 2"))
        .unwrap_or_else(|| panic!("no registration log line: {logs:#?}"));
    assert!(line.contains(trace_id), "the log line carries the trace id: {line}");
    assert!(line.contains("request.id="), "the log line carries the request id: {line}");
}

#[test]
fn the_deploy_files_are_valid_and_use_only_metrics_stele_exports() {
    let server = Server::start();
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": record(&[("id", "string")])})).status, 200);
    // A refusal, so that findings have a series (their labels are the rules that fired).
    let breaking = record(&[("id", "string"), ("total", "long")]);
    assert_eq!(post(&server, "/subjects/orders/versions", &json!({"schema": breaking})).status, 409);
    let text = scrape(&server);
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let known = |name: &str| {
        exported.contains(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| name.strip_suffix(suffix).is_some_and(|base| exported.contains(base)))
    };
    let names_in = |text: &str| -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(found) = text[i..].find("stele_") {
            let start = i + found;
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            names.insert(text[start..end].to_owned());
            i = end;
        }
        names
    };
    let deploy = workspace().join("deploy");
    let rules = std::fs::read_to_string(deploy.join("prometheus/alerts.yml")).expect("deploy/prometheus/alerts.yml");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(deploy.join("grafana/stele.json")).expect("deploy/grafana/stele.json"),
    )
    .expect("the dashboard is JSON");
    let mut expressions = String::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            expressions.push_str(target["expr"].as_str().expect("every target has an expr"));
            expressions.push('\n');
        }
    }
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() >= 8), "a dashboard worth opening");
    for (file, text) in [("alerts.yml", rules.as_str()), ("stele.json", expressions.as_str())] {
        let names = names_in(text);
        assert!(!names.is_empty(), "{file} uses Stele's metrics");
        let unknown: Vec<&String> = names.iter().filter(|n| !known(n)).collect();
        assert!(unknown.is_empty(), "{file} uses metrics Stele does not export: {unknown:?}");
    }
    let Some(promtool) = promtool() else { return };
    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(deploy.join("prometheus/alerts.yml"))
        .output()
        .expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Answers one request with `[]` and returns its head (request line and headers).
fn capture_one_request(listener: &TcpListener) -> String {
    let (stream, _) = listener.accept().expect("the CLI connects");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let mut writer = stream;
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]";
    writer.write_all(answer.as_bytes()).expect("answer");
    head
}

fn traceparent_of(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("traceparent")).map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("the CLI sent no traceparent:\n{head}"))
}

#[test]
fn the_cli_sends_a_traceparent_continuing_the_callers_trace() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let registry = format!("http://{}", listener.local_addr().expect("address"));
    for caller in [None, Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")] {
        let mut command = Command::new(stele_tests::binary());
        command.args(["subjects", "--registry", &registry]).stdout(Stdio::null()).stderr(Stdio::null());
        command.env_remove("TRACEPARENT");
        if let Some(caller) = caller {
            command.env("TRACEPARENT", caller);
        }
        let mut child = command.spawn().expect("stele runs");
        let head = capture_one_request(&listener);
        assert!(child.wait().expect("stele ends").success());
        let traceparent = traceparent_of(&head);
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!((parts[0], parts[3]), ("00", "01"), "{traceparent}");
        assert!(parts[1].len() == 32 && parts[2].len() == 16, "{traceparent}");
        assert!(parts[1].bytes().chain(parts[2].bytes()).all(|b| b.is_ascii_hexdigit()), "{traceparent}");
        if let Some(caller) = caller {
            assert_eq!(parts[1], caller.split('-').nth(1).expect("trace id"), "the run continues the caller's trace");
        }
    }
}
