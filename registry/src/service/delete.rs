//! Soft and permanent deletes of subjects and versions (Confluent's 40404-40407
//! state machine), refused while other schemas reference what would go.

use super::read::VersionSelector;
use super::{Registry, until_settled};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::{DeleteOutcome, VersionRecord};
use crate::subject::Subject;

impl Registry {
    pub(super) async fn ensure_writable(&self, subject: &Subject) -> Result<()> {
        if self.effective_mode(subject).await?.is_read_only() {
            return Err(RegistryError::not_permitted(format!(
                "Subject {} in context {} is in read-only mode",
                subject.name, subject.context
            )));
        }
        Ok(())
    }

    /// Reads how a delete ended: a reference (42206) is an error; a conflict
    /// (another writer changed the versions since they were read) answers
    /// `true`, and the operation starts over, so the answer is the one
    /// Confluent gives for the state it finds.
    pub(super) fn must_retry(outcome: &DeleteOutcome) -> Result<bool> {
        match outcome {
            DeleteOutcome::Deleted => Ok(false),
            DeleteOutcome::Conflict => Ok(true),
            DeleteOutcome::Referenced(target) => Err(RegistryError::reference_exists(&target.subject, target.version)),
        }
    }

    /// Forgets cached records of the schemas a permanent delete may have removed.
    pub(super) fn evict_deleted(&self, versions: &[VersionRecord]) {
        let mut by_context: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
        for version in versions {
            by_context.entry(&version.context).or_default().push(version.schema_id);
        }
        for (context, ids) in by_context {
            self.evict_schemas(context, &ids);
        }
    }

    /// `DELETE /subjects/{s}`: the versions deleted.
    #[tracing::instrument(name = "registry.subject_delete", skip_all, fields(subject = raw_subject, permanent))]
    pub async fn subject_delete(&self, raw_subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let _guard = self.write_locks.subject(&subject.qualified()).await;
        let deleted =
            until_settled(format!("deleting {subject}"), || self.subject_delete_once(raw_subject, &subject, permanent))
                .await?;
        self.invalidate_after_write();
        tracing::info!(subject.name = %subject, permanent, "deleted subject {subject}");
        Ok(deleted)
    }

    async fn subject_delete_once(
        &self,
        raw_subject: &str,
        subject: &Subject,
        permanent: bool,
    ) -> Result<Option<Vec<i32>>> {
        self.ensure_writable(subject).await?;
        let versions = self.store.versions_list(subject).await?;
        if versions.is_empty() {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        let live: Vec<&VersionRecord> = versions.iter().filter(|v| !v.deleted).collect();
        if permanent {
            if !live.is_empty() {
                // A referenced version is reported first, as Confluent does.
                for version in &live {
                    if !self.store.versions_referencing(&version.subject, version.version).await?.is_empty() {
                        return Err(RegistryError::reference_exists(&version.subject, version.version));
                    }
                }
                return Err(RegistryError::new(
                    ErrorCode::SubjectNotSoftDeleted,
                    format!("Subject '{raw_subject}' was not deleted first before being permanently deleted"),
                ));
            }
            let numbers: Vec<i32> = versions.iter().map(|v| v.version).collect();
            let outcome = self.store.versions_hard_delete(subject, &numbers, true).await?;
            self.evict_deleted(&versions);
            Ok((!Self::must_retry(&outcome)?).then_some(numbers))
        } else {
            if live.is_empty() {
                return Err(RegistryError::new(
                    ErrorCode::SubjectSoftDeleted,
                    format!("Subject '{raw_subject}' was soft deleted.Set permanent=true to delete permanently"),
                ));
            }
            let numbers: Vec<i32> = live.iter().map(|v| v.version).collect();
            let outcome = self.store.versions_soft_delete(subject, &numbers).await?;
            Ok((!Self::must_retry(&outcome)?).then_some(numbers))
        }
    }

    /// `DELETE /subjects/{s}/versions/{v}`: the version deleted.
    #[tracing::instrument(name = "registry.version_delete", skip_all, fields(subject = raw_subject, permanent))]
    pub async fn version_delete(&self, raw_subject: &str, selector: VersionSelector, permanent: bool) -> Result<i32> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let _guard = self.write_locks.subject(&subject.qualified()).await;
        let version = until_settled(format!("deleting a version of {subject}"), || {
            self.version_delete_once(raw_subject, &subject, selector, permanent)
        })
        .await?;
        self.invalidate_after_write();
        tracing::info!(subject.name = %subject, schema.version = version, permanent, "deleted version {version} of {subject}");
        Ok(version)
    }

    async fn version_delete_once(
        &self,
        raw_subject: &str,
        subject: &Subject,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<Option<i32>> {
        self.ensure_writable(subject).await?;
        let versions = self.store.versions_list(subject).await?;
        if versions.is_empty() {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        let found = match selector {
            VersionSelector::Latest => versions.iter().rev().find(|v| !v.deleted),
            VersionSelector::Number(n) => versions.iter().find(|v| v.version == n),
        };
        let label = match selector {
            VersionSelector::Latest => -1,
            VersionSelector::Number(n) => n,
        };
        let Some(version) = found.cloned() else {
            return Err(RegistryError::version_not_found(label));
        };
        if permanent {
            if !version.deleted {
                return Err(RegistryError::new(
                    ErrorCode::VersionNotSoftDeleted,
                    format!(
                        "Subject '{raw_subject}' Version {} was not deleted first before being permanently deleted",
                        version.version
                    ),
                ));
            }
            let last = versions.len() == 1;
            let outcome = self.store.versions_hard_delete(subject, &[version.version], last).await?;
            self.evict_deleted(std::slice::from_ref(&version));
            Ok((!Self::must_retry(&outcome)?).then_some(version.version))
        } else {
            if version.deleted {
                return Err(RegistryError::new(
                    ErrorCode::VersionSoftDeleted,
                    format!(
                        "Subject '{raw_subject}' Version {} was soft deleted.Set permanent=true to delete permanently",
                        version.version
                    ),
                ));
            }
            let outcome = self.store.versions_soft_delete(subject, &[version.version]).await?;
            Ok((!Self::must_retry(&outcome)?).then_some(version.version))
        }
    }
}
