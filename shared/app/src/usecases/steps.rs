//! The steps: opening an order, and every step after it (by staff, the customer or the system), each one
//! atomic store write conditional on the version it was decided on, with the response saved under the
//! `Idempotency-Key`.

use chrono::Duration;
use osflow_domain::values::{OrderId, TenantId, UserId};
use osflow_domain::{Actor, Command, Context, Flow, Guard, Invoicing, OpenOrder, Order, decide, decide_open};

use crate::ports::{IdempotencyRecord, StoreError};
use crate::usecases::{App, AppError, AppResult, Caller, IDEMPOTENCY_TTL_HOURS, Idempotency, Rendered, Reply, Stepped};

/// Attempts of a step that lost a version race (only when the client did not pin a version with `If-Match`):
/// the consumers' records (notifications, NF-e states) are steps too, so a busy order sees a few races.
const STEP_ATTEMPTS: u32 = 6;

/// The pause before attempt `attempt + 1` of a step: full jitter up to 2 ms · 2^attempt, at most 64 ms, so that
/// the writers of one order do not keep colliding.
async fn step_backoff(attempt: u32) {
    crate::backoff(attempt, std::time::Duration::from_millis(2), std::time::Duration::from_millis(64)).await;
}

/// One step of an order: who asks what of which order, and how the write is guarded.
#[derive(Debug, Clone)]
pub struct StepRequest<'a> {
    /// The company: the order is looked up in it only.
    pub tenant: &'a TenantId,
    pub actor: Actor,
    pub order: &'a OrderId,
    pub command: Command,
    /// The version the client saw (`If-Match`): a stale one fails with `PreconditionFailed`, and a lost race
    /// is not retried.
    pub if_match: Option<u64>,
    /// The `Idempotency-Key`: the response is saved with the step, and the same request again gets it back.
    pub idempotency: Option<&'a Idempotency>,
}

impl<'a> StepRequest<'a> {
    /// `command` on `order` of `tenant` by `actor`, neither pinned nor idempotent.
    pub fn new(tenant: &'a TenantId, actor: Actor, order: &'a OrderId, command: Command) -> StepRequest<'a> {
        StepRequest { tenant, actor, order, command, if_match: None, idempotency: None }
    }

    /// `command` by a staff caller, in the caller's company.
    pub fn by(caller: &'a Caller, order: &'a OrderId, command: Command) -> StepRequest<'a> {
        StepRequest::new(&caller.tenant, caller.actor(), order, command)
    }

    /// Pins the version the client saw.
    pub fn if_match(mut self, version: Option<u64>) -> StepRequest<'a> {
        self.if_match = version;
        self
    }

    /// Saves the response under the idempotency key.
    pub fn idempotency(mut self, idempotency: Option<&'a Idempotency>) -> StepRequest<'a> {
        self.idempotency = idempotency;
        self
    }
}

/// The input of step 1 (parsed by the HTTP layer into domain values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrderInput {
    pub customer: osflow_domain::Customer,
    pub equipment: osflow_domain::Equipment,
    pub service: osflow_domain::Service,
    pub items: Vec<osflow_domain::LineInput>,
    /// The discount of the whole quote.
    pub discount: Option<osflow_domain::Discount>,
    pub due_date: Option<chrono::NaiveDate>,
    pub technician: Option<UserId>,
    /// What was received with the equipment.
    pub intake: Option<osflow_domain::Intake>,
}

impl App {
    fn idem_record(&self, tenant: &TenantId, idem: &Idempotency, rendered: &Rendered) -> IdempotencyRecord {
        let now = self.clock.now();
        IdempotencyRecord {
            tenant: tenant.clone(),
            key: idem.key.clone(),
            request_hash: idem.request_hash.clone(),
            status: rendered.status,
            body: rendered.body.clone(),
            created_at: now,
            expires_at: now + Duration::hours(IDEMPOTENCY_TTL_HOURS),
        }
    }

    /// The response saved under the key, if this exact request was already done.
    pub(crate) async fn replay(&self, tenant: &TenantId, idem: Option<&Idempotency>) -> AppResult<Option<Rendered>> {
        let Some(idem) = idem else { return Ok(None) };
        match self.idempotency.get_idempotency(tenant, &idem.key, self.clock.now()).await? {
            None => Ok(None),
            Some(r) if r.request_hash == idem.request_hash => Ok(Some(Rendered { status: r.status, body: r.body })),
            Some(_) => Err(AppError::IdempotencyMismatch),
        }
    }

    /// The saved response of this request for a caller with one of `roles`: authorized first, so a saved answer
    /// is never shown to a caller who may not ask (`Forbidden`), then replayed if this exact request was done.
    pub(crate) async fn authorized_replay(
        &self,
        caller: &Caller,
        roles: &[osflow_domain::Role],
        idem: Option<&Idempotency>,
    ) -> AppResult<Option<Reply<Stepped>>> {
        self.require(caller, roles)?;
        Ok(self.replay(&caller.tenant, idem).await?.map(Reply::Replayed))
    }

    /// After a write lost the race on its idempotency key: the winner's saved response.
    async fn replay_after_race(&self, tenant: &TenantId, idem: Option<&Idempotency>) -> AppResult<Rendered> {
        self.replay(tenant, idem).await?.ok_or(AppError::Store(StoreError::AlreadyExists))
    }

    /// Step 1: opens an order on the company's current flow.
    pub async fn open_order(
        &self,
        caller: &Caller,
        input: OpenOrderInput,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.open_order_linked(caller, input, None, None, idem, render).await
    }

    /// Step 1 with the equipment's unlock code left at the counter: the code is kept sealed by the store (never
    /// on the order or its events: the order's intake says only that one was left) in the order's own write, so
    /// an opening that fails keeps no code.
    pub async fn open_order_with_unlock_code(
        &self,
        caller: &Caller,
        input: OpenOrderInput,
        unlock_code: Option<&crate::usecases::UnlockCode>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.open_order_linked(caller, input, None, unlock_code, idem, render).await
    }

    /// Opens an order; with `warranty_of`, the warranty return of that order under the id given with it.
    pub(crate) async fn open_order_linked(
        &self,
        caller: &Caller,
        mut input: OpenOrderInput,
        warranty_of: Option<(osflow_domain::WarrantyLink, OrderId)>,
        unlock_code: Option<&crate::usecases::UnlockCode>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        if let Some(saved) = self.authorized_replay(caller, &super::STAFF_ROLES, idem).await? {
            return Ok(saved);
        }
        // The intake says whether a code was left, and only that.
        match (&mut input.intake, unlock_code.is_some()) {
            (Some(intake), left) => intake.unlock_code = left,
            (None, true) => input.intake = Some(osflow_domain::Intake { unlock_code: true, ..Default::default() }),
            (None, false) => {}
        }
        let flow = self.current_flow(&caller.tenant).await?;
        self.fill_warranty(&caller.tenant, &mut input.items).await?;
        let now = self.clock.now();
        // Validate before taking a number, so bad input burns none.
        let (warranty_of, id) = match warranty_of {
            Some((link, id)) => (Some(link), id),
            None => (None, self.ids.order_id()),
        };
        let probe = OpenOrder {
            id,
            tenant: caller.tenant.clone(),
            number: 0,
            customer: input.customer,
            equipment: input.equipment,
            service: input.service,
            items: input.items,
            discount: input.discount,
            due_date: input.due_date,
            technician: input.technician,
            intake: input.intake,
            warranty_of,
        };
        let checked = decide_open(&flow, probe.clone(), &caller.actor(), now)?;
        // A technician given at opening is one of the company's (a warranty return keeps the first order's).
        if probe.warranty_of.is_none()
            && let Some(technician) = &probe.technician
        {
            self.check_technician(&caller.tenant, technician).await?;
        }
        let osflow_domain::Change::Opened(opened) = &checked.change else { unreachable!("decide_open yields Opened") };
        // The customer's and the equipment's records (found by document and serial, or created), and the order
        // in their histories before the order itself (a link to an order never stored is skipped by the reads).
        let (customer, equipment) = self.records_for(&caller.tenant, &opened.customer, &opened.equipment).await?;
        let (customer_id, equipment_id) = (customer.id, equipment.as_ref().map(|e| e.id));
        self.records.link_order(&caller.tenant, &probe.id, Some(&customer_id), equipment_id.as_ref()).await?;
        let number = self.orders.next_order_number(&caller.tenant).await?;
        let event = decide_open(&flow, OpenOrder { number, ..probe }, &caller.actor(), now)?
            .with_records(Some(customer_id), equipment_id);
        let order = Order::from_opened(&event).expect("decide_open yields Opened");
        debug_assert_eq!(order.id, id);
        let rendered = render(&order, &flow);
        let record = idem.map(|i| self.idem_record(&caller.tenant, i, &rendered));
        // The unlock code is sealed and kept in the order's own write: an opening that is not stored keeps none.
        let created = match unlock_code {
            Some(code) => {
                self.unlock_codes.create_with_unlock_code(&order, &event, record.as_ref(), code.expose()).await
            }
            None => self.orders.create(&order, &event, record.as_ref()).await,
        };
        match created {
            Ok(()) => {
                self.forget_stale_reads(&caller.tenant);
                Ok(Reply::Fresh(Stepped { order, rendered }))
            }
            Err(StoreError::AlreadyExists) if idem.is_some() => {
                Ok(Reply::Replayed(self.replay_after_race(&caller.tenant, idem).await?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Any step after opening, by a staff caller. `if_match` pins the version the client saw (412 when stale);
    /// without it a step that loses a race with another writer is decided again on the new state (a few times).
    pub async fn step(
        &self,
        caller: &Caller,
        id: &OrderId,
        cmd: Command,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        // Authorized (as staff) before a saved response is replayed; the flow decides the rest.
        self.require(caller, &super::STAFF_ROLES)?;
        self.step_as(StepRequest::by(caller, id, cmd).if_match(if_match).idempotency(idem), render).await
    }

    /// Whether the staff caller may give the order a command named `name` (`Command::name`) now, whatever its
    /// payload: asked before the payload is read, so that a caller the flow does not allow for the step gets
    /// `Forbidden`/`RoleNotAllowed` and never the details of a bad body. `NotFound` for an order not there;
    /// anything about the order's state is left to the step.
    pub async fn may_step(&self, caller: &Caller, id: &OrderId, name: &str) -> AppResult<()> {
        self.require(caller, &super::STAFF_ROLES)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let flow = self.flow_version(&caller.tenant, order.flow_version).await?;
        // Guards come after the role in `decide`; whether the company invoices matters to a guard only.
        let ctx = Context::at(self.clock.now());
        osflow_domain::may_give(&order, &flow, &caller.actor(), &ctx, name)?;
        Ok(())
    }

    /// A step by any actor (staff, the customer through the portal, the system), scoped to the request's tenant.
    /// With an `Idempotency-Key`, the same request again gets the first response back (`Reply::Replayed`); the
    /// key's record is read only when the step is refused, so a step that goes through reads the order only.
    pub async fn step_as(
        &self,
        request: StepRequest<'_>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        let idem = request.idempotency;
        let tenant = request.tenant;
        match self.try_step(request, render).await {
            Ok(reply) => Ok(reply),
            // The saved response is looked for only when the step cannot be taken as asked (a retry finds the
            // order moved on: the version pinned is stale, or the command no longer allowed) or its write finds
            // the key taken: a step reads the order alone, and a retry whose step is taken anew still gets the
            // first answer, as the write refuses a second record under the key.
            // A key reused for another request is `IdempotencyMismatch`; a record that cannot be read fails the
            // step (the caller retries) rather than answer a refusal to a request that may have been done.
            Err(refused) if idem.is_some() => match self.replay(tenant, idem).await? {
                Some(saved) => Ok(Reply::Replayed(saved)),
                None => Err(refused),
            },
            Err(refused) => Err(refused),
        }
    }

    /// [`App::step_as`] without looking for a saved response first.
    async fn try_step(
        &self,
        request: StepRequest<'_>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        let StepRequest { tenant, actor, order: id, command: mut cmd, if_match, idempotency: idem } = request;
        let actor = &actor;
        self.fill_command_warranty(tenant, &mut cmd).await?;
        // Whether the company invoices is asked only when the command's transition out of the order's status has
        // the `invoice_authorized` guard (the release, in the default flow), once per call. A transition's
        // command is named as its action (`Command::name`); other commands never match.
        let mut company_invoices: Option<Invoicing> = None;
        let mut last_conflict = 0;
        let mut technician_checked = false;
        for attempt in 0..STEP_ATTEMPTS {
            if attempt > 0 {
                step_backoff(attempt - 1).await;
            }
            let order = self.orders.get(tenant, id).await?.ok_or(AppError::NotFound)?;
            if let Some(v) = if_match
                && v != order.version
            {
                return Err(AppError::PreconditionFailed { current_version: order.version });
            }
            let flow = self.flow_version(tenant, order.flow_version).await?;
            let guarded = flow.def.transitions.iter().any(|t| {
                t.from == order.status
                    && t.action.as_str() == cmd.name()
                    && t.guards.contains(&Guard::InvoiceAuthorized)
            });
            let invoicing = match (guarded, company_invoices) {
                (false, _) => Invoicing::default(),
                (true, Some(known)) => known,
                (true, None) => *company_invoices.insert(self.invoicing.documents(tenant).await?),
            };
            let ctx = Context::at(self.clock.now()).invoicing(invoicing);
            let events = decide(&order, &flow, cmd.clone(), actor, &ctx)?;
            // A technician is one of the company's: asked once the rules allow the step (who, when, a change).
            if let Command::AssignTechnician { technician } = &cmd
                && !technician_checked
            {
                self.check_technician(tenant, technician).await?;
                technician_checked = true;
            }
            let expected = order.version;
            let mut next = order;
            for e in &events {
                next.apply(e);
            }
            let rendered = render(&next, &flow);
            let record = idem.map(|i| self.idem_record(tenant, i, &rendered));
            match self.orders.apply(expected, &next, &events, record.as_ref()).await {
                Ok(()) => {
                    self.forget_stale_reads(tenant);
                    return Ok(Reply::Fresh(Stepped { order: next, rendered }));
                }
                Err(StoreError::Conflict { current_version }) => {
                    if if_match.is_some() {
                        return Err(AppError::PreconditionFailed { current_version });
                    }
                    last_conflict = current_version;
                }
                // `AlreadyExists`, with a key: the key holds a record, this request was done or the key reused
                // (`step_as` reads which).
                Err(StoreError::NotFound) => return Err(AppError::NotFound),
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict { current_version: last_conflict })
    }
}
