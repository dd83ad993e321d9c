//! The one implementation of [`Store`](super::Store) over SQL, shared by the
//! `SQLite` and PostgreSQL backends.
//!
//! # Why a macro
//! Every query here is written once, in SQL both databases accept (`$N`
//! placeholders, which `SQLite` reads as numbered parameters, `ON CONFLICT`,
//! `CASE` instead of `GREATEST`). sqlx's generic executor bounds cannot be named
//! once for "any database that encodes these types", so [`sql_store!`] stamps
//! the same text into each backend's module, where the compiler checks it
//! against that database's concrete types. What truly differs per database
//! is a handful of items each backend module defines beside the macro call:
//! `begin_write` (how a write transaction starts), `lock_subjects` (per-subject
//! locks), `FOR_UPDATE` (row locks), `BYTE_ORDER` (ordering text by its
//! bytes), `notify` (telling other replicas),
//! `change_feed`, and the constants `MIGRATOR` and `DB_SYSTEM`.
//!
//! # The write transactions: what is locked, in which order, and why
//! Invariants, all of them kept by the database inside one transaction:
//! 1. one id per distinct schema in a context, one schema per id, and an id's
//!    content never changes;
//! 2. a subject's versions are exactly 1..n (but for numbers permanently
//!    deleted), and its live versions never hold the same schema twice;
//! 3. no version, schema reference or contract reference points at something
//!    missing, but for a soft-deleted schema's reference to a version deleted
//!    for good after it (Confluent allows that delete): that version number
//!    is pinned to the schema it held, so the reference never comes to mean
//!    another schema (`version_pins`, migration 0008).
//!
//! Constraints hold what can be said declaratively: primary keys on
//! `(context, id)` and `(subject, version)`, a unique fingerprint per context,
//! a partial unique index on a subject's live `(subject, schema_id)`, and
//! foreign keys from versions and schema references to schemas. A racing
//! writer that slipped past the checks below would fail there, never corrupt.
//!
//! Locks make the checks themselves race-free. Every write takes, in this order:
//! 1. **Subject locks**, all at once, sorted by lock key: exclusive on the
//!    subject written or deleted, shared on each subject version it references.
//!    `SQLite` has one writer at a time (`BEGIN IMMEDIATE`), which is stronger;
//!    PostgreSQL uses transaction-scoped advisory locks keyed by a 64-bit hash of
//!    the qualified subject.
//! 2. **The context's id counter row** (`SELECT ... FOR UPDATE`), by writes that
//!    hand out, reuse or sweep schema ids: registration and permanent deletes.
//!
//! Because every transaction takes subject locks before at most one counter
//! lock, and subject locks in one global order, no two transactions can wait on
//! each other in a cycle: there are no deadlocks.
//!
//! # Group commit
//! A transaction that commits waits for its flush to disk, and registrations
//! in one context queue on its counter row until the one before commits: one
//! flush per registration. So new versions go through one writer task per
//! process, which takes every registration waiting when it starts a
//! transaction (up to the backend's `MAX_BATCH`, one context at a time), runs
//! each inside its own savepoint and commits them together: one flush for the
//! batch. A batch keeps the lock order: it takes every subject lock its
//! registrations need first, all at once in the global order, then the one
//! counter of its context. A registration whose checks fail rolls back to its
//! savepoint and leaves the others alone. An error that fails the whole
//! batch (its commit, a lost connection) sends its registrations through again,
//! one transaction each, so the error reaches only those it still fails. Nobody
//! is answered before the commit that holds their version. After a lock is granted,
//! PostgreSQL's READ COMMITTED gives each later statement a fresh snapshot, so
//! the checks see everything the previous holder committed.
//!
//! Why no interleaving of two replicas breaks an invariant:
//! - **Versions (2).** The service checks compatibility against the versions it
//!   read, then asks for an insert expecting the highest version it saw (none
//!   for a new subject). Under the subject's exclusive lock the transaction
//!   re-reads the highest version; any other writer to the subject committed
//!   before the lock was granted or waits until this one ends, so a mismatch
//!   means the picture changed and the service starts over: two replicas
//!   registering the same schema at once end with one version, and the second
//!   answers the first one's id.
//! - **Ids (1).** Under the counter lock, the fingerprint lookup sees every
//!   schema committed in the context; a new id is one more than every id ever
//!   handed out, so ids are never reused even after a permanent delete.
//! - **Sweeps (3).** A permanent delete removes the schema rows no version uses
//!   any more under the same counter lock, so a registration that reuses a
//!   schema either commits first (the sweep then sees its version and keeps the
//!   row) or finds the row already gone and hands out a new id.
//! - **References (3).** A registration or a contract holds shared locks on the
//!   subjects it references and re-checks that each referenced version is still
//!   there; a delete holds the exclusive lock and checks for referrers (live
//!   versions' schemas, and contracts) in the same transaction, and pins each
//!   version it deletes for good that a soft-deleted schema references.
//!   Whichever commits first, the other sees it: the delete is refused with
//!   42206, or the registration finds its reference gone. An IMPORT that
//!   overwrites a version checks for any referrer under the same lock.

use std::collections::BTreeMap;

/// A registration waiting for the group-commit writer, and where its outcome goes.
pub(super) type PendingInsert =
    (super::NewVersion, tokio::sync::oneshot::Sender<crate::error::Result<super::InsertOutcome>>);

/// A lock on one subject for the length of a write transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SubjectLock {
    pub key: i64,
    pub exclusive: bool,
}

/// The subject locks a write takes, in the one global order: exclusive on
/// `written`, shared on each of `referenced`; one lock per key (exclusive wins),
/// sorted by key.
pub(super) fn subject_locks<'a, 'b>(
    written: impl IntoIterator<Item = &'b str>,
    referenced: impl IntoIterator<Item = &'a str>,
) -> Vec<SubjectLock> {
    let mut locks: BTreeMap<i64, bool> = BTreeMap::new();
    for subject in referenced {
        locks.entry(lock_key(subject)).or_insert(false);
    }
    for subject in written {
        locks.insert(lock_key(subject), true);
    }
    locks.into_iter().map(|(key, exclusive)| SubjectLock { key, exclusive }).collect()
}

/// A stable 64-bit key for a subject (FNV-1a): the same in every replica and release.
fn lock_key(subject: &str) -> i64 {
    crate::hash::fnv1a64(subject.as_bytes()) as i64
}

/// What a registration reads under its context's id counter lock.
#[derive(Debug, Clone)]
pub(super) struct CounterState {
    /// The counter row as stored.
    pub stored: i64,
    /// The highest id ever handed out in the context (a schema row may hold
    /// one beyond a counter written before counters existed).
    pub high: i64,
    /// The subject's highest version, deleted ones included.
    pub max_version: Option<i32>,
    /// The id whose schema has the registration's fingerprint, and its type.
    pub existing: Option<i64>,
    pub existing_type: Option<String>,
}

/// Whether a row of `version_pins` still binds: some schema references its
/// version. A pin whose referrers all went binds nothing (permanent deletes
/// sweep those, but one in another context may race that sweep).
pub(super) const PIN_REFERENCED: &str = "EXISTS (SELECT 1 FROM schema_references r \
     WHERE r.ref_subject = version_pins.subject AND r.ref_version = version_pins.version)";

/// Milliseconds since the epoch, as the stores write them.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> crate::error::Result<String> {
    serde_json::to_string(value).map_err(|e| crate::error::RegistryError::Internal(e.to_string()))
}

/// Implements [`Store`](super::Store) for `$store` (which has a `pool` field)
/// with the backend functions in scope at the call site.
macro_rules! sql_store {
    ($store:ty) => {
        use sqlx::AssertSqlSafe;

        use $crate::error::{RegistryError, Result};
        use $crate::store::rows::{CONTRACT_COLUMNS, ContractRow, SCHEMA_COLUMNS, SchemaRow, VERSION_COLUMNS, VersionRow};
        use $crate::store::sql::{CounterState, PIN_REFERENCED, now_millis, subject_locks, to_json};
        use $crate::store::{
            ConfigRecord, ContractRecord, DeleteOutcome, InsertOutcome, MissingReference, NewVersion, ReferenceTarget, SchemaRecord,
            Store, VersionRecord,
        };
        use $crate::subject::Subject;

        type Tx = sqlx::Transaction<'static, Db>;

        impl $store {
            /// A pooled connection, timing the wait.
            async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Db>> {
                let started = std::time::Instant::now();
                let connection = self.pool.acquire().await?;
                $crate::metrics::db_acquired(started.elapsed());
                Ok(connection)
            }

            /// A write transaction, timing the wait for it.
            async fn begin(&self) -> Result<Tx> {
                let started = std::time::Instant::now();
                let tx = begin_write(self).await?;
                $crate::metrics::db_acquired(started.elapsed());
                Ok(tx)
            }
        }

        type Connection = <Db as sqlx::Database>::Connection;

        /// The schema id one subject version holds and whether it is
        /// soft-deleted (`None`: no such version).
        async fn version_row(connection: &mut Connection, subject: &str, version: i32) -> Result<Option<(i64, bool)>> {
            Ok(sqlx::query_as("SELECT schema_id, deleted FROM versions WHERE subject = $1 AND version = $2")
                .bind(subject)
                .bind(version)
                .fetch_optional(connection)
                .await?)
        }

        /// The first of `targets` that is gone or holds another schema than the
        /// service resolved it to (an IMPORT overwrote it since). A soft-deleted
        /// version may be referenced, as Confluent allows when the reference
        /// names its number.
        async fn missing_reference(tx: &mut Tx, targets: &[ReferenceTarget]) -> Result<Option<MissingReference>> {
            for target in targets {
                let held = version_row(&mut **tx, &target.subject, target.version).await?.map(|(id, _)| id);
                if held != Some(target.schema_id) {
                    return Ok(Some(MissingReference { subject: target.subject.clone(), version: target.version }));
                }
            }
            Ok(None)
        }

        /// Takes the context's id counter row lock (creating the row when missing)
        /// and reads what a registration decides on: see [`CounterState`]. A
        /// permanent delete passes empty `subject` and `fingerprint` and only
        /// wants the lock.
        async fn lock_id_counter(tx: &mut Tx, context: &str, subject: &str, fingerprint: &str) -> Result<CounterState> {
            // With row locks (PostgreSQL) the lock is a statement of its own: a
            // statement that waited for a row lock still reads everything but that
            // row as of when it started, so the reads come in the next statement.
            // `SQLite`'s one writer needs no lock: one statement in the common case.
            //
            // Whether a row was locked: when the context's counter does not exist
            // yet, nothing is, and the counter must be made and locked before any
            // read (another transaction may create it in between; reading then
            // without its lock would race a third that holds it).
            async fn lock(tx: &mut Tx, context: &str) -> Result<bool> {
                if FOR_UPDATE.is_empty() {
                    return Ok(true);
                }
                let locked: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT max_id FROM id_counters WHERE context = $1{FOR_UPDATE}"
                )))
                .bind(context)
                .fetch_optional(&mut **tx)
                .await?;
                Ok(locked.is_some())
            }
            let read = || {
                sqlx::query_as::<_, (i64, Option<i64>, Option<i32>, Option<i64>, Option<String>)>(
                    "SELECT c.max_id, (SELECT MAX(s.id) FROM schemas s WHERE s.context = c.context), \
                     (SELECT MAX(v.version) FROM versions v WHERE v.subject = $2), \
                     (SELECT s.id FROM schemas s WHERE s.context = c.context AND s.fingerprint = $3), \
                     (SELECT s.schema_type FROM schemas s WHERE s.context = c.context AND s.fingerprint = $3) \
                     FROM id_counters c WHERE c.context = $1",
                )
                .bind(context)
                .bind(subject)
                .bind(fingerprint)
            };
            let found = if lock(tx, context).await? { read().fetch_optional(&mut **tx).await? } else { None };
            let (stored, max_id, max_version, existing, existing_type) = match found {
                Some(found) => found,
                None => {
                    sqlx::query("INSERT INTO contexts (name) VALUES ($1) ON CONFLICT DO NOTHING")
                        .bind(context)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("INSERT INTO id_counters (context, max_id) VALUES ($1, 0) ON CONFLICT DO NOTHING")
                        .bind(context)
                        .execute(&mut **tx)
                        .await?;
                    if !lock(tx, context).await? {
                        return Err(RegistryError::Internal(format!("the id counter of context {context} is missing")));
                    }
                    read().fetch_one(&mut **tx).await?
                }
            };
            Ok(CounterState { stored, high: stored.max(max_id.unwrap_or(0)), max_version, existing, existing_type })
        }

        /// Who stops `subject` at `version` from being deleted: a schema a live
        /// version uses or, for a permanent delete, a contract.
        async fn referrer_of(tx: &mut Tx, subject: &str, version: i32, permanent: bool) -> Result<bool> {
            // Only a live version protects what its schema references, as in
            // Confluent; a permanent delete under soft-deleted referrers pins the
            // version number instead (see `pin_referenced`).
            let live_referrer: Option<i32> = sqlx::query_scalar(
                "SELECT v.version FROM versions v JOIN schema_references r \
                 ON r.context = v.context AND r.schema_id = v.schema_id \
                 WHERE r.ref_subject = $1 AND r.ref_version = $2 AND NOT v.deleted LIMIT 1",
            )
            .bind(subject)
            .bind(version)
            .fetch_optional(&mut **tx)
            .await?;
            if live_referrer.is_some() {
                return Ok(true);
            }
            if permanent {
                let contract: Option<String> = sqlx::query_scalar(
                    "SELECT consumer FROM contract_references WHERE ref_subject = $1 AND ref_version = $2 LIMIT 1",
                )
                .bind(subject)
                .bind(version)
                .fetch_optional(&mut **tx)
                .await?;
                return Ok(contract.is_some());
            }
            Ok(false)
        }

        /// Checks that `versions` of `subject` exist in the state a delete
        /// expects (live for a soft delete, soft-deleted for a permanent one) and
        /// that nothing references them.
        async fn check_deletable(
            tx: &mut Tx,
            subject: &str,
            versions: &[i32],
            permanent: bool,
        ) -> Result<Option<DeleteOutcome>> {
            for &version in versions {
                match version_row(&mut **tx, subject, version).await? {
                    Some((_, deleted)) if deleted == permanent => {}
                    _ => return Ok(Some(DeleteOutcome::Conflict)),
                }
                if referrer_of(tx, subject, version, permanent).await? {
                    return Ok(Some(DeleteOutcome::Referenced(MissingReference {
                        subject: subject.to_owned(),
                        version,
                    })));
                }
            }
            Ok(None)
        }

        /// An IMPORT names `version`, which holds schema `held`, for another
        /// schema: Confluent overwrites the version, and so does this, unless a
        /// schema (live or soft-deleted) or a contract references the version,
        /// whose meaning would change. The schema it held keeps its id and content
        /// (an id in a message keeps meaning what it meant); when no version
        /// uses it any more it is recorded as retired, which permanent deletes
        /// never sweep.
        async fn overwrite_version(tx: &mut Tx, new: &NewVersion, version: i32, held: i64) -> Result<Option<InsertOutcome>> {
            let subject = new.subject.qualified();
            let referenced: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM schema_references WHERE ref_subject = $1 AND ref_version = $2 \
                 UNION ALL SELECT 1 FROM contract_references WHERE ref_subject = $1 AND ref_version = $2 LIMIT 1",
            )
            .bind(&subject)
            .bind(version)
            .fetch_optional(&mut **tx)
            .await?;
            // A service version's published schemas (deployment gating) keep
            // their references as JSON; those naming the subject are read whole.
            let published: Vec<(String, String)> = sqlx::query_as(
                "SELECT subject, references_json FROM service_schemas WHERE references_json LIKE $1",
            )
            .bind(format!("%{}%", new.subject.name))
            .fetch_all(&mut **tx)
            .await?;
            let names_it = |(owner, references): &(String, String)| {
                let owner = Subject::parse(owner);
                serde_json::from_str::<Vec<$crate::store::Reference>>(references).is_ok_and(|references| {
                    references.iter().any(|r| r.version == version && owner.referenced(&r.subject).qualified() == subject)
                })
            };
            if referenced.is_some() || published.iter().any(names_it) {
                return Ok(Some(InsertOutcome::VersionReferenced(MissingReference { subject, version })));
            }
            sqlx::query("DELETE FROM versions WHERE subject = $1 AND version = $2")
                .bind(&subject)
                .bind(version)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO retired_schemas (context, id, subject, version, retired_at) SELECT $1, $2, $3, $4, $5 \
                 WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.context = $1 AND v.schema_id = $2) \
                 ON CONFLICT (context, id, subject, version) DO NOTHING",
            )
            .bind(&new.subject.context)
            .bind(held)
            .bind(&subject)
            .bind(version)
            .bind(now_millis())
            .execute(&mut **tx)
            .await?;
            Ok(None)
        }

        /// The fingerprint `subject`'s `version` is pinned to, if a permanent
        /// delete left it referenced by soft-deleted schemas (migration 0008).
        async fn pin_of(tx: &mut Tx, subject: &str, version: i32) -> Result<Option<String>> {
            Ok(sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT fingerprint FROM version_pins WHERE subject = $1 AND version = $2 AND {PIN_REFERENCED}"
            )))
            .bind(subject)
            .bind(version)
            .fetch_optional(&mut **tx)
            .await?)
        }

        /// Pins `subject`'s `version`, just deleted for good and holding schema
        /// `id`, when a (soft-deleted) schema still references it. The pin holds
        /// the schema's fingerprint without the `#id` a second id of the same
        /// schema (IMPORT) carries in its row: the 32 hex digits of the MD5.
        async fn pin_referenced(tx: &mut Tx, context: &str, subject: &str, version: i32, id: i64) -> Result<()> {
            sqlx::query(
                "INSERT INTO version_pins (subject, version, fingerprint) \
                 SELECT $1, $2, substr(s.fingerprint, 1, 32) FROM schemas s WHERE s.context = $3 AND s.id = $4 \
                 AND EXISTS (SELECT 1 FROM schema_references r WHERE r.ref_subject = $1 AND r.ref_version = $2) \
                 ON CONFLICT (subject, version) DO UPDATE SET fingerprint = EXCLUDED.fingerprint",
            )
            .bind(subject)
            .bind(version)
            .bind(context)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn insert_schema(tx: &mut Tx, new: &NewVersion, id: i64, fingerprint: &str) -> Result<()> {
            let json = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string);
            sqlx::query(
                "INSERT INTO schemas (context, id, fingerprint, schema_type, schema_text, references_json, \
                 metadata_json, rule_set_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&new.subject.context)
            .bind(id)
            .bind(fingerprint)
            .bind(new.schema_type.as_str())
            .bind(&new.schema)
            .bind(to_json(&new.references)?)
            .bind(json(&new.metadata))
            .bind(json(&new.rule_set))
            .bind(now_millis())
            .execute(&mut **tx)
            .await?;
            for ReferenceTarget { subject, version, .. } in &new.reference_targets {
                sqlx::query(
                    "INSERT INTO schema_references (context, schema_id, ref_subject, ref_version) VALUES ($1, $2, $3, $4)",
                )
                .bind(&new.subject.context)
                .bind(id)
                .bind(subject)
                .bind(version)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        /// One registration's checks and writes inside `tx`: the new version (and
        /// schema, when new) on success. Any other outcome may have written part
        /// of it, so the caller commits only `Inserted` (rolling back otherwise),
        /// after telling other replicas. Takes its subject locks unless
        /// `subjects_locked` (a batch took them all first).
        async fn insert_in(tx: &mut Tx, new: &NewVersion, subjects_locked: bool) -> Result<InsertOutcome> {
            let subject = new.subject.qualified();
            let context = new.subject.context.clone();
            if !subjects_locked {
                let referenced = new.reference_targets.iter().map(|t| t.subject.as_str());
                lock_subjects(tx, &subject_locks(Some(subject.as_str()), referenced)).await?;
            }
            if let Some(missing) = missing_reference(tx, &new.reference_targets).await? {
                return Ok(InsertOutcome::ReferenceGone(missing));
            }
            let counter = lock_id_counter(tx, &context, &subject, &new.fingerprint).await?;
            let max_version = counter.max_version;
            if max_version != new.expected_max_version {
                return Ok(InsertOutcome::Conflict);
            }
            if new.explicit_id.is_none()
                && let (Some(id), Some(schema_type)) = (counter.existing, counter.existing_type.as_deref())
                && schema_type != new.schema_type.as_str()
            {
                return Ok(InsertOutcome::TypeTaken(id));
            }
            let Some((id, new_schema)) = schema_id_for(tx, new, counter.high, counter.existing).await? else {
                return Ok(InsertOutcome::IdTaken);
            };
            if id > counter.stored {
                sqlx::query("UPDATE id_counters SET max_id = $2 WHERE context = $1")
                    .bind(&context)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            // Above the highest version (just read under the lock) nothing is taken
            // but a pinned number, which only its own schema may take again; an
            // explicit (IMPORT) version may be taken or pinned.
            let version = if let Some(version) = new.explicit_version {
                if let Some((held, _)) = version_row(&mut **tx, &subject, version).await? {
                    if held == id {
                        return Ok(InsertOutcome::VersionTaken);
                    }
                    if let Some(refused) = overwrite_version(tx, new, version, held).await? {
                        return Ok(refused);
                    }
                }
                if pin_of(tx, &subject, version).await?.is_some_and(|pinned| pinned != new.fingerprint) {
                    return Ok(InsertOutcome::VersionPinned);
                }
                version
            } else {
                // The service chose the number from the pins it read; a pin made
                // since (its version was deleted for good) sends it back.
                if pin_of(tx, &subject, new.next_version).await?.is_some_and(|pinned| pinned != new.fingerprint) {
                    return Ok(InsertOutcome::Conflict);
                }
                new.next_version
            };
            // The subject's versions holding this schema already (none for a new schema).
            let holding: Vec<bool> = if new_schema {
                Vec::new()
            } else {
                sqlx::query_scalar("SELECT deleted FROM versions WHERE subject = $1 AND schema_id = $2")
                    .bind(&subject)
                    .bind(id)
                    .fetch_all(&mut **tx)
                    .await?
            };
            if holding.iter().any(|deleted| !deleted) {
                // The service saw no live version with this schema under the same
                // highest version: only an explicit (IMPORT) version gets here.
                return Ok(InsertOutcome::VersionTaken);
            }
            sqlx::query(
                "INSERT INTO versions (subject, context, version, schema_id, deleted, created_at) \
                 VALUES ($1, $2, $3, $4, FALSE, $5)",
            )
            .bind(&subject)
            .bind(&context)
            .bind(version)
            .bind(id)
            .bind(now_millis())
            .execute(&mut **tx)
            .await?;
            // A pin of this number goes: its own schema took it again (the
            // references resolve), or nothing references it any more.
            sqlx::query("DELETE FROM version_pins WHERE subject = $1 AND version = $2")
                .bind(&subject)
                .bind(version)
                .execute(&mut **tx)
                .await?;
            if holding.iter().any(|deleted| *deleted) {
                // Registering a soft-deleted schema again replaces its old versions,
                // as Confluent does, unless something still references them.
                sqlx::query(
                    "DELETE FROM versions WHERE subject = $1 AND schema_id = $2 AND deleted AND version < $3 \
                     AND NOT EXISTS (SELECT 1 FROM schema_references r WHERE r.ref_subject = versions.subject \
                     AND r.ref_version = versions.version) \
                     AND NOT EXISTS (SELECT 1 FROM contract_references c WHERE c.ref_subject = versions.subject \
                     AND c.ref_version = versions.version)",
                )
                .bind(&subject)
                .bind(id)
                .bind(version)
                .execute(&mut **tx)
                .await?;
            }
            Ok(InsertOutcome::Inserted { id, version })
        }

        /// Hands a registration to the group-commit writer and waits for its commit.
        async fn insert_version(store: &$store, new: NewVersion) -> Result<InsertOutcome> {
            let (reply, outcome) = tokio::sync::oneshot::channel();
            store
                .inserts
                .send((new, reply))
                .await
                .map_err(|_| RegistryError::Internal("the registration writer has stopped".into()))?;
            // Dropped unanswered only when its batch's task failed (a panic):
            // the transaction was dropped with it, uncommitted.
            outcome.await.map_err(|_| RegistryError::Internal("the registration's batch failed; nothing was stored".into()))?
        }

        /// The group-commit writer (module docs): one transaction for every
        /// registration of a context waiting, until the store is dropped.
        async fn group_commit(writer: sqlx::Pool<Db>, mut queue: tokio::sync::mpsc::Receiver<$crate::store::sql::PendingInsert>) {
            let mut waiting = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
                // One context per transaction: at most one counter lock each.
                while let Some((first, _)) = waiting.first() {
                    let context = first.subject.context.clone();
                    let (batch, rest): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut waiting).into_iter().partition(|(new, _)| new.subject.context == context);
                    waiting = rest;
                    // A task of its own, so a panic fails this batch (its
                    // waiters are told) and not the writer.
                    if let Err(error) = tokio::spawn(commit_batch(writer.clone(), batch)).await {
                        tracing::error!(%error, "a batch of registrations failed");
                    }
                }
            }
        }

        /// Stores `batch` in one transaction and answers each registration.
        async fn commit_batch(writer: sqlx::Pool<Db>, batch: Vec<$crate::store::sql::PendingInsert>) {
            let (news, replies): (Vec<NewVersion>, Vec<_>) = batch.into_iter().unzip();
            $crate::metrics::write_batch(news.len());
            let not_stored = |error: &RegistryError| {
                tracing::error!(%error, "a registration failed to commit");
                RegistryError::Internal(format!("the registration may not have been stored: {error}"))
            };
            let outcomes = match insert_batch(&writer, &news).await {
                Ok(outcomes) => outcomes,
                Err(error) if news.len() > 1 => {
                    // What failed the batch (a dropped connection, a deadlock, a
                    // full disk) fails it for all; one transaction each then
                    // confines it to the registrations it still fails. Were the
                    // batch stored after all (its commit's answer lost), each
                    // finds its version there and is retried as a re-registration.
                    tracing::warn!(%error, registrations = news.len(), "a batch of registrations failed; committing them one by one");
                    let mut outcomes = Vec::with_capacity(news.len());
                    for new in &news {
                        outcomes.push(match insert_batch(&writer, std::slice::from_ref(new)).await {
                            Ok(alone) => alone.into_iter().next().unwrap_or(Ok(InsertOutcome::Conflict)),
                            Err(error) => Err(not_stored(&error)),
                        });
                    }
                    outcomes
                }
                Err(error) => vec![Err(not_stored(&error))],
            };
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }

        /// Runs `news` in one transaction, each after its own savepoint; the
        /// outcome of each, or the error that stored none of them.
        async fn insert_batch(writer: &sqlx::Pool<Db>, news: &[NewVersion]) -> Result<Vec<Result<InsertOutcome>>> {
            let inserted = |outcome: &Result<InsertOutcome>| matches!(outcome, Ok(InsertOutcome::Inserted { .. }));
            let started = std::time::Instant::now();
            let mut tx = begin_batch(writer).await?;
            $crate::metrics::db_acquired(started.elapsed());
            if let [new] = news {
                // Alone in its transaction: the transaction is its savepoint.
                let outcome = insert_in(&mut tx, new, false).await;
                if inserted(&outcome) {
                    notify(&mut tx, "version").await?;
                    tx.commit().await?;
                }
                return Ok(vec![outcome]);
            }
            // Every subject lock of the batch first, in the global order: a
            // registration taking its own later could wait on another batch
            // that waits on this one's counter lock.
            let written: Vec<String> = news.iter().map(|new| new.subject.qualified()).collect();
            let referenced = news.iter().flat_map(|new| new.reference_targets.iter().map(|t| t.subject.as_str()));
            lock_subjects(&mut tx, &subject_locks(written.iter().map(String::as_str), referenced)).await?;
            let mut outcomes = Vec::with_capacity(news.len());
            for new in news {
                // Savepoints stack up until the commit; a rollback undoes only the
                // writes since the latest one of the name, this registration's.
                sqlx::query("SAVEPOINT registration").execute(&mut *tx).await?;
                let outcome = insert_in(&mut tx, new, true).await;
                if !inserted(&outcome) {
                    sqlx::query("ROLLBACK TO SAVEPOINT registration").execute(&mut *tx).await?;
                }
                outcomes.push(outcome);
            }
            if outcomes.iter().any(inserted) {
                notify(&mut tx, "version").await?;
            }
            tx.commit().await?;
            Ok(outcomes)
        }

        /// The id a registration stores under and whether its schema row is
        /// new (inserted here); `None` when an explicit id holds another schema.
        /// Called under the context's counter lock, with the id `existing` that
        /// holds the schema's fingerprint already.
        async fn schema_id_for(
            tx: &mut Tx,
            new: &NewVersion,
            counter: i64,
            existing: Option<i64>,
        ) -> Result<Option<(i64, bool)>> {
            let context = &new.subject.context;
            let Some(id) = new.explicit_id else {
                if let Some(id) = existing {
                    return Ok(Some((id, false)));
                }
                let id = counter + 1;
                insert_schema(tx, new, id, &new.fingerprint).await?;
                return Ok(Some((id, true)));
            };
            let holder: Option<String> =
                sqlx::query_scalar("SELECT fingerprint FROM schemas WHERE context = $1 AND id = $2")
                    .bind(context)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
            match holder {
                Some(fingerprint) if fingerprint == new.fingerprint || fingerprint == format!("{}#{id}", new.fingerprint) => {
                    Ok(Some((id, false)))
                }
                Some(_) => Ok(None),
                None => {
                    // IMPORT may give the same schema a second id; its row keeps
                    // the fingerprint unique by carrying the id.
                    let fingerprint = if existing.is_some() { format!("{}#{id}", new.fingerprint) } else { new.fingerprint.clone() };
                    insert_schema(tx, new, id, &fingerprint).await?;
                    Ok(Some((id, true)))
                }
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            async fn ready(&self) -> std::result::Result<(), String> {
                let applied: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                        .fetch_one(&mut *self.acquire().await.map_err(|e| format!("storage unreachable: {e}"))?)
                        .await
                        .map_err(|e| format!("storage unreachable: {e}"))?;
                let known = MIGRATOR.iter().count() as i64;
                if applied < known {
                    return Err(format!("migrations pending: {applied} of {known} applied"));
                }
                Ok(())
            }

            fn pool_stats(&self) -> (usize, usize) {
                let idle = self.pool.num_idle();
                (self.pool.size() as usize - idle.min(self.pool.size() as usize), idle)
            }

            async fn counts(&self) -> Result<(i64, i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT (SELECT COUNT(DISTINCT subject) FROM versions WHERE NOT deleted), \
                     (SELECT COUNT(*) FROM versions), (SELECT COUNT(*) FROM schemas)",
                )
                .fetch_one(&mut *self.acquire().await?)
                .await?)
            }

            fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
                self.change_feed()
            }

            #[tracing::instrument(name = "store.versions_list", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_list(&self, subject: &Subject) -> Result<Vec<VersionRecord>> {
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions WHERE subject = $1 ORDER BY version"
                )))
                .bind(subject.qualified())
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.version_pins", skip_all, fields(db.system = DB_SYSTEM))]
            async fn version_pins(&self, subject: &Subject) -> Result<Vec<(i32, String)>> {
                Ok(sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT version, fingerprint FROM version_pins WHERE subject = $1 AND {PIN_REFERENCED} ORDER BY version"
                )))
                .bind(subject.qualified())
                .fetch_all(&mut *self.acquire().await?)
                .await?)
            }

            #[tracing::instrument(name = "store.version_holds", skip_all, fields(db.system = DB_SYSTEM))]
            async fn version_holds(&self, subject: &str, version: i32, id: i64) -> Result<bool> {
                Ok(version_row(&mut *self.acquire().await?, subject, version).await? == Some((id, false)))
            }

            #[tracing::instrument(name = "store.versions_all", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_all(&self) -> Result<Vec<VersionRecord>> {
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions ORDER BY subject, version"
                )))
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.subjects_after", skip_all, fields(db.system = DB_SYSTEM))]
            async fn subjects_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, i64)>> {
                // Grouped along the (subject, version) index in its order, so a
                // page reads only its own subjects' versions.
                Ok(sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT subject{BYTE_ORDER} AS name, COUNT(*) FILTER (WHERE NOT deleted) FROM versions \
                     WHERE subject{BYTE_ORDER} > $1 GROUP BY 1 ORDER BY 1 LIMIT $2"
                )))
                .bind(after.unwrap_or(""))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *self.acquire().await?)
                .await?)
            }

            #[tracing::instrument(name = "store.versions_after", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_after(&self, after: Option<(&str, i32)>, limit: usize) -> Result<Vec<VersionRecord>> {
                // No subject is empty, so ("", 0) comes before every version.
                let (subject, version) = after.unwrap_or(("", 0));
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions \
                     WHERE subject{BYTE_ORDER} > $1 OR (subject = $1 AND version > $2) \
                     ORDER BY subject{BYTE_ORDER}, version LIMIT $3"
                )))
                .bind(subject)
                .bind(version)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.versions_page", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_page(
                &self,
                context: &str,
                include_deleted: bool,
                latest_only: bool,
                offset: usize,
                limit: usize,
            ) -> Result<Vec<VersionRecord>> {
                // The latest kept version of its subject, found along the
                // (subject, version) index.
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions v WHERE context = $1 AND (NOT deleted OR $2) \
                     AND (NOT $5 OR version = (SELECT MAX(w.version) FROM versions w \
                                               WHERE w.subject = v.subject AND (NOT w.deleted OR $2))) \
                     ORDER BY subject{BYTE_ORDER}, version LIMIT $3 OFFSET $4"
                )))
                .bind(context)
                .bind(include_deleted)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .bind(latest_only)
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.versions_by_schema", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_by_schema(&self, context: &str, id: i64) -> Result<Vec<VersionRecord>> {
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions WHERE context = $1 AND schema_id = $2 ORDER BY subject, version"
                )))
                .bind(context)
                .bind(id)
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.versions_referencing", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_referencing(&self, subject: &str, version: i32) -> Result<Vec<VersionRecord>> {
                let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM versions v WHERE EXISTS (SELECT 1 FROM schema_references r \
                     WHERE r.ref_subject = $1 AND r.ref_version = $2 AND r.context = v.context AND r.schema_id = v.schema_id) \
                     ORDER BY subject, version"
                )))
                .bind(subject)
                .bind(version)
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            #[tracing::instrument(name = "store.version_insert", skip_all, fields(db.system = DB_SYSTEM))]
            async fn version_insert(&self, new: NewVersion) -> Result<InsertOutcome> {
                insert_version(self, new).await
            }

            #[tracing::instrument(name = "store.versions_soft_delete", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_soft_delete(&self, subject: &Subject, versions: &[i32]) -> Result<DeleteOutcome> {
                let qualified = subject.qualified();
                let mut tx = self.begin().await?;
                lock_subjects(&mut tx, &subject_locks(Some(qualified.as_str()), [])).await?;
                if let Some(refused) = check_deletable(&mut tx, &qualified, versions, false).await? {
                    return Ok(refused);
                }
                for version in versions {
                    sqlx::query("UPDATE versions SET deleted = TRUE WHERE subject = $1 AND version = $2")
                        .bind(&qualified)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                }
                notify(&mut tx, "delete").await?;
                tx.commit().await?;
                Ok(DeleteOutcome::Deleted)
            }

            #[tracing::instrument(name = "store.versions_hard_delete", skip_all, fields(db.system = DB_SYSTEM))]
            async fn versions_hard_delete(
                &self,
                subject: &Subject,
                versions: &[i32],
                purge_settings: bool,
            ) -> Result<DeleteOutcome> {
                let qualified = subject.qualified();
                let mut tx = self.begin().await?;
                lock_subjects(&mut tx, &subject_locks(Some(qualified.as_str()), [])).await?;
                if let Some(refused) = check_deletable(&mut tx, &qualified, versions, true).await? {
                    return Ok(refused);
                }
                lock_id_counter(&mut tx, &subject.context, "", "").await?;
                let mut schema_ids = Vec::new();
                for version in versions {
                    let id: i64 = sqlx::query_scalar(
                        "DELETE FROM versions WHERE subject = $1 AND version = $2 RETURNING schema_id",
                    )
                    .bind(&qualified)
                    .bind(version)
                    .fetch_one(&mut *tx)
                    .await?;
                    pin_referenced(&mut tx, &subject.context, &qualified, *version, id).await?;
                    schema_ids.push(id);
                }
                schema_ids.sort_unstable();
                schema_ids.dedup();
                // A schema no version uses any more is gone (its references go with
                // it): the same text registered later gets a new id, since the
                // counter never hands an old one out again.
                for id in &schema_ids {
                    sqlx::query(
                        "DELETE FROM schemas WHERE context = $1 AND id = $2 \
                         AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.context = $1 AND v.schema_id = $2) \
                         AND NOT EXISTS (SELECT 1 FROM retired_schemas r WHERE r.context = $1 AND r.id = $2)",
                    )
                    .bind(&subject.context)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                // Pins nothing references any more (their referrers just went) go.
                sqlx::query(AssertSqlSafe(format!("DELETE FROM version_pins WHERE NOT {PIN_REFERENCED}")))
                .execute(&mut *tx)
                .await?;
                if purge_settings {
                    sqlx::query("DELETE FROM configs WHERE scope = $1").bind(&qualified).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM modes WHERE scope = $1").bind(&qualified).execute(&mut *tx).await?;
                }
                notify(&mut tx, &$crate::store::purge_notice(&subject.context, &schema_ids)).await?;
                tx.commit().await?;
                Ok(DeleteOutcome::Deleted)
            }

            #[tracing::instrument(name = "store.schema_get", skip_all, fields(db.system = DB_SYSTEM))]
            async fn schema_get(&self, context: &str, id: i64) -> Result<Option<SchemaRecord>> {
                let row: Option<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = $1 AND id = $2"
                )))
                .bind(context)
                .bind(id)
                .fetch_optional(&mut *self.acquire().await?)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            #[tracing::instrument(name = "store.schemas_after", skip_all, fields(db.system = DB_SYSTEM))]
            async fn schemas_after(&self, after: Option<(&str, i64)>, limit: usize) -> Result<Vec<SchemaRecord>> {
                // Every context sorts after or with "", and every id after i64::MIN:
                // the primary key's order, read along its index.
                let (context, id) = after.unwrap_or(("", i64::MIN));
                let rows: Vec<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE (context, id) > ($1, $2) ORDER BY context, id LIMIT $3"
                )))
                .bind(context)
                .bind(id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            #[tracing::instrument(name = "store.schema_max_id", skip_all, fields(db.system = DB_SYSTEM))]
            async fn schema_max_id(&self, context: &str) -> Result<i64> {
                let max: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(m) FROM (SELECT max_id AS m FROM id_counters WHERE context = $1 \
                     UNION ALL SELECT MAX(id) AS m FROM schemas WHERE context = $1) t",
                )
                .bind(context)
                .fetch_one(&mut *self.acquire().await?)
                .await?;
                Ok(max.unwrap_or(0))
            }

            #[tracing::instrument(name = "store.contexts_list", skip_all, fields(db.system = DB_SYSTEM))]
            async fn contexts_list(&self) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT name FROM contexts ORDER BY name").fetch_all(&mut *self.acquire().await?).await?)
            }

            #[tracing::instrument(name = "store.config_get", skip_all, fields(db.system = DB_SYSTEM))]
            async fn config_get(&self, scope: &str) -> Result<Option<ConfigRecord>> {
                let body: Option<String> = sqlx::query_scalar("SELECT body FROM configs WHERE scope = $1")
                    .bind(scope)
                    .fetch_optional(&mut *self.acquire().await?)
                    .await?;
                body.map(|b| {
                    serde_json::from_str(&b).map_err(|e| RegistryError::Internal(format!("corrupt config {scope}: {e}")))
                })
                .transpose()
            }

            async fn configs_all(&self) -> Result<Vec<(String, ConfigRecord)>> {
                let rows: Vec<(String, String)> = sqlx::query_as("SELECT scope, body FROM configs ORDER BY scope")
                    .fetch_all(&mut *self.acquire().await?)
                    .await?;
                rows.into_iter()
                    .map(|(scope, body)| {
                        let config = serde_json::from_str(&body)
                            .map_err(|e| RegistryError::Internal(format!("corrupt config {scope}: {e}")))?;
                        Ok((scope, config))
                    })
                    .collect()
            }

            #[tracing::instrument(name = "store.config_put", skip_all, fields(db.system = DB_SYSTEM))]
            async fn config_put(&self, scope: &str, config: &ConfigRecord) -> Result<()> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO configs (scope, body) VALUES ($1, $2) \
                     ON CONFLICT (scope) DO UPDATE SET body = EXCLUDED.body",
                )
                .bind(scope)
                .bind(to_json(config)?)
                .execute(&mut *tx)
                .await?;
                notify(&mut tx, "config").await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.config_delete", skip_all, fields(db.system = DB_SYSTEM))]
            async fn config_delete(&self, scope: &str) -> Result<()> {
                let mut tx = self.begin().await?;
                sqlx::query("DELETE FROM configs WHERE scope = $1").bind(scope).execute(&mut *tx).await?;
                notify(&mut tx, "config").await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.contract_put", skip_all, fields(db.system = DB_SYSTEM))]
            async fn contract_put(
                &self,
                contract: &ContractRecord,
                reference_targets: &[ReferenceTarget],
            ) -> Result<Option<MissingReference>> {
                let mut tx = self.begin().await?;
                lock_subjects(&mut tx, &subject_locks(None::<&str>, reference_targets.iter().map(|t| t.subject.as_str()))).await?;
                if let Some(missing) = missing_reference(&mut tx, reference_targets).await? {
                    return Ok(Some(missing));
                }
                sqlx::query(
                    "INSERT INTO contracts (subject, consumer, schema_type, schema_text, references_json, \
                     consumer_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (subject, consumer) DO UPDATE SET schema_type = EXCLUDED.schema_type, \
                     schema_text = EXCLUDED.schema_text, references_json = EXCLUDED.references_json, \
                     consumer_version = EXCLUDED.consumer_version, updated_at = EXCLUDED.updated_at",
                )
                .bind(&contract.subject)
                .bind(&contract.consumer)
                .bind(contract.schema_type.as_str())
                .bind(&contract.schema)
                .bind(to_json(&contract.references)?)
                .bind(&contract.consumer_version)
                .bind(contract.created_at)
                .bind(contract.updated_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM contract_references WHERE subject = $1 AND consumer = $2")
                    .bind(&contract.subject)
                    .bind(&contract.consumer)
                    .execute(&mut *tx)
                    .await?;
                for ReferenceTarget { subject, version, .. } in reference_targets {
                    sqlx::query(
                        "INSERT INTO contract_references (subject, consumer, ref_subject, ref_version) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&contract.subject)
                    .bind(&contract.consumer)
                    .bind(subject)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(None)
            }

            #[tracing::instrument(name = "store.contract_get", skip_all, fields(db.system = DB_SYSTEM))]
            async fn contract_get(&self, subject: &str, consumer: &str) -> Result<Option<ContractRecord>> {
                let row: Option<ContractRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = $1 AND consumer = $2"
                )))
                .bind(subject)
                .bind(consumer)
                .fetch_optional(&mut *self.acquire().await?)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            #[tracing::instrument(name = "store.contracts_list", skip_all, fields(db.system = DB_SYSTEM))]
            async fn contracts_list(&self, subject: &str) -> Result<Vec<ContractRecord>> {
                let rows: Vec<ContractRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = $1 ORDER BY consumer"
                )))
                .bind(subject)
                .fetch_all(&mut *self.acquire().await?)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            #[tracing::instrument(name = "store.contract_delete", skip_all, fields(db.system = DB_SYSTEM))]
            async fn contract_delete(&self, subject: &str, consumer: &str) -> Result<bool> {
                let mut tx = self.begin().await?;
                let done = sqlx::query("DELETE FROM contracts WHERE subject = $1 AND consumer = $2")
                    .bind(subject)
                    .bind(consumer)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(name = "store.mode_get", skip_all, fields(db.system = DB_SYSTEM))]
            async fn mode_get(&self, scope: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT mode FROM modes WHERE scope = $1")
                    .bind(scope)
                    .fetch_optional(&mut *self.acquire().await?)
                    .await?)
            }

            #[tracing::instrument(name = "store.mode_put", skip_all, fields(db.system = DB_SYSTEM))]
            async fn mode_put(&self, scope: &str, mode: &str) -> Result<()> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO modes (scope, mode) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET mode = EXCLUDED.mode",
                )
                .bind(scope)
                .bind(mode)
                .execute(&mut *tx)
                .await?;
                notify(&mut tx, "mode").await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.mode_delete", skip_all, fields(db.system = DB_SYSTEM))]
            async fn mode_delete(&self, scope: &str) -> Result<()> {
                let mut tx = self.begin().await?;
                sqlx::query("DELETE FROM modes WHERE scope = $1").bind(scope).execute(&mut *tx).await?;
                notify(&mut tx, "mode").await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(super) use sql_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_locks_are_sorted_deduplicated_and_exclusive_wins() {
        let locks = subject_locks(Some("a"), ["b", "a", "c", "b"]);
        assert_eq!(locks.len(), 3);
        assert!(locks.windows(2).all(|w| w[0].key < w[1].key), "sorted by key");
        assert_eq!(locks.iter().filter(|l| l.exclusive).count(), 1);
        assert!(locks.iter().any(|l| l.exclusive && l.key == lock_key("a")));
        assert_eq!(lock_key("orders-value"), lock_key("orders-value"));
        assert_ne!(lock_key("orders-value"), lock_key("orders-key"));
    }
}
