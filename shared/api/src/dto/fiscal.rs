//! The NF-e emitter of the company (`GET|PUT /v1/fiscal/emitter`): its configuration, the A1 certificate upload,
//! and what is shown of the certificate (never the file nor its password).

use base64::Engine;
use chrono::{DateTime, Utc};
use osflow_app::{CertificateSummary, CertificateUpload, EmitterConfig, EmitterView, TaxRules, TechResponsibleConfig};
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

impl EmitterInput {
    /// The configuration and the decoded certificate; a certificate that is not base64 is a problem naming
    /// `certificate.pkcs12`.
    pub fn into_parts(self) -> Result<(EmitterConfig, Option<CertificateUpload>), Problem> {
        let certificate = match self.certificate {
            None => None,
            Some(c) => {
                let cleaned: String = c.pkcs12.chars().filter(|ch| !ch.is_ascii_whitespace()).collect();
                let pkcs12 = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(cleaned.trim_end_matches('='))
                    .map_err(|_| {
                        Problem::field(
                            ProblemType::InvalidField,
                            "certificate.pkcs12",
                            "o arquivo do certificado deve vir em base64",
                        )
                    })?;
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
    /// `null` when no certificate is stored (or the stored one no longer opens): upload one.
    pub certificate: Option<CertificateView>,
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
            certificate: v.certificate.as_ref().map(Into::into),
        }
    }
}
