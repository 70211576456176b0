//! The default flow walked from an open order, as the reference example runs it (ARCHITECTURE.md): one list of
//! commands for the tests that step through the use cases or the domain, and one list of requests for the tests
//! that step through HTTP. The variants the tests need are parameters: the steps while working (notes), the
//! material wait (or none),
//! the payments, and where to stop.

use chrono::{DateTime, NaiveDate, Utc};
use osflow_app::OrderStore;
use osflow_domain::values::TenantId;
use osflow_domain::{ChecklistItem, Command, Event, Order, PaymentMethod};
use serde_json::{Value, json};

use crate::conformance::{advance, approve, cpf, note, open_order};
use crate::money;

/// A day of December 2026, the month of the reference example (`2026-12-05` is its material date).
pub fn december(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, day).expect("a day of December 2026")
}

/// The reference example's checklist (`validate`): one item, passed.
pub fn checklist() -> Vec<ChecklistItem> {
    vec![ChecklistItem { item: "Equipamento liga".into(), ok: true, note: None }]
}

/// A payment of `amount` (`"269.90"`) by `method`.
pub fn payment(amount: &str, method: PaymentMethod, reference: Option<&str>) -> Command {
    Command::RegisterPayment { amount: money(amount), method, reference: reference.map(str::to_owned) }
}

/// The default flow from `aberta` to `encerrada`, built as the reference example and changed where a test needs
/// it. [`Walk::commands`] gives the whole walk; [`Walk::to_payment`] stops in `aguardando_pagamento`.
#[derive(Debug, Clone)]
pub struct Walk {
    approval: Command,
    working: Vec<Command>,
    material: Option<(NaiveDate, Option<NaiveDate>)>,
    tests_performed: Option<String>,
    payments: Vec<Command>,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk::reference()
    }
}

impl Walk {
    /// The reference example: approved, a customer-visible note, the material awaited (2026-12-05, then
    /// 2026-12-08) and arrived, finished, validated, 269.90 paid by PIX, released, closed.
    pub fn reference() -> Walk {
        Walk {
            approval: approve(),
            working: vec![note("Placa limpa")],
            material: Some((december(5), Some(december(8)))),
            tests_performed: Some("Ligou e carregou por 2 h".into()),
            payments: vec![payment("269.90", PaymentMethod::Pix, None)],
        }
    }

    /// The reference example without its note and its material wait: straight from the approval to the work
    /// finished.
    pub fn straight() -> Walk {
        Walk::reference().working(vec![]).without_material()
    }

    /// The reference example with an internal note after its customer-visible one, "Ligou" as the tests
    /// performed, and the 269.90 paid in two PIX payments (100.00, then 169.90): every kind of event the outbox
    /// carries, the walk the bus and the relay publish.
    pub fn with_internal_note_paid_in_two() -> Walk {
        let internal = Command::AddNote { text: "Interna".into(), visible_to_customer: false };
        Walk::reference()
            .working(vec![note("Placa limpa"), internal])
            .tests_performed(Some("Ligou"))
            .payments(vec![payment("100.00", PaymentMethod::Pix, None), payment("169.90", PaymentMethod::Pix, None)])
    }

    /// The quote approved by this command instead of a plain approval.
    pub fn approved_by(mut self, decision: Command) -> Walk {
        self.approval = decision;
        self
    }

    /// These steps while the work is in progress (notes, attachments, a new due date: no status change) instead
    /// of the reference note.
    pub fn working(mut self, steps: Vec<Command>) -> Walk {
        self.working = steps;
        self
    }

    /// The material awaited until `expected_at`, its date changed to `changed_to` when given.
    pub fn material(mut self, expected_at: NaiveDate, changed_to: Option<NaiveDate>) -> Walk {
        self.material = Some((expected_at, changed_to));
        self
    }

    /// No material wait.
    pub fn without_material(mut self) -> Walk {
        self.material = None;
        self
    }

    /// What `finish` says was tested (`None`: nothing).
    pub fn tests_performed(mut self, tests: Option<&str>) -> Walk {
        self.tests_performed = tests.map(str::to_owned);
        self
    }

    /// These payments instead of the reference one (they should add up to the order's total for the release).
    pub fn payments(mut self, payments: Vec<Command>) -> Walk {
        self.payments = payments;
        self
    }

    /// From `aberta` to `aguardando_pagamento` (the payment requested, nothing paid).
    pub fn to_payment(&self) -> Vec<Command> {
        let mut steps = vec![Command::SendQuote, self.approval.clone(), Command::Start];
        steps.extend(self.working.iter().cloned());
        if let Some((expected_at, changed_to)) = self.material {
            steps.push(Command::WaitMaterial {
                reason: "Fonte em falta".into(),
                parts: vec!["P-001".into()],
                expected_at,
            });
            steps.extend(changed_to.map(|expected_at| Command::ChangeMaterialDate { expected_at }));
            steps.push(Command::MaterialArrived);
        }
        steps.push(Command::Finish { tests_performed: self.tests_performed.clone() });
        steps.push(Command::Validate { checklist: checklist(), extra_items: vec![] });
        steps.push(Command::RequestPayment);
        steps
    }

    /// From `aberta` to `aguardando_pagamento` with the payments registered.
    pub fn to_paid(&self) -> Vec<Command> {
        let mut steps = self.to_payment();
        steps.extend(self.payments.iter().cloned());
        steps
    }

    /// The whole walk, from `aberta` to `encerrada`.
    pub fn commands(&self) -> Vec<Command> {
        let mut steps = self.to_paid();
        steps.extend([Command::Release, Command::Close]);
        steps
    }
}

/// The request that moves an order of the reference example on from `status` along the default path, as the
/// reference example sends it: the step's path under `/v1/orders/{id}/` and its JSON body (`POST`); `None` for
/// `encerrada`, `cancelada` and statuses off the path. `aguardando_pagamento` goes on by `release`: pay first.
pub fn next_request(status: &str) -> Option<(&'static str, Value)> {
    Some(match status {
        "aberta" => ("quote/send", json!({})),
        "aguardando_aprovacao" => ("quote/decision", json!({"decision": "approve"})),
        "aprovada" => ("start", json!({})),
        "em_execucao" => ("finish", json!({"tests_performed": "Ligou e carregou por 2 h"})),
        "aguardando_material" => ("material/arrived", json!({})),
        "finalizada" => {
            ("validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        }
        "em_validacao" => ("payment/request", json!({})),
        "aguardando_pagamento" => ("release", json!({})),
        "liberada" => ("close", json!({})),
        _ => return None,
    })
}

/// The reference example's requests after the opening, in order (ARCHITECTURE.md): the method, the step's path
/// under `/v1/orders/{id}/` and its JSON body, with the material awaited until `expected_at` and then `new_date`
/// (`yyyy-mm-dd`: the example's dates on a test clock, [`crate::days_ahead`] on the real one).
pub fn reference_requests(expected_at: &str, new_date: &str) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("POST", "quote/send", json!({})),
        ("POST", "quote/decision", json!({"decision": "approve"})),
        ("POST", "start", json!({})),
        ("POST", "notes", json!({"text": "Placa limpa", "visible_to_customer": true})),
        ("POST", "material/wait", json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": expected_at})),
        ("PATCH", "material", json!({"expected_at": new_date})),
        ("POST", "material/arrived", json!({})),
        ("POST", "finish", json!({"tests_performed": "Ligou e carregou por 2 h"})),
        ("POST", "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []})),
        ("POST", "payment/request", json!({})),
        ("POST", "payments", json!({"amount": "269.90", "method": "pix"})),
        ("POST", "release", json!({})),
        ("POST", "close", json!({})),
    ]
}

/// An order of the conformance fixtures ([`crate::conformance::open_order`]) walked through commands by the
/// domain alone: the opening, then each step's expected version, the order after it and its events.
#[derive(Debug, Clone)]
pub struct Walked {
    pub opened_order: Order,
    pub opened: Event,
    pub steps: Vec<(u64, Order, Vec<Event>)>,
}

impl Walked {
    /// Order `number` of `tenant` (its customer's CPF made from the number) opened at `opened_at`, the i-th of
    /// `commands` taken at `step_at(i)`.
    pub fn new(
        tenant: &TenantId,
        number: u64,
        commands: Vec<Command>,
        opened_at: DateTime<Utc>,
        step_at: impl Fn(usize) -> DateTime<Utc>,
    ) -> Walked {
        let (opened_order, opened) = open_order(tenant, number, cpf(number as u32), opened_at);
        let mut order = opened_order.clone();
        let mut steps = Vec::new();
        for (i, cmd) in commands.into_iter().enumerate() {
            let (events, next) = advance(&order, cmd, step_at(i));
            steps.push((order.version, next.clone(), events));
            order = next;
        }
        Walked { opened_order, opened, steps }
    }

    /// The order after the last step.
    pub fn order(&self) -> &Order {
        self.steps.last().map_or(&self.opened_order, |(_, order, _)| order)
    }

    /// Every event, the opening first.
    pub fn events(&self) -> Vec<Event> {
        std::iter::once(self.opened.clone()).chain(self.steps.iter().flat_map(|(_, _, e)| e.clone())).collect()
    }

    /// Commits the opening and every step (one `apply` each) through the store.
    pub async fn write(&self, store: &dyn OrderStore) {
        store.create(&self.opened_order, &self.opened, None).await.expect("create");
        for (expected, order, events) in &self.steps {
            store.apply(*expected, order, events, None).await.expect("apply");
        }
    }
}
