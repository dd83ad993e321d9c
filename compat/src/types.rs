//! The types every format shares: which format a schema is in, why one could
//! not be parsed, and the references it was parsed with.
//!
//! A leaf module: it imports nothing from the rest of the crate, so the format
//! modules ([`crate::avro`], [`crate::json`], [`crate::protobuf`]) can depend on
//! it without depending on the entry points in [`crate::schema`], which depend
//! on them.

use std::fmt;
use std::str::FromStr;

/// The three schema formats, spelled as Confluent's `schemaType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }

    /// Guesses the format from a file name's extension (`.avsc`, `.proto`, `.json`).
    pub fn from_extension(path: &str) -> Option<SchemaType> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "avsc" | "avro" => Some(SchemaType::Avro),
            "proto" => Some(SchemaType::Protobuf),
            "json" => Some(SchemaType::Json),
            _ => None,
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Confluent's type names are case-sensitive: `avro` is not a schema type.
impl FromStr for SchemaType {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "AVRO" => Ok(SchemaType::Avro),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            "JSON" => Ok(SchemaType::Json),
            other => Err(SchemaError::UnknownType(other.to_owned())),
        }
    }
}

/// Why a schema could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("Invalid schema type {0}")]
    UnknownType(String),
    #[error("{0}")]
    Invalid(String),
    #[error("Invalid reference {name}: {reason}")]
    Reference { name: String, reason: String },
}

impl SchemaError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SchemaError::Invalid(message.into())
    }
}

/// A reference a schema depends on, already looked up: its import name (Avro:
/// the full type name; Protobuf: the import path; JSON Schema: the `$ref` URL),
/// its canonical text and its own references, recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    pub name: String,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<ResolvedReference>,
}
