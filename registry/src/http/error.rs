//! Errors as Confluent answers them: `{"error_code": N, "message": "..."}`
//! with the HTTP status the code begins with. A 5xx answers a fixed message
//! and logs the cause once, inside the request's span.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ErrorCode, RegistryError};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: u32,
    message: &'a str,
}

/// The HTTP status of a code: Confluent's codes begin with it (40401 is a
/// 404, 42201 a 422; 409 and 500 are their own status).
pub fn status_of(code: ErrorCode) -> StatusCode {
    let error_code = code.error_code();
    let status = if error_code < 1000 { error_code } else { error_code / 100 };
    u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = match &self {
            RegistryError::Client { message, .. } => message.as_str(),
            RegistryError::Store(cause) => {
                tracing::error!(error = %cause, error.debug = ?cause, "storage error");
                "Error in the backend data store"
            }
            RegistryError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                "Internal Server Error"
            }
        };
        let body = serde_json::to_vec(&ErrorBody { error_code: code.error_code(), message }).unwrap_or_default();
        super::json_response(status_of(code), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_codes() {
        assert_eq!(status_of(ErrorCode::SubjectNotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorCode::Incompatible), StatusCode::CONFLICT);
        assert_eq!(status_of(ErrorCode::ReferenceExists), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status_of(ErrorCode::StoreError), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_of(ErrorCode::UnsupportedMediaType), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status_of(ErrorCode::ContractNotFound), StatusCode::NOT_FOUND);
    }
}
