//! Item keys (ARCHITECTURE.md, «Data»). The tenant is in every partition key, so no request of one tenant can reach an item of
//! another: every read is a GetItem or a Query on a key built here from the caller's tenant.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use osflow_app::{DedupeKey, FiscalDocument, NumberingKey};
use osflow_domain::StatusKey;
use osflow_domain::values::{Document, OrderId, TenantId};

/// Sort key of an order item.
pub const ORDER_SK: &str = "ORDER";
/// Prefix of the sort keys of an order's events.
pub const EVENT_PREFIX: &str = "EVT#";
/// Prefix of the sort keys of an order's invoices.
pub const INVOICE_PREFIX: &str = "NFE#";
/// The sort key prefix of NFS-e DPS records under an order (inside [`INVOICE_PREFIX`]).
pub const DPS_PREFIX: &str = "NFE#DPS#";
/// Prefix of the sort keys of a tenant's flow versions.
pub const FLOW_VERSION_PREFIX: &str = "V#";
/// Sort key of the pointer to the current flow version.
pub const FLOW_CURRENT_SK: &str = "CURRENT";
/// Sort key of a counter item (order numbers, NF-e numbers).
pub const COUNTER_SK: &str = "SEQ";
/// Sort key of an idempotency record.
pub const IDEM_SK: &str = "IDEM";
/// Sort key of a dedupe record.
pub const DEDUPE_SK: &str = "DEDUPE";
/// Sort key of a company's notification settings (under [`settings_pk`]).
pub const NOTIFICATIONS_SK: &str = "NOTIFICATIONS";
/// Sort key of a company's paperwork settings (under [`settings_pk`]).
pub const COMPANY_SK: &str = "COMPANY";
/// Sort key of a company's NF-e emitter configuration (under [`emitter_pk`]).
pub const EMITTER_CONFIG_SK: &str = "CONFIG";
/// Sort key of the pointer to a company's A1 certificate (under [`emitter_pk`]): its revision and the Secrets
/// Manager version holding it.
pub const EMITTER_CERT_SK: &str = "CERT";
/// Sort key of a company's SEFAZ contingency state (under [`emitter_pk`]): JSON attributes and `revision`.
pub const EMITTER_CONTINGENCY_SK: &str = "CONTINGENCY";

/// A timestamp in a fixed-width, lexicographically sortable form: `2026-12-01T12:00:00.123456000Z` (always nine
/// fractional digits), so that string order is time order in the GSI sort keys.
pub fn sortable_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// `T#<tenant>#ORDER#<id>`: the partition of an order, its events, its invoices and its NF-e claims.
pub fn order_pk(tenant: &TenantId, id: &OrderId) -> String {
    format!("T#{tenant}#ORDER#{id}")
}

/// The company and the order an order key names (the inverse of [`order_pk`]), as text.
pub fn parse_order_pk(pk: &str) -> Option<(String, String)> {
    let (tenant, id) = pk.strip_prefix("T#")?.rsplit_once("#ORDER#")?;
    Some((tenant.to_owned(), id.to_owned()))
}

/// `EVT#<version:010>`.
pub fn event_sk(version: u64) -> String {
    format!("{EVENT_PREFIX}{version:010}")
}

/// `<order>:<version>`: the id of an event on the bus (consumers are idempotent on it).
pub fn event_id(order: &OrderId, version: u64) -> String {
    format!("{order}:{version}")
}

/// GSI1 partition: `T#<tenant>#STATUS#<status>`.
pub fn status_pk(tenant: &TenantId, status: &StatusKey) -> String {
    format!("T#{tenant}#STATUS#{status}")
}

/// GSI1 sort key: `<updated_at>#<id>` (oldest first, ties by id).
pub fn status_sk(updated_at: &DateTime<Utc>, id: &OrderId) -> String {
    format!("{}#{id}", sortable_time(updated_at))
}

/// GSI2 partition: `T#<tenant>#CUST#<document>` (the bare CPF/CNPJ characters).
pub fn customer_pk(tenant: &TenantId, document: &Document) -> String {
    format!("T#{tenant}#CUST#{}", document.as_str())
}

/// GSI2 sort key: `<created_at>#<id>` (read newest first, ties by id descending).
pub fn customer_sk(created_at: &DateTime<Utc>, id: &OrderId) -> String {
    format!("{}#{id}", sortable_time(created_at))
}

/// GSI3 partition: `T#<tenant>#SLA` (the company's orders with an SLA deadline).
pub fn sla_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#SLA")
}

/// GSI3 sort key: `<sla_due>#<id>` (earliest deadline first, ties by id).
pub fn sla_sk(due: &DateTime<Utc>, id: &OrderId) -> String {
    format!("{}#{id}", sortable_time(due))
}

/// The exclusive upper bound of the GSI3 sort keys due at or before `until`: `<until>$` (`$` follows the `#`
/// that ends the time part, so every `<until>#<id>` sorts before it).
pub fn sla_bound(until: &DateTime<Utc>) -> String {
    format!("{}$", sortable_time(until))
}

/// `T#<tenant>#FLOW`: the partition of a tenant's flow versions and its `CURRENT` pointer.
pub fn flow_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#FLOW")
}

/// `V#<n:06>`.
pub fn flow_version_sk(version: u32) -> String {
    format!("{FLOW_VERSION_PREFIX}{version:06}")
}

/// `#H` ends every key of a homologation sequence (production keys have no suffix).
///
/// `NFE#<n:09>#<cnpj>#<serie>` (an NF-e) or `NFE#DPS#<n:015>#<cnpj>#<serie>` (an NFS-e DPS: under the same
/// prefix, so one Query lists both kinds), under the order's partition: ascending by number within a kind; the
/// sequence suffix keeps apart two documents of one order that have the same number in different sequences.
pub fn invoice_sk(key: &NumberingKey, number: u64) -> String {
    match key.document {
        FiscalDocument::Nfe => {
            format!("{INVOICE_PREFIX}{number:09}#{}#{}{}", key.cnpj, key.serie, key.environment_suffix())
        }
        FiscalDocument::Dps => {
            format!("{DPS_PREFIX}{number:015}#{}#{}{}", key.cnpj, key.serie, key.environment_suffix())
        }
    }
}

/// `CLAIM#NFE#<cnpj>#<serie>` / `CLAIM#DPS#<cnpj>#<serie>`, under the order's partition: the number this order
/// claimed in that sequence.
pub fn order_claim_sk(key: &NumberingKey) -> String {
    format!("CLAIM#{}#{}#{}{}", key.document.tag(), key.cnpj, key.serie, key.environment_suffix())
}

/// `T#<tenant>#SEQ#NFE#<cnpj>#<serie>` / `T#<tenant>#SEQ#DPS#<cnpj>#<serie>` (sort key [`COUNTER_SK`]): the last
/// number given in a sequence.
pub fn nfe_counter_pk(tenant: &TenantId, key: &NumberingKey) -> String {
    format!("T#{tenant}#SEQ#{}#{}#{}{}", key.document.tag(), key.cnpj, key.serie, key.environment_suffix())
}

/// Prefix of a sequence's number items (under [`nfe_counter_pk`]).
pub const NUMBER_PREFIX: &str = "NUM#";
/// Prefix of a sequence's open-number markers (under [`nfe_counter_pk`]).
pub const OPEN_PREFIX: &str = "OPEN#";
/// Prefix of a sequence's inutilizações (under [`nfe_counter_pk`]).
pub const VOID_PREFIX: &str = "VOID#";

/// `NUM#<n:09>` under the sequence's partition ([`nfe_counter_pk`]): who holds number `n`, and whether it was
/// voided. A sequence's numbers are one Query (a range of them, or all), never a Scan.
pub fn nfe_number_sk(number: u64) -> String {
    format!("{NUMBER_PREFIX}{number:09}")
}

/// `OPEN#<n:09>` under the sequence's partition: number `n` of an NF-e sequence is claimed and its NF-e is not
/// settled (authorized, denied) nor voided yet. The gap listing reads only these.
pub fn nfe_open_sk(number: u64) -> String {
    format!("{OPEN_PREFIX}{number:09}")
}

/// `VOID#<first:09>` under the sequence's partition: the inutilização starting at `first`.
pub fn nfe_void_sk(first: u64) -> String {
    format!("{VOID_PREFIX}{first:09}")
}

/// `T#<tenant>#SEQ#ORDER` (sort key [`COUNTER_SK`]): the last human order number of a tenant.
pub fn order_counter_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#SEQ#ORDER")
}

/// `T#<tenant>#IDEM#<key>` (sort key [`IDEM_SK`]).
pub fn idem_pk(tenant: &TenantId, key: &str) -> String {
    format!("T#{tenant}#IDEM#{key}")
}

/// The company and the key an idempotency record's partition key names (tenant ids hold no `#`).
pub fn parse_idem_pk(pk: &str) -> Option<(&str, &str)> {
    let (tenant, rest) = pk.strip_prefix("T#")?.split_once('#')?;
    Some((tenant, rest.strip_prefix("IDEM#")?))
}

/// A free-text part of a key with `%` and `#` percent-encoded, so that no part can contain the separator: two
/// different dedupe keys never give one item key.
fn key_part(text: &str) -> Cow<'_, str> {
    if text.contains(['#', '%']) {
        Cow::Owned(text.replace('%', "%25").replace('#', "%23"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `T#<tenant>#DEDUPE#<consumer>#<event_id>#<channel>` (sort key [`DEDUPE_SK`]); `%` and `#` in the free-text
/// parts are percent-encoded.
pub fn dedupe_pk(key: &DedupeKey) -> String {
    format!(
        "T#{}#DEDUPE#{}#{}#{}",
        key.tenant,
        key_part(&key.consumer),
        key_part(&key.event_id),
        key_part(&key.channel)
    )
}

/// `T#<tenant>#SETTINGS`: the partition of a company's settings (sort key [`NOTIFICATIONS_SK`] for the
/// notification settings).
pub fn settings_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#SETTINGS")
}

/// `T#<tenant>#EMITTER`: the partition of a company's NF-e emitter (sort keys [`EMITTER_CONFIG_SK`] and
/// [`EMITTER_CERT_SK`]).
pub fn emitter_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#EMITTER")
}

/// `<prefix>/<tenant>/a1`: the name of the Secrets Manager secret holding a company's A1 certificate. A tenant id
/// is a slug (`[a-z0-9-]`), so the name has only characters Secrets Manager accepts and no tenant's name is a
/// prefix of another's.
pub fn certificate_secret_name(prefix: &str, tenant: &TenantId) -> String {
    format!("{}/{tenant}/a1", prefix.trim_end_matches('/'))
}

/// The CNPJ of a numbering key must be 14 ASCII letters or digits (it is part of item keys).
pub fn valid_numbering(key: &NumberingKey) -> bool {
    key.cnpj.len() == 14 && key.cnpj.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `T#<tenant>#REPORT`: the partition of a company's report day aggregates (`DAY#<yyyy-mm-dd>`) and generated
/// reports (`DOC#<id>`).
pub fn report_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#REPORT")
}

/// Prefix of the sort keys of report day aggregates.
pub const REPORT_DAY_PREFIX: &str = "DAY#";
/// Prefix of the sort keys of generated reports.
pub const REPORT_DOC_PREFIX: &str = "DOC#";

/// `DAY#<yyyy-mm-dd>`: string order is date order.
pub fn report_day_sk(day: chrono::NaiveDate) -> String {
    format!("{REPORT_DAY_PREFIX}{}", day.format("%Y-%m-%d"))
}

/// `DOC#<id>`.
pub fn report_doc_sk(id: &str) -> String {
    format!("{REPORT_DOC_PREFIX}{}", key_part(id))
}

/// `REPORT#ACTIVE#<yyyy-mm-dd>`: the companies with an aggregate on a day (sort key: the tenant).
pub fn report_active_pk(day: chrono::NaiveDate) -> String {
    format!("REPORT#ACTIVE#{}", day.format("%Y-%m-%d"))
}

/// Sort key of a counted event (under [`report_event_pk`]).
pub const REPORT_EVENT_SK: &str = "COUNTED";

/// `T#<tenant>#REPORT#EVT#<event_id>`: the record that the reporter counted an event (`%`, `#` percent-encoded).
pub fn report_event_pk(tenant: &TenantId, event_id: &str) -> String {
    format!("T#{tenant}#REPORT#EVT#{}", key_part(event_id))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn an_order_key_parses_back() {
        let t = TenantId::parse("acme-2").unwrap();
        let id = OrderId::parse("0190f0a0-0000-7000-8000-000000000001").unwrap();
        assert_eq!(parse_order_pk(&order_pk(&t, &id)), Some(("acme-2".into(), id.to_string())));
        assert_eq!(parse_order_pk("T#acme#FLOW"), None);
    }

    use super::*;

    #[test]
    fn sortable_time_is_fixed_width_and_ordered() {
        let a = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let b = a + chrono::Duration::microseconds(5);
        let c = a + chrono::Duration::seconds(1);
        let (sa, sb, sc) = (sortable_time(&a), sortable_time(&b), sortable_time(&c));
        assert_eq!(sa, "2026-12-01T12:00:00.000000000Z");
        assert_eq!(sb, "2026-12-01T12:00:00.000005000Z");
        assert_eq!(sa.len(), sb.len());
        assert!(sa < sb && sb < sc);
    }

    #[test]
    fn numeric_parts_are_zero_padded() {
        assert_eq!(event_sk(7), "EVT#0000000007");
        assert!(event_sk(9) < event_sk(10));
        assert_eq!(flow_version_sk(12), "V#000012");
        let key = NumberingKey::nfe("11222333000181", 1);
        assert_eq!(invoice_sk(&key, 42), "NFE#000000042#11222333000181#1");
        assert!(invoice_sk(&key, 9) < invoice_sk(&key, 10));
        let t = TenantId::parse("acme").unwrap();
        assert_eq!(nfe_counter_pk(&t, &key), "T#acme#SEQ#NFE#11222333000181#1");
        let dps = NumberingKey::dps("11222333000181", 1);
        assert_eq!(invoice_sk(&dps, 42), "NFE#DPS#000000000000042#11222333000181#1");
        assert!(invoice_sk(&dps, 42).starts_with(INVOICE_PREFIX) && invoice_sk(&dps, 42).starts_with(DPS_PREFIX));
        assert_eq!(nfe_counter_pk(&t, &dps), "T#acme#SEQ#DPS#11222333000181#1");
        assert_eq!(order_claim_sk(&dps), "CLAIM#DPS#11222333000181#1");
        assert_eq!(nfe_number_sk(3), "NUM#000000003");
        assert_eq!(nfe_open_sk(3), "OPEN#000000003");
        assert_eq!(nfe_void_sk(12), "VOID#000000012");
        assert!(valid_numbering(&key));
        assert!(!valid_numbering(&NumberingKey::nfe("1122#333000181", 1)));
    }

    #[test]
    fn dedupe_keys_cannot_collide_through_the_separator() {
        let t = TenantId::parse("acme").unwrap();
        let key = |consumer: &str, event_id: &str, channel: &str| DedupeKey {
            tenant: t.clone(),
            consumer: consumer.into(),
            event_id: event_id.into(),
            channel: channel.into(),
        };
        assert_eq!(dedupe_pk(&key("notifier", "o-1:7", "email")), "T#acme#DEDUPE#notifier#o-1:7#email");
        assert_eq!(settings_pk(&t), "T#acme#SETTINGS");
        assert_eq!(emitter_pk(&t), "T#acme#EMITTER");
        assert_eq!(certificate_secret_name("osflow/prod", &t), "osflow/prod/acme/a1");
        assert_eq!(certificate_secret_name("osflow/prod/", &t), "osflow/prod/acme/a1");
        assert_ne!(dedupe_pk(&key("a#b", "c", "d")), dedupe_pk(&key("a", "b#c", "d")));
        assert_ne!(dedupe_pk(&key("a%23b", "c", "d")), dedupe_pk(&key("a#b", "c", "d")));
        assert_eq!(dedupe_pk(&key("a#b%", "c", "d")), "T#acme#DEDUPE#a%23b%25#c#d");
    }
}
