//! The PostgreSQL store, for several `stele serve` replicas on one database.
//! See the migration's header for how concurrent registrations stay
//! consistent; every committed write NOTIFYs `stele_changes`.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use tokio::sync::broadcast;

use super::rows::{CONTRACT_COLUMNS, ContractRow, SCHEMA_COLUMNS, SchemaRow, VERSION_COLUMNS, VersionRow};
use super::{ConfigRecord, ContractRecord, InsertOutcome, NewVersion, SchemaRecord, Store, VersionRecord};
use crate::error::{RegistryError, Result};
use crate::subject::Subject;

/// The channel replicas listen on.
pub const CHANNEL: &str = "stele_changes";

pub struct PostgresStore {
    pool: PgPool,
    changes: broadcast::Sender<String>,
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Announces a committed write to every replica (delivered at commit).
async fn notify(tx: &mut Transaction<'_, Postgres>, kind: &str) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(kind).execute(&mut **tx).await?;
    Ok(())
}

/// Serializes writers of one subject across replicas, until the transaction ends.
async fn lock_subject(tx: &mut Transaction<'_, Postgres>, subject: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(subject).execute(&mut **tx).await?;
    Ok(())
}

impl PostgresStore {
    /// Connects, runs the migrations (once, even with replicas starting together)
    /// and starts listening for other replicas' writes.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        // Replicas starting at once must not run the migrations twice.
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7263542)").execute(&mut *tx).await?;
        sqlx::migrate!("migrations/postgres")
            .run(&mut *tx)
            .await
            .map_err(|e| RegistryError::Internal(format!("migrations failed: {e}")))?;
        tx.commit().await?;
        let (changes, _) = broadcast::channel(1024);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let sender = changes.clone();
        // Why a task: notifications arrive on their own connection, whenever
        // another replica commits; the registry subscribes to `sender`.
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        let _ = sender.send(notification.payload().to_owned());
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "lost the change notifications; dropping every cached answer");
                        let _ = sender.send("reconnect".to_owned());
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Ok(PostgresStore { pool, changes })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn changes(&self) -> Option<broadcast::Receiver<String>> {
        Some(self.changes.subscribe())
    }

    async fn versions_list(&self, subject: &Subject) -> Result<Vec<VersionRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE subject = $1 ORDER BY version"
        )))
        .bind(subject.qualified())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn versions_all(&self) -> Result<Vec<VersionRecord>> {
        let rows: Vec<VersionRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {VERSION_COLUMNS} FROM versions ORDER BY subject, version")))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn versions_by_schema(&self, context: &str, id: i64) -> Result<Vec<VersionRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE context = $1 AND schema_id = $2 ORDER BY subject, version"
        )))
        .bind(context)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn versions_referencing(&self, subject: &str, version: i32) -> Result<Vec<VersionRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM versions v WHERE EXISTS (SELECT 1 FROM schema_references r \
             WHERE r.ref_subject = $1 AND r.ref_version = $2 AND r.context = v.context AND r.schema_id = v.schema_id) \
             ORDER BY subject, version"
        )))
        .bind(subject)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn version_insert(&self, new: NewVersion) -> Result<InsertOutcome> {
        let mut tx = self.pool.begin().await?;
        let context = new.subject.context.clone();
        let subject = new.subject.qualified();
        lock_subject(&mut tx, &subject).await?;
        let max_version: Option<i32> = sqlx::query_scalar("SELECT MAX(version) FROM versions WHERE subject = $1")
            .bind(&subject)
            .fetch_one(&mut *tx)
            .await?;
        if new.expected_max_version.is_some() && max_version != new.expected_max_version {
            return Ok(InsertOutcome::Conflict);
        }
        sqlx::query("INSERT INTO contexts (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(&context)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO id_counters (context, max_id) VALUES ($1, 0) ON CONFLICT DO NOTHING")
            .bind(&context)
            .execute(&mut *tx)
            .await?;
        // The counter row lock orders id allocation in a context across replicas;
        // the fingerprint lookup after it sees what the previous holder committed.
        let counter: i64 = sqlx::query_scalar("SELECT max_id FROM id_counters WHERE context = $1 FOR UPDATE")
            .bind(&context)
            .fetch_one(&mut *tx)
            .await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM schemas WHERE context = $1 AND fingerprint = $2")
                .bind(&context)
                .bind(&new.fingerprint)
                .fetch_optional(&mut *tx)
                .await?;
        let id = match (new.explicit_id, existing) {
            (Some(id), _) => {
                let holder: Option<String> =
                    sqlx::query_scalar("SELECT fingerprint FROM schemas WHERE context = $1 AND id = $2")
                        .bind(&context)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match holder {
                    Some(fingerprint) if fingerprint != new.fingerprint => return Ok(InsertOutcome::IdTaken),
                    Some(_) => id,
                    None => {
                        let fingerprint = if existing.is_some() {
                            format!("{}#{id}", new.fingerprint)
                        } else {
                            new.fingerprint.clone()
                        };
                        insert_schema(&mut tx, &new, id, &fingerprint).await?;
                        id
                    }
                }
            }
            (None, Some(id)) => id,
            (None, None) => {
                let max_id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM schemas WHERE context = $1")
                    .bind(&context)
                    .fetch_one(&mut *tx)
                    .await?;
                let id = counter.max(max_id.unwrap_or(0)) + 1;
                insert_schema(&mut tx, &new, id, &new.fingerprint).await?;
                id
            }
        };
        sqlx::query("UPDATE id_counters SET max_id = GREATEST(max_id, $2) WHERE context = $1")
            .bind(&context)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let version = new.explicit_version.unwrap_or_else(|| max_version.unwrap_or(0) + 1);
        let taken: Option<i32> = sqlx::query_scalar("SELECT version FROM versions WHERE subject = $1 AND version = $2")
            .bind(&subject)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(InsertOutcome::VersionTaken);
        }
        sqlx::query("INSERT INTO versions (subject, context, version, schema_id, deleted, created_at) VALUES ($1, $2, $3, $4, FALSE, $5)")
            .bind(&subject)
            .bind(&context)
            .bind(version)
            .bind(id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM versions WHERE subject = $1 AND schema_id = $2 AND deleted AND version < $3 \
             AND NOT EXISTS (SELECT 1 FROM schema_references r WHERE r.ref_subject = versions.subject \
             AND r.ref_version = versions.version)",
        )
        .bind(&subject)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        notify(&mut tx, "version").await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted { id, version })
    }

    async fn versions_soft_delete(&self, subject: &Subject, versions: &[i32]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_subject(&mut tx, &subject.qualified()).await?;
        sqlx::query("UPDATE versions SET deleted = TRUE WHERE subject = $1 AND version = ANY($2)")
            .bind(subject.qualified())
            .bind(versions)
            .execute(&mut *tx)
            .await?;
        notify(&mut tx, "delete").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn versions_hard_delete(&self, subject: &Subject, versions: &[i32], purge_settings: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let qualified = subject.qualified();
        lock_subject(&mut tx, &qualified).await?;
        sqlx::query("DELETE FROM versions WHERE subject = $1 AND version = ANY($2)")
            .bind(&qualified)
            .bind(versions)
            .execute(&mut *tx)
            .await?;
        // A schema no version uses any more is gone: the same text registered
        // later gets a new id (the counter never hands an old one out again).
        sqlx::query(
            "DELETE FROM schema_references r WHERE r.context = $1 AND NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.context = $1 AND v.schema_id = r.schema_id)",
        )
        .bind(&subject.context)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM schemas s WHERE s.context = $1 AND NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.context = $1 AND v.schema_id = s.id)",
        )
        .bind(&subject.context)
        .execute(&mut *tx)
        .await?;
        if purge_settings {
            sqlx::query("DELETE FROM configs WHERE scope = $1").bind(&qualified).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM modes WHERE scope = $1").bind(&qualified).execute(&mut *tx).await?;
        }
        notify(&mut tx, "purge").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schema_get(&self, context: &str, id: i64) -> Result<Option<SchemaRecord>> {
        let row: Option<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = $1 AND id = $2"
        )))
        .bind(context)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn schema_find(&self, context: &str, fingerprint: &str) -> Result<Option<SchemaRecord>> {
        let row: Option<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = $1 AND fingerprint = $2"
        )))
        .bind(context)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn schema_max_id(&self, context: &str) -> Result<i64> {
        let max: Option<i64> = sqlx::query_scalar(
            "SELECT GREATEST(COALESCE((SELECT max_id FROM id_counters WHERE context = $1), 0), \
             COALESCE((SELECT MAX(id) FROM schemas WHERE context = $1), 0))",
        )
        .bind(context)
        .fetch_one(&self.pool)
        .await?;
        Ok(max.unwrap_or(0))
    }

    async fn contexts_list(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM contexts ORDER BY name").fetch_all(&self.pool).await?)
    }

    async fn config_get(&self, scope: &str) -> Result<Option<ConfigRecord>> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM configs WHERE scope = $1")
            .bind(scope)
            .fetch_optional(&self.pool)
            .await?;
        body.map(|b| {
            serde_json::from_str(&b).map_err(|e| RegistryError::Internal(format!("corrupt config {scope}: {e}")))
        })
        .transpose()
    }

    async fn config_put(&self, scope: &str, config: &ConfigRecord) -> Result<()> {
        let body = serde_json::to_string(config).map_err(|e| RegistryError::Internal(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO configs (scope, body) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET body = EXCLUDED.body",
        )
        .bind(scope)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        notify(&mut tx, "config").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn config_delete(&self, scope: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM configs WHERE scope = $1").bind(scope).execute(&mut *tx).await?;
        notify(&mut tx, "config").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn contract_put(&self, contract: &ContractRecord) -> Result<()> {
        let references =
            serde_json::to_string(&contract.references).map_err(|e| RegistryError::Internal(e.to_string()))?;
        sqlx::query(
            "INSERT INTO contracts (subject, consumer, schema_type, schema_text, references_json, consumer_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (subject, consumer) DO UPDATE SET schema_type = EXCLUDED.schema_type, \
             schema_text = EXCLUDED.schema_text, references_json = EXCLUDED.references_json, \
             consumer_version = EXCLUDED.consumer_version, updated_at = EXCLUDED.updated_at",
        )
        .bind(&contract.subject)
        .bind(&contract.consumer)
        .bind(contract.schema_type.as_str())
        .bind(&contract.schema)
        .bind(references)
        .bind(&contract.consumer_version)
        .bind(contract.created_at)
        .bind(contract.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn contract_get(&self, subject: &str, consumer: &str) -> Result<Option<ContractRecord>> {
        let row: Option<ContractRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = $1 AND consumer = $2"
        )))
        .bind(subject)
        .bind(consumer)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn contracts_list(&self, subject: &str) -> Result<Vec<ContractRecord>> {
        let rows: Vec<ContractRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = $1 ORDER BY consumer"
        )))
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn contract_delete(&self, subject: &str, consumer: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM contracts WHERE subject = $1 AND consumer = $2")
            .bind(subject)
            .bind(consumer)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mode_get(&self, scope: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT mode FROM modes WHERE scope = $1").bind(scope).fetch_optional(&self.pool).await?)
    }

    async fn mode_put(&self, scope: &str, mode: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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

    async fn mode_delete(&self, scope: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM modes WHERE scope = $1").bind(scope).execute(&mut *tx).await?;
        notify(&mut tx, "mode").await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_schema(tx: &mut Transaction<'_, Postgres>, new: &NewVersion, id: i64, fingerprint: &str) -> Result<()> {
    let references = serde_json::to_string(&new.references).map_err(|e| RegistryError::Internal(e.to_string()))?;
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string);
    sqlx::query(
        "INSERT INTO schemas (context, id, fingerprint, schema_type, schema_text, references_json, metadata_json, \
         rule_set_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&new.subject.context)
    .bind(id)
    .bind(fingerprint)
    .bind(new.schema_type.as_str())
    .bind(&new.schema)
    .bind(references)
    .bind(json(&new.metadata))
    .bind(json(&new.rule_set))
    .bind(now_millis())
    .execute(&mut **tx)
    .await?;
    for (subject, version) in &new.reference_targets {
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
