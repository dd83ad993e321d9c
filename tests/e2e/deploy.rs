//! Deployment gating end to end: three services (orders produces, billing and
//! audit consume) in two environments, driven by `stele publish
//! --service-version`, `stele record-deployment` and `stele can-i-deploy`
//! against a real `stele serve`, on SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stele_tests::{Server, http};

use crate::contracts::{order, service, stele};

const ORDERS: &str = "service = \"orders\"\n\n[[produces]]\nsubject = \"orders-value\"\nschema = \"order.avsc\"\n";

fn consumer_manifest(name: &str) -> String {
    format!("service = \"{name}\"\n\n[[consumes]]\nsubject = \"orders-value\"\nschema = \"reader.avsc\"\n")
}

/// Writes the service's schema file and publishes it as `version` (from `branch` when given).
fn publish(server: &Server, dir: &Path, file: &str, fields: &[(&str, &str)], version: &str, branch: Option<&str>) {
    std::fs::write(dir.join(file), order(fields)).expect("write");
    let mut args = vec!["publish", "--service-version", version];
    if let Some(branch) = branch {
        args.extend(["--branch", branch]);
    }
    let run = stele(server, dir, &args);
    assert_eq!(run.code, 0, "publish {version}: {}", run.stdout);
}

fn deploy(server: &Server, dir: &Path, service: &str, version: &str, environment: &str) {
    let run =
        stele(server, dir, &["record-deployment", "--service", service, "--version", version, "--env", environment]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

struct Fleet {
    orders: PathBuf,
    billing: PathBuf,
    audit: PathBuf,
    _root: tempfile::TempDir,
}

fn fleet() -> Fleet {
    let root = tempfile::tempdir().expect("temp dir");
    Fleet {
        orders: service(root.path(), "orders", ORDERS, &[]),
        billing: service(root.path(), "billing", &consumer_manifest("billing"), &[]),
        audit: service(root.path(), "audit", &consumer_manifest("audit"), &[]),
        _root: root,
    }
}

fn can_i_deploy(server: &Server, dir: &Path, version: &str, environment: &str, format: &str) -> crate::contracts::Run {
    stele(
        server,
        dir,
        &["can-i-deploy", "--service", "orders", "--version", version, "--to", environment, "--format", format],
    )
}

/// The scenario: staging runs billing v2 (no longer reads `amount`),
/// prod runs billing v1 (reads it); orders v3 drops `amount`.
fn the_producer_release_waits_for_the_consumer_that_still_reads_the_field(server: &Server) {
    let f = fleet();
    for environment in ["staging", "prod"] {
        let run = stele(server, &f.orders, &["environment", "create", environment]);
        assert_eq!(run.code, 0, "{}", run.stdout);
    }
    let full = [("id", "string"), ("amount", "long"), ("note", "string")];
    publish(server, &f.orders, "order.avsc", &full, "1", None);
    publish(server, &f.billing, "reader.avsc", &[("id", "string"), ("amount", "long")], "1", None);
    publish(server, &f.billing, "reader.avsc", &[("id", "string")], "2", None);
    publish(server, &f.audit, "reader.avsc", &[("id", "string"), ("note", "string")], "1", None);
    for environment in ["staging", "prod"] {
        deploy(server, &f.orders, "orders", "1", environment);
        deploy(server, &f.audit, "audit", "1", environment);
    }
    deploy(server, &f.billing, "billing", "2", "staging");
    deploy(server, &f.billing, "billing", "1", "prod");

    // orders v3 drops `amount`: BACKWARD-compatible, so it registers.
    publish(server, &f.orders, "order.avsc", &[("id", "string"), ("note", "string")], "3", None);

    let staging = can_i_deploy(server, &f.orders, "3", "staging", "text");
    assert_eq!(staging.code, 0, "{}", staging.stdout);
    assert!(staging.stdout.contains("billing 2") && staging.stdout.contains("audit 1"), "{}", staging.stdout);

    let prod = can_i_deploy(server, &f.orders, "3", "prod", "text");
    assert_eq!(prod.code, 1, "{}", prod.stdout);
    assert!(prod.stdout.contains("billing 1"), "names the consumer version: {}", prod.stdout);
    assert!(prod.stdout.contains("amount"), "names the field: {}", prod.stdout);
    assert!(prod.stdout.contains("would break billing 1 (orders-value)"), "{}", prod.stdout);

    // The JSON format is the API's answer, a matrix with one row per counterpart.
    let cli: Value =
        serde_json::from_str(can_i_deploy(server, &f.orders, "3", "prod", "json").stdout.trim()).expect("JSON");
    let api = http::json(server.addr, "GET", "/stele/v1/can-i-deploy?service=orders&version=3&environment=prod", None);
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(cli, api.json());
    assert_eq!(cli["deployable"], false);
    let rows = cli["matrix"].as_array().expect("matrix");
    assert_eq!(rows.len(), 2, "billing 1 and audit 1: {cli}");
    let billing = rows.iter().find(|r| r["service"] == "billing").expect("billing row");
    assert_eq!(
        (&billing["version"], &billing["verdict"], &billing["role"]),
        (&json!("1"), &json!("incompatible"), &json!("consumes"))
    );
    assert!(billing["findings"][0]["message"].as_str().unwrap_or_default().contains("amount"), "{billing}");
    let audit = rows.iter().find(|r| r["service"] == "audit").expect("audit row");
    assert_eq!(audit["verdict"], "compatible");

    // Every CI format says the same.
    let junit = can_i_deploy(server, &f.orders, "3", "prod", "junit");
    assert_eq!(junit.code, 1);
    assert!(junit.stdout.contains("<failure") && junit.stdout.contains("billing 1"), "{}", junit.stdout);
    let github = can_i_deploy(server, &f.orders, "3", "prod", "github");
    assert!(github.stdout.contains("::error") && github.stdout.contains("amount"), "{}", github.stdout);
    let sarif = can_i_deploy(server, &f.orders, "3", "prod", "sarif");
    let sarif: Value = serde_json::from_str(sarif.stdout.trim()).expect("SARIF is JSON");
    assert!(sarif["runs"][0]["results"].as_array().is_some_and(|r| !r.is_empty()), "{sarif}");

    // Once billing v2 runs in prod, orders v3 may go there.
    deploy(server, &f.billing, "billing", "2", "prod");
    let prod = can_i_deploy(server, &f.orders, "3", "prod", "text");
    assert_eq!(prod.code, 0, "{}", prod.stdout);

    // The consumer side: billing 1 reads `amount`, which orders 3 (deployed in staging) no longer writes.
    deploy(server, &f.orders, "orders", "3", "staging");
    let back =
        stele(server, &f.billing, &["can-i-deploy", "--service", "billing", "--version", "1", "--to", "staging"]);
    assert_eq!(back.code, 1, "{}", back.stdout);
    assert!(back.stdout.contains("orders 3") && back.stdout.contains("produces"), "{}", back.stdout);

    // Undeploying the consumer from prod and unknown names are explained.
    let undeployed = stele(server, &f.billing, &["record-undeployment", "--service", "billing", "--env", "prod"]);
    assert_eq!(undeployed.code, 0, "{}", undeployed.stdout);
    let prod = http::json(server.addr, "GET", "/stele/v1/environments/prod", None).json();
    assert!(prod["deployments"].as_array().is_some_and(|d| d.iter().all(|d| d["service"] != "billing")), "{prod}");
    let nowhere = can_i_deploy(server, &f.orders, "3", "production", "text");
    assert_eq!(nowhere.code, 2, "{}", nowhere.stdout);
    assert!(nowhere.stdout.contains("No environment named 'production'"), "{}", nowhere.stdout);
    let missing = http::json(
        server.addr,
        "POST",
        "/stele/v1/environments/prod/deployments",
        Some(&json!({"service": "billing", "version": "9"})),
    );
    assert_eq!((missing.status, missing.json()["error_code"].clone()), (404, json!(40472)), "{}", missing.body);

    // A version is immutable: the same number with other schemas is refused.
    std::fs::write(f.billing.join("reader.avsc"), order(&[("note", "string")])).expect("write");
    let again = stele(server, &f.billing, &["publish", "--service-version", "2"]);
    assert_eq!(again.code, 2, "{}", again.stdout);
    assert!(again.stdout.contains("immutable"), "{}", again.stdout);
}

#[test]
fn can_i_deploy_follows_what_runs_in_each_environment_on_sqlite() {
    the_producer_release_waits_for_the_consumer_that_still_reads_the_field(&Server::start());
}

#[test]
fn can_i_deploy_follows_what_runs_in_each_environment_on_postgres() {
    let Some(database) = stele_tests::postgres::fresh_database() else { return };
    the_producer_release_waits_for_the_consumer_that_still_reads_the_field(&Server::start_on(&database));
}

#[test]
fn a_branch_contract_is_reported_but_blocks_nothing_until_it_is_merged() {
    let server = Server::start();
    let f = fleet();
    assert_eq!(stele(&server, &f.orders, &["environment", "create", "staging"]).code, 0);
    publish(&server, &f.orders, "order.avsc", &[("id", "string"), ("amount", "long")], "1", None);
    publish(&server, &f.billing, "reader.avsc", &[("id", "string"), ("amount", "long")], "1", None);
    deploy(&server, &f.orders, "orders", "1", "staging");
    deploy(&server, &f.billing, "billing", "1", "staging");
    // Only consumers' needs are enforced: level NONE, contracts ENFORCE.
    let rules = json!({"compatibility": "NONE", "consumerContracts": "ENFORCE"});
    let enforce = http::json(server.addr, "PUT", "/config/orders-value", Some(&rules));
    assert_eq!(enforce.status, 200, "{}", enforce.body);

    // A feature branch of billing starts reading `currency`, which orders does not write yet.
    let wants_currency = [("id", "string"), ("amount", "long"), ("currency", "string")];
    publish(&server, &f.billing, "reader.avsc", &wants_currency, "2-wip", Some("feature/currency"));
    let version = http::json(server.addr, "GET", "/stele/v1/services/billing/versions/2-wip", None).json();
    assert_eq!((&version["pending"], &version["branches"]), (&json!(true), &json!(["feature/currency"])), "{version}");
    let contract = http::json(server.addr, "GET", "/stele/v1/subjects/orders-value/consumers/billing", None).json();
    assert_eq!(contract["consumerVersion"], "1", "the main-branch contract stays: {contract}");

    // The producer's registration is reported the pending finding, and not blocked by it.
    let note = [("id", "string"), ("amount", "long"), ("note", "string")];
    let registered = http::json(
        server.addr,
        "POST",
        "/subjects/orders-value/versions",
        Some(&json!({"schema": order(&[("id", "string"), ("amount", "long"), ("note", "string")])})),
    );
    assert_eq!(registered.status, 200, "{}", registered.body);
    let warning = registered.json()["warnings"][0].as_str().unwrap_or_default().to_owned();
    assert!(warning.contains("'billing' 2-wip (pending") && warning.contains("currency"), "{}", registered.body);
    publish(&server, &f.orders, "order.avsc", &note, "2", None);

    // can-i-deploy reports it as a pending row and still says yes.
    let answer =
        http::json(server.addr, "GET", "/stele/v1/can-i-deploy?service=orders&version=2&environment=staging", None)
            .json();
    assert_eq!(answer["deployable"], true, "{answer}");
    let pending = answer["matrix"].as_array().and_then(|m| m.iter().find(|r| r["pending"] == true)).cloned();
    let pending = pending.expect("a pending row");
    assert_eq!(
        (&pending["service"], &pending["version"], &pending["verdict"]),
        (&json!("billing"), &json!("2-wip"), &json!("incompatible"))
    );
    let text = can_i_deploy(&server, &f.orders, "2", "staging", "text");
    assert_eq!(text.code, 0, "{}", text.stdout);
    assert!(text.stdout.contains("incompatible (pending)"), "{}", text.stdout);

    // Merged to main, the same version's contract blocks the next registration that breaks it.
    publish(&server, &f.billing, "reader.avsc", &wants_currency, "2-wip", Some("main"));
    let version = http::json(server.addr, "GET", "/stele/v1/services/billing/versions/2-wip", None).json();
    assert_eq!(version["pending"], false, "{version}");
    let refused = http::json(
        server.addr,
        "POST",
        "/subjects/orders-value/versions",
        Some(&json!({"schema": order(&[("id", "string"), ("amount", "long"), ("note", "string"), ("x", "int")])})),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("currency") && !refused.body.contains("pending"), "{}", refused.body);

    // Deployed from its branch, a contract blocks can-i-deploy too.
    publish(
        &server,
        &f.billing,
        "reader.avsc",
        &[("id", "string"), ("note", "string"), ("tax", "long")],
        "3-wip",
        Some("feature/tax"),
    );
    deploy(&server, &f.billing, "billing", "3-wip", "staging");
    let blocked = can_i_deploy(&server, &f.orders, "2", "staging", "text");
    assert_eq!(blocked.code, 1, "{}", blocked.stdout);
    assert!(blocked.stdout.contains("billing 3-wip") && blocked.stdout.contains("tax"), "{}", blocked.stdout);
}

#[test]
fn can_i_deploy_waits_while_the_version_is_unknown() {
    let server = Server::start();
    let f = fleet();
    assert_eq!(stele(&server, &f.orders, &["environment", "create", "prod"]).code, 0);
    let unknown = can_i_deploy(&server, &f.orders, "7", "prod", "text");
    assert_eq!(unknown.code, 1, "{}", unknown.stdout);
    assert!(unknown.stdout.contains("has not been published"), "{}", unknown.stdout);

    // Its CI publishes it while can-i-deploy keeps asking.
    let orders = f.orders.clone();
    let url = server.url();
    let publisher = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::fs::write(orders.join("order.avsc"), order(&[("id", "string")])).expect("write");
        std::process::Command::new(stele_tests::binary())
            .args(["publish", "--service-version", "7"])
            .current_dir(&orders)
            .env("STELE_REGISTRY_URL", url)
            .status()
            .expect("stele runs")
            .success()
    });
    let waited = stele(
        &server,
        &f.orders,
        &[
            "can-i-deploy",
            "--service",
            "orders",
            "--version",
            "7",
            "--to",
            "prod",
            "--retry-while-unknown",
            "60",
            "--retry-interval",
            "1",
        ],
    );
    assert!(publisher.join().expect("publisher"));
    assert_eq!(waited.code, 0, "{}", waited.stdout);
    assert!(waited.stdout.contains("asking again"), "{}", waited.stdout);
}
