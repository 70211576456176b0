//! The schema, as an ordered list of migrations recorded in `PRAGMA user_version`.
//!
//! Migration `i` (0-based) brings a database from `user_version = i` to `i + 1`. Migrations are only ever
//! appended: a released migration is never edited.
//!
//! Keys: the tenant leads every primary key and index, so no query can reach across tenants by accident.
//! Instants used for ordering (`created_at`, `updated_at`, `at`, `expires_at`, `relayed_at`) are Unix
//! nanoseconds (`INTEGER`), whose numeric order is the instants' order; the rows' full content is the JSON
//! `body` of the domain value, which is what reads return.

use rusqlite::{Connection, TransactionBehavior};

/// The migrations, oldest first.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    -- Per-tenant counters (the human order number).
    CREATE TABLE counters (
        tenant TEXT NOT NULL,
        name   TEXT NOT NULL,
        value  INTEGER NOT NULL,
        PRIMARY KEY (tenant, name)
    ) WITHOUT ROWID;

    CREATE TABLE orders (
        tenant     TEXT NOT NULL,
        id         TEXT NOT NULL,
        version    INTEGER NOT NULL,
        status     TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body       TEXT NOT NULL,
        UNIQUE (tenant, id)
    );
    -- list_by_status: oldest updated_at first, ties by id.
    CREATE INDEX orders_by_status ON orders (tenant, status, updated_at, id);
    -- list_by_customer: newest created_at first, ties by id descending (the index is walked backwards).
    CREATE INDEX orders_by_customer ON orders (tenant, document, created_at, id);

    -- Events: the history, the timeline and (embedded mode) the outbox: `seq` is the commit order, and
    -- `relayed_at` is set once the relay has published the event.
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant     TEXT NOT NULL,
        order_id   TEXT NOT NULL,
        version    INTEGER NOT NULL,
        type       TEXT NOT NULL,
        at         INTEGER NOT NULL,
        body       TEXT NOT NULL,
        relayed_at INTEGER,
        UNIQUE (tenant, order_id, version),
        FOREIGN KEY (tenant, order_id) REFERENCES orders (tenant, id)
    );
    CREATE INDEX events_unrelayed ON events (seq) WHERE relayed_at IS NULL;

    -- Published flow versions (immutable) and the pointer to the current one.
    CREATE TABLE flows (
        tenant  TEXT NOT NULL,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (tenant, version)
    );
    CREATE TABLE flow_current (
        tenant  TEXT NOT NULL PRIMARY KEY,
        version INTEGER NOT NULL,
        FOREIGN KEY (tenant, version) REFERENCES flows (tenant, version)
    ) WITHOUT ROWID;

    -- Gapless NF-e numbering: the last number of each (CNPJ, série), and which order claimed which number.
    CREATE TABLE invoice_counters (
        tenant TEXT NOT NULL,
        cnpj   TEXT NOT NULL,
        serie  INTEGER NOT NULL,
        last   INTEGER NOT NULL,
        PRIMARY KEY (tenant, cnpj, serie)
    ) WITHOUT ROWID;
    CREATE TABLE invoice_claims (
        tenant   TEXT NOT NULL,
        cnpj     TEXT NOT NULL,
        serie    INTEGER NOT NULL,
        order_id TEXT NOT NULL,
        number   INTEGER NOT NULL,
        PRIMARY KEY (tenant, cnpj, serie, order_id),
        UNIQUE (tenant, cnpj, serie, number)
    ) WITHOUT ROWID;
    CREATE TABLE invoices (
        tenant   TEXT NOT NULL,
        order_id TEXT NOT NULL,
        cnpj     TEXT NOT NULL,
        serie    INTEGER NOT NULL,
        number   INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        body     TEXT NOT NULL,
        PRIMARY KEY (tenant, order_id, cnpj, serie, number)
    );

    CREATE TABLE idempotency (
        tenant     TEXT NOT NULL,
        key        TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (tenant, key)
    );
    CREATE INDEX idempotency_expiry ON idempotency (expires_at);
    "#,
    // 2: the emitter configuration and, apart, its A1 certificate (PKCS#12 bytes and password), which no read of
    // the configuration touches. Builds before this migration created these tables on their first write, with
    // the same definitions: `IF NOT EXISTS` keeps such a file's rows.
    r#"
    CREATE TABLE IF NOT EXISTS emitters (
        tenant TEXT NOT NULL PRIMARY KEY,
        body   TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS emitter_certificates (
        tenant   TEXT NOT NULL PRIMARY KEY,
        pkcs12   BLOB NOT NULL,
        password TEXT NOT NULL,
        revision INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 3: the consumers' dedupe records and the companies' notification settings (created on first write before
    // this migration, with the same definitions: `IF NOT EXISTS` keeps such a file's rows).
    r#"
    CREATE TABLE IF NOT EXISTS dedupe (
        tenant     TEXT NOT NULL,
        consumer   TEXT NOT NULL,
        event_id   TEXT NOT NULL,
        channel    TEXT NOT NULL,
        claimed_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        -- The DedupeOutcome as JSON once completed; NULL while claimed.
        outcome    TEXT,
        PRIMARY KEY (tenant, consumer, event_id, channel)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS dedupe_expiry ON dedupe (expires_at);
    CREATE TABLE IF NOT EXISTS notification_settings (
        tenant TEXT NOT NULL PRIMARY KEY,
        body   TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: report aggregates (one row per company and day, versioned), the events they counted (the reporter's
    // dedupe records, written in the same transaction as the day), and the generated reports.
    r#"
    CREATE TABLE IF NOT EXISTS report_days (
        tenant  TEXT NOT NULL,
        day     TEXT NOT NULL, -- yyyy-mm-dd: text order is date order
        version INTEGER NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (tenant, day)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS report_events (
        tenant   TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (tenant, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS reports (
        tenant       TEXT NOT NULL,
        id           TEXT NOT NULL,
        generated_at INTEGER NOT NULL,
        body         TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS reports_by_time ON reports (tenant, generated_at, id);
    -- The companies active on a day (for the scheduled reports).
    CREATE INDEX IF NOT EXISTS report_days_by_day ON report_days (day, tenant);
    "#,
    // 5: the SLA deadline of an order's current stay (Unix nanoseconds; NULL when its status has no limit or the
    // stay's alert was raised) and the SLA check's index on it, holding only the orders that have one.
    r#"
    ALTER TABLE orders ADD COLUMN sla_due INTEGER;
    CREATE INDEX IF NOT EXISTS orders_by_sla_due ON orders (tenant, sla_due, id) WHERE sla_due IS NOT NULL;
    "#,
    // 6: the company's records: customers (their document unique in the company while they hold one),
    // equipment (the serial key unique in the company), and the orders each belongs to.
    r#"
    CREATE TABLE IF NOT EXISTS customers (
        tenant   TEXT NOT NULL,
        id       TEXT NOT NULL,
        document TEXT, -- NULL once anonymized
        version  INTEGER NOT NULL,
        body     TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX IF NOT EXISTS customers_by_document ON customers (tenant, document)
        WHERE document IS NOT NULL;
    CREATE TABLE IF NOT EXISTS equipment (
        tenant     TEXT NOT NULL,
        id         TEXT NOT NULL,
        customer   TEXT NOT NULL,
        serial     TEXT NOT NULL, -- the serial key (trimmed, upper case)
        version    INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX IF NOT EXISTS equipment_by_serial ON equipment (tenant, serial);
    CREATE INDEX IF NOT EXISTS equipment_by_customer ON equipment (tenant, customer, created_at, id);
    -- The histories: kind 'C' (customer) or 'E' (equipment); order ids are UUIDv7, so their text order is
    -- their creation order.
    CREATE TABLE IF NOT EXISTS record_orders (
        tenant   TEXT NOT NULL,
        kind     TEXT NOT NULL,
        record   TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (tenant, kind, record, order_id)
    ) WITHOUT ROWID;
    "#,
    // 7: the companies' paperwork settings (warranty defaults, the texts of the printed OS).
    r#"
    CREATE TABLE IF NOT EXISTS company_settings (
        tenant TEXT NOT NULL PRIMARY KEY,
        body   TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 8: the order's card (`Order::card` as JSON: what a list shows and a search filters on), kept in the status
    // index so that a page of a status is read from the index alone, without the orders' rows. The cards of the
    // rows written before are filled in by `orders::fill_cards` in the migrating transaction (`CARDS_ADDED`).
    r#"
    ALTER TABLE orders ADD COLUMN card TEXT;
    DROP INDEX orders_by_status;
    CREATE INDEX orders_by_status ON orders (tenant, status, updated_at, id, card);
    "#,
    // 9: the equipment's unlock codes, sealed (never in clear), deleted with the step that closes the order.
    r#"
    CREATE TABLE IF NOT EXISTS unlock_codes (
        tenant   TEXT NOT NULL,
        order_id TEXT NOT NULL,
        sealed   TEXT NOT NULL,
        PRIMARY KEY (tenant, order_id)
    ) WITHOUT ROWID;
    "#,
    // 10: the inutilização. A claim is keyed by its number (an order whose number was voided claims another):
    // `open` until its NF-e is settled (authorized, denied) or voided, `voided` once SEFAZ voided it; an order
    // holds one claim per sequence that is not voided. Claims made before are open until the gap listing reads
    // their records. The inutilizações, one per (sequence, first number).
    r#"
    CREATE TABLE invoice_claims_v10 (
        tenant   TEXT NOT NULL,
        cnpj     TEXT NOT NULL,
        serie    INTEGER NOT NULL,
        number   INTEGER NOT NULL,
        order_id TEXT NOT NULL,
        open     INTEGER NOT NULL DEFAULT 1,
        voided   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, cnpj, serie, number)
    ) WITHOUT ROWID;
    INSERT INTO invoice_claims_v10 (tenant, cnpj, serie, number, order_id)
        SELECT tenant, cnpj, serie, number, order_id FROM invoice_claims;
    DROP TABLE invoice_claims;
    ALTER TABLE invoice_claims_v10 RENAME TO invoice_claims;
    CREATE UNIQUE INDEX invoice_claims_by_order ON invoice_claims (tenant, cnpj, serie, order_id) WHERE voided = 0;
    CREATE INDEX invoice_claims_open ON invoice_claims (tenant, cnpj, serie, number) WHERE open = 1;
    CREATE TABLE invoice_voids (
        tenant   TEXT NOT NULL,
        cnpj     TEXT NOT NULL,
        serie    INTEGER NOT NULL,
        first    INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        body     TEXT NOT NULL,
        PRIMARY KEY (tenant, cnpj, serie, first)
    ) WITHOUT ROWID;
    "#,
    // 11: a company's SEFAZ contingency state (the SVC its NF-e go to while its UF's authorizer is down), versioned.
    r#"
    CREATE TABLE IF NOT EXISTS emitter_contingency (
        tenant   TEXT NOT NULL PRIMARY KEY,
        revision INTEGER NOT NULL,
        body     TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The version whose migration added the orders' `card` column (migration 8 above): a database found below it
/// has rows without their card, which the migrating transaction fills in; writes keep them from then on.
const CARDS_ADDED: u32 = 8;

/// Why a database cannot be brought to [`SCHEMA_VERSION`].
#[derive(Debug)]
pub(crate) enum MigrateError {
    Db(rusqlite::Error),
    /// The file was written by a newer osflow.
    Newer(u32),
    /// A row the migration rewrites cannot be read.
    Data(osflow_app::StoreError),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Db(e)
    }
}

/// Applies the missing migrations in one `BEGIN IMMEDIATE` transaction (a concurrent opener waits, then finds
/// the work done), with the rows' data they need (the orders' cards, once, when found below [`CARDS_ADDED`]; an
/// open of a current database reads no row). Returns the version found before.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, MigrateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(MigrateError::Newer(found));
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration)?;
    }
    if found < CARDS_ADDED {
        crate::orders::fill_cards(&tx).map_err(MigrateError::Data)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(found)
}
