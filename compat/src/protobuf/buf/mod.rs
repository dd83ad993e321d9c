//! buf's breaking-change rules, by buf's rule ids and categories.
//!
//! buf compares two compiled images, "previous" and "current". Files pair by
//! path; messages, enums and services by full name (nested types and map
//! entries included); fields by number within a paired message, extensions by
//! (extendee, number); enum values by number; RPCs by name. Each rule is one
//! function in [`rules`], registered with the categories it belongs to in
//! [`RULES`]; a category is the set of rules that name it (buf's v2
//! configuration: `FILE`, `PACKAGE`, `WIRE_JSON`, `WIRE`).
//!
//! A registry subject holds one file, so for a registration both images are
//! the subject's own file (its imports are other subjects, checked there). For
//! a compatibility level, "previous" is the writer and "current" the reader:
//! BACKWARD compares old → new, FORWARD new → old.

mod rules;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use prost_reflect::{
    Cardinality, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor, Syntax, Value,
};
use prost_types::FieldDescriptorProto;
use prost_types::field_descriptor_proto::Type;

use crate::finding::Incompatibility;

pub use rules::RULES;

/// buf's breaking categories, strictest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Generated code of one file keeps compiling.
    File,
    /// Generated code of one package keeps compiling.
    Package,
    /// Binary and JSON encodings stay readable.
    WireJson,
    /// The binary encoding stays readable.
    Wire,
}

impl Category {
    pub const ALL: [Category; 4] = [Category::File, Category::Package, Category::WireJson, Category::Wire];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::File => "FILE",
            Category::Package => "PACKAGE",
            Category::WireJson => "WIRE_JSON",
            Category::Wire => "WIRE",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown buf category {s}; expected FILE, PACKAGE, WIRE_JSON or WIRE"))
    }
}

/// One buf rule: its id, the categories that include it, what it guards and its check.
pub struct Rule {
    pub id: &'static str,
    pub categories: &'static [Category],
    pub summary: &'static str,
    pub check: fn(&Pair, &mut Findings),
}

impl Rule {
    pub fn in_category(&self, category: Category) -> bool {
        self.categories.contains(&category)
    }
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Every breaking change from `previous` to `current` under `category`.
pub fn check(previous: &[FileDescriptor], current: &[FileDescriptor], category: Category) -> Vec<Incompatibility> {
    check_rules(previous, current, |rule| rule.in_category(category))
}

/// Every breaking change from `previous` to `current` found by the rules `select` picks.
pub fn check_rules(
    previous: &[FileDescriptor],
    current: &[FileDescriptor],
    select: impl Fn(&Rule) -> bool,
) -> Vec<Incompatibility> {
    let pair = Pair::new(previous, current);
    let mut findings = Findings::default();
    for rule in RULES.iter().filter(|r| select(r)) {
        findings.rule = rule.id;
        (rule.check)(&pair, &mut findings);
    }
    findings.found
}

/// The findings of one check, tagged with the rule running.
#[derive(Default)]
pub struct Findings {
    rule: &'static str,
    found: Vec<Incompatibility>,
}

impl Findings {
    fn add(&mut self, path: String, description: String) {
        self.found.push(Incompatibility::with_error_type(self.rule, path, description));
    }
}

/// Every element of one image, indexed the way buf pairs them.
struct Image {
    files: BTreeMap<String, FileDescriptor>,
    messages: BTreeMap<String, MessageDescriptor>,
    enums: BTreeMap<String, EnumDescriptor>,
    services: BTreeMap<String, ServiceDescriptor>,
    /// Extensions by (extendee full name, number).
    extensions: BTreeMap<(String, u32), ExtensionDescriptor>,
}

impl Image {
    fn new(files: &[FileDescriptor]) -> Image {
        let mut image = Image {
            files: BTreeMap::new(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
            services: BTreeMap::new(),
            extensions: BTreeMap::new(),
        };
        for file in files {
            image.files.insert(file.name().to_owned(), file.clone());
            for message in messages_of(file) {
                image.messages.insert(message.full_name().to_owned(), message);
            }
            for e in enums_of(file) {
                image.enums.insert(e.full_name().to_owned(), e);
            }
            for extension in extensions_of(file) {
                let key = (extension.containing_message().full_name().to_owned(), extension.number());
                image.extensions.insert(key, extension);
            }
            for service in file.services() {
                image.services.insert(service.full_name().to_owned(), service);
            }
        }
        image
    }
}

/// Every message of a file, nested ones and map entries included.
fn messages_of(file: &FileDescriptor) -> Vec<MessageDescriptor> {
    let mut found = Vec::new();
    let mut pending: Vec<MessageDescriptor> = file.messages().collect();
    while let Some(message) = pending.pop() {
        pending.extend(message.child_messages());
        found.push(message);
    }
    found
}

/// Every enum of a file, top-level and nested.
fn enums_of(file: &FileDescriptor) -> Vec<EnumDescriptor> {
    file.enums().chain(messages_of(file).iter().flat_map(MessageDescriptor::child_enums)).collect()
}

/// Every extension a file declares, top-level and nested.
fn extensions_of(file: &FileDescriptor) -> Vec<ExtensionDescriptor> {
    file.extensions().chain(messages_of(file).iter().flat_map(MessageDescriptor::child_extensions)).collect()
}

/// The two images and every element present in both.
pub struct Pair {
    previous: Image,
    current: Image,
    files: Vec<(FileDescriptor, FileDescriptor)>,
    messages: Vec<(MessageDescriptor, MessageDescriptor)>,
    enums: Vec<(EnumDescriptor, EnumDescriptor)>,
    fields: Vec<(Field, Field)>,
    methods: Vec<(MethodDescriptor, MethodDescriptor)>,
    services: Vec<(ServiceDescriptor, ServiceDescriptor)>,
}

fn paired<K: Ord + Clone, V: Clone>(previous: &BTreeMap<K, V>, current: &BTreeMap<K, V>) -> Vec<(V, V)> {
    previous.iter().filter_map(|(key, p)| current.get(key).map(|c| (p.clone(), c.clone()))).collect()
}

impl Pair {
    fn new(previous: &[FileDescriptor], current: &[FileDescriptor]) -> Pair {
        let (previous, current) = (Image::new(previous), Image::new(current));
        let files = paired(&previous.files, &current.files);
        let messages = paired(&previous.messages, &current.messages);
        let enums = paired(&previous.enums, &current.enums);
        let services = paired(&previous.services, &current.services);
        let mut fields = Vec::new();
        for (p, c) in &messages {
            let by_number: BTreeMap<u32, FieldDescriptor> = c.fields().map(|f| (f.number(), f)).collect();
            let mut previous_fields: Vec<FieldDescriptor> = p.fields().collect();
            previous_fields.sort_by_key(FieldDescriptor::number);
            for field in previous_fields {
                if let Some(current_field) = by_number.get(&field.number()) {
                    fields.push((Field::Plain(field), Field::Plain(current_field.clone())));
                }
            }
        }
        for (p, c) in paired(&previous.extensions, &current.extensions) {
            fields.push((Field::Extension(p), Field::Extension(c)));
        }
        let mut methods = Vec::new();
        for (p, c) in &services {
            for method in p.methods() {
                if let Some(current_method) = c.methods().find(|m| m.name() == method.name()) {
                    methods.push((method, current_method));
                }
            }
        }
        Pair { previous, current, files, messages, enums, fields, methods, services }
    }
}

/// A message field or an extension: the rules on fields apply to both.
#[derive(Clone)]
enum Field {
    Plain(FieldDescriptor),
    Extension(ExtensionDescriptor),
}

/// buf's cardinalities: presence matters, and maps are not lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldCardinality {
    OptionalExplicit,
    OptionalImplicit,
    Required,
    Repeated,
    Map,
}

impl FieldCardinality {
    fn describe(self) -> &'static str {
        match self {
            FieldCardinality::OptionalExplicit => "optional with explicit presence",
            FieldCardinality::OptionalImplicit => "optional with implicit presence",
            FieldCardinality::Required => "required",
            FieldCardinality::Repeated => "repeated",
            FieldCardinality::Map => "map",
        }
    }

    /// The binary encoding cannot tell singular kinds apart, nor lists from maps.
    fn wire_group(self) -> u8 {
        match self {
            FieldCardinality::OptionalExplicit | FieldCardinality::OptionalImplicit => 1,
            FieldCardinality::Required => 2,
            FieldCardinality::Repeated | FieldCardinality::Map => 3,
        }
    }

    /// JSON writes lists as arrays and maps as objects.
    fn wire_json_group(self) -> u8 {
        match self {
            FieldCardinality::Map => 4,
            other => other.wire_group(),
        }
    }
}

impl Field {
    fn name(&self) -> &str {
        match self {
            Field::Plain(f) => f.name(),
            Field::Extension(e) => e.name(),
        }
    }

    /// How buf names the field: extensions by full name.
    fn display_name(&self) -> &str {
        match self {
            Field::Plain(f) => f.name(),
            Field::Extension(e) => e.full_name(),
        }
    }

    fn number(&self) -> u32 {
        match self {
            Field::Plain(f) => f.number(),
            Field::Extension(e) => e.number(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Field::Plain(f) => f.kind(),
            Field::Extension(e) => e.kind(),
        }
    }

    /// The declared type: a scalar, `TYPE_MESSAGE`, `TYPE_ENUM` or `TYPE_GROUP`.
    fn proto_type(&self) -> Type {
        self.proto().r#type()
    }

    fn proto(&self) -> &FieldDescriptorProto {
        match self {
            Field::Plain(f) => f.field_descriptor_proto(),
            Field::Extension(e) => e.field_descriptor_proto(),
        }
    }

    fn file(&self) -> FileDescriptor {
        match self {
            Field::Plain(f) => f.parent_file(),
            Field::Extension(e) => e.parent_file(),
        }
    }

    fn is_extension(&self) -> bool {
        matches!(self, Field::Extension(_))
    }

    fn in_map_entry(&self) -> bool {
        matches!(self, Field::Plain(f) if f.parent_message().is_map_entry())
    }

    fn json_name(&self) -> &str {
        match self {
            Field::Plain(f) => f.json_name(),
            Field::Extension(e) => e.json_name(),
        }
    }

    fn default_value(&self) -> Value {
        match self {
            Field::Plain(f) => f.default_value(),
            Field::Extension(e) => e.default_value(),
        }
    }

    /// The real (not proto3-`optional` synthetic) oneof the field belongs to.
    fn oneof(&self) -> Option<String> {
        match self {
            Field::Plain(f) => f.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_owned()),
            Field::Extension(_) => None,
        }
    }

    fn cardinality(&self) -> FieldCardinality {
        let (is_list, is_map, cardinality, presence) = match self {
            Field::Plain(f) => (f.is_list(), f.is_map(), f.cardinality(), f.supports_presence()),
            Field::Extension(e) => (e.is_list(), e.is_map(), e.cardinality(), e.supports_presence()),
        };
        if is_list {
            FieldCardinality::Repeated
        } else if is_map {
            FieldCardinality::Map
        } else if cardinality == Cardinality::Required {
            FieldCardinality::Required
        } else if presence {
            FieldCardinality::OptionalExplicit
        } else {
            FieldCardinality::OptionalImplicit
        }
    }

    /// The message the field is declared on (the extendee for an extension).
    fn message_name(&self) -> String {
        match self {
            Field::Plain(f) => nested_name(f.parent_message().full_name(), f.parent_file().package_name()),
            Field::Extension(e) => e.containing_message().full_name().to_owned(),
        }
    }

    /// `#/Message/name(number)`, or `#/extend Extendee/name(number)`.
    fn path(&self) -> String {
        match self {
            Field::Plain(_) => {
                format!("#/{}/{}({})", self.message_name().replace('.', "/"), self.name(), self.number())
            }
            Field::Extension(e) => format!("#/extend {}/{}({})", self.message_name(), e.full_name(), self.number()),
        }
    }

    /// "Field items (3) of message Order": names both the field and its message.
    fn describe(&self) -> String {
        let what = if self.is_extension() { "Extension" } else { "Field" };
        format!("{what} {} ({}) of message {}", self.display_name(), self.number(), self.message_name())
    }

    /// The type as a person writes it: a scalar name, or the message or enum type.
    fn type_name(&self) -> String {
        match self.kind() {
            Kind::Message(m) if self.proto_type() == Type::Group => format!("group {}", m.full_name()),
            Kind::Message(m) => m.full_name().to_owned(),
            Kind::Enum(e) => e.full_name().to_owned(),
            _ => super::scalar_name(self.proto_type()).to_owned(),
        }
    }
}

/// A name with its file's package removed: how buf names elements within a file.
fn nested_name(full_name: &str, package: &str) -> String {
    if package.is_empty() {
        full_name.to_owned()
    } else {
        full_name.strip_prefix(package).and_then(|n| n.strip_prefix('.')).unwrap_or(full_name).to_owned()
    }
}

/// The path of a message (or enum) by its nested name: `#/Outer/Inner`.
fn element_path(full_name: &str, package: &str) -> String {
    format!("#/{}", nested_name(full_name, package).replace('.', "/"))
}

/// The syntax a file declares; a file without one is proto2.
fn is_proto3(file: &FileDescriptor) -> bool {
    file.syntax() == Syntax::Proto3
}
