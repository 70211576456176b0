//! The customer's page: a signed link per order (see [`token`]) that shows the company's name, the OS, its status
//! and timeline (dates, the notes and photos meant for the customer) and the quote, and lets the customer approve
//! (all lines, or some when the company's flow allows per-line approval), reject or ask for adjustments, without
//! an account.
//!
//! Two routes, served by [`handle`] over the request API Gateway delivers (in the `portal` Lambda function and in
//! osflow-local), both public (no JWT: the link is the credential):
//! - `GET /p/{token}`: the page (HTML);
//! - `POST /p/{token}/decision`: the decision form (`application/x-www-form-urlencoded`: `decisao` =
//!   `aprovar` | `ajustar` | `recusar`, `nome`, `comentario`, `linha_<n>` = `aprovar` | `recusar`, and the hidden
//!   `nonce` and `orcamento`).
//!
//! A decision is the staff's `decide_quote` step ([`osflow_app::App::step_as`] with [`Command::DecideQuote`]) by
//! [`Actor::Customer`], pinned to the revision of the link, with [`DecisionEvidence`] on its event (IP,
//! user agent, the name typed, SHA-256 of the quote as shown; the event has the time). Refusals change nothing:
//! a token that is malformed, forged, expired or names no order of its company gets the one neutral page (404);
//! a form whose nonce is not the one of its token and quote (CSRF) is 403; a decision on a revision that is no
//! longer the one waiting (replaced, or already decided) is 409; a second submission is answered from the
//! idempotency record of the first (the same bytes) or refused (409) when it differs.
//!
//! `http` turns the requests into calls of the portal's use cases (`customer`) and their answers into pages.

mod customer;
mod http;
pub mod links;
pub mod quote;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod token;

mod page;

use osflow_app::App;

pub use customer::awaits_decision;
pub use http::handle;
pub use links::{LINK_DAYS_ENV, PortalLinks, ttl_from_days};
pub use quote::quote_sha256;
pub use token::{Claims, KeyTooShort, PortalKey, Purpose, TokenError, default_ttl};

/// The route keys of the portal (what API Gateway routes to the `portal` function).
pub const ROUTE_PAGE: &str = "GET /p/{token}";
pub const ROUTE_DECISION: &str = "POST /p/{token}/decision";
/// The DANFE of the order's authorized NF-e (the PDF the invoicer printed).
pub const ROUTE_DANFE: &str = "GET /p/{token}/danfe.pdf";
/// The DANFSe of one of the order's issued NFS-e (`key`: its 50-digit access key).
pub const ROUTE_DANFSE: &str = "GET /p/{token}/danfse/{key}";

/// The portal: the use cases and the deployment's key.
#[derive(Debug, Clone)]
pub struct Portal {
    pub app: App,
    pub key: PortalKey,
}
