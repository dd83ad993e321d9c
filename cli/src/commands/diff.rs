//! `stele diff OLD NEW`: fully offline, no registry.
//!
//! With `--prove`, the rule check is followed by the wire oracle
//! ([`stele_compat::wire`]): values the writer's schema allows are written with
//! the format's real library and read back with the reader's schema, for each
//! (writer, reader) pair the level asks about. The first value a reader fails
//! on becomes a finding whose message carries the value itself, as JSON, so a
//! user sees the exact message a consumer would fail on.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use stele_compat::level::check_pair_with;
use stele_compat::protobuf::{Rules, buf};
use stele_compat::wire::{Proof, ProofOptions, prove_pair};
use stele_compat::{CheckOptions, CompatibilityLevel, ParsedSchema, json::Policy};

use super::{TypeArg, read_file, schema_type};
use crate::report::{Check, Finding, located};

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
    /// After the rules, prove the verdict on the wire: write generated values with
    /// each writer schema's real library, read them with the reader's, and report
    /// the first value that fails, as JSON.
    #[arg(long)]
    prove: bool,
    /// With --prove: how many values to write per (writer, reader) pair.
    #[arg(long, default_value_t = ProofOptions::DEFAULT_BUDGET, requires = "prove")]
    prove_budget: usize,
    /// With --prove: the seed the values are generated from.
    #[arg(long, default_value_t = ProofOptions::DEFAULT_SEED, requires = "prove")]
    prove_seed: u64,
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
    let mut findings = located(&new_text, problems.into_iter().map(|p| (p.rule, p.path, p.description)));
    if opts.prove && new_type == old_type {
        findings.extend(wire_findings(opts, &old, &new));
    }
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

/// Runs the wire oracle on each pair the level asks about: a finding for each
/// counter-example; a note on standard error for a pair proven or not provable.
fn wire_findings(opts: &DiffOpts, old: &ParsedSchema, new: &ParsedSchema) -> Vec<Finding> {
    let options = ProofOptions {
        seed: opts.prove_seed,
        budget: opts.prove_budget,
        // buf's WIRE_JSON profile promises the JSON mapping too: prove it.
        protobuf_json: opts.protobuf_rules == Rules::Buf(buf::Category::WireJson),
    };
    let mut findings = Vec::new();
    for (direction, proof) in prove_pair(opts.level, new, old, &options) {
        let direction_words = direction.words();
        match proof {
            Proof::Holds { values, divergence } => {
                eprintln!("proven: {values} generated values {direction_words}, read back as written");
                if let Some(divergence) = divergence {
                    eprintln!(
                        "note: {} reads one of them differently from the format's specification, at {}: {} (payload {})",
                        divergence.library, divergence.path, divergence.reason, divergence.payload
                    );
                }
            }
            Proof::Unsupported { reason } => eprintln!("not proven ({direction_words}): {reason}"),
            Proof::CounterExample(example) => {
                let finding = example.finding(direction);
                findings.push(Finding {
                    rule: finding.rule,
                    path: finding.path,
                    message: finding.description,
                    line: None,
                });
            }
        }
    }
    findings
}
