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
use osflow_app::{OrderStore, Outbox};
use osflow_bus::{ConsumeError, Consumer, EmbeddedRelay, Envelope, Queue, RelayOptions};
use osflow_domain::values::Money;
use osflow_domain::{ChecklistItem, Command, PaymentMethod};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::{advance, at, cpf, open_order, tenant};
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
    let money = |s| Money::parse(s).unwrap();
    let mut events = 0;
    for n in 1..=ORDERS {
        let t = tenant(if n % 2 == 0 { "acme" } else { "beta" });
        let (mut order, opened) = open_order(&t, n, cpf(n as u32), at(0));
        store.create(&order, &opened, None).await.unwrap();
        events += 1;
        let commands = vec![
            Command::SendQuote,
            osflow_testkit::conformance::approve(),
            Command::Start,
            Command::AddNote { text: "Placa limpa".into(), visible_to_customer: true },
            Command::AddNote { text: "Interna".into(), visible_to_customer: false },
            Command::AddNote { text: "Teste".into(), visible_to_customer: true },
            Command::AddNote { text: "Teste 2".into(), visible_to_customer: false },
            Command::AddNote { text: "Teste 3".into(), visible_to_customer: true },
            Command::Finish { tests_performed: Some("Ligou".into()) },
            Command::Validate {
                checklist: vec![ChecklistItem { item: "Equipamento liga".into(), ok: true, note: None }],
                extra_items: vec![],
            },
            Command::RequestPayment,
            Command::RegisterPayment { amount: money("100.00"), method: PaymentMethod::Pix, reference: None },
            Command::RegisterPayment { amount: money("169.90"), method: PaymentMethod::Pix, reference: None },
            Command::Release,
            Command::Close,
        ];
        for (i, cmd) in commands.into_iter().enumerate() {
            let (new_events, next) = advance(&order, cmd, at(i as i64 + 1));
            store.apply(order.version, &next, &new_events, None).await.unwrap();
            events += new_events.len();
            order = next;
        }
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
