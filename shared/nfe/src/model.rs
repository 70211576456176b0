//! What the caller provides to build an NF-e for the parts of a service order.

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;

use crate::key::{Cnf, Cnpj, Cpf, Uf};

/// `tpAmb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// 1 — produção.
    Production,
    /// 2 — homologação (no fiscal value; `dest/xNome` is forced to the homologation text).
    Homologation,
}

impl Environment {
    pub fn code(self) -> u8 {
        match self {
            Environment::Production => 1,
            Environment::Homologation => 2,
        }
    }
}

/// The `dest/xNome` SEFAZ requires in homologation (else rejection 598).
pub const HOMOLOGATION_DEST_NAME: &str = "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL";

/// `tpEmis`: normal issue or the SEFAZ virtual contingency authorizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmissionType {
    /// 1.
    Normal,
    /// 6 — SVC-AN.
    SvcAn,
    /// 7 — SVC-RS.
    SvcRs,
}

impl EmissionType {
    pub fn code(self) -> u8 {
        match self {
            EmissionType::Normal => 1,
            EmissionType::SvcAn => 6,
            EmissionType::SvcRs => 7,
        }
    }

    /// The emission type of a `tpEmis` digit this crate issues (1, 6, 7).
    pub fn from_code(code: u8) -> Option<EmissionType> {
        match code {
            1 => Some(EmissionType::Normal),
            6 => Some(EmissionType::SvcAn),
            7 => Some(EmissionType::SvcRs),
            _ => None,
        }
    }
}

/// Entry into contingency (`ide/dhCont`, `ide/xJust`), required when `tpEmis` is not 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contingency {
    pub since: DateTime<FixedOffset>,
    /// 15 to 256 characters.
    pub reason: String,
}

/// `CRT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crt {
    /// 1 — Simples Nacional.
    SimplesNacional,
    /// 3 — regime normal.
    RegimeNormal,
}

impl Crt {
    pub fn code(self) -> u8 {
        match self {
            Crt::SimplesNacional => 1,
            Crt::RegimeNormal => 3,
        }
    }
}

/// An address (`enderEmit` / `enderDest`); country is always Brazil (1058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `xLgr`, 2..60.
    pub street: String,
    /// `nro`, 1..60 ("S/N" when there is none).
    pub number: String,
    /// `xCpl`, optional, 1..60.
    pub complement: Option<String>,
    /// `xBairro`, 2..60.
    pub district: String,
    /// `cMun`, IBGE code, 7 digits.
    pub city_code: String,
    /// `xMun`, 2..60.
    pub city: String,
    pub uf: Uf,
    /// `CEP`, 8 digits (punctuation is removed).
    pub cep: String,
    /// `fone`, 6..14 digits (punctuation is removed), optional.
    pub phone: Option<String>,
}

/// `emit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitter {
    pub cnpj: Cnpj,
    /// `xNome`, 2..60.
    pub name: String,
    /// `xFant`, optional, 1..60.
    pub trade_name: Option<String>,
    pub address: Address,
    /// `IE`: 2..14 digits or "ISENTO".
    pub ie: String,
    pub crt: Crt,
}

/// Buyer identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientId {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

/// `dest`: a final consumer (`indIEDest` = 9, não contribuinte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: RecipientId,
    /// `xNome`, 2..60. Replaced by [`HOMOLOGATION_DEST_NAME`] in homologation.
    pub name: String,
    pub address: Option<Address>,
    /// `email`, optional, up to 60.
    pub email: Option<String>,
}

/// CSOSN of `ICMSSN102`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Csosn102 {
    /// 102 — tributada pelo Simples Nacional sem permissão de crédito.
    C102,
    /// 103 — isenção do ICMS no Simples Nacional para faixa de receita bruta.
    C103,
    /// 300 — imune.
    C300,
    /// 400 — não tributada pelo Simples Nacional.
    C400,
}

impl Csosn102 {
    pub fn code(self) -> &'static str {
        match self {
            Csosn102::C102 => "102",
            Csosn102::C103 => "103",
            Csosn102::C300 => "300",
            Csosn102::C400 => "400",
        }
    }
}

/// ICMS of an item sold by a Simples Nacional emitter (CRT 1). PIS/COFINS are written as
/// `PISOutr`/`COFINSOutr` CST 49 with zero values (they are collected in the DAS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimplesIcms {
    /// `ICMSSN102`.
    Sn102(Csosn102),
    /// `ICMSSN101`: with permission of credit; `vCredICMSSN` = net item value × pCredSN.
    Sn101 { p_cred_sn: Decimal },
    /// `ICMSSN500`: ICMS previously charged by substitution.
    Sn500,
}

/// Taxes of an item sold by a regime-normal emitter (CRT 3): `ICMS00` (modBC 3, base = net
/// item value), `PISAliq` and `COFINSAliq` CST 01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalTax {
    /// `pICMS` in percent (e.g. 18).
    pub p_icms: Decimal,
    /// `pPIS` in percent (e.g. 1.65).
    pub p_pis: Decimal,
    /// `pCOFINS` in percent (e.g. 7.6).
    pub p_cofins: Decimal,
    /// Exclude the item's ICMS from the PIS/COFINS base (STF RE 574.706).
    pub pis_cofins_base_excludes_icms: bool,
}

/// Taxes of one item; must agree with the emitter's CRT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemTax {
    Simples(SimplesIcms),
    Normal(NormalTax),
}

/// One part line (`det`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `cProd`, 1..60.
    pub code: String,
    /// `xProd`, 1..120.
    pub description: String,
    /// `NCM`, 8 digits.
    pub ncm: String,
    /// `CFOP`, 4 digits (5102 for in-state resale).
    pub cfop: String,
    /// `uCom`/`uTrib`, 1..6 (e.g. "UN").
    pub unit: String,
    /// `qCom`/`qTrib`, > 0, up to 4 decimals.
    pub quantity: Decimal,
    /// `vUnCom`/`vUnTrib`, >= 0, up to 10 decimals.
    pub unit_price: Decimal,
    /// `vDesc`, optional, up to 2 decimals, at most the item value.
    pub discount: Option<Decimal>,
    /// `orig` (0 = nacional ... 8).
    pub origin: u8,
    pub tax: ItemTax,
}

/// IBS/CBS of the 2026 tax reform (`det/imposto/IBSCBS`, `total/IBSCBSTot`), applied to every
/// item when the emitter enables it. In 2026 these values are informative: they are **not**
/// added to `vNF`. The base (`vBC`) is the net item value minus the item's ICMS, PIS and COFINS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbsCbs {
    /// `CST`, 3 digits (e.g. "000").
    pub cst: String,
    /// `cClassTrib`, 6 digits (e.g. "000001").
    pub c_class_trib: String,
    /// `pIBSUF` in percent (0.1 in 2026).
    pub p_ibs_uf: Decimal,
    /// `pIBSMun` in percent (0 in 2026).
    pub p_ibs_mun: Decimal,
    /// `pCBS` in percent (0.9 in 2026).
    pub p_cbs: Decimal,
}

impl IbsCbs {
    /// The 2026 "test year" rates: CST 000, cClassTrib 000001, CBS 0.9 %, IBS-UF 0.1 %, IBS-Mun 0 %.
    pub fn test_year_2026() -> IbsCbs {
        IbsCbs {
            cst: "000".into(),
            c_class_trib: "000001".into(),
            p_ibs_uf: Decimal::new(1, 1),
            p_ibs_mun: Decimal::ZERO,
            p_cbs: Decimal::new(9, 1),
        }
    }
}

/// Card data (`detPag/card`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// `tpIntegra`: true = 1 (integrated with the POS/TEF), false = 2 (separate terminal).
    pub integrated: bool,
    /// `CNPJ` of the acquirer, optional.
    pub acquirer_cnpj: Option<Cnpj>,
    /// `tBand`, 2 digits (01 Visa, 02 Mastercard, ...), optional.
    pub brand: Option<String>,
    /// `cAut`, authorization code, optional.
    pub authorization: Option<String>,
}

/// Payment method (`tPag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethod {
    /// 01.
    Cash,
    /// 03.
    CreditCard(Card),
    /// 04.
    DebitCard(Card),
    /// 15.
    Boleto,
    /// 17 — PIX dinâmico (QR code with amount).
    PixDynamic,
    /// 20 — PIX estático.
    PixStatic,
    /// 18 — transferência bancária / carteira digital.
    Transfer,
    /// 99 — other, with its description (`xPag`, 2..60).
    Other(String),
}

impl PaymentMethod {
    pub fn t_pag(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "01",
            PaymentMethod::CreditCard(_) => "03",
            PaymentMethod::DebitCard(_) => "04",
            PaymentMethod::Boleto => "15",
            PaymentMethod::PixDynamic => "17",
            PaymentMethod::Transfer => "18",
            PaymentMethod::PixStatic => "20",
            PaymentMethod::Other(_) => "99",
        }
    }
}

/// One payment (`detPag`, paid in cash terms: `indPag` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub method: PaymentMethod,
    /// `vPag`, > 0, up to 2 decimals.
    pub amount: Decimal,
}

/// `infRespTec`: the software house responsible for the system (required by most UFs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechResponsible {
    pub cnpj: Cnpj,
    /// `xContato`, 2..60.
    pub contact: String,
    /// `email`, 6..60.
    pub email: String,
    /// `fone`, 6..14 digits.
    pub phone: String,
}

/// Everything needed to build one NF-e (model 55, `tpNF` 1 saída, `finNFe` 1 normal,
/// `indFinal` 1 consumer, `indPres` 1 presencial, `modFrete` 9, `procEmi` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfeInput {
    pub environment: Environment,
    pub emission: EmissionType,
    /// Required when `emission` is not [`EmissionType::Normal`].
    pub contingency: Option<Contingency>,
    /// `natOp`, 1..60 (e.g. "VENDA DE PECAS").
    pub nat_op: String,
    /// `serie`, 0..=999.
    pub serie: u16,
    /// `nNF`, 1..=999999999, allocated per (CNPJ, série).
    pub n_nf: u32,
    /// The stored cNF (see [`Cnf`]): never regenerate it for a retry.
    pub cnf: Cnf,
    /// `dhEmi` (offset must be a whole number of hours, as the schema requires).
    pub issued_at: DateTime<FixedOffset>,
    /// `dhSaiEnt`, optional.
    pub departure_at: Option<DateTime<FixedOffset>>,
    pub emitter: Emitter,
    pub recipient: Recipient,
    /// 1..=990 items.
    pub items: Vec<Item>,
    /// 1..=100 payments; their sum must reach `vNF` (the excess becomes `vTroco`).
    pub payments: Vec<Payment>,
    /// IBS/CBS groups, when the emitter enables them.
    pub ibs_cbs: Option<IbsCbs>,
    /// `infAdic/infCpl`, optional, up to 5000.
    pub additional_info: Option<String>,
    pub tech_responsible: TechResponsible,
    /// `verProc`, 1..20 (the application name and version).
    pub app_version: String,
}
