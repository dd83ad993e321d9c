//! One function per buf rule id, and the table that registers them.

#![expect(non_snake_case, reason = "each rule's function is named after its buf rule id")]

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{EnumDescriptor, FileDescriptor, Kind, MessageDescriptor, Value};
use prost_types::field_descriptor_proto::Type;

use super::Category::{File, Package, Wire, WireJson};
use super::{
    Category, Field, FieldCardinality, Findings, Pair, Rule, element_path, enums_of, extensions_of, is_proto3,
    messages_of, nested_name,
};

const F: &[Category] = &[File];
const FP: &[Category] = &[File, Package];
const FPJ: &[Category] = &[File, Package, WireJson];
const FPJW: &[Category] = &[File, Package, WireJson, Wire];
const P: &[Category] = &[Package];
const J: &[Category] = &[WireJson];
const JW: &[Category] = &[WireJson, Wire];
const W: &[Category] = &[Wire];

macro_rules! rules {
    ($($id:ident $categories:ident $summary:literal;)*) => {
        /// Every buf breaking rule of buf's v2 configuration, with its categories.
        pub const RULES: &[Rule] = &[
            $(Rule { id: stringify!($id), categories: $categories, summary: $summary, check: $id },)*
        ];
    };
}

rules! {
    ENUM_NO_DELETE F "an enum was deleted from a file";
    ENUM_SAME_JSON_FORMAT FPJ "an enum no longer supports JSON (proto3 to proto2)";
    ENUM_SAME_TYPE FP "an enum changed between open (proto3) and closed (proto2)";
    ENUM_VALUE_NO_DELETE FP "an enum value was deleted";
    ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED J "an enum value was deleted without reserving its name";
    ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED JW "an enum value was deleted without reserving its number";
    ENUM_VALUE_SAME_NAME FPJ "an enum number now has another name";
    EXTENSION_MESSAGE_NO_DELETE FP "an extension range was deleted from a message";
    EXTENSION_NO_DELETE F "an extension was deleted from a file";
    FIELD_NO_DELETE FP "a field was deleted";
    FIELD_NO_DELETE_UNLESS_NAME_RESERVED J "a field was deleted without reserving its name";
    FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED JW "a field was deleted without reserving its number";
    FIELD_SAME_CARDINALITY FP "a field changed cardinality (implicit or explicit presence, required, repeated, map)";
    FIELD_SAME_CPP_STRING_TYPE FP "a string or bytes field changed its C++ string type (ctype)";
    FIELD_SAME_DEFAULT FPJW "a field's default value changed";
    FIELD_SAME_JAVA_UTF8_VALIDATION FP "a string field changed its Java UTF-8 validation";
    FIELD_SAME_JSON_NAME FPJ "a field's JSON name changed";
    FIELD_SAME_JSTYPE FP "a 64-bit integer field changed its jstype option";
    FIELD_SAME_NAME FPJ "a field number now has another name";
    FIELD_SAME_ONEOF FPJW "a field moved into, out of or between oneofs";
    FIELD_SAME_TYPE FP "a field's type changed";
    FIELD_SAME_UTF8_VALIDATION FP "a string field changed its UTF-8 validation";
    FIELD_WIRE_COMPATIBLE_CARDINALITY W "a field's cardinality changed in a way the binary encoding cannot read";
    FIELD_WIRE_COMPATIBLE_TYPE W "a field's type changed to one with another binary encoding";
    FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY J "a field's cardinality changed in a way the binary or JSON encoding cannot read";
    FIELD_WIRE_JSON_COMPATIBLE_TYPE J "a field's type changed to one with another binary or JSON encoding";
    FILE_NO_DELETE F "a file was deleted";
    FILE_SAME_CC_ENABLE_ARENAS FP "file option cc_enable_arenas changed";
    FILE_SAME_CC_GENERIC_SERVICES FP "file option cc_generic_services changed";
    FILE_SAME_CSHARP_NAMESPACE FP "file option csharp_namespace changed";
    FILE_SAME_GO_PACKAGE FP "file option go_package changed";
    FILE_SAME_JAVA_GENERIC_SERVICES FP "file option java_generic_services changed";
    FILE_SAME_JAVA_MULTIPLE_FILES FP "file option java_multiple_files changed";
    FILE_SAME_JAVA_OUTER_CLASSNAME FP "file option java_outer_classname changed";
    FILE_SAME_JAVA_PACKAGE FP "file option java_package changed";
    FILE_SAME_OBJC_CLASS_PREFIX FP "file option objc_class_prefix changed";
    FILE_SAME_OPTIMIZE_FOR FP "file option optimize_for changed";
    FILE_SAME_PACKAGE FPJW "the file's package changed";
    FILE_SAME_PHP_CLASS_PREFIX FP "file option php_class_prefix changed";
    FILE_SAME_PHP_METADATA_NAMESPACE FP "file option php_metadata_namespace changed";
    FILE_SAME_PHP_NAMESPACE FP "file option php_namespace changed";
    FILE_SAME_PY_GENERIC_SERVICES FP "file option py_generic_services changed";
    FILE_SAME_RUBY_PACKAGE FP "file option ruby_package changed";
    FILE_SAME_SWIFT_PREFIX FP "file option swift_prefix changed";
    FILE_SAME_SYNTAX FP "the file's syntax changed";
    MESSAGE_NO_DELETE F "a message was deleted from a file";
    MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR FP "a message turned on no_standard_descriptor_accessor";
    MESSAGE_SAME_JSON_FORMAT FPJ "a message no longer supports JSON (proto3 to proto2)";
    MESSAGE_SAME_REQUIRED_FIELDS FPJW "a required field was added or deleted";
    ONEOF_NO_DELETE FP "a oneof was deleted";
    PACKAGE_ENUM_NO_DELETE P "an enum was deleted from a package";
    PACKAGE_EXTENSION_NO_DELETE P "an extension was deleted from a package";
    PACKAGE_MESSAGE_NO_DELETE P "a message was deleted from a package";
    PACKAGE_NO_DELETE P "a package was deleted";
    PACKAGE_SERVICE_NO_DELETE P "a service was deleted from a package";
    RESERVED_ENUM_NO_DELETE FPJW "a reserved range or name was deleted from an enum";
    RESERVED_MESSAGE_NO_DELETE FPJW "a reserved range or name was deleted from a message";
    RPC_NO_DELETE FP "an RPC was deleted from a service";
    RPC_SAME_CLIENT_STREAMING FPJW "an RPC changed between unary and client streaming";
    RPC_SAME_IDEMPOTENCY_LEVEL FPJW "an RPC's idempotency_level changed";
    RPC_SAME_REQUEST_TYPE FPJW "an RPC's request type changed";
    RPC_SAME_RESPONSE_TYPE FPJW "an RPC's response type changed";
    RPC_SAME_SERVER_STREAMING FPJW "an RPC changed between unary and server streaming";
    SERVICE_NO_DELETE F "a service was deleted from a file";
}

// ---- Deletions within a file --------------------------------------------------------------

/// Nested names (package removed) of every message in a file, map entries included.
fn file_messages(file: &FileDescriptor) -> BTreeSet<String> {
    messages_of(file).iter().map(|m| nested_name(m.full_name(), file.package_name())).collect()
}

fn file_enums(file: &FileDescriptor) -> BTreeSet<String> {
    enums_of(file).iter().map(|e| nested_name(e.full_name(), file.package_name())).collect()
}

fn file_extensions(file: &FileDescriptor) -> BTreeSet<String> {
    extensions_of(file).iter().map(|e| nested_name(e.full_name(), file.package_name())).collect()
}

fn file_services(file: &FileDescriptor) -> BTreeSet<String> {
    file.services().map(|s| s.name().to_owned()).collect()
}

/// Reports each element `names` finds in a previous file but not in its current one.
fn deleted_from_file(pair: &Pair, out: &mut Findings, what: &str, names: fn(&FileDescriptor) -> BTreeSet<String>) {
    for (previous, current) in &pair.files {
        let kept = names(current);
        for name in names(previous).difference(&kept) {
            // A registry subject's file is unnamed ("default"); named files are buf modules.
            let file = if previous.name() == super::super::MAIN_FILE {
                String::new()
            } else {
                format!(" {}", previous.name())
            };
            out.add(format!("#/{}", name.replace('.', "/")), format!("The {what} {name} was deleted from file{file}."));
        }
    }
}

fn ENUM_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_file(pair, out, "enum", file_enums);
}

fn EXTENSION_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_file(pair, out, "extension", file_extensions);
}

fn MESSAGE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_file(pair, out, "message", file_messages);
}

fn SERVICE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_file(pair, out, "service", file_services);
}

fn FILE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    for path in pair.previous.files.keys().filter(|p| !pair.current.files.contains_key(*p)) {
        out.add(format!("#/{path}"), format!("The file {path} was deleted."));
    }
}

// ---- Deletions within a package ------------------------------------------------------------

/// For every package: the union over its files of what `names` lists. Unless
/// `keep_empty`, a package with none of those elements is left out, as buf leaves
/// it out for messages, enums and extensions (but not for services).
fn by_package(
    files: &BTreeMap<String, FileDescriptor>,
    names: fn(&FileDescriptor) -> BTreeSet<String>,
    keep_empty: bool,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.values() {
        let found = names(file);
        if keep_empty || !found.is_empty() {
            packages.entry(file.package_name().to_owned()).or_default().extend(found);
        }
    }
    packages
}

/// Reports each element gone from a package that still exists and, unless
/// `keep_empty`, still holds elements of its kind (buf does not check a package
/// that lost all its enums for deleted enums; it does check one that lost all its services).
fn deleted_from_package(
    pair: &Pair,
    out: &mut Findings,
    what: &str,
    names: fn(&FileDescriptor) -> BTreeSet<String>,
    keep_empty: bool,
) {
    let current = by_package(&pair.current.files, names, keep_empty);
    for (package, previous_names) in by_package(&pair.previous.files, names, keep_empty) {
        let Some(kept) = current.get(&package) else { continue };
        for name in previous_names.difference(kept) {
            out.add(
                format!("#/{}", name.replace('.', "/")),
                format!("The {what} {name} was deleted from package \"{package}\"."),
            );
        }
    }
}

fn PACKAGE_ENUM_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_package(pair, out, "enum", file_enums, false);
}

fn PACKAGE_EXTENSION_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_package(pair, out, "extension", file_extensions, false);
}

fn PACKAGE_MESSAGE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_package(pair, out, "message", file_messages, false);
}

fn PACKAGE_SERVICE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_from_package(pair, out, "service", file_services, true);
}

fn PACKAGE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    let current: BTreeSet<&str> = pair.current.files.values().map(FileDescriptor::package_name).collect();
    let previous: BTreeSet<&str> = pair.previous.files.values().map(FileDescriptor::package_name).collect();
    for package in previous.difference(&current) {
        out.add(
            "#/package".to_owned(),
            format!("The package \"{package}\" was deleted: no file declares it any more."),
        );
    }
}

// ---- Files ---------------------------------------------------------------------------------

fn FILE_SAME_PACKAGE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.files {
        if previous.package_name() != current.package_name() {
            out.add(
                "#/package".to_owned(),
                format!(
                    "The package changed from \"{}\" to \"{}\": every type's full name changed.",
                    previous.package_name(),
                    current.package_name()
                ),
            );
        }
    }
}

fn syntax_of(file: &FileDescriptor) -> &str {
    match file.file_descriptor_proto().syntax() {
        "" => "proto2",
        other => other,
    }
}

fn FILE_SAME_SYNTAX(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.files {
        let (before, after) = (syntax_of(previous), syntax_of(current));
        if before != after {
            out.add("#/syntax".to_owned(), format!("The syntax changed from {before} to {after}."));
        }
    }
}

/// Reports a file option whose value (as `value` reads it, defaults applied) changed.
fn file_option(pair: &Pair, out: &mut Findings, option: &str, value: fn(&prost_types::FileOptions) -> String) {
    let default = prost_types::FileOptions::default();
    for (previous, current) in &pair.files {
        let read = |file: &FileDescriptor| value(file.file_descriptor_proto().options.as_ref().unwrap_or(&default));
        let (before, after) = (read(previous), read(current));
        if before != after {
            out.add(
                format!("#/option {option}"),
                format!("File option {option} changed from \"{before}\" to \"{after}\"."),
            );
        }
    }
}

fn FILE_SAME_CC_ENABLE_ARENAS(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "cc_enable_arenas", |o| o.cc_enable_arenas().to_string());
}

fn FILE_SAME_CC_GENERIC_SERVICES(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "cc_generic_services", |o| o.cc_generic_services().to_string());
}

fn FILE_SAME_CSHARP_NAMESPACE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "csharp_namespace", |o| o.csharp_namespace().to_owned());
}

fn FILE_SAME_GO_PACKAGE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "go_package", |o| o.go_package().to_owned());
}

fn FILE_SAME_JAVA_GENERIC_SERVICES(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "java_generic_services", |o| o.java_generic_services().to_string());
}

fn FILE_SAME_JAVA_MULTIPLE_FILES(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "java_multiple_files", |o| o.java_multiple_files().to_string());
}

fn FILE_SAME_JAVA_OUTER_CLASSNAME(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "java_outer_classname", |o| o.java_outer_classname().to_owned());
}

fn FILE_SAME_JAVA_PACKAGE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "java_package", |o| o.java_package().to_owned());
}

fn FILE_SAME_OBJC_CLASS_PREFIX(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "objc_class_prefix", |o| o.objc_class_prefix().to_owned());
}

fn FILE_SAME_OPTIMIZE_FOR(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "optimize_for", |o| o.optimize_for().as_str_name().to_owned());
}

fn FILE_SAME_PHP_CLASS_PREFIX(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "php_class_prefix", |o| o.php_class_prefix().to_owned());
}

fn FILE_SAME_PHP_METADATA_NAMESPACE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "php_metadata_namespace", |o| o.php_metadata_namespace().to_owned());
}

fn FILE_SAME_PHP_NAMESPACE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "php_namespace", |o| o.php_namespace().to_owned());
}

fn FILE_SAME_PY_GENERIC_SERVICES(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "py_generic_services", |o| o.py_generic_services().to_string());
}

fn FILE_SAME_RUBY_PACKAGE(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "ruby_package", |o| o.ruby_package().to_owned());
}

fn FILE_SAME_SWIFT_PREFIX(pair: &Pair, out: &mut Findings) {
    file_option(pair, out, "swift_prefix", |o| o.swift_prefix().to_owned());
}

// ---- Messages ------------------------------------------------------------------------------

fn message_path(message: &MessageDescriptor) -> String {
    element_path(message.full_name(), message.package_name())
}

fn message_name(message: &MessageDescriptor) -> String {
    nested_name(message.full_name(), message.package_name())
}

/// proto3 messages and enums support JSON fully; proto2 ones only on a best-effort basis.
fn json_format(file: &FileDescriptor) -> &'static str {
    if is_proto3(file) { "ALLOW" } else { "LEGACY_BEST_EFFORT" }
}

fn MESSAGE_SAME_JSON_FORMAT(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.messages {
        let (before, after) = (json_format(&previous.parent_file()), json_format(&current.parent_file()));
        if before == "ALLOW" && after != "ALLOW" {
            out.add(
                message_path(current),
                format!("Message {} changed its JSON format support from {before} to {after}.", message_name(current)),
            );
        }
    }
}

fn MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR(pair: &Pair, out: &mut Findings) {
    let accessor_removed = |m: &MessageDescriptor| {
        m.descriptor_proto().options.as_ref().is_some_and(prost_types::MessageOptions::no_standard_descriptor_accessor)
    };
    for (previous, current) in &pair.messages {
        if !accessor_removed(previous) && accessor_removed(current) {
            out.add(
                message_path(current),
                format!("Message {} turned on option no_standard_descriptor_accessor.", message_name(current)),
            );
        }
    }
}

fn MESSAGE_SAME_REQUIRED_FIELDS(pair: &Pair, out: &mut Findings) {
    let required = |m: &MessageDescriptor| -> BTreeMap<u32, String> {
        m.fields()
            .filter(prost_reflect::FieldDescriptor::is_required)
            .map(|f| (f.number(), f.name().to_owned()))
            .collect()
    };
    for (previous, current) in &pair.messages {
        let (before, after) = (required(previous), required(current));
        for (number, name) in &before {
            if !after.contains_key(number) {
                out.add(
                    format!("{}/{name}({number})", message_path(current)),
                    format!(
                        "Message {} no longer has required field {name} ({number}); a side that still requires it rejects the data.",
                        message_name(current)
                    ),
                );
            }
        }
        for (number, name) in &after {
            if !before.contains_key(number) {
                out.add(
                    format!("{}/{name}({number})", message_path(current)),
                    format!(
                        "Message {} has a new required field {name} ({number}); data written without it is rejected.",
                        message_name(current)
                    ),
                );
            }
        }
    }
}

fn ONEOF_NO_DELETE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.messages {
        let kept: BTreeSet<String> = current.oneofs().map(|o| o.name().to_owned()).collect();
        for oneof in previous.oneofs().filter(|o| !o.is_synthetic()) {
            if !kept.contains(oneof.name()) {
                out.add(
                    format!("{}/oneof {}", message_path(current), oneof.name()),
                    format!("The oneof {} was deleted from message {}.", oneof.name(), message_name(current)),
                );
            }
        }
    }
}

/// An inclusive tag range.
type TagRange = (i64, i64);

/// The parts of each previous range the current ranges no longer cover, one entry per range.
fn uncovered_ranges(previous: &[TagRange], current: &[TagRange]) -> Vec<(TagRange, Vec<TagRange>)> {
    let mut merged: Vec<TagRange> = current.to_vec();
    merged.sort_unstable();
    let mut collapsed: Vec<TagRange> = Vec::new();
    for (start, end) in merged {
        match collapsed.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => collapsed.push((start, end)),
        }
    }
    let mut result = Vec::new();
    for &(start, end) in previous {
        let mut missing = Vec::new();
        let mut next = start;
        for &(s, e) in &collapsed {
            if e < next {
                continue;
            }
            if s > end {
                break;
            }
            if s > next {
                missing.push((next, s - 1));
            }
            next = e + 1;
            if next > end {
                break;
            }
        }
        if next <= end {
            missing.push((next, end));
        }
        if !missing.is_empty() {
            result.push(((start, end), missing));
        }
    }
    result
}

fn range_text((start, end): TagRange) -> String {
    if start == end { start.to_string() } else { format!("{start} to {end}") }
}

fn report_ranges(out: &mut Findings, path: &str, what: &str, owner: &str, previous: &[TagRange], current: &[TagRange]) {
    for (range, missing) in uncovered_ranges(previous, current) {
        let missing: Vec<String> = missing.into_iter().map(range_text).collect();
        out.add(
            format!("{path}/{what} {}", range_text(range)),
            format!("The {what} range {} of {owner} lost {}.", range_text(range), missing.join(", ")),
        );
    }
}

fn message_reserved(message: &MessageDescriptor) -> Vec<TagRange> {
    message.reserved_ranges().map(|r| (i64::from(r.start), i64::from(r.end) - 1)).collect()
}

fn EXTENSION_MESSAGE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    let ranges = |m: &MessageDescriptor| -> Vec<TagRange> {
        m.extension_ranges().map(|r| (i64::from(r.start), i64::from(r.end) - 1)).collect()
    };
    for (previous, current) in &pair.messages {
        let owner = format!("message {}", message_name(current));
        report_ranges(out, &message_path(current), "extension", &owner, &ranges(previous), &ranges(current));
    }
}

fn RESERVED_MESSAGE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.messages {
        let owner = format!("message {}", message_name(current));
        let path = message_path(current);
        report_ranges(out, &path, "reserved", &owner, &message_reserved(previous), &message_reserved(current));
        let kept: BTreeSet<&str> = current.reserved_names().collect();
        for name in previous.reserved_names().filter(|n| !kept.contains(n)) {
            out.add(format!("{path}/reserved {name}"), format!("The reserved name {name} of {owner} was deleted."));
        }
    }
}

// ---- Fields --------------------------------------------------------------------------------

/// Reports each field of a paired message whose number is gone, unless `allowed` says the
/// current message reserves it.
fn deleted_fields(
    pair: &Pair,
    out: &mut Findings,
    allowed: fn(&prost_reflect::FieldDescriptor, &MessageDescriptor) -> bool,
    suffix: &str,
) {
    for (previous, current) in &pair.messages {
        let mut fields: Vec<_> = previous.fields().collect();
        fields.sort_by_key(prost_reflect::FieldDescriptor::number);
        for field in fields {
            if current.get_field(field.number()).is_none() && !allowed(&field, current) {
                let field = Field::Plain(field);
                let suffix = suffix.replace("{name}", field.name()).replace("{number}", &field.number().to_string());
                out.add(field.path(), format!("{} was deleted{suffix}.", field.describe()));
            }
        }
    }
}

fn number_reserved(field: &prost_reflect::FieldDescriptor, message: &MessageDescriptor) -> bool {
    message.reserved_ranges().any(|r| r.contains(&field.number()))
}

fn name_reserved(field: &prost_reflect::FieldDescriptor, message: &MessageDescriptor) -> bool {
    message.reserved_names().any(|n| n == field.name())
}

fn FIELD_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_fields(pair, out, |_, _| false, "");
}

fn FIELD_NO_DELETE_UNLESS_NAME_RESERVED(pair: &Pair, out: &mut Findings) {
    deleted_fields(pair, out, name_reserved, " without reserving the name \"{name}\"");
}

fn FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED(pair: &Pair, out: &mut Findings) {
    deleted_fields(pair, out, number_reserved, " without reserving the number {number}");
}

fn cardinality_rule(pair: &Pair, out: &mut Findings, group: fn(FieldCardinality) -> u8) {
    for (previous, current) in &pair.fields {
        if previous.in_map_entry() && current.in_map_entry() {
            continue;
        }
        let (before, after) = (previous.cardinality(), current.cardinality());
        if group(before) != group(after) {
            out.add(
                current.path(),
                format!(
                    "{} changed cardinality from {} to {}.",
                    current.describe(),
                    before.describe(),
                    after.describe()
                ),
            );
        }
    }
}

fn FIELD_SAME_CARDINALITY(pair: &Pair, out: &mut Findings) {
    cardinality_rule(pair, out, |c| c as u8);
}

fn FIELD_WIRE_COMPATIBLE_CARDINALITY(pair: &Pair, out: &mut Findings) {
    cardinality_rule(pair, out, FieldCardinality::wire_group);
}

fn FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY(pair: &Pair, out: &mut Findings) {
    cardinality_rule(pair, out, FieldCardinality::wire_json_group);
}

fn changed_type(out: &mut Findings, previous: &Field, current: &Field, why: &str) {
    out.add(
        current.path(),
        format!("{} changed type from {} to {}{why}.", current.describe(), previous.type_name(), current.type_name()),
    );
}

/// The full name of the message or enum a field refers to, if any.
fn referenced_type(field: &Field) -> Option<String> {
    match field.kind() {
        Kind::Message(m) => Some(m.full_name().to_owned()),
        Kind::Enum(e) => Some(e.full_name().to_owned()),
        _ => None,
    }
}

fn FIELD_SAME_TYPE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.fields {
        if previous.proto_type() != current.proto_type() || referenced_type(previous) != referenced_type(current) {
            changed_type(out, previous, current, "");
        }
    }
}

/// buf's binary compatibility groups: kinds within one share an encoding both ways.
fn wire_group(field: &Field) -> u8 {
    if field.proto_type() == Type::Group {
        return 9;
    }
    match field.kind() {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool => 1,
        Kind::Sint32 | Kind::Sint64 => 2,
        Kind::String => 3,
        Kind::Bytes => 4,
        Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::Fixed64 | Kind::Sfixed64 => 6,
        Kind::Double => 7,
        Kind::Float => 8,
        Kind::Message(_) => 10,
        Kind::Enum(_) => 11,
    }
}

/// The groups whose members also share a JSON form.
fn wire_json_group(field: &Field) -> u8 {
    if field.proto_type() == Type::Group {
        return 12;
    }
    match field.kind() {
        Kind::Int32 | Kind::Uint32 => 1,
        Kind::Int64 | Kind::Uint64 => 2,
        Kind::Fixed32 | Kind::Sfixed32 => 3,
        Kind::Fixed64 | Kind::Sfixed64 => 4,
        Kind::Bool => 5,
        Kind::Sint32 => 6,
        Kind::Sint64 => 7,
        Kind::String => 8,
        Kind::Bytes => 9,
        Kind::Double => 10,
        Kind::Float => 11,
        Kind::Message(_) => 13,
        Kind::Enum(_) => 14,
    }
}

/// Whether `current` still decodes every value of `previous`: the same short name, and
/// every previous value present under the same name and number.
fn enum_still_readable(previous: &EnumDescriptor, current: &EnumDescriptor) -> bool {
    previous.name() == current.name()
        && previous.values().all(|v| current.get_value_by_name(v.name()).is_some_and(|c| c.number() == v.number()))
}

/// A same-group type change is still breaking when the field now refers to another
/// message, or to an enum that cannot read the old values.
fn named_type_breaks(previous: &Field, current: &Field) -> bool {
    match (previous.kind(), current.kind()) {
        (Kind::Enum(p), Kind::Enum(c)) => p.full_name() != c.full_name() && !enum_still_readable(&p, &c),
        (Kind::Message(p), Kind::Message(c)) => p.full_name() != c.full_name(),
        _ => false,
    }
}

fn FIELD_WIRE_COMPATIBLE_TYPE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.fields {
        if wire_group(previous) != wire_group(current) {
            match (previous.kind(), current.kind()) {
                (Kind::String, Kind::Bytes) => {}
                (Kind::Bytes, Kind::String) => changed_type(
                    out,
                    previous,
                    current,
                    "; bytes need not be valid UTF-8, so existing data may not read as a string",
                ),
                _ => changed_type(out, previous, current, ", which has another binary encoding"),
            }
        } else if named_type_breaks(previous, current) {
            changed_type(out, previous, current, "");
        }
    }
}

fn FIELD_WIRE_JSON_COMPATIBLE_TYPE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.fields {
        if wire_json_group(previous) != wire_json_group(current) {
            changed_type(out, previous, current, ", which has another binary or JSON encoding");
        } else if named_type_breaks(previous, current) {
            changed_type(out, previous, current, "");
        }
    }
}

fn FIELD_SAME_NAME(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.fields {
        if previous.display_name() != current.display_name() {
            out.add(
                current.path(),
                format!(
                    "Field {} of message {} changed name from {} to {}.",
                    current.number(),
                    current.message_name(),
                    previous.display_name(),
                    current.display_name()
                ),
            );
        }
    }
}

fn FIELD_SAME_JSON_NAME(pair: &Pair, out: &mut Findings) {
    for (previous, current) in pair.fields.iter().filter(|(p, _)| !p.is_extension()) {
        if previous.json_name() != current.json_name() {
            out.add(
                current.path(),
                format!(
                    "{} changed its JSON name from \"{}\" to \"{}\".",
                    current.describe(),
                    previous.json_name(),
                    current.json_name()
                ),
            );
        }
    }
}

fn FIELD_SAME_ONEOF(pair: &Pair, out: &mut Findings) {
    for (previous, current) in pair.fields.iter().filter(|(p, _)| !p.is_extension()) {
        let description = match (previous.oneof(), current.oneof()) {
            (Some(before), Some(after)) if before != after => format!("moved from oneof {before} to oneof {after}"),
            (Some(before), None) => format!("moved out of oneof {before}"),
            (None, Some(after)) => format!("moved into oneof {after}"),
            _ => continue,
        };
        out.add(current.path(), format!("{} {description}.", current.describe()));
    }
}

/// A field's default as buf compares it: text (string or bytes) or a number.
#[derive(Debug, Clone, PartialEq)]
enum FieldDefault {
    Text(Vec<u8>),
    Integer(i128),
    Float(f32),
    Double(f64),
}

impl FieldDefault {
    fn of(field: &Field) -> Option<FieldDefault> {
        Some(match field.default_value() {
            Value::String(s) => FieldDefault::Text(s.into_bytes()),
            Value::Bytes(b) => FieldDefault::Text(b.to_vec()),
            Value::Bool(b) => FieldDefault::Integer(i128::from(b)),
            Value::I32(n) | Value::EnumNumber(n) => FieldDefault::Integer(i128::from(n)),
            Value::I64(n) => FieldDefault::Integer(i128::from(n)),
            Value::U32(n) => FieldDefault::Integer(i128::from(n)),
            Value::U64(n) => FieldDefault::Integer(i128::from(n)),
            Value::F32(n) => FieldDefault::Float(n),
            Value::F64(n) => FieldDefault::Double(n),
            Value::Message(_) | Value::List(_) | Value::Map(_) => return None,
        })
    }

    fn is_zero(&self) -> bool {
        match self {
            FieldDefault::Text(t) => t.is_empty(),
            FieldDefault::Integer(n) => *n == 0,
            FieldDefault::Float(f) => f.to_bits() == 0,
            FieldDefault::Double(d) => d.to_bits() == 0,
        }
    }

    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::float_cmp,
        reason = "buf compares defaults exactly, across numeric types"
    )]
    fn same(&self, other: &FieldDefault) -> bool {
        let as_f64 = |d: &FieldDefault| match d {
            FieldDefault::Integer(n) => Some(*n as f64),
            FieldDefault::Float(f) => Some(f64::from(*f)),
            FieldDefault::Double(d) => Some(*d),
            FieldDefault::Text(_) => None,
        };
        match (self, other) {
            (FieldDefault::Text(a), FieldDefault::Text(b)) => a == b,
            (FieldDefault::Text(_), _) | (_, FieldDefault::Text(_)) => false,
            (FieldDefault::Integer(a), FieldDefault::Integer(b)) => a == b,
            (FieldDefault::Float(a), FieldDefault::Double(b)) | (FieldDefault::Double(b), FieldDefault::Float(a)) => {
                (a.is_nan() && b.is_nan()) || *a == *b as f32
            }
            (a, b) => match (as_f64(a), as_f64(b)) {
                (Some(x), Some(y)) => (x.is_nan() && y.is_nan()) || x == y,
                _ => false,
            },
        }
    }
}

impl std::fmt::Display for FieldDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldDefault::Text(t) => write!(f, "\"{}\"", String::from_utf8_lossy(t)),
            FieldDefault::Integer(n) => write!(f, "{n}"),
            FieldDefault::Float(n) => write!(f, "{n}"),
            FieldDefault::Double(n) => write!(f, "{n}"),
        }
    }
}

fn FIELD_SAME_DEFAULT(pair: &Pair, out: &mut Findings) {
    let can_have_default = |f: &Field| {
        !matches!(f.cardinality(), FieldCardinality::Repeated | FieldCardinality::Map)
            && !matches!(f.kind(), Kind::Message(_))
    };
    for (previous, current) in &pair.fields {
        if !can_have_default(previous) || !can_have_default(current) {
            continue;
        }
        let (Some(before), Some(after)) = (FieldDefault::of(previous), FieldDefault::of(current)) else { continue };
        if before.is_zero() && after.is_zero() {
            continue;
        }
        if !before.same(&after) {
            out.add(
                current.path(),
                format!("{} changed its default value from {before} to {after}.", current.describe()),
            );
        }
    }
}

fn FIELD_SAME_JSTYPE(pair: &Pair, out: &mut Findings) {
    let is_64_bit = |f: &Field| {
        matches!(f.proto().r#type(), Type::Int64 | Type::Sint64 | Type::Uint64 | Type::Fixed64 | Type::Sfixed64)
    };
    let jstype = |f: &Field| {
        f.proto()
            .options
            .as_ref()
            .map_or(prost_types::field_options::JsType::JsNormal, prost_types::FieldOptions::jstype)
    };
    for (previous, current) in &pair.fields {
        if is_64_bit(previous) && is_64_bit(current) && jstype(previous) != jstype(current) {
            out.add(
                current.path(),
                format!(
                    "{} changed option jstype from {} to {}.",
                    current.describe(),
                    jstype(previous).as_str_name(),
                    jstype(current).as_str_name()
                ),
            );
        }
    }
}

fn FIELD_SAME_CPP_STRING_TYPE(pair: &Pair, out: &mut Findings) {
    use prost_types::field_options::CType;
    // (string type, whether it is the deprecated STRING_PIECE)
    let string_type = |f: &Field| match f.proto().options.as_ref().and_then(|o| o.ctype.map(|_| o.ctype())) {
        Some(CType::Cord) => ("CORD", false),
        Some(CType::StringPiece) => ("STRING", true),
        _ => ("STRING", false),
    };
    let is_text = |f: &Field| matches!(f.kind(), Kind::String | Kind::Bytes);
    for (previous, current) in &pair.fields {
        if (previous.in_map_entry() && current.in_map_entry()) || !is_text(previous) || !is_text(current) {
            continue;
        }
        let (before, after) = (string_type(previous), string_type(current));
        // Leaving STRING_PIECE for a plain string is allowed.
        if before != after && !(before.1 && after == ("STRING", false)) {
            let name = |t: (&'static str, bool)| if t.1 { "STRING_PIECE" } else { t.0 };
            out.add(
                current.path(),
                format!("{} changed its C++ string type from {} to {}.", current.describe(), name(before), name(after)),
            );
        }
    }
}

/// proto3 strings are validated as UTF-8; proto2 strings are not.
fn utf8_validation(field: &Field) -> &'static str {
    if is_proto3(&field.file()) { "VERIFY" } else { "NONE" }
}

fn FIELD_SAME_UTF8_VALIDATION(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.fields {
        if !matches!((previous.kind(), current.kind()), (Kind::String, Kind::String)) {
            continue;
        }
        let (before, after) = (utf8_validation(previous), utf8_validation(current));
        if before != after {
            out.add(
                current.path(),
                format!("{} changed its UTF-8 validation from {before} to {after}.", current.describe()),
            );
        }
    }
}

fn FIELD_SAME_JAVA_UTF8_VALIDATION(pair: &Pair, out: &mut Findings) {
    let java = |f: &Field| {
        let checked = f
            .file()
            .file_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(prost_types::FileOptions::java_string_check_utf8);
        if checked { "VERIFY" } else { utf8_validation(f) }
    };
    for (previous, current) in &pair.fields {
        if !matches!((previous.kind(), current.kind()), (Kind::String, Kind::String)) {
            continue;
        }
        let (before, after) = (java(previous), java(current));
        if before != after {
            out.add(
                current.path(),
                format!("{} changed its Java UTF-8 validation from {before} to {after}.", current.describe()),
            );
        }
    }
}

// ---- Enums ---------------------------------------------------------------------------------

fn enum_path(e: &EnumDescriptor) -> String {
    element_path(e.full_name(), e.package_name())
}

fn enum_name(e: &EnumDescriptor) -> String {
    nested_name(e.full_name(), e.package_name())
}

fn ENUM_SAME_JSON_FORMAT(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.enums {
        let (before, after) = (json_format(&previous.parent_file()), json_format(&current.parent_file()));
        if before == "ALLOW" && after != "ALLOW" {
            out.add(
                enum_path(current),
                format!("Enum {} changed its JSON format support from {before} to {after}.", enum_name(current)),
            );
        }
    }
}

fn ENUM_SAME_TYPE(pair: &Pair, out: &mut Findings) {
    let state = |e: &EnumDescriptor| if is_proto3(&e.parent_file()) { "open" } else { "closed" };
    for (previous, current) in &pair.enums {
        if state(previous) != state(current) {
            out.add(
                enum_path(current),
                format!("Enum {} changed from {} to {}.", enum_name(current), state(previous), state(current)),
            );
        }
    }
}

/// Value names by number: aliases give one number several names.
fn values_by_number(e: &EnumDescriptor) -> BTreeMap<i32, BTreeSet<String>> {
    let mut values: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for value in e.values() {
        values.entry(value.number()).or_default().insert(value.name().to_owned());
    }
    values
}

fn deleted_values(
    pair: &Pair,
    out: &mut Findings,
    allowed: fn(i32, &BTreeSet<String>, &EnumDescriptor) -> bool,
    suffix: &str,
) {
    for (previous, current) in &pair.enums {
        let kept = values_by_number(current);
        for (number, names) in values_by_number(previous) {
            if !kept.contains_key(&number) && !allowed(number, &names, current) {
                let names_text = names.iter().cloned().collect::<Vec<_>>().join(", ");
                let suffix = suffix.replace("{name}", &names_text).replace("{number}", &number.to_string());
                out.add(
                    format!("{}/{}({number})", enum_path(current), names.iter().next().map_or("", String::as_str)),
                    format!("Enum value {names_text} ({number}) of enum {} was deleted{suffix}.", enum_name(current)),
                );
            }
        }
    }
}

fn ENUM_VALUE_NO_DELETE(pair: &Pair, out: &mut Findings) {
    deleted_values(pair, out, |_, _, _| false, "");
}

fn ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED(pair: &Pair, out: &mut Findings) {
    deleted_values(
        pair,
        out,
        |number, _, e| e.reserved_ranges().any(|r| r.contains(&number)),
        " without reserving the number {number}",
    );
}

fn ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED(pair: &Pair, out: &mut Findings) {
    deleted_values(
        pair,
        out,
        |_, names, e| names.iter().all(|n| e.reserved_names().any(|r| r == n)),
        " without reserving the name {name}",
    );
}

fn ENUM_VALUE_SAME_NAME(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.enums {
        let before = values_by_number(previous);
        for (number, names) in values_by_number(current) {
            let Some(previous_names) = before.get(&number) else { continue };
            // Every earlier name must survive (as the name or an alias); new aliases are fine.
            if previous_names.is_subset(&names) {
                continue;
            }
            let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
            for name in &names {
                out.add(
                    format!("{}/{name}({number})", enum_path(current)),
                    format!(
                        "Enum value {number} of enum {} changed name from {} to {}.",
                        enum_name(current),
                        join(previous_names),
                        join(&names)
                    ),
                );
            }
        }
    }
}

fn RESERVED_ENUM_NO_DELETE(pair: &Pair, out: &mut Findings) {
    let ranges = |e: &EnumDescriptor| -> Vec<TagRange> {
        e.reserved_ranges().map(|r| (i64::from(*r.start()), i64::from(*r.end()))).collect()
    };
    for (previous, current) in &pair.enums {
        let owner = format!("enum {}", enum_name(current));
        let path = enum_path(current);
        report_ranges(out, &path, "reserved", &owner, &ranges(previous), &ranges(current));
        let kept: BTreeSet<&str> = current.reserved_names().collect();
        for name in previous.reserved_names().filter(|n| !kept.contains(n)) {
            out.add(format!("{path}/reserved {name}"), format!("The reserved name {name} of {owner} was deleted."));
        }
    }
}

// ---- Services ------------------------------------------------------------------------------

fn RPC_NO_DELETE(pair: &Pair, out: &mut Findings) {
    for (previous, current) in &pair.services {
        for method in previous.methods() {
            if !current.methods().any(|m| m.name() == method.name()) {
                out.add(
                    format!("#/{}/{}", current.name(), method.name()),
                    format!("The RPC {} was deleted from service {}.", method.name(), current.name()),
                );
            }
        }
    }
}

fn rpc_rule(pair: &Pair, out: &mut Findings, what: &str, value: fn(&prost_reflect::MethodDescriptor) -> String) {
    for (previous, current) in &pair.methods {
        let (before, after) = (value(previous), value(current));
        if before != after {
            let service = current.parent_service().name().to_owned();
            out.add(
                format!("#/{service}/{}", current.name()),
                format!("RPC {} of service {service} changed {what} from {before} to {after}.", current.name()),
            );
        }
    }
}

fn streaming(on: bool) -> String {
    if on { "streaming" } else { "unary" }.to_owned()
}

fn RPC_SAME_CLIENT_STREAMING(pair: &Pair, out: &mut Findings) {
    rpc_rule(pair, out, "its client side", |m| streaming(m.is_client_streaming()));
}

fn RPC_SAME_SERVER_STREAMING(pair: &Pair, out: &mut Findings) {
    rpc_rule(pair, out, "its server side", |m| streaming(m.is_server_streaming()));
}

fn RPC_SAME_REQUEST_TYPE(pair: &Pair, out: &mut Findings) {
    rpc_rule(pair, out, "its request type", |m| m.input().full_name().to_owned());
}

fn RPC_SAME_RESPONSE_TYPE(pair: &Pair, out: &mut Findings) {
    rpc_rule(pair, out, "its response type", |m| m.output().full_name().to_owned());
}

fn RPC_SAME_IDEMPOTENCY_LEVEL(pair: &Pair, out: &mut Findings) {
    rpc_rule(pair, out, "option idempotency_level", |m| {
        m.method_descriptor_proto()
            .options
            .as_ref()
            .map_or(
                prost_types::method_options::IdempotencyLevel::IdempotencyUnknown,
                prost_types::MethodOptions::idempotency_level,
            )
            .as_str_name()
            .to_owned()
    });
}
