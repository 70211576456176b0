//! [`App`]: the use cases over the ports, built by [`App::over`] with defaults and `with_*` methods for what
//! differs; the clock, the ids and the invoicing policy it is given.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use osflow_domain::Invoicing;
use osflow_domain::values::{OrderId, TenantId};

use crate::ports::{
    Blob, BlobStore, FiscalAdmin, FlowStore, IdempotencyStore, InvoiceStore, NfeEvents, NfseEvents, OrderStore,
    RecordStore, ReportStore, SettingsStore, StoreError, UnlockCodeStore, UserDirectory,
};
use crate::usecases::{CachedFlowStore, CachedUserDirectory, NoUserDirectory};

/// The source of time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The source of new ids.
pub trait Ids: Send + Sync {
    fn order_id(&self) -> OrderId;

    /// A new UUIDv7 for a customer or equipment record.
    fn record_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// UUIDv7 ids: time-ordered, random in the low bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl Ids for UuidV7Ids {
    fn order_id(&self) -> OrderId {
        OrderId::from_uuid(uuid::Uuid::now_v7()).expect("now_v7 yields a version 7 UUID")
    }
}

/// Whether a company issues NF-e (has an emitter configured), and NFS-e (its emitter has the municipal part);
/// the release guard depends on it.
#[async_trait::async_trait]
pub trait InvoicingPolicy: Send + Sync {
    async fn invoicing_enabled(&self, tenant: &TenantId) -> Result<bool, StoreError>;

    /// The documents the company issues through osflow: NF-e only, unless the policy knows about NFS-e.
    async fn documents(&self, tenant: &TenantId) -> Result<Invoicing, StoreError> {
        Ok(Invoicing { nfe: self.invoicing_enabled(tenant).await?, nfse: false })
    }
}

/// A per-company request limit, asked by the API layer before it serves a company's request (so that one
/// company's traffic never takes the capacity every company shares).
pub trait RequestLimit: Send + Sync {
    /// `Err(wait)`: the company is over its limit; it may send again after `wait`.
    fn check(&self, tenant: &TenantId) -> Result<(), std::time::Duration>;
}

/// Companies issue no NF-e (no emitter configured anywhere): the invoice guard never blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInvoicing;

#[async_trait::async_trait]
impl InvoicingPolicy for NoInvoicing {
    async fn invoicing_enabled(&self, _tenant: &TenantId) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// The use cases, over the ports.
#[derive(Clone)]
pub struct App {
    pub orders: Arc<dyn OrderStore>,
    pub flows: Arc<dyn FlowStore>,
    pub invoices: Arc<dyn InvoiceStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub invoicing: Arc<dyn InvoicingPolicy>,
    /// Attachments and fiscal XML (S3 in AWS, a folder in the embedded mode).
    pub blobs: Arc<dyn BlobStore>,
    /// Company settings (notifications).
    pub settings: Arc<dyn SettingsStore>,
    /// The NF-e emitter's settings and certificate: only in the function that edits them (and osflow-local).
    pub fiscal: Option<FiscalAdmin>,
    /// The events of authorized NF-e (cancellation, carta de correção): only where they are signed.
    pub nfe_events: Option<Arc<dyn NfeEvents>>,
    /// The events of issued NFS-e (cancellation): only where they are signed.
    pub nfse_events: Option<Arc<dyn NfseEvents>>,
    /// Report aggregates and generated reports.
    pub reports: Arc<dyn ReportStore>,
    /// The company's customers and equipment.
    pub records: Arc<dyn RecordStore>,
    /// The equipment's unlock codes, sealed.
    pub unlock_codes: Arc<dyn UnlockCodeStore>,
    /// The company's staff users (the technicians an order may be given).
    pub users: Arc<dyn UserDirectory>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    /// Webhook URLs may be `http://` to this machine's loopback (osflow-local); otherwise `https://` only.
    pub local_webhooks: bool,
    /// The per-company request limit of the API (none: no limit).
    pub request_limit: Option<Arc<dyn RequestLimit>>,
    /// Reads' answers remembered while nothing is written (none: every read renders).
    pub read_cache: Option<Arc<crate::ReadCache>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// The ports one store adapter serves (SQLite, DynamoDB): [`App::over`] puts it behind all of them.
pub trait AppStore:
    OrderStore
    + FlowStore
    + InvoiceStore
    + IdempotencyStore
    + SettingsStore
    + ReportStore
    + RecordStore
    + UnlockCodeStore
    + 'static
{
}

impl<T> AppStore for T where
    T: OrderStore
        + FlowStore
        + InvoiceStore
        + IdempotencyStore
        + SettingsStore
        + ReportStore
        + RecordStore
        + UnlockCodeStore
        + 'static
{
}

impl App {
    /// The use cases over one store behind every store port, with the defaults: the system clock, UUIDv7 ids,
    /// no invoicing (the release is never held for an NF-e), no blob store ([`NoBlobs`]: every call fails), no
    /// fiscal admin, flow versions read from the store each time, no user directory ([`NoUserDirectory`]: giving an
    /// order a technician fails as unavailable). The `with_*` methods change what differs.
    pub fn over<S: AppStore>(store: Arc<S>) -> App {
        App {
            orders: store.clone(),
            flows: store.clone(),
            invoices: store.clone(),
            idempotency: store.clone(),
            settings: store.clone(),
            records: store.clone(),
            unlock_codes: store.clone(),
            users: Arc::new(NoUserDirectory),
            reports: store,
            invoicing: Arc::new(NoInvoicing),
            blobs: Arc::new(NoBlobs),
            fiscal: None,
            nfe_events: None,
            nfse_events: None,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7Ids),
            local_webhooks: false,
            request_limit: None,
            read_cache: None,
        }
    }

    /// Each company's API requests limited by `limit`.
    pub fn with_request_limit(mut self, limit: Arc<dyn RequestLimit>) -> App {
        self.request_limit = Some(limit);
        self
    }

    /// Attachments and fiscal XML kept in `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> App {
        self.blobs = blobs;
        self
    }

    /// Time from `clock` (tests: a clock they move).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> App {
        self.clock = clock;
        self
    }

    /// New order ids from `ids`.
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> App {
        self.ids = ids;
        self
    }

    /// Whether a company issues NF-e (the release guard) asked of `policy`.
    pub fn with_invoicing(mut self, policy: Arc<dyn InvoicingPolicy>) -> App {
        self.invoicing = policy;
        self
    }

    /// The NF-e emitter's settings and certificate (the function that edits them, and osflow-local).
    pub fn with_fiscal(mut self, fiscal: FiscalAdmin) -> App {
        self.fiscal = Some(fiscal);
        self
    }

    /// The events of authorized NF-e signed and sent by `events` (the function serving those routes, and
    /// osflow-local).
    pub fn with_nfe_events(mut self, events: Arc<dyn NfeEvents>) -> App {
        self.nfe_events = Some(events);
        self
    }

    /// The events of issued NFS-e signed and sent by `events` (the function serving those routes, and
    /// osflow-local).
    pub fn with_nfse_events(mut self, events: Arc<dyn NfseEvents>) -> App {
        self.nfse_events = Some(events);
        self
    }

    /// Report aggregates and generated reports kept in `reports` instead of the store.
    pub fn with_reports(mut self, reports: Arc<dyn ReportStore>) -> App {
        self.reports = reports;
        self
    }

    /// Webhook URLs may be `http://` to this machine's loopback addresses (osflow-local's integrations).
    pub fn with_local_webhooks(mut self) -> App {
        self.local_webhooks = true;
        self
    }

    /// The company's users asked of `users`.
    pub fn with_users(mut self, users: Arc<dyn UserDirectory>) -> App {
        self.users = users;
        self
    }

    /// The user directory's answers remembered per process for `seconds` ([`CachedUserDirectory`]; wire the
    /// clock first).
    pub fn with_user_cache(mut self, seconds: i64) -> App {
        let ttl = chrono::Duration::seconds(seconds);
        self.users = Arc::new(CachedUserDirectory::new(self.users, self.clock.clone(), ttl));
        self
    }

    /// Published flow versions remembered per process ([`CachedFlowStore`]): they are immutable, so a warm
    /// process reads each once.
    pub fn with_flow_cache(mut self) -> App {
        self.flows = Arc::new(CachedFlowStore::new(self.flows));
        self
    }
}

/// No blob store: every call fails as unavailable (an `App` whose front end stores no files).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobs;

#[async_trait::async_trait]
impl BlobStore for NoBlobs {
    async fn presign_upload(
        &self,
        _tenant: &TenantId,
        _key: &str,
        _content_type: &str,
        _max_bytes: u64,
    ) -> Result<crate::UploadForm, StoreError> {
        Err(NoBlobs::unavailable())
    }

    async fn get(&self, _tenant: &TenantId, _key: &str) -> Result<Option<Blob>, StoreError> {
        Err(NoBlobs::unavailable())
    }

    async fn head(&self, _tenant: &TenantId, _key: &str) -> Result<Option<crate::BlobHead>, StoreError> {
        Err(NoBlobs::unavailable())
    }

    async fn put(&self, _tenant: &TenantId, _key: &str, _blob: &Blob) -> Result<(), StoreError> {
        Err(NoBlobs::unavailable())
    }
}

impl NoBlobs {
    fn unavailable() -> StoreError {
        StoreError::Unavailable("no blob store is wired into this App".into())
    }
}
