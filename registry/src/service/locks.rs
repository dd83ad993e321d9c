//! The order this process's own writes take, which only saves retries:
//! correctness rests on the store's transactions (see the module docs of
//! [`service`](super)).
//!
//! Writes to one subject (registrations, deletes) queue on that subject's lock,
//! so two registrations of the same subject do not both read the same history
//! and have one of them start over. Writes to different subjects run side by
//! side, which is what lets the store commit several in one transaction (group
//! commit on `SQLite`). Config and mode writes change what every registration
//! checks against, so they wait for the registrations in flight and hold the
//! others back while they run.

use tokio::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Subject locks are striped: a subject hashes to one of this many. Two
/// subjects that share a stripe only queue behind each other.
const STRIPES: usize = 256;

pub(super) struct WriteLocks {
    settings: RwLock<()>,
    subjects: Box<[Mutex<()>]>,
}

/// Held by a write to one subject.
pub(super) struct SubjectGuard<'a> {
    _settings: RwLockReadGuard<'a, ()>,
    _subject: MutexGuard<'a, ()>,
}

impl WriteLocks {
    pub(super) fn new() -> WriteLocks {
        WriteLocks { settings: RwLock::new(()), subjects: (0..STRIPES).map(|_| Mutex::new(())).collect() }
    }

    /// For a write to `qualified` (a qualified subject name).
    pub(super) async fn subject(&self, qualified: &str) -> SubjectGuard<'_> {
        let settings = self.settings.read().await;
        let stripe = (crate::hash::fnv1a64(qualified.as_bytes()) % STRIPES as u64) as usize;
        let subject = self.subjects[stripe].lock().await;
        SubjectGuard { _settings: settings, _subject: subject }
    }

    /// For a config or mode write: no subject write runs meanwhile.
    pub(super) async fn settings(&self) -> RwLockWriteGuard<'_, ()> {
        self.settings.write().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::WriteLocks;

    #[tokio::test]
    async fn different_subjects_write_side_by_side_and_settings_wait_for_them() {
        let locks = WriteLocks::new();
        let first = locks.subject("a").await;
        // Another subject is not held back (its stripe differs from a's).
        assert_ne!(crate::hash::fnv1a64(b"a") % 256, crate::hash::fnv1a64(b"b") % 256);
        let second = tokio::time::timeout(Duration::from_secs(1), locks.subject("b")).await;
        assert!(second.is_ok(), "a write to another subject waited");
        // The same subject waits; so does a settings write.
        assert!(tokio::time::timeout(Duration::from_millis(50), locks.subject("a")).await.is_err());
        assert!(tokio::time::timeout(Duration::from_millis(50), locks.settings()).await.is_err());
        drop((first, second));
        assert!(tokio::time::timeout(Duration::from_secs(1), locks.settings()).await.is_ok());
    }
}
