//! What a step costs on DynamoDB: the requests (one read and one transaction) and the write units DynamoDB
//! bills for the items the store writes (computed by `osflow_system_tests::cost` from the requests themselves:
//! the emulator does not report consumed capacity for transactions).

use lambda_http::http::StatusCode;
use osflow_domain::Role;
use osflow_system_tests::{DynamoHarness, Who, gateway_request};
use serde_json::{Value, json};

use osflow_testkit::walk::reference_requests;
use osflow_testkit::{days_ahead, example_order_on_real_clock as example_order};

/// The most write units a step of the reference example may cost (order, event, idempotency record and index
/// entries together): each of the three items under 1 KB (2 units in a transaction), the status entry moved (2),
/// the SLA entry moved when the deadline changes (up to 2). A ceiling that only goes down (README, "DynamoDB cost
/// per step").
const MAX_STEP_UNITS: u32 = 10;

#[tokio::test]
async fn a_step_is_one_read_and_one_transaction_of_few_write_units() {
    let (h, meter) = DynamoHarness::metered().await;
    let staff = Who::with_roles("oficina-custo", "maria@oficina", &Role::ALL);
    let call = |method: &'static str, path: String, body: Value, key: String| {
        let (function, req) =
            gateway_request(Some(&staff), method, &path, Some(&body), &[("idempotency-key", key.as_str())]);
        let h = &h;
        async move { h.call_function(function, req).await }
    };
    let report = std::cell::RefCell::new(Vec::new());
    let step = async |order: &str, n: usize, method: &'static str, step: &str, body: Value| {
        let reply = call(method, format!("/v1/orders/{order}/{step}"), body, format!("custo-{order}-{n}")).await;
        reply.expect(StatusCode::OK);
        let cost = meter.take();
        // The order is read, then written in one transaction with the idempotency record (a retry is answered
        // from that record, read only when the step is refused).
        let expected = [("GetItem".to_owned(), 1), ("TransactWriteItems".to_owned(), 1)].into();
        assert_eq!(cost.requests, expected, "{method} {step}: {cost}");
        // The indexes hold keys only: a step moves the order's status entry (GSI1) and its SLA entry (GSI3, when
        // the deadline changes), one small entry each, and never touches GSI2.
        for write in &cost.writes {
            assert!(write.index_units.values().all(|u| *u <= 2), "{method} {step}: {cost}");
            assert!(!write.index_units.contains_key("GSI2"), "{method} {step}: {cost}");
        }
        report.borrow_mut().push(format!("{method} {step}: {cost}"));
        cost.units()
    };

    // The reference example, every step within the budget.
    let opened = call("POST", "/v1/orders".into(), example_order(), "custo-abertura".into()).await;
    let id = opened.expect(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    report.borrow_mut().push(format!("open: {}", meter.take()));
    // A warm function has read the order's flow version once (versions are immutable, cached per process).
    h.call(Some(&staff), "GET", &format!("/v1/orders/{id}"), None).await.expect(StatusCode::OK);
    meter.take();
    let mut worst = 0;
    for (n, (method, path, body)) in reference_requests(&days_ahead(1), &days_ahead(4)).into_iter().enumerate() {
        worst = worst.max(step(&id, n, method, path, body).await);
    }

    // Retries with the same keys get the first answers back, and change nothing. A step the order has moved
    // past: the order and the saved response read, nothing written. A note on an order still open (allowed
    // again): its transaction refused on the key, then the saved response read.
    let noted = call("POST", "/v1/orders".into(), example_order(), "custo-abertura-3".into()).await;
    let noted = noted.expect(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let note = json!({"text": "Cliente ligou", "visible_to_customer": false});
    call("POST", format!("/v1/orders/{noted}/notes"), note.clone(), "custo-nota".into()).await.expect(StatusCode::OK);
    let (method, path, body) = reference_requests(&days_ahead(1), &days_ahead(4)).swap_remove(0);
    let retries = [
        (id.clone(), method, path, body, format!("custo-{id}-0"), vec![("GetItem", 2)]),
        (noted.clone(), "POST", "notes", note, "custo-nota".into(), vec![("GetItem", 2), ("TransactWriteItems", 1)]),
    ];
    for (order, method, path, body, key, expected) in retries {
        let version = async |order: &str| {
            let got = h.call(Some(&staff), "GET", &format!("/v1/orders/{order}"), None).await;
            got.expect(StatusCode::OK)["version"].as_u64().expect("version")
        };
        let before = version(&order).await;
        meter.take();
        let again = call(method, format!("/v1/orders/{order}/{path}"), body, key).await;
        assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]), "{path}");
        again.expect(StatusCode::OK);
        let cost = meter.take();
        let expected = expected.into_iter().map(|(op, k)| (op.to_owned(), k)).collect();
        assert_eq!(cost.requests, expected, "the retry of {path}: {cost}");
        report.borrow_mut().push(format!("retry of {method} {path}: {cost}"));
        assert_eq!(version(&order).await, before, "the retry of {path} changed the order");
        meter.take();
    }

    // An order that has grown: twelve notes of about 500 characters, then the rest of the flow. Reported (the
    // order and its saved responses still carry the notes: see README, "DynamoDB cost").
    let opened = call("POST", "/v1/orders".into(), example_order(), "custo-abertura-2".into()).await;
    let grown = opened.expect(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    meter.take();
    report.borrow_mut().push("an order with twelve long notes:".into());
    let mut steps = reference_requests(&days_ahead(1), &days_ahead(4));
    let notes = (0..12).map(|n| ("POST", "notes", json!({"text": varied_note(n), "visible_to_customer": true})));
    steps.splice(7..7, notes);
    for (n, (method, path, body)) in steps.into_iter().enumerate() {
        step(&grown, n, method, path, body).await;
    }

    let report = report.borrow().join("\n  ");
    println!("write units per request:\n  {report}");
    assert!(worst <= MAX_STEP_UNITS, "a step of the reference example cost {worst} write units:\n  {report}");
    h.drop_table().await;
}

/// About 500 characters of text that differ from note to note.
fn varied_note(n: usize) -> String {
    const WORDS: [&str; 40] = [
        "fonte",
        "placa",
        "conector",
        "bateria",
        "tela",
        "teclado",
        "ventoinha",
        "pasta",
        "térmica",
        "limpeza",
        "cliente",
        "telefone",
        "orçamento",
        "peça",
        "fornecedor",
        "prazo",
        "entrega",
        "teste",
        "carga",
        "horas",
        "trocada",
        "substituído",
        "verificado",
        "oxidação",
        "solda",
        "trilha",
        "capacitor",
        "resistor",
        "curto",
        "tensão",
        "medição",
        "multímetro",
        "garantia",
        "lacre",
        "parafuso",
        "carcaça",
        "dobradiça",
        "cabo",
        "flat",
        "firmware",
    ];
    let mut state = 0x9e37_79b9_u64.wrapping_mul(n as u64 + 1);
    let mut text = format!("Nota {n}:");
    while text.len() < 500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push(' ');
        text.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
        if state.is_multiple_of(7) {
            text.push_str(&format!(" {}", state % 1000));
        }
    }
    text
}
