//! Integration tests of osflow-nfse. Every DPS and event produced here is also checked by
//! external tools: the official NFS-e 1.01 schemas of the PyPI package nfelib with `xmllint`
//! (NFSE_SCHEMA_DIR, set by `scripts/test`) and the signature with `xmlsec1`, for both
//! signature algorithms.

mod support;

mod build;
mod danfse;
mod sefin;
mod simulator;
