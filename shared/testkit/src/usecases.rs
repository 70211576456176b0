//! The use cases driven the way the tests of the consumers drive them (no HTTP, no idempotency key, responses not
//! rendered): the example opening, a step, and an order walked until paid in full.

use osflow_app::{App, AppResult, Caller, OpenOrderInput, Rendered, Reply};
use osflow_domain::values::{Document, Email, OrderId};
use osflow_domain::{Command, Customer, Equipment, Flow, LineInput, Order, PaymentMethod, Service};

use crate::emitter::example_address;
use crate::walk::{Walk, payment};

/// The response of a use case the tests do not read.
pub fn no_render(_: &Order, _: &Flow) -> Rendered {
    Rendered { status: 200, body: String::new() }
}

/// The opening the invoicing tests issue from: Maria Souza (e-mail, the example address, no phone) with a
/// notebook to repair, these lines, no due date.
pub fn opening(document: Document, items: Vec<LineInput>) -> OpenOrderInput {
    OpenOrderInput {
        customer: Customer {
            name: "Maria Souza".into(),
            document,
            email: Some(Email::parse("maria@example.com").unwrap()),
            phone: None,
            address: Some(example_address()),
        },
        equipment: Equipment { description: "Notebook".into(), brand: None, model: None, serial: None },
        service: Service { kind: "reparo".into(), reported_problem: "Não liga".into() },
        items,
        due_date: None,
        technician: None,
        discount: None,
        intake: None,
    }
}

/// The opening the notifier's tests send: Joana Lima (this document and e-mail, nothing else) with a Dell notebook
/// to repair, these lines, no due date.
pub fn notified_opening(document: Document, email: &str, items: Vec<LineInput>) -> OpenOrderInput {
    OpenOrderInput {
        customer: Customer {
            name: "Joana Lima".into(),
            document,
            email: Some(Email::parse(email).expect("an e-mail")),
            phone: None,
            address: None,
        },
        equipment: Equipment { description: "Notebook Dell".into(), brand: None, model: None, serial: None },
        ..opening(document, items)
    }
}

/// Opens an order; its id.
pub async fn open(app: &App, caller: &Caller, input: OpenOrderInput) -> OrderId {
    match app.open_order(caller, input, None, &no_render).await.expect("the order opens") {
        Reply::Fresh(s) => s.order.id,
        Reply::Replayed(_) => unreachable!("no idempotency key was sent"),
    }
}

/// One step; the order after it.
pub async fn step(app: &App, caller: &Caller, id: &OrderId, cmd: Command) -> AppResult<Order> {
    match app.step(caller, id, cmd, None, None, &no_render).await? {
        Reply::Fresh(s) => Ok(s.order),
        Reply::Replayed(_) => unreachable!("no idempotency key was sent"),
    }
}

/// Opens `input` and walks it to paid in full along `walk` (to the payment requested), paying 100.00 by credit
/// card and then the balance by PIX.
pub async fn paid_in_full(app: &App, caller: &Caller, input: OpenOrderInput, walk: &Walk) -> Order {
    let id = open(app, caller, input).await;
    for cmd in walk.to_payment() {
        step(app, caller, &id, cmd).await.expect("a step of the walk");
    }
    let order = step(app, caller, &id, payment("100.00", PaymentMethod::Credit, Some("A1B2C3"))).await;
    let balance = order.expect("card payment").balance();
    let pix = Command::RegisterPayment { amount: balance, method: PaymentMethod::Pix, reference: None };
    let order = step(app, caller, &id, pix).await.expect("pix payment");
    assert!(order.paid_in_full());
    order
}
