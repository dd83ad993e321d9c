//! Webhook storage: subscriptions and their delivery log (skeleton; filled by the webhooks work).

use async_trait::async_trait;

/// Storage of webhooks and their deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {}

/// Implements [`WebhookStore`] for a backend, beside `sql_store!`.
macro_rules! webhook_store {
    ($store:ty) => {
        const _: () = {
            impl $crate::store::WebhookStore for $store {}
        };
    };
}

pub(super) use webhook_store;
