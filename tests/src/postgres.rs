//! A throwaway PostgreSQL for tests: `TEST_DATABASE_URL` when set, else one
//! server per test process started with `initdb` and `pg_ctl` on a free port
//! in a temporary directory (as the `postgres` user when running as root, which
//! PostgreSQL refuses). A watchdog stops it when the test process exits. Each
//! test gets a fresh database.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where PostgreSQL's server binaries are: on `PATH`, or Debian's directory.
fn bin(name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    versions.sort();
    versions.into_iter().rev().map(|v| v.join("bin").join(name)).find(|p| p.is_file())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary as the user allowed to (`postgres` under root).
fn as_postgres(program: &PathBuf) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

struct Cluster {
    /// `postgres://...` without a database name.
    base: String,
    /// The CA that signed the server's TLS certificate (a cluster this harness started).
    ca: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn start_cluster() -> Result<Cluster, String> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let base = url.rsplit_once('/').map_or(url.clone(), |(b, _)| b.to_owned());
        return Ok(Cluster { base, ca: None });
    }
    let initdb = bin("initdb").ok_or("initdb is not installed (apt-get install postgresql)")?;
    let pg_ctl = bin("pg_ctl").ok_or("pg_ctl is not installed (apt-get install postgresql)")?;
    let dir = std::env::temp_dir().join(format!("stele-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if running_as_root() {
        let status =
            Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("chown of the PostgreSQL directory failed (is there a postgres user?)".into());
        }
    }
    let data = dir.join("data");
    let output = as_postgres(&initdb)
        .args(["-D"])
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    // TLS on, with a certificate for 127.0.0.1 from a CA made here (sslmode=verify-full works).
    let ca = tls_files(&dir)?;
    let port = free_port();
    let options = format!(
        "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c ssl=on \
         -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
        dir = dir.display()
    );
    let output = as_postgres(&pg_ctl)
        .args(["-D"])
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.join("log"))
        .args(["-w", "start"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("pg_ctl start failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    // Stops the server once this test process is gone.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        stop = if running_as_root() {
            format!("runuser -u postgres -- {}", pg_ctl.display())
        } else {
            pg_ctl.display().to_string()
        },
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(Cluster { base: format!("postgres://postgres@127.0.0.1:{port}"), ca: Some(ca) })
}

/// Writes a CA (`ca.pem`) and a server certificate for 127.0.0.1 signed by it
/// (`server.crt`, `server.key`, readable by the server only) into `dir`.
fn tls_files(dir: &std::path::Path) -> Result<PathBuf, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let error = |e: rcgen::Error| e.to_string();
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(error)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "stele test PostgreSQL CA");
    let ca_key = KeyPair::generate().map_err(error)?;
    let ca = params.self_signed(&ca_key).map_err(error)?;
    let issuer = Issuer::new(params, ca_key);
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(error)?;
    server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().map_err(error)?;
    let certificate = server.signed_by(&key, &issuer).map_err(error)?;
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).map_err(|e| e.to_string());
    write("ca.pem", ca.pem())?;
    write("server.crt", certificate.pem())?;
    write("server.key", key.serialize_pem())?;
    let key_file = dir.join("server.key");
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    if running_as_root() {
        let status =
            Command::new("chown").args(["postgres:postgres"]).arg(&key_file).arg(dir.join("server.crt")).status();
        if !status.is_ok_and(|s| s.success()) {
            return Err("chown of the PostgreSQL TLS files failed".into());
        }
    }
    Ok(dir.join("ca.pem"))
}

/// The CA that signed the throwaway cluster's TLS certificate (`None` with
/// `TEST_DATABASE_URL`, or when PostgreSQL is not available outside CI).
pub fn tls_ca() -> Option<PathBuf> {
    cluster().ok().and_then(|c| c.ca.clone())
}

fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).as_ref().map_err(Clone::clone)
}

/// Whether tests must fail (CI) rather than skip when PostgreSQL is missing.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// A fresh, empty database URL; `None` (after saying why) when PostgreSQL is
/// not available outside CI. In CI a missing PostgreSQL panics.
pub fn fresh_database() -> Option<String> {
    let cluster = match cluster() {
        Ok(cluster) => cluster,
        Err(why) => {
            assert!(!required(), "PostgreSQL is required in CI: {why}");
            eprintln!("skipped: PostgreSQL is not available: {why}");
            return None;
        }
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("stele_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let psql = bin("psql").unwrap_or_else(|| PathBuf::from("psql"));
    let output = Command::new(psql)
        .arg(format!("{}/postgres", cluster.base))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs");
    assert!(output.status.success(), "CREATE DATABASE failed: {}", String::from_utf8_lossy(&output.stderr));
    Some(format!("{}/{name}", cluster.base))
}

/// Runs SQL through psql and returns its unaligned output.
pub fn query(url: &str, sql: &str) -> String {
    let psql = bin("psql").unwrap_or_else(|| PathBuf::from("psql"));
    let output =
        Command::new(psql).arg(url).args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql]).output().expect("psql runs");
    assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
