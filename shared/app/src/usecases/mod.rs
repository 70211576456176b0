//! The use cases: one entry point per step of the flow, plus reads and the flow editor.
//!
//! Every use case takes the [`Caller`] (tenant, user and roles, as the authorizer established them) and scopes
//! everything to the caller's tenant: another tenant's order is `NotFound`, never `Forbidden`, so ids cannot
//! be probed. Role checks of the steps live in the domain (the flow says who may do what); role checks of the
//! reads and of the flow editor live here.
//!
//! The modules: [`App`] and its construction (`app`), the steps (`steps`), the reads (`reads`), the flow editor
//! (`flows`), the notification settings (`settings`), the NF-e emitter (`fiscal`), the events of authorized NF-e
//! and their documents (`nfe_events`), the NFS-e's cancellation and one issued elsewhere (`nfse_events`), the
//! DANFSe of an NFS-e (`danfse`), the paperwork settings, warranty returns and printed OS (`paperwork`), the
//! equipment's unlock code (`unlock`), the company's users and the technician's check (`users`).

mod app;
mod danfse;
mod fiscal;
mod flows;
mod nfe_events;
mod nfse_events;
mod paperwork;
mod read_cache;
mod reads;
mod records;
mod settings;
mod steps;
mod unlock;
mod users;

pub use app::*;
pub use fiscal::*;
pub use flows::*;
pub use nfe_events::*;
pub use nfse_events::*;
pub use paperwork::*;
pub use read_cache::{ReadCache, ReadView};
pub use records::*;
pub use settings::*;
pub use steps::*;
pub use unlock::*;
pub use users::*;

use osflow_domain::values::{TenantId, UserId};
use osflow_domain::{Actor, DomainError, FlowError, Order, Role};

use crate::ports::StoreError;

/// Who is calling: established by the JWT authorizer (Lambda) or the development token (osflow-local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    pub roles: Vec<Role>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::staff(self.user.clone(), self.roles.clone())
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

/// Why a use case refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Unknown order (or another tenant's).
    #[error("not found")]
    NotFound,
    /// The caller's roles do not allow this.
    #[error("forbidden: requires one of {allowed:?}")]
    Forbidden { allowed: Vec<Role> },
    /// Refused by the rules of the domain.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A flow definition was refused.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// `If-Match` named another version.
    #[error("precondition failed: the current version is {current_version}")]
    PreconditionFailed { current_version: u64 },
    /// Concurrent writers kept winning; the client may retry.
    #[error("conflict: the current version is {current_version}")]
    Conflict { current_version: u64 },
    /// The `Idempotency-Key` was used before with another request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// An event of an authorized NF-e was refused (its state, the legal window, SEFAZ) or SEFAZ did not answer:
    /// [`NfeEventError::Refused`](crate::ports::NfeEventError) or `Unavailable`.
    #[error(transparent)]
    NfeEvent(crate::ports::NfeEventError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::IdempotencyMismatch => AppError::IdempotencyMismatch,
            other => AppError::Store(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// An `Idempotency-Key` with the hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// A response as the HTTP layer will send it: the use case saves it with the step under the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: String,
}

/// The result of a write: a fresh result, or the response saved for an earlier identical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    Fresh(T),
    Replayed(Rendered),
}

/// A write that happened: the new state and the response rendered for it (saved under the idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stepped {
    pub order: Order,
    pub rendered: Rendered,
}

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// The roles that read orders, flows and invoices: every staff role.
const READERS: [Role; 4] = [Role::Representante, Role::Atendente, Role::Tecnico, Role::Financeiro];

/// Every staff role: a step is for staff (the flow then says which role may do it).
pub const STAFF_ROLES: [Role; 4] = READERS;

/// Who administers the company: publishes a flow, edits the notification settings, configures the NF-e emitter,
/// generates a report now. Front ends check it before reading the body, so others get 403, never field details.
pub const ADMIN_ROLES: [Role; 1] = [Role::Representante];

impl App {
    /// `Forbidden` unless the caller has one of `roles`.
    pub fn require(&self, caller: &Caller, roles: &[Role]) -> AppResult<()> {
        if caller.has_any(roles) { Ok(()) } else { Err(AppError::Forbidden { allowed: roles.to_vec() }) }
    }
}
