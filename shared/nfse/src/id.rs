//! Identifiers: the DPS Id (45 characters), the NFS-e access key (50 digits, made by Sefin)
//! and the event request Id (59 characters).

use std::fmt;

/// `infDPS/@Id` = `DPS` + cLocEmi(7) + tpInsc(1: 1 CPF, 2 CNPJ) + CPF/CNPJ(14, zero-padded)
/// + série(5, zero-padded) + nDPS(15, zero-padded): pattern `DPS[0-9]{42}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DpsId([u8; 45]);

impl DpsId {
    /// Composes the Id; `None` when a part does not fit (non-digit document, série > 99999,
    /// number > 15 digits, city not 7 digits).
    pub fn compose(city: &str, cnpj_or_cpf: &str, serie: u32, number: u64) -> Option<DpsId> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if city.len() != 7 || !digits(city) || !digits(cnpj_or_cpf) || serie > 99_999 || number > 999_999_999_999_999 {
            return None;
        }
        let tp = match cnpj_or_cpf.len() {
            11 => '1',
            14 => '2',
            _ => return None,
        };
        let s = format!("DPS{city}{tp}{cnpj_or_cpf:0>14}{serie:05}{number:015}");
        DpsId::parse(&s)
    }
    pub fn parse(s: &str) -> Option<DpsId> {
        let b = s.as_bytes();
        if b.len() != 45 || !s.starts_with("DPS") || !b[3..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut a = [0u8; 45];
        a.copy_from_slice(b);
        Some(DpsId(a))
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    pub fn city(&self) -> &str {
        &self.as_str()[3..10]
    }
    /// 1 CPF, 2 CNPJ.
    pub fn inscription_type(&self) -> u8 {
        self.0[10] - b'0'
    }
    /// The document as written in the Id (14 digits; a CPF is left-padded).
    pub fn document(&self) -> &str {
        &self.as_str()[11..25]
    }
    pub fn serie(&self) -> u32 {
        self.as_str()[25..30].parse().unwrap_or(0)
    }
    pub fn number(&self) -> u64 {
        self.as_str()[30..45].parse().unwrap_or(0)
    }
}

impl fmt::Display for DpsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DpsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DpsId({})", self.as_str())
    }
}

/// The NFS-e access key (`chaveAcesso`, 50 digits), composed by Sefin: cMun(7) ambGer(1)
/// tpInsc(1) doc(14) nNFSe(13) AAMM(4) cNum(9) DV(1). The client never computes it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NfseKey(String);

impl NfseKey {
    pub fn parse(s: &str) -> Option<NfseKey> {
        (s.len() == 50 && s.bytes().all(|b| b.is_ascii_digit())).then(|| NfseKey(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `nNFSe` as carried by the key (without leading zeros).
    pub fn number(&self) -> u64 {
        self.0[23..36].parse().unwrap_or(0)
    }
}

impl fmt::Display for NfseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NfseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NfseKey({})", self.0)
    }
}

/// Modulo-11 check digit of the NFS-e key (weights 2..9 from the right), as the simulator
/// composes it.
pub fn key_dv(digits: &str) -> u8 {
    osflow_nfe::key::mod11_dv(digits.as_bytes())
}

/// `infPedReg/@Id` = `PRE` + chNFSe(50) + tpEvento(6).
pub fn event_request_id(key: &NfseKey, event_type: &str) -> String {
    format!("PRE{}{}", key.as_str(), event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dps_id_layout() {
        let id = DpsId::compose("4202404", "00000000000000", 7, 2).unwrap();
        assert_eq!(id.as_str(), "DPS420240420000000000000000007000000000000002");
        assert_eq!(id.as_str().len(), 45);
        assert_eq!((id.city(), id.inscription_type(), id.serie(), id.number()), ("4202404", 2, 7, 2));
        let cpf = DpsId::compose("3550308", "52998224725", 1, 10).unwrap();
        assert_eq!(cpf.document(), "00052998224725");
        assert_eq!(cpf.inscription_type(), 1);
        assert!(DpsId::compose("3550308", "12ABC34501DE35", 1, 1).is_none());
        assert!(DpsId::compose("3550308", "12345678000195", 100_000, 1).is_none());
        assert!(DpsId::parse("DPS42024042000000000000000000700000000000000X").is_none());
    }
}
