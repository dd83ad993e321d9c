//! The registry's invariants, checked from outside: through every replica's
//! API and in the database itself.
//!
//! 1. One id per distinct schema and one schema per id; an id's content never
//!    changes (against every answer seen during the run, in a [`Ledger`]).
//! 2. A subject's versions are exactly 1..n unless one was permanently deleted,
//!    and its live versions never hold the same schema twice.
//! 3. No version or reference points at a missing schema or version, but for
//!    a soft-deleted schema's reference to a version permanently deleted after
//!    it (as Confluent allows), which is pinned: no other schema takes that
//!    number. No schema is kept that no version uses, but for one an IMPORT
//!    overwrote (retired: still readable by id).
//! 4. A soft-deleted version is invisible where Confluent hides it, and visible
//!    with `deleted=true`.
//! 5. Every acknowledged write is there.
//! 6. Replicas agree.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::{http, postgres};

/// The database behind the replicas, for checks no API shows.
#[derive(Debug, Clone)]
pub enum Database {
    Postgres(String),
    Sqlite(PathBuf),
}

impl Database {
    /// The `--database` URL a server is started with.
    pub fn url(&self) -> String {
        match self {
            Database::Postgres(url) => url.clone(),
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    /// The first column of the first row of `sql`.
    pub fn scalar(&self, sql: &str) -> String {
        match self {
            Database::Postgres(url) => postgres::query(url, sql).lines().next().unwrap_or_default().to_owned(),
            Database::Sqlite(path) => {
                // Python's sqlite3 module reads the file without another client to install.
                let script = "import sqlite3, sys\n\
                              c = sqlite3.connect(sys.argv[1])\n\
                              row = c.execute(sys.argv[2]).fetchone()\n\
                              print('' if row is None or row[0] is None else row[0])\n";
                let output =
                    Command::new("python3").args(["-c", script]).arg(path).arg(sql).output().expect("python3 runs");
                assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
                String::from_utf8_lossy(&output.stdout).trim().to_owned()
            }
        }
    }
}

/// What the clients were told during a run: the ground truth the final state
/// is held to.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<LedgerInner>,
}

#[derive(Debug, Default)]
struct LedgerInner {
    /// Every (context-free) id's content, as first answered.
    contents: BTreeMap<i64, String>,
    /// What was sent for each id a registration answered: one request per id.
    requested: BTreeMap<i64, String>,
    /// Contradictions seen while recording.
    violations: Vec<String>,
    /// Acknowledged registrations: (subject, id).
    registered: Vec<(String, i64)>,
    /// Subjects with a delete that was acknowledged or whose outcome is unknown.
    soft_deleted: BTreeSet<String>,
    hard_deleted: BTreeSet<String>,
}

impl Ledger {
    /// An answer said `id` holds `schema`: it must never say otherwise.
    pub fn saw_content(&self, id: i64, schema: &str, through: &str) {
        let canonical = canonical(schema);
        let mut inner = self.inner.lock().expect("ledger");
        match inner.contents.get(&id) {
            Some(known) if *known != canonical => {
                let message = format!("id {id} changed content ({through}): was {known}, now {canonical}");
                inner.violations.push(message);
            }
            Some(_) => {}
            None => {
                inner.contents.insert(id, canonical);
            }
        }
    }

    /// A registration of `request` (its schema and references) under `subject` answered `id`.
    /// The answer's text is the request's, not the stored canonical form, so
    /// it is held to other registrations: one id never answers two requests.
    pub fn registered(&self, subject: &str, id: i64, request: &Value) {
        let sent = format!("{} {}", canonical(request["schema"].as_str().unwrap_or_default()), request["references"]);
        let mut inner = self.inner.lock().expect("ledger");
        if let Some(known) = inner.requested.get(&id)
            && *known != sent
        {
            let message = format!("id {id} answered two different registrations: {known} and {sent}");
            inner.violations.push(message);
        }
        inner.requested.entry(id).or_insert(sent);
        inner.registered.push((subject.to_owned(), id));
    }

    /// A soft delete in `subject` was acknowledged, or may have happened.
    pub fn soft_deleted(&self, subject: &str) {
        self.inner.lock().expect("ledger").soft_deleted.insert(subject.to_owned());
    }

    /// A permanent delete in `subject` was acknowledged, or may have happened.
    pub fn hard_deleted(&self, subject: &str) {
        let mut inner = self.inner.lock().expect("ledger");
        inner.soft_deleted.insert(subject.to_owned());
        inner.hard_deleted.insert(subject.to_owned());
    }

    /// A contradiction found by a client during the run.
    pub fn violation(&self, message: String) {
        self.inner.lock().expect("ledger").violations.push(message);
    }

    pub fn acknowledged_registrations(&self) -> usize {
        self.inner.lock().expect("ledger").registered.len()
    }
}

/// JSON schema text compared by value, whatever the key order (the registry
/// stores its own canonical text).
fn canonical(schema: &str) -> String {
    fn sorted(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<String, Value> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    serde_json::from_str::<Value>(schema).map_or_else(|_| schema.to_owned(), |v| sorted(v).to_string())
}

fn path_segment(subject: &str) -> String {
    percent_encoding::utf8_percent_encode(subject, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One version as a replica shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    version: i64,
    id: i64,
    schema: String,
    deleted: bool,
    references: Vec<(String, i64)>,
}

/// Everything one replica shows, checked on the way.
#[derive(Debug, PartialEq, Eq)]
struct View {
    subjects: BTreeMap<String, Vec<Shown>>,
}

fn get(replica: SocketAddr, path: &str, violations: &mut Vec<String>) -> Option<Value> {
    let response = http::json(replica, "GET", path, None);
    match response.status {
        200 => Some(response.json()),
        404 => None,
        status => {
            violations.push(format!("{replica} GET {path} answered {status}: {}", response.body));
            None
        }
    }
}

fn view_of(replica: SocketAddr, violations: &mut Vec<String>) -> View {
    let mut subjects = BTreeMap::new();
    let all = get(replica, "/subjects?deleted=true", violations).unwrap_or_else(|| json!([]));
    let live_subjects: BTreeSet<String> = get(replica, "/subjects", violations)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    for subject in all.as_array().into_iter().flatten().filter_map(Value::as_str) {
        let segment = path_segment(subject);
        let numbers = |deleted: bool, violations: &mut Vec<String>| -> Vec<i64> {
            let path = format!("/subjects/{segment}/versions{}", if deleted { "?deleted=true" } else { "" });
            get(replica, &path, violations)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_i64)
                .collect()
        };
        let every = numbers(true, violations);
        let live: BTreeSet<i64> = numbers(false, violations).into_iter().collect();
        if live_subjects.contains(subject) == live.is_empty() {
            violations.push(format!("{replica}: /subjects lists {subject} iff it has live versions ({live:?})"));
        }
        let mut shown = Vec::new();
        for number in every {
            let deleted = !live.contains(&number);
            let Some(body) = get(replica, &format!("/subjects/{segment}/versions/{number}?deleted=true"), violations)
            else {
                violations.push(format!("{replica}: {subject} lists version {number} but does not show it"));
                continue;
            };
            if deleted {
                let hidden = http::json(replica, "GET", &format!("/subjects/{segment}/versions/{number}"), None);
                if hidden.status != 404 {
                    violations.push(format!(
                        "{replica}: soft-deleted version {number} of {subject} answered {} without deleted=true",
                        hidden.status
                    ));
                }
            }
            let references = body["references"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| (r["subject"].as_str().unwrap_or_default().to_owned(), r["version"].as_i64().unwrap_or(0)))
                .collect();
            shown.push(Shown {
                version: number,
                id: body["id"].as_i64().unwrap_or(-1),
                schema: canonical(body["schema"].as_str().unwrap_or_default()),
                deleted,
                references,
            });
        }
        subjects.insert(subject.to_owned(), shown);
    }
    View { subjects }
}

/// Checks every invariant through each replica and in `database`. Subjects
/// that never saw a permanent delete must number their versions 1..n.
/// Panics with every violation found.
pub fn check(replicas: &[SocketAddr], database: &Database, ledger: &Ledger) {
    let mut violations = ledger.inner.lock().expect("ledger").violations.clone();
    let views: Vec<View> = replicas.iter().map(|r| view_of(*r, &mut violations)).collect();
    for (replica, view) in replicas.iter().zip(&views) {
        check_view(*replica, view, ledger, database, &mut violations);
    }
    for (replica, view) in replicas.iter().zip(&views).skip(1) {
        if *view != views[0] {
            violations.push(format!("replica {replica} disagrees with {}", replicas[0]));
        }
    }
    check_database(database, &mut violations);
    assert!(violations.is_empty(), "{} invariant violations:\n{}", violations.len(), violations.join("\n"));
}

fn check_view(replica: SocketAddr, view: &View, ledger: &Ledger, database: &Database, violations: &mut Vec<String>) {
    let inner = ledger.inner.lock().expect("ledger");
    // A schema's identity is its text and its references.
    type Identity<'a> = (&'a str, &'a [(String, i64)]);
    let mut id_of: BTreeMap<Identity, i64> = BTreeMap::new();
    let mut text_of: BTreeMap<i64, Identity> = BTreeMap::new();
    for (subject, versions) in &view.subjects {
        let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
        // A missing number must have been deleted for good: the ledger saw a
        // permanent delete in the subject, or the number is pinned (check 3).
        let gaps: Vec<i64> = (1..numbers.last().copied().unwrap_or(0)).filter(|n| !numbers.contains(n)).collect();
        let unpinned = |n: &i64| {
            let quoted = subject.replace('\'', "''");
            database.scalar(&format!("SELECT count(*) FROM version_pins WHERE subject = '{quoted}' AND version = {n}"))
                == "0"
        };
        if !inner.hard_deleted.contains(subject) && gaps.iter().any(unpinned) {
            violations.push(format!("{replica}: {subject} has versions {numbers:?}, not 1..n"));
        }
        let mut live_ids = BTreeSet::new();
        for version in versions {
            if !version.deleted && !live_ids.insert(version.id) {
                violations.push(format!("{replica}: {subject} holds id {} in two live versions", version.id));
            }
            // Subjects here are all in the default context: one id space.
            let identity = (version.schema.as_str(), version.references.as_slice());
            let first_id = *id_of.entry(identity).or_insert(version.id);
            if first_id != version.id {
                violations.push(format!("{replica}: one schema has two ids ({first_id} and {})", version.id));
            }
            if *text_of.entry(version.id).or_insert(identity) != identity {
                violations.push(format!("{replica}: id {} holds two schemas", version.id));
            }
            if let Some(known) = inner.contents.get(&version.id)
                && *known != version.schema
            {
                violations.push(format!("{replica}: id {} changed content since it was answered", version.id));
            }
            match get(replica, &format!("/schemas/ids/{}", version.id), violations) {
                Some(body) if canonical(body["schema"].as_str().unwrap_or_default()) == version.schema => {}
                Some(_) => violations.push(format!("{replica}: /schemas/ids/{} differs from {subject}", version.id)),
                None => violations.push(format!(
                    "{replica}: version {} of {subject} points at id {}, which answers 404",
                    version.version, version.id
                )),
            }
            for (target, number) in &version.references {
                let target_shown = view.subjects.get(target).is_some_and(|vs| vs.iter().any(|v| v.version == *number));
                // A soft-deleted version's target may be gone for good (check 3).
                if !target_shown && !version.deleted {
                    violations.push(format!(
                        "{replica}: version {} of {subject} references {target} version {number}, which is gone",
                        version.version
                    ));
                }
            }
        }
    }
    // Which subject versions an id lists: the live ones, or every one with deleted=true.
    type Usages = BTreeSet<(String, i64)>;
    let mut usages: BTreeMap<i64, (Usages, Usages)> = BTreeMap::new();
    for (subject, versions) in &view.subjects {
        for version in versions {
            let entry = usages.entry(version.id).or_default();
            entry.1.insert((subject.clone(), version.version));
            if !version.deleted {
                entry.0.insert((subject.clone(), version.version));
            }
        }
    }
    for (id, (live, every)) in &usages {
        for (query, expected) in [("", live), ("?deleted=true", every)] {
            let listed: BTreeSet<(String, i64)> =
                get(replica, &format!("/schemas/ids/{id}/versions{query}"), violations)
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .map(|u| (u["subject"].as_str().unwrap_or_default().to_owned(), u["version"].as_i64().unwrap_or(0)))
                    .collect();
            if listed != *expected {
                violations
                    .push(format!("{replica}: /schemas/ids/{id}/versions{query} lists {listed:?}, not {expected:?}"));
            }
        }
    }
    // Ids answered during the run: the same content, or gone everywhere.
    for (id, content) in &inner.contents {
        match get(replica, &format!("/schemas/ids/{id}"), violations) {
            Some(_) if !text_of.contains_key(id) => {
                violations.push(format!("{replica}: id {id} is used by no version but still served"));
            }
            Some(body) if canonical(body["schema"].as_str().unwrap_or_default()) == *content => {}
            Some(_) => violations.push(format!("{replica}: id {id} changed content")),
            None if text_of.contains_key(id) => violations.push(format!("{replica}: id {id} is used but answers 404")),
            None => {}
        }
    }
    // Acknowledged registrations are there, unless a delete may have removed them.
    for (subject, id) in &inner.registered {
        let versions = view.subjects.get(subject).map_or(&[][..], Vec::as_slice);
        let any = versions.iter().any(|v| v.id == *id);
        let live = versions.iter().any(|v| v.id == *id && !v.deleted);
        if !inner.hard_deleted.contains(subject) && !any {
            violations.push(format!("{replica}: the acknowledged registration of id {id} under {subject} is lost"));
        } else if !inner.soft_deleted.contains(subject) && !live {
            violations.push(format!("{replica}: the acknowledged registration of id {id} under {subject} is not live"));
        }
    }
}

fn check_database(database: &Database, violations: &mut Vec<String>) {
    let checks = [
        (
            "versions pointing at a missing schema",
            "SELECT count(*) FROM versions v WHERE NOT EXISTS \
             (SELECT 1 FROM schemas s WHERE s.context = v.context AND s.id = v.schema_id)",
        ),
        (
            "schema references to a missing version from a schema a live version uses",
            "SELECT count(*) FROM schema_references r WHERE NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.subject = r.ref_subject AND v.version = r.ref_version) \
             AND EXISTS (SELECT 1 FROM versions v WHERE v.context = r.context AND v.schema_id = r.schema_id \
             AND NOT v.deleted)",
        ),
        (
            "schema references to a missing version that is not pinned",
            "SELECT count(*) FROM schema_references r WHERE NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.subject = r.ref_subject AND v.version = r.ref_version) \
             AND NOT EXISTS (SELECT 1 FROM version_pins p WHERE p.subject = r.ref_subject AND p.version = r.ref_version)",
        ),
        (
            "pins beside a version",
            "SELECT count(*) FROM version_pins p WHERE EXISTS \
             (SELECT 1 FROM versions v WHERE v.subject = p.subject AND v.version = p.version)",
        ),
        (
            "schema references of a missing schema",
            "SELECT count(*) FROM schema_references r WHERE NOT EXISTS \
             (SELECT 1 FROM schemas s WHERE s.context = r.context AND s.id = r.schema_id)",
        ),
        (
            "contract references to a missing version",
            "SELECT count(*) FROM contract_references r WHERE NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.subject = r.ref_subject AND v.version = r.ref_version)",
        ),
        (
            "subjects holding one schema in two live versions",
            "SELECT count(*) FROM (SELECT subject, schema_id FROM versions WHERE NOT deleted \
             GROUP BY subject, schema_id HAVING count(*) > 1) d",
        ),
        (
            "fingerprints with two ids",
            "SELECT count(*) FROM (SELECT context, fingerprint FROM schemas GROUP BY context, fingerprint \
             HAVING count(*) > 1) d",
        ),
        (
            "schema texts with two ids",
            "SELECT count(*) FROM (SELECT context, schema_text, references_json FROM schemas \
             WHERE metadata_json IS NULL GROUP BY context, schema_text, references_json HAVING count(*) > 1) d",
        ),
        (
            "schemas no version uses, not retired by an IMPORT",
            "SELECT count(*) FROM schemas s WHERE NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.context = s.context AND v.schema_id = s.id) \
             AND NOT EXISTS (SELECT 1 FROM retired_schemas r WHERE r.context = s.context AND r.id = s.id)",
        ),
        (
            "ids above the context's counter",
            "SELECT count(*) FROM schemas s JOIN id_counters c ON c.context = s.context WHERE s.id > c.max_id",
        ),
        (
            "duplicate versions",
            "SELECT count(*) FROM (SELECT subject, version FROM versions GROUP BY subject, version HAVING count(*) > 1) d",
        ),
    ];
    for (what, sql) in checks {
        let count = database.scalar(sql);
        if count != "0" {
            violations.push(format!("database: {count} {what}"));
        }
    }
}
