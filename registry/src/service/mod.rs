//! The registry's rules, independent of HTTP: what Confluent does for each
//! operation, over a [`Store`].
//!
//! # Caching
//! Schema content is immutable once an id is handed out, so parsed schemas and
//! schema records are cached by `(context, id)`; a permanent delete that
//! removes an id evicts it, here and (through the store's change feed) on every
//! other replica. The read path `GET /schemas/ids/{id}` and idempotent
//! re-registration are answered from memory. The re-registration cache maps a
//! request's exact text to its id; a new version evicts its subject's entries,
//! and any other write (a delete, a config or mode change) clears it, because
//! each can change the answer. Stored configs and modes are cached by scope
//! for registration's reads and cleared by the same writes. Every cache follows one rule that orders fills
//! against invalidations: see [`cache`].
//!
//! # Writes
//! Writes within one process are ordered by [`locks`] (per subject; config
//! and mode writes apart), which only saves retries: correctness rests on the
//! store's transactions (see `store/sql.rs`), which re-check under database
//! locks what the service decided on and report a conflict when another
//! writer (another replica) got in between; the service then starts over from
//! a fresh read.

mod answers;
mod audit;
mod browse;
mod cache;
mod config;
mod contracts;
mod delete;
mod deploy;
mod locks;
mod lz;
#[doc(hidden)] // Public for `benches/packed.rs` only.
pub mod packed;
mod read;
mod register;
mod webhooks;

use std::sync::Arc;

use serde_json::Value;
use stele_compat::{CompatibilityLevel, ParsedSchema, ResolvedReference, SchemaType};

use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::{ConfigRecord, Reference, SchemaRecord, Store, VersionRecord};
use crate::subject::{DEFAULT_CONTEXT, Subject};
use cache::Cache;

pub use answers::{Answer, AnswerKey};
pub use browse::{Comparison, SearchHit};
pub use cache::Ticket;
pub use config::{ConfigUpdate, Mode};
pub use contracts::{ConsumerStatus, ContractFinding, Enforcement};
pub use deploy::{
    CanIDeploy, EnvironmentView, MatrixRow, PublishedSchema, ServiceVersionRequest, ServiceVersionView, ServiceView,
    Verdict,
};
pub use read::{ListFilter, SchemaFormat, SchemaJson, SchemaView, VersionSelector};
pub use register::{CompatibilityVerdict, RegisterOutcome, RegisterRequest, TagsRequest, schema_type_label};
pub use webhooks::{CreatedWebhook, Event, EventKind, WebhookRequest};

/// The scope of the settings above every context.
pub const GLOBAL_SCOPE: &str = ":.__GLOBAL:";

/// Key of the idempotent re-registration cache: the subject and a SHA-256
/// digest of everything in the request that decides the answer (type, text,
/// references, metadata, rule set, normalize), so an entry costs the same
/// whatever the schema's size, and the answer is found before any parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReregisterKey {
    subject: String,
    request: [u8; 32],
}

impl ReregisterKey {
    fn of(subject: String, request: &RegisterRequest, normalize: bool) -> ReregisterKey {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        // Each part is length-prefixed, so no two requests share a digest input.
        let mut part = |bytes: &[u8]| {
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        };
        part(request.schema_type.as_deref().unwrap_or("\u{0}").as_bytes());
        part(request.schema.as_deref().unwrap_or_default().as_bytes());
        part(serde_json::to_string(&request.references).unwrap_or_default().as_bytes());
        part(request.metadata.as_ref().map(ToString::to_string).unwrap_or_default().as_bytes());
        part(request.rule_set.as_ref().map(ToString::to_string).unwrap_or_default().as_bytes());
        part(&[u8::from(normalize)]);
        ReregisterKey { subject, request: digest.finalize().into() }
    }
}

/// The reference graph of one schema, resolved once per node: its size and
/// depth are bounded by the limits, and each subject version is read once.
struct ReferenceBudget {
    nodes: usize,
    max_nodes: usize,
    max_depth: usize,
    records: std::collections::HashMap<(String, i32), (i32, Arc<SchemaRecord>)>,
}

/// A schema id in a context, as the caches key it.
type IdKey = (String, i64);

/// Looks up an [`IdKey`] without building one: hashes and compares as the
/// `(String, i64)` it stands for.
#[derive(Hash)]
struct IdRef<'a>(&'a str, i64);

impl quick_cache::Equivalent<IdKey> for IdRef<'_> {
    fn equivalent(&self, key: &IdKey) -> bool {
        // The id first: it tells most keys apart without comparing text.
        self.1 == key.1 && self.0 == key.0
    }
}

/// The caches and their shares of `limits.cache_bytes`, in percent: the read
/// path's serialized answers first, then what registrations and checks read.
struct Caches {
    records: Cache<IdKey, Arc<SchemaRecord>>,
    parsed: Cache<IdKey, Arc<ParsedSchema>>,
    reregister: Cache<ReregisterKey, (i64, i32)>,
    answers: Cache<AnswerKey, Arc<Answer>>,
    id_bodies: Cache<IdKey, read::SchemaJson>,
    packed: packed::PackedTier,
    configs: Cache<String, Option<Arc<ConfigRecord>>>,
    modes: Cache<String, Option<String>>,
}

impl Caches {
    fn new(total: usize) -> Caches {
        let share = |percent: usize| total / 100 * percent;
        Caches {
            // The answers being read now, as they are sent; behind them, every
            // answer compressed (a million schemas in about 110 MB: see `packed`).
            id_bodies: Cache::new("schema_json", share(15), |(context, _), body| {
                context.len() + 8 + body.body.len() + body.etag.len()
            }),
            packed: packed::PackedTier::new(share(50)),
            records: Cache::new("schema_records", share(10), |(context, _), record| {
                context.len() + 8 + record_bytes(record)
            }),
            // A parsed schema's footprint is not measured: a few times its canonical text
            // (its trees and descriptors take several times the text).
            parsed: Cache::new("parsed_schemas", share(12), |(context, _), parsed| {
                context.len() + 8 + 8 * parsed.canonical.len()
            }),
            answers: Cache::new("answers", share(8), |_, answer| {
                32 + answer.body.len() + answer.requested.len() + answer.subject.len() + 16
            }),
            reregister: Cache::new("reregistrations", share(3), |key, _| key.subject.len() + 32 + 12),
            configs: Cache::new("configs", share(1), |scope, config| {
                scope.len() + config.as_ref().map_or(0, |c| serde_json::to_string(c.as_ref()).map_or(0, |t| t.len()))
            }),
            modes: Cache::new("modes", share(1), |scope, mode| scope.len() + mode.as_ref().map_or(0, String::len)),
        }
    }
}

pub struct Registry {
    store: Arc<dyn Store>,
    default_level: CompatibilityLevel,
    /// Orders this process's writes; see the module docs.
    write_locks: locks::WriteLocks,
    /// Schema records by (context, id); content never changes, entries leave on hard delete.
    records: Cache<IdKey, Arc<SchemaRecord>>,
    /// Parsed schemas by (context, id), for compatibility checks.
    parsed: Cache<IdKey, Arc<ParsedSchema>>,
    /// Idempotent re-registrations; cleared by every non-registration write.
    reregister: Cache<ReregisterKey, (i64, i32)>,
    /// Serialized answers to repeated re-registrations and lookups, by the raw
    /// request's digest (see `answers.rs`).
    answers: Cache<AnswerKey, Arc<Answer>>,
    /// Whether other processes write to the same storage (replicas on PostgreSQL).
    shared_storage: bool,
    /// The hot read path: `GET /schemas/ids/{id}` answers, serialized, by (context, id).
    id_bodies: Cache<IdKey, read::SchemaJson>,
    /// Behind `id_bodies`, every answer read or warmed, compressed (see `packed`).
    packed: packed::PackedTier,
    packer: Arc<packed::Packer>,
    /// The ids unpacked lately: which answers move to `id_bodies`.
    recent_reads: packed::RecentReads,
    context_numbers: packed::ContextNumbers,
    /// Held by the running [`Registry::warm_schemas`]; whether another waits for it.
    warm_lock: tokio::sync::Mutex<()>,
    warm_queued: std::sync::atomic::AtomicBool,
    /// Stored configs and modes by scope, as registration reads them; cleared
    /// by every write other than a new version, here and on every replica.
    configs: Cache<String, Option<Arc<ConfigRecord>>>,
    modes: Cache<String, Option<String>>,
    /// What one request may cost.
    limits: crate::settings::Limits,
    /// Events on their way to webhook subscribers.
    webhooks: webhooks::Dispatcher,
    /// Audit records on their way to storage.
    audit: audit::AuditLog,
}

impl Registry {
    /// A registry over `store`; `limits` bound what one request may cost
    /// (schema size, references) and what the caches may hold.
    pub fn new(store: Arc<dyn Store>, default_level: CompatibilityLevel, limits: crate::settings::Limits) -> Registry {
        let Caches { records, parsed, reregister, answers, id_bodies, packed, configs, modes } =
            Caches::new(limits.cache_bytes);
        Registry {
            default_level,
            write_locks: locks::WriteLocks::new(),
            records,
            parsed,
            reregister,
            answers,
            shared_storage: store.changes().is_some(),
            store,
            id_bodies,
            packed,
            packer: Arc::new(packed::Packer::default()),
            recent_reads: packed::RecentReads::new(),
            context_numbers: packed::ContextNumbers::default(),
            warm_lock: tokio::sync::Mutex::new(()),
            warm_queued: std::sync::atomic::AtomicBool::new(false),
            configs,
            modes,
            webhooks: webhooks::Dispatcher::new(),
            audit: audit::AuditLog::new(),
            limits,
        }
    }

    /// A schema's text within `limits.max_schema_bytes` (422, 42201).
    fn check_schema_size(&self, text: &str) -> Result<()> {
        if text.len() > self.limits.max_schema_bytes {
            return Err(RegistryError::invalid_schema(format!(
                "Schema is too large: {} bytes, the limit is {} (limits.max_schema_bytes)",
                text.len(),
                self.limits.max_schema_bytes
            )));
        }
        Ok(())
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Sets the gauges that describe state, for a scrape: cache sizes, the
    /// database pool, and how much is stored.
    pub async fn report_metrics(&self) -> Result<()> {
        self.records.report();
        self.parsed.report();
        self.reregister.report();
        self.answers.report();
        self.id_bodies.report();
        self.packed.report();
        self.configs.report();
        self.modes.report();
        let (in_use, idle) = self.store.pool_stats();
        crate::metrics::db_pool(in_use, idle);
        let ready = self.store.ready().await.is_ok();
        crate::metrics::ready(ready);
        if !ready {
            return Ok(());
        }
        let (subjects, versions, schemas) = self.store.counts().await?;
        crate::metrics::stored(subjects, versions, schemas);
        Ok(())
    }

    /// Forgets answers a write may have changed.
    fn invalidate_after_write(&self) {
        self.reregister.clear();
        self.answers.clear();
        self.configs.clear();
        self.modes.clear();
    }

    /// A scope's stored config (its `alias` included), from memory after the first read.
    async fn scoped_config(&self, scope: &str) -> Result<Option<Arc<ConfigRecord>>> {
        self.configs.get_or_load(scope, async { Ok(self.store.config_get(scope).await?.map(Arc::new)) }).await
    }

    /// A scope's stored mode, from memory after the first read.
    async fn scoped_mode(&self, scope: &str) -> Result<Option<String>> {
        self.modes.get_or_load(scope, self.store.mode_get(scope)).await
    }

    /// Forgets everything cached about schema ids that a permanent delete may have removed.
    fn evict_schemas(&self, context: &str, ids: &[i64]) {
        let keys: Vec<IdRef<'_>> = ids.iter().map(|id| IdRef(context, *id)).collect();
        self.records.forget(&keys);
        self.parsed.forget(&keys);
        // The packed answer first: a reader that unpacks one took its ticket on
        // `id_bodies` before, so this order refuses its fill (see `read.rs`).
        // Numbered before the generation moves: a reader that gives the
        // context its number meanwhile fills under this same number, so its
        // fill is either refused or removed here.
        self.packed.forget(self.context_numbers.get_or_add(context), ids);
        self.id_bodies.forget(&keys);
    }

    /// The subject a path's subject stands for: its config's `alias` if it has
    /// one (one level, as written), else itself. Config and mode paths are not aliased.
    pub async fn resolve_alias(&self, raw_subject: &str) -> Result<String> {
        let qualified = Subject::parse(raw_subject).qualified();
        let config = self.scoped_config(&qualified).await?;
        let alias = config.as_ref().and_then(|c| c.alias.as_deref()).filter(|a| !a.is_empty());
        Ok(alias.unwrap_or(raw_subject).to_owned())
    }

    /// Another process sharing the storage wrote: `notice` says what (see
    /// `store::purge_notice`). A new version changes no cached answer by id;
    /// deletes, config and mode change what a re-registration answers. Schema
    /// content never changes and soft-deleted schemas stay readable by id, so
    /// answers by id are dropped only for the ids a permanent delete names, or
    /// all of them when the notice does not say (a lost connection may have
    /// hidden any). Returns true when it dropped them all: the caller warms
    /// the read path again.
    pub fn forget_cached(&self, notice: &str) -> bool {
        let (kind, detail) = notice.split_once(' ').unwrap_or((notice, ""));
        // A new version can change what a re-registration inheriting metadata
        // answers, and what a lookup finds (a context's subject that now exists
        // instead of the default context's).
        self.reregister.clear();
        self.answers.clear();
        if kind == "version" {
            return false;
        }
        self.configs.clear();
        self.modes.clear();
        match kind {
            "config" | "mode" | "delete" => false,
            "purge" if let Some((context, ids)) = crate::store::purged_ids(detail) => {
                self.evict_schemas(&context, &ids);
                false
            }
            _ => {
                self.packed.clear();
                self.id_bodies.clear();
                self.records.clear();
                self.parsed.clear();
                true
            }
        }
    }

    /// A schema record by id, from memory when it has been read before.
    async fn record(&self, context: &str, id: i64) -> Result<Option<Arc<SchemaRecord>>> {
        if let Some(record) = self.records.get(&IdRef(context, id)) {
            return Ok(Some(record));
        }
        let ticket = self.records.ticket();
        let Some(record) = self.store.schema_get(context, id).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        self.records.fill(ticket, (context.to_owned(), id), Arc::clone(&record));
        Ok(Some(record))
    }

    /// A schema record by id, from memory when cached, without filling the cache.
    async fn record_read_through(&self, context: &str, id: i64) -> Result<Option<Arc<SchemaRecord>>> {
        if let Some(record) = self.records.get(&IdRef(context, id)) {
            return Ok(Some(record));
        }
        Ok(self.store.schema_get(context, id).await?.map(Arc::new))
    }

    async fn record_of(&self, version: &VersionRecord) -> Result<Arc<SchemaRecord>> {
        self.record(&version.context, version.schema_id).await?.ok_or_else(|| {
            RegistryError::Internal(format!(
                "version {} of {} points at missing schema {}",
                version.version, version.subject, version.schema_id
            ))
        })
    }

    /// The parsed form of a stored schema, for compatibility checks.
    async fn parsed_of(&self, record: &SchemaRecord) -> Result<Arc<ParsedSchema>> {
        if let Some(parsed) = self.parsed.get(&IdRef(&record.context, record.id)) {
            return Ok(parsed);
        }
        let ticket = self.parsed.ticket();
        let subject = Subject { context: record.context.clone(), name: String::new() };
        let (resolved, _) = Box::pin(self.resolve_references(&subject, &record.references, true)).await?;
        let parsed = stele_compat::parse(record.schema_type, &record.schema, &resolved, false)
            .map_err(|e| RegistryError::Internal(format!("stored schema {} no longer parses: {e}", record.id)))?;
        let parsed = Arc::new(parsed);
        self.parsed.fill(ticket, (record.context.clone(), record.id), Arc::clone(&parsed));
        Ok(parsed)
    }

    /// Looks up each reference's subject version (relative to `subject`'s
    /// context) and returns the resolved tree and the references with `-1`
    /// rewritten to the version it meant. With `allow_deleted`, soft-deleted
    /// versions resolve too (stored schemas keep working after a soft delete).
    async fn resolve_references(
        &self,
        subject: &Subject,
        references: &[Reference],
        allow_deleted: bool,
    ) -> Result<(Vec<ResolvedReference>, Vec<Reference>)> {
        let (resolved, rewritten, _) = self.resolve_with_targets(subject, references, allow_deleted).await?;
        Ok((resolved, rewritten))
    }

    /// [`Self::resolve_references`], and what each direct reference resolved
    /// to, for a write to re-check under its locks.
    async fn resolve_with_targets(
        &self,
        subject: &Subject,
        references: &[Reference],
        allow_deleted: bool,
    ) -> Result<(Vec<ResolvedReference>, Vec<Reference>, Vec<crate::store::ReferenceTarget>)> {
        let mut budget = ReferenceBudget {
            nodes: 0,
            max_nodes: self.limits.max_references,
            max_depth: self.limits.max_reference_depth,
            records: std::collections::HashMap::new(),
        };
        self.resolve_within(subject, references, allow_deleted, &mut budget, 0).await
    }

    async fn resolve_within(
        &self,
        subject: &Subject,
        references: &[Reference],
        allow_deleted: bool,
        budget: &mut ReferenceBudget,
        depth: usize,
    ) -> Result<(Vec<ResolvedReference>, Vec<Reference>, Vec<crate::store::ReferenceTarget>)> {
        if !references.is_empty() && depth >= budget.max_depth {
            return Err(RegistryError::invalid_schema(format!(
                "References nest deeper than {} levels (limits.max_reference_depth)",
                budget.max_depth
            )));
        }
        let mut resolved = Vec::with_capacity(references.len());
        let mut rewritten = Vec::with_capacity(references.len());
        let mut targets = Vec::with_capacity(references.len());
        for reference in references {
            budget.nodes += 1;
            if budget.nodes > budget.max_nodes {
                return Err(RegistryError::invalid_schema(format!(
                    "The schema's references reach more than {} schemas, counting each path through shared \
                     references (limits.max_references)",
                    budget.max_nodes
                )));
            }
            let target = subject.referenced(&reference.subject);
            let key = (target.qualified(), reference.version);
            let (version, record) = if let Some(found) = budget.records.get(&key) {
                found.clone()
            } else {
                let versions = self.store.versions_list(&target).await?;
                let found = if reference.version == -1 {
                    versions.iter().rev().find(|v| !v.deleted)
                } else {
                    versions.iter().find(|v| v.version == reference.version && (allow_deleted || !v.deleted))
                };
                let Some(version) = found else {
                    return Err(RegistryError::invalid_schema(format!(
                        "Invalid reference {}: subject '{}' has no version {}",
                        reference.name, reference.subject, reference.version
                    )));
                };
                let record = self.record_of(version).await?;
                budget.records.insert(key, (version.version, Arc::clone(&record)));
                (version.version, record)
            };
            let (children, _, _) =
                Box::pin(self.resolve_within(&target, &record.references, true, budget, depth + 1)).await?;
            targets.push(crate::store::ReferenceTarget { subject: target.qualified(), version, schema_id: record.id });
            resolved.push(ResolvedReference {
                name: reference.name.clone(),
                schema_type: record.schema_type,
                schema: record.schema.clone(),
                references: children,
            });
            rewritten.push(Reference { name: reference.name.clone(), subject: reference.subject.clone(), version });
        }
        Ok((resolved, rewritten, targets))
    }

    /// The configuration that applies to `subject`: its own, then its
    /// context's, then the global one, then the server default.
    pub async fn effective_config(&self, subject: Option<&Subject>) -> Result<ConfigRecord> {
        // The first scope that has a config decides Confluent's fields, as in
        // Confluent: a subject's config without a level has the server's
        // default level, not its context's. Stele's own fields
        // (`protobufRules`, `consumerContracts`, `wireProof`,
        // `compatibilityPolicy`) are inherited field by field, so that a
        // subject's level never switches off a guard set above it.
        let mut scopes = Vec::new();
        if let Some(subject) = subject
            && !subject.name.is_empty()
        {
            scopes.push(subject.qualified());
        }
        scopes.push(subject.map_or_else(String::new, Subject::context_scope));
        scopes.push(GLOBAL_SCOPE.to_owned());
        let mut config: Option<ConfigRecord> = None;
        let mut extensions = ConfigRecord::default();
        for scope in scopes {
            if let Some(found) = self.scoped_config(&scope).await? {
                extensions = extensions.over(&found);
                config.get_or_insert_with(|| found.as_ref().clone());
            }
        }
        let mut config = config.unwrap_or_default();
        config.compatibility_policy = extensions.compatibility_policy;
        config.protobuf_rules = extensions.protobuf_rules;
        config.consumer_contracts = extensions.consumer_contracts;
        config.wire_proof = extensions.wire_proof;
        if config.compatibility_level.is_none() {
            config.compatibility_level = Some(self.default_level.as_str().to_owned());
        }
        Ok(config)
    }

    pub async fn effective_level(&self, subject: &Subject) -> Result<CompatibilityLevel> {
        let config = self.effective_config(Some(subject)).await?;
        Ok(config.compatibility_level.as_deref().and_then(|l| l.parse().ok()).unwrap_or(self.default_level))
    }

    /// The mode that applies to `subject`: its own, its context's, the global one, READWRITE.
    pub async fn effective_mode(&self, subject: &Subject) -> Result<Mode> {
        if let Some(global) = self.global_override().await? {
            return Ok(global);
        }
        let mut scopes = Vec::new();
        if !subject.name.is_empty() {
            scopes.push(subject.qualified());
        }
        scopes.push(subject.context_scope());
        scopes.push(GLOBAL_SCOPE.to_owned());
        for scope in scopes {
            if let Some(mode) = self.scoped_mode(&scope).await? {
                return Ok(mode.parse().unwrap_or(Mode::ReadWrite));
            }
        }
        Ok(Mode::ReadWrite)
    }

    /// `READONLY_OVERRIDE` set at the top level wins over every subject and context mode.
    pub async fn global_override(&self) -> Result<Option<Mode>> {
        for scope in ["", GLOBAL_SCOPE] {
            if let Some(mode) = self.scoped_mode(scope).await?
                && mode.parse::<Mode>().is_ok_and(|m| m == Mode::ReadOnlyOverride)
            {
                return Ok(Some(Mode::ReadOnlyOverride));
            }
        }
        Ok(None)
    }

    /// A subject's versions; a bare subject with none in the default context
    /// (none live, unless `include_deleted`) is looked for in the other
    /// contexts, as Confluent does.
    async fn versions_with_fallback(
        &self,
        subject: &Subject,
        include_deleted: bool,
    ) -> Result<(Subject, Vec<VersionRecord>)> {
        let versions = self.store.versions_list(subject).await?;
        if versions.iter().any(|v| include_deleted || !v.deleted) {
            return Ok((subject.clone(), versions));
        }
        match self.fallback_subjects(subject).await?.into_iter().next() {
            Some(found) => Ok(found),
            None => Ok((subject.clone(), versions)),
        }
    }

    /// The subjects of the same name in the other contexts, with live
    /// versions, for a bare subject of the default context (Confluent's
    /// cross-context reads); none for any other subject.
    async fn fallback_subjects(&self, subject: &Subject) -> Result<Vec<(Subject, Vec<VersionRecord>)>> {
        let mut found = Vec::new();
        if !subject.is_default_context() || subject.name.is_empty() {
            return Ok(found);
        }
        for context in self.store.contexts_list().await? {
            if context == DEFAULT_CONTEXT {
                continue;
            }
            let candidate = Subject { context, name: subject.name.clone() };
            let versions = self.store.versions_list(&candidate).await?;
            if versions.iter().any(|v| !v.deleted) {
                found.push((candidate, versions));
            }
        }
        Ok(found)
    }

    /// The context an id is read in: the `subject` parameter's, or, for a
    /// bare subject that lives only in another context, that context's.
    async fn id_context(&self, subject: Option<&str>) -> Result<String> {
        let Some(raw) = subject else { return Ok(DEFAULT_CONTEXT.to_owned()) };
        let parsed = Subject::parse(raw);
        let (found, _) = self.versions_with_fallback(&parsed, false).await?;
        Ok(found.context)
    }
}

fn record_bytes(record: &SchemaRecord) -> usize {
    record.schema.len()
        + record.fingerprint.len()
        + record.references.iter().map(|r| r.name.len() + r.subject.len() + 4).sum::<usize>()
        + record.metadata.as_ref().map_or(0, |m| m.to_string().len())
}

/// Schemas below this many bytes are parsed and checked in place: on a small
/// schema the work takes less than handing it to another thread and back.
const INLINE_WORK_BYTES: usize = 16 * 1024;

/// Runs CPU-bound work (parsing a schema, checking it against a history,
/// proving it on the wire) over `bytes` of schema text on tokio's blocking
/// pool, in the caller's span, so that the async workers keep serving reads
/// while it runs; small work runs in place (see [`INLINE_WORK_BYTES`]).
async fn off_workers<T: Send + 'static>(bytes: usize, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    if bytes < INLINE_WORK_BYTES {
        return Ok(work());
    }
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|error| RegistryError::Internal(format!("a schema check did not finish: {error}")))
}

/// Runs one attempt of a write until it settles. An attempt answers `None`
/// when the store found that another writer (another replica) changed what
/// the attempt read; it then starts over from a fresh read, after a pause
/// once it has lost a few times in a row. The pause grows with each loss and
/// is jittered, so a replica whose writers keep losing to a busy one's queue
/// gets in; it gives up (500) only after [`SETTLE_WITHIN`] of losing.
async fn until_settled<T, F, Fut>(what: impl std::fmt::Display, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    /// How long a write keeps retrying against other writers.
    const SETTLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
    let started = std::time::Instant::now();
    for round in 0_u64.. {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        if started.elapsed() > SETTLE_WITHIN {
            break;
        }
        if round >= 2 {
            // std's per-process random hash keys, as a source of jitter.
            let jitter = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), round)
                % (round.min(20) + 1);
            tokio::time::sleep(std::time::Duration::from_millis(round.min(50) + jitter)).await;
        }
    }
    Err(RegistryError::Internal(format!("{what} kept conflicting with other writers")))
}

/// Confluent's identity of a schema: an MD5 over its canonical text, its
/// references, its metadata and its rule set (not its type).
pub fn fingerprint(
    schema: &str,
    references: &[Reference],
    metadata: Option<&Value>,
    rule_set: Option<&Value>,
) -> String {
    use md5::{Digest, Md5};
    let mut hasher = Md5::new();
    hasher.update(schema.as_bytes());
    for reference in references {
        hasher.update(format!("\0{}\0{}\0{}", reference.name, reference.subject, reference.version).as_bytes());
    }
    if let Some(metadata) = metadata {
        hasher.update(b"\0metadata\0");
        hasher.update(metadata.to_string().as_bytes());
    }
    if let Some(rule_set) = rule_set {
        hasher.update(b"\0ruleSet\0");
        hasher.update(rule_set.to_string().as_bytes());
    }
    hasher.finalize().iter().fold(String::with_capacity(32), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Parses a `schemaType` as Confluent does: absent or null is AVRO; names are case-sensitive.
pub fn schema_type_of(raw: Option<&str>) -> Result<SchemaType> {
    match raw {
        None => Ok(SchemaType::Avro),
        Some(name) => name
            .parse()
            .map_err(|_| RegistryError::new(ErrorCode::InvalidSchema, format!("Invalid schema type {name}"))),
    }
}

/// Orders strings as Java's `String.compareTo` does (UTF-16 code units).
pub fn java_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Orders subjects as a Java `HashMap<String, _>` iterates them, which is the
/// order Confluent lists the subjects of a schema id in.
pub fn java_hash_order(mut names: Vec<String>) -> Vec<String> {
    fn java_hash(s: &str) -> i32 {
        s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }
    let mut capacity: usize = 16;
    while names.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |s: &str| {
        let h = java_hash(s) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    names.sort_by_key(|s| bucket(s));
    names
}

#[cfg(test)]
mod id_key_tests {
    use super::{Cache, IdKey, IdRef};

    #[test]
    fn an_id_ref_finds_the_key_it_stands_for() {
        let cache: Cache<IdKey, i32> = Cache::new("test", 64 * 1024, |_, _| 8);
        assert!(cache.fill(cache.ticket(), (".ctx".to_owned(), 7), 1));
        assert_eq!(cache.get(&IdRef(".ctx", 7)), Some(1));
        assert_eq!(cache.get(&IdRef(".ctx", 8)), None);
        assert_eq!(cache.get(&IdRef("", 7)), None);
    }
}
