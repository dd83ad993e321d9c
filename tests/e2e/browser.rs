//! The web console in a real headless Chromium, driven over `WebDriver`
//! (`chromedriver`): the subjects page, a search, a subject, a diff with the
//! finding's rule beside the changed field, the playground with an
//! incompatible schema, and a read-only user who sees no write controls.
//! Screenshots are written to `target/screenshots/`.
//!
//! `.ci/run` installs Debian's `chromium` and `chromium-driver`; outside CI a
//! missing browser skips the test with a note, in CI it fails.
//!
//! The client speaks the handful of W3C `WebDriver` commands it needs over
//! loopback HTTP with the workspace's reqwest: the `WebDriver` crates bring a
//! TLS stack of their own (OpenSSL headers or a C build of aws-lc) for a
//! connection that never leaves the machine.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use stele_tests::{Server, workspace};

use crate::auth::{READER_PASSWORD, WRITER_PASSWORD, as_admin, config};
use crate::contracts::order;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    http: reqwest::blocking::Client,
    session: String,
    driver: Driver,
}

fn find(binary: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|d| PathBuf::from(d).join(binary))
        .find(|p| p.exists())
}

impl Browser {
    /// A headless Chromium session, or `None` (skip) when none is installed outside CI.
    fn start() -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            assert!(
                !stele_tests::postgres::required(),
                "chromium and chromedriver are required in CI (.ci/run installs them)"
            );
            eprintln!("skipped: chromium and chromedriver are not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_mins(1)).build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{}/status", driver.url)).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
            }
        }}});
        let created: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .expect("session")
            .json()
            .expect("JSON");
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Some(Browser { http, session, driver })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: &Value) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|answer| panic!("WebDriver {path}: {answer}"))
    }

    /// The command's value, or the driver's whole answer when it is an error.
    fn try_call(&self, method: reqwest::Method, path: &str, body: &Value) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.driver.url, self.session);
        let request = self.http.request(method, url);
        let request = if body.is_null() { request } else { request.json(body) };
        let answer: Value = request.send().expect("WebDriver").json().expect("JSON");
        match answer["value"].get("error") {
            None => Ok(answer["value"].clone()),
            Some(_) => Err(answer),
        }
    }

    fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", &json!({"url": url}));
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(reqwest::Method::POST, "/element", &json!({"using": "css selector", "value": css}));
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    /// Clicks the element. When the page it was found on is replaced before
    /// the click lands (a navigation still finishing: the driver's "stale
    /// element reference"), it is found again on the new page and clicked there.
    fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let id = self.element(css);
            match self.try_call(reqwest::Method::POST, &format!("/element/{id}/click"), &json!({})) {
                Ok(_) => return,
                Err(answer) if answer["value"]["error"] == "stale element reference" && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(answer) => panic!("WebDriver click on {css}: {answer}"),
            }
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), &json!({}));
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), &json!({"text": text}));
    }

    fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", &Value::Null).as_str().unwrap_or_default().to_owned()
    }

    /// The page once `ready` holds for its source: a click that submits a form
    /// returns before the next page has loaded.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let source = self.source();
            if ready(&source) {
                return source;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{source}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text_of(&self, css: &str) -> String {
        let id = self.element(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), &Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG of the window to `target/screenshots/<name>.png`.
    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", &Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("base64")).expect("PNG");
        let dir = std::env::var("CARGO_TARGET_DIR")
            .map_or_else(|_| workspace().join("target"), PathBuf::from)
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write screenshot");
        println!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.driver.url, self.session)).send();
    }
}

fn api(server: &Server, method: &str, path: &str, body: &Value) {
    let answer = as_admin(server, method, path, body);
    assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
}

#[test]
fn a_reader_walks_the_console_in_chromium() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), "").display().to_string();
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let server = Server::start_with(dir, &["--database", &database, "--config", &config]);
    api(&server, "PUT", "/config/orders-value", &json!({"compatibility": "NONE"}));
    for fields in [
        &[("id", "string"), ("amount", "long"), ("note", "string")][..],
        &[("id", "string"), ("note", "string"), ("total", "long")][..],
    ] {
        api(&server, "POST", "/subjects/orders-value/versions", &json!({"schema": order(fields)}));
    }
    api(
        &server,
        "PUT",
        "/stele/v1/subjects/orders-value/consumers/billing",
        &json!({"schema": order(&[("id", "string"), ("amount", "long")])}),
    );
    api(&server, "PUT", "/stele/v1/environments/prod", &json!({"production": true}));
    let produced = json!({"produces": [{"subject": "orders-value", "schema": order(&[("id", "string"), ("note", "string"), ("total", "long")])}]});
    api(&server, "PUT", "/stele/v1/services/orders/versions/2", &produced);
    api(&server, "POST", "/stele/v1/environments/prod/deployments", &json!({"service": "orders", "version": "2"}));
    let port = server.addr.port();
    let reader = format!("http://reader:{}@127.0.0.1:{port}", READER_PASSWORD.replace('!', "%21"));

    // The subjects page, then a search by name.
    browser.goto(&format!("{reader}/ui/subjects"));
    assert!(browser.source().contains("orders-value"), "the subjects page lists the subject");
    browser.screenshot("subjects");
    browser.type_into("input[name=q]", "orders");
    browser.click("form[role=search] button");
    browser.wait_for("the search", |page| page.contains("1 shown"));

    // A subject: its versions, consumer verdict, where it runs, and no write controls for a reader.
    browser.click("table a[href^='/ui/subjects/orders']");
    let subject = browser.wait_for("the subject page", |page| page.contains("<h2>Consumers</h2>"));
    assert!(subject.contains("billing") && subject.contains("prod (orders 2)"), "{subject}");
    assert!(!subject.contains("Soft-delete") && !subject.contains("Set the level"), "a reader sees no write controls");
    browser.screenshot("subject");

    // The diff of versions 1 and 2: the finding's rule id beside the changed field.
    browser.click("form[action$='/diff'] button");
    browser.wait_for("the diff", |page| page.contains("class=\"diff\""));
    let finding = browser.text_of("table.diff tr:has(.finding)");
    assert!(finding.contains("\"total\""), "the finding sits on the line of the field: {finding}");
    assert!(finding.contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "the rule id is beside it: {finding}");
    browser.screenshot("diff");

    // The playground: an incompatible schema pasted against the subject.
    browser.goto(&format!("{reader}/ui/playground"));
    browser.type_into("input[name=subject]", "orders-value");
    browser.type_into("textarea[name=schema]", &order(&[("id", "int")]));
    browser.click("form[action='/ui/playground'] button");
    let checked =
        browser.wait_for("the playground's answer", |page| page.contains("finding(s)") || page.contains("Compatible"));
    assert!(checked.contains("finding(s)") && checked.contains("TYPE_MISMATCH"), "{checked}");
    browser.screenshot("playground");

    browser.goto(&format!("{reader}/ui/environments"));
    assert!(browser.source().contains("runs <b>2</b>"));
    browser.screenshot("environments");

    // A writer sees the soft-delete buttons the reader did not.
    let writer = format!("http://writer:{}@127.0.0.1:{port}", WRITER_PASSWORD.replace('!', "%21"));
    browser.goto(&format!("{writer}/ui/subjects/orders-value"));
    assert!(browser.source().contains("Soft-delete"), "{}", browser.source());
}
