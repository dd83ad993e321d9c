//! The `SQLite` store: one file, WAL journal, `synchronous=FULL` so that a
//! write answered with 200 is in the file before the answer goes out.
//!
//! `SQLite` allows one writer at a time, and every write transaction takes the
//! write lock when it begins (`BEGIN IMMEDIATE`), so the checks and writes of
//! [`sql`](super::sql) never interleave with another writer: per-subject locks
//! and row locks are not needed here.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::broadcast;

use super::sql::{SubjectLock, sql_store};

/// The `db.system` of store spans.
const DB_SYSTEM: &str = "sqlite";

type Db = Sqlite;

/// The migrations this build applies.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        MIGRATOR.run(&pool).await.map_err(|e| RegistryError::Internal(format!("migrations failed: {e}")))?;
        Ok(SqliteStore { pool })
    }

    /// Nothing else writes to this file while the process holds it.
    #[expect(clippy::unused_self, reason = "the shared Store implementation calls it on every backend")]
    fn change_feed(&self) -> Option<broadcast::Receiver<String>> {
        None
    }
}

/// Every write transaction holds the database's one write lock from its start.
async fn begin_write(pool: &SqlitePool) -> Result<Tx> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// The write lock already excludes every other writer.
#[expect(clippy::unused_async, reason = "the same signature as PostgreSQL's, which waits")]
async fn lock_subjects(_tx: &mut Tx, _locks: &[SubjectLock]) -> Result<()> {
    Ok(())
}

/// Row locks: the write lock covers them.
const FOR_UPDATE: &str = "";

/// No other process shares the file.
#[expect(clippy::unused_async, reason = "the same signature as PostgreSQL's, which writes")]
async fn notify(_tx: &mut Tx, _kind: &str) -> Result<()> {
    Ok(())
}

sql_store!(SqliteStore);
