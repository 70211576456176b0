//! The example company's NF-e emitter: its address (the reference example's, in São Paulo) and its fiscal data
//! in homologation, Simples Nacional (CSOSN 102). Tests change the fields they are about with struct update
//! syntax; with the feature `certificate`, its A1 certificate (generated for the emitter's CNPJ).

use osflow_app::{EmitterConfig, FiscalEnvironment, TaxRules, TechResponsibleConfig};
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
    EmitterConfig {
        cnpj: EMITTER_CNPJ.into(),
        ie: "111222333444".into(),
        legal_name: "Oficina Teste Ltda".into(),
        trade_name: Some("Oficina Teste".into()),
        address: example_address(),
        phone: Some("(11) 3333-4444".into()),
        serie: 1,
        environment: FiscalEnvironment::Homologation,
        cfop: "5102".into(),
        tax: TaxRules::SimplesNacional { csosn: "102".into() },
        ibs_cbs: false,
        tech_responsible: TechResponsibleConfig {
            cnpj: "11222333000181".into(),
            contact: "Equipe osflow".into(),
            email: "fiscal@osflow.example".into(),
            phone: "11999990000".into(),
        },
        nfse: None,
        nfse_elsewhere: false,
    }
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
