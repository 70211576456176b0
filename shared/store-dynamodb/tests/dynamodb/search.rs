//! The staff's order search (`App::search_orders`, the console's board and `GET /v1/orders`) on a DynamoDB table
//! of the emulator: every filter, the cursor across statuses and across a customer's history, the company's
//! orders only, and only index reads and the reads of what they list (never a Scan).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Days, Utc};
use osflow_app::{App, Caller, OrderQuery, OrderStore, PageRequest};
use osflow_domain::values::{Document, TenantId, UserId};
use osflow_domain::{Command, Equipment, Flow, OpenOrder, Order, Role, Service, decide_open};
use osflow_testkit::TestClock;
use osflow_testkit::conformance::{actor, advance, at, cpf, customer, items, new_order_id, tenant};

use crate::conformance::fixture;
use crate::support::unique;

struct Spec {
    number: u64,
    name: &'static str,
    document: Document,
    serial: &'static str,
    technician: Option<&'static str>,
    service: &'static str,
    /// Days from the opening to the due date.
    due_in: u64,
}

fn open(t: &TenantId, spec: &Spec, when: DateTime<Utc>) -> (Order, osflow_domain::Event) {
    let cmd = OpenOrder {
        id: new_order_id(),
        tenant: t.clone(),
        number: spec.number,
        customer: osflow_domain::Customer { name: spec.name.into(), ..customer(spec.document) },
        equipment: Equipment {
            description: "Notebook".into(),
            brand: None,
            model: None,
            serial: Some(spec.serial.into()),
        },
        service: Service { kind: spec.service.into(), reported_problem: "Não liga".into() },
        items: items(),
        due_date: Some(when.date_naive() + Days::new(spec.due_in)),
        technician: spec.technician.map(|u| UserId::parse(u).unwrap()),
        discount: None,
        intake: None,
        warranty_of: None,
    };
    let opened = decide_open(&Flow::default_flow(), cmd, &actor(), when).expect("the fixture opens");
    (Order::from_opened(&opened).unwrap(), opened)
}

/// Every page of a search, by the cursors it hands out (pages of `limit`): the OS numbers in order.
async fn numbers(app: &App, caller: &Caller, query: OrderQuery, limit: u32) -> Vec<u64> {
    let mut out = Vec::new();
    let mut page = PageRequest { limit, cursor: None };
    for _ in 0..50 {
        let found = app.search_orders(caller, &query, &page).await.expect("the search answers");
        assert!(found.items.len() <= limit as usize);
        out.extend(found.items.iter().map(|o| o.number));
        match found.next {
            Some(next) => page.cursor = Some(next),
            None => return out,
        }
    }
    panic!("the search did not end: {out:?}");
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_search_filters_and_pages_on_the_tables_indexes() {
    let f = fixture().await;
    let t = tenant(&format!("busca-{}", &unique("t")[2..12]).replace('-', "").to_lowercase());
    let maria = cpf(11);
    let specs = [
        Spec {
            number: 1,
            name: "Maria Souza",
            document: maria,
            serial: "SN-0001",
            technician: Some("tec-a"),
            service: "reparo",
            due_in: 30,
        },
        Spec {
            number: 2,
            name: "João Silva",
            document: cpf(12),
            serial: "SN-0002",
            technician: Some("tec-b"),
            service: "garantia",
            due_in: 30,
        },
        Spec {
            number: 3,
            name: "Ana Silva",
            document: cpf(13),
            serial: "XY-7777",
            technician: Some("tec-a"),
            service: "reparo",
            due_in: 1,
        },
        Spec {
            number: 4,
            name: "Maria Souza",
            document: maria,
            serial: "SN-0004",
            technician: None,
            service: "Garantia",
            due_in: 30,
        },
        Spec {
            number: 5,
            name: "Pedro Silva",
            document: cpf(15),
            serial: "SN-0005",
            technician: Some("tec-b"),
            service: "reparo",
            due_in: 30,
        },
        Spec {
            number: 6,
            name: "Rita Lima",
            document: cpf(16),
            serial: "SN-0006",
            technician: Some("tec-a"),
            service: "reparo",
            due_in: 30,
        },
    ];
    for (i, spec) in specs.iter().enumerate() {
        // OS 3 was opened three days before the others, due the next day: overdue now.
        let when = if spec.number == 3 { at(-3 * 24 * 60) } else { at(i as i64) };
        let (order, opened) = open(&t, spec, when);
        f.store.create(&order, &opened, None).await.unwrap();
        // OS 2 waits for the customer; OS 5 is cancelled (a final status); the others stay open.
        let step = match spec.number {
            2 => Some(Command::SendQuote),
            5 => Some(Command::Cancel { reason: "Cliente desistiu".into(), refund: None }),
            _ => None,
        };
        if let Some(cmd) = step {
            let (events, next) = advance(&order, cmd, at(10 + i as i64));
            f.store.apply(order.version, &next, &events, None).await.unwrap();
        }
    }
    // Another company's order with the same name, serial and customer: never found.
    let other = tenant(&format!("outra{}", &uuid_part()));
    let (order, opened) = open(&other, &specs[0], at(0));
    f.store.create(&order, &opened, None).await.unwrap();

    // Twelve hours after the openings: within every status's SLA; OS 3 is past its due date.
    let clock = Arc::new(TestClock::at(at(12 * 60)));
    let app = App::over(f.store.clone()).with_clock(clock);
    let caller = Caller { tenant: t.clone(), user: UserId::parse("tec-a").unwrap(), roles: vec![Role::Atendente] };
    let q = |edit: fn(&mut OrderQuery)| {
        let mut q = OrderQuery::default();
        edit(&mut q);
        q
    };
    f.counter.take();

    // The board: every open status in flow order, oldest first within one; pages of 2 across statuses.
    let board = numbers(&app, &caller, OrderQuery::default(), 2).await;
    assert_eq!(board, [3, 1, 4, 6, 2], "aberta (3, 1, 4, 6), then aguardando_aprovacao (2)");
    assert_eq!(numbers(&app, &caller, OrderQuery::default(), 100).await, board, "the same in one page");
    assert_eq!(numbers(&app, &caller, q(|q| q.technician = Some(UserId::parse("tec-a").unwrap())), 2).await, [3, 1, 6]);
    assert_eq!(numbers(&app, &caller, q(|q| q.service_type = Some("GARANTIA".into())), 2).await, [4, 2]);
    assert_eq!(numbers(&app, &caller, q(|q| q.overdue = true), 2).await, [3]);
    // Name, serial and number, the cancelled OS included.
    assert_eq!(sorted(numbers(&app, &caller, q(|q| q.text = Some("silva".into())), 2).await), [2, 3, 5]);
    assert_eq!(numbers(&app, &caller, q(|q| q.text = Some("xy-77".into())), 2).await, [3]);
    assert_eq!(
        numbers(&app, &caller, q(|q| q.text = Some("5".into())), 2).await,
        [5],
        "the cancelled OS by its number"
    );
    // Filters combine.
    let combined = q(|q| {
        q.text = Some("silva".into());
        q.technician = Some(UserId::parse("tec-b").unwrap());
    });
    assert_eq!(sorted(numbers(&app, &caller, combined, 1).await), [2, 5]);
    // The CPF as typed: the customer's history on its index (every status), newest first, paged.
    assert_eq!(numbers(&app, &caller, q(|q| q.text = Some(cpf(11).to_string())), 1).await, [4, 1]);

    // Index reads (and the reads of the orders they list), never a Scan.
    let operations: BTreeSet<String> = f.counter.take().into_keys().collect();
    assert!(operations.iter().all(|o| ["Query", "GetItem", "BatchGetItem"].contains(&o.as_str())), "{operations:?}");
    assert!(operations.contains("Query"));

    // A cursor of another search is refused, not misread.
    let page = PageRequest { limit: 2, cursor: Some("s99:".into()) };
    assert!(app.search_orders(&caller, &OrderQuery::default(), &page).await.is_err());
}

fn uuid_part() -> String {
    unique("x").chars().filter(char::is_ascii_digit).take(10).collect()
}
