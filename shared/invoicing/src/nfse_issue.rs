//! The NFS-e issuing use case: [`NfseInvoicer::issue`], the labor of a paid order on the NFS-e Nacional.
//!
//! Records of the DPS sequence ([`NumberingKey::dps`]) use the invoice record's fields this way: `number` is
//! `nDPS`, `access_key` the DPS Id (45 characters, what `GET /dps/{id}` finds), `protocol` the NFS-e access key
//! (50 digits) once issued, `message` Sefin's errors of a rejection (`code: description; …`), `xml_ref` the
//! stored NFS-e. The signed DPS is kept at [`dps_blob_key`] from the first send on.

use std::sync::Arc;

use osflow_app::{App, Blob, EmitterStore, FiscalEnvironment, InvoiceRecord, NumberingKey, StoreError};
use osflow_domain::InvoiceState;
use osflow_domain::values::{OrderId, TenantId};
use osflow_nfse::{
    Certificate, IssueOutcome, NfseAuthority, NfseKey, SignedDps, Situation, TransportError, build, sign_dps,
};
use uuid::Uuid;

use crate::invoicer::{Certificates, InvoiceError, pending_again, record_on_order, shared_authority};
use crate::nfse::{ValidNfse, dps_inputs, labor_groups, validate_nfse};

/// The Sefin an emitter talks to: Sefin Nacional (mutual TLS with the emitter's certificate) or the
/// [`osflow_nfse::simulator::Simulator`].
pub trait NfseAuthorityFor: Send + Sync {
    fn authority(
        &self,
        settings: &ValidNfse,
        certificate: &Certificate,
    ) -> Result<Arc<dyn NfseAuthority>, TransportError>;
}

shared_authority! {
    /// One Sefin for every emitter (the simulator of the embedded mode and the tests).
    SharedNfseAuthority: NfseAuthorityFor for ValidNfse => NfseAuthority
}

/// What [`NfseInvoicer::issue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NfseIssued {
    /// No approved labor, or the company has no municipal part configured: no NFS-e through osflow.
    NothingToInvoice,
    /// The order's DPS records as stored after this call, one per service code.
    Documents(Vec<InvoiceRecord>),
}

/// Where the signed DPS of an order is kept. The DPS Id does not hold the environment and each environment
/// numbers its own DPS, so the same Id comes again after the emitter moves between homologação and produção:
/// a homologação DPS is kept apart (`-dps-h.xml`; before, both were kept at `-dps.xml`, which
/// [`NfseInvoicer::issue`] still reads, trusting only bytes of the record's environment).
pub fn dps_blob_key(order: &OrderId, environment: FiscalEnvironment, dps_id: &str) -> String {
    match environment {
        FiscalEnvironment::Production => format!("orders/{order}/nfse/{dps_id}-dps.xml"),
        FiscalEnvironment::Homologation => format!("orders/{order}/nfse/{dps_id}-dps-h.xml"),
    }
}

/// Where the NFS-e returned by Sefin is kept.
pub fn nfse_blob_key(order: &OrderId, key: &str) -> String {
    format!("orders/{order}/nfse/{key}-nfse.xml")
}

/// The claim of the `k`-th DPS of an order in the DPS sequence (one number per DPS, each claimed once): the order
/// itself for the first, then the order id with `k` folded into its last random bits (still a UUIDv7 of the same
/// instant, so no other order has it).
fn claim_id(order: &OrderId, k: usize) -> OrderId {
    if k == 0 {
        return *order;
    }
    let mut b = *order.as_uuid().as_bytes();
    let k = k as u16;
    b[14] ^= (k >> 8) as u8;
    b[15] ^= (k & 0xff) as u8 | 0x80;
    OrderId::from_uuid(Uuid::from_bytes(b)).unwrap_or(*order)
}

/// Issues the NFS-e of a paid order's labor. Safe to call any number of times for the same order (a queue
/// redelivers): one DPS number per service code, one NFS-e per DPS.
pub struct NfseInvoicer {
    app: App,
    emitters: Arc<dyn EmitterStore>,
    authorities: Arc<dyn NfseAuthorityFor>,
    certificates: Certificates,
}

impl std::fmt::Debug for NfseInvoicer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfseInvoicer").finish_non_exhaustive()
    }
}

fn errors_text(errors: &[osflow_nfse::SefinError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl NfseInvoicer {
    pub fn new(app: App, emitters: Arc<dyn EmitterStore>, authorities: Arc<dyn NfseAuthorityFor>) -> NfseInvoicer {
        NfseInvoicer { app, emitters, authorities, certificates: Certificates::default() }
    }

    pub(crate) fn app(&self) -> &App {
        &self.app
    }

    pub(crate) fn emitters(&self) -> &dyn EmitterStore {
        self.emitters.as_ref()
    }

    pub(crate) fn authorities(&self) -> &dyn NfseAuthorityFor {
        self.authorities.as_ref()
    }

    pub(crate) async fn certificate(&self, tenant: &TenantId) -> Result<Certificate, InvoiceError> {
        self.certificates.get(self.emitters.as_ref(), tenant).await
    }

    /// Issues (or finishes issuing) the NFS-e of the order's approved labor, one DPS per service code.
    ///
    /// 1. Each DPS number is claimed once from the emitter's (CNPJ, série) DPS sequence; the record (number, DPS
    ///    Id, issue instant) is saved `pending` before anything is sent.
    /// 2. A record never sent, or rejected, is built from the current order and settings with its number and
    ///    instant (the same DPS Id: a fixed configuration fixes a rejection), signed, kept and sent. A record left
    ///    pending (no answer) is first looked up with `GET /dps/{id}`; only when Sefin does not have it are the
    ///    same signed bytes sent again.
    /// 3. The NFS-e goes into the blob store and the outcome onto the record.
    pub async fn issue(&self, tenant: &TenantId, order_id: &OrderId) -> Result<NfseIssued, InvoiceError> {
        let order = self.app.orders.get(tenant, order_id).await?.ok_or(InvoiceError::NotFound)?;
        let Some(config) = self.emitters.emitter(tenant).await? else { return Ok(NfseIssued::NothingToInvoice) };
        let Some(settings) = validate_nfse(&config)? else { return Ok(NfseIssued::NothingToInvoice) };
        let groups = labor_groups(&order, &settings).len();
        if groups == 0 {
            return Ok(NfseIssued::NothingToInvoice);
        }
        let numbering =
            NumberingKey::dps(settings.provider.cnpj.as_str(), settings.serie).in_environment(config.environment);
        let stored: Vec<InvoiceRecord> = self
            .app
            .invoices
            .invoices(tenant, order_id)
            .await?
            .into_iter()
            .filter(|r| r.numbering == numbering)
            .collect();
        // Issued (or cancelled since): final; calling again only makes sure the order shows them.
        let all_done = stored.len() == groups
            && stored.iter().all(|r| matches!(r.state, InvoiceState::Authorized | InvoiceState::Cancelled));
        if all_done {
            for r in &stored {
                record_on_order(&self.app, &order, r).await?;
            }
            return Ok(NfseIssued::Documents(stored));
        }
        if !order.paid_in_full() {
            return Err(InvoiceError::NotPaid);
        }
        let mut numbers = Vec::with_capacity(groups);
        for k in 0..groups {
            numbers.push(self.app.invoices.claim_number(tenant, &numbering, &claim_id(order_id, k)).await?);
        }
        // Every DPS record exists and shows on the order before any is sent: the release waits for all of them.
        let mut records = Vec::with_capacity(groups);
        for (k, number) in numbers.into_iter().enumerate() {
            let record = match stored.iter().find(|r| r.number == number) {
                Some(r) => r.clone(),
                None => {
                    let now = self.app.clock.now();
                    let input = dps_inputs(&order, &settings, &vec![number; k + 1], now).into_iter().nth(k);
                    let input = input.ok_or(InvoiceError::NotFound)?;
                    let id = build(&input)?.id().as_str().to_owned();
                    let record = InvoiceRecord::pending(tenant, order_id, &numbering, number, id, now);
                    match self.app.invoices.save_invoice(&record, 0).await {
                        Ok(()) => record,
                        Err(StoreError::AlreadyExists) => {
                            let again = self.app.invoices.invoices(tenant, order_id).await?;
                            again
                                .into_iter()
                                .find(|r| r.numbering == numbering && r.number == number)
                                .ok_or(StoreError::NotFound)?
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            record_on_order(&self.app, &order, &record).await?;
            records.push(record);
        }
        let certificate = self.certificate(tenant).await?;
        let authority = self.authorities.authority(&settings, &certificate)?;
        let mut out = Vec::with_capacity(groups);
        for (k, record) in records.into_iter().enumerate() {
            if matches!(record.state, InvoiceState::Authorized | InvoiceState::Cancelled) {
                out.push(record);
                continue;
            }
            let number = record.number;
            let saved = match self.send(&order, &settings, &certificate, authority.as_ref(), record, k).await {
                Ok(saved) => saved,
                // Another delivery of the same order moved the record on meanwhile: its outcome stands.
                Err(InvoiceError::Store(StoreError::Conflict { .. })) => self
                    .app
                    .invoices
                    .invoices(tenant, order_id)
                    .await?
                    .into_iter()
                    .find(|r| r.numbering == numbering && r.number == number)
                    .ok_or(StoreError::NotFound)?,
                Err(e) => return Err(e),
            };
            let order = self.app.orders.get(tenant, order_id).await?.ok_or(InvoiceError::NotFound)?;
            record_on_order(&self.app, &order, &saved).await?;
            out.push(saved);
        }
        Ok(NfseIssued::Documents(out))
    }

    /// The DPS of a pending record as it was sent, if it was: at its environment's key, or (homologação) at the
    /// key both environments shared before; bytes of another environment's DPS with the same Id are not it.
    async fn kept_dps(&self, record: &InvoiceRecord, key: &str) -> Result<Option<SignedDps>, InvoiceError> {
        let environment = record.numbering.environment;
        let mut kept = self.app.blobs.get(&record.tenant, key).await?;
        if kept.is_none() && environment == FiscalEnvironment::Homologation {
            let shared = dps_blob_key(&record.order_id, FiscalEnvironment::Production, &record.access_key);
            kept = self.app.blobs.get(&record.tenant, &shared).await?;
        }
        let Some(blob) = kept else { return Ok(None) };
        let xml = String::from_utf8(blob.bytes).map_err(|_| StoreError::Corrupt("DPS bytes".into()))?;
        let signed = SignedDps::from_stored(xml).map_err(|e| StoreError::Corrupt(format!("stored DPS: {e}")))?;
        Ok((signed.environment() == crate::nfse::nfse_environment(environment)).then_some(signed))
    }

    async fn send(
        &self,
        order: &osflow_domain::Order,
        settings: &ValidNfse,
        certificate: &Certificate,
        authority: &dyn NfseAuthority,
        record: InvoiceRecord,
        k: usize,
    ) -> Result<InvoiceRecord, InvoiceError> {
        let tenant = &record.tenant.clone();
        let environment = record.numbering.environment;
        let dps_key = dps_blob_key(&record.order_id, environment, &record.access_key);
        let kept = match record.state {
            InvoiceState::Pending => self.kept_dps(&record, &dps_key).await?,
            _ => None,
        };
        let (signed, pending_before) = match kept {
            // Sent before without an answer: the same bytes, after asking Sefin.
            Some(signed) => (signed, true),
            // Never sent, or rejected: built again from the current order and settings, same number and instant.
            _ => {
                let mut inputs = dps_inputs(order, settings, &vec![record.number; k + 1], record.created_at);
                let input = inputs.drain(k..).next().ok_or(InvoiceError::NotFound)?;
                let unsigned = build(&input)?;
                if unsigned.id().as_str() != record.access_key {
                    return Err(InvoiceError::KeyChanged {
                        stored: record.access_key.clone(),
                        built: unsigned.id().as_str().to_owned(),
                    });
                }
                let signed = sign_dps(&unsigned, certificate, settings.algorithm)?;
                let blob = Blob { content_type: "application/xml".into(), bytes: signed.xml().as_bytes().to_vec() };
                self.app.blobs.put(tenant, &dps_key, &blob).await?;
                (signed, false)
            }
        };
        // An NFS-e record holds no cStat: clearing it changes nothing.
        let record = pending_again(&self.app, record).await?;
        let outcome = if pending_before {
            match authority.find_by_dps(signed.id()).await? {
                Some(key) => match authority.nfse(&key).await? {
                    Some(n) => IssueOutcome::Issued(n),
                    None => authority.issue(&signed).await?,
                },
                None => authority.issue(&signed).await?,
            }
        } else {
            authority.issue(&signed).await?
        };
        let now = self.app.clock.now();
        let mut next = InvoiceRecord { revision: record.revision + 1, updated_at: now, ..record.clone() };
        match outcome {
            IssueOutcome::Issued(n) => {
                let key = nfse_blob_key(&record.order_id, n.key.as_str());
                let blob = Blob { content_type: "application/xml".into(), bytes: n.xml.as_bytes().to_vec() };
                self.app.blobs.put(tenant, &key, &blob).await?;
                store_danfse(&self.app, tenant, &record.order_id, &n.key, &n.xml, Situation::Issued).await?;
                next.state = InvoiceState::Authorized;
                next.protocol = Some(n.key.as_str().to_owned());
                next.message = Some(format!("NFS-e nº {} emitida", n.number));
                next.xml_ref = Some(key);
            }
            IssueOutcome::Rejected(errors) => {
                next.state = InvoiceState::Rejected;
                next.message = Some(errors_text(&errors));
            }
        }
        self.app.invoices.save_invoice(&next, record.revision).await?;
        Ok(next)
    }
}

/// Draws the DANFSe of the NFS-e `xml` in its `situation` and stores it beside the NFS-e
/// ([`danfse_blob_key`](osflow_app::danfse_blob_key)), over any drawn before, so the functions without the fiscal
/// crates serve it. Drawn here, never asked of the ADN: its `GET /danfse` route is suspended in production (NT 008), so
/// asking would cost a failed call per NFS-e, and the simulator's draws the same PDF. The NFS-e stands without it:
/// one that cannot be drawn is logged (the same document would fail again), never retried.
pub(crate) async fn store_danfse(
    app: &App,
    tenant: &TenantId,
    order: &OrderId,
    key: &NfseKey,
    xml: &str,
    situation: Situation,
) -> Result<(), StoreError> {
    match osflow_nfse::danfse(xml, situation) {
        Ok(pdf) => {
            let danfse = Blob { content_type: "application/pdf".into(), bytes: pdf };
            app.blobs.put(tenant, &osflow_app::danfse_blob_key(order, key.as_str()), &danfse).await
        }
        Err(e) => {
            tracing::error!(%key, error = %e, "DANFSe not drawn");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::claim_id;
    use osflow_domain::values::OrderId;

    #[test]
    fn claim_ids_are_distinct_v7_ids_of_the_same_instant() {
        let o = OrderId::parse("01938a6e-8f3a-7cc2-9d4e-0123456789ab").unwrap();
        let ids: Vec<OrderId> = (0..4).map(|k| claim_id(&o, k)).collect();
        assert_eq!(ids[0], o);
        for (i, a) in ids.iter().enumerate() {
            assert_eq!(a.created_at(), o.created_at());
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
