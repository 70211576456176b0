//! The fiscal documents of an order: the NF-e of the parts and the NFS-e of the labor (one per service code),
//! each as the invoicer (or staff, for an NFS-e issued outside osflow) last reported it, and which of them the
//! release waits for.
//!
//! An order keeps a list of documents, identified by (kind, key): the NF-e's 44-character access key, the
//! NFS-e's 45-character DPS Id, or `EXT<number>` for an NFS-e issued elsewhere. A record of a document that
//! is already listed replaces it; a new one is appended. Orders and events written when an order held a single
//! `invoice` (always an NF-e) read as a list of that one document.

use serde::{Deserialize, Deserializer, Serialize};

use crate::order::{InvoiceInfo, InvoiceState, LineKind, Order, RevisionStatus};

/// Which fiscal document: the parts go on an NF-e (model 55), the labor on an NFS-e Nacional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    #[default]
    Nfe,
    Nfse,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Nfe => "nfe",
            DocumentKind::Nfse => "nfse",
        }
    }
    /// How a Brazilian user names it.
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Nfe => "NF-e",
            DocumentKind::Nfse => "NFS-e",
        }
    }
}

/// An NFS-e issued outside osflow (the municipality's own issuer) and recorded by staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedElsewhere {
    /// The municipality's verification code (código de verificação) of the NFS-e.
    pub verification_code: String,
    /// The NFS-e's file (PDF or XML) kept in the blob store, when uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Which documents the company issues through osflow (the release waits for those the order needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Invoicing {
    /// The company has an NF-e emitter: approved parts need an authorized NF-e.
    pub nfe: bool,
    /// The emitter has its municipal part: approved labor needs an issued NFS-e (or one recorded as issued
    /// elsewhere).
    pub nfse: bool,
}

/// Municipalities that keep their own NFS-e issuer instead of the national system (LC 214/2025 art. 62 lets them
/// send their own NFS-e to the national environment): osflow cannot issue their NFS-e.
pub const OWN_NFSE_ISSUER_CITIES: [(&str, &str); 1] = [("3550308", "São Paulo")];

/// The name of the municipality (IBGE code) when it keeps its own NFS-e issuer.
pub fn own_nfse_issuer(city_code: &str) -> Option<&'static str> {
    OWN_NFSE_ISSUER_CITIES.iter().find(|(code, _)| *code == city_code).map(|(_, name)| *name)
}

/// What a company is told about the NFS-e of its labor when its emitter is configured: `None` when osflow issues
/// it (`issues`: the municipal part is configured); otherwise where it comes from and what the release does.
pub fn nfse_notice(city_code: &str, issues: bool, issued_elsewhere: bool) -> Option<String> {
    if issues {
        return None;
    }
    let place = match own_nfse_issuer(city_code) {
        Some(name) => format!(
            "O município de {name} ({city_code}) não usa o Sistema Nacional NFS-e: a NFS-e da mão de obra é emitida no \
             sistema da prefeitura, não pelo osflow."
        ),
        None => "O osflow não emite a NFS-e da mão de obra desta empresa (sem a parte municipal, nfse).".to_owned(),
    };
    Some(if issued_elsewhere {
        format!(
            "{place} Registre em cada OS com mão de obra a NFS-e emitida (número, código de verificação, PDF ou XML): \
             a liberação espera por ela."
        )
    } else {
        format!(
            "{place} Com nfse_elsewhere, a liberação de cada OS com mão de obra espera a NFS-e emitida fora \
             registrada nela; sem isso, nenhuma NFS-e é exigida."
        )
    })
}

/// Whether two NF-e access keys are one NF-e issued under another emission type: every digit the same but `tpEmis`
/// (the 35th) and the check digit. SEFAZ's contingency (SVC) re-signs an NF-e never received under its number and
/// cNF, so the order's record of the old key is the record of the new one.
pub fn same_nfe(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == 44 && b.len() == 44 && a[..34] == b[..34] && a[35..43] == b[35..43]
}

impl InvoiceInfo {
    /// The SEFAZ contingency authorizer an NF-e was issued at, from its key's `tpEmis`: `SVC-AN` (6), `SVC-RS` (7).
    pub fn contingency(&self) -> Option<&'static str> {
        if self.kind != DocumentKind::Nfe || self.key.len() != 44 {
            return None;
        }
        match self.key.as_bytes()[34] {
            b'6' => Some("SVC-AN"),
            b'7' => Some("SVC-RS"),
            _ => None,
        }
    }

    /// Whether `other` is a record of this document (the same key, or the same NF-e re-keyed).
    pub fn is_record_of(&self, other: &InvoiceInfo) -> bool {
        self.kind == other.kind
            && (self.key == other.key || (self.kind == DocumentKind::Nfe && same_nfe(&self.key, &other.key)))
    }
}

/// The key of an NFS-e issued elsewhere with this number.
pub fn external_key(number: u64) -> String {
    format!("EXT{number}")
}

impl Order {
    /// The order's fiscal documents of one kind, in the order they were first recorded.
    pub fn documents(&self, kind: DocumentKind) -> impl Iterator<Item = &InvoiceInfo> {
        self.invoices.iter().filter(move |i| i.kind == kind)
    }

    /// The NFS-e issued through osflow and standing (each has its DANFSe): (DPS number, the NFS-e's 50-digit key).
    pub fn issued_nfse(&self) -> impl Iterator<Item = (u64, &str)> {
        self.documents(DocumentKind::Nfse)
            .filter(|i| i.state == InvoiceState::Authorized && i.issued_elsewhere.is_none())
            .filter_map(|i| i.protocol.as_deref().map(|key| (i.number, key)))
    }

    /// The latest NF-e recorded (an order has one, unless cancelled and issued again).
    pub fn nfe(&self) -> Option<&InvoiceInfo> {
        self.documents(DocumentKind::Nfe).last()
    }

    /// Whether `doc` was replaced by a later attempt of the same document: an NF-e that is not the order's latest,
    /// or an NFS-e of a DPS sequence that is not the order's latest (see [`Order::latest_dps_sequence`]).
    pub fn superseded(&self, doc: &InvoiceInfo) -> bool {
        match doc.kind {
            DocumentKind::Nfe => self.nfe().is_some_and(|latest| latest.key != doc.key),
            DocumentKind::Nfse => {
                doc.issued_elsewhere.is_none()
                    && self.latest_dps_sequence().is_some_and(|latest| latest != doc.sequence.as_deref())
            }
        }
    }

    /// The DPS sequence of the order's latest NFS-e attempt: that of the NFS-e issued through osflow recorded
    /// last (`Some(None)` for records made before sequences were recorded; `None` when there is none). A record
    /// of another sequence than the latest's goes to the end of the list, so this is the sequence the invoicer
    /// worked in last.
    pub fn latest_dps_sequence(&self) -> Option<Option<&str>> {
        self.documents(DocumentKind::Nfse)
            .filter(|i| i.issued_elsewhere.is_none())
            .last()
            .map(|i| i.sequence.as_deref())
    }

    pub fn document(&self, key: &str) -> Option<&InvoiceInfo> {
        self.invoices.iter().find(|i| i.key == key)
    }

    /// Whether the approved quote has labor (what goes on the NFS-e).
    pub fn has_approved_labor(&self) -> bool {
        self.quote
            .iter()
            .filter(|r| r.status == RevisionStatus::Approved)
            .flat_map(|r| r.lines.iter())
            .any(|l| l.kind == LineKind::Labor && l.is_approved())
    }

    /// Whether the documents of this kind are settled: at least one authorized (or issued elsewhere) and none
    /// still pending or rejected (cancelled and denied ones do not count either way, nor superseded ones: the
    /// latest attempt decides).
    pub fn documents_issued(&self, kind: DocumentKind) -> bool {
        let mut any = false;
        for d in self.documents(kind).filter(|d| !self.superseded(d)) {
            match d.state {
                InvoiceState::Authorized => any = true,
                InvoiceState::Pending | InvoiceState::Rejected => return false,
                InvoiceState::Denied | InvoiceState::Cancelled | InvoiceState::Voided => {}
            }
        }
        any
    }

    /// Every document the order needs is issued: the NF-e of its approved parts and the NFS-e of its approved
    /// labor, each only when the company issues that kind through osflow (the `invoice_authorized` guard).
    ///
    /// An order has one NF-e, so its latest attempt decides: an earlier one that was rejected and issued again
    /// under another key (after the company fixed its environment or data) is superseded, not pending. The same
    /// for the NFS-e: the DPS of the latest DPS sequence decide, those of an earlier one (a DPS rejected in
    /// homologação before the emitter moved to produção, or back) are superseded.
    pub fn fiscal_documents_ready(&self, invoicing: Invoicing) -> bool {
        let nfe = !invoicing.nfe || self.approved_parts().next().is_none() || self.invoice_authorized();
        let nfse = !invoicing.nfse || !self.has_approved_labor() || self.documents_issued(DocumentKind::Nfse);
        nfe && nfse
    }

    /// Folds a record of a document: replaces the one with the same kind and key (or the same NF-e under its key
    /// before a contingency re-keyed it), or appends it. An NFS-e of another DPS sequence than the latest's goes
    /// to the end (it is the latest attempt now), even when its DPS Id is the one of an earlier sequence's DPS
    /// (the Id does not hold the environment), which it replaces.
    pub(crate) fn record_document(&mut self, invoice: &InvoiceInfo) {
        let moves = invoice.kind == DocumentKind::Nfse
            && invoice.issued_elsewhere.is_none()
            && self.latest_dps_sequence().is_some_and(|latest| latest != invoice.sequence.as_deref());
        match self.invoices.iter().position(|i| i.is_record_of(invoice)) {
            Some(at) if moves => {
                self.invoices.remove(at);
                self.invoices.push(invoice.clone());
            }
            Some(at) => self.invoices[at] = invoice.clone(),
            None => self.invoices.push(invoice.clone()),
        }
    }
}

/// Reads the order's documents from `invoices` (a list) or the former `invoice` (one document or null).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<InvoiceInfo>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<InvoiceInfo>),
        One(Option<InvoiceInfo>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(o) => o.into_iter().collect(),
    })
}
