//! osflow-api driven through `handle` with API Gateway requests, on the embedded SQLite store.

mod admin;
mod attachments;
mod bad_input;
mod fiscal;
mod flow;
mod hardening;
mod idempotency;
mod limits;
mod lists;
mod nfse;
mod openapi;
mod read_cache;
mod routing;
mod search;
mod support;
mod tenancy;
mod unlock;
mod users;
