//! The writer: one thread owns the writing connection and runs the write jobs in arrival order, committing
//! the jobs that queued up together in one transaction (group commit).
//!
//! A mutex around the connection, taken from the blocking pool, is not fair: under a burst some steps wait
//! behind many later ones, which shows as a long latency tail. A queue serves them first come, first served,
//! and keeps the blocking pool free for readers.
//!
//! Group commit: the jobs waiting when the writer gets to them (at most [`MAX_BATCH`]) run inside one
//! `BEGIN IMMEDIATE … COMMIT`, each in its own savepoint. A job that fails (a version conflict, a duplicate)
//! rolls back to its savepoint and answers its error; the others are unaffected. Nobody gets an answer before
//! the `COMMIT` has returned, and if the `COMMIT` fails every job of the batch gets that error — so an `Ok`
//! always means committed. Pages the jobs share (the events table's last leaf, index pages) are written to
//! the WAL once per batch instead of once per job, which makes the WAL grow slower and checkpoints rarer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use osflow_app::{StoreError, StoreResult};

use crate::codec::db_error;

/// The most jobs committed together.
const MAX_BATCH: usize = 64;

/// Answers a job's caller once its batch's outcome is known: `None` when committed, or the commit's error.
type Answer = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// A job: runs on the connection inside its savepoint (or gets the error that prevented running it); says
/// whether it succeeded and how to answer.
type Job = Box<dyn FnOnce(Result<&mut Connection, StoreError>) -> (bool, Answer) + Send>;

/// The writer thread; stops (and closes its connection) when dropped, after the queued jobs.
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Moved on after every batch's `COMMIT`, before its jobs are answered (`OrderStore::write_generation`).
    generation: Arc<AtomicU64>,
}

impl Writer {
    pub(crate) fn start(mut conn: Connection) -> StoreResult<Writer> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let generation = Arc::new(AtomicU64::new(1));
        let moved = generation.clone();
        let thread = std::thread::Builder::new()
            .name("osflow-sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut conn, batch, &moved);
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs: Some(jobs), thread: Some(thread), generation })
    }

    /// How many write batches have ended (committed or not) since the store opened, plus one: read before a
    /// read, the same number afterwards means that nothing was written meanwhile.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Runs `f` on the writer connection after the jobs queued before it.
    pub(crate) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = conn.and_then(f);
            let ok = result.is_ok();
            let answer: Answer = Box::new(move |commit_error| {
                let _ = reply.send(match commit_error {
                    Some(e) => Err(e),
                    None => result,
                });
            });
            (ok, answer)
        });
        let stopped = || StoreError::Other("the store's writer has stopped".into());
        self.jobs.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| StoreError::Other("a store write failed unexpectedly (panic)".into()))?
    }
}

/// Runs `batch` in one transaction, each job in a savepoint, moves `generation` on, then answers every job.
fn run_batch(conn: &mut Connection, batch: Vec<Job>, generation: &AtomicU64) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Busy (another process holds the write lock) or worse: every job answers the error.
        let e = db_error(e);
        for job in batch {
            let (_, answer) = job(Err(e.clone()));
            answer(None);
        }
        return;
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT osflow_job") {
            let (_, answer) = job(Err(db_error(e)));
            answer(None);
            continue;
        }
        // A panicking job drops its reply sender (its caller gets an error) and its own savepoint rolls
        // back while unwinding.
        let outcome = catch_unwind(AssertUnwindSafe(|| job(Ok(conn))));
        let ok = matches!(outcome, Ok((true, _)));
        let end = if ok { "RELEASE osflow_job" } else { "ROLLBACK TO osflow_job; RELEASE osflow_job" };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "cannot end a job's savepoint");
        }
        if let Ok((_, answer)) = outcome {
            answers.push(answer);
        }
    }
    let commit_error = match conn.execute_batch("COMMIT") {
        Ok(()) => None,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Some(db_error(e))
        }
    };
    // After the commit, so that a read that sees the old number began before it; before the answers, so that a
    // read after an answered write sees the new one.
    generation.fetch_add(1, Ordering::SeqCst);
    for answer in answers {
        answer(commit_error.clone());
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
