//! Consumer contracts end to end: one producer and two consumers, each with
//! its own `stele.toml`, driven by `stele publish` and `stele verify` against a
//! real `stele serve`.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use stele_tests::{Server, binary, http};

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
}

pub(crate) fn stele(server: &Server, dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("STELE_REGISTRY_URL", server.url())
        .env("NO_COLOR", "1")
        .output()
        .expect("stele runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
    }
}

pub(crate) fn order(fields: &[(&str, &str)]) -> String {
    let fields: Vec<serde_json::Value> = fields.iter().map(|(name, ty)| json!({"name": name, "type": ty})).collect();
    serde_json::to_string_pretty(
        &json!({"type": "record", "name": "Order", "namespace": "com.example", "fields": fields}),
    )
    .expect("JSON")
}

pub(crate) fn service(root: &Path, name: &str, manifest: &str, files: &[(&str, String)]) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("stele.toml"), manifest).expect("manifest");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("file");
    }
    dir
}

#[test]
fn producers_are_checked_against_every_registered_consumer() {
    let server = Server::start();
    let root = tempfile::tempdir().expect("temp dir");
    let producer_manifest = r#"
service = "orders"

[[produces]]
subject = "orders-value"
schema = "order.avsc"
examples = ["order.json"]
"#;
    let producer = service(
        root.path(),
        "orders",
        producer_manifest,
        &[
            ("order.avsc", order(&[("id", "string"), ("amount", "long"), ("note", "string")])),
            ("order.json", json!({"id": "o-1", "amount": 5, "note": "x"}).to_string()),
        ],
    );
    let consumer = |name: &str, fields: &[(&str, &str)]| {
        service(
            root.path(),
            name,
            "service = \"NAME\"\n\n[[consumes]]\nsubject = \"orders-value\"\nschema = \"reader.avsc\"\n"
                .replace("NAME", name)
                .as_str(),
            &[("reader.avsc", order(fields))],
        )
    };
    let billing = consumer("billing", &[("id", "string"), ("amount", "long")]);
    let audit = consumer("audit", &[("id", "string")]);

    // The producer's first version, then both consumers declare what they read.
    assert_eq!(stele(&server, &producer, &["publish"]).code, 0);
    assert_eq!(stele(&server, &billing, &["publish", "--service-version", "1.4.0"]).code, 0);
    assert_eq!(stele(&server, &audit, &["publish"]).code, 0);
    let consumers = http::json(server.addr, "GET", "/stele/v1/subjects/orders-value/consumers", None).json();
    assert_eq!(consumers.as_array().map(Vec::len), Some(2), "{consumers}");
    assert_eq!(consumers[1]["consumer"], "billing");
    assert_eq!(consumers[1]["consumerVersion"], "1.4.0");
    assert_eq!(consumers[1]["compatible"], true);

    // Only real consumers' needs are enforced: level NONE, contracts ENFORCE.
    assert_eq!(
        stele(&server, &producer, &["config", "orders-value", "--set", "NONE", "--consumer-contracts", "ENFORCE"]).code,
        0
    );

    // Removing a field no consumer reads passes verify and registration.
    std::fs::write(producer.join("order.avsc"), order(&[("id", "string"), ("amount", "long")])).expect("write");
    std::fs::write(producer.join("order.json"), json!({"id": "o-1", "amount": 5}).to_string()).expect("write");
    let verified = stele(&server, &producer, &["verify"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert_eq!(stele(&server, &producer, &["publish"]).code, 0);

    // Removing a field billing reads fails verify, naming billing and the field, and registration is refused.
    std::fs::write(producer.join("order.avsc"), order(&[("id", "string")])).expect("write");
    std::fs::write(producer.join("order.json"), json!({"id": "o-1"}).to_string()).expect("write");
    let verified = stele(&server, &producer, &["verify"]);
    assert_eq!(verified.code, 1, "{}", verified.stdout);
    assert!(verified.stdout.contains("consumer billing cannot read this schema"), "{}", verified.stdout);
    assert!(verified.stdout.contains("'amount'"), "{}", verified.stdout);
    assert!(!verified.stdout.contains("consumer audit"), "audit reads nothing removed: {}", verified.stdout);
    let refused = http::json(
        server.addr,
        "POST",
        "/subjects/orders-value/versions",
        Some(&json!({"schema": order(&[("id", "string")])})),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("consumer 'billing'") && refused.body.contains("amount"), "{}", refused.body);

    // Under WARN the same registration is accepted and says who breaks.
    http::json(server.addr, "PUT", "/config/orders-value", Some(&json!({"consumerContracts": "WARN"})));
    let warned = http::json(
        server.addr,
        "POST",
        "/subjects/orders-value/versions",
        Some(&json!({"schema": order(&[("id", "string")])})),
    );
    assert_eq!(warned.status, 200, "{}", warned.body);
    assert!(warned.json()["warnings"][0].as_str().unwrap_or_default().contains("billing"), "{}", warned.body);
    http::json(server.addr, "DELETE", "/subjects/orders-value/versions/latest", None);
    http::json(server.addr, "PUT", "/config/orders-value", Some(&json!({"consumerContracts": "ENFORCE"})));

    // A consumer adding a reader field without a default that the producer does not write fails its verify.
    std::fs::write(billing.join("reader.avsc"), order(&[("id", "string"), ("amount", "long"), ("currency", "string")]))
        .expect("write");
    let verified = stele(&server, &billing, &["verify"]);
    assert_eq!(verified.code, 1, "{}", verified.stdout);
    assert!(verified.stdout.contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "{}", verified.stdout);
    assert!(verified.stdout.contains("currency"), "{}", verified.stdout);

    // A bad example payload fails with its path.
    std::fs::write(producer.join("order.avsc"), order(&[("id", "string"), ("amount", "long")])).expect("write");
    std::fs::write(producer.join("order.json"), json!({"id": "o-1", "amount": "five"}).to_string()).expect("write");
    let verified = stele(&server, &producer, &["verify", "--format", "json"]);
    assert_eq!(verified.code, 1, "{}", verified.stdout);
    let report: serde_json::Value = serde_json::from_str(verified.stdout.trim()).expect("JSON report");
    let finding = &report["checks"][0]["findings"][0];
    assert_eq!(finding["rule"], "INVALID_EXAMPLE", "{report}");
    assert_eq!(finding["path"], "order.json#/amount", "{report}");
}

#[test]
fn contracts_can_be_read_and_deleted_and_a_bad_manifest_exits_2() {
    let server = Server::start();
    let body = json!({"schema": order(&[("id", "string")]), "consumerVersion": "2"});
    let published = http::json(server.addr, "PUT", "/stele/v1/subjects/s/consumers/c", Some(&body));
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(http::json(server.addr, "GET", "/stele/v1/subjects/s/consumers/c", None).json()["consumerVersion"], "2");
    assert_eq!(http::json(server.addr, "DELETE", "/stele/v1/subjects/s/consumers/c", None).status, 200);
    let gone = http::json(server.addr, "GET", "/stele/v1/subjects/s/consumers/c", None);
    assert_eq!((gone.status, gone.json()["error_code"].clone()), (404, json!(40470)));
    let invalid = http::json(
        server.addr,
        "PUT",
        "/stele/v1/subjects/s/consumers/c",
        Some(&json!({"schema": "{\"type\":\"record\"}"})),
    );
    assert_eq!(invalid.json()["error_code"], 42201);

    let root = tempfile::tempdir().expect("temp dir");
    let dir = service(root.path(), "broken", "service = \"x\"\nproduces = 3\n", &[]);
    assert_eq!(stele(&server, &dir, &["verify"]).code, 2);
}
