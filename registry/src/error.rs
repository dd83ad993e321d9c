//! The registry's errors, in domain terms.
//!
//! Domain code returns [`RegistryError`]. [`ErrorCode`] is the closed set of
//! Confluent `error_code`s Stele ever emits, in the one table
//! [`ErrorCode::error_code`]. Nothing here knows HTTP: the HTTP layer
//! (`http/error.rs`) turns an error into Confluent's answer, deriving the
//! status from the code as Confluent does.

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
    /// Stele: refused because a declared consumer could not read it (409, like any incompatibility).
    IncompatibleWithConsumers,
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
    /// Stele deployment gating: no such service, service version, environment, deployment or webhook.
    ServiceNotFound,
    ServiceVersionNotFound,
    EnvironmentNotFound,
    DeploymentNotFound,
    WebhookNotFound,
    /// Stele: a service version is immutable; it was published with other schemas.
    ServiceVersionConflict,
    /// The caller may not do this (Confluent's security plugin's 40301).
    Forbidden,
    /// A request body over `limits.max_body_bytes`.
    PayloadTooLarge,
    /// A request over `limits.request_timeout` (Confluent's 50002, "operation timed out").
    OperationTimeout,
}

impl ErrorCode {
    /// Confluent's `error_code` of each code: the one table. Its first three
    /// digits (or the whole code, below 1000) are the HTTP status.
    pub fn error_code(self) -> u32 {
        use ErrorCode as E;
        match self {
            E::BadRequest => 400,
            E::RouteNotFound => 404,
            E::MethodNotAllowed => 405,
            E::UnsupportedMediaType => 415,
            E::Unprocessable => 422,
            E::SubjectNotFound => 40401,
            E::VersionNotFound => 40402,
            E::SchemaNotFound => 40403,
            E::SubjectSoftDeleted => 40404,
            E::SubjectNotSoftDeleted => 40405,
            E::VersionSoftDeleted => 40406,
            E::VersionNotSoftDeleted => 40407,
            E::SubjectConfigNotFound => 40408,
            E::SubjectModeNotFound => 40409,
            E::ContractNotFound => 40470,
            E::ServiceNotFound => 40471,
            E::ServiceVersionNotFound => 40472,
            E::EnvironmentNotFound => 40473,
            E::DeploymentNotFound => 40474,
            E::WebhookNotFound => 40475,
            E::ServiceVersionConflict => 40971,
            E::Forbidden => 40301,
            E::PayloadTooLarge => 413,
            E::OperationTimeout => 50002,
            E::Incompatible | E::IncompatibleWithConsumers => 409,
            E::InvalidSchema => 42201,
            E::InvalidVersion => 42202,
            E::InvalidCompatibilityLevel => 42203,
            E::InvalidMode => 42204,
            E::OperationNotPermitted => 42205,
            E::ReferenceExists => 42206,
            E::IdDoesNotMatch => 42207,
            E::InvalidSubject => 42208,
            E::InvalidRuleSet => 42210,
            E::ContextNotEmpty => 42211,
            E::StoreError => 50001,
            E::Internal => 500,
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

    /// 42206: a schema (or a consumer contract) references the subject version.
    pub fn reference_exists(subject: &str, version: i32) -> Self {
        Self::new(
            ErrorCode::ReferenceExists,
            format!("One or more references exist to the schema {{subject={subject},version={version}}}."),
        )
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
        crate::metrics::db_error(match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => "pool",
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => "connection",
            sqlx::Error::Database(_) => "database",
            _ => "other",
        });
        RegistryError::Store(error)
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
