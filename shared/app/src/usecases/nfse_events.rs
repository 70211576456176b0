//! After an NFS-e is issued: its cancellation (event e101101) and the event document Sefin returned; an NFS-e
//! issued outside osflow (a municipality with its own issuer) kept with its file.
//!
//! The routes an NF-e and an NFS-e share (`…/invoices/{key}/cancel`, `…/cancel/xml`) ask [`App::document_kind`]
//! and call the use case of that kind: [`App::cancel_invoice`] or [`App::cancel_nfse`].

use chrono::{DateTime, Utc};
use osflow_domain::values::OrderId;
use osflow_domain::{Change, Command, DocumentKind, DomainError, Flow, InvoiceInfo, Order};

use crate::ports::{Blob, FiscalDocument, InvoiceRecord, NfseEvents, danfse_blob_key, nfse_event_blob_key};
use crate::usecases::nfe_events::between;
use crate::usecases::{
    App, AppError, AppResult, Caller, Idempotency, JUSTIFICATION_CHARS, NFE_EVENT_ROLES, READERS, Rendered, Reply,
    Stepped,
};

/// `tpEvento` of the NFS-e cancellation.
pub const NFSE_CANCEL_EVENT: &str = "101101";

/// `cMotivo` of an NFS-e cancellation: 1 erro na emissão, 2 serviço não prestado, 9 outros.
pub const NFSE_CANCEL_REASONS: [u8; 3] = [1, 2, 9];

/// The largest file of an NFS-e issued elsewhere (its PDF or XML).
pub const EXTERNAL_NFSE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// The file types an NFS-e issued elsewhere may be kept as, and their extension.
pub const EXTERNAL_NFSE_TYPES: [(&str, &str); 3] =
    [("application/pdf", "pdf"), ("application/xml", "xml"), ("text/xml", "xml")];

/// What [`App::order_documents`] lists.
#[derive(Debug, Clone)]
pub struct OrderDocuments {
    /// The invoice records (NF-e and DPS), ascending by number.
    pub records: Vec<InvoiceRecord>,
    /// The NFS-e issued elsewhere the order records, each with the instant it was recorded.
    pub elsewhere: Vec<(InvoiceInfo, DateTime<Utc>)>,
    /// The DPS Ids (`access_key`) of the NFS-e whose DANFSe is stored.
    pub danfse: Vec<String>,
}

fn invalid(field: &str, reason: impl Into<String>) -> AppError {
    AppError::Domain(DomainError::Invalid { field: field.to_owned(), reason: reason.into() })
}

impl App {
    fn nfse_events(&self) -> AppResult<&dyn NfseEvents> {
        // Only the function serving these routes wires it; another one never routes here.
        self.nfse_events.as_deref().ok_or(AppError::NotFound)
    }

    /// The order's document `key` as the order shows it (`NotFound` for another company's order).
    async fn shown_document(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Option<InvoiceInfo>> {
        self.require(caller, &READERS)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        Ok(order.document(key).cloned())
    }

    /// Which kind of fiscal document `key` is on the order: an NFS-e when the order shows one with this key (its
    /// DPS Id, or `EXT<number>` for one issued elsewhere); otherwise an NF-e (whose use cases find it or not).
    pub async fn document_kind(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<DocumentKind> {
        Ok(self.shown_document(caller, id, key).await?.map_or(DocumentKind::Nfe, |d| d.kind))
    }

    /// Cancels the order's issued NFS-e (`key`: its DPS Id) at Sefin Nacional: event e101101 with `cMotivo`
    /// `reason` (1, 2 or 9) and `xMotivo` `justification` (15–255 characters); `representante` or `financeiro`.
    /// The cancellation goes on the order's timeline and Sefin's event document is kept; calling again for a
    /// cancelled NFS-e returns it.
    pub async fn cancel_nfse(
        &self,
        caller: &Caller,
        id: &OrderId,
        key: &str,
        reason: Option<u8>,
        justification: &str,
    ) -> AppResult<InvoiceRecord> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        let reason = reason.filter(|r| NFSE_CANCEL_REASONS.contains(r)).ok_or_else(|| {
            invalid("reason", "informe o motivo: 1 (erro na emissão), 2 (serviço não prestado) ou 9 (outros)")
        })?;
        let justification = between("justification", justification, JUSTIFICATION_CHARS)?;
        let doc = self.shown_document(caller, id, key).await?;
        match doc {
            Some(d) if d.kind == DocumentKind::Nfse && d.issued_elsewhere.is_some() => {
                Err(AppError::NfeEvent(crate::ports::NfeEventError::Refused {
                    c_stat: None,
                    message: "esta NFS-e foi emitida fora do osflow: cancele-a no emissor da prefeitura".into(),
                }))
            }
            Some(d) if d.kind == DocumentKind::Nfse => {
                Ok(self.nfse_events()?.cancel(&caller.tenant, id, key, reason, &justification).await?)
            }
            _ => Err(AppError::NotFound),
        }
    }

    /// The event document (`evento`, signed by Sefin) of the cancellation of the order's NFS-e `key`.
    pub async fn nfse_cancellation_xml(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Blob> {
        match self.shown_document(caller, id, key).await? {
            Some(d) if d.kind == DocumentKind::Nfse => {
                let blob_key = nfse_event_blob_key(id, key, NFSE_CANCEL_EVENT);
                self.blobs.get(&caller.tenant, &blob_key).await?.ok_or(AppError::NotFound)
            }
            _ => Err(AppError::NotFound),
        }
    }

    /// Records on the order an NFS-e of its labor issued elsewhere (`RecordExternalNfse`), with its file when
    /// one is sent (`(content_type, bytes)`, kept by [`App::keep_external_nfse_file`] first). The same request
    /// again (its `Idempotency-Key`) is answered as saved before anything is checked or kept.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_external_nfse(
        &self,
        caller: &Caller,
        id: &OrderId,
        number: u64,
        verification_code: String,
        file: Option<(&str, Vec<u8>)>,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        if let Some(saved) = self.authorized_replay(caller, &NFE_EVENT_ROLES, idem).await? {
            return Ok(saved);
        }
        let file = match file {
            Some((content_type, bytes)) => {
                Some(self.keep_external_nfse_file(caller, id, number, &verification_code, content_type, bytes).await?)
            }
            None => None,
        };
        let cmd = Command::RecordExternalNfse { number, verification_code, file };
        self.step(caller, id, cmd, if_match, idem, render).await
    }

    /// Keeps the file (PDF or XML, at most [`EXTERNAL_NFSE_MAX_BYTES`]) of the NFS-e number `number` issued
    /// elsewhere, before the order records it (`RecordExternalNfse` names the key returned). The file is checked
    /// to be what its type says, and kept only when the order would record the NFS-e now (its number, its
    /// `verification_code`, the order's labor): a refused record stores nothing. Each upload gets its own key, so
    /// a record refused after a race never replaces a kept file.
    pub async fn keep_external_nfse_file(
        &self,
        caller: &Caller,
        id: &OrderId,
        number: u64,
        verification_code: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> AppResult<String> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        let content_type = content_type.trim().to_ascii_lowercase();
        let ext = EXTERNAL_NFSE_TYPES.iter().find(|(t, _)| *t == content_type).map(|(_, e)| *e).ok_or_else(|| {
            invalid("file.content_type", "envie o PDF (application/pdf) ou o XML (application/xml) da NFS-e")
        })?;
        if bytes.is_empty() || bytes.len() > EXTERNAL_NFSE_MAX_BYTES {
            return Err(invalid(
                "file.data",
                format!("o arquivo deve ter de 1 byte a {} MiB", EXTERNAL_NFSE_MAX_BYTES / (1024 * 1024)),
            ));
        }
        let looks_right = match ext {
            "pdf" => bytes.starts_with(b"%PDF-"),
            _ => std::str::from_utf8(&bytes)
                .is_ok_and(|s| s.trim_start_matches('\u{feff}').trim_start().starts_with('<')),
        };
        if !looks_right {
            return Err(invalid("file.data", format!("o arquivo não é um {}", ext.to_uppercase())));
        }
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let verification_code = verification_code.to_owned();
        let record = Command::RecordExternalNfse { number, verification_code, file: None };
        self.check_step(caller, &order, &record).await?;
        // A fresh UUIDv7: uploads in the same millisecond (a race of two records) never share a key.
        let key = format!("orders/{id}/nfse/EXT{number}-{}.{ext}", self.ids.record_uuid().simple());
        self.blobs.put(&caller.tenant, &key, &Blob { content_type, bytes }).await?;
        Ok(key)
    }

    /// The order's fiscal documents as listed: its invoice records (NF-e and DPS, ascending by number) and the
    /// NFS-e issued elsewhere it records (no invoice record: the order alone holds them), each with the instant
    /// it was recorded.
    pub async fn order_documents(&self, caller: &Caller, id: &OrderId) -> AppResult<OrderDocuments> {
        self.require(caller, &READERS)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let records = self.invoices.invoices(&caller.tenant, id).await?;
        // An NFS-e stands without its DANFSe (one that could not be drawn is not drawn again): link only those kept.
        let mut danfse = Vec::new();
        for r in records.iter().filter(|r| r.numbering.document == FiscalDocument::Dps) {
            if let Some(key) = &r.protocol
                && self.blobs.head(&caller.tenant, &danfse_blob_key(id, key)).await?.is_some()
            {
                danfse.push(r.access_key.clone());
            }
        }
        let elsewhere: Vec<&InvoiceInfo> =
            order.documents(DocumentKind::Nfse).filter(|i| i.issued_elsewhere.is_some()).collect();
        if elsewhere.is_empty() {
            return Ok(OrderDocuments { records, elsewhere: Vec::new(), danfse });
        }
        let timeline = self.orders.timeline(&caller.tenant, id).await?;
        let recorded = |key: &str| {
            timeline
                .iter()
                .find(|e| matches!(&e.change, Change::InvoiceUpdated { invoice } if invoice.key == key))
                .map_or(order.updated_at, |e| e.at)
        };
        let elsewhere = elsewhere.into_iter().map(|i| (i.clone(), recorded(&i.key))).collect();
        Ok(OrderDocuments { records, elsewhere, danfse })
    }

    /// The file of the order's NFS-e issued elsewhere (`key`: `EXT<number>`).
    pub async fn external_nfse_file(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Blob> {
        let doc = self.shown_document(caller, id, key).await?;
        let file = doc.and_then(|d| d.issued_elsewhere).and_then(|e| e.file).ok_or(AppError::NotFound)?;
        self.blobs.get(&caller.tenant, &file).await?.ok_or(AppError::NotFound)
    }
}
