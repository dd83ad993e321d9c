//! Deployment gating: service versions, environments, deployment records and
//! `can-i-deploy`.
//!
//! A service version publishes what it produces (registered subject versions)
//! and what it consumes (reader schemas). Deployment records say which version
//! of each service runs in each environment. `can-i-deploy(S, V, E)` checks,
//! with the same checker as consumer contracts, every schema S@V produces
//! against every consumer version deployed in E, and every schema S@V
//! consumes against every producer version deployed in E.
//!
//! A consumer version is *pending* while none of its branches is its
//! service's main branch and it runs nowhere: its findings are reported on
//! registration and `can-i-deploy` but block neither (Pact's pending and
//! work-in-progress contracts).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use stele_compat::ParsedSchema;

use super::Registry;
use super::contracts::ContractFinding;
use super::register::RegisterRequest;
use super::webhooks::{Event, EventKind};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::deploy::{
    DEFAULT_MAIN_BRANCH, DeployOutcome, DeploymentRecord, EnvironmentRecord, OwnedSchema, PublishOutcome, Role,
    ServiceRecord, ServiceSchema, ServiceVersionRecord,
};
use crate::subject::Subject;

/// One subject a service version produces or consumes, as published.
#[derive(Debug, Clone)]
pub struct PublishedSchema {
    pub subject: String,
    pub request: RegisterRequest,
}

/// `PUT /stele/v1/services/{s}/versions/{v}`.
#[derive(Debug, Clone, Default)]
pub struct ServiceVersionRequest {
    /// The branch it was built from; absent means the service's main branch.
    pub branch: Option<String>,
    pub produces: Vec<PublishedSchema>,
    pub consumes: Vec<PublishedSchema>,
}

/// A service version with where it runs and whether its contracts are pending.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceVersionView {
    #[serde(flatten)]
    pub record: ServiceVersionRecord,
    pub main_branch: String,
    pub pending: bool,
    pub deployed_in: Vec<String>,
}

/// A service, its recent versions and where it runs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    #[serde(flatten)]
    pub service: ServiceRecord,
    pub versions: Vec<ServiceVersionRecord>,
    pub deployments: Vec<DeploymentRecord>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView {
    #[serde(flatten)]
    pub environment: EnvironmentRecord,
    pub deployments: Vec<DeploymentRecord>,
}

/// What a counterpart concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Compatible,
    Incompatible,
}

/// One row of the can-i-deploy matrix: a counterpart and its verdict.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixRow {
    /// The other service, and the version of it that runs in the environment
    /// (or, for a pending contract, the version that published it).
    pub service: String,
    pub version: String,
    pub subject: String,
    /// What the counterpart does with the subject: `consumes` or `produces`.
    pub role: Role,
    pub verdict: Verdict,
    /// Reported, but does not block: a contract not yet on its main branch nor deployed.
    pub pending: bool,
    pub findings: Vec<ContractFinding>,
}

/// The answer of `can-i-deploy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanIDeploy {
    pub service: String,
    pub version: String,
    pub environment: String,
    /// Whether every blocking row is compatible (and the version is known).
    pub deployable: bool,
    /// The version has not been published (yet): the answer cannot be known.
    pub unknown: bool,
    pub reason: String,
    pub matrix: Vec<MatrixRow>,
}

/// Service, version and branch names: printable, at most 255 characters.
fn name(kind: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
        return Err(RegistryError::new(
            ErrorCode::Unprocessable,
            format!("'{value}' is not a valid {kind}: 1 to 255 printable characters"),
        ));
    }
    Ok(())
}

/// Environment names: a letter or digit, then letters, digits, `.`, `_` or `-` (at most 64).
pub fn environment_name(value: &str) -> Result<()> {
    let mut chars = value.chars();
    let valid = value.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(RegistryError::new(
            ErrorCode::Unprocessable,
            format!(
                "'{value}' is not a valid environment name: a letter or digit, then letters, digits, '.', '_' or '-' \
                 (at most 64)"
            ),
        ));
    }
    Ok(())
}

fn environment_not_found(environment: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::EnvironmentNotFound,
        format!("No environment named '{environment}': create it first (PUT /stele/v1/environments/{environment})"),
    )
}

/// Whether a consumer version's contracts are pending: on no main branch and running nowhere.
fn pending(owned: &OwnedSchema, deployed: &HashSet<(String, String)>) -> bool {
    !owned.branches.contains(&owned.main_branch) && !deployed.contains(&(owned.service.clone(), owned.version.clone()))
}

/// The pending consumer versions worth reporting: the latest of each
/// (service, branch), each version once.
fn latest_pending<'a>(
    consumers: impl IntoIterator<Item = &'a OwnedSchema>,
    deployed: &HashSet<(String, String)>,
) -> Vec<&'a OwnedSchema> {
    let mut latest: BTreeMap<(&str, &str), &OwnedSchema> = BTreeMap::new();
    for owned in consumers.into_iter().filter(|owned| pending(owned, deployed)) {
        for branch in &owned.branches {
            let slot = latest.entry((owned.service.as_str(), branch.as_str())).or_insert(owned);
            if owned.created_at >= slot.created_at {
                *slot = owned;
            }
        }
    }
    let mut seen = HashSet::new();
    latest.into_values().filter(|owned| seen.insert((&owned.service, &owned.version))).collect()
}

impl Registry {
    /// Parses a stored service schema (its references resolved in its subject's context).
    async fn parse_service_schema(&self, schema: &ServiceSchema) -> Result<ParsedSchema> {
        let subject = Subject::parse(&schema.subject);
        let (resolved, _) = self.resolve_references(&subject, &schema.references, true).await?;
        stele_compat::parse(schema.schema_type, &schema.schema, &resolved, false).map_err(|e| {
            RegistryError::Internal(format!("a stored schema of {} no longer parses: {e}", schema.subject))
        })
    }

    /// A service's main branch (the default for a service not published yet).
    async fn main_branch_of(&self, service: &str) -> Result<String> {
        Ok(self.store.service_get(service).await?.map_or_else(|| DEFAULT_MAIN_BRANCH.to_owned(), |s| s.main_branch))
    }

    /// The service versions that run somewhere.
    async fn deployed_versions(&self) -> Result<HashSet<(String, String)>> {
        Ok(self.store.deployments_list(None).await?.into_iter().map(|d| (d.service, d.version)).collect())
    }

    /// What registration checks a new schema of `subject` against, beyond the
    /// contracts table (each consumer's latest main-branch contract): the
    /// contracts of every consumer version deployed anywhere (blocking), and
    /// the latest pending contract of each consumer branch (reported only).
    pub(crate) async fn deployed_and_pending_findings(
        &self,
        subject: &str,
        writer: &ParsedSchema,
        already: &HashSet<(String, String)>,
    ) -> Result<Vec<ContractFinding>> {
        let consumers = self.store.service_schemas_on(subject, Role::Consumes).await?;
        if consumers.is_empty() {
            return Ok(Vec::new());
        }
        let deployed = self.deployed_versions().await?;
        // Every deployed version (blocking), then the latest pending version of each branch.
        let running = consumers.iter().filter(|o| deployed.contains(&(o.service.clone(), o.version.clone())));
        let checked =
            running.map(|o| (o, false)).chain(latest_pending(&consumers, &deployed).into_iter().map(|o| (o, true)));
        let mut findings = Vec::new();
        for (owned, is_pending) in checked {
            // The same reader schema as a contract already checked adds nothing.
            if already.contains(&(owned.service.clone(), owned.schema.schema.clone())) {
                continue;
            }
            let reader = self.parse_service_schema(&owned.schema).await?;
            findings.extend(ContractFinding::of_check(
                &owned.service,
                Some(&owned.version),
                is_pending,
                &reader,
                writer,
            ));
        }
        Ok(findings)
    }

    /// `PUT /stele/v1/services/{s}/versions/{v}`: records what a service version
    /// produces and consumes. Produced schemas must be registered already; on
    /// the main branch, the consumed ones become the service's contracts.
    #[tracing::instrument(name = "registry.service_version_publish", skip_all, fields(service, version))]
    pub async fn service_version_publish(
        &self,
        service: &str,
        version: &str,
        request: ServiceVersionRequest,
    ) -> Result<ServiceVersionView> {
        name("service name", service)?;
        name("service version", version)?;
        if let Some(branch) = &request.branch {
            name("branch name", branch)?;
        }
        let main_branch = self.main_branch_of(service).await?;
        let branch = request.branch.clone().unwrap_or_else(|| main_branch.clone());
        let mut schemas = Vec::new();
        let mut seen = HashSet::new();
        for (role, published) in request
            .produces
            .iter()
            .map(|p| (Role::Produces, p))
            .chain(request.consumes.iter().map(|p| (Role::Consumes, p)))
        {
            let subject = Subject::parse_for_write(&self.resolve_alias(&published.subject).await?)?;
            if !seen.insert((role, subject.qualified())) {
                return Err(RegistryError::new(
                    ErrorCode::Unprocessable,
                    format!("{service} {version} {} {} twice", role.as_str(), published.subject),
                ));
            }
            schemas.push(match role {
                Role::Produces => self.produced_schema(service, version, &subject, published).await?,
                Role::Consumes => self.consumed_schema(service, &subject, published).await?,
            });
        }
        let record = ServiceVersionRecord {
            service: service.to_owned(),
            version: version.to_owned(),
            branches: vec![branch.clone()],
            schemas,
            created_at: crate::store::now_millis(),
        };
        match self.store.service_version_publish(&record).await? {
            PublishOutcome::Conflict => {
                return Err(RegistryError::new(
                    ErrorCode::ServiceVersionConflict,
                    format!(
                        "{service} {version} was published before with other schemas; a service version is \
                         immutable: publish a new version"
                    ),
                ));
            }
            PublishOutcome::Created | PublishOutcome::Unchanged => {}
        }
        if branch == main_branch {
            for published in &request.consumes {
                self.contract_publish(&published.subject, service, published.request.clone(), Some(version.to_owned()))
                    .await?;
            }
        } else {
            // Pending contracts are announced here; main-branch ones by `contract_publish`.
            for schema in record.schemas.iter().filter(|s| s.role == Role::Consumes) {
                self.emit(Event {
                    kind: EventKind::ContractPublished,
                    subjects: vec![schema.subject.clone()],
                    data: serde_json::json!({
                        "subject": schema.subject, "consumer": service, "consumerVersion": version,
                        "branch": branch, "pending": true,
                    }),
                });
            }
        }
        tracing::info!(service, version, branch, "published {service} {version} from {branch}");
        self.service_version_view(service, version).await
    }

    async fn produced_schema(
        &self,
        service: &str,
        version: &str,
        subject: &Subject,
        published: &PublishedSchema,
    ) -> Result<ServiceSchema> {
        let schema_type = super::schema_type_of(published.request.schema_type.as_deref())?;
        let found = self.lookup(&subject.qualified(), published.request.clone(), false, false).await.map_err(|e| {
            match e.code() {
                ErrorCode::SubjectNotFound | ErrorCode::SchemaNotFound => RegistryError::new(
                    ErrorCode::SchemaNotFound,
                    format!(
                        "{service} {version} produces a schema that is not registered under {subject}: register it \
                         first (`stele publish` does)"
                    ),
                ),
                _ => e,
            }
        })?;
        Ok(ServiceSchema {
            role: Role::Produces,
            subject: subject.qualified(),
            schema_type,
            schema: found.schema,
            references: found.references,
            id: found.id,
            version: found.version,
        })
    }

    async fn consumed_schema(
        &self,
        service: &str,
        subject: &Subject,
        published: &PublishedSchema,
    ) -> Result<ServiceSchema> {
        let schema_type = super::schema_type_of(published.request.schema_type.as_deref())?;
        let text = published
            .request
            .schema
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RegistryError::invalid_schema("Empty schema"))?;
        self.check_schema_size(&text)?;
        let (resolved, references) = self.resolve_references(subject, &published.request.references, false).await?;
        let parsed = stele_compat::parse(schema_type, &text, &resolved, false).map_err(|e| {
            RegistryError::invalid_schema(format!("Invalid schema {service} reads {subject} with: {e}"))
        })?;
        Ok(ServiceSchema {
            role: Role::Consumes,
            subject: subject.qualified(),
            schema_type,
            schema: parsed.canonical,
            references,
            id: None,
            version: None,
        })
    }

    pub async fn service_version_view(&self, service: &str, version: &str) -> Result<ServiceVersionView> {
        let record = self.store.service_version_get(service, version).await?.ok_or_else(|| {
            RegistryError::new(ErrorCode::ServiceVersionNotFound, format!("{service} has no version '{version}'"))
        })?;
        let main_branch = self.main_branch_of(service).await?;
        let deployed_in: Vec<String> = self
            .store
            .deployments_list(None)
            .await?
            .into_iter()
            .filter(|d| d.service == service && d.version == version)
            .map(|d| d.environment)
            .collect();
        let pending = !record.branches.contains(&main_branch) && deployed_in.is_empty();
        Ok(ServiceVersionView { record, main_branch, pending, deployed_in })
    }

    pub async fn services_list(&self) -> Result<Vec<ServiceRecord>> {
        self.store.services_list().await
    }

    pub async fn service_view(&self, service: &str, limit: i64) -> Result<ServiceView> {
        let record = self.store.service_get(service).await?.ok_or_else(|| {
            RegistryError::new(ErrorCode::ServiceNotFound, format!("No service named '{service}' has published"))
        })?;
        Ok(ServiceView {
            versions: self.store.service_versions_list(service, limit).await?,
            deployments: self
                .store
                .deployments_list(None)
                .await?
                .into_iter()
                .filter(|d| d.service == service)
                .collect(),
            service: record,
        })
    }

    /// `PUT /stele/v1/services/{s}`: sets the main branch (creating the service).
    pub async fn service_put(&self, service: &str, main_branch: &str) -> Result<ServiceRecord> {
        name("service name", service)?;
        name("branch name", main_branch)?;
        self.store.service_put(service, main_branch).await
    }

    pub async fn environment_put(&self, environment: &str, production: bool) -> Result<(EnvironmentRecord, bool)> {
        environment_name(environment)?;
        let created = self.store.environment_put(environment, production).await?;
        let record = self.environment_record(environment).await?;
        Ok((record, created))
    }

    async fn environment_record(&self, environment: &str) -> Result<EnvironmentRecord> {
        self.store.environment_get(environment).await?.ok_or_else(|| environment_not_found(environment))
    }

    pub async fn environments_list(&self) -> Result<Vec<EnvironmentRecord>> {
        self.store.environments_list().await
    }

    pub async fn environment_view(&self, environment: &str) -> Result<EnvironmentView> {
        let record = self.environment_record(environment).await?;
        Ok(EnvironmentView { deployments: self.store.deployments_list(Some(environment)).await?, environment: record })
    }

    pub async fn environment_delete(&self, environment: &str) -> Result<EnvironmentView> {
        let view = self.environment_view(environment).await?;
        self.store.environment_delete(environment).await?;
        tracing::info!(environment, "deleted environment {environment}");
        Ok(view)
    }

    pub async fn deployments_list(&self, environment: &str) -> Result<Vec<DeploymentRecord>> {
        self.environment_record(environment).await?;
        self.store.deployments_list(Some(environment)).await
    }

    /// `record-deployment`: `service` runs `version` in `environment` now,
    /// replacing the version that ran there.
    #[tracing::instrument(name = "registry.deployment_record", skip_all, fields(environment, service, version))]
    pub async fn deployment_record(
        &self,
        environment: &str,
        service: &str,
        version: &str,
    ) -> Result<(DeploymentRecord, Option<String>)> {
        environment_name(environment)?;
        name("service name", service)?;
        name("service version", version)?;
        let record = DeploymentRecord {
            environment: environment.to_owned(),
            service: service.to_owned(),
            version: version.to_owned(),
            deployed_at: crate::store::now_millis(),
        };
        let replaced = match self.store.deployment_record(&record).await? {
            DeployOutcome::Recorded { replaced } => replaced,
            DeployOutcome::NoEnvironment => return Err(environment_not_found(environment)),
            DeployOutcome::NoServiceVersion => {
                return Err(RegistryError::new(
                    ErrorCode::ServiceVersionNotFound,
                    format!(
                        "{service} has no published version '{version}': publish it first (`stele publish --service-version {version}`)"
                    ),
                ));
            }
        };
        let subjects = self
            .store
            .service_version_get(service, version)
            .await?
            .map(|r| r.schemas.into_iter().map(|s| s.subject).collect::<Vec<_>>())
            .unwrap_or_default();
        self.emit(Event {
            kind: EventKind::DeploymentRecorded,
            subjects,
            data: serde_json::json!({
                "environment": environment, "service": service, "version": version, "replaced": replaced,
            }),
        });
        tracing::info!(environment, service, version, "recorded {service} {version} in {environment}");
        Ok((record, replaced))
    }

    /// `record-undeployment`: `service` no longer runs in `environment`
    /// (only if it runs `version`, when given).
    pub async fn deployment_remove(
        &self,
        environment: &str,
        service: &str,
        version: Option<&str>,
    ) -> Result<DeploymentRecord> {
        self.environment_record(environment).await?;
        let not_found = || {
            RegistryError::new(
                ErrorCode::DeploymentNotFound,
                match version {
                    Some(v) => format!("{service} {v} is not deployed in {environment}"),
                    None => format!("{service} is not deployed in {environment}"),
                },
            )
        };
        let current = self
            .store
            .deployments_list(Some(environment))
            .await?
            .into_iter()
            .find(|d| d.service == service)
            .ok_or_else(not_found)?;
        if version.is_some_and(|v| v != current.version) {
            return Err(not_found());
        }
        let removed = self.store.deployment_remove(environment, service).await?.ok_or_else(not_found)?;
        tracing::info!(
            environment,
            service,
            version = removed.version,
            "recorded the undeployment of {service} from {environment}"
        );
        Ok(removed)
    }

    /// `can-i-deploy`: may `service` at `version` run in `environment` beside what runs there now?
    #[tracing::instrument(name = "registry.can_i_deploy", skip_all, fields(service, version, environment))]
    pub async fn can_i_deploy(&self, service: &str, version: &str, environment: &str) -> Result<CanIDeploy> {
        self.environment_record(environment).await?;
        let mut answer = CanIDeploy {
            service: service.to_owned(),
            version: version.to_owned(),
            environment: environment.to_owned(),
            deployable: false,
            unknown: false,
            reason: String::new(),
            matrix: Vec::new(),
        };
        let Some(target) = self.store.service_version_get(service, version).await? else {
            answer.unknown = true;
            answer.reason = format!(
                "{service} {version} has not been published (yet): nothing is known of what it produces and consumes"
            );
            return Ok(answer);
        };
        let deployed = self.store.deployments_list(Some(environment)).await?;
        let mut parsed: HashMap<(String, String, Role, String), Arc<ParsedSchema>> = HashMap::new();
        let target_schemas: Vec<(ServiceSchema, Arc<ParsedSchema>)> = {
            let mut out = Vec::new();
            for schema in &target.schemas {
                out.push((schema.clone(), Arc::new(self.parse_service_schema(schema).await?)));
            }
            out
        };
        for deployment in deployed.iter().filter(|d| d.service != service) {
            let Some(counterpart) = self.store.service_version_get(&deployment.service, &deployment.version).await?
            else {
                continue;
            };
            for theirs in &counterpart.schemas {
                for (ours, our_parsed) in
                    target_schemas.iter().filter(|(s, _)| s.subject == theirs.subject && s.role != theirs.role)
                {
                    let key =
                        (counterpart.service.clone(), counterpart.version.clone(), theirs.role, theirs.subject.clone());
                    let their_parsed = if let Some(p) = parsed.get(&key) {
                        Arc::clone(p)
                    } else {
                        let p = Arc::new(self.parse_service_schema(theirs).await?);
                        parsed.insert(key, Arc::clone(&p));
                        p
                    };
                    let findings = match ours.role {
                        // They read what we write.
                        Role::Produces => ContractFinding::of_check(
                            &counterpart.service,
                            Some(&counterpart.version),
                            false,
                            &their_parsed,
                            our_parsed,
                        ),
                        // We read what they write.
                        Role::Consumes => {
                            ContractFinding::of_check(service, Some(version), false, our_parsed, &their_parsed)
                        }
                    };
                    answer.matrix.push(MatrixRow {
                        service: counterpart.service.clone(),
                        version: counterpart.version.clone(),
                        subject: theirs.subject.clone(),
                        role: theirs.role,
                        verdict: if findings.is_empty() { Verdict::Compatible } else { Verdict::Incompatible },
                        pending: false,
                        findings,
                    });
                }
            }
        }
        // Pending contracts on what we produce: reported, never blocking.
        let everywhere = self.deployed_versions().await?;
        for (ours, our_parsed) in target_schemas.iter().filter(|(s, _)| s.role == Role::Produces) {
            let consumers = self.store.service_schemas_on(&ours.subject, Role::Consumes).await?;
            for owned in latest_pending(consumers.iter().filter(|o| o.service != service), &everywhere) {
                let reader = self.parse_service_schema(&owned.schema).await?;
                let findings =
                    ContractFinding::of_check(&owned.service, Some(&owned.version), true, &reader, our_parsed);
                answer.matrix.push(MatrixRow {
                    service: owned.service.clone(),
                    version: owned.version.clone(),
                    subject: ours.subject.clone(),
                    role: Role::Consumes,
                    verdict: if findings.is_empty() { Verdict::Compatible } else { Verdict::Incompatible },
                    pending: true,
                    findings,
                });
            }
        }
        let blocking: Vec<&MatrixRow> =
            answer.matrix.iter().filter(|r| !r.pending && r.verdict == Verdict::Incompatible).collect();
        answer.deployable = blocking.is_empty();
        answer.reason = if blocking.is_empty() {
            let checked = answer.matrix.iter().filter(|r| !r.pending).count();
            format!("{service} {version} is compatible with all {checked} counterpart(s) deployed in {environment}")
        } else {
            let names: Vec<String> =
                blocking.iter().map(|r| format!("{} {} ({})", r.service, r.version, r.subject)).collect();
            format!("{service} {version} would break {} in {environment}", names.join(", "))
        };
        Ok(answer)
    }
}
