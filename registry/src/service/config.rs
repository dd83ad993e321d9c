//! Configuration and mode, per subject, per context and globally.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stele_compat::CompatibilityLevel;

use super::{GLOBAL_SCOPE, Registry};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::ConfigRecord;
use crate::subject::Subject;

/// A write mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    ReadOnlyOverride,
    Import,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::ReadOnlyOverride => "READONLY_OVERRIDE",
            Mode::Import => "IMPORT",
        }
    }

    pub fn is_read_only(self) -> bool {
        matches!(self, Mode::ReadOnly | Mode::ReadOnlyOverride)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "READWRITE" => Ok(Mode::ReadWrite),
            "READONLY" => Ok(Mode::ReadOnly),
            "READONLY_OVERRIDE" => Ok(Mode::ReadOnlyOverride),
            "IMPORT" => Ok(Mode::Import),
            _ => Err(RegistryError::new(
                ErrorCode::InvalidMode,
                "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.",
            )),
        }
    }
}

/// A config write: every field optional, an absent one keeps its value.
/// Serialized back as the answer, in the request's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_fields: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_rule_set: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protobuf_rules: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_contracts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire_proof: Option<String>,
}

const CONTRACT_MODES: &[&str] = &["ENFORCE", "WARN", "OFF"];
const POLICIES: &[&str] = &["STRICT", "LENIENT"];

fn one_of(value: Option<&String>, allowed: &[&str], field: &str) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let upper = v.to_ascii_uppercase();
            if allowed.contains(&upper.as_str()) {
                Ok(Some(upper))
            } else {
                Err(RegistryError::new(
                    ErrorCode::Unprocessable,
                    format!("Invalid {field} '{v}'. Valid values are {}", allowed.join(", ")),
                ))
            }
        }
    }
}

/// The scope key of a config or mode path: `None` for the top level.
pub fn scope_of(subject: Option<&str>) -> String {
    subject.map_or_else(String::new, |s| {
        let parsed = Subject::parse(s);
        if parsed.name.is_empty() { parsed.context_scope() } else { parsed.qualified() }
    })
}

impl Registry {
    /// `GET /config[/subject]`.
    pub async fn config_get(&self, subject: Option<&str>, default_to_global: bool) -> Result<ConfigRecord> {
        let scope = scope_of(subject);
        if default_to_global || subject.is_none() {
            let parsed = subject.map(Subject::parse);
            return self.effective_config(parsed.as_ref()).await;
        }
        // `:.:` names the default context's empty subject, not the top level.
        let default_context_subject = subject.is_some_and(|s| {
            let parsed = Subject::parse(s);
            parsed.name.is_empty() && parsed.is_default_context()
        });
        let own = if default_context_subject { None } else { self.store.config_get(&scope).await? };
        let Some(own) = own else {
            return Err(RegistryError::new(
                ErrorCode::SubjectConfigNotFound,
                format!(
                    "Subject '{}' does not have subject-level compatibility configured",
                    if default_context_subject { "" } else { subject.unwrap_or_default() }
                ),
            ));
        };
        // A config written without a level reads with the server's default
        // level, as Confluent answers, not with a parent scope's.
        let mut config = own;
        if config.compatibility_level.is_none() {
            config.compatibility_level = Some(self.default_level.as_str().to_owned());
        }
        Ok(config)
    }

    /// `PUT /config[/subject]`: merges the given fields into the scope's config.
    pub async fn config_put(&self, subject: Option<&str>, update: ConfigUpdate) -> Result<ConfigUpdate> {
        if let Some(raw) = subject {
            Subject::parse_for_write(raw)?;
        }
        let level = match &update.compatibility {
            Some(level) => Some(CompatibilityLevel::from_str(level).map_err(|_| RegistryError::invalid_level())?),
            None => None,
        };
        let profiles = stele_compat::protobuf::Rules::ALL.map(stele_compat::protobuf::Rules::as_str);
        let protobuf_rules = one_of(update.protobuf_rules.as_ref(), &profiles, "protobufRules")?;
        let consumer_contracts = one_of(update.consumer_contracts.as_ref(), CONTRACT_MODES, "consumerContracts")?;
        let wire_proof = one_of(update.wire_proof.as_ref(), CONTRACT_MODES, "wireProof")?;
        let policy = one_of(update.compatibility_policy.as_ref(), POLICIES, "compatibilityPolicy")?;
        let scope = scope_of(subject);
        let _guard = self.write_locks.settings().await;
        if let Some(raw) = subject {
            let parsed = Subject::parse(raw);
            if !parsed.name.is_empty() && self.effective_mode(&parsed).await?.is_read_only() {
                return Err(RegistryError::not_permitted(format!("Subject {raw} is in read-only mode")));
            }
        }
        let current = self.store.config_get(&scope).await?.unwrap_or_default();
        let given = ConfigRecord {
            compatibility_level: level.map(|l| l.as_str().to_owned()),
            normalize: update.normalize,
            validate_fields: update.validate_fields,
            alias: update.alias.clone(),
            compatibility_group: update.compatibility_group.clone(),
            default_metadata: update.default_metadata.clone(),
            override_metadata: update.override_metadata.clone(),
            default_rule_set: update.default_rule_set.clone(),
            override_rule_set: update.override_rule_set.clone(),
            compatibility_policy: policy,
            protobuf_rules,
            consumer_contracts,
            wire_proof,
        };
        self.store.config_put(&scope, &given.over(&current)).await?;
        self.invalidate_after_write();
        Ok(update)
    }

    /// `DELETE /config[/subject]`: answers the config that was removed.
    pub async fn config_delete(&self, subject: Option<&str>) -> Result<ConfigRecord> {
        let scope = scope_of(subject);
        let _guard = self.write_locks.settings().await;
        let previous = match subject {
            None => self.effective_config(None).await?,
            Some(raw) => self.store.config_get(&scope).await?.ok_or_else(|| RegistryError::subject_not_found(raw))?,
        };
        self.store.config_delete(&scope).await?;
        self.invalidate_after_write();
        Ok(previous)
    }

    /// `GET /mode[/subject]`.
    pub async fn mode_get(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode> {
        match subject {
            None => Ok(self
                .store
                .mode_get("")
                .await?
                .or(self.store.mode_get(GLOBAL_SCOPE).await?)
                .map_or(Ok(Mode::ReadWrite), |m| m.parse())?),
            Some(raw) => {
                let parsed = Subject::parse(raw);
                if default_to_global {
                    return self.effective_mode(&parsed).await;
                }
                if let Some(global) = self.global_override().await? {
                    return Ok(global);
                }
                match self.store.mode_get(&scope_of(subject)).await? {
                    Some(mode) => mode.parse(),
                    None => Err(RegistryError::new(
                        ErrorCode::SubjectModeNotFound,
                        format!("Subject '{raw}' does not have subject-level mode configured"),
                    )),
                }
            }
        }
    }

    /// `PUT /mode[/subject]`. Entering IMPORT requires an empty scope unless
    /// `force`, and removes what soft-deleted versions the scope still holds.
    pub async fn mode_put(&self, subject: Option<&str>, mode: &str, force: bool) -> Result<Mode> {
        let mode: Mode = mode.parse()?;
        if let Some(raw) = subject {
            Subject::parse_for_write(raw)?;
        }
        let scope = scope_of(subject);
        let _guard = self.write_locks.settings().await;
        if mode == Mode::Import {
            let in_scope = |qualified: &str| match subject {
                None => true,
                Some(raw) => {
                    let target = Subject::parse(raw);
                    let candidate = Subject::parse(qualified);
                    if target.name.is_empty() { candidate.context == target.context } else { candidate == target }
                }
            };
            let versions: Vec<_> =
                self.store.versions_all().await?.into_iter().filter(|v| in_scope(&v.subject)).collect();
            if !force {
                if versions.iter().any(|v| !v.deleted) {
                    return Err(RegistryError::not_permitted("Cannot import since found existing subjects"));
                }
                // Soft-deleted versions go for good, one transaction per subject. One
                // a live version still references stops the change (42206) before
                // anything goes; each transaction checks again under its locks.
                for version in &versions {
                    let referrers = self.store.versions_referencing(&version.subject, version.version).await?;
                    if referrers.iter().any(|referrer| !referrer.deleted) {
                        return Err(RegistryError::reference_exists(&version.subject, version.version));
                    }
                }
                let mut by_subject: std::collections::BTreeMap<&str, Vec<i32>> = std::collections::BTreeMap::new();
                for version in &versions {
                    by_subject.entry(&version.subject).or_default().push(version.version);
                }
                for (subject, numbers) in by_subject {
                    let outcome = self.store.versions_hard_delete(&Subject::parse(subject), &numbers, false).await?;
                    if Self::must_retry(&outcome)? {
                        self.evict_deleted(&versions);
                        return Err(RegistryError::not_permitted("Cannot import since found existing subjects"));
                    }
                }
                self.evict_deleted(&versions);
            }
        }
        self.store.mode_put(&scope, mode.as_str()).await?;
        self.invalidate_after_write();
        Ok(mode)
    }

    /// `DELETE /mode/subject`: answers the mode that was removed.
    pub async fn mode_delete(&self, subject: &str) -> Result<Mode> {
        let scope = scope_of(Some(subject));
        let _guard = self.write_locks.settings().await;
        let own = self.store.mode_get(&scope).await?;
        let previous = match (self.global_override().await?, own) {
            // Under a global READONLY_OVERRIDE Confluent answers the mode in force.
            (Some(global), _) => global,
            (None, Some(own)) => own.parse()?,
            (None, None) => return Err(RegistryError::subject_not_found(subject)),
        };
        self.store.mode_delete(&scope).await?;
        self.invalidate_after_write();
        Ok(previous)
    }
}
