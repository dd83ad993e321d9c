//! Registration, lookup and compatibility checks.

use std::sync::Arc;

use serde_json::Value;
use stele_compat::CheckOptions;
use stele_compat::level::{VersionFailure, check_level_with};
use stele_compat::wire::{self, ProofOptions};
use stele_compat::{CompatibilityLevel, Incompatibility, ParsedSchema, SchemaType};

use super::read::{SchemaView, VersionSelector};
use super::{Mode, Registry, ReregisterKey, fingerprint, schema_type_of, until_settled};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metrics::RegistrationOutcome;
use crate::store::{InsertOutcome, NewVersion, Reference, SchemaRecord, VersionRecord};
use crate::subject::Subject;

/// A registration, lookup or compatibility request, after transport parsing.
#[derive(Debug, Clone, Default)]
pub struct RegisterRequest {
    pub schema: Option<String>,
    pub schema_type: Option<String>,
    pub references: Vec<Reference>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
    pub id: Option<i64>,
    pub version: Option<i32>,
    /// A new version even when the subject holds this schema already, as an
    /// explicit `version` asks, numbered as the next one when `version` is
    /// absent (the tags endpoint; never set by a request body).
    pub always_new: bool,
}

/// What a registration answers.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    pub id: i64,
    /// The whole schema, when the stored form differs from the request's
    /// (metadata); Confluent 7.x answers the id alone otherwise.
    pub view: Option<Box<SchemaView>>,
    /// Consumers that cannot read the schema (consumer contracts under WARN).
    pub warnings: Vec<String>,
    /// Whether a new version was made (else the schema was registered already).
    pub created: bool,
    /// The subject (qualified, aliases resolved) and version registered under.
    pub subject: String,
    pub version: i32,
}

/// What one registration attempt settled on: id, version, the full answer
/// when it differs from the id alone, consumer warnings, and whether it made
/// a new version.
type Registered = (i64, i32, Option<SchemaView>, Vec<String>, bool);

/// A compatibility check's answer.
#[derive(Debug, Clone)]
pub struct CompatibilityVerdict {
    pub compatible: bool,
    /// The level the check applied.
    pub level: CompatibilityLevel,
    /// The version the problems are against.
    pub version: Option<i32>,
    /// Confluent's verbose messages.
    pub messages: Vec<String>,
    /// The problems, for Stele's own reports.
    pub problems: Vec<Incompatibility>,
    /// Counter-examples of the wire oracle under `wireProof: WARN`, which do
    /// not make the verdict incompatible.
    pub warnings: Vec<Incompatibility>,
}

/// The outcome of preparing a request: parsed and fingerprinted.
struct Prepared {
    schema_type: SchemaType,
    parsed: Arc<ParsedSchema>,
    text: String,
    references: Vec<Reference>,
    /// What each reference resolved to.
    targets: Vec<crate::store::ReferenceTarget>,
    metadata: Option<Value>,
    fingerprint: String,
}

/// Metadata property values are strings; Confluent coerces numbers and booleans.
fn normalize_metadata(metadata: Option<Value>) -> Option<Value> {
    let mut metadata = metadata.filter(|m| !m.is_null())?;
    if let Some(Value::Object(properties)) = metadata.get_mut("properties") {
        for value in properties.values_mut() {
            if !value.is_string() && !value.is_null() {
                let text = value.to_string();
                *value = Value::String(text);
            }
        }
    }
    // Empty parts are dropped (Confluent omits them), but an empty metadata object stays.
    if let Value::Object(map) = &mut metadata {
        map.retain(|_, v| {
            !(v.is_null()
                || v.as_object().is_some_and(serde_json::Map::is_empty)
                || v.as_array().is_some_and(Vec::is_empty))
        });
    }
    Some(metadata)
}

/// Lays `top` over `base`, field by field: properties and tags by key, sensitive as a union.
fn overlay_metadata(base: Option<Value>, top: Option<&Value>) -> Option<Value> {
    let Some(top) = top else { return base };
    let Some(Value::Object(mut merged)) = base else {
        return Some(top.clone());
    };
    if let Value::Object(top) = top {
        for (key, value) in top {
            match (key.as_str(), merged.get_mut(key), value) {
                ("properties" | "tags", Some(Value::Object(existing)), Value::Object(new)) => {
                    for (k, v) in new {
                        existing.insert(k.clone(), v.clone());
                    }
                }
                ("sensitive", Some(Value::Array(existing)), Value::Array(new)) => {
                    for v in new {
                        if !existing.contains(v) {
                            existing.push(v.clone());
                        }
                    }
                }
                _ => {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Some(Value::Object(merged))
}

const CONFLUENT_VERSION: &str = "confluent:version";

/// Sets `confluent:version` in the metadata's properties.
fn with_confluent_version(metadata: Option<Value>, version: i32) -> Value {
    let mut metadata = metadata.unwrap_or_else(|| serde_json::json!({}));
    if let Value::Object(map) = &mut metadata {
        let properties = map.entry("properties").or_insert_with(|| serde_json::json!({}));
        if let Value::Object(properties) = properties {
            properties.insert(CONFLUENT_VERSION.into(), Value::String(version.to_string()));
        }
    }
    metadata
}

fn has_confluent_version(metadata: Option<&Value>) -> bool {
    metadata.and_then(|m| m.get("properties")).and_then(|p| p.get(CONFLUENT_VERSION)).is_some()
}

/// Metadata that says nothing but `confluent:version`, which a lookup tolerates.
fn only_bookkeeping(metadata: Option<&Value>) -> bool {
    let Some(Value::Object(map)) = metadata else {
        return true;
    };
    map.iter().all(|(key, value)| match (key.as_str(), value) {
        ("properties", Value::Object(properties)) => properties.keys().all(|k| k == CONFLUENT_VERSION),
        _ => false,
    })
}

fn invalid_schema_message(subject: &Subject, schema_type: SchemaType, detail: &str) -> String {
    format!("Invalid schema for subject '{}' of type {schema_type}, details: {detail}", subject.qualified())
}

/// The format options a subject's config asks for (`compatibilityPolicy`, `protobufRules`).
pub(super) fn check_options(config: &crate::store::ConfigRecord) -> CheckOptions {
    let lenient = config.compatibility_policy.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("LENIENT"));
    CheckOptions {
        json_policy: if lenient { stele_compat::json::Policy::Lenient } else { stele_compat::json::Policy::Strict },
        // Stored values were validated on write; an unreadable one falls back to Confluent's rules.
        protobuf_rules: config.protobuf_rules.as_deref().and_then(|r| r.parse().ok()).unwrap_or_default(),
    }
}

/// Config `compatibilityGroup`: the metadata property that splits the history,
/// and the new schema's value of it.
fn compatibility_group<'a>(
    config: &'a crate::store::ConfigRecord,
    metadata: Option<&'a Value>,
) -> Option<(&'a str, Option<&'a str>)> {
    let property = config.compatibility_group.as_deref()?;
    let value = metadata.and_then(|m| m.get("properties")).and_then(|p| p.get(property)).and_then(Value::as_str);
    Some((property, value))
}

/// A request's schema type as a bounded label (an unknown one is `invalid`).
pub fn schema_type_label(raw: Option<&str>) -> &'static str {
    schema_type_of(raw).map_or("invalid", SchemaType::as_str)
}

/// Counts a check's findings, by rule and schema type.
fn record_findings(problems: &[Incompatibility], schema_type: SchemaType) {
    for problem in problems {
        crate::metrics::finding(&problem.rule, schema_type.as_str());
    }
}

/// Checks `new` against `previous` (oldest first) under `level`, in its own
/// span, counting the findings.
fn check_history(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
    options: CheckOptions,
) -> Option<VersionFailure> {
    let span = tracing::info_span!("compat.check", compatibility.level = %level, schema.r#type = new.schema_type.as_str(), versions = previous.len(), compatible = tracing::field::Empty);
    let _entered = span.enter();
    let failure = check_level_with(level, new, previous, &options);
    span.record("compatible", failure.is_none());
    if let Some(failure) = &failure {
        record_findings(&failure.problems, new.schema_type);
    }
    failure
}

/// Config `wireProof`: what the wire oracle's counter-examples do.
fn wire_enforcement(config: &crate::store::ConfigRecord) -> super::Enforcement {
    super::Enforcement::parse(config.wire_proof.as_deref())
}

/// The wire oracle ([`stele_compat::wire`]) on the versions a check compares:
/// `only` one version (the one the rules failed on, or the one asked for), or
/// the versions `level` compares. Counter-examples come back as findings.
fn prove_history(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
    only: Option<usize>,
    options: &ProofOptions,
) -> Option<VersionFailure> {
    let span = tracing::info_span!("compat.wire_proof", compatibility.level = %level, schema.r#type = new.schema_type.as_str(), budget = options.budget, proven = tracing::field::Empty);
    let _entered = span.enter();
    let failure = match only {
        Some(index) => wire::prove_version(level, new, previous, index, options),
        None => wire::prove_level(level, new, previous, options),
    };
    span.record("proven", failure.is_none());
    if let Some(failure) = &failure {
        record_findings(&failure.problems, new.schema_type);
    }
    failure
}

/// What a check compares the new schema with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compared {
    /// The versions the level compares (all of them, or the latest).
    Level,
    /// The one version given (a check against a chosen version, at any level).
    Chosen,
}

/// A new schema against its history: the rules' failure, then (with `proof`)
/// the wire oracle's, on the blocking pool unless the work is small.
async fn judge(
    level: CompatibilityLevel,
    new: &Arc<ParsedSchema>,
    history: &[(VersionRecord, Arc<SchemaRecord>, Arc<ParsedSchema>)],
    compared: Compared,
    options: CheckOptions,
    proof: Option<ProofOptions>,
) -> Result<(Option<VersionFailure>, Option<VersionFailure>)> {
    let new = Arc::clone(new);
    let previous: Vec<Arc<ParsedSchema>> = history.iter().map(|(_, _, parsed)| Arc::clone(parsed)).collect();
    // The oracle generates and decodes values: never small work.
    let bytes = if previous.is_empty() {
        0
    } else if proof.is_some() {
        usize::MAX
    } else {
        new.canonical.len() + previous.iter().map(|p| p.canonical.len()).sum::<usize>()
    };
    let work = move || {
        let previous: Vec<&ParsedSchema> = previous.iter().map(AsRef::as_ref).collect();
        // A chosen version is a history of one, which every level but NONE compares.
        let rules = check_history(level, &new, &previous, options);
        let wire = proof.and_then(|proof| {
            // A chosen version is compared alone, at every level, as the rules do.
            let only =
                rules.as_ref().map(|f| f.index).or((compared == Compared::Chosen && !previous.is_empty()).then_some(0));
            prove_history(level, &new, &previous, only, &proof)
        });
        (rules, wire)
    };
    super::off_workers(bytes, work).await
}

/// The rules' failure and the oracle's together: a counter-example beside a
/// rule's finding joins it; alone, it fails the check under ENFORCE and is a
/// warning (the second value) under WARN.
fn with_wire(
    rules: Option<VersionFailure>,
    wire: Option<VersionFailure>,
    enforcement: super::Enforcement,
) -> (Option<VersionFailure>, Vec<Incompatibility>) {
    match (rules, wire) {
        (Some(mut rules), Some(wire)) => {
            rules.problems.extend(wire.problems);
            rules.backward |= wire.backward;
            (Some(rules), Vec::new())
        }
        (None, Some(wire)) if enforcement == super::Enforcement::Enforce => (Some(wire), Vec::new()),
        (None, Some(wire)) => (None, wire.problems),
        (rules, None) => (rules, Vec::new()),
    }
}

/// Confluent's trailer on every incompatibility report.
fn level_message(level: CompatibilityLevel) -> String {
    format!("{{validateFields: 'false', compatibility: '{level}'}}")
}

impl Registry {
    /// Parses a request's schema with its references, as a new version of
    /// `subject`. A schema that does not parse is refused in every mode, IMPORT
    /// included: everything stored must parse, or every later check of the
    /// subject would fail.
    async fn prepare(
        &self,
        subject: &Subject,
        request: &RegisterRequest,
        normalize: bool,
        latest: Option<&SchemaRecord>,
    ) -> Result<Prepared> {
        let mut schema_type = schema_type_of(request.schema_type.as_deref())?;
        let mut text = request.schema.clone().unwrap_or_default();
        let mut references = request.references.clone();
        if text.trim().is_empty() {
            // An empty schema keeps the previous version's schema (only metadata changes).
            match latest {
                Some(previous) if request.metadata.is_some() || request.rule_set.is_some() => {
                    text.clone_from(&previous.schema);
                    schema_type = previous.schema_type;
                    references.clone_from(&previous.references);
                }
                _ => return Err(RegistryError::invalid_schema("Empty schema")),
            }
        }
        self.check_schema_size(&text)?;
        // A reference naming a soft-deleted version resolves, as in Confluent;
        // `-1` (latest) means the latest live one.
        let (resolved, references, targets) = self.resolve_with_targets(subject, &references, true).await?;
        let parsed = {
            let text = text.clone();
            let bytes = text.len() + resolved.iter().map(|r| r.schema.len()).sum::<usize>();
            super::off_workers(bytes, move || {
                let parsed =
                    stele_compat::parse(schema_type, &text, &resolved, normalize).map_err(|e| e.to_string())?;
                if normalize
                    && schema_type == SchemaType::Avro
                    && let Ok(avro) = stele_compat::avro::Schema::parse(&text, &resolved)
                    && let Err(error) = avro.validate_defaults()
                {
                    return Err(error.to_string());
                }
                Ok(Arc::new(parsed))
            })
            .await?
            .map_err(|detail| RegistryError::invalid_schema(invalid_schema_message(subject, schema_type, &detail)))?
        };
        let text = parsed.canonical.clone();
        let metadata = normalize_metadata(request.metadata.clone());
        // Like Confluent's community edition, rule sets are validated but not kept.
        let fingerprint = fingerprint(&text, &references, metadata.as_ref(), None);
        Ok(Prepared { schema_type, parsed, text, references, targets, metadata, fingerprint })
    }

    /// The parsed schemas of the live versions (oldest first) that a check compares against.
    /// With `group` (config `compatibilityGroup`: a metadata property and the
    /// new schema's value of it), only versions with the same value take part.
    async fn history(
        &self,
        versions: &[VersionRecord],
        group: Option<(&str, Option<&str>)>,
    ) -> Result<Vec<(VersionRecord, Arc<SchemaRecord>, Arc<ParsedSchema>)>> {
        let mut history = Vec::new();
        for version in versions.iter().filter(|v| !v.deleted) {
            let record = self.record_of(version).await?;
            if let Some((property, value)) = group {
                let theirs = record
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("properties"))
                    .and_then(|p| p.get(property))
                    .and_then(Value::as_str);
                if theirs != value {
                    continue;
                }
            }
            let parsed = self.parsed_of(&record).await?;
            history.push((version.clone(), record, parsed));
        }
        Ok(history)
    }

    /// Confluent's messages for a failed check: the problems, then which version, its text and the level.
    /// Under FULL, Confluent names the version only when the new schema cannot
    /// read it (`failure.backward`): its forward half reports problems alone.
    fn failure_messages(
        level: CompatibilityLevel,
        failure: &VersionFailure,
        (version, record): (&VersionRecord, &SchemaRecord),
    ) -> Vec<String> {
        let problems = &failure.problems;
        let mut messages: Vec<String> = problems.iter().map(|p| p.confluent_message.clone()).collect();
        let type_changed = problems.iter().any(|p| p.rule == "SCHEMA_TYPE_CHANGED");
        let full = level.checks_backward() && level.checks_forward();
        if !type_changed && (failure.backward || !full) {
            messages.push(format!("{{oldSchemaVersion: {}}}", version.version));
            messages.push(format!("{{oldSchema: '{}'}}", record.schema));
        }
        messages.push(level_message(level));
        messages
    }

    /// `POST /subjects/{s}/versions`.
    #[tracing::instrument(
        name = "registry.register",
        skip_all,
        fields(subject = raw_subject, schema.r#type = schema_type_label(request.schema_type.as_deref()), outcome)
    )]
    pub async fn register(
        &self,
        raw_subject: &str,
        request: RegisterRequest,
        normalize_param: bool,
    ) -> Result<RegisterOutcome> {
        let schema_type = schema_type_label(request.schema_type.as_deref());
        let result = self.register_unrecorded(raw_subject, request, normalize_param).await;
        let outcome = match &result {
            Ok(registered) if registered.created => RegistrationOutcome::NewVersion,
            Ok(_) => RegistrationOutcome::Existing,
            Err(error) => match error.code() {
                ErrorCode::Incompatible => RegistrationOutcome::Incompatible,
                ErrorCode::IncompatibleWithConsumers => RegistrationOutcome::ConsumerContract,
                ErrorCode::InvalidSchema | ErrorCode::InvalidSubject | ErrorCode::Unprocessable => {
                    RegistrationOutcome::Invalid
                }
                ErrorCode::OperationNotPermitted => RegistrationOutcome::NotPermitted,
                _ => RegistrationOutcome::Error,
            },
        };
        tracing::Span::current().record("outcome", outcome.as_str());
        crate::metrics::registration(outcome, schema_type);
        result
    }

    async fn register_unrecorded(
        &self,
        raw_subject: &str,
        mut request: RegisterRequest,
        normalize_param: bool,
    ) -> Result<RegisterOutcome> {
        // Jackson's default for an absent id is -1: a negative id is no id.
        request.id = request.id.filter(|id| *id >= 0);
        let subject = Subject::parse_for_write(&self.resolve_alias(raw_subject).await?)?;
        let cache_key = (request.id.is_none() && request.version.is_none() && !request.always_new)
            .then(|| ReregisterKey::of(subject.qualified(), &request, normalize_param));
        if let Some(key) = &cache_key
            && request.metadata.is_none()
            && let Some((id, version)) = self.reregister.get(key)
        {
            // Replicas learn of each other's deletes and overwrites a few
            // milliseconds late; until then the answer is only trusted once the
            // storage confirms the version is still live and holds the id (one
            // primary-key read instead of the whole registration).
            if !self.shared_storage || self.store.version_holds(&key.subject, version, id).await? {
                return Ok(RegisterOutcome {
                    id,
                    view: None,
                    warnings: Vec::new(),
                    created: false,
                    subject: key.subject.clone(),
                    version,
                });
            }
            self.reregister.evict(|cached, _| cached != key);
        }
        let _guard = self.write_locks.subject(&subject.qualified()).await;
        let ticket = self.reregister.ticket();
        let (id, stored_version, full, warnings, created) =
            until_settled(format!("registration under {subject}"), || {
                self.register_once(&subject, &request, normalize_param)
            })
            .await?;
        if created {
            self.emit(super::Event {
                kind: super::EventKind::SchemaRegistered,
                subjects: vec![subject.qualified()],
                data: serde_json::json!({"subject": subject.qualified(), "version": stored_version, "id": id}),
            });
        }
        // A registration some consumer cannot read is not cached: the warning must repeat.
        if let Some(key) = cache_key.filter(|_| warnings.is_empty()) {
            self.reregister.fill(ticket, key, (id, stored_version));
        }
        let view = full.map(|view| Box::new(SchemaView { version: Some(stored_version), ..view }));
        Ok(RegisterOutcome { id, view, warnings, created, subject: subject.qualified(), version: stored_version })
    }

    /// One attempt; `None` when another writer got in between and the caller should retry.
    async fn register_once(
        &self,
        subject: &Subject,
        request: &RegisterRequest,
        normalize_param: bool,
    ) -> Result<Option<Registered>> {
        let mode = self.effective_mode(subject).await?;
        let context = &subject.context;
        if mode.is_read_only() {
            return Err(RegistryError::not_permitted(format!(
                "Subject {} in context {context} is in read-only mode",
                subject.name
            )));
        }
        if let Some(id) = request.id
            && mode != Mode::Import
        {
            // Confluent answers a registration of an existing schema with its own id.
            let already = self.store.schema_get(&subject.context, id).await?;
            let versions = self.store.versions_list(subject).await?;
            // (Only when it is the latest version, as the recorded answers show.)
            if let Some(existing) = already
                && versions.iter().rev().find(|v| !v.deleted).is_some_and(|v| v.schema_id == id)
                && request.schema.as_deref().is_some_and(|text| {
                    schema_type_of(request.schema_type.as_deref()).ok() == Some(existing.schema_type)
                        && stele_compat::parse(existing.schema_type, text, &[], false)
                            .is_ok_and(|p| p.canonical == existing.schema)
                })
            {
                let version = versions.iter().rev().find(|v| !v.deleted && v.schema_id == id).map_or(0, |v| v.version);
                return Ok(Some((id, version, None, Vec::new(), false)));
            }
            return Err(RegistryError::not_permitted(format!(
                "Subject {} in context {context} is not in import mode",
                subject.name
            )));
        }
        if request.id.is_none() && mode == Mode::Import {
            return Err(RegistryError::not_permitted(format!(
                "Subject {} in context {context} is not in read-write mode",
                subject.name
            )));
        }
        let config = self.effective_config(Some(subject)).await?;
        let normalize = normalize_param || config.normalize.unwrap_or(false);
        let versions = self.store.versions_list(subject).await?;
        let live: Vec<&VersionRecord> = versions.iter().filter(|v| !v.deleted).collect();
        let latest = match live.last() {
            Some(v) => Some(self.record_of(v).await?),
            None => None,
        };
        let importing = mode == Mode::Import;
        let prepared = self.prepare(subject, request, normalize, latest.as_deref()).await?;
        // Already registered under this subject (at any live version): same id, no check.
        // An explicit version asks for a new version; `-1` only considers the latest.
        if !request.always_new && request.version.is_none_or(|v| v <= 0) {
            let candidates: Vec<&VersionRecord> =
                if request.version == Some(-1) { live.last().copied().into_iter().collect() } else { live.clone() };
            for version in candidates {
                let record = self.record_of(version).await?;
                let equivalent = record.fingerprint == prepared.fingerprint
                    || (prepared.metadata.is_none()
                        && only_bookkeeping(record.metadata.as_ref())
                        && record.schema == prepared.text
                        && record.references == prepared.references);
                if equivalent && request.id.is_none_or(|id| id == record.id) {
                    return Ok(Some((record.id, version.version, None, Vec::new(), false)));
                }
            }
        }
        let max_version = versions.last().map(|v| v.version);
        // Metadata: the config's default, under the request's (or the previous
        // version's), under the config's override; perhaps stamped with the
        // version's number (`confluent:version`), which is chosen next.
        let mut metadata = prepared.metadata.clone();
        let mut stamped = false;
        if !importing {
            let inherited = metadata.clone().or_else(|| latest.as_ref().and_then(|l| l.metadata.clone()));
            metadata = overlay_metadata(config.default_metadata.clone(), inherited.as_ref());
            metadata = overlay_metadata(metadata, config.override_metadata.as_ref());
            stamped = request.always_new
                || request.version.is_some_and(|v| v != 0)
                || has_confluent_version(metadata.as_ref());
        }
        let stored_as = |number: i32| {
            let metadata =
                if stamped { Some(with_confluent_version(metadata.clone(), number)) } else { metadata.clone() };
            let fingerprint = if metadata == prepared.metadata {
                prepared.fingerprint.clone()
            } else {
                fingerprint(&prepared.text, &prepared.references, metadata.as_ref(), None)
            };
            (metadata, fingerprint)
        };
        // One more than the highest version, past numbers pinned for other
        // schemas (deleted for good while soft-deleted schemas reference them).
        let pins = self.store.version_pins(subject).await?;
        let mut next_version = max_version.unwrap_or(0) + 1;
        while pins.iter().any(|(number, pinned)| *number == next_version && *pinned != stored_as(next_version).1) {
            next_version += 1;
        }
        let explicit_version = match request.version {
            Some(v) if v > 0 => {
                if !importing && v != next_version {
                    return Err(RegistryError::invalid_schema("Version is not one more than previous version"));
                }
                Some(v)
            }
            _ => None,
        };
        let new_version = explicit_version.unwrap_or(next_version);
        let (metadata, fingerprint) = stored_as(new_version);
        let full_answer = metadata.is_some();
        let view = |id: i64, version: i32| {
            full_answer.then(|| SchemaView {
                subject: None,
                version: Some(version),
                id: Some(id),
                schema_type: (prepared.schema_type != SchemaType::Avro).then(|| prepared.schema_type.as_str()),
                references: prepared.references.clone(),
                metadata: metadata.clone(),
                rule_set: None,
                schema: prepared.text.clone(),
                max_id: None,
            })
        };
        for version in &live {
            let record = self.record_of(version).await?;
            if record.fingerprint == fingerprint && request.id.is_none_or(|id| id == record.id) {
                // An import that names a version already imported with this schema
                // answers that version whole, as Confluent does.
                let answer = if importing && explicit_version == Some(version.version) {
                    let whole = SchemaView::of_version(version, &record, record.schema.clone());
                    Some(SchemaView { subject: None, rule_set: None, ..whole })
                } else {
                    view(record.id, version.version)
                };
                return Ok(Some((record.id, version.version, answer, Vec::new(), false)));
            }
        }
        let level = config.compatibility_level.as_deref().and_then(|l| l.parse().ok()).unwrap_or(self.default_level);
        let mut warnings = Vec::new();
        if !importing && level != CompatibilityLevel::None {
            let history = self.history(&versions, compatibility_group(&config, metadata.as_ref())).await?;
            let wire_proof = wire_enforcement(&config);
            let proof = (wire_proof != super::Enforcement::Off).then(|| self.proof_options(&config));
            let (rules, wire) =
                judge(level, &prepared.parsed, &history, Compared::Level, check_options(&config), proof).await?;
            let (failure, wire_warnings) = with_wire(rules, wire, wire_proof);
            for problem in &wire_warnings {
                tracing::warn!(subject.name = %subject, "registering a schema that fails on the wire: {problem}");
            }
            warnings.extend(wire_warnings.iter().map(ToString::to_string));
            if let Some(failure) = failure {
                let (version, record, _) = &history[failure.index];
                let messages = Self::failure_messages(level, &failure, (version, record));
                return Err(RegistryError::new(
                    ErrorCode::Incompatible,
                    format!(
                        "Schema being registered is incompatible with an earlier schema for subject \"{}\", details: [{}]",
                        subject.qualified(),
                        messages.join(", ")
                    ),
                ));
            }
        }
        // Consumer contracts: refuse (ENFORCE) or report (WARN) a schema a
        // declared consumer cannot read. This applies under every level, NONE
        // included, where it is the only check.
        let enforcement = super::Enforcement::parse(config.consumer_contracts.as_deref());
        if enforcement != super::Enforcement::Off {
            let findings = self.contract_findings(subject, &prepared.parsed).await?;
            if !findings.is_empty() {
                self.emit(super::Event {
                    kind: super::EventKind::ContractBroken,
                    subjects: vec![subject.qualified()],
                    data: serde_json::json!({
                        "subject": subject.qualified(),
                        "enforcement": format!("{enforcement:?}").to_ascii_uppercase(),
                        "findings": findings,
                    }),
                });
                let sentences: Vec<String> = findings.iter().map(super::ContractFinding::sentence).collect();
                let blocking: Vec<String> =
                    findings.iter().filter(|f| !f.pending).map(super::ContractFinding::sentence).collect();
                if enforcement == super::Enforcement::Enforce && !blocking.is_empty() {
                    return Err(RegistryError::new(
                        ErrorCode::IncompatibleWithConsumers,
                        format!(
                            "Schema being registered is incompatible with registered consumers of subject \"{}\", details: [{}]",
                            subject.qualified(),
                            blocking.join(", ")
                        ),
                    ));
                }
                for sentence in &sentences {
                    tracing::warn!(subject.name = %subject, "registering a schema a consumer cannot read: {sentence}");
                }
                warnings.extend(sentences);
            }
        }
        let new = NewVersion {
            subject: subject.clone(),
            fingerprint: fingerprint.clone(),
            schema_type: prepared.schema_type,
            schema: prepared.text.clone(),
            references: prepared.references.clone(),
            reference_targets: prepared.targets.clone(),
            metadata: metadata.clone(),
            rule_set: None,
            explicit_id: request.id,
            explicit_version,
            expected_max_version: max_version,
            next_version,
        };
        match self.store.version_insert(new).await? {
            InsertOutcome::Inserted { id, version } => {
                // What a re-registration answers can depend on the latest version (inherited metadata).
                let qualified = subject.qualified();
                self.reregister.evict(|key, _| key.subject != qualified);
                self.evict_answers(&qualified);
                tracing::info!(subject.name = %subject, schema.id = id, schema.version = version, "registered schema {id} as version {version} of {subject}");
                Ok(Some((id, version, view(id, version), warnings, true)))
            }
            InsertOutcome::Conflict => Ok(None),
            InsertOutcome::ReferenceGone(missing) => Err(RegistryError::invalid_schema(format!(
                "Invalid reference: subject '{}' version {} was deleted or replaced while the request was checked",
                missing.subject, missing.version
            ))),
            // Confluent's identity ignores the type: the same text under another
            // type would need the id of a schema of that other type.
            InsertOutcome::TypeTaken(existing) => Err(RegistryError::not_permitted(format!(
                "Overwrite new schema with id {existing} in context {context} is not permitted."
            ))),
            InsertOutcome::IdTaken => Err(RegistryError::not_permitted(format!(
                "Overwrite new schema with id {} in context {context} is not permitted.",
                request.id.unwrap_or_default()
            ))),
            InsertOutcome::VersionTaken => Err(RegistryError::not_permitted(format!(
                "Version {} of subject {} in context {context} is already registered with another schema.",
                explicit_version.unwrap_or_default(),
                subject.name
            ))),
            InsertOutcome::VersionReferenced(target) => {
                Err(RegistryError::reference_exists(&target.subject, target.version))
            }
            InsertOutcome::VersionPinned => Err(RegistryError::not_permitted(format!(
                "Version {} of subject {} in context {context} was permanently deleted while a soft-deleted schema \
                 still references it; only the schema it held may take that version again.",
                explicit_version.unwrap_or_default(),
                subject.name
            ))),
        }
    }

    /// `POST /subjects/{s}`: is this schema registered under the subject?
    #[tracing::instrument(name = "registry.lookup", skip_all, fields(subject = raw_subject))]
    pub async fn lookup(
        &self,
        raw_subject: &str,
        request: RegisterRequest,
        normalize_param: bool,
        include_deleted: bool,
    ) -> Result<SchemaView> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let config = self.effective_config(Some(&subject)).await?;
        let normalize = normalize_param || config.normalize.unwrap_or(false);
        let schema_type = schema_type_of(request.schema_type.as_deref())?;
        if request.schema.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(RegistryError::invalid_schema("Empty schema"));
        }
        // The subject itself first, then (for a bare subject) the subjects of
        // the same name in other contexts, as Confluent looks them up.
        let own = self.store.versions_list(&subject).await?;
        let own_visible = own.iter().any(|v| include_deleted || !v.deleted);
        let mut candidates = Vec::new();
        if own_visible {
            candidates.push((subject.clone(), own));
        }
        candidates.extend(self.fallback_subjects(&subject).await?);
        if candidates.is_empty() {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        for (candidate, versions) in &candidates {
            if let Some(view) =
                self.lookup_in(candidate, versions, &request, normalize, include_deleted, schema_type).await?
            {
                return Ok(view);
            }
        }
        if !own_visible {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        Err(RegistryError::schema_not_found())
    }

    /// The version of `subject` (among `versions`) that holds the request's schema.
    async fn lookup_in(
        &self,
        subject: &Subject,
        versions: &[VersionRecord],
        request: &RegisterRequest,
        normalize: bool,
        include_deleted: bool,
        schema_type: SchemaType,
    ) -> Result<Option<SchemaView>> {
        let prepared = self.prepare(subject, request, normalize, None).await?;
        let visible: Vec<&VersionRecord> = versions.iter().filter(|v| include_deleted || !v.deleted).collect();
        // The exact stored form first (Confluent's hash lookup), then equivalent spellings.
        for version in visible.iter().rev() {
            let record = self.record_of(version).await?;
            if record.fingerprint == prepared.fingerprint {
                return Ok(Some(SchemaView::of_version(version, &record, record.schema.clone())));
            }
        }
        for version in visible.iter().rev() {
            let record = self.record_of(version).await?;
            let same = if record.fingerprint == prepared.fingerprint {
                true
            } else if record.schema_type == schema_type && record.references == prepared.references {
                // Stored without normalization: compare normalized forms, ignoring metadata.
                let stored = if normalize {
                    let (resolved, _) = self.resolve_references(subject, &record.references, true).await?;
                    stele_compat::parse(record.schema_type, &record.schema, &resolved, true).map(|p| p.canonical).ok()
                } else {
                    Some(record.schema.clone())
                };
                stored.as_deref() == Some(prepared.text.as_str())
                    && prepared.metadata.is_none()
                    && only_bookkeeping(record.metadata.as_ref())
            } else {
                false
            };
            if same {
                return Ok(Some(SchemaView::of_version(version, &record, record.schema.clone())));
            }
        }
        Ok(None)
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: checks without registering.
    /// `selector` `None` checks against the history the subject's level names.
    #[tracing::instrument(name = "registry.check_compatibility", skip_all, fields(subject = raw_subject))]
    pub async fn check_compatibility(
        &self,
        raw_subject: &str,
        selector: Option<VersionSelector>,
        request: RegisterRequest,
        normalize_param: bool,
    ) -> Result<CompatibilityVerdict> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let config = self.effective_config(Some(&subject)).await?;
        let level = config.compatibility_level.as_deref().and_then(|l| l.parse().ok()).unwrap_or(self.default_level);
        let normalize = normalize_param || config.normalize.unwrap_or(false);
        let versions = self.store.versions_list(&subject).await?;
        let live: Vec<VersionRecord> = versions.iter().filter(|v| !v.deleted).cloned().collect();
        let latest = match live.last() {
            Some(v) => Some(self.record_of(v).await?),
            None => None,
        };
        let prepared = self.prepare(&subject, &request, normalize, latest.as_deref()).await?;
        let parsed = prepared.parsed;
        // The versions compared, each with its record.
        let history: Vec<(VersionRecord, Arc<SchemaRecord>, Arc<ParsedSchema>)> = match selector {
            None => self.history(&versions, compatibility_group(&config, prepared.metadata.as_ref())).await?,
            Some(selector) => {
                let target = match selector {
                    VersionSelector::Latest => live.last().cloned(),
                    VersionSelector::Number(n) => Some(
                        live.iter()
                            .find(|v| v.version == n)
                            .cloned()
                            .ok_or_else(|| RegistryError::version_not_found(n))?,
                    ),
                };
                match target {
                    Some(target) => {
                        let record = self.record_of(&target).await?;
                        let old = self.parsed_of(&record).await?;
                        vec![(target, record, old)]
                    }
                    None => Vec::new(),
                }
            }
        };
        let wire_proof = wire_enforcement(&config);
        let proof = (wire_proof != super::Enforcement::Off).then(|| self.proof_options(&config));
        let compared = if selector.is_some() { Compared::Chosen } else { Compared::Level };
        let (rules, wire) = judge(level, &parsed, &history, compared, check_options(&config), proof).await?;
        let (failure, warnings) = with_wire(rules, wire, wire_proof);
        Ok(match failure {
            None => CompatibilityVerdict {
                compatible: true,
                level,
                version: None,
                messages: Vec::new(),
                problems: Vec::new(),
                warnings,
            },
            Some(failure) => {
                let (version, record, _) = &history[failure.index];
                CompatibilityVerdict {
                    compatible: false,
                    level,
                    version: Some(version.version),
                    messages: Self::failure_messages(level, &failure, (version, record)),
                    problems: failure.problems,
                    warnings,
                }
            }
        })
    }
}

impl Registry {
    /// The wire oracle's options for a subject: the budget from the limits,
    /// the JSON mapping too under buf's `WIRE_JSON` profile.
    fn proof_options(&self, config: &crate::store::ConfigRecord) -> ProofOptions {
        let wire_json = stele_compat::protobuf::Rules::Buf(stele_compat::protobuf::buf::Category::WireJson);
        ProofOptions {
            budget: self.limits.wire_proof_budget,
            protobuf_json: check_options(config).protobuf_rules == wire_json,
            ..ProofOptions::default()
        }
    }
}

/// `POST /subjects/{s}/versions/{v}/tags`, after transport parsing.
#[derive(Debug, Clone, Default)]
pub struct TagsRequest {
    pub add: Vec<stele_compat::tags::TagChange>,
    pub remove: Vec<stele_compat::tags::TagChange>,
    /// The version to create: one more than the latest when absent.
    pub new_version: Option<i32>,
    pub metadata: Option<Value>,
    pub rule_set: Option<Value>,
}

impl Registry {
    /// `POST /subjects/{s}/versions/{v}/tags`: the version's schema with tags
    /// added and removed, registered as a new version (Confluent 7.9's
    /// semantics: a new version even when no tag changes, numbered
    /// `newVersion` or as the next version (one more than the latest, past
    /// pinned numbers), its metadata inherited from the latest version unless
    /// given).
    #[tracing::instrument(name = "registry.modify_tags", skip_all, fields(subject = raw_subject))]
    pub async fn modify_tags(
        &self,
        raw_subject: &str,
        selector: VersionSelector,
        request: TagsRequest,
    ) -> Result<RegisterOutcome> {
        let (_, record) = self.version_get(raw_subject, selector, false).await?;
        let parsed = self.parsed_of(&record).await?;
        let text = stele_compat::tags::modify_tags(&parsed, &request.add, &request.remove)
            .map_err(RegistryError::invalid_schema)?;
        let register = RegisterRequest {
            schema: Some(text),
            schema_type: Some(record.schema_type.as_str().to_owned()),
            references: record.references.clone(),
            metadata: request.metadata,
            rule_set: request.rule_set,
            id: None,
            version: request.new_version,
            always_new: true,
        };
        self.register(raw_subject, register, false).await
    }
}
