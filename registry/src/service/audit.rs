//! The audit log: every change and every refused credential or permission,
//! written to storage by a background task in batches (one transaction per
//! batch, so auditing does not double the fsyncs of a write-heavy load) and
//! emitted at once as a structured log event (target `stele::audit`).

use tokio::sync::mpsc;

use super::Registry;
use crate::error::Result;
use crate::store::audit::AuditRecord;

/// Records queued before the writer drops new ones (and says so in the log).
const QUEUE: usize = 65_536;
const BATCH: usize = 512;

pub struct AuditLog {
    sender: mpsc::Sender<AuditRecord>,
    receiver: parking_lot::Mutex<Option<mpsc::Receiver<AuditRecord>>>,
}

impl AuditLog {
    pub fn new() -> AuditLog {
        let (sender, receiver) = mpsc::channel(QUEUE);
        AuditLog { sender, receiver: parking_lot::Mutex::new(Some(receiver)) }
    }
}

impl Registry {
    /// Logs an audit event and queues it for storage; never blocks the caller.
    pub fn audit(&self, record: AuditRecord) {
        tracing::info!(
            target: "stele::audit",
            principal = %record.principal,
            action = %record.action,
            subject = record.subject.as_deref().unwrap_or(""),
            result = %record.result,
            status = record.status,
            request_id = record.request_id.as_deref().unwrap_or(""),
            "audit: {} {} {} -> {}",
            record.principal,
            record.action,
            record.subject.as_deref().unwrap_or("-"),
            record.result
        );
        if self.audit.sender.try_send(record).is_err() {
            tracing::error!(target: "stele::audit", "the audit queue is full: an audit record was not stored");
        }
    }

    /// Starts the task that stores queued audit records (once; later calls do nothing).
    pub fn start_audit(&self) {
        let Some(mut receiver) = self.audit.receiver.lock().take() else { return };
        let store = std::sync::Arc::clone(&self.store);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = store.audit_append(&batch).await {
                    tracing::warn!(target: "stele::audit", %error, "storing audit records failed; retrying once");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if let Err(error) = store.audit_append(&batch).await {
                        tracing::error!(target: "stele::audit", %error, records = batch.len(), "audit records were lost");
                    }
                }
                batch.clear();
            }
        });
    }

    /// `GET /stele/v1/audit`: newest first.
    pub async fn audit_list(&self, limit: i64, before: Option<i64>) -> Result<Vec<AuditRecord>> {
        self.store.audit_list(limit.clamp(1, 10_000), before).await
    }
}
