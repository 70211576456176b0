//! A taxpayer document: CPF (individual) or CNPJ (company).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Cnpj, Cpf, ValueError, ValueKind};

/// Which kind of document a [`Document`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocumentKind {
    Cpf,
    Cnpj,
}

impl DocumentKind {
    /// "CPF" or "CNPJ".
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cpf => "CPF",
            Self::Cnpj => "CNPJ",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CPF or a CNPJ, told apart by length.
///
/// `parse` counts the characters other than the separators `.`, `/` and `-`:
/// 11 is parsed as a [`Cpf`], 14 as a [`Cnpj`] (whose errors are returned
/// as they are). Serde uses the bare characters, which parse back to the
/// same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Document {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

impl Document {
    /// Parses a CPF or CNPJ, choosing by length.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let significant = input.trim().chars().filter(|c| !matches!(c, '.' | '/' | '-')).count();
        match significant {
            11 => Cpf::parse(input).map(Self::Cpf),
            14 => Cnpj::parse(input).map(Self::Cnpj),
            _ => Err(ValueError::new(ValueKind::Document, "document must have 11 (CPF) or 14 (CNPJ) characters")),
        }
    }

    /// The bare characters of the inner document.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Cpf(cpf) => cpf.as_str(),
            Self::Cnpj(cnpj) => cnpj.as_str(),
        }
    }

    pub const fn kind(&self) -> DocumentKind {
        match self {
            Self::Cpf(_) => DocumentKind::Cpf,
            Self::Cnpj(_) => DocumentKind::Cnpj,
        }
    }

    /// The masked form of the inner document (see [`Cpf::masked`] and
    /// [`Cnpj::masked`]).
    pub fn masked(&self) -> String {
        match self {
            Self::Cpf(cpf) => cpf.masked(),
            Self::Cnpj(cnpj) => cnpj.masked(),
        }
    }

    pub const fn as_cpf(&self) -> Option<&Cpf> {
        match self {
            Self::Cpf(cpf) => Some(cpf),
            Self::Cnpj(_) => None,
        }
    }

    pub const fn as_cnpj(&self) -> Option<&Cnpj> {
        match self {
            Self::Cnpj(cnpj) => Some(cnpj),
            Self::Cpf(_) => None,
        }
    }
}

impl From<Cpf> for Document {
    fn from(cpf: Cpf) -> Self {
        Self::Cpf(cpf)
    }
}

impl From<Cnpj> for Document {
    fn from(cnpj: Cnpj) -> Self {
        Self::Cnpj(cnpj)
    }
}

impl fmt::Display for Document {
    /// The formatted inner document ("529.982.247-25", "12.345.678/0001-95").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpf(cpf) => cpf.fmt(f),
            Self::Cnpj(cnpj) => cnpj.fmt(f),
        }
    }
}

impl_text_conversions!(Document, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn picks_the_kind_by_length() {
        let cpf = Document::parse("529.982.247-25").unwrap();
        assert_eq!(cpf.kind(), DocumentKind::Cpf);
        assert_eq!(cpf.as_str(), "52998224725");
        assert_eq!(cpf.to_string(), "529.982.247-25");
        assert_eq!(cpf.masked(), "***.982.247-**");
        assert!(cpf.as_cpf().is_some() && cpf.as_cnpj().is_none());

        let cnpj = Document::parse("12.ABC.345/01DE-35").unwrap();
        assert_eq!(cnpj.kind(), DocumentKind::Cnpj);
        assert_eq!(cnpj.as_str(), "12ABC34501DE35");
        assert_eq!(cnpj.to_string(), "12.ABC.345/01DE-35");
        assert_eq!(cnpj.masked(), "**.ABC.345/01DE-**");
        assert_eq!(cnpj.kind().to_string(), "CNPJ");

        let numeric = Document::parse("11222333000181").unwrap();
        assert_eq!(numeric, Document::from(Cnpj::parse("11.222.333/0001-81").unwrap()));
    }

    #[test]
    fn reports_the_inner_error_or_a_length_error() {
        let err = Document::parse("529.982.247-24").unwrap_err();
        assert_eq!((err.kind(), err.message()), (ValueKind::Cpf, "invalid CPF check digits"));
        let err = Document::parse("11.222.333/0001-82").unwrap_err();
        assert_eq!(err.kind(), ValueKind::Cnpj);
        let err = Document::parse("1234567890").unwrap_err();
        assert_eq!(err.kind(), ValueKind::Document);
        assert_eq!(err.to_string(), "document must have 11 (CPF) or 14 (CNPJ) characters");
        assert_eq!(Document::parse("").unwrap_err().kind(), ValueKind::Document);
    }

    #[test]
    fn serde_round_trips_through_the_bare_form() {
        for input in ["111.444.777-35", "12.345.678/0001-95"] {
            let doc = Document::parse(input).unwrap();
            let text = String::from(doc);
            let de: StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
            assert_eq!(Document::deserialize(de).unwrap(), doc);
        }
    }
}
