//! Derived views of an order's history: the stays in each status and the time spent per status.
//! They depend on the events alone, so the reports can compute them from the event stream.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::flow::StatusKey;

/// One uninterrupted period of an order in a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    pub status: StatusKey,
    pub entered_at: DateTime<Utc>,
    /// `None` while the order is still there.
    pub left_at: Option<DateTime<Utc>>,
}

impl Stay {
    /// Length of the stay; an open stay is measured until `now`.
    pub fn duration(&self, now: DateTime<Utc>) -> TimeDelta {
        (self.left_at.unwrap_or(now) - self.entered_at).max(TimeDelta::zero())
    }
}

/// The stays of an order, in order, from its events (sorted by version; duplicates ignored).
pub fn stays<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<Stay> {
    let mut sorted: Vec<&Event> = events.into_iter().collect();
    sorted.sort_by_key(|e| e.version);
    sorted.dedup_by_key(|e| e.version);
    let mut out: Vec<Stay> = Vec::new();
    for e in sorted {
        let entering = match out.last() {
            None => true,
            Some(last) => last.status != e.status_after,
        };
        if entering {
            if let Some(last) = out.last_mut() {
                last.left_at = Some(e.at);
            }
            out.push(Stay { status: e.status_after.clone(), entered_at: e.at, left_at: None });
        }
    }
    out
}

/// Total time per status; the current stay is counted until `now`.
pub fn time_in_status<'e>(
    events: impl IntoIterator<Item = &'e Event>,
    now: DateTime<Utc>,
) -> BTreeMap<StatusKey, TimeDelta> {
    let mut totals: BTreeMap<StatusKey, TimeDelta> = BTreeMap::new();
    for stay in stays(events) {
        let d = stay.duration(now);
        *totals.entry(stay.status).or_insert_with(TimeDelta::zero) += d;
    }
    totals
}
