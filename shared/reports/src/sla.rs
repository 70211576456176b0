//! SLA alerts: an order that stays in its status beyond the status's limit (`sla_hours` of the flow) raises one
//! alert per stay — the `order.sla_breached` event (a System step through the outbox), which the notifier e-mails
//! to the company. Run on a schedule (EventBridge Scheduler in AWS, the report timer locally), one company at a
//! time ([`check_sla_for`]): one company's failure never stops the others; running it again raises nothing new
//! (the domain refuses a second alert for the same stay, and the step is conditional on the version it read).

use std::collections::BTreeSet;

use chrono::Duration;
use osflow_app::{App, AppError, PageRequest, Rendered, StepRequest};
use osflow_domain::values::TenantId;
use osflow_domain::{Actor, Command, DomainError, Flow, Order};

use crate::usecases::ReportError;

/// The companies checked: those with events in the last days (the active-company index of the report store).
pub const SLA_LOOKBACK_DAYS: i64 = 30;

/// The component name of the check on the order's timeline.
pub const SLA_COMPONENT: &str = "sla-check";

/// The companies the SLA check covers at the app's clock: those active in the last [`SLA_LOOKBACK_DAYS`] (the
/// active-company index, never a scan of the orders).
pub async fn sla_tenants(app: &App) -> Result<Vec<TenantId>, ReportError> {
    let today = osflow_domain::report::report_day(app.clock.now());
    let mut tenants = BTreeSet::new();
    for back in 0..SLA_LOOKBACK_DAYS {
        tenants.extend(app.reports.active_tenants(today - Duration::days(back)).await?);
    }
    Ok(tenants.into_iter().collect())
}

/// Raises the alert of every order over its status's limit (at the app's clock) that has none for its current
/// stay, for every company of [`sla_tenants`], one at a time; returns how many were raised. A company's failure
/// is logged and the others are still checked; the first failure is returned after.
pub async fn check_sla(app: &App) -> Result<usize, ReportError> {
    let mut raised = 0;
    let mut first_error = None;
    for tenant in sla_tenants(app).await? {
        match check_sla_for(app, &tenant).await {
            Ok(n) => raised += n,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "SLA check of the company failed");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(raised),
    }
}

/// The SLA check of one company: raises the alert of each of its orders whose current stay went over its
/// status's limit (at the app's clock) and has none yet; returns how many were raised. It reads only the orders
/// due ([`OrderStore::sla_due`](osflow_app::OrderStore::sla_due): the stores' index on the deadline, which an
/// alert takes the order out of), never every open order. An order's failure is logged, the company's other
/// orders are still checked, and the first failure is returned after.
pub async fn check_sla_for(app: &App, tenant: &TenantId) -> Result<usize, ReportError> {
    let now = app.clock.now();
    let actor = Actor::System { component: SLA_COMPONENT.into() };
    let render = |_: &Order, _: &Flow| Rendered { status: 204, body: String::new() };
    let mut raised = 0;
    let mut first_error = None;
    let mut page = PageRequest { limit: 100, cursor: None };
    loop {
        let due = app.orders.sla_due(tenant, now, &page).await?;
        for id in &due.items {
            // Two checks racing on one order: the step is conditional on the version it read, and the domain
            // refuses a second alert for the same stay, so the loser's retry ends in `NotAllowedInStatus`.
            match app.step_as(StepRequest::new(tenant, actor.clone(), id, Command::FlagSlaBreach), &render).await {
                Ok(_) => raised += 1,
                // Alerted meanwhile, moved on, or not over the limit of its flow version.
                Err(AppError::Domain(DomainError::NotAllowedInStatus { .. }) | AppError::NotFound) => {}
                Err(e) => {
                    tracing::warn!(tenant = %tenant, order_id = %id, error = %e, "SLA alert not raised");
                    first_error.get_or_insert(ReportError::App(e));
                }
            }
        }
        match due.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(raised),
    }
}
