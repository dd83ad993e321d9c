//! What the web console asks beyond the API: two versions compared with
//! findings, two pasted schemas compared, and a search by field or message
//! name across the latest version of every subject.

use std::collections::BTreeMap;

use stele_compat::{CompatibilityLevel, Incompatibility, SchemaType};

use super::Registry;
use super::read::VersionSelector;
use crate::error::{RegistryError, Result};
use crate::store::SchemaRecord;
use crate::subject::Subject;

/// Two versions of a subject and what the newer breaks for readers of the older.
pub struct Comparison {
    pub level: CompatibilityLevel,
    pub old: (i32, std::sync::Arc<SchemaRecord>),
    pub new: (i32, std::sync::Arc<SchemaRecord>),
    pub findings: Vec<Incompatibility>,
}

/// A subject whose latest schema names what was searched for.
pub struct SearchHit {
    pub subject: String,
    pub version: i32,
    pub schema_type: SchemaType,
    /// `field amount`, `message Order`, `record Order`, `property amount`.
    pub matches: Vec<String>,
}

/// The names a schema declares: records, messages, enums and their fields or properties.
fn names(schema_type: SchemaType, text: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        match value {
            serde_json::Value::Object(map) => {
                let kind = map.get("type").and_then(serde_json::Value::as_str);
                if let (Some(name), Some(kind @ ("record" | "enum" | "fixed"))) =
                    (map.get("name").and_then(serde_json::Value::as_str), kind)
                {
                    out.push(format!("{kind} {name}"));
                }
                if let Some(fields) = map.get("fields").and_then(serde_json::Value::as_array) {
                    for field in fields {
                        if let Some(name) = field.get("name").and_then(serde_json::Value::as_str) {
                            out.push(format!("field {name}"));
                        }
                    }
                }
                if let Some(properties) = map.get("properties").and_then(serde_json::Value::as_object) {
                    out.extend(properties.keys().map(|k| format!("property {k}")));
                }
                for child in map.values() {
                    walk(child, out, depth + 1);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, out, depth + 1)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match schema_type {
        SchemaType::Avro | SchemaType::Json => {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
                walk(&value, &mut out, 0);
            }
        }
        SchemaType::Protobuf => {
            for line in text.lines().map(str::trim) {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    [kind @ ("message" | "enum" | "service"), name, ..] => out.push(format!("{kind} {name}")),
                    [.., name, "=", _number] | [.., name, "=", _number, _] if !line.starts_with("option") => {
                        out.push(format!("field {}", name.trim_end_matches(';')));
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

impl Registry {
    /// Versions `from` and `to` of a subject, checked at the subject's level
    /// (or BACKWARD when it is NONE), `to` as the new schema.
    pub async fn compare(&self, raw_subject: &str, from: i32, to: i32) -> Result<Comparison> {
        let subject = Subject::parse(&self.resolve_alias(raw_subject).await?);
        let config = self.effective_config(Some(&subject)).await?;
        let level = config.compatibility_level.as_deref().and_then(|l| l.parse().ok()).unwrap_or(self.default_level);
        let level = if level == CompatibilityLevel::None { CompatibilityLevel::Backward } else { level };
        let (old_version, old) = self.version_get(&subject.qualified(), VersionSelector::Number(from), true).await?;
        let (new_version, new) = self.version_get(&subject.qualified(), VersionSelector::Number(to), true).await?;
        let findings = stele_compat::level::check_pair_with(
            level,
            &*self.parsed_of(&new).await?,
            &*self.parsed_of(&old).await?,
            &super::register::check_options(&config),
        );
        Ok(Comparison { level, old: (old_version.version, old), new: (new_version.version, new), findings })
    }

    /// Two pasted schemas of one type compared at `level`, `new` as the new schema.
    pub fn compare_texts(
        schema_type: SchemaType,
        old: &str,
        new: &str,
        level: CompatibilityLevel,
    ) -> Result<Vec<Incompatibility>> {
        let parse = |what: &str, text: &str| {
            stele_compat::parse(schema_type, text, &[], false).map_err(|e| {
                RegistryError::invalid_schema(format!("the {what} schema is not valid {schema_type}: {e}"))
            })
        };
        Ok(stele_compat::level::check_pair(level, &parse("new", new)?, &parse("old", old)?))
    }

    /// A pasted schema against the latest version of a subject, at `level`
    /// (the playground's choice, not the subject's).
    pub async fn check_against_latest(
        &self,
        raw_subject: &str,
        schema_type: SchemaType,
        text: &str,
        level: CompatibilityLevel,
    ) -> Result<Vec<Incompatibility>> {
        self.check_schema_size(text)?;
        let (_, latest) = self.version_get(raw_subject, VersionSelector::Latest, false).await?;
        let old = self.parsed_of(&latest).await?;
        let new = stele_compat::parse(schema_type, text, &[], false)
            .map_err(|e| RegistryError::invalid_schema(format!("the new schema is not valid {schema_type}: {e}")))?;
        Ok(stele_compat::level::check_pair(level, &new, &old))
    }

    /// Subjects whose latest live schema declares a name containing `term` (case-insensitive).
    pub async fn search(&self, term: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let term = term.to_lowercase();
        let mut latest = BTreeMap::new();
        self.scan_versions(|version| {
            if !version.deleted {
                latest.insert(version.subject.clone(), version);
            }
            true
        })
        .await?;
        let mut hits = Vec::new();
        for version in latest.into_values() {
            let record = self.record_of(&version).await?;
            let matches: Vec<String> = names(record.schema_type, &record.schema)
                .into_iter()
                .filter(|n| n.to_lowercase().contains(&term))
                .collect();
            if !matches.is_empty() {
                hits.push(SearchHit {
                    subject: version.subject.clone(),
                    version: version.version,
                    schema_type: record.schema_type,
                    matches,
                });
                if hits.len() >= limit {
                    break;
                }
            }
        }
        Ok(hits)
    }

    /// When each version of a subject was made (ms since the epoch).
    pub async fn version_dates(&self, raw_subject: &str) -> Result<BTreeMap<i32, i64>> {
        let subject = Subject::parse(&self.resolve_alias(raw_subject).await?);
        Ok(self.store.version_dates(&subject.qualified()).await?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_format() {
        let avro = r#"{"type":"record","name":"Order","fields":[{"name":"amount","type":"long"},
            {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"}]}}}]}"#;
        let found = names(SchemaType::Avro, avro);
        for expected in ["record Order", "field amount", "record Line", "field sku"] {
            assert!(found.contains(&expected.to_owned()), "{found:?}");
        }
        let proto =
            "syntax = \"proto3\";\nmessage Order {\n  string id = 1;\n  repeated Line lines = 2 [packed = true];\n}\n";
        let found = names(SchemaType::Protobuf, proto);
        assert!(found.contains(&"message Order".to_owned()) && found.contains(&"field id".to_owned()), "{found:?}");
        let json = r#"{"type":"object","properties":{"amount":{"type":"number"}}}"#;
        assert_eq!(names(SchemaType::Json, json), vec!["property amount"]);
    }
}
