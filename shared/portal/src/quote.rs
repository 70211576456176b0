//! The quote as the customer sees it, and its fingerprint (the SHA-256 stored as evidence with a decision).

use osflow_domain::{LineKind, Order, QuoteRevision};
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of the revision as the page shows it: its number, lines (kind, code, description, quantity, unit
/// price, total, discount when there is one), total and deadline, in a fixed JSON form. The form carries it; a decision whose fingerprint is
/// not the current one (the quote changed under the customer) is refused.
pub fn quote_sha256(order: &Order, rev: &QuoteRevision) -> String {
    let lines: Vec<serde_json::Value> = rev
        .lines
        .iter()
        .map(|l| {
            let mut line = serde_json::json!([
                l.line,
                match l.kind {
                    LineKind::Part => "part",
                    LineKind::Labor => "labor",
                },
                l.code,
                l.description,
                l.quantity.to_string(),
                l.unit_price.to_string(),
                l.total.to_string()
            ]);
            // A discount is shown, so it is part of what was decided (absent when none, as before discounts).
            if !l.discount_total.is_zero()
                && let Some(a) = line.as_array_mut()
            {
                a.push(l.discount_total.to_string().into());
            }
            line
        })
        .collect();
    let shown = serde_json::json!({
        "v": 1,
        "order": order.id.to_string(),
        "number": order.number,
        "revision": rev.revision,
        "supplementary": rev.supplementary,
        "lines": lines,
        "total": rev.total.to_string(),
        "due_date": rev.due_date.map(|d| d.to_string()),
    });
    hex::encode(Sha256::digest(shown.to_string().as_bytes()))
}

/// `R$ 1.234,56` (one formatting for every message and page).
pub use osflow_app::templates::brl;

/// `1,5` for a quantity of 1.5 (the Brazilian decimal comma).
pub fn quantity(q: osflow_domain::values::Quantity) -> String {
    q.to_string().replace('.', ",")
}
