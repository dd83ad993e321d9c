//! Protobuf schemas: parsing with protox (references become imports, the
//! well-known types and Confluent's bundled protos resolve without
//! registration), the canonical `.proto` text Confluent stores, the
//! `FileDescriptorProto` Confluent serves as `format=serialized`, and the
//! compatibility rules.
//!
//! Two descriptors are kept. `written` comes from the parser before name
//! resolution: type names, labels and options as the author wrote them, which is
//! what the canonical text prints. `pool` holds the compiled, resolved files,
//! which is what compatibility and payload checks reason about.

mod aggregate;
pub mod buf;
mod confluent;
pub mod options;
mod render;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use prost_types::field_descriptor_proto::Type;

use crate::finding::{Incompatibility, Role};
use crate::types::{ResolvedReference, SchemaError, SchemaType};

pub use confluent::RULES as CONFLUENT_RULES;

/// The name Confluent gives the schema's own file.
const MAIN_FILE: &str = "default";

/// The files Confluent's Protobuf support has built in besides Google's
/// well-known types (which protox has): importing one needs no reference, and
/// Confluent's Go serializer never registers them. The `google/type` files are
/// written from the published `google.type` definitions (names, numbers and
/// types, what goes on the wire), without their comments or options.
const BUNDLED: &[(&str, &str)] = &[
    ("confluent/meta.proto", include_str!("bundled/confluent/meta.proto")),
    ("confluent/type/decimal.proto", include_str!("bundled/confluent/type/decimal.proto")),
    ("google/type/calendar_period.proto", include_str!("bundled/google/type/calendar_period.proto")),
    ("google/type/color.proto", include_str!("bundled/google/type/color.proto")),
    ("google/type/date.proto", include_str!("bundled/google/type/date.proto")),
    ("google/type/datetime.proto", include_str!("bundled/google/type/datetime.proto")),
    ("google/type/dayofweek.proto", include_str!("bundled/google/type/dayofweek.proto")),
    ("google/type/expr.proto", include_str!("bundled/google/type/expr.proto")),
    ("google/type/fraction.proto", include_str!("bundled/google/type/fraction.proto")),
    ("google/type/interval.proto", include_str!("bundled/google/type/interval.proto")),
    ("google/type/latlng.proto", include_str!("bundled/google/type/latlng.proto")),
    ("google/type/money.proto", include_str!("bundled/google/type/money.proto")),
    ("google/type/month.proto", include_str!("bundled/google/type/month.proto")),
    ("google/type/phone_number.proto", include_str!("bundled/google/type/phone_number.proto")),
    ("google/type/postal_address.proto", include_str!("bundled/google/type/postal_address.proto")),
    ("google/type/quaternion.proto", include_str!("bundled/google/type/quaternion.proto")),
    ("google/type/timeofday.proto", include_str!("bundled/google/type/timeofday.proto")),
];

/// A parsed Protobuf schema.
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    /// The file as written, with field kinds filled in from the compiled file.
    pub written: FileDescriptorProto,
    /// The file compiled: names resolved, options interpreted.
    pub compiled: FileDescriptorProto,
    /// Every compiled file: this one, its imports, the well-known types.
    pub pool: DescriptorPool,
}

/// Serves the schema itself, its references and Confluent's bundled files to protox.
struct Sources {
    files: HashMap<String, String>,
    /// Files given as descriptors rather than text.
    descriptors: HashMap<String, FileDescriptorProto>,
    google: protox::file::GoogleFileResolver,
}

impl Sources {
    /// Compiles the named files, with everything they import, into one pool.
    fn compile<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Result<DescriptorPool, SchemaError> {
        let mut compiler = protox::Compiler::with_file_resolver(self);
        compiler.include_imports(true).include_source_info(false);
        for name in names {
            compiler.open_file(name).map_err(|e| parse_error(&e))?;
        }
        Ok(compiler.descriptor_pool())
    }
}

impl protox::file::FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if let Some(source) = self.files.get(name) {
            return protox::file::File::from_source(name, source);
        }
        if let Some(descriptor) = self.descriptors.get(name) {
            return Ok(protox::file::File::from_file_descriptor_proto(descriptor.clone()));
        }
        if let Some((_, source)) = BUNDLED.iter().find(|(path, _)| *path == name) {
            return protox::file::File::from_source(name, source);
        }
        match self.google.open_file(name) {
            // Like Confluent, an import nobody provides is only an error if a type from it is used.
            Err(error) if error.is_file_not_found() => protox::file::File::from_source(name, ""),
            other => other,
        }
    }
}

/// Compiles the main file. Like Confluent, which keeps options it cannot
/// resolve as text, a custom option whose extension no file declares (say
/// `(confluent.field_meta)` without its import, as Confluent's tags endpoint
/// writes it) is left out of the compilation instead of failing it; the
/// written file keeps it, so it is stored and printed as given.
fn compile_tolerating_unknown_options(
    files: &HashMap<String, String>,
    mut descriptors: HashMap<String, FileDescriptorProto>,
) -> Result<DescriptorPool, SchemaError> {
    let mut dropped = Vec::new();
    loop {
        let sources = Sources {
            files: files.clone(),
            descriptors: descriptors.clone(),
            google: protox::file::GoogleFileResolver::new(),
        };
        let error = match sources.compile([MAIN_FILE]) {
            Ok(pool) => return Ok(pool),
            Err(error) => error,
        };
        let unresolved = error.to_string().strip_prefix("Could not resolve type: ").map(str::to_owned);
        let Some(main) = descriptors.get_mut(MAIN_FILE) else { return Err(error) };
        match unresolved {
            Some(name) if !dropped.contains(&name) && options::drop_custom(main, &name) => dropped.push(name),
            _ => return Err(error),
        }
    }
}

fn collect_sources(references: &[ResolvedReference], files: &mut HashMap<String, String>) -> Result<(), SchemaError> {
    for reference in references {
        if reference.schema_type != SchemaType::Protobuf {
            return Err(SchemaError::Reference {
                name: reference.name.clone(),
                reason: format!("a {} schema cannot be imported by Protobuf", reference.schema_type),
            });
        }
        if files.contains_key(&reference.name) {
            continue;
        }
        files.insert(reference.name.clone(), reference.schema.clone());
        collect_sources(&reference.references, files)?;
    }
    Ok(())
}

/// A reference whose name is not the path the file imports it by (the file
/// imports `dep.proto`, the reference is named `other.proto`): Confluent
/// accepts it. When exactly one import is provided by no file and exactly one
/// of the schema's own references is imported by no name, that import is read
/// as that reference.
fn alias_misnamed_import(
    written: &FileDescriptorProto,
    references: &[ResolvedReference],
    files: &mut HashMap<String, String>,
) {
    let provided = |name: &str| {
        files.contains_key(name)
            || BUNDLED.iter().any(|(path, _)| *path == name)
            || name.starts_with("google/protobuf/")
    };
    let unprovided: Vec<&String> = written.dependency.iter().filter(|d| !provided(d)).collect();
    let unimported: Vec<&ResolvedReference> =
        references.iter().filter(|r| !written.dependency.contains(&r.name)).collect();
    if let ([import], [reference]) = (unprovided.as_slice(), unimported.as_slice()) {
        files.insert((*import).clone(), reference.schema.clone());
    }
}

/// Decodes a base64 `FileDescriptorProto`, the form the Python, Go and .NET serializers send.
fn decode_descriptor(text: &str) -> Option<FileDescriptorProto> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.contains(char::is_whitespace) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(trimmed).ok()?;
    let file = FileDescriptorProto::decode(bytes.as_slice()).ok()?;
    (!file.message_type.is_empty() || !file.enum_type.is_empty() || file.package.is_some()).then_some(file)
}

fn parse_error(error: &protox::Error) -> SchemaError {
    let text = error.to_string();
    if let Some(missing) = text.strip_prefix("name '").and_then(|t| t.split('\'').next()) {
        return SchemaError::invalid(format!("Could not resolve type: {missing}"));
    }
    SchemaError::invalid(format!("Could not parse Protobuf - {text}"))
}

/// A file as Confluent prints it (see [`ProtoSchema::canonical`]).
pub fn render_file(file: &FileDescriptorProto) -> String {
    render::render(file)
}

impl ProtoSchema {
    pub fn parse(text: &str, references: &[ResolvedReference]) -> Result<ProtoSchema, SchemaError> {
        if text.trim().is_empty() {
            return Err(SchemaError::invalid("Empty schema"));
        }
        let mut files = HashMap::new();
        collect_sources(references, &mut files)?;
        let mut descriptors = HashMap::new();
        let mut written = match protox_parse::parse(MAIN_FILE, text) {
            Ok(mut written) => {
                // The compiler takes the parsed file as it is rather than parsing the text
                // again; neither needs the source locations.
                written.source_code_info = None;
                descriptors.insert(MAIN_FILE.to_owned(), written.clone());
                written
            }
            Err(parse_failure) => match decode_descriptor(text) {
                Some(mut descriptor) => {
                    descriptor.name = Some(MAIN_FILE.to_owned());
                    descriptors.insert(MAIN_FILE.to_owned(), descriptor.clone());
                    render::relativize(&mut descriptor);
                    descriptor
                }
                None => {
                    return Err(SchemaError::invalid(format!("Could not parse Protobuf - {parse_failure}")));
                }
            },
        };
        alias_misnamed_import(&written, references, &mut files);
        let pool = compile_tolerating_unknown_options(&files, descriptors)?;
        let compiled = pool
            .get_file_by_name(MAIN_FILE)
            .map(|f| f.file_descriptor_proto().clone())
            .ok_or_else(|| SchemaError::invalid("Could not parse Protobuf - the file did not compile"))?;
        fill_kinds(&mut written, &compiled);
        written.source_code_info = None;
        if written.syntax.is_none() && declares_proto2(text) {
            written.syntax = Some("proto2".to_owned());
        }
        if written.syntax.as_deref() == Some("proto3") {
            clear_implicit_labels(&mut written.message_type);
        }
        Ok(ProtoSchema { written, compiled, pool })
    }

    /// The canonical `.proto` text, as Confluent prints it: no comments,
    /// messages before enums, one field per line.
    pub fn canonical(&self) -> String {
        render::render(&self.written)
    }

    /// The normalized text: imports, options, fields (by number) and enum
    /// values (by number) in a fixed order, so reordering does not change the id.
    pub fn normalized(&self) -> String {
        let mut file = self.written.clone();
        render::normalize(&mut file);
        render::render(&file)
    }

    /// Base64 of the `FileDescriptorProto`, as `format=serialized` returns it:
    /// the compiled file (options interpreted) with names, labels and JSON
    /// names as written, the way Confluent builds it.
    pub fn serialized(&self) -> String {
        let file = render::descriptor_as_written(&self.compiled, &self.written);
        base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec())
    }

    /// The canonical text without extension ranges and `extend` blocks
    /// (Confluent's `format=ignore_extensions`).
    pub fn without_extensions(&self) -> String {
        fn strip(message: &mut prost_types::DescriptorProto) {
            message.extension_range.clear();
            message.extension.clear();
            message.nested_type.iter_mut().for_each(strip);
        }
        let mut file = self.written.clone();
        file.extension.clear();
        file.message_type.iter_mut().for_each(strip);
        render::render(&file)
    }

    /// The compiled descriptor of this schema's own file.
    pub fn file(&self) -> Option<prost_reflect::FileDescriptor> {
        self.pool.get_file_by_name(MAIN_FILE)
    }
}

/// Copies each named field's kind (message or enum) from the compiled file into
/// the written one: the parser cannot know it before names are resolved.
fn fill_kinds(written: &mut FileDescriptorProto, compiled: &FileDescriptorProto) {
    fn messages(written: &mut [prost_types::DescriptorProto], compiled: &[prost_types::DescriptorProto]) {
        for (w, c) in written.iter_mut().zip(compiled) {
            fields(&mut w.field, &c.field);
            fields(&mut w.extension, &c.extension);
            messages(&mut w.nested_type, &c.nested_type);
        }
    }
    fn fields(written: &mut [prost_types::FieldDescriptorProto], compiled: &[prost_types::FieldDescriptorProto]) {
        for (w, c) in written.iter_mut().zip(compiled) {
            if w.r#type.is_none() {
                w.r#type = c.r#type;
            }
        }
    }
    messages(&mut written.message_type, &compiled.message_type);
    fields(&mut written.extension, &compiled.extension);
}

/// Whether the source says `syntax = "proto2";` (the parser leaves proto2 unset).
fn declares_proto2(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("syntax=\"proto2\"") || compact.contains("syntax='proto2'")
}

/// The parser labels a proto3 field written without a label `optional`; as
/// written (and as Confluent's descriptor has it) it has no label.
fn clear_implicit_labels(messages: &mut [prost_types::DescriptorProto]) {
    use prost_types::field_descriptor_proto::Label;
    for message in messages {
        for field in &mut message.field {
            if field.label == Some(Label::Optional as i32) && !field.proto3_optional() {
                field.label = None;
            }
        }
        let is_map_entry = message.options.as_ref().and_then(|o| o.map_entry).unwrap_or(false);
        if !is_map_entry {
            clear_implicit_labels(&mut message.nested_type);
        }
    }
}

/// Which rules a Protobuf check applies: Confluent's (the default, what
/// Confluent's registry and clients expect) or one of buf's categories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Rules {
    #[default]
    Confluent,
    Buf(buf::Category),
}

impl Rules {
    pub const ALL: [Rules; 5] = [
        Rules::Confluent,
        Rules::Buf(buf::Category::Wire),
        Rules::Buf(buf::Category::WireJson),
        Rules::Buf(buf::Category::Package),
        Rules::Buf(buf::Category::File),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rules::Confluent => "CONFLUENT",
            Rules::Buf(category) => category.as_str(),
        }
    }
}

impl fmt::Display for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Profile names are accepted in any case: `CONFLUENT`, `WIRE`, `WIRE_JSON`, `PACKAGE`, `FILE`.
impl FromStr for Rules {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rules::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown Protobuf rule profile {s}; expected CONFLUENT, WIRE, WIRE_JSON, PACKAGE or FILE")
        })
    }
}

/// Every reason `reader` cannot read data written with `writer`, by the chosen rules.
/// For buf's categories the writer is the "previous" image and the reader the "current".
pub fn check(reader: &ProtoSchema, writer: &ProtoSchema, reader_role: Role, rules: Rules) -> Vec<Incompatibility> {
    match rules {
        Rules::Confluent => confluent::check(writer, reader, reader_role),
        Rules::Buf(category) => {
            let (Some(previous), Some(current)) = (writer.file(), reader.file()) else {
                return Vec::new();
            };
            buf::check(&[previous], &[current], category)
        }
    }
}

/// Compiles a set of `.proto` files (path, text) that may import each other, the
/// well-known types and Confluent's bundled files: a buf-style module, for
/// comparing whole file sets with [`buf::check`].
pub fn compile_files(files: &[(String, String)]) -> Result<Vec<prost_reflect::FileDescriptor>, SchemaError> {
    let sources = Sources {
        files: files.iter().cloned().collect(),
        descriptors: HashMap::new(),
        google: protox::file::GoogleFileResolver::new(),
    };
    let pool = sources.compile(files.iter().map(|(path, _)| path.as_str()))?;
    Ok(files.iter().filter_map(|(path, _)| pool.get_file_by_name(path)).collect())
}

/// The `.proto` spelling of a scalar type.
pub(crate) fn scalar_name(ty: Type) -> &'static str {
    match ty {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Group => "group",
        Type::Message => "message",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Enum => "enum",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    }
}

/// Whether two scalar kinds share a wire encoding (Confluent's scalar groups).
pub(crate) fn same_wire_group(a: &prost_reflect::Kind, b: &prost_reflect::Kind) -> bool {
    confluent::scalar_group(a) == confluent::scalar_group(b)
}
