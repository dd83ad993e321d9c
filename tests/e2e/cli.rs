//! The `stele` CLI as CI runs it: against a real `stele serve`, and offline.

use std::path::PathBuf;
use std::process::Command;

use stele_tests::{Server, binary, workspace};

fn data() -> PathBuf {
    workspace().join("tests/e2e/data")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn stele(registry: Option<&Server>, args: &[&str]) -> Run {
    let mut command = Command::new(binary());
    command.args(args).current_dir(data()).env("NO_COLOR", "1").env_remove("STELE_REGISTRY_URL");
    if let Some(server) = registry {
        command.env("STELE_REGISTRY_URL", server.url());
    }
    let output = command.output().expect("stele runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn register_get_check_and_delete_against_a_running_registry() {
    let server = Server::start();
    let registered = stele(Some(&server), &["register", "orders-value", "old.avsc"]);
    assert_eq!(registered.code, 0, "{}", registered.stderr);
    let id = registered.stdout.trim().to_owned();
    assert!(id.parse::<i64>().is_ok(), "register prints the id, got {:?}", registered.stdout);

    let by_id = stele(Some(&server), &["get", "--id", &id]);
    assert_eq!(by_id.code, 0);
    assert!(by_id.stdout.contains("\"orderId\""), "{}", by_id.stdout);
    let by_subject = stele(Some(&server), &["get", "orders-value", "--version", "1"]);
    assert_eq!(by_subject.stdout, by_id.stdout);

    assert_eq!(stele(Some(&server), &["subjects"]).stdout, "orders-value\n");
    assert_eq!(stele(Some(&server), &["versions", "orders-value"]).stdout, "1\n");

    let broken = stele(Some(&server), &["check", "orders-value", "new.avsc"]);
    assert_eq!(broken.code, 1, "an incompatible schema exits 1: {}", broken.stdout);
    assert!(broken.stdout.contains("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/2"), "{}", broken.stdout);
    assert!(broken.stdout.contains("TYPE_MISMATCH at /fields/0/type"), "{}", broken.stdout);

    let fine = stele(Some(&server), &["check", "orders-value", "compatible.avsc"]);
    assert_eq!(fine.code, 0, "{}", fine.stdout);

    assert_eq!(stele(Some(&server), &["config", "orders-value", "--set", "NONE"]).stdout, "NONE\n");
    assert_eq!(stele(Some(&server), &["check", "orders-value", "new.avsc"]).code, 0, "NONE accepts anything");
    assert_eq!(stele(Some(&server), &["mode"]).stdout, "READWRITE\n");

    let deleted = stele(Some(&server), &["delete", "orders-value"]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(stele(Some(&server), &["subjects"]).stdout, "");
}

#[test]
fn registry_errors_exit_2_with_the_confluent_error_code() {
    let server = Server::start();
    let missing = stele(Some(&server), &["get", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("40401"), "{}", missing.stderr);
    let invalid = stele(Some(&server), &["register", "s", "old.avsc", "--type", "protobuf"]);
    assert_eq!(invalid.code, 2);
    assert!(invalid.stderr.contains("42201"), "{}", invalid.stderr);
}

#[test]
fn an_unreachable_registry_unreadable_file_or_bad_usage_exits_2() {
    let unreachable =
        Command::new(binary()).args(["subjects", "--registry", "http://127.0.0.1:9"]).output().expect("stele runs");
    assert_eq!(unreachable.status.code(), Some(2));
    assert_eq!(stele(None, &["diff", "missing.avsc", "new.avsc"]).code, 2);
    assert_eq!(stele(None, &["diff", "old.avsc"]).code, 2);
    assert_eq!(stele(None, &["explain", "NO_SUCH_RULE"]).code, 2);
}

#[test]
fn diff_is_offline_and_exits_by_verdict() {
    assert_eq!(stele(None, &["diff", "old.avsc", "compatible.avsc"]).code, 0);
    assert_eq!(stele(None, &["diff", "old.avsc", "new.avsc"]).code, 1);
    assert_eq!(stele(None, &["diff", "old.avsc", "new.avsc", "--level", "NONE"]).code, 0);
}

#[test]
fn diff_prove_shows_the_value_a_reader_fails_on() {
    let proven = stele(None, &["diff", "old.avsc", "compatible.avsc", "--prove"]);
    assert_eq!(proven.code, 0, "{}{}", proven.stdout, proven.stderr);
    assert!(proven.stderr.contains("proven: 64 generated values written with the old schema"), "{}", proven.stderr);
    // long to float: the rules accept the promotion (as Avro and Confluent do); the wire rounds.
    let rules = stele(None, &["diff", "compatible.avsc", "float-total.avsc"]);
    assert_eq!(rules.code, 0, "{}", rules.stdout);
    let json = stele(None, &["diff", "compatible.avsc", "float-total.avsc", "--prove", "--format", "json"]);
    assert_eq!(json.code, 1, "{}{}", json.stdout, json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON report");
    let finding = &report["checks"][0]["findings"][0];
    assert_eq!(finding["rule"], "AVRO_LOSSY_PROMOTION", "{report}");
    assert_eq!(finding["path"], "/totalCents", "{report}");
    let message = finding["message"].as_str().unwrap_or_default();
    assert!(message.contains("Payload: {\"orderId\""), "the writer's value as JSON: {message}");
    assert!(message.contains("known difference from Confluent"), "{message}");
    // The seed makes it reproducible; the budget bounds it.
    let again = stele(None, &["diff", "compatible.avsc", "float-total.avsc", "--prove", "--format", "json"]);
    assert_eq!(again.stdout, json.stdout);
    let none = stele(None, &["diff", "compatible.avsc", "float-total.avsc", "--prove", "--prove-budget", "0"]);
    assert_eq!(none.code, 0, "no values, no counter-example: {}", none.stdout);
}

#[test]
fn help_is_stable() {
    insta::assert_snapshot!("help", stele(None, &["--help"]).stdout);
    insta::assert_snapshot!("help_check", stele(None, &["check", "--help"]).stdout);
    insta::assert_snapshot!("help_diff", stele(None, &["diff", "--help"]).stdout);
}

#[test]
fn every_output_format_is_stable() {
    for format in ["text", "json", "junit", "github", "sarif"] {
        let run = stele(None, &["diff", "old.avsc", "new.avsc", "--format", format]);
        assert_eq!(run.code, 1);
        insta::assert_snapshot!(format!("diff_{format}"), run.stdout);
    }
}

#[test]
fn the_sarif_output_is_sarif_2_1_0() {
    let run = stele(None, &["diff", "old.avsc", "new.avsc", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for result in results {
        assert!(result["ruleId"].is_string() && result["message"]["text"].is_string());
        assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "new.avsc");
        assert!(result["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
    }
}

#[test]
fn explain_prints_the_rules_documentation() {
    let run = stele(None, &["explain", "reader_field_missing_default_value"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("What it checks") && run.stdout.contains("The compatible alternative"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut child = Command::new(binary())
        .args(["explain", "TYPE_MISMATCH"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("stele runs");
    drop(child.stdout.take());
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(0));
}
