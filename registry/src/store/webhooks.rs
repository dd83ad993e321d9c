//! Webhook storage: subscriptions and their delivery log.
//!
//! Deliveries are rows: queued `pending` with the time of their next attempt,
//! claimed by a replica with a lease (so two replicas never send the same
//! attempt, and a replica that dies mid-attempt leaves it to another once the
//! lease expires), then `delivered` or, with attempts exhausted, `failed`.

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;

/// A subscription: events matching `events` and `subject_pattern` are sent to `url`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_pattern: Option<String>,
    /// The HMAC key; never answered.
    #[serde(skip)]
    pub secret: String,
    pub created_at: i64,
}

/// Written by hand so that the secret never reaches a log through `{:?}`.
impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("subject_pattern", &self.subject_pattern)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    /// The exact body sent (and signed).
    #[serde(skip)]
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
}

/// How an attempt ended, as the deliverer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub status: &'static str,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn webhook_put(&self, webhook: &WebhookRecord) -> Result<()>;
    async fn webhooks_list(&self) -> Result<Vec<WebhookRecord>>;
    async fn webhook_get(&self, id: &str) -> Result<Option<WebhookRecord>>;
    /// Deletes a webhook and its delivery log; whether there was one.
    async fn webhook_delete(&self, id: &str) -> Result<bool>;
    /// Queues deliveries, in one transaction.
    async fn deliveries_insert(&self, deliveries: &[DeliveryRecord]) -> Result<()>;
    /// Claims the most overdue pending delivery (its lease until `lease_until`), with its webhook.
    async fn delivery_claim(&self, now: i64, lease_until: i64) -> Result<Option<(DeliveryRecord, WebhookRecord)>>;
    /// Records an attempt and releases the lease.
    async fn delivery_record(&self, id: &str, outcome: &AttemptOutcome) -> Result<()>;
    /// A webhook's deliveries, newest first.
    async fn deliveries_list(&self, webhook_id: &str, limit: i64) -> Result<Vec<DeliveryRecord>>;
}

pub(super) type WebhookRow = (String, String, String, Option<String>, String, i64);
pub(super) type DeliveryRow =
    (String, String, String, String, String, i32, i64, Option<i32>, Option<String>, i64, Option<i64>);

pub(super) const WEBHOOK_COLUMNS: &str = "id, url, events_json, subject_pattern, secret, created_at";
pub(super) const DELIVERY_COLUMNS: &str = "id, webhook_id, event, payload, status, attempts, next_attempt_at, \
     last_status, last_error, created_at, finished_at";

pub(super) fn webhook(row: WebhookRow) -> Result<WebhookRecord> {
    let (id, url, events, subject_pattern, secret, created_at) = row;
    let events = serde_json::from_str(&events)
        .map_err(|_| crate::error::RegistryError::Internal(format!("webhook {id} has a corrupt event list")))?;
    Ok(WebhookRecord { id, url, events, subject_pattern, secret, created_at })
}

pub(super) fn delivery(row: DeliveryRow) -> DeliveryRecord {
    let (
        id,
        webhook_id,
        event,
        payload,
        status,
        attempts,
        next_attempt_at,
        last_status,
        last_error,
        created_at,
        finished_at,
    ) = row;
    DeliveryRecord {
        id,
        webhook_id,
        event,
        payload,
        status,
        attempts,
        next_attempt_at,
        last_status,
        last_error,
        created_at,
        finished_at,
    }
}

/// Implements [`WebhookStore`] for a backend, beside `sql_store!`.
macro_rules! webhook_store {
    ($store:ty) => {
        const _: () = {
            use sqlx::AssertSqlSafe;

            use $crate::error::Result;
            use $crate::store::sql::to_json;
            use $crate::store::webhooks::{
                AttemptOutcome, DELIVERY_COLUMNS, DeliveryRecord, DeliveryRow, WEBHOOK_COLUMNS, WebhookRecord,
                WebhookRow, delivery, webhook,
            };

            #[async_trait::async_trait]
            impl $crate::store::WebhookStore for $store {
                #[tracing::instrument(name = "store.webhook_put", skip_all, fields(db.system = DB_SYSTEM))]
                async fn webhook_put(&self, hook: &WebhookRecord) -> Result<()> {
                    let mut tx = self.begin().await?;
                    sqlx::query(
                        "INSERT INTO webhooks (id, url, events_json, subject_pattern, secret, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&hook.id)
                    .bind(&hook.url)
                    .bind(to_json(&hook.events)?)
                    .bind(&hook.subject_pattern)
                    .bind(&hook.secret)
                    .bind(hook.created_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(name = "store.webhooks_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn webhooks_list(&self) -> Result<Vec<WebhookRecord>> {
                    let rows: Vec<WebhookRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"
                    )))
                    .fetch_all(&mut *self.acquire().await?)
                    .await?;
                    rows.into_iter().map(webhook).collect()
                }

                #[tracing::instrument(name = "store.webhook_get", skip_all, fields(db.system = DB_SYSTEM))]
                async fn webhook_get(&self, id: &str) -> Result<Option<WebhookRecord>> {
                    let row: Option<WebhookRow> =
                        sqlx::query_as(AssertSqlSafe(format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1")))
                            .bind(id)
                            .fetch_optional(&mut *self.acquire().await?)
                            .await?;
                    row.map(webhook).transpose()
                }

                #[tracing::instrument(name = "store.webhook_delete", skip_all, fields(db.system = DB_SYSTEM))]
                async fn webhook_delete(&self, id: &str) -> Result<bool> {
                    let mut tx = self.begin().await?;
                    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
                    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(name = "store.deliveries_insert", skip_all, fields(db.system = DB_SYSTEM))]
                async fn deliveries_insert(&self, deliveries: &[DeliveryRecord]) -> Result<()> {
                    let mut tx = self.begin().await?;
                    for d in deliveries {
                        sqlx::query(
                            "INSERT INTO webhook_deliveries (id, webhook_id, event, payload, status, attempts, \
                             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(&d.id)
                        .bind(&d.webhook_id)
                        .bind(&d.event)
                        .bind(&d.payload)
                        .bind(&d.status)
                        .bind(d.attempts)
                        .bind(d.next_attempt_at)
                        .bind(d.created_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(name = "store.delivery_claim", skip_all, fields(db.system = DB_SYSTEM))]
                async fn delivery_claim(&self, now: i64, lease_until: i64) -> Result<Option<(DeliveryRecord, WebhookRecord)>> {
                    // On PostgreSQL, replicas claiming at once lock different rows (`SKIP
                    // LOCKED`) instead of queueing on the most overdue one; SQLite has one
                    // writer at a time (`BEGIN IMMEDIATE`), so there is nothing to skip.
                    const SKIP_LOCKED: &str = if FOR_UPDATE.is_empty() { "" } else { " FOR UPDATE SKIP LOCKED" };
                    let mut tx = self.begin().await?;
                    // The outer conditions repeat the inner ones, so that a row whose lease
                    // another replica took in between is left alone whatever the isolation.
                    let claimed: Option<DeliveryRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = (SELECT id FROM webhook_deliveries \
                         WHERE status = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
                         ORDER BY next_attempt_at LIMIT 1{SKIP_LOCKED}) AND status = 'pending' \
                         AND (lease_until IS NULL OR lease_until < $2) RETURNING {DELIVERY_COLUMNS}"
                    )))
                    .bind(lease_until)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(claimed) = claimed.map(delivery) else {
                        tx.commit().await?;
                        return Ok(None);
                    };
                    let hook: Option<WebhookRow> =
                        sqlx::query_as(AssertSqlSafe(format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1")))
                            .bind(&claimed.webhook_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    Ok(match hook {
                        Some(hook) => Some((claimed, webhook(hook)?)),
                        None => None,
                    })
                }

                #[tracing::instrument(name = "store.delivery_record", skip_all, fields(db.system = DB_SYSTEM))]
                async fn delivery_record(&self, id: &str, outcome: &AttemptOutcome) -> Result<()> {
                    let mut tx = self.begin().await?;
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, \
                         last_status = $5, last_error = $6, finished_at = $7, lease_until = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(outcome.status)
                    .bind(outcome.attempts)
                    .bind(outcome.next_attempt_at)
                    .bind(outcome.last_status)
                    .bind(&outcome.last_error)
                    .bind(outcome.finished_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(name = "store.deliveries_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn deliveries_list(&self, webhook_id: &str, limit: i64) -> Result<Vec<DeliveryRecord>> {
                    let rows: Vec<DeliveryRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
                         ORDER BY created_at DESC, id DESC LIMIT $2"
                    )))
                    .bind(webhook_id)
                    .bind(limit)
                    .fetch_all(&mut *self.acquire().await?)
                    .await?;
                    Ok(rows.into_iter().map(delivery).collect())
                }
            }
        };
    };
}

pub(super) use webhook_store;
