//! Integration tests of osflow-nfe. Every NF-e produced here is also checked by external
//! tools: the official PL_010f schemas with `xmllint` and the signature with `xmlsec1`
//! (run through `scripts/test`, which exports NFE_SCHEMA_DIR).

#[path = "nfe/support.rs"]
mod support;

#[path = "nfe/build.rs"]
mod build;
#[path = "nfe/cert.rs"]
mod cert;
#[path = "nfe/danfe.rs"]
mod danfe;
#[path = "nfe/events.rs"]
mod events;
#[path = "nfe/external.rs"]
mod external;
#[path = "nfe/key.rs"]
mod key;
#[path = "nfe/sefaz.rs"]
mod sefaz;
#[path = "nfe/simulator.rs"]
mod simulator;
