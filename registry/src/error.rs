//! The registry's errors and the one table that turns them into Confluent's
//! `{"error_code": N, "message": "..."}` answers.
//!
//! Domain code returns [`RegistryError`]; nothing below the HTTP layer knows a
//! status code. [`ErrorCode`] is the closed set of codes Stele ever emits, each
//! with its HTTP status in [`ErrorCode::status`]. A 5xx answers a fixed message
//! and logs the cause once, inside the request's span.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every `error_code` Stele emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    RouteNotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    Unprocessable,
    SubjectNotFound,
    VersionNotFound,
    SchemaNotFound,
    SubjectSoftDeleted,
    SubjectNotSoftDeleted,
    VersionSoftDeleted,
    VersionNotSoftDeleted,
    SubjectConfigNotFound,
    SubjectModeNotFound,
    Incompatible,
    InvalidSchema,
    InvalidVersion,
    InvalidCompatibilityLevel,
    InvalidMode,
    OperationNotPermitted,
    ReferenceExists,
    IdDoesNotMatch,
    InvalidSubject,
    InvalidRuleSet,
    ContextNotEmpty,
    StoreError,
    Internal,
    ContractNotFound,
}

impl ErrorCode {
    /// The HTTP status and `error_code` of each code: the one table.
    pub fn status_and_code(self) -> (StatusCode, u32) {
        use ErrorCode as E;
        match self {
            E::BadRequest => (StatusCode::BAD_REQUEST, 400),
            E::RouteNotFound => (StatusCode::NOT_FOUND, 404),
            E::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, 405),
            E::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, 415),
            E::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, 422),
            E::SubjectNotFound => (StatusCode::NOT_FOUND, 40401),
            E::VersionNotFound => (StatusCode::NOT_FOUND, 40402),
            E::SchemaNotFound => (StatusCode::NOT_FOUND, 40403),
            E::SubjectSoftDeleted => (StatusCode::NOT_FOUND, 40404),
            E::SubjectNotSoftDeleted => (StatusCode::NOT_FOUND, 40405),
            E::VersionSoftDeleted => (StatusCode::NOT_FOUND, 40406),
            E::VersionNotSoftDeleted => (StatusCode::NOT_FOUND, 40407),
            E::SubjectConfigNotFound => (StatusCode::NOT_FOUND, 40408),
            E::SubjectModeNotFound => (StatusCode::NOT_FOUND, 40409),
            E::ContractNotFound => (StatusCode::NOT_FOUND, 40470),
            E::Incompatible => (StatusCode::CONFLICT, 409),
            E::InvalidSchema => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            E::InvalidVersion => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            E::InvalidCompatibilityLevel => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            E::InvalidMode => (StatusCode::UNPROCESSABLE_ENTITY, 42204),
            E::OperationNotPermitted => (StatusCode::UNPROCESSABLE_ENTITY, 42205),
            E::ReferenceExists => (StatusCode::UNPROCESSABLE_ENTITY, 42206),
            E::IdDoesNotMatch => (StatusCode::UNPROCESSABLE_ENTITY, 42207),
            E::InvalidSubject => (StatusCode::UNPROCESSABLE_ENTITY, 42208),
            E::InvalidRuleSet => (StatusCode::UNPROCESSABLE_ENTITY, 42210),
            E::ContextNotEmpty => (StatusCode::UNPROCESSABLE_ENTITY, 42211),
            E::StoreError => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
            E::Internal => (StatusCode::INTERNAL_SERVER_ERROR, 500),
        }
    }
}

/// A failure of a registry operation, in domain terms.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{message}")]
    Client { code: ErrorCode, message: String },
    #[error("storage failed")]
    Store(#[source] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RegistryError::Client { code, message: message.into() }
    }

    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(ErrorCode::SubjectNotFound, format!("Subject '{subject}' not found."))
    }

    pub fn version_not_found(version: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::VersionNotFound, format!("Version {version} not found."))
    }

    pub fn schema_not_found() -> Self {
        Self::new(ErrorCode::SchemaNotFound, "Schema not found")
    }

    pub fn schema_id_not_found(id: i64) -> Self {
        Self::new(ErrorCode::SchemaNotFound, format!("Schema {id} not found"))
    }

    pub fn invalid_schema(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidSchema, message)
    }

    pub fn not_permitted(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::OperationNotPermitted, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn invalid_level() -> Self {
        Self::new(
            ErrorCode::InvalidCompatibilityLevel,
            "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, \
             forward_transitive, and full_transitive",
        )
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            RegistryError::Client { code, .. } => *code,
            RegistryError::Store(_) => ErrorCode::StoreError,
            RegistryError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(error: sqlx::Error) -> Self {
        RegistryError::Store(error)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: u32,
    message: &'a str,
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (status, error_code) = self.code().status_and_code();
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
        let body = serde_json::to_vec(&ErrorBody { error_code, message }).unwrap_or_default();
        crate::http::json_response(status, body)
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
