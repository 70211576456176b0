//! The development users (osflow-local, tests): the [`UserDirectory`] of a machine without Cognito. Every company
//! has one user per role named `<role>@<company>` (the users of the tokens osflow-local prints and of the console's
//! sign-in without a user name), and the users registered in a file of the data folder (`osflow-local token
//! --user U --role R`, the demo's technicians): one JSON line per registration, the latest naming a user's roles.
//! The file is only appended to (a line is written whole by one `write`), so the token command may register a
//! user while the server runs; the server reads what was appended since its last look at every question.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use osflow_app::{DirectoryUser, StoreError, StoreResult, UserDirectory};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use serde::{Deserialize, Serialize};

/// One registration, a line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    tenant: String,
    user: String,
    roles: Vec<Role>,
}

#[derive(Debug, Default)]
struct Known {
    /// (company, user) → roles, from the lines read.
    users: BTreeMap<(String, String), Vec<Role>>,
    /// Bytes of the file read so far.
    read: u64,
}

/// The development users: `<role>@<company>` for every company and role, and those registered in a file.
#[derive(Debug)]
pub struct DevelopmentUsers {
    path: Option<PathBuf>,
    known: Mutex<Known>,
}

impl DevelopmentUsers {
    /// The users registered in the file at `path` (created at the first registration) and the default ones.
    pub fn in_file(path: impl Into<PathBuf>) -> DevelopmentUsers {
        DevelopmentUsers { path: Some(path.into()), known: Mutex::default() }
    }

    /// The default users only, and the users registered in memory (tests).
    pub fn in_memory() -> DevelopmentUsers {
        DevelopmentUsers { path: None, known: Mutex::default() }
    }

    /// The default user of `role` in `tenant`, `<role>@<tenant>`.
    pub fn default_user(tenant: &TenantId, role: Role) -> String {
        format!("{}@{}", role.as_str(), tenant.as_str())
    }

    /// Registers `user` of `tenant` with `roles` (replacing the roles registered before); nothing is written when
    /// that is already what is known.
    pub fn register(&self, tenant: &TenantId, user: &UserId, roles: &[Role]) -> StoreResult<()> {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let mut known = self.refreshed()?;
        let key = (tenant.as_str().to_owned(), user.as_str().to_owned());
        if known.users.get(&key) == Some(&roles) {
            return Ok(());
        }
        if let Some(path) = &self.path {
            let line = Line { tenant: key.0.clone(), user: key.1.clone(), roles: roles.clone() };
            let mut text = serde_json::to_string(&line).map_err(|e| StoreError::Other(e.to_string()))?;
            text.push('\n');
            let mut file = open_options().append(true).create(true).open(path).map_err(io_error(path))?;
            file.write_all(text.as_bytes()).map_err(io_error(path))?;
        }
        known.users.insert(key, roles);
        Ok(())
    }

    /// What is known, after reading the lines appended since the last look.
    fn refreshed(&self) -> StoreResult<std::sync::MutexGuard<'_, Known>> {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(path) = &self.path else { return Ok(known) };
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(known),
            Err(e) => return Err(io_error(path)(e)),
        };
        let len = file.metadata().map_err(io_error(path))?.len();
        if len < known.read {
            // The file was replaced: read it again from the start.
            *known = Known::default();
        }
        if len == known.read {
            return Ok(known);
        }
        file.seek(SeekFrom::Start(known.read)).map_err(io_error(path))?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io_error(path))?;
        // Only whole lines: one being written is read at the next look.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        for raw in text[..whole].lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Line>(raw) {
                Ok(line) => {
                    known.users.insert((line.tenant, line.user), line.roles);
                }
                Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipped a development user line"),
            }
        }
        known.read += whole as u64;
        Ok(known)
    }

    fn roles_of(known: &Known, tenant: &TenantId, user: &str) -> Option<Vec<Role>> {
        if let Some(roles) = known.users.get(&(tenant.as_str().to_owned(), user.to_owned())) {
            return Some(roles.clone());
        }
        Role::ALL.into_iter().find(|r| DevelopmentUsers::default_user(tenant, *r) == user).map(|r| vec![r])
    }
}

fn open_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("{}: {e}", path.display()))
}

fn directory_user(id: &str, roles: Vec<Role>) -> Option<DirectoryUser> {
    let id = UserId::parse(id).ok()?;
    Some(DirectoryUser { name: id.as_str().to_owned(), id, email: None, roles })
}

#[async_trait]
impl UserDirectory for DevelopmentUsers {
    async fn user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<DirectoryUser>> {
        let known = self.refreshed()?;
        Ok(DevelopmentUsers::roles_of(&known, tenant, id.as_str())
            .filter(|roles| !roles.is_empty())
            .and_then(|roles| directory_user(id.as_str(), roles)))
    }

    async fn users_with_role(&self, tenant: &TenantId, role: Role) -> StoreResult<Vec<DirectoryUser>> {
        let known = self.refreshed()?;
        let mut ids: Vec<String> = known
            .users
            .iter()
            .filter(|((t, _), roles)| t == tenant.as_str() && roles.contains(&role))
            .map(|((_, user), _)| user.clone())
            .collect();
        let default = DevelopmentUsers::default_user(tenant, role);
        if !known.users.contains_key(&(tenant.as_str().to_owned(), default.clone())) {
            ids.push(default);
        }
        let mut users: Vec<DirectoryUser> = ids
            .iter()
            .filter_map(|id| DevelopmentUsers::roles_of(&known, tenant, id).and_then(|r| directory_user(id, r)))
            .collect();
        users.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn default_and_registered_users_are_known_per_company() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let users = DevelopmentUsers::in_file(&path);
        let shop = t("oficina");
        let roles = |found: Option<DirectoryUser>| found.map(|f| f.roles);
        assert_eq!(roles(users.user(&shop, &u("tecnico@oficina")).await.unwrap()), Some(vec![Role::Tecnico]));
        assert_eq!(roles(users.user(&shop, &u("atendente@oficina")).await.unwrap()), Some(vec![Role::Atendente]));
        assert_eq!(users.user(&shop, &u("tecnico@outra")).await.unwrap(), None, "another company's default user");
        assert_eq!(users.user(&shop, &u("joana@oficina")).await.unwrap(), None);

        // Registered by another process (the token command): read at the next question.
        DevelopmentUsers::in_file(&path).register(&shop, &u("joana@oficina"), &[Role::Tecnico]).unwrap();
        assert_eq!(roles(users.user(&shop, &u("joana@oficina")).await.unwrap()), Some(vec![Role::Tecnico]));
        assert_eq!(users.user(&t("outra"), &u("joana@oficina")).await.unwrap(), None);
        // The latest registration names the roles.
        users.register(&shop, &u("joana@oficina"), &[Role::Atendente, Role::Atendente]).unwrap();
        let again = DevelopmentUsers::in_file(&path);
        assert_eq!(roles(again.user(&shop, &u("joana@oficina")).await.unwrap()), Some(vec![Role::Atendente]));
        again.register(&shop, &u("rafael@oficina"), &[Role::Tecnico, Role::Representante]).unwrap();
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        again.register(&shop, &u("rafael@oficina"), &[Role::Representante, Role::Tecnico]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), lines, "nothing new, nothing written");

        let technicians: Vec<String> =
            users.users_with_role(&shop, Role::Tecnico).await.unwrap().into_iter().map(|u| u.id.to_string()).collect();
        assert_eq!(technicians, ["rafael@oficina", "tecnico@oficina"]);
        // A half-written line is left for the next look.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"tenant": "oficina", "user": "bia@oficina", "#).unwrap();
        assert_eq!(users.user(&shop, &u("bia@oficina")).await.unwrap(), None);
        file.write_all(b"\"roles\": [\"tecnico\"]}\n").unwrap();
        assert_eq!(roles(users.user(&shop, &u("bia@oficina")).await.unwrap()), Some(vec![Role::Tecnico]));
    }
}
