//! System tests of osflow-local: the real binary on a free loopback port with a temporary data folder, tokens
//! from `osflow-local token`, and every request over HTTP.
//!
//! Modules: `support` (the harness), `flows`, `refusals`, `process` (with the notifications), `portal` (a real
//! browser), `console` (the staff console in a real browser), `console_fiscal` (its NFS-e and inutilização
//! screens), `console_records` (its records and paperwork screens), `nfe`, `contingency` (SEFAZ's SVC), `nfse`
//! (the labor's NFS-e), `reports`, `paperwork` (receipts,
//! warranty returns, an NF-e with discounts).

mod console;
mod console_fiscal;
mod console_records;
mod contingency;
mod flows;
mod nfe;
mod nfse;
mod paperwork;
mod portal;
mod process;
mod records;
mod refusals;
mod reports;
mod support;
