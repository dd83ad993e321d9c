//! The Protobuf oracle.
//!
//! For each top-level message of the writer's file, `prost-reflect` encodes a
//! generated `DynamicMessage` with the writer's descriptor and decodes the
//! bytes as the reader's message of the same full name. Then every field the
//! writer set is looked up in the reader *by number*:
//! - a number the reader does not know is an unknown field, which is fine;
//! - integers (every varint and fixed kind, `bool` as 0 and 1, enums by
//!   number) must read as the same number, floats as the same float, strings
//!   and bytes as the same bytes, messages field by field;
//! - a singular value read by a repeated reader must be its one element, and a
//!   repeated value read by a singular reader is a change unless it had one;
//! - a field the writer set that the reader lost (a oneof keeping only the
//!   last member it met, a wire-type clash) is a change;
//! - a field neither side set must have the same default on both sides;
//! - the reader's required fields must all be present, as Java's and C++'s
//!   parsers insist (`prost-reflect` does not check them).
//!
//! `prost-reflect` refuses a field whose wire type differs from the reader's
//! where Java and C++ keep it as an unknown field: both lose the value, so
//! both are failures; the reason says which.

use prost::Message as _;
use prost_reflect::{
    Cardinality, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};
use serde_json::Value as Json;

use super::{CounterExample, FailureKind, Gen, Proof, ProofOptions, pointer};
use crate::protobuf::ProtoSchema;

/// Messages nested deeper than this are not generated, even when required.
const HARD_DEPTH: usize = 24;

struct Failure {
    kind: FailureKind,
    cause: String,
    path: String,
    reason: String,
}

impl Failure {
    fn changed(cause: &str, path: &str, reason: String) -> Failure {
        Failure { kind: FailureKind::Changed, cause: cause.to_owned(), path: path.to_owned(), reason }
    }
}

pub(super) fn prove(writer: &ProtoSchema, reader: &ProtoSchema, options: &ProofOptions) -> Proof {
    let Some(file) = writer.file() else {
        return Proof::unsupported("the writer schema has no file");
    };
    let messages: Vec<MessageDescriptor> = file.messages().collect();
    if messages.is_empty() {
        return Proof::unsupported("the writer schema declares no message to write");
    }
    let mut g = Gen::new(options.seed);
    for index in 0..options.budget {
        g.start(index, options.budget);
        let descriptor = &messages[index % messages.len()];
        let Some(message) = generate(descriptor, &mut g, 0) else {
            return Proof::unsupported(format!(
                "{} has no finite value (a required field that always contains its own message)",
                descriptor.full_name()
            ));
        };
        let counter_example = |failure: Failure| {
            Proof::CounterExample(CounterExample {
                cause: failure.cause,
                kind: failure.kind,
                path: super::display_path(&failure.path),
                reason: failure.reason,
                message_type: Some(descriptor.full_name().to_owned()),
                payload: json_of(&message),
            })
        };
        let Some(reader_message) = reader.pool.get_message_by_name(descriptor.full_name()) else {
            return counter_example(Failure {
                kind: FailureKind::DecodeError,
                cause: "PROTOBUF_MESSAGE_MISSING".to_owned(),
                path: String::new(),
                reason: format!("the reader has no message {} to read it as", descriptor.full_name()),
            });
        };
        if let Err(failure) = binary(&message, &reader_message) {
            return counter_example(failure);
        }
        if options.protobuf_json
            && let Err(failure) = json(&message, &reader_message)
        {
            return counter_example(failure);
        }
    }
    Proof::Holds { values: options.budget, divergence: None }
}

/// Writes `message` in the binary encoding and reads it as `reader`.
fn binary(message: &DynamicMessage, reader: &MessageDescriptor) -> Result<(), Failure> {
    let bytes = message.encode_to_vec();
    let decoded = match DynamicMessage::decode(reader.clone(), bytes.as_slice()) {
        Ok(decoded) => decoded,
        Err(error) => return Err(decode_failure(message, reader, &error.to_string())),
    };
    compare_message(message, &decoded, "")?;
    required(&decoded, "")
}

/// Writes `message` in the Protobuf JSON mapping and reads it as `reader`
/// (ignoring unknown fields, as tolerant readers do).
fn json(message: &DynamicMessage, reader: &MessageDescriptor) -> Result<(), Failure> {
    let relabel = |mut failure: Failure| {
        failure.cause = format!("PROTOBUF_JSON_{}", failure.cause.trim_start_matches("PROTOBUF_"));
        failure.reason = format!("in the JSON mapping: {}", failure.reason);
        failure
    };
    let text = json_of(message).to_string();
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let options = prost_reflect::DeserializeOptions::new().deny_unknown_fields(false);
    let decoded =
        DynamicMessage::deserialize_with_options(reader.clone(), &mut deserializer, &options).map_err(|e| {
            relabel(Failure {
                kind: FailureKind::DecodeError,
                cause: "PROTOBUF_REJECTED".to_owned(),
                path: String::new(),
                reason: format!("the reader refuses the JSON: {e}"),
            })
        })?;
    compare_message(message, &decoded, "").map_err(relabel)?;
    required(&decoded, "").map_err(relabel)
}

/// The message in the Protobuf JSON mapping.
fn json_of(message: &DynamicMessage) -> Json {
    serde_json::to_value(message).unwrap_or_else(|e| Json::String(format!("(not representable in JSON: {e})")))
}

/// The deepest written field whose bytes alone the reader cannot decode:
/// its path, its descriptor and the reader's field of that number.
fn culprit(
    message: &DynamicMessage,
    reader: &MessageDescriptor,
    path: &str,
) -> Option<(String, FieldDescriptor, Option<FieldDescriptor>)> {
    let fails = |descriptor: MessageDescriptor, field: &FieldDescriptor, value: Value| {
        let mut single = DynamicMessage::new(descriptor);
        single.set_field(field, value);
        DynamicMessage::decode(reader.clone(), single.encode_to_vec().as_slice()).is_err()
    };
    let (field, value) =
        message.fields().find(|(field, value)| fails(message.descriptor(), field, (*value).clone()))?;
    let field_path = pointer(path, field.json_name());
    let read_as = reader.get_field(field.number());
    let deeper = match (value, read_as.as_ref().map(FieldDescriptor::kind)) {
        (Value::Message(inner), Some(Kind::Message(inner_reader))) if !field.is_map() => {
            culprit(inner, &inner_reader, &field_path)
        }
        (Value::List(items), Some(Kind::Message(inner_reader))) => items.iter().enumerate().find_map(|(k, item)| {
            let inner = item.as_message()?;
            DynamicMessage::decode(inner_reader.clone(), inner.encode_to_vec().as_slice())
                .is_err()
                .then(|| culprit(inner, &inner_reader, &pointer(&field_path, &k.to_string())))
                .flatten()
        }),
        (Value::Map(entries), Some(Kind::Message(entry))) if read_as.as_ref().is_some_and(FieldDescriptor::is_map) => {
            let Kind::Message(inner_reader) = entry.map_entry_value_field().kind() else {
                return Some((field_path, field, read_as));
            };
            let mut keys: Vec<&MapKey> = entries.keys().collect();
            keys.sort_by_key(|k| map_key_text(k));
            keys.into_iter().find_map(|key| {
                let inner = entries[key].as_message()?;
                DynamicMessage::decode(inner_reader.clone(), inner.encode_to_vec().as_slice())
                    .is_err()
                    .then(|| culprit(inner, &inner_reader, &pointer(&field_path, &map_key_text(key))))
                    .flatten()
            })
        }
        _ => None,
    };
    deeper.or(Some((field_path, field, read_as)))
}

/// A decode error, located and explained.
fn decode_failure(message: &DynamicMessage, reader: &MessageDescriptor, error: &str) -> Failure {
    let Some((path, field, read_as)) = culprit(message, reader, "") else {
        return Failure {
            kind: FailureKind::DecodeError,
            cause: "PROTOBUF_DECODE_ERROR".to_owned(),
            path: String::new(),
            reason: format!("the reader cannot decode the message: {error}"),
        };
    };
    let cause = match &read_as {
        Some(r) if field.is_list() && !r.is_list() => "PROTOBUF_REPEATED_TO_SINGULAR",
        Some(r) if field.kind() == Kind::Bytes && r.kind() == Kind::String => "PROTOBUF_INVALID_UTF8",
        Some(r) if field.kind().wire_type() != r.kind().wire_type() || field.is_packed() != r.is_packed() => {
            "PROTOBUF_WIRE_TYPE_CHANGED"
        }
        _ => "PROTOBUF_DECODE_ERROR",
    };
    let reader_side = read_as.map_or_else(String::new, |r| format!(" (read as {} {})", describe(&r), r.name()));
    let elsewhere = match cause {
        "PROTOBUF_INVALID_UTF8" => "; proto3 readers in every language refuse a string that is not UTF-8",
        "PROTOBUF_WIRE_TYPE_CHANGED" | "PROTOBUF_REPEATED_TO_SINGULAR" => {
            "; Java and C++ readers keep a field of another wire type as an unknown field instead: the value is lost either way"
        }
        _ => "",
    };
    Failure {
        kind: FailureKind::DecodeError,
        cause: cause.to_owned(),
        path,
        reason: format!(
            "field {} ({} {}){reader_side} cannot be decoded: {error}{elsewhere}",
            field.number(),
            describe(&field),
            field.name(),
        ),
    }
}

fn describe(field: &FieldDescriptor) -> String {
    let kind = kind_name(&field.kind());
    if field.is_map() {
        "map".to_owned()
    } else if field.is_list() {
        format!("repeated {kind}")
    } else {
        kind
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Every field `written` set, as the reader `read` it (see the module documentation).
fn compare_message(written: &DynamicMessage, read: &DynamicMessage, path: &str) -> Result<(), Failure> {
    let reader = read.descriptor();
    for wf in written.descriptor().fields() {
        let Some(rf) = reader.get_field(wf.number()) else { continue };
        let field_path = pointer(path, wf.json_name());
        let w = written.has_field(&wf).then(|| written.get_field(&wf));
        let r = read.has_field(&rf).then(|| read.get_field(&rf));
        match (w, r) {
            (Some(w), Some(r)) => compare_field(&wf, &w, &rf, &r, &field_path)?,
            (Some(w), None) => {
                let empty = w.as_list().is_some_and(<[Value]>::is_empty)
                    || w.as_map().is_some_and(std::collections::HashMap::is_empty);
                if empty {
                    continue;
                }
                let dropped_by = rf.containing_oneof().filter(|o| !o.is_synthetic()).and_then(|oneof| {
                    oneof.fields().find(|member| member.number() != rf.number() && read.has_field(member))
                });
                if let Some(member) = dropped_by {
                    return Err(Failure::changed(
                        "PROTOBUF_ONEOF_MEMBER_DROPPED",
                        &field_path,
                        format!(
                            "field {} ({}) was written, but the reader's oneof {} keeps only the last member it reads, field {} ({})",
                            wf.number(),
                            wf.name(),
                            rf.containing_oneof().map(|o| o.name().to_owned()).unwrap_or_default(),
                            member.number(),
                            member.name()
                        ),
                    ));
                }
                let scalar = |f: &FieldDescriptor| !f.is_list() && !f.is_map() && !matches!(f.kind(), Kind::Message(_));
                if scalar(&wf) && scalar(&rf) {
                    // The value read is the reader's default: fine if that is what was
                    // written; a reinterpretation to it when the kinds differ; lost otherwise.
                    match compare_single(&wf.kind(), &w, &rf.kind(), &rf.default_value(), &field_path) {
                        Ok(()) => continue,
                        Err(failure) if wf.kind() != rf.kind() => return Err(failure),
                        Err(_) => {}
                    }
                }
                return Err(Failure::changed(
                    "PROTOBUF_FIELD_LOST",
                    &field_path,
                    format!("field {} ({}) was written, but the reader has no value for it", wf.number(), wf.name()),
                ));
            }
            (None, Some(r)) => {
                if !wf.is_list() && !wf.is_map() && !matches!(wf.kind(), Kind::Message(_)) {
                    compare_single(&wf.kind(), &wf.default_value(), &rf.kind(), &r, &field_path)?;
                }
            }
            (None, None) => {
                let singular =
                    |f: &FieldDescriptor| !f.is_list() && !f.is_map() && !matches!(f.kind(), Kind::Message(_));
                if singular(&wf) && singular(&rf) && same_class(&wf.kind(), &rf.kind()) {
                    compare_single(&wf.kind(), &wf.default_value(), &rf.kind(), &rf.default_value(), &field_path)
                        .map_err(|failure| {
                            Failure::changed(
                                "PROTOBUF_DEFAULT_CHANGED",
                                &field_path,
                                format!(
                                    "field {} ({}) was not written: the writer's default is {}, the reader's {} ({})",
                                    wf.number(),
                                    wf.name(),
                                    show(&wf.default_value()),
                                    show(&rf.default_value()),
                                    failure.reason
                                ),
                            )
                        })?;
                }
            }
        }
    }
    Ok(())
}

/// Whether two kinds hold the same sort of value (integers, floats, bytes).
fn same_class(a: &Kind, b: &Kind) -> bool {
    let class = |k: &Kind| match k {
        Kind::Float | Kind::Double => 1,
        Kind::String | Kind::Bytes => 2,
        Kind::Message(_) => 3,
        _ => 0,
    };
    class(a) == class(b)
}

fn compare_field(wf: &FieldDescriptor, w: &Value, rf: &FieldDescriptor, r: &Value, path: &str) -> Result<(), Failure> {
    let (wk, rk) = (wf.kind(), rf.kind());
    if wf.is_map() || rf.is_map() {
        let (Some(wm), Some(rm), Kind::Message(we), Kind::Message(re)) = (w.as_map(), r.as_map(), &wk, &rk) else {
            return Err(Failure::changed(
                "PROTOBUF_KIND_CHANGED",
                path,
                format!("field {} is written as {} and read as {}", wf.number(), describe(wf), describe(rf)),
            ));
        };
        let (wkey, wval) = (we.map_entry_key_field(), we.map_entry_value_field());
        let (rkey, rval) = (re.map_entry_key_field(), re.map_entry_value_field());
        // Keys reinterpreted as another integer kind fail as integers do.
        let key_cause = if wkey.kind() != rkey.kind() && bits(&wkey.kind()) > 0 && bits(&rkey.kind()) > 0 {
            integer_cause(&wkey.kind(), &rkey.kind())
        } else {
            "PROTOBUF_MAP_KEY_CHANGED"
        };
        if wm.len() != rm.len() {
            return Err(Failure::changed(
                key_cause,
                path,
                format!("{} entries were written and {} read: distinct keys became one", wm.len(), rm.len()),
            ));
        }
        let mut entries: Vec<(&MapKey, &Value)> = wm.iter().collect();
        entries.sort_by_key(|(k, _)| map_key_text(k));
        for (key, value) in entries {
            let key_value = Value::from(key.clone());
            let found = rm.iter().find(|(rk2, _)| {
                compare_single(&wkey.kind(), &key_value, &rkey.kind(), &Value::from((*rk2).clone()), path).is_ok()
            });
            let entry_path = pointer(path, &map_key_text(key));
            match found {
                Some((_, read_value)) => compare_field(&wval, value, &rval, read_value, &entry_path)?,
                None => {
                    return Err(Failure::changed(
                        key_cause,
                        &entry_path,
                        format!("the key {} is not among the keys read", map_key_text(key)),
                    ));
                }
            }
        }
        return Ok(());
    }
    match (w.as_list(), r.as_list()) {
        (Some(ws), Some(rs)) => {
            if ws.len() != rs.len() {
                return Err(Failure::changed(
                    "PROTOBUF_VALUE_CHANGED",
                    path,
                    format!("{} elements were written and {} read", ws.len(), rs.len()),
                ));
            }
            for (k, (a, b)) in ws.iter().zip(rs).enumerate() {
                compare_single(&wk, a, &rk, b, &pointer(path, &k.to_string()))?;
            }
            Ok(())
        }
        (None, Some(rs)) => match rs {
            [single] => compare_single(&wk, w, &rk, single, path),
            _ => Err(Failure::changed(
                "PROTOBUF_VALUE_CHANGED",
                path,
                format!("one value was written and {} read", rs.len()),
            )),
        },
        (Some(ws), None) => match ws {
            [single] => compare_single(&wk, single, &rk, r, path),
            _ => Err(Failure::changed(
                "PROTOBUF_REPEATED_TO_SINGULAR",
                path,
                format!(
                    "field {} was written as {} elements; a singular reader keeps only the last{}",
                    wf.number(),
                    ws.len(),
                    if matches!(rk, Kind::Message(_)) { " (messages are merged into one)" } else { "" }
                ),
            )),
        },
        (None, None) => compare_single(&wk, w, &rk, r, path),
    }
}

/// A value for a sentence. Never `Debug` of a message: prost-reflect's
/// `Debug` of a message whose type contains itself does not terminate.
fn show(value: &Value) -> String {
    match value {
        Value::Message(message) => json_of(message).to_string(),
        Value::List(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => format!("a map of {} entries", entries.len()),
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => format!("the bytes {:02x?}", b.as_ref()),
        Value::EnumNumber(n) => format!("enum number {n}"),
        Value::Bool(b) => b.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
    }
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// An integer-like value as a number: varints, fixed kinds, bools, enum numbers.
fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::I32(v) | Value::EnumNumber(v) => Some(i128::from(*v)),
        Value::I64(v) => Some(i128::from(*v)),
        Value::U32(v) => Some(i128::from(*v)),
        Value::U64(v) => Some(i128::from(*v)),
        _ => None,
    }
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::F32(v) => Some(f64::from(*v)),
        Value::F64(v) => Some(*v),
        _ => None,
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::String(s) => Some(s.as_bytes()),
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

/// How many bits an integer kind keeps (0: not an integer kind).
fn bits(kind: &Kind) -> u32 {
    match kind {
        Kind::Bool => 1,
        Kind::Int64 | Kind::Uint64 | Kind::Sint64 | Kind::Fixed64 | Kind::Sfixed64 => 64,
        Kind::Int32 | Kind::Uint32 | Kind::Sint32 | Kind::Fixed32 | Kind::Sfixed32 | Kind::Enum(_) => 32,
        Kind::Float | Kind::Double | Kind::String | Kind::Bytes | Kind::Message(_) => 0,
    }
}

/// Why an integer written as `wk` reads as another number as `rk`.
fn integer_cause(wk: &Kind, rk: &Kind) -> &'static str {
    if *rk == Kind::Bool {
        "PROTOBUF_INTEGER_TO_BOOL"
    } else if bits(rk) < bits(wk) {
        "PROTOBUF_INTEGER_TRUNCATED"
    } else {
        "PROTOBUF_SIGN_REINTERPRETED"
    }
}

fn compare_single(wk: &Kind, w: &Value, rk: &Kind, r: &Value, path: &str) -> Result<(), Failure> {
    if let (Value::Message(wm), Value::Message(rm)) = (w, r) {
        return compare_message(wm, rm, path);
    }
    if let (Some(a), Some(b)) = (integer(w), integer(r)) {
        if let Kind::Enum(e) = rk
            && e.parent_file().syntax() == prost_reflect::Syntax::Proto2
            && i32::try_from(b).ok().and_then(|n| e.get_value(n)).is_none()
        {
            return Err(Failure::changed(
                "PROTOBUF_UNKNOWN_ENUM_VALUE",
                path,
                format!(
                    "the number {b} is not a value of the reader's closed (proto2) enum {}: Java and C++ readers move \
                     the field to the unknown fields and read its default instead",
                    e.full_name()
                ),
            ));
        }
        if a == b {
            return Ok(());
        }
        return Err(Failure::changed(
            integer_cause(wk, rk),
            path,
            format!("the {} {a} is read as the {} {b}", kind_name(wk), kind_name(rk)),
        ));
    }
    if let (Some(a), Some(b)) = (float(w), float(r)) {
        return if super::same_number(a, b) {
            Ok(())
        } else {
            Err(Failure::changed(
                "PROTOBUF_VALUE_CHANGED",
                path,
                format!("the {} {a} is read as the {} {b}", kind_name(wk), kind_name(rk)),
            ))
        };
    }
    if let (Some(a), Some(b)) = (bytes(w), bytes(r)) {
        return if a == b {
            Ok(())
        } else {
            Err(Failure::changed("PROTOBUF_VALUE_CHANGED", path, format!("the bytes {a:02x?} are read as {b:02x?}")))
        };
    }
    Err(Failure::changed(
        "PROTOBUF_KIND_CHANGED",
        path,
        format!("a {} value is read as a {}: {}", kind_name(wk), kind_name(rk), show(r)),
    ))
}

/// The first required field missing from `message` or its sub-messages.
fn required(message: &DynamicMessage, path: &str) -> Result<(), Failure> {
    for field in message.descriptor().fields() {
        let field_path = pointer(path, field.json_name());
        if field.cardinality() == Cardinality::Required && !message.has_field(&field) {
            return Err(Failure {
                kind: FailureKind::DecodeError,
                cause: "PROTOBUF_MISSING_REQUIRED".to_owned(),
                path: field_path,
                reason: format!(
                    "the reader's required field {} ({}) of {} was not written; Java's and C++'s parsers refuse the message",
                    field.number(),
                    field.name(),
                    message.descriptor().full_name()
                ),
            });
        }
        if !message.has_field(&field) {
            continue;
        }
        match &*message.get_field(&field) {
            Value::Message(m) => required(m, &field_path)?,
            Value::List(items) => {
                for (k, item) in items.iter().enumerate() {
                    if let Value::Message(m) = item {
                        required(m, &pointer(&field_path, &k.to_string()))?;
                    }
                }
            }
            Value::Map(entries) => {
                let mut keys: Vec<&MapKey> = entries.keys().collect();
                keys.sort_by_key(|k| map_key_text(k));
                for key in keys {
                    if let Value::Message(m) = &entries[key] {
                        required(m, &pointer(&field_path, &map_key_text(key)))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A message `descriptor` allows, shaped by it (see [`Gen`]); `None` when
/// required fields nest without end.
fn generate(descriptor: &MessageDescriptor, g: &mut Gen, depth: usize) -> Option<DynamicMessage> {
    if depth > HARD_DEPTH {
        return None;
    }
    let mut message = DynamicMessage::new(descriptor.clone());
    let minimal = g.exhausted(depth);
    if !minimal {
        for oneof in descriptor.oneofs().filter(|o| !o.is_synthetic()) {
            let members: Vec<FieldDescriptor> = oneof.fields().collect();
            if let Some(member) = members.get(g.pick(members.len() + 1)) {
                let value = single(&member.kind(), g, depth)?;
                message.set_field(member, value);
            }
        }
    }
    for field in descriptor.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        let required = field.cardinality() == Cardinality::Required;
        if minimal && !required {
            continue;
        }
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else { continue };
            let (key_kind, value_kind) = (entry.map_entry_key_field().kind(), entry.map_entry_value_field().kind());
            let mut map = std::collections::HashMap::new();
            for _ in 0..g.length(depth) {
                let key = single(&key_kind, g, depth)?.into_map_key()?;
                let value = single(&value_kind, g, depth)?;
                map.insert(key, value);
            }
            message.set_field(&field, Value::Map(map));
        } else if field.is_list() {
            let values = (0..g.length(depth)).map(|_| single(&field.kind(), g, depth)).collect::<Option<Vec<_>>>()?;
            message.set_field(&field, Value::List(values));
        } else if required || !field.supports_presence() || g.coin() {
            let value = single(&field.kind(), g, depth)?;
            message.set_field(&field, value);
        }
    }
    Some(message)
}

const I32_EDGES: &[i32] = &[0, 1, -1, i32::MAX, i32::MIN, 127, 128, -129, 300];
const I64_EDGES: &[i64] =
    &[0, 1, -1, i64::MAX, i64::MIN, 2_147_483_648, -2_147_483_649, 4_294_967_296, 9_007_199_254_740_993];
const U32_EDGES: &[u32] = &[0, 1, u32::MAX, 2_147_483_648, 2_147_483_647, 255, 256];
const U64_EDGES: &[u64] = &[0, 1, u64::MAX, 9_223_372_036_854_775_808, 4_294_967_296, 2_147_483_648];
const F32_EDGES: &[f32] = &[0.0, -0.0, 1.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN_POSITIVE];
const F64_EDGES: &[f64] = &[0.0, -0.0, 0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE];

fn single(kind: &Kind, g: &mut Gen, depth: usize) -> Option<Value> {
    use rand::Rng as _;
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(g.edge(I32_EDGES, rand::Rng::random)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(g.edge(I64_EDGES, rand::Rng::random)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(g.edge(U32_EDGES, rand::Rng::random)),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(g.edge(U64_EDGES, rand::Rng::random)),
        Kind::Float => Value::F32(g.edge(F32_EDGES, |r| r.random_range(-1e6..1e6))),
        Kind::Double => Value::F64(g.edge(F64_EDGES, |r| r.random_range(-1e12..1e12))),
        Kind::Bool => Value::Bool(g.coin()),
        Kind::String => Value::String(g.string()),
        Kind::Bytes => Value::Bytes(g.bytes().into()),
        Kind::Enum(e) => {
            let numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
            Value::EnumNumber(numbers[g.pick(numbers.len())])
        }
        Kind::Message(m) => Value::Message(generate(m, g, depth + 1)?),
    })
}
