//! osflow's embedded store: every port of `osflow-app` (orders, flows, NF-e numbering, idempotency, and the
//! outbox of the embedded mode) on one SQLite file.
//!
//! Design:
//! - The file is in WAL mode with `synchronous=FULL` (a commit is synced to the WAL before it is answered, so an
//!   answered step survives a power loss or an OS crash, not only a process crash), `foreign_keys=ON`, and a busy
//!   timeout.
//! - One writer thread owns the writing connection and runs the writes of this process first come, first
//!   served, with group commit: the writes queued together share one `BEGIN IMMEDIATE` transaction, each in
//!   its own savepoint, and are answered after the `COMMIT` (see `writer`). A fixed set of reader connections
//!   serves reads concurrently with the writer.
//! - The ports are async: writes run on the writer thread; a read runs on the calling thread when a reader
//!   connection is free (a point read or a bounded page is microseconds from the page cache, less than the hop to
//!   another thread and back), else, like the reads whose size grows with the data, on tokio's blocking pool
//!   (`spawn_blocking`). Statements are prepared once per connection and cached.
//! - Orders, events, flows and records are stored as their serde JSON; the columns used as keys and sort keys
//!   (tenant first, always) are indexed. Each order row also holds the order's card (`Order::card`, JSON), and
//!   the status index holds it too: a list page is read from the index alone, without decoding orders. The events table doubles as the outbox: `seq` is the commit order and
//!   `relayed_at` marks what the relay has published.
//! - Checkpoints (which sync the database file) run on a background thread, not in the committing step, except
//!   when sustained writes grow the WAL past 64 MiB (see `checkpoint`).
//! - A step is one transaction: a version-checked `UPDATE` of the order (0 rows -> read the current version ->
//!   `Conflict`), the events, the idempotency record. NF-e numbers: one transaction reads the order's claim or
//!   moves the (CNPJ, série) counter and records the claim.

mod checkpoint;
mod codec;
mod dedupe;
mod emitter;
mod flows;
mod idempotency;
mod invoices;
mod orders;
mod outbox;
mod pool;
mod records;
mod reports;
mod schema;
mod settings;
mod unlock;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use osflow_app::{StoreError, StoreResult};
use rusqlite::{Connection, Savepoint};

use crate::codec::{Db, nanos};
use crate::pool::Readers;

pub use crate::schema::SCHEMA_VERSION;
pub use osflow_app::sealed::SecretsKey;

/// Tuning of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Reader connections (reads beyond this many at once wait for a free one).
    pub readers: usize,
    /// How long a statement waits for a lock held by another connection before failing with
    /// `StoreError::Unavailable`.
    pub busy_timeout: Duration,
    /// The key the A1 certificates' passwords are sealed with (passwords stored in clear by a build or an open
    /// without a key are sealed when the store opens). `None`: kept as written.
    pub secrets_key: Option<SecretsKey>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { readers: 4, busy_timeout: Duration::from_secs(5), secrets_key: None }
    }
}

/// The embedded store. Cheap to clone (the clones share the connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    secrets_key: Option<SecretsKey>,
    writer: writer::Writer,
    readers: Readers,
    _checkpointer: checkpoint::Checkpointer,
    /// The directory of a temporary database, removed when the store drops (after the connections, which are
    /// declared first).
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        Self::open_with(path, SqliteOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<SqliteStore> {
        Self::open_inner(path.as_ref().to_path_buf(), options, None)
    }

    /// A database in a new temporary directory, deleted when the last clone of the store drops.
    pub fn open_temporary() -> StoreResult<SqliteStore> {
        let dir = tempfile::Builder::new()
            .prefix("osflow-sqlite-")
            .tempdir()
            .map_err(|e| StoreError::Other(format!("cannot create a temporary directory: {e}")))?;
        let path = dir.path().join("osflow.db");
        // Its data dies with it: a random key seals its secrets.
        let options = SqliteOptions { secrets_key: Some(SecretsKey::generate()?), ..SqliteOptions::default() };
        Self::open_inner(path, options, Some(dir))
    }

    fn open_inner(path: PathBuf, options: SqliteOptions, temp: Option<tempfile::TempDir>) -> StoreResult<Self> {
        let mut writer = pool::connect(&path, options.busy_timeout, false).db()?;
        if !pool::set_wal(&writer).db()? {
            return Err(StoreError::Other(format!("{} cannot be put in WAL mode", path.display())));
        }
        match schema::migrate(&mut writer) {
            Ok(_) => {}
            Err(schema::MigrateError::Db(e)) => return Err(codec::db_error(e)),
            Err(schema::MigrateError::Data(e)) => return Err(e),
            Err(schema::MigrateError::Newer(v)) => {
                return Err(StoreError::Other(format!(
                    "{} has schema version {v}, newer than this build's {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        if let Some(key) = &options.secrets_key {
            emitter::seal_clear_passwords(&mut writer, key)?;
        }
        let checkpointer = pool::connect(&path, options.busy_timeout, false).db()?;
        let checkpointer = checkpoint::Checkpointer::start(checkpointer, &mut writer)?;
        let readers = (0..options.readers.max(1))
            .map(|_| pool::connect(&path, options.busy_timeout, true))
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                secrets_key: options.secrets_key,
                writer: writer::Writer::start(writer)?,
                readers: Readers::new(readers),
                _checkpointer: checkpointer,
                _temp: temp,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Deletes the idempotency records expired at `now`; returns how many.
    pub async fn sweep_idempotency(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let now = nanos(now)?;
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM idempotency WHERE expires_at <= ?1").db()?.execute([now]).db()
        })
        .await
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.run(f).await
    }

    /// Runs `f` with a reader connection: on the calling thread when a reader is free, else on the blocking pool.
    ///
    /// The reads of the ports are a few indexed lookups or one bounded page (microseconds to a fraction of a
    /// millisecond, served from the page cache): doing them on the runtime's worker spares the hop to the
    /// blocking pool and back, two thread wake-ups and context switches per read, which cost more than the read
    /// itself. Only when every reader is busy does the read wait for one, and then on the blocking pool, never on
    /// a worker. Reads of unbounded size use [`SqliteStore::read_blocking`].
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match self.inner.readers.try_take() {
            Some(conn) => f(&conn),
            None => self.read_blocking(f).await,
        }
    }

    /// Runs `f` with a reader connection on the blocking pool: for reads whose size grows with the data (a
    /// period of report days, a batch of the outbox).
    async fn read_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner.readers.take())).await.map_err(join_error)?
    }
}

fn join_error(e: tokio::task::JoinError) -> StoreError {
    StoreError::Other(format!("store task failed: {e}"))
}

/// The unit of a write job: a savepoint inside the writer's batch transaction (see `writer`).
fn immediate(conn: &mut Connection) -> StoreResult<Savepoint<'_>> {
    conn.savepoint().db()
}

fn version_column(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Other(format!("version {v} is out of range")))
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Other(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_synced_before_they_are_answered() {
        let store = SqliteStore::open_temporary().unwrap();
        // Every connection is made by `pool::connect`, the writer's too.
        let conn = store.inner.readers.take();
        let journal: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!((journal.as_str(), synchronous), ("wal", 2), "WAL with synchronous=FULL (2)");
    }

    #[test]
    fn list_queries_walk_their_indexes() {
        let store = SqliteStore::open_temporary().unwrap();
        let conn = store.inner.readers.take();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let by_status = plan(
            "SELECT id, updated_at, body FROM orders WHERE tenant = 'a' AND status = 'b'
             AND (updated_at, id) > (1, 'x') ORDER BY updated_at, id LIMIT 21",
        );
        assert!(by_status.contains("orders_by_status") && !by_status.contains("TEMP B-TREE"), "{by_status}");
        let cards = plan(
            "SELECT id, updated_at, card FROM orders WHERE tenant = 'a' AND status = 'b'
             AND (updated_at, id) > (1, 'x') ORDER BY updated_at, id LIMIT 21",
        );
        assert!(cards.contains("COVERING INDEX orders_by_status") && !cards.contains("TEMP B-TREE"), "{cards}");
        let by_customer = plan(
            "SELECT id, created_at, body FROM orders WHERE tenant = 'a' AND document = 'b'
             AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 21",
        );
        assert!(by_customer.contains("orders_by_customer") && !by_customer.contains("TEMP B-TREE"), "{by_customer}");
        let pending =
            plan("SELECT seq, tenant, order_id, body FROM events WHERE relayed_at IS NULL ORDER BY seq LIMIT 10");
        assert!(pending.contains("events_unrelayed") && !pending.contains("TEMP B-TREE"), "{pending}");
    }
}
