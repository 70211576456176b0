//! What an actor may do to an order now: every command is tried through [`decide`] itself (pure, cheap), so the
//! answer comes from the flow version, the roles and the guards exactly as a step would, with no second copy of
//! any rule. A command refused only for its payload (an empty quote, a missing reason) is allowed: the front end
//! asks for the payload. A command refused by a guard is listed with the guard, so a screen can say why.

use crate::bounds::{ORDER_CONTENT_LIMIT_BYTES, order_bytes};
use crate::event::{Actor, QuoteDecision};
use crate::flow::{Action, Flow, Guard, StatusKey};
use crate::machine::{Command, Context, DomainError, decide_sized};
use crate::order::{Order, PaymentMethod};

/// One thing the actor may do to the order now (or could, but for `blocked_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedAction {
    /// The command's name (`Command::name`): `send_quote`, `register_payment`, `move`…
    pub action: &'static str,
    /// The status the order goes to, when the command moves it and the target is known before the payload
    /// (`decide_quote`'s depends on the decision: `None`).
    pub to: Option<StatusKey>,
    /// The first guard that fails now; `None` when the command would be accepted (given a valid payload).
    pub blocked_by: Option<Guard>,
}

/// More than the probes' placeholder payloads (a "-" text, an empty list, today's date) can add to an order.
const PROBE_GROWTH_BYTES: usize = 16 * 1024;

/// The commands the actor may give the order now, in the order of the flow's transitions followed by the
/// commands that do not move the order. System-only commands are never listed.
pub fn allowed_actions(order: &Order, flow: &Flow, actor: &Actor, ctx: &Context) -> Vec<AllowedAction> {
    let today = ctx.now.date_naive();
    let mut probes: Vec<Command> = Vec::new();
    let mut seen: Vec<Action> = Vec::new();
    for t in flow.def.transitions.iter().filter(|t| t.from == order.status) {
        if t.action == Action::Move {
            probes.push(Command::Move { to: t.to.clone() });
            continue;
        }
        if seen.contains(&t.action) {
            continue;
        }
        seen.push(t.action);
        probes.push(probe(t.action, today));
    }
    // Updating the checklist while in validation is a `validate` without a transition.
    if !seen.contains(&Action::Validate) {
        probes.push(Command::Validate { checklist: vec![], extra_items: vec![] });
    }
    probes.push(Command::AddNote { text: "-".into(), visible_to_customer: false });
    probes.push(Command::AddAttachment {
        key: "-".into(),
        content_type: "image/jpeg".into(),
        caption: None,
        visible_to_customer: false,
        intake: false,
    });
    // Nothing to pay is not a payment to offer.
    if order.balance().cents() > 0 {
        probes.push(Command::RegisterPayment { amount: order.balance(), method: PaymentMethod::Pix, reference: None });
    }
    if let Some(material) = &order.material {
        probes.push(Command::ChangeMaterialDate { expected_at: material.expected_at.succ_opt().unwrap_or(today) });
    }
    if !order.invoices.is_empty() {
        probes.push(Command::RetryInvoice { key: None });
    }
    // The probes' placeholder payloads add far less than PROBE_GROWTH_BYTES to an order: when the order is that
    // far below the smaller limit, no probe can be refused for the size, and the check (which serializes the
    // order) is left out of each probe.
    let check_size = order_bytes(order) + PROBE_GROWTH_BYTES > ORDER_CONTENT_LIMIT_BYTES;
    let mut out: Vec<AllowedAction> = Vec::new();
    for cmd in probes {
        let name = cmd.name();
        let target = match &cmd {
            Command::Move { to } => Some(to.clone()),
            _ => None,
        };
        let transition_to = || {
            let action = Action::ALL.into_iter().find(|a| a.as_str() == name)?;
            let mut targets = flow.transitions_from(&order.status, action).filter(|t| actor.has_any_role(&t.roles));
            let first = targets.next()?.to.clone();
            targets.next().is_none().then_some(first)
        };
        let (to, blocked_by) = match decide_sized(order, flow, cmd, actor, ctx, check_size) {
            Ok(events) => {
                let moved = events.last().map(|e| e.status_after.clone()).filter(|s| *s != order.status);
                (target.or(moved), None)
            }
            Err(DomainError::Invalid { .. } | DomainError::StaleRevision { .. }) => {
                (target.or_else(transition_to), None)
            }
            Err(DomainError::GuardFailed { guard, .. }) => (target.or_else(transition_to), Some(guard)),
            Err(_) => continue,
        };
        let to = if name == "decide_quote" { None } else { to };
        out.push(AllowedAction { action: name, to, blocked_by });
    }
    out
}

/// A command of `action` with a placeholder payload, to be tried through [`decide`] (`Move` has no payload-free
/// probe: its target is the payload).
fn probe(action: Action, today: chrono::NaiveDate) -> Command {
    match action {
        Action::SendQuote => Command::SendQuote,
        Action::ReviseQuote => Command::ReviseQuote { items: vec![], due_date: None, discount: None },
        Action::DecideQuote => Command::DecideQuote {
            revision: None,
            decision: QuoteDecision::Approve,
            lines: vec![],
            comment: None,
            evidence: None,
        },
        Action::Start => Command::Start,
        Action::WaitMaterial => Command::WaitMaterial { reason: "-".into(), parts: vec![], expected_at: today },
        Action::Resume => Command::MaterialArrived,
        Action::Finish => Command::Finish { tests_performed: None },
        Action::Validate => Command::Validate { checklist: vec![], extra_items: vec![] },
        Action::RequestPayment => Command::RequestPayment,
        Action::Release => Command::Release,
        Action::Close => Command::Close,
        Action::Cancel => Command::Cancel { reason: "-".into(), refund: None },
        Action::Move => unreachable!("a move is probed with its target"),
    }
}

/// Whether the actor may give the order a command named `name` (`Command::name`) now, whatever its payload:
/// `Err(RoleNotAllowed)` when [`decide`] would refuse it for the actor's roles alone, so that a front end can
/// answer 403 before it reads the payload. Anything else (a status that does not allow the command, a guard, a
/// bad payload) is left to the step itself: `Ok`. A command of a flow transition is open when any transition of
/// its action out of the order's status is open to one of the actor's roles (which one the payload picks).
pub fn may_give(order: &Order, flow: &Flow, actor: &Actor, ctx: &Context, name: &str) -> Result<(), DomainError> {
    let today = ctx.now.date_naive();
    let action = Action::ALL.into_iter().find(|a| a.as_str() == name);
    if let Some(action) = action
        && flow.transitions_from(&order.status, action).any(|t| actor.has_any_role(&t.roles))
    {
        return Ok(());
    }
    let cmd = match (action, name) {
        (Some(Action::Move), _) => match flow.transitions_from(&order.status, Action::Move).next() {
            Some(t) => Command::Move { to: t.to.clone() },
            None => return Ok(()),
        },
        (Some(action), _) => probe(action, today),
        (None, "add_note") => Command::AddNote { text: "-".into(), visible_to_customer: false },
        (None, "add_attachment") => Command::AddAttachment {
            key: "-".into(),
            content_type: "image/jpeg".into(),
            caption: None,
            visible_to_customer: false,
            intake: false,
        },
        (None, "register_payment") => {
            Command::RegisterPayment { amount: order.balance(), method: PaymentMethod::Pix, reference: None }
        }
        (None, "change_material_date") => Command::ChangeMaterialDate { expected_at: today },
        (None, "retry_invoice") => Command::RetryInvoice { key: None },
        (None, "resend_link") => Command::ResendLink,
        _ => return Ok(()),
    };
    // Only the role matters here, which `decide` checks before the size.
    match decide_sized(order, flow, cmd, actor, ctx, false) {
        Err(e @ DomainError::RoleNotAllowed { .. }) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Actor;
    use crate::flow::Role;
    use crate::machine::{OpenOrder, decide, decide_open};
    use crate::values::UserId;
    use chrono::{TimeZone, Utc};

    fn staff(role: Role) -> Actor {
        Actor::staff(UserId::parse("u1").unwrap(), vec![role])
    }

    fn opened(flow: &Flow, ctx: &Context) -> Order {
        let cmd = OpenOrder {
            items: vec![crate::testing::labor("", "Mão de obra", "1", "100.00")],
            ..crate::testing::opening("t1", 1)
        };
        let e = decide_open(flow, cmd, &staff(Role::Atendente), ctx.now).unwrap();
        Order::from_opened(&e).unwrap()
    }

    fn run(order: &mut Order, flow: &Flow, cmd: Command, actor: &Actor, ctx: &Context) {
        for e in decide(order, flow, cmd, actor, ctx).unwrap() {
            order.apply(&e);
        }
    }

    fn names(list: &[AllowedAction]) -> Vec<&'static str> {
        list.iter().map(|a| a.action).collect()
    }

    #[test]
    fn actions_follow_the_flow_roles_and_guards() {
        let flow = Flow::default_flow();
        let ctx = Context::at(Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap());
        let mut order = opened(&flow, &ctx);
        let atendente = staff(Role::Atendente);
        let financeiro = staff(Role::Financeiro);
        assert_eq!(
            names(&allowed_actions(&order, &flow, &atendente, &ctx)),
            ["revise_quote", "send_quote", "cancel", "add_note", "add_attachment"]
        );
        // The financeiro has no transition out of "aberta" in the default flow.
        assert_eq!(names(&allowed_actions(&order, &flow, &financeiro, &ctx)), ["add_note", "add_attachment"]);
        let send = allowed_actions(&order, &flow, &atendente, &ctx).into_iter().find(|a| a.action == "send_quote");
        assert_eq!(send.unwrap().to.unwrap().as_str(), "aguardando_aprovacao");
        run(&mut order, &flow, Command::SendQuote, &atendente, &ctx);
        let decide_quote = Command::DecideQuote {
            revision: None,
            decision: QuoteDecision::Approve,
            lines: vec![],
            comment: None,
            evidence: None,
        };
        run(&mut order, &flow, decide_quote, &atendente, &ctx);
        // Approved: a payment may be registered by the financeiro, not by the técnico.
        assert!(names(&allowed_actions(&order, &flow, &financeiro, &ctx)).contains(&"register_payment"));
        assert!(!names(&allowed_actions(&order, &flow, &staff(Role::Tecnico), &ctx)).contains(&"register_payment"));
        for cmd in [Command::Start, Command::Finish { tests_performed: None }] {
            run(&mut order, &flow, cmd, &staff(Role::Tecnico), &ctx);
        }
        run(&mut order, &flow, Command::Validate { checklist: vec![], extra_items: vec![] }, &atendente, &ctx);
        // In validation with an empty checklist: the payment request is listed, blocked by its guard.
        let request = allowed_actions(&order, &flow, &atendente, &ctx)
            .into_iter()
            .find(|a| a.action == "request_payment")
            .expect("request_payment listed");
        assert_eq!(request.blocked_by, Some(Guard::ChecklistComplete));
        assert_eq!(request.to.unwrap().as_str(), "aguardando_pagamento");
    }

    #[test]
    fn a_command_may_be_given_when_decide_would_not_refuse_it_for_the_roles() {
        let flow = Flow::default_flow();
        let ctx = Context::at(Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap());
        let order = opened(&flow, &ctx);
        let financeiro = staff(Role::Financeiro);
        let tecnico = staff(Role::Tecnico);
        let refused = |actor: &Actor, name: &str| {
            matches!(may_give(&order, &flow, actor, &ctx, name), Err(DomainError::RoleNotAllowed { .. }))
        };
        // A transition out of "aberta" not open to the financeiro; one open to the técnico.
        assert!(refused(&financeiro, "revise_quote"));
        assert!(!refused(&tecnico, "revise_quote"));
        // Not a transition: the payment roles of `decide`.
        assert!(refused(&tecnico, "register_payment"));
        assert!(!refused(&financeiro, "register_payment"));
        assert!(!refused(&financeiro, "add_note"));
        // A command the status does not allow is left to the step (409), whoever asks.
        assert!(may_give(&order, &flow, &financeiro, &ctx, "finish").is_ok());
        assert!(may_give(&order, &flow, &financeiro, &ctx, "move").is_ok());
    }
}
