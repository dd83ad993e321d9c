//! Whole answers to the requests producers repeat on every start (an
//! idempotent re-registration, a lookup), kept serialized and found by the
//! SHA-256 of the raw request (route, path subject, query and body bytes), so
//! a repeat costs a digest and a map read: no JSON parsing, no schema
//! parsing, no serialization.
//!
//! The same invalidation as the re-registration cache applies: every delete,
//! config and mode write (and every write another replica reports) clears
//! the answers; a new version evicts the answers about its subject (and every
//! answer found under another subject than the one asked, through an alias or
//! a context fallback); on shared storage a cached version is confirmed live
//! with one primary-key read. Fills follow the ticket rule of [`super::cache`].

use std::sync::Arc;

use bytes::Bytes;

use super::Registry;
use super::cache::Ticket;
use crate::error::Result;
use crate::subject::Subject;

/// The digest of one raw request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey([u8; 32]);

impl AnswerKey {
    /// `route` names the endpoint; every part is length-prefixed.
    pub fn of(route: &str, subject: &str, query: Option<&str>, body: &[u8]) -> AnswerKey {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        for part in [route.as_bytes(), subject.as_bytes(), query.unwrap_or_default().as_bytes(), body] {
            digest.update((part.len() as u64).to_le_bytes());
            digest.update(part);
        }
        AnswerKey(digest.finalize().into())
    }
}

/// A serialized answer and what it depends on.
#[derive(Debug)]
pub struct Answer {
    pub body: Bytes,
    /// The subject asked for (qualified as written, before aliases).
    pub requested: String,
    /// The subject version the answer is about (qualified, as stored).
    pub subject: String,
    pub version: i32,
    /// The schema id the version held.
    pub id: i64,
    /// Whether the answer may be about a soft-deleted version (`deleted=true`).
    pub include_deleted: bool,
    /// The schema type label, for the registration metric.
    pub schema_type: &'static str,
}

impl Answer {
    pub fn new(
        body: Bytes,
        requested: &str,
        subject: &str,
        (version, id): (i32, i64),
        include_deleted: bool,
        schema_type: &'static str,
    ) -> Answer {
        Answer {
            body,
            requested: Subject::parse(requested).qualified(),
            subject: subject.to_owned(),
            version,
            id,
            include_deleted,
            schema_type,
        }
    }
}

impl Registry {
    /// Taken before a request that may fill an answer is served.
    pub fn answer_ticket(&self) -> Ticket {
        self.answers.ticket()
    }

    /// The answer kept for `key`, still true.
    pub async fn cached_answer(&self, key: &AnswerKey) -> Result<Option<Arc<Answer>>> {
        let Some(answer) = self.answers.get(key) else { return Ok(None) };
        if self.shared_storage
            && !answer.include_deleted
            && !self.store.version_holds(&answer.subject, answer.version, answer.id).await?
        {
            self.answers.clear();
            return Ok(None);
        }
        Ok(Some(answer))
    }

    /// Keeps an answer, unless something changed since `ticket`.
    pub fn remember_answer(&self, ticket: Ticket, key: AnswerKey, answer: Answer) {
        self.answers.fill(ticket, key, Arc::new(answer));
    }

    /// A new version of `qualified`: the answers that may change go.
    pub(super) fn evict_answers(&self, qualified: &str) {
        self.answers.evict(|_, answer| {
            answer.requested != qualified && answer.subject != qualified && answer.subject == answer.requested
        });
    }
}
