//! Consumer contracts: consumers declare the schema they read a subject with;
//! registration can be checked against every declared consumer.

use serde::Serialize;
use stele_compat::{ParsedSchema, contract};

use super::Registry;
use super::register::RegisterRequest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::ContractRecord;
use crate::subject::Subject;

/// How registration treats consumer contracts (config `consumerContracts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    Off,
    Warn,
    Enforce,
}

impl Enforcement {
    pub fn parse(raw: Option<&str>) -> Enforcement {
        match raw.map(str::to_ascii_uppercase).as_deref() {
            Some("ENFORCE") => Enforcement::Enforce,
            Some("WARN") => Enforcement::Warn,
            _ => Enforcement::Off,
        }
    }
}

/// One problem a consumer would have with a writer schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractFinding {
    pub consumer: String,
    /// The consumer's version, when the contract came from a published service version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_version: Option<String>,
    /// A pending contract's finding is reported but blocks nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    pub rule: String,
    pub path: String,
    pub message: String,
}

impl ContractFinding {
    /// Every problem `consumer` (at `version`) has reading `writer` with `reader`.
    pub(crate) fn of_check(
        consumer: &str,
        version: Option<&str>,
        pending: bool,
        reader: &ParsedSchema,
        writer: &ParsedSchema,
    ) -> Vec<ContractFinding> {
        contract::check(reader, writer)
            .into_iter()
            .map(|p| ContractFinding {
                consumer: consumer.to_owned(),
                consumer_version: version.map(str::to_owned),
                pending,
                rule: p.rule,
                path: p.path,
                message: p.description,
            })
            .collect()
    }

    /// The line registration answers and logs.
    pub fn sentence(&self) -> String {
        let version = self.consumer_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        let pending = if self.pending { " (pending, does not block)" } else { "" };
        format!("consumer '{}'{version}{pending}: {} at {}: {}", self.consumer, self.rule, self.path, self.message)
    }
}

/// A consumer of a subject and whether it reads the latest writer schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerStatus {
    #[serde(flatten)]
    pub contract: ContractRecord,
    /// `None` when the subject has no live version to read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<i32>,
    pub findings: Vec<ContractFinding>,
}

fn consumer_name(consumer: &str) -> Result<()> {
    if consumer.is_empty() || consumer.chars().any(char::is_control) {
        return Err(RegistryError::new(ErrorCode::Unprocessable, format!("'{consumer}' is not a valid consumer name")));
    }
    Ok(())
}

impl Registry {
    async fn parse_contract(&self, contract: &ContractRecord) -> Result<ParsedSchema> {
        let subject = Subject::parse(&contract.subject);
        let (resolved, _) = self.resolve_references(&subject, &contract.references, true).await?;
        stele_compat::parse(contract.schema_type, &contract.schema, &resolved, false).map_err(|e| {
            RegistryError::Internal(format!(
                "the contract of {} on {} no longer parses: {e}",
                contract.consumer, contract.subject
            ))
        })
    }

    /// The problems every declared consumer of `subject` would have reading
    /// `writer`: each consumer's latest main-branch contract, every consumer
    /// version deployed anywhere, and (marked pending) the latest contract of
    /// each consumer branch that is neither merged nor deployed.
    pub(crate) async fn contract_findings(
        &self,
        subject: &Subject,
        writer: &ParsedSchema,
    ) -> Result<Vec<ContractFinding>> {
        let mut findings = Vec::new();
        let mut checked = std::collections::HashSet::new();
        for contract in self.store.contracts_list(&subject.qualified()).await? {
            let reader = self.parse_contract(&contract).await?;
            findings.extend(ContractFinding::of_check(
                &contract.consumer,
                contract.consumer_version.as_deref(),
                false,
                &reader,
                writer,
            ));
            checked.insert((contract.consumer, contract.schema));
        }
        findings.extend(self.deployed_and_pending_findings(&subject.qualified(), writer, &checked).await?);
        Ok(findings)
    }

    /// `PUT /stele/v1/subjects/{s}/consumers/{c}`: publishes (or replaces) a contract.
    #[tracing::instrument(name = "registry.contract_publish", skip_all, fields(subject = raw_subject, consumer))]
    pub async fn contract_publish(
        &self,
        raw_subject: &str,
        consumer: &str,
        request: RegisterRequest,
        consumer_version: Option<String>,
    ) -> Result<ContractRecord> {
        consumer_name(consumer)?;
        let subject = Subject::parse_for_write(&self.resolve_alias(raw_subject).await?)?;
        self.ensure_writable(&subject).await?;
        let schema_type = super::schema_type_of(request.schema_type.as_deref())?;
        let text = request
            .schema
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RegistryError::invalid_schema("Empty schema"))?;
        self.check_schema_size(&text)?;
        let (resolved, references, targets) = self.resolve_with_targets(&subject, &request.references, false).await?;
        let parsed = stele_compat::parse(schema_type, &text, &resolved, false).map_err(|e| {
            RegistryError::invalid_schema(format!("Invalid contract schema of consumer '{consumer}': {e}"))
        })?;
        let now = crate::store::now_millis();
        let created_at = self.store.contract_get(&subject.qualified(), consumer).await?.map_or(now, |c| c.created_at);
        let record = ContractRecord {
            subject: subject.qualified(),
            consumer: consumer.to_owned(),
            schema_type,
            schema: parsed.canonical,
            references,
            consumer_version,
            created_at,
            updated_at: now,
        };
        if let Some(missing) = self.store.contract_put(&record, &targets).await? {
            return Err(RegistryError::invalid_schema(format!(
                "Invalid reference: subject '{}' version {} was deleted or replaced while the request was checked",
                missing.subject, missing.version
            )));
        }
        self.emit(super::Event {
            kind: super::EventKind::ContractPublished,
            subjects: vec![record.subject.clone()],
            data: serde_json::json!({
                "subject": record.subject, "consumer": consumer, "consumerVersion": record.consumer_version,
                "pending": false,
            }),
        });
        tracing::info!(subject.name = %subject, consumer, "published the contract of {consumer} on {subject}");
        Ok(record)
    }

    pub async fn contract_get(&self, raw_subject: &str, consumer: &str) -> Result<ContractRecord> {
        let subject = Subject::parse(&self.resolve_alias(raw_subject).await?).qualified();
        self.store.contract_get(&subject, consumer).await?.ok_or_else(|| {
            RegistryError::new(
                ErrorCode::ContractNotFound,
                format!("Consumer '{consumer}' has no contract on subject '{raw_subject}'."),
            )
        })
    }

    pub async fn contract_delete(&self, raw_subject: &str, consumer: &str) -> Result<ContractRecord> {
        let contract = self.contract_get(raw_subject, consumer).await?;
        self.ensure_writable(&Subject::parse(&contract.subject)).await?;
        self.store.contract_delete(&contract.subject, consumer).await?;
        Ok(contract)
    }

    /// `GET /stele/v1/subjects/{s}/consumers`: every consumer, and whether it reads the latest writer schema.
    pub async fn consumers_status(&self, raw_subject: &str) -> Result<Vec<ConsumerStatus>> {
        let subject = Subject::parse(&self.resolve_alias(raw_subject).await?);
        let versions = self.store.versions_list(&subject).await?;
        let latest = versions.iter().rev().find(|v| !v.deleted);
        let writer = match latest {
            Some(version) => Some((version.version, self.parsed_of(&*self.record_of(version).await?).await?)),
            None => None,
        };
        let mut statuses = Vec::new();
        for contract in self.store.contracts_list(&subject.qualified()).await? {
            let (compatible, latest_version, findings) = match &writer {
                Some((version, writer)) => {
                    let reader = self.parse_contract(&contract).await?;
                    let findings = ContractFinding::of_check(
                        &contract.consumer,
                        contract.consumer_version.as_deref(),
                        false,
                        &reader,
                        writer,
                    );
                    (Some(findings.is_empty()), Some(*version), findings)
                }
                None => (None, None, Vec::new()),
            };
            statuses.push(ConsumerStatus { contract, compatible, latest_version, findings });
        }
        Ok(statuses)
    }
}
