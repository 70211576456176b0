//! The company's records: customers and their equipment, their histories, their edits (which every open order
//! of the customer or equipment takes, as an event on each), the LGPD export and anonymization; and the edits of
//! an open order's customer and equipment, which go through the records.

use chrono::{DateTime, Utc};
use osflow_domain::records::{check_customer, check_equipment, serial_key};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{
    Command, Context, Customer, CustomerId, CustomerRecord, Equipment, EquipmentId, EquipmentRecord, Event, Flow,
    Order, decide,
};
use serde::Serialize;

use crate::ports::{RecordStore, StoreError, StoreResult};
use crate::usecases::{ADMIN_ROLES, App, AppError, AppResult, Caller, READERS, Rendered, Reply, STAFF_ROLES};
use crate::usecases::{Idempotency, StepRequest, Stepped};

/// A future of the record store (its methods are `async_trait`s).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Most orders a history lists (newest first).
pub const HISTORY_LIMIT: u32 = 100;

/// A customer with their equipment and their orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerHistory {
    pub record: CustomerRecord,
    pub equipment: Vec<EquipmentRecord>,
    pub orders: Vec<Order>,
}

/// An equipment with its orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentHistory {
    pub record: EquipmentRecord,
    pub orders: Vec<Order>,
}

/// Everything osflow keeps about a customer (LGPD: the data subject's copy): the record, the equipment, and
/// each order with its whole history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerExport {
    pub customer: CustomerRecord,
    pub equipment: Vec<EquipmentRecord>,
    pub orders: Vec<ExportedOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedOrder {
    pub order: Order,
    pub events: Vec<Event>,
}

fn not_found_as_none<T>(r: Result<T, AppError>) -> AppResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

impl App {
    /// A new customer's record, at version 1.
    fn new_customer(&self, tenant: &TenantId, customer: Customer) -> CustomerRecord {
        let now = self.clock.now();
        CustomerRecord {
            id: CustomerId::from_uuid(self.ids.record_uuid()).expect("record ids are UUIDv7"),
            tenant: tenant.clone(),
            customer,
            version: 1,
            created_at: now,
            updated_at: now,
            anonymized_at: None,
        }
    }

    /// A new equipment's record of `customer`, at version 1.
    fn new_equipment(&self, tenant: &TenantId, customer: CustomerId, equipment: Equipment) -> EquipmentRecord {
        let now = self.clock.now();
        EquipmentRecord {
            id: EquipmentId::from_uuid(self.ids.record_uuid()).expect("record ids are UUIDv7"),
            tenant: tenant.clone(),
            customer,
            equipment,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The record `find` gives, or the one `new` makes, created (a record another request created meanwhile is
    /// read again).
    async fn found_or_created<'a, R: Record>(
        &self,
        find: impl Fn() -> BoxFuture<'a, StoreResult<Option<R>>>,
        new: impl Fn() -> R,
        which: &str,
    ) -> AppResult<R> {
        for _ in 0..3 {
            if let Some(r) = find().await? {
                return Ok(r);
            }
            let record = new();
            match record.put(self.records.as_ref(), None).await {
                Ok(()) => return Ok(record),
                // Another request created it meanwhile: read it.
                Err(StoreError::AlreadyExists) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Store(StoreError::Unavailable(format!("the {which}'s record kept changing"))))
    }

    /// The customer with this document, created with `customer` when the company has none.
    async fn customer_by_document_or_new(&self, tenant: &TenantId, customer: &Customer) -> AppResult<CustomerRecord> {
        let find = || self.records.customer_by_document(tenant, &customer.document);
        let new = || self.new_customer(tenant, customer.clone());
        self.found_or_created(find, new, "customer").await
    }

    /// The equipment with the serial of `equipment` (none without a serial), created for `customer` when the
    /// company has none.
    async fn equipment_by_serial_or_new(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        equipment: &Equipment,
    ) -> AppResult<Option<EquipmentRecord>> {
        let Some(serial) = equipment.serial.as_deref() else { return Ok(None) };
        let find = || self.records.equipment_by_serial(tenant, serial);
        let new = || self.new_equipment(tenant, *customer, equipment.clone());
        self.found_or_created(find, new, "equipment").await.map(Some)
    }

    /// The records an order opened for `customer` and `equipment` (checked by the domain) belongs to: found by
    /// document and serial, or created.
    pub(crate) async fn records_for(
        &self,
        tenant: &TenantId,
        customer: &Customer,
        equipment: &Equipment,
    ) -> AppResult<(CustomerRecord, Option<EquipmentRecord>)> {
        let c = self.customer_by_document_or_new(tenant, customer).await?;
        let e = self.equipment_by_serial_or_new(tenant, &c.id, equipment).await?;
        Ok((c, e))
    }

    /// The orders of a history that exist (a link written before an order that was never stored is skipped).
    async fn orders_of(&self, tenant: &TenantId, ids: Vec<OrderId>) -> AppResult<Vec<Order>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.orders.get(tenant, &id).await? {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Creates a customer directly (every staff role but the technician's). `AlreadyExists` (409) when the
    /// document is another customer's.
    pub async fn create_customer(&self, caller: &Caller, customer: Customer) -> AppResult<CustomerRecord> {
        self.require(caller, &RECORD_EDITORS)?;
        let record = self.new_customer(&caller.tenant, check_customer("customer", customer)?);
        self.records.put_customer(&record, None).await?;
        Ok(record)
    }

    pub async fn get_customer(&self, caller: &Caller, id: &CustomerId) -> AppResult<CustomerRecord> {
        self.require(caller, &READERS)?;
        self.records.customer(&caller.tenant, id).await?.ok_or(AppError::NotFound)
    }

    /// The customer holding this document.
    pub async fn customer_by_document(&self, caller: &Caller, document: &Document) -> AppResult<CustomerRecord> {
        self.require(caller, &READERS)?;
        self.records.customer_by_document(&caller.tenant, document).await?.ok_or(AppError::NotFound)
    }

    /// The customer, their equipment and their orders (newest first).
    pub async fn customer_history(&self, caller: &Caller, id: &CustomerId) -> AppResult<CustomerHistory> {
        let record = self.get_customer(caller, id).await?;
        let equipment = self.records.equipment_of_customer(&caller.tenant, id).await?;
        let ids = self.records.orders_of_customer(&caller.tenant, id, HISTORY_LIMIT).await?;
        let orders = self.orders_of(&caller.tenant, ids).await?;
        Ok(CustomerHistory { record, equipment, orders })
    }

    /// New data of a customer (`if_match`: the record's version the client saw). The record takes it, then every
    /// open order of the customer, by an `order.customer_edited` event on each (closed orders and issued invoices
    /// keep theirs). Sending the same data again stores nothing new and completes the open orders an interrupted
    /// edit did not reach.
    pub async fn edit_customer(
        &self,
        caller: &Caller,
        id: &CustomerId,
        customer: Customer,
        if_match: Option<u64>,
    ) -> AppResult<CustomerRecord> {
        self.require(caller, &STAFF_ROLES)?;
        let customer = check_customer("customer", customer)?;
        let record = self.records.customer(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let record = self.store_record(record, customer, if_match).await?;
        self.reach_open_orders(caller, &record, None).await?;
        Ok(record)
    }

    /// Stores `data` as the record's new data, unless it is that already; `if_match`: the version the client saw.
    async fn store_record<R: Record>(&self, record: R, data: R::Data, if_match: Option<u64>) -> AppResult<R> {
        if let Some(v) = if_match
            && v != record.version()
        {
            return Err(AppError::PreconditionFailed { current_version: record.version() });
        }
        if let Some(refusal) = record.refusal() {
            return Err(refusal);
        }
        if *record.data() == data {
            return Ok(record);
        }
        let next = record.changed(data, self.clock.now());
        match next.put(self.records.as_ref(), Some(record.version())).await {
            Ok(()) => Ok(next),
            Err(StoreError::Conflict { current_version }) => Err(AppError::PreconditionFailed { current_version }),
            Err(e) => Err(e.into()),
        }
    }

    /// Every open order of the record (but `except`, done by its own step) takes the record's data.
    async fn reach_open_orders<R: Record>(
        &self,
        caller: &Caller,
        record: &R,
        except: Option<&OrderId>,
    ) -> AppResult<()> {
        let ids = record.orders(self.records.as_ref(), &caller.tenant, HISTORY_LIMIT).await?;
        for order in self.orders_of(&caller.tenant, ids).await? {
            if Some(&order.id) == except || record.held_by(&order) {
                continue;
            }
            match self.step_as(StepRequest::by(caller, &order.id, record.command()), &|_, _| no_body()).await {
                Ok(_) | Err(AppError::NotFound) => {}
                // A closed or cancelled order keeps the data it was closed with.
                Err(AppError::Domain(osflow_domain::DomainError::NotAllowedInStatus { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Everything kept about the customer, as JSON for the data subject (representante).
    pub async fn export_customer(&self, caller: &Caller, id: &CustomerId) -> AppResult<CustomerExport> {
        self.require(caller, &ADMIN_ROLES)?;
        let customer = self.records.customer(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let equipment = self.records.equipment_of_customer(&caller.tenant, id).await?;
        let ids = self.records.orders_of_customer(&caller.tenant, id, HISTORY_LIMIT).await?;
        let mut orders = Vec::new();
        for order in self.orders_of(&caller.tenant, ids).await? {
            let events = self.orders.timeline(&caller.tenant, &order.id).await?;
            orders.push(ExportedOrder { order, events });
        }
        Ok(CustomerExport { customer, equipment, orders })
    }

    /// Erases the customer's personal data at their request (representante): every order of the customer takes
    /// a placeholder customer (`order.customer_anonymized`), its stored history is rewritten without the data,
    /// and the record keeps only its id and dates. The fiscal documents already issued (the signed XML, which
    /// the law requires to be kept) are not touched and stay downloadable. Running it again completes an
    /// interrupted erasure.
    pub async fn anonymize_customer(&self, caller: &Caller, id: &CustomerId) -> AppResult<CustomerRecord> {
        self.require(caller, &ADMIN_ROLES)?;
        let record = self.records.customer(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let ids = self.records.orders_of_customer(&caller.tenant, id, u32::MAX).await?;
        for order in self.orders_of(&caller.tenant, ids).await? {
            if !order.customer_anonymized() {
                let request = StepRequest::by(caller, &order.id, Command::AnonymizeCustomer);
                match self.step_as(request, &|_, _| no_body()).await {
                    Ok(_) => {}
                    Err(AppError::Domain(osflow_domain::DomainError::Invalid { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            // The history up to the anonymization (a run that completes an interrupted erasure keeps what
            // came after it).
            let events = self.orders.timeline(&caller.tenant, &order.id).await?;
            if let Some(at) = osflow_domain::records::anonymized_at(&events) {
                self.records.rewrite_events(&caller.tenant, &order.id, &|e: &Event| e.anonymized_up_to(at)).await?;
            }
        }
        if record.is_anonymized() {
            return Ok(record);
        }
        let next = record.anonymized(self.clock.now());
        match self.records.put_customer(&next, Some(record.version)).await {
            Ok(()) => Ok(next),
            Err(StoreError::Conflict { current_version }) => Err(AppError::Conflict { current_version }),
            Err(e) => Err(e.into()),
        }
    }

    /// Registers an equipment of a customer directly. `AlreadyExists` (409) when the serial is known.
    pub async fn create_equipment(
        &self,
        caller: &Caller,
        customer: &CustomerId,
        equipment: Equipment,
    ) -> AppResult<EquipmentRecord> {
        self.require(caller, &RECORD_EDITORS)?;
        let owner = self.records.customer(&caller.tenant, customer).await?.ok_or(AppError::NotFound)?;
        let record = self.new_equipment(&caller.tenant, owner.id, checked_equipment(equipment)?);
        self.records.put_equipment(&record, None).await?;
        Ok(record)
    }

    /// The equipment and its orders (newest first).
    pub async fn equipment_history(&self, caller: &Caller, id: &EquipmentId) -> AppResult<EquipmentHistory> {
        self.require(caller, &READERS)?;
        let record = self.records.equipment(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let ids = self.records.orders_of_equipment(&caller.tenant, id, HISTORY_LIMIT).await?;
        let orders = self.orders_of(&caller.tenant, ids).await?;
        Ok(EquipmentHistory { record, orders })
    }

    /// The equipment with this serial (or tag) and its orders.
    pub async fn equipment_by_serial(&self, caller: &Caller, serial: &str) -> AppResult<EquipmentHistory> {
        self.require(caller, &READERS)?;
        let record = self.records.equipment_by_serial(&caller.tenant, serial).await?.ok_or(AppError::NotFound)?;
        self.equipment_history(caller, &record.id).await
    }

    /// New data of an equipment: the record, then every open order of it (`order.equipment_edited`).
    pub async fn edit_equipment(
        &self,
        caller: &Caller,
        id: &EquipmentId,
        equipment: Equipment,
        if_match: Option<u64>,
    ) -> AppResult<EquipmentRecord> {
        self.require(caller, &RECORD_EDITORS)?;
        let equipment = checked_equipment(equipment)?;
        let record = self.records.equipment(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        let record = self.store_record(record, equipment, if_match).await?;
        self.reach_open_orders(caller, &record, None).await?;
        Ok(record)
    }

    /// Whether `cmd` would be accepted on the order now (its status, the caller's roles, the data): asked before
    /// a record is changed for it.
    pub(super) async fn check_step(&self, caller: &Caller, order: &Order, cmd: &Command) -> AppResult<()> {
        let flow: Flow = self.flow_version(&caller.tenant, order.flow_version).await?;
        let ctx = Context::at(self.clock.now());
        decide(order, &flow, cmd.clone(), &caller.actor(), &ctx)?;
        Ok(())
    }

    /// New data of an open order's customer: the customer's record takes it (found by the order's link, or by
    /// the new document, or created), the order takes it by an `order.customer_edited` event (the response),
    /// and so do the customer's other open orders. The NF-e issued from now on carries it (a rejected one is
    /// sent again with `retry_invoice`).
    pub async fn edit_order_customer(
        &self,
        caller: &Caller,
        id: &OrderId,
        customer: Customer,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.require(caller, &STAFF_ROLES)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        if let Some(v) = if_match
            && v != order.version
        {
            return Err(AppError::PreconditionFailed { current_version: order.version });
        }
        let customer = check_customer("customer", customer)?;
        self.check_step(caller, &order, &Command::EditCustomer { customer: customer.clone(), customer_id: None })
            .await?;
        let linked = match order.customer_id {
            Some(cid) => self.records.customer(&caller.tenant, &cid).await?.filter(|r| !r.is_anonymized()),
            None => None,
        };
        let record = match linked {
            Some(r) => self.store_record(r, customer.clone(), None).await?,
            None => self.customer_by_document_or_new(&caller.tenant, &customer).await?,
        };
        self.records.link_order(&caller.tenant, id, Some(&record.id), None).await?;
        let cmd = Command::EditCustomer { customer, customer_id: Some(record.id) };
        let reply = self.step_as(StepRequest::by(caller, id, cmd).if_match(if_match).idempotency(idem), render).await?;
        self.reach_open_orders(caller, &record, Some(id)).await?;
        Ok(reply)
    }

    /// New data of an open order's equipment: the equipment's record takes it (found by the order's link or by
    /// the serial, or created when a serial is given), the order takes it (`order.equipment_edited`), and so do
    /// the equipment's other open orders.
    pub async fn edit_order_equipment(
        &self,
        caller: &Caller,
        id: &OrderId,
        equipment: Equipment,
        if_match: Option<u64>,
        idem: Option<&Idempotency>,
        render: &(dyn Fn(&Order, &Flow) -> Rendered + Sync),
    ) -> AppResult<Reply<Stepped>> {
        self.require(caller, &STAFF_ROLES)?;
        let order = self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)?;
        if let Some(v) = if_match
            && v != order.version
        {
            return Err(AppError::PreconditionFailed { current_version: order.version });
        }
        let equipment = check_equipment("equipment", equipment)?;
        self.check_step(caller, &order, &Command::EditEquipment { equipment: equipment.clone(), equipment_id: None })
            .await?;
        let linked = match order.equipment_id {
            Some(eid) => self.records.equipment(&caller.tenant, &eid).await?,
            None => None,
        };
        let record = match (linked, order.customer_id) {
            (Some(r), _) if equipment.serial.is_some() => Some(self.store_record(r, equipment.clone(), None).await?),
            (_, Some(cid)) => self.equipment_by_serial_or_new(&caller.tenant, &cid, &equipment).await?,
            (_, None) => {
                let owner = self.customer_by_document_or_new(&caller.tenant, &order.customer).await?;
                self.equipment_by_serial_or_new(&caller.tenant, &owner.id, &equipment).await?
            }
        };
        if let Some(r) = &record {
            self.records.link_order(&caller.tenant, id, None, Some(&r.id)).await?;
        }
        let cmd = Command::EditEquipment { equipment, equipment_id: record.as_ref().map(|r| r.id) };
        let reply = self.step_as(StepRequest::by(caller, id, cmd).if_match(if_match).idempotency(idem), render).await?;
        if let Some(r) = &record {
            self.reach_open_orders(caller, r, Some(id)).await?;
        }
        Ok(reply)
    }

    /// The customer's record found for an order by its link (`None`: opened before records were kept, or
    /// anonymized).
    pub async fn order_customer(&self, caller: &Caller, order: &Order) -> AppResult<Option<CustomerRecord>> {
        let Some(cid) = order.customer_id else { return Ok(None) };
        not_found_as_none(self.get_customer(caller, &cid).await)
    }
}

/// Who creates and edits records directly: every staff role but the technician's (who edits an order's data on
/// the order).
pub const RECORD_EDITORS: [osflow_domain::Role; 3] =
    [osflow_domain::Role::Representante, osflow_domain::Role::Atendente, osflow_domain::Role::Financeiro];

/// An equipment for the registry: checked like an order's, with a serial (or tag).
fn checked_equipment(equipment: Equipment) -> AppResult<Equipment> {
    let equipment = check_equipment("equipment", equipment)?;
    match equipment.serial.as_deref() {
        Some(s) if !serial_key(s).is_empty() => Ok(equipment),
        _ => Err(osflow_domain::DomainError::Invalid {
            field: "equipment.serial".into(),
            reason: "is required (the serial number, or the shop's tag)".into(),
        }
        .into()),
    }
}

/// The steps a record's edit makes on other orders answer nobody: no response is rendered for them.
fn no_body() -> Rendered {
    Rendered { status: 200, body: String::new() }
}

/// What an edit does alike to a customer's record and to an equipment's: the data it holds, its next version,
/// where it is stored, which orders it reaches and the command by which each takes it.
trait Record: Clone + Send + Sync {
    type Data: PartialEq + Send + Sync;
    fn version(&self) -> u64;
    fn data(&self) -> &Self::Data;
    /// The next version, with `data`, changed `now`.
    fn changed(&self, data: Self::Data, now: DateTime<Utc>) -> Self;
    /// Why the record takes no new data (an anonymized customer's).
    fn refusal(&self) -> Option<AppError>;
    /// Stores this version (`expected`: the version it replaces; `None` creates it).
    fn put<'a>(&'a self, records: &'a dyn RecordStore, expected: Option<u64>) -> BoxFuture<'a, StoreResult<()>>;
    /// The orders linked to the record, newest first.
    fn orders<'a>(
        &'a self,
        records: &'a dyn RecordStore,
        tenant: &'a TenantId,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<OrderId>>>;
    /// Whether `order` holds the record's data and link already.
    fn held_by(&self, order: &Order) -> bool;
    /// The step by which an open order takes the record's data.
    fn command(&self) -> Command;
}

impl Record for CustomerRecord {
    type Data = Customer;

    fn version(&self) -> u64 {
        self.version
    }

    fn data(&self) -> &Customer {
        &self.customer
    }

    fn changed(&self, customer: Customer, now: DateTime<Utc>) -> CustomerRecord {
        CustomerRecord { customer, version: self.version + 1, updated_at: now, ..self.clone() }
    }

    fn refusal(&self) -> Option<AppError> {
        self.is_anonymized().then(|| {
            osflow_domain::DomainError::Invalid {
                field: "customer".into(),
                reason: "was anonymized at the customer's request".into(),
            }
            .into()
        })
    }

    fn put<'a>(&'a self, records: &'a dyn RecordStore, expected: Option<u64>) -> BoxFuture<'a, StoreResult<()>> {
        records.put_customer(self, expected)
    }

    fn orders<'a>(
        &'a self,
        records: &'a dyn RecordStore,
        tenant: &'a TenantId,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<OrderId>>> {
        records.orders_of_customer(tenant, &self.id, limit)
    }

    fn held_by(&self, order: &Order) -> bool {
        order.customer == self.customer && order.customer_id == Some(self.id)
    }

    fn command(&self) -> Command {
        Command::EditCustomer { customer: self.customer.clone(), customer_id: Some(self.id) }
    }
}

impl Record for EquipmentRecord {
    type Data = Equipment;

    fn version(&self) -> u64 {
        self.version
    }

    fn data(&self) -> &Equipment {
        &self.equipment
    }

    fn changed(&self, equipment: Equipment, now: DateTime<Utc>) -> EquipmentRecord {
        EquipmentRecord { equipment, version: self.version + 1, updated_at: now, ..self.clone() }
    }

    fn refusal(&self) -> Option<AppError> {
        None
    }

    fn put<'a>(&'a self, records: &'a dyn RecordStore, expected: Option<u64>) -> BoxFuture<'a, StoreResult<()>> {
        records.put_equipment(self, expected)
    }

    fn orders<'a>(
        &'a self,
        records: &'a dyn RecordStore,
        tenant: &'a TenantId,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<OrderId>>> {
        records.orders_of_equipment(tenant, &self.id, limit)
    }

    fn held_by(&self, order: &Order) -> bool {
        order.equipment == self.equipment && order.equipment_id == Some(self.id)
    }

    fn command(&self) -> Command {
        Command::EditEquipment { equipment: self.equipment.clone(), equipment_id: Some(self.id) }
    }
}
