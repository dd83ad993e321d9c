//! Confluent's own clients against `stele serve`: the Python client
//! (`confluent-kafka`, its `SchemaRegistryClient` and the Avro, Protobuf and
//! JSON Schema serdes) and the JavaScript client
//! (`@kafkajs/confluent-schema-registry`).
//!
//! `.ci/run` installs both (a virtualenv at `.venv`, `npm ci` in
//! `tests/clients`). Outside CI a missing client skips its test with a note;
//! with `CI=true` it fails.

use std::path::PathBuf;
use std::process::Command;

use stele_tests::{Server, workspace};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// `Some(path)` when the prerequisite exists; `None` (skip) outside CI; panics in CI.
fn prerequisite(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(!in_ci(), "{what} is missing at {} (.ci/run installs it)", path.display());
    eprintln!("skipped: {what} is not installed at {} (run .ci/run to install it)", path.display());
    None
}

fn run_client(mut command: Command, name: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{name} did not start: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "{name} failed:\n{stdout}\n{stderr}");
}

#[test]
fn the_python_client_and_its_serializers_work_unchanged() {
    let python = std::env::var("STELE_PYTHON").map_or_else(|_| workspace().join(".venv/bin/python"), PathBuf::from);
    let Some(python) = prerequisite(python, "the Python client (confluent-kafka)") else { return };
    let server = Server::start();
    let mut command = Command::new(python);
    command.arg(workspace().join("tests/clients/python_client.py")).arg(server.url());
    run_client(command, "the Python client scenario");
}

#[test]
fn the_javascript_client_works_unchanged() {
    let modules = workspace().join("tests/clients/node_modules/@kafkajs/confluent-schema-registry");
    if prerequisite(modules, "the JavaScript client (@kafkajs/confluent-schema-registry)").is_none() {
        return;
    }
    let server = Server::start();
    let mut command = Command::new("node");
    command.arg(workspace().join("tests/clients/js_client.js")).arg(server.url());
    run_client(command, "the JavaScript client scenario");
}
