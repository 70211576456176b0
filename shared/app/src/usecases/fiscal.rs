//! The company's NF-e emitter as the `representante` edits it: the configuration and the A1 certificate
//! (`GET|PUT /v1/fiscal/emitter`), and the retry of a rejected NF-e.
//!
//! Opening a PKCS#12 file and checking a configuration against the NF-e rules need the NF-e library, which only
//! the function that serves these routes links: the [`FiscalChecks`] port, wired in [`FiscalAdmin`]
//! there (and in osflow-local); every other function leaves [`App::fiscal`] empty.

use chrono::{DateTime, Utc};
use osflow_domain::{DomainError, Role};

use crate::ports::{
    ApproximateTaxesConfig, CertificateSummary, ContingencyEntry, EmitterConfig, FieldProblem, FiscalAdmin,
    FiscalEnvironment, NfseServiceCodes, NfseSettings, TaxRules, TechResponsibleConfig,
};
use crate::usecases::{App, AppError, AppResult, Caller};

/// A certificate upload: the PKCS#12 bytes and the password (never stored anywhere but the certificate store,
/// never logged: `Debug` redacts both).
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateUpload {
    pub pkcs12: Vec<u8>,
    pub password: String,
}

impl std::fmt::Debug for CertificateUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateUpload")
            .field("pkcs12", &format_args!("<{} bytes>", self.pkcs12.len()))
            .field("password", &"<redacted>")
            .finish()
    }
}

impl EmitterConfig {
    /// The example emitter of osflow-local's demo and of the tests (osflow-testkit's), each for its own company
    /// (CNPJ, names, address, phone, `infRespTec`): IE 111222333444, série 1, homologation, CFOP 5102, Simples
    /// Nacional (CSOSN 102), no IBS/CBS groups, no municipal part ([`NfseSettings::example`] is one).
    pub fn example(
        cnpj: &str,
        legal_name: &str,
        trade_name: &str,
        address: osflow_domain::Address,
        phone: &str,
        tech_responsible: TechResponsibleConfig,
    ) -> EmitterConfig {
        EmitterConfig {
            cnpj: cnpj.into(),
            ie: "111222333444".into(),
            legal_name: legal_name.into(),
            trade_name: Some(trade_name.into()),
            address,
            phone: Some(phone.into()),
            serie: 1,
            environment: FiscalEnvironment::Homologation,
            cfop: "5102".into(),
            tax: TaxRules::SimplesNacional { csosn: "102".into() },
            ibs_cbs: false,
            tech_responsible,
            nfse: None,
            nfse_elsewhere: false,
        }
    }
}

impl NfseSettings {
    /// The example emitter's municipal part (osflow-local's demo and the tests): Simples Nacional ME/EPP, municipal
    /// registration 123456, série 1, the labor under item 14.01 (conserto e manutenção, `cTribNac` 140101) with the
    /// NBS of computer repair (120012000), no codes by service type, ISS 2 % withheld by nobody, approximate taxes
    /// at the Simples rate (6 %), RSA-SHA256.
    pub fn example() -> NfseSettings {
        NfseSettings {
            municipal_registration: Some("123456".into()),
            simples_option: 3,
            simples_regime: Some(1),
            special_regime: 0,
            serie: 1,
            service: NfseServiceCodes {
                c_trib_nac: "140101".into(),
                c_trib_mun: None,
                c_nbs: Some("120012000".into()),
            },
            services_by_type: Default::default(),
            iss_rate: Some("2".into()),
            iss_withholding: 1,
            approximate_taxes: ApproximateTaxesConfig::SimplesRate { percent: "6".into() },
            signature: "rsa-sha256".into(),
        }
    }
}

/// The emitter as the API shows it: the configuration and the certificate's facts (never the file nor its
/// password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitterView {
    pub config: EmitterConfig,
    pub certificate: Option<CertificateSummary>,
    /// The SEFAZ contingency the company's NF-e are issued in now (its UF's authorizer down), if any.
    pub contingency: Option<ContingencyEntry>,
}

/// An expired certificate, or one not valid yet, cannot sign: refused as an upload.
fn check_validity(cert: &CertificateSummary, now: DateTime<Utc>) -> Result<(), FieldProblem> {
    let fmt = |t: DateTime<Utc>| t.format("%d/%m/%Y %H:%M UTC").to_string();
    if now > cert.not_after {
        return Err(problem("certificate.pkcs12", format!("o certificado venceu em {}", fmt(cert.not_after))));
    }
    // A certificate issued moments ago may start a little after this clock: five minutes of skew are allowed.
    if now + chrono::Duration::minutes(5) < cert.not_before {
        return Err(problem(
            "certificate.pkcs12",
            format!("o certificado só vale a partir de {}", fmt(cert.not_before)),
        ));
    }
    Ok(())
}

/// SEFAZ compares the CNPJ root (the first 8 characters) of the certificate and of the emitter (rejection 213).
fn check_holder(cert: &CertificateSummary, config: &EmitterConfig, field: &str) -> Result<(), FieldProblem> {
    let emitter: String = config.cnpj.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase();
    match &cert.cnpj {
        None => Err(problem(field, "o certificado não traz CNPJ (não é um e-CNPJ ICP-Brasil)")),
        Some(holder) if holder.get(..8) != emitter.get(..8) => Err(problem(
            field,
            format!("o certificado é do CNPJ {holder}, de outra empresa que o emitente {emitter} (rejeição 213)"),
        )),
        Some(_) => Ok(()),
    }
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem { field: field.to_owned(), message: message.into() }
}

fn invalid(p: FieldProblem) -> AppError {
    AppError::Domain(DomainError::Invalid { field: p.field, reason: p.message })
}

/// Who may read the emitter settings (the financial staff sees where the NF-e come from); only the
/// `representante` changes them.
const FISCAL_READERS: [Role; 2] = [Role::Representante, Role::Financeiro];

impl App {
    fn fiscal(&self) -> AppResult<&FiscalAdmin> {
        // Only the function serving the fiscal routes wires it; another one never routes here.
        self.fiscal.as_ref().ok_or(AppError::NotFound)
    }

    /// The company's emitter (`NotFound` while none is configured), with its certificate's facts.
    pub async fn fiscal_emitter(&self, caller: &Caller) -> AppResult<EmitterView> {
        self.require(caller, &FISCAL_READERS)?;
        let fiscal = self.fiscal()?;
        let config = fiscal.emitters.emitter(&caller.tenant).await?.ok_or(AppError::NotFound)?;
        let certificate = match fiscal.emitters.certificate(&caller.tenant).await? {
            None => None,
            // A stored certificate that no longer opens shows as none: the representante uploads it again.
            Some(stored) => fiscal.checks.read_certificate(&stored.pkcs12, &stored.password).ok(),
        };
        let contingency = self.contingency_in_force(fiscal, caller, &config).await?;
        Ok(EmitterView { config, certificate, contingency })
    }

    /// Configures (or reconfigures) the company's emitter. Everything is checked before anything is stored: the
    /// configuration (NF-e rules), the certificate (opens with the password, valid now, of the emitter's CNPJ
    /// root); without a new certificate the stored one must exist and still belong to the CNPJ. `representante`
    /// only. Homologação → produção is the `environment` field.
    pub async fn put_fiscal_emitter(
        &self,
        caller: &Caller,
        config: EmitterConfig,
        certificate: Option<CertificateUpload>,
    ) -> AppResult<EmitterView> {
        self.require(caller, &crate::usecases::ADMIN_ROLES)?;
        let fiscal = self.fiscal()?;
        fiscal.checks.check_emitter(&config).map_err(invalid)?;
        let now = self.clock.now();
        let summary = match &certificate {
            Some(upload) => {
                if upload.pkcs12.is_empty() {
                    return Err(invalid(problem("certificate.pkcs12", "arquivo vazio")));
                }
                let summary = fiscal.checks.read_certificate(&upload.pkcs12, &upload.password).map_err(invalid)?;
                check_validity(&summary, now).map_err(invalid)?;
                check_holder(&summary, &config, "certificate.pkcs12").map_err(invalid)?;
                summary
            }
            None => {
                let stored = fiscal.emitters.certificate(&caller.tenant).await?.ok_or_else(|| {
                    invalid(problem("certificate", "envie o certificado A1 (arquivo PKCS#12 e senha)"))
                })?;
                let summary = fiscal.checks.read_certificate(&stored.pkcs12, &stored.password).map_err(|_| {
                    invalid(problem("certificate", "o certificado guardado não abre mais: envie-o de novo"))
                })?;
                check_holder(&summary, &config, "cnpj").map_err(invalid)?;
                summary
            }
        };
        if let Some(upload) = &certificate {
            fiscal.emitters.put_certificate(&caller.tenant, &upload.pkcs12, &upload.password).await?;
        }
        fiscal.emitters.put_emitter(&caller.tenant, &config).await?;
        let contingency = self.contingency_in_force(fiscal, caller, &config).await?;
        Ok(EmitterView { config, certificate: Some(summary), contingency })
    }

    /// The contingency in force for the emitter's environment (the invoicer enters and leaves it).
    async fn contingency_in_force(
        &self,
        fiscal: &FiscalAdmin,
        caller: &Caller,
        config: &EmitterConfig,
    ) -> AppResult<Option<ContingencyEntry>> {
        let state = fiscal.emitters.contingency(&caller.tenant).await?;
        Ok(state.and_then(|s| s.active_in(config.environment).cloned()))
    }
}
