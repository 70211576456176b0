//! The vocabulary of osflow's tests (a dev-dependency only, never linked into a binary):
//!
//! - [`conformance`]: the adapter conformance suite every store runs, and its fixtures (orders, steps,
//!   idempotency records, invoices);
//! - [`TestClock`]: a clock the tests set and move; [`MemoryBlobs`]: a blob store in memory;
//! - [`EXAMPLE_ORDER`] / [`example_order`]: the reference example's `POST /v1/orders` body (ARCHITECTURE.md);
//! - [`money`], [`unique`]: the small helpers every test file wrote again;
//! - [`caller`]: who calls ([`Who`], the JWT authorizer's claims; [`caller()`], the use cases' `Caller`);
//! - [`gateway`]: the one builder of API-Gateway-shaped requests ([`Call`]);
//! - [`walk`]: the default flow walked as the reference example, with the variants the tests need ([`Walk`]);
//! - [`emitter`]: the example company's NF-e emitter;
//! - [`usecases`]: the use cases driven without HTTP (the example opening, a step, an order paid in full);
//! - [`emulator`] (feature `emulator`): the endpoint check, unique names, [`emulator::OneRequestAtATime`],
//!   [`emulator::RequestCounter`]; [`sqs`]: receiving from a queue as the consumers' tests do, and the record
//!   Lambda hands a function for a received message.

pub mod caller;
pub mod conformance;
pub mod contingency_conformance;
pub mod emitter;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod gateway;
mod records_conformance;
#[cfg(feature = "emulator")]
pub mod sqs;
mod unlock_conformance;
pub mod usecases;
pub mod walk;

pub use caller::{Who, caller};
pub use emitter::{EMITTER_CNPJ, example_address, example_emitter, example_nfse_emitter};
pub use gateway::Call;
pub use walk::Walk;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{Blob, BlobStore, Clock, StoreResult};
use osflow_domain::values::TenantId;

/// A clock the tests set and move (millisecond precision).
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    /// A clock stopped at `at`.
    pub fn at(at: DateTime<Utc>) -> TestClock {
        TestClock(AtomicI64::new(at.timestamp_millis()))
    }

    /// A clock stopped at an RFC 3339 instant (`"2026-11-20T12:00:00Z"`).
    pub fn parse(rfc3339: &str) -> TestClock {
        TestClock::at(DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 instant").to_utc())
    }

    /// Moves the clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).expect("valid instant")
    }
}

/// Files kept in memory, per tenant and key (the folder and S3 adapters are tested in their crates).
#[derive(Debug, Default)]
pub struct MemoryBlobs(Mutex<HashMap<(String, String), Blob>>);

impl MemoryBlobs {
    /// How many files are kept.
    pub fn len(&self) -> usize {
        self.0.lock().expect("blobs lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn presign_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        _: &str,
        _: u64,
    ) -> StoreResult<osflow_app::UploadForm> {
        Ok(osflow_app::UploadForm { url: format!("memory://{tenant}/{key}", tenant = tenant.as_str()), fields: vec![] })
    }
    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Blob>> {
        Ok(self.0.lock().expect("blobs lock").get(&(tenant.as_str().to_owned(), key.to_owned())).cloned())
    }
    async fn head(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<osflow_app::BlobHead>> {
        let blobs = self.0.lock().expect("blobs lock");
        let blob = blobs.get(&(tenant.as_str().to_owned(), key.to_owned()));
        Ok(blob.map(|b| osflow_app::BlobHead { content_type: b.content_type.clone(), size: b.bytes.len() as u64 }))
    }
    async fn put(&self, tenant: &TenantId, key: &str, blob: &Blob) -> StoreResult<()> {
        self.0.lock().expect("blobs lock").insert((tenant.as_str().to_owned(), key.to_owned()), blob.clone());
        Ok(())
    }
}

/// A money amount from its decimal text (`"149.90"`) and the quote lines ([`part`], [`labor`]): the domain's own
/// fixtures (`osflow_domain::testing`, which the domain's tests use too).
pub use osflow_domain::testing::{labor, money, part};

/// A fresh name part (table, queue, secret, tenant): a UUIDv7 in hex.
pub fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The reference example's `POST /v1/orders` body (ARCHITECTURE.md), verbatim.
pub const EXAMPLE_ORDER: &str = r#"{"customer": {"name": "Maria Souza", "document": "529.982.247-25", "email": "maria@example.com",
              "phone": "+55 11 98765-4321",
              "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                          "city_code": "3550308", "uf": "SP", "zip": "01305-000"}},
 "equipment": {"description": "Notebook", "brand": "Dell", "model": "Inspiron 15", "serial": "BR123456"},
 "service": {"type": "reparo", "reported_problem": "Não liga"},
 "items": [{"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010",
            "quantity": "1", "unit_price": "149.90"},
           {"kind": "labor", "code": "S-001", "description": "Diagnóstico e reparo", "quantity": "1", "unit_price": "120.00"}],
 "due_date": "2026-12-10"}"#;

/// [`EXAMPLE_ORDER`] as JSON.
pub fn example_order() -> serde_json::Value {
    serde_json::from_str(EXAMPLE_ORDER).expect("the reference example is JSON")
}

/// The date `days` after today in São Paulo (`yyyy-mm-dd`), for tests that run on the real clock: the domain
/// refuses due and material dates in the past, so fixed dates would fail from their day on.
pub fn days_ahead(days: i64) -> String {
    let today = (chrono::Utc::now() - chrono::Duration::hours(3)).date_naive();
    (today + chrono::Duration::days(days)).to_string()
}

/// [`example_order`] with its due date six days after today, for tests on the real clock (a server binary, the
/// emulator flows); tests on a [`TestClock`] take the example verbatim.
pub fn example_order_on_real_clock() -> serde_json::Value {
    let mut order = example_order();
    order["due_date"] = days_ahead(6).into();
    order
}
