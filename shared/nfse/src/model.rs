//! What the caller provides to build a DPS (leiaute 1.01). Field docs name the schema tag.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;

pub use osflow_nfe::key::{Cnpj, Cpf};
pub use osflow_nfe::model::Environment;

/// A DPS: one service code (`cServ`) per document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpsInput {
    /// `tpAmb`.
    pub environment: Environment,
    /// `dhEmi` (the offset is written as given, e.g. -03:00).
    pub issued_at: DateTime<FixedOffset>,
    /// `dCompet`: the month the service was provided (usually the issue date).
    pub competence: NaiveDate,
    /// `verAplic` (1–20 characters).
    pub app_version: String,
    /// `serie` (1–99999).
    pub serie: u32,
    /// `nDPS` (1–999999999999999).
    pub number: u64,
    /// `cLocEmi`: IBGE code of the municipality where the provider is registered.
    pub issuer_city: String,
    pub provider: Provider,
    /// `toma`: the buyer (optional for an unidentified consumer).
    pub taker: Option<Taker>,
    pub service: Service,
    pub values: Values,
    /// `IBSCBS` (tax reform), behind the emitter's flag.
    pub ibs_cbs: Option<IbsCbs>,
}

/// `prest`: the provider (always the emitter here: `tpEmit` = 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// `CNPJ` (the 1.01 schema accepts digits only).
    pub cnpj: Cnpj,
    /// `IM`: inscrição municipal (optional in the national system).
    pub im: Option<String>,
    /// `fone`: digits only after cleaning (6–20).
    pub phone: Option<String>,
    /// `email`.
    pub email: Option<String>,
    pub regime: Regime,
}

/// `regTrib`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regime {
    /// `opSimpNac` (+ `regApTribSN` for ME/EPP).
    pub simples: SimplesOption,
    /// `regEspTrib`: 0 none, 1 cooperative, 2 estimate, 3 municipal micro-company, 4 notary,
    /// 5 self-employed professional, 6 professional society, 9 others.
    pub special: u8,
}

/// Situation before the Simples Nacional (`opSimpNac`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimplesOption {
    /// 1 — not optant (regime normal).
    NotOptant,
    /// 2 — MEI.
    Mei,
    /// 3 — ME/EPP, with `regApTribSN` when given (1 all by the SN, 2 ISS outside, 3 both outside).
    MeEpp { regime_ap: Option<u8> },
}

impl SimplesOption {
    pub fn code(self) -> u8 {
        match self {
            SimplesOption::NotOptant => 1,
            SimplesOption::Mei => 2,
            SimplesOption::MeEpp { .. } => 3,
        }
    }
}

/// `toma`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taker {
    pub id: TakerId,
    /// `IM` of the buyer, when known.
    pub im: Option<String>,
    /// `xNome`.
    pub name: String,
    /// `end` (national address).
    pub address: Option<TakerAddress>,
    /// `fone`.
    pub phone: Option<String>,
    /// `email`.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakerId {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

/// `toma/end` with `endNac`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakerAddress {
    /// `endNac/cMun`.
    pub city_code: String,
    /// `endNac/CEP` (8 digits; punctuation is removed).
    pub cep: String,
    /// `xLgr`.
    pub street: String,
    /// `nro`.
    pub number: String,
    /// `xCpl`.
    pub complement: Option<String>,
    /// `xBairro`.
    pub district: String,
}

/// `serv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `locPrest/cLocPrestacao`.
    pub place_city: String,
    /// `cServ/cTribNac` (6 digits: item, subitem, desdobro of LC 116/2003).
    pub c_trib_nac: String,
    /// `cServ/cTribMun` (3 digits).
    pub c_trib_mun: Option<String>,
    /// `cServ/xDescServ` (≤ 2000): the OS's labor lines of this code.
    pub description: String,
    /// `cServ/cNBS` (9 digits; required with IBSCBS).
    pub c_nbs: Option<String>,
    /// `cServ/cIntContrib` (1–20 letters and digits): e.g. the OS number.
    pub internal_code: Option<String>,
}

/// `valores`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    /// `vServPrest/vServ`: the sum of the labor lines (before discounts).
    pub amount: Decimal,
    /// `vDescCondIncond/vDescIncond`.
    pub unconditional_discount: Option<Decimal>,
    /// `vDescCondIncond/vDescCond`.
    pub conditional_discount: Option<Decimal>,
    pub iss: Iss,
    /// `trib/totTrib`.
    pub approximate_taxes: ApproximateTaxes,
}

/// `trib/tribMun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iss {
    pub taxation: IssTaxation,
    pub withholding: Withholding,
    /// `pAliq` (%): only where the national system lets the provider inform it.
    pub rate: Option<Decimal>,
}

/// `tribISSQN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssTaxation {
    /// 1 — taxable.
    Taxable,
    /// 2 — immunity.
    Immune,
    /// 4 — not incident.
    NotIncident,
}

impl IssTaxation {
    pub fn code(self) -> u8 {
        match self {
            IssTaxation::Taxable => 1,
            IssTaxation::Immune => 2,
            IssTaxation::NotIncident => 4,
        }
    }
}

/// `tpRetISSQN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withholding {
    /// 1 — not withheld.
    NotWithheld,
    /// 2 — withheld by the buyer.
    ByTaker,
    /// 3 — withheld by an intermediary.
    ByIntermediary,
}

impl Withholding {
    pub fn code(self) -> u8 {
        match self {
            Withholding::NotWithheld => 1,
            Withholding::ByTaker => 2,
            Withholding::ByIntermediary => 3,
        }
    }
    pub fn from_code(c: u8) -> Option<Withholding> {
        match c {
            1 => Some(Withholding::NotWithheld),
            2 => Some(Withholding::ByTaker),
            3 => Some(Withholding::ByIntermediary),
            _ => None,
        }
    }
}

/// `totTrib` (a choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproximateTaxes {
    /// `pTotTribSN`: the Simples Nacional rate (%), for optants.
    SimplesRate(Decimal),
    /// `pTotTrib`: federal, state and municipal rates (%).
    Rates { federal: Decimal, state: Decimal, municipal: Decimal },
    /// `indTotTrib` = 0: not informed (Decreto 8.264/2014); not for ME/EPP.
    NotInformed,
}

/// `IBSCBS` of the DPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbsCbs {
    /// `cIndOp` (6 digits, table "código indicador de operação").
    pub c_ind_op: String,
    /// `indFinal`: personal use or consumption.
    pub final_consumer: Option<bool>,
    /// `valores/trib/gIBSCBS/CST` (3 digits).
    pub cst: String,
    /// `valores/trib/gIBSCBS/cClassTrib` (6 digits).
    pub c_class_trib: String,
}
