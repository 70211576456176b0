//! Cancelling an authorized NF-e: the event 110111 with the authorization's `nProt`, within the legal window,
//! registered at SEFAZ, its procEventoNFe stored beside the nfeProc and the cancellation on the order's timeline.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use osflow_app::{Blob, InvoiceRecord, StoreError};
use osflow_domain::InvoiceState;
use osflow_domain::values::{OrderId, TenantId};
use osflow_nfe::{
    AccessKey, Certificate, Cnpj, DocumentError, EventDetail, EventInput, FiscalAuthority, Outcome, TransportError,
    proc_evento, sign_event,
};

use crate::config::{nfe_environment, validate};
use crate::invoicer::{InvoiceError, Invoicer, order_and_invoice};
use crate::mapping::brt;

/// The legal window to cancel an NF-e after its authorization (the common rule; some UFs accept later).
pub const CANCEL_WINDOW_HOURS: i64 = 24;

/// Why an NF-e was not cancelled (messages in Portuguese: they reach the user).
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("NF-e não encontrada nesta ordem de serviço")]
    NotFound,
    #[error("só uma NF-e autorizada pode ser cancelada (esta está {0:?})")]
    NotAuthorized(InvoiceState),
    /// The legal window is over: a cancellation now needs the UF's late procedure.
    #[error("prazo de cancelamento de {CANCEL_WINDOW_HOURS} h encerrado: a NF-e foi autorizada em {authorized_at}")]
    WindowClosed { authorized_at: String },
    /// The justification or another field of the event (the field named by its tag).
    #[error("evento de cancelamento inválido: {0}")]
    Event(#[from] DocumentError),
    /// SEFAZ refused the event (cStat and message).
    #[error("SEFAZ recusou o cancelamento: {c_stat} {x_motivo}")]
    Refused { c_stat: u16, x_motivo: String },
    #[error(transparent)]
    Invoice(#[from] InvoiceError),
}

impl From<StoreError> for CancelError {
    fn from(e: StoreError) -> CancelError {
        CancelError::Invoice(InvoiceError::Store(e))
    }
}

impl From<TransportError> for CancelError {
    fn from(e: TransportError) -> CancelError {
        CancelError::Invoice(InvoiceError::Transport(e))
    }
}

/// `orders/<id>/nfe/<key>-110111-01-procEventoNFe.xml`.
pub fn cancel_blob_key(order: &OrderId, key: &str) -> String {
    osflow_app::nfe_event_blob_key(order, key, "110111", 1)
}

/// `dhRecbto` of the stored nfeProc's protocol.
pub(crate) fn authorized_at(proc_xml: &str) -> Option<DateTime<FixedOffset>> {
    let prot = proc_xml.split("<protNFe").nth(1)?;
    let dh = prot.split("<dhRecbto>").nth(1)?.split('<').next()?;
    DateTime::parse_from_rfc3339(dh.trim()).ok()
}

impl Invoicer {
    /// What an event about the NF-e of `record` is signed and sent with: its input (the emitter as author, the
    /// record's environment, now in Brasília time), the company's certificate and the emitter's authority.
    pub(crate) async fn event_for(
        &self,
        tenant: &TenantId,
        record: &InvoiceRecord,
        seq: u8,
        detail: EventDetail,
    ) -> Result<(EventInput, Certificate, Arc<dyn FiscalAuthority>), InvoiceError> {
        let config = self.emitters.emitter(tenant).await?.ok_or(InvoiceError::NotConfigured)?;
        let emitter = validate(&config)?;
        let key = AccessKey::parse(&record.access_key).map_err(|_| InvoiceError::NotFound)?;
        let input = EventInput {
            environment: nfe_environment(record.numbering.environment),
            key,
            author: Cnpj::parse(key.emitter()).map_err(|_| InvoiceError::NotFound)?,
            at: brt(self.app.clock.now()),
            seq,
            detail,
        };
        let certificate = self.certificate(tenant).await?;
        let authority = self.authorities.authority(&emitter, &certificate)?;
        Ok((input, certificate, authority))
    }

    /// Cancels the order's authorized NF-e `key` with `justification` (15–255 characters).
    ///
    /// Idempotent: an NF-e already cancelled is returned as it is, without a new event; an event SEFAZ already
    /// holds (573) is settled by consulting the key (101/151/155 = cancelled). The window is checked against the
    /// authorization's `dhRecbto` before anything is sent.
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        key: &str,
        justification: &str,
    ) -> Result<InvoiceRecord, CancelError> {
        let (order, record) = order_and_invoice(&self.app, tenant, order_id, |r| r.access_key == key)
            .await?
            .ok_or(CancelError::NotFound)?;
        match record.state {
            InvoiceState::Cancelled => {
                self.record_on_order(&order, &record).await?;
                return Ok(record);
            }
            InvoiceState::Authorized => {}
            other => return Err(CancelError::NotAuthorized(other)),
        }
        let proc_ref = record.xml_ref.clone().ok_or(CancelError::NotAuthorized(record.state))?;
        let proc_xml = self
            .app
            .blobs
            .get(tenant, &proc_ref)
            .await?
            .map(|b| String::from_utf8_lossy(&b.bytes).into_owned())
            .ok_or(StoreError::NotFound)?;
        let authorized =
            authorized_at(&proc_xml).ok_or_else(|| StoreError::Corrupt("nfeProc without dhRecbto".into()))?;
        let now = self.app.clock.now();
        if now.signed_duration_since(authorized.with_timezone(&Utc)) > Duration::hours(CANCEL_WINDOW_HOURS) {
            return Err(CancelError::WindowClosed { authorized_at: authorized.to_rfc3339() });
        }
        let protocol = record.protocol.clone().ok_or(CancelError::NotAuthorized(record.state))?;

        let detail = EventDetail::Cancel { protocol, justification: justification.to_owned() };
        let (input, certificate, authority) = self.event_for(tenant, &record, 1, detail).await?;
        let access_key = input.key;
        let event = sign_event(&input, &certificate)?;
        let receipt = authority.send_event(&event).await?;
        let registered = if receipt.registered() {
            let proc_ = proc_evento(&event, &receipt).map_err(|e| StoreError::Other(e.to_string()))?;
            let blob = Blob { content_type: "application/xml".into(), bytes: proc_.into_bytes() };
            self.app.blobs.put(tenant, &cancel_blob_key(order_id, key), &blob).await?;
            Some(receipt.protocol.clone())
        } else if receipt.c_stat == 573 && cancelled_at_sefaz(authority.as_ref(), &access_key).await? {
            // Registered by an earlier attempt whose answer was lost.
            Some(None)
        } else {
            None
        };
        let Some(event_protocol) = registered else {
            return Err(CancelError::Refused { c_stat: receipt.c_stat, x_motivo: receipt.x_motivo });
        };
        let cancelled = InvoiceRecord {
            state: InvoiceState::Cancelled,
            cstat: Some(receipt.c_stat),
            message: Some(match event_protocol {
                Some(p) => format!("Cancelamento registrado (protocolo {p}): {justification}"),
                None => format!("Cancelamento registrado: {justification}"),
            }),
            revision: record.revision + 1,
            updated_at: now,
            ..record.clone()
        };
        self.app.invoices.save_invoice(&cancelled, record.revision).await?;
        let order = self.app.orders.get(tenant, order_id).await?.ok_or(CancelError::NotFound)?;
        self.record_on_order(&order, &cancelled).await?;
        Ok(cancelled)
    }
}

async fn cancelled_at_sefaz(authority: &dyn FiscalAuthority, key: &AccessKey) -> Result<bool, TransportError> {
    Ok(matches!(authority.consult(key).await?, Outcome::Rejected { c_stat: 101 | 151 | 155, .. }))
}
