//! A generator of `.proto` file pairs for the differential test against buf:
//! a random schema, and the same schema after one to three random edits of the
//! kinds buf's rules look at (deletions with and without reservations,
//! renames, renumbering, type, label, oneof, package, syntax, option, default,
//! JSON-name, enum and service changes).
//!
//! The model only produces files both protox and buf compile: names are
//! unique per kind (`M*` messages, `E*` enums, `f*` fields...), proto3 enums
//! start at 0, and edits that would leave a dangling reference are skipped.

use std::fmt::Write as _;

/// `SplitMix64`: small, deterministic, good enough to pick edits.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

const SCALARS: &[&str] = &[
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool",
    "string", "bytes", "float", "double",
];
const MAP_KEYS: &[&str] = &["string", "int32", "int64", "uint32", "bool", "sint64", "fixed32"];
const FILE_OPTIONS: &[(&str, &[&str])] = &[
    ("java_package", &["\"com.example.a\"", "\"com.example.b\""]),
    ("java_outer_classname", &["\"OuterA\"", "\"OuterB\""]),
    ("java_multiple_files", &["true", "false"]),
    ("go_package", &["\"example.com/a\"", "\"example.com/b\""]),
    ("optimize_for", &["SPEED", "CODE_SIZE", "LITE_RUNTIME"]),
    ("cc_enable_arenas", &["true", "false"]),
    ("csharp_namespace", &["\"Example.A\"", "\"Example.B\""]),
    ("objc_class_prefix", &["\"EXA\"", "\"EXB\""]),
    ("php_namespace", &["\"Example\\\\A\"", "\"Example\\\\B\""]),
    ("php_class_prefix", &["\"PA\"", "\"PB\""]),
    ("php_metadata_namespace", &["\"Meta\\\\A\"", "\"Meta\\\\B\""]),
    ("ruby_package", &["\"Example::A\"", "\"Example::B\""]),
    ("swift_prefix", &["\"SA\"", "\"SB\""]),
    ("java_string_check_utf8", &["true", "false"]),
    ("cc_generic_services", &["true", "false"]),
    ("java_generic_services", &["true", "false"]),
    ("py_generic_services", &["true", "false"]),
];

#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Scalar(&'static str),
    /// A message or enum, by its package-relative name (`M1`, `M1.N2`, `E3`).
    Named {
        path: String,
        is_enum: bool,
    },
    Map(&'static str, Box<Ty>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Label {
    /// proto3 without a label (proto2 prints `optional`).
    Implicit,
    Optional,
    Required,
    Repeated,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub number: u32,
    pub label: Label,
    pub ty: Ty,
    pub json_name: Option<String>,
    pub default: Option<String>,
    pub jstype: Option<&'static str>,
    pub ctype: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Oneof {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Default)]
pub struct Enum {
    pub name: String,
    pub values: Vec<(String, i32)>,
    pub reserved_numbers: Vec<(i32, i32)>,
    pub reserved_names: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub name: String,
    pub fields: Vec<Field>,
    pub oneofs: Vec<Oneof>,
    pub nested: Vec<Message>,
    pub enums: Vec<Enum>,
    pub reserved_numbers: Vec<(u32, u32)>,
    pub reserved_names: Vec<String>,
    pub extension_ranges: Vec<(u32, u32)>,
    pub no_standard_descriptor_accessor: bool,
}

#[derive(Debug, Clone)]
pub struct Method {
    pub name: String,
    pub input: String,
    pub output: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
    pub idempotency: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub methods: Vec<Method>,
}

#[derive(Debug, Clone)]
pub struct Extension {
    pub extendee: String,
    pub field: Field,
}

#[derive(Debug, Clone)]
pub struct File {
    pub proto3: bool,
    pub package: String,
    pub options: Vec<(&'static str, &'static str)>,
    pub messages: Vec<Message>,
    pub enums: Vec<Enum>,
    pub services: Vec<Service>,
    pub extensions: Vec<Extension>,
}

/// Hands out unique names and numbers.
struct Names {
    counter: usize,
}

impl Names {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }
}

// ---- Generation ----------------------------------------------------------------------------

fn gen_enum(rng: &mut Rng, names: &mut Names) -> Enum {
    let name = names.next("E");
    let count = 2 + rng.below(4);
    let values = (0..count).map(|i| (format!("{}_V{i}", name.to_uppercase()), i32::try_from(i).unwrap_or(0))).collect();
    let mut e = Enum { name, values, ..Enum::default() };
    if rng.chance(30) {
        e.reserved_numbers.push((20, 20 + i32::try_from(rng.below(3)).unwrap_or(0)));
    }
    if rng.chance(20) {
        e.reserved_names.push(format!("{}_OLD", e.name.to_uppercase()));
    }
    e
}

fn gen_field(rng: &mut Rng, names: &mut Names, number: u32, proto3: bool, types: &[Ty]) -> Field {
    let ty = match rng.below(10) {
        0..=5 => Ty::Scalar(rng.word(SCALARS)),
        6 if !types.is_empty() => {
            let value = if rng.chance(60) { Ty::Scalar(rng.word(SCALARS)) } else { rng.pick(types).clone() };
            Ty::Map(rng.word(MAP_KEYS), Box::new(value))
        }
        _ if !types.is_empty() => rng.pick(types).clone(),
        _ => Ty::Scalar(rng.word(SCALARS)),
    };
    let label = if matches!(ty, Ty::Map(..)) {
        Label::Implicit
    } else {
        match rng.below(10) {
            0..=1 => Label::Repeated,
            2..=3 => Label::Optional,
            4 if !proto3 => Label::Required,
            _ if proto3 => Label::Implicit,
            _ => Label::Optional,
        }
    };
    let mut field =
        Field { name: names.next("f"), number, label, ty, json_name: None, default: None, jstype: None, ctype: None };
    if rng.chance(10) {
        field.json_name = Some(format!("j{}", field.name));
    }
    if !proto3 && rng.chance(25) {
        field.default = default_for(rng, &field, &[]);
    }
    if is_64_bit(&field.ty) && rng.chance(25) {
        field.jstype = Some(*rng.pick(&["JS_STRING", "JS_NUMBER", "JS_NORMAL"]));
    }
    if matches!(field.ty, Ty::Scalar("string" | "bytes")) && field.label != Label::Repeated && rng.chance(15) {
        field.ctype = Some(*rng.pick(&["CORD", "STRING_PIECE", "STRING"]));
    }
    field
}

fn is_64_bit(ty: &Ty) -> bool {
    matches!(ty, Ty::Scalar("int64" | "uint64" | "sint64" | "fixed64" | "sfixed64"))
}

/// A default literal for a field, if its type can have one.
fn default_for(rng: &mut Rng, field: &Field, enums: &[Enum]) -> Option<String> {
    if matches!(field.label, Label::Repeated) {
        return None;
    }
    Some(match &field.ty {
        Ty::Scalar("bool") => (*rng.pick(&["true", "false"])).to_owned(),
        Ty::Scalar("string" | "bytes") => format!("\"{}\"", rng.pick(&["", "a", "b"])),
        Ty::Scalar("float" | "double") => (*rng.pick(&["0", "1.5", "-2", "inf", "nan"])).to_owned(),
        Ty::Scalar("uint32" | "uint64" | "fixed32" | "fixed64") => (*rng.pick(&["0", "7", "42"])).to_owned(),
        Ty::Scalar(_) => (*rng.pick(&["0", "-3", "42"])).to_owned(),
        Ty::Named { path, is_enum: true } => {
            let short = path.rsplit('.').next().unwrap_or(path);
            let e = enums.iter().find(|e| e.name == short)?;
            rng.pick(&e.values).0.clone()
        }
        _ => return None,
    })
}

fn gen_message(rng: &mut Rng, names: &mut Names, proto3: bool, types: &[Ty], depth: usize) -> Message {
    let mut message = Message { name: names.next("M"), ..Message::default() };
    if depth == 0 && rng.chance(40) {
        message.enums.push(gen_enum(rng, names));
    }
    let mut local_types = types.to_vec();
    for e in &message.enums {
        local_types.push(Ty::Named { path: format!("{}.{}", message.name, e.name), is_enum: true });
    }
    if depth == 0 && rng.chance(35) {
        let nested = gen_message(rng, names, proto3, &[], depth + 1);
        local_types.push(Ty::Named { path: format!("{}.{}", message.name, nested.name), is_enum: false });
        message.nested.push(nested);
    }
    let mut number = 1;
    for _ in 0..(2 + rng.below(6)) {
        message.fields.push(gen_field(rng, names, number, proto3, &local_types));
        number += 1 + u32::try_from(rng.below(2)).unwrap_or(0);
    }
    if rng.chance(35) {
        let mut oneof = Oneof { name: names.next("o"), fields: Vec::new() };
        for _ in 0..=rng.below(3) {
            let mut field = gen_field(rng, names, number, proto3, &local_types);
            number += 1;
            if matches!(field.ty, Ty::Map(..)) {
                field.ty = Ty::Scalar(rng.word(SCALARS));
            }
            field.label = Label::Implicit;
            field.default = None;
            oneof.fields.push(field);
        }
        message.oneofs.push(oneof);
    }
    if rng.chance(30) {
        message.reserved_numbers.push((100, 100 + u32::try_from(rng.below(5)).unwrap_or(0)));
    }
    if rng.chance(20) {
        message.reserved_names.push(names.next("gone"));
    }
    if !proto3 && rng.chance(25) {
        message.extension_ranges.push((1000, 1999));
    }
    message
}

/// A random file.
pub fn generate(rng: &mut Rng, package: &str) -> File {
    let proto3 = rng.chance(70);
    let mut names = Names { counter: 0 };
    let mut file = File {
        proto3,
        package: package.to_owned(),
        options: Vec::new(),
        messages: Vec::new(),
        enums: Vec::new(),
        services: Vec::new(),
        extensions: Vec::new(),
    };
    for _ in 0..rng.below(3) {
        let (name, values) = rng.pick(FILE_OPTIONS);
        if !file.options.iter().any(|(n, _)| n == name) {
            file.options.push((name, rng.word(values)));
        }
    }
    for _ in 0..=rng.below(2) {
        file.enums.push(gen_enum(rng, &mut names));
    }
    let mut types: Vec<Ty> = file.enums.iter().map(|e| Ty::Named { path: e.name.clone(), is_enum: true }).collect();
    for _ in 0..(2 + rng.below(3)) {
        let message = gen_message(rng, &mut names, proto3, &types, 0);
        types.push(Ty::Named { path: message.name.clone(), is_enum: false });
        file.messages.push(message);
    }
    if rng.chance(60) {
        let messages: Vec<String> = file.messages.iter().map(|m| m.name.clone()).collect();
        let mut service = Service { name: names.next("S"), methods: Vec::new() };
        for _ in 0..=rng.below(3) {
            service.methods.push(Method {
                name: names.next("Do"),
                input: rng.pick(&messages).clone(),
                output: rng.pick(&messages).clone(),
                client_streaming: rng.chance(30),
                server_streaming: rng.chance(30),
                idempotency: if rng.chance(25) { Some(*rng.pick(&["NO_SIDE_EFFECTS", "IDEMPOTENT"])) } else { None },
            });
        }
        file.services.push(service);
    }
    if !proto3 {
        let extendable: Vec<String> =
            file.messages.iter().filter(|m| !m.extension_ranges.is_empty()).map(|m| m.name.clone()).collect();
        for extendee in extendable {
            let number = 1000 + u32::try_from(rng.below(10)).unwrap_or(0);
            let mut field = gen_field(rng, &mut names, number, false, &[]);
            field.name = names.next("x");
            field.json_name = None;
            if matches!(field.ty, Ty::Map(..)) || field.label == Label::Required {
                field.ty = Ty::Scalar("int32");
                field.label = Label::Optional;
                field.default = None;
                field.jstype = None;
                field.ctype = None;
            }
            file.extensions.push(Extension { extendee, field });
        }
    }
    file
}

fn for_each_field(file: &mut File, f: &mut dyn FnMut(&mut Field)) {
    fn message(m: &mut Message, f: &mut dyn FnMut(&mut Field)) {
        m.fields.iter_mut().for_each(&mut *f);
        for oneof in &mut m.oneofs {
            oneof.fields.iter_mut().for_each(&mut *f);
        }
        for nested in &mut m.nested {
            message(nested, f);
        }
    }
    for m in &mut file.messages {
        message(m, f);
    }
    for extension in &mut file.extensions {
        f(&mut extension.field);
    }
}

// ---- Edits ---------------------------------------------------------------------------------

/// Every message of the file as (path of indexes): top-level `[i]`, nested `[i, j]`.
fn message_paths(file: &File) -> Vec<Vec<usize>> {
    let mut paths = Vec::new();
    for (i, m) in file.messages.iter().enumerate() {
        paths.push(vec![i]);
        for j in 0..m.nested.len() {
            paths.push(vec![i, j]);
        }
    }
    paths
}

fn message_at<'a>(file: &'a mut File, path: &[usize]) -> &'a mut Message {
    let top = &mut file.messages[path[0]];
    if path.len() > 1 { &mut top.nested[path[1]] } else { top }
}

/// Whether any field, map value or RPC refers to the type at `type_path` (or inside it).
fn referenced(file: &File, type_path: &str) -> bool {
    let refers = |ty: &Ty| match ty {
        Ty::Named { path, .. } => path == type_path || path.starts_with(&format!("{type_path}.")),
        Ty::Map(_, value) => {
            matches!(value.as_ref(), Ty::Named { path, .. } if path == type_path || path.starts_with(&format!("{type_path}.")))
        }
        Ty::Scalar(_) => false,
    };
    let mut found = false;
    let mut copy = file.clone();
    for_each_field(&mut copy, &mut |field| found |= refers(&field.ty));
    found
        || file.services.iter().flat_map(|s| &s.methods).any(|m| m.input == type_path || m.output == type_path)
        || file.extensions.iter().any(|e| e.extendee == type_path)
}

fn max_number(m: &Message) -> u32 {
    m.fields.iter().chain(m.oneofs.iter().flat_map(|o| &o.fields)).map(|f| f.number).max().unwrap_or(0)
}

/// Applies one random edit; answers a short description, or `None` if the picked edit
/// does not apply to this file.
#[expect(clippy::too_many_lines, reason = "one arm per kind of edit reads best as one table")]
pub fn mutate(rng: &mut Rng, file: &mut File) -> Option<String> {
    let paths = message_paths(file);
    let path = rng.pick(&paths).clone();
    let proto3 = file.proto3;
    let types: Vec<Ty> = {
        let mut t: Vec<Ty> = file.enums.iter().map(|e| Ty::Named { path: e.name.clone(), is_enum: true }).collect();
        t.extend(file.messages.iter().map(|m| Ty::Named { path: m.name.clone(), is_enum: false }));
        t
    };
    let mut all_enums = file.enums.clone();
    all_enums.extend(file.messages.iter().flat_map(|m| m.enums.iter().cloned()));
    match rng.below(26) {
        0 | 1 => {
            // Delete a field, sometimes reserving its number and/or name.
            let m = message_at(file, &path);
            if m.fields.is_empty() {
                return None;
            }
            let field = m.fields.remove(rng.below(m.fields.len()));
            if rng.chance(40) {
                m.reserved_numbers.push((field.number, field.number));
            }
            if rng.chance(40) {
                m.reserved_names.push(field.name.clone());
            }
            Some(format!("delete field {}", field.name))
        }
        2 => {
            let m = message_at(file, &path);
            let field = m.fields.first_mut()?;
            field.name = format!("{}_renamed", field.name);
            Some("rename field".into())
        }
        3 | 4 => {
            // Change a field's scalar type.
            let m = message_at(file, &path);
            let i = rng.below(m.fields.len().max(1));
            let field = m.fields.get_mut(i)?;
            if let Ty::Map(key, _) = field.ty {
                field.ty = Ty::Map(key, Box::new(Ty::Scalar(rng.word(SCALARS))));
            } else {
                field.ty = Ty::Scalar(rng.word(SCALARS));
            }
            field.default = None;
            field.jstype = field.jstype.filter(|_| is_64_bit(&field.ty));
            field.ctype = field.ctype.filter(|_| matches!(field.ty, Ty::Scalar("string" | "bytes")));
            Some("change scalar type".into())
        }
        5 => {
            // Point a field at another message or enum.
            let ty = rng.pick(&types).clone();
            let m = message_at(file, &path);
            let field = m.fields.iter_mut().find(|f| !matches!(f.ty, Ty::Map(..)))?;
            field.ty = ty;
            field.default = None;
            field.jstype = None;
            field.ctype = None;
            Some("change named type".into())
        }
        6 | 7 => {
            // Change a label.
            let m = message_at(file, &path);
            let field = m.fields.iter_mut().find(|f| !matches!(f.ty, Ty::Map(..)))?;
            let choices: &[Label] = if proto3 {
                &[Label::Implicit, Label::Optional, Label::Repeated]
            } else {
                &[Label::Optional, Label::Required, Label::Repeated]
            };
            field.label = *rng.pick(choices);
            if field.label == Label::Repeated {
                field.default = None;
                field.ctype = None;
            }
            Some("change label".into())
        }
        8 => {
            // Renumber a field.
            let m = message_at(file, &path);
            let next = max_number(m) + 1;
            let field = m.fields.first_mut()?;
            field.number = next;
            Some("renumber field".into())
        }
        9 => {
            // Move a plain field into a (new or existing) oneof.
            let m = message_at(file, &path);
            let i = m.fields.iter().position(|f| !matches!(f.ty, Ty::Map(..)) && f.label != Label::Repeated)?;
            let mut field = m.fields.remove(i);
            field.label = Label::Implicit;
            field.default = None;
            if m.oneofs.is_empty() || rng.chance(50) {
                m.oneofs.push(Oneof { name: format!("{}_oneof", field.name), fields: vec![field] });
            } else {
                m.oneofs[0].fields.push(field);
            }
            Some("move field into oneof".into())
        }
        10 => {
            // Move a oneof member out of its oneof.
            let m = message_at(file, &path);
            let oneof = m.oneofs.first_mut()?;
            let mut field = oneof.fields.pop()?;
            field.label = if proto3 { Label::Implicit } else { Label::Optional };
            if oneof.fields.is_empty() {
                m.oneofs.remove(0);
            }
            m.fields.push(field);
            Some("move field out of oneof".into())
        }
        11 => {
            // Delete a whole oneof with its fields.
            let m = message_at(file, &path);
            if m.oneofs.is_empty() {
                return None;
            }
            m.oneofs.remove(0);
            Some("delete oneof".into())
        }
        12 => {
            // Add a field.
            let m = message_at(file, &path);
            let number = max_number(m) + 1;
            let mut names = Names { counter: 500 + rng.below(400) };
            let field = gen_field(rng, &mut names, number, proto3, &[]);
            let field = Field { default: None, ..field };
            message_at(file, &path).fields.push(field);
            Some("add field".into())
        }
        13 => {
            // Delete an unreferenced message.
            let name = if path.len() > 1 {
                let top = &file.messages[path[0]];
                format!("{}.{}", top.name, top.nested[path[1]].name)
            } else {
                file.messages[path[0]].name.clone()
            };
            if referenced(file, &name) || (path.len() == 1 && file.messages.len() < 2) {
                return None;
            }
            if path.len() > 1 {
                file.messages[path[0]].nested.remove(path[1]);
            } else {
                file.messages.remove(path[0]);
            }
            Some(format!("delete message {name}"))
        }
        14 => {
            // Enum values: delete (maybe reserving), rename or add.
            if file.enums.is_empty() {
                return None;
            }
            let e = if rng.chance(50) || file.messages.iter().all(|m| m.enums.is_empty()) {
                let i = rng.below(file.enums.len());
                &mut file.enums[i]
            } else {
                file.messages.iter_mut().find_map(|m| m.enums.first_mut())?
            };
            match rng.below(3) {
                0 if e.values.len() > 2 => {
                    let (name, number) = e.values.pop()?;
                    if rng.chance(40) {
                        e.reserved_numbers.push((number, number));
                    }
                    if rng.chance(40) {
                        e.reserved_names.push(name);
                    }
                    // A default may have named the deleted value.
                    let fallback = e.values[0].0.clone();
                    let deleted = format!("{}_V{number}", e.name.to_uppercase());
                    for_each_field(file, &mut |f| {
                        if f.default.as_deref() == Some(deleted.as_str()) {
                            f.default = Some(fallback.clone());
                        }
                    });
                    Some("delete enum value".into())
                }
                1 => {
                    let last = e.values.last_mut()?;
                    let old = last.0.clone();
                    last.0 = format!("{old}_RENAMED");
                    let new = last.0.clone();
                    for_each_field(file, &mut |f| {
                        if f.default.as_deref() == Some(old.as_str()) {
                            f.default = Some(new.clone());
                        }
                    });
                    Some("rename enum value".into())
                }
                _ => {
                    let number = e.values.iter().map(|v| v.1).max().unwrap_or(0) + 1;
                    e.values.push((format!("{}_NEW{number}", e.name.to_uppercase()), number));
                    Some("add enum value".into())
                }
            }
        }
        15 => {
            // Delete an unreferenced top-level enum.
            if file.enums.is_empty() {
                return None;
            }
            let i = rng.below(file.enums.len());
            let name = file.enums[i].name.clone();
            if referenced(file, &name) {
                return None;
            }
            file.enums.remove(i);
            Some(format!("delete enum {name}"))
        }
        16 => {
            file.package = format!("{}.v2", file.package);
            Some("change package".into())
        }
        17 => {
            // Change syntax. proto2 to proto3 drops what proto3 cannot express.
            if file.proto3 {
                file.proto3 = false;
            } else {
                file.proto3 = true;
                file.extensions.clear();
                for m in &mut file.messages {
                    m.extension_ranges.clear();
                    for n in &mut m.nested {
                        n.extension_ranges.clear();
                    }
                }
                for_each_field(file, &mut |f| {
                    f.default = None;
                    if f.label == Label::Required {
                        f.label = Label::Optional;
                    }
                });
            }
            Some("change syntax".into())
        }
        18 | 25 => {
            let (name, values) = rng.pick(FILE_OPTIONS);
            let value = rng.word(values);
            match file.options.iter_mut().find(|(n, _)| n == name) {
                Some(existing) if rng.chance(30) => {
                    let name = existing.0;
                    file.options.retain(|(n, _)| *n != name);
                }
                Some(existing) => existing.1 = value,
                None => file.options.push((name, value)),
            }
            Some(format!("file option {name}"))
        }
        19 => {
            // json_name, jstype, ctype or default.
            let m = message_at(file, &path);
            let field = m.fields.iter_mut().find(|f| !matches!(f.ty, Ty::Map(..)))?;
            match rng.below(4) {
                0 => field.json_name = if field.json_name.is_some() { None } else { Some(format!("j{}", field.name)) },
                1 if is_64_bit(&field.ty) => field.jstype = Some(*rng.pick(&["JS_STRING", "JS_NUMBER", "JS_NORMAL"])),
                2 if matches!(field.ty, Ty::Scalar("string" | "bytes")) && field.label != Label::Repeated => {
                    field.ctype = Some(*rng.pick(&["CORD", "STRING_PIECE", "STRING"]));
                }
                _ if !proto3 => field.default = default_for(rng, field, &all_enums),
                _ => return None,
            }
            Some("field option".into())
        }
        20 => {
            // Reserved ranges and names: delete or shrink.
            let m = message_at(file, &path);
            if let Some(range) = m.reserved_numbers.first_mut() {
                if range.1 > range.0 && rng.chance(50) {
                    range.1 -= 1;
                } else {
                    m.reserved_numbers.remove(0);
                }
                Some("shrink reserved range".into())
            } else if !m.reserved_names.is_empty() {
                m.reserved_names.clear();
                Some("delete reserved names".into())
            } else if let Some(e) =
                file.enums.first_mut().filter(|e| !e.reserved_numbers.is_empty() || !e.reserved_names.is_empty())
            {
                e.reserved_numbers.clear();
                e.reserved_names.clear();
                Some("delete enum reservations".into())
            } else {
                None
            }
        }
        21 | 24 => {
            // Services: delete an RPC or the service, change types, streaming or idempotency.
            let messages: Vec<String> = file.messages.iter().map(|m| m.name.clone()).collect();
            let service = file.services.first_mut()?;
            let method = &mut service.methods[0];
            match rng.below(7) {
                0 => {
                    service.methods.pop();
                }
                1 => method.input.clone_from(rng.pick(&messages)),
                2 => method.output.clone_from(rng.pick(&messages)),
                3 => method.client_streaming = !method.client_streaming,
                4 => method.server_streaming = !method.server_streaming,
                5 => method.idempotency = Some(rng.word(&["NO_SIDE_EFFECTS", "IDEMPOTENT", "IDEMPOTENCY_UNKNOWN"])),
                _ => file.services.clear(),
            }
            Some("service change".into())
        }
        22 => {
            // Move a top-level enum into a message: same short name, new full name.
            if file.enums.len() < 2 {
                return None;
            }
            let e = file.enums.pop()?;
            let target = file.messages.first_mut()?;
            let (old, new) = (e.name.clone(), format!("{}.{}", target.name, e.name));
            target.enums.push(e);
            for_each_field(file, &mut |f| {
                let retarget = |ty: &mut Ty| {
                    if let Ty::Named { path, .. } = ty
                        && *path == old
                    {
                        path.clone_from(&new);
                    }
                };
                match &mut f.ty {
                    Ty::Map(_, value) => retarget(value),
                    ty => retarget(ty),
                }
            });
            Some("move enum into message".into())
        }
        _ => {
            // Extensions, extension ranges and message options (arm 23).
            if !file.extensions.is_empty() && rng.chance(50) {
                file.extensions.pop();
                return Some("delete extension".into());
            }
            let extensions = file.extensions.clone();
            let m = message_at(file, &path);
            if !m.extension_ranges.is_empty() && !extensions.iter().any(|e| e.extendee == m.name) && rng.chance(50) {
                m.extension_ranges.clear();
                return Some("delete extension range".into());
            }
            m.no_standard_descriptor_accessor = !m.no_standard_descriptor_accessor;
            Some("toggle no_standard_descriptor_accessor".into())
        }
    }
}

// ---- Rendering -----------------------------------------------------------------------------

fn ty_text(ty: &Ty) -> String {
    match ty {
        Ty::Scalar(s) => (*s).to_owned(),
        Ty::Named { path, .. } => path.clone(),
        Ty::Map(key, value) => format!("map<{key}, {}>", ty_text(value)),
    }
}

fn field_text(field: &Field, proto3: bool, in_oneof: bool, extension: bool) -> String {
    let label = match (field.label, proto3, in_oneof || matches!(field.ty, Ty::Map(..))) {
        (_, _, true) | (Label::Implicit, true, _) => "",
        (Label::Implicit | Label::Optional, _, _) => "optional ",
        (Label::Required, _, _) => "required ",
        (Label::Repeated, _, _) => "repeated ",
    };
    let mut options = Vec::new();
    if let Some(json) = field.json_name.as_ref().filter(|_| !extension) {
        options.push(format!("json_name = \"{json}\""));
    }
    if let Some(default) = &field.default {
        options.push(format!("default = {default}"));
    }
    if let Some(jstype) = field.jstype {
        options.push(format!("jstype = {jstype}"));
    }
    if let Some(ctype) = field.ctype {
        options.push(format!("ctype = {ctype}"));
    }
    let options = if options.is_empty() { String::new() } else { format!(" [{}]", options.join(", ")) };
    format!("{label}{} {} = {}{options};", ty_text(&field.ty), field.name, field.number)
}

fn ranges_text<T: std::fmt::Display + PartialEq>(ranges: &[(T, T)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a} to {b}") })
        .collect::<Vec<_>>()
        .join(", ")
}

fn names_text(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

fn render_enum(out: &mut String, e: &Enum, indent: &str) {
    let _ = writeln!(out, "{indent}enum {} {{", e.name);
    for (name, number) in &e.values {
        let _ = writeln!(out, "{indent}  {name} = {number};");
    }
    if !e.reserved_numbers.is_empty() {
        let _ = writeln!(out, "{indent}  reserved {};", ranges_text(&e.reserved_numbers));
    }
    if !e.reserved_names.is_empty() {
        let _ = writeln!(out, "{indent}  reserved {};", names_text(&e.reserved_names));
    }
    let _ = writeln!(out, "{indent}}}");
}

fn render_message(out: &mut String, m: &Message, proto3: bool, indent: &str) {
    let _ = writeln!(out, "{indent}message {} {{", m.name);
    if m.no_standard_descriptor_accessor {
        let _ = writeln!(out, "{indent}  option no_standard_descriptor_accessor = true;");
    }
    let inner = format!("{indent}  ");
    for nested in &m.nested {
        render_message(out, nested, proto3, &inner);
    }
    for e in &m.enums {
        render_enum(out, e, &inner);
    }
    for field in &m.fields {
        let _ = writeln!(out, "{inner}{}", field_text(field, proto3, false, false));
    }
    for oneof in &m.oneofs {
        let _ = writeln!(out, "{inner}oneof {} {{", oneof.name);
        for field in &oneof.fields {
            let _ = writeln!(out, "{inner}  {}", field_text(field, proto3, true, false));
        }
        let _ = writeln!(out, "{inner}}}");
    }
    if !m.reserved_numbers.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", ranges_text(&m.reserved_numbers));
    }
    if !m.reserved_names.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", names_text(&m.reserved_names));
    }
    if !m.extension_ranges.is_empty() {
        let _ = writeln!(out, "{inner}extensions {};", ranges_text(&m.extension_ranges));
    }
    let _ = writeln!(out, "{indent}}}");
}

/// The file as `.proto` text.
pub fn render(file: &File) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "syntax = \"{}\";", if file.proto3 { "proto3" } else { "proto2" });
    let _ = writeln!(out, "package {};", file.package);
    for (name, value) in &file.options {
        let _ = writeln!(out, "option {name} = {value};");
    }
    for e in &file.enums {
        render_enum(&mut out, e, "");
    }
    for m in &file.messages {
        render_message(&mut out, m, file.proto3, "");
    }
    for extension in &file.extensions {
        let _ = writeln!(
            out,
            "extend {} {{\n  {}\n}}",
            extension.extendee,
            field_text(&extension.field, false, false, true)
        );
    }
    for service in &file.services {
        let _ = writeln!(out, "service {} {{", service.name);
        for method in &service.methods {
            let stream = |on: bool| if on { "stream " } else { "" };
            let body = method
                .idempotency
                .map_or_else(|| ";".to_owned(), |level| format!(" {{ option idempotency_level = {level}; }}"));
            let _ = writeln!(
                out,
                "  rpc {}({}{}) returns ({}{}){body}",
                method.name,
                stream(method.client_streaming),
                method.input,
                stream(method.server_streaming),
                method.output
            );
        }
        let _ = writeln!(out, "}}");
    }
    out
}
