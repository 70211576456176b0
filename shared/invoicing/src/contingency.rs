//! SEFAZ's virtual contingency (SVC-AN, tpEmis 6; SVC-RS, tpEmis 7) for the NF-e of a company whose UF's
//! authorizer is down.
//!
//! - **Entering.** Only proof that the UF's authorizer never received an NF-e moves it to the SVC: an answer
//!   that it is paused (cStat 108/109) or no connection made before the request was sent. The company's state
//!   (`EmitterStore::save_contingency`, conditional on the revision read) records the SVC of its UF, since when
//!   (`dhCont`) and why (`xJust`); the NF-e is re-signed under the same number, cNF and issue instant with the
//!   contingency tpEmis, so its access key changes (tpEmis is a digit of it) and the stored record and the
//!   order's record follow the new key. A timeout after the request was sent proves nothing: the NF-e stays
//!   pending and its key is consulted (NfeConsultaProtocolo4) before anything else; only a consult answering
//!   that SEFAZ does not know it (217) lets it be re-keyed.
//! - **In contingency.** New NF-e are keyed for the SVC from the start. Before each NF-e is sent the UF's
//!   authorizer is asked for its status (NfeStatusServico4): once it answers in operation (107) the company is
//!   back to normal, and an NF-e not yet received anywhere is re-keyed back to tpEmis 1.
//! - **One NF-e per OS.** Both keys carry the same number and série, so SEFAZ itself refuses a second
//!   authorization of the number (539); an NF-e is re-keyed only when its previous key provably never reached
//!   an authorizer.

use chrono::{DateTime, SubsecRound, Utc};
use osflow_app::{ContingencyEntry, ContingencyState, FiscalEnvironment, InvoiceRecord, StoreError, SvcAuthorizer};
use osflow_domain::Order;
use osflow_nfe::sefaz::endpoints;
use osflow_nfe::{Contingency, EmissionType, Environment, FiscalAuthority, NfeInput, TransportError, Uf, build};

use crate::config::ValidEmitter;
use crate::invoicer::{InvoiceError, Invoicer};
use crate::mapping::brt;

/// The SVC that serves `uf`: SVC-RS for AM, BA, GO, MA, MS, MT, PE, PR; SVC-AN for the others.
pub fn svc_of(uf: Uf) -> SvcAuthorizer {
    match endpoints::contingency_authorizer(uf) {
        "SVCRS" => SvcAuthorizer::SvcRs,
        _ => SvcAuthorizer::SvcAn,
    }
}

/// Proof that the authority never received the request: it answered that it is paused (108 short term, 109
/// without forecast), or no connection was made (refused, unresolvable name, failed handshake).
pub fn never_received(e: &TransportError) -> bool {
    matches!(e, TransportError::Inconclusive { c_stat: 108 | 109, .. } | TransportError::Connect(_))
}

/// The SVC answered that it is not on for the UF (113 being switched off, 114 off): it took nothing; not a
/// rejection of the document.
pub fn svc_off(c_stat: u16) -> bool {
    matches!(c_stat, 113 | 114)
}

/// The `tpEmis` of an entry (none: normal issue).
pub fn emission(entry: Option<&ContingencyEntry>) -> EmissionType {
    match entry.map(|e| e.authorizer) {
        None => EmissionType::Normal,
        Some(SvcAuthorizer::SvcAn) => EmissionType::SvcAn,
        Some(SvcAuthorizer::SvcRs) => EmissionType::SvcRs,
    }
}

/// The NF-e input issued under `entry` (`tpEmis`, `dhCont`, `xJust`), or normally.
pub fn under(input: NfeInput, entry: Option<&ContingencyEntry>) -> NfeInput {
    NfeInput {
        emission: emission(entry),
        contingency: entry.map(|e| Contingency { since: brt(e.since), reason: e.reason.clone() }),
        ..input
    }
}

/// The environment of the emitter's sequence (a contingency holds only in the environment whose authorizer is
/// down).
fn environment(emitter: &ValidEmitter) -> FiscalEnvironment {
    match emitter.environment {
        Environment::Production => FiscalEnvironment::Production,
        Environment::Homologation => FiscalEnvironment::Homologation,
    }
}

/// `xJust` (15–256 characters): which authorizer failed, how, and where the NF-e goes.
fn reason(uf: Uf, svc: SvcAuthorizer, cause: &TransportError) -> String {
    let what = match cause {
        TransportError::Inconclusive { c_stat, x_motivo } => format!("respondeu cStat {c_stat} ({x_motivo})"),
        _ => "não aceitou conexão".to_owned(),
    };
    let text = format!(
        "Autorizador da NF-e de {uf} ({}) {what}; emissão em contingência {}",
        endpoints::authorizer(uf),
        svc.label()
    );
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    text.chars().take(256).collect()
}

impl Invoicer {
    /// The contingency stored for the company in `environment` (no question to SEFAZ).
    pub(crate) async fn stored_contingency(
        &self,
        order: &Order,
        environment: FiscalEnvironment,
    ) -> Result<Option<ContingencyEntry>, InvoiceError> {
        let state = self.emitters.contingency(&order.tenant).await?;
        Ok(state.and_then(|s| s.active_in(environment).cloned()))
    }

    /// The contingency NF-e are issued under now. While the company is in one, its UF's authorizer is asked
    /// (NfeStatusServico4): in operation (107), the company returns to normal; anything else keeps it in the SVC.
    pub(crate) async fn current_contingency(
        &self,
        order: &Order,
        emitter: &ValidEmitter,
        authority: &dyn FiscalAuthority,
    ) -> Result<Option<ContingencyEntry>, InvoiceError> {
        let Some(state) = self.emitters.contingency(&order.tenant).await? else { return Ok(None) };
        let Some(entry) = state.active_in(environment(emitter)).cloned() else { return Ok(None) };
        match authority.status().await {
            Ok(status) if status.in_operation() => {
                self.leave(order, state).await?;
                Ok(None)
            }
            Ok(status) => {
                tracing::info!(tenant = %order.tenant, c_stat = status.c_stat, "UF authorizer still down: SVC");
                Ok(Some(entry))
            }
            Err(e) => {
                tracing::info!(tenant = %order.tenant, error = %e, "UF authorizer status unknown: SVC");
                Ok(Some(entry))
            }
        }
    }

    /// Enters the UF's SVC after `cause` proved the UF's authorizer never received an NF-e, or joins the entry
    /// another delivery made first (the write is conditional on the state read).
    pub(crate) async fn enter_contingency(
        &self,
        order: &Order,
        emitter: &ValidEmitter,
        cause: &TransportError,
    ) -> Result<ContingencyEntry, InvoiceError> {
        let environment = environment(emitter);
        let uf = emitter.emitter.address.uf;
        for _ in 0..4 {
            let stored = self.emitters.contingency(&order.tenant).await?;
            if let Some(entry) = stored.as_ref().and_then(|s| s.active_in(environment)) {
                return Ok(entry.clone());
            }
            let now = self.app.clock.now();
            let svc = svc_of(uf);
            let entry =
                ContingencyEntry { authorizer: svc, since: now.trunc_subsecs(0), reason: reason(uf, svc, cause) };
            let expected = stored.as_ref().map_or(0, |s| s.revision);
            let next = ContingencyState {
                environment,
                active: Some(entry.clone()),
                last: stored.as_ref().and_then(|s| s.last.clone()),
                ended_at: stored.as_ref().and_then(|s| s.ended_at),
                revision: expected + 1,
                updated_at: now,
            };
            match self.emitters.save_contingency(&order.tenant, &next, expected).await {
                Ok(()) => {
                    tracing::warn!(tenant = %order.tenant, svc = svc.label(), cause = %cause, "entered SEFAZ contingency");
                    return Ok(entry);
                }
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unavailable("the contingency state kept changing".into()).into())
    }

    /// Back to normal issue: the entry is kept as the last one, with when it ended. A concurrent change wins (it
    /// is read again before the next NF-e).
    async fn leave(&self, order: &Order, state: ContingencyState) -> Result<(), InvoiceError> {
        let now = self.app.clock.now();
        let next = ContingencyState {
            last: state.active.clone(),
            active: None,
            ended_at: Some(now),
            revision: state.revision + 1,
            updated_at: now,
            ..state.clone()
        };
        match self.emitters.save_contingency(&order.tenant, &next, state.revision).await {
            Ok(()) => {
                tracing::info!(tenant = %order.tenant, "UF authorizer in operation: contingency over");
                Ok(())
            }
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-keys a record SEFAZ provably never received for `entry` (none: normal issue): the same number, cNF and
    /// issue instant, another tpEmis and so another key; the stored record, then the order, follow it.
    pub(crate) async fn rekey(
        &self,
        order: &Order,
        record: &InvoiceRecord,
        entry: Option<&ContingencyEntry>,
        input: NfeInput,
    ) -> Result<InvoiceRecord, InvoiceError> {
        let key = build(&under(input, entry))?.key().as_str().to_owned();
        tracing::warn!(order = %record.order_id, from = %record.access_key, to = %key, "NF-e re-keyed for its emission type");
        let next = InvoiceRecord {
            access_key: key,
            contingency: entry.cloned(),
            revision: record.revision + 1,
            updated_at: self.app.clock.now(),
            ..record.clone()
        };
        self.app.invoices.save_invoice(&next, record.revision).await?;
        let current = self.app.orders.get(&order.tenant, &order.id).await?.ok_or(InvoiceError::NotFound)?;
        self.record_on_order(&current, &next).await?;
        Ok(next)
    }
}

/// When a contingency entry began, as the NF-e writes it (`dhCont`, Brasília time).
pub fn dh_cont(since: DateTime<Utc>) -> String {
    brt(since).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
