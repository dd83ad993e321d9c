//! Findings and the formats CI systems read: text, json, junit, github, sarif.
//!
//! The `json` format is stable:
//! `{"compatible": bool, "checks": [{"name", "file", "compatible", "level",
//! "version"?, "error"?, "findings": [{"rule", "path", "message", "line"?}]}]}`.

use std::fmt::Write as _;

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Junit,
    Github,
    Sarif,
}

/// One reason a change breaks consumers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub rule: String,
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// One checked subject or file pair.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub file: String,
    pub compatible: bool,
    pub level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub compatible: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(mut checks: Vec<Check>) -> Report {
        for check in &mut checks {
            check.findings.sort();
        }
        let compatible = checks.iter().all(|c| c.compatible && c.error.is_none());
        Report { compatible, checks }
    }

    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Text => self.text(color),
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Junit => self.junit(),
            Format::Github => self.github(),
            Format::Sarif => self.sarif(),
        }
    }

    fn text(&self, color: bool) -> String {
        let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
        let mut out = String::new();
        for check in &self.checks {
            if let Some(error) = &check.error {
                let _ = writeln!(out, "{} {}: {error}", paint("31;1", "error"), check.name);
                continue;
            }
            if check.compatible {
                let _ = writeln!(out, "{} {} is compatible ({})", paint("32;1", "ok"), check.name, check.level);
                continue;
            }
            let against = check.version.map_or_else(String::new, |v| format!(" with version {v}"));
            let _ = writeln!(
                out,
                "{} {} is incompatible{against} under {}: {} problem{}",
                paint("31;1", "incompatible"),
                check.name,
                check.level,
                check.findings.len(),
                if check.findings.len() == 1 { "" } else { "s" }
            );
            for finding in &check.findings {
                let at = finding.line.map_or_else(String::new, |l| format!("{}:{l}: ", check.file));
                let _ = writeln!(out, "  {at}{} at {}: {}", paint("1", &finding.rule), finding.path, finding.message);
            }
        }
        out
    }

    fn junit(&self) -> String {
        let failures = self.checks.iter().filter(|c| !c.compatible || c.error.is_some()).count();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(out, "<testsuites name=\"stele\" tests=\"{}\" failures=\"{failures}\">", self.checks.len());
        let _ = writeln!(
            out,
            "  <testsuite name=\"stele compatibility\" tests=\"{}\" failures=\"{failures}\">",
            self.checks.len()
        );
        for check in &self.checks {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"stele.{}\" file=\"{}\"",
                xml(&check.name),
                xml(&check.level),
                xml(&check.file)
            );
            if let Some(error) = &check.error {
                let _ = writeln!(out, ">\n      <error message=\"{}\"/>\n    </testcase>", xml(error));
            } else if check.compatible {
                out.push_str("/>\n");
            } else {
                let body: Vec<String> =
                    check.findings.iter().map(|f| format!("{} at {}: {}", f.rule, f.path, f.message)).collect();
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"incompatible under {}: {} problem(s)\">{}</failure>\n    </testcase>",
                    xml(&check.level),
                    check.findings.len(),
                    xml(&body.join("\n"))
                );
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }

    fn github(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            if let Some(error) = &check.error {
                let _ = writeln!(
                    out,
                    "::error file={}::{}",
                    property(&check.file),
                    data(&format!("{}: {error}", check.name))
                );
            }
            for finding in &check.findings {
                let line = finding.line.map_or_else(String::new, |l| format!(",line={l}"));
                let _ = writeln!(
                    out,
                    "::error file={}{line},title={}::{}",
                    property(&check.file),
                    property(&finding.rule),
                    data(&format!("{} at {}: {}", check.name, finding.path, finding.message))
                );
            }
        }
        out
    }

    fn sarif(&self) -> String {
        let mut rules: Vec<&str> =
            self.checks.iter().flat_map(|c| c.findings.iter().map(|f| f.rule.as_str())).collect();
        rules.sort_unstable();
        rules.dedup();
        let rules: Vec<serde_json::Value> = rules
            .iter()
            .map(|id| {
                let text = stele_compat::docs::rule_doc(id).map_or_else(|| (*id).to_owned(), |d| d.checks.to_owned());
                serde_json::json!({"id": id, "shortDescription": {"text": text}})
            })
            .collect();
        let mut results = Vec::new();
        for check in &self.checks {
            for finding in &check.findings {
                let mut region = serde_json::Map::new();
                if let Some(line) = finding.line {
                    region.insert("startLine".into(), line.into());
                }
                let mut location = serde_json::json!({"physicalLocation": {"artifactLocation": {"uri": check.file}}});
                if !region.is_empty() {
                    location["physicalLocation"]["region"] = serde_json::Value::Object(region);
                }
                results.push(serde_json::json!({
                    "ruleId": finding.rule,
                    "level": "error",
                    "message": {"text": format!("{} at {}: {}", check.name, finding.path, finding.message)},
                    "locations": [location],
                }));
            }
            if let Some(error) = &check.error {
                results.push(serde_json::json!({
                    "ruleId": "STELE_ERROR",
                    "level": "error",
                    "message": {"text": format!("{}: {error}", check.name)},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": check.file}}}],
                }));
            }
        }
        let sarif = serde_json::json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "stele", "informationUri": "https://example.invalid/stele", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
                "results": results,
            }],
        });
        serde_json::to_string_pretty(&sarif).unwrap_or_default() + "\n"
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// GitHub workflow-command escaping for the message part.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// GitHub workflow-command escaping for properties (`file=`, `title=`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Findings with the line of `text` each one is about, when it can be found
/// (the same lookup the web console uses to place findings beside lines).
pub fn located(text: &str, findings: impl IntoIterator<Item = (String, String, String)>) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|(rule, path, message)| Finding {
            line: stele_registry::console::render::line_of(text, &path),
            rule,
            path,
            message,
        })
        .collect()
}
