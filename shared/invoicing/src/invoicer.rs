//! The issuing use case: [`Invoicer::issue`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use osflow_app::{
    App, AppError, Blob, EmitterConfig, EmitterStore, InvoiceRecord, NumberingKey, Rendered, StepRequest, StoreError,
};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Actor, Command, DocumentKind, InvoiceInfo, InvoiceState, Order};
use osflow_nfe::{
    BuildError, CertError, Certificate, Cnf, FiscalAuthority, NfeInput, Outcome, SignError, SignedNfe, TransportError,
    build, sign, wrap,
};

use crate::config::{ConfigError, ValidEmitter, validate};
use crate::mapping::{MapError, nfe_input};

/// Why an issue did not reach an answer of the authority (messages in Portuguese: they reach the user). A
/// rejection or denial is not an error: it is the outcome stored on the record and the order.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    #[error("ordem de serviço não encontrada")]
    NotFound,
    #[error("a empresa não tem emitente de NF-e configurado")]
    NotConfigured,
    #[error("a empresa não tem certificado digital A1 cadastrado")]
    NoCertificate,
    #[error("a ordem de serviço ainda não está paga integralmente")]
    NotPaid,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error("certificado digital: {0}")]
    Certificate(#[from] CertError),
    #[error("NF-e inválida: {0}")]
    Build(#[from] BuildError),
    #[error("assinatura da NF-e: {0}")]
    Sign(#[from] SignError),
    /// The configuration changed a part of the access key (UF) after the number was used: the stored key wins.
    #[error("a chave de acesso mudou ({built}, registrada {stored}): a UF ou o CNPJ do emitente foi alterado")]
    KeyChanged { stored: String, built: String },
    /// No answer from the authority: the record stays pending; issue again later (it consults first).
    #[error("SEFAZ sem resposta, a NF-e continua pendente: {0}")]
    Transport(#[from] TransportError),
    #[error("armazenamento: {0}")]
    Store(#[from] StoreError),
    #[error("ordem de serviço: {0}")]
    App(AppError),
}

impl InvoiceError {
    /// Errors no retry can fix (the configuration, the certificate, the order's data, a changed key): someone
    /// must change something first.
    pub fn needs_a_fix(&self) -> bool {
        matches!(
            self,
            InvoiceError::NoCertificate
                | InvoiceError::Config(_)
                | InvoiceError::Map(_)
                | InvoiceError::Certificate(_)
                | InvoiceError::Build(_)
                | InvoiceError::Sign(_)
                | InvoiceError::KeyChanged { .. }
        )
    }
}

impl From<AppError> for InvoiceError {
    fn from(e: AppError) -> InvoiceError {
        match e {
            AppError::NotFound => InvoiceError::NotFound,
            AppError::Store(s) => InvoiceError::Store(s),
            other => InvoiceError::App(other),
        }
    }
}

/// What [`Invoicer::issue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// The order has no approved part: no NF-e (labor goes on the NFS-e).
    NothingToInvoice,
    /// The order's NF-e as stored after this call (authorized, rejected or denied).
    Invoice(Box<InvoiceRecord>),
}

/// The authority an emitter talks to: SEFAZ (mutual TLS with the emitter's certificate, the UF's endpoints) or
/// the [`osflow_nfe::simulator::Simulator`].
pub trait AuthorityFor: Send + Sync {
    fn authority(
        &self,
        emitter: &ValidEmitter,
        certificate: &Certificate,
    ) -> Result<Arc<dyn FiscalAuthority>, TransportError>;
}

/// Defines `$name`, one authority (`Arc<dyn $authority>`) for every emitter, whatever its settings (`$settings`)
/// and certificate: the `$port` of the simulator of the embedded mode and the tests. The NF-e's
/// [`SharedAuthority`] and the NFS-e's [`crate::SharedNfseAuthority`] are this one type over their own port; a
/// macro rather than a generic type, so that both stay tuple structs built as `SharedAuthority(simulator)` (a
/// type alias cannot construct one).
macro_rules! shared_authority {
    ($(#[$doc:meta])* $name:ident: $port:ident for $settings:ty => $authority:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(pub Arc<dyn $authority>);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl $port for $name {
            fn authority(&self, _: &$settings, _: &Certificate) -> Result<Arc<dyn $authority>, TransportError> {
                Ok(self.0.clone())
            }
        }
    };
}
pub(crate) use shared_authority;

shared_authority! {
    /// One authority for every emitter (the simulator of the embedded mode and the tests).
    SharedAuthority: AuthorityFor for ValidEmitter => FiscalAuthority
}

/// Only a conclusive answer ends an attempt: a paused or throttled authority, or an SVC not on for the UF
/// (whatever adapter reported it as an outcome), leaves the record pending, to be consulted and retried.
fn decided(outcome: Outcome) -> Result<Outcome, InvoiceError> {
    match outcome {
        Outcome::Rejected { c_stat, x_motivo }
            if osflow_nfe::inconclusive(c_stat) || crate::contingency::svc_off(c_stat) =>
        {
            Err(InvoiceError::Transport(TransportError::Inconclusive { c_stat, x_motivo }))
        }
        other => Ok(other),
    }
}

/// The emitters' A1 certificates, each parsed once per stored revision (the NF-e and the NFS-e invoicers keep
/// one each).
#[derive(Default)]
pub(crate) struct Certificates(Mutex<HashMap<TenantId, (u64, Certificate)>>);

impl Certificates {
    /// The tenant's certificate as stored now.
    pub(crate) async fn get(
        &self,
        emitters: &dyn EmitterStore,
        tenant: &TenantId,
    ) -> Result<Certificate, InvoiceError> {
        let stored = emitters.certificate(tenant).await?.ok_or(InvoiceError::NoCertificate)?;
        {
            let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((rev, cert)) = cache.get(tenant)
                && *rev == stored.revision
            {
                return Ok(cert.clone());
            }
        }
        let cert = Certificate::from_pkcs12(&stored.pkcs12, &stored.password)?;
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(tenant.clone(), (stored.revision, cert.clone()));
        Ok(cert)
    }
}

/// The component name of the invoicer on the order's timeline.
pub const COMPONENT: &str = "invoicer";

/// Issues the NF-e of a paid order. Safe to call any number of times for the same order (a queue redelivers):
/// one number, one cNF, one key per order and emitter sequence.
pub struct Invoicer {
    pub(crate) app: App,
    pub(crate) emitters: Arc<dyn EmitterStore>,
    pub(crate) authorities: Arc<dyn AuthorityFor>,
    certificates: Certificates,
    /// The NFS-e of the labor, issued by the same consumer when wired ([`Invoicer::with_nfse`]).
    pub(crate) nfse: Option<Arc<crate::nfse_issue::NfseInvoicer>>,
}

impl std::fmt::Debug for Invoicer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoicer").finish_non_exhaustive()
    }
}

pub(crate) fn blob_key(order: &OrderId, key: &str) -> String {
    format!("orders/{order}/nfe/{key}-procNFe.xml")
}

/// The order's view of an invoice record (NF-e, or NFS-e by its DPS).
pub(crate) fn info(record: &InvoiceRecord) -> InvoiceInfo {
    InvoiceInfo {
        kind: match record.numbering.document {
            osflow_app::FiscalDocument::Nfe => DocumentKind::Nfe,
            osflow_app::FiscalDocument::Dps => DocumentKind::Nfse,
        },
        issued_elsewhere: None,
        state: record.state,
        serie: record.numbering.serie,
        number: record.number,
        key: record.access_key.clone(),
        protocol: record.protocol.clone(),
        cstat: record.cstat,
        message: record.message.clone(),
        sequence: match record.numbering.document {
            osflow_app::FiscalDocument::Nfe => None,
            osflow_app::FiscalDocument::Dps => Some(dps_sequence(&record.numbering)),
        },
    }
}

/// How the order names the DPS sequence of an NFS-e ([`InvoiceInfo::sequence`]): `<cnpj>/<série>`, `/H` after it
/// in homologação.
fn dps_sequence(numbering: &NumberingKey) -> String {
    let h = if numbering.environment.is_production() { "" } else { "/H" };
    format!("{}/{}{h}", numbering.cnpj, numbering.serie)
}

/// The order `order_id` and the one of its fiscal documents that `which` picks (the latest attempt when several
/// do: [`osflow_app::latest_record`]), `None` when either is not there (the order is read first).
pub(crate) async fn order_and_invoice(
    app: &App,
    tenant: &TenantId,
    order_id: &OrderId,
    which: impl Fn(&InvoiceRecord) -> bool,
) -> Result<Option<(Order, InvoiceRecord)>, StoreError> {
    let Some(order) = app.orders.get(tenant, order_id).await? else {
        return Ok(None);
    };
    let record = osflow_app::latest_record(app.invoices.invoices(tenant, order_id).await?, which);
    Ok(record.map(|record| (order, record)))
}

/// A rejected record sent again (a retry asked for after the fix, or a later event): pending until the new
/// answer, saved at the next revision; any other record as it is.
pub(crate) async fn pending_again(app: &App, record: InvoiceRecord) -> Result<InvoiceRecord, InvoiceError> {
    if record.state != InvoiceState::Rejected {
        return Ok(record);
    }
    let rejected_at = record.revision;
    let pending = InvoiceRecord {
        state: InvoiceState::Pending,
        cstat: None,
        message: None,
        revision: rejected_at + 1,
        updated_at: app.clock.now(),
        ..record
    };
    app.invoices.save_invoice(&pending, rejected_at).await?;
    Ok(pending)
}

/// Records a document's state on the order (System actor), unless the order shows it already.
pub(crate) async fn record_on_order(app: &App, order: &Order, record: &InvoiceRecord) -> Result<(), InvoiceError> {
    let invoice = info(record);
    if order.document(&invoice.key) == Some(&invoice) {
        return Ok(());
    }
    let actor = Actor::System { component: COMPONENT.into() };
    let render = |_: &Order, _: &osflow_domain::Flow| Rendered { status: 200, body: String::new() };
    match app
        .step_as(StepRequest::new(&order.tenant, actor, &order.id, Command::RecordInvoice { invoice }), &render)
        .await
    {
        // Shown already, or a later state is (another delivery of the same order got there first).
        Ok(_) | Err(AppError::Domain(osflow_domain::DomainError::InvoiceRecordStale { .. })) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Invoicer {
    pub fn new(app: App, emitters: Arc<dyn EmitterStore>, authorities: Arc<dyn AuthorityFor>) -> Invoicer {
        Invoicer { app, emitters, authorities, certificates: Certificates::default(), nfse: None }
    }

    /// Also issues the NFS-e of the labor of every order it handles (the queue's consumer).
    pub fn with_nfse(mut self, nfse: Arc<crate::nfse_issue::NfseInvoicer>) -> Invoicer {
        self.nfse = Some(nfse);
        self
    }

    /// The tenant's certificate, parsed once per stored revision.
    pub(crate) async fn certificate(&self, tenant: &TenantId) -> Result<Certificate, InvoiceError> {
        self.certificates.get(self.emitters.as_ref(), tenant).await
    }

    /// Records the invoice state on the order (System actor), unless the order shows it already.
    pub(crate) async fn record_on_order(&self, order: &Order, record: &InvoiceRecord) -> Result<(), InvoiceError> {
        record_on_order(&self.app, order, record).await
    }

    /// Issues (or finishes issuing) the NF-e of the order's approved parts.
    ///
    /// 1. The number is claimed from the emitter's (CNPJ, série) sequence; the record (number, a cNF drawn once,
    ///    the key) is saved `pending` before anything is sent. A later call reuses the stored record.
    /// 2. The document is built from the current order and configuration (a fixed configuration fixes a
    ///    rejection; number, cNF, issue instant and so the key stay the same), signed and sent. A retry of a
    ///    record still pending consults the key first (it may have been authorized before a crash or timeout).
    /// 3. The outcome goes on the record, the nfeProc of an authorized NF-e into the blob store, and the state
    ///    onto the order's timeline.
    ///
    /// An authorized or denied NF-e is final: calling again only makes sure the order shows it.
    pub async fn issue(&self, tenant: &TenantId, order_id: &OrderId) -> Result<Issued, InvoiceError> {
        let order = self.app.orders.get(tenant, order_id).await?.ok_or(InvoiceError::NotFound)?;
        if order.approved_parts().next().is_none() {
            return Ok(Issued::NothingToInvoice);
        }
        let config: EmitterConfig = self.emitters.emitter(tenant).await?.ok_or(InvoiceError::NotConfigured)?;
        let emitter = validate(&config)?;
        // The environment is part of the sequence: a homologation NF-e never stands for a production one.
        let numbering = NumberingKey::nfe(emitter.emitter.cnpj.as_str(), u32::from(emitter.serie))
            .in_environment(config.environment);

        // A voided attempt is over: the order's claim was released with it, so the next claim is a new number.
        let existing = self
            .app
            .invoices
            .invoices(tenant, order_id)
            .await?
            .into_iter()
            .find(|r| r.numbering == numbering && r.state != InvoiceState::Voided);
        if let Some(r) = &existing
            && matches!(r.state, InvoiceState::Authorized | InvoiceState::Denied | InvoiceState::Cancelled)
        {
            self.record_on_order(&order, r).await?;
            return Ok(Issued::Invoice(Box::new(r.clone())));
        }
        if !order.paid_in_full() {
            return Err(InvoiceError::NotPaid);
        }

        let (record, fresh) = match existing {
            Some(r) => (r, false),
            None => {
                let number = self.app.invoices.claim_number(tenant, &numbering, order_id).await?;
                let n_nf =
                    u32::try_from(number).map_err(|_| StoreError::Other(format!("nNF {number} out of range")))?;
                let cnf = Cnf::generate(&mut rand::rng(), n_nf);
                let now = self.app.clock.now();
                // In contingency, keyed for the SVC from the start (the status is asked before it is sent).
                let contingency = self.stored_contingency(&order, config.environment).await?;
                let input = nfe_input(&order, &emitter, n_nf, cnf, now)?.ok_or(InvoiceError::NotFound)?;
                let key = build(&crate::contingency::under(input, contingency.as_ref()))?.key().as_str().to_owned();
                let record = InvoiceRecord {
                    cnf: format!("{:08}", cnf.value()),
                    contingency,
                    ..InvoiceRecord::pending(tenant, order_id, &numbering, number, key, now)
                };
                match self.app.invoices.save_invoice(&record, 0).await {
                    Ok(()) => (record, true),
                    // A concurrent delivery saved it first: go on with its record.
                    Err(StoreError::AlreadyExists) => {
                        let stored = self.app.invoices.invoices(tenant, order_id).await?;
                        let r = stored
                            .into_iter()
                            .find(|r| r.numbering == numbering && r.state != InvoiceState::Voided)
                            .ok_or(StoreError::NotFound)?;
                        (r, false)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // A rejected NF-e is sent again (a retry asked for after the fix, or a later event): it is pending until
        // the new answer. Only a rejection by SEFAZ (a cStat) proves it was never authorized; a record that failed
        // here (no cStat) may have been sent before, so it is consulted first like a pending one.
        let never_sent = fresh || (record.state == InvoiceState::Rejected && record.cstat.is_some());
        let record = pending_again(&self.app, record).await?;
        let order = self.app.orders.get(tenant, order_id).await?.ok_or(InvoiceError::NotFound)?;
        self.record_on_order(&order, &record).await?;

        let saved = match self.send(&order, &emitter, &record, never_sent).await {
            Ok(saved) => saved,
            // What no retry can fix ends the attempt: the record shows why (no cStat: refused here, not by
            // SEFAZ), the queue moves on, and the staff's retry after the fix sends it again (consulting first).
            Err(e) if e.needs_a_fix() => {
                tracing::warn!(%order_id, error = %e, "NF-e not sent: needs a fix");
                let failed = InvoiceRecord {
                    state: InvoiceState::Rejected,
                    cstat: None,
                    message: Some(e.to_string()),
                    revision: record.revision + 1,
                    updated_at: self.app.clock.now(),
                    ..record.clone()
                };
                self.app.invoices.save_invoice(&failed, record.revision).await?;
                failed
            }
            Err(e) => return Err(e),
        };
        let order = self.app.orders.get(tenant, order_id).await?.ok_or(InvoiceError::NotFound)?;
        self.record_on_order(&order, &saved).await?;
        Ok(Issued::Invoice(Box::new(saved)))
    }

    /// Builds the record's document from the current order and configuration, signs it, sends it (consulting
    /// first unless it was never sent) and settles the outcome. An NF-e SEFAZ provably never received is issued
    /// under the company's contingency as it stands now, and moves to the SVC when the UF's authorizer proves
    /// down (see [`crate::contingency`]).
    async fn send(
        &self,
        order: &Order,
        emitter: &ValidEmitter,
        record: &InvoiceRecord,
        never_sent: bool,
    ) -> Result<InvoiceRecord, InvoiceError> {
        let certificate = self.certificate(&order.tenant).await?;
        let authority = self.authorities.authority(emitter, &certificate)?;
        let input = self.input(order, emitter, record)?;
        if !never_sent {
            // What was sent under this key may be at its authorizer (the UF's or the SVC): asked first.
            let key = osflow_nfe::AccessKey::parse(&record.access_key)
                .map_err(|e| StoreError::Corrupt(format!("stored access key: {e}")))?;
            let found = decided(authority.consult(&key).await?)?;
            if !found.is_not_found() {
                let signed = self.signed(&input, record, &certificate)?;
                return self.settle(record.clone(), &signed, found).await;
            }
        }
        // Never received from here on: issued under the contingency in force now.
        let entry = self.current_contingency(order, emitter, authority.as_ref()).await?;
        let mut record = record.clone();
        if record.contingency != entry {
            record = self.rekey(order, &record, entry.as_ref(), input.clone()).await?;
        }
        let signed = self.signed(&input, &record, &certificate)?;
        let outcome = match authority.authorize(&signed).await {
            Err(e) if entry.is_none() && crate::contingency::never_received(&e) => {
                let entry = self.enter_contingency(order, emitter, &e).await?;
                record = self.rekey(order, &record, Some(&entry), input.clone()).await?;
                let signed = self.signed(&input, &record, &certificate)?;
                let outcome = decided(authority.authorize(&signed).await?)?;
                return self.settle(record, &signed, outcome).await;
            }
            other => decided(other?)?,
        };
        self.settle(record, &signed, outcome).await
    }

    /// The record's NF-e input from the current order and configuration (number, cNF and issue instant stored).
    fn input(&self, order: &Order, emitter: &ValidEmitter, record: &InvoiceRecord) -> Result<NfeInput, InvoiceError> {
        let n_nf = u32::try_from(record.number).map_err(|_| StoreError::Corrupt("nNF out of range".into()))?;
        let cnf_value: u32 =
            record.cnf.parse().map_err(|_| StoreError::Corrupt(format!("stored cNF {:?}", record.cnf)))?;
        let cnf = Cnf::from_stored(cnf_value, n_nf).map_err(|p| StoreError::Corrupt(format!("stored cNF: {p}")))?;
        nfe_input(order, emitter, n_nf, cnf, record.created_at)?.ok_or(InvoiceError::NotFound)
    }

    /// The record's document under its contingency entry, signed; its key must be the stored one.
    fn signed(
        &self,
        input: &NfeInput,
        record: &InvoiceRecord,
        certificate: &Certificate,
    ) -> Result<SignedNfe, InvoiceError> {
        let unsigned = build(&crate::contingency::under(input.clone(), record.contingency.as_ref()))?;
        if unsigned.key().as_str() != record.access_key {
            return Err(InvoiceError::KeyChanged {
                stored: record.access_key.clone(),
                built: unsigned.key().as_str().to_owned(),
            });
        }
        Ok(sign(&unsigned, certificate)?)
    }

    /// Stores the outcome: the nfeProc of an authorized NF-e, then the record.
    async fn settle(
        &self,
        record: InvoiceRecord,
        signed: &SignedNfe,
        outcome: Outcome,
    ) -> Result<InvoiceRecord, InvoiceError> {
        let now = self.app.clock.now();
        let mut next = InvoiceRecord { revision: record.revision + 1, updated_at: now, ..record.clone() };
        match outcome {
            Outcome::Authorized(protocol) => {
                let proc = wrap::nfe_proc(signed, &protocol).map_err(|e| StoreError::Other(format!("nfeProc: {e}")))?;
                let key = blob_key(&record.order_id, &record.access_key);
                let blob = Blob { content_type: "application/xml".into(), bytes: proc.clone().into_bytes() };
                self.app.blobs.put(&record.tenant, &key, &blob).await?;
                // The DANFE printed once, from the nfeProc as stored: what the API and the customer's page serve.
                // The authorization stands without it (a DANFE that cannot be drawn is logged, never retried).
                match osflow_nfe::danfe(&proc) {
                    Ok(pdf) => {
                        let danfe = Blob { content_type: "application/pdf".into(), bytes: pdf };
                        let at = osflow_app::danfe_blob_key(&record.order_id, &record.access_key);
                        self.app.blobs.put(&record.tenant, &at, &danfe).await?;
                    }
                    Err(e) => tracing::error!(key = %record.access_key, error = %e, "DANFE not drawn"),
                }
                next.state = InvoiceState::Authorized;
                next.cstat = Some(protocol.c_stat);
                next.message = Some(protocol.x_motivo.clone());
                next.protocol = Some(protocol.number.clone());
                next.xml_ref = Some(key);
            }
            Outcome::Denied { c_stat, x_motivo, protocol } => {
                next.state = InvoiceState::Denied;
                next.cstat = Some(c_stat);
                next.message = Some(x_motivo);
                next.protocol = protocol.map(|p| p.number);
            }
            Outcome::Rejected { c_stat, x_motivo } => {
                next.state = InvoiceState::Rejected;
                next.cstat = Some(c_stat);
                next.message = Some(x_motivo);
            }
        }
        self.app.invoices.save_invoice(&next, record.revision).await?;
        if matches!(next.state, InvoiceState::Authorized | InvoiceState::Denied) {
            // The number is used for good: no longer a candidate gap.
            self.app.invoices.settle_number(&next.tenant, &next.numbering, next.number).await?;
        }
        Ok(next)
    }
}
