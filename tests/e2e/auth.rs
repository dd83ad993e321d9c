//! Authentication end to end with a `--config` file: Confluent's Python client
//! with `basic.auth.user.info`, the `stele` CLI with `--token`, a wrong
//! password and an expired token refused, credentials never in the logs, and
//! a refusal to listen beyond loopback with no authentication.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use stele_registry::auth::authn::{hash_password, token_hash};
use stele_tests::{Server, binary, http, workspace};

pub(crate) const WRITER_PASSWORD: &str = "w-Pa55word!";
pub(crate) const READER_PASSWORD: &str = "r-Pa55word!";
pub(crate) const CI_TOKEN: &str = "stl_ci_token_4c0ffee";
pub(crate) const OLD_TOKEN: &str = "stl_old_token_dead";

/// A configuration with two users, two tokens (one expired) and their grants.
pub(crate) fn config(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
{extra}
[auth]
realm = "stele-test"

[[auth.users]]
name = "writer"
password_hash = "{writer}"

[[auth.users]]
name = "reader"
password_hash = "{reader}"

[[auth.tokens]]
name = "ci"
sha256 = "{ci}"

[[auth.tokens]]
name = "old"
sha256 = "{old}"
expires_at = "2001-01-01T00:00:00Z"

[[grants]]
principal = "user:writer"
role = "write"
subjects = ["orders-*"]

[[grants]]
principal = "user:reader"
role = "read"

[[grants]]
principal = "token:ci"
role = "admin"

[[grants]]
principal = "token:old"
role = "admin"
"#,
        writer = hash_password(WRITER_PASSWORD).expect("hash"),
        reader = hash_password(READER_PASSWORD).expect("hash"),
        ci = token_hash(CI_TOKEN),
        old = token_hash(OLD_TOKEN),
    );
    let path = dir.join("stele.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// A call with the global admin's token (the `ci` token of [`config`]).
pub(crate) fn as_admin(server: &Server, method: &str, path: &str, body: &serde_json::Value) -> http::Response {
    let bearer = format!("Bearer {CI_TOKEN}");
    let text = body.to_string();
    http::send(
        server.addr,
        method,
        path,
        &[("Authorization", &bearer), ("Content-Type", "application/json")],
        Some(text.as_bytes()),
    )
    .expect("request")
}

pub(crate) fn python() -> Option<PathBuf> {
    let python = std::env::var("STELE_PYTHON").map_or_else(|_| workspace().join(".venv/bin/python"), PathBuf::from);
    if python.exists() {
        return Some(python);
    }
    assert!(
        !stele_tests::postgres::required(),
        "the Python client is missing at {} (.ci/run installs it)",
        python.display()
    );
    eprintln!("skipped: the Python client is not installed at {}", python.display());
    None
}

pub(crate) fn run_python(url: &str, ca: Option<&Path>) {
    let Some(python) = python() else { return };
    let mut command = Command::new(python);
    command
        .arg(workspace().join("tests/clients/python_auth.py"))
        .arg(url)
        .arg(format!("writer:{WRITER_PASSWORD}"))
        .arg(format!("reader:{READER_PASSWORD}"));
    if let Some(ca) = ca {
        command.arg(ca);
    }
    let output = command.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
}

/// Runs the CLI; its exit code and everything it printed.
pub(crate) fn stele(args: &[&str]) -> (i32, String) {
    let output = Command::new(binary()).args(args).env("NO_COLOR", "1").output().expect("stele runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn confluent_clients_and_the_cli_authenticate_and_credentials_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), "");
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let config_arg = config.display().to_string();
    let server = Server::start_with(dir, &["--database", &database, "--config", &config_arg]);
    let url = server.url();

    run_python(&url, None);

    // The CLI with --token; an expired token and no credentials are refused.
    std::fs::write(
        server.dir.path().join("order.avsc"),
        r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#,
    )
    .expect("schema");
    let schema = server.dir.path().join("order.avsc").display().to_string();
    let (code, out) = stele(&["check", "orders-value", &schema, "--registry", &url, "--token", CI_TOKEN]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = stele(&["subjects", "--registry", &url, "--token", OLD_TOKEN]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("401"), "{out}");
    let (code, out) = stele(&["subjects", "--registry", &url]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("401"), "{out}");
    let (code, out) = stele(&["subjects", "--registry", &url, "--user", "writer", "--password", "nope"]);
    assert_eq!(code, 2, "{out}");

    // 401 carries WWW-Authenticate naming the realm; the audit log names who was refused.
    let refused = http::send(server.addr, "GET", "/subjects", &[], None).expect("request");
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").is_some_and(|h| h.contains("stele-test")), "{:?}", refused.headers);
    let bearer = format!("Bearer {CI_TOKEN}");
    let mut audit = json!([]);
    for _ in 0..50 {
        audit = http::send(server.addr, "GET", "/stele/v1/audit?limit=1000", &[("Authorization", &bearer)], None)
            .expect("request")
            .json();
        if audit.as_array().is_some_and(|a| a.iter().any(|r| r["result"] == "unauthenticated")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let records = audit.as_array().cloned().unwrap_or_default();
    assert!(records.iter().any(|r| r["principal"] == "user:writer" && r["result"] == "ok"), "{audit}");
    assert!(records.iter().any(|r| r["principal"] == "user:reader" && r["result"] == "denied"), "{audit}");
    assert!(records.iter().any(|r| r["result"] == "unauthenticated"), "{audit}");

    // No password, token or Authorization header in anything the server wrote.
    let logs = server.logs().join("\n");
    assert!(logs.contains("audit:"), "audit events are logged");
    for secret in [WRITER_PASSWORD, READER_PASSWORD, CI_TOKEN, OLD_TOKEN, "Basic ", "Bearer ", "nope"] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}:\n{logs}");
    }
    let audit_text = audit.to_string();
    for secret in [WRITER_PASSWORD, READER_PASSWORD, CI_TOKEN, OLD_TOKEN] {
        assert!(!audit_text.contains(secret), "the audit log contains {secret:?}");
    }
}

#[test]
fn without_authentication_it_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let output = Command::new(binary())
        .args(["serve", "--listen", "0.0.0.0:0", "--database", &database])
        .output()
        .expect("stele runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-anonymous") && stderr.contains("0.0.0.0"), "{stderr}");

    // A configuration error names its key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nmax_body_bytes = \"big\"\n").expect("write");
    let output = Command::new(binary()).args(["serve", "--config", &bad.display().to_string()]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_body_bytes"), "{stderr}");
    std::fs::write(&bad, "[auth]\nusers = [{ name = \"a\", password_hash = \"plain\" }]\n").expect("write");
    let output = Command::new(binary())
        .args(["serve", "--config", &bad.display().to_string(), "--database", &database])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("auth.users[0] (a)"), "{stderr}");
}
