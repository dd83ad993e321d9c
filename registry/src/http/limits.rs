//! What one request may cost, answered in Confluent's error envelope.
//!
//! - **Body size.** A body is read whole before anything answers the request
//!   (the handlers need it whole anyway): a `Content-Length` over the limit is
//!   refused at once, a chunked body as soon as it passes the limit; both with
//!   413 and `Connection: close`, because the rest of the body is left unread.
//!   Every other answer, early ones included (405, 415, 400...), comes after
//!   the body was read, so the connection stays usable for the next request.
//! - **Timeout.** A request that takes longer than the limit is answered
//!   with Confluent's 50002 ("operation timed out"; HTTP 500, as Confluent
//!   answers it), its work dropped; except a registration's, which runs on
//!   to its end (it may be stored already: see `subjects::to_completion`).
//! - **Concurrency** is a semaphore in front of the stack: requests over the
//!   limit wait for a slot, they are not refused. (The cached
//!   `GET /schemas/ids/{id}` answer is served before it: it holds nothing.)

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use crate::error::{ErrorCode, RegistryError};

/// The limits the middleware needs, cheap to clone.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    pub timeout: Duration,
}

fn too_large(limit: usize) -> Response {
    let mut response = RegistryError::new(
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than {limit} bytes (limits.max_body_bytes)"),
    )
    .into_response();
    // The rest of the body is not read: the client must not send another request on this connection.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads the body whole (within the limit), then runs the request under the timeout.
pub async fn limit(State(limits): State<RequestLimits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return too_large(limits.max_body_bytes);
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&limits, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => timed_out(limits.timeout),
    }
}

/// Reads a whole body within the size limit and the timeout; the answer to
/// send instead when it cannot.
pub async fn read_body(limits: &RequestLimits, body: Body) -> Result<axum::body::Bytes, Response> {
    let read =
        tokio::time::timeout(limits.timeout, http_body_util::Limited::new(body, limits.max_body_bytes).collect());
    match read.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(too_large(limits.max_body_bytes))
        }
        Ok(Err(_)) => {
            let mut response = RegistryError::bad_request("The request body could not be read").into_response();
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
        Err(_) => Err(timed_out(limits.timeout)),
    }
}

fn timed_out(limit: Duration) -> Response {
    RegistryError::new(
        ErrorCode::OperationTimeout,
        format!("The request took longer than {} s (limits.request_timeout_secs)", limit.as_secs()),
    )
    .into_response()
}
