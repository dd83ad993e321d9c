//! `stele migrate`, `stele export` and `stele import`: a source registry with
//! references, soft-deleted versions, contexts, configs and modes, copied into
//! empty ones, then every GET compared; an interrupted migration resumed.

use std::process::Command;

use serde_json::{Value, json};
use stele_tests::{Server, binary, http};

fn call(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Value {
    let response = http::json(server.addr, method, path, body);
    assert!(response.status < 300, "{method} {path}: {} {}", response.status, response.json());
    response.json()
}

fn record(name: &str, fields: &[(&str, &str)]) -> String {
    let fields: Vec<Value> = fields.iter().map(|(n, t)| json!({"name": n, "type": t})).collect();
    json!({"type": "record", "name": name, "namespace": "com.x", "fields": fields}).to_string()
}

/// A source registry with something of everything the copy must keep.
fn fill(source: &Server) {
    call(source, "PUT", "/config", Some(&json!({"compatibility": "FULL"})));
    call(source, "PUT", "/config/orders", Some(&json!({"compatibility": "NONE"})));
    for fields in [&[("id", "string")][..], &[("id", "long")][..], &[("id", "string"), ("note", "string")][..]] {
        call(source, "POST", "/subjects/orders/versions", Some(&json!({"schema": record("Order", fields)})));
    }
    call(source, "DELETE", "/subjects/orders/versions/2", None);
    call(source, "POST", "/subjects/dep/versions", Some(&json!({"schema": record("Dep", &[("v", "int")])})));
    let holder = json!({"type": "record", "name": "Holder", "namespace": "com.x", "fields": [{"name": "d", "type": "com.x.Dep"}]});
    call(
        source,
        "POST",
        "/subjects/holder/versions",
        Some(&json!(
            {"schema": holder.to_string(), "references": [{"name": "com.x.Dep", "subject": "dep", "version": 1}]})),
    );
    call(
        source,
        "POST",
        "/subjects/:.eu:payments/versions",
        Some(&json!({"schema": record("Payment", &[("p", "int")])})),
    );
    call(source, "PUT", "/config/:.eu:", Some(&json!({"compatibility": "FORWARD"})));
    call(
        source,
        "POST",
        "/subjects/proto/versions",
        Some(&json!(
            {"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";\npackage p;\nmessage M {\n  string a = 1;\n}\n"})),
    );
    call(source, "PUT", "/mode/holder", Some(&json!({"mode": "READONLY"})));
}

/// Every GET a client makes of what `fill` wrote.
fn snapshot(server: &Server) -> Vec<(String, Value)> {
    let mut paths: Vec<String> = vec![
        "/config".into(),
        "/mode".into(),
        "/config/orders".into(),
        "/config/:.eu:".into(),
        "/mode/holder".into(),
        "/subjects?deleted=true&subjectPrefix=:*:".into(),
        "/subjects/dep/versions/1/referencedby".into(),
    ];
    let subjects: Vec<String> =
        serde_json::from_value(call(server, "GET", "/subjects?deleted=true&subjectPrefix=:*:", None))
            .unwrap_or_default();
    for subject in subjects {
        let versions: Vec<i64> =
            serde_json::from_value(call(server, "GET", &format!("/subjects/{subject}/versions?deleted=true"), None))
                .unwrap_or_default();
        paths.push(format!("/subjects/{subject}/versions?deleted=true"));
        for version in versions {
            let view = call(server, "GET", &format!("/subjects/{subject}/versions/{version}?deleted=true"), None);
            let context = subject.strip_prefix(':').and_then(|s| s.split(':').next()).map(|c| format!(":{c}:"));
            let id = view["id"].as_i64().unwrap_or_default();
            paths.push(format!("/subjects/{subject}/versions/{version}?deleted=true"));
            paths.push(match context {
                Some(context) => format!("/schemas/ids/{id}?subject={context}"),
                None => format!("/schemas/ids/{id}"),
            });
        }
    }
    paths.into_iter().map(|path| (path.clone(), call(server, "GET", &path, None))).collect()
}

fn stele(args: &[&str]) -> std::process::Output {
    Command::new(binary()).args(args).env_remove("STELE_REGISTRY_URL").output().expect("stele runs")
}

#[test]
fn a_migration_copies_everything_with_ids_kept_and_resumes_after_an_interruption() {
    let source = Server::start();
    fill(&source);
    let expected = snapshot(&source);
    assert!(expected.len() > 15, "{expected:?}");

    let target = Server::start();
    // Stopped after two versions, as a lost connection would stop it.
    let interrupted = stele(&["migrate", "--from", &source.url(), "--registry", &target.url(), "--stop-after", "2"]);
    assert_eq!(interrupted.status.code(), Some(2), "{}", String::from_utf8_lossy(&interrupted.stderr));
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert!(stderr.contains("run again to resume"), "{stderr}");
    let resumed = stele(&["migrate", "--from", &source.url(), "--registry", &target.url()]);
    let out = String::from_utf8_lossy(&resumed.stdout);
    assert_eq!(resumed.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&resumed.stderr));
    assert!(out.contains("(2 already there)") && out.contains("verified"), "{out}");
    assert_eq!(snapshot(&target), expected, "every GET answers as the source's");

    // The same through one file: export, then import into a third registry.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("backup.json");
    let file = file.to_str().expect("UTF-8 path");
    let exported = stele(&["export", "--registry", &source.url(), "--output", file]);
    assert_eq!(exported.status.code(), Some(0), "{}", String::from_utf8_lossy(&exported.stderr));
    let restored = Server::start();
    let dry = stele(&["import", file, "--registry", &restored.url(), "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&dry.stderr).contains("would copy 7 versions of 5 subjects"), "{dry:?}");
    let imported = stele(&["import", file, "--registry", &restored.url()]);
    assert_eq!(imported.status.code(), Some(0), "{}", String::from_utf8_lossy(&imported.stderr));
    assert_eq!(snapshot(&restored), expected);
    // Importing again changes nothing.
    let again = stele(&["import", file, "--registry", &restored.url()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("copied 0 versions (7 already there)"), "{again:?}");
}
