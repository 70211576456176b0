//! `ReportStore`: a company's day aggregates and generated reports in one partition `T#<tenant>#REPORT`
//! (`DAY#<yyyy-mm-dd>`, `DOC#<id>`), and one item per counted event `T#<tenant>#REPORT#EVT#<event_id>` / `COUNTED`.
//!
//! - `count_event` is one `TransactWriteItems`: Put the counted-event item if new, Put the day item if its
//!   `version` is the expected one (or it does not exist, for 0). A failed condition on the first is
//!   `AlreadyExists`; on the second `Conflict` with the stored version (returned with the cancellation).
//! - `days` is one `Query` (`BETWEEN` on the sort key; more pages only past 1 MB), strongly consistent: O(days).
//! - The first write of a day also puts `REPORT#ACTIVE#<yyyy-mm-dd>` / `<tenant>` (the companies a scheduled
//!   report is made for: one `Query` per day).
//! - `reports` is one `Query` of the `DOC#` items (a company has a few hundred a year), sorted here.
//! - The aggregate and the report are JSON strings in `data` (an aggregate's maps are keyed by status,
//!   technician and method; a JSON attribute keeps it one small item).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use osflow_app::{ReportRecord, ReportStore, StoreError, StoreResult, StoredDay};
use osflow_domain::report::DayAggregate;
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::error::corrupt;
use crate::items::{Item, attr, get_u64, key, n, s, ttl_seconds};
use crate::keys;
use crate::table::TTL_ATTRIBUTE;
use crate::tx::{CondPut, NEW_ITEM, TxOutcome, cancelled_without_condition, failed_condition};

/// The JSON body attribute.
const DATA: &str = "data";
/// How long a counted-event record is kept: beyond any redelivery (SQS retention 4 days, DLQ 14 days).
const COUNTED_TTL: chrono::Duration = chrono::Duration::days(30);

mod entity {
    pub const REPORT_DAY: &str = "report_day";
    pub const REPORT_EVENT: &str = "report_event";
    pub const REPORT: &str = "report";
    pub const REPORT_ACTIVE: &str = "report_active";
}

fn data_of<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> StoreResult<T> {
    match item.get(DATA) {
        Some(AttributeValue::S(json)) => serde_json::from_str(json).map_err(|e| corrupt(what, e)),
        _ => Err(StoreError::Corrupt(format!("{what}: attribute {DATA} is missing"))),
    }
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_json::to_string(value).map(s).map_err(|e| StoreError::Other(format!("cannot serialize: {e}")))
}

fn item(pk: String, sk: String, entity: &str, tenant: &TenantId) -> Item {
    let mut item = key(pk, sk);
    item.insert(attr::ENTITY.to_owned(), s(entity));
    item.insert(attr::TENANT.to_owned(), s(tenant.as_str()));
    item
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn day(&self, tenant: &TenantId, day: NaiveDate) -> StoreResult<Option<StoredDay>> {
        let Some(found) = self.get_item(keys::report_pk(tenant), keys::report_day_sk(day)).await? else {
            return Ok(None);
        };
        Ok(Some(StoredDay { aggregate: data_of(&found, "report day")?, version: get_u64(&found, attr::VERSION)? }))
    }

    async fn days(&self, tenant: &TenantId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DayAggregate>> {
        if from > to {
            return Ok(Vec::new());
        }
        let range = (keys::report_day_sk(from), keys::report_day_sk(to));
        let found = self.query_between(keys::report_pk(tenant), Some(range), None).await?;
        found.iter().map(|i| data_of(i, "report day")).collect()
    }

    async fn active_tenants(&self, day: NaiveDate) -> StoreResult<Vec<TenantId>> {
        let found = self.query_between(keys::report_active_pk(day), None, None).await?;
        found
            .iter()
            .map(|i| match i.get(attr::TENANT) {
                Some(AttributeValue::S(t)) => TenantId::parse(t).map_err(|e| corrupt("active tenant", e)),
                _ => Err(StoreError::Corrupt("active tenant: no tenant attribute".into())),
            })
            .collect()
    }

    async fn event_counted(&self, tenant: &TenantId, event_id: &str) -> StoreResult<bool> {
        Ok(self.get_item(keys::report_event_pk(tenant, event_id), keys::REPORT_EVENT_SK).await?.is_some())
    }

    async fn count_event(
        &self,
        tenant: &TenantId,
        event_id: &str,
        aggregate: &DayAggregate,
        expected_version: u64,
    ) -> StoreResult<()> {
        let mut counted = item(
            keys::report_event_pk(tenant, event_id),
            keys::REPORT_EVENT_SK.to_owned(),
            entity::REPORT_EVENT,
            tenant,
        );
        counted.insert(TTL_ATTRIBUTE.to_owned(), n(ttl_seconds(chrono::Utc::now() + COUNTED_TTL)));
        let mut day = item(keys::report_pk(tenant), keys::report_day_sk(aggregate.day), entity::REPORT_DAY, tenant);
        day.insert(attr::VERSION.to_owned(), n(expected_version + 1));
        day.insert(DATA.to_owned(), json(aggregate)?);
        let day = match expected_version {
            0 => CondPut::when(day, NEW_ITEM),
            v => CondPut::when(day, "#version = :expected").name("#version", attr::VERSION).value(":expected", n(v)),
        }
        .return_old();
        let mut puts = vec![CondPut::new_item(counted), day];
        if expected_version == 0 {
            // The day's first write also lists the company among that day's active ones (written together with
            // the day, so it is new exactly when the day is).
            let mut active = key(keys::report_active_pk(aggregate.day), tenant.as_str());
            active.insert(attr::ENTITY.to_owned(), s(entity::REPORT_ACTIVE));
            active.insert(attr::TENANT.to_owned(), s(tenant.as_str()));
            puts.push(CondPut::new_item(active));
        }
        let reasons = match self.transact(puts).await? {
            TxOutcome::Committed => return Ok(()),
            TxOutcome::Cancelled(reasons) => reasons,
        };
        match (reasons.first().filter(|r| failed_condition(r)), reasons.get(1).filter(|r| failed_condition(r))) {
            (Some(_), _) => Err(StoreError::AlreadyExists),
            (None, Some(on_day)) => {
                let current = on_day.item().filter(|i| !i.is_empty()).map(|old| get_u64(old, attr::VERSION));
                Err(StoreError::Conflict { current_version: current.transpose()?.unwrap_or(0) })
            }
            (None, None) => Err(cancelled_without_condition(&reasons)),
        }
    }

    async fn save_report(&self, report: &ReportRecord) -> StoreResult<()> {
        let mut doc =
            item(keys::report_pk(&report.tenant), keys::report_doc_sk(&report.id), entity::REPORT, &report.tenant);
        doc.insert(DATA.to_owned(), json(report)?);
        self.put_item(doc).await?;
        Ok(())
    }

    async fn report(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ReportRecord>> {
        let found = self.get_item(keys::report_pk(tenant), keys::report_doc_sk(id)).await?;
        found.map(|i| data_of(&i, "report")).transpose()
    }

    async fn reports(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<ReportRecord>> {
        let found = self.query_prefix(keys::report_pk(tenant), keys::REPORT_DOC_PREFIX).await?;
        let mut all: Vec<ReportRecord> =
            found.iter().map(|i| data_of(i, "report")).collect::<StoreResult<Vec<ReportRecord>>>()?;
        all.sort_by(|a, b| b.generated_at.cmp(&a.generated_at).then_with(|| b.id.cmp(&a.id)));
        all.truncate(limit.clamp(1, 100) as usize);
        Ok(all)
    }
}
