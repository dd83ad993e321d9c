//! The `SQLite` store: one file, WAL journal, `synchronous=FULL` so that a
//! registration answered with 200 survives a crash of the process or machine.
//!
//! `SQLite` allows one writer at a time; registrations take the write lock at
//! the start of their transaction (`BEGIN IMMEDIATE`) so that reading the
//! current highest version and inserting the next one cannot interleave with
//! another writer.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::rows::{CONTRACT_COLUMNS, ContractRow, SCHEMA_COLUMNS, SchemaRow, VERSION_COLUMNS, VersionRow};
use super::{ConfigRecord, ContractRecord, InsertOutcome, NewVersion, SchemaRecord, Store, VersionRecord};
use crate::error::{RegistryError, Result};
use crate::subject::Subject;

pub struct SqliteStore {
    pool: SqlitePool,
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
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
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| RegistryError::Internal(format!("migrations failed: {e}")))?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn versions_list(&self, subject: &Subject) -> Result<Vec<VersionRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE subject = ? ORDER BY version"
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
            "SELECT {VERSION_COLUMNS} FROM versions WHERE context = ? AND schema_id = ? ORDER BY subject, version"
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
             WHERE r.ref_subject = ? AND r.ref_version = ? AND r.context = v.context AND r.schema_id = v.schema_id) \
             ORDER BY subject, version"
        )))
        .bind(subject)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn version_insert(&self, new: NewVersion) -> Result<InsertOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let context = new.subject.context.clone();
        let subject = new.subject.qualified();
        let max_version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM versions WHERE subject = ?")
            .bind(&subject)
            .fetch_one(&mut *tx)
            .await?;
        let max_version = max_version.map(|v| v as i32);
        if new.expected_max_version.is_some() && max_version != new.expected_max_version {
            return Ok(InsertOutcome::Conflict);
        }
        sqlx::query("INSERT OR IGNORE INTO contexts (name) VALUES (?)").bind(&context).execute(&mut *tx).await?;
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, fingerprint FROM schemas WHERE context = ? AND fingerprint = ?")
                .bind(&context)
                .bind(&new.fingerprint)
                .fetch_optional(&mut *tx)
                .await?;
        let counter: Option<i64> = sqlx::query_scalar("SELECT max_id FROM id_counters WHERE context = ?")
            .bind(&context)
            .fetch_optional(&mut *tx)
            .await?;
        let counter = counter.unwrap_or(0);
        let id = match (new.explicit_id, existing) {
            (Some(id), _) => {
                let holder: Option<String> =
                    sqlx::query_scalar("SELECT fingerprint FROM schemas WHERE context = ? AND id = ?")
                        .bind(&context)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match holder {
                    Some(fingerprint) if fingerprint != new.fingerprint => {
                        return Ok(InsertOutcome::IdTaken);
                    }
                    Some(_) => id,
                    None => {
                        if let Some((other, _)) = sqlx::query_as::<_, (i64, String)>(
                            "SELECT id, fingerprint FROM schemas WHERE context = ? AND fingerprint = ?",
                        )
                        .bind(&context)
                        .bind(&new.fingerprint)
                        .fetch_optional(&mut *tx)
                        .await?
                        {
                            // The same schema under another id: keep fingerprints unique by
                            // giving the imported copy a distinct fingerprint.
                            let _ = other;
                            insert_schema(&mut tx, &new, id, &format!("{}#{id}", new.fingerprint)).await?;
                        } else {
                            insert_schema(&mut tx, &new, id, &new.fingerprint).await?;
                        }
                        id
                    }
                }
            }
            (None, Some((id, _))) => id,
            (None, None) => {
                let max_id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM schemas WHERE context = ?")
                    .bind(&context)
                    .fetch_one(&mut *tx)
                    .await?;
                let id = counter.max(max_id.unwrap_or(0)) + 1;
                insert_schema(&mut tx, &new, id, &new.fingerprint).await?;
                id
            }
        };
        sqlx::query(
            "INSERT INTO id_counters (context, max_id) VALUES (?, ?) \
             ON CONFLICT (context) DO UPDATE SET max_id = MAX(max_id, excluded.max_id)",
        )
        .bind(&context)
        .bind(id.max(counter))
        .execute(&mut *tx)
        .await?;
        let version = new.explicit_version.unwrap_or_else(|| max_version.unwrap_or(0) + 1);
        let taken: Option<i64> = sqlx::query_scalar("SELECT version FROM versions WHERE subject = ? AND version = ?")
            .bind(&subject)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(InsertOutcome::VersionTaken);
        }
        sqlx::query(
            "INSERT INTO versions (subject, context, version, schema_id, deleted, created_at) VALUES (?, ?, ?, ?, 0, ?)",
        )
        .bind(&subject)
        .bind(&context)
        .bind(version)
        .bind(id)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM versions WHERE subject = ? AND schema_id = ? AND deleted = 1 AND version < ? \
             AND NOT EXISTS (SELECT 1 FROM schema_references r WHERE r.ref_subject = versions.subject \
             AND r.ref_version = versions.version)",
        )
        .bind(&subject)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted { id, version })
    }

    async fn versions_soft_delete(&self, subject: &Subject, versions: &[i32]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for version in versions {
            sqlx::query("UPDATE versions SET deleted = 1 WHERE subject = ? AND version = ?")
                .bind(subject.qualified())
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn versions_hard_delete(&self, subject: &Subject, versions: &[i32], purge_settings: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let qualified = subject.qualified();
        for version in versions {
            sqlx::query("DELETE FROM versions WHERE subject = ? AND version = ?")
                .bind(&qualified)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        // A schema no version uses any more is gone: the same text registered
        // later gets a new id (the counter never hands an old one out again).
        sqlx::query(
            "DELETE FROM schema_references WHERE context = ?1 AND NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.context = ?1 AND v.schema_id = schema_references.schema_id)",
        )
        .bind(&subject.context)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM schemas WHERE context = ?1 AND NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.context = ?1 AND v.schema_id = schemas.id)",
        )
        .bind(&subject.context)
        .execute(&mut *tx)
        .await?;
        if purge_settings {
            sqlx::query("DELETE FROM configs WHERE scope = ?").bind(&qualified).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM modes WHERE scope = ?").bind(&qualified).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn schema_get(&self, context: &str, id: i64) -> Result<Option<SchemaRecord>> {
        let row: Option<SchemaRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = ? AND id = ?")))
                .bind(context)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn schema_find(&self, context: &str, fingerprint: &str) -> Result<Option<SchemaRecord>> {
        let row: Option<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SCHEMA_COLUMNS} FROM schemas WHERE context = ? AND fingerprint = ?"
        )))
        .bind(context)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn schema_max_id(&self, context: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT MAX(COALESCE((SELECT max_id FROM id_counters WHERE context = ?1), 0), \
             COALESCE((SELECT MAX(id) FROM schemas WHERE context = ?1), 0))",
        )
        .bind(context)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    async fn contexts_list(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM contexts ORDER BY name").fetch_all(&self.pool).await?)
    }

    async fn config_get(&self, scope: &str) -> Result<Option<ConfigRecord>> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM configs WHERE scope = ?")
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
        sqlx::query(
            "INSERT INTO configs (scope, body) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET body = excluded.body",
        )
        .bind(scope)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn config_delete(&self, scope: &str) -> Result<()> {
        sqlx::query("DELETE FROM configs WHERE scope = ?").bind(scope).execute(&self.pool).await?;
        Ok(())
    }

    async fn contract_put(&self, contract: &ContractRecord) -> Result<()> {
        let references =
            serde_json::to_string(&contract.references).map_err(|e| RegistryError::Internal(e.to_string()))?;
        sqlx::query(
            "INSERT INTO contracts (subject, consumer, schema_type, schema_text, references_json, consumer_version, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (subject, consumer) DO UPDATE SET schema_type = excluded.schema_type, \
             schema_text = excluded.schema_text, references_json = excluded.references_json, \
             consumer_version = excluded.consumer_version, updated_at = excluded.updated_at",
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
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = ?1 AND consumer = ?2"
        )))
        .bind(subject)
        .bind(consumer)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn contracts_list(&self, subject: &str) -> Result<Vec<ContractRecord>> {
        let rows: Vec<ContractRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE subject = ?1 ORDER BY consumer"
        )))
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn contract_delete(&self, subject: &str, consumer: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM contracts WHERE subject = ?1 AND consumer = ?2")
            .bind(subject)
            .bind(consumer)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mode_get(&self, scope: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT mode FROM modes WHERE scope = ?").bind(scope).fetch_optional(&self.pool).await?)
    }

    async fn mode_put(&self, scope: &str, mode: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO modes (scope, mode) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET mode = excluded.mode",
        )
        .bind(scope)
        .bind(mode)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mode_delete(&self, scope: &str) -> Result<()> {
        sqlx::query("DELETE FROM modes WHERE scope = ?").bind(scope).execute(&self.pool).await?;
        Ok(())
    }
}

async fn insert_schema(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewVersion,
    id: i64,
    fingerprint: &str,
) -> Result<()> {
    let references = serde_json::to_string(&new.references).map_err(|e| RegistryError::Internal(e.to_string()))?;
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string);
    sqlx::query(
        "INSERT INTO schemas (context, id, fingerprint, schema_type, schema_text, references_json, metadata_json, \
         rule_set_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        sqlx::query("INSERT INTO schema_references (context, schema_id, ref_subject, ref_version) VALUES (?, ?, ?, ?)")
            .bind(&new.subject.context)
            .bind(id)
            .bind(subject)
            .bind(version)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
