//! Request bodies and query parameters, read with the coercions Confluent's
//! Jackson and JAX-RS apply, so that clients get the same answers: a number
//! where a string is expected is taken as its text, `"1"` is an integer,
//! booleans in queries are `true` in any case and anything else is false.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{ErrorCode, RegistryError};
use crate::service::{ConfigUpdate, RegisterRequest};
use crate::store::Reference;

fn token(value: &Value) -> &'static str {
    match value {
        Value::Null => "JsonToken.VALUE_NULL",
        Value::Bool(true) => "JsonToken.VALUE_TRUE",
        Value::Bool(false) => "JsonToken.VALUE_FALSE",
        Value::Number(n) if n.is_f64() => "JsonToken.VALUE_NUMBER_FLOAT",
        Value::Number(_) => "JsonToken.VALUE_NUMBER_INT",
        Value::String(_) => "JsonToken.VALUE_STRING",
        Value::Array(_) => "JsonToken.START_ARRAY",
        Value::Object(_) => "JsonToken.START_OBJECT",
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

fn mismatch(java_type: &str, value: &Value) -> RegistryError {
    RegistryError::bad_request(format!(
        "Cannot deserialize value of type `{java_type}` from {} value (token `{}`)",
        kind(value),
        token(value)
    ))
}

/// A JSON value read as a Java `String`: scalars coerce to their text.
fn string(value: Option<&Value>) -> Result<Option<String>, RegistryError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(mismatch("String", other)),
    }
}

/// A JSON value read as a Java `Integer`.
fn integer(value: Option<&Value>) -> Result<Option<i64>, RegistryError> {
    let out_of_range = |text: &str| {
        RegistryError::bad_request(format!("Numeric value ({text}) out of range of int (-2147483648 - 2147483647)"))
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)).unwrap_or(i64::MAX);
            if i32::try_from(v).is_err() {
                return Err(out_of_range(&n.to_string()));
            }
            Ok(Some(v))
        }
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i32>().map(|v| Some(i64::from(v))).map_err(|_| {
            RegistryError::bad_request(format!(
                "Cannot deserialize value of type `Integer` from String \"{s}\": not a valid `java.lang.Integer` value"
            ))
        }),
        Some(other) => Err(mismatch("Integer", other)),
    }
}

/// A JSON value read as a Java `Boolean`.
fn boolean(value: Option<&Value>) -> Result<Option<bool>, RegistryError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_f64().unwrap_or(0.0) != 0.0)),
        Some(Value::String(s)) if s == "true" || s == "True" || s == "TRUE" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" || s == "False" || s == "FALSE" => Ok(Some(false)),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Err(RegistryError::bad_request(format!(
            "Cannot deserialize value of type `Boolean` from String \"{s}\": only \"true\" or \"false\" recognized"
        ))),
        Some(other) => Err(mismatch("Boolean", other)),
    }
}

fn not_constructible(java_type: &str, value: &Value) -> RegistryError {
    let detail = match value {
        Value::String(s) => {
            format!("no String-argument constructor/factory method to deserialize from String value ('{s}')")
        }
        Value::Number(n) => {
            format!("no int/Int-argument constructor/factory method to deserialize from Number value ({n})")
        }
        Value::Bool(b) => {
            format!("no boolean/Boolean-argument constructor/factory method to deserialize from Boolean value ({b})")
        }
        _ => String::new(),
    };
    RegistryError::bad_request(format!(
        "Cannot construct instance of `{java_type}` (although at least one Creator exists): {detail}"
    ))
}

/// The top level of a body must be an object.
fn object<'v>(value: &'v Value, java_type: &str) -> Result<&'v Map<String, Value>, RegistryError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Array(_) => Err(mismatch(java_type, value)),
        other => Err(not_constructible(java_type, other)),
    }
}

/// Checks Confluent's `Metadata` shape: properties are strings, tags and sensitive are sets of strings.
fn metadata(value: Option<&Value>) -> Result<Option<Value>, RegistryError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let map = object(value, "Metadata")?;
    let mut out = Map::new();
    if let Some(properties) = map.get("properties").filter(|v| !v.is_null()) {
        let properties = object(properties, "Map")?;
        let mut coerced = Map::new();
        for (key, value) in properties {
            if let Some(text) = string(Some(value))? {
                coerced.insert(key.clone(), Value::String(text));
            }
        }
        out.insert("properties".into(), Value::Object(coerced));
    }
    let string_set = |value: &Value| -> Result<Value, RegistryError> {
        match value {
            Value::Array(items) => {
                let mut set: Vec<Value> = Vec::new();
                for item in items {
                    if let Some(text) = string(Some(item))? {
                        let text = Value::String(text);
                        if !set.contains(&text) {
                            set.push(text);
                        }
                    }
                }
                Ok(Value::Array(set))
            }
            other => Err(not_constructible("HashSet", other)),
        }
    };
    if let Some(tags) = map.get("tags").filter(|v| !v.is_null()) {
        let mut coerced = Map::new();
        for (path, tags) in object(tags, "Map")? {
            coerced.insert(path.clone(), string_set(tags)?);
        }
        out.insert("tags".into(), Value::Object(coerced));
    }
    if let Some(sensitive) = map.get("sensitive").filter(|v| !v.is_null()) {
        out.insert("sensitive".into(), string_set(sensitive)?);
    }
    Ok(Some(Value::Object(out)))
}

/// Checks Confluent's `RuleSet` shape: lists of rules whose `kind` and `mode` are known.
fn rule_set(value: Option<&Value>) -> Result<Option<Value>, RegistryError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let map = object(value, "RuleSet")?;
    for key in ["migrationRules", "domainRules", "encodingRules"] {
        let Some(rules) = map.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let Value::Array(rules) = rules else {
            return Err(mismatch("Rule>", rules));
        };
        for rule in rules {
            let rule = object(rule, "Rule")?;
            if let Some(kind) = string(rule.get("kind"))?
                && !["CONDITION", "TRANSFORM"].contains(&kind.as_str())
            {
                return Err(RegistryError::bad_request(format!(
                    "Cannot deserialize value of type `RuleKind` from String \"{kind}\": not one of the values accepted for Enum class: [CONDITION, TRANSFORM]"
                )));
            }
            if let Some(mode) = string(rule.get("mode"))?
                && !["UPGRADE", "DOWNGRADE", "UPDOWN", "WRITE", "READ", "WRITEREAD"].contains(&mode.as_str())
            {
                return Err(RegistryError::bad_request(format!(
                    "Cannot deserialize value of type `RuleMode` from String \"{mode}\": not one of the values accepted for Enum class: [UPGRADE, DOWNGRADE, UPDOWN, WRITE, READ, WRITEREAD]"
                )));
            }
        }
    }
    Ok(Some(value.clone()))
}

fn references(value: Option<&Value>) -> Result<Vec<Reference>, RegistryError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => {
                    let name = string(map.get("name"))?;
                    let subject = string(map.get("subject"))?;
                    let version = integer(map.get("version"))?;
                    match (name, subject, version) {
                        (Some(name), Some(subject), Some(version)) => {
                            Ok(Reference { name, subject, version: version as i32 })
                        }
                        _ => Err(RegistryError::invalid_schema(
                            "Invalid schema: a reference needs a name, a subject and a version (-1 for the latest)",
                        )),
                    }
                }
                Value::Null => Err(RegistryError::invalid_schema("Invalid schema: a reference is null")),
                other => Err(not_constructible("SchemaReference", other)),
            })
            .collect(),
        Some(other) => Err(mismatch("SchemaReference>", other)),
    }
}

/// The body of register, lookup and compatibility requests (`RegisterSchemaRequest`).
pub fn register_request(body: &Value) -> Result<RegisterRequest, RegistryError> {
    let map = object(body, "RegisterSchemaRequest")?;
    Ok(RegisterRequest {
        schema: string(map.get("schema"))?,
        schema_type: string(map.get("schemaType"))?,
        references: references(map.get("references"))?,
        metadata: metadata(map.get("metadata"))?,
        rule_set: rule_set(map.get("ruleSet"))?,
        id: integer(map.get("id"))?,
        version: integer(map.get("version"))?.map(|v| v as i32),
        always_new: false,
    })
}

/// One list of `TagSchemaRequest`'s `tagsToAdd` or `tagsToRemove`.
fn tag_changes(value: Option<&Value>) -> Result<Vec<stele_compat::tags::TagChange>, RegistryError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(mismatch("ArrayList", other)),
    };
    items
        .iter()
        .map(|item| {
            let map = object(item, "SchemaTags")?;
            let entity = map.get("schemaEntity").map(|e| object(e, "SchemaEntity")).transpose()?;
            let field = |key: &str| entity.and_then(|e| e.get(key));
            let entity_type = string(field("entityType"))?.unwrap_or_default();
            let entity_type = stele_compat::tags::EntityType::parse(&entity_type).ok_or_else(|| {
                RegistryError::new(
                    ErrorCode::Unprocessable,
                    format!("Unrecognized entityType '{entity_type}': expected sr_record or sr_field"),
                )
            })?;
            let tags = match map.get("tags") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(tags)) => {
                    tags.iter().map(|t| string(Some(t)).map(Option::unwrap_or_default)).collect::<Result<_, _>>()?
                }
                Some(other) => return Err(mismatch("ArrayList", other)),
            };
            Ok(stele_compat::tags::TagChange {
                entity_type,
                entity_path: string(field("entityPath"))?.unwrap_or_default(),
                tags,
            })
        })
        .collect()
}

/// The body of `POST /subjects/{s}/versions/{v}/tags` (`TagSchemaRequest`).
pub fn tags_request(body: &Value) -> Result<crate::service::TagsRequest, RegistryError> {
    let map = object(body, "TagSchemaRequest")?;
    Ok(crate::service::TagsRequest {
        add: tag_changes(map.get("tagsToAdd"))?,
        remove: tag_changes(map.get("tagsToRemove"))?,
        new_version: integer(map.get("newVersion"))?.and_then(|v| i32::try_from(v).ok()).filter(|v| *v > 0),
        metadata: metadata(map.get("metadata"))?,
        rule_set: rule_set(map.get("ruleSet"))?,
    })
}

/// The body of `PUT /config` (`ConfigUpdateRequest`).
pub fn config_update(body: &Value) -> Result<ConfigUpdate, RegistryError> {
    let map = object(body, "ConfigUpdateRequest")?;
    Ok(ConfigUpdate {
        compatibility: string(map.get("compatibility"))?,
        normalize: boolean(map.get("normalize"))?,
        validate_fields: boolean(map.get("validateFields"))?,
        alias: string(map.get("alias"))?,
        compatibility_group: string(map.get("compatibilityGroup"))?,
        default_metadata: metadata(map.get("defaultMetadata"))?,
        override_metadata: metadata(map.get("overrideMetadata"))?,
        default_rule_set: rule_set(map.get("defaultRuleSet"))?,
        override_rule_set: rule_set(map.get("overrideRuleSet"))?,
        compatibility_policy: string(map.get("compatibilityPolicy"))?,
        protobuf_rules: string(map.get("protobufRules"))?,
        consumer_contracts: string(map.get("consumerContracts"))?,
        wire_proof: string(map.get("wireProof"))?,
    })
}

/// The body of `PUT /mode` (`ModeUpdateRequest`): the mode's text, if any.
pub fn mode_update(body: &Value) -> Result<Option<String>, RegistryError> {
    let map = object(body, "ModeUpdateRequest")?;
    match map.get("mode") {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(mismatch("String", other)),
    }
}

/// `POST /`: any map of strings.
pub fn root_body(body: &Value) -> Result<(), RegistryError> {
    match body {
        Value::Object(map) => {
            for value in map.values() {
                string(Some(value))?;
            }
            Ok(())
        }
        Value::Array(_) => Err(mismatch("String>", body)),
        other => Err(not_constructible("LinkedHashMap", other)),
    }
}

/// Query parameters, first value wins, as JAX-RS reads them.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let mut map = HashMap::new();
        for (key, value) in form_urlencoded_pairs(query.unwrap_or_default()) {
            map.entry(key).or_insert(value);
        }
        Params(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Java's `Boolean.valueOf`: `true` in any case; anything else is false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Java's `Integer.valueOf`; a value that is not one is a 404, as JAX-RS answers.
    pub fn int(&self, name: &str) -> Result<Option<i32>, RegistryError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => raw.parse::<i32>().map(Some).map_err(|_| not_found()),
        }
    }
}

/// JAX-RS's answer to a path or parameter it cannot convert.
pub fn not_found() -> RegistryError {
    RegistryError::new(ErrorCode::RouteNotFound, "HTTP 404 Not Found")
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}
