//! Validation of example payloads against a schema, each problem with the
//! JSON pointer of the offending value: JSON documents for JSON Schema, Avro's
//! JSON encoding for Avro, and the Protobuf JSON mapping (of the file's first
//! message) for Protobuf.

use serde_json::Value;

use crate::avro::{NamedKind, Node, Primitive, Schema as Avro};
use crate::schema::{Model, ParsedSchema};
use crate::types::SchemaError;

/// Every problem of `payload` under `schema`; empty when it is valid.
pub fn validate(schema: &ParsedSchema, payload: &Value) -> Result<Vec<String>, SchemaError> {
    match &schema.model {
        Model::Json(json) => json.validate_payload(payload),
        Model::Avro(avro) => {
            let mut problems = Vec::new();
            avro_value(avro, &avro.root, payload, "", &mut problems, 0);
            Ok(problems)
        }
        Model::Protobuf(proto) => {
            let Some(message) = proto.file().and_then(|f| f.messages().next()) else {
                return Err(SchemaError::invalid("the Protobuf schema has no message to read the payload as"));
            };
            let text = payload.to_string();
            let mut deserializer = serde_json::Deserializer::from_str(&text);
            Ok(match prost_reflect::DynamicMessage::deserialize(message.clone(), &mut deserializer) {
                Ok(_) => Vec::new(),
                Err(error) => {
                    vec![format!("/: not a valid {} in the Protobuf JSON mapping: {error}", message.full_name())]
                }
            })
        }
    }
}

fn pointer(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn avro_type_name(avro: &Avro, node: &Node) -> String {
    match node {
        Node::Primitive(p, _) => p.name().to_owned(),
        Node::Array(..) => "array".into(),
        Node::Map(..) => "map".into(),
        Node::Union(_) => "union".into(),
        Node::Named(index) => avro.named[*index].full_name(),
    }
}

fn avro_value(avro: &Avro, node: &Node, value: &Value, path: &str, problems: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!("{}: expected {what}, found {value}", pointer(path)));
        }
    };
    match node {
        Node::Primitive(primitive, _) => match primitive {
            Primitive::Null => expect(value.is_null(), "null"),
            Primitive::Boolean => expect(value.is_boolean(), "a boolean"),
            Primitive::Int => expect(value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()), "an int"),
            Primitive::Long => expect(value.is_i64() || value.is_u64(), "a long"),
            Primitive::Float | Primitive::Double => expect(value.is_number(), "a number"),
            Primitive::Bytes | Primitive::String => expect(value.is_string(), "a string"),
        },
        Node::Array(items, _) => match value.as_array() {
            Some(values) => {
                for (i, item) in values.iter().enumerate() {
                    avro_value(avro, items, item, &format!("{path}/{i}"), problems, depth + 1);
                }
            }
            None => expect(false, "an array"),
        },
        Node::Map(values_type, _) => match value.as_object() {
            Some(map) => {
                for (key, item) in map {
                    avro_value(avro, values_type, item, &format!("{path}/{key}"), problems, depth + 1);
                }
            }
            None => expect(false, "an object (map)"),
        },
        Node::Union(branches) => {
            if value.is_null() {
                let has_null = branches.iter().any(|b| matches!(b, Node::Primitive(Primitive::Null, _)));
                expect(has_null, "a union without null to be given a branch");
                return;
            }
            // Avro's JSON encoding wraps a non-null union value as {"<type name>": value}.
            let Some((name, inner)) = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next()) else {
                expect(false, "a union value written as {\"<type>\": value}");
                return;
            };
            match branches.iter().find(|b| {
                let full = avro_type_name(avro, b);
                full == *name || full.rsplit('.').next() == Some(name.as_str())
            }) {
                Some(branch) => avro_value(avro, branch, inner, &format!("{path}/{name}"), problems, depth + 1),
                None => problems.push(format!("{}: the union has no branch named {name}", pointer(path))),
            }
        }
        Node::Named(index) => {
            let named = &avro.named[*index];
            match &named.kind {
                NamedKind::Enum { symbols, .. } => {
                    expect(
                        value.as_str().is_some_and(|s| symbols.iter().any(|x| x == s)),
                        &format!("one of {symbols:?}"),
                    );
                }
                NamedKind::Fixed { size } => {
                    expect(
                        value.as_str().is_some_and(|s| s.chars().count() as u64 == *size),
                        &format!("a string of {size} bytes"),
                    );
                }
                NamedKind::Record { fields, .. } => {
                    let Some(object) = value.as_object() else {
                        expect(false, &format!("an object ({})", named.full_name()));
                        return;
                    };
                    for field in fields {
                        let field_path = format!("{path}/{}", field.name);
                        match object.get(&field.name) {
                            Some(item) => avro_value(avro, &field.ty, item, &field_path, problems, depth + 1),
                            None if field.default.is_some() => {}
                            None => {
                                problems
                                    .push(format!("{field_path}: missing field {} (it has no default)", field.name));
                            }
                        }
                    }
                    for key in object.keys() {
                        if !fields.iter().any(|f| &f.name == key) {
                            problems.push(format!("{path}/{key}: {} has no field {key}", named.full_name()));
                        }
                    }
                }
            }
        }
    }
}
