//! One module per subcommand, each with `run`.

pub mod auth;
pub mod check;
pub mod contracts;
pub mod deploy;
pub mod diff;
pub mod explain;
pub mod migrate;
pub mod registry;
pub mod serve;

use std::path::Path;

use anyhow::{Context as _, bail};
use clap::ValueEnum;
use serde_json::{Value, json};
use stele_compat::SchemaType;

/// A schema type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeArg {
    Avro,
    Protobuf,
    Json,
}

impl From<TypeArg> for SchemaType {
    fn from(value: TypeArg) -> Self {
        match value {
            TypeArg::Avro => SchemaType::Avro,
            TypeArg::Protobuf => SchemaType::Protobuf,
            TypeArg::Json => SchemaType::Json,
        }
    }
}

/// The schema type: the flag, else the file's extension.
pub fn schema_type(file: &Path, flag: Option<TypeArg>) -> anyhow::Result<SchemaType> {
    match flag {
        Some(flag) => Ok(flag.into()),
        None => SchemaType::from_extension(&file.to_string_lossy()).with_context(|| {
            format!(
                "cannot tell the schema type of {} from its extension: pass --type avro|protobuf|json",
                file.display()
            )
        }),
    }
}

pub fn read_file(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Parses `NAME=SUBJECT:VERSION` (`VERSION` may be `latest`).
pub fn parse_reference(raw: &str) -> anyhow::Result<Value> {
    let Some((name, target)) = raw.split_once('=') else { bail!("--ref {raw}: expected NAME=SUBJECT:VERSION") };
    let Some((subject, version)) = target.rsplit_once(':') else { bail!("--ref {raw}: expected NAME=SUBJECT:VERSION") };
    let version: i64 = if version.eq_ignore_ascii_case("latest") {
        -1
    } else {
        version.parse().with_context(|| format!("--ref {raw}: the version must be a number or latest"))?
    };
    Ok(json!({"name": name, "subject": subject, "version": version}))
}

/// The body of register, lookup and compatibility requests.
pub fn schema_body(text: &str, schema_type: SchemaType, references: &[String]) -> anyhow::Result<Value> {
    let references: Vec<Value> = references.iter().map(|r| parse_reference(r)).collect::<anyhow::Result<_>>()?;
    let mut body = json!({"schema": text, "references": references});
    if schema_type != SchemaType::Avro {
        body["schemaType"] = json!(schema_type.as_str());
    }
    Ok(body)
}
