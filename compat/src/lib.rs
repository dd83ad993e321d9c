//! Stele's schema library: parse, canonicalise, fingerprint and compare Avro,
//! Protobuf and JSON Schema schemas. Pure: no I/O, no async.
//!
//! # Layout
//! - [`schema`]: the format-independent entry points ([`parse`], [`ParsedSchema`]).
//! - [`avro`], [`json`], [`protobuf`]: one module per format; each parses,
//!   renders the canonical text Confluent stores, and checks reader/writer pairs.
//! - [`level`]: the compatibility levels (BACKWARD, FORWARD, FULL, their
//!   `_TRANSITIVE` forms and NONE) that choose which pairs a check compares.
//! - [`finding`]: the [`Incompatibility`] every checker reports.

pub mod avro;
pub mod contract;
pub mod docs;
pub mod finding;
pub mod json;
pub mod level;
pub mod payload;
pub mod protobuf;
pub mod schema;

pub use finding::Incompatibility;
pub use level::{CompatibilityLevel, check_level};
pub use schema::{CheckOptions, ParsedSchema, ResolvedReference, SchemaError, SchemaType, parse};
