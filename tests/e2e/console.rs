//! The web console end to end: a real `stele serve` with authentication, its
//! pages fetched as a browser would (Basic credentials), for a reader and an
//! admin: subjects with filters and counts, a subject with its versions,
//! consumers and environments, a version, a diff with findings beside their
//! lines, the playground, the environment matrix and the search. Pages work
//! without JavaScript and fetch nothing from elsewhere.

use base64::Engine as _;
use serde_json::json;
use stele_tests::{Server, http};

use crate::auth::{CI_TOKEN, READER_PASSWORD, WRITER_PASSWORD, as_admin as api, config};
use crate::contracts::order;

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn get(server: &Server, path: &str, authorization: &str) -> http::Response {
    http::send(server.addr, "GET", path, &[("Authorization", authorization)], None).expect("request")
}

#[test]
fn the_console_shows_subjects_diffs_consumers_and_environments_to_whoever_may_read_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), "").display().to_string();
    let database = format!("sqlite://{}", dir.path().join("stele.db").display());
    let server = Server::start_with(dir, &["--database", &database, "--config", &config]);
    let admin = format!("Bearer {CI_TOKEN}");
    let reader = basic("reader", READER_PASSWORD);
    let writer = basic("writer", WRITER_PASSWORD);

    // Two versions under NONE (the second drops `amount`), a contract, a protobuf subject, an environment.
    assert_eq!(api(&server, "PUT", "/config/orders-value", &json!({"compatibility": "NONE"})).status, 200);
    for schema in [order(&[("id", "string"), ("amount", "long")]), order(&[("id", "string"), ("note", "string")])] {
        let registered = api(&server, "POST", "/subjects/orders-value/versions", &json!({"schema": schema}));
        assert_eq!(registered.status, 200, "{}", registered.body);
    }
    let proto = "syntax = \"proto3\";\npackage shop;\nmessage Payment {\n  string id = 1;\n  int64 amount = 2;\n}\n";
    let registered =
        api(&server, "POST", "/subjects/payments-value/versions", &json!({"schema": proto, "schemaType": "PROTOBUF"}));
    assert_eq!(registered.status, 200, "{}", registered.body);
    let contract = json!({"schema": order(&[("id", "string"), ("amount", "long")]), "consumerVersion": "7"});
    assert_eq!(api(&server, "PUT", "/stele/v1/subjects/orders-value/consumers/billing", &contract).status, 200);
    assert_eq!(api(&server, "PUT", "/stele/v1/environments/prod", &json!({"production": true})).status, 200);
    let published = api(
        &server,
        "PUT",
        "/stele/v1/services/orders/versions/2",
        &json!({"produces": [{"subject": "orders-value", "schema": order(&[("id", "string"), ("note", "string")])}]}),
    );
    assert_eq!(published.status, 200, "{}", published.body);
    let deployed =
        api(&server, "POST", "/stele/v1/environments/prod/deployments", &json!({"service": "orders", "version": "2"}));
    assert_eq!(deployed.status, 200, "{}", deployed.body);

    // Without credentials the browser is asked for them.
    let anonymous = http::send(server.addr, "GET", "/ui/subjects", &[], None).expect("request");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")));

    let pages = [
        "/ui/subjects",
        "/ui/subjects?q=orders&format=AVRO",
        "/ui/subjects/orders-value",
        "/ui/subjects/orders-value/versions/1",
        "/ui/subjects/orders-value/diff?from=1&to=2",
        "/ui/playground",
        "/ui/environments",
        "/ui/search?q=amount",
    ];
    for path in pages {
        let page = get(&server, path, &reader);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{path}");
        assert!(!page.body.contains("<script"), "{path} works without JavaScript");
        for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(!page.body.contains(external), "{path} fetches nothing from elsewhere ({external})");
        }
    }

    let subjects = get(&server, "/ui/subjects", &reader).body;
    assert!(subjects.contains("orders-value") && subjects.contains("payments-value"), "{subjects}");
    assert!(subjects.contains("AVRO: 1") && subjects.contains("PROTOBUF: 1"), "counts per format: {subjects}");
    let filtered = get(&server, "/ui/subjects?format=PROTOBUF", &reader).body;
    assert!(filtered.contains("payments-value") && !filtered.contains(">orders-value<"), "{filtered}");

    let subject = get(&server, "/ui/subjects/orders-value", &reader).body;
    assert!(subject.contains("NONE") && subject.contains("READWRITE"), "level and mode");
    assert!(subject.contains("billing") && subject.contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "consumer verdict");
    assert!(subject.contains("prod (orders 2)"), "where version 2 runs: {subject}");
    assert!(!subject.contains("Soft-delete") && !subject.contains("Set the level"), "a reader sees no write controls");
    let as_writer = get(&server, "/ui/subjects/orders-value", &writer).body;
    assert!(
        as_writer.contains("Soft-delete") && !as_writer.contains("Set the level"),
        "a writer may delete, not configure"
    );
    let as_admin = get(&server, "/ui/subjects/orders-value", &admin).body;
    assert!(as_admin.contains("Soft-delete") && as_admin.contains("Set the level"), "an admin sees both");

    let version = get(&server, "/ui/subjects/orders-value/versions/1", &reader).body;
    assert!(version.contains("<span class=\"k\">&quot;fields&quot;</span>"), "keys are highlighted: {version}");

    // The diff puts the finding beside the line of the added `note` (no default), with its rule and explanation.
    let diff = get(&server, "/ui/subjects/orders-value/diff?from=1&to=2", &reader).body;
    let row = diff.split("<tr").find(|row| row.contains("class=\"finding\"")).expect("a row with a finding");
    assert!(row.contains("&quot;note&quot;"), "the finding sits on its line: {row}");
    assert!(row.contains("READER_FIELD_MISSING_DEFAULT_VALUE"), "{row}");
    assert!(diff.contains("explain "), "the explain text is there");
    assert!(diff.contains("class=\"del\"") && diff.contains("class=\"ins\""), "changed lines are marked");

    // The playground checks a pasted schema against a subject.
    let form = "schemaType=AVRO&level=BACKWARD&subject=orders-value&old=&schema=".to_owned()
        + &percent_encoding::utf8_percent_encode(&order(&[("id", "int")]), percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let checked = http::send(
        server.addr,
        "POST",
        "/ui/playground",
        &[("Authorization", &reader), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )
    .expect("request");
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.contains("finding(s)") && checked.body.contains("TYPE_MISMATCH"), "{}", checked.body);

    let environments = get(&server, "/ui/environments", &reader).body;
    assert!(environments.contains("prod") && environments.contains("runs <b>2</b>"), "{environments}");
    let search = get(&server, "/ui/search?q=amount", &reader).body;
    assert!(search.contains("payments-value") && search.contains("field amount"), "{search}");
    assert!(!search.contains("orders-value v2"), "the latest orders version has no amount: {search}");

    // Forms: refused cross-origin, and refused for a reader; an admin's same-origin form works.
    let host = server.addr.to_string();
    let origin = format!("http://{host}");
    let post = |authorization: &str, origin: &str| {
        http::send(
            server.addr,
            "POST",
            "/ui/subjects/orders-value/config",
            &[
                ("Authorization", authorization),
                ("Origin", origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(b"compatibility=FULL"),
        )
        .expect("request")
    };
    assert_eq!(post(&reader, &origin).status, 403);
    assert_eq!(post(&admin, "http://evil.example").status, 403);
    let saved = post(&admin, &origin);
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(api(&server, "GET", "/config/orders-value", &json!(null)).json()["compatibilityLevel"], "FULL");
}
