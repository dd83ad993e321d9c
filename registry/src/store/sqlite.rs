//! The `SQLite` store: one file, WAL journal, `synchronous=FULL` so that a
//! write answered with 200 is in the file before the answer goes out.
//!
//! `SQLite` allows one writer at a time, and every write transaction takes the
//! write lock when it begins (`BEGIN IMMEDIATE`), so the checks and writes of
//! [`sql`](super::sql) never interleave with another writer: per-subject locks
//! and row locks are not needed here.
//!
//! # One writer connection
//! Write transactions run on a pool of one connection, so they queue in
//! process (woken as soon as the previous one ends) instead of meeting at
//! `SQLite`'s write lock, whose busy handler sleeps and retries: a group
//! commit and an audit batch arriving together would otherwise cost one of
//! them up to 100 ms of sleep. Reads use the other pool and, in WAL mode, never
//! wait for the writer. Checkpoints (copying the WAL back into the database
//! file) stay `SQLite`'s own, on the writer after a commit crosses 1,000 pages:
//! a checkpointer beside a busy writer never catches up with the end of the
//! WAL, which then never starts over and grows without bound (10 GB in a
//! few minutes of loading schemas, all of which a restart must read).
//!
//! # Group commit
//! With one writer, every transaction pays its own `fsync`. New versions go
//! through [`sql`](super::sql)'s group commit: one flush per batch.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{broadcast, mpsc};

use super::sql::{SubjectLock, sql_store};

/// The `db.system` of store spans.
const DB_SYSTEM: &str = "sqlite";

type Db = Sqlite;

/// The migrations this build applies.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// At most this many registrations share one transaction.
const MAX_BATCH: usize = 128;

pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Write transactions: one connection (see the module docs).
    writer: SqlitePool,
    /// The group-commit writer's queue (see the module docs).
    inserts: mpsc::Sender<super::sql::PendingInsert>,
    /// Held while the store is open: see [`SqliteStore::connect`].
    _exclusive: Option<std::fs::File>,
    /// Keeps the planner's statistics fresh while the store is open.
    _optimizer: AbortOnDrop,
}

/// How often the planner's statistics are brought up to date.
const OPTIMIZE_EVERY: Duration = Duration::from_hours(1);

/// Brings the query planner's statistics (`sqlite_stat1`) up to date where
/// tables changed a lot since they were taken: `PRAGMA optimize`, on every
/// table (0x10000), reading a sample of each index (`SQLite` limits the
/// analysis itself), a few milliseconds at a million versions. Without
/// statistics the planner takes the `(context, schema_id)` index for a
/// listing of the default context, which every version matches, and sorts
/// them all for a page of ten: 0.1-4 s at a million versions, against
/// milliseconds along the `(subject, version)` key.
async fn optimize(writer: &SqlitePool) -> Result<()> {
    sqlx::query("PRAGMA optimize=0x10002").execute(writer).await?;
    Ok(())
}

/// Runs [`optimize`] every `period`, until aborted.
async fn optimize_every(period: Duration, writer: SqlitePool) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        if let Err(error) = optimize(&writer).await {
            tracing::warn!(%error, "updating the query planner's statistics failed");
        }
    }
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` and runs the migrations.
    ///
    /// One process serves a database file: its caches are only invalidated by
    /// its own writes, so a second `stele serve` on the same file would answer
    /// from stale memory. A lock file beside the database (`<file>.stele-lock`,
    /// released by the kernel when the process ends, however it ends) refuses
    /// the second one with a clear error.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?;
        let exclusive = exclusive_lock(options.get_filename())?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // Savepoints' journals (group commit) stay in memory, not in temporary files.
            .pragma("temp_store", "MEMORY");
        // Readers keep a page cache of 1 MiB each (SQLite's default is 2): the
        // service's caches answer the hot reads, and eight full page caches
        // would be a sixth of the registry's memory on a small registry.
        let readers = options.clone().pragma("cache_size", "-1024");
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(readers).await?;
        MIGRATOR.run(&pool).await.map_err(|e| RegistryError::Internal(format!("migrations failed: {e}")))?;
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        optimize(&writer).await?;
        let optimizer = AbortOnDrop(tokio::spawn(optimize_every(OPTIMIZE_EVERY, writer.clone())));
        let (inserts, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(writer.clone(), queue));
        Ok(SqliteStore { pool, writer, inserts, _exclusive: exclusive, _optimizer: optimizer })
    }

    /// Nothing else writes to this file while the process holds it.
    #[expect(clippy::unused_self, reason = "the shared Store implementation calls it on every backend")]
    fn change_feed(&self) -> Option<broadcast::Receiver<String>> {
        None
    }
}

/// Takes the lock that keeps a second process off the database file (none for
/// an in-memory database).
fn exclusive_lock(database: &std::path::Path) -> Result<Option<std::fs::File>> {
    let name = database.as_os_str().to_string_lossy();
    if name.is_empty() || name == ":memory:" {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(format!("{name}.stele-lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| RegistryError::Internal(format!("cannot open the lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(RegistryError::Internal(format!(
            "another process already serves the SQLite database {}: one `stele serve` per SQLite file \
             (its caches would go stale); run several replicas on PostgreSQL instead",
            database.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(RegistryError::Internal(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// Every write transaction holds the database's one write lock from its start,
/// on the one writer connection.
async fn begin_write(store: &SqliteStore) -> Result<Tx> {
    begin_batch(&store.writer).await
}

/// A group commit's transaction, on the one writer connection.
async fn begin_batch(writer: &SqlitePool) -> Result<Tx> {
    Ok(writer.begin_with("BEGIN IMMEDIATE").await?)
}

/// The write lock already excludes every other writer.
#[expect(clippy::unused_async, reason = "the same signature as PostgreSQL's, which waits")]
async fn lock_subjects(_tx: &mut Tx, _locks: &[SubjectLock]) -> Result<()> {
    Ok(())
}

/// Row locks: the write lock covers them.
const FOR_UPDATE: &str = "";

/// `SQLite` compares text by its bytes.
const BYTE_ORDER: &str = "";

/// No other process shares the file.
#[expect(clippy::unused_async, reason = "the same signature as PostgreSQL's, which writes")]
async fn notify(_tx: &mut Tx, _kind: &str) -> Result<()> {
    Ok(())
}

sql_store!(SqliteStore);
super::deploy::deploy_store!(SqliteStore);
super::audit::audit_store!(SqliteStore);
super::browse::browse_store!(SqliteStore);
super::webhooks::webhook_store!(SqliteStore);
