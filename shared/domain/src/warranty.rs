//! Warranty and intake: what the shop received with the equipment, how long each line is guaranteed after
//! release, and the warranty return (a new OS for covered lines at zero price, linked to the first both ways).
//!
//! A line's warranty is a number of days (its own, or the company's default for its kind, filled in by the use
//! case when the line is typed); it starts on the day the order is released (America/Sao_Paulo) and covers up to
//! and including `release day + days`.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{LineInput, LineKind, Order, QuoteLine, RevisionStatus};
use crate::values::{Money, OrderId};

/// Longest warranty of a line: 10 years.
pub const MAX_WARRANTY_DAYS: u32 = 3650;
/// Accessories listed at intake.
pub const MAX_ACCESSORIES: usize = 30;

/// What was received with the equipment at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Intake {
    /// Accessories left with the equipment (charger, case, cable…).
    #[serde(default)]
    pub accessories: Vec<String>,
    /// The equipment's condition as received (scratches, broken screen…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Whether an unlock code (password, PIN, pattern) was left: the code itself is never on the order or its
    /// events; it is kept sealed by the store, read through its own route, and deleted at close or cancel.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlock_code: bool,
}

impl crate::Order {
    /// Whether an unlock code was left with the equipment and is still kept.
    pub fn has_unlock_code(&self) -> bool {
        self.intake.as_ref().is_some_and(|i| i.unlock_code)
    }
}

/// The company's default warranty per line kind, in days (filled into lines typed without their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarrantyDefaults {
    pub parts_days: u32,
    pub labor_days: u32,
}

impl Default for WarrantyDefaults {
    /// 90 days for both: the consumer code's period for durable goods and services (CDC art. 26, II).
    fn default() -> Self {
        WarrantyDefaults { parts_days: 90, labor_days: 90 }
    }
}

impl WarrantyDefaults {
    pub fn days_for(&self, kind: LineKind) -> u32 {
        match kind {
            LineKind::Part => self.parts_days,
            LineKind::Labor => self.labor_days,
        }
    }

    /// Gives every line typed without a warranty the default of its kind.
    pub fn fill(&self, lines: &mut [LineInput]) {
        for l in lines {
            l.warranty_days.get_or_insert(self.days_for(l.kind));
        }
    }
}

/// One OS pointing at another: a warranty return and the order it returns to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarrantyLink {
    pub order: OrderId,
    pub number: u64,
}

/// A line of a released order under warranty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineWarranty<'a> {
    pub revision: u32,
    pub line: &'a QuoteLine,
    pub days: u32,
    /// The release day (America/Sao_Paulo).
    pub from: NaiveDate,
    /// The last day covered.
    pub until: NaiveDate,
}

/// The last day covered by a warranty of `days` starting on `from`.
pub fn warranty_until(from: NaiveDate, days: u32) -> NaiveDate {
    from.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX)
}

/// Why a warranty return cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarrantyError {
    #[error("the order has not been released: its warranty has not started")]
    NotReleased,
    #[error("choose at least one line")]
    NoLines,
    #[error("lines[{index}]: the order has no approved line {line} in revision {revision}")]
    UnknownLine { index: usize, revision: u32, line: u32 },
    #[error("lines[{index}]: the warranty of this line ended on {until}")]
    Expired { index: usize, until: NaiveDate },
    #[error("lines[{index}]: the line is listed twice")]
    Twice { index: usize },
}

impl Order {
    /// The release day (America/Sao_Paulo), once released.
    pub fn released_on(&self) -> Option<NaiveDate> {
        self.released_at.map(crate::report::report_day)
    }

    /// The warranty of every approved line with one, once the order is released.
    pub fn warranties(&self) -> Vec<LineWarranty<'_>> {
        let Some(from) = self.released_on() else { return vec![] };
        self.quote
            .iter()
            .filter(|r| r.status == RevisionStatus::Approved)
            .flat_map(|r| r.lines.iter().map(move |l| (r.revision, l)))
            .filter(|(_, l)| l.is_approved())
            .filter_map(|(revision, line)| {
                let days = line.warranty_days.filter(|d| *d > 0)?;
                Some(LineWarranty { revision, line, days, from, until: warranty_until(from, days) })
            })
            .collect()
    }

    /// The lines of a warranty return for `lines` (revision, line) of this order, checked to be covered on
    /// `today`: the same kind, code, description, NCM and quantity, at zero price and without a warranty of
    /// their own.
    pub fn warranty_return_lines(
        &self,
        lines: &[(u32, u32)],
        today: NaiveDate,
    ) -> Result<Vec<LineInput>, WarrantyError> {
        if self.released_at.is_none() {
            return Err(WarrantyError::NotReleased);
        }
        if lines.is_empty() {
            return Err(WarrantyError::NoLines);
        }
        let covered = self.warranties();
        lines
            .iter()
            .enumerate()
            .map(|(index, &(revision, line))| {
                if lines[..index].contains(&(revision, line)) {
                    return Err(WarrantyError::Twice { index });
                }
                let w = covered
                    .iter()
                    .find(|w| w.revision == revision && w.line.line == line)
                    .ok_or(WarrantyError::UnknownLine { index, revision, line })?;
                if today > w.until {
                    return Err(WarrantyError::Expired { index, until: w.until });
                }
                Ok(LineInput {
                    kind: w.line.kind,
                    code: w.line.code.clone(),
                    description: w.line.description.clone(),
                    ncm: w.line.ncm,
                    quantity: w.line.quantity,
                    unit_price: Money::zero(),
                    discount: None,
                    warranty_days: Some(0),
                })
            })
            .collect()
    }
}

/// The instant's São Paulo date (re-exported for the callers that compute "today" for [`Order::warranty_return_lines`]).
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    crate::report::report_day(now)
}
