//! Cancelling an issued NFS-e: the event e101101 (cMotivo, xMotivo) signed with the provider's certificate,
//! registered at Sefin Nacional (`POST /nfse/{key}/eventos`), the `evento` Sefin returns kept beside the NFS-e, its
//! DANFSe drawn again as "NFS-e CANCELADA" and the cancellation on the order's timeline; and [`NfseEvents`], the port the API's use case sends it through.

use async_trait::async_trait;
use osflow_app::{Blob, FieldProblem, InvoiceRecord, NfeEventError, NfseEvents, StoreError, nfse_event_blob_key};
use osflow_domain::InvoiceState;
use osflow_domain::values::{OrderId, TenantId};
use osflow_nfse::event::{CANCEL, CancelInput, CancelReason, cancel};
use osflow_nfse::{Cnpj, EventOutcome, NfseKey, Situation};

use crate::invoicer::{InvoiceError, order_and_invoice, record_on_order};
use crate::mapping::{APP_VERSION, brt};
use crate::nfse::{nfse_environment, validate_nfse};
use crate::nfse_issue::{NfseInvoicer, store_danfse};

fn refused(message: impl Into<String>) -> NfeEventError {
    NfeEventError::Refused { c_stat: None, message: message.into() }
}

impl NfseInvoicer {
    /// Cancels the order's issued NFS-e whose DPS Id is `key`.
    ///
    /// Idempotent: an NFS-e already cancelled is returned as it is. Before sending, Sefin is asked for the
    /// cancellation (`GET /nfse/{key}/eventos/101101/1`): an earlier request whose answer was lost is completed
    /// from what Sefin holds, never sent twice.
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        key: &str,
        reason: u8,
        text: &str,
    ) -> Result<InvoiceRecord, NfeEventError> {
        let app = self.app();
        let (order, record) = order_and_invoice(app, tenant, order_id, |r| {
            r.numbering.document == osflow_app::FiscalDocument::Dps && r.access_key == key
        })
        .await?
        .ok_or(NfeEventError::NotFound)?;
        match record.state {
            InvoiceState::Cancelled => {
                record_on_order(app, &order, &record).await?;
                return Ok(record);
            }
            InvoiceState::Authorized => {}
            other => return Err(refused(format!("só uma NFS-e emitida pode ser cancelada (esta está {other:?})"))),
        }
        let nfse_key = record.protocol.as_deref().and_then(NfseKey::parse).ok_or_else(|| {
            NfeEventError::Store(StoreError::Corrupt(format!("DPS {key} issued without its NFS-e key")))
        })?;
        let reason = CancelReason::from_code(reason).ok_or_else(|| {
            NfeEventError::Invalid(FieldProblem { field: "reason".into(), message: "1, 2 ou 9".into() })
        })?;
        let config = self.emitters().emitter(tenant).await?.ok_or(InvoiceError::NotConfigured)?;
        let settings = validate_nfse(&config).map_err(InvoiceError::Config)?.ok_or(InvoiceError::NotConfigured)?;
        let certificate = self.certificate(tenant).await?;
        let authority = self.authorities().authority(&settings, &certificate).map_err(InvoiceError::Transport)?;

        let blob_key = nfse_event_blob_key(order_id, key, CANCEL);
        let registered = match authority.event(&nfse_key, CANCEL, 1).await.map_err(InvoiceError::Transport)? {
            Some(xml) => xml,
            None => {
                let input = CancelInput {
                    // The NFS-e's own environment: a cancellation is registered where the NFS-e was issued.
                    environment: nfse_environment(record.numbering.environment),
                    app_version: APP_VERSION.into(),
                    at: brt(app.clock.now()),
                    author: Cnpj::parse(&record.numbering.cnpj).map_err(|e| refused(e.to_string()))?,
                    key: nfse_key.clone(),
                    reason,
                    text: text.to_owned(),
                };
                let event = cancel(&input, &certificate, settings.algorithm).map_err(|e| match e {
                    osflow_nfse::event::CancelError::Build(b) if b.field.ends_with("xMotivo") => {
                        NfeEventError::Invalid(FieldProblem { field: "justification".into(), message: b.to_string() })
                    }
                    other => refused(format!("pedido de cancelamento: {other}")),
                })?;
                match authority.register_event(&event).await.map_err(InvoiceError::Transport)? {
                    EventOutcome::Registered { xml } => xml,
                    EventOutcome::Rejected(errors) => {
                        let list = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                        return Err(refused(format!("Sefin Nacional recusou o cancelamento: {list}")));
                    }
                }
            }
        };
        let blob = Blob { content_type: "application/xml".into(), bytes: registered.as_bytes().to_vec() };
        app.blobs.put(tenant, &blob_key, &blob).await?;
        // The stored DANFSe drawn again as cancelled before the record says so: a request that stops in between
        // finds the NFS-e still issued here, the event at Sefin, and draws it again.
        let nfse_xml = match &record.xml_ref {
            Some(at) => app.blobs.get(tenant, at).await?,
            None => None,
        };
        match nfse_xml {
            Some(nfse) => {
                let xml = String::from_utf8_lossy(&nfse.bytes);
                store_danfse(app, tenant, order_id, &nfse_key, &xml, Situation::Cancelled).await?;
            }
            None => tracing::error!(key = %nfse_key, "NFS-e not stored: its DANFSe not drawn as cancelled"),
        }
        let cancelled = InvoiceRecord {
            state: InvoiceState::Cancelled,
            message: Some(format!("NFS-e cancelada (motivo {}): {text}", reason.code())),
            revision: record.revision + 1,
            updated_at: app.clock.now(),
            ..record.clone()
        };
        match app.invoices.save_invoice(&cancelled, record.revision).await {
            Ok(()) => {}
            // Another request cancelled it meanwhile: that record stands.
            Err(StoreError::Conflict { .. }) => {
                let now = app.invoices.invoices(tenant, order_id).await?;
                let stored = now.into_iter().find(|r| r.numbering == record.numbering && r.number == record.number);
                let stored = stored.ok_or(NfeEventError::NotFound)?;
                let order = app.orders.get(tenant, order_id).await?.ok_or(NfeEventError::NotFound)?;
                record_on_order(app, &order, &stored).await?;
                return Ok(stored);
            }
            Err(e) => return Err(e.into()),
        }
        let order = app.orders.get(tenant, order_id).await?.ok_or(NfeEventError::NotFound)?;
        record_on_order(app, &order, &cancelled).await?;
        Ok(cancelled)
    }
}

#[async_trait]
impl NfseEvents for NfseInvoicer {
    async fn cancel(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        reason: u8,
        text: &str,
    ) -> Result<InvoiceRecord, NfeEventError> {
        NfseInvoicer::cancel(self, tenant, order, key, reason, text).await
    }
}
