//! Webhooks: `schema.registered`, `contract.published`, `contract.broken` and
//! `deployment.recorded`, sent (HTTP POST) to subscribers whose subject pattern matches.
//!
//! A write calls [`Registry::emit`], which only puts the event on a bounded
//! queue: a slow or failing receiver never slows a registration. A router task
//! turns each event into one stored delivery per matching webhook; a
//! deliverer task claims due deliveries (with a lease, so replicas on one
//! PostgreSQL never send the same attempt twice, and the deliveries of a
//! replica that died are picked up once its lease expires), sends them a few
//! at a time, and records each attempt: a 2xx is delivered, anything else is
//! retried with exponential backoff until the attempts run out.
//!
//! Each POST carries `X-Stele-Event`, `X-Stele-Delivery` and
//! `X-Stele-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub's
//! convention), keyed with the webhook's secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore, mpsc};
use wildmatch::WildMatch;

use super::Registry;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::settings::WebhookOptions;
use crate::store::Store;
use crate::store::webhooks::{AttemptOutcome, DeliveryRecord, WebhookRecord};

/// What happened, for webhook subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SchemaRegistered,
    ContractPublished,
    ContractBroken,
    DeploymentRecorded,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::SchemaRegistered,
        EventKind::ContractPublished,
        EventKind::ContractBroken,
        EventKind::DeploymentRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SchemaRegistered => "schema.registered",
            EventKind::ContractPublished => "contract.published",
            EventKind::ContractBroken => "contract.broken",
            EventKind::DeploymentRecorded => "deployment.recorded",
        }
    }
}

/// One event: its kind, the subjects it concerns (matched against each
/// webhook's subject pattern) and its JSON body.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub subjects: Vec<String>,
    pub data: serde_json::Value,
}

/// Events queued before new ones are dropped (and logged).
const QUEUE: usize = 10_000;
/// Deliveries in flight at once, so one slow receiver does not hold up the others.
const IN_FLIGHT: usize = 8;
/// How often due deliveries are looked for when nothing nudges the deliverer.
const POLL: Duration = Duration::from_secs(1);
/// Events routed together (one read of the webhooks, one insert of their deliveries).
const ROUTE_BATCH: usize = 256;

/// Takes events from writes to the delivery tasks without waiting.
///
/// The channel is bounded so that a stalled router (a database that hangs)
/// costs memory up to `QUEUE` events and then drops events, never blocking
/// a write. The receiver waits in a mutex until [`Registry::start_webhooks`]
/// takes it: once, for the one router task.
pub struct Dispatcher {
    sender: mpsc::Sender<Event>,
    receiver: parking_lot::Mutex<Option<mpsc::Receiver<Event>>>,
    /// Events dropped on a full queue since start, for the log.
    dropped: AtomicU64,
}

impl Dispatcher {
    pub fn new() -> Dispatcher {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Dispatcher { sender, receiver: parking_lot::Mutex::new(Some(receiver)), dropped: AtomicU64::new(0) }
    }
}

/// The body of `POST /stele/v1/webhooks`.
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    pub url: String,
    pub events: Vec<String>,
    pub subject_pattern: Option<String>,
    pub secret: Option<String>,
}

/// A webhook as created: the secret is answered once, when it was generated.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Whether a webhook wants an event.
fn wants(webhook: &WebhookRecord, event: &Event) -> bool {
    webhook.events.iter().any(|e| e == event.kind.as_str())
        && webhook.subject_pattern.as_deref().is_none_or(|pattern| {
            let glob = WildMatch::new(pattern);
            event.subjects.iter().any(|s| glob.matches(s) || glob.matches(&crate::subject::Subject::parse(s).name))
        })
}

/// `sha256=<hex>` of the body keyed with the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    format!("sha256={}", crate::auth::authn::hex(&mac.finalize().into_bytes()))
}

/// When the attempt after `attempts` failed ones is due.
fn backoff(options: &WebhookOptions, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    options.initial_backoff.saturating_mul(1 << doublings).min(options.max_backoff)
}

fn validate(request: &WebhookRequest) -> Result<()> {
    let invalid = |message: String| RegistryError::new(ErrorCode::Unprocessable, message);
    let url = reqwest::Url::parse(&request.url).map_err(|e| invalid(format!("'{}' is not a URL: {e}", request.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("'{}' must be an http:// or https:// URL with a host", request.url)));
    }
    if request.events.is_empty() {
        return Err(invalid("'events' must name at least one event".into()));
    }
    for event in &request.events {
        if !EventKind::ALL.iter().any(|k| k.as_str() == event) {
            return Err(invalid(format!(
                "unknown event '{event}': expected schema.registered, contract.published, contract.broken or \
                 deployment.recorded"
            )));
        }
    }
    if request.subject_pattern.as_deref().is_some_and(|p| p.is_empty() || p.len() > 255) {
        return Err(invalid("'subjectPattern' must be 1 to 255 characters".into()));
    }
    if request.secret.as_deref().is_some_and(|s| s.len() < 8) {
        return Err(invalid("'secret' must be at least 8 characters".into()));
    }
    Ok(())
}

fn not_found(id: &str) -> RegistryError {
    RegistryError::new(ErrorCode::WebhookNotFound, format!("No webhook '{id}'"))
}

impl Registry {
    /// Queues an event for delivery; never blocks and never fails the caller.
    pub fn emit(&self, event: Event) {
        if let Err(error) = self.webhooks.sender.try_send(event) {
            // Logged on the first drop and every thousandth after, not once per event:
            // a queue that is full stays full for a while.
            let dropped = self.webhooks.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(1000) {
                tracing::warn!(
                    event = error.into_inner().kind.as_str(),
                    events.dropped = dropped,
                    "the webhook queue is full: events are being dropped ({dropped} so far)"
                );
            }
        }
    }

    /// Starts the tasks that route events to webhooks and deliver them (once;
    /// later calls do nothing). Must run inside the async runtime.
    pub fn start_webhooks(&self, options: WebhookOptions) {
        // Redirects are not followed: a 3xx is a failed attempt, as with GitHub's
        // webhooks, rather than a signed body re-sent (or turned into a GET) elsewhere.
        let http = match reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stele/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "webhooks are off: no HTTP client");
                return;
            }
        };
        let Some(mut events) = self.webhooks.receiver.lock().take() else { return };
        let store = Arc::clone(&self.store);
        let nudge = Arc::new(Notify::new());
        let routed = Arc::clone(&nudge);
        let router_store = Arc::clone(&store);
        tokio::spawn(async move {
            // Events come in batches under load (a burst of registrations): the
            // webhooks are read once per batch, and the deliverer is only woken
            // when a delivery was queued.
            let mut batch = Vec::with_capacity(ROUTE_BATCH);
            while events.recv_many(&mut batch, ROUTE_BATCH).await > 0 {
                match route(router_store.as_ref(), &batch).await {
                    Ok(true) => routed.notify_one(),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, events = batch.len(), "queueing webhook deliveries failed"),
                }
                batch.clear();
            }
        });
        tokio::spawn(deliver_forever(store, http, options, nudge));
    }

    pub async fn webhook_create(&self, request: WebhookRequest) -> Result<CreatedWebhook> {
        validate(&request)?;
        let generated = request.secret.is_none().then(crate::auth::authn::new_token);
        let webhook = WebhookRecord {
            id: uuid::Uuid::new_v4().to_string(),
            url: request.url,
            events: request.events,
            subject_pattern: request.subject_pattern,
            secret: request.secret.or_else(|| generated.clone()).unwrap_or_default(),
            created_at: crate::store::now_millis(),
        };
        self.store.webhook_put(&webhook).await?;
        tracing::info!(webhook.id = %webhook.id, "created webhook {} for {:?}", webhook.id, webhook.events);
        Ok(CreatedWebhook { webhook, secret: generated })
    }

    pub async fn webhooks_list(&self) -> Result<Vec<WebhookRecord>> {
        self.store.webhooks_list().await
    }

    pub async fn webhook_get(&self, id: &str) -> Result<WebhookRecord> {
        self.store.webhook_get(id).await?.ok_or_else(|| not_found(id))
    }

    pub async fn webhook_delete(&self, id: &str) -> Result<WebhookRecord> {
        let webhook = self.webhook_get(id).await?;
        self.store.webhook_delete(id).await?;
        Ok(webhook)
    }

    pub async fn webhook_deliveries(&self, id: &str, limit: i64) -> Result<Vec<DeliveryRecord>> {
        self.webhook_get(id).await?;
        self.store.deliveries_list(id, limit.clamp(1, 1000)).await
    }
}

/// One stored delivery per webhook that wants each event; whether any was queued.
async fn route(store: &dyn Store, events: &[Event]) -> Result<bool> {
    let webhooks = store.webhooks_list().await?;
    if webhooks.is_empty() {
        return Ok(false);
    }
    let now = crate::store::now_millis();
    let deliveries: Vec<DeliveryRecord> = events
        .iter()
        .flat_map(|event| webhooks.iter().filter(|w| wants(w, event)).map(move |webhook| (event, webhook)))
        .map(|(event, webhook)| {
            let id = uuid::Uuid::new_v4().to_string();
            let payload = serde_json::json!({
                "event": event.kind.as_str(),
                "deliveryId": id,
                "webhookId": webhook.id,
                "occurredAt": now,
                "subjects": event.subjects,
                "data": event.data,
            });
            DeliveryRecord {
                id,
                webhook_id: webhook.id.clone(),
                event: event.kind.as_str().to_owned(),
                payload: payload.to_string(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                finished_at: None,
            }
        })
        .collect();
    if deliveries.is_empty() {
        return Ok(false);
    }
    store.deliveries_insert(&deliveries).await?;
    Ok(true)
}

async fn deliver_forever(store: Arc<dyn Store>, http: reqwest::Client, options: WebhookOptions, nudge: Arc<Notify>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let lease = options.timeout + Duration::from_secs(30);
    loop {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
        let now = crate::store::now_millis();
        let claimed = store.delivery_claim(now, now + lease.as_millis() as i64).await;
        match claimed {
            Ok(Some((delivery, webhook))) => {
                let (store, http, options) = (Arc::clone(&store), http.clone(), options.clone());
                tokio::spawn(async move {
                    attempt(store.as_ref(), &http, &options, delivery, &webhook).await;
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                let _ = tokio::time::timeout(POLL, nudge.notified()).await;
            }
            Err(error) => {
                drop(permit);
                tracing::warn!(%error, "claiming webhook deliveries failed");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Sends one delivery once and records how it went.
async fn attempt(
    store: &dyn Store,
    http: &reqwest::Client,
    options: &WebhookOptions,
    delivery: DeliveryRecord,
    webhook: &WebhookRecord,
) {
    let sent = http
        .post(&webhook.url)
        .header("Content-Type", "application/json")
        .header("X-Stele-Event", &delivery.event)
        .header("X-Stele-Delivery", &delivery.id)
        .header("X-Stele-Signature-256", signature(&webhook.secret, delivery.payload.as_bytes()))
        .body(delivery.payload.clone())
        .send()
        .await;
    let attempts = delivery.attempts + 1;
    let now = crate::store::now_millis();
    let (status, error) = match sent {
        Ok(response) if response.status().is_success() => (Some(i32::from(response.status().as_u16())), None),
        Ok(response) => {
            (Some(i32::from(response.status().as_u16())), Some(format!("the receiver answered {}", response.status())))
        }
        Err(error) => (None, Some(failure(error))),
    };
    let outcome = match &error {
        None => AttemptOutcome {
            status: "delivered",
            attempts,
            next_attempt_at: now,
            last_status: status,
            last_error: None,
            finished_at: Some(now),
        },
        Some(_) if attempts >= i32::try_from(options.max_attempts).unwrap_or(i32::MAX) => AttemptOutcome {
            status: "failed",
            attempts,
            next_attempt_at: now,
            last_status: status,
            last_error: error.clone(),
            finished_at: Some(now),
        },
        Some(_) => AttemptOutcome {
            status: "pending",
            attempts,
            next_attempt_at: now + backoff(options, attempts).as_millis() as i64,
            last_status: status,
            last_error: error.clone(),
            finished_at: None,
        },
    };
    if let Some(error) = &error {
        tracing::info!(webhook.id = %webhook.id, delivery.id = %delivery.id, attempts, error, "webhook delivery attempt failed");
    }
    if let Err(store_error) = store.delivery_record(&delivery.id, &outcome).await {
        tracing::warn!(%store_error, delivery.id = %delivery.id, "recording a webhook attempt failed; its lease will expire");
    }
}

/// Why a request got no answer, for the delivery log and the log: the cause
/// chain without the URL (which may carry a token in its path or query) and,
/// of course, without the secret, which no error holds.
fn failure(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(events: &[&str], pattern: Option<&str>) -> WebhookRecord {
        WebhookRecord {
            id: "w".into(),
            url: "http://127.0.0.1/".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            subject_pattern: pattern.map(str::to_owned),
            secret: "secret-1".into(),
            created_at: 0,
        }
    }

    #[test]
    fn webhooks_match_events_and_subject_globs() {
        let event = Event {
            kind: EventKind::SchemaRegistered,
            subjects: vec![":.staging:orders-value".into()],
            data: serde_json::Value::Null,
        };
        assert!(wants(&hook(&["schema.registered"], None), &event));
        assert!(wants(&hook(&["schema.registered"], Some("orders-*")), &event), "matches the name without context");
        assert!(wants(&hook(&["schema.registered"], Some(":.staging:*")), &event));
        assert!(!wants(&hook(&["schema.registered"], Some("payments-*")), &event));
        assert!(!wants(&hook(&["contract.broken"], None), &event));
    }

    #[test]
    fn signatures_are_github_style_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let options = WebhookOptions {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..WebhookOptions::default()
        };
        let waits: Vec<u64> = (1..=5).map(|a| backoff(&options, a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
    }

    #[test]
    fn a_webhook_debug_print_hides_its_secret() {
        let printed = format!("{:?}", hook(&["schema.registered"], None));
        assert!(printed.contains("<redacted>") && !printed.contains("secret-1"), "{printed}");
    }

    #[tokio::test]
    async fn a_failed_attempt_is_described_without_the_url() {
        // A port nothing listens on: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let error = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/hooks/token-in-the-path?key=token-in-the-query"))
            .send()
            .await
            .expect_err("nothing listens");
        let text = failure(error);
        assert!(!text.contains("token-in-the"), "{text}");
        assert!(text.to_lowercase().contains("connect"), "names the cause: {text}");
    }

    #[test]
    fn requests_are_validated() {
        let ok = WebhookRequest {
            url: "https://ci.example/hook".into(),
            events: vec!["schema.registered".into()],
            ..Default::default()
        };
        assert!(validate(&ok).is_ok());
        for bad in [
            WebhookRequest { url: "ftp://x/".into(), ..ok.clone() },
            WebhookRequest { url: "not a url".into(), ..ok.clone() },
            WebhookRequest { events: vec![], ..ok.clone() },
            WebhookRequest { events: vec!["schema.deleted".into()], ..ok.clone() },
            WebhookRequest { secret: Some("short".into()), ..ok.clone() },
        ] {
            assert_eq!(validate(&bad).map_err(|e| e.code()), Err(ErrorCode::Unprocessable), "{bad:?}");
        }
    }
}
