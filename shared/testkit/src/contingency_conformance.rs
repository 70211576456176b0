//! The contingency state of `EmitterStore` (a case of the conformance suite run on every adapter, called with
//! the adapter's emitter store: the DynamoDB one needs Secrets Manager besides the table, so it is not part of
//! [`Stores`](crate::conformance::Stores)).

use std::sync::Arc;

use osflow_app::{ContingencyEntry, ContingencyState, EmitterStore, FiscalEnvironment, StoreError, SvcAuthorizer};

use crate::conformance::{at, tenant};

fn entered(revision: u64) -> ContingencyState {
    ContingencyState {
        environment: FiscalEnvironment::Homologation,
        active: Some(ContingencyEntry {
            authorizer: SvcAuthorizer::SvcAn,
            since: at(1),
            reason: "SEFAZ SP indisponível (cStat 108) – emissão em SVC-AN \"&<>'".into(),
        }),
        last: None,
        ended_at: None,
        revision,
        updated_at: at(1),
    }
}

/// Saved conditionally on the revision read (one winner of two writers of the same revision; a stale write is
/// refused naming the stored revision), read back whole, and per company.
pub async fn contingency_state_is_versioned_and_per_company(emitters: Arc<dyn EmitterStore>) {
    let fresh = |name: &str| tenant(&format!("{name}-{}", &crate::unique()[20..]));
    let (acme, beta) = (fresh("acme"), fresh("beta"));
    assert_eq!(emitters.contingency(&acme).await.unwrap(), None);

    let first = entered(1);
    emitters.save_contingency(&acme, &first, 0).await.unwrap();
    assert_eq!(emitters.contingency(&acme).await.unwrap(), Some(first.clone()));
    assert_eq!(emitters.save_contingency(&acme, &first, 0).await, Err(StoreError::AlreadyExists));
    assert_eq!(emitters.contingency(&beta).await.unwrap(), None, "another company stays normal");

    // The return to normal keeps the entry that ended.
    let back = ContingencyState {
        active: None,
        last: first.active.clone(),
        ended_at: Some(at(30)),
        revision: 2,
        updated_at: at(30),
        ..first.clone()
    };
    emitters.save_contingency(&acme, &back, 1).await.unwrap();
    assert_eq!(emitters.contingency(&acme).await.unwrap(), Some(back.clone()));
    assert_eq!(
        emitters.save_contingency(&acme, &entered(2), 1).await,
        Err(StoreError::Conflict { current_version: 2 }),
        "a write over a stale revision"
    );

    // Two writers of the same revision at once: one wins.
    let (a, b) = (entered(3), ContingencyState { environment: FiscalEnvironment::Production, ..entered(3) });
    let (ra, rb) = tokio::join!(emitters.save_contingency(&acme, &a, 2), emitters.save_contingency(&acme, &b, 2));
    assert!(ra.is_ok() != rb.is_ok(), "exactly one winner: {ra:?} {rb:?}");
    let stored = emitters.contingency(&acme).await.unwrap().unwrap();
    assert_eq!(stored, if ra.is_ok() { a } else { b });
    assert!(stored.active_in(stored.environment).is_some());
    let other = if stored.environment == FiscalEnvironment::Production {
        FiscalEnvironment::Homologation
    } else {
        FiscalEnvironment::Production
    };
    assert_eq!(stored.active_in(other), None, "a contingency holds only in its environment");
}
