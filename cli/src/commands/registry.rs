//! The commands that read and write the registry: register, get, subjects,
//! versions, config, mode, delete.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use super::{TypeArg, read_file, schema_body, schema_type};
use crate::client::{Client, encode};
use crate::output::println;

#[derive(Args, Debug)]
pub struct RegisterOpts {
    /// The subject to register under.
    subject: String,
    /// The schema file (`.avsc`, `.proto`, `.json`).
    file: PathBuf,
    /// The schema type, when the extension does not say.
    #[arg(long = "type", value_enum)]
    schema_type: Option<TypeArg>,
    /// A reference: `NAME=SUBJECT:VERSION` (repeatable; VERSION may be `latest`).
    #[arg(long = "ref", value_name = "NAME=SUBJECT:VERSION")]
    references: Vec<String>,
    /// Normalize the schema before registering.
    #[arg(long)]
    normalize: bool,
}

pub fn register(client: &Client, opts: &RegisterOpts) -> anyhow::Result<()> {
    let schema_type = schema_type(&opts.file, opts.schema_type)?;
    let text = read_file(&opts.file)?;
    let body = schema_body(&text, schema_type, &opts.references)?;
    let path = format!("/subjects/{}/versions?normalize={}", encode(&opts.subject), opts.normalize);
    let answer = client.send(&reqwest::Method::POST, &path, Some(&body))?;
    let id = answer["id"].as_i64().context("the registry's answer has no id")?;
    println(&id.to_string())
}

#[derive(Args, Debug)]
pub struct GetOpts {
    /// The subject (omit with --id).
    #[arg(required_unless_present = "id")]
    subject: Option<String>,
    /// The version: a number or `latest`.
    #[arg(long, default_value = "latest", conflicts_with = "id")]
    version: String,
    /// Fetch by global schema id instead.
    #[arg(long)]
    id: Option<i64>,
    /// Write the schema to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn get(client: &Client, opts: &GetOpts) -> anyhow::Result<()> {
    let text = match (&opts.subject, opts.id) {
        (_, Some(id)) => client.get_text(&format!("/schemas/ids/{id}/schema"))?,
        (Some(subject), None) => {
            client.get_text(&format!("/subjects/{}/versions/{}/schema", encode(subject), encode(&opts.version)))?
        }
        (None, None) => bail!("give a subject or --id"),
    };
    match &opts.output {
        Some(path) => std::fs::write(path, text.as_bytes()).with_context(|| format!("writing {}", path.display())),
        None => crate::output::print(if text.ends_with('\n') { text.clone() } else { format!("{text}\n") }.as_str()),
    }
}

#[derive(Args, Debug)]
pub struct SubjectsOpts {
    /// Only subjects starting with this prefix.
    #[arg(long)]
    prefix: Option<String>,
    /// Include soft-deleted subjects.
    #[arg(long)]
    deleted: bool,
}

pub fn subjects(client: &Client, opts: &SubjectsOpts) -> anyhow::Result<()> {
    let mut path = format!("/subjects?deleted={}", opts.deleted);
    if let Some(prefix) = &opts.prefix {
        path.push_str(&format!("&subjectPrefix={}", encode(prefix)));
    }
    let subjects: Vec<String> = client.get(&path)?;
    for subject in subjects {
        println(&subject)?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct VersionsOpts {
    subject: String,
    /// Include soft-deleted versions.
    #[arg(long)]
    deleted: bool,
}

pub fn versions(client: &Client, opts: &VersionsOpts) -> anyhow::Result<()> {
    let versions: Vec<i64> =
        client.get(&format!("/subjects/{}/versions?deleted={}", encode(&opts.subject), opts.deleted))?;
    for version in versions {
        println(&version.to_string())?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ConfigOpts {
    /// A subject; the global config without.
    subject: Option<String>,
    /// Set the compatibility level (NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE forms).
    #[arg(long, value_name = "LEVEL")]
    set: Option<String>,
    /// Set how registration treats consumer contracts: ENFORCE, WARN or OFF.
    #[arg(long, value_name = "MODE")]
    consumer_contracts: Option<String>,
    /// Set what the wire oracle's counter-examples do at registration: ENFORCE refuses, WARN reports, OFF skips it.
    #[arg(long, value_name = "MODE")]
    wire_proof: Option<String>,
}

fn scope_path(kind: &str, subject: Option<&String>) -> String {
    subject.map_or_else(|| format!("/{kind}"), |s| format!("/{kind}/{}", encode(s)))
}

pub fn config(client: &Client, opts: &ConfigOpts) -> anyhow::Result<()> {
    let path = scope_path("config", opts.subject.as_ref());
    if let Some(level) = &opts.set {
        client.send(&reqwest::Method::PUT, &path, Some(&json!({"compatibility": level})))?;
    }
    if let Some(mode) = &opts.consumer_contracts {
        client.send(&reqwest::Method::PUT, &path, Some(&json!({"consumerContracts": mode})))?;
    }
    if let Some(mode) = &opts.wire_proof {
        client.send(&reqwest::Method::PUT, &path, Some(&json!({"wireProof": mode})))?;
    }
    let config: Value = client.get(&format!("{path}?defaultToGlobal=true"))?;
    println(config["compatibilityLevel"].as_str().unwrap_or("BACKWARD"))
}

#[derive(Args, Debug)]
pub struct ModeOpts {
    /// A subject; the global mode without.
    subject: Option<String>,
    /// Set the mode (READWRITE, READONLY, IMPORT).
    #[arg(long, value_name = "MODE")]
    set: Option<String>,
    /// Allow entering IMPORT with existing subjects.
    #[arg(long)]
    force: bool,
}

pub fn mode(client: &Client, opts: &ModeOpts) -> anyhow::Result<()> {
    let path = scope_path("mode", opts.subject.as_ref());
    if let Some(mode) = &opts.set {
        client.send(&reqwest::Method::PUT, &format!("{path}?force={}", opts.force), Some(&json!({"mode": mode})))?;
    }
    let mode: Value = client.get(&format!("{path}?defaultToGlobal=true"))?;
    println(mode["mode"].as_str().unwrap_or("READWRITE"))
}

#[derive(Args, Debug)]
pub struct DeleteOpts {
    subject: String,
    /// Delete one version (a number or `latest`) instead of the subject.
    #[arg(long)]
    version: Option<String>,
    /// Delete permanently (the subject or version must be soft-deleted first).
    #[arg(long)]
    permanent: bool,
}

pub fn delete(client: &Client, opts: &DeleteOpts) -> anyhow::Result<()> {
    let path = match &opts.version {
        Some(version) => {
            format!("/subjects/{}/versions/{}?permanent={}", encode(&opts.subject), encode(version), opts.permanent)
        }
        None => format!("/subjects/{}?permanent={}", encode(&opts.subject), opts.permanent),
    };
    let deleted = client.send(&reqwest::Method::DELETE, &path, None)?;
    let versions = match deleted {
        Value::Array(items) => items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    };
    println(&format!("deleted {} version(s): {versions}", if opts.permanent { "permanently" } else { "softly" }))
}
