//! The company's users ([`UserDirectory`]): the technician an order is given (at opening or later) must be one of
//! the company's users with the `tecnico` role, and front ends list the company's users by role.
//!
//! [`CachedUserDirectory`] remembers the directory's answers for a short while per process: in AWS the directory
//! is Cognito, whose request quotas are per account and region (shared by every company and by the sign-ins);
//! assigning technicians all day would otherwise ask it once per assignment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use osflow_domain::values::{TenantId, UserId};
use osflow_domain::{DomainError, Role};

use crate::ports::{DirectoryUser, StoreError, StoreResult, UserDirectory};
use crate::usecases::{App, AppError, AppResult, Caller, Clock};

impl App {
    /// The company's users with `role` (every staff role may ask: the console's technician pickers).
    pub async fn users_with_role(&self, caller: &Caller, role: Role) -> AppResult<Vec<DirectoryUser>> {
        self.require(caller, &super::STAFF_ROLES)?;
        Ok(self.users.users_with_role(&caller.tenant, role).await?)
    }

    /// Refused (`Invalid`, naming `technician`) unless `technician` is a user of the company with the `tecnico`
    /// role. Asked before anything of the request is stored.
    pub(crate) async fn check_technician(&self, tenant: &TenantId, technician: &UserId) -> AppResult<()> {
        let invalid =
            |reason: &str| AppError::Domain(DomainError::Invalid { field: "technician".into(), reason: reason.into() });
        match self.users.user(tenant, technician).await? {
            None => Err(invalid("não é um usuário da empresa")),
            Some(user) if !user.roles.contains(&Role::Tecnico) => Err(invalid("não é um técnico da empresa")),
            Some(_) => Ok(()),
        }
    }
}

/// No user directory: every question fails as unavailable (an `App` whose front end assigns no technician).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUserDirectory;

#[async_trait::async_trait]
impl UserDirectory for NoUserDirectory {
    async fn user(&self, _tenant: &TenantId, _id: &UserId) -> StoreResult<Option<DirectoryUser>> {
        Err(NoUserDirectory::unavailable())
    }

    async fn users_with_role(&self, _tenant: &TenantId, _role: Role) -> StoreResult<Vec<DirectoryUser>> {
        Err(NoUserDirectory::unavailable())
    }
}

impl NoUserDirectory {
    fn unavailable() -> StoreError {
        StoreError::Unavailable("no user directory is wired into this App".into())
    }
}

/// How long [`CachedUserDirectory`] trusts an answer by default.
pub const USER_CACHE_SECONDS: i64 = 60;

type UserKey = (TenantId, UserId);
type RoleKey = (TenantId, Role);
/// Answers with the instant each was taken.
type Remembered<K, V> = Mutex<HashMap<K, (DateTime<Utc>, V)>>;

/// A [`UserDirectory`] that remembers each answer for `ttl` (time from the App's clock). A user found is trusted
/// for `ttl`, so a user removed from the company (or from the technicians) can still be assigned for that long;
/// a user not found is asked again next time (one just added is known at once). Failures are never remembered.
pub struct CachedUserDirectory {
    inner: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    users: Remembered<UserKey, DirectoryUser>,
    roles: Remembered<RoleKey, Vec<DirectoryUser>>,
}

/// Entries kept at most; past this the memory is emptied (a warm function serves a bounded set of companies).
const CACHE_MAX: usize = 4_096;

impl std::fmt::Debug for CachedUserDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUserDirectory").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl CachedUserDirectory {
    pub fn new(inner: Arc<dyn UserDirectory>, clock: Arc<dyn Clock>, ttl: Duration) -> CachedUserDirectory {
        CachedUserDirectory { inner, clock, ttl, users: Mutex::default(), roles: Mutex::default() }
    }

    fn fresh<K: Eq + std::hash::Hash, V: Clone>(&self, map: &Remembered<K, V>, key: &K) -> Option<V> {
        let now = self.clock.now();
        let map = map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).filter(|(at, _)| now < *at + self.ttl && now >= *at).map(|(_, v)| v.clone())
    }

    fn keep<K: Eq + std::hash::Hash, V>(&self, map: &Remembered<K, V>, key: K, value: V) {
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(key, (self.clock.now(), value));
    }
}

#[async_trait::async_trait]
impl UserDirectory for CachedUserDirectory {
    async fn user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<DirectoryUser>> {
        let key = (tenant.clone(), id.clone());
        if let Some(user) = self.fresh(&self.users, &key) {
            return Ok(Some(user));
        }
        let found = self.inner.user(tenant, id).await?;
        if let Some(user) = &found {
            self.keep(&self.users, key, user.clone());
        }
        Ok(found)
    }

    async fn users_with_role(&self, tenant: &TenantId, role: Role) -> StoreResult<Vec<DirectoryUser>> {
        let key = (tenant.clone(), role);
        if let Some(users) = self.fresh(&self.roles, &key) {
            return Ok(users);
        }
        let users = self.inner.users_with_role(tenant, role).await?;
        self.keep(&self.roles, key, users.clone());
        Ok(users)
    }
}
