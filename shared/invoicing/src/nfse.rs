//! The labor of an OS on the NFS-e Nacional: the emitter's municipal settings checked and converted
//! ([`validate_nfse`]), and `Order` → DPS inputs ([`dps_inputs`]: one DPS per service code, the labor lines of that
//! code aggregated, their descriptions in `xDescServ`).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use osflow_app::{ApproximateTaxesConfig, EmitterConfig, FiscalEnvironment, NfseServiceCodes};
use osflow_domain::values::Document;
use osflow_domain::{LineKind, Order};
use osflow_nfse::{
    ApproximateTaxes, Cnpj, Cpf, DpsInput, Environment, IbsCbs, Iss, IssTaxation, Provider, Regime, SignatureAlgorithm,
    SimplesOption, Taker, TakerAddress, TakerId, Values, Withholding,
};
use rust_decimal::Decimal;

use crate::config::ConfigError;
use crate::mapping::{APP_VERSION, brt};

/// Municipalities that keep their own NFS-e issuer instead of the national system: osflow cannot issue there.
pub const OWN_ISSUER_CITIES: [(&str, &str); 1] = osflow_domain::OWN_NFSE_ISSUER_CITIES;

/// The NFS-e settings of an emitter, ready for [`dps_inputs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidNfse {
    pub provider: Provider,
    /// `cLocEmi` (the emitter's municipality) and the default `cLocPrestacao`.
    pub city: String,
    pub environment: Environment,
    pub serie: u32,
    pub service: NfseServiceCodes,
    pub services_by_type: BTreeMap<String, NfseServiceCodes>,
    pub iss_rate: Option<Decimal>,
    pub withholding: Withholding,
    pub approximate_taxes: ApproximateTaxes,
    pub algorithm: SignatureAlgorithm,
    pub ibs_cbs: Option<IbsCbs>,
}

fn bad(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

fn percent(field: &str, s: &str) -> Result<Decimal, ConfigError> {
    let v = Decimal::from_str(s.trim()).map_err(|_| bad(field, format!("{s:?} não é um número")))?;
    if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED || v.normalize().scale() > 2 {
        return Err(bad(field, "deve estar entre 0 e 100, com até 2 casas decimais"));
    }
    Ok(v)
}

fn codes(field: &str, c: &NfseServiceCodes) -> Result<NfseServiceCodes, ConfigError> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let c_trib_nac: String = c.c_trib_nac.chars().filter(char::is_ascii_digit).collect();
    if !digits(&c_trib_nac, 6) {
        return Err(bad(&format!("{field}.c_trib_nac"), "deve ter 6 dígitos (item, subitem e desdobro; ex.: 140101)"));
    }
    let c_trib_mun = c.c_trib_mun.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(m) = &c_trib_mun
        && !digits(m, 3)
    {
        return Err(bad(&format!("{field}.c_trib_mun"), "deve ter 3 dígitos"));
    }
    let c_nbs: Option<String> = c
        .c_nbs
        .as_deref()
        .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|s| !s.is_empty());
    if let Some(n) = &c_nbs
        && !digits(n, 9)
    {
        return Err(bad(&format!("{field}.c_nbs"), "deve ter 9 dígitos (ex.: 120012000)"));
    }
    Ok(NfseServiceCodes { c_trib_nac, c_trib_mun, c_nbs })
}

/// The API field of a DPS field a probe build refused.
fn api_field(dps_field: &str, codes_field: &str) -> String {
    let f = match dps_field {
        "prest.CNPJ" => "cnpj",
        "cLocEmi" | "serv.locPrest.cLocPrestacao" => "address.city_code",
        "serie" => "nfse.serie",
        "prest.IM" => "nfse.municipal_registration",
        "prest.fone" => "phone",
        "prest.regTrib.regApTribSN" => "nfse.simples_regime",
        "prest.regTrib.regEspTrib" => "nfse.special_regime",
        "valores.trib.tribMun.pAliq" => "nfse.iss_rate",
        "valores.trib.tribMun.tpRetISSQN" => "nfse.iss_withholding",
        "serv.cServ.cTribNac" => return format!("{codes_field}.c_trib_nac"),
        "serv.cServ.cTribMun" => return format!("{codes_field}.c_trib_mun"),
        "serv.cServ.cNBS" => return format!("{codes_field}.c_nbs"),
        f if f.starts_with("valores.trib.totTrib") => "nfse.approximate_taxes",
        _ => "nfse",
    };
    f.to_owned()
}

/// Checks the NFS-e part of a configuration (`None` when the company has none). Every rule the DPS writer holds
/// is checked by building a probe DPS of each service code, so a configuration that passes yields DPS the
/// national system accepts on these grounds.
pub fn validate_nfse(c: &EmitterConfig) -> Result<Option<ValidNfse>, ConfigError> {
    if c.nfse_elsewhere && c.nfse.is_some() {
        return Err(bad(
            "nfse_elsewhere",
            "a NFS-e da mão de obra é emitida pelo osflow (nfse) ou fora dele (nfse_elsewhere), não pelos dois",
        ));
    }
    let Some(n) = &c.nfse else { return Ok(None) };
    let city = c.address.city_code.as_str().to_owned();
    if let Some((_, name)) = OWN_ISSUER_CITIES.iter().find(|(code, _)| *code == city) {
        return Err(bad(
            "nfse",
            format!(
                "o município de {name} ({city}) não usa o Sistema Nacional NFS-e: a prefeitura mantém emissor próprio, \
                 e o osflow não emite a NFS-e da mão de obra por ele. Remova a parte municipal (nfse), marque \
                 nfse_elsewhere e registre em cada OS a NFS-e emitida no sistema da prefeitura"
            ),
        ));
    }
    let cnpj = Cnpj::parse(&c.cnpj).map_err(|p| bad("cnpj", p.to_string()))?;
    let simples = match (n.simples_option, n.simples_regime) {
        (1, None) => SimplesOption::NotOptant,
        (2, None) => SimplesOption::Mei,
        (3, r) => SimplesOption::MeEpp { regime_ap: r },
        (1 | 2, Some(_)) => return Err(bad("nfse.simples_regime", "só para ME/EPP (simples_option = 3)")),
        _ => return Err(bad("nfse.simples_option", "1 (não optante), 2 (MEI) ou 3 (ME/EPP)")),
    };
    if !(1..=99_999).contains(&n.serie) {
        return Err(bad("nfse.serie", "de 1 a 99999"));
    }
    let algorithm = SignatureAlgorithm::parse(&n.signature)
        .ok_or_else(|| bad("nfse.signature", "rsa-sha256 (padrão) ou rsa-sha1"))?;
    let withholding = match n.iss_withholding {
        1 => Withholding::NotWithheld,
        2 => Withholding::ByTaker,
        _ => return Err(bad("nfse.iss_withholding", "1 (não retido) ou 2 (retido pelo tomador)")),
    };
    let iss_rate = n.iss_rate.as_deref().filter(|s| !s.trim().is_empty()).map(|s| percent("nfse.iss_rate", s));
    let approximate_taxes = match &n.approximate_taxes {
        ApproximateTaxesConfig::SimplesRate { percent: p } => {
            ApproximateTaxes::SimplesRate(percent("nfse.approximate_taxes.percent", p)?)
        }
        ApproximateTaxesConfig::Rates { federal, state, municipal } => ApproximateTaxes::Rates {
            federal: percent("nfse.approximate_taxes.federal", federal)?,
            state: percent("nfse.approximate_taxes.state", state)?,
            municipal: percent("nfse.approximate_taxes.municipal", municipal)?,
        },
        ApproximateTaxesConfig::NotInformed => ApproximateTaxes::NotInformed,
    };
    let valid = ValidNfse {
        provider: Provider {
            cnpj,
            im: n.municipal_registration.clone().filter(|s| !s.trim().is_empty()),
            phone: c.phone.clone(),
            email: None,
            regime: Regime { simples, special: n.special_regime },
        },
        city,
        environment: nfse_environment(c.environment),
        serie: n.serie,
        service: codes("nfse.service", &n.service)?,
        services_by_type: n
            .services_by_type
            .iter()
            .map(|(k, v)| Ok((k.trim().to_lowercase(), codes(&format!("nfse.services_by_type.{k}"), v)?)))
            .collect::<Result<_, ConfigError>>()?,
        iss_rate: iss_rate.transpose()?,
        withholding,
        approximate_taxes,
        algorithm,
        ibs_cbs: c.ibs_cbs.then(|| IbsCbs {
            c_ind_op: "100301".into(),
            final_consumer: None,
            cst: "000".into(),
            c_class_trib: "000001".into(),
        }),
    };
    // Probe builds: the writer's rules, once per service code.
    let probe_taker = Taker {
        id: TakerId::Cpf(Cpf::parse("52998224725").map_err(|e| bad("nfse", e.to_string()))?),
        im: None,
        name: "TOMADOR".into(),
        address: None,
        phone: None,
        email: None,
    };
    let mut all = vec![("nfse.service".to_owned(), valid.service.clone())];
    all.extend(valid.services_by_type.iter().map(|(k, v)| (format!("nfse.services_by_type.{k}"), v.clone())));
    for (field, codes) in all {
        let input = input_for(
            &valid,
            &codes,
            Some(probe_taker.clone()),
            "Mão de obra".into(),
            Decimal::ONE_HUNDRED,
            1,
            "OS1".into(),
            Utc::now(),
        );
        osflow_nfse::build(&input).map_err(|e| bad(&api_field(&e.field, &field), e.problem.to_string()))?;
    }
    Ok(Some(valid))
}

#[allow(clippy::too_many_arguments)]
fn input_for(
    s: &ValidNfse,
    codes: &NfseServiceCodes,
    taker: Option<Taker>,
    description: String,
    amount: Decimal,
    number: u64,
    internal_code: String,
    issued_at: DateTime<Utc>,
) -> DpsInput {
    let at = brt(issued_at);
    // ISS withheld by the buyer needs an identified buyer: otherwise not withheld.
    let withholding = if taker.is_none() { Withholding::NotWithheld } else { s.withholding };
    DpsInput {
        environment: s.environment,
        issued_at: at,
        competence: at.date_naive(),
        app_version: APP_VERSION.chars().take(20).collect(),
        serie: s.serie,
        number,
        issuer_city: s.city.clone(),
        provider: s.provider.clone(),
        taker,
        service: osflow_nfse::Service {
            place_city: s.city.clone(),
            c_trib_nac: codes.c_trib_nac.clone(),
            c_trib_mun: codes.c_trib_mun.clone(),
            description,
            c_nbs: codes.c_nbs.clone(),
            internal_code: Some(internal_code),
        },
        values: Values {
            amount,
            unconditional_discount: None,
            conditional_discount: None,
            iss: Iss { taxation: IssTaxation::Taxable, withholding, rate: s.iss_rate },
            approximate_taxes: s.approximate_taxes,
        },
        ibs_cbs: s.ibs_cbs.clone(),
    }
}

/// A labor line on a DPS: its description, its total before discounts (`vServ`) and its whole discount
/// (`vDescIncond`: the line's own and its share of the revision's, given with the quote, so unconditional).
pub type LaborItem = (String, Decimal, Decimal);

/// The labor of an order grouped by service codes: a labor line whose code names a service type of the settings
/// takes its codes; the others take the codes of the order's service type, or the default. Lines at zero after
/// their discounts are not declared.
pub fn labor_groups(order: &Order, s: &ValidNfse) -> Vec<(NfseServiceCodes, Vec<LaborItem>)> {
    let mut groups: Vec<(NfseServiceCodes, Vec<LaborItem>)> = Vec::new();
    let order_codes = s.services_by_type.get(&order.service.kind.trim().to_lowercase()).unwrap_or(&s.service).clone();
    for l in order.approved_lines(LineKind::Labor) {
        let codes =
            s.services_by_type.get(&l.code.trim().to_lowercase()).cloned().unwrap_or_else(|| order_codes.clone());
        let item = (l.description.clone(), l.total.as_decimal(), l.discount_total.as_decimal());
        match groups.iter_mut().find(|(c, _)| c.c_trib_nac == codes.c_trib_nac && *c == codes) {
            Some((_, items)) => items.push(item),
            None => groups.push((codes, vec![item])),
        }
    }
    groups
}

/// The buyer of the order's NFS-e.
pub fn taker(order: &Order) -> Taker {
    let c = &order.customer;
    Taker {
        id: match &c.document {
            Document::Cpf(cpf) => TakerId::Cpf(*cpf),
            Document::Cnpj(cnpj) => TakerId::Cnpj(*cnpj),
        },
        im: None,
        name: c.name.clone(),
        address: c.address.as_ref().map(|a| TakerAddress {
            city_code: a.city_code.as_str().to_owned(),
            cep: a.zip.as_str().to_owned(),
            street: a.street.clone(),
            number: a.number.clone(),
            complement: a.complement.clone(),
            district: a.district.clone(),
        }),
        phone: None,
        email: c.email.as_ref().map(|e| e.as_str().to_owned()),
    }
}

/// The DPS inputs of the order's labor: one per service-code group, numbered by `numbers` (one number per
/// group, in the order of [`labor_groups`]). Empty when the order has no approved labor.
pub fn dps_inputs(order: &Order, s: &ValidNfse, numbers: &[u64], issued_at: DateTime<Utc>) -> Vec<DpsInput> {
    labor_groups(order, s)
        .into_iter()
        .zip(numbers)
        .map(|((codes, items), number)| {
            let amount: Decimal = items.iter().map(|(_, v, _)| *v).sum();
            let discount: Decimal = items.iter().map(|(_, _, d)| *d).sum();
            let description = items.iter().map(|(d, _, _)| d.as_str()).collect::<Vec<_>>().join("; ");
            let description = format!("{description}. Ordem de serviço nº {}.", order.number);
            let mut input = input_for(
                s,
                &codes,
                Some(taker(order)),
                description,
                amount,
                *number,
                format!("OS{}", order.number),
                issued_at,
            );
            input.values.unconditional_discount = (!discount.is_zero()).then_some(discount);
            input
        })
        .collect()
}

/// The DPS's `tpAmb` of a fiscal environment.
pub(crate) fn nfse_environment(environment: FiscalEnvironment) -> Environment {
    match environment {
        FiscalEnvironment::Production => Environment::Production,
        FiscalEnvironment::Homologation => Environment::Homologation,
    }
}
