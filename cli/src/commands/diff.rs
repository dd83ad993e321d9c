//! `stele diff OLD NEW`: fully offline, no registry.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use stele_compat::level::check_pair_with;
use stele_compat::protobuf::Rules;
use stele_compat::{CheckOptions, CompatibilityLevel, json::Policy};

use super::{TypeArg, read_file, schema_type};
use crate::report::{Check, located};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JsonPolicy {
    Strict,
    Lenient,
}

#[derive(Args, Debug)]
pub struct DiffOpts {
    /// The earlier schema.
    old: PathBuf,
    /// The candidate schema.
    new: PathBuf,
    /// The compatibility level to apply.
    #[arg(long, default_value = "BACKWARD", value_parser = parse_level)]
    level: CompatibilityLevel,
    #[arg(long = "type", value_enum)]
    schema_type: Option<TypeArg>,
    /// Protobuf rules: Confluent's (CONFLUENT), or a buf category (WIRE, WIRE_JSON, PACKAGE, FILE).
    #[arg(long, default_value = "CONFLUENT", value_parser = parse_rules)]
    protobuf_rules: Rules,
    /// JSON Schema policy: Confluent's strict default, or lenient.
    #[arg(long, value_enum, default_value = "strict")]
    json_policy: JsonPolicy,
}

fn parse_rules(raw: &str) -> Result<Rules, String> {
    raw.parse()
}

fn parse_level(raw: &str) -> Result<CompatibilityLevel, String> {
    raw.parse().map_err(|_| "expected NONE, BACKWARD, FORWARD, FULL or their _TRANSITIVE forms".to_owned())
}

pub fn run(opts: &DiffOpts) -> anyhow::Result<Check> {
    let old_type = schema_type(&opts.old, opts.schema_type)?;
    let new_type = schema_type(&opts.new, opts.schema_type)?;
    let (old_text, new_text) = (read_file(&opts.old)?, read_file(&opts.new)?);
    // The two files are independent: parse them side by side.
    let (old, new) = std::thread::scope(|scope| {
        let old = scope.spawn(|| stele_compat::parse(old_type, &old_text, &[], false));
        let new = stele_compat::parse(new_type, &new_text, &[], false);
        (old.join().expect("parsing does not panic"), new)
    });
    let old = old.with_context(|| format!("{} is not a valid {old_type} schema", opts.old.display()))?;
    let new = new.with_context(|| format!("{} is not a valid {new_type} schema", opts.new.display()))?;
    let options = CheckOptions {
        json_policy: match opts.json_policy {
            JsonPolicy::Strict => Policy::Strict,
            JsonPolicy::Lenient => Policy::Lenient,
        },
        protobuf_rules: opts.protobuf_rules,
    };
    let problems = check_pair_with(opts.level, &new, &old, &options);
    let findings = located(&new_text, problems.into_iter().map(|p| (p.rule, p.path, p.description)));
    Ok(Check {
        name: format!("{} -> {}", opts.old.display(), opts.new.display()),
        file: opts.new.display().to_string(),
        compatible: findings.is_empty(),
        level: opts.level.to_string(),
        version: None,
        error: None,
        findings,
    })
}
