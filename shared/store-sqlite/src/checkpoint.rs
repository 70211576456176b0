//! WAL checkpoints off the write path.
//!
//! A checkpoint copies the WAL into the database file and syncs both. SQLite's automatic checkpoint runs it
//! inside the commit that crosses the threshold, stalling the writer for the copy and two syncs. Here the writer's WAL hook only asks a background thread, with its own connection,
//! to run a `PASSIVE` checkpoint (which blocks neither readers nor the writer); the thread also checkpoints
//! every second, so an idle database has an empty WAL soon after a burst.
//!
//! A passive checkpoint cannot finish while the writer keeps appending, and the WAL only restarts from its
//! beginning after a finished checkpoint. So when the WAL grows past [`HARD_PAGES`] anyway (sustained writes),
//! the writer checkpoints in its own commit, as SQLite would, which bounds the WAL.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use osflow_app::{StoreError, StoreResult};

use crate::codec::Db;
use crate::pool::lock;

/// WAL size (pages) from which the writer asks for a background checkpoint: early, so that the background
/// keeps the unsynced part of the WAL small and a writer's checkpoint has little left to do.
const SOFT_PAGES: i32 = 128;
/// WAL size (pages, 64 MiB; `journal_size_limit` matches) from which the writer checkpoints itself. Measured
/// under sustained steps (scripts/load/run): 4,000 pages gave a stall of ≈ 13 ms six times a second and a
/// step p99 of 30–45 ms at 16 connections; 16,000 pages, 16–21 ms.
const HARD_PAGES: i32 = 16_000;
/// Idle checkpoint period.
const PERIOD: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    requested: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn request(&self) {
        let mut state = lock(&self.state);
        if !state.requested {
            state.requested = true;
            self.wake.notify_one();
        }
    }
}

/// The background checkpointer; stops (and closes its connection) when dropped.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `conn` and installs the WAL hook on `writer`.
    pub(crate) fn start(conn: Connection, writer: &mut Connection) -> StoreResult<Checkpointer> {
        let shared = Arc::new(Shared::default());
        let hook_shared = shared.clone();
        writer
            .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
                if pages >= HARD_PAGES {
                    // The commit has happened: a failed (e.g. busy) checkpoint must not turn it into an error.
                    let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                } else if pages >= SOFT_PAGES {
                    hook_shared.request();
                }
                Ok(())
            }))
            .db()?;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("osflow-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &thread_shared))
            .map_err(|e| StoreError::Other(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { shared, thread: Some(thread) })
    }
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut state = lock(&shared.state);
            if !state.requested && !state.stop {
                state = shared.wake.wait_timeout(state, PERIOD).map(|(s, _)| s).unwrap_or_else(|e| e.into_inner().0);
            }
            if state.stop {
                return;
            }
            state.requested = false;
        }
        // Busy or failing checkpoints are retried at the next request or period.
        let _ = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.shared.state);
            state.stop = true;
            self.shared.wake.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
