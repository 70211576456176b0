//! The embedded relay: the outbox of the embedded store (SQLite) to the in-process consumers, for osflow-local.
//!
//! It plays the part of DynamoDB Streams + outbox-relay + SQS + the consumer functions: the events a step
//! committed stay in the outbox until every consumer that wants them (by the same [`route`]) handled them, and
//! only then are marked relayed. Nothing is lost when the process stops between the commit and the relay, or in
//! the middle of a relay: the next relay starts again from what is not marked. Delivery is at least once; the
//! consumers deduplicate on `event_id`, as they do behind SQS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use osflow_app::{Outbox, OutboxEntry, StoreResult};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::consume::Consumer;
use crate::envelope::Envelope;
use crate::queues::{Queue, message_group_id, route};

/// Tuning of the embedded relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOptions {
    /// Outbox entries read per pass.
    pub batch_size: u32,
    /// The wait between two passes that found nothing to do (a [`EmbeddedRelay::waker`] notification cuts it).
    pub poll_interval: Duration,
    /// The wait before an entry that a consumer failed is offered again; doubled at each further failure…
    pub retry_base: Duration,
    /// …up to this.
    pub retry_max: Duration,
    /// Entries of a standard queue a consumer handles at once; for a FIFO queue, message groups handled at once
    /// (each group's entries one by one, in order).
    pub concurrency: usize,
    /// Failures of one entry after which every further failure is logged as an error (the embedded counterpart
    /// of the DLQ's `maxReceiveCount`; the entry is still retried: the outbox never drops an event).
    pub alarm_after: u32,
}

impl Default for RelayOptions {
    fn default() -> RelayOptions {
        RelayOptions {
            batch_size: 256,
            poll_interval: Duration::from_millis(200),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
            concurrency: 16,
            alarm_after: crate::queues::MAX_RECEIVE_COUNT,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayPass {
    /// Entries read from the outbox.
    pub fetched: usize,
    /// Entries every consumer handled, now marked relayed.
    pub relayed: usize,
    /// Entries a consumer failed in this pass (offered again after a backoff).
    pub failed: usize,
    /// Entries left for later without being offered: waiting out a backoff, or behind a failed entry of the same
    /// FIFO group.
    pub deferred: usize,
}

/// The retry state of an entry that is not yet relayed.
#[derive(Debug, Clone)]
struct Retry {
    /// Which consumers (by index) handled it already in this process: they are not offered it again.
    done: Vec<bool>,
    failures: u32,
    next_attempt: Instant,
}

/// The relay from an [`Outbox`] to [`Consumer`]s. See the module documentation.
pub struct EmbeddedRelay {
    outbox: Arc<dyn Outbox>,
    consumers: Vec<Arc<dyn Consumer>>,
    options: RelayOptions,
    wake: Arc<Notify>,
    retries: Mutex<HashMap<u64, Retry>>,
}

impl std::fmt::Debug for EmbeddedRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedRelay")
            .field("consumers", &self.consumers.iter().map(|c| c.queue()).collect::<Vec<_>>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What a consumer did with one entry in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Handled now, or before, or not wanted by this consumer.
    Done,
    Failed,
    Deferred,
}

impl EmbeddedRelay {
    pub fn new(outbox: Arc<dyn Outbox>, consumers: Vec<Arc<dyn Consumer>>) -> EmbeddedRelay {
        EmbeddedRelay {
            outbox,
            consumers,
            options: RelayOptions::default(),
            wake: Arc::new(Notify::new()),
            retries: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_options(mut self, options: RelayOptions) -> EmbeddedRelay {
        self.options = options;
        self
    }

    /// Runs a relay with the default options until `shutdown` completes (see [`serve`](Self::serve)).
    pub async fn run(outbox: Arc<dyn Outbox>, consumers: Vec<Arc<dyn Consumer>>, shutdown: impl Future<Output = ()>) {
        EmbeddedRelay::new(outbox, consumers).serve(shutdown).await
    }

    /// A handle that starts the next pass at once (call it after a commit, instead of waiting for the poll).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Relays until `shutdown` completes. A pass in progress is finished first; a store failure is logged and
    /// the pass tried again after the poll interval.
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) {
        let shutdown = std::pin::pin!(shutdown);
        let mut shutdown = shutdown;
        loop {
            let busy = match self.relay_once().await {
                Ok(pass) => pass.relayed > 0 && pass.fetched >= self.options.batch_size as usize,
                Err(e) => {
                    tracing::error!(error = %e, "embedded relay: outbox unavailable");
                    false
                }
            };
            if busy {
                // More may be waiting: go on at once, unless asked to stop.
                tokio::select! {
                    biased;
                    () = &mut shutdown => return,
                    () = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
        }
    }

    /// One pass: reads the oldest unrelayed entries, offers each consumer (concurrently, each in outbox order)
    /// the entries it wants, and marks relayed the entries every consumer handled.
    pub async fn relay_once(&self) -> StoreResult<RelayPass> {
        let now = Instant::now();
        // Entries waiting out a backoff come back in `pending` (they are oldest): read that many more.
        let waiting = self.retries.lock().expect("relay state").len() as u32;
        let entries = self.outbox.pending(self.options.batch_size.saturating_add(waiting)).await?;
        if entries.is_empty() {
            return Ok(RelayPass::default());
        }
        let envelopes: Vec<Envelope> =
            entries.iter().map(|e| Envelope::from_event(&e.tenant, &e.order_id, &e.event)).collect();
        let retries: HashMap<u64, Retry> = {
            let state = self.retries.lock().expect("relay state");
            entries.iter().filter_map(|e| state.get(&e.seq).map(|r| (e.seq, r.clone()))).collect()
        };

        let per_consumer = join_all(
            self.consumers
                .iter()
                .enumerate()
                .map(|(c, consumer)| self.deliver(c, consumer.as_ref(), &entries, &envelopes, &retries, now)),
        )
        .await;

        let mut pass = RelayPass { fetched: entries.len(), ..RelayPass::default() };
        let mut relayed = Vec::new();
        {
            let mut state = self.retries.lock().expect("relay state");
            for (i, entry) in entries.iter().enumerate() {
                let outcomes: Vec<Delivery> = per_consumer.iter().map(|d| d[i]).collect();
                if outcomes.iter().all(|d| *d == Delivery::Done) {
                    relayed.push(entry.seq);
                    continue;
                }
                let failed = outcomes.contains(&Delivery::Failed);
                let retry = state.entry(entry.seq).or_insert_with(|| Retry {
                    done: vec![false; self.consumers.len()],
                    failures: 0,
                    next_attempt: now,
                });
                for (done, outcome) in retry.done.iter_mut().zip(&outcomes) {
                    *done |= *outcome == Delivery::Done;
                }
                if failed {
                    pass.failed += 1;
                    retry.failures += 1;
                    let backoff = self.options.retry_base.saturating_mul(2u32.saturating_pow(retry.failures - 1));
                    retry.next_attempt = now + backoff.min(self.options.retry_max);
                    if retry.failures >= self.options.alarm_after {
                        tracing::error!(
                            event_id = %envelopes[i].event_id, failures = retry.failures,
                            "embedded relay: a consumer keeps failing this event; it stays in the outbox"
                        );
                    }
                } else {
                    pass.deferred += 1;
                }
            }
        }

        if !relayed.is_empty() {
            self.outbox.mark_relayed(&relayed, Utc::now()).await?;
            let mut state = self.retries.lock().expect("relay state");
            for seq in &relayed {
                state.remove(seq);
            }
        }
        pass.relayed = relayed.len();
        Ok(pass)
    }

    /// One entry of a standard queue for one consumer.
    async fn offer(
        c: usize,
        consumer: &dyn Consumer,
        queue: Queue,
        envelope: &Envelope,
        retry: Option<&Retry>,
        now: Instant,
    ) -> Delivery {
        if !route(envelope).contains(&queue) || retry.is_some_and(|r| r.done[c]) {
            return Delivery::Done;
        }
        if retry.is_some_and(|r| r.next_attempt > now) {
            return Delivery::Deferred;
        }
        match consumer.handle(envelope).await {
            Ok(()) => Delivery::Done,
            Err(e) => {
                tracing::warn!(event_id = %envelope.event_id, %queue, error = %e, "embedded relay: consumer failed");
                Delivery::Failed
            }
        }
    }

    /// Offers one consumer the entries it wants: a standard queue's concurrently (at most
    /// `options.concurrency` at once), a FIFO queue's one by one in order — there an entry whose group had a
    /// failure (or an entry waiting out a backoff) earlier in the pass is deferred, so that the group stays in
    /// order.
    async fn deliver(
        &self,
        c: usize,
        consumer: &dyn Consumer,
        entries: &[OutboxEntry],
        envelopes: &[Envelope],
        retries: &HashMap<u64, Retry>,
        now: Instant,
    ) -> Vec<Delivery> {
        let queue = consumer.queue();
        let ordered = queue.is_fifo();
        if !ordered {
            // A standard queue promises no order: its entries are handled concurrently (results in order). The
            // futures are made first (an iterator, not a stream combinator, so they are plainly `Send`).
            let offers: Vec<_> = entries
                .iter()
                .zip(envelopes)
                .map(|(entry, envelope)| Self::offer(c, consumer, queue, envelope, retries.get(&entry.seq), now))
                .collect();
            return stream::iter(offers).buffered(self.options.concurrency.max(1)).collect().await;
        }
        // A FIFO queue: the entries of one message group one by one, in order; groups concurrently (at most
        // `options.concurrency` at once). After a failure (or an entry waiting out a backoff) the rest of its group
        // is deferred, so that the group stays in order.
        let mut out = vec![Delivery::Done; entries.len()];
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, (entry, envelope)) in entries.iter().zip(envelopes).enumerate() {
            if !route(envelope).contains(&queue) || retries.get(&entry.seq).is_some_and(|r| r.done[c]) {
                continue;
            }
            let group = message_group_id(queue, envelope);
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, members)) => members.push(i),
                None => groups.push((group, vec![i])),
            }
        }
        let runs: Vec<_> = groups
            .into_iter()
            .map(|(_, members)| async move {
                let mut blocked = false;
                let mut done = Vec::with_capacity(members.len());
                for i in members {
                    let (entry, envelope) = (&entries[i], &envelopes[i]);
                    if blocked || retries.get(&entry.seq).is_some_and(|r| r.next_attempt > now) {
                        blocked = true;
                        done.push((i, Delivery::Deferred));
                        continue;
                    }
                    match consumer.handle(envelope).await {
                        Ok(()) => done.push((i, Delivery::Done)),
                        Err(e) => {
                            tracing::warn!(event_id = %envelope.event_id, %queue, error = %e, "embedded relay: consumer failed");
                            blocked = true;
                            done.push((i, Delivery::Failed));
                        }
                    }
                }
                done
            })
            .collect();
        let results: Vec<Vec<(usize, Delivery)>> =
            stream::iter(runs).buffer_unordered(self.options.concurrency.max(1)).collect().await;
        for (i, delivery) in results.into_iter().flatten() {
            out[i] = delivery;
        }
        out
    }
}
