//! The NF-e emitter of the company (`GET|PUT /v1/fiscal/emitter`): its configuration, the A1 certificate upload,
//! and what is shown of the certificate (never the file nor its password).

use base64::Engine;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use osflow_app::{
    ApproximateTaxesConfig, CertificateSummary, CertificateUpload, EmitterConfig, EmitterView, NfseServiceCodes,
    NfseSettings, TaxRules, TechResponsibleConfig,
};
use osflow_lambda_kit::{Problem, ProblemType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enums::FiscalEnvironment;
use super::requests::AddressInput;
use super::views::AddressView;

/// How the part lines are taxed, by `crt`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "crt", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaxRulesDto {
    /// CRT 1 — Simples Nacional: `ICMSSN102` with this CSOSN (`102` default, `103`, `300`, `400`).
    SimplesNacional {
        #[serde(default = "default_csosn")]
        #[schema(example = "102")]
        csosn: String,
    },
    /// CRT 3 — regime normal: `ICMS00`, `PISAliq`, `COFINSAliq` with these rates (percent, decimal strings).
    RegimeNormal {
        #[schema(example = "18")]
        icms_percent: String,
        #[schema(example = "1.65")]
        pis_percent: String,
        #[schema(example = "7.6")]
        cofins_percent: String,
        /// Exclude the ICMS from the PIS/COFINS base (STF RE 574.706).
        #[serde(default)]
        pis_cofins_base_excludes_icms: bool,
    },
}

fn default_csosn() -> String {
    "102".into()
}

impl From<TaxRulesDto> for TaxRules {
    fn from(t: TaxRulesDto) -> TaxRules {
        match t {
            TaxRulesDto::SimplesNacional { csosn } => TaxRules::SimplesNacional { csosn },
            TaxRulesDto::RegimeNormal { icms_percent, pis_percent, cofins_percent, pis_cofins_base_excludes_icms } => {
                TaxRules::RegimeNormal { icms_percent, pis_percent, cofins_percent, pis_cofins_base_excludes_icms }
            }
        }
    }
}

impl From<&TaxRules> for TaxRulesDto {
    fn from(t: &TaxRules) -> TaxRulesDto {
        match t.clone() {
            TaxRules::SimplesNacional { csosn } => TaxRulesDto::SimplesNacional { csosn },
            TaxRules::RegimeNormal { icms_percent, pis_percent, cofins_percent, pis_cofins_base_excludes_icms } => {
                TaxRulesDto::RegimeNormal { icms_percent, pis_percent, cofins_percent, pis_cofins_base_excludes_icms }
            }
        }
    }
}

/// The service codes of the NFS-e (`cServ`).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NfseServiceCodesDto {
    /// `cTribNac`: 6 digits (LC 116/2003 item, subitem, desdobro).
    #[schema(example = "140101")]
    pub c_trib_nac: String,
    /// `cTribMun`: 3 digits, when the municipality has one.
    #[serde(default)]
    pub c_trib_mun: Option<String>,
    /// `cNBS`: 9 digits (required with IBS/CBS).
    #[serde(default)]
    #[schema(example = "120012000")]
    pub c_nbs: Option<String>,
}

impl From<NfseServiceCodesDto> for NfseServiceCodes {
    fn from(c: NfseServiceCodesDto) -> NfseServiceCodes {
        NfseServiceCodes { c_trib_nac: c.c_trib_nac, c_trib_mun: c.c_trib_mun, c_nbs: c.c_nbs }
    }
}

impl From<&NfseServiceCodes> for NfseServiceCodesDto {
    fn from(c: &NfseServiceCodes) -> NfseServiceCodesDto {
        NfseServiceCodesDto {
            c_trib_nac: c.c_trib_nac.clone(),
            c_trib_mun: c.c_trib_mun.clone(),
            c_nbs: c.c_nbs.clone(),
        }
    }
}

/// `totTrib` of the NFS-e, by `form`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "form", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApproximateTaxesDto {
    /// `pTotTribSN`: the Simples Nacional rate (percent); required of a ME/EPP.
    SimplesRate {
        #[schema(example = "6")]
        percent: String,
    },
    /// `pTotTrib`: federal, state and municipal rates (percent).
    Rates { federal: String, state: String, municipal: String },
    /// `indTotTrib` = 0: not informed (not for a ME/EPP).
    NotInformed,
}

/// The municipal part of the emitter: the labor on the NFS-e Nacional.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NfseSettingsDto {
    /// Inscrição municipal.
    #[serde(default)]
    pub municipal_registration: Option<String>,
    /// `opSimpNac`: 1 not optant, 2 MEI, 3 ME/EPP.
    #[schema(example = 3)]
    pub simples_option: u8,
    /// `regApTribSN` (ME/EPP only): 1, 2 or 3.
    #[serde(default)]
    pub simples_regime: Option<u8>,
    /// `regEspTrib`: 0 none (default) … 6, 9.
    #[serde(default)]
    pub special_regime: u8,
    /// The DPS série, 1 to 99999 (default 1).
    #[serde(default = "default_serie")]
    pub serie: u32,
    /// The default service codes of the labor.
    pub service: NfseServiceCodesDto,
    /// Codes per service type of the OS (or per labor line code), instead of the default.
    #[serde(default)]
    pub services_by_type: BTreeMap<String, NfseServiceCodesDto>,
    /// `pAliq` (percent), where the provider informs it (Simples Nacional ME/EPP without a special regime).
    #[serde(default)]
    #[schema(example = "2")]
    pub iss_rate: Option<String>,
    /// `tpRetISSQN` by default: 1 not withheld (default), 2 withheld by the buyer.
    #[serde(default = "default_withholding")]
    pub iss_withholding: u8,
    pub approximate_taxes: ApproximateTaxesDto,
    /// The DPS signature: `rsa-sha256` (default) or `rsa-sha1`.
    #[serde(default = "default_signature")]
    #[schema(example = "rsa-sha256")]
    pub signature: String,
}

fn default_withholding() -> u8 {
    1
}
fn default_signature() -> String {
    "rsa-sha256".into()
}

impl From<NfseSettingsDto> for NfseSettings {
    fn from(n: NfseSettingsDto) -> NfseSettings {
        NfseSettings {
            municipal_registration: n.municipal_registration,
            simples_option: n.simples_option,
            simples_regime: n.simples_regime,
            special_regime: n.special_regime,
            serie: n.serie,
            service: n.service.into(),
            services_by_type: n.services_by_type.into_iter().map(|(k, v)| (k, v.into())).collect(),
            iss_rate: n.iss_rate,
            iss_withholding: n.iss_withholding,
            approximate_taxes: match n.approximate_taxes {
                ApproximateTaxesDto::SimplesRate { percent } => ApproximateTaxesConfig::SimplesRate { percent },
                ApproximateTaxesDto::Rates { federal, state, municipal } => {
                    ApproximateTaxesConfig::Rates { federal, state, municipal }
                }
                ApproximateTaxesDto::NotInformed => ApproximateTaxesConfig::NotInformed,
            },
            signature: n.signature,
        }
    }
}

impl From<&NfseSettings> for NfseSettingsDto {
    fn from(n: &NfseSettings) -> NfseSettingsDto {
        NfseSettingsDto {
            municipal_registration: n.municipal_registration.clone(),
            simples_option: n.simples_option,
            simples_regime: n.simples_regime,
            special_regime: n.special_regime,
            serie: n.serie,
            service: (&n.service).into(),
            services_by_type: n.services_by_type.iter().map(|(k, v)| (k.clone(), v.into())).collect(),
            iss_rate: n.iss_rate.clone(),
            iss_withholding: n.iss_withholding,
            approximate_taxes: match n.approximate_taxes.clone() {
                ApproximateTaxesConfig::SimplesRate { percent } => ApproximateTaxesDto::SimplesRate { percent },
                ApproximateTaxesConfig::Rates { federal, state, municipal } => {
                    ApproximateTaxesDto::Rates { federal, state, municipal }
                }
                ApproximateTaxesConfig::NotInformed => ApproximateTaxesDto::NotInformed,
            },
            signature: n.signature.clone(),
        }
    }
}

/// `infRespTec`: the software house responsible for the system.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechResponsibleDto {
    #[schema(example = "11222333000181")]
    pub cnpj: String,
    #[schema(example = "Suporte osflow")]
    pub contact: String,
    #[schema(example = "suporte@exemplo.com.br")]
    pub email: String,
    #[schema(example = "11987654321")]
    pub phone: String,
}

/// The A1 certificate: the PKCS#12 file (`.pfx`/`.p12`) in base64, and its password. Write-only.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateInput {
    /// The file's bytes in base64 (standard alphabet, padding optional).
    pub pkcs12: String,
    pub password: String,
}

impl std::fmt::Debug for CertificateInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateInput(<redacted>)")
    }
}

/// The emitter (`PUT` replaces it whole). The certificate is required the first time; omitted later, the stored
/// one is kept (it must belong to the CNPJ).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmitterInput {
    /// CNPJ (14 characters, alphanumeric allowed; punctuation ignored).
    #[schema(example = "11.222.333/0001-81")]
    pub cnpj: String,
    /// Inscrição estadual (digits) or `ISENTO`.
    #[schema(example = "110042490114")]
    pub ie: String,
    #[schema(example = "Oficina Exemplo Ltda")]
    pub legal_name: String,
    #[serde(default)]
    pub trade_name: Option<String>,
    pub address: AddressInput,
    #[serde(default)]
    pub phone: Option<String>,
    /// Série of the NF-e, 0 to 999 (default 1).
    #[serde(default = "default_serie")]
    pub serie: u32,
    #[serde(default = "default_environment")]
    pub environment: FiscalEnvironment,
    /// CFOP of the part lines (default 5102).
    #[serde(default = "default_cfop")]
    #[schema(example = "5102")]
    pub cfop: String,
    pub tax: TaxRulesDto,
    /// Write the IBS/CBS groups of the 2026 tax reform.
    #[serde(default)]
    pub ibs_cbs: bool,
    pub tech_responsible: TechResponsibleDto,
    /// The municipal part (NFS-e Nacional of the labor); omitted: the company issues no NFS-e through osflow.
    #[serde(default)]
    pub nfse: Option<NfseSettingsDto>,
    /// The labor's NFS-e is issued outside osflow (a municipality with its own issuer, such as São Paulo capital):
    /// the release of an OS with labor waits for one recorded on it (`POST /v1/orders/{id}/invoices/external`).
    /// Not with `nfse`.
    #[serde(default)]
    pub nfse_elsewhere: bool,
    #[serde(default)]
    pub certificate: Option<CertificateInput>,
}

fn default_serie() -> u32 {
    1
}
fn default_environment() -> FiscalEnvironment {
    FiscalEnvironment::Homologation
}
fn default_cfop() -> String {
    "5102".into()
}

/// A file sent in a JSON body as base64 (standard alphabet; line breaks and spaces ignored, padding optional
/// but never more than the canonical one, no stray bits after the last byte); text that is not base64 is a
/// problem naming `field`.
pub(crate) fn base64_file(text: &str, field: &str, reason: &str) -> Result<Vec<u8>, Problem> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT_PAD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let cleaned: String = text.chars().filter(|ch| !ch.is_ascii_whitespace()).collect();
    LENIENT_PAD.decode(cleaned).map_err(|_| Problem::field(ProblemType::InvalidField, field, reason))
}

impl EmitterInput {
    /// The configuration and the decoded certificate; a certificate that is not base64 is a problem naming
    /// `certificate.pkcs12`.
    pub fn into_parts(self) -> Result<(EmitterConfig, Option<CertificateUpload>), Problem> {
        let certificate = match self.certificate {
            None => None,
            Some(c) => {
                let pkcs12 =
                    base64_file(&c.pkcs12, "certificate.pkcs12", "o arquivo do certificado deve vir em base64")?;
                Some(CertificateUpload { pkcs12, password: c.password })
            }
        };
        let config = EmitterConfig {
            cnpj: self.cnpj.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase(),
            ie: self.ie,
            legal_name: self.legal_name,
            trade_name: self.trade_name.filter(|t| !t.trim().is_empty()),
            address: self.address.into(),
            phone: self.phone.filter(|p| !p.trim().is_empty()),
            serie: self.serie,
            environment: self.environment.into(),
            cfop: self.cfop,
            tax: self.tax.into(),
            ibs_cbs: self.ibs_cbs,
            tech_responsible: TechResponsibleConfig {
                cnpj: self.tech_responsible.cnpj.chars().filter(char::is_ascii_alphanumeric).collect(),
                contact: self.tech_responsible.contact,
                email: self.tech_responsible.email,
                phone: self.tech_responsible.phone,
            },
            nfse: self.nfse.map(Into::into),
            nfse_elsewhere: self.nfse_elsewhere,
        };
        Ok((config, certificate))
    }
}

/// What is shown of the A1 certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    #[schema(example = "OFICINA EXEMPLO LTDA:11222333000181")]
    pub common_name: String,
    pub cnpj: Option<String>,
    pub issuer: String,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    /// Renew before this instant: an expired certificate signs no NF-e.
    pub not_after: DateTime<Utc>,
}

impl From<&CertificateSummary> for CertificateView {
    fn from(c: &CertificateSummary) -> CertificateView {
        CertificateView {
            common_name: c.common_name.clone(),
            cnpj: c.cnpj.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial_hex.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
        }
    }
}

/// The company's emitter as stored, with the facts of its certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmitterSettingsView {
    pub cnpj: String,
    pub ie: String,
    pub legal_name: String,
    pub trade_name: Option<String>,
    pub address: AddressView,
    pub phone: Option<String>,
    pub serie: u32,
    pub environment: FiscalEnvironment,
    pub cfop: String,
    pub tax: TaxRulesDto,
    pub ibs_cbs: bool,
    pub tech_responsible: TechResponsibleDto,
    /// The municipal part, when configured.
    pub nfse: Option<NfseSettingsDto>,
    /// The labor's NFS-e is issued outside osflow and recorded on each OS.
    pub nfse_elsewhere: bool,
    /// Where the labor's NFS-e comes from when osflow does not issue it (the municipality outside the national
    /// system, what the release waits for); `null` when the municipal part is configured.
    pub nfse_notice: Option<String>,
    /// `null` when no certificate is stored (or the stored one no longer opens): upload one.
    pub certificate: Option<CertificateView>,
    /// SEFAZ's contingency the NF-e are issued in now (the UF's authorizer down); `null` in normal issue. The
    /// invoicer enters it and returns to normal when the authorizer answers again.
    pub contingency: Option<super::views::ContingencyView>,
}

impl From<&EmitterView> for EmitterSettingsView {
    fn from(v: &EmitterView) -> EmitterSettingsView {
        let c = &v.config;
        EmitterSettingsView {
            cnpj: c.cnpj.clone(),
            ie: c.ie.clone(),
            legal_name: c.legal_name.clone(),
            trade_name: c.trade_name.clone(),
            address: (&c.address).into(),
            phone: c.phone.clone(),
            serie: c.serie,
            environment: c.environment.into(),
            cfop: c.cfop.clone(),
            tax: (&c.tax).into(),
            ibs_cbs: c.ibs_cbs,
            tech_responsible: TechResponsibleDto {
                cnpj: c.tech_responsible.cnpj.clone(),
                contact: c.tech_responsible.contact.clone(),
                email: c.tech_responsible.email.clone(),
                phone: c.tech_responsible.phone.clone(),
            },
            nfse: c.nfse.as_ref().map(Into::into),
            nfse_elsewhere: c.nfse_elsewhere,
            nfse_notice: osflow_domain::nfse_notice(c.address.city_code.as_str(), c.nfse.is_some(), c.nfse_elsewhere),
            certificate: v.certificate.as_ref().map(Into::into),
            contingency: v.contingency.as_ref().map(Into::into),
        }
    }
}
