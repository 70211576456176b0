//! The consumer of the `reports` queue.

use async_trait::async_trait;
use osflow_app::{App, StoreError};
use osflow_bus::{ConsumeError, Consumer, Envelope, Queue};
use osflow_domain::Change;
use osflow_domain::report::{DayAggregate, SlaLimits, contribution, sla_limits};

/// The consumer's name (logs, dedupe keys of its announcements).
pub const CONSUMER: &str = "reporter";

/// Rounds of read-merge-write on a day that other events keep changing meanwhile.
const COUNT_ROUNDS: u32 = 10;

/// Keeps the report aggregates from the events.
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
    /// Counts one event (idempotent: a counted event changes nothing).
    pub async fn count(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        let app = &self.app;
        let tenant = &envelope.tenant;
        if app.reports.event_counted(tenant, &envelope.event_id).await.map_err(ConsumeError::failed)? {
            return Ok(());
        }
        // The order's events up to this one are committed before the event leaves the outbox.
        let history = app.orders.timeline(tenant, &envelope.order_id).await.map_err(ConsumeError::failed)?;
        let sla: SlaLimits = match history.iter().find(|e| e.version == 1).map(|e| &e.change) {
            Some(Change::Opened(opened)) => match app.flows.version(tenant, opened.flow_version).await {
                Ok(Some(flow)) => sla_limits(&flow.def),
                Ok(None) => SlaLimits::new(),
                Err(e) => return Err(ConsumeError::failed(e)),
            },
            _ => SlaLimits::new(),
        };
        let delta = contribution(&history, envelope.version, &sla).map_err(ConsumeError::failed)?;
        for _ in 0..COUNT_ROUNDS {
            let stored = app.reports.day(tenant, delta.day).await.map_err(ConsumeError::failed)?;
            let (mut aggregate, version) = match stored {
                Some(s) => (s.aggregate, s.version),
                None => (DayAggregate::new(delta.day), 0),
            };
            aggregate.merge(&delta);
            match app.reports.count_event(tenant, &envelope.event_id, &aggregate, version).await {
                Ok(()) | Err(StoreError::AlreadyExists) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(ConsumeError::failed(e)),
            }
        }
        Err(ConsumeError::failed(format!("the day {} kept changing for {COUNT_ROUNDS} rounds", delta.day)))
    }
}

#[async_trait]
impl Consumer for Reporter {
    fn queue(&self) -> Queue {
        Queue::Reports
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        self.count(envelope).await
    }
}
