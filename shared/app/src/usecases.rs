//! The use cases: one entry point per step of the flow, plus reads and the flow editor.
//!
//! Every use case takes the [`Caller`] (tenant, user and roles, as the authorizer established them) and scopes
//! everything to the caller's tenant: another tenant's order is `NotFound`, never `Forbidden`, so ids cannot
//! be probed. Role checks of the steps live in the domain (the flow says who may do what); role checks of the
//! reads and of the flow editor live here.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use osflow_domain::values::{Document, OrderId, TenantId, UserId};
use osflow_domain::{
    Actor, Command, Context, DomainError, Event, Flow, FlowDef, FlowError, Guard, OpenOrder, Order, Role, StatusKey,
    decide, decide_open,
};

use crate::ports::{
    Blob, BlobStore, FlowStore, IdempotencyRecord, IdempotencyStore, InvoiceRecord, InvoiceStore, NotificationSettings,
    NotifyChannel, OrderStore, Page, PageRequest, ReportStore, SettingsStore, StoreError,
};

/// Who is calling: established by the JWT authorizer (Lambda) or the development token (osflow-local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    pub roles: Vec<Role>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::staff(self.user.clone(), self.roles.clone())
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

/// The source of time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The source of new ids.
pub trait Ids: Send + Sync {
    fn order_id(&self) -> OrderId;
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

/// Whether a company issues NF-e (has an emitter configured); the release guard depends on it.
#[async_trait::async_trait]
pub trait InvoicingPolicy: Send + Sync {
    async fn invoicing_enabled(&self, tenant: &TenantId) -> Result<bool, StoreError>;
}

/// Why a use case refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Unknown order (or another tenant's).
    #[error("not found")]
    NotFound,
    /// The caller's roles do not allow this.
    #[error("forbidden: requires one of {allowed:?}")]
    Forbidden { allowed: Vec<Role> },
    /// Refused by the rules of the domain.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A flow definition was refused.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// `If-Match` named another version.
    #[error("precondition failed: the current version is {current_version}")]
    PreconditionFailed { current_version: u64 },
    /// Concurrent writers kept winning; the client may retry.
    #[error("conflict: the current version is {current_version}")]
    Conflict { current_version: u64 },
    /// The `Idempotency-Key` was used before with another request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::IdempotencyMismatch => AppError::IdempotencyMismatch,
            other => AppError::Store(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// An `Idempotency-Key` with the hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// A response as the HTTP layer will send it: the use case saves it with the step under the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: String,
}

/// The result of a write: a fresh result, or the response saved for an earlier identical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    Fresh(T),
    Replayed(Rendered),
}

/// A write that happened: the new state and the response rendered for it (saved under the idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stepped {
    pub order: Order,
    pub rendered: Rendered,
}

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// Attempts of a step that lost a version race (only when the client did not pin a version with `If-Match`):
/// the consumers' records (notifications, NF-e states) are steps too, so a busy order sees a few races.
const STEP_ATTEMPTS: u32 = 6;

/// A random pause before attempt `attempt + 1` ("full jitter" up to 2 ms · 2^attempt, at most 64 ms), so that
/// the writers of one order do not keep colliding.
async fn step_backoff(attempt: u32) {
    let ceiling_us = (2_000u64 << attempt.min(5)).min(64_000);
    // The random low bits of a UUIDv7 (no second source of randomness needed here).
    let random = uuid::Uuid::now_v7().as_u128() as u64;
    tokio::time::sleep(std::time::Duration::from_micros(random % (ceiling_us + 1))).await;
}

/// One step of an order: who asks what of which order, and how the write is guarded.
#[derive(Debug, Clone)]
pub struct StepRequest<'a> {
    /// The company: the order is looked up in it only.
    pub tenant: &'a TenantId,
    pub actor: Actor,
    pub order: &'a OrderId,
    pub command: Command,
    /// The version the client saw (`If-Match`): a stale one fails with `PreconditionFailed`, and a lost race
    /// is not retried.
    pub if_match: Option<u64>,
    /// The `Idempotency-Key`: the response is saved with the step, and the same request again gets it back.
    pub idempotency: Option<&'a Idempotency>,
}

impl<'a> StepRequest<'a> {
    /// `command` on `order` of `tenant` by `actor`, neither pinned nor idempotent.
    pub fn new(tenant: &'a TenantId, actor: Actor, order: &'a OrderId, command: Command) -> StepRequest<'a> {
        StepRequest { tenant, actor, order, command, if_match: None, idempotency: None }
    }

    /// `command` by a staff caller, in the caller's company.
    pub fn by(caller: &'a Caller, order: &'a OrderId, command: Command) -> StepRequest<'a> {
        StepRequest::new(&caller.tenant, caller.actor(), order, command)
    }

    /// Pins the version the client saw.
    pub fn if_match(mut self, version: Option<u64>) -> StepRequest<'a> {
        self.if_match = version;
        self
    }

    /// Saves the response under the idempotency key.
    pub fn idempotency(mut self, idempotency: Option<&'a Idempotency>) -> StepRequest<'a> {
        self.idempotency = idempotency;
        self
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
    pub fiscal: Option<crate::fiscal::FiscalAdmin>,
    /// Report aggregates and generated reports.
    pub reports: Arc<dyn ReportStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// The ports one store adapter serves (SQLite, DynamoDB): [`App::over`] puts it behind all of them.
pub trait AppStore:
    OrderStore + FlowStore + InvoiceStore + IdempotencyStore + SettingsStore + ReportStore + 'static
{
}

impl<T> AppStore for T where
    T: OrderStore + FlowStore + InvoiceStore + IdempotencyStore + SettingsStore + ReportStore + 'static
{
}

impl App {
    /// The use cases over one store behind every store port, with the defaults: the system clock, UUIDv7 ids,
    /// no invoicing (the release is never held for an NF-e), no blob store ([`NoBlobs`]: every call fails), no
    /// fiscal admin, flow versions read from the store each time. The `with_*` methods change what differs.
    pub fn over<S: AppStore>(store: Arc<S>) -> App {
        App {
            orders: store.clone(),
            flows: store.clone(),
            invoices: store.clone(),
            idempotency: store.clone(),
            settings: store.clone(),
            reports: store,
            invoicing: Arc::new(NoInvoicing),
            blobs: Arc::new(NoBlobs),
            fiscal: None,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7Ids),
        }
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
    pub fn with_fiscal(mut self, fiscal: crate::fiscal::FiscalAdmin) -> App {
        self.fiscal = Some(fiscal);
        self
    }

    /// Report aggregates and generated reports kept in `reports` instead of the store.
    pub fn with_reports(mut self, reports: Arc<dyn ReportStore>) -> App {
        self.reports = reports;
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
    async fn presign_put(&self, _tenant: &TenantId, _key: &str, _content_type: &str) -> Result<String, StoreError> {
        Err(NoBlobs::unavailable())
    }

    async fn get(&self, _tenant: &TenantId, _key: &str) -> Result<Option<Blob>, StoreError> {
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

const READERS: [Role; 4] = [Role::Representante, Role::Atendente, Role::Tecnico, Role::Financeiro];

impl App {
    fn idem_record(&self, tenant: &TenantId, idem: &Idempotency, rendered: &Rendered) -> IdempotencyRecord {
        let now = self.clock.now();
        IdempotencyRecord {
            tenant: tenant.clone(),
            key: idem.key.clone(),
            request_hash: idem.request_hash.clone(),
            status: rendered.status,
            body: rendered.body.clone(),
            created_at: now,
            expires_at: now + Duration::hours(IDEMPOTENCY_TTL_HOURS),
        }
    }

    /// The response saved under the key, if this exact request was already done.
    async fn replay(&self, tenant: &TenantId, idem: Option<&Idempotency>) -> AppResult<Option<Rendered>> {
        let Some(idem) = idem else { return Ok(None) };
        match self.idempotency.get_idempotency(tenant, &idem.key, self.clock.now()).await? {
            None => Ok(None),
            Some(r) if r.request_hash == idem.request_hash => Ok(Some(Rendered { status: r.status, body: r.body })),
            Some(_) => Err(AppError::IdempotencyMismatch),
        }
    }

    /// After a write lost the race on its idempotency key: the winner's saved response.
    async fn replay_after_race(&self, tenant: &TenantId, idem: Option<&Idempotency>) -> AppResult<Rendered> {
        self.replay(tenant, idem).await?.ok_or(AppError::Store(StoreError::AlreadyExists))
    }

    /// The flow an order runs on (the default flow is version 1 of every company until it publishes another).
    pub async fn flow_version(&self, tenant: &TenantId, version: u32) -> AppResult<Flow> {
        match self.flows.version(tenant, version).await? {
            Some(f) => Ok(f),
            None if version == 1 => Ok(Flow::default_flow()),
            None => Err(AppError::Store(StoreError::Corrupt(format!("flow version {version} is missing")))),
        }
    }

    /// The company's current flow.
    pub async fn current_flow(&self, tenant: &TenantId) -> AppResult<Flow> {
        Ok(self.flows.current(tenant).await?.unwrap_or_else(Flow::default_flow))
    }

    /// Step 1: opens an order on the company's current flow.
    pub async fn open_order(
        &self,
        caller: &Caller,
        input: OpenOrderInput,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        if let Some(saved) = self.replay(&caller.tenant, idem).await? {
            return Ok(Reply::Replayed(saved));
        }
        let flow = self.current_flow(&caller.tenant).await?;
        let now = self.clock.now();
        // Validate before taking a number, so bad input burns none.
        let probe = OpenOrder {
            id: self.ids.order_id(),
            tenant: caller.tenant.clone(),
            number: 0,
            customer: input.customer,
            equipment: input.equipment,
            service: input.service,
            items: input.items,
            due_date: input.due_date,
            technician: input.technician,
        };
        decide_open(&flow, probe.clone(), &caller.actor(), now)?;
        let number = self.orders.next_order_number(&caller.tenant).await?;
        let event = decide_open(&flow, OpenOrder { number, ..probe }, &caller.actor(), now)?;
        let order = Order::from_opened(&event).expect("decide_open yields Opened");
        let rendered = render(&order, &flow);
        let record = idem.map(|i| self.idem_record(&caller.tenant, i, &rendered));
        match self.orders.create(&order, &event, record.as_ref()).await {
            Ok(()) => Ok(Reply::Fresh(Stepped { order, rendered })),
            Err(StoreError::AlreadyExists) if idem.is_some() => {
                Ok(Reply::Replayed(self.replay_after_race(&caller.tenant, idem).await?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Any step after opening, by a staff caller. `if_match` pins the version the client saw (412 when stale);
    /// without it a step that loses a race with another writer is decided again on the new state (a few times).
    pub async fn step(
        &self,
        caller: &Caller,
        id: &OrderId,
        cmd: Command,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.step_as(StepRequest::by(caller, id, cmd).if_match(if_match).idempotency(idem), render).await
    }

    /// A step by any actor (staff, the customer through the portal, the system), scoped to the request's tenant.
    pub async fn step_as(
        &self,
        request: StepRequest<'_>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        let StepRequest { tenant, actor, order: id, command: cmd, if_match, idempotency: idem } = request;
        let actor = &actor;
        if let Some(saved) = self.replay(tenant, idem).await? {
            return Ok(Reply::Replayed(saved));
        }
        // Whether the company invoices is asked only when the command's transition out of the order's status has
        // the `invoice_authorized` guard (the release, in the default flow), once per call. A transition's
        // command is named as its action (`Command::name`); other commands never match.
        let mut company_invoices: Option<bool> = None;
        let mut last_conflict = 0;
        for attempt in 0..STEP_ATTEMPTS {
            if attempt > 0 {
                step_backoff(attempt - 1).await;
            }
            let order = self.orders.get(tenant, id).await?.ok_or(AppError::NotFound)?;
            if let Some(v) = if_match
                && v != order.version
            {
                return Err(AppError::PreconditionFailed { current_version: order.version });
            }
            let flow = self.flow_version(tenant, order.flow_version).await?;
            let guarded = flow.def.transitions.iter().any(|t| {
                t.from == order.status
                    && t.action.as_str() == cmd.name()
                    && t.guards.contains(&Guard::InvoiceAuthorized)
            });
            let invoicing_enabled = match (guarded, company_invoices) {
                (false, _) => false,
                (true, Some(known)) => known,
                (true, None) => *company_invoices.insert(self.invoicing.invoicing_enabled(tenant).await?),
            };
            let ctx = Context { now: self.clock.now(), invoicing_enabled };
            let events = decide(&order, &flow, cmd.clone(), actor, &ctx)?;
            let expected = order.version;
            let mut next = order;
            for e in &events {
                next.apply(e);
            }
            let rendered = render(&next, &flow);
            let record = idem.map(|i| self.idem_record(tenant, i, &rendered));
            match self.orders.apply(expected, &next, &events, record.as_ref()).await {
                Ok(()) => return Ok(Reply::Fresh(Stepped { order: next, rendered })),
                Err(StoreError::Conflict { current_version }) => {
                    if if_match.is_some() {
                        return Err(AppError::PreconditionFailed { current_version });
                    }
                    last_conflict = current_version;
                }
                Err(StoreError::AlreadyExists) if idem.is_some() => {
                    return Ok(Reply::Replayed(self.replay_after_race(tenant, idem).await?));
                }
                Err(StoreError::NotFound) => return Err(AppError::NotFound),
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict { current_version: last_conflict })
    }

    pub(crate) fn require(&self, caller: &Caller, roles: &[Role]) -> AppResult<()> {
        if caller.has_any(roles) { Ok(()) } else { Err(AppError::Forbidden { allowed: roles.to_vec() }) }
    }

    pub async fn get_order(&self, caller: &Caller, id: &OrderId) -> AppResult<Order> {
        self.require(caller, &READERS)?;
        self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)
    }

    pub async fn timeline(&self, caller: &Caller, id: &OrderId) -> AppResult<Vec<Event>> {
        self.require(caller, &READERS)?;
        let events = self.orders.timeline(&caller.tenant, id).await?;
        if events.is_empty() {
            return Err(AppError::NotFound);
        }
        Ok(events)
    }

    pub async fn list_by_status(
        &self,
        caller: &Caller,
        status: &StatusKey,
        page: &PageRequest,
    ) -> AppResult<Page<Order>> {
        self.require(caller, &READERS)?;
        Ok(self.orders.list_by_status(&caller.tenant, status, page).await?)
    }

    pub async fn customer_orders(
        &self,
        caller: &Caller,
        document: &Document,
        page: &PageRequest,
    ) -> AppResult<Page<Order>> {
        self.require(caller, &READERS)?;
        Ok(self.orders.list_by_customer(&caller.tenant, document, page).await?)
    }

    /// The order's NF-e records, ascending by number (empty until one is issued).
    pub async fn order_invoices(&self, caller: &Caller, id: &OrderId) -> AppResult<Vec<InvoiceRecord>> {
        self.require(caller, &READERS)?;
        if self.orders.get(&caller.tenant, id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        Ok(self.invoices.invoices(&caller.tenant, id).await?)
    }

    /// The stored XML (the signed NF-e, or the nfeProc once authorized) of the order's invoice with this access
    /// key; `NotFound` for an unknown key or an invoice not signed yet.
    pub async fn invoice_xml(
        &self,
        caller: &Caller,
        id: &OrderId,
        access_key: &str,
    ) -> AppResult<(InvoiceRecord, Blob)> {
        let record = self
            .order_invoices(caller, id)
            .await?
            .into_iter()
            .find(|r| r.access_key == access_key)
            .ok_or(AppError::NotFound)?;
        let xml_ref = record.xml_ref.as_deref().ok_or(AppError::NotFound)?;
        let blob = self.blobs.get(&caller.tenant, xml_ref).await?.ok_or(AppError::NotFound)?;
        Ok((record, blob))
    }

    /// The flow editor: reads are for every staff role (they need the labels), publishing is `representante` only.
    pub async fn get_flow(&self, caller: &Caller) -> AppResult<Flow> {
        self.require(caller, &READERS)?;
        self.current_flow(&caller.tenant).await
    }

    pub async fn flow_versions(&self, caller: &Caller) -> AppResult<Vec<Flow>> {
        self.require(caller, &[Role::Representante])?;
        let mut versions = self.flows.versions(&caller.tenant).await?;
        if versions.first().is_none_or(|f| f.version != 1) {
            versions.insert(0, Flow::default_flow());
        }
        Ok(versions)
    }

    /// Publishes a new flow version (validated); existing orders stay on the version they were opened with.
    /// The current definition sent again publishes nothing and answers the current version.
    pub async fn publish_flow(&self, caller: &Caller, def: FlowDef, if_match: Option<u32>) -> AppResult<Flow> {
        self.require(caller, &[Role::Representante])?;
        let stored = self.flows.current(&caller.tenant).await?;
        let current = stored.as_ref().map_or(1, |f| f.version);
        // Publishing the current definition again is a no-op (a retried PUT publishes no second version).
        if stored.as_ref().map_or_else(|| Flow::default_flow().def == def, |f| f.def == def) {
            return Ok(stored.unwrap_or_else(Flow::default_flow));
        }
        if let Some(v) = if_match
            && v != current
        {
            return Err(AppError::PreconditionFailed { current_version: current as u64 });
        }
        let flow = Flow::publish(def, current + 1)?;
        match self.flows.publish(&caller.tenant, &flow, stored.map(|f| f.version)).await {
            Ok(()) => Ok(flow),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists) => {
                // Another representante published meanwhile.
                let now = self.flows.current(&caller.tenant).await?.map_or(1, |f| f.version);
                Err(AppError::Conflict { current_version: now as u64 })
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Longest company name, sender name or template text accepted in the notification settings.
const SETTINGS_TEXT_MAX: usize = 200;
const TEMPLATE_TEXT_MAX: usize = 4_000;
/// Shortest webhook secret (HMAC-SHA256 key) accepted.
pub const WEBHOOK_SECRET_MIN: usize = 16;

fn invalid_setting(field: &str, reason: impl Into<String>) -> AppError {
    AppError::Domain(DomainError::Invalid { field: field.to_owned(), reason: reason.into() })
}

fn check_email_setting(field: &str, value: &Option<String>) -> AppResult<()> {
    if let Some(v) = value {
        osflow_domain::values::Email::parse(v).map_err(|e| invalid_setting(field, e.to_string()))?;
    }
    Ok(())
}

fn check_text_setting(field: &str, value: &Option<String>, max: usize) -> AppResult<()> {
    if let Some(v) = value
        && (v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control))
    {
        return Err(invalid_setting(field, format!("must be 1 to {max} characters, without control characters")));
    }
    Ok(())
}

/// A webhook URL: `https://`, or `http://` to this machine only (a local integration or a test receiver).
fn check_webhook_url(url: &str) -> AppResult<()> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid_setting("webhook_url", "not a URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    // `[::1]:8080` -> `[::1]`; `example.com:8443` -> `example.com`.
    let hostname = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(ip, _)| ip),
        None => host.split(':').next().unwrap_or(""),
    };
    let local = matches!(hostname, "127.0.0.1" | "localhost" | "::1");
    match scheme {
        _ if hostname.is_empty() || url.len() > 2_000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(invalid_setting("webhook_url", "not a URL"))
        }
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => Err(invalid_setting("webhook_url", "must use https:// (http:// only to 127.0.0.1 or localhost)")),
    }
}

impl App {
    /// The company's notification settings (defaults when never saved). `representante` only. The webhook
    /// secret is the caller's to strip (it is never shown).
    pub async fn notification_settings(&self, caller: &Caller) -> AppResult<NotificationSettings> {
        self.require(caller, &[Role::Representante])?;
        Ok(self.settings.notification_settings(&caller.tenant).await?.unwrap_or_default())
    }

    /// Replaces the company's notification settings after checking them: addresses, the webhook (https, a
    /// secret of at least [`WEBHOOK_SECRET_MIN`] characters — kept from the saved settings when not sent again),
    /// and the template overrides (known templates and variables). `representante` only.
    pub async fn put_notification_settings(
        &self,
        caller: &Caller,
        mut settings: NotificationSettings,
    ) -> AppResult<NotificationSettings> {
        self.require(caller, &[Role::Representante])?;
        check_text_setting("company_name", &settings.company_name, SETTINGS_TEXT_MAX)?;
        check_text_setting("sender_name", &settings.sender_name, SETTINGS_TEXT_MAX)?;
        check_email_setting("sender_email", &settings.sender_email)?;
        check_email_setting("reply_to", &settings.reply_to)?;
        let saved = self.settings.notification_settings(&caller.tenant).await?.unwrap_or_default();
        if let Some(url) = &settings.webhook_url {
            check_webhook_url(url)?;
            if settings.webhook_secret.is_none() && saved.webhook_url.is_some() {
                settings.webhook_secret = saved.webhook_secret.clone();
            }
            match &settings.webhook_secret {
                None => return Err(invalid_setting("webhook_secret", "required with webhook_url")),
                Some(secret) if secret.chars().count() < WEBHOOK_SECRET_MIN || secret.chars().count() > 256 => {
                    return Err(invalid_setting(
                        "webhook_secret",
                        format!("must be {WEBHOOK_SECRET_MIN} to 256 characters"),
                    ));
                }
                Some(_) => {}
            }
        } else if settings.webhook_secret.is_some() {
            return Err(invalid_setting("webhook_url", "required with webhook_secret"));
        }
        if settings.channels.contains(&NotifyChannel::Webhook) && settings.webhook_url.is_none() {
            return Err(invalid_setting("channels", "webhook needs webhook_url and webhook_secret"));
        }
        for (name, t) in &settings.templates {
            if t.body.chars().count() > TEMPLATE_TEXT_MAX
                || t.subject.as_ref().is_some_and(|s| s.chars().count() > SETTINGS_TEXT_MAX)
            {
                return Err(invalid_setting(&format!("templates.{name}"), "too long"));
            }
        }
        crate::templates::validate_overrides(&settings.templates).map_err(|e| {
            let field = match &e {
                crate::templates::TemplateError::UnknownTemplate { template }
                | crate::templates::TemplateError::UnknownVariable { template, .. }
                | crate::templates::TemplateError::Unclosed { template, .. }
                | crate::templates::TemplateError::EmptyBody { template } => format!("templates.{template}"),
            };
            invalid_setting(&field, e.to_string())
        })?;
        settings.channels.sort();
        settings.channels.dedup();
        self.settings.put_notification_settings(&caller.tenant, &settings).await?;
        Ok(settings)
    }
}

/// The input of step 1 (parsed by the HTTP layer into domain values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrderInput {
    pub customer: osflow_domain::Customer,
    pub equipment: osflow_domain::Equipment,
    pub service: osflow_domain::Service,
    pub items: Vec<osflow_domain::LineInput>,
    pub due_date: Option<chrono::NaiveDate>,
    pub technician: Option<UserId>,
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

/// A [`FlowStore`] decorator that remembers published versions: they are immutable, so a warm process reads each
/// (tenant, version) once. `current` and `versions` always go to the store.
pub struct CachedFlowStore {
    inner: Arc<dyn FlowStore>,
    cache: std::sync::RwLock<std::collections::HashMap<(TenantId, u32), Option<Flow>>>,
}

impl CachedFlowStore {
    pub fn new(inner: Arc<dyn FlowStore>) -> CachedFlowStore {
        CachedFlowStore { inner, cache: Default::default() }
    }
}

impl std::fmt::Debug for CachedFlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedFlowStore").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl FlowStore for CachedFlowStore {
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> Result<(), StoreError> {
        self.inner.publish(tenant, flow, expected_current).await
    }

    async fn current(&self, tenant: &TenantId) -> Result<Option<Flow>, StoreError> {
        self.inner.current(tenant).await
    }

    async fn version(&self, tenant: &TenantId, version: u32) -> Result<Option<Flow>, StoreError> {
        let key = (tenant.clone(), version);
        if let Some(hit) = self.cache.read().expect("flow cache lock").get(&key) {
            return Ok(hit.clone());
        }
        let found = self.inner.version(tenant, version).await?;
        // A missing version stays missing only for version 1 (the implicit default flow: publishing starts at 2);
        // any other miss may be a version being published right now, so it is not remembered.
        if found.is_some() || version == 1 {
            self.cache.write().expect("flow cache lock").insert(key, found.clone());
        }
        Ok(found)
    }

    async fn versions(&self, tenant: &TenantId) -> Result<Vec<Flow>, StoreError> {
        self.inner.versions(tenant).await
    }
}
