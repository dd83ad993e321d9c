//! Replays every scenario recorded against Confluent Schema Registry 7.9.0
//! (`tests/conformance`, a copy of `shared/conformance` checked by hash)
//! against a fresh `stele serve` each, and compares.
//!
//! A request matches when its HTTP status and `error_code` equal Confluent's
//! and, for a success, its whole body does (ids compared as symbols, as the
//! corpus README describes). Confluent's own 500s match any answer below 500;
//! `/v1/metadata/*` compare keys only. The test prints the tally and every
//! mismatch, and fails when fewer requests match than `MATCHED_AT_LEAST`.
//! `tests/conformance/tolerated.json` lists the differences Stele chooses,
//! each with its reason; they are reported apart.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use stele_tests::{Server, http, workspace};

fn corpus_dir() -> PathBuf {
    std::env::var("STELE_CONFORMANCE_DIR").map_or_else(|_| workspace().join("tests/conformance"), PathBuf::from)
}

/// The SHA-256 of each corpus file, as recorded in `tests/conformance/README.md`.
const CORPUS_DIGESTS: [(&str, &str); 3] = [
    ("scenarios.json", "70441b1ebfb7047697656d176b1e1c3486c46ac276b577138d8fff98ea446704"),
    ("golden.json", "bbd01af5be4a71064a02deb17a149aa27ee0f8d94ad38b7e0ce72a017607dd1d"),
    ("allowed.json", "b4a515db42eb472e31a50a661fc2003507952bf3525607ed4fb69894f836665c"),
];

fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    sha2::Sha256::digest(&bytes).iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

#[test]
fn the_corpus_copy_is_byte_for_byte_the_recorded_one() {
    let copy = workspace().join("tests/conformance");
    let shared = workspace().join("../shared/conformance");
    let in_ci = stele_tests::postgres::required();
    assert!(shared.is_dir() || !in_ci, "CI checks the copy against {}, which is missing", shared.display());
    for (name, digest) in CORPUS_DIGESTS {
        assert_eq!(sha256_hex(&copy.join(name)), digest, "tests/conformance/{name} changed");
        if shared.is_dir() {
            assert_eq!(sha256_hex(&shared.join(name)), digest, "the shared {name} differs from the copy");
        }
    }
}

/// Requests that matched when this was last raised: a change that answers
/// fewer of them as Confluent does fails the replay.
const MATCHED_AT_LEAST: usize = 1_547;

/// Stele's own decisions to answer differently from Confluent, by step
/// (`scenario#index`), each with its reason.
fn tolerated() -> HashMap<String, String> {
    let path = workspace().join("tests/conformance/tolerated.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let entries: Vec<Value> = serde_json::from_str(&text).expect("tolerated.json is JSON");
    entries
        .iter()
        .map(|entry| {
            let step = entry["step"].as_str().expect("a step").to_owned();
            let reason = entry["reason"].as_str().filter(|r| !r.is_empty()).expect("a reason").to_owned();
            (step, reason)
        })
        .collect()
}

fn load(name: &str) -> Value {
    let path = corpus_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("corpus JSON")
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A subject's context, by the corpus README's rule.
fn subject_context(subject: &str) -> String {
    match subject.strip_prefix(":.") {
        Some(rest) => format!(".{}", rest.split(':').next().unwrap_or_default()),
        None => ".".to_owned(),
    }
}

fn step_context(path: &str) -> String {
    let (path_part, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some(rest) = path_part.strip_prefix("/contexts/") {
        let context = decode(rest.split('/').next().unwrap_or_default());
        return if context.starts_with('.') { context } else { format!(".{context}") };
    }
    let segments: Vec<&str> = path_part.split('/').collect();
    if let Some(index) = segments.iter().position(|s| *s == "subjects")
        && let Some(subject) = segments.get(index + 1)
    {
        return subject_context(&decode(subject));
    }
    for pair in query.split('&') {
        if let Some(subject) = pair.strip_prefix("subject=") {
            return subject_context(&decode(subject));
        }
    }
    ".".to_owned()
}

/// The per-scenario table from (context, id) to symbol number.
#[derive(Default)]
struct Symbols {
    table: Vec<(String, i64)>,
}

impl Symbols {
    fn symbol(&mut self, context: &str, id: i64) -> String {
        let key = (context.to_owned(), id);
        let index = if let Some(index) = self.table.iter().position(|k| *k == key) {
            index
        } else {
            self.table.push(key);
            self.table.len() - 1
        };
        format!("$id{}", index + 1)
    }

    fn id_of(&self, symbol: usize) -> Option<i64> {
        self.table.get(symbol.checked_sub(1)?).map(|(_, id)| *id)
    }

    fn fill_path(&self, path: &str) -> String {
        let mut out = String::new();
        let mut rest = path;
        while let Some(start) = rest.find("{$id") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 4..];
            let end = after.find('}').unwrap_or(0);
            match after[..end].parse::<usize>().ok().and_then(|n| self.id_of(n)) {
                Some(id) => out.push_str(&id.to_string()),
                None => out.push_str(&rest[start..start + 5 + end]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn fill_body(&self, value: &Value) -> Value {
        match value {
            Value::String(s) if s.starts_with("{$id") && s.ends_with('}') => s[4..s.len() - 1]
                .parse::<usize>()
                .ok()
                .and_then(|n| self.id_of(n))
                .map_or_else(|| value.clone(), Value::from),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_body(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill_body(v))).collect()),
            other => other.clone(),
        }
    }

    fn symbolize(&mut self, value: &mut Value, context: &str, key: Option<&str>) {
        match value {
            Value::Object(map) => {
                let context = match map.get("subject") {
                    Some(Value::String(subject)) => subject_context(subject),
                    _ => context.to_owned(),
                };
                for (k, v) in map.iter_mut() {
                    self.symbolize(v, &context, Some(k));
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.symbolize(item, context, key);
                }
            }
            Value::Number(n) if matches!(key, Some("id" | "maxId")) => {
                if let Some(id) = n.as_i64() {
                    *value = Value::String(self.symbol(context, id));
                }
            }
            Value::String(text) if key == Some("message") => {
                *text = self.symbolize_message(text, context);
            }
            _ => {}
        }
    }

    fn symbolize_message(&mut self, text: &str, context: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        loop {
            let next = ["Schema ", "with id ", "input id "]
                .iter()
                .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
                .min_by_key(|(i, _)| *i);
            let Some((index, length)) = next else {
                out.push_str(rest);
                return out;
            };
            out.push_str(&rest[..index + length]);
            rest = &rest[index + length..];
            let digits: String = rest
                .chars()
                .enumerate()
                .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
                .map(|(_, c)| c)
                .collect();
            match digits.parse::<i64>() {
                Ok(id) if !digits.is_empty() && digits != "-" => {
                    out.push_str(&self.symbol(context, id));
                    rest = &rest[digits.len()..];
                }
                _ => {}
            }
        }
    }
}

fn keep(body: Value, filters: &[String]) -> Value {
    let Value::Array(items) = body else {
        return body;
    };
    let text = |item: &Value| match item {
        Value::String(s) => s.clone(),
        Value::Object(m) => m.get("subject").and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    Value::Array(
        items
            .into_iter()
            .filter(|item| {
                let t = text(item);
                filters
                    .iter()
                    .any(|f| f.strip_prefix('=').map_or_else(|| t.starts_with(f.as_str()), |exact| t == exact))
            })
            .collect(),
    )
}

struct StepResult {
    matched: bool,
    exact: bool,
    line: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn run_scenario(scenario: &Value, golden: &[Value], backend: Backend) -> Vec<StepResult> {
    let server = match backend {
        Backend::Sqlite => Server::start(),
        Backend::Postgres => Server::start_on(&stele_tests::postgres::fresh_database().expect("PostgreSQL")),
    };
    let name = scenario["name"].as_str().unwrap_or_default();
    let mut symbols = Symbols::default();
    let mut results = Vec::new();
    for (index, (step, expected)) in scenario["steps"].as_array().into_iter().flatten().zip(golden).enumerate() {
        let method = step["m"].as_str().unwrap_or("GET");
        let path = symbols.fill_path(step["p"].as_str().unwrap_or("/"));
        let body: Option<Vec<u8>> = match (step.get("b"), step.get("raw")) {
            (Some(b), _) => Some(symbols.fill_body(b).to_string().into_bytes()),
            (None, Some(Value::String(raw))) => Some(raw.clone().into_bytes()),
            _ => None,
        };
        let content_type = match step.get("ct").and_then(Value::as_str) {
            Some("") => "application/x-www-form-urlencoded",
            Some(ct) => ct,
            None => "application/vnd.schemaregistry.v1+json",
        };
        let headers: Vec<(&str, &str)> = if body.is_some() { vec![("Content-Type", content_type)] } else { Vec::new() };
        let response = http::send(server.addr, method, &path, &headers, body.as_deref()).unwrap_or_else(|error| {
            http::Response { status: 0, headers: Vec::new(), body: format!("no answer: {error}") }
        });
        let mut actual = if response.body.trim().is_empty() {
            serde_json::json!({ "text": response.body })
        } else {
            serde_json::from_str(&response.body).unwrap_or_else(|_| serde_json::json!({ "text": response.body }))
        };
        if let Some(filters) = step.get("keep").and_then(Value::as_array) {
            let filters: Vec<String> = filters.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect();
            actual = keep(actual, &filters);
        }
        let context = step_context(step["p"].as_str().unwrap_or("/"));
        symbols.symbolize(&mut actual, &context, None);
        if step.get("ids") == Some(&Value::Bool(true))
            && let Value::Array(items) = &mut actual
        {
            for item in items {
                if let Some(id) = item.as_i64() {
                    *item = Value::String(symbols.symbol(&context, id));
                }
            }
        }
        let expected_status = expected["status"].as_u64().unwrap_or_default() as u16;
        let expected_body = &expected["body"];
        let code = |v: &Value| v.get("error_code").cloned();
        let matched = if expected_status >= 500 {
            response.status < 500
        } else if step.get("cmp").and_then(Value::as_str) == Some("keys") {
            let keys = |v: &Value| {
                v.as_object().map(|m| {
                    let mut k: Vec<String> = m.keys().cloned().collect();
                    k.sort();
                    k
                })
            };
            response.status == expected_status && keys(&actual) == keys(expected_body)
        } else if expected_status == 200 {
            response.status == 200 && &actual == expected_body
        } else {
            response.status == expected_status && code(&actual) == code(expected_body)
        };
        let exact = response.status == expected_status && &actual == expected_body;
        let line = format!(
            "{name}#{index} {method} {path}\n    expected {expected_status} {}\n    actual   {} {}",
            truncate(&expected_body.to_string()),
            response.status,
            truncate(&actual.to_string())
        );
        results.push(StepResult { matched, exact, line });
    }
    results
}

fn truncate(text: &str) -> String {
    if text.len() > 400 {
        format!("{}...", &text[..text.char_indices().nth(400).map_or(text.len(), |(i, _)| i)])
    } else {
        text.to_owned()
    }
}

#[test]
fn conformance_replay_on_sqlite_matches_confluent() {
    replay(Backend::Sqlite);
}

#[test]
fn conformance_replay_on_postgresql_matches_confluent() {
    if stele_tests::postgres::fresh_database().is_none() {
        return;
    }
    replay(Backend::Postgres);
}

fn replay(backend: Backend) {
    let scenarios = load("scenarios.json");
    let golden = load("golden.json");
    let scenarios: Vec<Value> = scenarios.as_array().cloned().unwrap_or_default();
    assert!(!scenarios.is_empty(), "the corpus has no scenarios");
    let only = std::env::var("STELE_CONFORMANCE_ONLY").ok();
    let queue = Mutex::new(
        scenarios.into_iter().filter(|s| only.as_deref().is_none_or(|o| s["name"] == o)).collect::<Vec<_>>(),
    );
    let results: Mutex<HashMap<String, Vec<StepResult>>> = Mutex::new(HashMap::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let Some(scenario) = queue.lock().expect("queue").pop() else {
                        break;
                    };
                    let name = scenario["name"].as_str().unwrap_or_default().to_owned();
                    let expected: Vec<Value> = golden[&name].as_array().cloned().unwrap_or_default();
                    let outcome = run_scenario(&scenario, &expected, backend);
                    results.lock().expect("results").insert(name, outcome);
                }
            });
        }
    });
    let results = results.into_inner().expect("results");
    let mut names: Vec<&String> = results.keys().collect();
    names.sort();
    let tolerated = tolerated();
    let (mut total, mut matched, mut exact, mut excused) = (0, 0, 0, 0);
    let mut report = String::new();
    for name in names {
        let steps = &results[name];
        let ok = steps.iter().filter(|s| s.matched).count();
        total += steps.len();
        matched += ok;
        exact += steps.iter().filter(|s| s.exact).count();
        if ok < steps.len() {
            report.push_str(&format!("scenario {name}: {ok}/{} match\n", steps.len()));
            for (index, step) in steps.iter().enumerate().filter(|(_, s)| !s.matched) {
                match tolerated.get(&format!("{name}#{index}")) {
                    Some(reason) => {
                        excused += 1;
                        report.push_str(&format!("  tolerated: {}\n    because {reason}\n", step.line));
                    }
                    None => report.push_str(&format!("  {}\n", step.line)),
                }
            }
        }
    }
    let label = if backend == Backend::Sqlite { "sqlite" } else { "postgresql" };
    if std::env::var_os("STELE_CONFORMANCE_REPORT").is_some() {
        let _ = std::fs::write(workspace().join(format!("target/conformance-report-{label}.txt")), &report);
    }
    println!("{report}");
    println!(
        "conformance: {matched}/{total} requests match ({label}; {exact} identical to Confluent, messages included; \
         {excused} more differ as tests/conformance/tolerated.json explains)"
    );
    assert!(
        only.is_some() || matched >= MATCHED_AT_LEAST,
        "conformance: {matched}/{total} requests match, fewer than the {MATCHED_AT_LEAST} matched before"
    );
}
