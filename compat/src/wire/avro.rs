//! The Avro oracle.
//!
//! Values the writer's schema allows are encoded with `apache-avro` and decoded
//! twice: with the writer's schema alone (the datum as written, which the
//! resolution below starts from) and with the reader's schema (what
//! `apache-avro`'s resolver makes of it).
//!
//! What a reader *should* see is computed here from the Avro specification's
//! resolution rules, the ones Java's `ResolvingDecoder` applies: record fields
//! by name, then by the reader field's aliases; reader-only fields from their
//! defaults; the promotions int to long, float and double, long to float and
//! double, float to double, string to bytes and back; enum symbols by name,
//! with the reader enum's default for a symbol it lacks; a writer branch into a
//! reader union by the first branch of the same type (named types by name or
//! alias), then by the first it promotes to. `apache-avro` resolves by
//! *value* instead (it ignores aliases and names, and picks union branches by
//! trying them in order, lossy conversions included), so its answer is a
//! cross-check, not the verdict: a difference is a [`Divergence`].
//!
//! Logical types are read as their underlying types (their encodings are
//! those types'), which is what the compatibility rules do too.

use std::collections::HashMap;

use apache_avro::types::Value as Datum;
use serde_json::{Map, Value};

use super::{CounterExample, Divergence, FailureKind, Gen, Proof, ProofOptions, pointer};
use crate::avro::{Field, NamedKind, Node, Primitive, Schema};

const LIBRARY: &str = "apache-avro 0.21";

/// A value the reader fails on, before its payload is attached.
struct Failure {
    kind: FailureKind,
    cause: &'static str,
    path: String,
    reason: String,
}

impl Failure {
    fn decode(cause: &'static str, path: &str, reason: String) -> Failure {
        Failure { kind: FailureKind::DecodeError, cause, path: path.to_owned(), reason }
    }

    fn changed(cause: &'static str, path: &str, reason: String) -> Failure {
        Failure { kind: FailureKind::Changed, cause, path: path.to_owned(), reason }
    }
}

pub(super) fn prove(writer: &Schema, reader: &Schema, options: &ProofOptions) -> Proof {
    let ranks = ranks(writer);
    if node_rank(&ranks, &writer.root) == INFINITE {
        return Proof::unsupported("the writer schema has no finite value (a record that always contains itself)");
    }
    let mut renames = Renames::new();
    pair(writer, reader, &writer.root, &reader.root, &mut Vec::new(), &mut renames);
    let apache = |schema: &Schema, prefix: char, renames: &Renames, defaults: bool| {
        let json =
            Printer { schema, prefix, renames, defaults, written: vec![false; schema.named.len()] }.print(&schema.root);
        apache_avro::Schema::parse(&json)
            .map_err(|e| format!("{LIBRARY} cannot parse the schema the oracle derived ({e}): {json}"))
    };
    let schemas = apache(writer, 'W', &Renames::new(), false).and_then(|written| {
        Ok((written, apache(writer, 'W', &renames, false)?, apache(reader, 'R', &Renames::new(), true)?))
    });
    let (written_schema, reading_schema, reader_schema) = match schemas {
        Ok(schemas) => schemas,
        Err(reason) => return Proof::unsupported(reason),
    };
    let resolver = Resolver { writer, reader };
    let mut g = Gen::new(options.seed);
    let mut divergence = None;
    for index in 0..options.budget {
        g.start(index, options.budget);
        let value = generate(writer, &ranks, &writer.root, &mut g, 0);
        let bytes = match apache_avro::to_avro_datum(&written_schema, value) {
            Ok(bytes) => bytes,
            Err(e) => return Proof::unsupported(format!("{LIBRARY} refused to encode a generated value: {e}")),
        };
        let written = match apache_avro::from_avro_datum(&written_schema, &mut bytes.as_slice(), None) {
            Ok(datum) => datum,
            Err(e) => return Proof::unsupported(format!("{LIBRARY} cannot read back what it wrote: {e}")),
        };
        let actual = apache_avro::from_avro_datum(&reading_schema, &mut bytes.as_slice(), Some(&reader_schema));
        let payload = || avro_json(writer, &writer.root, &written);
        match resolver.resolve(&writer.root, &reader.root, &written, "") {
            Err(failure) => {
                let mut reason = failure.reason;
                match &actual {
                    Err(e) => reason.push_str(&format!("; {LIBRARY} fails too: {e}")),
                    Ok(_) if failure.kind == FailureKind::DecodeError => {
                        reason.push_str(&format!("; {LIBRARY}'s resolver reads it anyway, by value"));
                    }
                    Ok(_) => {}
                }
                return Proof::CounterExample(CounterExample {
                    cause: failure.cause.to_owned(),
                    kind: failure.kind,
                    path: super::display_path(&failure.path),
                    reason,
                    message_type: None,
                    payload: payload(),
                });
            }
            Ok(expected) => {
                let difference = match &actual {
                    Ok(actual) => first_difference(&expected, actual, "")
                        .map(|path| (path, format!("{LIBRARY} reads {actual:?}, the specification {expected:?}"))),
                    Err(e) => Some((String::new(), format!("{LIBRARY} fails to read it: {e}"))),
                };
                if let Some((path, reason)) = difference
                    && divergence.is_none()
                {
                    divergence = Some(Divergence {
                        library: LIBRARY.to_owned(),
                        path: super::display_path(&path),
                        reason,
                        payload: payload(),
                    });
                }
            }
        }
    }
    Proof::Holds { values: options.budget, divergence }
}

/// Writer field renames from the reader's field aliases, by writer record:
/// what Java's `Schema.applyAliases` does before resolving, so that
/// `apache-avro` (which matches fields by name only) finds renamed fields.
type Renames = HashMap<usize, HashMap<String, String>>;

/// Walks the writer and reader trees together, as resolution pairs them, and
/// collects the renames the reader's field aliases ask for.
fn pair(writer: &Schema, reader: &Schema, w: &Node, r: &Node, seen: &mut Vec<(usize, usize)>, renames: &mut Renames) {
    match (w, r) {
        (Node::Union(branches), _) => {
            for branch in branches {
                pair(writer, reader, branch, r, seen, renames);
            }
        }
        (_, Node::Union(branches)) => {
            if let Some(j) = reader_branch(writer, reader, w, branches) {
                pair(writer, reader, w, &branches[j], seen, renames);
            }
        }
        (Node::Array(wi, _), Node::Array(ri, _)) | (Node::Map(wi, _), Node::Map(ri, _)) => {
            pair(writer, reader, wi, ri, seen, renames);
        }
        (Node::Named(wi), Node::Named(ri)) => {
            if seen.contains(&(*wi, *ri)) {
                return;
            }
            seen.push((*wi, *ri));
            let (NamedKind::Record { fields: wf, .. }, NamedKind::Record { fields: rf, .. }) =
                (&writer.named[*wi].kind, &reader.named[*ri].kind)
            else {
                return;
            };
            for reader_field in rf {
                let Some(writer_field) = writer_field(wf, reader_field) else { continue };
                if writer_field.name != reader_field.name && !wf.iter().any(|f| f.name == reader_field.name) {
                    renames
                        .entry(*wi)
                        .or_default()
                        .entry(writer_field.name.clone())
                        .or_insert_with(|| reader_field.name.clone());
                }
                pair(writer, reader, &writer_field.ty, &reader_field.ty, seen, renames);
            }
        }
        _ => {}
    }
}

/// The writer field a reader field reads: by name, then by the reader's aliases.
fn writer_field<'w>(writer_fields: &'w [Field], reader_field: &Field) -> Option<&'w Field> {
    writer_fields
        .iter()
        .find(|f| f.name == reader_field.name)
        .or_else(|| reader_field.aliases.iter().find_map(|alias| writer_fields.iter().find(|f| &f.name == alias)))
}

/// Whether a reader named type reads a writer one by name: the same
/// unqualified name, or a reader alias naming the writer's full name.
fn names_match(writer: &Schema, reader: &Schema, wi: usize, ri: usize) -> bool {
    let (w, r) = (&writer.named[wi], &reader.named[ri]);
    let same_kind = matches!(
        (&w.kind, &r.kind),
        (NamedKind::Record { .. }, NamedKind::Record { .. })
            | (NamedKind::Enum { .. }, NamedKind::Enum { .. })
            | (NamedKind::Fixed { .. }, NamedKind::Fixed { .. })
    );
    same_kind && (w.name == r.name || r.aliases.contains(&w.full_name()))
}

/// The reader union branch a (non-union) writer type resolves to: the first
/// of the same type (named types by name), else the first it promotes to.
fn reader_branch(writer: &Schema, reader: &Schema, w: &Node, branches: &[Node]) -> Option<usize> {
    let exact = branches.iter().position(|b| match (w, b) {
        (Node::Primitive(a, _), Node::Primitive(b, _)) => a == b,
        (Node::Array(..), Node::Array(..)) | (Node::Map(..), Node::Map(..)) => true,
        (Node::Named(wi), Node::Named(ri)) => names_match(writer, reader, *wi, *ri),
        _ => false,
    });
    exact.or_else(|| {
        let Node::Primitive(from, _) = w else { return None };
        branches.iter().position(|b| matches!(b, Node::Primitive(to, _) if promotes(*from, *to)))
    })
}

/// The Avro specification's promotions.
fn promotes(from: Primitive, to: Primitive) -> bool {
    use Primitive::{Bytes, Double, Float, Int, Long, String};
    matches!(
        (from, to),
        (Int, Long | Float | Double) | (Long, Float | Double) | (Float, Double) | (String, Bytes) | (Bytes, String)
    )
}

/// Prints a schema for `apache-avro`: named types are renamed `W0`, `W1`...
/// (names do not reach the bytes, and the verdict on names is taken above),
/// doc, aliases, order and logical types dropped, fields renamed as given, and
/// defaults kept only when asked (the reader needs them; the writer's are
/// never read).
struct Printer<'a> {
    schema: &'a Schema,
    prefix: char,
    renames: &'a Renames,
    defaults: bool,
    written: Vec<bool>,
}

impl Printer<'_> {
    fn print(mut self, root: &Node) -> Value {
        self.node(root)
    }

    fn node(&mut self, node: &Node) -> Value {
        match node {
            Node::Primitive(p, _) => Value::String(p.name().to_owned()),
            Node::Array(items, _) => serde_json::json!({"type": "array", "items": self.node(items)}),
            Node::Map(values, _) => serde_json::json!({"type": "map", "values": self.node(values)}),
            Node::Union(branches) => Value::Array(branches.iter().map(|b| self.node(b)).collect()),
            Node::Named(index) => {
                let name = format!("{}{index}", self.prefix);
                if std::mem::replace(&mut self.written[*index], true) {
                    return Value::String(name);
                }
                let mut object = Map::new();
                let named = &self.schema.named[*index];
                match &named.kind {
                    NamedKind::Record { fields, .. } => {
                        object.insert("type".into(), "record".into());
                        object.insert("name".into(), name.into());
                        let renames = self.renames.get(index);
                        let fields = fields
                            .iter()
                            .map(|field| {
                                let mut f = Map::new();
                                let name = renames.and_then(|r| r.get(&field.name)).unwrap_or(&field.name);
                                f.insert("name".into(), name.clone().into());
                                f.insert("type".into(), self.node(&field.ty));
                                if self.defaults
                                    && let Some(default) = &field.default
                                {
                                    f.insert("default".into(), default.clone());
                                }
                                Value::Object(f)
                            })
                            .collect();
                        object.insert("fields".into(), Value::Array(fields));
                    }
                    NamedKind::Enum { symbols, default } => {
                        object.insert("type".into(), "enum".into());
                        object.insert("name".into(), name.into());
                        object.insert("symbols".into(), symbols.clone().into());
                        if self.defaults
                            && let Some(default) = default
                        {
                            object.insert("default".into(), default.clone().into());
                        }
                    }
                    NamedKind::Fixed { size } => {
                        object.insert("type".into(), "fixed".into());
                        object.insert("name".into(), name.into());
                        object.insert("size".into(), (*size).into());
                    }
                }
                Value::Object(object)
            }
        }
    }
}

const INFINITE: u32 = u32::MAX;

/// For each named type, how deep its smallest value is ([`INFINITE`] when a
/// record always contains itself): generation past its depth limit takes the
/// branch of least rank, so it always ends.
fn ranks(schema: &Schema) -> Vec<u32> {
    let mut ranks: Vec<u32> =
        schema.named.iter().map(|n| if matches!(n.kind, NamedKind::Record { .. }) { INFINITE } else { 0 }).collect();
    loop {
        let mut changed = false;
        for (index, named) in schema.named.iter().enumerate() {
            if let NamedKind::Record { fields, .. } = &named.kind {
                let deepest = fields.iter().map(|f| node_rank(&ranks, &f.ty)).max().unwrap_or(0);
                let rank = deepest.saturating_add(1);
                if rank < ranks[index] {
                    ranks[index] = rank;
                    changed = true;
                }
            }
        }
        if !changed {
            return ranks;
        }
    }
}

fn node_rank(ranks: &[u32], node: &Node) -> u32 {
    match node {
        Node::Primitive(..) | Node::Array(..) | Node::Map(..) => 0,
        Node::Union(branches) => branches.iter().map(|b| node_rank(ranks, b)).min().unwrap_or(INFINITE),
        Node::Named(index) => ranks[*index],
    }
}

const INT_EDGES: &[i32] = &[0, 1, -1, i32::MAX, i32::MIN, 16_777_217, -16_777_217, 255, -129, 65_536];
const LONG_EDGES: &[i64] = &[
    0,
    1,
    -1,
    i64::MAX,
    i64::MIN,
    9_007_199_254_740_993,
    -9_007_199_254_740_993,
    2_147_483_648,
    -2_147_483_649,
    16_777_217,
];
const FLOAT_EDGES: &[f32] =
    &[0.0, -0.0, 1.5, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN_POSITIVE, 16_777_216.0];
const DOUBLE_EDGES: &[f64] =
    &[0.0, -0.0, 1.5, 0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE, 1e300];

/// A value of `node`, shaped by the schema (see [`Gen`]).
fn generate(schema: &Schema, ranks: &[u32], node: &Node, g: &mut Gen, depth: usize) -> Datum {
    use rand::Rng as _;
    match node {
        Node::Primitive(p, _) => match p {
            Primitive::Null => Datum::Null,
            Primitive::Boolean => Datum::Boolean(g.coin()),
            Primitive::Int => Datum::Int(g.edge(INT_EDGES, rand::Rng::random)),
            Primitive::Long => Datum::Long(g.edge(LONG_EDGES, rand::Rng::random)),
            Primitive::Float => Datum::Float(g.edge(FLOAT_EDGES, |r| r.random_range(-1e6..1e6))),
            Primitive::Double => Datum::Double(g.edge(DOUBLE_EDGES, |r| r.random_range(-1e12..1e12))),
            Primitive::Bytes => Datum::Bytes(g.bytes()),
            Primitive::String => Datum::String(g.string()),
        },
        Node::Array(items, _) => {
            let length = if node_rank(ranks, items) == INFINITE { 0 } else { g.length(depth) };
            Datum::Array((0..length).map(|_| generate(schema, ranks, items, g, depth + 1)).collect())
        }
        Node::Map(values, _) => {
            let length = if node_rank(ranks, values) == INFINITE { 0 } else { g.length(depth) };
            Datum::Map(
                (0..length)
                    .map(|i| {
                        let key = if i == 1 { "ключ".to_owned() } else { format!("k{i}") };
                        (key, generate(schema, ranks, values, g, depth + 1))
                    })
                    .collect(),
            )
        }
        Node::Union(branches) => {
            let shortest = (0..branches.len()).min_by_key(|&i| node_rank(ranks, &branches[i])).unwrap_or(0);
            let mut choice = if g.exhausted(depth) { shortest } else { g.pick(branches.len()) };
            if node_rank(ranks, &branches[choice]) == INFINITE {
                choice = shortest;
            }
            Datum::Union(choice as u32, Box::new(generate(schema, ranks, &branches[choice], g, depth + 1)))
        }
        Node::Named(index) => match &schema.named[*index].kind {
            NamedKind::Enum { symbols, .. } => {
                let i = g.pick(symbols.len());
                Datum::Enum(i as u32, symbols[i].clone())
            }
            NamedKind::Fixed { size } => {
                let size = usize::try_from(*size).unwrap_or(0);
                let fill = match g.pick(3) {
                    0 => vec![0; size],
                    1 => vec![0xff; size],
                    _ => (0..size).map(|_| g.rng().random()).collect(),
                };
                Datum::Fixed(size, fill)
            }
            NamedKind::Record { fields, .. } => Datum::Record(
                fields
                    .iter()
                    .map(|field| {
                        // Every fourth value writes the field's default, where it has one.
                        let default = field
                            .default
                            .as_ref()
                            .filter(|_| g.pick(4) == 3)
                            .and_then(|d| default_datum(schema, &field.ty, d));
                        let value = default.unwrap_or_else(|| generate(schema, ranks, &field.ty, g, depth + 1));
                        (field.name.clone(), value)
                    })
                    .collect(),
            ),
        },
    }
}

/// A field default (JSON) as a datum of `node`, per the specification: a
/// union's default is of its first branch, bytes and fixed defaults are
/// strings of code points 0 to 255. `None` when the default does not fit.
fn default_datum(schema: &Schema, node: &Node, json: &Value) -> Option<Datum> {
    Some(match node {
        Node::Primitive(p, _) => match p {
            Primitive::Null => json.is_null().then_some(Datum::Null)?,
            Primitive::Boolean => Datum::Boolean(json.as_bool()?),
            Primitive::Int => Datum::Int(i32::try_from(json.as_i64()?).ok()?),
            Primitive::Long => Datum::Long(json.as_i64()?),
            Primitive::Float => Datum::Float(special_float(json)? as f32),
            Primitive::Double => Datum::Double(special_float(json)?),
            Primitive::Bytes => Datum::Bytes(latin1(json.as_str()?)?),
            Primitive::String => Datum::String(json.as_str()?.to_owned()),
        },
        Node::Array(items, _) => {
            Datum::Array(json.as_array()?.iter().map(|v| default_datum(schema, items, v)).collect::<Option<_>>()?)
        }
        Node::Map(values, _) => Datum::Map(
            json.as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), default_datum(schema, values, v)?)))
                .collect::<Option<_>>()?,
        ),
        Node::Union(branches) => Datum::Union(0, Box::new(default_datum(schema, branches.first()?, json)?)),
        Node::Named(index) => match &schema.named[*index].kind {
            NamedKind::Enum { symbols, .. } => {
                let symbol = json.as_str()?;
                Datum::Enum(symbols.iter().position(|s| s == symbol)? as u32, symbol.to_owned())
            }
            NamedKind::Fixed { size } => {
                let bytes = latin1(json.as_str()?)?;
                (bytes.len() as u64 == *size).then_some(Datum::Fixed(bytes.len(), bytes))?
            }
            NamedKind::Record { fields, .. } => {
                let object = json.as_object()?;
                Datum::Record(
                    fields
                        .iter()
                        .map(|f| {
                            let value = object.get(&f.name).or(f.default.as_ref())?;
                            Some((f.name.clone(), default_datum(schema, &f.ty, value)?))
                        })
                        .collect::<Option<_>>()?,
                )
            }
        },
    })
}

fn special_float(json: &Value) -> Option<f64> {
    match json {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Avro's JSON spelling of bytes: one code point (0 to 255) per byte.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Resolution by the Avro specification (see the module documentation).
struct Resolver<'a> {
    writer: &'a Schema,
    reader: &'a Schema,
}

fn type_name(schema: &Schema, node: &Node) -> String {
    match node {
        Node::Primitive(p, _) => p.name().to_owned(),
        Node::Array(..) => "array".to_owned(),
        Node::Map(..) => "map".to_owned(),
        Node::Union(_) => "union".to_owned(),
        Node::Named(index) => schema.named[*index].full_name(),
    }
}

impl Resolver<'_> {
    fn resolve(&self, w: &Node, r: &Node, datum: &Datum, path: &str) -> Result<Datum, Failure> {
        let (writer, reader) = (self.writer, self.reader);
        match (w, r, datum) {
            (Node::Union(branches), _, Datum::Union(i, inner)) => {
                let branch = &branches[*i as usize];
                let path = match branch {
                    Node::Primitive(Primitive::Null, _) => path.to_owned(),
                    _ => pointer(path, &type_name(writer, branch)),
                };
                self.resolve(branch, r, inner, &path)
            }
            (_, Node::Union(branches), _) => match reader_branch(writer, reader, w, branches) {
                Some(j) => Ok(Datum::Union(j as u32, Box::new(self.resolve(w, &branches[j], datum, path)?))),
                None => Err(Failure::decode(
                    "AVRO_NO_MATCHING_BRANCH",
                    path,
                    format!(
                        "the reader's union {} has no branch for the writer's {}",
                        union_names(reader, branches),
                        type_name(writer, w)
                    ),
                )),
            },
            (Node::Primitive(from, _), Node::Primitive(to, _), _) => promote(*from, *to, datum, path),
            (Node::Array(wi, _), Node::Array(ri, _), Datum::Array(items)) => Ok(Datum::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(k, item)| self.resolve(wi, ri, item, &pointer(path, &k.to_string())))
                    .collect::<Result<_, _>>()?,
            )),
            (Node::Map(wv, _), Node::Map(rv, _), Datum::Map(entries)) => {
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort();
                Ok(Datum::Map(
                    keys.into_iter()
                        .map(|k| Ok((k.clone(), self.resolve(wv, rv, &entries[k], &pointer(path, k))?)))
                        .collect::<Result<_, Failure>>()?,
                ))
            }
            (Node::Named(wi), Node::Named(ri), _) => self.named(*wi, *ri, datum, path),
            _ => Err(mismatch(writer, reader, w, r, path)),
        }
    }

    fn named(&self, wi: usize, ri: usize, datum: &Datum, path: &str) -> Result<Datum, Failure> {
        let (writer, reader) = (self.writer, self.reader);
        let (w, r) = (&writer.named[wi], &reader.named[ri]);
        if !names_match(writer, reader, wi, ri) {
            if std::mem::discriminant(&w.kind) == std::mem::discriminant(&r.kind) {
                return Err(Failure::decode(
                    "AVRO_NAME_MISMATCH",
                    path,
                    format!(
                        "the writer's {} is read as {}, whose name differs and which has no alias for it",
                        w.full_name(),
                        r.full_name()
                    ),
                ));
            }
            return Err(mismatch(writer, reader, &Node::Named(wi), &Node::Named(ri), path));
        }
        match (&w.kind, &r.kind, datum) {
            (NamedKind::Fixed { size: ws }, NamedKind::Fixed { size: rs }, Datum::Fixed(n, bytes)) => {
                if ws == rs {
                    Ok(Datum::Fixed(*n, bytes.clone()))
                } else {
                    Err(Failure::decode(
                        "AVRO_FIXED_SIZE_CHANGED",
                        path,
                        format!("{} is {ws} bytes as written and {rs} bytes as read", w.full_name()),
                    ))
                }
            }
            (NamedKind::Enum { .. }, NamedKind::Enum { symbols, default }, Datum::Enum(_, symbol)) => {
                if let Some(i) = symbols.iter().position(|s| s == symbol) {
                    return Ok(Datum::Enum(i as u32, symbol.clone()));
                }
                match default {
                    Some(default) => Err(Failure::changed(
                        "AVRO_ENUM_DEFAULT_SUBSTITUTED",
                        path,
                        format!(
                            "the writer's symbol {symbol} is not in the reader's enum {}; the reader reads its default {default} instead",
                            r.full_name()
                        ),
                    )),
                    None => Err(Failure::decode(
                        "AVRO_UNKNOWN_ENUM_SYMBOL",
                        path,
                        format!(
                            "the writer's symbol {symbol} is not in the reader's enum {}, which has no default",
                            r.full_name()
                        ),
                    )),
                }
            }
            (NamedKind::Record { fields: wf, .. }, NamedKind::Record { fields: rf, .. }, Datum::Record(values)) => {
                let mut out = Vec::with_capacity(rf.len());
                for reader_field in rf {
                    let value = match writer_field(wf, reader_field) {
                        Some(writer_field) => {
                            let written = values
                                .iter()
                                .find(|(name, _)| name == &writer_field.name)
                                .map(|(_, v)| v)
                                .ok_or_else(|| {
                                    Failure::decode(
                                        "AVRO_MISSING_FIELD",
                                        path,
                                        format!("the datum has no field {}", writer_field.name),
                                    )
                                })?;
                            let field_path = pointer(path, &writer_field.name);
                            self.resolve(&writer_field.ty, &reader_field.ty, written, &field_path)?
                        }
                        None => match &reader_field.default {
                            Some(default) => default_datum(reader, &reader_field.ty, default).ok_or_else(|| {
                                Failure::decode(
                                    "AVRO_INVALID_DEFAULT",
                                    path,
                                    format!(
                                        "the reader field {} takes its default, {default}, which is not a value of its type",
                                        reader_field.name
                                    ),
                                )
                            })?,
                            None => {
                                return Err(Failure::decode(
                                    "AVRO_MISSING_FIELD",
                                    path,
                                    format!(
                                        "the reader's field {} of {} is not written and has no default",
                                        reader_field.name,
                                        r.full_name()
                                    ),
                                ));
                            }
                        },
                    };
                    out.push((reader_field.name.clone(), value));
                }
                Ok(Datum::Record(out))
            }
            _ => Err(mismatch(writer, reader, &Node::Named(wi), &Node::Named(ri), path)),
        }
    }
}

fn union_names(schema: &Schema, branches: &[Node]) -> String {
    format!("[{}]", branches.iter().map(|b| type_name(schema, b)).collect::<Vec<_>>().join(", "))
}

fn mismatch(writer: &Schema, reader: &Schema, w: &Node, r: &Node, path: &str) -> Failure {
    Failure::decode(
        "AVRO_TYPE_MISMATCH",
        path,
        format!("found {}, expecting {}", type_name(writer, w), type_name(reader, r)),
    )
}

/// A primitive read as the same or a promoted type; a promotion that loses
/// information is a change.
#[expect(clippy::cast_precision_loss, reason = "the loss is what is measured")]
fn promote(from: Primitive, to: Primitive, datum: &Datum, path: &str) -> Result<Datum, Failure> {
    let lossy = |written: String, read: String| {
        Err(Failure::changed(
            "AVRO_LOSSY_PROMOTION",
            path,
            format!("the {} {written} is read as the {} {read}", from.name(), to.name()),
        ))
    };
    match (to, datum) {
        _ if from == to => Ok(datum.clone()),
        (Primitive::Long, Datum::Int(v)) => Ok(Datum::Long(i64::from(*v))),
        (Primitive::Float, Datum::Int(v)) => {
            let read = *v as f32;
            if super::same_number(f64::from(read), f64::from(*v)) {
                Ok(Datum::Float(read))
            } else {
                lossy(v.to_string(), read.to_string())
            }
        }
        (Primitive::Double, Datum::Int(v)) => Ok(Datum::Double(f64::from(*v))),
        (Primitive::Float, Datum::Long(v)) => {
            let read = *v as f32;
            if f64::from(read) as i128 == i128::from(*v) && read.is_finite() {
                Ok(Datum::Float(read))
            } else {
                lossy(v.to_string(), read.to_string())
            }
        }
        (Primitive::Double, Datum::Long(v)) => {
            let read = *v as f64;
            if read as i128 == i128::from(*v) {
                Ok(Datum::Double(read))
            } else {
                lossy(v.to_string(), read.to_string())
            }
        }
        (Primitive::Double, Datum::Float(v)) => Ok(Datum::Double(f64::from(*v))),
        (Primitive::Bytes, Datum::String(s)) => Ok(Datum::Bytes(s.clone().into_bytes())),
        (Primitive::String, Datum::Bytes(b)) => match String::from_utf8(b.clone()) {
            Ok(s) => Ok(Datum::String(s)),
            Err(_) => Err(Failure::changed(
                "AVRO_INVALID_UTF8",
                path,
                format!(
                    "the bytes {b:02x?} are not UTF-8, so a string reader cannot hold them (Java's reader substitutes U+FFFD)"
                ),
            )),
        },
        _ => {
            Err(Failure::decode("AVRO_TYPE_MISMATCH", path, format!("found {}, expecting {}", from.name(), to.name())))
        }
    }
}

/// Where two datums differ (a JSON pointer), if they do. Floats compare by
/// value, NaN equal to NaN.
fn first_difference(expected: &Datum, actual: &Datum, path: &str) -> Option<String> {
    let differs = |same: bool| if same { None } else { Some(path.to_owned()) };
    match (expected, actual) {
        (Datum::Float(a), Datum::Float(b)) => differs(super::same_number(f64::from(*a), f64::from(*b))),
        (Datum::Double(a), Datum::Double(b)) => differs(super::same_number(*a, *b)),
        (Datum::Union(i, a), Datum::Union(j, b)) => {
            if i == j {
                first_difference(a, b, path)
            } else {
                Some(path.to_owned())
            }
        }
        (Datum::Array(a), Datum::Array(b)) => {
            if a.len() != b.len() {
                return Some(path.to_owned());
            }
            a.iter().zip(b).enumerate().find_map(|(k, (x, y))| first_difference(x, y, &pointer(path, &k.to_string())))
        }
        (Datum::Map(a), Datum::Map(b)) => {
            if a.len() != b.len() {
                return Some(path.to_owned());
            }
            let mut keys: Vec<&String> = a.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| match b.get(k) {
                Some(y) => first_difference(&a[k], y, &pointer(path, k)),
                None => Some(pointer(path, k)),
            })
        }
        (Datum::Record(a), Datum::Record(b)) => {
            if a.len() != b.len() {
                return Some(path.to_owned());
            }
            a.iter().zip(b).find_map(|((n, x), (m, y))| {
                if n == m { first_difference(x, y, &pointer(path, n)) } else { Some(pointer(path, n)) }
            })
        }
        _ => differs(expected == actual),
    }
}

/// A datum in Avro's JSON encoding, the form users paste into tools.
fn avro_json(schema: &Schema, node: &Node, datum: &Datum) -> Value {
    let float = |f: f64| {
        serde_json::Number::from_f64(f).map_or_else(
            || {
                Value::String(
                    if f.is_nan() {
                        "NaN"
                    } else if f > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    }
                    .to_owned(),
                )
            },
            Value::Number,
        )
    };
    let latin1 = |bytes: &[u8]| Value::String(bytes.iter().map(|&b| char::from(b)).collect());
    match (node, datum) {
        (Node::Union(branches), Datum::Union(i, inner)) => {
            let branch = &branches[*i as usize];
            if let Node::Primitive(Primitive::Null, _) = branch {
                Value::Null
            } else {
                let mut object = Map::new();
                object.insert(type_name(schema, branch), avro_json(schema, branch, inner));
                Value::Object(object)
            }
        }
        (Node::Array(items, _), Datum::Array(values)) => {
            Value::Array(values.iter().map(|v| avro_json(schema, items, v)).collect())
        }
        (Node::Map(values_node, _), Datum::Map(entries)) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), avro_json(schema, values_node, &entries[k]))).collect())
        }
        (Node::Named(index), Datum::Record(values)) => {
            let NamedKind::Record { fields, .. } = &schema.named[*index].kind else { return Value::Null };
            Value::Object(
                fields
                    .iter()
                    .zip(values)
                    .map(|(field, (name, value))| (name.clone(), avro_json(schema, &field.ty, value)))
                    .collect(),
            )
        }
        (_, Datum::Null) => Value::Null,
        (_, Datum::Boolean(b)) => Value::Bool(*b),
        (_, Datum::Int(v)) => Value::from(*v),
        (_, Datum::Long(v)) => Value::from(*v),
        (_, Datum::Float(v)) => float(f64::from(*v)),
        (_, Datum::Double(v)) => float(*v),
        (_, Datum::Bytes(b) | Datum::Fixed(_, b)) => latin1(b),
        (_, Datum::String(s) | Datum::Enum(_, s)) => Value::String(s.clone()),
        (_, other) => Value::String(format!("{other:?}")),
    }
}
