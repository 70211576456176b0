//! Who calls: a staff member as the JWT authorizer describes them ([`Who`], the claims API Gateway passes on)
//! and as the use cases see them ([`caller`], an `osflow_app::Caller`).

use std::collections::HashMap;

use osflow_app::Caller;
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};

/// The claims of a token: the company, the user and `cognito:groups` exactly as API Gateway flattens it
/// (`"[atendente tecnico]"`). Kept as text, so that tests can send claims a real token could carry and the API
/// must refuse (no company, an unknown group).
#[derive(Debug, Clone)]
pub struct Who {
    pub tenant: String,
    pub user: String,
    pub groups: String,
}

impl Who {
    /// A caller with this raw `cognito:groups` claim.
    pub fn new(tenant: &str, user: &str, groups: &str) -> Who {
        Who { tenant: tenant.into(), user: user.into(), groups: groups.into() }
    }

    /// A caller with these roles (`cognito:groups` as API Gateway flattens the list).
    pub fn with_roles(tenant: &str, user: &str, roles: &[Role]) -> Who {
        let groups = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ");
        Who::new(tenant, user, &format!("[{groups}]"))
    }

    pub fn representante(tenant: &str) -> Who {
        Who::new(tenant, "rep-1", "[representante]")
    }

    pub fn atendente(tenant: &str) -> Who {
        Who::new(tenant, "front-1", "[atendente]")
    }

    pub fn tecnico(tenant: &str) -> Who {
        Who::new(tenant, "tech-1", "[tecnico]")
    }

    pub fn financeiro(tenant: &str) -> Who {
        Who::new(tenant, "fin-1", "[financeiro]")
    }

    /// Front desk, technician and cashier at once (a small shop's owner-operator).
    pub fn staff(tenant: &str) -> Who {
        Who::new(tenant, "ana", "[atendente tecnico financeiro]")
    }

    /// The claims of the JWT authorizer (`custom:tenant`, `sub`, `cognito:groups`).
    pub fn claims(&self) -> HashMap<String, String> {
        HashMap::from([
            ("custom:tenant".to_owned(), self.tenant.clone()),
            ("sub".to_owned(), self.user.clone()),
            ("cognito:groups".to_owned(), self.groups.clone()),
        ])
    }
}

/// The caller the use cases see: a user of `tenant` with these roles.
pub fn caller(tenant: &TenantId, user: &str, roles: &[Role]) -> Caller {
    Caller { tenant: tenant.clone(), user: UserId::parse(user).expect("a valid user id"), roles: roles.to_vec() }
}
