//! Randomized concurrency against real replicas, then every invariant of
//! [`stele_tests::invariants`].
//!
//! 16 writers mix new registrations, identical registrations racing through
//! different replicas at the same moment, registrations that reference other
//! subjects, lookups, reads by id, soft and permanent deletes of versions and
//! subjects (referenced ones included), and config and mode changes. Halfway
//! through, one replica is killed with SIGKILL and started again on the same
//! database. The run is seeded: `STELE_STRESS_SEED` picks another seed,
//! `STELE_STRESS_OPS` the operations per writer.
//!
//! Subjects come in kinds so that "every acknowledged write is there" can be
//! checked exactly: `durable-*` and `race-*` subjects are never deleted from;
//! `churn-*`, `base-*` and `referrer-*` subjects are.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use stele_tests::invariants::{Database, Ledger, check};
use stele_tests::protogen::Rng;
use stele_tests::{Server, http, postgres};

const WRITERS: usize = 16;
const DEFAULT_SEED: u64 = 20_261_205;

fn seed() -> u64 {
    std::env::var("STELE_STRESS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED)
}

fn ops_per_writer() -> usize {
    std::env::var("STELE_STRESS_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(120)
}

fn record(j: usize) -> String {
    json!({"type": "record", "name": format!("E{j}"), "namespace": "stress",
           "fields": [{"name": format!("f{j}"), "type": "string", "default": ""}]})
    .to_string()
}

fn base_schema(k: usize, j: usize) -> String {
    json!({"type": "record", "name": format!("Base{k}"), "namespace": "stress",
           "fields": [{"name": format!("b{j}"), "type": "string", "default": ""}]})
    .to_string()
}

fn referrer_schema(k: usize, j: usize) -> String {
    json!({"type": "record", "name": format!("Ref{k}"), "namespace": "stress",
           "fields": [{"name": format!("r{j}"), "type": "string", "default": ""},
                      {"name": "base", "type": ["null", format!("stress.Base{k}")], "default": null}]})
    .to_string()
}

/// A request whose outcome is unknown when the replica is unreachable (killed).
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Option<http::Response> {
    let text = body.map(Value::to_string);
    let headers: &[(&str, &str)] =
        if text.is_some() { &[("Content-Type", "application/vnd.schemaregistry.v1+json")] } else { &[] };
    http::send(addr, method, path, headers, text.as_deref().map(str::as_bytes)).ok()
}

/// The replicas under test; one of them is killed and restarted halfway.
struct Cluster {
    database: Database,
    servers: Mutex<Vec<Server>>,
    addrs: RwLock<Vec<SocketAddr>>,
}

impl Cluster {
    fn start(database: Database, replicas: usize) -> Cluster {
        let servers: Vec<Server> = (0..replicas).map(|_| Server::start_on(&database.url())).collect();
        for server in &servers {
            server.wait_ready();
        }
        let addrs = servers.iter().map(|s| s.addr).collect();
        Cluster { database, servers: Mutex::new(servers), addrs: RwLock::new(addrs) }
    }

    fn addr(&self, n: usize) -> SocketAddr {
        let addrs = self.addrs.read().expect("addrs");
        addrs[n % addrs.len()]
    }

    fn count(&self) -> usize {
        self.addrs.read().expect("addrs").len()
    }

    /// SIGKILLs the last replica and starts it again on the same database.
    fn kill_and_restart_one(&self) {
        let mut servers = self.servers.lock().expect("servers");
        let last = servers.len() - 1;
        servers[last].kill();
        std::thread::sleep(Duration::from_millis(200));
        let restarted = Server::start_on(&self.database.url());
        restarted.wait_ready();
        self.addrs.write().expect("addrs")[last] = restarted.addr;
        servers[last] = restarted;
    }
}

/// Judges an answer: 5xx and unexpected statuses are violations.
fn expect(ledger: &Ledger, what: &str, response: Option<&http::Response>, allowed: &[u16]) -> Option<u16> {
    let response = response?;
    if !allowed.contains(&response.status) {
        ledger.violation(format!("{what} answered {}: {}", response.status, response.body));
    }
    Some(response.status)
}

fn register(cluster: &Cluster, ledger: &Ledger, replica: usize, subject: &str, body: &Value) -> Option<i64> {
    let path = format!("/subjects/{subject}/versions");
    let response = call(cluster.addr(replica), "POST", &path, Some(body));
    if expect(ledger, &format!("POST {path}"), response.as_ref(), &[200, 409, 422])? != 200 {
        return None;
    }
    let id = response?.json()["id"].as_i64()?;
    ledger.registered(subject, id, body);
    Some(id)
}

/// One writer's operations, chosen by `rng`.
fn writer(cluster: &Cluster, ledger: &Ledger, rng: &mut Rng, ops: usize, done: &AtomicUsize) {
    for _ in 0..ops {
        let replica = rng.below(cluster.count());
        let roll = rng.below(100);
        match roll {
            // New or repeated registrations under subjects never deleted from.
            0..=24 => {
                let subject = format!("durable-{}", rng.below(6));
                register(cluster, ledger, replica, &subject, &json!({"schema": record(rng.below(24))}));
            }
            // The same registration through every replica at the same moment.
            25..=39 => {
                let subject = format!("race-{}", rng.below(80));
                let body = json!({"schema": record(rng.below(24))});
                let barrier = Barrier::new(cluster.count().max(2));
                let ids: Vec<Option<i64>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..cluster.count().max(2))
                        .map(|n| {
                            let (barrier, body, subject) = (&barrier, &body, &subject);
                            scope.spawn(move || {
                                barrier.wait();
                                register(cluster, ledger, n, subject, body)
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().expect("racer")).collect()
                });
                let answered: Vec<i64> = ids.into_iter().flatten().collect();
                if answered.windows(2).any(|w| w[0] != w[1]) {
                    ledger
                        .violation(format!("racing registrations of one schema under {subject} got ids {answered:?}"));
                }
            }
            // Churn: registrations in subjects that also see deletes.
            40..=49 => {
                let subject = format!("churn-{}", rng.below(6));
                register(cluster, ledger, replica, &subject, &json!({"schema": record(rng.below(24))}));
            }
            // References: a base subject, and a referrer of its latest version.
            50..=57 => {
                let k = rng.below(3);
                if rng.chance(50) {
                    let subject = format!("base-{k}");
                    register(cluster, ledger, replica, &subject, &json!({"schema": base_schema(k, rng.below(4))}));
                } else if let Some(latest) =
                    call(cluster.addr(replica), "GET", &format!("/subjects/base-{k}/versions/latest"), None)
                        .filter(|r| r.status == 200)
                {
                    let version = latest.json()["version"].as_i64().unwrap_or(1);
                    let body = json!({"schema": referrer_schema(k, rng.below(4)), "references": [
                        {"name": format!("stress.Base{k}"), "subject": format!("base-{k}"), "version": version}]});
                    register(cluster, ledger, replica, &format!("referrer-{k}"), &body);
                }
            }
            // Lookups and reads by id: whatever they answer must match what ids hold.
            58..=67 => {
                let subject = format!("{}-{}", rng.word(&["durable", "churn", "race"]), rng.below(6));
                let schema = record(rng.below(24));
                let path = format!("/subjects/{subject}");
                let response = call(cluster.addr(replica), "POST", &path, Some(&json!({"schema": schema})));
                if expect(ledger, &format!("POST {path}"), response.as_ref(), &[200, 404]) == Some(200)
                    && let Some(body) = response.map(|r| r.json())
                {
                    ledger.saw_content(
                        body["id"].as_i64().unwrap_or(-1),
                        body["schema"].as_str().unwrap_or_default(),
                        &path,
                    );
                }
                let id = 1 + rng.below(60);
                let path = format!("/schemas/ids/{id}");
                let response = call(cluster.addr(replica), "GET", &path, None);
                if expect(ledger, &format!("GET {path}"), response.as_ref(), &[200, 404]) == Some(200)
                    && let Some(body) = response.map(|r| r.json())
                {
                    ledger.saw_content(id as i64, body["schema"].as_str().unwrap_or_default(), &path);
                }
            }
            // Soft deletes of a version or a whole subject.
            68..=79 => {
                let subject = deletable(rng);
                ledger.soft_deleted(&subject);
                let path = if rng.chance(70) {
                    format!("/subjects/{subject}/versions/latest")
                } else {
                    format!("/subjects/{subject}")
                };
                let response = call(cluster.addr(replica), "DELETE", &path, None);
                expect(ledger, &format!("DELETE {path}"), response.as_ref(), &[200, 404, 422]);
            }
            // Permanent deletes: soft first, then for good.
            80..=89 => {
                let subject = deletable(rng);
                ledger.hard_deleted(&subject);
                let whole = rng.chance(30);
                let soft =
                    if whole { format!("/subjects/{subject}") } else { format!("/subjects/{subject}/versions/latest") };
                let response = call(cluster.addr(replica), "DELETE", &soft, None);
                expect(ledger, &format!("DELETE {soft}"), response.as_ref(), &[200, 404, 422]);
                let hard = match response.filter(|r| r.status == 200).map(|r| r.json()) {
                    Some(_) if whole => format!("/subjects/{subject}?permanent=true"),
                    Some(Value::Number(version)) => format!("/subjects/{subject}/versions/{version}?permanent=true"),
                    _ => continue,
                };
                let response = call(cluster.addr(rng.below(cluster.count())), "DELETE", &hard, None);
                expect(ledger, &format!("DELETE {hard}"), response.as_ref(), &[200, 404, 422]);
            }
            // Config and mode changes.
            90..=95 => {
                let subject = format!("{}-{}", rng.word(&["durable", "churn"]), rng.below(6));
                let level = rng.word(&["NONE", "NONE", "BACKWARD", "FULL"]);
                let path = format!("/config/{subject}");
                let response = call(cluster.addr(replica), "PUT", &path, Some(&json!({"compatibility": level})));
                // 42205 while the subject is read-only.
                expect(ledger, &format!("PUT {path}"), response.as_ref(), &[200, 422]);
            }
            _ => {
                let subject = format!("{}-{}", rng.word(&["durable", "churn"]), rng.below(6));
                let path = format!("/mode/{subject}");
                for mode in ["READONLY", "READWRITE"] {
                    let response = call(cluster.addr(replica), "PUT", &path, Some(&json!({"mode": mode})));
                    expect(ledger, &format!("PUT {path}"), response.as_ref(), &[200]);
                }
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

fn deletable(rng: &mut Rng) -> String {
    let kind = rng.word(&["churn", "churn", "base", "referrer"]);
    let range = if kind == "churn" { 6 } else { 3 };
    format!("{kind}-{}", rng.below(range))
}

/// Runs the mix on `replicas` servers over `database`, kills one halfway,
/// and checks every invariant.
fn stress(database: Database, replicas: usize) {
    let seed = seed();
    let ops = ops_per_writer();
    eprintln!("stress: seed {seed} (STELE_STRESS_SEED), {WRITERS} writers x {ops} operations, {replicas} replica(s)");
    let cluster = Cluster::start(database, replicas);
    // Accept any change unless a subject's own config says otherwise.
    let answer = http::json(cluster.addr(0), "PUT", "/config", Some(&json!({"compatibility": "NONE"})));
    assert_eq!(answer.status, 200);
    let ledger = Ledger::default();
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for n in 0..WRITERS {
            let (cluster, ledger, done) = (&cluster, &ledger, &done);
            scope.spawn(move || {
                let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(n as u64));
                writer(cluster, ledger, &mut rng, ops, done);
            });
        }
        // Halfway through, kill -9 one replica under load and bring it back.
        let (cluster, done) = (&cluster, &done);
        scope.spawn(move || {
            while done.load(Ordering::Relaxed) < WRITERS * ops / 2 {
                std::thread::sleep(Duration::from_millis(10));
            }
            cluster.kill_and_restart_one();
        });
    });
    // Let every replica's change notifications arrive.
    std::thread::sleep(Duration::from_millis(1500));
    let addrs = cluster.addrs.read().expect("addrs").clone();
    eprintln!("stress: {} acknowledged registrations; checking invariants", ledger.acknowledged_registrations());
    check(&addrs, &cluster.database, &ledger);
    eprintln!("stress: 0 violations");
}

#[test]
fn randomized_writers_on_two_postgresql_replicas_with_a_kill_keep_every_invariant() {
    let Some(url) = postgres::fresh_database() else { return };
    stress(Database::Postgres(url), 2);
}

#[test]
fn randomized_writers_on_sqlite_with_a_kill_keep_every_invariant() {
    let dir = tempfile::tempdir().expect("temp dir");
    stress(Database::Sqlite(dir.path().join("stele.db")), 1);
}

/// The race the first multi-replica run found: the same first registration of
/// a new subject through both replicas at the same moment.
#[test]
fn identical_first_registrations_racing_through_two_replicas_make_one_version() {
    let Some(url) = postgres::fresh_database() else { return };
    let database = Database::Postgres(url);
    let cluster = Cluster::start(database, 2);
    let ledger = Ledger::default();
    for n in 0..150 {
        let subject = format!("new-{n}");
        let body = json!({"schema": record(n % 7)});
        let barrier = Barrier::new(2);
        let ids: Vec<Option<i64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|replica| {
                    let (barrier, body, subject, cluster, ledger) = (&barrier, &body, &subject, &cluster, &ledger);
                    scope.spawn(move || {
                        barrier.wait();
                        register(cluster, ledger, replica, subject, body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("racer")).collect()
        });
        assert!(ids[0].is_some() && ids[0] == ids[1], "{subject}: both replicas answer one id, got {ids:?}");
        let versions = http::json(cluster.addr(0), "GET", &format!("/subjects/{subject}/versions"), None).json();
        assert_eq!(versions, json!([1]), "{subject}: one version");
    }
    std::thread::sleep(Duration::from_millis(500));
    let addrs = cluster.addrs.read().expect("addrs").clone();
    check(&addrs, &cluster.database, &ledger);
}
