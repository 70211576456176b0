//! The DynamoDB adapter's tests, one binary: the conformance suite and the layout/cost/failure cases
//! (`conformance`), the emitter store with Secrets Manager (`emitter`), the staff's order search on the table's
//! indexes (`search`), over the emulator's shared plumbing (`support`).

mod conformance;
mod emitter;
mod search;
mod support;
