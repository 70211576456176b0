//! The shop's paperwork: the company's paperwork settings (warranty defaults, the texts of the printed OS), the
//! warranty filled into the lines typed without one, the warranty return, and the printed OS (PDF receipts).

use osflow_domain::values::OrderId;
use osflow_domain::warranty::today;
use osflow_domain::{
    Command, DomainError, Flow, Intake, LineInput, Order, Service, WarrantyDefaults, WarrantyError, WarrantyLink,
};

use crate::ports::{CompanySettings, StoreError};
use crate::receipts;
use crate::usecases::{
    App, AppError, AppResult, Caller, Idempotency, OpenOrderInput, Rendered, Reply, StepRequest, Stepped,
};

/// Longest text of the paperwork settings (the terms).
const TERMS_MAX: usize = 4_000;

/// The printed documents of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// The entry receipt (what was left at the counter, the estimate, the terms).
    Entry,
    /// The delivery receipt with the warranty term.
    Delivery,
}

/// A warranty return asked by staff: the lines of the first order it covers, and what the customer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarrantyReturnInput {
    /// (revision, line) of the first order.
    pub lines: Vec<(u32, u32)>,
    pub reported_problem: String,
    pub due_date: Option<chrono::NaiveDate>,
    pub intake: Option<Intake>,
}

fn invalid(field: &str, reason: impl Into<String>) -> AppError {
    AppError::Domain(DomainError::Invalid { field: field.to_owned(), reason: reason.into() })
}

fn warranty_error(order: &Order, e: WarrantyError) -> AppError {
    let reason = e.to_string();
    match e {
        WarrantyError::NotReleased => AppError::Domain(DomainError::NotAllowedInStatus {
            action: "warranty_return".into(),
            status: order.status.clone(),
        }),
        WarrantyError::NoLines => invalid("lines", reason),
        WarrantyError::UnknownLine { index, .. }
        | WarrantyError::Expired { index, .. }
        | WarrantyError::Twice { index } => {
            invalid(&format!("lines[{index}]"), reason.split_once(": ").map_or(reason.clone(), |(_, r)| r.to_owned()))
        }
    }
}

impl App {
    /// The company's paperwork settings (defaults when never saved). Every staff role (the receipts use them).
    pub async fn company_settings(&self, caller: &Caller) -> AppResult<CompanySettings> {
        self.require(caller, &super::STAFF_ROLES)?;
        Ok(self.settings.company_settings(&caller.tenant).await?.unwrap_or_default())
    }

    /// Replaces the company's paperwork settings after checking them. `representante` only.
    pub async fn put_company_settings(&self, caller: &Caller, s: CompanySettings) -> AppResult<CompanySettings> {
        self.require(caller, &super::ADMIN_ROLES)?;
        for (field, v) in
            [("warranty.parts_days", s.warranty.parts_days), ("warranty.labor_days", s.warranty.labor_days)]
        {
            if v > osflow_domain::warranty::MAX_WARRANTY_DAYS {
                return Err(invalid(
                    field,
                    format!("must be at most {} days", osflow_domain::warranty::MAX_WARRANTY_DAYS),
                ));
            }
        }
        let texts = [
            ("company_name", &s.company_name, 120),
            ("company_document", &s.company_document, 40),
            ("warranty_terms", &s.warranty_terms, TERMS_MAX),
            ("entry_terms", &s.entry_terms, TERMS_MAX),
        ];
        for (field, value, max) in texts {
            if let Some(v) = value {
                osflow_domain::machine::text(field, v, max)?;
            }
        }
        self.settings.put_company_settings(&caller.tenant, &s).await?;
        Ok(s)
    }

    /// The company's warranty defaults.
    async fn warranty_defaults(&self, tenant: &osflow_domain::values::TenantId) -> AppResult<WarrantyDefaults> {
        Ok(self.settings.company_settings(tenant).await?.unwrap_or_default().warranty)
    }

    /// Gives the lines typed without a warranty the company's default for their kind (read only when a line
    /// needs it).
    pub(crate) async fn fill_warranty(
        &self,
        tenant: &osflow_domain::values::TenantId,
        lines: &mut [LineInput],
    ) -> AppResult<()> {
        if lines.iter().any(|l| l.warranty_days.is_none()) {
            self.warranty_defaults(tenant).await?.fill(lines);
        }
        Ok(())
    }

    /// [`App::fill_warranty`] for the commands that type lines.
    pub(crate) async fn fill_command_warranty(
        &self,
        tenant: &osflow_domain::values::TenantId,
        cmd: &mut Command,
    ) -> AppResult<()> {
        match cmd {
            Command::ReviseQuote { items, .. } | Command::Validate { extra_items: items, .. } => {
                self.fill_warranty(tenant, items).await
            }
            _ => Ok(()),
        }
    }

    /// Opens a warranty return of a released order: a new OS for the same customer and equipment whose lines are
    /// the chosen lines of the first, still under warranty today, at zero price; the first order records the
    /// link (an event on its timeline), so each shows the other.
    ///
    /// One warranty return per line set of the first order, by nature: the new OS's id is derived from the first
    /// order and the chosen lines ([`warranty_return_id`]), and the store creates an order only when its id is
    /// free. The same lines asked again (a retry with or without an `Idempotency-Key`, two clerks at once)
    /// answer the return already opened and open no second OS. The link on the first order is written
    /// conditionally on the version read, and only when missing, so the answer to a retry after an interruption
    /// between the two writes (the new OS stored, the link not) completes it.
    pub async fn open_warranty_return(
        &self,
        caller: &Caller,
        first: &OrderId,
        input: WarrantyReturnInput,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.require(caller, &super::STAFF_ROLES)?;
        let original = self.orders.get(&caller.tenant, first).await?.ok_or(AppError::NotFound)?;
        let id = warranty_return_id(&original.id, &input.lines);
        if let Some(saved) = self.replay(&caller.tenant, idem).await? {
            self.link_existing_return(caller, &original, &id, render).await?;
            return Ok(Reply::Replayed(saved));
        }
        // Opened before: that return answers (its link completed).
        if let Some(existing) = self.link_existing_return(caller, &original, &id, render).await? {
            return Ok(Reply::Replayed(existing));
        }
        let items = original
            .warranty_return_lines(&input.lines, today(self.clock.now()))
            .map_err(|e| warranty_error(&original, e))?;
        let link = WarrantyLink { order: original.id, number: original.number };
        let open = OpenOrderInput {
            customer: original.customer.clone(),
            equipment: original.equipment.clone(),
            service: Service { kind: original.service.kind.clone(), reported_problem: input.reported_problem },
            items,
            discount: None,
            due_date: input.due_date,
            technician: original.technician.clone(),
            intake: input.intake,
        };
        let opened = match self.open_order_linked(caller, open, Some((link, id)), None, idem, render).await {
            Ok(Reply::Fresh(opened)) => opened,
            // Another request with the same key won the race: the OS it opened is this one.
            Ok(Reply::Replayed(saved)) => {
                self.link_existing_return(caller, &original, &id, render).await?;
                return Ok(Reply::Replayed(saved));
            }
            // Another request for the same lines won the race: its OS answers.
            Err(AppError::Store(StoreError::AlreadyExists)) => {
                return match self.link_existing_return(caller, &original, &id, render).await? {
                    Some(existing) => Ok(Reply::Replayed(existing)),
                    None => Err(AppError::Store(StoreError::AlreadyExists)),
                };
            }
            Err(e) => return Err(e),
        };
        let back = WarrantyLink { order: opened.order.id, number: opened.order.number };
        self.link_warranty_return(caller, first, back, render).await?;
        Ok(Reply::Fresh(opened))
    }

    /// The warranty return `id` of `original` when it was opened before, rendered as it is now, after linking it
    /// on the first order if an interrupted request left the link unwritten; `None` when it was never opened.
    async fn link_existing_return(
        &self,
        caller: &Caller,
        original: &Order,
        id: &OrderId,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Option<Rendered>> {
        let Some(existing) = self.orders.get(&caller.tenant, id).await? else { return Ok(None) };
        let back = WarrantyLink { order: existing.id, number: existing.number };
        if !original.warranty_returns.contains(&back) {
            self.link_warranty_return(caller, &original.id, back, render).await?;
        }
        let flow = self.flow_version(&caller.tenant, existing.flow_version).await?;
        Ok(Some(render(&existing, &flow)))
    }

    /// Records on the first order the link to its warranty return `back` unless it is there: conditional on the
    /// version read, read again after a lost race.
    async fn link_warranty_return(
        &self,
        caller: &Caller,
        first: &OrderId,
        back: WarrantyLink,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<()> {
        let mut attempts = 0;
        loop {
            let order = self.orders.get(&caller.tenant, first).await?.ok_or(AppError::NotFound)?;
            if order.warranty_returns.contains(&back) {
                return Ok(());
            }
            let record = StepRequest::by(caller, first, Command::RecordWarrantyReturn { link: back.clone() })
                .if_match(Some(order.version));
            match self.step_as(record, render).await {
                Err(AppError::PreconditionFailed { .. }) if attempts < 5 => attempts += 1,
                done => return done.map(|_| ()),
            }
        }
    }

    /// A printed document of the order (PDF bytes), for any staff role.
    pub async fn receipt(&self, caller: &Caller, id: &OrderId, kind: ReceiptKind) -> AppResult<Vec<u8>> {
        self.require(caller, &super::STAFF_ROLES)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        self.receipt_of(&order, kind).await
    }

    /// The printed document of an order already read in its company (the customer's page uses it too).
    pub async fn receipt_of(&self, order: &Order, kind: ReceiptKind) -> AppResult<Vec<u8>> {
        let settings = self.settings.company_settings(&order.tenant).await?.unwrap_or_default();
        let company = match &settings.company_name {
            Some(n) => n.clone(),
            None => self
                .settings
                .notification_settings(&order.tenant)
                .await?
                .and_then(|n| n.company_name)
                .unwrap_or_else(|| order.tenant.as_str().to_owned()),
        };
        Ok(match kind {
            ReceiptKind::Entry => receipts::entry_receipt(order, &settings, &company),
            ReceiptKind::Delivery => receipts::delivery_receipt(order, &settings, &company),
        })
    }
}

/// The id of the warranty return of `original` for `lines`, the same whatever the order the lines were given in:
/// a UUIDv7 with the first order's instant and, for its random bits, a SHA-256 of the first order's id and the
/// sorted lines. A request for lines already returned together finds their return by this id.
pub fn warranty_return_id(original: &OrderId, lines: &[(u32, u32)]) -> OrderId {
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    let mut text = format!("osflow warranty return\0{original}");
    for (revision, line) in sorted {
        text.push_str(&format!("\0{revision}:{line}"));
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest.as_ref()[..10]);
    let millis = original
        .as_uuid()
        .get_timestamp()
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs * 1000 + u64::from(nanos) / 1_000_000
        })
        .unwrap_or_default();
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    OrderId::from_uuid(uuid).expect("the builder makes a version 7 UUID")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warranty_return_id_depends_on_the_first_order_and_the_line_set_only() {
        let first = OrderId::parse("01936d4e-8a3b-7c2d-9e4f-a1b2c3d4e5f6").unwrap();
        let other = OrderId::parse("01936d4e-8a3b-7c2d-9e4f-a1b2c3d4e5f7").unwrap();
        let id = warranty_return_id(&first, &[(1, 2), (1, 1)]);
        assert_eq!(id, warranty_return_id(&first, &[(1, 1), (1, 2)]), "the order of the lines does not matter");
        assert_ne!(id, warranty_return_id(&first, &[(1, 1)]));
        assert_ne!(id, warranty_return_id(&first, &[(1, 1), (1, 2), (1, 2)]));
        assert_ne!(id, warranty_return_id(&other, &[(1, 1), (1, 2)]));
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(id.as_uuid().get_timestamp(), first.as_uuid().get_timestamp(), "the first order's instant");
    }
}
