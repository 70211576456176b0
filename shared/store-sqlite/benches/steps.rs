//! Throughput of the embedded store through its async ports, on one file:
//! - `apply_step/sequential`: one step (send_quote) at a time, each to a distinct order (target ≥ 2,000/s);
//! - `apply_step/concurrent_8`: the same with 8 tasks applying at once (how an HTTP server drives it);
//! - `get/sequential` and `get/concurrent_8`: reading an order by id among 10,000.
//!
//! The orders a measurement steps are created before its clock starts.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osflow_app::OrderStore;
use osflow_domain::{Command, Event, Order};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::{advance, at, cpf, open_order, tenant};
use tokio::runtime::Runtime;

const TASKS: usize = 8;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Creates `n` opened orders and returns, for each, the step to apply (version 1 -> 2).
async fn prepared_steps(store: &SqliteStore, first_number: u64, n: u64) -> Vec<(Order, Vec<Event>)> {
    let t = tenant("bench");
    let mut steps = Vec::with_capacity(n as usize);
    for i in 0..n {
        let number = first_number + i;
        let (order, opened) = open_order(&t, number, cpf(number as u32 % 1_000), at(number as i64 % 10_000));
        store.create(&order, &opened, None).await.unwrap();
        let (events, next) = advance(&order, Command::SendQuote, at(20_000));
        steps.push((next, events));
    }
    steps
}

fn apply_steps(c: &mut Criterion) {
    let rt = runtime();
    let store = SqliteStore::open_temporary().unwrap();
    let mut number = 1u64;
    let mut group = c.benchmark_group("apply_step");
    group.throughput(Throughput::Elements(1)).sample_size(20).measurement_time(Duration::from_secs(8));

    group.bench_function("sequential", |b| {
        b.iter_custom(|iters| {
            let steps = rt.block_on(prepared_steps(&store, number, iters));
            number += iters;
            rt.block_on(async {
                let start = Instant::now();
                for (next, events) in &steps {
                    store.apply(1, next, events, None).await.unwrap();
                }
                start.elapsed()
            })
        });
    });

    group.bench_function("concurrent_8", |b| {
        b.iter_custom(|iters| {
            let steps = Arc::new(rt.block_on(prepared_steps(&store, number, iters)));
            number += iters;
            rt.block_on(async {
                let cursor = Arc::new(AtomicUsize::new(0));
                let start = Instant::now();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let (store, steps, cursor) = (store.clone(), steps.clone(), cursor.clone());
                        tokio::spawn(async move {
                            loop {
                                let i = cursor.fetch_add(1, Ordering::Relaxed);
                                let Some((next, events)) = steps.get(i) else { break };
                                store.apply(1, next, events, None).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn gets(c: &mut Criterion) {
    let rt = runtime();
    let store = SqliteStore::open_temporary().unwrap();
    let orders: Vec<Order> = rt.block_on(prepared_steps(&store, 1, 10_000)).into_iter().map(|(next, _)| next).collect();
    let t = tenant("bench");
    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1)).sample_size(20);

    let mut i = 0usize;
    group.bench_function("sequential", |b| {
        b.iter(|| {
            i = (i + 7_919) % orders.len();
            let order = rt.block_on(store.get(&t, &orders[i].id)).unwrap();
            black_box(order.expect("stored").version)
        });
    });

    let ids = Arc::new(orders.iter().map(|o| o.id).collect::<Vec<_>>());
    group.bench_function("concurrent_8", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..TASKS as u64)
                    .map(|k| {
                        let (store, ids, t) = (store.clone(), ids.clone(), t.clone());
                        let share = iters / TASKS as u64 + u64::from(k < iters % TASKS as u64);
                        tokio::spawn(async move {
                            for j in 0..share {
                                let id = &ids[((k * 1_009 + j * 7_919) % ids.len() as u64) as usize];
                                black_box(store.get(&t, id).await.unwrap().expect("stored"));
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, apply_steps, gets);
criterion_main!(benches);
