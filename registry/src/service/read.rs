//! Reads: versions, subjects, schemas by id, listings.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use stele_compat::SchemaType;

use super::{Registry, java_cmp, java_hash_order};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::{Reference, SchemaRecord, VersionRecord};
use crate::subject::{DEFAULT_CONTEXT, Subject};

/// A version path parameter: a number, or the latest live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Number(i32),
}

impl VersionSelector {
    /// Parses as Confluent does: `latest` in any case, `-1`, or an integer in
    /// [1, 2^31-1] with Java's `Integer.parseInt` leniency (`+1`, `01`, `1 `).
    pub fn parse(raw: &str) -> Result<VersionSelector> {
        if raw.eq_ignore_ascii_case("latest") {
            return Ok(VersionSelector::Latest);
        }
        match raw.trim().parse::<i32>() {
            Ok(-1) => Ok(VersionSelector::Latest),
            Ok(n) if n >= 1 => Ok(VersionSelector::Number(n)),
            _ => Err(RegistryError::new(
                ErrorCode::InvalidVersion,
                format!(
                    "The specified version '{raw}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
                ),
            )),
        }
    }

    fn label(self) -> i32 {
        match self {
            VersionSelector::Latest => -1,
            VersionSelector::Number(n) => n,
        }
    }
}

/// How a schema's text is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaFormat {
    #[default]
    Default,
    /// Protobuf: base64 `FileDescriptorProto`.
    Serialized,
    /// Protobuf: the text without extension ranges and `extend` blocks.
    IgnoreExtensions,
}

impl SchemaFormat {
    pub fn parse(raw: Option<&str>) -> SchemaFormat {
        match raw {
            Some(f) if f.eq_ignore_ascii_case("serialized") => SchemaFormat::Serialized,
            Some(f) if f.eq_ignore_ascii_case("ignore_extensions") => SchemaFormat::IgnoreExtensions,
            _ => SchemaFormat::Default,
        }
    }
}

/// Confluent's `Schema` object: a subject version and its schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<Value>,
    pub schema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_id: Option<i64>,
}

impl SchemaView {
    /// The schema alone (Confluent's `SchemaString`), as `/schemas/ids/{id}` answers.
    pub fn of_record(record: &SchemaRecord, schema: String) -> SchemaView {
        SchemaView {
            subject: None,
            version: None,
            id: None,
            schema_type: (record.schema_type != SchemaType::Avro).then(|| record.schema_type.as_str()),
            references: record.references.clone(),
            metadata: record.metadata.clone(),
            rule_set: record.rule_set.clone(),
            schema,
            max_id: None,
        }
    }

    pub fn of_version(version: &VersionRecord, record: &SchemaRecord, schema: String) -> SchemaView {
        SchemaView {
            subject: Some(version.subject.clone()),
            version: Some(version.version),
            id: Some(record.id),
            ..SchemaView::of_record(record, schema)
        }
    }
}

/// Which entries a listing includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter {
    pub deleted: bool,
    pub deleted_only: bool,
}

impl ListFilter {
    fn keeps(self, deleted: bool) -> bool {
        if self.deleted_only { deleted } else { self.deleted || !deleted }
    }
}

/// Whether a qualified subject matches a `subjectPrefix` (`:*:` is every context;
/// a bare prefix matches the default context only).
fn matches_prefix(qualified: &str, prefix: &str) -> bool {
    if prefix == ":*:" {
        return true;
    }
    let subject = Subject::parse(qualified);
    if let Some(rest) = prefix.strip_prefix(":*:") {
        return subject.name.starts_with(rest);
    }
    if prefix.starts_with(":.") {
        return qualified.starts_with(prefix)
            || (prefix.ends_with(':') && Subject::parse(prefix).context == subject.context && subject.name.is_empty());
    }
    subject.is_default_context() && subject.name.starts_with(prefix)
}

impl Registry {
    /// The schema text in the requested format.
    async fn render(&self, record: &SchemaRecord, format: SchemaFormat) -> Result<String> {
        if format != SchemaFormat::Default && record.schema_type == SchemaType::Protobuf {
            let parsed = self.parsed_of(record).await?;
            if let Some(proto) = parsed.as_protobuf() {
                return Ok(match format {
                    SchemaFormat::Serialized => proto.serialized(),
                    _ => proto.without_extensions(),
                });
            }
        }
        Ok(record.schema.clone())
    }

    /// Resolves a version selector against a subject's versions.
    pub async fn version_get(
        &self,
        raw_subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<(VersionRecord, Arc<SchemaRecord>)> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let (_, versions) = self.versions_with_fallback(&Subject::parse(raw_subject), include_deleted).await?;
        let has_live = versions.iter().any(|v| !v.deleted);
        if versions.is_empty() || (!has_live && !include_deleted) {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        let found = match selector {
            VersionSelector::Latest => versions.iter().rev().find(|v| !v.deleted),
            VersionSelector::Number(n) => versions.iter().find(|v| v.version == n && (include_deleted || !v.deleted)),
        };
        let version = found.ok_or_else(|| RegistryError::version_not_found(selector.label()))?.clone();
        let record = self.record_of(&version).await?;
        Ok((version, record))
    }

    pub async fn version_view(
        &self,
        raw_subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
        format: SchemaFormat,
    ) -> Result<SchemaView> {
        let (version, record) = self.version_get(raw_subject, selector, include_deleted).await?;
        let schema = self.render(&record, format).await?;
        Ok(SchemaView::of_version(&version, &record, schema))
    }

    /// `GET /subjects/{s}/versions`.
    pub async fn versions_list(&self, raw_subject: &str, filter: ListFilter) -> Result<Vec<i32>> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let versions = self.store.versions_list(&subject).await?;
        if subject.name.is_empty() && versions.is_empty() {
            // A context's empty subject (`:.ctx:`) always exists, without versions until given one.
            return Ok(Vec::new());
        }
        let visible: Vec<i32> = versions.iter().filter(|v| filter.keeps(v.deleted)).map(|v| v.version).collect();
        let exists =
            versions.iter().any(|v| !v.deleted) || ((filter.deleted || filter.deleted_only) && !versions.is_empty());
        if !exists {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        Ok(visible)
    }

    /// `GET /subjects`: subject names in Java string order.
    pub async fn subjects_list(
        &self,
        prefix: &str,
        filter: ListFilter,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        // One row per subject (not per version), counted by the database, a
        // page at a time: the listing holds only what it answers. Pages come in
        // byte order, which is Java's (Confluent's) order but between
        // characters above U+FFFF and those from U+E000 to U+FFFF.
        const PAGE: usize = 1000;
        let mut names = Vec::new();
        let mut skipped = 0;
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.subjects_after(after.as_deref(), PAGE).await?;
            let Some((last, _)) = rows.last() else { break };
            after = Some(last.clone());
            let exhausted = rows.len() < PAGE;
            for (name, live) in rows {
                if !(matches_prefix(&name, prefix) && filter.keeps(live == 0)) {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                names.push(name);
                if limit.is_some_and(|limit| names.len() >= limit) {
                    return Ok(names);
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(names)
    }

    /// The subjects that alias each subject (config `alias`), by the aliased
    /// subject, qualified; for `GET /schemas?aliases=true`.
    pub async fn subject_aliases(&self) -> Result<BTreeMap<String, Vec<String>>> {
        // The store lists scopes in order, so each list comes sorted.
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (scope, config) in self.store.configs_all().await? {
            if let Some(target) = config.alias.as_deref().filter(|a| !a.is_empty()) {
                aliases.entry(Subject::parse(target).qualified()).or_default().push(scope);
            }
        }
        Ok(aliases)
    }

    /// `GET /schemas`: subject versions with their schemas.
    pub async fn schemas_list(
        &self,
        prefix: &str,
        filter: ListFilter,
        latest_only: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SchemaView>> {
        // The default listing (the default context's versions, deleted ones
        // or not, perhaps only the latest): the database skips the offset.
        if prefix.is_empty() && !filter.deleted_only {
            let versions =
                self.store.versions_page(DEFAULT_CONTEXT, filter.deleted, latest_only, offset, limit).await?;
            return self.views_of(versions).await;
        }
        // Otherwise every version in subject order, keeping only the page asked
        // for: memory is bounded by `limit`, however many versions are stored.
        let mut wanted: Vec<VersionRecord> = Vec::new();
        let mut skipped = 0;
        // With `latest_only`, a subject's last kept version waits here until
        // the next subject shows it was the latest.
        let mut pending: Option<VersionRecord> = None;
        let mut keep = |version: VersionRecord, wanted: &mut Vec<VersionRecord>| {
            if skipped < offset {
                skipped += 1;
            } else if wanted.len() < limit {
                wanted.push(version);
            }
        };
        self.scan_versions(|version| {
            if !(matches_prefix(&version.subject, prefix) && filter.keeps(version.deleted)) {
                return true;
            }
            if latest_only {
                match pending.take() {
                    Some(previous) if previous.subject != version.subject => keep(previous, &mut wanted),
                    _ => {}
                }
                pending = Some(version);
            } else {
                keep(version, &mut wanted);
            }
            wanted.len() < limit
        })
        .await?;
        if let Some(previous) = pending.take() {
            keep(previous, &mut wanted);
        }
        self.views_of(wanted).await
    }

    /// A listing's entries: each version with its schema.
    async fn views_of(&self, versions: Vec<VersionRecord>) -> Result<Vec<SchemaView>> {
        let mut views = Vec::with_capacity(versions.len());
        for version in versions {
            let record = self.record_of(&version).await?;
            views.push(SchemaView::of_version(&version, &record, record.schema.clone()));
        }
        Ok(views)
    }

    /// Every stored version, ordered by subject (its bytes) then version, read
    /// a page at a time and handed to `visit` until it answers false: listings
    /// hold what they keep, never every version at once.
    pub(super) async fn scan_versions(&self, mut visit: impl FnMut(VersionRecord) -> bool) -> Result<()> {
        const PAGE: usize = 1000;
        let mut after: Option<(String, i32)> = None;
        loop {
            let rows = self.store.versions_after(after.as_ref().map(|(s, v)| (s.as_str(), *v)), PAGE).await?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = Some((last.subject.clone(), last.version));
            let exhausted = rows.len() < PAGE;
            for version in rows {
                if !visit(version) {
                    return Ok(());
                }
            }
            if exhausted {
                return Ok(());
            }
        }
    }

    /// The serialized answer for an id already read once, without waiting on anything.
    pub fn cached_schema_json(&self, context: &str, id: i64) -> Option<SchemaJson> {
        // A miss is counted by the full path this request goes on to.
        if let Some(found) = self.id_bodies.peek(&super::IdRef(context, id)) {
            self.id_bodies.counted(true);
            return Some(found);
        }
        self.unpacked_schema_json(context, id)
    }

    /// The answer for an id from the packed tier, moved in front of it.
    fn unpacked_schema_json(&self, context: &str, id: i64) -> Option<SchemaJson> {
        // The ticket comes before the read of `packed`: an invalidation forgets
        // the packed entry before the plain one, so a fill from an entry it
        // removed is refused (see `Registry::evict_schemas`).
        let ticket = self.id_bodies.ticket();
        let number = self.context_numbers.get(context)?;
        let (body, etag) = self.packed.get(&self.packer, number, id)?;
        self.packed.counted(true);
        let json = SchemaJson::with_hash(bytes::Bytes::from(body), etag);
        if self.promote(number, id) {
            self.id_bodies.fill(ticket, (context.to_owned(), id), json.clone());
        }
        Some(json)
    }

    /// Whether an answer just unpacked moves to the front tier: always while
    /// that tier has room; once full, when the id is read again soon after
    /// (see [`super::packed::RecentReads`]). Reads spread over a million ids
    /// then leave the front tier to the ids read often.
    fn promote(&self, number: u32, id: i64) -> bool {
        let again = self.recent_reads.read_again(number, id);
        again || !self.id_bodies.probably_full()
    }

    /// `GET /schemas/ids/{id}` in its default form, serialized: the consumers'
    /// hot path, answered from memory after the first read.
    pub async fn schema_json(&self, id: i64, subject: Option<&str>) -> Result<SchemaJson> {
        let resolved = match subject {
            Some(s) => Some(self.resolve_alias(s).await?),
            None => None,
        };
        let subject = resolved.as_deref();
        let context = subject.map_or(std::borrow::Cow::Borrowed(DEFAULT_CONTEXT), |s| {
            std::borrow::Cow::Owned(Subject::parse(s).context)
        });
        let cached = self.id_bodies.peek(&super::IdRef(&context, id));
        self.id_bodies.counted(cached.is_some());
        if let Some(body) = cached {
            return Ok(body);
        }
        if let Some(body) = self.unpacked_schema_json(&context, id) {
            return Ok(body);
        }
        self.packed.counted(false);
        let ticket = self.id_bodies.ticket();
        let packed_ticket = self.packed.ticket();
        let record = self.schema_by_id(id, subject).await?;
        let body = SchemaJson::of(&record)?;
        // Kept under the context the schema lives in: a read that fell back
        // to another context's schema must not make it this context's answer,
        // and a permanent delete there evicts it.
        if let Some(packed) = self.packer.pack(&body.body, body.hash) {
            self.packed.fill(packed_ticket, self.context_numbers.get_or_add(&record.context), id, &packed);
        }
        self.id_bodies.fill(ticket, (record.context.clone(), id), body.clone());
        Ok(body)
    }

    /// Reads every stored schema once, a page at a time, and keeps its
    /// `GET /schemas/ids/{id}` answer packed, until the packed tier is nearly
    /// full: after a start, consumers' first reads are answered from memory.
    /// It first trains the packing dictionary (see `train_packer`), and packs
    /// each page while it reads the next. Returns how many answers it packed.
    ///
    /// One warm-up runs at a time. A warm-up asked for while one runs (after
    /// a replica dropped every answer, say) waits and then reads everything
    /// again, since the running one may already have passed what was dropped;
    /// further ones asked for meanwhile return 0 at once, as that waiting one
    /// starts after them and covers them.
    pub async fn warm_schemas(&self) -> Result<usize> {
        self.warm_schemas_in_pages(2000).await
    }

    /// [`Registry::warm_schemas`], reading `page` schemas at a time.
    #[doc(hidden)]
    pub async fn warm_schemas_in_pages(&self, page: usize) -> Result<usize> {
        use std::sync::atomic::Ordering;
        if self.warm_queued.swap(true, Ordering::SeqCst) {
            return Ok(0);
        }
        let _running = self.warm_lock.lock().await;
        self.warm_queued.store(false, Ordering::SeqCst);
        self.train_packer().await?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut after: Option<(String, i64)> = None;
        let mut exhausted = false;
        let mut warmed = 0;
        // The page being packed while the next one is read.
        let mut in_flight: Option<(super::cache::Ticket, Vec<PackingPart>)> = None;
        loop {
            let mut next = None;
            if !exhausted && !self.packed.nearly_full() {
                let ticket = self.packed.ticket();
                let read = self.store.schemas_after(after.as_ref().map(|(c, i)| (c.as_str(), *i)), page).await?;
                exhausted = read.len() < page;
                if let Some(last) = read.last() {
                    after = Some((last.context.clone(), last.id));
                    next = Some((ticket, self.pack_page(read, cores)));
                }
            }
            if let Some((ticket, parts)) = in_flight.take() {
                for part in parts {
                    let packed = part
                        .await
                        .map_err(|e| RegistryError::Internal(format!("warming the read path failed: {e}")))?;
                    for ((context, id), packed) in packed {
                        // Refused once a delete invalidated the tier since the page was
                        // read: those ids are read from storage when asked for.
                        if self.packed.fill(ticket, self.context_numbers.get_or_add(&context), id, &packed) {
                            warmed += 1;
                        }
                    }
                }
            }
            match next {
                Some(page) => in_flight = Some(page),
                None => break,
            }
        }
        Ok(warmed)
    }

    /// Whether the packing dictionary is trained.
    #[doc(hidden)]
    pub fn packing_trained(&self) -> bool {
        self.packer.trained()
    }

    /// Serializes and packs a page of schemas off the async workers, split
    /// in `cores` parts (the cores this process may use): a page of 2,000 takes
    /// milliseconds (mostly serializing), while the next page is read.
    fn pack_page(&self, page: Vec<SchemaRecord>, cores: usize) -> Vec<PackingPart> {
        let mut page = page.into_iter();
        let part_len = page.len().div_ceil(cores).max(1);
        std::iter::from_fn(|| {
            let part: Vec<SchemaRecord> = page.by_ref().take(part_len).collect();
            if part.is_empty() {
                return None;
            }
            let packer = Arc::clone(&self.packer);
            Some(tokio::task::spawn_blocking(move || {
                part.into_iter()
                    .filter_map(|record| {
                        let json = SchemaJson::of(&record).ok()?;
                        Some(((record.context, record.id), packer.pack(&json.body, json.hash)?))
                    })
                    .collect()
            }))
        })
        .collect()
    }

    /// Trains the packing dictionary, once, on answers read at even steps over
    /// the default context's ids, so that it knows every era of the registry
    /// rather than only its oldest subjects (whose versions are much alike).
    /// A registry with fewer schemas than the samples trains on all of them.
    async fn train_packer(&self) -> Result<()> {
        /// Where the samples are read, each a run of `SAMPLES / STEPS` ids.
        const STEPS: usize = 200;
        const SAMPLES: usize = super::packed::SAMPLES;
        if self.packer.trained() {
            return Ok(());
        }
        let max = usize::try_from(self.store.schema_max_id(DEFAULT_CONTEXT).await?).unwrap_or(0);
        let samples = if max <= SAMPLES {
            self.store.schemas_after(None, SAMPLES).await?
        } else {
            // By id: where ids are sparse, steps can read the same schemas.
            let mut samples = BTreeMap::new();
            for step in 0..STEPS {
                let from = i64::try_from(max / STEPS * step).unwrap_or(i64::MAX);
                let run = self.store.schemas_after(Some((DEFAULT_CONTEXT, from)), SAMPLES / STEPS).await?;
                samples.extend(run.into_iter().map(|record| ((record.context.clone(), record.id), record)));
            }
            samples.into_values().collect()
        };
        let packer = Arc::clone(&self.packer);
        tokio::task::spawn_blocking(move || {
            let bodies: Vec<SchemaJson> = samples.iter().filter_map(|record| SchemaJson::of(record).ok()).collect();
            packer.train(&bodies.iter().map(|json| json.body.as_ref()).collect::<Vec<_>>());
        })
        .await
        .map_err(|e| RegistryError::Internal(format!("training the packing dictionary failed: {e}")))
    }

    /// A schema by id, if some subject version (live or soft-deleted) still uses it.
    ///
    /// Read through the records cache without filling it: the read path keeps
    /// its serialized answer instead, so each schema read by id is held once.
    pub async fn schema_by_id(&self, id: i64, subject: Option<&str>) -> Result<Arc<SchemaRecord>> {
        let context = Subject::parse(subject.unwrap_or_default()).context;
        if let Some(record) = self.record_read_through(&context, id).await? {
            return Ok(record);
        }
        // Not in the subject's context: perhaps the subject lives in another one.
        let fallback = self.id_context(subject).await?;
        if fallback == context {
            return Err(RegistryError::schema_id_not_found(id));
        }
        let context = fallback;
        // A schema row exists while some version uses it or an IMPORT retired
        // it: permanent deletes sweep other unused rows, and a foreign key keeps
        // used ones.
        self.record_read_through(&context, id).await?.ok_or_else(|| RegistryError::schema_id_not_found(id))
    }

    /// `GET /schemas/ids/{id}`.
    pub async fn schema_view(
        &self,
        id: i64,
        subject: Option<&str>,
        format: SchemaFormat,
        fetch_max_id: bool,
    ) -> Result<SchemaView> {
        let record = self.schema_by_id(id, subject).await?;
        let mut view = SchemaView::of_record(&record, self.render(&record, format).await?);
        if fetch_max_id {
            view.max_id = Some(self.store.schema_max_id(&record.context).await?);
        }
        Ok(view)
    }

    /// The subject versions using an id, in Confluent's order.
    pub async fn schema_usages(
        &self,
        id: i64,
        subject: Option<&str>,
        include_deleted: bool,
    ) -> Result<Vec<VersionRecord>> {
        let context = self.id_context(subject).await?;
        let usages = self.store.versions_by_schema(&context, id).await?;
        // A schema an IMPORT retired is used by no version but still stored.
        if usages.is_empty() && self.record_read_through(&context, id).await?.is_none() {
            return Err(RegistryError::schema_not_found());
        }
        let visible: Vec<VersionRecord> = usages.into_iter().filter(|v| include_deleted || !v.deleted).collect();
        let mut names: Vec<String> = Vec::new();
        for version in &visible {
            if !names.contains(&version.subject) {
                names.push(version.subject.clone());
            }
        }
        let order = java_hash_order(names);
        let mut ordered = Vec::with_capacity(visible.len());
        for name in order {
            ordered.extend(visible.iter().filter(|v| v.subject == name).cloned());
        }
        Ok(ordered)
    }

    /// `GET /subjects/{s}/versions/{v}/referencedby`: ids of the schemas referencing it.
    pub async fn referenced_by(
        &self,
        raw_subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<Vec<i64>> {
        // The version itself may be soft-deleted (Confluent answers its live referrers, often none).
        let (version, _) = self.version_get(raw_subject, selector, true).await?;
        let mut ids: Vec<i64> = self
            .store
            .versions_referencing(&version.subject, version.version)
            .await?
            .into_iter()
            .filter(|v| include_deleted || !v.deleted)
            .map(|v| v.schema_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The latest live version whose metadata properties hold every `(key, value)`.
    pub async fn version_by_metadata(
        &self,
        raw_subject: &str,
        pairs: &[(String, String)],
    ) -> Result<Option<SchemaView>> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let versions = self.store.versions_list(&Subject::parse(raw_subject)).await?;
        if !versions.iter().any(|v| !v.deleted) {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        for version in versions.iter().rev().filter(|v| !v.deleted) {
            let record = self.record_of(version).await?;
            let properties = record.metadata.as_ref().and_then(|m| m.get("properties"));
            let holds = pairs.iter().all(|(key, value)| {
                properties.and_then(|p| p.get(key)).and_then(Value::as_str) == Some(value.as_str())
            });
            if holds {
                return Ok(Some(SchemaView::of_version(version, &record, record.schema.clone())));
            }
        }
        Ok(None)
    }

    /// `GET /contexts`: the default context first, then the others in order.
    pub async fn contexts_list(&self) -> Result<Vec<String>> {
        let mut contexts: Vec<String> =
            self.store.contexts_list().await?.into_iter().filter(|c| c != DEFAULT_CONTEXT).collect();
        contexts.sort_by(|a, b| java_cmp(a, b));
        contexts.insert(0, DEFAULT_CONTEXT.to_owned());
        Ok(contexts)
    }
}

/// A part of a page being packed: each id's packed answer.
type PackingPart = tokio::task::JoinHandle<Vec<(super::IdKey, super::packed::Packed)>>;

/// The default answer of `GET /schemas/ids/{id}`, serialized once, with its
/// entity tag. An id's content never changes, so neither do these bytes: the
/// tag is a hash of them, computed when the answer is first built. Both are
/// shared buffers, so answering from memory copies no bytes.
#[derive(Debug, Clone)]
pub struct SchemaJson {
    pub body: bytes::Bytes,
    /// A strong `ETag` value, quotes included.
    pub etag: bytes::Bytes,
    /// The hash the `ETag` spells.
    hash: u64,
}

impl SchemaJson {
    fn new(body: bytes::Bytes) -> SchemaJson {
        let hash = crate::hash::fnv1a64(&body);
        SchemaJson::with_hash(body, hash)
    }

    fn with_hash(body: bytes::Bytes, hash: u64) -> SchemaJson {
        // `"` + 16 hex digits + `"`, spelled without the formatting machinery:
        // answers unpacked from memory build one per request.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut etag = [b'"'; 18];
        for (i, digit) in etag[1..17].iter_mut().enumerate() {
            *digit = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        }
        SchemaJson { body, etag: bytes::Bytes::copy_from_slice(&etag), hash }
    }

    /// A schema's `GET /schemas/ids/{id}` answer in its default form.
    fn of(record: &SchemaRecord) -> Result<SchemaJson> {
        let view = SchemaView::of_record(record, record.schema.clone());
        let body = serde_json::to_vec(&view).map_err(|e| RegistryError::Internal(e.to_string()))?;
        Ok(SchemaJson::new(bytes::Bytes::from(body)))
    }
}
