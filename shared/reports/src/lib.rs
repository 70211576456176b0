//! osflow's reports: time per stage, bottlenecks, throughput and revenue.
//!
//! - [`Reporter`]: the consumer of the `reports` queue. Each event adds its contribution
//!   ([`osflow_domain::report::contribution`], computed from the order's timeline and the SLA limits of its flow
//!   version) to the aggregate of its day, and the day's new aggregate is stored together with the record that
//!   the event was counted ([`osflow_app::ReportStore::count_event`]): exactly once in effect, in any delivery
//!   order.
//! - Use cases ([`summary`], [`list_reports`], [`get_report`], [`report_file`], [`generate`],
//!   [`run_schedule`]): a summary is merged from the period's day aggregates (O(days) items, never the orders);
//!   a report is that summary as a JSON document, a CSV and two SVG charts ([`render`]), stored through the
//!   `BlobStore` under `reports/<id>/…`, and announced to the company by e-mail once ([`Announcer`]).
//! - [`Trigger`] (feature `consumer`): the three payloads of the reporter function (a queue batch, the SLA
//!   check, a schedule), told apart and run by [`run`]. Scheduled work fans out: one [`Job`] per company on the
//!   `reports` queue ([`JobSink`]), so one company's failure or size never holds the others.
//! - Roles: every staff role reads the summary, but only `representante` and `financeiro` see revenue; the
//!   generated reports (which carry revenue) are for `representante` and `financeiro` only (403 for others).

mod jobs;
pub mod render;
mod reporter;
mod sla;
#[cfg(feature = "consumer")]
mod trigger;
mod usecases;

#[cfg(feature = "consumer")]
pub use jobs::SqsJobSink;
pub use jobs::{FanOutError, Job, JobSink, fan_out_schedule, fan_out_sla, run_job};
pub use reporter::{CONSUMER, Reporter};
pub use sla::{SLA_COMPONENT, SLA_LOOKBACK_DAYS, check_sla, check_sla_for, sla_tenants};
#[cfg(feature = "consumer")]
pub use trigger::{Trigger, TriggerError, UnknownTrigger, run};
pub use usecases::{
    Announcer, FILES, MAX_PERIOD_DAYS, REVENUE_ROLES, ReportError, Schedule, generate, get_report, list_reports,
    period_of, report_file, report_file_with, request_report, run_schedule, run_schedule_for, schedule_tenants,
    summary,
};
