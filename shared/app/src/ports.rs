//! The ports. Every adapter gives them the same observable behaviour, checked by [`crate::conformance`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{Event, Flow, InvoiceState, Order, OrderCard, StatusKey};
use serde::{Deserialize, Serialize};

/// Failures of a store. `Conflict` is the optimistic-concurrency refusal and is part of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The stored version is not the one the step was decided on.
    #[error("version conflict: the stored version is {current_version}")]
    Conflict { current_version: u64 },
    /// The item to create exists already (an order id, a flow version, an idempotency key).
    #[error("already exists")]
    AlreadyExists,
    /// The item to update does not exist.
    #[error("not found")]
    NotFound,
    /// An idempotency key already used for another request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// A transient failure (throttling, timeout, busy database): the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back (corruption, schema drift).
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("store error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A request for one page of a list. `cursor` is the opaque value of the previous page's `next`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageRequest {
    /// 1..=100; adapters clamp larger values to 100 and treat 0 as 20.
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> PageRequest {
        PageRequest { limit, cursor: None }
    }

    /// The effective page size.
    pub fn size(&self) -> u32 {
        match self.limit {
            0 => 20,
            n => n.min(100),
        }
    }
}

/// One page of a list; `next` is `None` on the last page.
///
/// A page with a `next` is full (`size()` items), and a last page that happens to be full has no `next` (no
/// empty trailing page). A cursor is a position in the list's order, not an offset; a cursor the adapter did not
/// give out is refused with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A response saved under an `Idempotency-Key`, replayed for a retry of the same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub tenant: TenantId,
    pub key: String,
    /// SHA-256 (hex) of the request (method, path, body) the key was first used with.
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// After this instant the record may be deleted (DynamoDB TTL; SQLite sweeps).
    pub expires_at: DateTime<Utc>,
}

/// Orders and their events.
///
/// Ordering contract (the same in every adapter):
/// - `list_by_status`: oldest `updated_at` first (a work queue), ties by id;
/// - `list_by_customer`: newest `created_at` first (a history), ties by id descending;
/// - `timeline`: ascending version.
///
/// `cards_by_status` and `cards_by_customer` are the same pages as cards ([`Order::card`], the same cursors);
/// their default decodes the orders, a store that keeps the cards beside the orders reads only those.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// The next human order number of the company (1, 2, 3…). Gaps are allowed (a number taken by a request
    /// that then failed is not reused); duplicates are not.
    async fn next_order_number(&self, tenant: &TenantId) -> StoreResult<u64>;

    /// Stores a new order (version 1) with its `Opened` event and, when given, the idempotency record — all or
    /// nothing. `AlreadyExists` when the order id or the idempotency key exists. (Here and in `apply`, a key whose
    /// record has expired by the new record's `created_at` is free again: the new record replaces it.)
    async fn create(&self, order: &Order, opened: &Event, idem: Option<&IdempotencyRecord>) -> StoreResult<()>;

    /// The order, or `None` (also for another tenant's order).
    async fn get(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>>;

    /// Applies a step atomically: writes `order` (whose version is the last event's) and `events`, and the
    /// idempotency record when given — only if the stored version is `expected_version`. Otherwise nothing is
    /// written and `Conflict { current_version }` is returned (`NotFound` if the order does not exist;
    /// `AlreadyExists` if the idempotency key was taken meanwhile).
    async fn apply(
        &self,
        expected_version: u64,
        order: &Order,
        events: &[Event],
        idem: Option<&IdempotencyRecord>,
    ) -> StoreResult<()>;

    async fn list_by_status(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>>;

    async fn list_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>>;

    async fn cards_by_status(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderCard>> {
        Ok(cards(self.list_by_status(tenant, status, page).await?))
    }

    async fn cards_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderCard>> {
        Ok(cards(self.list_by_customer(tenant, document, page).await?))
    }

    /// The ids of the company's orders whose current stay went over its status's SLA at or before `until` and
    /// has no alert yet (`Order::sla_due`), earliest deadline first, ties by id: read from an index on the
    /// deadline that holds only such orders, never by reading every open order.
    async fn sla_due(&self, tenant: &TenantId, until: DateTime<Utc>, page: &PageRequest) -> StoreResult<Page<OrderId>>;

    /// The order's events in version order (empty for an unknown order or another tenant's).
    async fn timeline(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Vec<Event>>;

    /// A number that changes whenever the store commits a write that `tenant`'s reads could see (through any
    /// port: orders, records, settings, emitters, flows…), changed before the write is answered. Read before a
    /// read, it tags what that read rendered: the rendering is current for as long as the store answers the same
    /// number ([`crate::ReadCache`]). `None` (the default) when the store cannot tell — other processes write the
    /// same data (DynamoDB) —, and then nothing read from it is remembered.
    fn write_generation(&self, _tenant: &TenantId) -> Option<u64> {
        None
    }
}

/// A page of orders as their cards.
fn cards(page: Page<Order>) -> Page<OrderCard> {
    Page { items: page.items.iter().map(Order::card).collect(), next: page.next }
}

/// The checks of a step's write before any adapter writes it (the same in every store): at least one event —
/// every change of an order is an event, and a write without one would change nothing the outbox sees —, the
/// events numbered `expected_version + 1, + 2, …` without gaps, the order at the last one's version, the
/// idempotency record of the order's tenant. A step that fails them is a bug of the caller: `Other`.
pub fn check_step(
    expected_version: u64,
    order: &Order,
    events: &[Event],
    idem: Option<&IdempotencyRecord>,
) -> StoreResult<()> {
    let consecutive = events.iter().enumerate().all(|(i, e)| e.version == expected_version + 1 + i as u64);
    if events.is_empty() || !consecutive || order.version != expected_version + events.len() as u64 {
        return Err(StoreError::Other(format!(
            "inconsistent step: from version {expected_version}, {} event(s), order at version {}; a step writes \
             events {}.. and the order at the last one's version",
            events.len(),
            order.version,
            expected_version + 1
        )));
    }
    if idem.is_some_and(|r| r.tenant != order.tenant) {
        return Err(StoreError::Other("the idempotency record belongs to another tenant".into()));
    }
    Ok(())
}

/// Published flow versions of a company. Versions are immutable; `CURRENT` points at the latest published.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores `flow` (already validated, with its version number) and makes it current, only if no flow with
    /// that version exists (`AlreadyExists` otherwise) and the current one is `expected_current`
    /// (`Conflict { current_version }` otherwise, with `current_version: 0` when none is published yet;
    /// `None` = none published yet).
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> StoreResult<()>;

    async fn current(&self, tenant: &TenantId) -> StoreResult<Option<Flow>>;

    async fn version(&self, tenant: &TenantId, version: u32) -> StoreResult<Option<Flow>>;

    /// Every published version, ascending.
    async fn versions(&self, tenant: &TenantId) -> StoreResult<Vec<Flow>>;
}

/// The gapless number sequence of one fiscal document kind, emitter CNPJ and série.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NumberingKey {
    /// Emitter CNPJ, 14 chars (alphanumeric allowed).
    pub cnpj: String,
    pub serie: u32,
    /// NF-e numbers (`nNF`) or NFS-e DPS numbers (`nDPS`): separate sequences for the same CNPJ and série.
    #[serde(default, skip_serializing_if = "FiscalDocument::is_nfe")]
    pub document: FiscalDocument,
    /// Production and homologation number apart: a number used in homologation never holds a production one.
    /// Absent in records written before the field existed (read as production, the keys they were stored under).
    #[serde(default = "FiscalEnvironment::production", skip_serializing_if = "FiscalEnvironment::is_production")]
    pub environment: FiscalEnvironment,
}

impl NumberingKey {
    /// The NF-e sequence of (CNPJ, série).
    pub fn nfe(cnpj: impl Into<String>, serie: u32) -> NumberingKey {
        NumberingKey {
            cnpj: cnpj.into(),
            serie,
            document: FiscalDocument::Nfe,
            environment: FiscalEnvironment::Production,
        }
    }
    /// The NFS-e DPS sequence of (CNPJ, série).
    pub fn dps(cnpj: impl Into<String>, serie: u32) -> NumberingKey {
        NumberingKey {
            cnpj: cnpj.into(),
            serie,
            document: FiscalDocument::Dps,
            environment: FiscalEnvironment::Production,
        }
    }
    /// The same sequence in `environment` (production by default).
    pub fn in_environment(self, environment: FiscalEnvironment) -> NumberingKey {
        NumberingKey { environment, ..self }
    }
    /// `""` in production, `"#H"` in homologation: what the stores append to a sequence's keys (production keys
    /// are the ones written before the environment was part of the key).
    pub fn environment_suffix(&self) -> &'static str {
        match self.environment {
            FiscalEnvironment::Production => "",
            FiscalEnvironment::Homologation => "#H",
        }
    }
}

/// The kind of fiscal document a numbering sequence (and an invoice record) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FiscalDocument {
    /// NF-e (model 55): the parts.
    #[default]
    Nfe,
    /// NFS-e Nacional, numbered by its DPS: the labor.
    Dps,
}

impl FiscalDocument {
    pub fn is_nfe(&self) -> bool {
        *self == FiscalDocument::Nfe
    }
    /// `"NFE"` / `"DPS"` (store keys).
    pub fn tag(self) -> &'static str {
        match self {
            FiscalDocument::Nfe => "NFE",
            FiscalDocument::Dps => "DPS",
        }
    }
}

/// An NF-e of an order as stored: the number and access key survive every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub tenant: TenantId,
    pub order_id: OrderId,
    pub numbering: NumberingKey,
    pub number: u64,
    /// The random cNF of the access key: chosen once, never changed on retry.
    pub cnf: String,
    /// The 44-character access key.
    pub access_key: String,
    pub state: InvoiceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cstat: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Where the signed XML / nfeProc is kept (blob key), once signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml_ref: Option<String>,
    /// Incremented by every `save_invoice`; updates are conditional on it.
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An NF-e keyed for SEFAZ's contingency (tpEmis 6/7 in `access_key`): the entry it is signed with (`dhCont`,
    /// `xJust`), kept so that the same key always signs the same document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contingency: Option<ContingencyEntry>,
}

impl InvoiceRecord {
    /// A fiscal document's first record, saved before anything is sent: `pending`, revision 1, made `now` (no
    /// cNF, no contingency: the NF-e sets its own).
    pub fn pending(
        tenant: &TenantId,
        order_id: &OrderId,
        numbering: &NumberingKey,
        number: u64,
        access_key: String,
        now: DateTime<Utc>,
    ) -> InvoiceRecord {
        InvoiceRecord {
            tenant: tenant.clone(),
            order_id: *order_id,
            numbering: numbering.clone(),
            number,
            cnf: String::new(),
            access_key,
            state: InvoiceState::Pending,
            cstat: None,
            message: None,
            protocol: None,
            xml_ref: None,
            revision: 1,
            created_at: now,
            updated_at: now,
            contingency: None,
        }
    }
}

/// The order's record of the document `matches` picks: the latest attempt (the last created) when several
/// match. A DPS Id holds no environment, so a DPS refused in produção and the one issued after the emitter moved
/// to homologação (or back) share their Id: the latest attempt is the one that decides, as on the order.
pub fn latest_record(
    records: impl IntoIterator<Item = InvoiceRecord>,
    matches: impl Fn(&InvoiceRecord) -> bool,
) -> Option<InvoiceRecord> {
    records.into_iter().filter(|r| matches(r)).max_by_key(|r| r.created_at)
}

#[async_trait]
pub trait InvoiceStore: Send + Sync {
    /// The number of the order's NF-e in this sequence: the one claimed before for this order, or the next
    /// number (previous + 1, starting at 1), claimed atomically so that concurrent claims never share or skip a
    /// number.
    async fn claim_number(&self, tenant: &TenantId, key: &NumberingKey, order: &OrderId) -> StoreResult<u64>;

    /// Creates (`expected_revision == 0`, record.revision == 1) or updates (record.revision ==
    /// expected_revision + 1) the invoice record of (order, numbering, number); `Conflict` when the stored
    /// revision differs, `AlreadyExists` when creating over an existing record, `NotFound` when updating a record
    /// that does not exist.
    async fn save_invoice(&self, record: &InvoiceRecord, expected_revision: u64) -> StoreResult<()>;

    /// The order's invoices, ascending by number.
    async fn invoices(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Vec<InvoiceRecord>>;

    /// The numbers of the sequence still open (claimed, and neither settled nor voided), ascending from `from`,
    /// at most `limit`: what may be a gap. Reads only the open numbers (never the whole sequence).
    async fn open_numbers(
        &self,
        tenant: &TenantId,
        key: &NumberingKey,
        from: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedNumber>>;

    /// The claims of `first..=last` (ascending; a number above the counter's last has none).
    async fn claimed_numbers(
        &self,
        tenant: &TenantId,
        key: &NumberingKey,
        first: u64,
        last: u64,
    ) -> StoreResult<Vec<ClaimedNumber>>;

    /// The number's document is final (authorized, denied or cancelled): it is no longer open. Idempotent.
    async fn settle_number(&self, tenant: &TenantId, key: &NumberingKey, number: u64) -> StoreResult<()>;

    /// The number was voided at SEFAZ: no longer open, marked voided, and the order that held it releases it, so
    /// that the order's next [`InvoiceStore::claim_number`] takes a new number (a voided number is never given
    /// again). Idempotent; `NotFound` for a number never claimed.
    async fn void_number(&self, tenant: &TenantId, key: &NumberingKey, number: u64) -> StoreResult<()>;

    /// Creates (`expected_revision == 0`) or updates the inutilização of a range, keyed by (sequence, first
    /// number); the same revision rules as [`InvoiceStore::save_invoice`].
    async fn save_void(&self, record: &VoidRecord, expected_revision: u64) -> StoreResult<()>;

    /// The inutilizações of the sequence, ascending by first number.
    async fn voids(&self, tenant: &TenantId, key: &NumberingKey) -> StoreResult<Vec<VoidRecord>>;
}

/// A number of a sequence as claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedNumber {
    pub number: u64,
    /// The order that claimed it.
    pub order_id: OrderId,
    /// Claimed and not yet settled nor voided.
    pub open: bool,
    /// Voided at SEFAZ (inutilização).
    pub voided: bool,
}

/// Where an inutilização stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidState {
    /// Signed and recorded; sent or about to be, no answer kept yet: the same request resends these bytes.
    Pending,
    /// SEFAZ voided the range (cStat 102; or it already held this very request voided).
    Voided,
    /// SEFAZ refused it (its cStat): nothing was voided; a new request for the range may be made.
    Rejected,
}

/// The inutilização of a range of numbers of one sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidRecord {
    pub tenant: TenantId,
    pub numbering: NumberingKey,
    pub first: u64,
    pub last: u64,
    pub justification: String,
    pub state: VoidState,
    /// `infInut/@Id`.
    pub id: String,
    /// The signed `inutNFe`, resent verbatim until SEFAZ answers.
    pub request_xml: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cstat: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The blob key of the procInutNFe, once voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml_ref: Option<String>,
    /// While a request is sending it (a lease taken by a conditional write): no other request sends it until
    /// then; a sender that stopped leaves it to expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_until: Option<DateTime<Utc>>,
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record saved under `key`, unless missing or expired at `now` (expired when `expires_at <= now`).
    async fn get_idempotency(
        &self,
        tenant: &TenantId,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>>;
}

/// The embedded mode's outbox: events committed but not yet relayed (the DynamoDB adapter relays through
/// DynamoDB Streams instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Monotonic position in the outbox.
    pub seq: u64,
    pub tenant: TenantId,
    pub order_id: OrderId,
    pub event: Event,
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` unrelayed entries, oldest first.
    async fn pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    /// Marks entries relayed (idempotent).
    async fn mark_relayed(&self, seqs: &[u64], at: DateTime<Utc>) -> StoreResult<()>;
}

/// A file kept for an order: a photo, a document, the signed NF-e XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A presigned upload ([`BlobStore::presign_upload`]): POST `fields` as they are, then the file as `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    pub url: String,
    pub fields: Vec<(String, String)>,
}

/// What the store tells of a file without reading it: its type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHead {
    pub content_type: String,
    pub size: u64,
}

/// Where files live (S3 in AWS, a folder in the embedded mode). Keys are relative to the tenant (e.g.
/// `orders/<id>/attachments/<uuid>.jpg`): an adapter keeps every tenant's files apart, so a key never reaches
/// another tenant's file. Keys are 1–512 chars of `[A-Za-z0-9._/-]`, without empty, `.` or `..` segments;
/// adapters refuse other keys with `StoreError::Other`.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// The form the client uploads the file with, valid for a short while (minutes): a `multipart/form-data`
    /// POST to `url` of `fields`, then the file as the field `file` (last). The store refuses a file of another
    /// content type, or empty, or over `max_bytes` (S3: the POST policy's `content-length-range`). Signing writes
    /// nothing: a form nobody uses leaves no file behind.
    async fn presign_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        max_bytes: u64,
    ) -> StoreResult<UploadForm>;

    /// The file, or `None`.
    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Blob>>;

    /// The file's type and size without its bytes (S3: `HeadObject`), or `None`: a file that may be too big to
    /// use is sized before it is read.
    async fn head(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<BlobHead>>;

    /// Stores (or replaces) the file.
    async fn put(&self, tenant: &TenantId, key: &str, blob: &Blob) -> StoreResult<()>;
}

/// `tpAmb` of a company's NF-e.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiscalEnvironment {
    /// 2 — homologação (no fiscal value): the default.
    #[default]
    Homologation,
    /// 1 — produção.
    Production,
}

impl FiscalEnvironment {
    pub fn production() -> FiscalEnvironment {
        FiscalEnvironment::Production
    }
    pub fn is_production(&self) -> bool {
        *self == FiscalEnvironment::Production
    }
    pub fn code(self) -> u8 {
        match self {
            FiscalEnvironment::Production => 1,
            FiscalEnvironment::Homologation => 2,
        }
    }
}

/// The tax regime of the emitter (`CRT`) and how its part lines are taxed. Percentages are decimal strings in
/// percent (e.g. `"18"`, `"1.65"`), as every decimal of the API; osflow-invoicing validates them before storing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "crt", rename_all = "snake_case")]
pub enum TaxRules {
    /// CRT 1: `ICMSSN102` with this CSOSN (`102`, `103`, `300` or `400`); PIS/COFINS go in the DAS.
    SimplesNacional { csosn: String },
    /// CRT 3: `ICMS00`, `PISAliq` and `COFINSAliq` with these rates.
    RegimeNormal {
        icms_percent: String,
        pis_percent: String,
        cofins_percent: String,
        /// Exclude the ICMS from the PIS/COFINS base (STF RE 574.706).
        #[serde(default)]
        pis_cofins_base_excludes_icms: bool,
    },
}

impl TaxRules {
    /// The `CRT` code (1 or 3).
    pub fn crt(&self) -> u8 {
        match self {
            TaxRules::SimplesNacional { .. } => 1,
            TaxRules::RegimeNormal { .. } => 3,
        }
    }
}

/// `infRespTec`: the software house responsible for the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechResponsibleConfig {
    pub cnpj: String,
    pub contact: String,
    pub email: String,
    pub phone: String,
}

/// A company's NF-e emitter (`emit` and the issuing choices). The A1 certificate is stored apart
/// ([`EmitterStore::put_certificate`]) and is never part of this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmitterConfig {
    /// 14 characters (alphanumeric CNPJ allowed).
    pub cnpj: String,
    /// `IE`: digits or "ISENTO".
    pub ie: String,
    pub legal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_name: Option<String>,
    /// With the IBGE city code and the UF.
    pub address: osflow_domain::Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `serie`, 0..=999.
    pub serie: u32,
    #[serde(default)]
    pub environment: FiscalEnvironment,
    /// CFOP of the part lines (5102 by default).
    pub cfop: String,
    pub tax: TaxRules,
    /// Write the IBS/CBS groups of the 2026 tax reform.
    #[serde(default)]
    pub ibs_cbs: bool,
    pub tech_responsible: TechResponsibleConfig,
    /// The municipal part: the labor of an OS on the NFS-e Nacional. `None`: the company issues no NFS-e through
    /// osflow (its labor NFS-e, issued elsewhere, is recorded on the OS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfse: Option<NfseSettings>,
    /// The labor's NFS-e is issued outside osflow (a municipality with its own issuer): the release of an OS with
    /// labor waits for one recorded on it. Not with `nfse`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nfse_elsewhere: bool,
}

/// The service codes of a DPS `cServ`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfseServiceCodes {
    /// `cTribNac`: 6 digits (LC 116/2003 item, subitem, desdobro), e.g. `140101`.
    pub c_trib_nac: String,
    /// `cTribMun`: 3 digits, when the municipality has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_trib_mun: Option<String>,
    /// `cNBS`: 9 digits, e.g. `120012000` (required with IBS/CBS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_nbs: Option<String>,
}

/// `totTrib` of the DPS: the approximate taxes (Lei 12.741/2012).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum ApproximateTaxesConfig {
    /// `pTotTribSN`: the Simples Nacional rate (percent); required of a ME/EPP.
    SimplesRate { percent: String },
    /// `pTotTrib`: federal, state and municipal rates (percent).
    Rates { federal: String, state: String, municipal: String },
    /// `indTotTrib` = 0 (not for a ME/EPP).
    NotInformed,
}

/// The NFS-e Nacional settings of an emitter (its municipal registration and the DPS choices). Decimal strings
/// in percent, as every decimal of the API; osflow-invoicing checks them before storing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfseSettings {
    /// `IM`: inscrição municipal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipal_registration: Option<String>,
    /// `opSimpNac`: 1 not optant, 2 MEI, 3 ME/EPP.
    pub simples_option: u8,
    /// `regApTribSN` (ME/EPP only): 1, 2 or 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simples_regime: Option<u8>,
    /// `regEspTrib`: 0 none … 6, 9.
    #[serde(default)]
    pub special_regime: u8,
    /// The DPS série, 1 to 99999.
    pub serie: u32,
    /// The default service codes of the labor.
    pub service: NfseServiceCodes,
    /// Codes of a service type of the OS (its key), instead of the default.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub services_by_type: std::collections::BTreeMap<String, NfseServiceCodes>,
    /// `pAliq` (percent), where the provider informs it (Simples Nacional ME/EPP without a special regime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss_rate: Option<String>,
    /// `tpRetISSQN` by default: 1 not withheld, 2 withheld by the buyer (a CPF/CNPJ customer).
    #[serde(default = "not_withheld")]
    pub iss_withholding: u8,
    pub approximate_taxes: ApproximateTaxesConfig,
    /// The DPS signature: `rsa-sha256` (default) or `rsa-sha1`.
    #[serde(default = "rsa_sha256")]
    pub signature: String,
}

fn not_withheld() -> u8 {
    1
}

fn rsa_sha256() -> String {
    "rsa-sha256".into()
}

/// The A1 certificate of an emitter as stored: PKCS#12 bytes and password. Only the invoicer reads it (to sign);
/// it is never returned by the API nor logged (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct EmitterCertificate {
    pub pkcs12: Vec<u8>,
    pub password: String,
    /// Incremented by every `put_certificate`: a parsed certificate cached under an older revision is stale.
    pub revision: u64,
}

impl std::fmt::Debug for EmitterCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmitterCertificate")
            .field("pkcs12", &format_args!("<{} bytes>", self.pkcs12.len()))
            .field("password", &"<redacted>")
            .field("revision", &self.revision)
            .finish()
    }
}

/// A company's emitter configuration and its certificate (SQLite in the embedded mode; DynamoDB + Secrets
/// Manager in AWS).
/// A SEFAZ virtual contingency authorizer (SVC): where a company's NF-e go while its UF's authorizer is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvcAuthorizer {
    /// SVC-AN (tpEmis 6).
    SvcAn,
    /// SVC-RS (tpEmis 7).
    SvcRs,
}

impl SvcAuthorizer {
    /// `SVC-AN` / `SVC-RS`.
    pub fn label(self) -> &'static str {
        match self {
            SvcAuthorizer::SvcAn => "SVC-AN",
            SvcAuthorizer::SvcRs => "SVC-RS",
        }
    }

    /// The `tpEmis` of its NF-e.
    pub fn tp_emis(self) -> u8 {
        match self {
            SvcAuthorizer::SvcAn => 6,
            SvcAuthorizer::SvcRs => 7,
        }
    }
}

/// An entry into contingency: the SVC, since when (`dhCont`) and why (`xJust`, 15–256 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContingencyEntry {
    pub authorizer: SvcAuthorizer,
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// A company's contingency state: issuing at its UF's authorizer (`active` empty) or at the SVC since an outage.
/// Writes are conditional on `revision` ([`EmitterStore::save_contingency`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContingencyState {
    /// The environment whose authorizer is down (a state of another environment is normal issue).
    pub environment: FiscalEnvironment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ContingencyEntry>,
    /// The latest entry that ended, and when its UF's authorizer answered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<ContingencyEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// 1 for the first save, +1 for each save after.
    pub revision: u64,
    pub updated_at: DateTime<Utc>,
}

impl ContingencyState {
    /// The entry in force for `environment`, if any.
    pub fn active_in(&self, environment: FiscalEnvironment) -> Option<&ContingencyEntry> {
        self.active.as_ref().filter(|_| self.environment == environment)
    }
}

#[async_trait]
pub trait EmitterStore: Send + Sync {
    /// The emitter configuration, or `None` when the company issues no NF-e.
    async fn emitter(&self, tenant: &TenantId) -> StoreResult<Option<EmitterConfig>>;
    /// Stores (or replaces) the configuration.
    async fn put_emitter(&self, tenant: &TenantId, config: &EmitterConfig) -> StoreResult<()>;
    /// The certificate, for signing only.
    async fn certificate(&self, tenant: &TenantId) -> StoreResult<Option<EmitterCertificate>>;
    /// Stores (or replaces) the certificate; returns its new revision.
    async fn put_certificate(&self, tenant: &TenantId, pkcs12: &[u8], password: &str) -> StoreResult<u64>;
    /// The company's contingency state, `None` until it first entered contingency.
    async fn contingency(&self, tenant: &TenantId) -> StoreResult<Option<ContingencyState>>;
    /// Saves `state` (whose `revision` is `expected_revision + 1`) only if the stored revision is
    /// `expected_revision` (0: none stored): `Conflict { current_version }` (or `AlreadyExists` for 0) otherwise.
    async fn save_contingency(
        &self,
        tenant: &TenantId,
        state: &ContingencyState,
        expected_revision: u64,
    ) -> StoreResult<()>;
}

/// One side effect of a consumer, deduplicated: (tenant, consumer, event, channel), e.g.
/// (`acme`, `notifier`, `<order>:7`, `email`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DedupeKey {
    pub tenant: TenantId,
    pub consumer: String,
    pub event_id: String,
    pub channel: String,
}

/// A completed effect: what happened, kept so that a redelivery does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupeOutcome {
    pub ok: bool,
    /// What the consumer wants to remember (e.g. the masked recipient, the provider's message id, the error).
    pub detail: String,
    pub completed_at: DateTime<Utc>,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller owns the effect now (a new claim, or one whose lease had expired): do it, then `complete` or
    /// `release`.
    Claimed,
    /// Another delivery holds a claim younger than the lease: do nothing now (fail, so that the message comes
    /// back later).
    InFlight { claimed_at: DateTime<Utc> },
    /// The effect was done: do nothing.
    Done(DedupeOutcome),
}

/// Dedupe records of at-least-once consumers: one effect per (event, channel) however often the event is
/// delivered. Records expire (`expires_at`; DynamoDB TTL, SQLite sweeps on claim).
#[async_trait]
pub trait DedupeStore: Send + Sync {
    /// Claims the effect at `now`: `Claimed` when there is no record, or only a claim made at or before
    /// `now - lease` (its owner is presumed dead); `InFlight` for a younger claim; `Done` for a completed one.
    /// Two concurrent claims never both get `Claimed`.
    async fn claim(
        &self,
        key: &DedupeKey,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Claim>;

    /// Records the outcome of a claimed effect (overwrites the claim; a completed record stays completed).
    async fn complete(&self, key: &DedupeKey, outcome: &DedupeOutcome) -> StoreResult<()>;

    /// Drops a claim whose effect failed, so that the next delivery tries again at once (a completed record is
    /// left alone).
    async fn release(&self, key: &DedupeKey) -> StoreResult<()>;
}

/// A channel of customer notifications a company can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyChannel {
    /// E-mail to the customer (SES in AWS, a mailbox folder locally).
    Email,
    /// A signed JSON POST to the company's endpoint (its WhatsApp/SMS provider or integration).
    Webhook,
}

impl NotifyChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyChannel::Email => "email",
            NotifyChannel::Webhook => "webhook",
        }
    }
}

/// A company's override of one message: subject (e-mail) and body, with `{variables}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
}

/// A company's notification settings. The webhook secret is write-only for the API (never returned).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// The company's name in the messages (`{empresa}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Overrides by template name (a status kind such as `awaiting_approval`, or `material_date_changed`).
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, TemplateOverride>,
    /// The channels the company uses.
    #[serde(default)]
    pub channels: Vec<NotifyChannel>,
}

/// A company's paperwork settings: the default warranty per line kind and the texts of its printed OS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySettings {
    /// The company's name and document as printed on its receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_document: Option<String>,
    /// The warranty of lines typed without their own (90 days each when never saved).
    #[serde(default)]
    pub warranty: osflow_domain::WarrantyDefaults,
    /// The warranty term printed on the delivery receipt (a default text when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_terms: Option<String>,
    /// The terms printed on the entry receipt (a default text when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_terms: Option<String>,
}

/// Company settings (notifications; paperwork).
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The company's notification settings, or `None` when never saved.
    async fn notification_settings(&self, tenant: &TenantId) -> StoreResult<Option<NotificationSettings>>;
    /// Stores (or replaces) them.
    async fn put_notification_settings(&self, tenant: &TenantId, settings: &NotificationSettings) -> StoreResult<()>;
    /// The company's paperwork settings, or `None` when never saved.
    async fn company_settings(&self, tenant: &TenantId) -> StoreResult<Option<CompanySettings>>;
    /// Stores (or replaces) them.
    async fn put_company_settings(&self, tenant: &TenantId, settings: &CompanySettings) -> StoreResult<()>;
}

/// An e-mail to a customer (plain text, UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub from_name: String,
    pub from_email: String,
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (timeouts, 5xx).
    #[error("transient: {0}")]
    Transient(String),
    /// The provider refused for the pace (SES's "Maximum sending rate exceeded", 429): worth retrying, after a
    /// back-off, not at once.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Retrying will not help (a refused address, a 4xx of the webhook).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Sends e-mail (SES v2 in AWS, a mailbox folder of `.eml` files locally). Returns the provider's message id.
#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send_email(&self, message: &EmailMessage) -> Result<String, SendError>;
}

/// A signed JSON POST to a company's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCall {
    pub url: String,
    pub secret: String,
    /// The JSON body, sent as is (the signature covers these bytes).
    pub body: String,
}

/// Posts webhooks; a non-2xx answer is a failure.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(&self, call: &WebhookCall) -> Result<(), SendError>;
}

/// Links to the customer's page (the portal), minted by whoever holds the portal key; the notifier fills the
/// templates' `{link}` with one.
pub trait CustomerLinks: Send + Sync {
    /// The page of `order` as it is now: a link that decides the quote revision waiting for the customer, if
    /// one is, else a link to follow the order.
    fn link(&self, order: &Order, flow: &Flow, now: DateTime<Utc>) -> String;
}

/// A day's report aggregate as stored, with the version its next write is conditional on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDay {
    pub aggregate: osflow_domain::report::DayAggregate,
    /// 1 for the first write of the day, +1 per write.
    pub version: u64,
}

/// The period a scheduled report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    Daily,
    Weekly,
    Monthly,
    /// Asked for through the API (`POST /v1/reports`).
    Custom,
}

impl ReportPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportPeriod::Daily => "daily",
            ReportPeriod::Weekly => "weekly",
            ReportPeriod::Monthly => "monthly",
            ReportPeriod::Custom => "custom",
        }
    }
}

/// A generated report: its summary and the names of its files (kept in the [`BlobStore`] under
/// `reports/<id>/<file>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub tenant: TenantId,
    /// `[a-z0-9-]`, e.g. `daily-2026-11-30`; the same period gives the same id (a rerun replaces the report).
    pub id: String,
    pub period: ReportPeriod,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub generated_at: DateTime<Utc>,
    /// File names (`report.json`, `report.csv`, `time-per-stage.svg`, `opened-closed.svg`).
    pub files: Vec<String>,
    /// The period's summary, revenue included (the API drops it for the roles that may not see it).
    pub summary: osflow_domain::report::Summary,
}

/// The report aggregates and the generated reports of the companies.
///
/// Exactly once in effect: [`ReportStore::count_event`] writes a day's new aggregate and the record that the
/// event was counted in one atomic write, so an event redelivered after its count changes nothing.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The stored aggregate of a day, or `None`.
    async fn day(&self, tenant: &TenantId, day: chrono::NaiveDate) -> StoreResult<Option<StoredDay>>;

    /// The stored aggregates of `from..=to`, ascending by day (missing days are absent). O(days) items read,
    /// whatever the number of orders.
    async fn days(
        &self,
        tenant: &TenantId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<osflow_domain::report::DayAggregate>>;

    /// The companies with an aggregate on `day` (the scheduled reports are made for them). A day joins this list
    /// with its first `count_event`.
    async fn active_tenants(&self, day: chrono::NaiveDate) -> StoreResult<Vec<TenantId>>;

    /// Whether the event was counted already.
    async fn event_counted(&self, tenant: &TenantId, event_id: &str) -> StoreResult<bool>;

    /// Stores `aggregate` as the new value of its day (version `expected_version + 1`; `expected_version` 0 when
    /// the day has no aggregate yet) and records `event_id` as counted — both or neither. `AlreadyExists` when
    /// the event was counted already; `Conflict { current_version }` when the day's stored version differs
    /// (nothing written in either case).
    async fn count_event(
        &self,
        tenant: &TenantId,
        event_id: &str,
        aggregate: &osflow_domain::report::DayAggregate,
        expected_version: u64,
    ) -> StoreResult<()>;

    /// Stores (or replaces) a generated report.
    async fn save_report(&self, report: &ReportRecord) -> StoreResult<()>;

    /// The report, or `None` (also for another tenant's).
    async fn report(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ReportRecord>>;

    /// The company's reports, newest `generated_at` first (ties by id), at most `limit` (1..=100).
    async fn reports(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<ReportRecord>>;
}

/// A field of the fiscal settings that cannot be used (the message reaches the user: Portuguese).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field as the API names it (`cnpj`, `tax.icms_percent`, `certificate.password`…).
    pub field: String,
    pub message: String,
}

/// The public facts of an A1 certificate: what the API shows instead of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Subject common name, e.g. `OFICINA EXEMPLO LTDA:11222333000181`.
    pub common_name: String,
    /// The holder's CNPJ (ICP-Brasil otherName, else the CN), 14 characters.
    pub cnpj: Option<String>,
    pub issuer: String,
    pub serial_hex: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Checks that need the NF-e library.
pub trait FiscalChecks: Send + Sync {
    /// Whether the configuration can issue NF-e (CNPJ, IE, série, CFOP, tax rates, infRespTec…).
    fn check_emitter(&self, config: &EmitterConfig) -> Result<(), FieldProblem>;
    /// Opens a PKCS#12 file (every common encoding, the legacy RC2-40 one included) with its password and
    /// returns the certificate's facts; the problem names `certificate.pkcs12` or `certificate.password`.
    fn read_certificate(&self, pkcs12: &[u8], password: &str) -> Result<CertificateSummary, FieldProblem>;
}

/// The emitter store and the checks, for the function that edits the emitter.
#[derive(Clone)]
pub struct FiscalAdmin {
    pub emitters: Arc<dyn EmitterStore>,
    pub checks: Arc<dyn FiscalChecks>,
}

impl std::fmt::Debug for FiscalAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiscalAdmin").finish_non_exhaustive()
    }
}

/// Why an event about an authorized NF-e was not registered (messages in Portuguese: they reach the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NfeEventError {
    /// No such NF-e on the order (or no such order).
    #[error("NF-e não encontrada nesta ordem de serviço")]
    NotFound,
    /// A field of the request (named as the API names it).
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(FieldProblem),
    /// The NF-e's state, the legal window or SEFAZ (its cStat) refused the event: nothing was registered.
    #[error("{message}")]
    Refused { c_stat: Option<u16>, message: String },
    /// SEFAZ did not answer (or did not decide): nothing is known to be registered; the same request may be sent
    /// again (the event is consulted, never registered twice).
    #[error("SEFAZ indisponível: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The events SEFAZ registers about an authorized NF-e (cancellation 110111, carta de correção 110110): signed
/// with the company's A1 certificate, so only the function that serves these routes (and osflow-local) wires it.
/// Each implementation stores the event's procEventoNFe under [`nfe_event_blob_key`] and records it on the
/// order's timeline.
#[async_trait]
pub trait NfeEvents: Send + Sync {
    /// Cancels the order's authorized NF-e `key` (idempotent: an NF-e already cancelled is returned as it is).
    async fn cancel(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        justification: &str,
    ) -> Result<InvoiceRecord, NfeEventError>;

    /// Registers the next carta de correção of the NF-e `key` (a text equal to the latest one is that one).
    async fn correct(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        text: &str,
    ) -> Result<osflow_domain::InvoiceCorrection, NfeEventError>;

    /// The gaps of the emitter's NF-e sequence in `environment` (the emitter's own when `None`): the numbers
    /// given up that SEFAZ expects voided, and the inutilizações made.
    async fn gaps(&self, tenant: &TenantId, environment: Option<FiscalEnvironment>) -> Result<NfeGaps, NfeEventError>;

    /// Voids `first..=last` of that sequence at SEFAZ (inutilização, NFeInutilizacao4) with a justification of
    /// 15–255 characters: every number in the range must be a gap. Idempotent: the same range again returns the
    /// inutilização made (or resends the same signed request while it has no answer).
    async fn void_range(
        &self,
        tenant: &TenantId,
        environment: Option<FiscalEnvironment>,
        first: u64,
        last: u64,
        justification: &str,
    ) -> Result<VoidRecord, NfeEventError>;
}

/// Why a number is a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// SEFAZ rejected its NF-e (or it was refused before sending) and it was not authorized since: the staff may
    /// give it up (the order's next attempt then takes a new number).
    Rejected,
    /// Its order was cancelled before the NF-e was authorized.
    OrderCancelled,
    /// Its order's NF-e was issued again under another number or sequence.
    Superseded,
}

/// A number given up: claimed, never authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberGap {
    pub number: u64,
    pub order_id: OrderId,
    pub reason: GapReason,
    /// Its NF-e as stored (none when the number was claimed and nothing was built under it).
    pub invoice: Option<InvoiceRecord>,
}

/// The gaps and inutilizações of one NF-e sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfeGaps {
    pub numbering: NumberingKey,
    pub gaps: Vec<NumberGap>,
    pub voids: Vec<VoidRecord>,
}

/// Where the procInutNFe of the inutilização `id` (`infInut/@Id`) is kept.
pub fn void_blob_key(numbering: &NumberingKey, id: &str) -> String {
    let environment = match numbering.environment {
        FiscalEnvironment::Production => "production",
        FiscalEnvironment::Homologation => "homologation",
    };
    format!("fiscal/nfe/{environment}/{id}-procInutNFe.xml")
}

/// Where the procEventoNFe of the event `tp_evento` number `seq` of the NF-e `key` is kept.
pub fn nfe_event_blob_key(order: &OrderId, key: &str, tp_evento: &str, seq: u8) -> String {
    format!("orders/{order}/nfe/{key}-{tp_evento}-{seq:02}-procEventoNFe.xml")
}

/// The events Sefin Nacional registers about an issued NFS-e (the cancellation e101101): signed with the company's
/// A1 certificate, so only where they are sent (the `fiscal-admin` function, osflow-local) wires it. The
/// implementation stores the event document Sefin returns under [`nfse_event_blob_key`] and records the
/// cancellation on the order's timeline.
#[async_trait]
pub trait NfseEvents: Send + Sync {
    /// Cancels the order's issued NFS-e whose DPS Id is `key` (`cMotivo` `reason`: 1, 2 or 9; `xMotivo` `text`).
    /// Idempotent: an NFS-e already cancelled is returned as it is.
    async fn cancel(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        reason: u8,
        text: &str,
    ) -> Result<InvoiceRecord, NfeEventError>;
}

/// Where the event document (`evento`, as Sefin returned it) of the event `tp_evento` of the order's NFS-e with the
/// DPS Id `key` is kept.
pub fn nfse_event_blob_key(order: &OrderId, key: &str, tp_evento: &str) -> String {
    format!("orders/{order}/nfse/{key}-e{tp_evento}-evento.xml")
}

/// Where the DANFE (the PDF of the authorized NF-e `key`) is kept.
pub fn danfe_blob_key(order: &OrderId, key: &str) -> String {
    format!("orders/{order}/nfe/{key}-danfe.pdf")
}

/// Where the DANFSe (the PDF of the NFS-e whose 50-digit access key is `nfse_key`) is kept, beside the NFS-e.
pub fn danfse_blob_key(order: &OrderId, nfse_key: &str) -> String {
    format!("orders/{order}/nfse/{nfse_key}-danfse.pdf")
}

/// The equipment's unlock codes, kept sealed (`crate::sealed`) apart from the orders: never in an order, an event
/// or a message. `OrderStore::apply` deletes an order's code in the same write when one of the step's events
/// forgets it (`Change::forgets_unlock_code`: removed while open, or deleted as the order closed or was
/// cancelled).
#[async_trait]
pub trait UnlockCodeStore: Send + Sync {
    /// Keeps (or replaces) the order's code, sealed and bound to the company and the order. Refused (`Other`) by
    /// a store without a key to seal with: a code is never kept in clear.
    async fn put_unlock_code(&self, tenant: &TenantId, order: &OrderId, code: &str) -> StoreResult<()>;

    /// Stores a new order as [`OrderStore::create`] does and keeps its code sealed in the same write, all or
    /// nothing: an opening that is not stored keeps no code (`AlreadyExists` as `create`). Refused (`Other`)
    /// without a key to seal with.
    async fn create_with_unlock_code(
        &self,
        order: &Order,
        opened: &Event,
        idem: Option<&IdempotencyRecord>,
        code: &str,
    ) -> StoreResult<()>;

    /// The order's code, opened; `None` when none is kept (also for another company's order).
    async fn unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Option<String>>;

    /// Forgets the order's code (nothing when none is kept).
    async fn delete_unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<()>;
}

/// The company's records: customers (found by id or by document) and their equipment (by id or by serial), the
/// orders each belongs to (its history), and the rewrite of an order's stored history (the LGPD erasure).
#[async_trait]
pub trait RecordStore: Send + Sync {
    async fn customer(
        &self,
        tenant: &TenantId,
        id: &osflow_domain::CustomerId,
    ) -> StoreResult<Option<osflow_domain::CustomerRecord>>;
    /// The customer holding this document (an anonymized record is found by no document).
    async fn customer_by_document(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> StoreResult<Option<osflow_domain::CustomerRecord>>;
    /// Stores a customer: `expected` `None` creates it (`AlreadyExists` when its id or its document is
    /// taken); `Some(v)` replaces version `v` (`Conflict` when the stored version differs, `NotFound` when there
    /// is none, `AlreadyExists` when the new document is another customer's). An anonymized record gives its
    /// document up.
    async fn put_customer(&self, record: &osflow_domain::CustomerRecord, expected: Option<u64>) -> StoreResult<()>;
    async fn equipment(
        &self,
        tenant: &TenantId,
        id: &osflow_domain::EquipmentId,
    ) -> StoreResult<Option<osflow_domain::EquipmentRecord>>;
    /// The equipment with this serial (or tag), compared by `osflow_domain::records::serial_key`.
    async fn equipment_by_serial(
        &self,
        tenant: &TenantId,
        serial: &str,
    ) -> StoreResult<Option<osflow_domain::EquipmentRecord>>;
    /// Stores an equipment as `put_customer` stores a customer, its serial key unique in the company.
    async fn put_equipment(&self, record: &osflow_domain::EquipmentRecord, expected: Option<u64>) -> StoreResult<()>;
    /// A customer's equipment, oldest first.
    async fn equipment_of_customer(
        &self,
        tenant: &TenantId,
        customer: &osflow_domain::CustomerId,
    ) -> StoreResult<Vec<osflow_domain::EquipmentRecord>>;
    /// Records that the order belongs to the customer and/or the equipment (idempotent). Written before the
    /// order itself: a link to an order that was never stored is skipped by the readers.
    async fn link_order(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        customer: Option<&osflow_domain::CustomerId>,
        equipment: Option<&osflow_domain::EquipmentId>,
    ) -> StoreResult<()>;
    /// The orders linked to the customer, newest first (at most `limit`).
    async fn orders_of_customer(
        &self,
        tenant: &TenantId,
        customer: &osflow_domain::CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>>;
    /// The orders linked to the equipment, newest first (at most `limit`).
    async fn orders_of_equipment(
        &self,
        tenant: &TenantId,
        equipment: &osflow_domain::EquipmentId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>>;
    /// Replaces each stored event of the order with `rewrite(event)` (same version, same type): the LGPD
    /// erasure of the customer's data from the history. The order item is not touched.
    async fn rewrite_events(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        rewrite: &(dyn for<'e> Fn(&'e Event) -> Event + Sync),
    ) -> StoreResult<()>;
}

/// A staff user of a company, as its [`UserDirectory`] knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: osflow_domain::values::UserId,
    /// The name to show: the user's name, else their e-mail, else their id.
    pub name: String,
    pub email: Option<String>,
    /// The user's osflow roles, sorted.
    pub roles: Vec<osflow_domain::Role>,
}

/// The company's staff users: in AWS the Cognito user pool (a user's company is its `custom:tenant`, its roles
/// its groups, its id the `sub` the tokens carry), locally the development users. Asked when an order is given a
/// technician, and by front ends for the company's technicians.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The enabled user `id` of the company `tenant`; `None` when there is none (also another company's user or
    /// a disabled one).
    async fn user(&self, tenant: &TenantId, id: &osflow_domain::values::UserId) -> StoreResult<Option<DirectoryUser>>;

    /// The company's enabled users with `role`, sorted by name then id.
    async fn users_with_role(&self, tenant: &TenantId, role: osflow_domain::Role) -> StoreResult<Vec<DirectoryUser>>;
}
