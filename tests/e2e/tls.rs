//! HTTPS end to end, with certificates made in the test (rcgen): Confluent's
//! Python client with `basic.auth.user.info` and `ssl.ca.location`, the `stele`
//! CLI with `--token` and `--ca-cert`, mTLS principals, and certificates
//! reloaded without a restart when their files change and on SIGHUP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use stele_tests::{Server, binary, eventually};

use crate::auth::{CI_TOKEN, config, run_python, stele};

/// A certificate authority that issues server and client certificates into `dir`.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let certificate = params.self_signed(&key).expect("CA certificate");
        Authority { pem: certificate.pem(), issuer: Issuer::new(params, key) }
    }

    /// Writes `<stem>.pem` and `<stem>.key` for a leaf certificate.
    fn issue(&self, dir: &Path, stem: &str, common_name: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("params");
        params.distinguished_name.push(DnType::CommonName, common_name);
        let key = KeyPair::generate().expect("key");
        let certificate = params.signed_by(&key, &self.issuer).expect("signed");
        let (cert_path, key_path) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
        // Written to a temporary name and renamed, as deployment tools replace files.
        std::fs::write(dir.join("tmp.pem"), certificate.pem()).expect("write");
        std::fs::write(dir.join("tmp.key"), key.serialize_pem()).expect("write");
        std::fs::rename(dir.join("tmp.key"), &key_path).expect("rename");
        std::fs::rename(dir.join("tmp.pem"), &cert_path).expect("rename");
        (cert_path, key_path)
    }

    fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.pem).expect("write");
        path.to_owned()
    }
}

/// A server over HTTPS with authentication, mTLS accepted, and `reload_interval_secs`.
fn https_server(ca: &Authority, reload_secs: u64) -> (Server, String, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = ca.issue(dir.path(), "server", "stele", &["127.0.0.1", "localhost"]);
    let ca_file = ca.write(&dir.path().join("ca.pem"));
    let extra = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\nreload_interval_secs = {reload_secs}\n\n\
         [[grants]]\nprincipal = \"cert:ci-bot\"\nrole = \"read\"\n",
        cert.display(),
        key.display(),
        ca_file.display()
    );
    let config = config(dir.path(), &extra);
    // mTLS principals are on in [auth]: add the key after the realm line.
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("realm = \"stele-test\"", "realm = \"stele-test\"\nmtls = true");
    std::fs::write(&config, text).expect("config");
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let config_arg = config.display().to_string();
    let server = Server::start_with(dir, &["--database", &database, "--config", &config_arg]);
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    (server, url, ca_file)
}

#[test]
fn clients_speak_https_and_mtls_and_certificates_reload_without_a_restart() {
    let ca = Authority::new("stele test CA");
    let (server, url, ca_file) = https_server(&ca, 1);
    let ca_arg = ca_file.display().to_string();

    // Confluent's Python client over HTTPS with Basic credentials.
    run_python(&url, Some(&ca_file));

    // The CLI: --ca-cert and --token; without the CA it says what to do; plain HTTP gets nothing.
    let schema = server.dir.path().join("order.avsc");
    std::fs::write(&schema, r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#)
        .expect("write");
    let schema = schema.display().to_string();
    let (code, out) =
        stele(&["check", "orders-value", &schema, "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &ca_arg]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = stele(&["subjects", "--registry", &url, "--token", CI_TOKEN]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--ca-cert"), "{out}");
    let (code, _) = stele(&["subjects", "--registry", &format!("http://{}", server.addr), "--token", CI_TOKEN]);
    assert_eq!(code, 2, "plain HTTP to the HTTPS port fails");

    // mTLS: the client certificate's common name is the principal (read on everything).
    let (client_cert, client_key) = ca.issue(server.dir.path(), "client", "ci-bot", &["ci-bot"]);
    let (cert_arg, key_arg) = (client_cert.display().to_string(), client_key.display().to_string());
    let (code, out) = stele(&[
        "subjects",
        "--registry",
        &url,
        "--ca-cert",
        &ca_arg,
        "--client-cert",
        &cert_arg,
        "--client-key",
        &key_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = stele(&["subjects", "--registry", &url, "--ca-cert", &ca_arg]);
    assert_eq!(code, 2, "without credentials: {out}");
    assert!(out.contains("401"), "{out}");

    // Reload on change: a certificate from another CA replaces the files; new connections get it.
    let other = Authority::new("the next CA");
    let other_file = other.write(&server.dir.path().join("other-ca.pem")).display().to_string();
    other.issue(server.dir.path(), "server", "stele", &["127.0.0.1", "localhost"]);
    eventually("the new certificate is served", || {
        stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &other_file]).0 == 0
    });
    let (code, _) = stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &ca_arg]);
    assert_eq!(code, 2, "the old CA no longer matches");

    // A broken file is not loaded: the current certificate stays.
    std::fs::write(server.dir.path().join("server.pem"), "not a certificate").expect("write");
    std::thread::sleep(Duration::from_millis(2500));
    let (code, out) = stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &other_file]);
    assert_eq!(code, 0, "{out}");
    assert!(server.logs().iter().any(|l| l.contains("was not reloaded")), "the failed reload is logged");
}

#[test]
fn sighup_reloads_the_certificate() {
    let ca = Authority::new("stele test CA");
    let (server, url, ca_file) = https_server(&ca, 3600);
    // The first certificate is served (the server has read its files) before they are replaced.
    let (code, out) =
        stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &ca_file.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    let other = Authority::new("the next CA");
    let other_file = other.write(&server.dir.path().join("other-ca.pem")).display().to_string();
    other.issue(server.dir.path(), "server", "stele", &["127.0.0.1", "localhost"]);
    let (code, _) = stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &other_file]);
    assert_eq!(code, 2, "not reloaded yet: the interval is an hour");
    let status = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().expect("kill runs");
    assert!(status.success());
    eventually("SIGHUP reloads", || {
        stele(&["subjects", "--registry", &url, "--token", CI_TOKEN, "--ca-cert", &other_file]).0 == 0
    });
}

#[test]
fn postgresql_connections_require_and_verify_tls() {
    let Some(database) = stele_tests::postgres::fresh_database() else { return };
    let Some(ca) = stele_tests::postgres::tls_ca() else {
        eprintln!("skipped: TEST_DATABASE_URL names a server this harness did not start");
        return;
    };
    let verified = format!("{database}?sslmode=verify-full&sslrootcert={}", ca.display());
    let server = Server::start_on(&verified);
    let schema = serde_json::json!({"schema": r#"{"type":"record","name":"R","fields":[]}"#});
    let registered = stele_tests::http::json(server.addr, "POST", "/subjects/tls-value/versions", Some(&schema));
    assert_eq!(registered.status, 200, "{}", registered.body);
    drop(server);
    let required = format!("{database}?sslmode=require");
    let server = Server::start_on(&required);
    assert_eq!(stele_tests::http::json(server.addr, "GET", "/subjects", None).json(), serde_json::json!(["tls-value"]));
    drop(server);

    // verify-full against a CA that did not sign the server's certificate stops the server at start.
    let stranger = Authority::new("a stranger");
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = stranger.write(&dir.path().join("wrong.pem"));
    let output = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("{database}?sslmode=verify-full&sslrootcert={}", wrong.display()))
        .output()
        .expect("stele runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("opening the database"), "{stderr}");
}
