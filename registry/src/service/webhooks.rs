//! Webhooks (skeleton; filled by the webhooks work).

use super::Registry;

/// What happened, for webhook subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SchemaRegistered,
    ContractPublished,
    ContractBroken,
    DeploymentRecorded,
}

/// One event: its kind, the subjects it concerns (matched against each
/// webhook's subject pattern) and its JSON body.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub subjects: Vec<String>,
    pub data: serde_json::Value,
}

/// Takes events from writes to the delivery worker without waiting.
#[derive(Default)]
pub struct Dispatcher {}

impl Dispatcher {
    pub fn new() -> Dispatcher {
        Dispatcher {}
    }
}

impl Registry {
    /// Queues an event for delivery; never blocks and never fails the caller.
    pub fn emit(&self, _event: Event) {}
}
