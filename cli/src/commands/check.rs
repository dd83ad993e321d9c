//! `stele check SUBJECT FILE`: a dry run against the subject's rule in the registry.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;

use super::{TypeArg, read_file, schema_body, schema_type};
use crate::client::{Client, encode};
use crate::report::{Check, Finding, locate};

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
    let body = schema_body(&text, schema_type, &opts.references)?;
    let mut path =
        format!("/stele/v1/compatibility/subjects/{}/versions?normalize={}", encode(&opts.subject), opts.normalize);
    if let Some(version) = &opts.version {
        path.push_str(&format!("&version={}", encode(version)));
    }
    let answer: Answer = serde_json::from_value(client.send(&reqwest::Method::POST, &path, Some(&body))?)
        .context("the registry's compatibility report has an unexpected shape")?;
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let findings = answer
        .findings
        .into_iter()
        .map(|f| Finding {
            line: locate(&text, json.as_ref(), &f.path),
            rule: f.rule,
            path: f.path,
            message: f.message,
        })
        .collect();
    Ok(Check {
        name: opts.subject.clone(),
        file: opts.file.display().to_string(),
        compatible: answer.compatible,
        level: answer.level,
        version: answer.version,
        error: None,
        findings,
    })
}
