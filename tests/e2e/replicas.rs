//! Several `stele serve` replicas on one PostgreSQL, and crashes.
//!
//! - 2 replicas, 16 concurrent writers, 2,000 registrations: no duplicate ids,
//!   no duplicate or missing versions, one id per schema, an id's content the
//!   same through both replicas and in the database; and registrations were
//!   committed in groups.
//! - A write through one replica is visible through the other within a second,
//!   also right after the replica's LISTEN connection was terminated.
//! - A registration answered 200 survives `kill -9`, on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stele_tests::invariants::{Database, Ledger, check};
use stele_tests::{Server, http, postgres};

fn schema(field: &str) -> String {
    json!({"type": "record", "name": "Event", "namespace": "com.example", "fields": [{"name": field, "type": "string", "default": ""}]}).to_string()
}

fn register(server: &Server, subject: &str, schema: &str) -> Option<i64> {
    let response = http::send(
        server.addr,
        "POST",
        &format!("/subjects/{subject}/versions"),
        &[("Content-Type", "application/vnd.schemaregistry.v1+json")],
        Some(json!({"schema": schema}).to_string().as_bytes()),
    )
    .ok()?;
    assert!(response.status == 200, "registration of {subject} answered {}: {}", response.status, response.body);
    response.json()["id"].as_i64()
}

#[test]
fn two_replicas_with_16_writers_keep_every_invariant_over_2000_registrations() {
    let Some(database) = postgres::fresh_database() else { return };
    let replicas = [Server::start_on(&database), Server::start_on(&database)];
    for replica in &replicas {
        replica.wait_ready();
    }
    // Subjects accept any change, so versions pile up; shared schemas across
    // subjects must share ids.
    http::json(replicas[0].addr, "PUT", "/config", Some(&json!({"compatibility": "NONE"})));
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 125;
    let acknowledged: Mutex<Vec<(String, String, i64)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let replicas = &replicas;
            let acknowledged = &acknowledged;
            scope.spawn(move || {
                for n in 0..PER_WRITER {
                    let replica = &replicas[(writer + n) % 2];
                    // Half the writes go to 4 shared subjects with fresh schemas (dense
                    // versions under contention); half register one of 10 shared
                    // schemas under the writer's own subject (one id per schema).
                    let (subject, field) = if n % 2 == 0 {
                        (format!("shared-{}", n % 4), format!("w{writer}n{n}"))
                    } else {
                        (format!("writer-{writer}"), format!("common{}", n % 10))
                    };
                    let text = schema(&field);
                    let id = register(replica, &subject, &text).expect("replica answers");
                    acknowledged.lock().expect("lock").push((subject, text, id));
                }
            });
        }
    });
    let acknowledged = acknowledged.into_inner().expect("lock");
    assert_eq!(acknowledged.len(), WRITERS * PER_WRITER);

    // One id per schema text, one schema text per id.
    let mut id_of: BTreeMap<&str, i64> = BTreeMap::new();
    let mut text_of: BTreeMap<i64, &str> = BTreeMap::new();
    for (_, text, id) in &acknowledged {
        assert_eq!(*id_of.entry(text).or_insert(*id), *id, "one schema got two ids");
        assert_eq!(*text_of.entry(*id).or_insert(text), text.as_str(), "one id holds two schemas");
    }

    // Through both replicas: dense versions, each holding an acknowledged schema, ids with the same content.
    let subjects: BTreeSet<&str> = acknowledged.iter().map(|(s, _, _)| s.as_str()).collect();
    for replica in &replicas {
        for subject in &subjects {
            let versions = http::json(replica.addr, "GET", &format!("/subjects/{subject}/versions"), None).json();
            let versions: Vec<i64> = versions.as_array().expect("versions").iter().filter_map(Value::as_i64).collect();
            assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "{subject}: versions must be dense");
            let distinct: BTreeSet<&str> =
                acknowledged.iter().filter(|(s, _, _)| s == subject).map(|(_, t, _)| t.as_str()).collect();
            assert_eq!(versions.len(), distinct.len(), "{subject}: one version per distinct schema");
        }
        for (id, text) in &text_of {
            let body = http::json(replica.addr, "GET", &format!("/schemas/ids/{id}"), None).json();
            let stored: Value = serde_json::from_str(body["schema"].as_str().expect("schema")).expect("JSON");
            let sent: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(stored, sent, "id {id} through {}", replica.addr);
        }
    }

    // And in the database itself.
    let duplicates = postgres::query(
        &database,
        "SELECT count(*) FROM (SELECT context, fingerprint FROM schemas GROUP BY 1, 2 HAVING count(*) > 1) d",
    );
    assert_eq!(duplicates.trim(), "0", "duplicate fingerprints in the database");
    let ids = postgres::query(&database, "SELECT count(*) FROM schemas");
    assert_eq!(ids.trim().parse::<usize>().expect("count"), text_of.len(), "schemas in the database");
    let gaps = postgres::query(
        &database,
        "SELECT count(*) FROM (SELECT subject, max(version) AS top, count(*) AS n FROM versions GROUP BY subject) s WHERE top <> n",
    );
    assert_eq!(gaps.trim(), "0", "version gaps in the database");
    check(&[replicas[0].addr, replicas[1].addr], &Database::Postgres(database), &Ledger::default());

    // Group commit: with 8 writers on each replica, some transactions held
    // several registrations (every new version went through one of them).
    let (mut batches, mut batched) = (0.0, 0.0);
    for replica in &replicas {
        let scrape = http::send(replica.addr, "GET", "/metrics", &[], None).expect("scrape").body;
        batches += super::telemetry::sample(&scrape, "stele_db_write_batches_total");
        batched += super::telemetry::sample(&scrape, "stele_db_batched_writes_total");
    }
    assert!(batches > 0.0, "registrations went through group commits");
    assert!(batched > batches, "some group commits held several registrations: {batched} in {batches} transactions");
}

/// Polls `check` for up to a second.
fn within_a_second(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if check() {
            return;
        }
        assert!(Instant::now() < deadline, "{what} was not visible through the other replica within one second");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_write_through_one_replica_is_visible_through_the_other_within_a_second() {
    let Some(database) = postgres::fresh_database() else { return };
    let (a, b) = (Server::start_on(&database), Server::start_on(&database));
    a.wait_ready();
    b.wait_ready();
    let id = register(&a, "orders", &schema("id")).expect("registered");
    // B caches the id's answer, then A hard-deletes it: B must stop serving it.
    assert_eq!(http::json(b.addr, "GET", &format!("/schemas/ids/{id}"), None).status, 200);
    within_a_second("a new version", || {
        http::json(b.addr, "GET", "/subjects/orders/versions", None).json() == json!([1])
    });
    http::json(a.addr, "PUT", "/config/orders", Some(&json!({"compatibility": "NONE"})));
    within_a_second("a config change", || {
        http::json(b.addr, "GET", "/config/orders", None).json()["compatibilityLevel"] == "NONE"
    });
    http::json(a.addr, "PUT", "/mode/orders", Some(&json!({"mode": "READONLY"})));
    within_a_second("a mode change", || http::json(b.addr, "GET", "/mode/orders", None).json()["mode"] == "READONLY");
    http::json(a.addr, "PUT", "/mode/orders", Some(&json!({"mode": "READWRITE"})));
    within_a_second("a mode change back", || {
        http::json(b.addr, "GET", "/mode/orders", None).json()["mode"] == "READWRITE"
    });
    // B answers a re-registration from its cache; after A's soft delete it must register anew.
    assert_eq!(register(&b, "orders", &schema("id")), Some(id));
    assert_eq!(http::json(a.addr, "DELETE", "/subjects/orders/versions/1", None).status, 200);
    within_a_second("a soft delete", || http::json(b.addr, "GET", "/subjects/orders/versions", None).status == 404);
    assert_eq!(http::json(a.addr, "DELETE", "/subjects/orders/versions/1?permanent=true", None).status, 200);
    within_a_second("a hard delete", || http::json(b.addr, "GET", &format!("/schemas/ids/{id}"), None).status == 404);
    // B measured how late it applied A's writes.
    let scrape = http::send(b.addr, "GET", "/metrics", &[], None).expect("scrape").body;
    let applied: f64 = scrape
        .lines()
        .find_map(|l| l.strip_prefix("stele_cache_invalidation_lag_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(applied >= 5.0, "B applied every write's notification and measured its lag: {applied}");
    check(&[a.addr, b.addr], &Database::Postgres(database), &Ledger::default());
}

/// Registers from 8 threads until killed; returns what was acknowledged.
fn register_until_killed(server: &mut Server) -> Vec<(String, i64)> {
    let acknowledged: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let addr = server.addr;
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let acknowledged = &acknowledged;
            let stop = &stop;
            scope.spawn(move || {
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let subject = format!("crash-{writer}-{n}");
                    let answer = http::send(
                        addr,
                        "POST",
                        &format!("/subjects/{subject}/versions"),
                        &[("Content-Type", "application/vnd.schemaregistry.v1+json")],
                        Some(json!({"schema": schema(&format!("f{writer}x{n}"))}).to_string().as_bytes()),
                    );
                    match answer {
                        Ok(response) if response.status == 200 => {
                            let id = response.json()["id"].as_i64().expect("id");
                            acknowledged.lock().expect("lock").push((subject, id));
                        }
                        _ => return,
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        server.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    acknowledged.into_inner().expect("lock")
}

fn every_acknowledged_registration_survives(database: &str) {
    let mut server = Server::start_on(database);
    server.wait_ready();
    let acknowledged = register_until_killed(&mut server);
    assert!(!server.is_running(), "the server was killed");
    assert!(acknowledged.len() > 10, "the load ran ({} registrations)", acknowledged.len());
    let restarted = Server::start_on(database);
    restarted.wait_ready();
    for (subject, id) in &acknowledged {
        let body = http::json(restarted.addr, "GET", &format!("/subjects/{subject}/versions/1"), None);
        assert_eq!(body.status, 200, "{subject} was acknowledged and lost");
        assert_eq!(body.json()["id"].as_i64(), Some(*id), "{subject} changed id");
    }
    let database = match database.strip_prefix("sqlite://") {
        Some(path) => Database::Sqlite(path.into()),
        None => Database::Postgres(database.to_owned()),
    };
    check(&[restarted.addr], &database, &Ledger::default());
}

#[test]
fn every_registration_answered_200_survives_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    every_acknowledged_registration_survives(&database);
}

#[test]
fn every_registration_answered_200_survives_kill_9_on_postgresql() {
    let Some(database) = postgres::fresh_database() else { return };
    every_acknowledged_registration_survives(&database);
}

#[test]
fn a_replica_whose_listen_connection_is_terminated_still_sees_writes_within_a_second() {
    let Some(database) = postgres::fresh_database() else { return };
    let (a, b) = (Server::start_on(&database), Server::start_on(&database));
    a.wait_ready();
    b.wait_ready();
    for round in 0..3 {
        let subject = format!("payments-{round}");
        let id = register(&a, &subject, &schema(&format!("field{round}"))).expect("registered");
        // B serves the id from memory from now on.
        assert_eq!(http::json(b.addr, "GET", &format!("/schemas/ids/{id}"), None).status, 200);
        // Cut every replica's LISTEN connection, as an administrator or a network fault would.
        let terminated = postgres::query(
            &database,
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()) t",
        );
        assert_ne!(terminated.trim(), "0", "round {round}: no LISTEN connection to terminate");
        // While B may still be reconnecting, it reads the id again (and caches it);
        // then A deletes it for good: B must stop serving it from memory.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(http::json(b.addr, "GET", &format!("/schemas/ids/{id}"), None).status, 200);
        assert_eq!(http::json(a.addr, "DELETE", &format!("/subjects/{subject}"), None).status, 200);
        assert_eq!(http::json(a.addr, "DELETE", &format!("/subjects/{subject}?permanent=true"), None).status, 200);
        within_a_second("a permanent delete right after the LISTEN connection was terminated", || {
            http::json(b.addr, "GET", &format!("/schemas/ids/{id}"), None).status == 404
        });
    }
    check(&[a.addr, b.addr], &Database::Postgres(database), &Ledger::default());
}

#[test]
fn a_re_registration_right_after_another_replica_deleted_the_version_registers_anew() {
    let Some(database) = postgres::fresh_database() else { return };
    let (a, b) = (Server::start_on(&database), Server::start_on(&database));
    a.wait_ready();
    b.wait_ready();
    let ledger = Ledger::default();
    for round in 0..20 {
        let subject = format!("again-{round}");
        // Registering a soft-deleted schema again replaces its old version (as in
        // Confluent), so this subject's versions are not 1..n.
        ledger.hard_deleted(&subject);
        let text = schema(&format!("f{round}"));
        let id = register(&a, &subject, &text).expect("registered");
        // B answers re-registrations from memory from now on.
        for _ in 0..2 {
            assert_eq!(register(&b, &subject, &text), Some(id));
        }
        assert_eq!(http::json(a.addr, "DELETE", &format!("/subjects/{subject}/versions/1"), None).status, 200);
        // No waiting for B to hear of it: its answer must already be a live version.
        assert_eq!(register(&b, &subject, &text), Some(id));
        let live = http::json(a.addr, "GET", &format!("/subjects/{subject}/versions"), None);
        assert_eq!(live.status, 200, "round {round}: the acknowledged re-registration is not live: {}", live.body);
    }
    check(&[a.addr, b.addr], &Database::Postgres(database), &ledger);
}

#[test]
fn a_second_server_on_the_same_sqlite_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let mut first = Server::start_on(&database);
    first.wait_ready();
    let second = std::process::Command::new(stele_tests::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .env("NO_COLOR", "1")
        .output()
        .expect("stele runs");
    assert!(!second.status.success(), "a second server on one SQLite file must not start");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another process already serves the SQLite database"), "{stderr}");
    assert!(stderr.contains("PostgreSQL"), "the error says what to do instead: {stderr}");
    // The first still serves; once it is gone (even by kill -9), the file can be served again.
    assert_eq!(register(&first, "orders", &schema("id")), Some(1));
    first.kill();
    let again = Server::start_on(&database);
    again.wait_ready();
    assert_eq!(http::json(again.addr, "GET", "/schemas/ids/1", None).status, 200);
}
