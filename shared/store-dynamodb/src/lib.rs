//! osflow's DynamoDB adapter: [`DynamoStore`] implements the `OrderStore`, `FlowStore`, `InvoiceStore`,
//! `IdempotencyStore`, `DedupeStore`, `SettingsStore` and `ReportStore` ports of `osflow-app` on one table (ARCHITECTURE.md, «Data»). It is the only crate that knows item keys,
//! indexes and expressions. With the feature `secrets`, `DynamoEmitterStore` implements `EmitterStore` on the
//! same table and AWS Secrets Manager (the A1 certificates).
//!
//! # Item layout
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | order | `T#<tenant>#ORDER#<id>` | `ORDER` | `version`, `b1` (the order's JSON but its tenant, id and version, deflated against the order dictionary, `dictionary.rs`: binary; `body` without a dictionary in older items); `GSI1PK` `T#<tenant>#STATUS#<status>` / `GSI1SK` `<updated_at>#<id>`; `GSI2PK` `T#<tenant>#CUST#<document>` / `GSI2SK` `<created_at>#<id>`; `GSI3PK` `T#<tenant>#SLA` / `GSI3SK` `<sla_due>#<id>` while an SLA deadline is pending |
//! | event | `T#<tenant>#ORDER#<id>` | `EVT#<version:010>` | `event_id` (`<order>:<version>`), `type`, `tenant`, `order_id`, `occurred_at`, `version`, `data` (the event) |
//! | invoice | `T#<tenant>#ORDER#<id>` | `NFE#<n:09>#<cnpj>#<serie>` | the invoice record (`revision`, number, cNF, access key, state…) |
//! | order's NF-e claim | `T#<tenant>#ORDER#<id>` | `CLAIM#NFE#<cnpj>#<serie>` | `number` |
//! | flow version | `T#<tenant>#FLOW` | `V#<n:06>` | `version`, `flow` |
//! | current flow | `T#<tenant>#FLOW` | `CURRENT` | `version`, `flow` (a copy of that version) |
//! | NF-e counter | `T#<tenant>#SEQ#NFE#<cnpj>#<serie>` | `SEQ` | `last` |
//! | NF-e number claim | `T#<tenant>#SEQ#NFE#<cnpj>#<serie>` | `NUM#<n:09>` | `order_id`, `number`, `voided` (once voided) |
//! | open NF-e number | `T#<tenant>#SEQ#NFE#<cnpj>#<serie>` | `OPEN#<n:09>` | `order_id`, `number` (claimed, its NF-e not settled nor voided) |
//! | inutilização | `T#<tenant>#SEQ#NFE#<cnpj>#<serie>` | `VOID#<first:09>` | `revision`, `body` (the record as JSON) |
//! | order-number counter | `T#<tenant>#SEQ#ORDER` | `SEQ` | `last` |
//! | idempotency | `T#<tenant>#IDEM#<key>` | `IDEM` | `request_hash`, `status`, `created_ns`, `expires_ns`, `b1` (the saved response, deflated against the response dictionary; `body` in older items), `expires_at_us`, `ttl` (TTL, epoch seconds) |
//! | dedupe record | `T#<tenant>#DEDUPE#<consumer>#<event_id>#<channel>` (`%`, `#` percent-encoded) | `DEDUPE` | `tenant`, `consumer`, `event_id`, `channel`, `claimed_at_ns`, `expires_at_ns` (epoch nanoseconds), `ttl`, `outcome` (a map, once completed) |
//! | notification settings | `T#<tenant>#SETTINGS` | `NOTIFICATIONS` | `tenant`, `settings` (a map) |
//! | paperwork settings | `T#<tenant>#SETTINGS` | `COMPANY` | `tenant`, `settings` (a map) |
//! | unlock code | `T#<tenant>#ORDER#<id>` | `UNLOCK` | `sealed` (AES-256-GCM, `osflow_app::sealed`; no `entity`), written in the opening's transaction when left at intake, deleted in the transaction of the step that forgets it |
//! | report day aggregate | `T#<tenant>#REPORT` | `DAY#<yyyy-mm-dd>` | `tenant`, `version`, `data` (the aggregate as JSON) |
//! | generated report | `T#<tenant>#REPORT` | `DOC#<id>` | `tenant`, `data` (the report record as JSON; files in S3) |
//! | active company of a day | `REPORT#ACTIVE#<yyyy-mm-dd>` | `<tenant>` | `tenant` (written with the day's first aggregate) |
//! | counted event | `T#<tenant>#REPORT#EVT#<event_id>` | `COUNTED` | `tenant`, `ttl` (30 days) |
//! | NF-e emitter | `T#<tenant>#EMITTER` | `CONFIG` | `tenant`, `config` (a map; never the certificate) |
//! | A1 certificate pointer | `T#<tenant>#EMITTER` | `CERT` | `tenant`, `revision`, `secret_arn`, `secret_version` (the certificate itself is the Secrets Manager secret `<prefix>/<tenant>/a1`) |
//!
//! The customers and equipment: `records.rs`. Every other item but the unlock code has an `entity` attribute naming its kind. Only order items have GSI keys (the indexes are
//! sparse, and project keys only). Timestamps in sort keys are fixed-width (`2026-12-01T12:00:00.123456000Z`), so string order is
//! time order.
//!
//! # Requests
//!
//! `create` and `apply` are one `TransactWriteItems` each; `get` is one `GetItem`; a page of a list is one
//! `Query` on GSI1 or GSI2 and one `BatchGetItem` of its orders; `next_order_number` is one `UpdateItem` (`ADD`: gaps are allowed for order numbers,
//! never for NF-e numbers, which go through a conditional transaction, see [`InvoiceStore`]). A dedupe claim is
//! one conditional `PutItem` (its failure carries the stored record: no second read); `complete` one
//! `UpdateItem`, `release` one `DeleteItem`; settings one `GetItem` or `PutItem`.
//!
//! Lists read the GSIs, which DynamoDB keeps eventually consistent: an order written a moment ago may show in
//! its new status list a moment later. Reads by key (`get`, `timeline`, flows, invoices, idempotency, dedupe
//! records, settings) are strongly consistent. Items with an expiry (idempotency, dedupe) carry the table's TTL
//! attribute, but TTL deletion is lazy: reads compare the exact expiry and treat an expired item as absent.
//!
//! [`InvoiceStore`]: osflow_app::InvoiceStore

#[cfg(feature = "secrets")]
mod certificate;
mod cursor;
mod dedupe;
mod dictionary;
mod emitter;
mod error;
mod flows;
mod idempotency;
mod invoices;
pub mod items;
pub mod keys;
mod orders;
mod packed;
mod records;
mod reports;
mod settings;
pub mod table;
mod tx;
mod unlock;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;

#[cfg(feature = "secrets")]
pub use aws_sdk_secretsmanager;
#[cfg(feature = "secrets")]
pub use certificate::{DynamoEmitterStore, TENANT_TAG};
pub use items::{StoredEvent, decode_event_image};
/// The key the unlock codes are sealed with ([`DynamoStore::with_secrets_key`]).
pub use osflow_app::sealed::SecretsKey;
pub use osflow_aws_kit::SecretsReader;
/// The version of `serde_dynamo` whose `Item` [`decode_event_image`] takes (as `aws_lambda_events` gives it).
pub use serde_dynamo;
pub use table::{TableDefinition, create_table, table_definition};
pub use unlock::secrets_key_from_secret;

/// The environment variable the Lambda functions read the table name from.
pub const TABLE_ENV: &str = "OSFLOW_TABLE";

/// The DynamoDB store of one table. Clones share the client and the in-process claim queues.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    /// One queue per NF-e numbering sequence: the claims of one process take their turn here before they
    /// contend on DynamoDB (where other processes' claims are kept apart by the conditions).
    claim_queues: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The key the unlock codes are sealed with (none: no code is kept).
    secrets_key: Option<Arc<osflow_app::sealed::SecretsKey>>,
}

impl DynamoStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: Arc::from(table.into()), claim_queues: Arc::default(), secrets_key: None }
    }

    /// A store on `table`, configured from the standard AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`…) — see [`load_sdk_config`].
    pub async fn from_env(table: impl Into<String>) -> DynamoStore {
        DynamoStore::new(Client::new(&load_sdk_config().await), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The SDK configuration and HTTPS client every AWS adapter shares (see `osflow-aws-kit`).
pub use osflow_aws_kit::{https_client, load_sdk_config};
