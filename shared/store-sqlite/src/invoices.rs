//! [`InvoiceStore`] on SQLite: gapless NF-e numbers per (CNPJ, série) claimed once per order, and the invoice
//! records (revision-checked).

use async_trait::async_trait;
use osflow_app::{
    ClaimedNumber, FiscalDocument, InvoiceRecord, InvoiceStore, NumberingKey, StoreError, StoreResult, VoidRecord,
};
use osflow_domain::values::{OrderId, TenantId};
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, to_json};
use crate::{SqliteStore, immediate, invalid, version_column};

/// The `cnpj` column of a sequence: the CNPJ for NF-e, `DPS#<cnpj>` for the NFS-e DPS (their own sequences),
/// with `#H` after it in homologation (a sequence apart from production's).
fn sequence_column(key: &NumberingKey) -> String {
    let base = match key.document {
        FiscalDocument::Nfe => key.cnpj.clone(),
        FiscalDocument::Dps => format!("DPS#{}", key.cnpj),
    };
    format!("{base}{}", key.environment_suffix())
}

#[async_trait]
impl InvoiceStore for SqliteStore {
    async fn claim_number(&self, tenant: &TenantId, key: &NumberingKey, order: &OrderId) -> StoreResult<u64> {
        let (tenant, cnpj, serie, order) =
            (tenant.as_str().to_owned(), sequence_column(key), key.serie, order.to_string());
        // Only NF-e numbers can be voided: a DPS number is never open.
        let open = key.document.is_nfe();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let claimed: Option<i64> = tx
                .prepare_cached(
                    "SELECT number FROM invoice_claims
                     WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND order_id = ?4 AND voided = 0",
                )
                .db()?
                .query_row(params![tenant, cnpj, serie, order], |r| r.get(0))
                .optional()
                .db()?;
            if let Some(n) = claimed {
                return Ok(n as u64);
            }
            let n: i64 = tx
                .prepare_cached(
                    "INSERT INTO invoice_counters (tenant, cnpj, serie, last) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (tenant, cnpj, serie) DO UPDATE SET last = last + 1 RETURNING last",
                )
                .db()?
                .query_row(params![tenant, cnpj, serie], |r| r.get(0))
                .db()?;
            tx.prepare_cached(
                "INSERT INTO invoice_claims (tenant, cnpj, serie, order_id, number, open) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![tenant, cnpj, serie, order, n, open])
            .db()?;
            tx.commit().db()?;
            Ok(n as u64)
        })
        .await
    }

    async fn save_invoice(&self, record: &InvoiceRecord, expected_revision: u64) -> StoreResult<()> {
        if record.revision != expected_revision + 1 {
            return Err(invalid(format!(
                "an invoice saved over revision {expected_revision} has revision {}",
                expected_revision + 1
            )));
        }
        let tenant = record.tenant.as_str().to_owned();
        let order = record.order_id.to_string();
        let (cnpj, serie) = (sequence_column(&record.numbering), record.numbering.serie);
        let number = version_column(record.number)?;
        let (revision, expected) = (version_column(record.revision)?, version_column(expected_revision)?);
        let body = to_json(record)?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            if expected == 0 {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO invoices (tenant, order_id, cnpj, serie, number, revision, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (tenant, order_id, cnpj, serie, number) DO NOTHING",
                    )
                    .db()?
                    .execute(params![tenant, order, cnpj, serie, number, revision, body])
                    .db()?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyExists);
                }
            } else {
                let updated = tx
                    .prepare_cached(
                        "UPDATE invoices SET revision = ?1, body = ?2
                         WHERE tenant = ?3 AND order_id = ?4 AND cnpj = ?5 AND serie = ?6 AND number = ?7
                         AND revision = ?8",
                    )
                    .db()?
                    .execute(params![revision, body, tenant, order, cnpj, serie, number, expected])
                    .db()?;
                if updated == 0 {
                    let current: Option<i64> = tx
                        .prepare_cached(
                            "SELECT revision FROM invoices
                             WHERE tenant = ?1 AND order_id = ?2 AND cnpj = ?3 AND serie = ?4 AND number = ?5",
                        )
                        .db()?
                        .query_row(params![tenant, order, cnpj, serie, number], |r| r.get(0))
                        .optional()
                        .db()?;
                    return Err(match current {
                        None => StoreError::NotFound,
                        Some(r) => StoreError::Conflict { current_version: r as u64 },
                    });
                }
            }
            tx.commit().db()
        })
        .await
    }

    async fn invoices(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Vec<InvoiceRecord>> {
        let (tenant, order) = (tenant.as_str().to_owned(), order.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, body FROM invoices WHERE tenant = ?1 AND order_id = ?2
                     ORDER BY number, cnpj, serie",
                )
                .db()?;
            let rows = stmt.query_map([&tenant, &order], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
            let mut out = Vec::new();
            for row in rows {
                let (n, body) = row.db()?;
                out.push(from_json(&body, || format!("invoice {tenant}/{order}/{n}"))?);
            }
            Ok(out)
        })
        .await
    }

    async fn open_numbers(
        &self,
        tenant: &TenantId,
        key: &NumberingKey,
        from: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedNumber>> {
        let (tenant, cnpj, serie) = (tenant.as_str().to_owned(), sequence_column(key), key.serie);
        let (from, limit) = (version_column(from)?, i64::try_from(limit).unwrap_or(i64::MAX));
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, order_id, open, voided FROM invoice_claims
                     WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND open = 1 AND number >= ?4
                     ORDER BY number LIMIT ?5",
                )
                .db()?;
            let rows = stmt.query_map(params![tenant, cnpj, serie, from, limit], claim_row).db()?;
            rows.map(|r| r.db().and_then(claimed)).collect()
        })
        .await
    }

    async fn claimed_numbers(
        &self,
        tenant: &TenantId,
        key: &NumberingKey,
        first: u64,
        last: u64,
    ) -> StoreResult<Vec<ClaimedNumber>> {
        let (tenant, cnpj, serie) = (tenant.as_str().to_owned(), sequence_column(key), key.serie);
        let (first, last) = (version_column(first)?, version_column(last)?);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, order_id, open, voided FROM invoice_claims
                     WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND number BETWEEN ?4 AND ?5
                     ORDER BY number",
                )
                .db()?;
            let rows = stmt.query_map(params![tenant, cnpj, serie, first, last], claim_row).db()?;
            rows.map(|r| r.db().and_then(claimed)).collect()
        })
        .await
    }

    async fn settle_number(&self, tenant: &TenantId, key: &NumberingKey, number: u64) -> StoreResult<()> {
        let (tenant, cnpj, serie, number) =
            (tenant.as_str().to_owned(), sequence_column(key), key.serie, version_column(number)?);
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE invoice_claims SET open = 0 WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND number = ?4",
            )
            .db()?
            .execute(params![tenant, cnpj, serie, number])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn void_number(&self, tenant: &TenantId, key: &NumberingKey, number: u64) -> StoreResult<()> {
        let (tenant, cnpj, serie, number) =
            (tenant.as_str().to_owned(), sequence_column(key), key.serie, version_column(number)?);
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE invoice_claims SET open = 0, voided = 1
                     WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND number = ?4",
                )
                .db()?
                .execute(params![tenant, cnpj, serie, number])
                .db()?;
            if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn save_void(&self, record: &VoidRecord, expected_revision: u64) -> StoreResult<()> {
        if record.revision != expected_revision + 1 {
            return Err(invalid(format!(
                "an inutilização saved over revision {expected_revision} must have revision {}",
                expected_revision + 1
            )));
        }
        let tenant = record.tenant.as_str().to_owned();
        let (cnpj, serie, first) =
            (sequence_column(&record.numbering), record.numbering.serie, version_column(record.first)?);
        let (revision, expected) = (version_column(record.revision)?, version_column(expected_revision)?);
        let body = to_json(record)?;
        self.write(move |conn| {
            let changed = if expected == 0 {
                conn.prepare_cached(
                    "INSERT INTO invoice_voids (tenant, cnpj, serie, first, revision, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant, cnpj, serie, first) DO NOTHING",
                )
                .db()?
                .execute(params![tenant, cnpj, serie, first, revision, body])
                .db()?
            } else {
                conn.prepare_cached(
                    "UPDATE invoice_voids SET revision = ?1, body = ?2
                     WHERE tenant = ?3 AND cnpj = ?4 AND serie = ?5 AND first = ?6 AND revision = ?7",
                )
                .db()?
                .execute(params![revision, body, tenant, cnpj, serie, first, expected])
                .db()?
            };
            if changed == 1 {
                return Ok(());
            }
            if expected == 0 {
                return Err(StoreError::AlreadyExists);
            }
            let current: Option<i64> = conn
                .prepare_cached(
                    "SELECT revision FROM invoice_voids WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND first = ?4",
                )
                .db()?
                .query_row(params![tenant, cnpj, serie, first], |r| r.get(0))
                .optional()
                .db()?;
            Err(match current {
                None => StoreError::NotFound,
                Some(r) => StoreError::Conflict { current_version: r as u64 },
            })
        })
        .await
    }

    async fn voids(&self, tenant: &TenantId, key: &NumberingKey) -> StoreResult<Vec<VoidRecord>> {
        let (tenant, cnpj, serie) = (tenant.as_str().to_owned(), sequence_column(key), key.serie);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT first, body FROM invoice_voids WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3
                     ORDER BY first",
                )
                .db()?;
            let rows = stmt
                .query_map(params![tenant, cnpj, serie], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .db()?;
            let mut out = Vec::new();
            for row in rows {
                let (first, body) = row.db()?;
                out.push(from_json(&body, || format!("inutilização {tenant}/{cnpj}/{serie}/{first}"))?);
            }
            Ok(out)
        })
        .await
    }
}

type ClaimRow = (i64, String, bool, bool);

fn claim_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClaimRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn claimed((number, order, open, voided): ClaimRow) -> StoreResult<ClaimedNumber> {
    let order_id =
        OrderId::parse(&order).map_err(|_| StoreError::Corrupt(format!("claim {number}: order id {order:?}")))?;
    Ok(ClaimedNumber { number: number as u64, order_id, open, voided })
}
