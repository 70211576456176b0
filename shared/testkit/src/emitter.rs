//! The example company's NF-e emitter: its address (the reference example's, in São Paulo) and its fiscal data
//! in homologation, Simples Nacional (CSOSN 102). Tests change the fields they are about with struct update
//! syntax; with the feature `certificate`, its A1 certificate (generated for the emitter's CNPJ).

use osflow_app::{EmitterConfig, NfseServiceCodes, NfseSettings, TechResponsibleConfig};
use osflow_domain::Address;
use osflow_domain::values::{CityCode, Uf, Zip};

/// The example emitter's CNPJ.
pub const EMITTER_CNPJ: &str = "12345678000195";

/// Rua Augusta, 100, Consolação, São Paulo-SP (IBGE 3550308), 01305-000.
pub fn example_address() -> Address {
    Address {
        street: "Rua Augusta".into(),
        number: "100".into(),
        complement: None,
        district: "Consolação".into(),
        city: "São Paulo".into(),
        city_code: CityCode::parse("3550308").unwrap(),
        uf: Uf::parse("SP").unwrap(),
        zip: Zip::parse("01305-000").unwrap(),
    }
}

/// The example emitter: [`EMITTER_CNPJ`], série 1, homologation, CFOP 5102, Simples Nacional (CSOSN 102), no
/// IBS/CBS groups, no municipal part.
pub fn example_emitter() -> EmitterConfig {
    let tech_responsible = TechResponsibleConfig {
        cnpj: "11222333000181".into(),
        contact: "Equipe osflow".into(),
        email: "fiscal@osflow.example".into(),
        phone: "11999990000".into(),
    };
    EmitterConfig::example(
        EMITTER_CNPJ,
        "Oficina Teste Ltda",
        "Oficina Teste",
        example_address(),
        "(11) 3333-4444",
        tech_responsible,
    )
}

/// Rua Barão de Jaguara, 900, Centro, Campinas-SP (IBGE 3509502, a municipality on the NFS-e Nacional), 13015-000.
pub fn campinas_address() -> Address {
    Address {
        street: "Rua Barão de Jaguara".into(),
        number: "900".into(),
        complement: None,
        district: "Centro".into(),
        city: "Campinas".into(),
        city_code: CityCode::parse("3509502").unwrap(),
        uf: Uf::parse("SP").unwrap(),
        zip: Zip::parse("13015-000").unwrap(),
    }
}

/// The NFS-e service codes `cTribNac` and `cNBS` (no `cTribMun`).
pub fn nfse_codes(c_trib_nac: &str, c_nbs: &str) -> NfseServiceCodes {
    NfseServiceCodes { c_trib_nac: c_trib_nac.into(), c_trib_mun: None, c_nbs: Some(c_nbs.into()) }
}

/// An emitter's municipal part: [`NfseSettings::example`] (Simples Nacional ME/EPP, série 1, labor 140101, ISS 2 %
/// withheld by nobody, approximate taxes at the Simples rate, RSA-SHA256) with installation work under 140201.
pub fn example_nfse_settings() -> NfseSettings {
    NfseSettings {
        services_by_type: [("instalacao".to_owned(), nfse_codes("140201", "120018100"))].into(),
        ..NfseSettings::example()
    }
}

/// The example emitter in Campinas ([`campinas_address`]) with its municipal part ([`example_nfse_settings`]):
/// the labor goes on an NFS-e.
pub fn example_nfse_emitter() -> EmitterConfig {
    EmitterConfig { address: campinas_address(), nfse: Some(example_nfse_settings()), ..example_emitter() }
}

/// The password the example certificate is stored under.
#[cfg(feature = "certificate")]
pub const CERTIFICATE_PASSWORD: &str = "s3nh@-A1";

/// An A1 certificate of [`EMITTER_CNPJ`] for homologation (30 days), generated once per test binary.
#[cfg(feature = "certificate")]
pub fn example_certificate() -> &'static osflow_nfe::Certificate {
    static CERT: std::sync::OnceLock<osflow_nfe::Certificate> = std::sync::OnceLock::new();
    CERT.get_or_init(|| {
        let cnpj = osflow_nfe::Cnpj::parse(EMITTER_CNPJ).expect("the example CNPJ");
        osflow_nfe::Certificate::generate_for_homologation(&cnpj, "OFICINA TESTE LTDA", 30).expect("test certificate")
    })
}
