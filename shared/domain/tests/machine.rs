//! The state machine: every command's success and refusals, and property tests over random command sequences.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use osflow_domain::testing::{self, money};
use osflow_domain::values::{Money, OrderId, Percent, UserId};
use osflow_domain::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn key(s: &str) -> StatusKey {
    StatusKey::parse(s).unwrap()
}

fn part(code: &str, qty: &str, price: &str) -> LineInput {
    testing::part(code, &format!("Peça {code}"), qty, price)
}

fn labor(price: &str) -> LineInput {
    testing::labor("S-001", "Diagnóstico e reparo", "1", price)
}

fn staff(roles: &[Role]) -> Actor {
    Actor::staff(UserId::parse("user-1").unwrap(), roles.to_vec())
}

fn rep() -> Actor {
    staff(&[Role::Representante])
}

fn ctx(now: DateTime<Utc>) -> Context {
    Context::at(now)
}

fn open_cmd(items: Vec<LineInput>) -> OpenOrder {
    OpenOrder {
        equipment: Equipment {
            description: "Notebook".into(),
            brand: Some("Dell".into()),
            model: None,
            serial: Some("BR123456".into()),
        },
        items,
        due_date: Some(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()),
        ..testing::opening("acme", 1)
    }
}

/// Keeps the events, checks versions, and that the fold of all events equals the state.
struct Harness {
    flow: Flow,
    order: Order,
    events: Vec<Event>,
    now: DateTime<Utc>,
    invoicing: Invoicing,
}

impl Harness {
    fn new(flow: Flow, items: Vec<LineInput>) -> Harness {
        let e = decide_open(&flow, open_cmd(items), &rep(), t0()).unwrap();
        let order = Order::from_opened(&e).unwrap();
        Harness { flow, order, events: vec![e], now: t0(), invoicing: Invoicing::default() }
    }

    fn default() -> Harness {
        Harness::new(Flow::default_flow(), vec![part("P-001", "1", "149.90"), labor("120.00")])
    }

    fn try_as(&mut self, actor: &Actor, cmd: Command) -> Result<Vec<Event>, DomainError> {
        self.now += Duration::hours(1);
        let ctx = Context::at(self.now).invoicing(self.invoicing);
        let (events, next) = step(&self.order, &self.flow, cmd, actor, &ctx)?;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.version, self.order.version + 1 + i as u64);
        }
        self.order = next;
        self.events.extend(events.clone());
        assert_eq!(Order::replay(&self.events).unwrap(), self.order, "fold(events) == state");
        Ok(events)
    }

    fn try_(&mut self, cmd: Command) -> Result<Vec<Event>, DomainError> {
        self.try_as(&rep(), cmd)
    }

    fn ok(&mut self, cmd: Command) -> Vec<Event> {
        self.try_(cmd).unwrap()
    }

    fn status(&self) -> &str {
        self.order.status.as_str()
    }

    fn approve(&mut self) {
        self.ok(Command::SendQuote);
        self.ok(decide_cmd(QuoteDecision::Approve, None));
    }

    fn walk_to_validation(&mut self) {
        self.approve();
        self.ok(Command::Start);
        self.ok(Command::Finish { tests_performed: Some("Ligou".into()) });
        self.ok(Command::Validate { checklist: checklist(true), extra_items: vec![] });
    }
}

fn decide_cmd(decision: QuoteDecision, comment: Option<&str>) -> Command {
    Command::DecideQuote { revision: None, decision, lines: vec![], comment: comment.map(Into::into), evidence: None }
}

fn checklist(ok: bool) -> Vec<ChecklistItem> {
    vec![ChecklistItem { item: "Equipamento liga".into(), ok, note: None }]
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

#[test]
fn the_whole_default_flow() {
    let mut h = Harness::default();
    assert_eq!(h.status(), "aberta");
    assert_eq!(h.order.quote[0].total, money("269.90"));
    assert_eq!(h.order.quote[0].parts_total, money("149.90"));
    h.ok(Command::SendQuote);
    assert_eq!(h.status(), "aguardando_aprovacao");
    h.ok(decide_cmd(QuoteDecision::Approve, None));
    assert_eq!(h.status(), "aprovada");
    assert_eq!(h.order.amount_due(), money("269.90"));
    h.ok(Command::Start);
    assert_eq!(h.status(), "em_execucao");
    h.ok(Command::AddNote { text: "Placa limpa".into(), visible_to_customer: true });
    h.ok(Command::WaitMaterial { reason: "Fonte em falta".into(), parts: vec!["P-001".into()], expected_at: date(5) });
    assert_eq!(h.status(), "aguardando_material");
    h.ok(Command::ChangeMaterialDate { expected_at: date(8) });
    assert_eq!(h.order.material.as_ref().unwrap().expected_at, date(8));
    h.ok(Command::MaterialArrived);
    assert_eq!(h.status(), "em_execucao");
    assert!(h.order.material.is_none());
    h.ok(Command::Finish { tests_performed: Some("Ligou e carregou por 2 h".into()) });
    assert_eq!(h.status(), "finalizada");
    h.ok(Command::Validate { checklist: checklist(true), extra_items: vec![] });
    assert_eq!(h.status(), "em_validacao");
    h.ok(Command::RequestPayment);
    assert_eq!(h.status(), "aguardando_pagamento");
    let ev = h.ok(Command::RegisterPayment { amount: money("100.00"), method: PaymentMethod::Pix, reference: None });
    assert!(matches!(&ev[0].change, Change::PaymentRegistered { balance, .. } if *balance == money("169.90")));
    h.ok(Command::RegisterPayment { amount: money("169.90"), method: PaymentMethod::Credit, reference: None });
    assert!(h.order.paid_in_full());
    h.ok(Command::Release);
    assert_eq!(h.status(), "liberada");
    h.ok(Command::Close);
    assert_eq!(h.status(), "encerrada");
    assert_eq!(h.order.version, h.events.len() as u64);
    // The size the bounds count is the stored JSON's.
    assert_eq!(osflow_domain::bounds::order_bytes(&h.order), serde_json::to_vec(&h.order).unwrap().len());
    // Nothing more after a final status.
    let err = h.try_(Command::AddNote { text: "x".into(), visible_to_customer: false }).unwrap_err();
    assert_eq!(err, DomainError::NotAllowedInStatus { action: "add_note".into(), status: key("encerrada") });
}

#[test]
fn warranty_starts_at_release_and_a_return_takes_the_covered_lines_at_zero_price() {
    let mut p = part("P-001", "1", "149.90");
    p.warranty_days = Some(30);
    let mut l = labor("120.00");
    l.warranty_days = Some(90);
    let mut h = Harness::new(Flow::default_flow(), vec![p, l]);
    assert!(h.order.warranties().is_empty(), "nothing before release");
    h.walk_to_validation();
    h.ok(Command::RequestPayment);
    h.ok(Command::RegisterPayment { amount: money("269.90"), method: PaymentMethod::Pix, reference: None });
    let today = osflow_domain::warranty::today(h.now + Duration::hours(1));
    assert!(matches!(h.order.warranty_return_lines(&[(1, 1)], today), Err(WarrantyError::NotReleased)));
    h.ok(Command::Release);
    let released = osflow_domain::warranty::today(h.order.released_at.unwrap());
    let w = h.order.warranties();
    let spans: Vec<(u32, NaiveDate, NaiveDate)> = w.iter().map(|w| (w.days, w.from, w.until)).collect();
    assert_eq!(spans, [(30, released, released + Duration::days(30)), (90, released, released + Duration::days(90))]);
    // the part is covered up to its last day, not after; the labor still is
    let lines = h.order.warranty_return_lines(&[(1, 1), (1, 2)], released + Duration::days(30)).unwrap();
    assert!(lines.iter().all(|l| l.unit_price.is_zero() && l.warranty_days == Some(0)));
    assert_eq!(lines[0].description, "Peça P-001");
    let late = h.order.warranty_return_lines(&[(1, 2), (1, 1)], released + Duration::days(31));
    assert!(matches!(late, Err(WarrantyError::Expired { index: 1, .. })), "{late:?}");
    assert!(matches!(h.order.warranty_return_lines(&[(1, 3)], released), Err(WarrantyError::UnknownLine { .. })));
    assert!(matches!(
        h.order.warranty_return_lines(&[(1, 1), (1, 1)], released),
        Err(WarrantyError::Twice { index: 1 })
    ));
    // the return is recorded on the first order, also once closed, once per return
    h.ok(Command::Close);
    let link = WarrantyLink { order: OrderId::parse("01900000-0000-7000-8000-000000000002").unwrap(), number: 2 };
    h.ok(Command::RecordWarrantyReturn { link: link.clone() });
    assert_eq!(h.order.warranty_returns.len(), 1);
    assert_eq!(h.order.warranty_returns[0], link);
    assert!(h.try_(Command::RecordWarrantyReturn { link }).is_err());
    assert_eq!(h.status(), "encerrada");
}

/// The unlock code: never on the order or its events (only that one is kept); left or removed while open by the
/// staff who open orders, read only by tecnico and representante (each read an event), and forgotten by the step
/// that closes or cancels the order.
#[test]
fn the_unlock_code_is_kept_read_and_forgotten_at_close_or_cancel() {
    let mut cmd = open_cmd(vec![labor("50.00")]);
    cmd.intake = Some(Intake { unlock_code: true, ..Intake::default() });
    let flow = Flow::default_flow();
    let e = decide_open(&flow, cmd, &rep(), t0()).unwrap();
    let order = Order::from_opened(&e).unwrap();
    assert!(order.has_unlock_code());
    let mut h = Harness { flow, order, events: vec![e], now: t0(), invoicing: Invoicing::default() };
    let read = h.try_as(&staff(&[Role::Tecnico]), Command::ReadUnlockCode).unwrap();
    assert_eq!(read[0].change, Change::UnlockCodeRead);
    assert!(matches!(
        h.try_as(&staff(&[Role::Atendente]), Command::ReadUnlockCode),
        Err(DomainError::RoleNotAllowed { .. })
    ));
    assert!(matches!(
        h.try_as(&staff(&[Role::Financeiro]), Command::ChangeUnlockCode { set: true }),
        Err(DomainError::RoleNotAllowed { .. })
    ));
    // Removed, then left again, while open.
    let removed = h.try_as(&staff(&[Role::Atendente]), Command::ChangeUnlockCode { set: false }).unwrap();
    assert!(removed[0].change.forgets_unlock_code() && !h.order.has_unlock_code());
    assert!(h.try_(Command::ChangeUnlockCode { set: false }).is_err(), "nothing to remove");
    assert!(h.try_(Command::ReadUnlockCode).is_err(), "nothing to read");
    h.ok(Command::ChangeUnlockCode { set: true });
    assert!(h.order.has_unlock_code());
    // Cancelled: the code is forgotten by the same step.
    let mut cancelled = Harness {
        flow: h.flow.clone(),
        order: h.order.clone(),
        events: h.events.clone(),
        now: h.now,
        invoicing: h.invoicing,
    };
    let events = cancelled.ok(Command::Cancel { reason: "desistiu".into(), refund: None });
    assert_eq!(events.last().unwrap().change, Change::UnlockCodeDeleted);
    assert!(!cancelled.order.has_unlock_code());
    // Closed: the same.
    h.walk_to_validation();
    h.ok(Command::RequestPayment);
    h.ok(Command::RegisterPayment { amount: money("50.00"), method: PaymentMethod::Pix, reference: None });
    h.ok(Command::Release);
    assert!(h.order.has_unlock_code(), "kept until the order closes");
    let events = h.ok(Command::Close);
    let types: Vec<&str> = events.iter().map(|e| e.change.type_name()).collect();
    assert_eq!(types, ["order.closed", "order.unlock_code_deleted"]);
    assert!(!h.order.has_unlock_code());
}

/// Intake photos: photos of the equipment as received, at opening or before the work starts; never after.
#[test]
fn intake_photos_are_taken_before_the_work_starts() {
    let mut h = Harness::default();
    let photo = |intake: bool, content_type: &str| Command::AddAttachment {
        key: "acme/o1/entrada.jpg".into(),
        content_type: content_type.into(),
        caption: Some("Tampa riscada".into()),
        visible_to_customer: false,
        intake,
    };
    h.ok(photo(true, "image/jpeg"));
    let err = h.try_(photo(true, "application/pdf")).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field, .. } if field == "intake"));
    h.approve();
    h.ok(photo(true, "image/png"));
    h.ok(Command::Start);
    let err = h.try_(photo(true, "image/jpeg")).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field, .. } if field == "intake"), "after the start");
    h.ok(photo(false, "image/jpeg"));
    assert_eq!(h.order.attachments.iter().filter(|a| a.intake).count(), 2);
}

#[test]
fn a_warranty_return_opens_linked_with_the_intake() {
    let mut cmd = open_cmd(vec![labor("0.00")]);
    cmd.warranty_of =
        Some(WarrantyLink { order: OrderId::parse("01900000-0000-7000-8000-000000000009").unwrap(), number: 9 });
    cmd.intake = Some(Intake {
        accessories: vec![" Carregador ".into(), "Capa".into()],
        condition: Some("Riscado".into()),
        ..Intake::default()
    });
    let e = decide_open(&Flow::default_flow(), cmd.clone(), &rep(), t0()).unwrap();
    let o = Order::from_opened(&e).unwrap();
    assert_eq!(o.warranty_of.as_ref().map(|l| l.number), Some(9));
    assert_eq!(o.intake.as_ref().unwrap().accessories, ["Carregador", "Capa"]);
    cmd.intake = Some(Intake { accessories: vec!["".into()], ..Intake::default() });
    let err = decide_open(&Flow::default_flow(), cmd, &rep(), t0()).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field, .. } if field == "intake.accessories[0]"));
}

#[test]
fn wrong_status_is_refused_naming_it() {
    let mut h = Harness::default();
    for cmd in [
        Command::Start,
        Command::Finish { tests_performed: None },
        Command::Release,
        Command::Close,
        Command::RequestPayment,
        Command::MaterialArrived,
        decide_cmd(QuoteDecision::Approve, None),
    ] {
        let name = cmd.name();
        let err = h.try_(cmd).unwrap_err();
        assert!(
            matches!(&err, DomainError::NotAllowedInStatus { status, .. } if status.as_str() == "aberta"),
            "{name}: {err:?}"
        );
    }
    assert_eq!(h.order.version, 1, "nothing applied");
}

#[test]
fn roles_are_enforced() {
    let mut h = Harness::default();
    let fin = staff(&[Role::Financeiro]);
    let err = h.try_as(&fin, Command::SendQuote).unwrap_err();
    assert!(matches!(err, DomainError::RoleNotAllowed { ref allowed, .. } if allowed.contains(&Role::Atendente)));
    let tec = staff(&[Role::Tecnico]);
    h.try_as(&tec, Command::SendQuote).unwrap();
    // a técnico cannot record the customer's decision; an atendente can
    assert!(matches!(
        h.try_as(&tec, decide_cmd(QuoteDecision::Approve, None)).unwrap_err(),
        DomainError::RoleNotAllowed { .. }
    ));
    h.try_as(&staff(&[Role::Atendente]), decide_cmd(QuoteDecision::Approve, None)).unwrap();
    // the customer may decide only quotes
    let customer = Actor::Customer { name: Some("Maria".into()) };
    assert!(matches!(h.try_as(&customer, Command::Start).unwrap_err(), DomainError::RoleNotAllowed { .. }));
    // payments: not by a técnico
    assert!(matches!(
        h.try_as(
            &tec,
            Command::RegisterPayment { amount: money("1.00"), method: PaymentMethod::Cash, reference: None }
        )
        .unwrap_err(),
        DomainError::RoleNotAllowed { .. }
    ));
    // invoices are recorded by the system only
    let invoice = InvoiceInfo {
        kind: DocumentKind::Nfe,
        issued_elsewhere: None,
        sequence: None,
        state: InvoiceState::Pending,
        serie: 1,
        number: 1,
        key: "k".into(),
        protocol: None,
        cstat: None,
        message: None,
    };
    assert!(matches!(
        h.try_as(&rep(), Command::RecordInvoice { invoice: invoice.clone() }).unwrap_err(),
        DomainError::RoleNotAllowed { .. }
    ));
    h.try_as(&Actor::System { component: "invoicer".into() }, Command::RecordInvoice { invoice }).unwrap();
}

#[test]
fn opening_validates_input_and_roles() {
    let flow = Flow::default_flow();
    let mut cmd = open_cmd(vec![part("P-1", "1", "10.00")]);
    cmd.customer.name = "   ".into();
    assert!(
        matches!(decide_open(&flow, cmd, &rep(), t0()).unwrap_err(), DomainError::Invalid { field, .. } if field == "customer.name")
    );
    let mut cmd = open_cmd(vec![part("P-1", "1", "-1.00")]);
    cmd.items[0].unit_price = money("-1.00");
    assert!(
        matches!(decide_open(&flow, cmd, &rep(), t0()).unwrap_err(), DomainError::Invalid { field, .. } if field == "items[0].unit_price")
    );
    let mut cmd = open_cmd(vec![part("P-1", "1", "10.00")]);
    cmd.items[0].ncm = None;
    assert!(
        matches!(decide_open(&flow, cmd, &rep(), t0()).unwrap_err(), DomainError::Invalid { field, .. } if field == "items[0].ncm")
    );
    let mut cmd = open_cmd(vec![]);
    cmd.due_date = Some(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    assert!(
        matches!(decide_open(&flow, cmd, &rep(), t0()).unwrap_err(), DomainError::Invalid { field, .. } if field == "due_date")
    );
    let err = decide_open(&flow, open_cmd(vec![]), &staff(&[Role::Financeiro]), t0()).unwrap_err();
    assert!(matches!(err, DomainError::RoleNotAllowed { .. }));
    // an order may be opened without lines, but its quote cannot be sent empty
    let mut h = Harness::new(Flow::default_flow(), vec![]);
    assert!(matches!(h.try_(Command::SendQuote).unwrap_err(), DomainError::Invalid { field, .. } if field == "quote"));
}

#[test]
fn adjustment_makes_a_new_revision() {
    let mut h = Harness::default();
    h.ok(Command::SendQuote);
    assert!(
        matches!(h.try_(decide_cmd(QuoteDecision::Adjust, None)).unwrap_err(), DomainError::Invalid { field, .. } if field == "comment")
    );
    h.ok(decide_cmd(QuoteDecision::Adjust, Some("Sem a fonte, só o reparo")));
    assert_eq!(h.status(), "aberta");
    assert_eq!(h.order.quote[0].status, RevisionStatus::AdjustmentRequested);
    // cannot send the adjusted revision again without revising
    assert!(h.try_(Command::SendQuote).is_err());
    let past = Command::ReviseQuote {
        items: vec![labor("120.00")],
        due_date: NaiveDate::from_ymd_opt(2026, 11, 30),
        discount: None,
    };
    assert!(matches!(h.try_(past).unwrap_err(), DomainError::Invalid { field, .. } if field == "due_date"));
    h.ok(Command::ReviseQuote { items: vec![labor("120.00")], due_date: None, discount: None });
    assert_eq!(h.order.quote.len(), 2);
    assert_eq!(h.order.current_revision().unwrap().revision, 2);
    assert_eq!(h.order.current_revision().unwrap().status, RevisionStatus::Draft);
    h.ok(Command::SendQuote);
    // a decision on the old revision is stale
    let stale = Command::DecideQuote {
        revision: Some(1),
        decision: QuoteDecision::Approve,
        lines: vec![],
        comment: None,
        evidence: None,
    };
    assert_eq!(h.try_(stale).unwrap_err(), DomainError::StaleRevision { revision: 1 });
    // revising while waiting sends the new revision at once and supersedes the old
    h.ok(Command::ReviseQuote { items: vec![labor("110.00")], due_date: Some(date(20)), discount: None });
    assert_eq!(h.status(), "aguardando_aprovacao");
    assert_eq!(h.order.quote[1].status, RevisionStatus::Superseded);
    assert_eq!(h.order.quote[2].status, RevisionStatus::Sent);
    assert_eq!(h.order.due_date, Some(date(20)));
    h.ok(Command::DecideQuote {
        revision: Some(3),
        decision: QuoteDecision::Approve,
        lines: vec![],
        comment: None,
        evidence: None,
    });
    assert_eq!(h.order.amount_due(), money("110.00"));
}

#[test]
fn rejection_cancels() {
    let mut h = Harness::default();
    h.ok(Command::SendQuote);
    h.try_as(&Actor::Customer { name: None }, decide_cmd(QuoteDecision::Reject, Some("Muito caro"))).unwrap();
    assert_eq!(h.status(), "cancelada");
    assert_eq!(h.order.cancel_reason.as_deref(), Some("Muito caro"));
}

#[test]
fn per_line_decisions() {
    let mut h = Harness::new(Flow::default_flow(), vec![part("P-1", "2", "10.00"), labor("50.00")]);
    h.ok(Command::SendQuote);
    let bad = Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![(9, LineDecision::Approve)],
        comment: None,
        evidence: None,
    };
    assert!(matches!(h.try_(bad).unwrap_err(), DomainError::Invalid { field, .. } if field == "lines[0].line"));
    let none = Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![(1, LineDecision::Reject), (2, LineDecision::Reject)],
        comment: None,
        evidence: None,
    };
    assert!(h.try_(none).is_err());
    h.ok(Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![(1, LineDecision::Reject)],
        comment: None,
        evidence: None,
    });
    assert_eq!(h.status(), "aprovada");
    assert_eq!(h.order.amount_due(), money("50.00"));
    assert_eq!(h.order.approved_parts().count(), 0);
    // a flow without per-line approval refuses line decisions
    let mut flow = Flow::default_flow();
    flow.def.per_line_approval = false;
    let mut h = Harness::new(flow, vec![part("P-1", "1", "10.00"), labor("50.00")]);
    h.ok(Command::SendQuote);
    let cmd = Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![(1, LineDecision::Reject)],
        comment: None,
        evidence: None,
    };
    assert!(matches!(h.try_(cmd).unwrap_err(), DomainError::Invalid { field, .. } if field == "lines"));
}

#[test]
fn discounts_per_line_and_per_revision() {
    let value = |s: &str| Some(Discount::Value { value: money(s) });
    let pct = |s: &str| Some(Discount::Percent { percent: Percent::parse(s).unwrap() });
    let mut p = part("P-001", "1", "149.90");
    p.discount = value("9.90");
    let mut l = labor("120.00");
    l.discount = pct("10");
    let mut h = Harness::new(Flow::default_flow(), vec![p.clone(), l.clone()]);
    let r = h.order.current_revision().unwrap().clone();
    assert_eq!((r.lines[0].net(), r.lines[1].net()), (money("140.00"), money("108.00")));
    assert_eq!((r.subtotal(), r.discount_total, r.total), (money("269.90"), money("21.90"), money("248.00")));
    // the revision's 10 % (24.80) is shared over 140.00 and 108.00: 14.00 and 10.80
    h.ok(Command::ReviseQuote { items: vec![p.clone(), l.clone()], due_date: None, discount: pct("10") });
    let r = h.order.current_revision().unwrap().clone();
    assert_eq!((r.lines[0].discount_total, r.lines[1].discount_total), (money("23.90"), money("22.80")));
    assert_eq!((r.parts_total, r.labor_total, r.total), (money("126.00"), money("97.20"), money("223.20")));
    // over the line or over the revision: refused, naming the field
    let mut over = labor("120.00");
    over.discount = value("120.01");
    let err = h.try_(Command::ReviseQuote { items: vec![over], due_date: None, discount: None }).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "items[0].discount"), "{err:?}");
    let err = h.try_(Command::ReviseQuote { items: vec![l.clone()], due_date: None, discount: value("108.01") });
    assert!(matches!(err.unwrap_err(), DomainError::Invalid { field, .. } if field == "discount"));
    let mut neg = labor("120.00");
    neg.discount = value("-1.00");
    assert!(h.try_(Command::ReviseQuote { items: vec![neg], due_date: None, discount: None }).is_err());
    // a whole discount leaves the line at zero, never below
    let err = h.ok(Command::ReviseQuote { items: vec![l], due_date: None, discount: value("108.00") });
    assert_eq!(err.len(), 1);
    assert_eq!(h.order.current_revision().unwrap().total, Money::zero());
    // the customer owes the approved lines after their discounts
    h.ok(Command::ReviseQuote { items: vec![p, labor("50.00")], due_date: None, discount: value("10.00") });
    h.ok(Command::SendQuote);
    h.ok(Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![(2, LineDecision::Reject)],
        comment: None,
        evidence: None,
    });
    // 10.00 over 140.00 and 50.00: 7.37 and 2.63; the part costs 140.00 − 7.37
    assert_eq!(h.order.amount_due(), money("132.63"));
}

#[test]
fn extra_items_go_back_to_the_customer() {
    let mut h = Harness::default();
    h.approve();
    h.ok(Command::Start);
    h.ok(Command::Finish { tests_performed: None });
    let evs = h.ok(Command::Validate { checklist: checklist(true), extra_items: vec![part("P-9", "1", "35.00")] });
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0].status_after.as_str(), "em_validacao");
    assert_eq!(h.status(), "aguardando_aprovacao");
    let supp = h.order.current_revision().unwrap();
    assert!(supp.supplementary);
    assert_eq!(supp.status, RevisionStatus::Sent);
    assert!(h.order.pending_extra_items());
    // approved extra items: back to execution, amount grows
    h.try_as(&Actor::Customer { name: Some("Maria".into()) }, decide_cmd(QuoteDecision::Approve, None)).unwrap();
    assert_eq!(h.status(), "em_execucao");
    assert_eq!(h.order.amount_due(), money("304.90"));
    h.ok(Command::Finish { tests_performed: None });
    h.ok(Command::Validate { checklist: checklist(true), extra_items: vec![part("P-10", "1", "5.00")] });
    // rejected extra items: back to validation, amount unchanged, payment can be requested
    h.ok(decide_cmd(QuoteDecision::Reject, None));
    assert_eq!(h.status(), "em_validacao");
    assert_eq!(h.order.amount_due(), money("304.90"));
    assert!(h.order.cancel_reason.is_none());
    h.ok(Command::RequestPayment);
}

#[test]
fn guards_name_what_failed() {
    let mut h = Harness::default();
    h.approve();
    h.ok(Command::Start);
    h.ok(Command::Finish { tests_performed: None });
    h.ok(Command::Validate { checklist: checklist(false), extra_items: vec![] });
    let err = h.try_(Command::RequestPayment).unwrap_err();
    assert_eq!(err, DomainError::GuardFailed { action: "request_payment".into(), guard: Guard::ChecklistComplete });
    // in-place checklist update while in validation
    h.ok(Command::Validate { checklist: checklist(true), extra_items: vec![] });
    assert_eq!(h.status(), "em_validacao");
    h.ok(Command::RequestPayment);
    let err = h.try_(Command::Release).unwrap_err();
    assert_eq!(err, DomainError::GuardFailed { action: "release".into(), guard: Guard::PaidInFull });
    h.ok(Command::RegisterPayment { amount: money("269.90"), method: PaymentMethod::Cash, reference: None });
    h.invoicing = Invoicing { nfe: true, nfse: false };
    let err = h.try_(Command::Release).unwrap_err();
    assert_eq!(err, DomainError::GuardFailed { action: "release".into(), guard: Guard::InvoiceAuthorized });
    let invoice = authorized_nfe();
    h.try_as(&Actor::System { component: "invoicer".into() }, Command::RecordInvoice { invoice }).unwrap();
    h.ok(Command::Release);
}

fn system() -> Actor {
    Actor::System { component: "invoicer".into() }
}

/// The order's NF-e number 7, authorized (cStat 100).
fn authorized_nfe() -> InvoiceInfo {
    InvoiceInfo {
        kind: DocumentKind::Nfe,
        issued_elsewhere: None,
        sequence: None,
        state: InvoiceState::Authorized,
        serie: 1,
        number: 7,
        key: NFE_KEY.into(),
        protocol: Some("135260000000001".into()),
        cstat: Some(100),
        message: None,
    }
}

fn document(kind: DocumentKind, key: &str, state: InvoiceState) -> InvoiceInfo {
    InvoiceInfo {
        kind,
        state,
        serie: 1,
        number: 1,
        key: key.into(),
        protocol: None,
        cstat: None,
        message: None,
        issued_elsewhere: None,
        sequence: None,
    }
}

/// Walks an order of `items` to `aguardando_pagamento`, paid in full.
fn paid(items: Vec<LineInput>, invoicing: Invoicing) -> Harness {
    let mut h = Harness::new(Flow::default_flow(), items);
    h.approve();
    h.ok(Command::Start);
    h.ok(Command::Finish { tests_performed: None });
    h.ok(Command::Validate { checklist: checklist(true), extra_items: vec![] });
    h.ok(Command::RequestPayment);
    let due = h.order.balance();
    h.ok(Command::RegisterPayment { amount: due, method: PaymentMethod::Pix, reference: None });
    h.invoicing = invoicing;
    h
}

const BOTH: Invoicing = Invoicing { nfe: true, nfse: true };
const NFE_KEY: &str = "35261212345678000195550010000000071234567890";
const DPS_1: &str = "DPS355030721234567800019500001000000000000001";
const DPS_2: &str = "DPS355030721234567800019500001000000000000002";

#[test]
fn the_release_waits_for_every_document_the_order_needs() {
    let refused = DomainError::GuardFailed { action: "release".into(), guard: Guard::InvoiceAuthorized };
    // parts and labor: the NF-e and the NFS-e
    let mut h = paid(vec![part("P-001", "1", "149.90"), labor("120.00")], BOTH);
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    h.try_as(
        &system(),
        Command::RecordInvoice { invoice: document(DocumentKind::Nfe, NFE_KEY, InvoiceState::Authorized) },
    )
    .unwrap();
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused, "the NFS-e is still missing");
    // two service codes: two DPS, both recorded pending before either is sent
    for key in [DPS_1, DPS_2] {
        h.try_as(
            &system(),
            Command::RecordInvoice { invoice: document(DocumentKind::Nfse, key, InvoiceState::Pending) },
        )
        .unwrap();
    }
    h.try_as(
        &system(),
        Command::RecordInvoice { invoice: document(DocumentKind::Nfse, DPS_1, InvoiceState::Authorized) },
    )
    .unwrap();
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused, "one DPS still pending");
    assert_eq!(h.order.invoices.len(), 3, "a record of a listed document replaces it");
    h.try_as(
        &system(),
        Command::RecordInvoice { invoice: document(DocumentKind::Nfse, DPS_2, InvoiceState::Authorized) },
    )
    .unwrap();
    assert!(h.order.fiscal_documents_ready(BOTH));
    h.ok(Command::Release);
    assert_eq!(h.order.nfe().unwrap().key, NFE_KEY);
    assert_eq!(h.order.documents(DocumentKind::Nfse).count(), 2);

    // a consultancy (labor only) waits for its NFS-e alone, and a cancelled one does not count
    let mut h = paid(vec![labor("800.00")], BOTH);
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    h.try_as(
        &system(),
        Command::RecordInvoice { invoice: document(DocumentKind::Nfse, DPS_1, InvoiceState::Cancelled) },
    )
    .unwrap();
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    // a company whose NFS-e is not issued through osflow is not held by it
    h.invoicing = Invoicing { nfe: true, nfse: false };
    h.ok(Command::Release);
}

#[test]
fn an_nfse_issued_elsewhere_stands_for_the_labor_once() {
    let mut h = paid(vec![labor("800.00")], BOTH);
    let external = |number| Command::RecordExternalNfse {
        number,
        verification_code: "AB12-CD34".into(),
        file: Some("orders/x/nfse/externa.pdf".into()),
    };
    let tec = staff(&[Role::Tecnico]);
    assert!(matches!(h.try_as(&tec, external(42)).unwrap_err(), DomainError::RoleNotAllowed { .. }));
    assert!(matches!(h.try_as(&system(), external(42)).unwrap_err(), DomainError::RoleNotAllowed { .. }));
    assert!(matches!(h.try_(external(0)).unwrap_err(), DomainError::Invalid { field, .. } if field == "number"));
    let blank = Command::RecordExternalNfse { number: 42, verification_code: " ".into(), file: None };
    assert!(matches!(h.try_(blank).unwrap_err(), DomainError::Invalid { field, .. } if field == "verification_code"));
    h.ok(external(42));
    assert!(matches!(h.try_(external(42)).unwrap_err(), DomainError::Invalid { field, .. } if field == "number"));
    let doc = h.order.document(&external_key(42)).unwrap();
    assert_eq!((doc.kind, doc.state, doc.number), (DocumentKind::Nfse, InvoiceState::Authorized, 42));
    assert_eq!(doc.issued_elsewhere.as_ref().unwrap().verification_code, "AB12-CD34");
    // nothing to send again
    assert!(matches!(h.try_(Command::RetryInvoice { key: None }).unwrap_err(), DomainError::InvoiceNotRejected { .. }));
    h.ok(Command::Release);

    // no labor: nothing an NFS-e could stand for
    let mut parts_only = paid(vec![part("P-001", "1", "149.90")], BOTH);
    assert!(
        matches!(parts_only.try_(external(7)).unwrap_err(), DomainError::Invalid { field, .. } if field == "number")
    );
}

#[test]
fn a_retry_names_one_document_or_takes_every_failed_one() {
    let mut h = paid(vec![part("P-001", "1", "149.90"), labor("120.00")], BOTH);
    let record = |h: &mut Harness, kind, key, state| {
        h.try_as(&system(), Command::RecordInvoice { invoice: document(kind, key, state) }).unwrap();
    };
    record(&mut h, DocumentKind::Nfe, NFE_KEY, InvoiceState::Authorized);
    record(&mut h, DocumentKind::Nfse, DPS_1, InvoiceState::Rejected);
    record(&mut h, DocumentKind::Nfse, DPS_2, InvoiceState::Rejected);
    let not = |key: &str| Command::RetryInvoice { key: Some(key.into()) };
    assert!(matches!(
        h.try_(not(NFE_KEY)).unwrap_err(),
        DomainError::InvoiceNotRejected { state: Some(InvoiceState::Authorized) }
    ));
    assert!(matches!(h.try_(not("DPS0")).unwrap_err(), DomainError::InvoiceNotRejected { state: None }));
    assert!(matches!(
        h.try_as(&staff(&[Role::Atendente]), not(DPS_1)).unwrap_err(),
        DomainError::RoleNotAllowed { .. }
    ));
    let events = h.ok(not(DPS_1));
    assert_eq!(events.len(), 1);
    assert_eq!(h.order.document(DPS_1).unwrap().state, InvoiceState::Pending);
    assert_eq!(h.order.document(DPS_2).unwrap().state, InvoiceState::Rejected);
    record(&mut h, DocumentKind::Nfse, DPS_1, InvoiceState::Rejected);
    let events = h.ok(Command::RetryInvoice { key: None });
    let keys: Vec<_> = events
        .iter()
        .map(|e| match &e.change {
            Change::InvoiceRetryRequested { key } => key.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, [DPS_1, DPS_2]);
}

/// The NFS-e's latest attempt decides, as the NF-e's: a DPS of an earlier DPS sequence (the emitter moved from
/// homologação to produção, or back) is superseded, neither holding the release nor sent again.
#[test]
fn a_dps_of_an_earlier_sequence_does_not_hold_the_release() {
    let refused = DomainError::GuardFailed { action: "release".into(), guard: Guard::InvoiceAuthorized };
    let in_seq = |key: &str, state, seq: &str| InvoiceInfo {
        sequence: Some(seq.into()),
        ..document(DocumentKind::Nfse, key, state)
    };
    let record = |h: &mut Harness, invoice: InvoiceInfo| {
        h.try_as(&system(), Command::RecordInvoice { invoice }).unwrap();
    };
    let (hom, prod) = ("12345678000195/1/H", "12345678000195/1");
    let mut h = paid(vec![labor("800.00")], BOTH);
    record(&mut h, in_seq(DPS_2, InvoiceState::Rejected, hom));
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    // produção: a new sequence; the homologação DPS is superseded, the new one pending holds the release
    record(&mut h, in_seq(DPS_1, InvoiceState::Pending, prod));
    assert!(h.order.superseded(h.order.document(DPS_2).unwrap()));
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    let events = h.ok(Command::RetryInvoice { key: None });
    assert_eq!(events.len(), 1, "the superseded DPS is not sent again");
    assert!(matches!(
        h.try_(Command::RetryInvoice { key: Some(DPS_2.into()) }).unwrap_err(),
        DomainError::InvoiceNotRejected { state: Some(InvoiceState::Rejected) }
    ));
    record(&mut h, in_seq(DPS_1, InvoiceState::Authorized, prod));
    assert!(h.order.fiscal_documents_ready(BOTH));
    // back to homologação: the old DPS sent again is the latest attempt, to the end of the list
    record(&mut h, in_seq(DPS_2, InvoiceState::Pending, hom));
    let keys: Vec<_> = h.order.documents(DocumentKind::Nfse).map(|i| i.key.as_str()).collect();
    assert_eq!(keys, [DPS_1, DPS_2]);
    assert!(h.order.superseded(h.order.document(DPS_1).unwrap()));
    assert!(!h.order.fiscal_documents_ready(BOTH));
    record(&mut h, in_seq(DPS_2, InvoiceState::Authorized, hom));
    h.ok(Command::Release);

    // Sequences number apart, so a DPS Id comes again in another environment: it is the new attempt, not a
    // stale record of the first (an issued homologação DPS 1 does not refuse the pending produção DPS 1).
    let mut h = paid(vec![labor("800.00")], BOTH);
    record(&mut h, in_seq(DPS_1, InvoiceState::Authorized, hom));
    record(&mut h, in_seq(DPS_1, InvoiceState::Pending, prod));
    assert_eq!(h.order.documents(DocumentKind::Nfse).count(), 1);
    assert_eq!(h.try_(Command::Release).unwrap_err(), refused);
    // within one sequence a record behind what the order shows is still stale
    record(&mut h, in_seq(DPS_1, InvoiceState::Authorized, prod));
    let late = in_seq(DPS_1, InvoiceState::Pending, prod);
    assert!(matches!(
        h.try_as(&system(), Command::RecordInvoice { invoice: late }).unwrap_err(),
        DomainError::InvoiceRecordStale { .. }
    ));
    h.ok(Command::Release);
}

/// Orders and events written when an order held one `invoice` (an NF-e) still read, and fold the same.
#[test]
fn records_of_the_single_invoice_still_read() {
    let mut h = paid(vec![part("P-001", "1", "149.90"), labor("120.00")], Invoicing { nfe: true, nfse: false });
    h.try_as(
        &system(),
        Command::RecordInvoice { invoice: document(DocumentKind::Nfe, NFE_KEY, InvoiceState::Rejected) },
    )
    .unwrap();
    h.ok(Command::RetryInvoice { key: None });
    // the events as they were written then: no `kind` on the invoice
    let mut old_events = serde_json::to_value(&h.events).unwrap();
    let mut stripped = 0;
    for e in old_events.as_array_mut().unwrap() {
        if let Some(inv) = e.pointer_mut("/change/invoice").and_then(|v| v.as_object_mut()) {
            assert_eq!(inv.remove("kind"), Some(serde_json::json!("nfe")));
            stripped += 1;
        }
    }
    assert!(stripped > 0, "no event carried an invoice: {old_events}");
    let events: Vec<Event> = serde_json::from_value(old_events).unwrap();
    assert_eq!(events, h.events);
    assert_eq!(Order::replay(&events).unwrap(), h.order);
    // the order item as it was stored then: `invoice` (one, without kind) instead of `invoices`
    let mut old_order = serde_json::to_value(&h.order).unwrap();
    let obj = old_order.as_object_mut().unwrap();
    let mut one = obj.remove("invoices").unwrap()[0].clone();
    one.as_object_mut().unwrap().remove("kind");
    obj.insert("invoice".into(), one);
    let back: Order = serde_json::from_value(old_order.clone()).unwrap();
    assert_eq!(back, h.order);
    old_order.as_object_mut().unwrap().insert("invoice".into(), serde_json::Value::Null);
    assert!(serde_json::from_value::<Order>(old_order).unwrap().invoices.is_empty());
}

#[test]
fn payments_are_checked() {
    let mut h = Harness::default();
    let pay =
        |amount: &str| Command::RegisterPayment { amount: money(amount), method: PaymentMethod::Pix, reference: None };
    // no approved quote yet
    assert!(matches!(h.try_(pay("10.00")).unwrap_err(), DomainError::NotAllowedInStatus { .. }));
    h.approve();
    // a deposit in aprovada
    h.ok(pay("50.00"));
    assert_eq!(h.order.balance(), money("219.90"));
    assert!(matches!(h.try_(pay("0.00")).unwrap_err(), DomainError::Invalid { field, .. } if field == "amount"));
    assert!(matches!(h.try_(pay("-1.00")).unwrap_err(), DomainError::Invalid { field, .. } if field == "amount"));
    assert!(matches!(h.try_(pay("219.91")).unwrap_err(), DomainError::Invalid { field, .. } if field == "amount"));
    h.ok(pay("219.90"));
    assert!(h.order.paid_in_full());
    assert_eq!(h.order.payments.len(), 2);
}

#[test]
fn material_wait_rules() {
    let mut h = Harness::default();
    h.approve();
    h.ok(Command::Start);
    let yesterday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let past = Command::WaitMaterial { reason: "Fonte".into(), parts: vec![], expected_at: yesterday };
    assert!(matches!(h.try_(past).unwrap_err(), DomainError::Invalid { field, .. } if field == "expected_at"));
    let no_reason = Command::WaitMaterial { reason: " ".into(), parts: vec![], expected_at: date(5) };
    assert!(matches!(h.try_(no_reason).unwrap_err(), DomainError::Invalid { field, .. } if field == "reason"));
    assert!(matches!(
        h.try_(Command::ChangeMaterialDate { expected_at: date(9) }).unwrap_err(),
        DomainError::NotAllowedInStatus { .. }
    ));
    h.ok(Command::WaitMaterial { reason: "Fonte".into(), parts: vec!["P-001".into()], expected_at: date(5) });
    assert!(h.try_(Command::ChangeMaterialDate { expected_at: date(5) }).is_err());
    h.ok(Command::ChangeMaterialDate { expected_at: date(9) });
    assert!(matches!(
        h.try_(Command::Finish { tests_performed: None }).unwrap_err(),
        DomainError::NotAllowedInStatus { .. }
    ));
}

#[test]
fn cancel_needs_a_reason_and_a_non_final_status() {
    let mut h = Harness::default();
    assert!(
        matches!(h.try_(Command::Cancel { reason: "".into(), refund: None }).unwrap_err(), DomainError::Invalid { field, .. } if field == "reason")
    );
    h.ok(Command::Cancel { reason: "Cliente desistiu".into(), refund: None });
    assert_eq!(h.status(), "cancelada");
    assert_eq!(h.order.cancel_reason.as_deref(), Some("Cliente desistiu"));
    assert!(h.try_(Command::Cancel { reason: "de novo".into(), refund: None }).is_err());
}

fn diagnostic_flow() -> Flow {
    let mut def = Flow::default_flow().def;
    def.statuses.insert(
        1,
        StatusDef {
            key: key("diagnostico"),
            label: "Diagnóstico".into(),
            kind: StatusKind::Custom,
            notify: false,
            channels: vec![],
            sla_hours: Some(48),
        },
    );
    let t = |from: &str, action, to: &str| Transition {
        from: key(from),
        to: key(to),
        action,
        roles: vec![Role::Tecnico, Role::Representante],
        guards: vec![],
    };
    def.transitions.push(t("aberta", Action::Move, "diagnostico"));
    def.transitions.push(t("diagnostico", Action::SendQuote, "aguardando_aprovacao"));
    def.transitions.push(t("diagnostico", Action::Cancel, "cancelada"));
    Flow::publish(def, 2).unwrap()
}

#[test]
fn custom_status_and_move() {
    let mut h = Harness::new(diagnostic_flow(), vec![labor("80.00")]);
    assert_eq!(h.order.flow_version, 2);
    assert!(matches!(
        h.try_(Command::Move { to: key("liberada") }).unwrap_err(),
        DomainError::NotAllowedInStatus { .. }
    ));
    h.ok(Command::Move { to: key("diagnostico") });
    assert_eq!(h.status(), "diagnostico");
    h.ok(Command::SendQuote);
    assert_eq!(h.status(), "aguardando_aprovacao");
    // wrong flow version is refused
    let err = decide(&h.order, &Flow::default_flow(), Command::Start, &rep(), &ctx(t0())).unwrap_err();
    assert_eq!(err, DomainError::FlowVersionMismatch { expected: 2, got: 1 });
}

#[test]
fn flow_without_validation_step() {
    let mut def = Flow::default_flow().def;
    def.statuses.retain(|s| s.key.as_str() != "em_validacao");
    def.transitions.retain(|t| t.from.as_str() != "em_validacao" && t.to.as_str() != "em_validacao");
    def.transitions.push(Transition {
        from: key("finalizada"),
        to: key("aguardando_pagamento"),
        action: Action::RequestPayment,
        roles: vec![Role::Atendente, Role::Representante],
        guards: vec![],
    });
    let mut h = Harness::new(Flow::publish(def, 3).unwrap(), vec![labor("80.00")]);
    h.approve();
    h.ok(Command::Start);
    h.ok(Command::Finish { tests_performed: None });
    assert!(h.try_(Command::Validate { checklist: checklist(true), extra_items: vec![] }).is_err());
    h.ok(Command::RequestPayment);
    h.ok(Command::RegisterPayment { amount: money("80.00"), method: PaymentMethod::Debit, reference: None });
    h.ok(Command::Release);
    h.ok(Command::Close);
}

#[test]
fn time_per_status_from_the_timeline() {
    let mut h = Harness::default();
    h.walk_to_validation();
    // Harness advances one hour per command.
    let times = time_in_status(&h.events, h.now + Duration::hours(5));
    assert_eq!(times[&key("aberta")], Duration::hours(1));
    assert_eq!(times[&key("aguardando_aprovacao")], Duration::hours(1));
    assert_eq!(times[&key("em_validacao")], Duration::hours(5));
    let s = stays(h.events.iter().rev());
    assert_eq!(s.first().unwrap().status.as_str(), "aberta");
    assert_eq!(s.last().unwrap().left_at, None);
    assert_eq!(s.len(), 6);
}

#[test]
fn replay_rejects_broken_histories() {
    let mut h = Harness::default();
    h.approve();
    assert_eq!(Order::replay(&h.events[1..]).unwrap_err(), ReplayError::NotOpened);
    let mut gap = h.events.clone();
    gap.remove(1);
    assert!(matches!(Order::replay(&gap).unwrap_err(), ReplayError::Gap { .. }));
}

#[test]
fn events_round_trip_through_json() {
    let mut h = Harness::default();
    h.walk_to_validation();
    for e in &h.events {
        let json = serde_json::to_string(e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e);
    }
    let json = serde_json::to_string(&h.order).unwrap();
    assert!(json.contains("\"total\":\"269.90\""), "{json}");
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back, h.order);
}

#[test]
fn edits_of_an_open_order_are_events_and_refused_once_closed() {
    let mut h = Harness::default();
    let phone = osflow_domain::values::Phone::parse("+55 11 91234-5678").unwrap();
    let customer = Customer { phone: Some(phone.clone()), ..h.order.customer.clone() };
    let events = h.ok(Command::EditCustomer { customer: customer.clone(), customer_id: None });
    assert_eq!(events[0].change.type_name(), "order.customer_edited");
    assert_eq!(h.order.customer.phone, Some(phone));
    assert_eq!(events[0].status_after, events[0].status_before.clone().unwrap(), "no status change");
    // The same data again changes nothing.
    let again = h.try_(Command::EditCustomer { customer, customer_id: None }).unwrap_err();
    assert!(matches!(again, DomainError::Invalid { ref field, .. } if field == "customer"));
    // A document the parser accepts but osflow reserves.
    let reserved = Customer { document: osflow_domain::records::anonymized_document(), ..h.order.customer.clone() };
    let err = h.try_(Command::EditCustomer { customer: reserved, customer_id: None }).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "customer.document"));

    h.ok(Command::ChangeDueDate { due_date: date(20) });
    assert_eq!(h.order.due_date, Some(date(20)));
    assert!(h.try_(Command::ChangeDueDate { due_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() }).is_err());
    let tec = UserId::parse("tec-1").unwrap();
    h.ok(Command::AssignTechnician { technician: tec.clone() });
    let reassigned = h.ok(Command::AssignTechnician { technician: UserId::parse("tec-2").unwrap() });
    assert!(matches!(&reassigned[0].change, Change::TechnicianAssigned { previous: Some(p), .. } if *p == tec));
    let by_tecnico = h.try_as(&staff(&[Role::Tecnico]), Command::ChangeDueDate { due_date: date(21) });
    assert!(matches!(by_tecnico, Err(DomainError::RoleNotAllowed { .. })));

    h.ok(Command::Cancel { reason: "desistiu".into(), refund: None });
    let closed = h.try_(Command::EditEquipment { equipment: h.order.equipment.clone(), equipment_id: None });
    assert!(matches!(closed, Err(DomainError::NotAllowedInStatus { .. })));
    // The erasure reaches a cancelled order too, by the representante only, once.
    let by_atendente = h.try_as(&staff(&[Role::Atendente]), Command::AnonymizeCustomer);
    assert!(matches!(by_atendente, Err(DomainError::RoleNotAllowed { .. })));
    h.ok(Command::AnonymizeCustomer);
    assert!(h.order.customer_anonymized());
    assert_eq!(h.order.customer.name, "Cliente anonimizado");
    assert!(h.try_(Command::AnonymizeCustomer).is_err());
}

#[test]
fn the_anonymized_history_keeps_no_comment_of_the_customer_and_folds_into_the_same_state() {
    let mut h = Harness::default();
    h.ok(Command::SendQuote);
    h.ok(decide_cmd(QuoteDecision::Adjust, Some("Ligar para Maria no 98765-4321")));
    h.ok(Command::AnonymizeCustomer);
    // Told again after the erasure: new data, which the order holds.
    h.ok(Command::ReviseQuote { items: vec![labor("100.00")], due_date: None, discount: None });
    h.ok(Command::SendQuote);
    h.ok(decide_cmd(QuoteDecision::Approve, Some("Pode fazer")));
    let at = osflow_domain::records::anonymized_at(&h.events).expect("anonymized");
    let rewritten: Vec<Event> = h.events.iter().map(|e| e.anonymized_up_to(at)).collect();
    assert_eq!(Order::replay(&rewritten).unwrap(), h.order, "the same state");
    let text = serde_json::to_string(&rewritten).unwrap();
    assert!(!text.contains("Maria") && !text.contains("98765"), "{text}");
    assert!(text.contains("Pode fazer"), "what came after the erasure is kept");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// No discount, an amount (at times over the line: refused) or a percentage (0 to 100).
    fn discount() -> impl Strategy<Value = Option<Discount>> {
        prop_oneof![
            Just(None),
            (0i64..60_000).prop_map(|c| Some(Discount::Value { value: Money::from_cents(c).unwrap() })),
            (0u32..=10_000).prop_map(|h| Some(Discount::Percent {
                percent: Percent::parse(&format!("{}.{:02}", h / 100, h % 100)).unwrap()
            })),
        ]
    }

    /// A command generator that covers every step with plausible and implausible arguments.
    fn command() -> impl Strategy<Value = (u8, Command)> {
        let cents = 1u64..50_000;
        prop_oneof![
            Just(Command::SendQuote),
            (cents.clone(), 1u32..4, discount(), discount(), discount()).prop_map(|(c, q, d1, d2, whole)| {
                let mut p = part("P", &q.to_string(), &Money::from_cents(c as i64).unwrap().to_string());
                let mut l = labor(&Money::from_cents((c / 2) as i64).unwrap().to_string());
                (p.discount, l.discount) = (d1, d2);
                Command::ReviseQuote { items: vec![p, l], due_date: None, discount: whole }
            }),
            (0u8..3, any::<bool>()).prop_map(|(d, per_line)| Command::DecideQuote {
                revision: None,
                decision: [QuoteDecision::Approve, QuoteDecision::Reject, QuoteDecision::Adjust][d as usize],
                lines: if per_line && d == 0 { vec![(1, LineDecision::Reject)] } else { vec![] },
                comment: Some("ajuste".into()),
                evidence: None,
            }),
            Just(Command::Start),
            Just(Command::AddNote { text: "nota".into(), visible_to_customer: true }),
            (2u32..28).prop_map(|d| Command::WaitMaterial {
                reason: "peça".into(),
                parts: vec![],
                expected_at: date(d)
            }),
            (2u32..28).prop_map(|d| Command::ChangeMaterialDate { expected_at: date(d) }),
            Just(Command::MaterialArrived),
            Just(Command::Finish { tests_performed: None }),
            (any::<bool>(), any::<bool>()).prop_map(|(ok, extra)| Command::Validate {
                checklist: checklist(ok),
                extra_items: if extra { vec![part("X", "1", "12.34")] } else { vec![] },
            }),
            Just(Command::RequestPayment),
            (cents, 0u8..6).prop_map(|(c, m)| Command::RegisterPayment {
                amount: Money::from_cents(c as i64).unwrap(),
                method: [
                    PaymentMethod::Pix,
                    PaymentMethod::Cash,
                    PaymentMethod::Credit,
                    PaymentMethod::Debit,
                    PaymentMethod::Boleto,
                    PaymentMethod::Transfer
                ][m as usize],
                reference: None,
            }),
            Just(Command::RegisterPayment { amount: Money::zero(), method: PaymentMethod::Pix, reference: None }),
            Just(Command::Release),
            Just(Command::Close),
            Just(Command::Cancel { reason: "desistiu".into(), refund: None }),
            Just(Command::Move { to: key("diagnostico") }),
            Just(Command::RetryInvoice { key: None }),
            (1u64..3).prop_map(|n| Command::RecordExternalNfse {
                number: n,
                verification_code: "V".into(),
                file: None
            }),
            (any::<bool>(), 0u8..5, 1u8..3).prop_map(|(nfse, s, k)| Command::RecordInvoice {
                invoice: document(
                    if nfse { DocumentKind::Nfse } else { DocumentKind::Nfe },
                    if k == 1 { DPS_1 } else { DPS_2 },
                    [
                        InvoiceState::Pending,
                        InvoiceState::Authorized,
                        InvoiceState::Rejected,
                        InvoiceState::Denied,
                        InvoiceState::Cancelled
                    ][s as usize],
                ),
            }),
            (0u8..3).prop_map(|p| Command::EditCustomer {
                customer: Customer {
                    phone: Some(osflow_domain::values::Phone::parse(&format!("+55 11 98765-432{p}")).unwrap()),
                    ..open_cmd(vec![]).customer
                },
                customer_id: None,
            }),
            (0u8..3).prop_map(|n| Command::EditEquipment {
                equipment: Equipment { serial: Some(format!("SN-{n}")), ..open_cmd(vec![]).equipment },
                equipment_id: None,
            }),
            (2u32..28).prop_map(|d| Command::ChangeDueDate { due_date: date(d) }),
            (0u8..3)
                .prop_map(|t| Command::AssignTechnician { technician: UserId::parse(&format!("tec-{t}")).unwrap() }),
            Just(Command::AnonymizeCustomer),
            any::<bool>().prop_map(|set| Command::ChangeUnlockCode { set }),
            Just(Command::ReadUnlockCode),
        ]
        .prop_flat_map(|c| (0u8..5, Just(c)))
    }

    fn actor(i: u8) -> Actor {
        match i {
            0 => rep(),
            1 => staff(&[Role::Atendente]),
            2 => staff(&[Role::Tecnico]),
            3 => staff(&[Role::Financeiro]),
            _ => system(),
        }
    }

    fn check_run(flow: Flow, cmds: Vec<(u8, Command)>) -> Result<(), TestCaseError> {
        let mut h = Harness::new(flow.clone(), vec![part("P-001", "3", "33.33"), labor("100.01")]);
        for (a, cmd) in cmds {
            let before = h.order.clone();
            let status_before = before.status.clone();
            // The system records a fiscal document's state in any status (a cancellation after the OS closed).
            let record = matches!(cmd, Command::RecordInvoice { .. });
            match h.try_as(&actor(a), cmd) {
                Ok(events) => {
                    for e in &events {
                        // every status change follows a transition of the flow (or stays put)
                        if let (Some(from), Some(action)) = (&e.status_before, e.action) {
                            prop_assert!(
                                flow.def
                                    .transitions
                                    .iter()
                                    .any(|t| &t.from == from && t.to == e.status_after && t.action == action),
                                "{from} -{action}-> {} not in the flow",
                                e.status_after
                            );
                        } else {
                            prop_assert_eq!(e.status_before.as_ref(), Some(&e.status_after));
                        }
                    }
                    let anonymized = events.iter().all(|e| e.change == Change::CustomerAnonymized);
                    prop_assert!(record || anonymized || !flow.kind_of(&status_before).unwrap().is_final());
                }
                Err(_) => prop_assert_eq!(&h.order, &before, "a refusal changes nothing"),
            }
            prop_assert!(flow.status(&h.order.status).is_some());
            // an order in a final status keeps no unlock code
            prop_assert!(!flow.kind_of(&h.order.status).unwrap().is_final() || !h.order.has_unlock_code());
            // money stays exact to the centavo
            let paid: Money = h.order.payments.iter().map(|p| p.amount).sum();
            prop_assert_eq!(h.order.balance(), h.order.amount_due() - paid);
            prop_assert!(!h.order.balance().is_negative());
            for r in &h.order.quote {
                // discounts: exact to the centavo, never below zero
                let gross: Money = r.lines.iter().map(|l| l.total).sum();
                let net: Money = r.lines.iter().map(|l| l.net()).sum();
                prop_assert_eq!(r.subtotal(), gross);
                prop_assert_eq!(r.total, net);
                prop_assert_eq!(r.discount_total, r.lines.iter().map(|l| l.discount_total).sum::<Money>());
                prop_assert_eq!(r.total, r.parts_total + r.labor_total);
                prop_assert!(!r.total.is_negative() && !r.discount_total.is_negative());
                for l in &r.lines {
                    prop_assert!(!l.discount_total.is_negative() && l.discount_total <= l.total);
                    let own = l.discount.map_or(Money::zero(), |d| d.on(l.total).unwrap());
                    prop_assert!(l.discount_total >= own);
                }
                if let Some(d) = r.discount {
                    let after_own: Money = r
                        .lines
                        .iter()
                        .map(|l| l.total - l.discount.map_or(Money::zero(), |d| d.on(l.total).unwrap()))
                        .sum();
                    prop_assert_eq!(r.subtotal() - r.total, gross - after_own + d.on(after_own).unwrap());
                }
                let approved: Money = r.lines.iter().filter(|l| l.is_approved()).map(|l| l.net()).sum();
                if r.status == RevisionStatus::Approved {
                    prop_assert_eq!(r.approved_total, approved);
                }
            }
        }
        prop_assert_eq!(Order::replay(&h.events).unwrap(), h.order.clone());
        prop_assert_eq!(h.order.version, h.events.len() as u64);
        if h.order.customer_anonymized() {
            // The history rewritten without the customer's data folds into the same state, and neither holds
            // the customer's name, document, e-mail or phone.
            let at = osflow_domain::records::anonymized_at(&h.events).expect("the anonymization in the history");
            let scrubbed: Vec<Event> = h.events.iter().map(|e| e.anonymized_up_to(at)).collect();
            prop_assert_eq!(Order::replay(&scrubbed).unwrap(), h.order.clone());
            let text =
                format!("{}{}", serde_json::to_string(&h.order).unwrap(), serde_json::to_string(&scrubbed).unwrap());
            for personal in ["Maria", "52998224725", "maria@", "98765"] {
                prop_assert!(!text.contains(personal), "{personal} left after anonymization");
            }
        }
        Ok(())
    }

    proptest! {
        /// A warranty of `days` from the release day covers every day up to `release + days` and none after,
        /// whatever the hour of the release (São Paulo days).
        #[test]
        fn warranty_periods_by_dates(minutes in 0i64..(3 * 365 * 24 * 60), days in 0u32..=3650, probe in 0i64..4000) {
            let released_at = t0() + Duration::minutes(minutes);
            let from = osflow_domain::warranty::today(released_at);
            let until = osflow_domain::warranty::warranty_until(from, days);
            prop_assert_eq!((until - from).num_days(), i64::from(days));
            let day = from + Duration::days(probe);
            prop_assert_eq!(day <= until, probe <= i64::from(days));
            // a release late in the evening (UTC before 03:00) still counts on the São Paulo day
            let sp = released_at - Duration::hours(3);
            prop_assert_eq!(from, sp.date_naive());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 192,
            max_global_rejects: 50_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_commands_on_the_default_flow(cmds in prop::collection::vec(command(), 1..60)) {
            check_run(Flow::default_flow(), cmds)?;
        }

        /// Random valid flows: the default flow (with the custom status) minus a random set of transitions,
        /// kept when `Flow::validate` accepts it.
        #[test]
        fn random_commands_on_random_valid_flows(
            cmds in prop::collection::vec(command(), 1..60),
            keep in prop::collection::vec(prop::bool::weighted(0.85), 32),
        ) {
            let mut def = diagnostic_flow().def;
            let mut i = 0;
            def.transitions.retain(|_| { i += 1; keep[(i - 1) % keep.len()] });
            prop_assume!(def.validate().is_ok());
            check_run(Flow::publish(def, 9).unwrap(), cmds)?;
        }

        #[test]
        fn random_commands_on_a_custom_flow(cmds in prop::collection::vec(command(), 1..60), drop_validation in any::<bool>()) {
            let mut def = diagnostic_flow().def;
            if drop_validation {
                def.statuses.retain(|s| s.key.as_str() != "em_validacao");
                def.transitions.retain(|t| t.from.as_str() != "em_validacao" && t.to.as_str() != "em_validacao");
                def.transitions.push(Transition {
                    from: key("finalizada"),
                    to: key("aguardando_pagamento"),
                    action: Action::RequestPayment,
                    roles: vec![Role::Atendente],
                    guards: vec![],
                });
            }
            check_run(Flow::publish(def, 7).unwrap(), cmds)?;
        }
    }
}

#[test]
fn attachments_and_the_photo_guard() {
    let mut def = Flow::default_flow().def;
    let finish = def.transitions.iter_mut().find(|t| t.action == Action::Finish).unwrap();
    finish.guards.push(Guard::AtLeastOnePhoto);
    let mut h = Harness::new(Flow::publish(def, 4).unwrap(), vec![labor("80.00")]);
    h.approve();
    h.ok(Command::Start);
    let err = h.try_(Command::Finish { tests_performed: None }).unwrap_err();
    assert_eq!(err, DomainError::GuardFailed { action: "finish".into(), guard: Guard::AtLeastOnePhoto });
    // a PDF is not a photo
    h.ok(Command::AddAttachment {
        key: "acme/o1/laudo.pdf".into(),
        content_type: "application/pdf".into(),
        caption: None,
        visible_to_customer: false,
        intake: false,
    });
    assert!(h.try_(Command::Finish { tests_performed: None }).is_err());
    let bad = Command::AddAttachment {
        key: " ".into(),
        content_type: "image/jpeg".into(),
        caption: None,
        visible_to_customer: true,
        intake: false,
    };
    assert!(matches!(h.try_(bad).unwrap_err(), DomainError::Invalid { field, .. } if field == "key"));
    h.ok(Command::AddAttachment {
        key: "acme/o1/placa.jpg".into(),
        content_type: "image/jpeg".into(),
        caption: Some("Placa após limpeza".into()),
        visible_to_customer: true,
        intake: false,
    });
    assert_eq!(h.order.attachments.len(), 2);
    h.ok(Command::Finish { tests_performed: None });
    assert_eq!(h.status(), "finalizada");
}

#[test]
fn notes_are_kept_in_order_with_their_visibility() {
    let mut h = Harness::default();
    h.ok(Command::AddNote { text: "Cliente pediu urgência".into(), visible_to_customer: false });
    h.ok(Command::AddNote { text: "Recebido na loja".into(), visible_to_customer: true });
    assert_eq!(h.order.notes.len(), 2);
    assert!(!h.order.notes[0].visible_to_customer);
    assert!(h.order.notes[1].visible_to_customer);
    assert!(matches!(
        h.try_(Command::AddNote { text: "\u{7}".into(), visible_to_customer: true }).unwrap_err(),
        DomainError::Invalid { field, .. } if field == "text"
    ));
    assert_eq!(h.status(), "aberta", "notes change no status");
}

fn record(ok: bool) -> Command {
    Command::RecordNotification {
        channel: "email".into(),
        to_masked: "jo***@exemplo.com.br".into(),
        template: "closed".into(),
        ok,
        error: (!ok).then(|| "SES: throttled".into()),
        for_version: Some(3),
    }
}

#[test]
fn notification_records_only_by_the_system_in_any_status() {
    let notifier = Actor::System { component: "notifier".into() };
    let mut h = Harness::default();
    // Staff and the customer cannot record a notification.
    for actor in [rep(), Actor::Customer { name: None }] {
        let err = h.try_as(&actor, record(true)).unwrap_err();
        assert_eq!(err, DomainError::RoleNotAllowed { action: "record_notification".into(), allowed: vec![] });
    }
    // The system records in an open status: no status change, listed on the order.
    let ev = h.try_as(&notifier, record(false)).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].change.type_name(), "order.notification_sent");
    assert!(!ev[0].changes_status());
    assert_eq!(ev[0].action, None);
    assert_eq!(h.status(), "aberta");
    assert_eq!(h.order.notifications.len(), 1);
    assert_eq!(h.order.notifications[0].error.as_deref(), Some("SES: throttled"));
    assert!(!h.order.notifications[0].ok);
    // ... and in a final status, where nothing else is allowed.
    h.ok(Command::Cancel { reason: "Cliente desistiu".into(), refund: None });
    assert_eq!(h.status(), "cancelada");
    let ev = h.try_as(&notifier, record(true)).unwrap();
    assert_eq!(ev[0].status_before, ev[0].status_after.clone().into());
    assert_eq!(h.status(), "cancelada");
    assert_eq!(h.order.notifications.len(), 2);
    assert!(h.order.notifications[1].ok);
    assert_eq!(h.order.notifications[1].to_masked, "jo***@exemplo.com.br");
    // Empty fields are refused.
    let err = h
        .try_as(
            &notifier,
            Command::RecordNotification {
                channel: " ".into(),
                to_masked: "x".into(),
                template: "closed".into(),
                ok: true,
                error: None,
                for_version: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field, .. } if field == "channel"));
}

/// An order with an authorized NF-e is cancelled only after its NF-e, and what was paid is refunded with the
/// cancellation (the whole amount, recorded on the order and its timeline).
#[test]
fn cancelling_a_paid_and_invoiced_order_needs_the_nfe_cancelled_and_a_refund() {
    let mut h = Harness::default();
    h.approve();
    h.ok(Command::RegisterPayment { amount: money("269.90"), method: PaymentMethod::Pix, reference: None });
    let system = Actor::System { component: "invoicer".into() };
    let mut invoice = authorized_nfe();
    h.try_as(&system, Command::RecordInvoice { invoice: invoice.clone() }).unwrap();
    let refund = || RefundInput { amount: money("269.90"), method: PaymentMethod::Pix, reference: Some("E123".into()) };
    let err = h.try_(Command::Cancel { reason: "Cliente desistiu".into(), refund: Some(refund()) }).unwrap_err();
    assert_eq!(err, DomainError::InvoiceNotCancelled { key: invoice.key.clone() });

    invoice.state = InvoiceState::Cancelled;
    h.try_as(&system, Command::RecordInvoice { invoice }).unwrap();
    let err = h.try_(Command::Cancel { reason: "Cliente desistiu".into(), refund: None }).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "refund"), "{err:?}");
    let partial = RefundInput { amount: money("100.00"), ..refund() };
    let err = h.try_(Command::Cancel { reason: "Cliente desistiu".into(), refund: Some(partial) }).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "refund.amount"), "{err:?}");

    let events = h.ok(Command::Cancel { reason: "Cliente desistiu".into(), refund: Some(refund()) });
    assert!(matches!(&events[0].change, Change::PaymentRefunded { refund } if refund.amount == money("269.90")));
    assert!(matches!(&events[1].change, Change::Cancelled { .. }));
    assert_eq!(h.status(), "cancelada");
    assert_eq!(h.order.amount_refunded(), money("269.90"));
    assert!(h.order.amount_kept().is_zero());
    assert_eq!(h.order.refunds[0].reference.as_deref(), Some("E123"));
}

#[test]
fn an_unpaid_order_is_cancelled_without_a_refund_and_refuses_one() {
    let mut h = Harness::default();
    let refund = RefundInput { amount: money("1.00"), method: PaymentMethod::Cash, reference: None };
    let err = h.try_(Command::Cancel { reason: "Desistiu".into(), refund: Some(refund) }).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "refund"), "{err:?}");
    h.ok(Command::Cancel { reason: "Desistiu".into(), refund: None });
}

/// Cartas de correção are recorded by the invoicer only, in sequence (1, 2…), at most 20 per NF-e.
#[test]
fn corrections_are_recorded_in_sequence_by_the_system() {
    let mut h = Harness::default();
    let system = Actor::System { component: "invoicer".into() };
    let correction = |seq: u8| InvoiceCorrection {
        key: "K".into(),
        seq,
        text: format!("Correção número {seq} do endereço"),
        protocol: Some(format!("1352600000000{seq:02}")),
        at: t0(),
    };
    let cmd = |seq| Command::RecordInvoiceCorrection { correction: correction(seq) };
    assert!(matches!(h.try_as(&rep(), cmd(1)).unwrap_err(), DomainError::RoleNotAllowed { .. }));
    assert!(h.try_as(&system, cmd(2)).is_err(), "2 before 1");
    for seq in 1..=MAX_CORRECTIONS {
        h.try_as(&system, cmd(seq)).unwrap();
    }
    assert!(h.try_as(&system, cmd(MAX_CORRECTIONS + 1)).is_err());
    assert!(h.try_as(&system, cmd(3)).is_err(), "a number used");
    assert_eq!(h.order.corrections_of("K").count(), usize::from(MAX_CORRECTIONS));
    assert_eq!(h.order.corrections_of("other").count(), 0);
}

#[test]
fn the_sla_deadline_follows_the_stay_until_its_alert() {
    let mut h = Harness::default();
    // Opened in `aberta` (24 h in the default flow).
    assert_eq!(h.events[0].sla_due, Some(t0() + Duration::hours(24)));
    assert_eq!(h.order.sla_due, Some(t0() + Duration::hours(24)));
    // A note is no new stay: the deadline stays.
    h.ok(Command::AddNote { text: "Placa limpa".into(), visible_to_customer: false });
    assert_eq!(h.order.sla_due, Some(t0() + Duration::hours(24)));
    // A new status with a limit: its own deadline (72 h from the entry).
    let sent = h.ok(Command::SendQuote);
    let entered = sent[0].at;
    assert_eq!(sent[0].sla_due, Some(entered + Duration::hours(72)));
    assert_eq!(h.order.sla_due, Some(entered + Duration::hours(72)));
    // Raising the alert clears it: nothing is due any more for that stay.
    h.now = entered + Duration::hours(80);
    h.try_as(&Actor::System { component: "sla-check".into() }, Command::FlagSlaBreach).unwrap();
    assert_eq!(h.order.sla_due, None);
    assert_eq!(h.order.sla_alerted_since, Some(entered));
    // A status without a limit has no deadline.
    h.ok(decide_cmd(QuoteDecision::Approve, None));
    assert_eq!(h.status(), "aprovada");
    assert!(h.order.sla_due.is_some());
    h.ok(Command::Start);
    assert_eq!(h.status(), "em_execucao");
    assert_eq!(h.order.sla_due, None);
    assert!(h.events.last().unwrap().sla_due.is_none());
}

/// An NF-e re-keyed for SEFAZ's contingency (tpEmis 6 and a new check digit, same number and cNF) is the same
/// document on the order: its record replaces the pending one, a late record of the old key is stale, and the
/// order shows where it was issued.
#[test]
fn an_nfe_rekeyed_for_contingency_replaces_its_record() {
    let mut h = Harness::default();
    h.approve();
    let system = Actor::System { component: "invoicer".into() };
    let normal = InvoiceInfo {
        kind: DocumentKind::Nfe,
        issued_elsewhere: None,
        sequence: None,
        state: InvoiceState::Pending,
        serie: 1,
        number: 7,
        key: "35261212345678000195550010000000071234567890".into(),
        protocol: None,
        cstat: None,
        message: None,
    };
    h.try_as(&system, Command::RecordInvoice { invoice: normal.clone() }).unwrap();
    assert_eq!(normal.contingency(), None);
    let svc = InvoiceInfo {
        key: "35261212345678000195550010000000076234567893".into(),
        state: InvoiceState::Authorized,
        protocol: Some("135260000000001".into()),
        cstat: Some(100),
        ..normal.clone()
    };
    h.try_as(&system, Command::RecordInvoice { invoice: svc.clone() }).unwrap();
    assert_eq!(h.order.invoices, vec![svc.clone()], "one NF-e, under its new key");
    assert_eq!(h.order.invoices[0].contingency(), Some("SVC-AN"));
    assert!(h.order.invoice_authorized());
    let err = h.try_as(&system, Command::RecordInvoice { invoice: normal.clone() }).unwrap_err();
    assert!(matches!(err, DomainError::InvoiceRecordStale { .. }), "{err:?}");
    // Another number of the same company is another NF-e.
    let other = InvoiceInfo { key: "35261212345678000195550010000000086234567890".into(), number: 8, ..normal };
    assert!(!other.is_record_of(&svc));
    assert!(osflow_domain::same_nfe(&svc.key, "35261212345678000195550010000000071234567890"));
}
