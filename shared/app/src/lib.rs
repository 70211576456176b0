//! osflow's application layer: the ports (what the use cases need from the outside world) and the use cases.
//!
//! Adapters (`store-dynamodb`, `store-sqlite`, `bus`, `nfe`, `lambda-kit`) implement the ports; functions and
//! `osflow-local` wire adapters into use cases. Authorization of roles and tenants happens here, never in a handler.

pub mod backoff;
pub mod ports;
pub mod receipts;
pub mod sealed;
pub mod search;
pub mod templates;
pub mod usecases;

pub use backoff::backoff;
pub use ports::*;
pub use search::OrderQuery;
pub use usecases::*;
