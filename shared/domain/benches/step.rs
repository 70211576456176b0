//! Deciding + applying one step on an order that already has 50 events (target: under 5 µs).

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use osflow_domain::testing;
use osflow_domain::values::UserId;
use osflow_domain::*;
use std::hint::black_box;

fn order_with_50_events() -> (Flow, Order, Actor) {
    let flow = Flow::default_flow();
    let actor = Actor::staff(UserId::parse("bench").unwrap(), vec![Role::Representante]);
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let e = decide_open(&flow, testing::opening("bench", 1), &actor, now).unwrap();
    let mut order = Order::from_opened(&e).unwrap();
    let ctx = Context::at(now);
    for cmd in [Command::SendQuote, testing::approve(), Command::Start] {
        order = step(&order, &flow, cmd, &actor, &ctx).unwrap().1;
    }
    let mut ctx = ctx;
    while order.version < 50 {
        ctx.now += Duration::minutes(5);
        let cmd = Command::AddNote { text: format!("nota {}", order.version), visible_to_customer: true };
        order = step(&order, &flow, cmd, &actor, &ctx).unwrap().1;
    }
    (flow, order, actor)
}

fn bench(c: &mut Criterion) {
    let (flow, order, actor) = order_with_50_events();
    assert_eq!(order.version, 50);
    let ctx = Context::at(order.updated_at + Duration::hours(1));
    c.bench_function("decide+apply wait_material on an order with 50 events", |b| {
        b.iter(|| {
            let cmd = Command::WaitMaterial {
                reason: "Fonte em falta".into(),
                parts: vec!["P-001".into()],
                expected_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
            };
            black_box(step(black_box(&order), &flow, cmd, &actor, &ctx).unwrap())
        })
    });
    c.bench_function("decide+apply on an owned order (as the use case does)", |b| {
        b.iter_batched(
            || order.clone(),
            |mut owned| {
                let cmd = Command::WaitMaterial {
                    reason: "Fonte em falta".into(),
                    parts: vec!["P-001".into()],
                    expected_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
                };
                let events = decide(&owned, &flow, cmd, &actor, &ctx).unwrap();
                for e in &events {
                    owned.apply(e);
                }
                black_box((events, owned))
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("decide only (no state copy): wait_material", |b| {
        b.iter(|| {
            let cmd = Command::WaitMaterial {
                reason: "Fonte em falta".into(),
                parts: vec!["P-001".into()],
                expected_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
            };
            black_box(decide(black_box(&order), &flow, cmd, &actor, &ctx).unwrap())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
