//! The consumer of the `reports` queue.

use osflow_app::{App, StoreError};
use osflow_domain::Change;
use osflow_domain::report::{DayAggregate, SlaLimits, contribution, sla_limits};
use osflow_domain::values::{OrderId, TenantId};

/// The consumer's name (logs, dedupe keys of its announcements).
pub const CONSUMER: &str = "reporter";

/// Rounds of read-merge-write on a day that other events keep changing meanwhile.
const COUNT_ROUNDS: u32 = 10;

/// Keeps the report aggregates from the events.
///
/// A company's events of one day all update one item: the reports queue hands them over one at a time (one FIFO
/// group per company, in AWS and on the embedded relay), so the rounds below only absorb a rare race.
#[derive(Clone)]
pub struct Reporter {
    pub app: App,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter").finish_non_exhaustive()
    }
}

impl Reporter {
    /// The reporter over `app`'s stores.
    pub fn new(app: App) -> Reporter {
        Reporter { app }
    }

    /// Counts version `version` of the order (its bus `event_id`: `<order>:<version>`). Idempotent: a counted
    /// event changes nothing. An error means "not counted now" (the message comes back).
    pub async fn count(&self, tenant: &TenantId, order_id: &OrderId, version: u64) -> Result<(), String> {
        let app = &self.app;
        let event_id = format!("{order_id}:{version}");
        if app.reports.event_counted(tenant, &event_id).await.map_err(|e| e.to_string())? {
            return Ok(());
        }
        // The order's events up to this one are committed before the event leaves the outbox.
        let history = app.orders.timeline(tenant, order_id).await.map_err(|e| e.to_string())?;
        let sla: SlaLimits = match history.iter().find(|e| e.version == 1).map(|e| &e.change) {
            // `flow_version`: version 1 is the implicit default flow (never stored), with its limits.
            Some(Change::Opened(opened)) => {
                sla_limits(&app.flow_version(tenant, opened.flow_version).await.map_err(|e| e.to_string())?.def)
            }
            _ => SlaLimits::new(),
        };
        let delta = contribution(&history, version, &sla).map_err(|e| e.to_string())?;
        for _ in 0..COUNT_ROUNDS {
            let stored = app.reports.day(tenant, delta.day).await.map_err(|e| e.to_string())?;
            let (mut aggregate, day_version) = match stored {
                Some(s) => (s.aggregate, s.version),
                None => (DayAggregate::new(delta.day), 0),
            };
            aggregate.merge(&delta);
            match app.reports.count_event(tenant, &event_id, &aggregate, day_version).await {
                Ok(()) | Err(StoreError::AlreadyExists) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!("the day {} kept changing for {COUNT_ROUNDS} rounds", delta.day))
    }
}

#[cfg(feature = "consumer")]
#[async_trait::async_trait]
impl osflow_bus::Consumer for Reporter {
    fn queue(&self) -> osflow_bus::Queue {
        osflow_bus::Queue::Reports
    }

    async fn handle(&self, envelope: &osflow_bus::Envelope) -> Result<(), osflow_bus::ConsumeError> {
        self.count(&envelope.tenant, &envelope.order_id, envelope.version)
            .await
            .map_err(osflow_bus::ConsumeError::failed)
    }
}
