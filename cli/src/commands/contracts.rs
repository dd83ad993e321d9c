//! Contract testing: `stele publish` and `stele verify`, driven by a service's
//! `stele.toml` manifest.
//!
//! ```toml
//! service = "orders-service"
//!
//! [[produces]]
//! subject = "orders-value"
//! schema = "schemas/order-placed.avsc"    # paths are relative to the manifest
//! type = "avro"                           # optional: from the extension
//! references = ["com.example.Address=address-value:1"]
//! examples = ["examples/order.json"]      # payloads that must validate
//!
//! [[consumes]]
//! subject = "payments-value"
//! schema = "contracts/payments-reader.avsc"  # the reader schema, or the fields relied on
//! examples = ["examples/payment.json"]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use stele_compat::{ParsedSchema, SchemaType};

use super::check::{Target, against_registry};
use super::{TypeArg, read_file, schema_body, schema_type};
use crate::client::{Client, RegistryError, encode};
use crate::output::println;
use crate::report::{Check, Finding, located};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub service: String,
    #[serde(default)]
    pub produces: Vec<Entry>,
    #[serde(default)]
    pub consumes: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub subject: String,
    pub schema: PathBuf,
    #[serde(rename = "type")]
    pub schema_type: Option<TypeArg>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub examples: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ManifestOpts {
    /// The service's manifest.
    #[arg(long, default_value = "stele.toml")]
    manifest: PathBuf,
}

#[derive(Args, Debug)]
pub struct PublishOpts {
    #[command(flatten)]
    manifest: ManifestOpts,
    /// The service's version (e.g. the git sha): records what this version
    /// produces and consumes, for `can-i-deploy`. Without it, only the latest
    /// contracts are kept.
    #[arg(long)]
    service_version: Option<String>,
    /// The branch this version was built from. Contracts from a branch other
    /// than the service's main branch are pending: reported, never blocking,
    /// until that version is on the main branch or deployed.
    #[arg(long, requires = "service_version")]
    branch: Option<String>,
    /// Say what would be published, change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn load(path: &Path) -> anyhow::Result<(Manifest, PathBuf)> {
    let text = read_file(path)?;
    let manifest: Manifest =
        toml::from_str(&text).with_context(|| format!("{} is not a valid stele.toml", path.display()))?;
    if manifest.service.trim().is_empty() {
        bail!("{}: `service` must name the service", path.display());
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((manifest, base))
}

impl Entry {
    fn file(&self, base: &Path) -> PathBuf {
        base.join(&self.schema)
    }

    fn kind(&self, base: &Path) -> anyhow::Result<SchemaType> {
        schema_type(&self.file(base), self.schema_type)
    }
}

/// `stele publish`: registers produced schemas (idempotent), then publishes
/// the consumer contracts or, with `--service-version`, the whole service version.
pub fn publish(client: &Client, opts: &PublishOpts) -> anyhow::Result<()> {
    let (manifest, base) = load(&opts.manifest.manifest)?;
    let mut produced = Vec::new();
    for entry in &manifest.produces {
        let file = entry.file(&base);
        let mut body = schema_body(&read_file(&file)?, entry.kind(&base)?, &entry.references)?;
        if opts.dry_run {
            println(&format!("would register {} as {}", file.display(), entry.subject))?;
            continue;
        }
        let answer = client.send(
            &reqwest::Method::POST,
            &format!("/subjects/{}/versions", encode(&entry.subject)),
            Some(&body),
        )?;
        println(&format!("registered {} as {}: id {}", file.display(), entry.subject, answer["id"]))?;
        for warning in answer["warnings"].as_array().into_iter().flatten() {
            println(&format!("  warning: {}", warning.as_str().unwrap_or_default()))?;
        }
        body["subject"] = json!(entry.subject);
        produced.push(body);
    }
    let mut consumed = Vec::new();
    for entry in &manifest.consumes {
        let file = entry.file(&base);
        let mut body = schema_body(&read_file(&file)?, entry.kind(&base)?, &entry.references)?;
        if opts.dry_run {
            println(&format!(
                "would publish the contract of {} on {} from {}",
                manifest.service,
                entry.subject,
                file.display()
            ))?;
            continue;
        }
        if let Some(version) = opts.service_version.as_ref().filter(|_| opts.branch.is_none()) {
            body["consumerVersion"] = json!(version);
        }
        if opts.service_version.is_none() {
            let path = format!("/stele/v1/subjects/{}/consumers/{}", encode(&entry.subject), encode(&manifest.service));
            client.send(&reqwest::Method::PUT, &path, Some(&body))?;
            println(&format!("published the contract of {} on {}", manifest.service, entry.subject))?;
        }
        body["subject"] = json!(entry.subject);
        consumed.push(body);
    }
    let Some(version) = opts.service_version.as_ref().filter(|_| !opts.dry_run) else { return Ok(()) };
    let mut body = json!({"produces": produced, "consumes": consumed});
    if let Some(branch) = &opts.branch {
        body["branch"] = json!(branch);
    }
    let path = format!("/stele/v1/services/{}/versions/{}", encode(&manifest.service), encode(version));
    let answer = client.send(&reqwest::Method::PUT, &path, Some(&body))?;
    let branch = opts.branch.as_deref().unwrap_or_else(|| answer["mainBranch"].as_str().unwrap_or("main"));
    let pending = if answer["pending"].as_bool() == Some(true) { " (its contracts are pending)" } else { "" };
    println(&format!(
        "published {} {version} from {branch}: produces {}, consumes {}{pending}",
        manifest.service,
        produced.len(),
        consumed.len()
    ))
}

fn parse_local(entry: &Entry, base: &Path) -> anyhow::Result<(String, ParsedSchema)> {
    let file = entry.file(base);
    let text = read_file(&file)?;
    let kind = entry.kind(base)?;
    let parsed = stele_compat::parse(kind, &text, &[], false)
        .with_context(|| format!("{} is not a valid {kind} schema", file.display()))?;
    Ok((text, parsed))
}

/// Validates every example payload, each problem with its file and pointer.
fn examples(entry: &Entry, base: &Path, schema: &ParsedSchema) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for example in &entry.examples {
        let path = base.join(example);
        let payload: Value =
            serde_json::from_str(&read_file(&path)?).with_context(|| format!("{} is not JSON", path.display()))?;
        for problem in stele_compat::payload::validate(schema, &payload)? {
            let (pointer, message) = problem.split_once(": ").unwrap_or(("/", problem.as_str()));
            findings.push(Finding {
                rule: "INVALID_EXAMPLE".into(),
                path: format!("{}#{pointer}", example.display()),
                message: message.to_owned(),
                line: None,
            });
        }
    }
    Ok(findings)
}

#[derive(Deserialize)]
struct ConsumerAnswer {
    consumer: String,
    #[serde(rename = "schemaType")]
    schema_type: String,
    schema: String,
}

fn registry_error(error: &anyhow::Error) -> Option<&RegistryError> {
    error.downcast_ref::<RegistryError>()
}

/// A produced schema: parses, passes the subject's rule, readable by every consumer, examples valid.
fn verify_produced(client: &Client, service: &str, entry: &Entry, base: &Path) -> anyhow::Result<Check> {
    let (text, parsed) = parse_local(entry, base)?;
    let target = Target { subject: &entry.subject, version: None, normalize: false };
    let mut check = against_registry(client, &target, &entry.file(base), &text, parsed.schema_type, &entry.references)?;
    check.name = format!("produces {}", entry.subject);
    let consumers: Vec<ConsumerAnswer> = serde_json::from_value(client.send(
        &reqwest::Method::GET,
        &format!("/stele/v1/subjects/{}/consumers", encode(&entry.subject)),
        None,
    )?)
    .context("the registry's consumer list has an unexpected shape")?;
    let mut extra = Vec::new();
    for consumer in consumers.iter().filter(|c| c.consumer != service) {
        let kind: SchemaType = consumer.schema_type.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let reader = stele_compat::parse(kind, &consumer.schema, &[], false)
            .with_context(|| format!("the contract of {} does not parse", consumer.consumer))?;
        for problem in stele_compat::contract::check(&reader, &parsed) {
            extra.push(Finding {
                rule: problem.rule,
                path: problem.path,
                message: format!("consumer {} cannot read this schema: {}", consumer.consumer, problem.description),
                line: None,
            });
        }
    }
    extra.extend(examples(entry, base, &parsed)?);
    check.compatible = check.compatible && extra.is_empty();
    check.findings.extend(extra);
    Ok(check)
}

/// A consumed subject: the reader schema reads every live writer version; examples valid.
fn verify_consumed(client: &Client, entry: &Entry, base: &Path) -> anyhow::Result<Check> {
    let (text, reader) = parse_local(entry, base)?;
    let mut problems = Vec::new();
    let versions: Vec<i32> = client.get(&format!("/subjects/{}/versions", encode(&entry.subject)))?;
    for version in &versions {
        let writer: Value = client.get(&format!("/subjects/{}/versions/{version}", encode(&entry.subject)))?;
        let kind: SchemaType =
            writer["schemaType"].as_str().unwrap_or("AVRO").parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let writer = stele_compat::parse(kind, writer["schema"].as_str().unwrap_or_default(), &[], false)
            .with_context(|| format!("version {version} of {} does not parse locally", entry.subject))?;
        for problem in stele_compat::contract::check(&reader, &writer) {
            let message = format!("cannot read version {version} of {}: {}", entry.subject, problem.description);
            problems.push((problem.rule, problem.path, message));
        }
    }
    let mut findings = located(&text, problems);
    findings.extend(examples(entry, base, &reader)?);
    Ok(Check {
        name: format!("consumes {}", entry.subject),
        file: entry.file(base).display().to_string(),
        compatible: findings.is_empty(),
        level: "CONTRACT".into(),
        version: versions.last().copied(),
        error: None,
        findings,
    })
}

/// `stele verify`: one report over the manifest.
pub fn verify(client: &Client, opts: &ManifestOpts) -> anyhow::Result<Vec<Check>> {
    let (manifest, base) = load(&opts.manifest)?;
    let mut checks = Vec::new();
    let failed = |entry: &Entry, error: anyhow::Error| Check {
        name: entry.subject.clone(),
        file: entry.file(&base).display().to_string(),
        compatible: false,
        level: String::new(),
        version: None,
        error: Some(match registry_error(&error) {
            Some(registry) => registry.to_string(),
            None => format!("{error:#}"),
        }),
        findings: Vec::new(),
    };
    for entry in &manifest.produces {
        checks.push(verify_produced(client, &manifest.service, entry, &base).unwrap_or_else(|e| failed(entry, e)));
    }
    for entry in &manifest.consumes {
        checks.push(verify_consumed(client, entry, &base).unwrap_or_else(|e| failed(entry, e)));
    }
    Ok(checks)
}
