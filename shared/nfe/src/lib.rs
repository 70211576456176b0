//! NF-e 4.00 (model 55, schema package PL_010f) for osflow: the parts of a paid service order.
//!
//! - [`model`]: what the caller provides ([`NfeInput`]); [`build()`] validates it (typed
//!   [`BuildError`]s naming the field), computes taxes and totals, composes the
//!   [`AccessKey`] and writes `infNFe` in canonical form.
//! - [`sign()`]: enveloped XMLDSig with the SEFAZ profile, using an A1 [`Certificate`]
//!   loaded from PKCS#12 ([`cert`]); [`verify()`] checks one the same way SEFAZ does.
//! - [`wrap`]: `enviNFe`, the SOAP 1.2 envelope and `nfeProc`, embedding the signed bytes verbatim.
//! - [`FiscalAuthority`]: the SEFAZ port, with [`sefaz::SefazSoap`] (SOAP over mutual TLS)
//!   and [`simulator::Simulator`] (offline homologation).

pub mod authority;
pub mod build;
pub mod cert;
pub mod danfe;
pub mod dsig;
pub mod error;
pub mod event;
pub mod key;
pub mod model;
pub mod num;
pub mod sefaz;
pub mod sign;
pub mod simulator;
pub mod text;
pub mod verify;
pub mod wrap;
pub mod xml;

pub use authority::{FiscalAuthority, Outcome, Protocol, ServiceStatus, TransportError, inconclusive};
pub use build::{IbsCbsTotals, NFE_NS, Totals, UnsignedNfe, build};
pub use cert::{CertError, CertInfo, Certificate, X509Cert};
pub use danfe::{DanfeError, danfe};
pub use dsig::SignatureAlgorithm;
pub use error::{BuildError, Problem};
pub use event::{
    DocumentError, EventDetail, EventInput, EventReceipt, EventType, SignedEvent, SignedVoid, VoidInput, VoidReceipt,
    env_evento, proc_evento, proc_inut, sign_event, sign_void,
};
pub use key::{AccessKey, Cnf, Cnpj, Cpf, KeyError, Uf};
pub use model::*;
pub use sign::{SignError, SignedNfe, sign};
pub use verify::{VerifyError, verify, verify_document};
pub use xml::XmlError;
