//! What each compatibility rule checks, why breaking it breaks consumers, an
//! example and the compatible alternative: the text `stele explain` prints.

/// The documentation of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDoc {
    pub id: &'static str,
    pub format: &'static str,
    pub checks: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub alternative: &'static str,
}

macro_rules! docs {
    ($($id:literal [$format:literal] { checks: $checks:literal, why: $why:literal, example: $example:literal, alternative: $alt:literal })*) => {
        const DOCS: &[RuleDoc] = &[$(RuleDoc { id: $id, format: $format, checks: $checks, why: $why, example: $example, alternative: $alt }),*];
    };
}

docs! {
    "TYPE_MISMATCH" ["Avro"] {
        checks: "A field's type in the reader cannot read the writer's type, even with Avro's promotions (int to long, float or double; long to float or double; float to double; string and bytes both ways).",
        why: "A consumer decoding old data with the new schema meets bytes it cannot interpret: deserialization fails at that field.",
        example: "old: {\"name\": \"amount\", \"type\": \"string\"}\nnew: {\"name\": \"amount\", \"type\": \"int\"}",
        alternative: "Add a new field with the new type and a default, and stop writing the old one; or widen along a promotion (int to long)."
    }
    "NAME_MISMATCH" ["Avro"] {
        checks: "A named type (record, enum, fixed) was renamed and the reader has no alias for the writer's full name.",
        why: "Avro resolves named types by name; a consumer with the renamed schema cannot match the writer's type.",
        example: "old: {\"type\": \"record\", \"name\": \"com.example.Order\", ...}\nnew: {\"type\": \"record\", \"name\": \"com.example.Purchase\", ...}",
        alternative: "Keep the name, or add the old full name to the new type's \"aliases\"."
    }
    "FIXED_SIZE_MISMATCH" ["Avro"] {
        checks: "A fixed type changed size.",
        why: "Fixed values carry no length; a reader expecting another size reads the wrong bytes.",
        example: "old: {\"type\": \"fixed\", \"name\": \"Hash\", \"size\": 16}\nnew: {\"type\": \"fixed\", \"name\": \"Hash\", \"size\": 32}",
        alternative: "Add a new field with a new fixed type of the new size."
    }
    "MISSING_ENUM_SYMBOLS" ["Avro"] {
        checks: "The writer's enum has symbols the reader's lacks, and the reader's enum has no default.",
        why: "A consumer meeting a symbol it does not know fails to decode the record.",
        example: "old: \"symbols\": [\"RED\", \"GREEN\", \"BLUE\"]\nnew: \"symbols\": [\"RED\", \"GREEN\"]",
        alternative: "Keep the symbol, or give the enum a \"default\" symbol that unknown values decode to."
    }
    "MISSING_UNION_BRANCH" ["Avro"] {
        checks: "A type the writer may write has no branch in the reader's union that can read it.",
        why: "Data written with that branch cannot be decoded by the consumer.",
        example: "old: [\"null\", \"string\", \"int\"]\nnew: [\"null\", \"string\"]",
        alternative: "Keep the branch, or replace it with a branch it promotes to (int to long)."
    }
    "READER_FIELD_MISSING_DEFAULT_VALUE" ["Avro"] {
        checks: "The reader has a field the writer does not write, and the field has no default.",
        why: "A consumer decoding old data has no value to put in the new field: deserialization fails.",
        example: "old: [{\"name\": \"id\", \"type\": \"string\"}]\nnew: [{\"name\": \"id\", \"type\": \"string\"}, {\"name\": \"total\", \"type\": \"long\"}]",
        alternative: "Give the new field a default: {\"name\": \"total\", \"type\": \"long\", \"default\": 0}."
    }
    "PACKAGE_CHANGED" ["Protobuf"] {
        checks: "The file's package changed.",
        why: "Every full type name changes; consumers resolving types by name (Any, the registry's message indexes) no longer find them.",
        example: "old: package orders.v1;\nnew: package orders.v2;",
        alternative: "Keep the package; put breaking changes in a new subject."
    }
    "MESSAGE_REMOVED" ["Protobuf"] {
        checks: "A message was removed.",
        why: "Confluent's wire format names the message by its index in the schema; data written with the removed message cannot be resolved.",
        example: "old: message Order {...} message Refund {...}\nnew: message Order {...}",
        alternative: "Keep the message, deprecated."
    }
    "FIELD_KIND_CHANGED" ["Protobuf"] {
        checks: "A field changed between scalar, message and map.",
        why: "The wire types differ; consumers misread or drop the field.",
        example: "old: string amount = 1;\nnew: Money amount = 1;",
        alternative: "Add a new field with a new number; reserve the old one."
    }
    "FIELD_SCALAR_KIND_CHANGED" ["Protobuf"] {
        checks: "A scalar field changed to a type with another wire encoding (int32 to sint32, int32 to fixed32, string to int32...).",
        why: "Consumers decode the bytes with the wrong encoding and read wrong values.",
        example: "old: int32 quantity = 1;\nnew: sint32 quantity = 1;",
        alternative: "Change within one encoding group (int32, int64, uint32, uint64, bool, enums), or add a new field."
    }
    "FIELD_NAMED_TYPE_CHANGED" ["Protobuf"] {
        checks: "A message-typed field now refers to another message, or its message changed incompatibly.",
        why: "Consumers decode the nested bytes as the wrong message.",
        example: "old: Address shipping = 1;\nnew: Location shipping = 1;",
        alternative: "Add a new field for the new type."
    }
    "FIELD_NUMERIC_LABEL_CHANGED" ["Protobuf"] {
        checks: "A numeric field changed between singular and repeated.",
        why: "Repeated numeric fields are packed on the wire; singular readers mis-decode packed data.",
        example: "old: optional int32 score = 1;\nnew: repeated int32 score = 1;",
        alternative: "Add a new repeated field with a new number."
    }
    "REQUIRED_FIELD_ADDED" ["Protobuf"] {
        checks: "A proto2 required field was added.",
        why: "Messages written before it lack the field and fail to parse.",
        example: "new: required string currency = 4;",
        alternative: "Add it as optional."
    }
    "REQUIRED_FIELD_REMOVED" ["Protobuf"] {
        checks: "A proto2 required field was removed.",
        why: "Consumers with the old schema reject messages without it.",
        example: "old: required string currency = 4;\nnew: (removed)",
        alternative: "Keep writing it until every consumer has moved on."
    }
    "ONEOF_FIELD_REMOVED" ["Protobuf"] {
        checks: "A member of a oneof was removed while the oneof stays.",
        why: "Data written with that member leaves the oneof in a state the reader cannot represent.",
        example: "old: oneof payment { Card card = 1; Iban iban = 2; }\nnew: oneof payment { Card card = 1; }",
        alternative: "Keep the member, deprecated."
    }
    "MULTIPLE_FIELDS_MOVED_TO_ONEOF" ["Protobuf"] {
        checks: "Several fields that could all be set at once were moved into one oneof.",
        why: "Old data with several of them set loses all but one when read.",
        example: "old: string email = 1; string phone = 2;\nnew: oneof contact { string email = 1; string phone = 2; }",
        alternative: "Add a new oneof with new field numbers."
    }
    "FIELD_MOVED_TO_EXISTING_ONEOF" ["Protobuf"] {
        checks: "A field was moved into an existing oneof.",
        why: "Old data that set it and a oneof member loses one of them when read.",
        example: "old: oneof o { int32 a = 1; } int32 b = 2;\nnew: oneof o { int32 a = 1; int32 b = 2; }",
        alternative: "Leave the field outside the oneof."
    }
    "TYPE_CHANGED" ["JSON Schema"] {
        checks: "A value's type changed to one that accepts other documents.",
        why: "Documents valid under the old schema are rejected by the new one.",
        example: "old: {\"a\": {\"type\": \"string\"}}\nnew: {\"a\": {\"type\": \"boolean\"}}",
        alternative: "Widen instead (add the new type to a type list), or add a new property."
    }
    "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" ["JSON Schema"] {
        checks: "A property was added to an object whose old schema allowed any extra property (the open content model).",
        why: "The old schema accepted any value under that name; the new one restricts it, so some old documents are now invalid (BACKWARD).",
        example: "old: {\"type\": \"object\", \"properties\": {\"a\": {...}}}\nnew: {\"type\": \"object\", \"properties\": {\"a\": {...}, \"b\": {\"type\": \"string\"}}}",
        alternative: "Close the content model in the earlier version (\"additionalProperties\": false), or register with the LENIENT policy."
    }
    "REQUIRED_ATTRIBUTE_ADDED" ["JSON Schema"] {
        checks: "An existing property became required.",
        why: "Documents that omit it, valid before, are now rejected.",
        example: "old: \"required\": []\nnew: \"required\": [\"a\"]",
        alternative: "Give the property a default, or keep it optional."
    }
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" ["JSON Schema"] {
        checks: "A property was removed from an object that allows no extra properties.",
        why: "Documents that carry the property, valid before, are now rejected.",
        example: "old: {\"properties\": {\"a\": {}, \"b\": {}}, \"additionalProperties\": false}\nnew: {\"properties\": {\"a\": {}}, \"additionalProperties\": false}",
        alternative: "Keep the property (it may be deprecated), or set it to false only after producers stopped writing it."
    }
}

/// The documentation of a rule id, from the rule tables of every format.
pub fn rule_doc(id: &str) -> Option<RuleDoc> {
    if let Some(doc) = DOCS.iter().find(|d| d.id == id) {
        return Some(doc.clone());
    }
    if let Some(rule) = crate::protobuf::buf::rule(id) {
        return Some(buf_doc(rule));
    }
    crate::json::RULES.iter().find(|r| r.id == id).map(|rule| RuleDoc {
        id: rule.id,
        format: "JSON Schema",
        checks: rule.summary,
        why: if rule.compatible {
            "It does not break consumers: every document valid before stays valid."
        } else {
            "Documents valid under the old schema may be rejected by the new one, so consumers validating with it fail."
        },
        example: "See the fixture of this rule under compat/tests/fixtures/json/.",
        alternative: if rule.lenient_compatible && !rule.compatible {
            "Register with the LENIENT policy, or make the earlier version's content model closed."
        } else {
            "Keep the old constraint, or add a new property with the new constraint."
        },
    })
}

/// A buf rule's documentation, from its summary and the categories that hold it.
fn buf_doc(rule: &'static crate::protobuf::buf::Rule) -> RuleDoc {
    use crate::protobuf::buf::Category;
    let why = if rule.in_category(Category::Wire) {
        "Consumers decoding the binary encoding with one version read data written with the other wrongly, or not at all."
    } else if rule.in_category(Category::WireJson) {
        "Consumers of the JSON encoding (names, JSON names, enum names, JSON support) read the other version's documents wrongly."
    } else {
        "Code generated from one version no longer compiles, or behaves differently, against code generated from the other."
    };
    let alternative = if rule.id.contains("NO_DELETE") {
        "Keep the element (mark it deprecated); for fields and enum values, reserve both the number and the name when it must go."
    } else {
        "Leave the element as it was and add a new one (a new field number, message or RPC) with the new shape."
    };
    RuleDoc {
        id: rule.id,
        format: match rule.categories {
            [Category::Wire] => "Protobuf (buf, category WIRE)",
            [Category::WireJson] => "Protobuf (buf, category WIRE_JSON)",
            [Category::WireJson, Category::Wire] => "Protobuf (buf, categories WIRE_JSON and WIRE)",
            [Category::Package] => "Protobuf (buf, category PACKAGE)",
            [Category::File] => "Protobuf (buf, category FILE)",
            [Category::File, Category::Package] => "Protobuf (buf, categories FILE and PACKAGE)",
            [Category::File, Category::Package, Category::WireJson] => {
                "Protobuf (buf, categories FILE, PACKAGE and WIRE_JSON)"
            }
            _ => "Protobuf (buf, every category: FILE, PACKAGE, WIRE_JSON and WIRE)",
        },
        checks: rule.summary,
        why,
        example: "See the fixture of this rule under compat/tests/fixtures/buf/.",
        alternative,
    }
}

/// Every documented rule id.
pub fn rule_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = DOCS.iter().map(|d| d.id).collect();
    ids.extend(crate::json::RULES.iter().map(|r| r.id).filter(|id| !DOCS.iter().any(|d| d.id == *id)));
    let buf: Vec<&'static str> =
        crate::protobuf::buf::RULES.iter().map(|r| r.id).filter(|id| !ids.contains(id)).collect();
    ids.extend(buf);
    ids
}
