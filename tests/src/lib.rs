//! Support for Stele's end-to-end tests: start the real `stele` binary on
//! `127.0.0.1:0` with a fresh `SQLite` file, and talk to it over raw HTTP/1.1 so
//! that request paths go out byte for byte.
//!
//! # Layout
//! - [`Server`]: a running `stele serve` process, killed on drop.
//! - [`http`]: a minimal HTTP/1.1 client.
//! - [`binary`]: where the `stele` binary is, built once if missing.
//! - [`protogen`]: random `.proto` file pairs for the differential test against buf.
//! - [`invariants`]: the registry's invariants, checked through every replica and in the database.

pub mod http;
pub mod invariants;
pub mod postgres;
pub mod protogen;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The `stele` binary: `STELE_BIN` if set, else the workspace's debug build,
/// built once per test run so tests never run a stale binary.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Ok(path) = std::env::var("STELE_BIN") {
                return PathBuf::from(path);
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "-p", "stele", "--bin", "stele"])
                .current_dir(workspace())
                .status()
                .expect("cargo build of the stele binary could not start");
            assert!(status.success(), "cargo build of the stele binary failed");
            let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| workspace().join("target"), PathBuf::from);
            target.join("debug").join("stele")
        })
        .clone()
}

/// A running `stele serve`, with its own data directory. Killed on drop.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    pub dir: tempfile::TempDir,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on a fresh `SQLite` database.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("stele.db").display());
        Server::start_with(dir, &["--database", &url])
    }

    /// Starts a server on the given database URL.
    pub fn start_on(database: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Server::start_with(dir, &["--database", database])
    }

    /// Starts a server with extra `serve` arguments, keeping `dir` alive with it.
    pub fn start_with(dir: tempfile::TempDir, args: &[&str]) -> Server {
        Server::start_with_env(dir, args, &[])
    }

    /// Starts a server with extra `serve` arguments and environment variables.
    pub fn start_with_env(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(binary())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
            .args(args)
            .env("RUST_LOG", "warn,stele=info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stele serve did not start");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&logs);
        // Reads the log until the bound address appears, then keeps draining it
        // (and keeping it, for tests that read it) so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().map(|mut logs| logs.push(strip_ansi(&line))).ok();
                if !sent
                    && let Some(rest) = line.split("listening on http").nth(1)
                    && let Some(rest) = rest.strip_prefix("://").or_else(|| rest.strip_prefix("s://"))
                {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = sender.send(addr);
                    sent = true;
                }
                if std::env::var_os("STELE_TEST_LOGS").is_some() {
                    eprintln!("[stele] {line}");
                }
            }
        });
        let addr =
            receiver.recv_timeout(Duration::from_secs(30)).expect("stele serve did not report its address within 30 s");
        let addr = strip_ansi(&addr).parse().expect("a socket address");
        Server { addr, child, dir, logs }
    }

    /// Every log line the server has written so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|logs| logs.clone()).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process the hard way (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until `GET /readyz` answers 200.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http::send(self.addr, "GET", "/readyz", &[], None).is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server at {} never became ready", self.addr);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        // A failing test shows what the server said went wrong (its errors and
        // warnings), which a 500 in the test's own message does not.
        if std::thread::panicking() {
            // The reader thread drains what the killed process wrote last.
            std::thread::sleep(Duration::from_millis(100));
            for line in self.logs().iter().filter(|l| l.contains(" ERROR ") || l.contains(" WARN ")).take(20) {
                eprintln!("[stele {}] {line}", self.addr);
            }
        }
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits (up to 30 s, checking every 50 ms) until `done` holds; panics naming `what` otherwise.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
