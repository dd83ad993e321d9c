//! Soft and permanent deletes of subjects and versions (Confluent's 40404-40407
//! state machine), refused while other schemas reference what would go.

use super::Registry;
use super::read::VersionSelector;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::store::VersionRecord;
use crate::subject::Subject;

impl Registry {
    async fn ensure_writable(&self, subject: &Subject) -> Result<()> {
        if self.effective_mode(subject).await?.is_read_only() {
            return Err(RegistryError::not_permitted(format!(
                "Subject {} in context {} is in read-only mode",
                subject.name, subject.context
            )));
        }
        Ok(())
    }

    /// Refuses when a schema other than the subject's own references `version`.
    /// A soft delete counts live referrers only; a permanent one counts all.
    async fn ensure_unreferenced(&self, version: &VersionRecord, permanent: bool) -> Result<()> {
        let referrers = self.store.versions_referencing(&version.subject, version.version).await?;
        if referrers.iter().any(|r| permanent || !r.deleted) {
            return Err(RegistryError::new(
                ErrorCode::ReferenceExists,
                format!(
                    "One or more references exist to the schema {{subject={},version={}}}.",
                    version.subject, version.version
                ),
            ));
        }
        Ok(())
    }

    /// Evicts cached records of ids no version uses any more.
    async fn evict_unused(&self, versions: &[VersionRecord]) -> Result<()> {
        for version in versions {
            if self.store.versions_by_schema(&version.context, version.schema_id).await?.is_empty() {
                let key = (version.context.clone(), version.schema_id);
                self.records.write().remove(&key);
                self.parsed.write().remove(&key);
                if let Some(ids) = self.id_bodies.write().get_mut(&version.context) {
                    ids.remove(&version.schema_id);
                }
            }
        }
        Ok(())
    }

    /// `DELETE /subjects/{s}`: the versions deleted.
    pub async fn subject_delete(&self, raw_subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let _guard = self.write_lock.lock().await;
        self.ensure_writable(&subject).await?;
        let versions = self.store.versions_list(&subject).await?;
        if versions.is_empty() {
            return Err(RegistryError::subject_not_found(raw_subject));
        }
        let live: Vec<&VersionRecord> = versions.iter().filter(|v| !v.deleted).collect();
        let result = if permanent {
            if !live.is_empty() {
                return Err(RegistryError::new(
                    ErrorCode::SubjectNotSoftDeleted,
                    format!("Subject '{raw_subject}' was not deleted first before being permanently deleted"),
                ));
            }
            for version in &versions {
                self.ensure_unreferenced(version, true).await?;
            }
            let numbers: Vec<i32> = versions.iter().map(|v| v.version).collect();
            self.store.versions_hard_delete(&subject, &numbers, true).await?;
            self.evict_unused(&versions).await?;
            numbers
        } else {
            if live.is_empty() {
                return Err(RegistryError::new(
                    ErrorCode::SubjectSoftDeleted,
                    format!("Subject '{raw_subject}' was soft deleted.Set permanent=true to delete permanently"),
                ));
            }
            for version in &live {
                self.ensure_unreferenced(version, false).await?;
            }
            let numbers: Vec<i32> = live.iter().map(|v| v.version).collect();
            self.store.versions_soft_delete(&subject, &numbers).await?;
            numbers
        };
        self.invalidate_after_write();
        tracing::info!(subject.name = %subject, permanent, "deleted subject {subject}");
        Ok(result)
    }

    /// `DELETE /subjects/{s}/versions/{v}`: the version deleted.
    pub async fn version_delete(&self, raw_subject: &str, selector: VersionSelector, permanent: bool) -> Result<i32> {
        let raw_subject = &self.resolve_alias(raw_subject).await?;
        let subject = Subject::parse(raw_subject);
        let _guard = self.write_lock.lock().await;
        self.ensure_writable(&subject).await?;
        let versions = self.store.versions_list(&subject).await?;
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
            self.ensure_unreferenced(&version, true).await?;
            let last = versions.len() == 1;
            self.store.versions_hard_delete(&subject, &[version.version], last).await?;
            self.evict_unused(std::slice::from_ref(&version)).await?;
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
            self.ensure_unreferenced(&version, false).await?;
            self.store.versions_soft_delete(&subject, &[version.version]).await?;
        }
        self.invalidate_after_write();
        tracing::info!(subject.name = %subject, schema.version = version.version, permanent, "deleted version {} of {subject}", version.version);
        Ok(version.version)
    }
}
