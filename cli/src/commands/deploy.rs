//! Deployment gating: environments, `record-deployment`,
//! `record-undeployment` and `can-i-deploy`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::{Client, encode};
use crate::output::println;
use crate::report::{Check, Finding, Format, Report};

#[derive(Args, Debug)]
pub struct EnvironmentOpts {
    #[command(subcommand)]
    action: EnvironmentAction,
}

#[derive(Subcommand, Debug)]
enum EnvironmentAction {
    /// Create an environment (or change whether it is production).
    Create {
        name: String,
        /// Mark it as a production environment.
        #[arg(long)]
        production: bool,
    },
    /// List environments.
    List,
    /// Show an environment and what runs in it.
    Show { name: String },
    /// Delete an environment and its deployment records.
    Delete { name: String },
}

#[derive(Args, Debug)]
pub struct DeploymentOpts {
    /// The service.
    #[arg(long)]
    service: String,
    /// The service version now running (for undeployment: only if this one runs).
    #[arg(long)]
    version: Option<String>,
    /// The environment.
    #[arg(long = "env", visible_alias = "environment")]
    environment: String,
}

#[derive(Args, Debug)]
pub struct CanIDeployOpts {
    /// The service to deploy.
    #[arg(long)]
    service: String,
    /// The version of it to deploy.
    #[arg(long)]
    version: String,
    /// The environment to deploy to.
    #[arg(long = "to", visible_alias = "env")]
    environment: String,
    /// While the version is not published yet (its CI still running), ask again for up to this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    retry_while_unknown: u64,
    /// Seconds between two questions while unknown.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    retry_interval: u64,
}

/// `stele environment ...`.
pub fn environment(client: &Client, opts: &EnvironmentOpts) -> anyhow::Result<()> {
    let path = |name: &str| format!("/stele/v1/environments/{}", encode(name));
    match &opts.action {
        EnvironmentAction::Create { name, production } => {
            client.send(&reqwest::Method::PUT, &path(name), Some(&json!({"production": production})))?;
            println(&format!("environment {name} is ready{}", if *production { " (production)" } else { "" }))
        }
        EnvironmentAction::List => {
            let environments: Vec<Value> = client.get("/stele/v1/environments")?;
            for environment in environments {
                let production = if environment["production"].as_bool() == Some(true) { " (production)" } else { "" };
                println(&format!("{}{production}", environment["name"].as_str().unwrap_or_default()))?;
            }
            Ok(())
        }
        EnvironmentAction::Show { name } => {
            let view: Value = client.get(&path(name))?;
            let mut out = format!("environment {name}\n");
            for deployment in view["deployments"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "  {} {}",
                    deployment["service"].as_str().unwrap_or_default(),
                    deployment["version"].as_str().unwrap_or_default()
                );
            }
            println(out.trim_end())
        }
        EnvironmentAction::Delete { name } => {
            client.send(&reqwest::Method::DELETE, &path(name), None)?;
            println(&format!("deleted environment {name}"))
        }
    }
}

/// `stele record-deployment`: the version now runs in the environment, replacing the one before.
pub fn record_deployment(client: &Client, opts: &DeploymentOpts) -> anyhow::Result<()> {
    let Some(version) = &opts.version else { anyhow::bail!("record-deployment needs --version") };
    let answer = client.send(
        &reqwest::Method::POST,
        &format!("/stele/v1/environments/{}/deployments", encode(&opts.environment)),
        Some(&json!({"service": opts.service, "version": version})),
    )?;
    let replaced = answer["replacedVersion"].as_str().map(|v| format!(" (replacing {v})")).unwrap_or_default();
    println(&format!("recorded {} {version} in {}{replaced}", opts.service, opts.environment))
}

/// `stele record-undeployment`: the service no longer runs in the environment.
pub fn record_undeployment(client: &Client, opts: &DeploymentOpts) -> anyhow::Result<()> {
    let mut path =
        format!("/stele/v1/environments/{}/deployments/{}", encode(&opts.environment), encode(&opts.service));
    if let Some(version) = &opts.version {
        path.push_str(&format!("?version={}", encode(version)));
    }
    let removed = client.send(&reqwest::Method::DELETE, &path, None)?;
    println(&format!(
        "recorded the undeployment of {} {} from {}",
        opts.service,
        removed["version"].as_str().unwrap_or_default(),
        opts.environment
    ))
}

/// Asks the registry, again while the answer is unknown and the retry budget lasts.
fn ask(client: &Client, opts: &CanIDeployOpts) -> anyhow::Result<Value> {
    let path = format!(
        "/stele/v1/can-i-deploy?service={}&version={}&environment={}",
        encode(&opts.service),
        encode(&opts.version),
        encode(&opts.environment)
    );
    let deadline = Instant::now() + Duration::from_secs(opts.retry_while_unknown);
    loop {
        let answer: Value = client.get(&path)?;
        if answer["unknown"].as_bool() != Some(true) || Instant::now() >= deadline {
            return Ok(answer);
        }
        eprintln!(
            "{}; asking again in {} s (until --retry-while-unknown runs out)",
            answer["reason"].as_str().unwrap_or("unknown"),
            opts.retry_interval
        );
        std::thread::sleep(Duration::from_secs(opts.retry_interval.max(1)).min(deadline - Instant::now()));
    }
}

/// The matrix as a table: one row per counterpart.
fn table(answer: &Value) -> String {
    let rows: Vec<[String; 5]> = answer["matrix"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let verdict = match (row["verdict"].as_str(), row["pending"].as_bool() == Some(true)) {
                (Some(v), true) => format!("{v} (pending)"),
                (Some(v), false) => v.to_owned(),
                (None, _) => "?".to_owned(),
            };
            let finding = row["findings"]
                .as_array()
                .and_then(|f| f.first())
                .map(|f| {
                    format!(
                        "{} at {}: {}",
                        f["rule"].as_str().unwrap_or_default(),
                        f["path"].as_str().unwrap_or_default(),
                        f["message"].as_str().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            [
                format!(
                    "{} {}",
                    row["service"].as_str().unwrap_or_default(),
                    row["version"].as_str().unwrap_or_default()
                ),
                row["role"].as_str().unwrap_or_default().to_owned(),
                row["subject"].as_str().unwrap_or_default().to_owned(),
                verdict,
                finding,
            ]
        })
        .collect();
    let header = ["COUNTERPART", "ROLE", "SUBJECT", "VERDICT", "FINDING"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// One report check per matrix row, for the CI formats.
fn checks(answer: &Value) -> Vec<Check> {
    let target = format!(
        "{} {}",
        answer["service"].as_str().unwrap_or_default(),
        answer["version"].as_str().unwrap_or_default()
    );
    if answer["unknown"].as_bool() == Some(true) {
        return vec![Check {
            name: format!("{target} → {}", answer["environment"].as_str().unwrap_or_default()),
            file: String::new(),
            compatible: false,
            level: "CAN_I_DEPLOY".into(),
            version: None,
            error: Some(answer["reason"].as_str().unwrap_or("unknown").to_owned()),
            findings: Vec::new(),
        }];
    }
    answer["matrix"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let pending = row["pending"].as_bool() == Some(true);
            Check {
                name: format!(
                    "{target} ↔ {} {} on {}",
                    row["service"].as_str().unwrap_or_default(),
                    row["version"].as_str().unwrap_or_default(),
                    row["subject"].as_str().unwrap_or_default()
                ),
                file: row["subject"].as_str().unwrap_or_default().to_owned(),
                // A pending contract is reported but does not fail the gate.
                compatible: pending || row["verdict"].as_str() == Some("compatible"),
                level: if pending { "PENDING".into() } else { "CAN_I_DEPLOY".into() },
                version: None,
                error: None,
                findings: row["findings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| Finding {
                        rule: f["rule"].as_str().unwrap_or_default().to_owned(),
                        path: f["path"].as_str().unwrap_or_default().to_owned(),
                        message: format!(
                            "{} {} ({}): {}",
                            row["service"].as_str().unwrap_or_default(),
                            row["version"].as_str().unwrap_or_default(),
                            row["role"].as_str().unwrap_or_default(),
                            f["message"].as_str().unwrap_or_default()
                        ),
                        line: None,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `stele can-i-deploy`: whether the version may go to the environment now; `true` when it may.
pub fn can_i_deploy(client: &Client, opts: &CanIDeployOpts, format: Format, color: bool) -> anyhow::Result<bool> {
    let answer = ask(client, opts)?;
    let deployable = answer["deployable"].as_bool() == Some(true) && answer["unknown"].as_bool() != Some(true);
    let out = match format {
        Format::Text => {
            let mut out = String::new();
            if answer["matrix"].as_array().is_some_and(|m| !m.is_empty()) {
                out.push_str(&table(&answer));
                out.push('\n');
            }
            let verdict = if deployable { "yes" } else { "no" };
            let paint = |text: &str| {
                if !color {
                    text.to_owned()
                } else if deployable {
                    format!("\x1b[32;1m{text}\x1b[0m")
                } else {
                    format!("\x1b[31;1m{text}\x1b[0m")
                }
            };
            let _ = writeln!(
                out,
                "can-i-deploy {} {} to {}: {}. {}",
                opts.service,
                opts.version,
                opts.environment,
                paint(verdict),
                answer["reason"].as_str().unwrap_or_default()
            );
            out
        }
        Format::Json => serde_json::to_string_pretty(&answer)? + "\n",
        other => Report::new(checks(&answer)).render(other, color),
    };
    crate::output::print(&out)?;
    Ok(deployable)
}
