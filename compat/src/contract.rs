//! Consumer contracts: can this consumer read what the producer writes?
//!
//! - Avro: the consumer's reader schema must resolve against the producer's
//!   writer schema (the Avro resolution rules).
//! - Protobuf: every field the consumer declares must exist in the producer's
//!   message of the same name, with the same number and a kind the consumer
//!   can read.
//! - JSON Schema: every property the consumer declares must exist in the
//!   producer's schema with a type the consumer accepts.
//!
//! Findings use the rule ids `CONSUMED_FIELD_MISSING`,
//! `CONSUMED_FIELD_TYPE_CHANGED` and `CONSUMED_MESSAGE_MISSING` (and Avro's
//! own ids for Avro), each with the path of the field in the consumer's schema.

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::Value;

use crate::finding::{Incompatibility, Role};
use crate::schema::{Model, ParsedSchema};

fn finding(rule: &str, path: String, description: String) -> Incompatibility {
    Incompatibility::with_error_type(rule, path, description)
}

/// Every reason the consumer's schema cannot read what `producer` writes.
pub fn check(consumer: &ParsedSchema, producer: &ParsedSchema) -> Vec<Incompatibility> {
    match (&consumer.model, &producer.model) {
        (Model::Avro(reader), Model::Avro(writer)) => crate::avro::compatibility::check(reader, writer, Role::New)
            .into_iter()
            .map(|mut p| {
                p.description = p
                    .description
                    .replace("in the new schema", "in the consumer's schema")
                    .replace("the old schema", "the producer's schema");
                p
            })
            .collect(),
        (Model::Protobuf(reader), Model::Protobuf(writer)) => {
            let mut found = Vec::new();
            if let (Some(consumer_file), Some(producer_file)) = (reader.file(), writer.file()) {
                for message in consumer_file.messages() {
                    match writer.pool.get_message_by_name(message.full_name()) {
                        Some(produced) => proto_message(&message, &produced, &format!("#/{}", message.name()), &mut found, 0),
                        None => found.push(finding(
                            "CONSUMED_MESSAGE_MISSING",
                            format!("#/{}", message.name()),
                            format!(
                                "The consumer reads message {} but the producer's schema (package '{}') has no such message",
                                message.full_name(),
                                producer_file.package_name()
                            ),
                        )),
                    }
                }
            }
            found
        }
        (Model::Json(reader), Model::Json(writer)) => {
            let mut found = Vec::new();
            json_properties(&reader.value, &writer.value, "#", &mut found, 0);
            found
        }
        _ => vec![finding(
            "SCHEMA_TYPE_CHANGED",
            "/".into(),
            format!("The consumer reads {} but the producer writes {}", consumer.schema_type, producer.schema_type),
        )],
    }
}

fn proto_kind(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!("message {}", m.full_name()),
        Kind::Enum(e) => format!("enum {}", e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn proto_message(
    consumer: &MessageDescriptor,
    producer: &MessageDescriptor,
    path: &str,
    found: &mut Vec<Incompatibility>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    for field in consumer.fields() {
        let field_path = format!("{path}/{}", field.name());
        let Some(produced) = producer.get_field(field.number()) else {
            found.push(finding(
                "CONSUMED_FIELD_MISSING",
                field_path,
                format!(
                    "The consumer reads field '{}' (number {}) of {} but the producer's schema has no field {}",
                    field.name(),
                    field.number(),
                    consumer.full_name(),
                    field.number()
                ),
            ));
            continue;
        };
        let readable = match (field.kind(), produced.kind()) {
            (Kind::Message(c), Kind::Message(p)) => {
                if c.full_name() == p.full_name() || c.name() == p.name() {
                    if !field.is_map() {
                        proto_message(&c, &p, &field_path, found, depth + 1);
                    }
                    true
                } else {
                    false
                }
            }
            (Kind::Enum(c), Kind::Enum(p)) => c.name() == p.name(),
            (c, p) => c == p || crate::protobuf::same_wire_group(&c, &p),
        };
        if !readable || field.is_list() != produced.is_list() {
            found.push(finding(
                "CONSUMED_FIELD_TYPE_CHANGED",
                field_path,
                format!(
                    "The consumer reads field '{}' (number {}) as {}{} but the producer writes {}{}",
                    field.name(),
                    field.number(),
                    if field.is_list() { "repeated " } else { "" },
                    proto_kind(&field.kind()),
                    if produced.is_list() { "repeated " } else { "" },
                    proto_kind(&produced.kind())
                ),
            ));
        }
    }
}

fn json_types(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(ts) => Some(ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()),
        _ => None,
    }
}

fn json_properties(consumer: &Value, producer: &Value, path: &str, found: &mut Vec<Incompatibility>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Some(consumed) = consumer.get("properties").and_then(Value::as_object) else { return };
    let produced = producer.get("properties").and_then(Value::as_object);
    for (name, wanted) in consumed {
        let field_path = format!("{path}/properties/{name}");
        let Some(written) = produced.and_then(|p| p.get(name)) else {
            found.push(finding(
                "CONSUMED_FIELD_MISSING",
                field_path,
                format!("The consumer reads property '{name}' but the producer's schema does not declare it"),
            ));
            continue;
        };
        if let (Some(accepts), Some(writes)) = (json_types(wanted), json_types(written)) {
            let readable =
                writes.iter().all(|t| accepts.contains(t) || (t == "integer" && accepts.iter().any(|a| a == "number")));
            if !readable {
                found.push(finding(
                    "CONSUMED_FIELD_TYPE_CHANGED",
                    field_path.clone(),
                    format!(
                        "The consumer reads property '{name}' as {} but the producer writes {}",
                        accepts.join("|"),
                        writes.join("|")
                    ),
                ));
                continue;
            }
        }
        json_properties(wanted, written, &field_path, found, depth + 1);
    }
}
