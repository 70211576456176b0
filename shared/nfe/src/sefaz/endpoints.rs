//! SEFAZ web-service endpoints (NF-e model 55, layout 4.00) per authorizer and environment,
//! kept as data (`data/ws-mod55.tsv`, derived from sped-nfe's `wsnfe_4.00_mod55.xml`).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::key::Uf;
use crate::model::{EmissionType, Environment};

/// A SEFAZ service used by this crate (plus the others in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Authorization,
    Consult,
    Status,
    ReturnAuthorization,
    Inutilization,
    Event,
}

impl Service {
    /// WSDL service name (namespace suffix).
    pub fn wsdl(self) -> &'static str {
        match self {
            Service::Authorization => "NFeAutorizacao4",
            Service::Consult => "NFeConsultaProtocolo4",
            Service::Status => "NFeStatusServico4",
            Service::ReturnAuthorization => "NFeRetAutorizacao4",
            Service::Inutilization => "NFeInutilizacao4",
            Service::Event => "NFeRecepcaoEvento4",
        }
    }
    /// SOAP operation.
    pub fn method(self) -> &'static str {
        match self {
            Service::Authorization => "nfeAutorizacaoLote",
            Service::Consult => "nfeConsultaNF",
            Service::Status => "nfeStatusServicoNF",
            Service::ReturnAuthorization => "nfeRetAutorizacaoLote",
            Service::Inutilization => "nfeInutilizacaoNF",
            Service::Event => "nfeRecepcaoEvento",
        }
    }
    /// The SOAP 1.2 action (`<namespace>/<method>`).
    pub fn action(self) -> String {
        format!("{}{}/{}", crate::wrap::WSDL_NS, self.wsdl(), self.method())
    }
}

const TABLE: &str = include_str!("../../data/ws-mod55.tsv");

type Map = HashMap<(&'static str, u8, &'static str), &'static str>;

fn table() -> &'static Map {
    static T: OnceLock<Map> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = HashMap::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let f: Vec<&'static str> = line.split('\t').collect();
            if let [auth, env, svc, _method, url] = f[..] {
                m.insert((auth, env.parse().unwrap_or(0), svc), url);
            }
        }
        m
    })
}

/// The authorizer of a UF for model 55: own (AM BA GO MG MS MT PE PR RS SP), SVAN (MA) or SVRS.
pub fn authorizer(uf: Uf) -> &'static str {
    use Uf::*;
    match uf {
        AM => "AM",
        BA => "BA",
        GO => "GO",
        MG => "MG",
        MS => "MS",
        MT => "MT",
        PE => "PE",
        PR => "PR",
        RS => "RS",
        SP => "SP",
        MA => "SVAN",
        _ => "SVRS",
    }
}

/// The SEFAZ virtual contingency authorizer of a UF: SVC-RS for AM BA GO MA MS MT PE PR,
/// SVC-AN for the others.
pub fn contingency_authorizer(uf: Uf) -> &'static str {
    use Uf::*;
    match uf {
        AM | BA | GO | MA | MS | MT | PE | PR => "SVCRS",
        _ => "SVCAN",
    }
}

/// The authorizer that serves `uf` for the emission type (`tpEmis` 6 → SVC-AN, 7 → SVC-RS).
pub fn authorizer_for(uf: Uf, emission: EmissionType) -> &'static str {
    match emission {
        EmissionType::Normal => authorizer(uf),
        EmissionType::SvcAn => "SVCAN",
        EmissionType::SvcRs => "SVCRS",
    }
}

/// URL of a service for an authorizer ("SP", "SVRS", "SVCAN", ...) and environment.
pub fn url(authorizer: &str, env: Environment, service: Service) -> Option<&'static str> {
    table().iter().find(|((a, e, s), _)| *a == authorizer && *e == env.code() && *s == service.wsdl()).map(|(_, u)| *u)
}

/// URL of a service for a UF, environment and emission type.
pub fn endpoint(uf: Uf, env: Environment, emission: EmissionType, service: Service) -> Option<&'static str> {
    url(authorizer_for(uf, emission), env, service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uf_has_the_three_services_in_both_environments() {
        for uf in Uf::ALL {
            for env in [Environment::Production, Environment::Homologation] {
                for em in [EmissionType::Normal, EmissionType::SvcAn, EmissionType::SvcRs] {
                    for s in [Service::Authorization, Service::Consult, Service::Status] {
                        let u = endpoint(uf, env, em, s);
                        assert!(u.is_some_and(|u| u.starts_with("https://")), "{uf} {env:?} {em:?} {s:?}");
                    }
                }
            }
        }
        assert_eq!(authorizer(Uf::MA), "SVAN");
        assert_eq!(authorizer(Uf::RJ), "SVRS");
        assert_eq!(contingency_authorizer(Uf::SP), "SVCAN");
        assert_eq!(contingency_authorizer(Uf::PR), "SVCRS");
        assert!(
            endpoint(Uf::SP, Environment::Homologation, EmissionType::Normal, Service::Authorization)
                .unwrap()
                .contains("homologacao")
        );
    }
}
