//! The reads: an order, its timeline, the lists by status and by customer, its NF-e and their XML. Every staff
//! role reads.

use osflow_domain::values::{Document, OrderId};
use osflow_domain::{Event, Order, OrderCard, StatusKey};

use crate::ports::{Blob, InvoiceRecord, Page, PageRequest, latest_record};
use crate::usecases::{App, AppError, AppResult, Caller, READERS};

impl App {
    pub async fn get_order(&self, caller: &Caller, id: &OrderId) -> AppResult<Order> {
        self.require(caller, &READERS)?;
        self.orders.get(&caller.tenant, id).await?.ok_or(AppError::NotFound)
    }

    pub async fn timeline(&self, caller: &Caller, id: &OrderId) -> AppResult<Vec<Event>> {
        self.require(caller, &READERS)?;
        let events = self.orders.timeline(&caller.tenant, id).await?;
        if events.is_empty() {
            return Err(AppError::NotFound);
        }
        Ok(events)
    }

    pub async fn list_by_status(
        &self,
        caller: &Caller,
        status: &StatusKey,
        page: &PageRequest,
    ) -> AppResult<Page<OrderCard>> {
        self.require(caller, &READERS)?;
        Ok(self.orders.cards_by_status(&caller.tenant, status, page).await?)
    }

    pub async fn customer_orders(
        &self,
        caller: &Caller,
        document: &Document,
        page: &PageRequest,
    ) -> AppResult<Page<OrderCard>> {
        self.require(caller, &READERS)?;
        Ok(self.orders.cards_by_customer(&caller.tenant, document, page).await?)
    }

    /// The order's NF-e records, ascending by number (empty until one is issued).
    pub async fn order_invoices(&self, caller: &Caller, id: &OrderId) -> AppResult<Vec<InvoiceRecord>> {
        self.require(caller, &READERS)?;
        if self.orders.get(&caller.tenant, id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        Ok(self.invoices.invoices(&caller.tenant, id).await?)
    }

    /// The stored XML (the signed NF-e, or the nfeProc once authorized) of the order's invoice with this access
    /// key; `NotFound` for an unknown key or an invoice not signed yet.
    pub async fn invoice_xml(
        &self,
        caller: &Caller,
        id: &OrderId,
        access_key: &str,
    ) -> AppResult<(InvoiceRecord, Blob)> {
        let record = latest_record(self.order_invoices(caller, id).await?, |r| r.access_key == access_key)
            .ok_or(AppError::NotFound)?;
        let xml_ref = record.xml_ref.as_deref().ok_or(AppError::NotFound)?;
        let blob = self.blobs.get(&caller.tenant, xml_ref).await?.ok_or(AppError::NotFound)?;
        Ok((record, blob))
    }
}
