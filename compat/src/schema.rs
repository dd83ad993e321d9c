//! Format-independent entry points: parsing a schema of any format with its
//! resolved references, and comparing two parsed schemas. They dispatch to the
//! format modules, so this module depends on them; the types the formats share
//! live in [`crate::types`] and are re-exported here.

use crate::finding::{Incompatibility, Role};
pub use crate::types::{ResolvedReference, SchemaError, SchemaType};
use crate::{avro, json, protobuf};

/// A parsed, validated schema and the canonical text Confluent stores for it.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    pub schema_type: SchemaType,
    /// The text stored and returned: canonical, or normalized when asked for.
    pub canonical: String,
    pub(crate) model: Model,
}

#[derive(Debug, Clone)]
pub(crate) enum Model {
    Avro(avro::Schema),
    Json(json::JsonSchema),
    Protobuf(Box<protobuf::ProtoSchema>),
}

/// Parses `text` as a schema of `schema_type`, with its references resolved.
/// With `normalize`, the canonical text is also normalized (Confluent's
/// `normalize=true`): spellings that mean the same schema then share one text.
pub fn parse(
    schema_type: SchemaType,
    text: &str,
    references: &[ResolvedReference],
    normalize: bool,
) -> Result<ParsedSchema, SchemaError> {
    let (canonical, model) = match schema_type {
        SchemaType::Avro => {
            let schema = avro::Schema::parse(text, references)?;
            let canonical = if normalize { schema.normalized() } else { schema.canonical() };
            (canonical, Model::Avro(schema))
        }
        SchemaType::Json => {
            let schema = json::JsonSchema::parse(text, references)?;
            let canonical = if normalize { schema.normalized() } else { schema.canonical() };
            (canonical, Model::Json(schema))
        }
        SchemaType::Protobuf => {
            let schema = protobuf::ProtoSchema::parse(text, references)?;
            let canonical = if normalize { schema.normalized() } else { schema.canonical() };
            (canonical, Model::Protobuf(Box::new(schema)))
        }
    };
    Ok(ParsedSchema { schema_type, canonical, model })
}

impl ParsedSchema {
    /// Every reason `reader` cannot read data written with `writer`.
    /// `reader_role` says which of the two is the new schema, for the wording.
    pub fn read_problems(reader: &ParsedSchema, writer: &ParsedSchema, reader_role: Role) -> Vec<Incompatibility> {
        Self::read_problems_with(reader, writer, reader_role, &CheckOptions::default())
    }

    /// [`ParsedSchema::read_problems`] with format-specific options.
    pub fn read_problems_with(
        reader: &ParsedSchema,
        writer: &ParsedSchema,
        reader_role: Role,
        options: &CheckOptions,
    ) -> Vec<Incompatibility> {
        match (&reader.model, &writer.model) {
            (Model::Avro(r), Model::Avro(w)) => avro::compatibility::check(r, w, reader_role),
            (Model::Json(r), Model::Json(w)) => json::check_with_policy(r, w, reader_role, options.json_policy),
            (Model::Protobuf(r), Model::Protobuf(w)) => protobuf::check(r, w, reader_role, options.protobuf_rules),
            _ => vec![different_type()],
        }
    }

    /// The Protobuf model, when this is a Protobuf schema.
    pub fn as_protobuf(&self) -> Option<&protobuf::ProtoSchema> {
        match &self.model {
            Model::Protobuf(p) => Some(p),
            _ => None,
        }
    }
}

/// Options of a check that only some formats read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// JSON Schema: Confluent's STRICT policy, or LENIENT.
    pub json_policy: json::Policy,
    /// Protobuf: Confluent's rules, or one of buf's categories.
    pub protobuf_rules: protobuf::Rules,
}

/// Confluent refuses any change of format, except under NONE.
pub fn different_type() -> Incompatibility {
    let sentence = "Incompatible because of different schema type";
    Incompatibility {
        rule: "SCHEMA_TYPE_CHANGED".into(),
        path: "/".into(),
        description: sentence.into(),
        additional_info: None,
        confluent_message: sentence.into(),
    }
}
