//! Access key (chave de acesso), cNF, CNPJ/CPF and UF codes.

use std::fmt;

use rand::Rng;

use crate::error::{BuildError, Problem};

/// Federative unit with its IBGE code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

const UFS: [(Uf, &str, u8); 27] = [
    (Uf::RO, "RO", 11),
    (Uf::AC, "AC", 12),
    (Uf::AM, "AM", 13),
    (Uf::RR, "RR", 14),
    (Uf::PA, "PA", 15),
    (Uf::AP, "AP", 16),
    (Uf::TO, "TO", 17),
    (Uf::MA, "MA", 21),
    (Uf::PI, "PI", 22),
    (Uf::CE, "CE", 23),
    (Uf::RN, "RN", 24),
    (Uf::PB, "PB", 25),
    (Uf::PE, "PE", 26),
    (Uf::AL, "AL", 27),
    (Uf::SE, "SE", 28),
    (Uf::BA, "BA", 29),
    (Uf::MG, "MG", 31),
    (Uf::ES, "ES", 32),
    (Uf::RJ, "RJ", 33),
    (Uf::SP, "SP", 35),
    (Uf::PR, "PR", 41),
    (Uf::SC, "SC", 42),
    (Uf::RS, "RS", 43),
    (Uf::MS, "MS", 50),
    (Uf::MT, "MT", 51),
    (Uf::GO, "GO", 52),
    (Uf::DF, "DF", 53),
];

impl Uf {
    pub const ALL: [Uf; 27] = {
        let mut a = [Uf::RO; 27];
        let mut i = 0;
        while i < 27 {
            a[i] = UFS[i].0;
            i += 1;
        }
        a
    };
    /// IBGE code (`cUF`).
    pub fn code(self) -> u8 {
        UFS.iter().find(|u| u.0 == self).map(|u| u.2).unwrap_or(0)
    }
    /// Two-letter abbreviation.
    pub fn sigla(self) -> &'static str {
        UFS.iter().find(|u| u.0 == self).map(|u| u.1).unwrap_or("")
    }
    pub fn from_sigla(s: &str) -> Option<Uf> {
        UFS.iter().find(|u| u.1.eq_ignore_ascii_case(s)).map(|u| u.0)
    }
    pub fn from_code(c: u8) -> Option<Uf> {
        UFS.iter().find(|u| u.2 == c).map(|u| u.0)
    }
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sigla())
    }
}

/// Modulo-11 check digit with weights 2..9 cycling from the right and `value = char - 48`
/// (digits keep their value; letters of the alphanumeric CNPJ count as A=17, B=18, ...).
/// Returns 0 when the remainder is 0 or 1, else `11 - remainder`.
pub fn mod11_dv(chars: &[u8]) -> u8 {
    let mut sum: u32 = 0;
    let mut w = 2;
    for &c in chars.iter().rev() {
        sum += (c as u32).wrapping_sub(48) * w;
        w = if w == 9 { 2 } else { w + 1 };
    }
    let r = sum % 11;
    if r < 2 { 0 } else { (11 - r) as u8 }
}

/// A CNPJ, numeric or alphanumeric (NT 2025.001: 12 chars `[0-9A-Z]` + 2 numeric check digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cnpj(String);

impl Cnpj {
    /// Accepts the 14 characters with or without the usual punctuation (`.` `/` `-`);
    /// letters are upper-cased. The two check digits are verified.
    pub fn parse(s: &str) -> Result<Cnpj, Problem> {
        let v: String =
            s.chars().filter(|c| !matches!(c, '.' | '/' | '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
        let b = v.as_bytes();
        if b.len() != 14
            || !b[..12].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            || !b[12..].iter().all(|c| c.is_ascii_digit())
        {
            return Err(Problem::Format("a CNPJ: 12 characters 0-9/A-Z and 2 check digits"));
        }
        if b[..12].iter().all(|&c| c == b[0]) {
            return Err(Problem::CheckDigit);
        }
        let d1 = mod11_dv(&b[..12]);
        let d2 = mod11_dv(&b[..13]);
        if b[12] - b'0' != d1 || b[13] - b'0' != d2 {
            return Err(Problem::CheckDigit);
        }
        Ok(Cnpj(v))
    }
    /// Completes a 12-character base with its two check digits.
    pub fn from_base(base12: &str) -> Result<Cnpj, Problem> {
        if base12.len() != 12 {
            return Err(Problem::Format("a 12-character CNPJ base"));
        }
        let mut b = base12.to_ascii_uppercase().into_bytes();
        b.push(b'0' + mod11_dv(&b));
        b.push(b'0' + mod11_dv(&b));
        Cnpj::parse(std::str::from_utf8(&b).unwrap_or_default())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// First 8 characters (the company root, shared by its branches).
    pub fn root(&self) -> &str {
        &self.0[..8]
    }
}

impl fmt::Display for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CPF (11 digits, check digits verified).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

impl Cpf {
    pub fn parse(s: &str) -> Result<Cpf, Problem> {
        let v: String = s.chars().filter(|c| !matches!(c, '.' | '-' | ' ')).collect();
        let b = v.as_bytes();
        if b.len() != 11 || !b.iter().all(|c| c.is_ascii_digit()) {
            return Err(Problem::Format("a CPF: 11 digits"));
        }
        if b.iter().all(|&c| c == b[0]) {
            return Err(Problem::CheckDigit);
        }
        let dv = |n: usize| {
            let s: u32 = b[..n].iter().enumerate().map(|(i, &c)| (c - b'0') as u32 * (n as u32 + 1 - i as u32)).sum();
            let r = (s * 10) % 11;
            if r == 10 { 0 } else { r as u8 }
        };
        if b[9] - b'0' != dv(9) || b[10] - b'0' != dv(10) {
            return Err(Problem::CheckDigit);
        }
        Ok(Cpf(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 8-digit random code of the access key (`ide/cNF`).
///
/// Generate it once with [`Cnf::generate`], store it with the invoice number, and rebuild
/// from the stored value on every retry ([`Cnf::from_stored`]): a new cNF for the same nNF
/// after a timeout is the classic cause of rejection 539.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cnf(u32);

/// cNF values forbidden by NT 2019.001: repeated digits and ascending sequences.
pub const FORBIDDEN_CNF: [u32; 20] = [
    0, 11_111_111, 22_222_222, 33_333_333, 44_444_444, 55_555_555, 66_666_666, 77_777_777, 88_888_888, 99_999_999,
    12_345_678, 23_456_789, 34_567_890, 45_678_901, 56_789_012, 67_890_123, 78_901_234, 89_012_345, 90_123_456,
    1_234_567,
];

impl Cnf {
    /// Draws a random cNF that is neither forbidden nor equal to `n_nf`.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R, n_nf: u32) -> Cnf {
        loop {
            let v = rng.random_range(0..100_000_000u32);
            if Cnf::allowed(v, n_nf) {
                return Cnf(v);
            }
        }
    }
    /// Whether `v` is an acceptable cNF for invoice number `n_nf`.
    pub fn allowed(v: u32, n_nf: u32) -> bool {
        v < 100_000_000 && v != n_nf && !FORBIDDEN_CNF.contains(&v)
    }
    /// Rebuilds a stored cNF, checking the rules again.
    pub fn from_stored(v: u32, n_nf: u32) -> Result<Cnf, Problem> {
        if v >= 100_000_000 {
            return Err(Problem::OutOfRange("at most 8 digits"));
        }
        if v == n_nf {
            return Err(Problem::Inconsistent("cNF must differ from nNF (NT 2019.001)".into()));
        }
        if FORBIDDEN_CNF.contains(&v) {
            return Err(Problem::Inconsistent("cNF is in the NT 2019.001 forbidden list".into()));
        }
        Ok(Cnf(v))
    }
    pub fn value(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Cnf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

/// The fields that make an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFields<'a> {
    pub uf: Uf,
    /// Year (2 digits) and month of `dhEmi`.
    pub year: u16,
    pub month: u8,
    /// Emitter CNPJ (or CPF, left-padded to 14 with zeros).
    pub emitter: &'a str,
    pub model: u8,
    pub serie: u16,
    pub n_nf: u32,
    pub tp_emis: u8,
    pub cnf: Cnf,
}

/// A 44-character access key; `infNFe/@Id` is `"NFe"` followed by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessKey([u8; 44]);

/// Why a string is not a valid access key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("access key must have 44 characters: 6 digits, 12 of 0-9/A-Z, 26 digits")]
    Format,
    #[error("access key check digit is {found}, mod-11 gives {expected}")]
    CheckDigit { found: u8, expected: u8 },
}

impl AccessKey {
    /// Composes the key and computes its check digit.
    pub fn compose(f: &KeyFields<'_>) -> Result<AccessKey, BuildError> {
        let doc = f.emitter;
        if doc.len() > 14 || !doc.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return Err(BuildError::new("emit.CNPJ", Problem::Format("a CNPJ or CPF")));
        }
        if f.serie > 999 {
            return Err(BuildError::new("ide.serie", Problem::OutOfRange("0..=999")));
        }
        if f.n_nf == 0 || f.n_nf > 999_999_999 {
            return Err(BuildError::new("ide.nNF", Problem::OutOfRange("1..=999999999")));
        }
        if !(1..=12).contains(&f.month) || f.tp_emis > 9 || f.model > 99 {
            return Err(BuildError::new("ide", Problem::OutOfRange("a valid key field")));
        }
        let s = format!(
            "{:02}{:02}{:02}{:0>14}{:02}{:03}{:09}{}{}",
            f.uf.code(),
            f.year % 100,
            f.month,
            doc,
            f.model,
            f.serie,
            f.n_nf,
            f.tp_emis,
            f.cnf
        );
        let mut k = [0u8; 44];
        k[..43].copy_from_slice(s.as_bytes());
        k[43] = b'0' + mod11_dv(&k[..43]);
        Ok(AccessKey(k))
    }

    /// Parses and checks a 44-character key (format and check digit).
    pub fn parse(s: &str) -> Result<AccessKey, KeyError> {
        let b = s.as_bytes();
        if b.len() != 44
            || !b[..6].iter().all(u8::is_ascii_digit)
            || !b[6..18].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            || !b[18..].iter().all(u8::is_ascii_digit)
        {
            return Err(KeyError::Format);
        }
        let expected = mod11_dv(&b[..43]);
        let found = b[43] - b'0';
        if expected != found {
            return Err(KeyError::CheckDigit { found, expected });
        }
        let mut k = [0u8; 44];
        k.copy_from_slice(b);
        Ok(AccessKey(k))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and uppercase letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    pub fn cuf(&self) -> &str {
        &self.as_str()[0..2]
    }
    pub fn aamm(&self) -> &str {
        &self.as_str()[2..6]
    }
    /// CNPJ, or CPF left-padded with zeros.
    pub fn emitter(&self) -> &str {
        &self.as_str()[6..20]
    }
    pub fn model(&self) -> &str {
        &self.as_str()[20..22]
    }
    pub fn serie(&self) -> &str {
        &self.as_str()[22..25]
    }
    pub fn n_nf(&self) -> &str {
        &self.as_str()[25..34]
    }
    pub fn tp_emis(&self) -> &str {
        &self.as_str()[34..35]
    }
    pub fn cnf(&self) -> &str {
        &self.as_str()[35..43]
    }
    pub fn dv(&self) -> u8 {
        self.0[43] - b'0'
    }
}

impl fmt::Display for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKey({})", self.as_str())
    }
}
