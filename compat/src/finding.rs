//! The one shape every checker reports a problem in.

use std::fmt;

/// Which side of a reader/writer pair a schema plays, in the words of
/// Confluent's messages ("the new schema", "the old schema").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    New,
    Old,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::New => "new",
            Role::Old => "old",
        }
    }

    pub fn other(self) -> Role {
        match self {
            Role::New => Role::Old,
            Role::Old => Role::New,
        }
    }
}

/// One reason a reader cannot read what a writer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// The rule id, in the vocabulary users know (`TYPE_MISMATCH`, `TYPE_CHANGED`...).
    pub rule: String,
    /// A JSON-pointer-like path into the reader schema (`/fields/1/type`, `#/properties/a`).
    pub path: String,
    /// A sentence a person can act on.
    pub description: String,
    /// Extra detail, as Confluent's `additionalInfo` (Avro only).
    pub additional_info: Option<String>,
    /// The message exactly as Confluent's verbose compatibility answer spells it.
    pub confluent_message: String,
}

impl Incompatibility {
    /// A finding in Confluent's Protobuf message shape: `{errorType:"RULE", description:"..."}`.
    pub(crate) fn with_error_type(rule: &str, path: String, description: String) -> Incompatibility {
        Incompatibility {
            rule: rule.to_owned(),
            confluent_message: format!("{{errorType:\"{rule}\", description:\"{description}\"}}"),
            path,
            description,
            additional_info: None,
        }
    }
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.rule, self.path, self.description)?;
        if let Some(info) = &self.additional_info {
            write!(f, " ({info})")?;
        }
        Ok(())
    }
}
