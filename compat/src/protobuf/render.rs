//! Prints a `FileDescriptorProto` as `.proto` text in the layout Confluent
//! stores: syntax and package, then imports, file options, messages, enums,
//! extensions and services, each group after one blank line; inside a message,
//! reserved ranges, options, fields, oneofs, extension ranges and nested types.

use std::fmt::Write as _;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::uninterpreted_option::NamePart;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
    UninterpretedOption,
};

use super::scalar_name;

/// The largest field number, printed as `max` in ranges.
const MAX_FIELD: i32 = 536_870_911;

pub fn render(file: &FileDescriptorProto) -> String {
    let mut out = String::new();
    if let Some(syntax) = &file.syntax {
        let _ = writeln!(out, "syntax = {};", quote(syntax.as_bytes()));
    }
    if let Some(package) = &file.package {
        let _ = writeln!(out, "package {package};");
    }
    if !file.dependency.is_empty() {
        out.push('\n');
        for (index, dependency) in file.dependency.iter().enumerate() {
            let public = file.public_dependency.contains(&(index as i32));
            let _ = writeln!(out, "import {}{};", if public { "public " } else { "" }, quote(dependency.as_bytes()));
        }
    }
    let options = file.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
    if !options.is_empty() {
        out.push('\n');
        for option in options {
            let _ = writeln!(out, "option {};", option_text(option));
        }
    }
    let messages: Vec<&DescriptorProto> = file.message_type.iter().collect();
    if !messages.is_empty() || !file.enum_type.is_empty() {
        out.push('\n');
        for message in messages {
            out.push_str(&message_text(message));
        }
        for enumeration in &file.enum_type {
            out.push_str(&enum_text(enumeration));
        }
    }
    if !file.extension.is_empty() {
        out.push('\n');
        out.push_str(&extends_text(&file.extension));
    }
    if !file.service.is_empty() {
        out.push('\n');
        for service in &file.service {
            out.push_str(&service_text(service));
        }
    }
    out
}

fn indent(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message.options.as_ref().and_then(|o| o.map_entry).unwrap_or(false)
}

fn message_text(message: &DescriptorProto) -> String {
    let name = message.name();
    let mut body = String::new();
    let reserved =
        reserved_lines(message.reserved_range.iter().map(|r| (r.start(), r.end() - 1)), &message.reserved_name);
    if !reserved.is_empty() {
        body.push('\n');
        body.push_str(&indent(&reserved));
    }
    let options = message.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
    if !options.is_empty() {
        body.push('\n');
        for option in options {
            body.push_str(&indent(&format!("option {};", option_text(option))));
        }
    }
    let real_oneof = |field: &FieldDescriptorProto| field.oneof_index.is_some() && !field.proto3_optional();
    let plain: Vec<&FieldDescriptorProto> = message.field.iter().filter(|f| !real_oneof(f)).collect();
    if !plain.is_empty() {
        body.push('\n');
        for field in plain {
            body.push_str(&indent(&field_text(field, message, true)));
        }
    }
    let mut oneofs = String::new();
    for (index, oneof) in message.oneof_decl.iter().enumerate() {
        let members: Vec<&FieldDescriptorProto> =
            message.field.iter().filter(|f| real_oneof(f) && f.oneof_index == Some(index as i32)).collect();
        if members.is_empty() {
            continue; // a proto3 `optional` field's synthetic oneof
        }
        let mut text = format!("oneof {} {{\n", oneof.name());
        let options = oneof.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
        for option in options {
            text.push_str(&indent(&format!("option {};", option_text(option))));
        }
        for field in members {
            text.push_str(&indent(&field_text(field, message, false)));
        }
        text.push_str("}\n");
        oneofs.push_str(&indent(&text));
    }
    if !oneofs.is_empty() {
        body.push('\n');
        body.push_str(&oneofs);
    }
    if !message.extension_range.is_empty() {
        let ranges: Vec<String> = message.extension_range.iter().map(|r| range_text(r.start(), r.end() - 1)).collect();
        body.push('\n');
        body.push_str(&indent(&format!("extensions {};", ranges.join(", "))));
    }
    let is_group =
        |m: &DescriptorProto| message.field.iter().any(|f| group_of(f, message).is_some_and(|g| g.name() == m.name()));
    let nested: Vec<&DescriptorProto> =
        message.nested_type.iter().filter(|m| !is_map_entry(m) && !is_group(m)).collect();
    if !nested.is_empty() || !message.enum_type.is_empty() {
        body.push('\n');
        for nested in nested {
            body.push_str(&indent(&message_text(nested)));
        }
        for enumeration in &message.enum_type {
            body.push_str(&indent(&enum_text(enumeration)));
        }
    }
    if !message.extension.is_empty() {
        body.push('\n');
        body.push_str(&indent(&extends_text(&message.extension)));
    }
    if body.is_empty() { format!("message {name} {{}}\n") } else { format!("message {name} {{{body}}}\n") }
}

fn type_text(field: &FieldDescriptorProto, scope: Option<&DescriptorProto>) -> String {
    if let Some(type_name) = &field.type_name {
        if let Some(entry) = scope.and_then(|s| map_entry_of(type_name, s))
            && entry.field.len() == 2
        {
            return format!(
                "map<{}, {}>",
                type_text(&entry.field[0], Some(entry)),
                type_text(&entry.field[1], Some(entry))
            );
        }
        return type_name.clone();
    }
    field.r#type.and_then(|t| Type::try_from(t).ok()).map_or_else(String::new, |t| scalar_name(t).to_owned())
}

/// The synthetic entry message a `map<K, V>` field refers to, when it is nested in `scope`.
fn map_entry_of<'m>(type_name: &str, scope: &'m DescriptorProto) -> Option<&'m DescriptorProto> {
    let short = type_name.rsplit('.').next().unwrap_or(type_name);
    scope.nested_type.iter().find(|m| m.name() == short && is_map_entry(m))
}

fn field_text(field: &FieldDescriptorProto, scope: &DescriptorProto, with_label: bool) -> String {
    let ty = type_text(field, Some(scope));
    let is_map = ty.starts_with("map<");
    let label = match field.label.and_then(|l| Label::try_from(l).ok()) {
        Some(_) if is_map || !with_label => "",
        Some(Label::Optional) => "optional ",
        Some(Label::Required) => "required ",
        Some(Label::Repeated) => "repeated ",
        None => "",
    };
    let mut options: Vec<String> = Vec::new();
    if let Some(default) = &field.default_value {
        // A descriptor holds a bytes default C-escaped already, a string default as its text.
        let literal = match field.r#type.and_then(|t| Type::try_from(t).ok()) {
            Some(Type::Bytes) => format!("\"{default}\""),
            Some(Type::String) => quote(default.as_bytes()),
            _ => default.clone(),
        };
        options.push(format!("default = {literal}"));
    }
    if let Some(field_options) = &field.options {
        if let Some(packed) = field_options.packed {
            options.push(format!("packed = {packed}"));
        }
        if let Some(deprecated) = field_options.deprecated {
            options.push(format!("deprecated = {deprecated}"));
        }
        options.extend(field_options.uninterpreted_option.iter().map(option_text));
    }
    if let Some(json_name) = &field.json_name {
        options.push(format!("json_name = {}", quote(json_name.as_bytes())));
    }
    let group = group_of(field, scope);
    let mut text = match group {
        // A group keeps its wire form (start and end tags): as written, not as a message field.
        Some(body) => format!("{label}group {} = {}", body.name(), field.number()),
        None => format!("{label}{ty} {} = {}", field.name(), field.number()),
    };
    match options.len() {
        0 => {}
        1 => {
            let _ = write!(text, " [{}]", options[0]);
        }
        _ => {
            let _ = write!(text, " [\n{}]", indent(&options.join(",\n")));
        }
    }
    match group {
        Some(body) => {
            let message = message_text(body);
            let header = format!("message {} ", body.name());
            text.push(' ');
            text.push_str(message.strip_prefix(&header).unwrap_or(&message));
        }
        None => text.push_str(";\n"),
    }
    text
}

/// The message that holds a group field's fields, nested in `scope` under the group's name.
fn group_of<'m>(field: &FieldDescriptorProto, scope: &'m DescriptorProto) -> Option<&'m DescriptorProto> {
    if field.r#type.and_then(|t| Type::try_from(t).ok()) != Some(Type::Group) {
        return None;
    }
    let short = field.type_name().rsplit('.').next()?;
    scope.nested_type.iter().find(|m| m.name() == short)
}

fn enum_text(enumeration: &EnumDescriptorProto) -> String {
    let mut body = String::new();
    body.push_str(&reserved_lines(
        enumeration.reserved_range.iter().map(|r| (r.start(), r.end())),
        &enumeration.reserved_name,
    ));
    let options = enumeration.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
    let mut options: Vec<String> = options.iter().map(option_text).collect();
    if let Some(allow_alias) = enumeration.options.as_ref().and_then(|o| o.allow_alias) {
        options.insert(0, format!("allow_alias = {allow_alias}"));
    }
    for option in options {
        let _ = writeln!(body, "option {option};");
    }
    for value in &enumeration.value {
        let options: Vec<String> = value
            .options
            .as_ref()
            .map(|o| {
                let mut all: Vec<String> = o.deprecated.map(|d| format!("deprecated = {d}")).into_iter().collect();
                all.extend(o.uninterpreted_option.iter().map(option_text));
                all
            })
            .unwrap_or_default();
        let suffix = if options.is_empty() { String::new() } else { format!(" [{}]", options.join(", ")) };
        let _ = writeln!(body, "{} = {}{suffix};", value.name(), value.number());
    }
    if body.is_empty() {
        format!("enum {} {{}}\n", enumeration.name())
    } else {
        format!("enum {} {{\n{}}}\n", enumeration.name(), indent(&body))
    }
}

fn extends_text(extensions: &[FieldDescriptorProto]) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < extensions.len() {
        let extendee = extensions[index].extendee();
        let mut body = String::new();
        while index < extensions.len() && extensions[index].extendee() == extendee {
            body.push_str(&field_text(&extensions[index], &DescriptorProto::default(), true));
            index += 1;
        }
        let _ = write!(out, "extend {extendee} {{\n{}}}\n", indent(&body));
    }
    out
}

fn service_text(service: &ServiceDescriptorProto) -> String {
    let mut body = String::new();
    let options = service.options.as_ref().map(|o| o.uninterpreted_option.as_slice()).unwrap_or_default();
    for option in options {
        let _ = writeln!(body, "option {};", option_text(option));
    }
    for method in &service.method {
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let _ = write!(
            body,
            "rpc {} ({}{}) returns ({}{})",
            method.name(),
            stream(method.client_streaming()),
            method.input_type(),
            stream(method.server_streaming()),
            method.output_type()
        );
        let mut options: Vec<String> = Vec::new();
        if let Some(method_options) = &method.options {
            if let Some(deprecated) = method_options.deprecated {
                options.push(format!("deprecated = {deprecated}"));
            }
            options.extend(method_options.uninterpreted_option.iter().map(option_text));
        }
        if options.is_empty() {
            body.push_str(";\n");
        } else {
            body.push_str(" {\n");
            for option in options {
                let _ = writeln!(body, "  option {option};");
            }
            body.push_str("};\n");
        }
    }
    if body.is_empty() {
        format!("service {} {{}}\n", service.name())
    } else {
        format!("service {} {{\n{}}}\n", service.name(), indent(&body))
    }
}

fn range_text(start: i32, end: i32) -> String {
    if start == end {
        start.to_string()
    } else if end >= MAX_FIELD {
        format!("{start} to max")
    } else {
        format!("{start} to {end}")
    }
}

/// `reserved` lines: the numbers (inclusive ranges) on one line, the names on another.
fn reserved_lines(ranges: impl Iterator<Item = (i32, i32)>, names: &[String]) -> String {
    let mut out = String::new();
    let ranges: Vec<String> = ranges.map(|(start, end)| range_text(start, end)).collect();
    if !ranges.is_empty() {
        let _ = writeln!(out, "reserved {};", ranges.join(", "));
    }
    if !names.is_empty() {
        let names: Vec<String> = names.iter().map(|n| quote(n.as_bytes())).collect();
        let _ = writeln!(out, "reserved {};", names.join(", "));
    }
    out
}

fn option_text(option: &UninterpretedOption) -> String {
    let name: Vec<String> = option
        .name
        .iter()
        .map(
            |NamePart { name_part, is_extension }| {
                if *is_extension { format!("({name_part})") } else { name_part.clone() }
            },
        )
        .collect();
    let value = if let Some(identifier) = &option.identifier_value {
        identifier.clone()
    } else if let Some(value) = option.positive_int_value {
        value.to_string()
    } else if let Some(value) = option.negative_int_value {
        value.to_string()
    } else if let Some(value) = option.double_value {
        value.to_string()
    } else if let Some(value) = &option.string_value {
        quote(value)
    } else if let Some(value) = &option.aggregate_value {
        super::aggregate::print_body(value)
    } else {
        String::new()
    };
    format!("{} = {value}", name.join("."))
}

/// A `.proto` string literal.
pub(super) fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\{:03o}", c as u32);
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\{byte:03o}");
        }
    }
    out.push('"');
    out
}

/// Confluent's normalization: imports, options, fields and enum values in a fixed order.
pub fn normalize(file: &mut FileDescriptorProto) {
    file.dependency.sort();
    if let Some(options) = &mut file.options {
        options.uninterpreted_option.sort_by_key(option_text);
    }
    if file.syntax.as_deref() == Some("proto2") {
        file.syntax = None;
    }
    for message in &mut file.message_type {
        normalize_message(message);
    }
    for enumeration in &mut file.enum_type {
        normalize_enum(enumeration);
    }
}

fn normalize_message(message: &mut DescriptorProto) {
    message.field.sort_by_key(prost_types::FieldDescriptorProto::number);
    message.reserved_range.sort_by_key(prost_types::descriptor_proto::ReservedRange::start);
    if let Some(options) = &mut message.options {
        options.uninterpreted_option.sort_by_key(option_text);
    }
    for field in &mut message.field {
        if let Some(options) = &mut field.options {
            options.uninterpreted_option.sort_by_key(option_text);
        }
    }
    for nested in &mut message.nested_type {
        normalize_message(nested);
    }
    for enumeration in &mut message.enum_type {
        normalize_enum(enumeration);
    }
}

fn normalize_enum(enumeration: &mut EnumDescriptorProto) {
    enumeration.value.sort_by_key(prost_types::EnumValueDescriptorProto::number);
    enumeration.reserved_range.sort_by_key(prost_types::enum_descriptor_proto::EnumReservedRange::start);
}

/// Makes a compiled descriptor's fully-qualified type names read as written:
/// the package and enclosing scopes are dropped.
pub fn relativize(file: &mut FileDescriptorProto) {
    let package = file.package.clone().unwrap_or_default();
    let prefix = if package.is_empty() { ".".to_owned() } else { format!(".{package}.") };
    let shorten = |name: &mut Option<String>, scope: &str| {
        if let Some(full) = name.as_mut() {
            if let Some(rest) = full.strip_prefix(&format!("{prefix}{scope}")) {
                *full = rest.to_owned();
            } else if let Some(rest) = full.strip_prefix(&prefix) {
                *full = rest.to_owned();
            } else if let Some(rest) = full.strip_prefix('.') {
                *full = rest.to_owned();
            }
        }
    };
    fn walk(message: &mut DescriptorProto, scope: &str, shorten: &dyn Fn(&mut Option<String>, &str)) {
        let inner = format!("{scope}{}.", message.name());
        for field in &mut message.field {
            shorten(&mut field.type_name, &inner);
            field.json_name = None;
        }
        for nested in &mut message.nested_type {
            walk(nested, &inner, shorten);
        }
    }
    for message in &mut file.message_type {
        walk(message, "", &shorten);
    }
    for field in &mut file.extension {
        shorten(&mut field.type_name, "");
        shorten(&mut field.extendee, "");
    }
    for service in &mut file.service {
        for method in &mut service.method {
            shorten(&mut method.input_type, "");
            shorten(&mut method.output_type, "");
        }
    }
}

/// The compiled file with the author's spelling put back: type names, labels
/// and JSON names as written, map entries named `<field>Entry` with bare key
/// and value fields, and no source info.
pub fn descriptor_as_written(compiled: &FileDescriptorProto, written: &FileDescriptorProto) -> FileDescriptorProto {
    let mut file = compiled.clone();
    file.name = Some("default".to_owned());
    file.source_code_info = None;
    file.syntax.clone_from(&written.syntax);
    file.dependency.clone_from(&written.dependency);
    for (message, written_message) in file.message_type.iter_mut().zip(&written.message_type) {
        message_as_written(message, written_message);
    }
    for (field, written_field) in file.extension.iter_mut().zip(&written.extension) {
        field_as_written(field, written_field);
        field.extendee.clone_from(&written_field.extendee);
    }
    for (service, written_service) in file.service.iter_mut().zip(&written.service) {
        for (method, written_method) in service.method.iter_mut().zip(&written_service.method) {
            method.input_type.clone_from(&written_method.input_type);
            method.output_type.clone_from(&written_method.output_type);
            method.client_streaming = Some(method.client_streaming());
            method.server_streaming = Some(method.server_streaming());
        }
    }
    file
}

fn field_as_written(field: &mut FieldDescriptorProto, written: &FieldDescriptorProto) {
    field.type_name.clone_from(&written.type_name);
    field.label = written.label;
    field.json_name.clone_from(&written.json_name);
}

fn message_as_written(message: &mut DescriptorProto, written: &DescriptorProto) {
    let mut renames: Vec<(String, String)> = Vec::new();
    for (field, written_field) in message.field.iter_mut().zip(&written.field) {
        field_as_written(field, written_field);
        let entry = written_field.type_name.as_deref().and_then(|name| map_entry_of(name, written));
        if let Some(entry) = entry {
            let renamed = format!("{}Entry", field.name());
            renames.push((entry.name().to_owned(), renamed.clone()));
            field.type_name = Some(renamed);
            field.r#type = None;
        }
    }
    for (field, written_field) in message.extension.iter_mut().zip(&written.extension) {
        field_as_written(field, written_field);
    }
    for oneof in &mut message.oneof_decl {
        oneof.options.get_or_insert_with(Default::default);
    }
    // Confluent builds the descriptor with the fields of (real) oneofs first,
    // then the others, each group in declaration order.
    let in_real_oneof = |field: &FieldDescriptorProto| field.oneof_index.is_some() && !field.proto3_optional();
    let (mut first, rest): (Vec<FieldDescriptorProto>, Vec<FieldDescriptorProto>) =
        std::mem::take(&mut message.field).into_iter().partition(in_real_oneof);
    // A oneof member is written without a label; Confluent's descriptor says optional.
    for field in &mut first {
        field.label.get_or_insert(Label::Optional as i32);
    }
    first.extend(rest);
    message.field = first;
    for range in &mut message.extension_range {
        range.options.get_or_insert_with(Default::default);
    }
    for (nested, written_nested) in message.nested_type.iter_mut().zip(&written.nested_type) {
        message_as_written(nested, written_nested);
        if let Some((_, renamed)) = renames.iter().find(|(old, _)| old == nested.name()) {
            nested.name = Some(renamed.clone());
            for field in &mut nested.field {
                field.label = None;
                field.json_name = None;
            }
        }
    }
}
