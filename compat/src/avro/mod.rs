//! Avro schemas: a model that follows the Java implementation Confluent runs,
//! so that validation, the canonical text and compatibility verdicts agree.
//!
//! apache-avro's own parser differs from Java on what it accepts and how it
//! prints, and the canonical text decides schema ids, so the model here is
//! ours; apache-avro decodes and validates payloads ([`Schema::validate_json_datum`]).

pub mod compatibility;

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::types::{ResolvedReference, SchemaError, SchemaType};

/// Properties other than the reserved ones, in the order they were written.
pub type Props = Vec<(String, Value)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
}

impl Primitive {
    fn from_name(name: &str) -> Option<Primitive> {
        Some(match name {
            "null" => Primitive::Null,
            "boolean" => Primitive::Boolean,
            "int" => Primitive::Int,
            "long" => Primitive::Long,
            "float" => Primitive::Float,
            "double" => Primitive::Double,
            "bytes" => Primitive::Bytes,
            "string" => Primitive::String,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Primitive::Null => "null",
            Primitive::Boolean => "boolean",
            Primitive::Int => "int",
            Primitive::Long => "long",
            Primitive::Float => "float",
            Primitive::Double => "double",
            Primitive::Bytes => "bytes",
            Primitive::String => "string",
        }
    }
}

/// A node of a schema tree. Named types live in [`Schema::named`] and are
/// referred to by index, which is how recursive types stay finite.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Primitive(Primitive, Props),
    Array(Box<Node>, Props),
    Map(Box<Node>, Props),
    Union(Vec<Node>),
    Named(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Node,
    pub doc: Option<String>,
    pub default: Option<Value>,
    pub order: Option<String>,
    pub aliases: Vec<String>,
    pub props: Props,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NamedKind {
    Record { error: bool, fields: Vec<Field> },
    Enum { symbols: Vec<String>, default: Option<String> },
    Fixed { size: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub namespace: Option<String>,
    pub doc: Option<String>,
    /// Aliases as full names.
    pub aliases: Vec<String>,
    pub props: Props,
    pub kind: NamedKind,
    /// Defined by a referenced schema: printed by name only.
    pub from_reference: bool,
}

impl Named {
    pub fn full_name(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}.{}", self.name),
            _ => self.name.clone(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            NamedKind::Record { error: false, .. } => "record",
            NamedKind::Record { error: true, .. } => "error",
            NamedKind::Enum { .. } => "enum",
            NamedKind::Fixed { .. } => "fixed",
        }
    }
}

/// A parsed Avro schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub root: Node,
    pub named: Vec<Named>,
}

fn err(message: impl Into<String>) -> SchemaError {
    SchemaError::invalid(message)
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Java's `Schema.validateName`: letters, digits and `_`, not starting with a digit.
fn validate_name(name: &str) -> Result<(), SchemaError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(err("Empty name"));
    };
    if !(first.is_alphabetic() || first == '_') {
        return Err(err(format!("Illegal initial character: {name}")));
    }
    if chars.any(|c| !(c.is_alphanumeric() || c == '_')) {
        return Err(err(format!("Illegal character in: {name}")));
    }
    Ok(())
}

struct Parser {
    named: Vec<Named>,
    by_name: HashMap<String, usize>,
    from_reference: bool,
}

impl Parser {
    fn lookup(&self, name: &str, namespace: Option<&str>) -> Option<usize> {
        if !name.contains('.')
            && let Some(ns) = namespace.filter(|ns| !ns.is_empty())
            && let Some(&index) = self.by_name.get(&format!("{ns}.{name}"))
        {
            return Some(index);
        }
        self.by_name.get(name).copied()
    }

    fn parse(&mut self, value: &Value, namespace: Option<&str>) -> Result<Node, SchemaError> {
        match value {
            Value::String(name) => self.parse_name(name, namespace),
            Value::Array(branches) => self.parse_union(value, branches, namespace),
            Value::Object(object) => self.parse_object(value, object, namespace),
            other => Err(err(format!("Schema not yet supported: {}", compact(other)))),
        }
    }

    fn parse_name(&self, name: &str, namespace: Option<&str>) -> Result<Node, SchemaError> {
        if let Some(primitive) = Primitive::from_name(name) {
            return Ok(Node::Primitive(primitive, Vec::new()));
        }
        if name.is_empty() {
            return Err(err("Empty name"));
        }
        self.lookup(name, namespace).map(Node::Named).ok_or_else(|| err(format!("Undefined name: \"{name}\"")))
    }

    fn parse_union(&mut self, whole: &Value, branches: &[Value], namespace: Option<&str>) -> Result<Node, SchemaError> {
        let mut nodes = Vec::with_capacity(branches.len());
        let mut seen: Vec<String> = Vec::new();
        for branch in branches {
            let node = self.parse(branch, namespace)?;
            let key = match &node {
                Node::Union(_) => return Err(err(format!("Nested union: {}", compact(whole)))),
                Node::Primitive(p, _) => p.name().to_owned(),
                Node::Array(..) => "array".to_owned(),
                Node::Map(..) => "map".to_owned(),
                Node::Named(index) => self.named[*index].full_name(),
            };
            if seen.contains(&key) {
                return Err(err(format!("Duplicate in union:{key}")));
            }
            seen.push(key);
            nodes.push(node);
        }
        Ok(Node::Union(nodes))
    }

    fn parse_object(
        &mut self,
        whole: &Value,
        object: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<Node, SchemaError> {
        let Some(Value::String(ty)) = object.get("type") else {
            return Err(err(format!("No type: {}", compact(whole))));
        };
        if let Some(primitive) = Primitive::from_name(ty) {
            return Ok(Node::Primitive(primitive, props(object, &["type"])));
        }
        match ty.as_str() {
            "array" => {
                let items =
                    object.get("items").ok_or_else(|| err(format!("Array has no items type: {}", compact(whole))))?;
                let items = self.parse(items, namespace)?;
                Ok(Node::Array(Box::new(items), props(object, &["type", "items"])))
            }
            "map" => {
                let values =
                    object.get("values").ok_or_else(|| err(format!("Map has no values type: {}", compact(whole))))?;
                let values = self.parse(values, namespace)?;
                Ok(Node::Map(Box::new(values), props(object, &["type", "values"])))
            }
            "record" | "error" | "enum" | "fixed" => self.parse_named(whole, object, ty, namespace),
            other => self.lookup(other, namespace).map(Node::Named).ok_or_else(|| {
                if other.is_empty() { err("Empty name") } else { err(format!("Type not supported: {other}")) }
            }),
        }
    }

    fn parse_named(
        &mut self,
        whole: &Value,
        object: &Map<String, Value>,
        ty: &str,
        enclosing: Option<&str>,
    ) -> Result<Node, SchemaError> {
        let Some(Value::String(raw_name)) = object.get("name") else {
            return Err(err(format!("No name in schema: {}", compact(whole))));
        };
        let explicit_ns = match object.get("namespace") {
            Some(Value::String(ns)) => Some(ns.as_str()),
            _ => None,
        };
        let (namespace, name) = match raw_name.rsplit_once('.') {
            Some((ns, short)) => (Some(ns.to_owned()), short.to_owned()),
            None => (explicit_ns.or(enclosing).map(str::to_owned), raw_name.clone()),
        };
        for segment in raw_name.split('.') {
            validate_name(segment)?;
        }
        if Primitive::from_name(&name).is_some() && namespace.as_deref().unwrap_or("").is_empty() {
            return Err(err(format!("Schemas may not be named after primitives: {name}")));
        }
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let aliases = match object.get("aliases") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|alias| match alias {
                    Value::String(alias) => Ok(qualify(alias, namespace.as_deref())),
                    other => Err(err(format!("alias not a string: {}", compact(other)))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(err(format!("aliases not an array: {}", compact(whole)))),
        };
        let doc = text(object, "doc");
        let full_name = match &namespace {
            Some(ns) => format!("{ns}.{name}"),
            None => name.clone(),
        };
        if self.by_name.contains_key(&full_name) {
            return Err(err(format!("Can't redefine: {full_name}")));
        }
        // Register the name before the body so that recursive references resolve.
        let index = self.named.len();
        self.named.push(Named {
            name,
            namespace: namespace.clone(),
            doc,
            aliases,
            props: Vec::new(),
            kind: NamedKind::Fixed { size: 0 },
            from_reference: self.from_reference,
        });
        self.by_name.insert(full_name, index);
        let (kind, reserved): (NamedKind, &[&str]) = match ty {
            "record" | "error" => (
                self.parse_fields(whole, object, namespace.as_deref(), ty == "error")?,
                &["type", "name", "namespace", "doc", "aliases", "fields"],
            ),
            "enum" => {
                (parse_enum(whole, object)?, &["type", "name", "namespace", "doc", "aliases", "symbols", "default"])
            }
            _ => (parse_fixed(whole, object)?, &["type", "name", "namespace", "doc", "aliases", "size"]),
        };
        self.named[index].kind = kind;
        self.named[index].props = props(object, reserved);
        Ok(Node::Named(index))
    }

    fn parse_fields(
        &mut self,
        whole: &Value,
        object: &Map<String, Value>,
        namespace: Option<&str>,
        error: bool,
    ) -> Result<NamedKind, SchemaError> {
        let Some(Value::Array(raw_fields)) = object.get("fields") else {
            return Err(err(format!("Record has no fields: {}", compact(whole))));
        };
        let mut fields: Vec<Field> = Vec::with_capacity(raw_fields.len());
        for raw in raw_fields {
            let Some(field) = raw.as_object() else {
                return Err(err(format!("Field not an object: {}", compact(raw))));
            };
            let Some(Value::String(name)) = field.get("name") else {
                return Err(err(format!("No field name: {}", compact(raw))));
            };
            let Some(ty) = field.get("type") else {
                return Err(err(format!("No field type: {}", compact(raw))));
            };
            validate_name(name)?;
            let ty = self.parse(ty, namespace)?;
            let order = match field.get("order") {
                Some(Value::String(order)) => match order.to_ascii_uppercase().as_str() {
                    "DESCENDING" | "IGNORE" => Some(order.to_ascii_lowercase()),
                    "ASCENDING" => None,
                    other => {
                        return Err(err(format!("No enum constant org.apache.avro.Schema.Field.Order.{other}")));
                    }
                },
                // Absent, or not a string (which Java ignores).
                _ => None,
            };
            let aliases = match field.get("aliases") {
                Some(Value::Array(items)) => items.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            };
            if let Some(position) = fields.iter().position(|f| &f.name == name) {
                return Err(err(format!(
                    "Duplicate field {name} in record {}: {name} pos:{} and {name} pos:{position}.",
                    object.get("name").and_then(Value::as_str).unwrap_or_default(),
                    fields.len()
                )));
            }
            fields.push(Field {
                name: name.clone(),
                ty,
                doc: text(field, "doc"),
                default: field.get("default").cloned(),
                order,
                aliases,
                props: props(field, &["name", "type", "doc", "default", "order", "aliases"]),
            });
        }
        Ok(NamedKind::Record { error, fields })
    }
}

fn parse_enum(whole: &Value, object: &Map<String, Value>) -> Result<NamedKind, SchemaError> {
    let Some(Value::Array(raw)) = object.get("symbols") else {
        return Err(err(format!("Enum has no symbols: {}", compact(whole))));
    };
    let mut symbols: Vec<String> = Vec::with_capacity(raw.len());
    for symbol in raw {
        let Some(symbol) = symbol.as_str() else {
            return Err(err(format!("Enum symbol not a string: {}", compact(symbol))));
        };
        validate_name(symbol)?;
        if symbols.iter().any(|s| s == symbol) {
            return Err(err(format!("Duplicate enum symbol: {symbol}")));
        }
        symbols.push(symbol.to_owned());
    }
    let default = text(object, "default");
    if let Some(default) = &default
        && !symbols.contains(default)
    {
        return Err(err(format!(
            "The Enum Default: {default} is not in the enum symbol set: [{}]",
            symbols.join(", ")
        )));
    }
    Ok(NamedKind::Enum { symbols, default })
}

fn parse_fixed(whole: &Value, object: &Map<String, Value>) -> Result<NamedKind, SchemaError> {
    match object.get("size") {
        Some(Value::Number(n)) if n.is_i64() => {
            let size = n.as_i64().unwrap_or_default();
            u64::try_from(size)
                .map(|size| NamedKind::Fixed { size })
                .map_err(|_| err(format!("Malformed data. Length is negative: {size}")))
        }
        _ => Err(err(format!("Invalid or no size: {}", compact(whole)))),
    }
}

fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn props(object: &Map<String, Value>, reserved: &[&str]) -> Props {
    object
        .iter()
        .filter(|(key, _)| !reserved.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

impl Schema {
    /// Parses Avro schema text, with the named types its references define.
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<Schema, SchemaError> {
        let mut parser = Parser { named: Vec::new(), by_name: HashMap::new(), from_reference: true };
        let mut done = Vec::new();
        load_references(&mut parser, references, &mut done)?;
        parser.from_reference = false;
        let value: Value = serde_json::from_str(text).map_err(|e| err(json_error(&e)))?;
        let root = parser.parse(&value, None)?;
        Ok(Schema { root, named: parser.named })
    }

    /// The text Confluent stores: Java's `Schema.toString()`, compact JSON
    /// with keys in Java's order and named types spelled out once.
    pub fn canonical(&self) -> String {
        compact(&self.to_json(false))
    }

    /// The normalized text: the canonical form with defaults re-encoded by
    /// their type, as Confluent's `normalize=true` stores it.
    pub fn normalized(&self) -> String {
        compact(&self.to_json(true))
    }

    /// Checks every field default against its type, as Java does when
    /// `validateDefaults` is on (Confluent turns it on with `normalize`).
    pub fn validate_defaults(&self) -> Result<(), SchemaError> {
        for named in &self.named {
            if let NamedKind::Record { fields, .. } = &named.kind {
                for field in fields {
                    if let Some(default) = &field.default
                        && !self.is_valid_default(&field.ty, default, &mut Vec::new())
                    {
                        return Err(err(format!(
                            "Invalid default for field {}: {} not a {}",
                            field.name,
                            compact(default),
                            compact(&self.node_json(&field.ty, &mut Printer::new(false)))
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn is_valid_default(&self, node: &Node, value: &Value, visiting: &mut Vec<usize>) -> bool {
        match node {
            Node::Primitive(p, _) => match p {
                Primitive::Null => value.is_null(),
                Primitive::Boolean => value.is_boolean(),
                Primitive::Int => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
                Primitive::Long => value.is_i64() || value.is_u64(),
                Primitive::Float | Primitive::Double => {
                    value.is_number() || matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity"))
                }
                Primitive::Bytes | Primitive::String => value.is_string(),
            },
            Node::Array(items, _) => {
                value.as_array().is_some_and(|values| values.iter().all(|v| self.is_valid_default(items, v, visiting)))
            }
            Node::Map(values, _) => {
                value.as_object().is_some_and(|map| map.values().all(|v| self.is_valid_default(values, v, visiting)))
            }
            Node::Union(branches) => {
                branches.first().is_some_and(|first| self.is_valid_default(first, value, visiting))
            }
            Node::Named(index) => match &self.named[*index].kind {
                NamedKind::Enum { .. } | NamedKind::Fixed { .. } => value.is_string(),
                NamedKind::Record { fields, .. } => {
                    if visiting.contains(index) {
                        return true;
                    }
                    let Some(object) = value.as_object() else {
                        return false;
                    };
                    visiting.push(*index);
                    let valid = fields.iter().all(|field| match object.get(&field.name).or(field.default.as_ref()) {
                        Some(v) => self.is_valid_default(&field.ty, v, visiting),
                        None => false,
                    });
                    visiting.pop();
                    valid
                }
            },
        }
    }

    fn to_json(&self, normalize: bool) -> Value {
        let mut printer = Printer::new(normalize);
        // Types defined by references are known to readers already: printed by name.
        printer.written = self.named.iter().map(|named| named.from_reference).collect();
        self.node_json(&self.root, &mut printer)
    }

    fn node_json(&self, node: &Node, printer: &mut Printer) -> Value {
        match node {
            Node::Primitive(p, props) if props.is_empty() => Value::String(p.name().to_owned()),
            Node::Primitive(p, props) => {
                let mut object = Map::new();
                object.insert("type".into(), p.name().into());
                extend(&mut object, props);
                Value::Object(object)
            }
            Node::Array(items, props) => {
                let mut object = Map::new();
                object.insert("type".into(), "array".into());
                object.insert("items".into(), self.node_json(items, printer));
                extend(&mut object, props);
                Value::Object(object)
            }
            Node::Map(values, props) => {
                let mut object = Map::new();
                object.insert("type".into(), "map".into());
                object.insert("values".into(), self.node_json(values, printer));
                extend(&mut object, props);
                Value::Object(object)
            }
            Node::Union(branches) => Value::Array(branches.iter().map(|b| self.node_json(b, printer)).collect()),
            Node::Named(index) => self.named_json(*index, printer),
        }
    }

    fn named_json(&self, index: usize, printer: &mut Printer) -> Value {
        let named = &self.named[index];
        if printer.written.get(index).copied().unwrap_or(false) {
            // Java's `getQualified(names.space)`: the short name when in the same namespace.
            return Value::String(if named.namespace.as_deref() == printer.namespace.as_deref() {
                named.name.clone()
            } else {
                named.full_name()
            });
        }
        if let Some(slot) = printer.written.get_mut(index) {
            *slot = true;
        }
        let mut object = Map::new();
        object.insert("type".into(), named.type_name().into());
        object.insert("name".into(), named.name.clone().into());
        match (&named.namespace, &printer.namespace) {
            (Some(ns), current) if current.as_ref() != Some(ns) => {
                object.insert("namespace".into(), ns.clone().into());
            }
            (None, Some(_)) => {
                object.insert("namespace".into(), "".into());
            }
            _ => {}
        }
        let saved = std::mem::replace(&mut printer.namespace, named.namespace.clone());
        if let Some(doc) = &named.doc {
            object.insert("doc".into(), doc.clone().into());
        }
        match &named.kind {
            NamedKind::Record { fields, .. } => {
                let fields = fields.iter().map(|f| self.field_json(f, printer)).collect();
                object.insert("fields".into(), Value::Array(fields));
            }
            NamedKind::Enum { symbols, default } => {
                object.insert("symbols".into(), symbols.clone().into());
                if let Some(default) = default {
                    object.insert("default".into(), default.clone().into());
                }
            }
            NamedKind::Fixed { size } => {
                object.insert("size".into(), (*size).into());
            }
        }
        extend(&mut object, &named.props);
        if !named.aliases.is_empty() {
            let aliases =
                named.aliases.iter().map(|alias| short_alias(alias, named.namespace.as_deref()).into()).collect();
            object.insert("aliases".into(), Value::Array(aliases));
        }
        printer.namespace = saved;
        Value::Object(object)
    }

    fn field_json(&self, field: &Field, printer: &mut Printer) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), field.name.clone().into());
        object.insert("type".into(), self.node_json(&field.ty, printer));
        if let Some(doc) = &field.doc {
            object.insert("doc".into(), doc.clone().into());
        }
        if let Some(default) = &field.default {
            let default = if printer.normalize { Self::typed_default(&field.ty, default) } else { default.clone() };
            object.insert("default".into(), default);
        }
        if let Some(order) = &field.order {
            object.insert("order".into(), order.clone().into());
        }
        if !field.aliases.is_empty() {
            object.insert("aliases".into(), field.aliases.clone().into());
        }
        extend(&mut object, &field.props);
        Value::Object(object)
    }

    /// A default as Java re-encodes it from its decoded value: floating-point
    /// types always carry a fraction (`1` becomes `1.0`).
    fn typed_default(node: &Node, value: &Value) -> Value {
        match (node, value) {
            (Node::Primitive(Primitive::Float | Primitive::Double, _), Value::Number(n)) => {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or_else(|| value.clone(), Value::Number)
            }
            (Node::Union(branches), _) => {
                branches.first().map_or_else(|| value.clone(), |b| Self::typed_default(b, value))
            }
            (Node::Array(items, _), Value::Array(values)) => {
                Value::Array(values.iter().map(|v| Self::typed_default(items, v)).collect())
            }
            (Node::Map(values_ty, _), Value::Object(map)) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), Self::typed_default(values_ty, v))).collect())
            }
            _ => value.clone(),
        }
    }

    /// The named type a node refers to, if any.
    pub fn named_of(&self, node: &Node) -> Option<&Named> {
        match node {
            Node::Named(index) => self.named.get(*index),
            _ => None,
        }
    }
}

struct Printer {
    normalize: bool,
    written: Vec<bool>,
    namespace: Option<String>,
}

impl Printer {
    fn new(normalize: bool) -> Printer {
        Printer { normalize, written: Vec::new(), namespace: None }
    }
}

fn extend(object: &mut Map<String, Value>, props: &Props) {
    for (key, value) in props {
        object.insert(key.clone(), value.clone());
    }
}

/// Java prints an alias relative to the type's own namespace.
fn short_alias(alias: &str, namespace: Option<&str>) -> String {
    match (namespace, alias.rsplit_once('.')) {
        (Some(ns), Some((alias_ns, short))) if alias_ns == ns => short.to_owned(),
        _ => alias.to_owned(),
    }
}

fn load_references(
    parser: &mut Parser,
    references: &[ResolvedReference],
    done: &mut Vec<String>,
) -> Result<(), SchemaError> {
    for reference in references {
        if done.contains(&reference.name) {
            continue;
        }
        done.push(reference.name.clone());
        if reference.schema_type != SchemaType::Avro {
            return Err(SchemaError::Reference {
                name: reference.name.clone(),
                reason: format!("a {} schema cannot be referenced from Avro", reference.schema_type),
            });
        }
        load_references(parser, &reference.references, done)?;
        let value: Value = serde_json::from_str(&reference.schema).map_err(|e| err(json_error(&e)))?;
        parser
            .parse(&value, None)
            .map_err(|e| SchemaError::Reference { name: reference.name.clone(), reason: e.to_string() })?;
    }
    Ok(())
}

/// A JSON syntax error in words close to what Jackson says.
pub(crate) fn json_error(error: &serde_json::Error) -> String {
    format!("Invalid JSON at line {} column {}: {error}", error.line(), error.column())
}
