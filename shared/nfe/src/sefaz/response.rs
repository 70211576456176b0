//! Reading SEFAZ answers (retEnviNFe, retConsSitNFe, retConsStatServ) inside SOAP envelopes.

use std::sync::Arc;

use crate::authority::{Outcome, Protocol, ServiceStatus, TransportError, inconclusive};
use crate::build::NFE_NS;
use crate::key::AccessKey;
use crate::xml::{self, Element};

fn invalid(m: impl Into<String>) -> TransportError {
    TransportError::InvalidResponse(m.into())
}

fn find<'a>(root: &'a Element, local: &str) -> Option<Vec<&'a Element>> {
    xml::find_path(root, &|e| e.local_name() == local)
}

fn c_stat(e: &Element) -> Result<(u16, String), TransportError> {
    let c = e
        .text_at(&["cStat"])
        .and_then(|s| s.trim().parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("{} without a numeric cStat", e.local_name())))?;
    Ok((c, e.text_at(&["xMotivo"]).unwrap_or_default().trim().to_owned()))
}

/// Extracts `protNFe` verbatim from the answer text and reads its `infProt`.
fn protocol(doc: &str, root: &Element) -> Result<Option<Protocol>, TransportError> {
    let Some(path) = find(root, "protNFe") else {
        return Ok(None);
    };
    let prot = *path.last().ok_or_else(|| invalid("protNFe"))?;
    let inf = prot.child("infProt").ok_or_else(|| invalid("protNFe without infProt"))?;
    let (c, m) = c_stat(inf)?;
    let key = inf
        .text_at(&["chNFe"])
        .and_then(|k| AccessKey::parse(k.trim()).ok())
        .ok_or_else(|| invalid("infProt/chNFe is not a valid key"))?;
    // The verbatim slice is only usable if it is unprefixed and its namespace is the NF-e one.
    let scope = xml::scope_of(&path[..path.len() - 1]);
    if !prot.prefix().is_empty() || xml::ns_uri(prot, &scope).as_deref() != Some(NFE_NS) {
        return Err(invalid("protNFe is not an unprefixed element in the NF-e namespace"));
    }
    let raw = doc.get(prot.span.0..prot.span.1).ok_or_else(|| invalid("protNFe span"))?;
    Ok(Some(Protocol {
        key,
        number: inf.text_at(&["nProt"]).unwrap_or_default().trim().to_owned(),
        c_stat: c,
        x_motivo: m,
        received_at: inf.text_at(&["dhRecbto"]).unwrap_or_default().trim().to_owned(),
        prot_nfe: Arc::from(raw),
    }))
}

/// Answer of NFeAutorizacao4 with `indSinc=1` (retEnviNFe).
pub fn authorization(doc: &str) -> Result<Outcome, TransportError> {
    let root = xml::parse(doc).map_err(|e| invalid(e.to_string()))?;
    let path = find(&root, "retEnviNFe").ok_or_else(|| invalid("no retEnviNFe"))?;
    let ret = *path.last().ok_or_else(|| invalid("retEnviNFe"))?;
    let (c, m) = c_stat(ret)?;
    if c == 104 {
        // Lote processado: the NF-e result is in protNFe.
        let p = protocol(doc, &root)?.ok_or_else(|| invalid("cStat 104 without protNFe"))?;
        let (pc, pm) = (p.c_stat, p.x_motivo.clone());
        return decided(Outcome::from_c_stat(pc, pm, Some(p)));
    }
    if c == 103 {
        return Err(invalid("SEFAZ answered asynchronously (103) to indSinc=1"));
    }
    decided(Outcome::from_c_stat(c, m, protocol(doc, &root)?))
}

/// An inconclusive cStat (paused, throttled) is a transport failure, not an outcome.
fn decided(outcome: Outcome) -> Result<Outcome, TransportError> {
    match outcome {
        Outcome::Rejected { c_stat, x_motivo } if inconclusive(c_stat) => {
            Err(TransportError::Inconclusive { c_stat, x_motivo })
        }
        other => Ok(other),
    }
}

/// Answer of NFeConsultaProtocolo4 (retConsSitNFe).
pub fn consult(doc: &str) -> Result<Outcome, TransportError> {
    let root = xml::parse(doc).map_err(|e| invalid(e.to_string()))?;
    let path = find(&root, "retConsSitNFe").ok_or_else(|| invalid("no retConsSitNFe"))?;
    let ret = *path.last().ok_or_else(|| invalid("retConsSitNFe"))?;
    let (c, m) = c_stat(ret)?;
    decided(Outcome::from_c_stat(c, m, protocol(doc, &root)?))
}

/// Answer of NFeStatusServico4 (retConsStatServ).
pub fn status(doc: &str) -> Result<ServiceStatus, TransportError> {
    let root = xml::parse(doc).map_err(|e| invalid(e.to_string()))?;
    let path = find(&root, "retConsStatServ").ok_or_else(|| invalid("no retConsStatServ"))?;
    let ret = *path.last().ok_or_else(|| invalid("retConsStatServ"))?;
    let (c, m) = c_stat(ret)?;
    Ok(ServiceStatus {
        c_stat: c,
        x_motivo: m,
        received_at: ret.text_at(&["dhRecbto"]).map(|s| s.trim().to_owned()),
        average_seconds: ret.text_at(&["tMed"]).and_then(|s| s.trim().parse().ok()),
    })
}

/// A SOAP fault's reason text, if the body is one.
pub fn fault_reason(doc: &str) -> Option<String> {
    let root = xml::parse(doc).ok()?;
    let path = find(&root, "Fault")?;
    let f = *path.last()?;
    let reason = xml::find_path(f, &|e| e.local_name() == "Text" || e.local_name() == "faultstring")
        .and_then(|p| p.last().map(|e| e.text()));
    Some(reason.unwrap_or_else(|| "SOAP fault".into()))
}

/// Extracts an unprefixed element in the NF-e namespace verbatim.
fn verbatim(doc: &str, path: &[&Element]) -> Result<Arc<str>, TransportError> {
    let el = *path.last().ok_or_else(|| invalid("empty path"))?;
    let scope = xml::scope_of(&path[..path.len() - 1]);
    if !el.prefix().is_empty() || xml::ns_uri(el, &scope).as_deref() != Some(NFE_NS) {
        return Err(invalid(format!("{} is not an unprefixed element in the NF-e namespace", el.local_name())));
    }
    doc.get(el.span.0..el.span.1).map(Arc::from).ok_or_else(|| invalid("element span"))
}

/// Answer of NFeRecepcaoEvento4 (retEnvEvento) for a batch of one event: the event's `retEvento`, or the
/// batch's own cStat when it carries none.
pub fn event(doc: &str) -> Result<crate::event::EventReceipt, TransportError> {
    let root = xml::parse(doc).map_err(|e| invalid(e.to_string()))?;
    let path = find(&root, "retEnvEvento").ok_or_else(|| invalid("no retEnvEvento"))?;
    let ret = *path.last().ok_or_else(|| invalid("retEnvEvento"))?;
    let Some(ret_evento) = ret.child("retEvento") else {
        let (c, m) = c_stat(ret)?;
        if inconclusive(c) {
            return Err(TransportError::Inconclusive { c_stat: c, x_motivo: m });
        }
        return Ok(crate::event::EventReceipt {
            c_stat: c,
            x_motivo: m,
            protocol: None,
            registered_at: None,
            ret_evento: None,
        });
    };
    let inf = ret_evento.child("infEvento").ok_or_else(|| invalid("retEvento without infEvento"))?;
    let (c, m) = c_stat(inf)?;
    if inconclusive(c) {
        return Err(TransportError::Inconclusive { c_stat: c, x_motivo: m });
    }
    let mut ev_path = path.clone();
    ev_path.push(ret_evento);
    let opt = |tag: &str| inf.text_at(&[tag]).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(crate::event::EventReceipt {
        c_stat: c,
        x_motivo: m,
        protocol: opt("nProt"),
        registered_at: opt("dhRegEvento"),
        ret_evento: Some(verbatim(doc, &ev_path)?),
    })
}

/// Answer of NFeInutilizacao4 (retInutNFe).
pub fn inutilization(doc: &str) -> Result<crate::event::VoidReceipt, TransportError> {
    let root = xml::parse(doc).map_err(|e| invalid(e.to_string()))?;
    let path = find(&root, "retInutNFe").ok_or_else(|| invalid("no retInutNFe"))?;
    let ret = *path.last().ok_or_else(|| invalid("retInutNFe"))?;
    let inf = ret.child("infInut").ok_or_else(|| invalid("retInutNFe without infInut"))?;
    let (c, m) = c_stat(inf)?;
    if inconclusive(c) {
        return Err(TransportError::Inconclusive { c_stat: c, x_motivo: m });
    }
    let opt = |tag: &str| inf.text_at(&[tag]).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(crate::event::VoidReceipt {
        c_stat: c,
        x_motivo: m,
        protocol: opt("nProt"),
        received_at: opt("dhRecbto"),
        ret_inut: verbatim(doc, &path)?,
    })
}
