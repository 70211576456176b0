//! Events relayed per second by the embedded relay on the SQLite store, with no-op consumers on the three queues
//! (target ≥ 2,000 events/s): read the outbox, build the envelopes, route them, hand them to the consumers, mark
//! them relayed.
//!
//! Each iteration relays a fresh copy of one outbox of 2,000 committed events (125 orders walked through the whole
//! default flow, two tenants) until it is empty; writing the events and copying the file happen before the clock
//! starts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osflow_app::Outbox;
use osflow_bus::{ConsumeError, Consumer, EmbeddedRelay, Envelope, Queue, RelayOptions};
use osflow_domain::{Command, PaymentMethod};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::Walk;
use osflow_testkit::conformance::{at, tenant};
use osflow_testkit::walk::{Walked, payment};
use tokio::runtime::Runtime;

/// Orders per outbox; every one makes 16 events.
const ORDERS: u64 = 125;

struct NoOp(Queue);

#[async_trait]
impl Consumer for NoOp {
    fn queue(&self) -> Queue {
        self.0
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        std::hint::black_box(envelope);
        Ok(())
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Commits `ORDERS` orders, each through the whole default flow; returns the number of events.
async fn commit_orders(store: &SqliteStore) -> usize {
    let note = |text: &str, visible_to_customer| Command::AddNote { text: text.into(), visible_to_customer };
    let commands = Walk::reference()
        .working(vec![
            note("Placa limpa", true),
            note("Interna", false),
            note("Teste", true),
            note("Teste 2", false),
            note("Teste 3", true),
        ])
        .without_material()
        .tests_performed(Some("Ligou"))
        .payments(vec![payment("100.00", PaymentMethod::Pix, None), payment("169.90", PaymentMethod::Pix, None)])
        .commands();
    let mut events = 0;
    for n in 1..=ORDERS {
        let t = tenant(if n % 2 == 0 { "acme" } else { "beta" });
        let walked = Walked::new(&t, n, commands.clone(), at(0), |i| at(i as i64 + 1));
        walked.write(store).await;
        events += walked.events().len();
    }
    events
}

/// Copies a closed database (and its WAL, if any) to `to`.
fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let wal = from.with_extension("db-wal");
    if wal.exists() {
        std::fs::copy(&wal, to.with_extension("db-wal")).unwrap();
    }
}

fn relay(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    let events = {
        let store = SqliteStore::open(&template).unwrap();
        rt.block_on(commit_orders(&store))
    };
    let mut group = c.benchmark_group("embedded_relay");
    group.throughput(Throughput::Elements(events as u64)).sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function(format!("sqlite_noop_consumers_{events}_events"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let path = dir.path().join(format!("run-{i}.db"));
                copy_db(&template, &path);
                let store = Arc::new(SqliteStore::open(&path).unwrap());
                let consumers: Vec<Arc<dyn Consumer>> =
                    Queue::ALL.into_iter().map(|q| Arc::new(NoOp(q)) as Arc<dyn Consumer>).collect();
                let relay = EmbeddedRelay::new(store.clone(), consumers)
                    .with_options(RelayOptions { batch_size: 256, ..RelayOptions::default() });
                total += rt.block_on(async {
                    let start = Instant::now();
                    let mut relayed = 0;
                    loop {
                        let pass = relay.relay_once().await.unwrap();
                        if pass.fetched == 0 {
                            break;
                        }
                        relayed += pass.relayed;
                    }
                    let elapsed = start.elapsed();
                    assert_eq!(relayed, events);
                    assert!(store.pending(1).await.unwrap().is_empty());
                    elapsed
                });
                drop(relay);
                drop(store);
                for suffix in ["db", "db-wal", "db-shm"] {
                    let _ = std::fs::remove_file(path.with_extension(suffix));
                }
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
