//! [`NfeChecks`]: the [`FiscalChecks`] port on osflow-nfe (the emitter rules of [`crate::config`], PKCS#12 files
//! opened by its certificate loader), for the function that edits the emitter and for osflow-local.

use osflow_app::{CertificateSummary, EmitterConfig, FieldProblem, FiscalChecks};
use osflow_nfe::{CertError, Certificate};

use crate::config::validate;
use crate::nfse::validate_nfse;

/// The emitter checks of the NF-e library.
#[derive(Debug, Clone, Copy, Default)]
pub struct NfeChecks;

impl FiscalChecks for NfeChecks {
    fn check_emitter(&self, config: &EmitterConfig) -> Result<(), FieldProblem> {
        validate(config)
            .and_then(|_| validate_nfse(config))
            .map(|_| ())
            .map_err(|e| FieldProblem { field: e.field, message: e.message })
    }

    fn read_certificate(&self, pkcs12: &[u8], password: &str) -> Result<CertificateSummary, FieldProblem> {
        let cert = Certificate::from_pkcs12(pkcs12, password).map_err(|e| match e {
            // A wrong password and a damaged file fail alike (the MAC does not verify): name the password, the
            // likelier cause.
            CertError::Pkcs12(_) => FieldProblem {
                field: "certificate.password".into(),
                message: "o arquivo PKCS#12 não abre com esta senha (ou está danificado)".into(),
            },
            CertError::NoPrivateKey => FieldProblem {
                field: "certificate.pkcs12".into(),
                message: "o arquivo não traz a chave privada (exporte o certificado A1 com a chave)".into(),
            },
            CertError::NotRsa => FieldProblem {
                field: "certificate.pkcs12".into(),
                message: "a chave do certificado não é RSA (a NF-e é assinada com RSA-SHA1)".into(),
            },
            other => {
                FieldProblem { field: "certificate.pkcs12".into(), message: format!("certificado inválido: {other}") }
            }
        })?;
        let info = cert.info();
        Ok(CertificateSummary {
            common_name: info.common_name.clone(),
            cnpj: info.cnpj.as_ref().map(|c| c.as_str().to_owned()),
            issuer: info.issuer.clone(),
            serial_hex: info.serial_hex.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
        })
    }
}
