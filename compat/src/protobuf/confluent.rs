//! Confluent's Protobuf compatibility rules (its difference types and verdicts).
//!
//! Messages are matched by name, fields by number across the whole message
//! (oneof members pooled). Compatible differences (a field added or removed,
//! renamed, an enum changed) are not reported; every incompatible one is.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};

use super::ProtoSchema;
use crate::finding::{Incompatibility, Role};

/// One Confluent Protobuf rule: its id and what it checks.
pub struct Rule {
    pub id: &'static str,
    pub summary: &'static str,
}

/// The incompatible difference types this checker reports.
pub const RULES: &[Rule] = &[
    Rule { id: "PACKAGE_CHANGED", summary: "the file's package changed, so every full type name changed" },
    Rule { id: "MESSAGE_REMOVED", summary: "a message was removed; data written with it can no longer be resolved" },
    Rule { id: "FIELD_KIND_CHANGED", summary: "a field changed between scalar, message and map" },
    Rule { id: "FIELD_SCALAR_KIND_CHANGED", summary: "a scalar field changed to a type with another wire encoding" },
    Rule { id: "FIELD_NAMED_TYPE_CHANGED", summary: "a message field now refers to another message type" },
    Rule { id: "FIELD_NUMERIC_LABEL_CHANGED", summary: "a numeric field changed between singular and repeated" },
    Rule { id: "REQUIRED_FIELD_ADDED", summary: "a required field was added" },
    Rule { id: "REQUIRED_FIELD_REMOVED", summary: "a required field was removed" },
    Rule { id: "ONEOF_FIELD_REMOVED", summary: "a member of a oneof was removed" },
    Rule { id: "MULTIPLE_FIELDS_MOVED_TO_ONEOF", summary: "several existing fields were moved into one oneof" },
    Rule { id: "FIELD_MOVED_TO_EXISTING_ONEOF", summary: "an existing field was moved into an existing oneof" },
];

pub fn check(original: &ProtoSchema, update: &ProtoSchema, reader_role: Role) -> Vec<Incompatibility> {
    let (Some(original_file), Some(update_file)) = (original.file(), update.file()) else {
        return Vec::new();
    };
    let mut diff = Diff { role: reader_role, found: Vec::new(), visiting: HashSet::new() };
    if original_file.package_name() != update_file.package_name() {
        diff.report("PACKAGE_CHANGED", "#/".to_owned());
    }
    let update_messages: BTreeMap<String, MessageDescriptor> =
        update_file.messages().map(|m| (m.name().to_owned(), m)).collect();
    for message in original_file.messages() {
        let path = format!("#/{}", message.name());
        match update_messages.get(message.name()) {
            Some(updated) => diff.message(&path, &message, updated, false),
            None => diff.report("MESSAGE_REMOVED", path),
        }
    }
    diff.found
}

struct Diff {
    role: Role,
    found: Vec<Incompatibility>,
    /// Message pairs being compared further up: a recursive type met again is skipped.
    visiting: HashSet<(String, String)>,
}

/// Confluent's field kinds: scalars (enums included), messages and maps.
fn kind_group(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        "MAP"
    } else if matches!(field.kind(), Kind::Message(_)) {
        "MESSAGE"
    } else {
        "SCALAR"
    }
}

/// Scalar types within one group share a wire encoding and may replace each other.
pub(super) fn scalar_group(kind: &Kind) -> &'static str {
    match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => "GENERAL_NUMBER",
        Kind::Sint32 | Kind::Sint64 => "SIGNED_NUMBER",
        Kind::String | Kind::Bytes => "STRING_OR_BYTES",
        Kind::Fixed32 | Kind::Sfixed32 => "FIXED32",
        Kind::Fixed64 | Kind::Sfixed64 => "FIXED64",
        Kind::Float => "FLOAT",
        Kind::Double => "DOUBLE",
        Kind::Message(_) => "MESSAGE",
    }
}

/// Whether the author wrote a label: proto2 always, proto3 for `optional` and `repeated`.
fn explicit_label(field: &FieldDescriptor) -> Option<Cardinality> {
    let proto = field.field_descriptor_proto();
    let proto2 = field.parent_file().file_descriptor_proto().syntax() != "proto3";
    (proto2 || proto.proto3_optional() || field.is_list()).then(|| field.cardinality())
}

/// The oneof a field really belongs to (not a proto3 `optional`'s synthetic one).
fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_owned())
}

/// A message's name with its file's package removed.
fn local_name(message: &MessageDescriptor) -> String {
    let package = message.package_name();
    let full = message.full_name();
    if package.is_empty() {
        full.to_owned()
    } else {
        full.strip_prefix(&format!("{package}.")).unwrap_or(full).to_owned()
    }
}

impl Diff {
    fn report(&mut self, rule: &'static str, path: String) {
        let (reader, writer) = (self.role.word(), self.role.other().word());
        let description = match rule {
            "FIELD_SCALAR_KIND_CHANGED" => format!(
                "The kind of a SCALAR field at path '{path}' in the {reader} schema does not match its kind in the {writer} schema"
            ),
            "FIELD_KIND_CHANGED" => format!(
                "The kind of a field at path '{path}' in the {reader} schema does not match its kind in the {writer} schema"
            ),
            "FIELD_NAMED_TYPE_CHANGED" => format!(
                "The type of a MESSAGE field at path '{path}' in the {reader} schema does not match its type in the {writer} schema"
            ),
            "FIELD_NUMERIC_LABEL_CHANGED" => format!(
                "The label for a NUMERIC field at path '{path}' in the {reader} schema does not match its label in the {writer} schema"
            ),
            "PACKAGE_CHANGED" => format!(
                "The package at '{path}' in the {reader} schema does not match the package in the {writer} schema"
            ),
            "MESSAGE_REMOVED" => {
                format!("The {reader} schema is missing a message at path '{path}' in the {writer} schema")
            }
            "REQUIRED_FIELD_ADDED" => {
                format!("The {reader} schema has a new required field at path '{path}'")
            }
            "REQUIRED_FIELD_REMOVED" => {
                format!("The {reader} schema is missing a required field at path '{path}' in the {writer} schema")
            }
            "ONEOF_FIELD_REMOVED" => {
                format!("The {reader} schema is missing a oneof field at path '{path}' in the {writer} schema")
            }
            "MULTIPLE_FIELDS_MOVED_TO_ONEOF" => format!(
                "Multiple fields in the oneof at path '{path}' in the {reader} schema are outside a single oneof in the {writer} schema"
            ),
            _ => format!(
                "A field in the oneof at path '{path}' in the {reader} schema was moved from outside that oneof in the {writer} schema"
            ),
        };
        self.found.push(Incompatibility::with_error_type(rule, path, description));
    }

    fn message(&mut self, path: &str, original: &MessageDescriptor, update: &MessageDescriptor, imported: bool) {
        let key = (original.full_name().to_owned(), update.full_name().to_owned());
        if !self.visiting.insert(key.clone()) {
            return;
        }
        let update_fields: BTreeMap<u32, FieldDescriptor> = update.fields().map(|f| (f.number(), f)).collect();
        let original_fields: BTreeMap<u32, FieldDescriptor> = original.fields().map(|f| (f.number(), f)).collect();
        let field_path = |field: &FieldDescriptor| match real_oneof(field) {
            Some(oneof) => format!("{path}/{oneof}/{}", field.number()),
            None => format!("{path}/{}", field.number()),
        };
        for (number, field) in &original_fields {
            match update_fields.get(number) {
                Some(updated) => self.field(&field_path(updated), field, updated),
                None => {
                    if field.cardinality() == Cardinality::Required {
                        self.report("REQUIRED_FIELD_REMOVED", field_path(field));
                    } else if let Some(oneof) = real_oneof(field) {
                        // Removing a whole oneof, none of whose members survive, is allowed.
                        let survivors = original
                            .fields()
                            .filter(|f| real_oneof(f).as_deref() == Some(oneof.as_str()))
                            .any(|f| update_fields.contains_key(&f.number()));
                        let oneof_kept = update.oneofs().any(|o| o.name() == oneof && !o.is_synthetic());
                        if survivors || oneof_kept {
                            self.report("ONEOF_FIELD_REMOVED", field_path(field));
                        }
                    }
                }
            }
        }
        for (number, field) in &update_fields {
            if !original_fields.contains_key(number) && field.cardinality() == Cardinality::Required {
                self.report("REQUIRED_FIELD_ADDED", field_path(field));
            }
        }
        for oneof in update.oneofs().filter(|o| !o.is_synthetic()) {
            // Each top-level field was its own group; a oneof's members were one.
            let mut groups: BTreeSet<String> = BTreeSet::new();
            let mut top_level = 0;
            for field in oneof.fields() {
                if let Some(before) = original_fields.get(&field.number()) {
                    if let Some(oneof) = real_oneof(before) {
                        groups.insert(format!("oneof {oneof}"))
                    } else {
                        top_level += 1;
                        groups.insert(format!("field {}", before.number()))
                    };
                }
            }
            if groups.len() > 1 {
                let path = format!("{path}/{}", oneof.name());
                if top_level > 1 {
                    self.report("MULTIPLE_FIELDS_MOVED_TO_ONEOF", path);
                } else {
                    self.report("FIELD_MOVED_TO_EXISTING_ONEOF", path);
                }
            }
        }
        if !imported {
            let update_nested: BTreeMap<String, MessageDescriptor> =
                update.child_messages().filter(|m| !m.is_map_entry()).map(|m| (m.name().to_owned(), m)).collect();
            for nested in original.child_messages().filter(|m| !m.is_map_entry()) {
                let nested_path = format!("{path}/{}", nested.name());
                match update_nested.get(nested.name()) {
                    Some(updated) => self.message(&nested_path, &nested, updated, false),
                    None => self.report("MESSAGE_REMOVED", nested_path),
                }
            }
        }
        self.visiting.remove(&key);
    }

    fn field(&mut self, path: &str, original: &FieldDescriptor, update: &FieldDescriptor) {
        let (original_group, update_group) = (kind_group(original), kind_group(update));
        if original_group != update_group {
            self.report("FIELD_KIND_CHANGED", path.to_owned());
            return;
        }
        match (original.kind(), update.kind()) {
            (Kind::Message(o), Kind::Message(u)) => {
                if original.is_map() {
                    let (ok, uk) = (o.map_entry_key_field(), u.map_entry_key_field());
                    let (ov, uv) = (o.map_entry_value_field(), u.map_entry_value_field());
                    self.field(path, &ok, &uk);
                    self.field(path, &ov, &uv);
                    return;
                }
                if local_name(&o) != local_name(&u) {
                    self.report("FIELD_NAMED_TYPE_CHANGED", path.to_owned());
                    return;
                }
                // Types of this file are compared by the top-level pass; imported ones here.
                let imported = o.parent_file().name() != super::MAIN_FILE || u.parent_file().name() != super::MAIN_FILE;
                if imported {
                    let before = self.found.len();
                    self.message(path, &o, &u, true);
                    if self.found.len() > before {
                        self.report("FIELD_NAMED_TYPE_CHANGED", path.to_owned());
                    }
                }
            }
            (o, u) => {
                if scalar_group(&o) != scalar_group(&u) {
                    self.report("FIELD_SCALAR_KIND_CHANGED", path.to_owned());
                    return;
                }
                let numeric = !matches!(o, Kind::String | Kind::Bytes);
                if numeric
                    && let (Some(ol), Some(ul)) = (explicit_label(original), explicit_label(update))
                    && (ol == Cardinality::Repeated) != (ul == Cardinality::Repeated)
                {
                    self.report("FIELD_NUMERIC_LABEL_CHANGED", path.to_owned());
                }
            }
        }
    }
}
