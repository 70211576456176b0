//! After an NF-e is authorized: its cancellation (event 110111), its cartas de correção (110110), the
//! documents SEFAZ registered (procEventoNFe) and its DANFE; the numbers never authorized: the gaps of a
//! sequence and their inutilização (procInutNFe).
//!
//! Signing needs the NF-e library, so the events go through the [`NfeEvents`] port, wired only where they are
//! sent ([`App::nfe_events`]); the reads serve what the invoicer stored.

use osflow_domain::values::OrderId;
use osflow_domain::{DomainError, InvoiceCorrection, Role};

use crate::ports::{
    Blob, FiscalEnvironment, InvoiceRecord, NfeEventError, NfeGaps, VoidRecord, danfe_blob_key, latest_record,
    nfe_event_blob_key,
};
use crate::usecases::{App, AppError, AppResult, Caller, READERS};

/// Who may cancel or correct an NF-e: the people answerable for the company's fiscal documents.
pub const NFE_EVENT_ROLES: [Role; 2] = [Role::Representante, Role::Financeiro];

/// `xJust` of a cancellation: 15–255 characters.
pub const JUSTIFICATION_CHARS: (usize, usize) = (15, 255);
/// `xCorrecao` of a carta de correção: 15–1000 characters.
pub const CORRECTION_CHARS: (usize, usize) = (15, 1000);

/// `tpEvento` of the documents that can be downloaded.
const CANCEL_EVENT: &str = "110111";
const CORRECTION_EVENT: &str = "110110";

pub(crate) fn between(field: &str, value: &str, (min, max): (usize, usize)) -> AppResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(AppError::Domain(DomainError::Invalid {
            field: field.to_owned(),
            reason: format!("deve ter de {min} a {max} caracteres (tem {n})"),
        }));
    }
    // Control characters and what the bus refuses, as every free text of the API.
    osflow_domain::machine::text(field, v, max)?;
    Ok(v.to_owned())
}

impl From<NfeEventError> for AppError {
    fn from(e: NfeEventError) -> AppError {
        match e {
            NfeEventError::NotFound => AppError::NotFound,
            NfeEventError::Invalid(p) => AppError::Domain(DomainError::Invalid { field: p.field, reason: p.message }),
            NfeEventError::Store(s) => AppError::from(s),
            other @ (NfeEventError::Refused { .. } | NfeEventError::Unavailable(_)) => AppError::NfeEvent(other),
        }
    }
}

impl App {
    fn nfe_events(&self) -> AppResult<&dyn crate::ports::NfeEvents> {
        // Only the function serving these routes wires it; another one never routes here.
        self.nfe_events.as_deref().ok_or(AppError::NotFound)
    }

    /// The order's NF-e with this key (`NotFound` for another company's order, an unknown key).
    async fn nfe_record(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<InvoiceRecord> {
        latest_record(self.order_invoices(caller, id).await?, |r| r.access_key == key).ok_or(AppError::NotFound)
    }

    /// Cancels the order's authorized NF-e `key` at SEFAZ (event 110111) with a justification of 15–255
    /// characters, within the legal window; `representante` or `financeiro`. The cancellation goes on the
    /// order's timeline; calling again for a cancelled NF-e returns it.
    pub async fn cancel_invoice(
        &self,
        caller: &Caller,
        id: &OrderId,
        key: &str,
        justification: &str,
    ) -> AppResult<InvoiceRecord> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        let justification = between("justification", justification, JUSTIFICATION_CHARS)?;
        self.nfe_record(caller, id, key).await?;
        Ok(self.nfe_events()?.cancel(&caller.tenant, id, key, &justification).await?)
    }

    /// Registers the next carta de correção (110110, at most 20 per NF-e) of the order's authorized NF-e `key`
    /// with a text of 15–1000 characters; `representante` or `financeiro`. The same text as the latest one is
    /// that one (a retried request registers nothing new).
    pub async fn correct_invoice(
        &self,
        caller: &Caller,
        id: &OrderId,
        key: &str,
        text: &str,
    ) -> AppResult<InvoiceCorrection> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        let text = between("text", text, CORRECTION_CHARS)?;
        self.nfe_record(caller, id, key).await?;
        Ok(self.nfe_events()?.correct(&caller.tenant, id, key, &text).await?)
    }

    /// The cartas de correção of the order's NF-e `key`, in sequence.
    pub async fn invoice_corrections(
        &self,
        caller: &Caller,
        id: &OrderId,
        key: &str,
    ) -> AppResult<Vec<InvoiceCorrection>> {
        self.require(caller, &READERS)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        self.nfe_record(caller, id, key).await?;
        Ok(order.corrections_of(key).cloned().collect())
    }

    /// The procEventoNFe of the carta de correção `seq` of the NF-e `key`.
    pub async fn invoice_correction_xml(&self, caller: &Caller, id: &OrderId, key: &str, seq: u8) -> AppResult<Blob> {
        let known = self.invoice_corrections(caller, id, key).await?.iter().any(|c| c.seq == seq);
        if !known {
            return Err(AppError::NotFound);
        }
        let blob_key = nfe_event_blob_key(id, key, CORRECTION_EVENT, seq);
        self.blobs.get(&caller.tenant, &blob_key).await?.ok_or(AppError::NotFound)
    }

    /// The procEventoNFe of the cancellation of the NF-e `key`.
    pub async fn invoice_cancellation_xml(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Blob> {
        self.require(caller, &READERS)?;
        self.nfe_record(caller, id, key).await?;
        let blob_key = nfe_event_blob_key(id, key, CANCEL_EVENT, 1);
        self.blobs.get(&caller.tenant, &blob_key).await?.ok_or(AppError::NotFound)
    }

    /// The gaps of the company's NF-e sequence in `environment` (the emitter's own when `None`) and its
    /// inutilizações; `representante` or `financeiro`.
    pub async fn nfe_gaps(&self, caller: &Caller, environment: Option<FiscalEnvironment>) -> AppResult<NfeGaps> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        Ok(self.nfe_events()?.gaps(&caller.tenant, environment).await?)
    }

    /// Voids the gaps `first..=last` of that sequence at SEFAZ (inutilização) with a justification of 15–255
    /// characters; `representante` or `financeiro`. The same range again answers the inutilização made.
    pub async fn void_nfe_numbers(
        &self,
        caller: &Caller,
        environment: Option<FiscalEnvironment>,
        first: u64,
        last: u64,
        justification: &str,
    ) -> AppResult<VoidRecord> {
        self.require(caller, &NFE_EVENT_ROLES)?;
        let justification = between("justification", justification, JUSTIFICATION_CHARS)?;
        Ok(self.nfe_events()?.void_range(&caller.tenant, environment, first, last, &justification).await?)
    }

    /// The procInutNFe of the inutilização starting at `first` of that sequence.
    pub async fn nfe_void_xml(
        &self,
        caller: &Caller,
        environment: Option<FiscalEnvironment>,
        first: u64,
    ) -> AppResult<(VoidRecord, Blob)> {
        let gaps = self.nfe_gaps(caller, environment).await?;
        let void = gaps.voids.into_iter().find(|v| v.first == first).ok_or(AppError::NotFound)?;
        let at = void.xml_ref.as_deref().ok_or(AppError::NotFound)?;
        let blob = self.blobs.get(&caller.tenant, at).await?.ok_or(AppError::NotFound)?;
        Ok((void, blob))
    }

    /// The DANFE of the order's NF-e `key`: the PDF the invoicer printed when SEFAZ authorized it.
    pub async fn invoice_danfe(&self, caller: &Caller, id: &OrderId, key: &str) -> AppResult<Blob> {
        self.nfe_record(caller, id, key).await?;
        self.blobs.get(&caller.tenant, &danfe_blob_key(id, key)).await?.ok_or(AppError::NotFound)
    }
}
