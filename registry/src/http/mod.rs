//! The HTTP API: Confluent's REST surface, and Stele's own under `/stele/v1`
//! plus the health probes.
//!
//! Every route is declared once in the table in [`routes!`], which builds the
//! router and the list [`ROUTES`] that the `OpenAPI` test holds the spec to.

mod audit;
pub mod auth;
mod compatibility;
mod contracts;
mod deploy;
pub mod error;
pub mod limits;
mod root;
mod schemas;
mod settings;
mod subjects;
mod webhooks;
pub mod wire;

pub use root::render_metrics;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

use crate::error::{ErrorCode, RegistryError};
use crate::metrics::HotRoute;
use crate::service::Registry;

/// Confluent's primary media type; every answer carries it.
pub const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Request bodies are accepted in these types (the last is what JAX-RS assumes without one).
const ACCEPTED_TYPES: &[&str] = &[
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// Shared state: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

pub struct App {
    pub registry: Registry,
    /// `None`: no authentication configured, every caller may do everything.
    pub auth: Option<auth::AuthState>,
    /// What one request may cost.
    pub limits: crate::settings::Limits,
    /// Whether `/metrics` is served here (not on its own `--metrics-listen` listener).
    pub metrics_on_main: bool,
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every (method, path) the router serves, in axum's path syntax.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn api_routes() -> Router<AppState> {
            let router = Router::new();
            $(let router = router.route($path, axum::routing::$method($handler));)*
            router
        }
    };
}

routes! {
    get "/" => root::root;
    post "/" => root::root_post;
    get "/v1/metadata/id" => root::metadata_id;
    get "/v1/metadata/version" => root::metadata_version;
    get "/healthz" => root::healthz;
    get "/readyz" => root::readyz;
    get "/metrics" => root::metrics;
    get "/contexts" => root::contexts;
    get "/schemas/types" => schemas::types;
    get "/schemas" => schemas::list;
    get "/schemas/ids/{id}" => schemas::by_id;
    get "/schemas/ids/{id}/schema" => schemas::raw_by_id;
    get "/schemas/ids/{id}/subjects" => schemas::subjects_by_id;
    get "/schemas/ids/{id}/versions" => schemas::versions_by_id;
    get "/subjects" => subjects::list;
    post "/subjects/{subject}" => subjects::lookup;
    delete "/subjects/{subject}" => subjects::delete;
    get "/subjects/{subject}/versions" => subjects::versions;
    post "/subjects/{subject}/versions" => subjects::register;
    get "/subjects/{subject}/versions/{version}" => subjects::version;
    post "/subjects/{subject}/versions/{version}/tags" => subjects::tags;
    delete "/subjects/{subject}/versions/{version}" => subjects::delete_version;
    get "/subjects/{subject}/versions/{version}/schema" => subjects::raw_version;
    get "/subjects/{subject}/versions/{version}/referencedby" => subjects::referenced_by;
    get "/subjects/{subject}/metadata" => subjects::by_metadata;
    post "/compatibility/subjects/{subject}/versions" => compatibility::against_history;
    post "/compatibility/subjects/{subject}/versions/{version}" => compatibility::against_version;
    post "/stele/v1/compatibility/subjects/{subject}/versions" => compatibility::report;
    get "/stele/v1/subjects/{subject}/consumers" => contracts::list;
    get "/stele/v1/subjects/{subject}/consumers/{consumer}" => contracts::get;
    put "/stele/v1/subjects/{subject}/consumers/{consumer}" => contracts::publish;
    delete "/stele/v1/subjects/{subject}/consumers/{consumer}" => contracts::delete;
    get "/stele/v1/services" => deploy::services;
    get "/stele/v1/services/{service}" => deploy::service;
    put "/stele/v1/services/{service}" => deploy::put_service;
    get "/stele/v1/services/{service}/versions/{version}" => deploy::service_version;
    put "/stele/v1/services/{service}/versions/{version}" => deploy::publish_version;
    get "/stele/v1/environments" => deploy::environments;
    get "/stele/v1/environments/{environment}" => deploy::environment;
    put "/stele/v1/environments/{environment}" => deploy::put_environment;
    delete "/stele/v1/environments/{environment}" => deploy::delete_environment;
    get "/stele/v1/environments/{environment}/deployments" => deploy::deployments;
    post "/stele/v1/environments/{environment}/deployments" => deploy::record_deployment;
    delete "/stele/v1/environments/{environment}/deployments/{service}" => deploy::record_undeployment;
    get "/stele/v1/can-i-deploy" => deploy::can_i_deploy;
    post "/stele/v1/webhooks" => webhooks::create;
    get "/stele/v1/webhooks" => webhooks::list;
    get "/stele/v1/webhooks/{id}" => webhooks::get;
    delete "/stele/v1/webhooks/{id}" => webhooks::delete;
    get "/stele/v1/webhooks/{id}/deliveries" => webhooks::deliveries;
    get "/stele/v1/audit" => audit::list;
    get "/ui" => crate::console::home;
    get "/ui/subjects" => crate::console::subjects;
    get "/ui/subjects/{subject}" => crate::console::subject;
    post "/ui/subjects/{subject}/config" => crate::console::set_level;
    get "/ui/subjects/{subject}/versions/{version}" => crate::console::version;
    post "/ui/subjects/{subject}/versions/{version}/delete" => crate::console::soft_delete;
    get "/ui/subjects/{subject}/diff" => crate::console::diff;
    get "/ui/playground" => crate::console::playground;
    post "/ui/playground" => crate::console::playground_check;
    get "/ui/environments" => crate::console::environments;
    get "/ui/search" => crate::console::search;
    get "/config" => settings::get_config;
    put "/config" => settings::put_config;
    delete "/config" => settings::delete_config;
    get "/config/{subject}" => settings::get_subject_config;
    put "/config/{subject}" => settings::put_subject_config;
    delete "/config/{subject}" => settings::delete_subject_config;
    get "/mode" => settings::get_mode;
    put "/mode" => settings::put_mode;
    get "/mode/{subject}" => settings::get_subject_mode;
    put "/mode/{subject}" => settings::put_subject_mode;
    delete "/mode/{subject}" => settings::delete_subject_mode;
}

/// The application: routing, Confluent's transport rules, request ids and logs.
/// Call `oneshot` on it in tests; serve it with [`crate::server::run`].
pub fn app(state: AppState) -> Api {
    let limits = state.limits.clone();
    let api = api_routes()
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(route_not_found)
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(log_request))
        .with_state(state.clone());
    let request_limits =
        limits::RequestLimits { max_body_bytes: limits.max_body_bytes, timeout: limits.request_timeout };
    // Path rewriting and trailing-slash trimming must happen before routing,
    // so they wrap the routed service instead of being router layers.
    let front = tower::ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(SetRequestIdLayer::x_request_id(CounterRequestId::new()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits.max_concurrent_requests))
        .layer(middleware::from_fn_with_state(request_limits, limits::limit))
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(middleware::from_fn(transport))
        .service(api);
    let full = tower::util::BoxCloneSyncService::new(
        front.map_response(IntoResponse::into_response).map_err(|never| match never {}),
    );
    Api(Arc::new(HotPath { state, full, limits: request_limits }))
}

/// The application as one service. The hot paths are picked out by method and
/// path ahead of any router: behind axum's `Router` a cached read paid for
/// matching its path, the matched-path and parameter extensions and boxed
/// handler futures: about 0.3 us, a tenth of its time outside the kernel
/// (hyper and tokio included). Everything else goes through the full
/// middleware stack and router.
#[derive(Clone)]
pub struct Api(Arc<HotPath>);

/// The whole middleware stack and router, as one service.
type FullService = tower::util::BoxCloneSyncService<Request, Response, Infallible>;

struct HotPath {
    state: AppState,
    full: FullService,
    /// The full stack's body limit and timeout, for bodies read ahead of it.
    limits: limits::RequestLimits,
}

impl<B> tower::Service<axum::http::Request<B>> for Api
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ApiFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> ApiFuture {
        let request = request.map(Body::new);
        let hot = &self.0;
        let method = request.method();
        let path = request.uri().path();
        if method == Method::GET
            && let Some(id) = path.strip_prefix("/schemas/ids/")
        {
            if let Some(response) = hot.schema_by_id(&request, id) {
                return ApiFuture::ready(response);
            }
        } else if method == Method::POST
            && let Some((route, subject)) = hot_post(path)
        {
            let hot = Arc::clone(hot);
            return ApiFuture::pending(async move { hot_answer(&hot, request, route, subject).await });
        }
        let hot = Arc::clone(hot);
        ApiFuture::pending(async move { hot.full_stack(request).await })
    }
}

/// `axum::serve` takes the service that makes each connection's service.
impl<L: axum::serve::Listener> tower::Service<axum::serve::IncomingStream<'_, L>> for Api {
    type Response = Api;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Api, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.clone()))
    }
}

/// [`Api`]'s answer: at once for a cached read, else a request on its way.
pub struct ApiFuture(Answer);

enum Answer {
    Ready(Option<Response>),
    Pending(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl ApiFuture {
    fn ready(response: Response) -> ApiFuture {
        ApiFuture(Answer::Ready(Some(response)))
    }

    fn pending(future: impl Future<Output = Response> + Send + 'static) -> ApiFuture {
        ApiFuture(Answer::Pending(Box::pin(future)))
    }
}

impl Future for ApiFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            // Taken on the first poll; a future is not polled after it completes.
            Answer::Ready(response) => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())))
            }
            Answer::Pending(future) => future.as_mut().poll(context).map(Ok),
        }
    }
}

/// The producers' hot routes, as the full router would match them:
/// `POST /subjects/{subject}` (lookup) and `POST /subjects/{subject}/versions`
/// (registration), the subject one non-empty segment, percent-decoded once
/// into UTF-8. Anything else (`None`) is for the full stack.
fn hot_post(path: &str) -> Option<(HotRoute, String)> {
    let rest = path.strip_prefix("/subjects/")?;
    let (route, segment) = match rest.strip_suffix("/versions") {
        Some(segment) if !segment.contains('/') => (HotRoute::Register, segment),
        _ => (HotRoute::Lookup, rest),
    };
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    let subject = percent_encoding::percent_decode_str(segment).decode_utf8().ok()?;
    Some((route, subject.into_owned()))
}

impl HotPath {
    /// Consumers' hot path: `GET /schemas/ids/{id}` with no query, for an id
    /// read before, is answered from memory ahead of the middleware stack.
    /// Anything else (`None`: a miss, a query, a body) goes through the full
    /// stack, which gives the same answer more slowly.
    fn schema_by_id(&self, request: &Request, id: &str) -> Option<Response> {
        let started = Instant::now();
        // A traced request takes the full stack, which builds its span.
        let plain = plain(&self.state, request)
            && request.uri().query().is_none()
            && !request.headers().contains_key(header::CONTENT_LENGTH)
            && !request.headers().contains_key(header::TRANSFER_ENCODING)
            && !request.headers().contains_key(header::CONTENT_TYPE);
        if !plain {
            return None;
        }
        let id = id.parse::<i32>().ok()?;
        let body = self.state.registry.cached_schema_json(crate::subject::DEFAULT_CONTEXT, i64::from(id))?;
        tracing::debug!(
            http.method = "GET",
            http.route = "/schemas/ids/{id}",
            http.status = 200,
            "GET /schemas/ids/{{id}} 200 (cached)"
        );
        let response = schema_json_response(body, request.headers().get(header::IF_NONE_MATCH));
        crate::metrics::hot_path(HotRoute::SchemaById).answered(started.elapsed());
        Some(response)
    }

    async fn full_stack(&self, request: Request) -> Response {
        match self.full.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// Whether a request may be answered ahead of the middleware stack: nothing
/// to authenticate, no trace to continue, no request id of the client's own to
/// echo, a media type the stack accepts and a path it would not rewrite.
fn plain(state: &AppState, request: &Request) -> bool {
    let headers = request.headers();
    state.auth.is_none()
        && !headers.contains_key(TRACEPARENT)
        && !headers.contains_key(X_REQUEST_ID)
        && !crate::telemetry::tracing_enabled()
        && !request.uri().path().contains("//")
        && headers.get(header::CONTENT_TYPE).is_none_or(|value| {
            let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
            ACCEPTED_TYPES.iter().any(|accepted| essence.eq_ignore_ascii_case(accepted))
        })
}

/// Producers' hot path: a repeated re-registration or lookup whose answer is
/// kept (see `service::answers`) is answered ahead of the middleware stack,
/// after reading the body (within the body limit). Anything else goes through
/// the full stack with the body read, which gives the same answer more slowly.
async fn hot_answer(hot: &HotPath, request: Request, route: HotRoute, subject: String) -> Response {
    let started = Instant::now();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let fits = declared.is_some_and(|length| length <= hot.limits.max_body_bytes);
    if !(fits && plain(&hot.state, &request)) {
        return hot.full_stack(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match limits::read_body(&hot.limits, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    if let Ok(subjects::Kept::Answer(response)) =
        subjects::kept_answer(&hot.state, route, &subject, parts.uri.query(), &bytes).await
    {
        tracing::debug!(http.method = "POST", http.route = route.template(), http.status = 200, "kept answer");
        crate::metrics::hot_path(route).answered(started.elapsed());
        return response;
    }
    hot.full_stack(Request::from_parts(parts, Body::from(bytes))).await
}

/// W3C trace context, sent by callers whose trace a request continues.
const TRACEPARENT: axum::http::HeaderName = axum::http::HeaderName::from_static("traceparent");

/// A request's id, made by the full stack or sent by the client (and echoed).
const X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// `Cache-Control` of an id's default answer: its bytes never change.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// An id's default answer with its `ETag`, or 304 when the client's
/// `If-None-Match` already names it.
pub fn schema_json_response(json: crate::service::SchemaJson, if_none_match: Option<&HeaderValue>) -> Response {
    let fresh = if_none_match.and_then(|v| v.to_str().ok()).is_some_and(|tags| {
        tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == json.etag)
    });
    let etag = HeaderValue::from_maybe_shared(json.etag).ok();
    let mut response =
        if fresh { StatusCode::NOT_MODIFIED.into_response() } else { json_response(StatusCode::OK, json.body) };
    let headers = response.headers_mut();
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, IMMUTABLE);
    response
}

/// A JSON answer with Confluent's media type.
pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// 200 with a JSON body.
pub fn ok<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(error) => RegistryError::Internal(format!("response did not serialize: {error}")).into_response(),
    }
}

/// 200 with the raw text as the body (the `/schema` endpoints).
pub fn raw(text: String) -> Response {
    json_response(StatusCode::OK, text.into_bytes())
}

/// A panic is a bug: log it, answer a plain 500, keep serving.
#[expect(clippy::needless_pass_by_value, reason = "CatchPanicLayer hands the payload over by value")]
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    RegistryError::Internal(format!("handler panicked: {detail}")).into_response()
}

async fn route_not_found() -> RegistryError {
    wire::not_found()
}

/// Turns axum's own 405 into Confluent's envelope.
fn json_framework_errors(response: Response) -> Response {
    // axum's own answers (rejections of extractors, its 405) are plain text.
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|ct| ct.to_str().unwrap_or_default().starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (code, message) = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "HTTP 405 Method Not Allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "The request body is too large (limits.max_body_bytes)")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, "HTTP 415 Unsupported Media Type"),
        StatusCode::BAD_REQUEST => (ErrorCode::BadRequest, "HTTP 400 Bad Request"),
        StatusCode::UNPROCESSABLE_ENTITY => (ErrorCode::Unprocessable, "HTTP 422 Unprocessable Entity"),
        _ => return response,
    };
    RegistryError::new(code, message).into_response()
}

/// Confluent's transport rules, before routing: a body in a media type it
/// does not accept is a 415; `/contexts/{ctx}/...` forms are rewritten.
async fn transport(mut request: Request, next: Next) -> Response {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let essence =
            content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let console_form = essence == "application/x-www-form-urlencoded" && request.uri().path().starts_with("/ui/");
        if !ACCEPTED_TYPES.contains(&essence.as_str()) && !console_form {
            return RegistryError::new(ErrorCode::UnsupportedMediaType, "HTTP 415 Unsupported Media Type")
                .into_response();
        }
    }
    // JAX-RS collapses empty path segments: `/subjects/a//versions` is `/subjects/a/versions`.
    if request.uri().path().contains("//") {
        let mut path = request.uri().path().to_owned();
        while path.contains("//") {
            path = path.replace("//", "/");
        }
        let rewritten = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        match rewritten.parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => return wire::not_found().into_response(),
        }
    }
    // JAX-RS would read such bytes as U+FFFD and store a name no client can
    // spell again; every route here answers this instead, in either URL form.
    if percent_encoding::percent_decode_str(request.uri().path()).decode_utf8().is_err() {
        let message = format!("The request path is not UTF-8 once percent-decoded: {}", request.uri().path());
        return RegistryError::bad_request(message).into_response();
    }
    if request.uri().path().starts_with("/contexts/") {
        return rewrite_context_paths(request, next).await;
    }
    next.run(request).await
}

/// Request ids: a per-process random prefix and a counter, unique without a
/// random draw per request (the read path is measured in microseconds).
#[derive(Clone)]
struct CounterRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl CounterRequestId {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        CounterRequestId { prefix: prefix.into(), next: Arc::new(std::sync::atomic::AtomicU64::new(1)) }
    }
}

impl MakeRequestId for CounterRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

/// One structured event per request (method, matched route, status, duration,
/// request id, trace id) and its metrics. Successful reads log at DEBUG (they
/// are the consumers' hot path and would drown everything else); writes and
/// every failure log at INFO.
///
/// Every request runs inside a `request` span that carries the request id and
/// trace id to every log line within, and is the root of the exported trace
/// (the cached read path, answered ahead of this stack, has none unless traced).
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| HeaderValue::from_static(""), |id| id.header_value().clone());
    let path = request.extensions().get::<MatchedPath>().cloned();
    let route = || path.as_ref().map_or("unmatched", MatchedPath::as_str);
    let id = || request_id.to_str().unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {}", route()),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route(),
        http.response.status_code = tracing::field::Empty,
        request.id = id(),
        trace_id = tracing::field::Empty,
    );
    let trace_id = crate::telemetry::continue_trace(&span, request.headers());
    if let Some(trace_id) = &trace_id {
        span.record("trace_id", trace_id.as_str());
    }
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    let response = json_framework_errors(response);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    crate::metrics::http_request(method.as_str(), route(), status, elapsed);
    let duration_us = elapsed.as_micros() as u64;
    let trace_id = trace_id.as_deref().unwrap_or_default();
    if method == Method::GET && status < 400 {
        tracing::debug!(http.method = %method, http.route = route(), request.id = id(), trace_id, http.status = status, duration_us, "{method} {} {status}", route());
    } else {
        tracing::info!(http.method = %method, http.route = route(), request.id = id(), trace_id, http.status = status, duration_us, "{method} {} {status}", route());
    }
    response
}

pub fn encode_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Rewrites Confluent's `/contexts/{ctx}/...` URL forms onto the plain routes:
/// a subject gains the `:.ctx:` prefix, listings and id lookups are scoped to
/// the context, and `/contexts/{ctx}/config|mode` address the context itself.
async fn rewrite_context_paths(mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/contexts/") else {
        return next.run(request).await;
    };
    let mut parts = rest.splitn(2, '/');
    let raw_context =
        percent_encoding::percent_decode_str(parts.next().unwrap_or_default()).decode_utf8_lossy().into_owned();
    let Some(tail) = parts.next() else {
        return next.run(request).await;
    };
    if raw_context.contains(':') {
        return RegistryError::bad_request("Context name cannot contain a colon").into_response();
    }
    let context = if raw_context.starts_with('.') { raw_context } else { format!(".{raw_context}") };
    let prefix = format!(":{context}:");
    let query = request.uri().query().map(str::to_owned);
    let with_query = |path: String, extra: Option<(&str, &str)>| {
        let mut query_parts: Vec<String> = query.iter().filter(|q| !q.is_empty()).cloned().collect();
        if let Some((key, value)) = extra {
            query_parts.push(format!("{key}={}", encode_segment(value)));
        }
        if query_parts.is_empty() { path } else { format!("{path}?{}", query_parts.join("&")) }
    };
    let segments: Vec<&str> = tail.split('/').collect();
    let subject_in = |encoded: &str| {
        let name = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
        encode_segment(&format!("{prefix}{name}"))
    };
    let rewritten = match segments.as_slice() {
        ["subjects"] => with_query("/subjects".into(), Some(("subjectPrefix", &prefix))),
        ["subjects", subject, rest @ ..] => {
            with_query(format!("/subjects/{}{}", subject_in(subject), tail_path(rest)), None)
        }
        ["schemas"] => with_query("/schemas".into(), Some(("subjectPrefix", &prefix))),
        ["schemas", rest @ ..] => with_query(format!("/schemas/{}", rest.join("/")), Some(("subject", &prefix))),
        [kind @ ("config" | "mode")] => with_query(format!("/{kind}/{}", encode_segment(&prefix)), None),
        [kind @ ("config" | "mode"), subject] => with_query(format!("/{kind}/{}", subject_in(subject)), None),
        ["compatibility", "subjects", subject, rest @ ..] => {
            with_query(format!("/compatibility/subjects/{}{}", subject_in(subject), tail_path(rest)), None)
        }
        _ => return next.run(request).await,
    };
    match rewritten.parse::<Uri>() {
        Ok(uri) => {
            *request.uri_mut() = uri;
            next.run(request).await
        }
        Err(_) => wire::not_found().into_response(),
    }
}

/// `["a", "b"]` as `/a/b`.
fn tail_path(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |mut path, segment| {
        path.push('/');
        path.push_str(segment);
        path
    })
}

/// Path parameters, percent-decoded (a path that is not UTF-8 once decoded
/// is refused before routing, see `transport`).
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// axum has percent-decoded the values once, as JAX-RS does; decoding
    /// again would read a subject named `a%41` as `aA`.
    pub fn from_raw(raw: &RawPathParams) -> PathParams {
        PathParams(raw.iter().map(|(key, value)| (key.to_owned(), value.to_owned())).collect())
    }

    pub fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

/// Reads a JSON body as JAX-RS does: an empty or `null` body is a 422, malformed JSON a 400.
pub fn parse_body(body: &Bytes) -> Result<Value, RegistryError> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() || text.trim() == "null" {
        return Err(RegistryError::new(ErrorCode::Unprocessable, "The request body must not be empty or null"));
    }
    serde_json::from_str(&text).map_err(|e| RegistryError::bad_request(format!("Malformed JSON body: {e}")))
}

/// Parses a schema id path segment: a 32-bit integer, else JAX-RS's 404.
pub fn parse_id(raw: &str) -> Result<i64, RegistryError> {
    raw.parse::<i32>().map(i64::from).map_err(|_| wire::not_found())
}

/// `State` and lenient path parameters in one extractor argument list.
pub type St = State<AppState>;

/// Methods that carry a body, for docs and tests.
pub const BODY_METHODS: &[Method] = &[Method::POST, Method::PUT];

/// Builds a request for tests and tools.
pub fn request(method: Method, uri: &str, body: Option<&str>) -> Request {
    let builder = Request::builder().method(method).uri(uri);
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, MEDIA_TYPE)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body.to_owned())),
        None => builder.body(Body::empty()),
    }
    .unwrap_or_default()
}
