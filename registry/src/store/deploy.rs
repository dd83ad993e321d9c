//! Deployment gating's storage: services, their versions (what each produces
//! and consumes, from which branches), environments and what runs in them.
//!
//! A service version's schemas are immutable snapshots, written once by
//! [`DeployStore::service_version_publish`]: publishing the same version again
//! with the same schemas only adds a branch, with other schemas it is refused.
//! Deployment records are the only thing that changes: one version of a
//! service per environment, replaced by the next record.

use async_trait::async_trait;
use serde::Serialize;
use stele_compat::SchemaType;

use super::Reference;
use crate::error::Result;

/// The main branch a service gets when it is first published.
pub const DEFAULT_MAIN_BRANCH: &str = "main";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    pub name: String,
    /// Contracts published from this branch (or deployed) block; others are pending.
    pub main_branch: String,
    pub created_at: i64,
}

/// Whether a service version writes or reads a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Produces,
    Consumes,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Produces => "produces",
            Role::Consumes => "consumes",
        }
    }

    fn parse(raw: &str) -> Option<Role> {
        match raw {
            "produces" => Some(Role::Produces),
            "consumes" => Some(Role::Consumes),
            _ => None,
        }
    }
}

/// One schema of a service version: a produced subject version, or the
/// reader schema of a consumed subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSchema {
    pub role: Role,
    pub subject: String,
    #[serde(serialize_with = "super::schema_type_name")]
    pub schema_type: SchemaType,
    pub schema: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Produced schemas: the registered id and subject version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
}

/// A published service version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceVersionRecord {
    pub service: String,
    pub version: String,
    pub branches: Vec<String>,
    pub schemas: Vec<ServiceSchema>,
    pub created_at: i64,
}

/// A service version's schema, with whose it is: what registration and
/// can-i-deploy read per subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSchema {
    pub service: String,
    pub version: String,
    pub main_branch: String,
    pub branches: Vec<String>,
    pub created_at: i64,
    pub schema: ServiceSchema,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentRecord {
    pub name: String,
    pub production: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    pub environment: String,
    pub service: String,
    pub version: String,
    pub deployed_at: i64,
}

/// How publishing a service version ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Created,
    /// Published before with the same schemas; the branch is recorded.
    Unchanged,
    /// Published before with other schemas: nothing written.
    Conflict,
}

/// How recording a deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Recorded; the version it replaced, if another ran there.
    Recorded {
        replaced: Option<String>,
    },
    NoEnvironment,
    NoServiceVersion,
}

#[async_trait]
pub trait DeployStore: Send + Sync + 'static {
    /// Writes a service version (creating the service on first use) in one
    /// transaction; see [`PublishOutcome`]. `record.branches` holds the one
    /// branch it is published from.
    async fn service_version_publish(&self, record: &ServiceVersionRecord) -> Result<PublishOutcome>;
    async fn service_get(&self, name: &str) -> Result<Option<ServiceRecord>>;
    /// Creates the service or changes its main branch.
    async fn service_put(&self, name: &str, main_branch: &str) -> Result<ServiceRecord>;
    async fn services_list(&self) -> Result<Vec<ServiceRecord>>;
    async fn service_version_get(&self, service: &str, version: &str) -> Result<Option<ServiceVersionRecord>>;
    /// A service's versions, newest first, without their schemas.
    async fn service_versions_list(&self, service: &str, limit: i64) -> Result<Vec<ServiceVersionRecord>>;
    /// Every service version's schema on `subject` in `role`.
    async fn service_schemas_on(&self, subject: &str, role: Role) -> Result<Vec<OwnedSchema>>;

    /// Creates or updates an environment; whether it was created.
    async fn environment_put(&self, name: &str, production: bool) -> Result<bool>;
    async fn environment_get(&self, name: &str) -> Result<Option<EnvironmentRecord>>;
    async fn environments_list(&self) -> Result<Vec<EnvironmentRecord>>;
    /// Deletes an environment and its deployment records; whether there was one.
    async fn environment_delete(&self, name: &str) -> Result<bool>;

    async fn deployment_record(&self, deployment: &DeploymentRecord) -> Result<DeployOutcome>;
    /// Removes what runs of `service` in `environment`; what was removed.
    async fn deployment_remove(&self, environment: &str, service: &str) -> Result<Option<DeploymentRecord>>;
    /// Deployments in one environment, or everywhere, by environment then service.
    async fn deployments_list(&self, environment: Option<&str>) -> Result<Vec<DeploymentRecord>>;
}

#[derive(sqlx::FromRow)]
pub(super) struct ServiceSchemaRow {
    pub role: String,
    pub subject: String,
    pub schema_type: String,
    pub schema_text: String,
    pub references_json: String,
    pub schema_id: Option<i64>,
    pub subject_version: Option<i32>,
}

impl TryFrom<ServiceSchemaRow> for ServiceSchema {
    type Error = crate::error::RegistryError;

    fn try_from(row: ServiceSchemaRow) -> Result<Self> {
        let corrupt =
            |what: &str| crate::error::RegistryError::Internal(format!("a stored service schema has a corrupt {what}"));
        Ok(ServiceSchema {
            role: Role::parse(&row.role).ok_or_else(|| corrupt("role"))?,
            subject: row.subject,
            schema_type: row.schema_type.parse().map_err(|_| corrupt("type"))?,
            schema: row.schema_text,
            references: serde_json::from_str(&row.references_json).map_err(|_| corrupt("reference list"))?,
            id: row.schema_id,
            version: row.subject_version,
        })
    }
}

pub(super) const SERVICE_SCHEMA_COLUMNS: &str =
    "role, subject, schema_type, schema_text, references_json, schema_id, subject_version";

/// Implements [`DeployStore`] for a backend, beside `sql_store!` (whose
/// `acquire` and `begin` it uses).
macro_rules! deploy_store {
    ($store:ty) => {
        const _: () = {
            use std::collections::BTreeMap;

            use sqlx::AssertSqlSafe;

            use $crate::error::Result;
            use $crate::store::deploy::{
                DeployOutcome, DeploymentRecord, EnvironmentRecord, OwnedSchema, PublishOutcome, Role,
                SERVICE_SCHEMA_COLUMNS, ServiceRecord, ServiceSchema, ServiceSchemaRow, ServiceVersionRecord,
                DEFAULT_MAIN_BRANCH,
            };
            use $crate::store::sql::to_json;

            async fn schemas_of(connection: &mut Connection, service: &str, version: &str) -> Result<Vec<ServiceSchema>> {
                let rows: Vec<ServiceSchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {SERVICE_SCHEMA_COLUMNS} FROM service_schemas WHERE service = $1 AND version = $2 \
                     ORDER BY role, subject"
                )))
                .bind(service)
                .bind(version)
                .fetch_all(connection)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn branches_of(connection: &mut Connection, service: &str, version: &str) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT branch FROM service_version_branches WHERE service = $1 AND version = $2 ORDER BY created_at, branch",
                )
                .bind(service)
                .bind(version)
                .fetch_all(connection)
                .await?)
            }

            fn sorted(schemas: &[ServiceSchema]) -> Vec<&ServiceSchema> {
                let mut sorted: Vec<&ServiceSchema> = schemas.iter().collect();
                sorted.sort_by(|a, b| (a.role, &a.subject).cmp(&(b.role, &b.subject)));
                sorted
            }

            #[async_trait::async_trait]
            impl $crate::store::deploy::DeployStore for $store {
                #[tracing::instrument(name = "store.service_version_publish", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_version_publish(&self, record: &ServiceVersionRecord) -> Result<PublishOutcome> {
                    let mut tx = self.begin().await?;
                    sqlx::query(
                        "INSERT INTO services (name, main_branch, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&record.service)
                    .bind(DEFAULT_MAIN_BRANCH)
                    .bind(record.created_at)
                    .execute(&mut *tx)
                    .await?;
                    // A concurrent publish of the same version waits here for the first to commit.
                    let inserted = sqlx::query(
                        "INSERT INTO service_versions (service, version, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&record.service)
                    .bind(&record.version)
                    .bind(record.created_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let outcome = if inserted {
                        for schema in &record.schemas {
                            sqlx::query(
                                "INSERT INTO service_schemas (service, version, role, subject, schema_type, schema_text, \
                                 references_json, schema_id, subject_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                            )
                            .bind(&record.service)
                            .bind(&record.version)
                            .bind(schema.role.as_str())
                            .bind(&schema.subject)
                            .bind(schema.schema_type.as_str())
                            .bind(&schema.schema)
                            .bind(to_json(&schema.references)?)
                            .bind(schema.id)
                            .bind(schema.version)
                            .execute(&mut *tx)
                            .await?;
                        }
                        PublishOutcome::Created
                    } else {
                        let stored = schemas_of(&mut *tx, &record.service, &record.version).await?;
                        if sorted(&stored) != sorted(&record.schemas) {
                            return Ok(PublishOutcome::Conflict);
                        }
                        PublishOutcome::Unchanged
                    };
                    for branch in &record.branches {
                        sqlx::query(
                            "INSERT INTO service_version_branches (service, version, branch, created_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        )
                        .bind(&record.service)
                        .bind(&record.version)
                        .bind(branch)
                        .bind(record.created_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(outcome)
                }

                #[tracing::instrument(name = "store.service_get", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_get(&self, name: &str) -> Result<Option<ServiceRecord>> {
                    let row: Option<(String, String, i64)> =
                        sqlx::query_as("SELECT name, main_branch, created_at FROM services WHERE name = $1")
                            .bind(name)
                            .fetch_optional(&mut *self.acquire().await?)
                            .await?;
                    Ok(row.map(|(name, main_branch, created_at)| ServiceRecord { name, main_branch, created_at }))
                }

                #[tracing::instrument(name = "store.service_put", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_put(&self, name: &str, main_branch: &str) -> Result<ServiceRecord> {
                    let mut tx = self.begin().await?;
                    let (name, main_branch, created_at): (String, String, i64) = sqlx::query_as(
                        "INSERT INTO services (name, main_branch, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET main_branch = EXCLUDED.main_branch \
                         RETURNING name, main_branch, created_at",
                    )
                    .bind(name)
                    .bind(main_branch)
                    .bind($crate::store::now_millis())
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(ServiceRecord { name, main_branch, created_at })
                }

                #[tracing::instrument(name = "store.services_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn services_list(&self) -> Result<Vec<ServiceRecord>> {
                    let rows: Vec<(String, String, i64)> =
                        sqlx::query_as("SELECT name, main_branch, created_at FROM services ORDER BY name")
                            .fetch_all(&mut *self.acquire().await?)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(name, main_branch, created_at)| ServiceRecord { name, main_branch, created_at })
                        .collect())
                }

                #[tracing::instrument(name = "store.service_version_get", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_version_get(&self, service: &str, version: &str) -> Result<Option<ServiceVersionRecord>> {
                    let mut connection = self.acquire().await?;
                    let created_at: Option<i64> =
                        sqlx::query_scalar("SELECT created_at FROM service_versions WHERE service = $1 AND version = $2")
                            .bind(service)
                            .bind(version)
                            .fetch_optional(&mut *connection)
                            .await?;
                    let Some(created_at) = created_at else { return Ok(None) };
                    Ok(Some(ServiceVersionRecord {
                        service: service.to_owned(),
                        version: version.to_owned(),
                        branches: branches_of(&mut connection, service, version).await?,
                        schemas: schemas_of(&mut connection, service, version).await?,
                        created_at,
                    }))
                }

                #[tracing::instrument(name = "store.service_versions_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_versions_list(&self, service: &str, limit: i64) -> Result<Vec<ServiceVersionRecord>> {
                    let mut connection = self.acquire().await?;
                    let rows: Vec<(String, i64)> = sqlx::query_as(
                        "SELECT version, created_at FROM service_versions WHERE service = $1 \
                         ORDER BY created_at DESC, version DESC LIMIT $2",
                    )
                    .bind(service)
                    .bind(limit)
                    .fetch_all(&mut *connection)
                    .await?;
                    let mut versions = Vec::with_capacity(rows.len());
                    for (version, created_at) in rows {
                        versions.push(ServiceVersionRecord {
                            service: service.to_owned(),
                            branches: branches_of(&mut connection, service, &version).await?,
                            version,
                            schemas: Vec::new(),
                            created_at,
                        });
                    }
                    Ok(versions)
                }

                #[tracing::instrument(name = "store.service_schemas_on", skip_all, fields(db.system = DB_SYSTEM))]
                async fn service_schemas_on(&self, subject: &str, role: Role) -> Result<Vec<OwnedSchema>> {
                    #[derive(sqlx::FromRow)]
                    struct Owned {
                        service: String,
                        version: String,
                        main_branch: String,
                        created_at: i64,
                        #[sqlx(flatten)]
                        schema: ServiceSchemaRow,
                    }
                    let mut connection = self.acquire().await?;
                    let rows: Vec<Owned> = sqlx::query_as(
                        "SELECT ss.service, ss.version, s.main_branch, v.created_at, ss.role, ss.subject, ss.schema_type, \
                         ss.schema_text, ss.references_json, ss.schema_id, ss.subject_version \
                         FROM service_schemas ss \
                         JOIN services s ON s.name = ss.service \
                         JOIN service_versions v ON v.service = ss.service AND v.version = ss.version \
                         WHERE ss.subject = $1 AND ss.role = $2 ORDER BY ss.service, v.created_at, ss.version",
                    )
                    .bind(subject)
                    .bind(role.as_str())
                    .fetch_all(&mut *connection)
                    .await?;
                    let branch_rows: Vec<(String, String, String)> = sqlx::query_as(
                        "SELECT b.service, b.version, b.branch FROM service_version_branches b \
                         JOIN service_schemas ss ON ss.service = b.service AND ss.version = b.version \
                         WHERE ss.subject = $1 AND ss.role = $2 ORDER BY b.created_at, b.branch",
                    )
                    .bind(subject)
                    .bind(role.as_str())
                    .fetch_all(&mut *connection)
                    .await?;
                    let mut branches: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
                    for (service, version, branch) in branch_rows {
                        branches.entry((service, version)).or_default().push(branch);
                    }
                    rows.into_iter()
                        .map(|row| {
                            let key = (row.service, row.version);
                            Ok(OwnedSchema {
                                branches: branches.get(&key).cloned().unwrap_or_default(),
                                service: key.0,
                                version: key.1,
                                main_branch: row.main_branch,
                                created_at: row.created_at,
                                schema: row.schema.try_into()?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(name = "store.environment_put", skip_all, fields(db.system = DB_SYSTEM))]
                async fn environment_put(&self, name: &str, production: bool) -> Result<bool> {
                    let mut tx = self.begin().await?;
                    let existed: Option<i64> = sqlx::query_scalar("SELECT created_at FROM environments WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO environments (name, production, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET production = EXCLUDED.production",
                    )
                    .bind(name)
                    .bind(production)
                    .bind($crate::store::now_millis())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(existed.is_none())
                }

                #[tracing::instrument(name = "store.environment_get", skip_all, fields(db.system = DB_SYSTEM))]
                async fn environment_get(&self, name: &str) -> Result<Option<EnvironmentRecord>> {
                    let row: Option<(String, bool, i64)> =
                        sqlx::query_as("SELECT name, production, created_at FROM environments WHERE name = $1")
                            .bind(name)
                            .fetch_optional(&mut *self.acquire().await?)
                            .await?;
                    Ok(row.map(|(name, production, created_at)| EnvironmentRecord { name, production, created_at }))
                }

                #[tracing::instrument(name = "store.environments_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn environments_list(&self) -> Result<Vec<EnvironmentRecord>> {
                    let rows: Vec<(String, bool, i64)> =
                        sqlx::query_as("SELECT name, production, created_at FROM environments ORDER BY name")
                            .fetch_all(&mut *self.acquire().await?)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(name, production, created_at)| EnvironmentRecord { name, production, created_at })
                        .collect())
                }

                #[tracing::instrument(name = "store.environment_delete", skip_all, fields(db.system = DB_SYSTEM))]
                async fn environment_delete(&self, name: &str) -> Result<bool> {
                    let mut tx = self.begin().await?;
                    sqlx::query("DELETE FROM deployments WHERE environment = $1").bind(name).execute(&mut *tx).await?;
                    let done =
                        sqlx::query("DELETE FROM environments WHERE name = $1").bind(name).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(name = "store.deployment_record", skip_all, fields(db.system = DB_SYSTEM))]
                async fn deployment_record(&self, deployment: &DeploymentRecord) -> Result<DeployOutcome> {
                    let mut tx = self.begin().await?;
                    let environment: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT name FROM environments WHERE name = $1{FOR_UPDATE}"
                    )))
                    .bind(&deployment.environment)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if environment.is_none() {
                        return Ok(DeployOutcome::NoEnvironment);
                    }
                    let version: Option<i64> = sqlx::query_scalar(
                        "SELECT created_at FROM service_versions WHERE service = $1 AND version = $2",
                    )
                    .bind(&deployment.service)
                    .bind(&deployment.version)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if version.is_none() {
                        return Ok(DeployOutcome::NoServiceVersion);
                    }
                    let replaced: Option<String> = sqlx::query_scalar(
                        "SELECT version FROM deployments WHERE environment = $1 AND service = $2",
                    )
                    .bind(&deployment.environment)
                    .bind(&deployment.service)
                    .fetch_optional(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO deployments (environment, service, version, deployed_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (environment, service) DO UPDATE SET version = EXCLUDED.version, \
                         deployed_at = EXCLUDED.deployed_at",
                    )
                    .bind(&deployment.environment)
                    .bind(&deployment.service)
                    .bind(&deployment.version)
                    .bind(deployment.deployed_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(DeployOutcome::Recorded { replaced: replaced.filter(|v| *v != deployment.version) })
                }

                #[tracing::instrument(name = "store.deployment_remove", skip_all, fields(db.system = DB_SYSTEM))]
                async fn deployment_remove(&self, environment: &str, service: &str) -> Result<Option<DeploymentRecord>> {
                    let mut tx = self.begin().await?;
                    let removed: Option<(String, String, String, i64)> = sqlx::query_as(
                        "DELETE FROM deployments WHERE environment = $1 AND service = $2 \
                         RETURNING environment, service, version, deployed_at",
                    )
                    .bind(environment)
                    .bind(service)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(removed.map(|(environment, service, version, deployed_at)| DeploymentRecord {
                        environment,
                        service,
                        version,
                        deployed_at,
                    }))
                }

                #[tracing::instrument(name = "store.deployments_list", skip_all, fields(db.system = DB_SYSTEM))]
                async fn deployments_list(&self, environment: Option<&str>) -> Result<Vec<DeploymentRecord>> {
                    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                        "SELECT environment, service, version, deployed_at FROM deployments \
                         WHERE $1 IS NULL OR environment = $1 ORDER BY environment, service",
                    )
                    .bind(environment)
                    .fetch_all(&mut *self.acquire().await?)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(environment, service, version, deployed_at)| DeploymentRecord {
                            environment,
                            service,
                            version,
                            deployed_at,
                        })
                        .collect())
                }
            }
        };
    };
}

pub(super) use deploy_store;
