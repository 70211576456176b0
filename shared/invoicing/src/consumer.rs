//! The invoicer as the consumer of the `invoicing.fifo` queue: the events that may complete an order's payment
//! (a payment that zeroes the balance, the release) issue its NF-e.
//!
//! What comes back is decided by what a retry can change:
//! - done, nothing to invoice, no emitter configured (the company does not issue NF-e), the order not paid in
//!   full yet (a later payment or the release brings the order back), the order gone: handled;
//! - a rejection or denial is stored on the record and the order (the outcome, not an error): handled;
//! - what no retry can fix (no certificate, a configuration or mapping problem, a changed key): the record is
//!   rejected with the reason and no cStat (or, before a number was claimed, nothing is stored): handled — the
//!   staff's retry after the fix sends it again, consulting first;
//! - no answer from SEFAZ (or an inconclusive one), a store failure: failed, so the queue (or the embedded
//!   relay's backoff) brings the event back — the record keeps its number, cNF and key, and a retry consults
//!   SEFAZ before sending again. The FIFO group is the order, so one order's retries never hold another's.

use async_trait::async_trait;
use osflow_bus::{ConsumeError, Consumer, Envelope, Queue};

use crate::invoicer::{InvoiceError, Invoicer, Issued};
use crate::nfse_issue::NfseIssued;

#[async_trait]
impl Consumer for Invoicer {
    fn queue(&self) -> Queue {
        Queue::Invoicing
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        // The labor's NFS-e, when wired: attempted whatever happens to the NF-e, retried alike.
        let nfse = match &self.nfse {
            None => Ok(()),
            Some(n) => match n.issue(&envelope.tenant, &envelope.order_id).await {
                Ok(NfseIssued::NothingToInvoice) => Ok(()),
                Ok(NfseIssued::Documents(docs)) => {
                    for d in docs {
                        tracing::info!(
                            event_id = %envelope.event_id, order_id = %envelope.order_id, state = ?d.state,
                            number = d.number, "NFS-e DPS handled"
                        );
                    }
                    Ok(())
                }
                Err(InvoiceError::NotConfigured | InvoiceError::NotPaid | InvoiceError::NotFound) => Ok(()),
                Err(e) => {
                    tracing::warn!(event_id = %envelope.event_id, order_id = %envelope.order_id, error = %e, "NFS-e not issued; will retry");
                    Err(ConsumeError::failed(e))
                }
            },
        };
        let nfe = self.handle_nfe(envelope).await;
        nfe.and(nfse)
    }
}

impl Invoicer {
    async fn handle_nfe(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        match self.issue(&envelope.tenant, &envelope.order_id).await {
            Ok(Issued::NothingToInvoice) => Ok(()),
            Ok(Issued::Invoice(record)) => {
                tracing::info!(
                    event_id = %envelope.event_id, order_id = %envelope.order_id, state = ?record.state,
                    number = record.number, "NF-e issued"
                );
                Ok(())
            }
            Err(InvoiceError::NotConfigured | InvoiceError::NotPaid | InvoiceError::NotFound) => Ok(()),
            // Before a number was claimed (the configuration or the order's data): a redelivery cannot help.
            Err(e) if e.needs_a_fix() => {
                tracing::warn!(event_id = %envelope.event_id, order_id = %envelope.order_id, error = %e, "NF-e not issued: needs a fix");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(event_id = %envelope.event_id, order_id = %envelope.order_id, error = %e, "NF-e not issued; will retry");
                Err(ConsumeError::failed(e))
            }
        }
    }
}
