//! The emitter configuration, checked and converted to the osflow-nfe types.

use std::str::FromStr;

use osflow_app::{EmitterConfig, FiscalEnvironment, TaxRules};
use osflow_nfe::{
    Address, Cnpj, Crt, Csosn102, Emitter, Environment, IbsCbs, ItemTax, NormalTax, SimplesIcms, TechResponsible,
};
use rust_decimal::Decimal;

/// A field of the emitter configuration that cannot be used (messages in Portuguese: they reach the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuração do emitente inválida: {field}: {message}")]
pub struct ConfigError {
    /// The field, as named in the API (e.g. `tax.icms_percent`).
    pub field: String,
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

/// An emitter ready for [`crate::mapping::nfe_input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEmitter {
    pub emitter: Emitter,
    pub environment: Environment,
    pub serie: u16,
    pub cfop: String,
    pub tax: ItemTax,
    pub ibs_cbs: Option<IbsCbs>,
    pub tech_responsible: TechResponsible,
}

fn percent(field: &str, s: &str) -> Result<Decimal, ConfigError> {
    let v = Decimal::from_str(s.trim()).map_err(|_| bad(field, format!("{s:?} não é um número")))?;
    if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED || v.scale() > 4 {
        return Err(bad(field, "deve estar entre 0 e 100, com até 4 casas decimais"));
    }
    Ok(v)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Checks a configuration (the API stores only configurations that pass) and converts it.
pub fn validate(c: &EmitterConfig) -> Result<ValidEmitter, ConfigError> {
    let cnpj = Cnpj::parse(&c.cnpj).map_err(|p| bad("cnpj", p.to_string()))?;
    let ie = c.ie.trim().to_uppercase();
    let ie_ok = ie == "ISENTO" || (2..=14).contains(&digits(&ie).len()) && ie.chars().all(|ch| ch.is_ascii_digit());
    if !ie_ok {
        return Err(bad("ie", "deve ter de 2 a 14 dígitos ou ser \"ISENTO\""));
    }
    let serie = u16::try_from(c.serie).ok().filter(|s| *s <= 999).ok_or_else(|| bad("serie", "de 0 a 999"))?;
    let cfop = c.cfop.trim().to_owned();
    if cfop.len() != 4 || !cfop.chars().all(|ch| ch.is_ascii_digit()) || !cfop.starts_with('5') {
        return Err(bad("cfop", "deve ser um CFOP de saída interna com 4 dígitos (ex.: 5102)"));
    }
    let address = nfe_address(&c.address, c.phone.as_deref().map(digits));
    let (crt, tax) = match &c.tax {
        TaxRules::SimplesNacional { csosn } => {
            let csosn = match csosn.trim() {
                "102" => Csosn102::C102,
                "103" => Csosn102::C103,
                "300" => Csosn102::C300,
                "400" => Csosn102::C400,
                _ => return Err(bad("tax.csosn", "CSOSN aceitos: 102, 103, 300, 400")),
            };
            (Crt::SimplesNacional, ItemTax::Simples(SimplesIcms::Sn102(csosn)))
        }
        TaxRules::RegimeNormal { icms_percent, pis_percent, cofins_percent, pis_cofins_base_excludes_icms } => (
            Crt::RegimeNormal,
            ItemTax::Normal(NormalTax {
                p_icms: percent("tax.icms_percent", icms_percent)?,
                p_pis: percent("tax.pis_percent", pis_percent)?,
                p_cofins: percent("tax.cofins_percent", cofins_percent)?,
                pis_cofins_base_excludes_icms: *pis_cofins_base_excludes_icms,
            }),
        ),
    };
    let t = &c.tech_responsible;
    let tech_responsible = TechResponsible {
        cnpj: Cnpj::parse(&t.cnpj).map_err(|p| bad("tech_responsible.cnpj", p.to_string()))?,
        contact: t.contact.clone(),
        email: t.email.clone(),
        phone: digits(&t.phone),
    };
    let environment = nfe_environment(c.environment);
    Ok(ValidEmitter {
        emitter: Emitter { cnpj, name: c.legal_name.clone(), trade_name: c.trade_name.clone(), address, ie, crt },
        environment,
        serie,
        cfop,
        tax,
        ibs_cbs: c.ibs_cbs.then(IbsCbs::test_year_2026),
        tech_responsible,
    })
}

/// An address as the NF-e writes it (the emitter's `enderEmit`, the recipient's `enderDest`), with `phone`.
pub(crate) fn nfe_address(a: &osflow_domain::Address, phone: Option<String>) -> Address {
    Address {
        street: a.street.clone(),
        number: a.number.clone(),
        complement: a.complement.clone(),
        district: a.district.clone(),
        city_code: a.city_code.as_str().to_owned(),
        city: a.city.clone(),
        uf: a.uf,
        cep: a.zip.as_str().to_owned(),
        phone,
    }
}

/// The NF-e's `tpAmb` of a fiscal environment.
pub(crate) fn nfe_environment(environment: FiscalEnvironment) -> Environment {
    match environment {
        FiscalEnvironment::Production => Environment::Production,
        FiscalEnvironment::Homologation => Environment::Homologation,
    }
}
