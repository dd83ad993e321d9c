//! Where Confluent's verdict and the wire knowingly disagree.
//!
//! Stele's default profile answers as Confluent does, because Confluent's
//! clients and tooling depend on those answers: a registry that refused what
//! Confluent accepts would break deployments that work today. Where the oracle
//! shows that such an accepted change still fails on the wire, the difference
//! is listed here, with the mechanism (the [`CounterExample::cause`] the
//! oracle reports), a fixture pair in `compat/tests/fixtures/wire/<id>/`
//! (`old.*` is the writer, `new.*` the reader) and the reason the verdict
//! stays. The differential tests accept a disagreement only when its cause is
//! listed here, and replay every fixture so that each entry still reproduces.
//!
//! [`CounterExample::cause`]: super::CounterExample::cause

use crate::types::SchemaType;

/// One known difference between Confluent's verdict and the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownDifference {
    /// The oracle's cause id; also the fixture directory's name.
    pub cause: &'static str,
    pub schema_type: SchemaType,
    /// What the change is, in a phrase.
    pub change: &'static str,
    /// What happens on the wire.
    pub wire: &'static str,
    /// Why Stele still answers "compatible" by default.
    pub reason: &'static str,
}

/// Every known difference, by format, then cause.
pub const KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        cause: "AVRO_ENUM_DEFAULT_SUBSTITUTED",
        schema_type: SchemaType::Avro,
        change: "a symbol is removed from an enum that has a default",
        wire: "the removed symbol, when written, is read as the enum's default: another symbol, without an error",
        reason: "the Avro specification defines the enum default for exactly this, and Java's \
                 SchemaCompatibility (which Confluent runs) accepts it; the reader asked for the substitution",
    },
    KnownDifference {
        cause: "AVRO_INVALID_UTF8",
        schema_type: SchemaType::Avro,
        change: "bytes becomes string",
        wire: "bytes that are not UTF-8 cannot be a string: Java's reader substitutes U+FFFD, apache-avro fails",
        reason: "the Avro specification lists bytes to string as a promotion and Confluent accepts it; \
                 it is safe only when every value written was UTF-8 text",
    },
    KnownDifference {
        cause: "AVRO_LOSSY_PROMOTION",
        schema_type: SchemaType::Avro,
        change: "int or long becomes float or double (where the value needs more precision)",
        wire: "the number is rounded to the nearest float or double: 16777217 as a float is 16777216",
        reason: "the Avro specification lists these promotions and Confluent accepts them",
    },
    KnownDifference {
        cause: "PROTOBUF_DEFAULT_CHANGED",
        schema_type: SchemaType::Protobuf,
        change: "a proto2 field's [default = ...] changes or is removed",
        wire: "a field the writer left unset reads as the reader's default, not the writer's: the value changes \
               without a byte of it on the wire",
        reason: "Confluent does not compare defaults (buf's FIELD_SAME_DEFAULT, in the WIRE profile, does)",
    },
    KnownDifference {
        cause: "PROTOBUF_INTEGER_TO_BOOL",
        schema_type: SchemaType::Protobuf,
        change: "an integer field becomes bool",
        wire: "every non-zero number is read as true: 2 and -1 become true (1)",
        reason: "Confluent puts int32, int64, uint32, uint64, bool and enums in one wire-compatible group",
    },
    KnownDifference {
        cause: "PROTOBUF_INTEGER_TRUNCATED",
        schema_type: SchemaType::Protobuf,
        change: "a 64-bit integer field (or map key) becomes 32-bit (int64 to int32, uint64 to uint32...)",
        wire: "the value is truncated to 32 bits, without an error: 4294967296 is read as 0",
        reason: "Confluent puts int32, int64, uint32, uint64, bool and enums in one wire-compatible group, \
                 and sint32 with sint64; protobuf's own guide calls these changes compatible, with truncation",
    },
    KnownDifference {
        cause: "PROTOBUF_INVALID_UTF8",
        schema_type: SchemaType::Protobuf,
        change: "a bytes field becomes string",
        wire: "bytes that are not UTF-8 fail to decode as a string (proto3 readers validate UTF-8)",
        reason: "Confluent treats string and bytes as one wire-compatible group; it is safe only when every \
                 value written was UTF-8 text",
    },
    KnownDifference {
        cause: "PROTOBUF_MISSING_REQUIRED",
        schema_type: SchemaType::Protobuf,
        change: "an existing proto2 optional field becomes required",
        wire: "a message written without the field is refused by Java's and C++'s parsers (missing required field)",
        reason: "Confluent reports a required field only when it is new (REQUIRED_FIELD_ADDED); it compares \
                 labels only of numeric fields, and there only repeated against not",
    },
    KnownDifference {
        cause: "PROTOBUF_REPEATED_TO_SINGULAR",
        schema_type: SchemaType::Protobuf,
        change: "a repeated field becomes singular (string, bytes and message fields, and proto3 numeric fields \
                 written without a label)",
        wire: "a singular reader keeps only the last element (messages are merged into one); \
               a packed numeric list does not decode as a singular field at all",
        reason: "Confluent compares labels only for numeric fields, and only when both versions spell a label",
    },
    KnownDifference {
        cause: "PROTOBUF_SIGN_REINTERPRETED",
        schema_type: SchemaType::Protobuf,
        change: "a signed integer field becomes unsigned or back (int32 to uint32, fixed32 to sfixed32...)",
        wire: "negative numbers are read as large positive ones and back: -1 as int32 is 18446744073709551615 \
               as uint64",
        reason: "Confluent puts int32, int64, uint32, uint64, bool and enums in one wire-compatible group, \
                 fixed32 with sfixed32 and fixed64 with sfixed64",
    },
    KnownDifference {
        cause: "PROTOBUF_UNKNOWN_ENUM_VALUE",
        schema_type: SchemaType::Protobuf,
        change: "a value is removed from a proto2 enum, or an integer field becomes a proto2 enum",
        wire: "a number the reader's closed enum lacks is moved to the unknown fields by Java and C++ readers, \
               so the field reads as its default",
        reason: "Confluent accepts every enum change and puts enums in the integer group",
    },
    KnownDifference {
        cause: "JSON_REJECTED_BY_ONE_OF",
        schema_type: SchemaType::Json,
        change: "a branch is added to a oneOf",
        wire: "a document that matched one branch may now match two, and oneOf then rejects it",
        reason: "Confluent reports the change as SUM_TYPE_EXTENDED, a compatible difference, without \
                 checking that the branches stay disjoint",
    },
    KnownDifference {
        cause: "JSON_REQUIRED_DEFAULT_NOT_APPLIED",
        schema_type: SchemaType::Json,
        change: "a property with a default becomes required (added to a closed content model, or made required)",
        wire: "a document without the property is rejected: JSON Schema validation does not apply defaults",
        reason: "Confluent counts the default as filling the gap (REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_\
                 CONTENT_MODEL is compatible), and its JSON deserializer does not validate by default",
    },
];

/// The known difference for a cause, if the cause is one.
pub fn known_difference(cause: &str) -> Option<&'static KnownDifference> {
    KNOWN_DIFFERENCES.iter().find(|d| d.cause == cause)
}
