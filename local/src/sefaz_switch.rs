//! The SEFAZ homologation simulator behind an outage switch the operator (or a test) turns from outside the
//! process: while the file `<data>/sefaz-outage` exists, the UF's authorizer answers 108 (paused) and SEFAZ's
//! contingency (SVC-AN / SVC-RS) is on, so the invoicer's contingency can be walked on osflow-local.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use osflow_nfe::simulator::Simulator;
use osflow_nfe::{
    AccessKey, EventReceipt, FiscalAuthority, Outcome, ServiceStatus, SignedEvent, SignedNfe, SignedVoid,
    TransportError, VoidReceipt,
};

/// The name of the switch file in the data folder.
pub const OUTAGE_FILE: &str = "sefaz-outage";

/// The simulator, its outage following the switch file at every request.
pub struct SwitchedSimulator {
    simulator: Arc<Simulator>,
    switch: PathBuf,
}

impl SwitchedSimulator {
    pub fn new(simulator: Arc<Simulator>, switch: PathBuf) -> SwitchedSimulator {
        SwitchedSimulator { simulator, switch }
    }

    fn sim(&self) -> &Simulator {
        self.simulator.set_outage(self.switch.exists());
        &self.simulator
    }
}

#[async_trait]
impl FiscalAuthority for SwitchedSimulator {
    async fn authorize(&self, nfe: &SignedNfe) -> Result<Outcome, TransportError> {
        self.sim().authorize(nfe).await
    }
    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        self.sim().consult(key).await
    }
    async fn status(&self) -> Result<ServiceStatus, TransportError> {
        self.sim().status().await
    }
    async fn send_event(&self, event: &SignedEvent) -> Result<EventReceipt, TransportError> {
        self.sim().send_event(event).await
    }
    async fn void_numbers(&self, request: &SignedVoid) -> Result<VoidReceipt, TransportError> {
        self.sim().void_numbers(request).await
    }
}
