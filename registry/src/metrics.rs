//! Prometheus metrics: every name and label the registry exports, written
//! here once, over the `metrics` facade with `metrics-exporter-prometheus` as
//! the recorder.
//!
//! Label values are bounded: methods, route templates (never raw paths),
//! status classes, outcomes, schema types, rule ids and cache names. Subject
//! names never become labels.
//!
//! Counters and histograms are recorded where things happen. Gauges that
//! describe state (cache sizes, pool connections, row counts) are read when
//! `/metrics` is scraped, so they cost nothing between scrapes.

#![expect(clippy::cast_precision_loss, reason = "Prometheus samples are f64; no count here nears 2^52")]

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets for every `_seconds` histogram: from 50 µs (a read served from
/// memory) to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same
/// handle). Must run before anything records, so that handles taken early
/// (the caches', the hot path's) are live.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .map_or_else(|_| PrometheusBuilder::new().build_recorder(), PrometheusBuilder::build_recorder);
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        zeroes();
        gauge!("stele_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => env!("STELE_COMMIT")).set(1.0);
        handle
    })
}

/// Folds the samples histograms recorded since the last fold into their
/// buckets. The exporter keeps every sample (8 bytes each) until a scrape or
/// this runs, so a registry nobody scrapes would grow with every request:
/// the server calls it every [`UPKEEP_EVERY`].
pub fn upkeep() {
    install().run_upkeep();
}

/// How often the server runs [`upkeep`]: at 100,000 requests a second, the
/// samples waiting between two runs take under a megabyte.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(1);

fn describe() {
    describe_counter!(
        "stele_http_requests_total",
        "HTTP requests answered, by method, route template and status class."
    );
    describe_histogram!(
        "stele_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and route template."
    );
    describe_counter!(
        "stele_registrations_total",
        "Schema registrations by outcome (new_version, existing, incompatible, invalid, consumer_contract, \
         not_permitted, error) and schema type."
    );
    describe_counter!(
        "stele_compatibility_findings_total",
        "Incompatibilities reported by compatibility checks, by rule id and schema type."
    );
    describe_counter!("stele_cache_hits_total", "Lookups answered from an in-memory cache.");
    describe_counter!("stele_cache_misses_total", "Lookups an in-memory cache could not answer.");
    describe_gauge!("stele_cache_entries", "Entries held by an in-memory cache.");
    describe_gauge!("stele_cache_bytes", metrics::Unit::Bytes, "Approximate bytes held by an in-memory cache.");
    describe_gauge!("stele_db_connections", "Database pool connections, by state (in_use, idle).");
    describe_histogram!(
        "stele_db_acquire_duration_seconds",
        metrics::Unit::Seconds,
        "Time spent waiting for a database connection from the pool."
    );
    describe_counter!("stele_db_errors_total", "Database statements that failed, by kind.");
    describe_counter!(
        "stele_db_write_batches_total",
        "Group commits of new versions: transactions, each with one flush to disk."
    );
    describe_counter!(
        "stele_db_batched_writes_total",
        "New versions written through group commits; divided by the batches, the mean batch size."
    );
    describe_histogram!(
        "stele_cache_invalidation_lag_seconds",
        metrics::Unit::Seconds,
        "Time from a write's NOTIFY on one replica to its cache invalidation on this one (PostgreSQL)."
    );
    describe_gauge!("stele_ready", "1 while storage answers and every migration is applied (as GET /readyz), else 0.");
    describe_gauge!("stele_subjects", "Subjects with at least one live version.");
    describe_gauge!("stele_versions", "Subject versions stored, soft-deleted ones included.");
    describe_gauge!("stele_schemas", "Distinct schemas (ids) stored.");
    describe_gauge!("stele_build_info", "Always 1; the labels say which build is running.");
}

/// Series with few label values start at zero, so that `rate()` and alerts
/// see them before the first event.
fn zeroes() {
    for outcome in [
        RegistrationOutcome::NewVersion,
        RegistrationOutcome::Existing,
        RegistrationOutcome::Incompatible,
        RegistrationOutcome::Invalid,
        RegistrationOutcome::ConsumerContract,
        RegistrationOutcome::NotPermitted,
        RegistrationOutcome::Error,
    ] {
        for schema_type in ["AVRO", "PROTOBUF", "JSON"] {
            counter!("stele_registrations_total", "outcome" => outcome.as_str(), "schema_type" => schema_type)
                .absolute(0);
        }
    }
    for kind in DB_ERROR_KINDS {
        counter!("stele_db_errors_total", "kind" => kind).absolute(0);
    }
    let _ = histogram!("stele_cache_invalidation_lag_seconds");
    let _ = histogram!("stele_db_acquire_duration_seconds");
    counter!("stele_db_write_batches_total").absolute(0);
    counter!("stele_db_batched_writes_total").absolute(0);
}

/// The `kind` label of `stele_db_errors_total`.
pub const DB_ERROR_KINDS: [&str; 4] = ["pool", "connection", "database", "other"];

/// `2xx`, `4xx`, `5xx`...
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// One answered request.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    counter!("stele_http_requests_total", "method" => method.to_owned(), "route" => route.to_owned(), "status_class" => status_class(status)).increment(1);
    histogram!("stele_http_request_duration_seconds", "method" => method.to_owned(), "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// The hot path's request metrics, registered once (it answers in microseconds).
pub struct HotPathMetrics {
    requests: Counter,
    duration: Histogram,
}

/// The routes answered ahead of the middleware stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotRoute {
    SchemaById,
    Lookup,
    Register,
}

impl HotRoute {
    /// The route template, as the other routes' metrics label it.
    pub fn template(self) -> &'static str {
        match self {
            HotRoute::SchemaById => "/schemas/ids/{id}",
            HotRoute::Lookup => "/subjects/{subject}",
            HotRoute::Register => "/subjects/{subject}/versions",
        }
    }

    fn method(self) -> &'static str {
        if self == HotRoute::SchemaById { "GET" } else { "POST" }
    }
}

pub fn hot_path(route: HotRoute) -> &'static HotPathMetrics {
    const ROUTES: [HotRoute; 3] = [HotRoute::SchemaById, HotRoute::Lookup, HotRoute::Register];
    static HOT: OnceLock<[HotPathMetrics; 3]> = OnceLock::new();
    let metrics = HOT.get_or_init(|| {
        ROUTES.map(|route| HotPathMetrics {
            requests: counter!("stele_http_requests_total", "method" => route.method(), "route" => route.template(), "status_class" => "2xx"),
            duration: histogram!("stele_http_request_duration_seconds", "method" => route.method(), "route" => route.template()),
        })
    });
    let index = ROUTES.iter().position(|r| *r == route).unwrap_or_default();
    &metrics[index]
}

impl HotPathMetrics {
    pub fn answered(&self, elapsed: Duration) {
        self.requests.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

/// How a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    NewVersion,
    Existing,
    Incompatible,
    Invalid,
    ConsumerContract,
    NotPermitted,
    Error,
}

impl RegistrationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationOutcome::NewVersion => "new_version",
            RegistrationOutcome::Existing => "existing",
            RegistrationOutcome::Incompatible => "incompatible",
            RegistrationOutcome::Invalid => "invalid",
            RegistrationOutcome::ConsumerContract => "consumer_contract",
            RegistrationOutcome::NotPermitted => "not_permitted",
            RegistrationOutcome::Error => "error",
        }
    }
}

pub fn registration(outcome: RegistrationOutcome, schema_type: &'static str) {
    counter!("stele_registrations_total", "outcome" => outcome.as_str(), "schema_type" => schema_type).increment(1);
}

/// One incompatibility a check reported.
pub fn finding(rule: &str, schema_type: &'static str) {
    counter!("stele_compatibility_findings_total", "rule" => rule.to_owned(), "schema_type" => schema_type)
        .increment(1);
}

/// A cache's hit and miss counters.
pub struct CacheCounters {
    pub hits: Counter,
    pub misses: Counter,
}

impl CacheCounters {
    /// Counts one lookup, answered or not.
    pub fn count(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.increment(1);
    }
}

pub fn cache_counters(cache: &'static str) -> CacheCounters {
    CacheCounters {
        hits: counter!("stele_cache_hits_total", "cache" => cache),
        misses: counter!("stele_cache_misses_total", "cache" => cache),
    }
}

pub fn cache_size(cache: &'static str, entries: usize, bytes: usize) {
    gauge!("stele_cache_entries", "cache" => cache).set(entries as f64);
    gauge!("stele_cache_bytes", "cache" => cache).set(bytes as f64);
}

pub fn db_pool(in_use: usize, idle: usize) {
    gauge!("stele_db_connections", "state" => "in_use").set(in_use as f64);
    gauge!("stele_db_connections", "state" => "idle").set(idle as f64);
}

pub fn db_acquired(waited: Duration) {
    histogram!("stele_db_acquire_duration_seconds").record(waited.as_secs_f64());
}

/// One group commit of `writes` new versions.
pub fn write_batch(writes: usize) {
    counter!("stele_db_write_batches_total").increment(1);
    counter!("stele_db_batched_writes_total").increment(writes as u64);
}

/// A failed statement; `kind` is one of a few fixed words.
pub fn db_error(kind: &'static str) {
    counter!("stele_db_errors_total", "kind" => kind).increment(1);
}

pub fn invalidation_lag(lag: Duration) {
    histogram!("stele_cache_invalidation_lag_seconds").record(lag.as_secs_f64());
}

pub fn ready(ready: bool) {
    gauge!("stele_ready").set(if ready { 1.0 } else { 0.0 });
}

pub fn stored(subjects: i64, versions: i64, schemas: i64) {
    gauge!("stele_subjects").set(subjects as f64);
    gauge!("stele_versions").set(versions as f64);
    gauge!("stele_schemas").set(schemas as f64);
}
