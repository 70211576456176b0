//! Reads for front ends: what the caller may do to an order now, and the search of the company's orders with
//! filters and cursor paging — over the stores' status and customer indexes only (never a full scan).

use osflow_domain::values::{Document, UserId};
use osflow_domain::{
    AllowedAction, Context, Flow, Guard, Invoicing, Order, OrderCard, StatusKey, allowed_actions, is_overdue,
};

use crate::ports::{Page, PageRequest, StoreError};
use crate::usecases::{App, AppError, AppResult, Caller};

const READERS: [osflow_domain::Role; 4] = osflow_domain::Role::ALL;

/// At most this many store pages are read to fill one page of a search (a search with a rare filter answers a
/// shorter page with a cursor rather than reading on without end).
const STORE_PAGES_PER_SEARCH: usize = 40;

/// The filters of a search; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// Only this status (else every non-final status of the company's flow versions).
    pub status: Option<StatusKey>,
    /// Only the orders of this technician (`mine` is this with the caller's own id).
    pub technician: Option<UserId>,
    /// Only this service type (case-insensitive).
    pub service_type: Option<String>,
    /// Only orders past their due date or their status's SLA.
    pub overdue: bool,
    /// The OS number (digits: the number, or a part of a numeric serial), the customer's CPF/CNPJ (any
    /// punctuation: searched on the customer index, every status), or a part of the customer's name or of the
    /// equipment's serial number (case-insensitive). A search with text (and no status) walks every status,
    /// the final ones last: a closed or cancelled OS is found too.
    pub text: Option<String>,
}

impl OrderQuery {
    fn text_lower(&self) -> Option<String> {
        self.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase)
    }
}

fn bad_cursor() -> AppError {
    AppError::Store(StoreError::Other("not a cursor of this search".into()))
}

impl App {
    /// The commands the caller may give the order now (flow version, roles, guards), with the failing guard of
    /// those a guard blocks.
    pub async fn allowed_actions(&self, caller: &Caller, order: &Order) -> AppResult<Vec<AllowedAction>> {
        self.allowed_actions_on(caller, order, None).await
    }

    /// [`App::allowed_actions`], on the order's flow version when the caller has read it already.
    pub async fn allowed_actions_on(
        &self,
        caller: &Caller,
        order: &Order,
        flow: Option<&Flow>,
    ) -> AppResult<Vec<AllowedAction>> {
        self.require(caller, &READERS)?;
        if order.tenant != caller.tenant {
            return Err(AppError::NotFound);
        }
        let loaded;
        let flow = match flow.filter(|f| f.version == order.flow_version) {
            Some(f) => f,
            None => {
                loaded = self.flow_version(&caller.tenant, order.flow_version).await?;
                &loaded
            }
        };
        let guarded =
            flow.def.transitions.iter().any(|t| t.from == order.status && t.guards.contains(&Guard::InvoiceAuthorized));
        let invoicing = if guarded { self.invoicing.documents(&caller.tenant).await? } else { Invoicing::default() };
        let ctx = Context::at(self.clock.now()).invoicing(invoicing);
        Ok(allowed_actions(order, flow, &caller.actor(), &ctx))
    }

    /// The statuses a search walks, in flow order: the current flow's non-final statuses, then those of older
    /// versions that the current one dropped (orders keep their version).
    pub async fn open_statuses(&self, caller: &Caller) -> AppResult<Vec<StatusKey>> {
        self.statuses(caller, false).await
    }

    /// [`App::open_statuses`], then (with `finals`) the final statuses in the same order.
    async fn statuses(&self, caller: &Caller, finals: bool) -> AppResult<Vec<StatusKey>> {
        self.require(caller, &READERS)?;
        let current = self.current_flow(&caller.tenant).await?;
        let mut versions = self.flows.versions(&caller.tenant).await?;
        versions.insert(0, Flow::default_flow());
        let mut out: Vec<StatusKey> = Vec::new();
        for pass_finals in [false, true].into_iter().take(if finals { 2 } else { 1 }) {
            for flow in std::iter::once(&current).chain(versions.iter().rev()) {
                for s in flow.def.statuses.iter().filter(|s| s.kind.is_final() == pass_finals) {
                    if !out.contains(&s.key) {
                        out.push(s.key.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// One page of the company's orders matching `query`, as their cards (read without decoding the orders
    /// where the store keeps them). The cursor is this search's own (`s<i>:<store
    /// cursor>` over the statuses, `c:<store cursor>` over a customer's history); a page may be shorter than
    /// the limit and still have a `next` when a rare filter made the store pages mostly misses.
    pub async fn search_orders(
        &self,
        caller: &Caller,
        query: &OrderQuery,
        page: &PageRequest,
    ) -> AppResult<Page<OrderCard>> {
        self.require(caller, &READERS)?;
        let size = page.size() as usize;
        let text = query.text_lower();
        let document = text.as_deref().and_then(|t| Document::parse(t).ok());
        let now = self.clock.now();
        let mut flows: Vec<Flow> = Vec::new();
        let mut items: Vec<OrderCard> = Vec::new();
        if let Some(doc) = document {
            // The customer's history, every status, newest first.
            let mut cursor = match page.cursor.as_deref() {
                None => None,
                Some(c) => Some(c.strip_prefix("c:").ok_or_else(bad_cursor)?.to_owned()),
            };
            for _ in 0..STORE_PAGES_PER_SEARCH {
                let want = PageRequest { limit: (size - items.len()) as u32, cursor: cursor.take() };
                let found = self.orders.cards_by_customer(&caller.tenant, &doc, &want).await?;
                for o in found.items {
                    if self.matches(caller, query, None, &o, &mut flows, now).await? {
                        items.push(o);
                    }
                }
                cursor = found.next;
                if cursor.is_none() || items.len() >= size {
                    break;
                }
            }
            return Ok(Page { items, next: cursor.map(|c| format!("c:{c}")) });
        }
        let statuses = match &query.status {
            Some(s) => vec![s.clone()],
            None => self.statuses(caller, text.is_some()).await?,
        };
        let (mut index, mut cursor) = match page.cursor.as_deref() {
            None => (0usize, None),
            Some(c) => {
                let rest = c.strip_prefix('s').ok_or_else(bad_cursor)?;
                let (i, inner) = rest.split_once(':').ok_or_else(bad_cursor)?;
                let i: usize = i.parse().map_err(|_| bad_cursor())?;
                if i >= statuses.len() {
                    return Err(bad_cursor());
                }
                (i, Some(inner.to_owned()).filter(|s| !s.is_empty()))
            }
        };
        let mut reads = 0;
        while index < statuses.len() && items.len() < size && reads < STORE_PAGES_PER_SEARCH {
            reads += 1;
            let want = PageRequest { limit: (size - items.len()) as u32, cursor: cursor.take() };
            let found = self.orders.cards_by_status(&caller.tenant, &statuses[index], &want).await?;
            for o in found.items {
                if self.matches(caller, query, text.as_deref(), &o, &mut flows, now).await? {
                    items.push(o);
                }
            }
            match found.next {
                Some(next) => cursor = Some(next),
                None => index += 1,
            }
        }
        let next = (index < statuses.len()).then(|| format!("s{index}:{}", cursor.unwrap_or_default()));
        Ok(Page { items, next })
    }

    async fn matches(
        &self,
        caller: &Caller,
        query: &OrderQuery,
        text: Option<&str>,
        o: &OrderCard,
        flows: &mut Vec<Flow>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<bool> {
        if query.technician.as_ref().is_some_and(|t| o.technician.as_ref() != Some(t)) {
            return Ok(false);
        }
        if query.service_type.as_ref().is_some_and(|k| !o.service_type.eq_ignore_ascii_case(k.trim())) {
            return Ok(false);
        }
        if let Some(t) = text {
            // Digits are an OS number (or a numeric serial), never a part of a name.
            let serial = o.serial.as_deref().is_some_and(|s| s.to_lowercase().contains(t));
            let hit = match t.trim_start_matches('#').parse::<u64>() {
                Ok(number) => number == o.number || serial,
                Err(_) => o.customer_name.to_lowercase().contains(t) || serial,
            };
            if !hit {
                return Ok(false);
            }
        }
        if query.overdue {
            if !flows.iter().any(|f| f.version == o.flow_version) {
                flows.push(self.flow_version(&caller.tenant, o.flow_version).await?);
            }
            let flow = flows.iter().find(|f| f.version == o.flow_version).expect("just loaded");
            if !is_overdue(o, flow, now) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
