//! Avro reader/writer compatibility, following the Avro specification's
//! resolution rules the way Java's `SchemaCompatibility` applies them, and
//! reporting every incompatibility rather than the first.
//!
//! Rules (ids as Java names them): `TYPE_MISMATCH`, `NAME_MISMATCH`,
//! `FIXED_SIZE_MISMATCH`, `MISSING_ENUM_SYMBOLS`, `MISSING_UNION_BRANCH`,
//! `READER_FIELD_MISSING_DEFAULT_VALUE`.

use std::collections::{BTreeSet, HashMap};

use super::{Field, NamedKind, Node, Primitive, Schema};
use crate::finding::{Incompatibility, Role};

/// One Avro rule: its id and what it checks.
pub struct Rule {
    pub id: &'static str,
    pub summary: &'static str,
}

/// Every Avro rule, for documentation and the fixture meta-test.
pub const RULES: &[Rule] = &[
    Rule { id: "TYPE_MISMATCH", summary: "the reader's type cannot read the writer's type, even with promotion" },
    Rule { id: "NAME_MISMATCH", summary: "a named type's name differs and no reader alias matches the writer's name" },
    Rule { id: "FIXED_SIZE_MISMATCH", summary: "a fixed type changed size" },
    Rule {
        id: "MISSING_ENUM_SYMBOLS",
        summary: "the writer has enum symbols the reader lacks, and the reader has no enum default",
    },
    Rule { id: "MISSING_UNION_BRANCH", summary: "a writer type has no readable branch in the reader's union" },
    Rule {
        id: "READER_FIELD_MISSING_DEFAULT_VALUE",
        summary: "a reader field the writer does not write has no default",
    },
];

/// Every reason `reader` cannot read data written with `writer`.
pub fn check(reader: &Schema, writer: &Schema, reader_role: Role) -> Vec<Incompatibility> {
    let mut checker = Checker { reader, writer, role: reader_role, memo: HashMap::new() };
    let mut location = Vec::new();
    checker.compatibility(&reader.root, &writer.root, &mut location)
}

/// What the memo holds for a pair of named types: in progress (a recursive
/// type met again, which counts as compatible) or the finished result.
enum Memo {
    InProgress,
    Done(Vec<Incompatibility>),
}

struct Checker<'a> {
    reader: &'a Schema,
    writer: &'a Schema,
    role: Role,
    memo: HashMap<(usize, usize), Memo>,
}

/// Java's type names, as they appear in `additionalInfo`.
fn type_name(schema: &Schema, node: &Node) -> &'static str {
    match node {
        Node::Primitive(p, _) => match p {
            Primitive::Null => "NULL",
            Primitive::Boolean => "BOOLEAN",
            Primitive::Int => "INT",
            Primitive::Long => "LONG",
            Primitive::Float => "FLOAT",
            Primitive::Double => "DOUBLE",
            Primitive::Bytes => "BYTES",
            Primitive::String => "STRING",
        },
        Node::Array(..) => "ARRAY",
        Node::Map(..) => "MAP",
        Node::Union(_) => "UNION",
        Node::Named(index) => match schema.named[*index].kind {
            NamedKind::Record { .. } => "RECORD",
            NamedKind::Enum { .. } => "ENUM",
            NamedKind::Fixed { .. } => "FIXED",
        },
    }
}

fn path_of(location: &[String]) -> String {
    format!("/{}", location.join("/"))
}

impl Checker<'_> {
    fn problem(&self, rule: &str, location: &[String], info: String) -> Incompatibility {
        let path = path_of(location);
        let (reader, writer) = (self.role.word(), self.role.other().word());
        let description = match rule {
            "TYPE_MISMATCH" => format!(
                "The type (path '{path}') of a field in the {reader} schema does not match with the {writer} schema"
            ),
            "NAME_MISMATCH" => format!("The name of the schema has changed (path '{path}')"),
            "FIXED_SIZE_MISMATCH" => format!(
                "The size of FIXED type field at path '{path}' in the {reader} schema does not match with the {writer} schema"
            ),
            "MISSING_ENUM_SYMBOLS" => {
                format!("The {reader} schema is missing enum symbols '{info}' at path '{path}' in the {writer} schema")
            }
            "MISSING_UNION_BRANCH" => format!(
                "The {reader} schema is missing a type inside a union field at path '{path}' in the {writer} schema"
            ),
            _ => format!(
                "The field '{info}' at path '{path}' in the {reader} schema has no default value and is missing in the {writer} schema"
            ),
        };
        let confluent_message = format!("{{errorType:'{rule}', description:'{description}', additionalInfo:'{info}'}}");
        Incompatibility { rule: rule.to_owned(), path, description, additional_info: Some(info), confluent_message }
    }

    fn type_mismatch(&self, reader: &Node, writer: &Node, location: &[String]) -> Incompatibility {
        let info = format!(
            "reader type: {} not compatible with writer type: {}",
            type_name(self.reader, reader),
            type_name(self.writer, writer)
        );
        self.problem("TYPE_MISMATCH", location, info)
    }

    /// Java's `getCompatibility(key, reader, writer, location)`: push the key,
    /// compare, pop. Named pairs are memoized so recursive types terminate.
    fn at(&mut self, key: &str, reader: &Node, writer: &Node, location: &mut Vec<String>) -> Vec<Incompatibility> {
        location.push(key.to_owned());
        let result = self.compatibility(reader, writer, location);
        location.pop();
        result
    }

    fn compatibility(&mut self, reader: &Node, writer: &Node, location: &mut Vec<String>) -> Vec<Incompatibility> {
        if let (Node::Named(r), Node::Named(w)) = (reader, writer) {
            match self.memo.get(&(*r, *w)) {
                Some(Memo::InProgress) => return Vec::new(),
                Some(Memo::Done(result)) => return result.clone(),
                None => {}
            }
            self.memo.insert((*r, *w), Memo::InProgress);
            let result = self.calculate(reader, writer, location);
            self.memo.insert((*r, *w), Memo::Done(result.clone()));
            return result;
        }
        self.calculate(reader, writer, location)
    }

    /// Whether the pair is compatible, without reporting where (Java checks
    /// union branches with a fresh location and keeps only the verdict).
    fn readable(&mut self, reader: &Node, writer: &Node) -> bool {
        self.compatibility(reader, writer, &mut Vec::new()).is_empty()
    }

    fn calculate(&mut self, reader: &Node, writer: &Node, location: &mut Vec<String>) -> Vec<Incompatibility> {
        let reader_type = type_name(self.reader, reader);
        let writer_type = type_name(self.writer, writer);
        if reader_type == writer_type {
            return match (reader, writer) {
                (Node::Array(r, _), Node::Array(w, _)) => self.at("items", r, w, location),
                (Node::Map(r, _), Node::Map(w, _)) => self.at("values", r, w, location),
                (Node::Named(r), Node::Named(w)) => self.named(*r, *w, location),
                (Node::Union(_), Node::Union(writer_branches)) => {
                    let mut result = Vec::new();
                    for (i, branch) in writer_branches.iter().enumerate() {
                        location.push(i.to_string());
                        if !self.readable(reader, branch) {
                            let info = format!("reader union lacking writer type: {}", type_name(self.writer, branch));
                            result.push(self.problem("MISSING_UNION_BRANCH", location, info));
                        }
                        location.pop();
                    }
                    result
                }
                _ => Vec::new(),
            };
        }
        if let Node::Union(writer_branches) = writer {
            let mut result = Vec::new();
            for (i, branch) in writer_branches.iter().enumerate() {
                result.extend(self.at(&i.to_string(), reader, branch, location));
            }
            return result;
        }
        let promotable = matches!(
            (reader_type, writer_type),
            ("LONG", "INT")
                | ("FLOAT", "INT" | "LONG")
                | ("DOUBLE", "INT" | "LONG" | "FLOAT")
                | ("BYTES", "STRING")
                | ("STRING", "BYTES")
        );
        if promotable {
            return Vec::new();
        }
        if let Node::Union(reader_branches) = reader {
            if reader_branches.iter().any(|branch| self.readable(branch, writer)) {
                return Vec::new();
            }
            let info = format!("reader union lacking writer type: {writer_type}");
            return vec![self.problem("MISSING_UNION_BRANCH", location, info)];
        }
        vec![self.type_mismatch(reader, writer, location)]
    }

    fn named(&mut self, r: usize, w: usize, location: &mut Vec<String>) -> Vec<Incompatibility> {
        let (reader_schema, writer_schema) = (self.reader, self.writer);
        let (reader, writer) = (&reader_schema.named[r], &writer_schema.named[w]);
        let mut result = Vec::new();
        // Java compares unqualified names, or a reader alias against the writer's full name.
        let writer_full = writer.full_name();
        if reader.name != writer.name && !reader.aliases.contains(&writer_full) {
            location.push("name".into());
            result.push(self.problem("NAME_MISMATCH", location, format!("expected: {writer_full}")));
            location.pop();
        }
        match (&reader.kind, &writer.kind) {
            (NamedKind::Fixed { size: reader_size }, NamedKind::Fixed { size: writer_size })
                if reader_size != writer_size =>
            {
                location.push("size".into());
                let info = format!("expected: {writer_size}, found: {reader_size}");
                result.push(self.problem("FIXED_SIZE_MISMATCH", location, info));
                location.pop();
            }
            (NamedKind::Enum { symbols: reader_symbols, default }, NamedKind::Enum { symbols: writer_symbols, .. }) => {
                let missing: BTreeSet<&String> =
                    writer_symbols.iter().filter(|s| !reader_symbols.contains(s)).collect();
                let covered = default.as_ref().is_some_and(|d| reader_symbols.contains(d));
                if !missing.is_empty() && !covered {
                    location.push("symbols".into());
                    let info = format!("[{}]", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
                    result.push(self.problem("MISSING_ENUM_SYMBOLS", location, info));
                    location.pop();
                }
            }
            (NamedKind::Record { fields: reader_fields, .. }, NamedKind::Record { fields: writer_fields, .. }) => {
                location.push("fields".into());
                for (position, reader_field) in reader_fields.iter().enumerate() {
                    location.push(position.to_string());
                    match lookup_writer_field(writer_fields, reader_field) {
                        Some(writer_field) => {
                            result.extend(self.at("type", &reader_field.ty, &writer_field.ty, location));
                        }
                        None if reader_field.default.is_some() => {}
                        None => {
                            let enum_default = reader_schema
                                .named_of(&reader_field.ty)
                                .is_some_and(|n| matches!(&n.kind, NamedKind::Enum { default: Some(_), .. }));
                            if enum_default {
                                let writer_node = Node::Named(w);
                                result.extend(self.at("type", &reader_field.ty, &writer_node, location));
                            } else {
                                let problem = self.problem(
                                    "READER_FIELD_MISSING_DEFAULT_VALUE",
                                    location,
                                    reader_field.name.clone(),
                                );
                                result.push(problem);
                            }
                        }
                    }
                    location.pop();
                }
                location.pop();
            }
            _ => {}
        }
        result
    }
}

/// The writer field a reader field reads: by name, then by the reader's aliases.
fn lookup_writer_field<'w>(writer_fields: &'w [Field], reader_field: &Field) -> Option<&'w Field> {
    writer_fields
        .iter()
        .find(|f| f.name == reader_field.name)
        .or_else(|| reader_field.aliases.iter().find_map(|alias| writer_fields.iter().find(|f| &f.name == alias)))
}
