//! NFS-e Nacional (leiaute 1.01) for osflow: the labor of a paid service order.
//!
//! - [`model`]: what the caller provides ([`DpsInput`]); [`build()`] validates it (typed
//!   [`BuildError`]s naming the schema field), composes the [`DpsId`] and writes `infDPS` in
//!   canonical form.
//! - [`sign_dps`]: enveloped XMLDSig over `infDPS` (RSA-SHA256 by default, RSA-SHA1 on
//!   request) with the A1 [`Certificate`]; [`event::cancel`] builds and signs e101101.
//! - [`NfseAuthority`]: the Sefin Nacional port, with [`client::SefinClient`] (REST over
//!   mutual TLS) and [`simulator::Simulator`] (offline produção restrita).
//! - [`danfse()`]: the DANFSe, an A4 PDF of the NFS-e as Sefin returned it, with the QR code of its public consult.

pub mod authority;
pub mod build;
pub mod client;
pub mod codec;
pub mod danfse;
pub mod event;
pub mod id;
pub mod model;
pub mod sign;
pub mod simulator;

pub use authority::{EventOutcome, IssueOutcome, IssuedNfse, NfseAuthority, SefinError, TransportError};
pub use build::{NFSE_NS, UnsignedDps, build};
pub use danfse::{DanfseError, Situation, consult_url, danfse};
pub use id::{DpsId, NfseKey};
pub use model::*;
pub use osflow_nfe::error::{BuildError, Problem};
pub use osflow_nfe::{Certificate, SignatureAlgorithm};
pub use sign::{SignedDps, sign_dps, verify_dps};
