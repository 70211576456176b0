//! The inutilização of NF-e numbers given up (`inutNFe` 4.00, NFeInutilizacao4): the gaps of a sequence, and
//! voiding a range of them at SEFAZ, its procInutNFe stored and the numbers never given again.
//!
//! A number is **given up** — a gap SEFAZ expects voided — when it was claimed and its NF-e was never authorized
//! and either its order was cancelled, its order's NF-e was issued again under another number or sequence, or
//! SEFAZ rejected it (the staff gives a rejected NF-e up by voiding its number; the order's next attempt takes a
//! new number). A pending NF-e of an order that still needs it is in flight, never a gap: consult and resend are
//! its way. Before voiding, every NF-e built under a number of the range is consulted at SEFAZ: only "not found"
//! (217) lets the range go.

use chrono::Datelike;
use osflow_app::{
    Blob, ClaimedNumber, FieldProblem, FiscalEnvironment, GapReason, InvoiceRecord, NfeEventError, NfeGaps, NumberGap,
    NumberingKey, StoreError, VoidRecord, VoidState, void_blob_key,
};
use osflow_domain::InvoiceState;
use osflow_domain::values::TenantId;
use osflow_nfe::{AccessKey, Outcome, SignedVoid, VoidInput, proc_inut, sign_void};

use crate::config::{ValidEmitter, nfe_environment, validate};
use crate::events::document_error;
use crate::invoicer::{InvoiceError, Invoicer, record_on_order};
use crate::mapping::brt;

/// Open numbers read per store page while listing gaps.
const PAGE: usize = 200;
/// The most numbers one inutilização voids here (each is checked and consulted).
pub const MAX_VOID_RANGE: u64 = 500;

/// `xJust` of an inutilização: 15–255 characters.
pub const VOID_JUSTIFICATION_CHARS: (usize, usize) = (15, 255);

/// How long a request holds the right to send an inutilização (longer than SEFAZ's timeout).
const SENDING_LEASE: chrono::Duration = chrono::Duration::seconds(90);

fn in_progress() -> NfeEventError {
    refused("outra inutilização desta faixa está em andamento: consulte as lacunas em instantes")
}

fn refused(message: impl Into<String>) -> NfeEventError {
    NfeEventError::Refused { c_stat: None, message: message.into() }
}

fn invalid(field: &str, message: impl Into<String>) -> NfeEventError {
    NfeEventError::Invalid(FieldProblem { field: field.into(), message: message.into() })
}

/// Final states: the number is used for good.
fn settled(state: InvoiceState) -> bool {
    matches!(state, InvoiceState::Authorized | InvoiceState::Denied | InvoiceState::Cancelled | InvoiceState::Voided)
}

impl Invoicer {
    /// The emitter (in `environment`, its own when `None`) and its NF-e sequence there.
    async fn sequence(
        &self,
        tenant: &TenantId,
        environment: Option<FiscalEnvironment>,
    ) -> Result<(ValidEmitter, NumberingKey), InvoiceError> {
        let config = self.emitters.emitter(tenant).await?.ok_or(InvoiceError::NotConfigured)?;
        let mut emitter = validate(&config)?;
        let environment = environment.unwrap_or(config.environment);
        emitter.environment = nfe_environment(environment);
        let numbering =
            NumberingKey::nfe(emitter.emitter.cnpj.as_str(), u32::from(emitter.serie)).in_environment(environment);
        Ok((emitter, numbering))
    }

    /// Why the claimed number is a gap; `None` when it is not (used for good, or still needed by its order).
    async fn gap(
        &self,
        tenant: &TenantId,
        numbering: &NumberingKey,
        claim: &ClaimedNumber,
    ) -> Result<Option<NumberGap>, InvoiceError> {
        let records = self.app.invoices.invoices(tenant, &claim.order_id).await?;
        let record = records.iter().find(|r| r.numbering == *numbering && r.number == claim.number).cloned();
        if let Some(r) = &record
            && settled(r.state)
        {
            // Its NF-e reached a final state and the marker was left open (settled before markers existed, or
            // the marker's write was lost): close it now.
            if claim.open && r.state != InvoiceState::Voided {
                self.app.invoices.settle_number(tenant, numbering, claim.number).await?;
            }
            return Ok(None);
        }
        let order = self.app.orders.get(tenant, &claim.order_id).await?;
        let cancelled = order.as_ref().is_none_or(|o| o.cancel_reason.is_some());
        let mine = |r: &InvoiceRecord| r.numbering == *numbering && r.number == claim.number;
        let later = records.iter().any(|r| {
            r.numbering.document.is_nfe() && !mine(r) && record.as_ref().is_none_or(|m| r.created_at > m.created_at)
        });
        let reason = if cancelled {
            GapReason::OrderCancelled
        } else if later {
            GapReason::Superseded
        } else if record.as_ref().is_some_and(|r| r.state == InvoiceState::Rejected) {
            GapReason::Rejected
        } else {
            return Ok(None);
        };
        Ok(Some(NumberGap { number: claim.number, order_id: claim.order_id, reason, invoice: record }))
    }

    /// The gaps of the emitter's NF-e sequence and its inutilizações.
    pub async fn gaps(
        &self,
        tenant: &TenantId,
        environment: Option<FiscalEnvironment>,
    ) -> Result<NfeGaps, InvoiceError> {
        let (_, numbering) = self.sequence(tenant, environment).await?;
        let mut gaps = Vec::new();
        let mut from = 1;
        loop {
            let page = self.app.invoices.open_numbers(tenant, &numbering, from, PAGE).await?;
            for claim in &page {
                if let Some(gap) = self.gap(tenant, &numbering, claim).await? {
                    gaps.push(gap);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.number + 1,
                _ => break,
            }
        }
        let voids = self.app.invoices.voids(tenant, &numbering).await?;
        Ok(NfeGaps { numbering, gaps, voids })
    }

    /// Voids `first..=last` of the emitter's sequence at SEFAZ.
    ///
    /// 1. The same range again is the inutilização made (returned), or one still unanswered (its signed bytes
    ///    sent again). A range overlapping another inutilização is refused.
    /// 2. Every number of the range must be claimed and a gap; every NF-e built under one is consulted at SEFAZ
    ///    and must be unknown there (217).
    /// 3. The request is signed and recorded pending before it is sent; SEFAZ's answer settles it: voided (the
    ///    procInutNFe stored, then the NF-e records and their orders marked voided, then the numbers released),
    ///    or rejected (its cStat; nothing voided).
    pub async fn void_range(
        &self,
        tenant: &TenantId,
        environment: Option<FiscalEnvironment>,
        first: u64,
        last: u64,
        justification: &str,
    ) -> Result<VoidRecord, NfeEventError> {
        if first == 0 || first > 999_999_999 {
            return Err(invalid("first", "deve ser um número de NF-e de 1 a 999999999"));
        }
        if last < first || last > 999_999_999 {
            return Err(invalid("last", "deve ser um número de NF-e de first a 999999999"));
        }
        if last - first >= MAX_VOID_RANGE {
            return Err(invalid("last", format!("uma inutilização cobre até {MAX_VOID_RANGE} números")));
        }
        let (emitter, numbering) = self.sequence(tenant, environment).await?;
        let voids = self.app.invoices.voids(tenant, &numbering).await?;
        if let Some(v) = voids.iter().find(|v| v.first == first && v.last == last && v.state != VoidState::Rejected) {
            return self.again(tenant, v.clone(), &emitter).await;
        }
        if let Some(v) = voids.iter().find(|v| v.state != VoidState::Rejected && v.first <= last && first <= v.last) {
            return Err(refused(format!(
                "os números {}–{} já estão numa inutilização desta série ({}–{})",
                first.max(v.first),
                last.min(v.last),
                v.first,
                v.last
            )));
        }

        if let Err(refusal) = self.check_gaps(tenant, &emitter, &numbering, first, last).await {
            // A concurrent request for the same range got there first: its inutilização is the answer.
            let now = self.app.invoices.voids(tenant, &numbering).await?;
            return match now.into_iter().find(|v| v.first == first && v.last == last && v.state != VoidState::Rejected)
            {
                Some(v) => self.again(tenant, v, &emitter).await,
                None => Err(refusal),
            };
        }
        let now = self.app.clock.now();
        let certificate = self.certificate(tenant).await?;
        let range = |n: u64| u32::try_from(n).map_err(|_| invalid("last", "fora da faixa"));
        let input = VoidInput {
            environment: emitter.environment,
            uf: emitter.emitter.address.uf,
            year: brt(now).year(),
            cnpj: emitter.emitter.cnpj,
            serie: emitter.serie,
            first: range(first)?,
            last: range(last)?,
            justification: justification.to_owned(),
        };
        let signed = sign_void(&input, &certificate).map_err(|e| document_error(e, "xJust", "justification"))?;
        let mut record = VoidRecord {
            tenant: tenant.clone(),
            numbering: numbering.clone(),
            first,
            last,
            justification: justification.to_owned(),
            state: VoidState::Pending,
            id: signed.id().to_owned(),
            request_xml: signed.xml().to_owned(),
            cstat: None,
            message: None,
            protocol: None,
            xml_ref: None,
            sending_until: Some(now + SENDING_LEASE),
            revision: 1,
            created_at: now,
            updated_at: now,
        };
        // A rejected inutilização of the same first number is replaced; any other record there is a concurrent
        // request for the range: that one goes on.
        let expected = voids.iter().find(|v| v.first == first).map_or(0, |v| v.revision);
        record.revision = expected + 1;
        match self.app.invoices.save_void(&record, expected).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists | StoreError::Conflict { .. }) => return Err(in_progress()),
            Err(e) => return Err(e.into()),
        }
        self.send_void(tenant, record, &emitter).await
    }

    /// The same range asked again: the inutilização made, or the recorded request sent again unless another
    /// request is sending it now.
    async fn again(
        &self,
        tenant: &TenantId,
        record: VoidRecord,
        emitter: &ValidEmitter,
    ) -> Result<VoidRecord, NfeEventError> {
        if record.state == VoidState::Voided {
            return Ok(record);
        }
        let now = self.app.clock.now();
        if record.sending_until.is_some_and(|until| until > now) {
            return Err(in_progress());
        }
        let leased = VoidRecord {
            sending_until: Some(now + SENDING_LEASE),
            revision: record.revision + 1,
            updated_at: now,
            ..record.clone()
        };
        match self.app.invoices.save_void(&leased, record.revision).await {
            Ok(()) => self.send_void(tenant, leased, emitter).await,
            Err(StoreError::Conflict { .. }) => Err(in_progress()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every number of `first..=last` is claimed and a gap, and SEFAZ knows no NF-e built under one.
    async fn check_gaps(
        &self,
        tenant: &TenantId,
        emitter: &ValidEmitter,
        numbering: &NumberingKey,
        first: u64,
        last: u64,
    ) -> Result<(), NfeEventError> {
        let claims = self.app.invoices.claimed_numbers(tenant, numbering, first, last).await?;
        let mut built = Vec::new();
        for n in first..=last {
            let Some(claim) = claims.iter().find(|c| c.number == n) else {
                return Err(refused(format!(
                    "a NF-e nº {n} ainda não foi numerada pela osflow: só números reservados e não autorizados são \
                     inutilizados"
                )));
            };
            if claim.voided {
                return Err(refused(format!("a NF-e nº {n} já foi inutilizada")));
            }
            let Some(gap) = self.gap(tenant, numbering, claim).await? else {
                return Err(refused(format!(
                    "a NF-e nº {n} não é uma lacuna: está autorizada, denegada, cancelada ou ainda em emissão"
                )));
            };
            built.extend(gap.invoice);
        }
        // Only a range of gaps is consulted, every NF-e of it.
        for record in &built {
            self.unknown_at_sefaz(tenant, emitter, record).await?;
        }
        Ok(())
    }

    /// SEFAZ holds nothing under the record's key (consult answers 217); otherwise the range is refused.
    async fn unknown_at_sefaz(
        &self,
        tenant: &TenantId,
        emitter: &ValidEmitter,
        record: &InvoiceRecord,
    ) -> Result<(), NfeEventError> {
        let key = AccessKey::parse(&record.access_key).map_err(|_| StoreError::Corrupt("stored access key".into()))?;
        let certificate = self.certificate(tenant).await?;
        let authority = self.authorities.authority(emitter, &certificate).map_err(InvoiceError::from)?;
        match authority.consult(&key).await {
            Ok(found) if found.is_not_found() => Ok(()),
            Ok(Outcome::Rejected { c_stat, x_motivo }) if osflow_nfe::inconclusive(c_stat) => {
                Err(NfeEventError::Unavailable(format!("{c_stat} {x_motivo}")))
            }
            Ok(found) => Err(NfeEventError::Refused {
                c_stat: Some(found.c_stat()),
                message: format!(
                    "a SEFAZ tem a NF-e nº {} ({}): peça o reenvio da NF-e para registrá-la; o número não é \
                     inutilizado",
                    record.number,
                    found.c_stat()
                ),
            }),
            Err(e) => Err(NfeEventError::Unavailable(e.to_string())),
        }
    }

    /// Sends the recorded request and settles SEFAZ's answer.
    async fn send_void(
        &self,
        tenant: &TenantId,
        record: VoidRecord,
        emitter: &ValidEmitter,
    ) -> Result<VoidRecord, NfeEventError> {
        let signed = SignedVoid::from_stored(record.request_xml.as_str())
            .map_err(|e| StoreError::Corrupt(format!("stored inutNFe: {e}")))?;
        let certificate = self.certificate(tenant).await?;
        let authority = self.authorities.authority(emitter, &certificate).map_err(InvoiceError::from)?;
        // No answer: the record stays pending (the lease given back), and the same request sends these bytes
        // again.
        let unanswered = match authority.void_numbers(&signed).await {
            Ok(r) if osflow_nfe::inconclusive(r.c_stat) => Err(format!("{} {}", r.c_stat, r.x_motivo)),
            Ok(r) => Ok(r),
            Err(e) => Err(e.to_string()),
        };
        let receipt = match unanswered {
            Ok(receipt) => receipt,
            Err(why) => {
                let released = VoidRecord {
                    sending_until: None,
                    revision: record.revision + 1,
                    updated_at: self.app.clock.now(),
                    ..record.clone()
                };
                if let Err(e) = self.app.invoices.save_void(&released, record.revision).await {
                    tracing::warn!(id = %record.id, error = %e, "inutilização lease not given back: it expires");
                }
                return Err(NfeEventError::Unavailable(why));
            }
        };
        let blob_key = void_blob_key(&record.numbering, &record.id);
        let now = self.app.clock.now();
        let mut next = VoidRecord {
            sending_until: None,
            cstat: Some(receipt.c_stat),
            message: Some(receipt.x_motivo.clone()),
            protocol: receipt.protocol.clone(),
            revision: record.revision + 1,
            updated_at: now,
            ..record.clone()
        };
        // `proc_inut` refuses exactly a receipt that did not void the range: its error is the next branches.
        if let Ok(proc_) = proc_inut(&signed, &receipt) {
            let blob = Blob { content_type: "application/xml".into(), bytes: proc_.into_bytes() };
            self.app.blobs.put(tenant, &blob_key, &blob).await?;
            next.state = VoidState::Voided;
            next.xml_ref = Some(blob_key);
        } else if receipt.c_stat == 563 {
            // SEFAZ already voided this very range: an earlier send whose answer (or its record) was lost. Its
            // procInutNFe is the one kept then, if it was.
            next.state = VoidState::Voided;
            next.xml_ref = self.app.blobs.get(tenant, &blob_key).await?.map(|_| blob_key);
            next.protocol = next.protocol.or(record.protocol.clone());
        } else {
            next.state = VoidState::Rejected;
            self.app.invoices.save_void(&next, record.revision).await?;
            return Err(NfeEventError::Refused {
                c_stat: Some(receipt.c_stat),
                message: format!("SEFAZ recusou a inutilização: {} {}", receipt.c_stat, receipt.x_motivo),
            });
        }
        for n in record.first..=record.last {
            self.mark_voided(tenant, &record.numbering, n).await?;
        }
        self.app.invoices.save_void(&next, record.revision).await?;
        Ok(next)
    }

    /// The NF-e built under `number` (if any) is voided on its record and its order's timeline, then the number
    /// is released from its order. Idempotent.
    async fn mark_voided(&self, tenant: &TenantId, numbering: &NumberingKey, number: u64) -> Result<(), InvoiceError> {
        let claims = self.app.invoices.claimed_numbers(tenant, numbering, number, number).await?;
        let Some(claim) = claims.first() else { return Ok(()) };
        // The number is released only once its NF-e record says voided: a record left as it was (rejected, say)
        // would be sent again under the voided number. Three lost races fail the request; the inutilização stays
        // pending and its next send (563, already voided) marks the rest.
        for attempt in 1..=3 {
            let records = self.app.invoices.invoices(tenant, &claim.order_id).await?;
            let Some(record) = records.into_iter().find(|r| r.numbering == *numbering && r.number == number) else {
                break;
            };
            let voided = if record.state == InvoiceState::Voided {
                record
            } else {
                let voided = InvoiceRecord {
                    state: InvoiceState::Voided,
                    message: Some(format!("Número inutilizado na SEFAZ (NF-e nº {number})")),
                    revision: record.revision + 1,
                    updated_at: self.app.clock.now(),
                    ..record.clone()
                };
                match self.app.invoices.save_invoice(&voided, record.revision).await {
                    Ok(()) => voided,
                    Err(e @ StoreError::Conflict { .. }) if attempt == 3 => return Err(e.into()),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if let Some(order) = self.app.orders.get(tenant, &claim.order_id).await? {
                record_on_order(&self.app, &order, &voided).await?;
            }
            break;
        }
        self.app.invoices.void_number(tenant, numbering, number).await?;
        Ok(())
    }
}
