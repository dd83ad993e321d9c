//! `stele explain RULE_ID`: what a rule checks and how to stay compatible.

use anyhow::bail;
use clap::Args;

use crate::output::print;

#[derive(Args, Debug)]
pub struct ExplainOpts {
    /// A rule id, such as `READER_FIELD_MISSING_DEFAULT_VALUE` (any case).
    rule: String,
}

pub fn run(opts: &ExplainOpts) -> anyhow::Result<()> {
    let id = opts.rule.to_ascii_uppercase();
    let Some(doc) = stele_compat::docs::rule_doc(&id) else {
        bail!("unknown rule {}; known rules: {}", opts.rule, stele_compat::docs::rule_ids().join(", "));
    };
    print(&format!(
        "{} ({})\n\nWhat it checks:\n  {}\n\nWhy it breaks consumers:\n  {}\n\nExample:\n{}\n\nThe compatible alternative:\n  {}\n",
        doc.id,
        doc.format,
        doc.checks,
        doc.why,
        doc.example.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"),
        doc.alternative
    ))
}
