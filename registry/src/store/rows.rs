//! Row types shared by both backends (sqlx decodes SQLite's INTEGER into
//! `i32` and `bool` as it does PostgreSQL's INTEGER and BOOLEAN).

use std::str::FromStr;

use sqlx::FromRow;
use stele_compat::SchemaType;

use super::{ContractRecord, SchemaRecord, VersionRecord};
use crate::error::{RegistryError, Result};

#[derive(FromRow)]
pub(super) struct VersionRow {
    subject: String,
    context: String,
    version: i32,
    schema_id: i64,
    deleted: bool,
}

impl From<VersionRow> for VersionRecord {
    fn from(row: VersionRow) -> Self {
        VersionRecord {
            subject: row.subject,
            context: row.context,
            version: row.version,
            schema_id: row.schema_id,
            deleted: row.deleted,
        }
    }
}

#[derive(FromRow)]
pub(super) struct SchemaRow {
    context: String,
    id: i64,
    fingerprint: String,
    schema_type: String,
    schema_text: String,
    references_json: String,
    metadata_json: Option<String>,
    rule_set_json: Option<String>,
}

impl TryFrom<SchemaRow> for SchemaRecord {
    type Error = RegistryError;

    fn try_from(row: SchemaRow) -> Result<Self> {
        let corrupt = |what: &str| RegistryError::Internal(format!("stored schema {} has a corrupt {what}", row.id));
        Ok(SchemaRecord {
            schema_type: SchemaType::from_str(&row.schema_type).map_err(|_| corrupt("type"))?,
            references: serde_json::from_str(&row.references_json).map_err(|_| corrupt("reference list"))?,
            metadata: row
                .metadata_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("metadata"))?,
            rule_set: row
                .rule_set_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("rule set"))?,
            context: row.context,
            id: row.id,
            fingerprint: row.fingerprint,
            schema: row.schema_text,
        })
    }
}

#[derive(FromRow)]
pub(super) struct ContractRow {
    subject: String,
    consumer: String,
    schema_type: String,
    schema_text: String,
    references_json: String,
    consumer_version: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ContractRow> for ContractRecord {
    type Error = RegistryError;

    fn try_from(row: ContractRow) -> Result<Self> {
        let corrupt = |what: &str| {
            RegistryError::Internal(format!(
                "stored contract of {} on {} has a corrupt {what}",
                row.consumer, row.subject
            ))
        };
        Ok(ContractRecord {
            schema_type: SchemaType::from_str(&row.schema_type).map_err(|_| corrupt("type"))?,
            references: serde_json::from_str(&row.references_json).map_err(|_| corrupt("reference list"))?,
            subject: row.subject,
            consumer: row.consumer,
            schema: row.schema_text,
            consumer_version: row.consumer_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(super) const CONTRACT_COLUMNS: &str =
    "subject, consumer, schema_type, schema_text, references_json, consumer_version, created_at, updated_at";

pub(super) const VERSION_COLUMNS: &str = "subject, context, version, schema_id, deleted";
pub(super) const SCHEMA_COLUMNS: &str =
    "context, id, fingerprint, schema_type, schema_text, references_json, metadata_json, rule_set_json";
