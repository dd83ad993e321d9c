//! Webhooks end to end: real HTTP receivers on loopback. One verifies the
//! HMAC signature of every delivery, one fails twice before it accepts (and is
//! retried with backoff), one takes ten seconds to answer (and a registration
//! does not wait for it), one subscribes to another subject pattern (and gets
//! nothing). On both backends; and two replicas on one PostgreSQL send each
//! delivery once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use stele_tests::{Server, eventually, http};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A receiver: `/ok` answers 200, `/flaky` 500 twice then 200, `/slow` 200 after ten seconds.
fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("request line");
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("header");
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let length = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                let seen = {
                    let mut log = log.lock().expect("log");
                    log.push(Received { path: path.clone(), headers, body });
                    log.iter().filter(|r| r.path == path).count()
                };
                let status = match path.as_str() {
                    "/flaky" if seen <= 2 => "500 Internal Server Error",
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(10));
                        "200 OK"
                    }
                    _ => "200 OK",
                };
                let mut stream = stream;
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    (addr, received)
}

fn subscribe(server: &Server, url: &str, pattern: &str, secret: &str) -> String {
    let body = json!({"url": url, "events": ["schema.registered", "contract.broken"], "subjectPattern": pattern, "secret": secret});
    let created = http::json(server.addr, "POST", "/stele/v1/webhooks", Some(&body));
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.json().get("secret").is_none(), "a given secret is never answered back");
    created.json()["id"].as_str().expect("id").to_owned()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    bytes.iter().fold(String::from("sha256="), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A server on `database` (a fresh `SQLite` one when `None`) that retries after 200 ms, 400 ms...
fn start(database: Option<&str>) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let database =
        database.map_or_else(|| format!("sqlite://{}", dir.path().join("stele.db").display()), str::to_owned);
    Server::start_with_env(
        dir,
        &["--database", &database],
        &[("STELE_WEBHOOK_BACKOFF_MS", "200"), ("STELE_WEBHOOK_MAX_ATTEMPTS", "5")],
    )
}

#[test]
fn deliveries_are_signed_retried_and_never_slow_a_registration_on_sqlite() {
    deliveries_are_signed_retried_and_never_slow_a_registration(&start(None));
}

#[test]
fn deliveries_are_signed_retried_and_never_slow_a_registration_on_postgres() {
    let Some(database) = stele_tests::postgres::fresh_database() else { return };
    deliveries_are_signed_retried_and_never_slow_a_registration(&start(Some(&database)));
}

fn deliveries_are_signed_retried_and_never_slow_a_registration(server: &Server) {
    let (addr, received) = receiver();
    let ok = subscribe(server, &format!("http://{addr}/ok"), "orders-*", "secret-ok-1");
    let flaky = subscribe(server, &format!("http://{addr}/flaky"), "orders-*", "secret-flaky");
    subscribe(server, &format!("http://{addr}/slow"), "*", "secret-slow");
    let other = subscribe(server, &format!("http://{addr}/other"), "payments-*", "secret-other");

    let schema = json!({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}).to_string();
    let started = Instant::now();
    let registered =
        http::json(server.addr, "POST", "/subjects/orders-value/versions", Some(&json!({"schema": schema})));
    let took = started.elapsed();
    assert_eq!(registered.status, 200, "{}", registered.body);
    assert!(took < Duration::from_secs(2), "the registration waited for a receiver: {took:?}");

    // The signed delivery arrives with the event, the subject and the new version.
    eventually("the /ok delivery", || received.lock().expect("log").iter().any(|r| r.path == "/ok"));
    let delivery = received.lock().expect("log").iter().find(|r| r.path == "/ok").cloned().expect("delivery");
    assert_eq!(delivery.header("x-stele-event"), Some("schema.registered"));
    assert_eq!(delivery.header("x-stele-signature-256"), Some(sign("secret-ok-1", &delivery.body).as_str()));
    assert_ne!(delivery.header("x-stele-signature-256"), Some(sign("another-secret", &delivery.body).as_str()));
    let body: Value = serde_json::from_slice(&delivery.body).expect("JSON body");
    assert_eq!(body["event"], "schema.registered");
    assert_eq!(body["subjects"], json!(["orders-value"]));
    assert_eq!((&body["data"]["version"], &body["data"]["id"]), (&json!(1), &json!(1)));
    assert_eq!(body["deliveryId"].as_str(), delivery.header("x-stele-delivery"));

    // The failing receiver is retried until it accepts; the log says so.
    eventually("three attempts at /flaky", || {
        received.lock().expect("log").iter().filter(|r| r.path == "/flaky").count() >= 3
    });
    let mut log = Value::Null;
    eventually("the delivery log", || {
        log = http::json(server.addr, "GET", &format!("/stele/v1/webhooks/{flaky}/deliveries"), None).json();
        log[0]["status"] == "delivered"
    });
    assert_eq!(log[0]["attempts"], 3, "{log}");
    assert_eq!(log[0]["lastStatus"], 200, "{log}");
    let first = http::json(server.addr, "GET", &format!("/stele/v1/webhooks/{ok}/deliveries"), None).json();
    assert_eq!((&first[0]["status"], &first[0]["attempts"]), (&json!("delivered"), &json!(1)), "{first}");

    // The webhook for payments-* got nothing; and the slow one never held anything up.
    assert!(!received.lock().expect("log").iter().any(|r| r.path == "/other"));
    assert_eq!(
        http::json(server.addr, "GET", &format!("/stele/v1/webhooks/{other}/deliveries"), None).json(),
        json!([])
    );
    let second = http::json(
        server.addr,
        "POST",
        "/subjects/orders-value/versions",
        Some(&json!({"schema": json!({"type": "record", "name": "Order", "fields": [
            {"name": "id", "type": "string"}, {"name": "n", "type": ["null", "int"], "default": null}]}).to_string()})),
    );
    assert_eq!(second.status, 200, "{}", second.body);
    eventually("the second /ok delivery", || {
        received.lock().expect("log").iter().filter(|r| r.path == "/ok").count() >= 2
    });

    // Bad subscriptions are refused in Confluent's envelope; secrets never listed.
    let bad = http::json(
        server.addr,
        "POST",
        "/stele/v1/webhooks",
        Some(&json!({"url": "ftp://x", "events": ["schema.registered"]})),
    );
    assert_eq!((bad.status, bad.json()["error_code"].clone()), (422, json!(422)), "{}", bad.body);
    let listed = http::json(server.addr, "GET", "/stele/v1/webhooks", None);
    assert!(!listed.body.contains("secret-"), "{}", listed.body);
    let deleted = http::json(server.addr, "DELETE", &format!("/stele/v1/webhooks/{other}"), None);
    assert_eq!(deleted.status, 200);
    let gone = http::json(server.addr, "GET", &format!("/stele/v1/webhooks/{other}"), None);
    assert_eq!((gone.status, gone.json()["error_code"].clone()), (404, json!(40475)));
}

#[test]
fn two_replicas_on_one_postgres_send_each_delivery_once() {
    let Some(database) = stele_tests::postgres::fresh_database() else { return };
    let (addr, received) = receiver();
    let (a, b) = (start(Some(&database)), start(Some(&database)));
    let hook = subscribe(&a, &format!("http://{addr}/ok"), "orders-*", "secret-replicas");

    // Events enter through both replicas; both deliverers claim from the one table.
    let schema = json!({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}).to_string();
    let count = 20;
    for i in 0..count {
        let server = if i % 2 == 0 { &a } else { &b };
        let path = format!("/subjects/orders-{i}-value/versions");
        let registered = http::json(server.addr, "POST", &path, Some(&json!({"schema": schema})));
        assert_eq!(registered.status, 200, "{}", registered.body);
    }
    let mut log = Value::Null;
    eventually("every delivery delivered", || {
        log = http::json(b.addr, "GET", &format!("/stele/v1/webhooks/{hook}/deliveries"), None).json();
        log.as_array().is_some_and(|l| l.len() == count && l.iter().all(|d| d["status"] == "delivered"))
    });
    assert!(log.as_array().expect("a list").iter().all(|d| d["attempts"] == 1), "{log}");

    // A second send would have been a second request with the same delivery id.
    std::thread::sleep(Duration::from_millis(1500));
    let received = received.lock().expect("log");
    let mut ids: Vec<&str> = received.iter().filter_map(|r| r.header("x-stele-delivery")).collect();
    assert_eq!(ids.len(), count, "requests received");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "distinct deliveries");
    for request in received.iter() {
        assert_eq!(request.header("x-stele-signature-256"), Some(sign("secret-replicas", &request.body).as_str()));
    }
}
