//! Audit log storage: append-only rows, read newest first.

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: String,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub principal: String,
    /// `METHOD /route`, or `authenticate` for a refused credential.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `ok`, `failed`, `unauthenticated` or `denied`.
    pub result: String,
    pub status: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends records in one transaction.
    async fn audit_append(&self, records: &[AuditRecord]) -> Result<()>;
    /// The newest records first, older than `before` (ms) when given.
    async fn audit_list(&self, limit: i64, before: Option<i64>) -> Result<Vec<AuditRecord>>;
}

/// Implements [`AuditStore`] for a backend, beside `sql_store!`.
macro_rules! audit_store {
    ($store:ty) => {
        const _: () = {
            use $crate::error::Result;
            use $crate::store::audit::AuditRecord;

            type Row = (String, i64, String, String, Option<String>, String, i32, Option<String>, Option<String>);

            #[async_trait::async_trait]
            impl $crate::store::audit::AuditStore for $store {
                #[tracing::instrument(name = "store.audit_append", skip_all, fields(db.system = DB_SYSTEM))]
                async fn audit_append(&self, records: &[AuditRecord]) -> Result<()> {
                    let mut tx = self.begin().await?;
                    for r in records {
                        sqlx::query(
                            "INSERT INTO audit_log (id, at, principal, action, subject, result, status, detail, \
                             request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(&r.id)
                        .bind(r.at)
                        .bind(&r.principal)
                        .bind(&r.action)
                        .bind(&r.subject)
                        .bind(&r.result)
                        .bind(r.status)
                        .bind(&r.detail)
                        .bind(&r.request_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(name = "store.audit_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn audit_list(&self, limit: i64, before: Option<i64>) -> Result<Vec<AuditRecord>> {
                    let rows: Vec<Row> = sqlx::query_as(
                        "SELECT id, at, principal, action, subject, result, status, detail, request_id FROM audit_log \
                         WHERE $1 IS NULL OR at < $1 ORDER BY at DESC, id DESC LIMIT $2",
                    )
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&mut *self.acquire().await?)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, at, principal, action, subject, result, status, detail, request_id)| AuditRecord {
                            id,
                            at,
                            principal,
                            action,
                            subject,
                            result,
                            status,
                            detail,
                            request_id,
                        })
                        .collect())
                }
            }
        };
    };
}

pub(super) use audit_store;
