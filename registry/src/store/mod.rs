//! Storage: the [`Store`] trait and its backends.
//!
//! The registry's rules live in the service layer; a store keeps rows and makes
//! each write one transaction. Methods are named `<resource>_<verb>`.

pub mod audit;
pub mod browse;
pub mod deploy;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
pub mod webhooks;

pub use audit::AuditStore;
pub use browse::BrowseStore;
pub use deploy::DeployStore;
pub use sql::now_millis;
pub use webhooks::WebhookStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stele_compat::SchemaType;

use crate::error::Result;
use crate::subject::Subject;

/// A reference from one schema to a subject version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A stored schema: immutable once written.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRecord {
    pub context: String,
    pub id: i64,
    pub fingerprint: String,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The qualified subject name.
    pub subject: String,
    pub context: String,
    pub version: i32,
    pub schema_id: i64,
    pub deleted: bool,
}

/// A subject version a new schema or contract references, and the schema the
/// service resolved it to: the write re-checks under its locks that the
/// version still holds that schema (an IMPORT may have overwritten it since).
#[derive(Debug, Clone)]
pub struct ReferenceTarget {
    /// Qualified.
    pub subject: String,
    pub version: i32,
    pub schema_id: i64,
}

/// What a registration writes, decided by the service.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub subject: Subject,
    pub fingerprint: String,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    /// The subject versions referenced, qualified relative to this subject's context.
    pub reference_targets: Vec<ReferenceTarget>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
    /// An id given by the caller (IMPORT mode).
    pub explicit_id: Option<i64>,
    /// A version given by the caller; otherwise one more than the highest.
    pub explicit_version: Option<i32>,
    /// The highest version the service saw when it checked compatibility;
    /// the write fails with [`InsertOutcome::Conflict`] if it has changed.
    pub expected_max_version: Option<i32>,
    /// The number the service chose when `explicit_version` is `None`: one
    /// more than `expected_max_version`, past pinned numbers held for other
    /// schemas. The write fails with [`InsertOutcome::Conflict`] if a pin
    /// appeared there since.
    pub next_version: i32,
}

/// How a registration write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted {
        id: i64,
        version: i32,
    },
    /// Another writer changed the subject since the service looked: retry.
    Conflict,
    /// The explicit id holds another schema.
    IdTaken,
    /// The explicit version exists already.
    VersionTaken,
    /// The explicit (IMPORT) version holds another schema, which a schema or a
    /// contract references: overwriting it would change what they mean.
    VersionReferenced(MissingReference),
    /// The explicit version was permanently deleted while a soft-deleted schema
    /// still references it, and held another schema (a pin, see migration 0008).
    VersionPinned,
    /// A referenced subject version was deleted since the service resolved it.
    ReferenceGone(MissingReference),
    /// The same schema (fingerprint) is stored under this id with another
    /// type: Confluent's identity ignores the type, so it cannot get an id.
    TypeTaken(i64),
}

/// A subject version a write needed that is not (or no longer) live, or that
/// still has referrers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingReference {
    pub subject: String,
    pub version: i32,
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The versions are no longer in the state the service saw: retry.
    Conflict,
    /// This version is referenced by a schema or a consumer contract (42206).
    Referenced(MissingReference),
}

/// The change notice of a permanent delete that may have removed `ids` of
/// `context`: `purge {"context":…,"ids":[…]}`, so other replicas forget those
/// ids alone; plain `purge` (forget every id) when the list would not fit in a
/// PostgreSQL notification.
pub fn purge_notice(context: &str, ids: &[i64]) -> String {
    /// PostgreSQL refuses payloads of 8,000 bytes; the timestamp follows.
    const MAX: usize = 7_000;
    let notice = format!("purge {}", serde_json::json!({ "context": context, "ids": ids }));
    if notice.len() <= MAX { notice } else { "purge".to_owned() }
}

/// The ids a `purge` notice names (see [`purge_notice`]), if it names them.
pub fn purged_ids(detail: &str) -> Option<(String, Vec<i64>)> {
    #[derive(serde::Deserialize)]
    struct Purged {
        context: String,
        ids: Vec<i64>,
    }
    let purged: Purged = serde_json::from_str(detail).ok()?;
    Some((purged.context, purged.ids))
}

/// A consumer's contract on a subject: the schema it reads with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRecord {
    pub subject: String,
    pub consumer: String,
    #[serde(serialize_with = "schema_type_name")]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_version: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's serialize_with passes a reference")]
pub(crate) fn schema_type_name<S: serde::Serializer>(
    value: &SchemaType,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_str())
}

/// A scope's stored configuration. Unset fields inherit from the parent scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_fields: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_policy: Option<String>,
    /// Stele extension: the Protobuf rule profile (`CONFLUENT`, `WIRE`, `WIRE_JSON`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protobuf_rules: Option<String>,
    /// Stele extension: how consumer contracts are enforced (`ENFORCE`, `WARN`, `OFF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_contracts: Option<String>,
    /// Stele extension: what the wire oracle's counter-examples do (`ENFORCE`, `WARN`, `OFF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire_proof: Option<String>,
}

impl ConfigRecord {
    /// This record's fields over `parent`'s, field by field.
    pub fn over(&self, parent: &ConfigRecord) -> ConfigRecord {
        macro_rules! pick {
            ($($field:ident),*) => { ConfigRecord { $($field: self.$field.clone().or_else(|| parent.$field.clone()),)* } };
        }
        pick!(
            compatibility_level,
            normalize,
            validate_fields,
            alias,
            compatibility_group,
            default_metadata,
            override_metadata,
            default_rule_set,
            override_rule_set,
            compatibility_policy,
            protobuf_rules,
            consumer_contracts,
            wire_proof
        )
    }
}

/// Storage for the registry. Every write is one transaction.
#[async_trait]
pub trait Store: AuditStore + BrowseStore + DeployStore + WebhookStore + Send + Sync + 'static {
    /// Whether storage answers and every migration this build knows is applied;
    /// the error says which is not the case.
    async fn ready(&self) -> std::result::Result<(), String>;

    /// Pool connections in use and idle.
    fn pool_stats(&self) -> (usize, usize);

    /// Subjects with a live version, versions, and schemas stored.
    async fn counts(&self) -> Result<(i64, i64, i64)>;

    /// Writes committed by other processes sharing this storage, as they happen
    /// (`None` when nothing else can write to it). Each message names the kind of write.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        None
    }

    /// Every version of a subject, soft-deleted ones included, ascending.
    async fn versions_list(&self, subject: &Subject) -> Result<Vec<VersionRecord>>;
    /// The subject's pinned version numbers (permanently deleted while a
    /// soft-deleted schema references them; migration 0008), ascending, each
    /// with the fingerprint of the only schema that may take it again.
    async fn version_pins(&self, subject: &Subject) -> Result<Vec<(i32, String)>>;
    /// Whether a subject version exists, is not soft-deleted and holds schema
    /// `id` (an IMPORT may overwrite a version with another schema).
    async fn version_holds(&self, subject: &str, version: i32, id: i64) -> Result<bool>;
    /// Every version of every subject, ascending by subject then version.
    async fn versions_all(&self) -> Result<Vec<VersionRecord>>;
    /// Up to `limit` subjects with versions after `after`, ordered by their
    /// bytes, each with how many of its versions are live: the subject
    /// listing reads them a page at a time.
    async fn subjects_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, i64)>>;
    /// Up to `limit` versions after `after` (subject, version), ordered by the
    /// subject's bytes then version: a listing reads every version in pages of
    /// these instead of all at once.
    async fn versions_after(&self, after: Option<(&str, i32)>, limit: usize) -> Result<Vec<VersionRecord>>;
    /// The versions of one context's subjects, soft-deleted ones too when
    /// `include_deleted`, only each subject's latest of those when
    /// `latest_only`, in the order of [`Store::versions_after`]: `limit` of
    /// them after skipping `offset`, which the database skips.
    async fn versions_page(
        &self,
        context: &str,
        include_deleted: bool,
        latest_only: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<VersionRecord>>;
    /// The subject versions that use a schema id.
    async fn versions_by_schema(&self, context: &str, id: i64) -> Result<Vec<VersionRecord>>;
    /// The subject versions whose schema references `subject` at `version`.
    async fn versions_referencing(&self, subject: &str, version: i32) -> Result<Vec<VersionRecord>>;
    /// Writes a new version, and its schema when it is new, in one transaction
    /// that re-checks what the service decided on (see `sql.rs`). Soft-deleted
    /// versions of the subject that hold the same schema are removed, as
    /// Confluent does when a deleted schema is registered again.
    async fn version_insert(&self, new: NewVersion) -> Result<InsertOutcome>;
    /// Marks live versions soft-deleted, unless a live schema references one.
    async fn versions_soft_delete(&self, subject: &Subject, versions: &[i32]) -> Result<DeleteOutcome>;
    /// Removes soft-deleted versions, unless a schema or contract references one,
    /// and the schemas no version uses any more; with `purge_settings`, also
    /// the subject's config and mode.
    async fn versions_hard_delete(
        &self,
        subject: &Subject,
        versions: &[i32],
        purge_settings: bool,
    ) -> Result<DeleteOutcome>;

    async fn schema_get(&self, context: &str, id: i64) -> Result<Option<SchemaRecord>>;
    /// Up to `limit` schemas after `after` (context, id), in that order: the
    /// read path's warm-up reads every schema in pages of these.
    async fn schemas_after(&self, after: Option<(&str, i64)>, limit: usize) -> Result<Vec<SchemaRecord>>;
    /// The highest id ever given out in a context.
    async fn schema_max_id(&self, context: &str) -> Result<i64>;

    async fn contexts_list(&self) -> Result<Vec<String>>;

    async fn config_get(&self, scope: &str) -> Result<Option<ConfigRecord>>;
    /// Every stored config, by scope.
    async fn configs_all(&self) -> Result<Vec<(String, ConfigRecord)>>;
    async fn config_put(&self, scope: &str, config: &ConfigRecord) -> Result<()>;
    async fn config_delete(&self, scope: &str) -> Result<()>;

    /// Writes a contract, keeping its creation time when it exists, unless one
    /// of the subject versions it references is gone or holds another schema
    /// than it was resolved to: then that one is answered and nothing is written.
    async fn contract_put(
        &self,
        contract: &ContractRecord,
        reference_targets: &[ReferenceTarget],
    ) -> Result<Option<MissingReference>>;
    async fn contract_get(&self, subject: &str, consumer: &str) -> Result<Option<ContractRecord>>;
    /// A subject's contracts, by consumer name.
    async fn contracts_list(&self, subject: &str) -> Result<Vec<ContractRecord>>;
    /// Whether there was one to delete.
    async fn contract_delete(&self, subject: &str, consumer: &str) -> Result<bool>;

    async fn mode_get(&self, scope: &str) -> Result<Option<String>>;
    async fn mode_put(&self, scope: &str, mode: &str) -> Result<()>;
    async fn mode_delete(&self, scope: &str) -> Result<()>;
}
