//! Access key (chave de acesso), cNF, CNPJ/CPF and UF codes.

use std::fmt;

use rand::Rng;

use crate::error::{BuildError, Problem};

pub use osflow_domain::values::{Cnpj, Cpf, Uf};

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
