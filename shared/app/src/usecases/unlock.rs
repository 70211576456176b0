//! The equipment's unlock code (password, PIN, pattern): left at intake or while the order is open, kept sealed
//! by the store apart from the order ([`UnlockCodeStore`](crate::UnlockCodeStore)), never in an event, a view or a
//! message; read only by the staff who need it (tecnico, representante), each read an event on the timeline; and
//! deleted with the step that closes or cancels the order.

use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Command, DomainError, Flow, Order, Role};

use crate::usecases::{App, AppError, AppResult, Caller, Idempotency, Rendered, Reply, StepRequest, Stepped};

/// The longest unlock code.
pub const UNLOCK_CODE_MAX: usize = 64;

/// Who may read the unlock code.
pub const UNLOCK_CODE_READERS: [Role; 2] = [Role::Tecnico, Role::Representante];

/// An unlock code as typed at the counter. Its `Debug` never shows it (it must not reach a log).
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockCode(String);

impl std::fmt::Debug for UnlockCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockCode(..)")
    }
}

impl UnlockCode {
    /// 1 to 64 characters, not only spaces, none a control character; kept as typed (spaces included).
    pub fn parse(field: &str, code: &str) -> Result<UnlockCode, DomainError> {
        let invalid = |reason: String| DomainError::Invalid { field: field.to_owned(), reason };
        if code.trim().is_empty() {
            return Err(invalid("must not be empty".into()));
        }
        if code.chars().count() > UNLOCK_CODE_MAX {
            return Err(invalid(format!("must have at most {UNLOCK_CODE_MAX} characters")));
        }
        if let Some(c) = code.chars().find(|c| c.is_control() || osflow_domain::values::text::is_noncharacter(*c)) {
            return Err(invalid(osflow_domain::values::text::refusal(c)));
        }
        Ok(UnlockCode(code.to_owned()))
    }

    /// The code itself, for the store that seals it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl App {
    /// Leaves, replaces (`Some`) or removes (`None`) the unlock code of an open order (the staff who may open
    /// orders): the code is sealed by the store, then the `order.unlock_code_changed` event (without the code) is
    /// written; a removal deletes the sealed code in the event's own write. A step refused after the code was
    /// kept puts back the code kept before (none for an order that kept none).
    pub async fn change_unlock_code(
        &self,
        caller: &Caller,
        id: &OrderId,
        code: Option<UnlockCode>,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        if let Some(saved) = self.authorized_replay(caller, &super::STAFF_ROLES, idem).await? {
            return Ok(saved);
        }
        // Who may, in which status: asked before anything is kept.
        self.may_step(caller, id, "change_unlock_code").await?;
        let Some(code) = code else {
            let request = StepRequest::by(caller, id, Command::ChangeUnlockCode { set: false });
            return self.step_as(request.if_match(if_match).idempotency(idem), render).await;
        };
        let previous = self.unlock_codes.unlock_code(&caller.tenant, id).await?;
        self.unlock_codes.put_unlock_code(&caller.tenant, id, code.expose()).await?;
        let cmd = Command::ChangeUnlockCode { set: true };
        let request = StepRequest::by(caller, id, cmd).if_match(if_match).idempotency(idem);
        let done = self.step_as(request, render).await;
        match (&done, previous) {
            // Refused (the rules, a stale version, a lost race): nothing was written, the code kept before is back.
            (Err(e), Some(previous)) if !matches!(e, AppError::Store(_)) => {
                self.unlock_codes.put_unlock_code(&caller.tenant, id, &previous).await?;
            }
            (Err(_), _) => self.forget_unkept_unlock_code(&caller.tenant, id).await?,
            (Ok(_), _) => {}
        }
        done
    }

    /// After a step that kept a code first failed: forgets the code unless the order shows one (the order or its
    /// event may have been written after all when the store failed). Left as it is when the order cannot be read:
    /// a code kept in vain is better than the lost code of an order that keeps one.
    pub(crate) async fn forget_unkept_unlock_code(&self, tenant: &TenantId, id: &OrderId) -> AppResult<()> {
        if let Ok(order) = self.orders.get(tenant, id).await
            && !order.is_some_and(|o| o.has_unlock_code())
        {
            self.unlock_codes.delete_unlock_code(tenant, id).await?;
        }
        Ok(())
    }

    /// The unlock code of an open order, for the staff who need it (tecnico, representante). The read is recorded
    /// first (`order.unlock_code_read`: who and when, never the code), then the code is opened: no read goes
    /// unrecorded.
    pub async fn read_unlock_code(&self, caller: &Caller, id: &OrderId) -> AppResult<String> {
        self.require(caller, &UNLOCK_CODE_READERS)?;
        let nothing = |_: &Order, _: &Flow| Rendered { status: 200, body: String::new() };
        self.step_as(StepRequest::by(caller, id, Command::ReadUnlockCode), &nothing).await?;
        self.unlock_codes.unlock_code(&caller.tenant, id).await?.ok_or(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_parsed_and_never_shown_by_debug() {
        let code = UnlockCode::parse("unlock_code", " 12 34 ").unwrap();
        assert_eq!(code.expose(), " 12 34 ");
        assert_eq!(format!("{code:?}"), "UnlockCode(..)");
        for bad in ["", "   ", "12\n34", &"9".repeat(UNLOCK_CODE_MAX + 1)] {
            assert!(UnlockCode::parse("unlock_code", bad).is_err(), "{bad:?}");
        }
        assert!(UnlockCode::parse("unlock_code", &"é".repeat(UNLOCK_CODE_MAX)).is_ok());
    }
}
