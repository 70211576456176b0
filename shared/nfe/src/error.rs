//! Typed validation errors raised while building an NF-e.

use std::fmt;

/// What is wrong with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Required text is empty (after trimming and normalization).
    Empty,
    /// Shorter than the schema minimum (in characters).
    TooShort { min: usize, len: usize },
    /// Longer than the schema maximum (in characters).
    TooLong { max: usize, len: usize },
    /// A control character (tab, newline, ...) that the schema's TString cannot carry.
    ControlCharacter { ch: char },
    /// A character outside the schema's range (U+0020..U+00FF) that has no safe replacement.
    UnsupportedCharacter { ch: char },
    /// Does not match the expected format (the text says which).
    Format(&'static str),
    /// More decimal places than the schema allows.
    TooManyDecimals { max: u32 },
    /// Numeric value out of the allowed range (the text says which).
    OutOfRange(&'static str),
    /// Check digit (CPF, CNPJ) does not match.
    CheckDigit,
    /// The value is inconsistent with another part of the document.
    Inconsistent(String),
    /// A domain value (CPF, CNPJ…) refused by its parser; the text says why.
    Invalid(String),
}

impl From<osflow_domain::values::ValueError> for Problem {
    fn from(e: osflow_domain::values::ValueError) -> Problem {
        Problem::Invalid(e.to_string())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => write!(f, "is empty"),
            Problem::TooShort { min, len } => write!(f, "has {len} characters, minimum is {min}"),
            Problem::TooLong { max, len } => write!(f, "has {len} characters, maximum is {max}"),
            Problem::ControlCharacter { ch } => {
                write!(f, "contains the control character U+{:04X}", *ch as u32)
            }
            Problem::UnsupportedCharacter { ch } => {
                write!(f, "contains '{ch}' (U+{:04X}), which the NF-e schema does not accept", *ch as u32)
            }
            Problem::Format(what) => write!(f, "must be {what}"),
            Problem::TooManyDecimals { max } => write!(f, "has more than {max} decimal places"),
            Problem::OutOfRange(what) => write!(f, "must be {what}"),
            Problem::CheckDigit => write!(f, "has an invalid check digit"),
            Problem::Inconsistent(why) | Problem::Invalid(why) => write!(f, "{why}"),
        }
    }
}

/// An input that cannot become a valid NF-e; `field` names it with the schema's tag path,
/// e.g. `det[3].prod.NCM` (items are numbered from 1, as `nItem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct BuildError {
    pub field: String,
    pub problem: Problem,
}

impl BuildError {
    pub fn new(field: impl fmt::Display, problem: Problem) -> Self {
        BuildError { field: field.to_string(), problem }
    }
}
