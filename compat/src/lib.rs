//! Stele's schema library: parse, canonicalise, fingerprint and compare Avro,
//! Protobuf and JSON Schema schemas. Pure: no I/O, no async.
//!
//! # Layout
//! Each module imports only modules listed before it:
//! - [`types`] and [`finding`]: leaf modules, importing nothing else from the
//!   crate. [`types`] holds what every format shares ([`SchemaType`],
//!   [`SchemaError`], [`ResolvedReference`]); [`finding`] holds the
//!   [`Incompatibility`] every checker reports.
//! - [`avro`], [`json`], [`protobuf`]: one module per format; each parses,
//!   renders the canonical text Confluent stores, and checks reader/writer pairs.
//!   They import only the leaf modules.
//! - [`schema`]: the format-independent entry points ([`parse`], [`ParsedSchema`],
//!   [`CheckOptions`]), which dispatch to the formats. It re-exports the
//!   [`types`], so `stele_compat::schema::SchemaType` still names the same type.
//! - [`level`]: the compatibility levels (BACKWARD, FORWARD, FULL, their
//!   `_TRANSITIVE` forms and NONE) that choose which pairs a check compares.
//! - [`contract`], [`payload`]: consumer contracts and payload validation, over
//!   [`ParsedSchema`]s. [`docs`]: the rule documentation.
//! - [`wire`]: the wire oracle, which checks a (writer, reader) pair by writing
//!   generated values with each format's real library and reading them back,
//!   and the table of known differences between Confluent's verdicts and the wire.

pub mod avro;
pub mod contract;
pub mod docs;
pub mod finding;
pub mod json;
pub mod level;
pub mod payload;
pub mod protobuf;
pub mod schema;
pub mod tags;
pub mod types;
pub mod wire;

pub use finding::Incompatibility;
pub use level::{CompatibilityLevel, check_level};
pub use schema::{CheckOptions, ParsedSchema, parse};
pub use types::{ResolvedReference, SchemaError, SchemaType};
