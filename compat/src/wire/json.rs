//! The JSON Schema oracle.
//!
//! JSON has no encoding to get wrong: the wire question is whether every
//! document the writer's schema accepts is accepted by the reader's. Documents
//! are generated from the writer's schema (its types, properties, required
//! properties, enums, bounds, items, combinators), kept only when the
//! `jsonschema` crate validates them against the writer, and then validated
//! against the reader. An open content model lets a writer send properties it
//! does not declare, so generated objects also carry extra properties, named
//! after the properties the reader declares: exactly the documents that break
//! a reader which adds a constraint to a name the writer left open.
//!
//! Generation is best effort for keywords that describe sets hard to sample
//! (`pattern`, `not`, `if`/`then`/`else`, dependencies): candidates that the
//! writer rejects are dropped, up to four attempts per value of the budget.

use std::collections::BTreeSet;

use rand::Rng as _;
use serde_json::{Map, Value};

use super::{CounterExample, FailureKind, Gen, Proof, ProofOptions};
use crate::json::JsonSchema;

/// Follows `$ref`s at most this many times in a row.
const MAX_REFS: usize = 32;

/// Whether a schema accepts a document, and the first reason why not.
enum Judge {
    All,
    Nothing,
    Validator(jsonschema::Validator),
}

impl Judge {
    fn of(schema: &JsonSchema) -> Result<Judge, String> {
        match &schema.value {
            Value::Bool(true) => Ok(Judge::All),
            Value::Bool(false) => Ok(Judge::Nothing),
            _ => schema.validator().map(Judge::Validator),
        }
    }

    fn accepts(&self, document: &Value) -> bool {
        match self {
            Judge::All => true,
            Judge::Nothing => false,
            Judge::Validator(v) => v.is_valid(document),
        }
    }

    /// The first error: (instance path, cause, message).
    fn first_error(&self, schema: &Value, document: &Value) -> Option<(String, String, String)> {
        match self {
            Judge::All => None,
            Judge::Nothing => Some((
                String::new(),
                "JSON_REJECTED_BY_FALSE".to_owned(),
                "the schema `false` accepts no document".into(),
            )),
            Judge::Validator(v) => v.iter_errors(document).next().map(|error| {
                let mut cause = format!("JSON_REJECTED_BY_{}", screaming(error.kind().keyword()));
                // A required property the reader gives a default is a case of its own:
                // validation does not apply defaults, so the default does not help.
                if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
                    let schema_path = error.schema_path().to_string();
                    let object = schema_path.strip_suffix("/required").and_then(|p| schema.pointer(p));
                    let property_schema =
                        object.and_then(|o| o.get("properties")).and_then(|p| p.get(property.as_str()?));
                    if property_schema.is_some_and(|p| p.get("default").is_some()) {
                        "JSON_REQUIRED_DEFAULT_NOT_APPLIED".clone_into(&mut cause);
                    }
                }
                (error.instance_path().to_string(), cause, error.to_string())
            }),
        }
    }
}

pub(super) fn prove(writer: &JsonSchema, reader: &JsonSchema, options: &ProofOptions) -> Proof {
    let judges = Judge::of(writer).and_then(|w| Ok((w, Judge::of(reader)?)));
    let (writer_judge, reader_judge) = match judges {
        Ok(judges) => judges,
        Err(reason) => return Proof::unsupported(format!("the schema cannot be compiled: {reason}")),
    };
    let mut names = BTreeSet::new();
    property_names(&reader.value, &mut names, 0);
    property_names(&writer.value, &mut names, 0);
    let generator = Generator { schema: writer, names: names.into_iter().collect() };
    let mut g = Gen::new(options.seed);
    let attempts = options.budget.saturating_mul(4);
    let mut accepted = 0;
    for attempt in 0..attempts {
        if accepted == options.budget {
            break;
        }
        g.start(attempt, options.budget);
        let document = generator.value(&mut g, &writer.value, 0);
        if !writer_judge.accepts(&document) {
            continue;
        }
        accepted += 1;
        if let Some((path, cause, message)) = reader_judge.first_error(&reader.value, &document) {
            return Proof::CounterExample(CounterExample {
                cause,
                kind: FailureKind::Rejected,
                path: super::display_path(&path),
                reason: format!("the writer's schema accepts this document and the reader's rejects it: {message}"),
                message_type: None,
                payload: document,
            });
        }
    }
    if accepted == 0 && options.budget > 0 {
        return Proof::unsupported(format!(
            "none of {attempts} generated documents is valid under the writer's schema, so nothing was proven"
        ));
    }
    Proof::Holds { values: accepted, divergence: None }
}

/// `additionalProperties` as `ADDITIONAL_PROPERTIES`.
fn screaming(keyword: &str) -> String {
    let mut out = String::new();
    for (i, c) in keyword.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Every name under a `properties` keyword, anywhere in the schema.
fn property_names(value: &Value, names: &mut BTreeSet<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                names.extend(properties.keys().cloned());
            }
            for child in object.values() {
                property_names(child, names, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                property_names(item, names, depth + 1);
            }
        }
        _ => {}
    }
}

struct Generator<'a> {
    schema: &'a JsonSchema,
    /// Property names to try as undeclared properties of open objects.
    names: Vec<String>,
}

fn pointer_in<'v>(root: &'v Value, fragment: &str) -> Option<&'v Value> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.is_empty() { Some(root) } else { root.pointer(fragment) }
}

/// Merges `extra`'s keywords into `base`: properties and required are joined,
/// anything else from `extra` wins.
fn merge(base: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (key, value) in extra {
        match (key.as_str(), base.get_mut(key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, schema) in theirs {
                    mine.entry(name.clone()).or_insert_with(|| schema.clone());
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(name) {
                        mine.push(name.clone());
                    }
                }
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Generator<'_> {
    /// Follows `$ref` (local pointers and referenced schemas).
    fn resolve<'s>(&'s self, mut value: &'s Value) -> &'s Value {
        for _ in 0..MAX_REFS {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return value };
            let next = if reference.starts_with('#') {
                pointer_in(&self.schema.value, reference)
            } else {
                let (name, fragment) = reference.split_once('#').unwrap_or((reference, ""));
                self.schema.references.get(name).and_then(|doc| pointer_in(doc, fragment))
            };
            match next {
                Some(next) => value = next,
                None => return value,
            }
        }
        value
    }

    fn value(&self, g: &mut Gen, schema: &Value, depth: usize) -> Value {
        let schema = self.resolve(schema);
        let Some(object) = schema.as_object() else {
            // `true` accepts anything; `false` nothing (the candidate is dropped).
            return if schema == &Value::Bool(false) { Value::Null } else { any(g, depth) };
        };
        if let Some(constant) = object.get("const") {
            return constant.clone();
        }
        if let Some(Value::Array(options)) = object.get("enum")
            && !options.is_empty()
        {
            return options[g.pick(options.len())].clone();
        }
        // Combinators: fold the chosen branch (or every allOf member) into one schema.
        let combined = ["allOf", "anyOf", "oneOf"].iter().any(|k| object.contains_key(*k));
        if combined && depth < 32 {
            let mut merged: Map<String, Value> = object
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "allOf" | "anyOf" | "oneOf"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(Value::Array(members)) = object.get("allOf") {
                for member in members {
                    if let Some(member) = self.resolve(member).as_object() {
                        merge(&mut merged, member);
                    }
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = object.get(key)
                    && !branches.is_empty()
                {
                    let branch = self.resolve(&branches[g.pick(branches.len())]);
                    match branch.as_object() {
                        Some(branch) => merge(&mut merged, branch),
                        None => return self.value(g, branch, depth + 1),
                    }
                }
            }
            return self.value(g, &Value::Object(merged), depth + 1);
        }
        let types = match object.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        let ty = if types.is_empty() { inferred_type(object) } else { types[g.pick(types.len())].clone() };
        match ty.as_str() {
            "object" => self.object(g, object, depth),
            "array" => self.array(g, object, depth),
            "string" => string(g, object),
            "integer" => integer(g, object),
            "number" => number(g, object),
            "boolean" => Value::Bool(g.coin()),
            "null" => Value::Null,
            _ => any(g, depth),
        }
    }

    fn object(&self, g: &mut Gen, schema: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let exhausted = g.exhausted(depth);
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                if required.contains(name.as_str()) || (!exhausted && g.pick(3) != 0) {
                    out.insert(name.clone(), self.value(g, property, depth + 1));
                }
            }
        }
        for name in &required {
            if !out.contains_key(*name) {
                out.insert((*name).to_owned(), any(g, depth + 1));
            }
        }
        let additional = schema.get("additionalProperties").or_else(|| schema.get("unevaluatedProperties"));
        let closed = additional == Some(&Value::Bool(false));
        if !closed && !exhausted && g.pick(3) == 2 {
            for _ in 0..=g.rng().random_range(0..3usize) {
                let name = if !self.names.is_empty() && g.coin() {
                    self.names[g.rng().random_range(0..self.names.len())].clone()
                } else {
                    format!("extra{}", g.rng().random_range(0..100))
                };
                if out.contains_key(&name) || schema.get("properties").and_then(|p| p.get(&name)).is_some() {
                    continue;
                }
                let value = match additional {
                    Some(extra @ Value::Object(_)) => self.value(g, extra, depth + 1),
                    _ => any(g, depth + 1),
                };
                out.insert(name, value);
            }
        }
        Value::Object(out)
    }

    fn array(&self, g: &mut Gen, schema: &Map<String, Value>, depth: usize) -> Value {
        let min = schema.get("minItems").and_then(Value::as_u64).map_or(0, |n| usize::try_from(n).unwrap_or(0));
        let max =
            schema.get("maxItems").and_then(Value::as_u64).map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(0));
        let tuple = schema.get("prefixItems").or_else(|| schema.get("items")).and_then(Value::as_array);
        let mut out = Vec::new();
        if let Some(tuple) = tuple {
            let take = if g.exhausted(depth) { min.min(tuple.len()) } else { g.pick(tuple.len() + 1).max(min) };
            for item in tuple.iter().take(take) {
                out.push(self.value(g, item, depth + 1));
            }
            return Value::Array(out);
        }
        let length = g.length(depth).clamp(min.min(max), max);
        let items = schema.get("items").unwrap_or(&Value::Bool(true));
        for _ in 0..length.min(64) {
            out.push(self.value(g, items, depth + 1));
        }
        Value::Array(out)
    }
}

/// Any JSON value, small.
fn any(g: &mut Gen, depth: usize) -> Value {
    let choices = if g.exhausted(depth) { 5 } else { 7 };
    match g.pick(choices) {
        0 => Value::Null,
        1 => Value::Bool(g.coin()),
        2 => Value::from(g.edge(&[0_i64, -1, 7, 9_007_199_254_740_993], |r| r.random_range(-1000..1000))),
        3 => Value::from(g.edge(&[0.5_f64, -2.25, 1e300], |r| r.random_range(-1e6..1e6))),
        4 => Value::String(g.string()),
        5 => Value::Array((0..g.length(depth).min(3)).map(|_| any(g, depth + 1)).collect()),
        _ => {
            let mut object = Map::new();
            for k in 0..g.length(depth).min(3) {
                object.insert(format!("k{k}"), any(g, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// The type keywords imply when `type` is absent.
fn inferred_type(schema: &Map<String, Value>) -> String {
    let has = |keys: &[&str]| keys.iter().any(|k| schema.contains_key(*k));
    if has(&["properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties"]) {
        "object"
    } else if has(&["items", "prefixItems", "minItems", "maxItems", "uniqueItems"]) {
        "array"
    } else if has(&["minLength", "maxLength", "pattern", "format"]) {
        "string"
    } else if has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]) {
        "number"
    } else {
        "any"
    }
    .to_owned()
}

fn string(g: &mut Gen, schema: &Map<String, Value>) -> Value {
    let mut text = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => "2024-02-29T23:59:60Z".to_owned(),
        Some("date") => "2024-02-29".to_owned(),
        Some("time") => "23:59:59Z".to_owned(),
        Some("email") => "a.b@example.com".to_owned(),
        Some("uuid") => "123e4567-e89b-12d3-a456-426614174000".to_owned(),
        Some("uri") => "https://example.com/a?b=c".to_owned(),
        Some("ipv4") => "192.0.2.1".to_owned(),
        Some("ipv6") => "2001:db8::1".to_owned(),
        Some("hostname") => "example.com".to_owned(),
        _ => g.string(),
    };
    let length = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(min) = length("minLength") {
        while text.chars().count() < min.min(4096) {
            text.push('a');
        }
    }
    if let Some(max) = length("maxLength") {
        text = text.chars().take(max).collect();
    }
    Value::String(text)
}

/// The numeric bounds of a schema: (lowest allowed, highest allowed), each
/// exclusive bound nudged by `step`.
fn bounds(schema: &Map<String, Value>, step: f64) -> (f64, f64) {
    let get = |key: &str| schema.get(key).and_then(Value::as_f64);
    let low = match (get("minimum"), get("exclusiveMinimum")) {
        (Some(a), Some(b)) => a.max(b + step),
        (Some(a), None) => a,
        (None, Some(b)) => b + step,
        (None, None) => f64::NEG_INFINITY,
    };
    let high = match (get("maximum"), get("exclusiveMaximum")) {
        (Some(a), Some(b)) => a.min(b - step),
        (Some(a), None) => a,
        (None, Some(b)) => b - step,
        (None, None) => f64::INFINITY,
    };
    (low, high)
}

#[expect(clippy::cast_precision_loss, reason = "bounds are compared as JSON numbers are: as floats")]
fn integer(g: &mut Gen, schema: &Map<String, Value>) -> Value {
    const EDGES: &[i64] = &[0, 1, -1, 10, -10, 9_007_199_254_740_993, i64::MIN, i64::MAX, 2_147_483_648];
    let (low, high) = bounds(schema, 1.0);
    let mut v = g.edge(EDGES, |r| r.random_range(-1_000_000..1_000_000));
    if g.pick(4) == 3 {
        v = if low.is_finite() {
            low.ceil() as i64
        } else if high.is_finite() {
            high.floor() as i64
        } else {
            v
        };
    }
    if (v as f64) < low {
        v = low.ceil() as i64;
    }
    if (v as f64) > high {
        v = high.floor() as i64;
    }
    if let Some(m) = schema.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
    {
        let k = ((v as f64) / m).round();
        let snapped = k * m;
        if snapped.fract() == 0.0 {
            v = snapped as i64;
        }
    }
    Value::from(v)
}

fn number(g: &mut Gen, schema: &Map<String, Value>) -> Value {
    const EDGES: &[f64] = &[0.0, 0.5, -1.5, 1e300, -1e-300, 7.0, 0.1];
    let (low, high) = bounds(schema, 1e-9);
    let mut v = g.edge(EDGES, |r| r.random_range(-1e6..1e6));
    if g.pick(5) == 4 {
        return integer(g, schema);
    }
    if v < low {
        v = low;
    }
    if v > high {
        v = high;
    }
    if let Some(m) = schema.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
    {
        v = (v / m).round() * m;
    }
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}
