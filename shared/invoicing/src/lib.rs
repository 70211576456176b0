//! NF-e issuing for osflow (the parts of a paid service order):
//!
//! - [`config`]: checks a company's [`EmitterConfig`](osflow_app::EmitterConfig) and turns it into the
//!   osflow-nfe emitter and tax rules;
//! - [`mapping`]: `Order` + emitter → [`osflow_nfe::NfeInput`] (one `det` per approved part line, `dest` from
//!   the customer, `pag` from the payments, the OS number in `infAdic`); labor lines go on an NFS-e, not here;
//! - [`Invoicer`]: the idempotent issuing use case (gapless number, stored cNF and key, sign, transmit, store the
//!   nfeProc, record the state on the order);
//! - the [`Invoicer`] is also the consumer of the `invoicing.fifo` queue (see `consumer`);
//! - the events of an authorized NF-e: its cancellation ([`cancel`]) and cartas de correção, the
//!   [`NfeEvents`](osflow_app::NfeEvents) port of the API on the [`Invoicer`];
//! - SEFAZ's contingency ([`contingency`]): an NF-e the UF's authorizer provably never received is re-keyed and
//!   issued at the UF's SVC (SVC-AN / SVC-RS), and the company returns to normal when the authorizer answers;
//! - the inutilização of numbers given up ([`voids`]): the gaps of a sequence and voiding a range of them;
//! - the cancellation of an issued NFS-e (e101101), the [`NfseEvents`](osflow_app::NfseEvents) port on the
//!   [`NfseInvoicer`];
//! - [`NfeChecks`]: the emitter checks the API needs (configuration rules, PKCS#12 files) as the
//!   `FiscalChecks` port;
//! - [`SefazAuthorities`]: SEFAZ as the authority of each emitter (mutual TLS with its certificate);
//! - [`EmitterPolicy`]: invoicing is enabled for a company exactly when its emitter is configured (the release
//!   guard `invoice_authorized` depends on it).

pub mod cancel;
mod checks;
pub mod config;
mod consumer;
pub mod contingency;
mod events;
pub mod invoicer;
pub mod mapping;
pub mod nfse;
mod nfse_cancel;
pub mod nfse_issue;
mod sefaz;
mod sefin;
pub mod voids;

use std::sync::Arc;

use async_trait::async_trait;
use osflow_app::{EmitterStore, InvoicingPolicy, StoreError};
use osflow_domain::values::TenantId;

pub use cancel::{CANCEL_WINDOW_HOURS, CancelError, cancel_blob_key};
pub use checks::NfeChecks;
pub use config::{ConfigError, ValidEmitter, validate};
pub use invoicer::{AuthorityFor, InvoiceError, Invoicer, Issued, SharedAuthority};
pub use mapping::{MapError, nfe_input};
pub use nfse::{ValidNfse, dps_inputs, validate_nfse};
pub use nfse_issue::{NfseAuthorityFor, NfseInvoicer, NfseIssued, SharedNfseAuthority};
pub use sefaz::SefazAuthorities;
pub use sefin::SefinAuthorities;
pub use voids::{MAX_VOID_RANGE, VOID_JUSTIFICATION_CHARS};

/// Invoicing enabled ⇔ the company has an emitter configured.
#[derive(Clone)]
pub struct EmitterPolicy {
    emitters: Arc<dyn EmitterStore>,
}

impl EmitterPolicy {
    pub fn new(emitters: Arc<dyn EmitterStore>) -> EmitterPolicy {
        EmitterPolicy { emitters }
    }
}

impl std::fmt::Debug for EmitterPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmitterPolicy").finish_non_exhaustive()
    }
}

#[async_trait]
impl InvoicingPolicy for EmitterPolicy {
    async fn invoicing_enabled(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        Ok(self.emitters.emitter(tenant).await?.is_some())
    }

    /// NFS-e too when the emitter has its municipal part (the NFS-e invoicer issues it then) or issues it elsewhere
    /// (one recorded on the OS).
    async fn documents(&self, tenant: &TenantId) -> Result<osflow_domain::Invoicing, StoreError> {
        let config = self.emitters.emitter(tenant).await?;
        let nfse = config.as_ref().is_some_and(|c| c.nfse.is_some() || c.nfse_elsewhere);
        Ok(osflow_domain::Invoicing { nfe: config.is_some(), nfse })
    }
}
