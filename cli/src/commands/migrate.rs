//! `stele export`, `stele import` and `stele migrate`: a registry's whole
//! state (every context, subject and version, soft-deleted ones too, with
//! ids, references, metadata, configs and modes) read over Confluent's REST
//! API, and written into another registry through IMPORT mode, ids kept.
//!
//! Reading uses only Confluent's API, so the source may be Confluent Schema
//! Registry or any compatible registry. Writing needs IMPORT mode with ids
//! (Confluent's and Stele's). The import is resumable: a version the target
//! already holds with the same id is skipped, so an interrupted run is simply
//! run again. Versions are written in dependency order (a referenced version
//! before the ones that reference it), then soft-deleted where the source's
//! are, then configs and modes; the target's global mode ends as the source's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Client, Connection, RegistryError, encode};

/// The export file's format name and version.
const FORMAT: &str = "stele-export";
const FORMAT_VERSION: u32 = 1;

/// One registry's state, as `stele export` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub format: String,
    pub format_version: u32,
    /// Where it was read from.
    pub source: String,
    /// The top-level config and mode.
    pub config: Option<Value>,
    pub mode: Option<String>,
    /// Non-default contexts, with their own config and mode when they have one.
    pub contexts: Vec<ContextState>,
    pub subjects: Vec<SubjectState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextState {
    pub context: String,
    pub config: Option<Value>,
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectState {
    /// Qualified (`:.ctx:name` outside the default context).
    pub subject: String,
    pub config: Option<Value>,
    pub mode: Option<String>,
    pub versions: Vec<VersionState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionState {
    pub version: i64,
    pub id: i64,
    pub schema_type: String,
    pub schema: String,
    #[serde(default)]
    pub references: Vec<Value>,
    pub metadata: Option<Value>,
    pub deleted: bool,
}

#[derive(Args, Debug)]
pub struct ExportOpts {
    /// Write here; standard output without.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only subjects whose (qualified) name starts with this.
    #[arg(long, default_value = "")]
    subject_prefix: String,
}

#[derive(Args, Debug)]
pub struct ImportOpts {
    /// A file `stele export` wrote.
    file: PathBuf,
    /// Say what would be written, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop after writing this many versions (to test resuming).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

#[derive(Args, Debug)]
pub struct MigrateOpts {
    /// The registry to copy from (Confluent Schema Registry or compatible).
    #[arg(long)]
    from: String,
    /// Basic-auth user for --from.
    #[arg(long, env = "STELE_FROM_USER", hide_env_values = true)]
    from_user: Option<String>,
    /// Basic-auth password for --from.
    #[arg(long, env = "STELE_FROM_PASSWORD", hide_env_values = true)]
    from_password: Option<String>,
    /// Bearer token for --from.
    #[arg(long, env = "STELE_FROM_TOKEN", hide_env_values = true)]
    from_token: Option<String>,
    /// Only subjects whose (qualified) name starts with this.
    #[arg(long, default_value = "")]
    subject_prefix: String,
    /// Say what would be copied, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop after writing this many versions (to test resuming).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

/// A 404 with one of `codes`, as `None`; any other error stays one.
fn optional<T>(result: anyhow::Result<T>, codes: &[i64]) -> anyhow::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) => match error.downcast_ref::<RegistryError>() {
            Some(e) if codes.contains(&e.error_code) => Ok(None),
            _ => Err(error),
        },
    }
}

/// Config and mode answers (`404` with 40408/40409 when a scope has none).
const NO_CONFIG: &[i64] = &[40408, 40401];
const NO_MODE: &[i64] = &[40409, 40401];

fn scope(kind: &str, scope: &str) -> String {
    if scope.is_empty() { format!("/{kind}") } else { format!("/{kind}/{}", encode(scope)) }
}

fn mode_of(value: &Value) -> Option<String> {
    value["mode"].as_str().map(str::to_owned)
}

/// Reads everything under `prefix` from `client`.
pub fn read(client: &Client, source: &str, prefix: &str) -> anyhow::Result<Export> {
    let config = optional(client.get::<Value>("/config"), NO_CONFIG)?;
    let mode = optional(client.get::<Value>("/mode"), NO_MODE)?.as_ref().and_then(mode_of);
    let mut contexts = Vec::new();
    let listed: Vec<String> = optional(client.get("/contexts"), &[404])?.unwrap_or_default();
    for context in listed.into_iter().filter(|c| c != ".") {
        let name = format!(":{context}:");
        contexts.push(ContextState {
            config: optional(
                client.get::<Value>(&format!("{}?defaultToGlobal=false", scope("config", &name))),
                NO_CONFIG,
            )?,
            mode: optional(client.get::<Value>(&scope("mode", &name)), NO_MODE)?.as_ref().and_then(mode_of),
            context,
        });
    }
    let names: Vec<String> = client.get(&format!("/subjects?deleted=true&subjectPrefix={}", encode(":*:")))?;
    let mut subjects = Vec::new();
    let progress = bar(names.len() as u64, "reading");
    for name in names.into_iter().filter(|n| n.starts_with(prefix)) {
        progress.inc(1);
        let path = format!("/subjects/{}/versions", encode(&name));
        let all: Vec<i64> = client.get(&format!("{path}?deleted=true"))?;
        let live: BTreeSet<i64> =
            optional(client.get::<Vec<i64>>(&path), &[40401])?.unwrap_or_default().into_iter().collect();
        let mut versions = Vec::new();
        for number in all {
            let view: Value = client.get(&format!("{path}/{number}?deleted=true"))?;
            versions.push(VersionState {
                version: number,
                id: view["id"].as_i64().context("a version without an id")?,
                schema_type: view["schemaType"].as_str().unwrap_or("AVRO").to_owned(),
                schema: view["schema"].as_str().unwrap_or_default().to_owned(),
                references: view["references"].as_array().cloned().unwrap_or_default(),
                metadata: view.get("metadata").filter(|m| !m.is_null()).cloned(),
                deleted: !live.contains(&number),
            });
        }
        subjects.push(SubjectState {
            config: optional(client.get::<Value>(&scope("config", &name)), NO_CONFIG)?,
            mode: optional(client.get::<Value>(&scope("mode", &name)), NO_MODE)?.as_ref().and_then(mode_of),
            subject: name,
            versions,
        });
    }
    progress.finish_and_clear();
    Ok(Export {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        source: source.to_owned(),
        config,
        mode,
        contexts,
        subjects,
    })
}

/// A progress bar on a terminal; hidden otherwise.
fn bar(length: u64, what: &'static str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// A config as `GET /config` answers it, as the body of `PUT /config`.
fn config_update(config: &Value) -> Value {
    let mut body = config.as_object().cloned().unwrap_or_default();
    if let Some(level) = body.remove("compatibilityLevel") {
        body.insert("compatibility".to_owned(), level);
    }
    Value::Object(body)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub written: usize,
    pub skipped: usize,
    pub soft_deleted: usize,
    pub configs: usize,
    pub modes: usize,
    /// Versions the target holds differently from the export, each said.
    pub differences: Vec<String>,
}

/// The version of `subject` the target holds, if any (soft-deleted ones too).
fn held(client: &Client, subject: &str, version: i64) -> anyhow::Result<Option<Value>> {
    optional(client.get(&format!("/subjects/{}/versions/{version}?deleted=true", encode(subject))), &[40401, 40402])
}

fn differs(held: &Value, version: &VersionState) -> bool {
    held["id"].as_i64() != Some(version.id)
        || held["schemaType"].as_str().unwrap_or("AVRO") != version.schema_type
        || held["references"].as_array().cloned().unwrap_or_default() != version.references
}

/// Writes `export` into the registry `client` talks to (see the module docs).
pub fn write(client: &Client, export: &Export, dry_run: bool, stop_after: Option<usize>) -> anyhow::Result<Summary> {
    if export.format != FORMAT || export.format_version > FORMAT_VERSION {
        bail!("not a {FORMAT} file of version {FORMAT_VERSION} or older: {} {}", export.format, export.format_version);
    }
    let mut summary = Summary::default();
    let total: usize = export.subjects.iter().map(|s| s.versions.len()).sum();
    if dry_run {
        eprintln!(
            "would copy {total} versions of {} subjects in {} contexts, with their configs and modes",
            export.subjects.len(),
            export.contexts.len() + 1
        );
        return Ok(summary);
    }
    let previous_mode = optional(client.get::<Value>("/mode"), NO_MODE)?.as_ref().and_then(mode_of);
    client.send(&Method::PUT, "/mode?force=true", Some(&json!({"mode": "IMPORT"})))?;
    // A context has its own mode scope: each is put in IMPORT too, and given back below.
    for context in &export.contexts {
        let path = format!("{}?force=true", scope("mode", &format!(":{}:", context.context)));
        client.send(&Method::PUT, &path, Some(&json!({"mode": "IMPORT"})))?;
    }
    // Dependency order: a version is written once every version it references is.
    let mut pending: Vec<(&SubjectState, &VersionState)> =
        export.subjects.iter().flat_map(|s| s.versions.iter().map(move |v| (s, v))).collect();
    pending.sort_by_key(|(s, v)| (v.id, s.subject.clone(), v.version));
    let mut present: BTreeSet<(String, i64)> = BTreeSet::new();
    let exported: BTreeSet<(String, i64)> = pending.iter().map(|(s, v)| (s.subject.clone(), v.version)).collect();
    let progress = bar(total as u64, "writing");
    let mut written_now = 0;
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (subject, version) in pending {
            let ready = version.references.iter().all(|r| {
                let key = (r["subject"].as_str().unwrap_or_default().to_owned(), r["version"].as_i64().unwrap_or(-1));
                present.contains(&key) || !exported.contains(&key)
            });
            if !ready {
                waiting.push((subject, version));
                continue;
            }
            match held(client, &subject.subject, version.version)? {
                Some(existing) if differs(&existing, version) => summary.differences.push(format!(
                    "{} version {}: the target holds id {} where the source has {}",
                    subject.subject, version.version, existing["id"], version.id
                )),
                Some(_) => summary.skipped += 1,
                None => {
                    if stop_after.is_some_and(|n| written_now >= n) {
                        bail!("stopped after {written_now} versions (--stop-after); run again to resume");
                    }
                    let mut body = json!({
                        "schema": version.schema,
                        "schemaType": version.schema_type,
                        "references": version.references,
                        "id": version.id,
                        "version": version.version,
                    });
                    if let Some(metadata) = &version.metadata {
                        body["metadata"] = metadata.clone();
                    }
                    let path = format!("/subjects/{}/versions", encode(&subject.subject));
                    client.send(&Method::POST, &path, Some(&body)).with_context(|| {
                        format!("writing {} version {} (id {})", subject.subject, version.version, version.id)
                    })?;
                    summary.written += 1;
                    written_now += 1;
                }
            }
            present.insert((subject.subject.clone(), version.version));
            progress.inc(1);
        }
        if waiting.len() == before {
            let stuck: Vec<String> =
                waiting.iter().map(|(s, v)| format!("{} version {}", s.subject, v.version)).collect();
            bail!("these versions reference versions that cannot be written first: {}", stuck.join(", "));
        }
        pending = waiting;
    }
    progress.finish_and_clear();
    // Soft deletes after every version is in (a deleted version may be referenced).
    for subject in &export.subjects {
        for version in subject.versions.iter().filter(|v| v.deleted) {
            let path = format!("/subjects/{}/versions/{}", encode(&subject.subject), version.version);
            if optional(client.send(&Method::DELETE, &path, None), &[40406])?.is_some() {
                summary.soft_deleted += 1;
            }
        }
    }
    // Configs, then modes (a READONLY mode would refuse the writes above).
    let mut configs: Vec<(String, &Value)> = Vec::new();
    let mut modes: Vec<(String, &String)> = Vec::new();
    for context in &export.contexts {
        let name = format!(":{}:", context.context);
        configs.extend(context.config.iter().map(|c| (name.clone(), c)));
        modes.extend(context.mode.iter().map(|m| (name.clone(), m)));
    }
    for subject in &export.subjects {
        configs.extend(subject.config.iter().map(|c| (subject.subject.clone(), c)));
        modes.extend(subject.mode.iter().map(|m| (subject.subject.clone(), m)));
    }
    configs.extend(export.config.iter().map(|c| (String::new(), c)));
    for (name, config) in configs {
        client.send(&Method::PUT, &scope("config", &name), Some(&config_update(config)))?;
        summary.configs += 1;
    }
    for context in export.contexts.iter().filter(|c| c.mode.is_none()) {
        let path = scope("mode", &format!(":{}:", context.context));
        optional(client.send(&Method::DELETE, &path, None), NO_MODE)?;
    }
    for (name, mode) in modes {
        client.send(&Method::PUT, &format!("{}?force=true", scope("mode", &name)), Some(&json!({"mode": mode})))?;
        summary.modes += 1;
    }
    let final_mode = export.mode.clone().or(previous_mode).unwrap_or_else(|| "READWRITE".to_owned());
    client.send(&Method::PUT, "/mode?force=true", Some(&json!({"mode": final_mode})))?;
    Ok(summary)
}

fn print_summary(summary: &Summary) -> anyhow::Result<()> {
    crate::output::println(&format!(
        "copied {} versions ({} already there), soft-deleted {}, set {} configs and {} modes",
        summary.written, summary.skipped, summary.soft_deleted, summary.configs, summary.modes
    ))?;
    for difference in &summary.differences {
        crate::output::println(&format!("differs: {difference}"))?;
    }
    if !summary.differences.is_empty() {
        bail!("{} versions differ between the source and the target", summary.differences.len());
    }
    Ok(())
}

pub fn export(client: &Client, source: &str, opts: &ExportOpts) -> anyhow::Result<()> {
    let export = read(client, source, &opts.subject_prefix)?;
    let text = serde_json::to_string_pretty(&export)?;
    match &opts.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => crate::output::println(&text)?,
    }
    let versions: usize = export.subjects.iter().map(|s| s.versions.len()).sum();
    eprintln!("exported {versions} versions of {} subjects", export.subjects.len());
    Ok(())
}

pub fn import(client: &Client, opts: &ImportOpts) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&opts.file).with_context(|| format!("reading {}", opts.file.display()))?;
    let export: Export =
        serde_json::from_str(&text).with_context(|| format!("{} is not a {FORMAT} file", opts.file.display()))?;
    let summary = write(client, &export, opts.dry_run, opts.stop_after)?;
    if opts.dry_run { Ok(()) } else { print_summary(&summary) }
}

pub fn migrate(target: &Client, connection: &Connection, opts: &MigrateOpts) -> anyhow::Result<()> {
    let source = Client::new(Connection {
        url: opts.from.clone(),
        user: opts.from_user.clone(),
        password: opts.from_password.clone(),
        token: opts.from_token.clone(),
        ..connection.clone()
    })?;
    let export = read(&source, &opts.from, &opts.subject_prefix)?;
    let summary = write(target, &export, opts.dry_run, opts.stop_after)?;
    if opts.dry_run {
        return Ok(());
    }
    print_summary(&summary)?;
    // What differs after the copy, read back the way clients read it.
    let copied = read(target, &connection.url, &opts.subject_prefix)?;
    let mut differences = Vec::new();
    let theirs: BTreeMap<&str, &SubjectState> = copied.subjects.iter().map(|s| (s.subject.as_str(), s)).collect();
    for subject in &export.subjects {
        match theirs.get(subject.subject.as_str()) {
            None => differences.push(format!("{} is missing", subject.subject)),
            Some(copy) if copy.versions != subject.versions => {
                differences.push(format!("{} has other versions than the source", subject.subject));
            }
            Some(_) => {}
        }
    }
    for difference in &differences {
        crate::output::println(&format!("differs: {difference}"))?;
    }
    if !differences.is_empty() {
        bail!("{} subjects differ between the source and the target after the copy", differences.len());
    }
    crate::output::println("verified: every version reads back as in the source")
}
