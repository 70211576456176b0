//! Report aggregates: what the reports know of a company, per day, without keeping a list of every order.
//!
//! Each event of an order contributes once to the aggregate of **its own day** ([`report_day`]: the date in
//! America/Sao_Paulo, UTC−03:00 — Brazil has had no daylight saving time since 2019). The contribution of an
//! event ([`contribution`]) depends only on that event and the order's earlier events (its version prefix), so
//! it is the same whatever the delivery order; adding every event's contribution once gives the aggregates of
//! the whole history (property-tested against a recomputation from [`crate::timeline::stays`]).
//!
//! What a day holds: per status, the orders that entered and left it, the total time of the stays that ended
//! that day and their distribution in fixed buckets ([`Histogram`], mergeable, for percentiles); the same time
//! per technician and per service type; orders opened, approved, rejected, cancelled and closed; rework loops
//! (a return to a status the order had been in); time waiting for material; SLA breaches (stays longer than
//! the limit of the order's flow version); revenue by payment method and the paid amounts of the orders closed
//! that day (average ticket).
//!
//! Aggregates are additive ([`DayAggregate::merge`]): a period is the merge of its days, so a summary reads
//! O(days) items, never the orders.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Change, Event, QuoteDecision};
use crate::flow::StatusKey;
use crate::values::Money;

/// The offset of the report day: America/Sao_Paulo (UTC−03:00, no DST since 2019).
pub const REPORT_UTC_OFFSET_SECS: i32 = -3 * 3600;

/// The date of an instant in America/Sao_Paulo: the day an event counts in.
pub fn report_day(at: DateTime<Utc>) -> NaiveDate {
    let offset = FixedOffset::east_opt(REPORT_UTC_OFFSET_SECS).expect("-03:00 is a valid offset");
    at.with_timezone(&offset).date_naive()
}

/// Upper bounds (seconds, inclusive) of the histogram buckets; a last bucket takes anything longer.
/// 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 2 d, 3 d, 5 d, 7 d, 14 d, 30 d.
pub const BUCKET_BOUNDS_SECS: [i64; 16] = [
    60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 86_400, 172_800, 259_200, 432_000, 604_800, 1_209_600,
    2_592_000,
];
/// Number of buckets: one per bound plus the overflow bucket.
pub const BUCKETS: usize = BUCKET_BOUNDS_SECS.len() + 1;

/// A fixed-bucket histogram of durations, with the smallest and largest duration of each bucket: mergeable by
/// adding counts and taking the extremes.
///
/// Why buckets and not the exact durations: a day aggregate must stay one small item whatever the number of
/// orders (exact values would grow it toward the store's item limit, and a year's summary would read them all).
/// The extremes make a percentile exact at a bucket's ends and interpolated between them inside, instead of the
/// bucket's upper bound (stays of seconds read as 60 s before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// `BUCKETS` counts; bucket `i` holds durations `<= BUCKET_BOUNDS_SECS[i]` (and above the previous bound).
    pub counts: Vec<u64>,
    /// The smallest duration of each bucket (`None` when empty, or stored before extremes were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub min_secs: Vec<Option<i64>>,
    /// The largest duration of each bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_secs: Vec<Option<i64>>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], min_secs: vec![None; BUCKETS], max_secs: vec![None; BUCKETS] }
    }
}

impl Histogram {
    pub fn bucket_of(secs: i64) -> usize {
        BUCKET_BOUNDS_SECS.iter().position(|b| secs <= *b).unwrap_or(BUCKET_BOUNDS_SECS.len())
    }

    pub fn add(&mut self, secs: i64) {
        self.normalize();
        let i = Self::bucket_of(secs);
        self.counts[i] += 1;
        self.min_secs[i] = Some(self.min_secs[i].map_or(secs, |m| m.min(secs)));
        self.max_secs[i] = Some(self.max_secs[i].map_or(secs, |m| m.max(secs)));
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.normalize();
        for (i, c) in other.counts.iter().enumerate().take(BUCKETS) {
            self.counts[i] += c;
            if let Some(Some(m)) = other.min_secs.get(i) {
                self.min_secs[i] = Some(self.min_secs[i].map_or(*m, |x| x.min(*m)));
            }
            if let Some(Some(m)) = other.max_secs.get(i) {
                self.max_secs[i] = Some(self.max_secs[i].map_or(*m, |x| x.max(*m)));
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `p`-th percentile (0–100) in seconds, or `None` when empty: the duration of that rank, interpolated
    /// linearly within its bucket between the bucket's smallest and largest duration (exact when the rank is
    /// one of them). A bucket without its extremes (stored by an older build) interpolates between its bounds;
    /// the overflow bucket then answers with the last bound (a lower bound: "more than 30 days").
    pub fn percentile(&self, p: u32) -> Option<i64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the percentile, 1-based, at least 1.
        let rank = (total * u64::from(p.min(100))).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if seen + c >= rank {
                // The rank within the bucket, 1..=c.
                let k = (rank - seen) as i64;
                let c = c as i64;
                let extremes = (self.min_secs.get(i).copied().flatten(), self.max_secs.get(i).copied().flatten());
                return Some(match extremes {
                    (Some(lo), Some(hi)) if c > 1 => lo + (hi - lo) * (k - 1) / (c - 1),
                    (Some(lo), _) => lo,
                    _ if i >= BUCKET_BOUNDS_SECS.len() => BUCKET_BOUNDS_SECS[BUCKET_BOUNDS_SECS.len() - 1],
                    _ => {
                        let lo = if i == 0 { 0 } else { BUCKET_BOUNDS_SECS[i - 1] };
                        lo + (BUCKET_BOUNDS_SECS[i] - lo) * k / c
                    }
                });
            }
            seen += c;
        }
        BUCKET_BOUNDS_SECS.last().copied()
    }

    fn normalize(&mut self) {
        if self.counts.len() < BUCKETS {
            self.counts.resize(BUCKETS, 0);
        }
        if self.min_secs.len() < BUCKETS {
            self.min_secs.resize(BUCKETS, None);
        }
        if self.max_secs.len() < BUCKETS {
            self.max_secs.resize(BUCKETS, None);
        }
    }
}

/// A status on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusStats {
    /// Orders that entered the status that day.
    pub entered: u64,
    /// Orders that left the status that day (their stays end that day).
    pub left: u64,
    /// Total seconds of the stays that ended that day.
    pub total_secs: i64,
    pub histogram: Histogram,
    /// Stays that ended that day beyond the status's SLA.
    pub sla_breaches: u64,
}

impl StatusStats {
    pub fn merge(&mut self, o: &StatusStats) {
        self.entered += o.entered;
        self.left += o.left;
        self.total_secs += o.total_secs;
        self.histogram.merge(&o.histogram);
        self.sla_breaches += o.sla_breaches;
    }
}

/// Time of ended stays in a status, for one technician or service type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayTotals {
    pub left: u64,
    pub total_secs: i64,
}

impl StayTotals {
    pub fn merge(&mut self, o: &StayTotals) {
        self.left += o.left;
        self.total_secs += o.total_secs;
    }
}

/// The key of orders opened without a technician.
pub const NO_TECHNICIAN: &str = "-";

/// The aggregates of one company on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAggregate {
    pub day: NaiveDate,
    #[serde(default)]
    pub statuses: BTreeMap<StatusKey, StatusStats>,
    /// Technician (user id, or [`NO_TECHNICIAN`]) → status → ended stays.
    #[serde(default)]
    pub by_technician: BTreeMap<String, BTreeMap<StatusKey, StayTotals>>,
    /// Service type → status → ended stays.
    #[serde(default)]
    pub by_service: BTreeMap<String, BTreeMap<StatusKey, StayTotals>>,
    #[serde(default)]
    pub opened: u64,
    #[serde(default)]
    pub approved: u64,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub cancelled: u64,
    #[serde(default)]
    pub closed: u64,
    /// Entries into a status the order had been in before.
    #[serde(default)]
    pub rework_loops: u64,
    /// Stays begun by `order.material_awaited` that ended that day, and their seconds.
    #[serde(default)]
    pub material_waits: u64,
    #[serde(default)]
    pub material_wait_secs: i64,
    #[serde(default)]
    pub sla_breaches: u64,
    /// Paid amounts by payment method (`pix`, `cash`…).
    #[serde(default)]
    pub revenue: BTreeMap<String, Money>,
    #[serde(default)]
    pub payments: u64,
    /// Everything paid on the orders closed that day (average ticket = this / `closed`).
    #[serde(default)]
    pub closed_paid_total: Money,
}

impl DayAggregate {
    pub fn new(day: NaiveDate) -> DayAggregate {
        DayAggregate {
            day,
            statuses: BTreeMap::new(),
            by_technician: BTreeMap::new(),
            by_service: BTreeMap::new(),
            opened: 0,
            approved: 0,
            rejected: 0,
            cancelled: 0,
            closed: 0,
            rework_loops: 0,
            material_waits: 0,
            material_wait_secs: 0,
            sla_breaches: 0,
            revenue: BTreeMap::new(),
            payments: 0,
            closed_paid_total: Money::zero(),
        }
    }

    /// Adds `o` (of any day; the day of `self` is kept).
    pub fn merge(&mut self, o: &DayAggregate) {
        for (k, s) in &o.statuses {
            self.statuses.entry(k.clone()).or_default().merge(s);
        }
        for (mine, theirs) in [(&mut self.by_technician, &o.by_technician), (&mut self.by_service, &o.by_service)] {
            for (who, per_status) in theirs {
                let entry = mine.entry(who.clone()).or_default();
                for (k, t) in per_status {
                    entry.entry(k.clone()).or_default().merge(t);
                }
            }
        }
        self.opened += o.opened;
        self.approved += o.approved;
        self.rejected += o.rejected;
        self.cancelled += o.cancelled;
        self.closed += o.closed;
        self.rework_loops += o.rework_loops;
        self.material_waits += o.material_waits;
        self.material_wait_secs += o.material_wait_secs;
        self.sla_breaches += o.sla_breaches;
        for (m, v) in &o.revenue {
            let e = self.revenue.entry(m.clone()).or_insert_with(Money::zero);
            *e = e.checked_add(*v).unwrap_or(*e);
        }
        self.payments += o.payments;
        self.closed_paid_total =
            self.closed_paid_total.checked_add(o.closed_paid_total).unwrap_or(self.closed_paid_total);
    }

    /// Total revenue of the day.
    pub fn revenue_total(&self) -> Money {
        self.revenue.values().fold(Money::zero(), |a, b| a.checked_add(*b).unwrap_or(a))
    }
}

/// The serde name of a payment method (`pix`, `cash`, `credit`, `debit`, `boleto`, `transfer`).
pub fn method_name(m: crate::order::PaymentMethod) -> &'static str {
    use crate::order::PaymentMethod as M;
    match m {
        M::Pix => "pix",
        M::Cash => "cash",
        M::Credit => "credit",
        M::Debit => "debit",
        M::Boleto => "boleto",
        M::Transfer => "transfer",
    }
}

/// What the contribution of an event needs to know of its order beyond its events: the SLA limits (hours per
/// status) of the order's flow version.
pub type SlaLimits = BTreeMap<StatusKey, u32>;

/// Why an event's contribution cannot be computed yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContributionError {
    #[error("the history lacks version {0} (or an earlier one) of the order")]
    Incomplete(u64),
}

/// The contribution of the order's event `version` to the aggregate of its day, computed from the order's
/// events up to that version (`history` may hold later versions, duplicates, and be in any order; every version
/// from 1 to `version` must be there).
pub fn contribution(history: &[Event], version: u64, sla: &SlaLimits) -> Result<DayAggregate, ContributionError> {
    let mut prefix: Vec<&Event> = history.iter().filter(|e| e.version <= version).collect();
    prefix.sort_by_key(|e| e.version);
    prefix.dedup_by_key(|e| e.version);
    if prefix.len() as u64 != version || prefix.iter().enumerate().any(|(i, e)| e.version != i as u64 + 1) {
        return Err(ContributionError::Incomplete(version));
    }
    let (event, earlier) = prefix.split_last().expect("version >= 1 has one event");
    let mut agg = DayAggregate::new(report_day(event.at));

    // Technician and service type from the opening event.
    let (technician, service) = match &prefix[0].change {
        Change::Opened(o) => (
            o.technician.as_ref().map_or_else(|| NO_TECHNICIAN.to_owned(), |t| t.as_str().to_owned()),
            o.service.kind.clone(),
        ),
        _ => (NO_TECHNICIAN.to_owned(), String::new()),
    };

    // The stays before this event: (status, entered_at, begun by material_awaited).
    let mut stays: Vec<(&StatusKey, DateTime<Utc>, bool)> = Vec::new();
    for e in earlier {
        if stays.last().is_none_or(|s| *s.0 != e.status_after) {
            stays.push((&e.status_after, e.at, matches!(e.change, Change::MaterialAwaited { .. })));
        }
    }
    let entering = stays.last().is_none_or(|s| *s.0 != event.status_after);
    if entering {
        let into = agg.statuses.entry(event.status_after.clone()).or_default();
        into.entered += 1;
        // Back in a status seen before is rework, except the return from a material wait to the status it paused.
        let returns_from_material =
            stays.len() >= 2 && stays[stays.len() - 1].2 && *stays[stays.len() - 2].0 == event.status_after;
        if stays.iter().any(|s| *s.0 == event.status_after) && !returns_from_material {
            agg.rework_loops += 1;
        }
        if let Some(&(status, entered_at, material)) = stays.last() {
            let secs = (event.at - entered_at).num_seconds().max(0);
            let from = agg.statuses.entry(status.clone()).or_default();
            from.left += 1;
            from.total_secs += secs;
            from.histogram.add(secs);
            if sla.get(status).is_some_and(|h| secs > i64::from(*h) * 3600) {
                from.sla_breaches += 1;
                agg.sla_breaches += 1;
            }
            for (map, who) in [(&mut agg.by_technician, &technician), (&mut agg.by_service, &service)] {
                let t = map.entry(who.clone()).or_default().entry(status.clone()).or_default();
                t.left += 1;
                t.total_secs += secs;
            }
            if material {
                agg.material_waits += 1;
                agg.material_wait_secs += secs;
            }
        }
    }

    match &event.change {
        Change::Opened(_) => agg.opened += 1,
        Change::QuoteDecided { decision: QuoteDecision::Approve, .. } => agg.approved += 1,
        Change::QuoteDecided { decision: QuoteDecision::Reject, .. } => agg.rejected += 1,
        Change::Cancelled { .. } => agg.cancelled += 1,
        Change::Closed => {
            agg.closed += 1;
            agg.closed_paid_total = paid(earlier.iter().copied());
        }
        Change::PaymentRegistered { payment, .. } => {
            agg.payments += 1;
            agg.revenue.insert(method_name(payment.method).to_owned(), payment.amount);
        }
        _ => {}
    }
    Ok(agg)
}

/// Sum of the payments among `events`.
pub fn paid<'e>(events: impl IntoIterator<Item = &'e Event>) -> Money {
    events.into_iter().fold(Money::zero(), |acc, e| match &e.change {
        Change::PaymentRegistered { payment, .. } => acc.checked_add(payment.amount).unwrap_or(acc),
        _ => acc,
    })
}

/// One status over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSummary {
    pub status: StatusKey,
    pub entered: u64,
    pub left: u64,
    pub total_secs: i64,
    /// Average seconds of the stays that ended in the period.
    pub avg_secs: Option<i64>,
    /// The median and the 90th percentile (seconds; see [`Histogram::percentile`]).
    pub p50_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    pub sla_breaches: u64,
}

/// One day of the opened/closed series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    pub day: NaiveDate,
    pub opened: u64,
    pub closed: u64,
}

/// Revenue over a period (only for the roles that may see it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueSummary {
    pub total: Money,
    pub by_method: BTreeMap<String, Money>,
    pub payments: u64,
    /// Paid amount per order closed in the period (`None` when none closed).
    pub average_ticket: Option<Money>,
}

/// Ended stays of one technician or service type over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub key: String,
    pub left: u64,
    pub total_secs: i64,
    pub avg_secs: Option<i64>,
}

/// A period's summary, merged from its days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub opened: u64,
    pub approved: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub closed: u64,
    pub rework_loops: u64,
    pub material_waits: u64,
    pub material_wait_secs: i64,
    pub sla_breaches: u64,
    /// Statuses by key.
    pub statuses: Vec<StatusSummary>,
    /// The status with the longest average stay (the bottleneck), if any stay ended.
    pub bottleneck: Option<StatusKey>,
    pub technicians: Vec<GroupSummary>,
    pub services: Vec<GroupSummary>,
    /// Every day of the period, in order.
    pub days: Vec<DayCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<RevenueSummary>,
}

fn avg(total: i64, n: u64) -> Option<i64> {
    (n > 0).then(|| total / n as i64)
}

impl Summary {
    /// The summary of `from..=to` from the days' aggregates (days outside the period are ignored, missing days
    /// count as empty). `with_revenue`: whether the caller may see revenue.
    pub fn of(from: NaiveDate, to: NaiveDate, days: &[DayAggregate], with_revenue: bool) -> Summary {
        let mut total = DayAggregate::new(from);
        let mut per_day: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
        for d in days.iter().filter(|d| d.day >= from && d.day <= to) {
            total.merge(d);
            let e = per_day.entry(d.day).or_default();
            e.0 += d.opened;
            e.1 += d.closed;
        }
        let statuses: Vec<StatusSummary> = total
            .statuses
            .iter()
            .map(|(k, s)| StatusSummary {
                status: k.clone(),
                entered: s.entered,
                left: s.left,
                total_secs: s.total_secs,
                avg_secs: avg(s.total_secs, s.left),
                p50_secs: s.histogram.percentile(50),
                p90_secs: s.histogram.percentile(90),
                sla_breaches: s.sla_breaches,
            })
            .collect();
        let bottleneck = statuses
            .iter()
            .filter_map(|s| s.avg_secs.map(|a| (a, s)))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.status.cmp(&a.1.status)))
            .map(|(_, s)| s.status.clone());
        let groups = |map: &BTreeMap<String, BTreeMap<StatusKey, StayTotals>>| {
            map.iter()
                .map(|(k, per)| {
                    let (left, secs) = per.values().fold((0, 0), |a, t| (a.0 + t.left, a.1 + t.total_secs));
                    GroupSummary { key: k.clone(), left, total_secs: secs, avg_secs: avg(secs, left) }
                })
                .collect::<Vec<_>>()
        };
        let mut series = Vec::new();
        let mut day = from;
        while day <= to {
            let (opened, closed) = per_day.get(&day).copied().unwrap_or_default();
            series.push(DayCounts { day, opened, closed });
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        let revenue = with_revenue.then(|| RevenueSummary {
            total: total.revenue_total(),
            by_method: total.revenue.clone(),
            payments: total.payments,
            average_ticket: (total.closed > 0).then(|| {
                let avg = total.closed_paid_total.as_decimal() / rust_decimal::Decimal::from(total.closed);
                Money::from_decimal(avg.round_dp(2)).unwrap_or(Money::zero())
            }),
        });
        Summary {
            from,
            to,
            opened: total.opened,
            approved: total.approved,
            rejected: total.rejected,
            cancelled: total.cancelled,
            closed: total.closed,
            rework_loops: total.rework_loops,
            material_waits: total.material_waits,
            material_wait_secs: total.material_wait_secs,
            sla_breaches: total.sla_breaches,
            statuses,
            bottleneck,
            technicians: groups(&total.by_technician),
            services: groups(&total.by_service),
            days: series,
            revenue,
        }
    }
}

/// The SLA limits of a flow version (hours per status that has one).
pub fn sla_limits(flow: &crate::flow::FlowDef) -> SlaLimits {
    flow.statuses.iter().filter_map(|s| s.sla_hours.map(|h| (s.key.clone(), h))).collect()
}

/// An order that has stayed in its status beyond the status's SLA at `now`: the stay that breaches, if any.
/// `history`: the order's events (any order, duplicates allowed).
pub fn sla_breach(history: &[Event], sla: &SlaLimits, now: DateTime<Utc>) -> Option<crate::timeline::Stay> {
    let stay = crate::timeline::stays(history).pop()?;
    let hours = *sla.get(&stay.status)?;
    (stay.left_at.is_none() && (now - stay.entered_at).num_seconds() > i64::from(hours) * 3600).then_some(stay)
}
