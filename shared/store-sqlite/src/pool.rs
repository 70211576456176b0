//! Connections: their settings, and a fixed set of readers (WAL lets them read while the writer writes).

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

/// Prepared statements kept per connection (every statement of the store fits).
const STATEMENT_CACHE: usize = 64;
/// Page cache of the writer connection, in KiB (the pages a step touches: the order, the events' last leaf,
/// the indexes' inner pages).
const WRITER_CACHE_KIB: i64 = 4 * 1024;
/// Page cache of each reader connection, in KiB. Small: a WAL reader empties its cache whenever the database
/// changed since its last read anyway, a page not in it is a copy from the operating system's page cache, and the
/// resident memory of the process stays small whatever the size of the database.
const READER_CACHE_KIB: i64 = 1024;

/// `FULL`: in WAL mode every commit syncs the WAL before it returns, so a step answered as committed survives a
/// power loss or an operating-system crash, not only a crash of the process (`NORMAL` syncs only at checkpoints:
/// the last commits before a power loss may be rolled back, though the file is never corrupt). The writer's group
/// commit makes that one sync per batch of steps, not one per step.
const SYNCHRONOUS: &str = "FULL";

/// Opens a connection with the per-connection settings. WAL mode is a property of the file, set by
/// [`set_wal`] once.
pub(crate) fn connect(path: &Path, busy_timeout: Duration, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", SYNCHRONOUS)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The WAL file is truncated to this size when it restarts.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    let cache_kib = if read_only { READER_CACHE_KIB } else { WRITER_CACHE_KIB };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    }
    // The query planner stability guarantee: a cached statement keeps its plan whatever values are bound to it.
    // Without it SQLite prepares a statement again (parses and plans it) whenever a parameter it may plan on (a
    // LIMIT, a term of a join) is bound anew: the list and flow reads were prepared again on every call.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Puts the file in WAL mode (persistent) and checks that it took.
pub(crate) fn set_wal(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    Ok(mode.eq_ignore_ascii_case("wal"))
}

/// A fixed set of reader connections; a caller waits for a free one.
pub(crate) struct Readers {
    idle: Mutex<Vec<Connection>>,
    freed: Condvar,
}

impl Readers {
    pub(crate) fn new(connections: Vec<Connection>) -> Readers {
        Readers { idle: Mutex::new(connections), freed: Condvar::new() }
    }

    /// A reader, returned to the set when the guard drops. Blocks while all are busy: call from a blocking
    /// thread.
    pub(crate) fn take(&self) -> Reader<'_> {
        let mut idle = lock(&self.idle);
        loop {
            if let Some(conn) = idle.pop() {
                return Reader { readers: self, conn: Some(conn) };
            }
            idle = self.freed.wait(idle).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A free reader, or `None` when all are busy (never waits).
    pub(crate) fn try_take(&self) -> Option<Reader<'_>> {
        let conn = lock(&self.idle).pop()?;
        Some(Reader { readers: self, conn: Some(conn) })
    }

    fn give_back(&self, conn: Connection) {
        lock(&self.idle).push(conn);
        self.freed.notify_one();
    }
}

pub(crate) struct Reader<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers.give_back(conn);
        }
    }
}

/// Locks a mutex, going on after a panic of another holder: every transaction is rolled back when its
/// `Transaction` drops, so a connection is never left mid-transaction.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
