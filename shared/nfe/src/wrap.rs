//! Wrappers that embed the signed `NFe` bytes verbatim. None declares a namespace prefix or
//! anything else that would be in scope at `infNFe`: under inclusive C14N every ancestor
//! declaration enters the digest, so the only declarations used are default namespaces that
//! are overridden before `NFe` (SOAP, wsdl) or equal to the NF-e one (enviNFe, nfeProc).

use crate::authority::Protocol;
use crate::build::NFE_NS;
use crate::key::{AccessKey, Uf};
use crate::model::Environment;
use crate::sign::SignedNfe;

pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const WSDL_NS: &str = "http://www.portalfiscal.inf.br/nfe/wsdl/";

/// `enviNFe` with one NF-e, synchronous (`indSinc=1`). `id_lote` has up to 15 digits.
pub fn envi_nfe(nfe: &SignedNfe, id_lote: u64) -> String {
    let id_lote = id_lote % 1_000_000_000_000_000;
    let mut s = String::with_capacity(nfe.xml().len() + 160);
    s.push_str("<enviNFe xmlns=\"");
    s.push_str(NFE_NS);
    s.push_str("\" versao=\"4.00\"><idLote>");
    s.push_str(&id_lote.to_string());
    s.push_str("</idLote><indSinc>1</indSinc>");
    s.push_str(nfe.xml());
    s.push_str("</enviNFe>");
    s
}

/// `consSitNFe` (consult by key).
pub fn cons_sit_nfe(key: &AccessKey, env: Environment) -> String {
    format!(
        "<consSitNFe xmlns=\"{NFE_NS}\" versao=\"4.00\"><tpAmb>{}</tpAmb><xServ>CONSULTAR</xServ><chNFe>{key}</chNFe></consSitNFe>",
        env.code()
    )
}

/// `consStatServ` (service status).
pub fn cons_stat_serv(uf: Uf, env: Environment) -> String {
    format!(
        "<consStatServ xmlns=\"{NFE_NS}\" versao=\"4.00\"><tpAmb>{}</tpAmb><cUF>{}</cUF><xServ>STATUS</xServ></consStatServ>",
        env.code(),
        uf.code()
    )
}

/// A SOAP 1.2 envelope around a message for `service` (e.g. "NFeAutorizacao4"). The
/// envelope uses default namespaces only (no `soap12:` prefix in scope at `infNFe`).
pub fn soap12(service: &str, message: &str) -> String {
    let mut s = String::with_capacity(message.len() + 260);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"");
    s.push_str(SOAP12_NS);
    s.push_str("\"><Body><nfeDadosMsg xmlns=\"");
    s.push_str(WSDL_NS);
    s.push_str(service);
    s.push_str("\">");
    s.push_str(message);
    s.push_str("</nfeDadosMsg></Body></Envelope>");
    s
}

/// Why a protocol cannot be joined to an NF-e.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcError {
    #[error("protocol is for key {protocol}, NF-e has key {nfe}")]
    KeyMismatch { protocol: String, nfe: String },
    #[error("protNFe must be an unprefixed element in the NF-e namespace")]
    BadProtNfe,
}

/// `nfeProc` = the signed NF-e plus its `protNFe`, both verbatim (namespace on nfeProc only).
pub fn nfe_proc(nfe: &SignedNfe, protocol: &Protocol) -> Result<String, ProcError> {
    if protocol.key != *nfe.key() {
        return Err(ProcError::KeyMismatch { protocol: protocol.key.to_string(), nfe: nfe.key().to_string() });
    }
    let p = &*protocol.prot_nfe;
    let ok_start = p.starts_with("<protNFe ") || p.starts_with("<protNFe>");
    let decl = p.find("xmlns=\"").map(|i| &p[i + 7..]);
    let head_end = p.find('>').unwrap_or(0);
    let own_ns_ok = match decl {
        Some(rest) if p.find("xmlns=\"").unwrap_or(usize::MAX) < head_end => rest.starts_with(NFE_NS),
        _ => true,
    };
    if !ok_start || !own_ns_ok || !p.ends_with("</protNFe>") {
        return Err(ProcError::BadProtNfe);
    }
    let mut s = String::with_capacity(nfe.xml().len() + p.len() + 120);
    s.push_str("<nfeProc xmlns=\"");
    s.push_str(NFE_NS);
    s.push_str("\" versao=\"4.00\">");
    s.push_str(nfe.xml());
    s.push_str(p);
    s.push_str("</nfeProc>");
    Ok(s)
}
