//! SLA alerts: an order that stays in its status beyond the status's limit (`sla_hours` of the flow) raises one
//! alert per stay — the `order.sla_breached` event (a System step through the outbox), which the notifier e-mails
//! to the company. Run on a schedule (EventBridge Scheduler in AWS, the report timer locally), one company at a
//! time ([`check_sla_for`]): one company's failure never stops the others; running it again raises nothing new
//! (the domain refuses a second alert for the same stay; the idempotency key guards races).

use std::collections::BTreeSet;

use chrono::Duration;
use osflow_app::{App, AppError, Idempotency, PageRequest, Rendered, StepRequest};
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

/// The SLA check of one company: raises the alert of each of its orders over its status's limit (at the app's
/// clock) that has none for its current stay; returns how many were raised. An order's failure is logged, the
/// company's other orders are still checked, and the first failure is returned after.
pub async fn check_sla_for(app: &App, tenant: &TenantId) -> Result<usize, ReportError> {
    let now = app.clock.now();
    let actor = Actor::System { component: SLA_COMPONENT.into() };
    let render = |_: &Order, _: &Flow| Rendered { status: 204, body: String::new() };
    let mut raised = 0;
    let mut first_error = None;
    let flow = app.current_flow(tenant).await?;
    for (status, hours) in flow.def.statuses.iter().filter_map(|s| s.sla_hours.map(|h| (s, h))) {
        let limit = Duration::hours(i64::from(hours));
        let mut page = PageRequest { limit: 100, cursor: None };
        loop {
            let found = app.orders.list_by_status(tenant, &status.key, &page).await?;
            for order in found
                .items
                .iter()
                .filter(|o| now - o.status_since > limit && o.sla_alerted_since != Some(o.status_since))
            {
                let idem = Idempotency {
                    key: format!("sla:{}:{}", order.id, order.status_since.timestamp_millis()),
                    request_hash: "order.sla_breached".into(),
                };
                match app
                    .step_as(
                        StepRequest::new(tenant, actor.clone(), &order.id, Command::FlagSlaBreach)
                            .idempotency(Some(&idem)),
                        &render,
                    )
                    .await
                {
                    Ok(_) => raised += 1,
                    // Alerted meanwhile, moved on, or runs on a flow version without this limit.
                    Err(AppError::Domain(DomainError::NotAllowedInStatus { .. }) | AppError::NotFound) => {}
                    Err(e) => {
                        tracing::warn!(tenant = %tenant, order_id = %order.id, error = %e, "SLA alert not raised");
                        first_error.get_or_insert(ReportError::App(e));
                    }
                }
            }
            match found.next {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(raised),
    }
}
