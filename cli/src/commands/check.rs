//! `stele check SUBJECT FILE`: a dry run against the subject's rule in the registry.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;

use super::{TypeArg, read_file, schema_body, schema_type};
use crate::client::{Client, encode};
use stele_compat::SchemaType;

use crate::report::{Check, located};

#[derive(Args, Debug)]
pub struct CheckOpts {
    /// The subject whose rule applies.
    subject: String,
    /// The candidate schema file.
    file: PathBuf,
    /// Check against this version only (a number or `latest`), in the level's direction.
    #[arg(long)]
    version: Option<String>,
    #[arg(long = "type", value_enum)]
    schema_type: Option<TypeArg>,
    /// A reference: `NAME=SUBJECT:VERSION` (repeatable).
    #[arg(long = "ref", value_name = "NAME=SUBJECT:VERSION")]
    references: Vec<String>,
    #[arg(long)]
    normalize: bool,
}

#[derive(Deserialize)]
struct Answer {
    compatible: bool,
    level: String,
    version: Option<i32>,
    findings: Vec<AnswerFinding>,
}

#[derive(Deserialize)]
struct AnswerFinding {
    rule: String,
    path: String,
    message: String,
}

pub fn run(client: &Client, opts: &CheckOpts) -> anyhow::Result<Check> {
    let schema_type = schema_type(&opts.file, opts.schema_type)?;
    let text = read_file(&opts.file)?;
    let target = Target { subject: &opts.subject, version: opts.version.as_deref(), normalize: opts.normalize };
    against_registry(client, &target, &opts.file, &text, schema_type, &opts.references)
}

/// Which subject rule a schema is checked against.
pub struct Target<'a> {
    pub subject: &'a str,
    /// One version only (a number or `latest`); the level's history without.
    pub version: Option<&'a str>,
    pub normalize: bool,
}

/// The registry's verdict on `text` (the content of `file`) under the target
/// subject's rule, with the line of each finding in the file.
pub fn against_registry(
    client: &Client,
    target: &Target<'_>,
    file: &Path,
    text: &str,
    schema_type: SchemaType,
    references: &[String],
) -> anyhow::Result<Check> {
    let body = schema_body(text, schema_type, references)?;
    let mut path =
        format!("/stele/v1/compatibility/subjects/{}/versions?normalize={}", encode(target.subject), target.normalize);
    if let Some(version) = target.version {
        path.push_str(&format!("&version={}", encode(version)));
    }
    let answer: Answer = serde_json::from_value(client.send(&reqwest::Method::POST, &path, Some(&body))?)
        .context("the registry's compatibility report has an unexpected shape")?;
    Ok(Check {
        name: target.subject.to_owned(),
        file: file.display().to_string(),
        compatible: answer.compatible,
        level: answer.level,
        version: answer.version,
        error: None,
        findings: located(text, answer.findings.into_iter().map(|f| (f.rule, f.path, f.message))),
    })
}
