//! Schema tags, as Confluent's `POST /subjects/{s}/versions/{v}/tags` edits
//! them: a record (`sr_record`) or field (`sr_field`) named by its path gets
//! tags added or removed, and the schema's text is written back.
//!
//! Where tags live:
//! - Avro: a `confluent:tags` list on the record or field object; a record is
//!   named by its full or simple name, a field as `Record.field`.
//! - JSON Schema: a `confluent:tags` list on the object schema or property
//!   schema; the root is named `object` (or by its `title`), a property as
//!   `object.a`, nested properties as `object.a.b`.
//! - Protobuf: `(confluent.message_meta)` and `(confluent.field_meta)` option
//!   bodies (`tags: [...]`); a message by its (nested) name, a field as
//!   `Message.field`.
//!
//! Errors carry Confluent's messages, which name the Java exception. One
//! difference: Confluent gives a Protobuf file without a package the package
//! `null` when it tags it, renaming every type; Stele keeps the file's package.

use serde_json::{Map, Value};

use crate::protobuf::options::{TagTarget, merge_tags, modify_tags as modify_proto_tags};
use crate::schema::ParsedSchema;
use crate::types::SchemaType;

const TAGS: &str = "confluent:tags";

/// What an entity path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Record,
    Field,
}

impl EntityType {
    /// `sr_record` or `sr_field`.
    pub fn parse(raw: &str) -> Option<EntityType> {
        match raw {
            "sr_record" => Some(EntityType::Record),
            "sr_field" => Some(EntityType::Field),
            _ => None,
        }
    }
}

/// Tags to add to, or remove from, one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagChange {
    pub entity_type: EntityType,
    pub entity_path: String,
    pub tags: Vec<String>,
}

fn illegal(message: impl std::fmt::Display) -> String {
    format!("java.lang.IllegalArgumentException: {message}")
}

fn no_path(path: &str) -> String {
    illegal(format!("No matching path '{path}' found in the schema"))
}

/// Applies `add`, then `remove`, to a parsed schema (parsed with its
/// references, which a Protobuf file needs to resolve its imports), and
/// answers the new text (to be registered as a new version).
pub fn modify_tags(schema: &ParsedSchema, add: &[TagChange], remove: &[TagChange]) -> Result<String, String> {
    let changes = add.iter().map(|c| (c, true)).chain(remove.iter().map(|c| (c, false)));
    if let Some(proto) = schema.as_protobuf() {
        let mut file = proto.written.clone();
        for (change, adding) in changes {
            let target = match change.entity_type {
                EntityType::Record => TagTarget::Message,
                EntityType::Field => TagTarget::Field,
            };
            let (added, removed) = split(&change.tags, adding);
            modify_proto_tags(&mut file, target, &change.entity_path, added, removed).map_err(illegal)?;
        }
        // Confluent 7.9 writes `package null;` into a file without a package
        // here, which renames every type in it; Stele leaves the package out
        // (tests/conformance/tolerated.json).
        return Ok(crate::protobuf::render_file(&file));
    }
    let mut document: Value = serde_json::from_str(&schema.canonical).map_err(|e| illegal(e.to_string()))?;
    for (change, adding) in changes {
        let target = match schema.schema_type {
            SchemaType::Avro => avro_entity(&mut document, change)?,
            _ => json_entity(&mut document, change)?,
        };
        let (added, removed) = split(&change.tags, adding);
        set_tags(target, added, removed);
    }
    Ok(document.to_string())
}

fn split(tags: &[String], adding: bool) -> (&[String], &[String]) {
    if adding { (tags, &[]) } else { (&[], tags) }
}

/// Merges tags into an object's `confluent:tags`, dropping the key when none are left.
fn set_tags(object: &mut Map<String, Value>, add: &[String], remove: &[String]) {
    let current: Vec<String> = object
        .get(TAGS)
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let merged = merge_tags(current, add, remove);
    if merged.is_empty() {
        object.shift_remove(TAGS);
    } else {
        let list = Value::Array(merged.into_iter().map(Value::String).collect());
        match object.get_mut(TAGS) {
            Some(existing) => *existing = list,
            None => {
                object.insert(TAGS.to_owned(), list);
            }
        }
    }
}

/// The Avro record (or field object) a change names.
fn avro_entity<'a>(document: &'a mut Value, change: &TagChange) -> Result<&'a mut Map<String, Value>, String> {
    let path = change.entity_path.as_str();
    let (record_name, field) = match change.entity_type {
        EntityType::Record => (path, None),
        EntityType::Field => match path.rsplit_once('.') {
            Some((record, field)) => (record, Some(field)),
            // Java's substring on a missing separator.
            None => return Err(illegal("0 > -1")),
        },
    };
    let record = find_record(document, "", record_name).ok_or_else(|| no_path(path))?;
    match field {
        None => Ok(record),
        Some(field) => record
            .get_mut("fields")
            .and_then(Value::as_array_mut)
            .and_then(|fields| fields.iter_mut().find(|f| f.get("name").and_then(Value::as_str) == Some(field)))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| no_path(path)),
    }
}

/// The record named `wanted` (full or simple name) anywhere in `schema`.
fn find_record<'a>(schema: &'a mut Value, namespace: &str, wanted: &str) -> Option<&'a mut Map<String, Value>> {
    match schema {
        Value::Array(branches) => branches.iter_mut().find_map(|b| find_record(b, namespace, wanted)),
        Value::Object(object) => {
            let name = object.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let own_namespace = object.get("namespace").and_then(Value::as_str).map(str::to_owned);
            let (full, inner_namespace) = if name.contains('.') {
                let namespace = name.rsplit_once('.').map(|(n, _)| n.to_owned()).unwrap_or_default();
                (name.clone(), namespace)
            } else {
                let namespace = own_namespace.unwrap_or_else(|| namespace.to_owned());
                let full = if namespace.is_empty() { name.clone() } else { format!("{namespace}.{name}") };
                (full, namespace)
            };
            let simple = full.rsplit('.').next().unwrap_or_default().to_owned();
            let is_record = object.get("type").and_then(Value::as_str) == Some("record");
            if is_record && (full == wanted || simple == wanted) {
                return Some(object);
            }
            if is_record {
                let fields = object.get_mut("fields")?.as_array_mut()?;
                return fields
                    .iter_mut()
                    .filter_map(|f| f.get_mut("type"))
                    .find_map(|t| find_record(t, &inner_namespace, wanted));
            }
            // An array's items, a map's values, or a type written as an object.
            let key =
                ["items", "values", "type"].into_iter().find(|key| object.get(*key).is_some_and(|v| !v.is_string()))?;
            find_record(object.get_mut(key)?, namespace, wanted)
        }
        _ => None,
    }
}

/// The JSON Schema object (or property schema) a change names.
fn json_entity<'a>(document: &'a mut Value, change: &TagChange) -> Result<&'a mut Map<String, Value>, String> {
    let path = change.entity_path.as_str();
    let mut segments = path.split('.');
    let root_name = segments.next().unwrap_or_default();
    let root = document.as_object_mut().ok_or_else(|| no_path(path))?;
    let title = root.get("title").and_then(Value::as_str);
    if root_name != "object" && title != Some(root_name) {
        return Err(no_path(path));
    }
    let mut current = root;
    for segment in segments {
        current = current
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .and_then(|properties| properties.get_mut(segment))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| no_path(path))?;
    }
    let is_field = path.contains('.');
    match (change.entity_type, is_field) {
        (EntityType::Field, false) => Err(no_path(path)),
        _ => Ok(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` without references, then edits its tags.
    fn tag(schema_type: SchemaType, text: &str, add: &[TagChange], remove: &[TagChange]) -> Result<String, String> {
        let schema = crate::parse(schema_type, text, &[], false).map_err(|e| e.to_string())?;
        modify_tags(&schema, add, remove)
    }

    fn change(entity_type: EntityType, path: &str, tags: &[&str]) -> TagChange {
        TagChange { entity_type, entity_path: path.to_owned(), tags: tags.iter().map(|t| (*t).to_owned()).collect() }
    }

    #[test]
    fn avro_tags_go_on_fields_and_records_by_full_or_simple_name() {
        let text = r#"{"type":"record","name":"Dep","namespace":"com.x","fields":[{"name":"v","type":"int"}]}"#;
        let tagged =
            tag(SchemaType::Avro, text, &[change(EntityType::Field, "com.x.Dep.v", &["N"])], &[]).expect("tagged");
        assert_eq!(
            tagged,
            r#"{"type":"record","name":"Dep","namespace":"com.x","fields":[{"name":"v","type":"int","confluent:tags":["N"]}]}"#
        );
        let both = tag(
            SchemaType::Avro,
            &tagged,
            &[change(EntityType::Record, "Dep", &["R"]), change(EntityType::Field, "Dep.v", &["X", "N"])],
            &[],
        )
        .expect("tagged");
        assert!(both.ends_with(r#""confluent:tags":["N","X"]}],"confluent:tags":["R"]}"#), "{both}");
        let removed =
            tag(SchemaType::Avro, &both, &[], &[change(EntityType::Field, "Dep.v", &["N", "X"])]).expect("untagged");
        assert!(!removed.contains(r#""type":"int","confluent"#), "{removed}");
    }

    #[test]
    fn unknown_paths_get_confluents_messages() {
        let text = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;
        let error = |path: &str, entity| tag(SchemaType::Avro, text, &[change(entity, path, &["X"])], &[]);
        assert_eq!(
            error("User.nope", EntityType::Field).unwrap_err(),
            "java.lang.IllegalArgumentException: No matching path 'User.nope' found in the schema"
        );
        assert_eq!(error("User", EntityType::Field).unwrap_err(), "java.lang.IllegalArgumentException: 0 > -1");
        let json = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let tagged = tag(SchemaType::Json, json, &[change(EntityType::Field, "object.a", &["PII"])], &[]);
        assert_eq!(
            tagged.as_deref(),
            Ok(r#"{"type":"object","properties":{"a":{"type":"string","confluent:tags":["PII"]}}}"#)
        );
        let bare = tag(SchemaType::Json, json, &[change(EntityType::Field, "a", &["PII"])], &[]);
        assert_eq!(bare.unwrap_err(), "java.lang.IllegalArgumentException: No matching path 'a' found in the schema");
    }

    #[test]
    fn protobuf_tags_are_option_bodies_printed_as_confluent_prints_them() {
        let text = "syntax = \"proto3\";\npackage p.q;\nmessage M {\n  string a = 1;\n}\n";
        let tagged =
            tag(SchemaType::Protobuf, text, &[change(EntityType::Field, "M.a", &["PII"])], &[]).expect("tagged");
        assert_eq!(
            tagged,
            "syntax = \"proto3\";\npackage p.q;\n\nmessage M {\n  string a = 1 [(confluent.field_meta) = {\n    tags: [\n      \"PII\"\n    ]\n  }];\n}\n"
        );
        let record =
            tag(SchemaType::Protobuf, &tagged, &[change(EntityType::Record, "M", &["R"])], &[]).expect("tagged");
        assert_eq!(
            record,
            "syntax = \"proto3\";\npackage p.q;\n\nmessage M {\n  option (confluent.message_meta) = {\n    tags: [\n      \"R\"\n    ]\n  };\n\n  string a = 1 [(confluent.field_meta) = {\n    tags: [\n      \"PII\"\n    ]\n  }];\n}\n"
        );
        let error = tag(SchemaType::Protobuf, text, &[change(EntityType::Field, "M.nope", &["X"])], &[]);
        assert_eq!(
            error.unwrap_err(),
            "java.lang.IllegalArgumentException: No matching Field with name 'nope' found in the schema"
        );
    }

    #[test]
    fn a_protobuf_file_that_imports_a_reference_is_tagged_with_its_imports_resolved() {
        let dependency = crate::types::ResolvedReference {
            name: "dep.proto".to_owned(),
            schema_type: SchemaType::Protobuf,
            schema: "syntax = \"proto3\";\npackage dep;\nmessage D {\n  int32 v = 1;\n}\n".to_owned(),
            references: Vec::new(),
        };
        let text = "syntax = \"proto3\";\nimport \"dep.proto\";\nmessage H {\n  dep.D d = 1;\n}\n";
        let schema = crate::parse(SchemaType::Protobuf, text, &[dependency], false).expect("parses with its reference");
        let tagged = modify_tags(&schema, &[change(EntityType::Field, "H.d", &["PII"])], &[]).expect("tagged");
        assert!(tagged.contains("import \"dep.proto\";"), "{tagged}");
        assert!(tagged.contains("dep.D d = 1 [(confluent.field_meta) = {"), "{tagged}");
    }
}
