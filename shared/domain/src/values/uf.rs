//! Brazilian federative units (states and the Federal District).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ValueError, ValueKind};

/// One of the 27 federative units: 26 states and the Federal District.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Uf {
    RO,
    AC,
    AM,
    RR,
    PA,
    AP,
    TO,
    MA,
    PI,
    CE,
    RN,
    PB,
    PE,
    AL,
    SE,
    BA,
    MG,
    ES,
    RJ,
    SP,
    PR,
    SC,
    RS,
    MS,
    MT,
    GO,
    DF,
}

impl Uf {
    /// All 27 units, in IBGE code order.
    pub const ALL: [Uf; 27] = [
        Self::RO,
        Self::AC,
        Self::AM,
        Self::RR,
        Self::PA,
        Self::AP,
        Self::TO,
        Self::MA,
        Self::PI,
        Self::CE,
        Self::RN,
        Self::PB,
        Self::PE,
        Self::AL,
        Self::SE,
        Self::BA,
        Self::MG,
        Self::ES,
        Self::RJ,
        Self::SP,
        Self::PR,
        Self::SC,
        Self::RS,
        Self::MS,
        Self::MT,
        Self::GO,
        Self::DF,
    ];

    /// Parses a two-letter abbreviation, case-insensitively ("SP", "sp").
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        Self::ALL
            .into_iter()
            .find(|uf| uf.as_str().eq_ignore_ascii_case(s))
            .ok_or(ValueError::new(ValueKind::Uf, "unknown UF"))
    }

    /// The IBGE numeric code (SP = 35), used as the first two digits of
    /// IBGE municipality codes and as `cUF` in NF-e.
    pub const fn code(self) -> u8 {
        match self {
            Self::RO => 11,
            Self::AC => 12,
            Self::AM => 13,
            Self::RR => 14,
            Self::PA => 15,
            Self::AP => 16,
            Self::TO => 17,
            Self::MA => 21,
            Self::PI => 22,
            Self::CE => 23,
            Self::RN => 24,
            Self::PB => 25,
            Self::PE => 26,
            Self::AL => 27,
            Self::SE => 28,
            Self::BA => 29,
            Self::MG => 31,
            Self::ES => 32,
            Self::RJ => 33,
            Self::SP => 35,
            Self::PR => 41,
            Self::SC => 42,
            Self::RS => 43,
            Self::MS => 50,
            Self::MT => 51,
            Self::GO => 52,
            Self::DF => 53,
        }
    }

    /// The unit with the given IBGE code, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|uf| uf.code() == code)
    }

    /// The two-letter abbreviation, e.g. "SP".
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RO => "RO",
            Self::AC => "AC",
            Self::AM => "AM",
            Self::RR => "RR",
            Self::PA => "PA",
            Self::AP => "AP",
            Self::TO => "TO",
            Self::MA => "MA",
            Self::PI => "PI",
            Self::CE => "CE",
            Self::RN => "RN",
            Self::PB => "PB",
            Self::PE => "PE",
            Self::AL => "AL",
            Self::SE => "SE",
            Self::BA => "BA",
            Self::MG => "MG",
            Self::ES => "ES",
            Self::RJ => "RJ",
            Self::SP => "SP",
            Self::PR => "PR",
            Self::SC => "SC",
            Self::RS => "RS",
            Self::MS => "MS",
            Self::MT => "MT",
            Self::GO => "GO",
            Self::DF => "DF",
        }
    }

    /// The official name in Portuguese, e.g. "São Paulo".
    pub const fn name(self) -> &'static str {
        match self {
            Self::RO => "Rondônia",
            Self::AC => "Acre",
            Self::AM => "Amazonas",
            Self::RR => "Roraima",
            Self::PA => "Pará",
            Self::AP => "Amapá",
            Self::TO => "Tocantins",
            Self::MA => "Maranhão",
            Self::PI => "Piauí",
            Self::CE => "Ceará",
            Self::RN => "Rio Grande do Norte",
            Self::PB => "Paraíba",
            Self::PE => "Pernambuco",
            Self::AL => "Alagoas",
            Self::SE => "Sergipe",
            Self::BA => "Bahia",
            Self::MG => "Minas Gerais",
            Self::ES => "Espírito Santo",
            Self::RJ => "Rio de Janeiro",
            Self::SP => "São Paulo",
            Self::PR => "Paraná",
            Self::SC => "Santa Catarina",
            Self::RS => "Rio Grande do Sul",
            Self::MS => "Mato Grosso do Sul",
            Self::MT => "Mato Grosso",
            Self::GO => "Goiás",
            Self::DF => "Distrito Federal",
        }
    }
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl_text_conversions!(Uf, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn codes_match_the_ibge_table() {
        let expected = [
            ("RO", 11),
            ("AC", 12),
            ("AM", 13),
            ("RR", 14),
            ("PA", 15),
            ("AP", 16),
            ("TO", 17),
            ("MA", 21),
            ("PI", 22),
            ("CE", 23),
            ("RN", 24),
            ("PB", 25),
            ("PE", 26),
            ("AL", 27),
            ("SE", 28),
            ("BA", 29),
            ("MG", 31),
            ("ES", 32),
            ("RJ", 33),
            ("SP", 35),
            ("PR", 41),
            ("SC", 42),
            ("RS", 43),
            ("MS", 50),
            ("MT", 51),
            ("GO", 52),
            ("DF", 53),
        ];
        assert_eq!(Uf::ALL.len(), expected.len());
        for (abbr, code) in expected {
            let uf = Uf::parse(abbr).unwrap();
            assert_eq!(uf.as_str(), abbr);
            assert_eq!(uf.code(), code);
            assert_eq!(Uf::from_code(code), Some(uf));
        }
    }

    #[test]
    fn parses_case_insensitively_and_rejects_unknown() {
        assert_eq!(Uf::parse(" sp ").unwrap(), Uf::SP);
        assert_eq!(Uf::parse("Rj").unwrap(), Uf::RJ);
        assert_eq!("df".parse::<Uf>().unwrap().name(), "Distrito Federal");
        for invalid in ["", "XX", "S", "SPP", "35", "São Paulo"] {
            let err = Uf::parse(invalid).unwrap_err();
            assert_eq!((err.kind(), err.message()), (ValueKind::Uf, "unknown UF"));
        }
        for code in [0, 10, 18, 20, 30, 34, 36, 40, 44, 54, 99] {
            assert_eq!(Uf::from_code(code), None);
        }
    }

    #[test]
    fn displays_and_serializes_as_the_abbreviation() {
        assert_eq!(Uf::SP.to_string(), "SP");
        assert_eq!(Uf::SP.name(), "São Paulo");
        assert_eq!(String::from(Uf::MG), "MG");
        let de: StrDeserializer<'_, DeError> = "mg".into_deserializer();
        assert_eq!(Uf::deserialize(de).unwrap(), Uf::MG);
    }
}
