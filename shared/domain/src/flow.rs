//! The company's configurable flow: statuses, transitions, guards, and its validation.
//!
//! A [`Flow`] is an immutable, versioned value. The default flow is the eight steps of the seed (plus cancel);
//! a company's `representante` can publish another one, which [`Flow::validate`] checks before it is stored.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Key of a status, e.g. `aguardando_aprovacao`: 1–40 chars of `[a-z0-9_]`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatusKey(String);

impl StatusKey {
    pub fn parse(s: &str) -> Result<Self, FlowError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok { Ok(Self(s.to_owned())) } else { Err(FlowError::InvalidStatusKey(s.to_owned())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    fn known(s: &'static str) -> Self {
        Self(s.to_owned())
    }
}

impl TryFrom<String> for StatusKey {
    type Error = FlowError;
    fn try_from(s: String) -> Result<Self, FlowError> {
        Self::parse(&s)
    }
}
impl From<StatusKey> for String {
    fn from(k: StatusKey) -> String {
        k.0
    }
}
impl fmt::Display for StatusKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a status means to the rules, whatever the company calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Open,
    AwaitingApproval,
    Approved,
    InProgress,
    WaitingMaterial,
    Finished,
    Validation,
    AwaitingPayment,
    Released,
    Closed,
    Cancelled,
    Custom,
}

impl StatusKind {
    /// Closed and cancelled orders accept no further command.
    pub fn is_final(self) -> bool {
        matches!(self, StatusKind::Closed | StatusKind::Cancelled)
    }
}

/// The fixed vocabulary of transitions, one per step of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SendQuote,
    DecideQuote,
    ReviseQuote,
    Start,
    WaitMaterial,
    Resume,
    Finish,
    Validate,
    RequestPayment,
    Release,
    Close,
    Cancel,
    Move,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::SendQuote,
        Action::DecideQuote,
        Action::ReviseQuote,
        Action::Start,
        Action::WaitMaterial,
        Action::Resume,
        Action::Finish,
        Action::Validate,
        Action::RequestPayment,
        Action::Release,
        Action::Close,
        Action::Cancel,
        Action::Move,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SendQuote => "send_quote",
            Action::DecideQuote => "decide_quote",
            Action::ReviseQuote => "revise_quote",
            Action::Start => "start",
            Action::WaitMaterial => "wait_material",
            Action::Resume => "resume",
            Action::Finish => "finish",
            Action::Validate => "validate",
            Action::RequestPayment => "request_payment",
            Action::Release => "release",
            Action::Close => "close",
            Action::Cancel => "cancel",
            Action::Move => "move",
        }
    }

    /// Whether a transition with this action may go from a status of kind `from` to one of kind `to`.
    pub fn fits(self, from: StatusKind, to: StatusKind) -> bool {
        use StatusKind as K;
        if from.is_final() {
            return false;
        }
        match self {
            Action::SendQuote => matches!(from, K::Open | K::Validation | K::Custom) && to == K::AwaitingApproval,
            Action::DecideQuote => {
                from == K::AwaitingApproval
                    && matches!(to, K::Approved | K::Open | K::Cancelled | K::InProgress | K::Validation | K::Custom)
            }
            Action::ReviseQuote => matches!(from, K::Open | K::AwaitingApproval) && from == to,
            Action::Start => matches!(from, K::Open | K::Approved | K::Validation | K::Custom) && to == K::InProgress,
            Action::WaitMaterial => from == K::InProgress && to == K::WaitingMaterial,
            Action::Resume => from == K::WaitingMaterial && to == K::InProgress,
            Action::Finish => matches!(from, K::InProgress | K::Custom) && to == K::Finished,
            Action::Validate => matches!(from, K::Finished | K::Custom) && to == K::Validation,
            Action::RequestPayment => {
                matches!(from, K::Finished | K::Validation | K::Released | K::Custom) && to == K::AwaitingPayment
            }
            Action::Release => {
                matches!(from, K::Finished | K::Validation | K::AwaitingPayment | K::Custom) && to == K::Released
            }
            Action::Close => matches!(from, K::Released | K::AwaitingPayment | K::Custom) && to == K::Closed,
            Action::Cancel => to == K::Cancelled,
            Action::Move => (from == K::Custom || to == K::Custom) && !to.is_final(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Staff roles. The customer never has a role: it acts through a signed link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Representante,
    Atendente,
    Tecnico,
    Financeiro,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Representante, Role::Atendente, Role::Tecnico, Role::Financeiro];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Representante => "representante",
            Role::Atendente => "atendente",
            Role::Tecnico => "tecnico",
            Role::Financeiro => "financeiro",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Notification channels a status can use when an order enters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Whatsapp,
    Sms,
}

/// Conditions a transition may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// The current quote revision was approved by the customer.
    QuoteApproved,
    /// The validation checklist has at least one item and every item is ok.
    ChecklistComplete,
    /// At least one photo is attached.
    AtLeastOnePhoto,
    /// Payments cover the approved amount.
    PaidInFull,
    /// The NF-e is authorized (when the company issues NF-e and the order has parts).
    InvoiceAuthorized,
    /// No supplementary quote of extra items is waiting for the customer.
    NoPendingExtraItems,
}

impl Guard {
    pub fn as_str(self) -> &'static str {
        match self {
            Guard::QuoteApproved => "quote_approved",
            Guard::ChecklistComplete => "checklist_complete",
            Guard::AtLeastOnePhoto => "at_least_one_photo",
            Guard::PaidInFull => "paid_in_full",
            Guard::InvoiceAuthorized => "invoice_authorized",
            Guard::NoPendingExtraItems => "no_pending_extra_items",
        }
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDef {
    pub key: StatusKey,
    /// pt-BR label shown to staff and customers.
    pub label: String,
    pub kind: StatusKind,
    /// Whether entering this status notifies the customer.
    #[serde(default)]
    pub notify: bool,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Time limit in this status, in hours, after which an alert is raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: StatusKey,
    pub to: StatusKey,
    pub action: Action,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// A flow definition as a company edits it, before it gets a version number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDef {
    pub initial: StatusKey,
    pub statuses: Vec<StatusDef>,
    pub transitions: Vec<Transition>,
    /// Whether the customer may approve or reject each quote line separately.
    #[serde(default)]
    pub per_line_approval: bool,
}

/// A published, immutable flow version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub version: u32,
    #[serde(flatten)]
    pub def: FlowDef,
}

/// Why a flow definition is refused. Every variant names the offending status or transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("invalid status key {0:?}: use 1-40 chars of a-z, 0-9 and _, starting with a letter")]
    InvalidStatusKey(String),
    #[error("status {0} is defined more than once")]
    DuplicateStatus(StatusKey),
    #[error("status {0} has an empty or too long label (1-60 chars)")]
    BadLabel(StatusKey),
    #[error("status {0}: sla_hours must be 1 to 8760 (a year)")]
    BadSla(StatusKey),
    #[error("initial status {0} is not defined")]
    UnknownInitial(StatusKey),
    #[error("initial status {0} must be of kind open")]
    InitialNotOpen(StatusKey),
    #[error("transition {index} ({action}) refers to unknown status {status}")]
    UnknownStatus { index: usize, action: Action, status: StatusKey },
    #[error("transition {index}: {action} cannot go from {from} to {to} (kinds do not fit)")]
    ActionDoesNotFit { index: usize, action: Action, from: StatusKey, to: StatusKey },
    #[error("transition {index}: {action} from {from} to {to} is defined more than once")]
    DuplicateTransition { index: usize, action: Action, from: StatusKey, to: StatusKey },
    #[error("transition {index}: {action} from {from} to {to} allows no role")]
    NoRoles { index: usize, action: Action, from: StatusKey, to: StatusKey },
    #[error("the flow has no status of kind closed")]
    NoClosedStatus,
    #[error("status {0} is not reachable from the initial status")]
    Unreachable(StatusKey),
    #[error("no closed status can be reached from status {0}")]
    CannotClose(StatusKey),
}

/// The longest time limit a status may set (a year).
pub const MAX_SLA_HOURS: u32 = 8760;

impl FlowDef {
    pub fn status(&self, key: &StatusKey) -> Option<&StatusDef> {
        self.statuses.iter().find(|s| &s.key == key)
    }

    /// Checks the definition; the first problem found is returned, naming the status or transition at fault.
    pub fn validate(&self) -> Result<(), FlowError> {
        let mut kinds: BTreeMap<&StatusKey, StatusKind> = BTreeMap::new();
        for s in &self.statuses {
            let label_len = s.label.trim().chars().count();
            if label_len == 0 || label_len > 60 {
                return Err(FlowError::BadLabel(s.key.clone()));
            }
            if s.sla_hours.is_some_and(|h| !(1..=MAX_SLA_HOURS).contains(&h)) {
                return Err(FlowError::BadSla(s.key.clone()));
            }
            if kinds.insert(&s.key, s.kind).is_some() {
                return Err(FlowError::DuplicateStatus(s.key.clone()));
            }
        }
        match kinds.get(&self.initial) {
            None => return Err(FlowError::UnknownInitial(self.initial.clone())),
            Some(k) if *k != StatusKind::Open => return Err(FlowError::InitialNotOpen(self.initial.clone())),
            Some(_) => {}
        }
        let mut seen = BTreeSet::new();
        for (index, t) in self.transitions.iter().enumerate() {
            let kind_of = |status: &StatusKey| {
                kinds.get(status).copied().ok_or_else(|| FlowError::UnknownStatus {
                    index,
                    action: t.action,
                    status: status.clone(),
                })
            };
            let (from, to) = (kind_of(&t.from)?, kind_of(&t.to)?);
            if !t.action.fits(from, to) {
                return Err(FlowError::ActionDoesNotFit {
                    index,
                    action: t.action,
                    from: t.from.clone(),
                    to: t.to.clone(),
                });
            }
            if !seen.insert((&t.from, t.action, &t.to)) {
                return Err(FlowError::DuplicateTransition {
                    index,
                    action: t.action,
                    from: t.from.clone(),
                    to: t.to.clone(),
                });
            }
            if t.roles.is_empty() {
                return Err(FlowError::NoRoles { index, action: t.action, from: t.from.clone(), to: t.to.clone() });
            }
        }
        let closed: Vec<&StatusKey> =
            self.statuses.iter().filter(|s| s.kind == StatusKind::Closed).map(|s| &s.key).collect();
        if closed.is_empty() {
            return Err(FlowError::NoClosedStatus);
        }
        // Every status reachable from the initial one (in declaration order, so the first unreachable is named).
        let forward = self.reach(std::slice::from_ref(&self.initial), |t| (&t.from, &t.to));
        if let Some(s) = self.statuses.iter().find(|s| !forward.contains(&s.key)) {
            return Err(FlowError::Unreachable(s.key.clone()));
        }
        // A closed status reachable from every non-final status: walk the reversed graph from the closed ones.
        let closed_owned: Vec<StatusKey> = closed.into_iter().cloned().collect();
        let backward = self.reach(&closed_owned, |t| (&t.to, &t.from));
        if let Some(s) = self.statuses.iter().find(|s| !s.kind.is_final() && !backward.contains(&s.key)) {
            return Err(FlowError::CannotClose(s.key.clone()));
        }
        Ok(())
    }

    fn reach<'a>(
        &'a self,
        start: &'a [StatusKey],
        edge: impl Fn(&'a Transition) -> (&'a StatusKey, &'a StatusKey),
    ) -> BTreeSet<&'a StatusKey> {
        let mut seen: BTreeSet<&StatusKey> = start.iter().collect();
        let mut queue: VecDeque<&StatusKey> = start.iter().collect();
        while let Some(at) = queue.pop_front() {
            for t in &self.transitions {
                let (a, b) = edge(t);
                if a == at && seen.insert(b) {
                    queue.push_back(b);
                }
            }
        }
        seen
    }
}

impl Flow {
    /// Validates a definition and gives it a version number.
    pub fn publish(def: FlowDef, version: u32) -> Result<Flow, FlowError> {
        def.validate()?;
        Ok(Flow { version, def })
    }

    pub fn status(&self, key: &StatusKey) -> Option<&StatusDef> {
        self.def.status(key)
    }

    pub fn kind_of(&self, key: &StatusKey) -> Option<StatusKind> {
        self.status(key).map(|s| s.kind)
    }

    pub fn initial(&self) -> &StatusKey {
        &self.def.initial
    }

    /// Transitions leaving `from` with `action`.
    pub fn transitions_from<'a>(
        &'a self,
        from: &'a StatusKey,
        action: Action,
    ) -> impl Iterator<Item = &'a Transition> + 'a {
        self.def.transitions.iter().filter(move |t| &t.from == from && t.action == action)
    }

    /// The default flow (ARCHITECTURE.md, «The product»): the eight steps of the seed, with cancel from every non-final status.
    pub fn default_flow() -> Flow {
        // Built once per process: every read of an order on the default flow asks for it.
        static DEFAULT: std::sync::LazyLock<Flow> =
            std::sync::LazyLock::new(|| Flow { version: 1, def: default_def() });
        DEFAULT.clone()
    }
}

/// Well-known keys of the default flow.
pub mod keys {
    pub const ABERTA: &str = "aberta";
    pub const AGUARDANDO_APROVACAO: &str = "aguardando_aprovacao";
    pub const APROVADA: &str = "aprovada";
    pub const EM_EXECUCAO: &str = "em_execucao";
    pub const AGUARDANDO_MATERIAL: &str = "aguardando_material";
    pub const FINALIZADA: &str = "finalizada";
    pub const EM_VALIDACAO: &str = "em_validacao";
    pub const AGUARDANDO_PAGAMENTO: &str = "aguardando_pagamento";
    pub const LIBERADA: &str = "liberada";
    pub const ENCERRADA: &str = "encerrada";
    pub const CANCELADA: &str = "cancelada";
}

fn default_def() -> FlowDef {
    use Role::{Atendente as A, Financeiro as F, Representante as R, Tecnico as T};
    use StatusKind as K;
    use keys::*;
    let status = |key: &'static str, label: &str, kind: StatusKind, notify: bool, sla_hours: Option<u32>| StatusDef {
        key: StatusKey::known(key),
        label: label.to_owned(),
        kind,
        notify,
        channels: if notify { vec![Channel::Email, Channel::Whatsapp] } else { vec![] },
        sla_hours,
    };
    let statuses = vec![
        status(ABERTA, "Aberta", K::Open, false, Some(24)),
        status(AGUARDANDO_APROVACAO, "Aguardando Aprovação", K::AwaitingApproval, true, Some(72)),
        status(APROVADA, "Aprovada", K::Approved, true, Some(24)),
        status(EM_EXECUCAO, "Em Execução", K::InProgress, true, None),
        status(AGUARDANDO_MATERIAL, "Aguardando Material", K::WaitingMaterial, true, None),
        status(FINALIZADA, "Finalizado", K::Finished, true, Some(24)),
        status(EM_VALIDACAO, "Em Validação", K::Validation, true, Some(48)),
        status(AGUARDANDO_PAGAMENTO, "Aguardando Pagamento", K::AwaitingPayment, true, Some(120)),
        status(LIBERADA, "Liberada", K::Released, true, None),
        status(ENCERRADA, "Encerrado", K::Closed, true, None),
        status(CANCELADA, "Cancelada", K::Cancelled, true, None),
    ];
    let t = |from: &'static str, action: Action, to: &'static str, roles: &[Role], guards: &[Guard]| Transition {
        from: StatusKey::known(from),
        to: StatusKey::known(to),
        action,
        roles: roles.to_vec(),
        guards: guards.to_vec(),
    };
    let front = [R, A];
    let all = [R, A, T, F];
    let mut transitions = vec![
        t(ABERTA, Action::ReviseQuote, ABERTA, &[R, A, T], &[]),
        t(ABERTA, Action::SendQuote, AGUARDANDO_APROVACAO, &[R, A, T], &[]),
        t(AGUARDANDO_APROVACAO, Action::ReviseQuote, AGUARDANDO_APROVACAO, &[R, A, T], &[]),
        t(AGUARDANDO_APROVACAO, Action::DecideQuote, APROVADA, &front, &[]),
        t(AGUARDANDO_APROVACAO, Action::DecideQuote, ABERTA, &front, &[]),
        t(AGUARDANDO_APROVACAO, Action::DecideQuote, CANCELADA, &front, &[]),
        t(AGUARDANDO_APROVACAO, Action::DecideQuote, EM_EXECUCAO, &front, &[]),
        t(AGUARDANDO_APROVACAO, Action::DecideQuote, EM_VALIDACAO, &front, &[]),
        t(APROVADA, Action::Start, EM_EXECUCAO, &[R, A, T], &[Guard::QuoteApproved]),
        t(EM_EXECUCAO, Action::WaitMaterial, AGUARDANDO_MATERIAL, &[R, A, T], &[]),
        t(AGUARDANDO_MATERIAL, Action::Resume, EM_EXECUCAO, &[R, A, T], &[]),
        t(EM_EXECUCAO, Action::Finish, FINALIZADA, &[R, T], &[]),
        t(FINALIZADA, Action::Validate, EM_VALIDACAO, &[R, A, T], &[]),
        t(EM_VALIDACAO, Action::Start, EM_EXECUCAO, &[R, A, T], &[]),
        t(EM_VALIDACAO, Action::SendQuote, AGUARDANDO_APROVACAO, &[R, A, T], &[]),
        t(
            EM_VALIDACAO,
            Action::RequestPayment,
            AGUARDANDO_PAGAMENTO,
            &[R, A, F],
            &[Guard::ChecklistComplete, Guard::NoPendingExtraItems],
        ),
        t(AGUARDANDO_PAGAMENTO, Action::Release, LIBERADA, &[R, A, F], &[Guard::PaidInFull, Guard::InvoiceAuthorized]),
        t(LIBERADA, Action::Close, ENCERRADA, &all, &[]),
    ];
    for from in [
        ABERTA,
        AGUARDANDO_APROVACAO,
        APROVADA,
        EM_EXECUCAO,
        AGUARDANDO_MATERIAL,
        FINALIZADA,
        EM_VALIDACAO,
        AGUARDANDO_PAGAMENTO,
        LIBERADA,
    ] {
        transitions.push(t(from, Action::Cancel, CANCELADA, &front, &[]));
    }
    FlowDef { initial: StatusKey::known(ABERTA), statuses, transitions, per_line_approval: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StatusKey {
        StatusKey::parse(s).unwrap()
    }

    #[test]
    fn default_flow_is_valid_and_has_the_seed_statuses() {
        let flow = Flow::default_flow();
        flow.def.validate().unwrap();
        let keys: Vec<&str> = flow.def.statuses.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "aberta",
                "aguardando_aprovacao",
                "aprovada",
                "em_execucao",
                "aguardando_material",
                "finalizada",
                "em_validacao",
                "aguardando_pagamento",
                "liberada",
                "encerrada",
                "cancelada"
            ]
        );
        assert_eq!(flow.status(&key("aguardando_aprovacao")).unwrap().label, "Aguardando Aprovação");
        // cancel from every non-final status
        for s in flow.def.statuses.iter().filter(|s| !s.kind.is_final()) {
            assert_eq!(flow.transitions_from(&s.key, Action::Cancel).count(), 1, "{}", s.key);
        }
    }

    #[test]
    fn status_key_rules() {
        assert!(StatusKey::parse("diagnostico_2").is_ok());
        for bad in ["", "Aberta", "2x", "a-b", "á", &"a".repeat(41)] {
            assert!(StatusKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unreachable_status_is_named() {
        let mut def = Flow::default_flow().def;
        def.statuses.push(StatusDef {
            key: key("diagnostico"),
            label: "Diagnóstico".into(),
            kind: StatusKind::Custom,
            notify: false,
            channels: vec![],
            sla_hours: None,
        });
        let err = def.validate().unwrap_err();
        assert_eq!(err, FlowError::Unreachable(key("diagnostico")));
        assert!(err.to_string().contains("diagnostico"));
    }

    #[test]
    fn status_that_cannot_reach_closed_is_named() {
        let mut def = Flow::default_flow().def;
        // close from aguardando_pagamento instead of liberada: liberada becomes a dead end.
        let close = def.transitions.iter_mut().find(|t| t.action == Action::Close).unwrap();
        close.from = key("aguardando_pagamento");
        let err = def.validate().unwrap_err();
        assert_eq!(err, FlowError::CannotClose(key("liberada")));
        assert!(err.to_string().contains("liberada"));
        // without any close, encerrada is unreachable: named too
        def.transitions.retain(|t| t.action != Action::Close);
        assert_eq!(def.validate().unwrap_err(), FlowError::Unreachable(key("encerrada")));
    }

    #[test]
    fn custom_status_dead_end_is_named() {
        let mut def = Flow::default_flow().def;
        def.statuses.push(StatusDef {
            key: key("diagnostico"),
            label: "Diagnóstico".into(),
            kind: StatusKind::Custom,
            notify: false,
            channels: vec![],
            sla_hours: None,
        });
        def.transitions.push(Transition {
            from: key("aberta"),
            to: key("diagnostico"),
            action: Action::Move,
            roles: vec![Role::Tecnico],
            guards: vec![],
        });
        assert_eq!(def.validate().unwrap_err(), FlowError::CannotClose(key("diagnostico")));
        def.transitions.push(Transition {
            from: key("diagnostico"),
            to: key("aguardando_aprovacao"),
            action: Action::SendQuote,
            roles: vec![Role::Tecnico],
            guards: vec![],
        });
        def.validate().unwrap();
    }

    #[test]
    fn action_must_fit_kinds() {
        let mut def = Flow::default_flow().def;
        def.transitions.push(Transition {
            from: key("aberta"),
            to: key("liberada"),
            action: Action::Finish,
            roles: vec![Role::Tecnico],
            guards: vec![],
        });
        let err = def.validate().unwrap_err();
        assert!(matches!(err, FlowError::ActionDoesNotFit { action: Action::Finish, .. }));
        assert!(err.to_string().contains("aberta") && err.to_string().contains("liberada"));
    }

    #[test]
    fn duplicates_and_unknowns_are_refused() {
        let mut def = Flow::default_flow().def;
        def.statuses.push(def.statuses[0].clone());
        assert_eq!(def.validate().unwrap_err(), FlowError::DuplicateStatus(key("aberta")));

        let mut def = Flow::default_flow().def;
        def.transitions.push(def.transitions[1].clone());
        assert!(matches!(def.validate().unwrap_err(), FlowError::DuplicateTransition { .. }));

        let mut def = Flow::default_flow().def;
        def.transitions[0].to = key("nowhere");
        assert!(matches!(def.validate().unwrap_err(), FlowError::UnknownStatus { .. }));

        let mut def = Flow::default_flow().def;
        def.initial = key("aprovada");
        assert_eq!(def.validate().unwrap_err(), FlowError::InitialNotOpen(key("aprovada")));

        let mut def = Flow::default_flow().def;
        def.transitions[0].roles.clear();
        assert!(matches!(def.validate().unwrap_err(), FlowError::NoRoles { .. }));

        let mut def = Flow::default_flow().def;
        def.statuses[0].label = "  ".into();
        assert_eq!(def.validate().unwrap_err(), FlowError::BadLabel(key("aberta")));
    }

    #[test]
    fn shop_flow_without_validation_step_is_valid() {
        let mut def = Flow::default_flow().def;
        def.statuses.retain(|s| s.key.as_str() != "em_validacao");
        def.transitions.retain(|t| t.from.as_str() != "em_validacao" && t.to.as_str() != "em_validacao");
        def.transitions.push(Transition {
            from: key("finalizada"),
            to: key("aguardando_pagamento"),
            action: Action::RequestPayment,
            roles: vec![Role::Atendente],
            guards: vec![],
        });
        def.validate().unwrap();
    }

    #[test]
    fn flow_round_trips_through_json() {
        let flow = Flow::default_flow();
        let json = serde_json::to_string(&flow).unwrap();
        let back: Flow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, flow);
        assert!(json.contains("\"kind\":\"awaiting_approval\""));
    }
}
