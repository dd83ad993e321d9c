//! Logs and traces: one call sets up both.
//!
//! - Logs go to stderr as text or JSON, filtered by `RUST_LOG` (default
//!   `info`). Inside a request every line carries the request's span fields:
//!   its request id and trace id.
//! - Traces are exported over OTLP (HTTP, protobuf or JSON) when the standard
//!   OpenTelemetry variables ask for it: `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER=otlp`.
//!   The exporter reads the rest itself (`OTEL_EXPORTER_OTLP_PROTOCOL`,
//!   headers, timeout), the SDK its sampler (`OTEL_TRACES_SAMPLER`,
//!   `OTEL_TRACES_SAMPLER_ARG`) and batching (`OTEL_BSP_*`); the service name is
//!   `OTEL_SERVICE_NAME`, else `stele`. `OTEL_SDK_DISABLED=true` or
//!   `OTEL_TRACES_EXPORTER=none` turns them off. W3C `traceparent` headers
//!   continue the caller's trace.

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::settings::LogFormat;

/// Flushes and stops trace export when dropped (at shutdown).
pub struct Traces(Option<SdkTracerProvider>);

impl Drop for Traces {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("stele: flushing traces failed: {error}");
        }
    }
}

/// Whether the environment asks for OTLP trace export.
fn traces_requested() -> bool {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    match var("OTEL_TRACES_EXPORTER").map(|v| v.to_ascii_lowercase()) {
        Some(exporter) if exporter == "none" => false,
        Some(exporter) if exporter == "otlp" => true,
        _ => var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some(),
    }
}

fn tracer_provider() -> Result<SdkTracerProvider, String> {
    let protocol = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    if protocol.trim() == "grpc" {
        return Err(
            "OTLP over gRPC is not built in: set OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf or http/json".into()
        );
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("the OTLP trace exporter could not start: {e}"))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("stele");
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// Sets up logging and, when the environment asks for it, trace export.
/// Must be called inside the async runtime. A second call (tests start several
/// servers in one process) keeps the first set-up.
pub fn init(format: LogFormat) -> Result<Traces, String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal as _;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_current_span(true).boxed(),
    };
    let provider = if traces_requested() { Some(tracer_provider()?) } else { None };
    let _ = TRACING.set(provider.is_some());
    let otel = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
        // Stele's own spans, whatever RUST_LOG says about logs.
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("stele"))
            .with_filter(EnvFilter::new("stele_registry=info,stele=info"))
    });
    let _ = tracing_subscriber::registry().with(fmt.with_filter(filter)).with(otel).try_init();
    Ok(Traces(provider))
}

/// Reads W3C trace context from request headers.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// Makes `span` continue the trace of the request's `traceparent` (when
/// traces are exported) and returns the trace id to log: the exported span's,
/// else the caller's, else none.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) -> Option<String> {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !tracing_enabled() {
        return caller_trace_id(headers);
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    let exported = span.context().span().span_context().trace_id();
    if exported != opentelemetry::trace::TraceId::INVALID {
        return Some(exported.to_string());
    }
    caller_trace_id(headers)
}

/// The trace id of a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`).
pub fn caller_trace_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.trim().split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()) && trace_id != "0".repeat(32))
        .then(|| trace_id.to_ascii_lowercase())
}

/// Whether spans are exported, so the HTTP layer builds one for every request.
pub fn tracing_enabled() -> bool {
    TRACING.get().copied().unwrap_or(false)
}

static TRACING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
