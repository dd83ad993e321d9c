//! Compatibility levels: which (reader, writer) pairs a check compares.
//!
//! The format checkers answer one question: can this reader read what that
//! writer wrote? A level turns a new schema and a subject's history into those
//! questions. BACKWARD asks whether the new schema reads the old one, FORWARD
//! whether the old one reads the new, FULL both; the `_TRANSITIVE` forms ask it
//! of every earlier version, the others of the latest only.

use std::fmt;
use std::str::FromStr;

use crate::finding::{Incompatibility, Role};
use crate::schema::{CheckOptions, ParsedSchema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompatibilityLevel {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether the new schema must read data written with old ones.
    pub fn checks_backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether old schemas must read data written with the new one.
    pub fn checks_forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid compatibility level {0}")]
pub struct InvalidLevel(pub String);

/// Level names are accepted in any case, as Confluent does.
impl FromStr for CompatibilityLevel {
    type Err = InvalidLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| InvalidLevel(s.to_owned()))
    }
}

/// The problems found between a new schema and one earlier version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFailure {
    /// Index into the `previous` slice given to [`check_level`].
    pub index: usize,
    pub problems: Vec<Incompatibility>,
    /// Whether some of `problems` are backward ones: the new schema cannot
    /// read data written with this version. Confluent names the version in
    /// a FULL report only then.
    pub backward: bool,
}

/// Every incompatibility of `new` with one pair of schemas.
/// FULL reports the forward problems first, then the backward ones, as Confluent does.
pub fn check_pair(level: CompatibilityLevel, new: &ParsedSchema, old: &ParsedSchema) -> Vec<Incompatibility> {
    check_pair_with(level, new, old, &CheckOptions::default())
}

/// [`check_pair`] with format-specific options.
pub fn check_pair_with(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    old: &ParsedSchema,
    options: &CheckOptions,
) -> Vec<Incompatibility> {
    let (mut problems, backward) = check_directions(level, new, old, options);
    problems.extend(backward);
    problems
}

/// [`check_pair_with`] with the two directions apart: the forward problems
/// (an old schema cannot read the new one's data), then the backward ones (the
/// new schema cannot read the old one's). A change of schema type is forward.
pub fn check_directions(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    old: &ParsedSchema,
    options: &CheckOptions,
) -> (Vec<Incompatibility>, Vec<Incompatibility>) {
    if new.schema_type != old.schema_type {
        let problems =
            if level == CompatibilityLevel::None { Vec::new() } else { vec![crate::schema::different_type()] };
        return (problems, Vec::new());
    }
    let forward = if level.checks_forward() {
        ParsedSchema::read_problems_with(old, new, Role::Old, options)
    } else {
        Vec::new()
    };
    let backward = if level.checks_backward() {
        ParsedSchema::read_problems_with(new, old, Role::New, options)
    } else {
        Vec::new()
    };
    (forward, backward)
}

impl VersionFailure {
    /// The failure of `previous[index]`, from its problems in both directions;
    /// `None` when there are none.
    pub fn of(index: usize, (mut problems, backward): (Vec<Incompatibility>, Vec<Incompatibility>)) -> Option<Self> {
        let has_backward = !backward.is_empty();
        problems.extend(backward);
        (!problems.is_empty()).then_some(VersionFailure { index, problems, backward: has_backward })
    }
}

/// The indexes into a history of `len` versions (oldest first) that `level`
/// compares a new schema with, in order: none for NONE, every one newest first
/// for the transitive levels, else the latest.
pub fn compared_versions(level: CompatibilityLevel, len: usize) -> Vec<usize> {
    if level == CompatibilityLevel::None {
        Vec::new()
    } else if level.is_transitive() {
        (0..len).rev().collect()
    } else {
        len.checked_sub(1).into_iter().collect()
    }
}

/// Checks `new` against a subject's history (`previous`, oldest first) under
/// `level`. Transitive levels go from the newest version to the oldest and stop
/// at the first version that fails, like Confluent; the others compare the
/// latest version only. `None` when compatible.
pub fn check_level(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
) -> Option<VersionFailure> {
    check_level_with(level, new, previous, &CheckOptions::default())
}

/// [`check_level`] with format-specific options.
pub fn check_level_with(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
    options: &CheckOptions,
) -> Option<VersionFailure> {
    for index in compared_versions(level, previous.len()) {
        if let Some(failure) = VersionFailure::of(index, check_directions(level, new, previous[index], options)) {
            return Some(failure);
        }
    }
    None
}
