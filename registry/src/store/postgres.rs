//! The PostgreSQL store, for several `stele serve` replicas on one database.
//! The write transactions are [`sql`](super::sql)'s; this module supplies
//! what PostgreSQL does its own way: advisory locks per subject, `FOR UPDATE`
//! row locks, and `NOTIFY` on `stele_changes` so replicas drop cached answers.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use tokio::sync::{broadcast, mpsc};

use super::sql::{SubjectLock, sql_store};

/// The `db.system` of store spans.
const DB_SYSTEM: &str = "postgresql";

type Db = Postgres;

/// The channel replicas listen on.
pub const CHANNEL: &str = "stele_changes";

/// What the change feed says when notifications may have been lost: every
/// cached answer must go.
pub const RECONNECTED: &str = "reconnect";

/// The migrations this build applies.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// At most this many registrations share one transaction: each runs in a
/// savepoint, and PostgreSQL keeps 64 subtransactions per backend in shared
/// memory; past them, every other session's snapshot reads `pg_subtrans`.
const MAX_BATCH: usize = 32;

pub struct PostgresStore {
    pool: PgPool,
    changes: broadcast::Sender<String>,
    /// The group-commit writer's queue (see [`sql`](super::sql)).
    inserts: mpsc::Sender<super::sql::PendingInsert>,
}

impl PostgresStore {
    /// Connects, runs the migrations (once, even with replicas starting together)
    /// and starts listening for other replicas' writes.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        // Replicas starting at once must not run the migrations twice.
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7263542)").execute(&mut *tx).await?;
        MIGRATOR.run(&mut *tx).await.map_err(|e| RegistryError::Internal(format!("migrations failed: {e}")))?;
        tx.commit().await?;
        let (changes, _) = broadcast::channel(1024);
        let listener = listen(&pool).await?;
        tokio::spawn(forward_changes(pool.clone(), listener, changes.clone()));
        let (inserts, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(pool.clone(), queue));
        Ok(PostgresStore { pool, changes, inserts })
    }

    #[expect(clippy::unnecessary_wraps, reason = "the shared Store implementation calls it on every backend")]
    fn change_feed(&self) -> Option<broadcast::Receiver<String>> {
        Some(self.changes.subscribe())
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forwards other replicas' notifications to `sender`, for as long as the pool
/// lives.
///
/// A notification sent while the LISTEN connection is down is lost for good, so
/// whenever the connection is lost (terminated by an administrator, a
/// PostgreSQL restart, a network error) this listens again on a new connection
/// and only *then* sends [`RECONNECTED`]: every write that committed before the
/// new LISTEN took effect is covered by dropping every cached answer, and every
/// later one notifies as usual.
async fn forward_changes(pool: PgPool, mut listener: PgListener, sender: broadcast::Sender<String>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let _ = sender.send(notification.payload().to_owned());
            }
            // sqlx has already listened again on a new connection.
            Ok(None) => {
                tracing::warn!("the change notification connection was lost and is back; dropping every cached answer");
                let _ = sender.send(RECONNECTED.to_owned());
            }
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %error, "lost the change notifications; listening again");
                let mut delay = Duration::from_millis(50);
                listener = loop {
                    match listen(&pool).await {
                        Ok(listener) => break listener,
                        Err(error) => {
                            tracing::warn!(error = %error, "cannot listen for changes yet");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(2));
                        }
                    }
                };
                let _ = sender.send(RECONNECTED.to_owned());
            }
        }
    }
}

async fn begin_write(store: &PostgresStore) -> Result<Tx> {
    begin_batch(&store.pool).await
}

/// A group commit's transaction.
async fn begin_batch(pool: &PgPool) -> Result<Tx> {
    Ok(pool.begin().await?)
}

/// Takes transaction-scoped advisory locks, in the order given (sorted by key).
async fn lock_subjects(tx: &mut Tx, locks: &[SubjectLock]) -> Result<()> {
    for lock in locks {
        let sql =
            if lock.exclusive { "SELECT pg_advisory_xact_lock($1)" } else { "SELECT pg_advisory_xact_lock_shared($1)" };
        sqlx::query(sql).bind(lock.key).execute(&mut **tx).await?;
    }
    Ok(())
}

const FOR_UPDATE: &str = " FOR UPDATE";

/// Text compared by its bytes, not the database's collation (index
/// `versions_subject_bytes`).
const BYTE_ORDER: &str = " COLLATE \"C\"";

/// Announces a committed write to every replica (delivered at commit), as
/// `kind@millis`: what changed and when, for the invalidation-lag metric.
async fn notify(tx: &mut Tx, kind: &str) -> Result<()> {
    let payload = format!("{kind}@{}", super::now_millis());
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&mut **tx).await?;
    Ok(())
}

sql_store!(PostgresStore);
super::deploy::deploy_store!(PostgresStore);
super::audit::audit_store!(PostgresStore);
super::browse::browse_store!(PostgresStore);
super::webhooks::webhook_store!(PostgresStore);
