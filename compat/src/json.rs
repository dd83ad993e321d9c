//! JSON Schema: parsing with meta-schema validation (drafts 4, 6, 7, 2019-09
//! and 2020-12, through the `jsonschema` crate), the canonical text, and a
//! structural diff that gives Confluent's verdicts.
//!
//! Compatibility here is set inclusion: BACKWARD holds when every document the
//! old schema accepts, the new one accepts too. The diff walks both schemas
//! together and names each difference with Confluent's difference type; a type
//! outside the compatible set makes the pair incompatible.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::finding::{Incompatibility, Role};
use crate::types::{ResolvedReference, SchemaError};

/// How lenient the diff is (Confluent's `compatibilityPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Confluent's default: adding an optional property to an open content model breaks BACKWARD.
    #[default]
    Strict,
    /// Also accepts the changes users expect to be safe on open content models.
    Lenient,
}

/// A parsed JSON Schema with its referenced schemas.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    pub value: Value,
    /// Referenced schemas by reference name (the `$ref` URL).
    pub references: Arc<HashMap<String, Value>>,
}

fn collect_references(references: &[ResolvedReference], out: &mut HashMap<String, Value>) -> Result<(), SchemaError> {
    for reference in references {
        if out.contains_key(&reference.name) {
            continue;
        }
        let value: Value = serde_json::from_str(&reference.schema).map_err(|_| SchemaError::Reference {
            name: reference.name.clone(),
            reason: "the referenced schema is not JSON".into(),
        })?;
        out.insert(reference.name.clone(), value);
        collect_references(&reference.references, out)?;
    }
    Ok(())
}

/// Serves referenced subjects to the validator by the `$ref` name they were registered under.
struct ReferenceRetriever(Arc<HashMap<String, Value>>);

impl jsonschema::Retrieve for ReferenceRetriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str();
        self.0
            .iter()
            .find(|(name, _)| {
                wanted == name.as_str() || wanted.ends_with(&format!("/{}", name.trim_start_matches("./")))
            })
            .map(|(_, value)| value.clone())
            .ok_or_else(|| format!("no referenced schema is named {wanted}").into())
    }
}

fn drop_empty_all_of(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("allOf").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                object.shift_remove("allOf");
            }
            object.values_mut().for_each(drop_empty_all_of);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_all_of),
        _ => {}
    }
}

fn draft_of(value: &Value) -> jsonschema::Draft {
    let uri = value.get("$schema").and_then(Value::as_str).unwrap_or_default();
    if uri.contains("draft-04") {
        jsonschema::Draft::Draft4
    } else if uri.contains("draft-06") {
        jsonschema::Draft::Draft6
    } else if uri.contains("2019-09") {
        jsonschema::Draft::Draft201909
    } else if uri.contains("2020-12") {
        jsonschema::Draft::Draft202012
    } else {
        jsonschema::Draft::Draft7
    }
}

impl JsonSchema {
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<JsonSchema, SchemaError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::invalid(format!("Invalid JSON {text}: {e}")))?;
        let mut refs = HashMap::new();
        collect_references(references, &mut refs)?;
        if value.is_null() {
            // Confluent accepts any other JSON value as a schema (the recorded
            // corpus registers arrays, numbers and strings), but not `null`.
            return Err(SchemaError::invalid("Invalid JSON Schema: null is not a schema"));
        }
        let schema = JsonSchema { value, references: Arc::new(refs) };
        if schema.value.is_object() {
            schema.validator().map_err(SchemaError::invalid)?;
        }
        Ok(schema)
    }

    /// Builds a validator: checks the schema against its draft's meta-schema,
    /// compiles its patterns and resolves its references.
    pub(crate) fn validator(&self) -> Result<jsonschema::Validator, String> {
        let draft = draft_of(&self.value);
        let mut meta = self.value.clone();
        if let Some(object) = meta.as_object_mut() {
            // An unknown `$schema` falls back to draft 7, as Confluent does.
            object.remove("$schema");
        }
        // An empty `allOf` asks nothing of a document: Confluent accepts it,
        // where the meta-schemas want at least one member.
        drop_empty_all_of(&mut meta);
        let meta_check = match draft {
            jsonschema::Draft::Draft4 => jsonschema::draft4::meta::validate(&meta).map_err(|e| e.to_string()),
            jsonschema::Draft::Draft6 => jsonschema::draft6::meta::validate(&meta).map_err(|e| e.to_string()),
            jsonschema::Draft::Draft201909 => jsonschema::draft201909::meta::validate(&meta).map_err(|e| e.to_string()),
            jsonschema::Draft::Draft202012 => jsonschema::draft202012::meta::validate(&meta).map_err(|e| e.to_string()),
            _ => jsonschema::draft7::meta::validate(&meta).map_err(|e| e.to_string()),
        };
        meta_check.map_err(|reason| format!("Invalid JSON Schema: {reason}"))?;
        jsonschema::options()
            .with_draft(draft)
            .with_retriever(ReferenceRetriever(Arc::clone(&self.references)))
            .build(&meta)
            .map_err(|e| format!("Invalid JSON Schema: {e}"))
    }

    /// Compact JSON in the key order written, as Confluent stores it.
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.value).unwrap_or_default()
    }

    /// Compact JSON with every object's keys sorted.
    pub fn normalized(&self) -> String {
        serde_json::to_string(&sorted(&self.value)).unwrap_or_default()
    }

    /// Every reason `payload` is not valid under this schema, each with its JSON pointer.
    pub fn validate_payload(&self, payload: &Value) -> Result<Vec<String>, SchemaError> {
        if !self.value.is_object() {
            return Ok(if self.value == Value::Bool(false) {
                vec!["/: the schema `false` accepts no document".to_owned()]
            } else {
                Vec::new()
            });
        }
        let validator = self.validator().map_err(SchemaError::invalid)?;
        Ok(validator
            .iter_errors(payload)
            .map(|error| format!("{}: {error}", pointer_or_root(&error.instance_path().to_string())))
            .collect())
    }
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&object[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// One JSON Schema difference type: its id, whether it is compatible, and under LENIENT.
pub struct Rule {
    pub id: &'static str,
    pub compatible: bool,
    pub lenient_compatible: bool,
    pub summary: &'static str,
}

macro_rules! rules {
    ($( $id:literal => $compat:literal, $lenient:literal, $summary:literal; )*) => {
        /// Every difference type the diff reports.
        pub const RULES: &[Rule] = &[ $( Rule { id: $id, compatible: $compat, lenient_compatible: $lenient, summary: $summary }, )* ];
    };
}

rules! {
    "TYPE_EXTENDED" => true, true, "the set of allowed types grew (integer to number)";
    "TYPE_NARROWED" => false, false, "the set of allowed types shrank (number to integer)";
    "TYPE_CHANGED" => false, false, "the schema's type changed to one that accepts other documents";
    "SCHEMA_ADDED" => false, false, "a sub-schema was added where none constrained documents before";
    "SCHEMA_REMOVED" => true, true, "a sub-schema was removed";
    "MAX_LENGTH_ADDED" => false, false, "a maximum length was added";
    "MAX_LENGTH_DECREASED" => false, false, "the maximum length was lowered";
    "MIN_LENGTH_ADDED" => false, false, "a minimum length was added";
    "MIN_LENGTH_INCREASED" => false, false, "the minimum length was raised";
    "PATTERN_ADDED" => false, false, "a pattern was added";
    "PATTERN_CHANGED" => false, false, "the pattern changed";
    "MAXIMUM_ADDED" => false, false, "a maximum was added";
    "MAXIMUM_DECREASED" => false, false, "the maximum was lowered";
    "MINIMUM_ADDED" => false, false, "a minimum was added";
    "MINIMUM_INCREASED" => false, false, "the minimum was raised";
    "EXCLUSIVE_MAXIMUM_ADDED" => false, false, "an exclusive maximum was added";
    "EXCLUSIVE_MAXIMUM_DECREASED" => false, false, "the exclusive maximum was lowered";
    "EXCLUSIVE_MINIMUM_ADDED" => false, false, "an exclusive minimum was added";
    "EXCLUSIVE_MINIMUM_INCREASED" => false, false, "the exclusive minimum was raised";
    "MULTIPLE_OF_ADDED" => false, false, "a multipleOf constraint was added";
    "MULTIPLE_OF_EXPANDED" => false, false, "multipleOf became a multiple of its old value";
    "MULTIPLE_OF_CHANGED" => false, false, "multipleOf changed to an unrelated value";
    "REQUIRED_ATTRIBUTE_ADDED" => false, false, "a property became required";
    "MAX_PROPERTIES_ADDED" => false, false, "a maximum number of properties was added";
    "MAX_PROPERTIES_DECREASED" => false, false, "the maximum number of properties was lowered";
    "MIN_PROPERTIES_ADDED" => false, false, "a minimum number of properties was added";
    "MIN_PROPERTIES_INCREASED" => false, false, "the minimum number of properties was raised";
    "ADDITIONAL_PROPERTIES_REMOVED" => false, true, "additional properties were forbidden";
    "ADDITIONAL_PROPERTIES_NARROWED" => false, true, "additional properties were constrained by a schema";
    "DEPENDENCY_ARRAY_ADDED" => false, false, "a property dependency was added";
    "DEPENDENCY_ARRAY_EXTENDED" => false, false, "a property dependency requires more properties";
    "DEPENDENCY_ARRAY_CHANGED" => false, false, "a property dependency changed";
    "DEPENDENCY_SCHEMA_ADDED" => false, false, "a schema dependency was added";
    "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" => false, false, "a required property was added to an open content model";
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL" => false, true, "a required property with a default was added to an open content model";
    "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" => false, true, "an optional property was added to an open content model";
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => false, true, "a property was added that the old partially-open content model did not allow";
    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" => false, false, "a required property was added to a closed content model";
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL" => false, true, "a property was removed that the new partially-open content model does not allow";
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" => false, true, "a property was removed from a closed content model";
    "MAX_ITEMS_ADDED" => false, false, "a maximum number of items was added";
    "MAX_ITEMS_DECREASED" => false, false, "the maximum number of items was lowered";
    "MIN_ITEMS_ADDED" => false, false, "a minimum number of items was added";
    "MIN_ITEMS_INCREASED" => false, false, "the minimum number of items was raised";
    "UNIQUE_ITEMS_ADDED" => false, false, "items were required to be unique";
    "ADDITIONAL_ITEMS_REMOVED" => false, false, "additional tuple items were forbidden";
    "ADDITIONAL_ITEMS_NARROWED" => false, false, "additional tuple items were constrained by a schema";
    "ITEM_ADDED_TO_OPEN_CONTENT_MODEL" => false, false, "a tuple item was added to an open content model";
    "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL" => false, false, "a tuple item was removed from a closed content model";
    "ENUM_ARRAY_NARROWED" => false, false, "enum values were removed";
    "ENUM_ARRAY_CHANGED" => false, false, "enum or const values changed";
    "COMBINED_TYPE_CHANGED" => false, false, "the combination keyword changed (anyOf, oneOf, allOf)";
    "SUM_TYPE_NARROWED" => false, false, "oneOf/anyOf lost a branch";
    "PRODUCT_TYPE_EXTENDED" => false, false, "allOf gained a member";
    "COMBINED_TYPE_SUBSCHEMAS_CHANGED" => false, false, "the members of a combination changed incompatibly";
    "NOT_TYPE_EXTENDED" => false, false, "the `not` schema now excludes more documents";
}

/// Every reason documents valid under `writer` are not valid under `reader`.
pub fn check(reader: &JsonSchema, writer: &JsonSchema, reader_role: Role) -> Vec<Incompatibility> {
    check_with_policy(reader, writer, reader_role, Policy::Strict)
}

/// [`check`] under a chosen policy.
pub fn check_with_policy(
    reader: &JsonSchema,
    writer: &JsonSchema,
    reader_role: Role,
    policy: Policy,
) -> Vec<Incompatibility> {
    let mut diff =
        Diff { original: writer, update: reader, found: Vec::new(), visiting: BTreeSet::new(), pairs: Rc::default() };
    diff.compare("#", &writer.value, &reader.value, 0);
    let mut seen = BTreeSet::new();
    diff.found
        .into_iter()
        .filter(|(rule, _)| {
            RULES.iter().find(|r| r.id == *rule).is_some_and(|r| match policy {
                Policy::Strict => !r.compatible,
                Policy::Lenient => !r.lenient_compatible,
            })
        })
        .filter(|entry| seen.insert(entry.clone()))
        .map(|(rule, path)| finding(rule, &path, reader_role))
        .collect()
}

fn finding(rule: &str, path: &str, reader_role: Role) -> Incompatibility {
    let (reader, writer) = (reader_role.word(), reader_role.other().word());
    let summary = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.summary);
    let description = if rule == "TYPE_CHANGED" {
        // Confluent's sentence, down to its stray closing quote.
        format!("A type at path '{path}' is different between the {reader} schema and the {writer} schema'")
    } else {
        let mut text = format!(
            "At path '{path}' of the {reader} schema {summary}, so documents valid under the {writer} schema may be rejected"
        );
        if rule.contains("OPEN_CONTENT_MODEL") {
            text.push_str(
                "; to make this change compatible, close the content model (\"additionalProperties\": false) \
                 in the earlier version, or use the LENIENT policy",
            );
        }
        text
    };
    Incompatibility {
        rule: rule.to_owned(),
        path: path.to_owned(),
        // Confluent closes JSON Schema descriptions with `'}`, not `"}`.
        confluent_message: format!("{{errorType:\"{rule}\", description:\"{description}}}"),
        description,
        additional_info: None,
    }
}

/// Walks the original (writer) and update (reader) schemas together.
struct Diff<'a> {
    original: &'a JsonSchema,
    update: &'a JsonSchema,
    found: Vec<(&'static str, String)>,
    /// Pairs of schemas being compared further up: a recursive schema met again counts as equal.
    visiting: BTreeSet<(String, String)>,
    /// Whether a pair of subschemas (by address) was found compatible, shared by
    /// every comparison of one check: nested `oneOf`/`anyOf` match each pair of
    /// branches once, so the work is polynomial in the schemas' size, not
    /// exponential in their nesting.
    pairs: Rc<RefCell<HashMap<(usize, usize), bool>>>,
}

const MAX_DEPTH: usize = 64;

fn number(schema: &Map<String, Value>, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

/// The JSON types a schema allows, or `None` when it does not say.
fn types_of(schema: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()),
        _ => None,
    }
}

/// Whether every type in `narrow` is allowed by `wide` (integer is a number).
fn types_within(narrow: &BTreeSet<String>, wide: &BTreeSet<String>) -> bool {
    narrow.iter().all(|t| wide.contains(t) || (t == "integer" && wide.contains("number")))
}

fn resolve_pointer<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    let pointer = pointer.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

impl<'a> Diff<'a> {
    fn report(&mut self, rule: &'static str, path: &str) {
        self.found.push((rule, path.to_owned()));
    }

    /// Follows `$ref` (local pointers and referenced subjects) until a schema is reached.
    fn resolve(schema: &'a JsonSchema, mut value: &'a Value) -> &'a Value {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let next = if reference.starts_with('#') {
                resolve_pointer(&schema.value, reference)
            } else {
                let (name, fragment) = reference.split_once('#').unwrap_or((reference, ""));
                schema.references.get(name).and_then(|doc| {
                    if fragment.is_empty() { Some(doc) } else { resolve_pointer(doc, &format!("#{fragment}")) }
                })
            };
            match next {
                Some(next) => value = next,
                None => return value,
            }
        }
        value
    }

    fn compare(&mut self, path: &str, original: &'a Value, update: &'a Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let original = Self::resolve(self.original, original);
        let update = Self::resolve(self.update, update);
        // Equal text is an equal schema only when no `$ref` inside points into
        // the two (different) documents.
        if original == update && !has_ref(original) {
            return;
        }
        let key = (original.to_string(), update.to_string());
        if self.visiting.contains(&key) {
            return;
        }
        self.visiting.insert(key.clone());
        self.compare_resolved(path, original, update, depth);
        self.visiting.remove(&key);
    }

    fn compare_resolved(&mut self, path: &str, original: &'a Value, update: &'a Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        // Anything may become `true`/`{}`; `false` may become anything.
        let update_accepts_all = matches!(update, Value::Bool(true)) || update.as_object().is_some_and(Map::is_empty);
        if update_accepts_all || matches!(original, Value::Bool(false)) {
            return;
        }
        let (Some(o), Some(u)) = (as_schema(original), as_schema(update)) else {
            self.report("TYPE_CHANGED", path);
            return;
        };
        self.compare_combined(path, original, o, u, depth);
        match (types_of(o), types_of(u)) {
            (Some(ot), Some(ut)) if ot != ut => {
                if types_within(&ot, &ut) {
                    self.report("TYPE_EXTENDED", path);
                } else if types_within(&ut, &ot) {
                    self.report("TYPE_NARROWED", path);
                } else {
                    self.report("TYPE_CHANGED", path);
                    return;
                }
            }
            (None, Some(_)) if !o.contains_key("enum") && !o.contains_key("const") && !is_combined(o) => {
                self.report("TYPE_NARROWED", path);
            }
            // An untyped enum (or const) that became a typed schema: Confluent's
            // diff sees two schema classes (`EnumSchema` and, say, `NumberSchema`)
            // and reports TYPE_CHANGED, whether or not the old values fit the new type.
            (None, Some(_)) if !is_combined(o) => {
                self.report("TYPE_CHANGED", path);
                return;
            }
            // A combination that gains a `type` beside it: the update accepts
            // only documents of that type, so a branch of another type narrows.
            (None, Some(ut)) if !self.branches_within(o, &ut) => {
                self.report("TYPE_NARROWED", path);
            }
            _ => {}
        }
        self.compare_enum(path, o, u);
        self.compare_bounds(path, o, u);
        self.compare_object(path, o, u, depth);
        self.compare_array(path, o, u, depth);
        if let (Some(on), Some(un)) = (o.get("not"), u.get("not")) {
            // `not` reverses the direction.
            let mut inner = Diff {
                original: self.update,
                update: self.original,
                found: Vec::new(),
                visiting: BTreeSet::new(),
                pairs: Rc::clone(&self.pairs),
            };
            inner.compare(&format!("{path}/not"), un, on, depth + 1);
            if inner.found.iter().any(|(rule, _)| !is_compatible(rule)) {
                self.report("NOT_TYPE_EXTENDED", path);
            }
        } else if u.contains_key("not") {
            self.report("NOT_TYPE_EXTENDED", path);
        }
    }

    /// Whether every document the original's combination accepts has one of
    /// `types`: some `allOf` member, or every branch of a `oneOf` or `anyOf`,
    /// is typed within them.
    fn branches_within(&self, o: &'a Map<String, Value>, types: &BTreeSet<String>) -> bool {
        let typed_within = |branch: &'a Value| {
            as_schema(Self::resolve(self.original, branch))
                .and_then(types_of)
                .is_some_and(|bt| types_within(&bt, types))
        };
        let branches = |key: &str| o.get(key).and_then(Value::as_array);
        branches("allOf").is_some_and(|members| members.iter().any(typed_within))
            || ["oneOf", "anyOf"].iter().any(|key| branches(key).is_some_and(|bs| bs.iter().all(typed_within)))
    }

    fn compare_enum(&mut self, path: &str, o: &Map<String, Value>, u: &Map<String, Value>) {
        match (o.get("enum").and_then(Value::as_array), u.get("enum").and_then(Value::as_array)) {
            (Some(oe), Some(ue)) if oe != ue => {
                if oe.iter().all(|v| ue.contains(v)) {
                    // extended: compatible
                } else if ue.iter().all(|v| oe.contains(v)) {
                    self.report("ENUM_ARRAY_NARROWED", path);
                } else {
                    self.report("ENUM_ARRAY_CHANGED", path);
                }
            }
            (None, Some(_)) => self.report("ENUM_ARRAY_NARROWED", path),
            _ => {}
        }
        if u.get("const").is_some() && o.get("const") != u.get("const") {
            self.report("ENUM_ARRAY_CHANGED", path);
        }
    }

    fn compare_bounds(&mut self, path: &str, o: &Map<String, Value>, u: &Map<String, Value>) {
        // (keyword, added, tightened when the new value is smaller?, rule when tightened)
        const UPPER: &[(&str, &str, &str)] = &[
            ("maxLength", "MAX_LENGTH_ADDED", "MAX_LENGTH_DECREASED"),
            ("maximum", "MAXIMUM_ADDED", "MAXIMUM_DECREASED"),
            ("exclusiveMaximum", "EXCLUSIVE_MAXIMUM_ADDED", "EXCLUSIVE_MAXIMUM_DECREASED"),
            ("maxItems", "MAX_ITEMS_ADDED", "MAX_ITEMS_DECREASED"),
            ("maxProperties", "MAX_PROPERTIES_ADDED", "MAX_PROPERTIES_DECREASED"),
        ];
        const LOWER: &[(&str, &str, &str)] = &[
            ("minLength", "MIN_LENGTH_ADDED", "MIN_LENGTH_INCREASED"),
            ("minimum", "MINIMUM_ADDED", "MINIMUM_INCREASED"),
            ("exclusiveMinimum", "EXCLUSIVE_MINIMUM_ADDED", "EXCLUSIVE_MINIMUM_INCREASED"),
            ("minItems", "MIN_ITEMS_ADDED", "MIN_ITEMS_INCREASED"),
            ("minProperties", "MIN_PROPERTIES_ADDED", "MIN_PROPERTIES_INCREASED"),
        ];
        for &(key, added, tightened) in UPPER {
            match (number(o, key), number(u, key)) {
                (None, Some(_)) => self.report(added, &format!("{path}/{key}")),
                (Some(old), Some(new)) if new < old => {
                    self.report(tightened, &format!("{path}/{key}"));
                }
                _ => {}
            }
        }
        for &(key, added, tightened) in LOWER {
            match (number(o, key), number(u, key)) {
                (None, Some(_)) => self.report(added, &format!("{path}/{key}")),
                (Some(old), Some(new)) if new > old => {
                    self.report(tightened, &format!("{path}/{key}"));
                }
                _ => {}
            }
        }
        match (o.get("pattern"), u.get("pattern")) {
            (None, Some(_)) => self.report("PATTERN_ADDED", &format!("{path}/pattern")),
            (Some(a), Some(b)) if a != b => {
                self.report("PATTERN_CHANGED", &format!("{path}/pattern"));
            }
            _ => {}
        }
        match (number(o, "multipleOf"), number(u, "multipleOf")) {
            (None, Some(_)) => self.report("MULTIPLE_OF_ADDED", &format!("{path}/multipleOf")),
            (Some(old), Some(new)) if (old - new).abs() > f64::EPSILON => {
                if (old / new).fract().abs() < 1e-9 {
                    // new divides old: reduced, compatible
                } else if (new / old).fract().abs() < 1e-9 {
                    self.report("MULTIPLE_OF_EXPANDED", &format!("{path}/multipleOf"));
                } else {
                    self.report("MULTIPLE_OF_CHANGED", &format!("{path}/multipleOf"));
                }
            }
            _ => {}
        }
        if u.get("uniqueItems") == Some(&Value::Bool(true)) && o.get("uniqueItems") != Some(&Value::Bool(true)) {
            self.report("UNIQUE_ITEMS_ADDED", &format!("{path}/uniqueItems"));
        }
    }

    fn compare_object(&mut self, path: &str, o: &'a Map<String, Value>, u: &'a Map<String, Value>, depth: usize) {
        let op: &'a Map<String, Value> = o.get("properties").and_then(Value::as_object).unwrap_or(&EMPTY);
        let up: &'a Map<String, Value> = u.get("properties").and_then(Value::as_object).unwrap_or(&EMPTY);
        let o_required = string_set(o.get("required"));
        let u_required = string_set(u.get("required"));
        for (name, original) in op {
            let child = format!("{path}/properties/{name}");
            match up.get(name) {
                Some(update) => self.compare(&child, original, update, depth + 1),
                None => match content_model(u) {
                    ContentModel::Open => {}
                    ContentModel::Closed => {
                        if original != &Value::Bool(false) {
                            self.report("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", &child);
                        }
                    }
                    ContentModel::Partial(cover) => {
                        if !self.covers(cover, original, depth) {
                            self.report("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", &child);
                        }
                    }
                },
            }
        }
        for (name, update) in up {
            if op.contains_key(name) {
                continue;
            }
            let child = format!("{path}/properties/{name}");
            let required = u_required.contains(name);
            let has_default = update.get("default").is_some();
            let accepts_all = update == &Value::Bool(true) || update.as_object().is_some_and(Map::is_empty);
            match content_model(o) {
                ContentModel::Open => {
                    if accepts_all {
                    } else if required && has_default {
                        self.report("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL", &child);
                    } else if required {
                        self.report("REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", &child);
                    } else {
                        self.report("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", &child);
                    }
                }
                model => {
                    if let ContentModel::Partial(cover) = model
                        && !self.covers_update(cover, update, depth)
                    {
                        self.report("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", &child);
                    }
                    if required && !has_default {
                        self.report("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", &child);
                    }
                }
            }
        }
        for name in u_required.difference(&o_required) {
            // A property the update declares for the first time is judged above;
            // one it requires without declaring it anywhere is a new requirement too.
            let declared_now = up.contains_key(name) && !op.contains_key(name);
            if !declared_now && up.get(name).and_then(|p| p.get("default")).is_none() {
                self.report("REQUIRED_ATTRIBUTE_ADDED", &format!("{path}/required/{name}"));
            }
        }
        match (o.get("additionalProperties"), u.get("additionalProperties")) {
            (None | Some(Value::Bool(true)), Some(Value::Bool(false))) => {
                self.report("ADDITIONAL_PROPERTIES_REMOVED", &format!("{path}/additionalProperties"));
            }
            (None | Some(Value::Bool(true)), Some(update)) if update.as_object().is_some_and(|m| !m.is_empty()) => {
                self.report("ADDITIONAL_PROPERTIES_NARROWED", &format!("{path}/additionalProperties"));
            }
            (Some(original), Some(update)) if original.is_object() && update.is_object() => {
                self.compare(&format!("{path}/additionalProperties"), original, update, depth + 1);
            }
            (Some(original), Some(Value::Bool(false))) if original.is_object() => {
                self.report("ADDITIONAL_PROPERTIES_REMOVED", &format!("{path}/additionalProperties"));
            }
            _ => {}
        }
        let deps = |m: &'a Map<String, Value>| -> Map<String, Value> {
            let mut all = Map::new();
            for key in ["dependencies", "dependentRequired", "dependentSchemas"] {
                if let Some(Value::Object(d)) = m.get(key) {
                    all.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            all
        };
        let (od, ud) = (deps(o), deps(u));
        for (name, update) in &ud {
            let child = format!("{path}/dependencies/{name}");
            match (od.get(name), update) {
                (None, Value::Array(_)) => self.report("DEPENDENCY_ARRAY_ADDED", &child),
                (None, _) => self.report("DEPENDENCY_SCHEMA_ADDED", &child),
                (Some(Value::Array(old)), Value::Array(new)) => {
                    if new.iter().all(|v| old.contains(v)) {
                    } else if old.iter().all(|v| new.contains(v)) {
                        self.report("DEPENDENCY_ARRAY_EXTENDED", &child);
                    } else {
                        self.report("DEPENDENCY_ARRAY_CHANGED", &child);
                    }
                }
                (Some(old), new) if old.is_object() && new.is_object() => {
                    let (old, new) = (old.clone(), new.clone());
                    let mut inner = Diff {
                        original: self.original,
                        update: self.update,
                        found: Vec::new(),
                        visiting: BTreeSet::new(),
                        pairs: Rc::clone(&self.pairs),
                    };
                    inner.compare(&child, &old, &new, depth + 1);
                    self.found.extend(inner.found);
                }
                _ => self.report("DEPENDENCY_ARRAY_CHANGED", &child),
            }
        }
    }

    /// Whether a partially-open content model's schema `cover` accepts what `original` accepted.
    fn covers(&mut self, cover: &'a Value, original: &'a Value, depth: usize) -> bool {
        let mut inner = Diff {
            original: self.original,
            update: self.update,
            found: Vec::new(),
            visiting: BTreeSet::new(),
            pairs: Rc::clone(&self.pairs),
        };
        inner.compare("#", original, cover, depth + 1);
        inner.found.iter().all(|(rule, _)| is_compatible(rule))
    }

    /// Whether a new property's schema accepts what the old partially-open model allowed for it.
    fn covers_update(&mut self, cover: &'a Value, update: &'a Value, depth: usize) -> bool {
        let mut inner = Diff {
            original: self.original,
            update: self.update,
            found: Vec::new(),
            visiting: BTreeSet::new(),
            pairs: Rc::clone(&self.pairs),
        };
        inner.compare("#", cover, update, depth + 1);
        inner.found.iter().all(|(rule, _)| is_compatible(rule))
    }

    fn compare_array(&mut self, path: &str, o: &'a Map<String, Value>, u: &'a Map<String, Value>, depth: usize) {
        let tuple = |m: &'a Map<String, Value>| -> Option<&'a Vec<Value>> {
            m.get("prefixItems").and_then(Value::as_array).or_else(|| m.get("items").and_then(Value::as_array))
        };
        match (tuple(o), tuple(u)) {
            (Some(ot), Some(ut)) => {
                let items_closed = |m: &Map<String, Value>| {
                    m.get("additionalItems") == Some(&Value::Bool(false))
                        || (m.contains_key("prefixItems") && m.get("items") == Some(&Value::Bool(false)))
                };
                for (i, (a, b)) in ot.iter().zip(ut).enumerate() {
                    self.compare(&format!("{path}/items/{i}"), a, b, depth + 1);
                }
                if !items_closed(o) {
                    // An added item with an empty schema (`true`, `{}`) accepts what the open model did.
                    let accepts_all = |v: &Value| v == &Value::Bool(true) || v.as_object().is_some_and(Map::is_empty);
                    if let Some(i) = (ot.len()..ut.len()).find(|i| !accepts_all(&ut[*i])) {
                        self.report("ITEM_ADDED_TO_OPEN_CONTENT_MODEL", &format!("{path}/items/{i}"));
                    }
                }
                if ot.len() > ut.len() && items_closed(u) {
                    self.report("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", &format!("{path}/items/{}", ut.len()));
                }
                match (o.get("additionalItems"), u.get("additionalItems")) {
                    (None | Some(Value::Bool(true)), Some(Value::Bool(false))) => {
                        self.report("ADDITIONAL_ITEMS_REMOVED", &format!("{path}/additionalItems"));
                    }
                    (None | Some(Value::Bool(true)), Some(update))
                        if update.as_object().is_some_and(|m| !m.is_empty()) =>
                    {
                        self.report("ADDITIONAL_ITEMS_NARROWED", &format!("{path}/additionalItems"));
                    }
                    _ => {}
                }
            }
            (None, None) => match (o.get("items"), u.get("items")) {
                (Some(a), Some(b)) => self.compare(&format!("{path}/items"), a, b, depth + 1),
                (None, Some(b)) if !(b == &Value::Bool(true) || b.as_object().is_some_and(Map::is_empty)) => {
                    self.report("SCHEMA_ADDED", &format!("{path}/items"));
                }
                _ => {}
            },
            _ => {
                if u.contains_key("items") || u.contains_key("prefixItems") {
                    self.report("TYPE_CHANGED", &format!("{path}/items"));
                }
            }
        }
    }

    fn compare_combined(
        &mut self,
        path: &str,
        original: &'a Value,
        o: &'a Map<String, Value>,
        u: &'a Map<String, Value>,
        depth: usize,
    ) {
        let combo = |m: &'a Map<String, Value>| -> Option<(&'static str, &'a Vec<Value>)> {
            ["oneOf", "anyOf", "allOf"].into_iter().find_map(|k| m.get(k).and_then(Value::as_array).map(|v| (k, v)))
        };
        match (combo(o), combo(u)) {
            (Some((ok, ob)), Some((uk, ub))) => {
                let sum = |k: &str| k != "allOf";
                if ok != uk && !(sum(uk) && (ok == "oneOf" || uk == "anyOf")) {
                    self.report("COMBINED_TYPE_CHANGED", path);
                    return;
                }
                let child = format!("{path}/{uk}");
                if sum(uk) && ub.len() < ob.len() {
                    self.report("SUM_TYPE_NARROWED", &child);
                } else if !sum(uk) && ub.len() > ob.len() {
                    self.report("PRODUCT_TYPE_EXTENDED", &child);
                }
                // Every member of the smaller side must be matched by a compatible member.
                let (small, large, small_is_original) =
                    if ob.len() <= ub.len() { (ob, ub, true) } else { (ub, ob, false) };
                let mut used = vec![false; large.len()];
                for a in small {
                    let matched = large.iter().enumerate().find(|(j, b)| {
                        !used[*j] && {
                            let (orig, upd) = if small_is_original { (a, *b) } else { (*b, a) };
                            let key = (std::ptr::from_ref(orig) as usize, std::ptr::from_ref(upd) as usize);
                            let known = self.pairs.borrow().get(&key).copied();
                            known.unwrap_or_else(|| {
                                let mut inner = Diff {
                                    original: self.original,
                                    update: self.update,
                                    found: Vec::new(),
                                    visiting: BTreeSet::new(),
                                    pairs: Rc::clone(&self.pairs),
                                };
                                inner.compare(&child, orig, upd, depth + 1);
                                let compatible = inner.found.iter().all(|(rule, _)| is_compatible(rule));
                                self.pairs.borrow_mut().insert(key, compatible);
                                compatible
                            })
                        }
                    });
                    if let Some((j, _)) = matched {
                        used[j] = true;
                    } else {
                        self.report("COMBINED_TYPE_SUBSCHEMAS_CHANGED", &child);
                        return;
                    }
                }
            }
            (None, Some((uk, ub))) if uk != "allOf" => {
                // A plain schema may become a sum type with a branch that accepts it.
                let compatible = ub.iter().any(|b| {
                    let key = (std::ptr::from_ref(original) as usize, std::ptr::from_ref(b) as usize);
                    let known = self.pairs.borrow().get(&key).copied();
                    known.unwrap_or_else(|| {
                        let mut inner = Diff {
                            original: self.original,
                            update: self.update,
                            found: Vec::new(),
                            visiting: BTreeSet::new(),
                            pairs: Rc::clone(&self.pairs),
                        };
                        inner.compare_resolved(path, original, b, depth + 1);
                        let compatible = inner.found.iter().all(|(rule, _)| is_compatible(rule));
                        self.pairs.borrow_mut().insert(key, compatible);
                        compatible
                    })
                });
                if !compatible {
                    self.report("COMBINED_TYPE_SUBSCHEMAS_CHANGED", path);
                }
            }
            (None, Some(_)) => self.report("PRODUCT_TYPE_EXTENDED", path),
            (Some(_), None) => {
                if !o.contains_key("allOf") {
                    self.report("COMBINED_TYPE_CHANGED", path);
                }
            }
            (None, None) => {}
        }
    }
}

/// Whether a schema has a `$ref` anywhere inside.
fn has_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
        Value::Array(items) => items.iter().any(has_ref),
        _ => false,
    }
}

fn is_compatible(rule: &str) -> bool {
    RULES.iter().find(|r| r.id == rule).is_none_or(|r| r.compatible)
}

fn is_combined(m: &Map<String, Value>) -> bool {
    m.contains_key("oneOf") || m.contains_key("anyOf") || m.contains_key("allOf")
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// A schema as an object; `true` is the empty object.
fn as_schema(value: &Value) -> Option<&Map<String, Value>> {
    match value {
        Value::Object(m) => Some(m),
        Value::Bool(true) => Some(&EMPTY),
        _ => None,
    }
}

fn string_set(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

enum ContentModel<'a> {
    Open,
    Closed,
    /// A schema constrains properties that are not declared.
    Partial(&'a Value),
}

fn content_model(m: &Map<String, Value>) -> ContentModel<'_> {
    if let Some(Value::Object(patterns)) = m.get("patternProperties")
        && let Some(first) = patterns.values().next()
    {
        return ContentModel::Partial(first);
    }
    match m.get("additionalProperties").or_else(|| m.get("unevaluatedProperties")) {
        Some(Value::Bool(false)) => ContentModel::Closed,
        Some(schema @ Value::Object(o)) if !o.is_empty() => ContentModel::Partial(schema),
        _ => ContentModel::Open,
    }
}
