//! The notifier: the consumer of the `notifications` queue.
//!
//! For an envelope it decides whether the customer hears of it (the status entered has `notify` in the order's
//! flow version, or the material's expected date changed), renders the company's template, and sends it on each
//! channel the status and the company use. Each (event, channel) is claimed in the [`DedupeStore`] first, so a
//! redelivery never sends twice; each message sent is recorded on the order's timeline
//! (`order.notification_sent`, a System step with an idempotency key per (event, channel)).
//!
//! Failures: a transient one (timeout, 5xx) releases the claim and fails the message, so SQS brings it back; a
//! permanent one (a 4xx of the webhook, an invalid address) is recorded (`ok: false`) and not retried.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use osflow_app::{
    App, AppError, Claim, CustomerLinks, DedupeKey, DedupeOutcome, DedupeStore, EmailMessage, EmailSender, Idempotency,
    NotificationSettings, NotifyChannel, Rendered, SendError, SettingsStore, StepRequest, WebhookCall, WebhookSender,
};
use osflow_bus::{ConsumeError, Consumer, Envelope, Queue};
use osflow_domain::values::Email;
use osflow_domain::{Actor, Change, Channel, Command, Event, Flow, Order, RevisionStatus, StatusKind};

use osflow_app::templates::{render, template_for};

/// The consumer name in dedupe keys.
pub const CONSUMER: &str = "notifier";
/// How long a claim protects a send in progress before another delivery may take it over.
pub const LEASE_SECS: i64 = 120;
/// How long dedupe records are kept (beyond any redelivery of SQS).
pub const DEDUPE_DAYS: i64 = 14;

/// The defaults of a company that has not saved notification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierDefaults {
    pub sender_name: String,
    pub sender_email: String,
}

/// The notifier consumer.
#[derive(Clone)]
pub struct Notifier {
    pub app: App,
    pub settings: Arc<dyn SettingsStore>,
    pub dedupe: Arc<dyn DedupeStore>,
    pub email: Arc<dyn EmailSender>,
    pub webhook: Arc<dyn WebhookSender>,
    pub defaults: NotifierDefaults,
    /// Mints the customer's page link of `{link}` (a decision link while a quote waits for the customer); `None`
    /// leaves `{link}` empty.
    pub links: Option<Arc<dyn CustomerLinks>>,
    /// The e-mail pace (below the SES quota) and each company's budget.
    pub pace: Arc<crate::SendPace>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("defaults", &self.defaults).finish_non_exhaustive()
    }
}

/// `jo***@exemplo.com.br`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => format!("{}***@{domain}", user.chars().take(2).collect::<String>()),
        None => "***".into(),
    }
}

/// The scheme and host of a URL, never its path or query (which may carry tokens).
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// `R$ 1.234,56` (one formatting for every message and page).
pub use osflow_app::templates::brl;

fn kind_name(kind: StatusKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "custom".into())
}

/// The template of the SLA alert, sent to the company (its reply-to, else its sender address), not the customer.
const SLA_TEMPLATE: &str = "sla_breached";

/// What to send for an event: the template name and the flow channels, or nothing.
fn decide(event: &Event, flow: &Flow) -> Option<(String, Vec<NotifyChannel>)> {
    let status = flow.status(&event.status_after)?;
    let template = match &event.change {
        Change::NotificationSent { .. } => return None,
        Change::MaterialDateChanged { .. } => "material_date_changed".to_owned(),
        // A new due date is told like a new material date, by e-mail when the status has no channel of its own.
        Change::DueDateChanged { .. } => {
            let mut channels = channels_of(status);
            if channels.is_empty() {
                channels.push(NotifyChannel::Email);
            }
            return Some(("due_date_changed".to_owned(), channels));
        }
        // The alert goes to the company by e-mail, whatever the status's channels.
        Change::SlaBreached { .. } => return Some((SLA_TEMPLATE.to_owned(), vec![NotifyChannel::Email])),
        // A quote revised while the customer is deciding is sent at once: announced like the first one, with a
        // link to the new revision (the one the customer held now shows a superseded quote).
        Change::QuoteRevised { revision } if revision.status == RevisionStatus::Sent && status.notify => {
            kind_name(status.kind)
        }
        // Staff sends the current link again: the quote's message while it waits for the customer, else the
        // link alone; by e-mail when the status has no channel of its own.
        Change::LinkResent => {
            let template = if status.kind == StatusKind::AwaitingApproval {
                kind_name(status.kind)
            } else {
                "customer_link".into()
            };
            let mut channels = channels_of(status);
            if channels.is_empty() {
                channels.push(NotifyChannel::Email);
            }
            return Some((template, channels));
        }
        _ if event.changes_status() && status.notify => kind_name(status.kind),
        _ => return None,
    };
    Some((template, channels_of(status)))
}

/// The notifier's channels of a status of the flow.
fn channels_of(status: &osflow_domain::StatusDef) -> Vec<NotifyChannel> {
    let mut channels = Vec::new();
    for c in &status.channels {
        let ch = match c {
            Channel::Email => NotifyChannel::Email,
            Channel::Whatsapp | Channel::Sms => NotifyChannel::Webhook,
        };
        if !channels.contains(&ch) {
            channels.push(ch);
        }
    }
    channels
}

fn variables(
    order: &Order,
    flow: &Flow,
    env: &Envelope,
    settings: &NotificationSettings,
    link: String,
) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    v.insert("cliente", order.customer.name.clone());
    v.insert("os", order.number.to_string());
    v.insert("equipamento", order.equipment.description.clone());
    v.insert(
        "status",
        flow.status(&env.data.status_after).map_or_else(|| env.data.status_after.to_string(), |s| s.label.clone()),
    );
    let amount = match flow.kind_of(&env.data.status_after) {
        Some(StatusKind::AwaitingPayment) => order.balance(),
        _ => order.current_revision().map_or(order.amount_due(), |r| r.total),
    };
    v.insert("valor", brl(amount));
    if let Some(m) = &order.material {
        v.insert("data_prevista", m.expected_at.format("%d/%m/%Y").to_string());
        v.insert("motivo", m.reason.clone());
    }
    if let Change::MaterialDateChanged { expected_at, .. } = &env.data.change {
        v.insert("data_prevista", expected_at.format("%d/%m/%Y").to_string());
    }
    if let Change::DueDateChanged { due_date, .. } = &env.data.change {
        v.insert("data_prevista", due_date.format("%d/%m/%Y").to_string());
    }
    if let Change::Cancelled { reason } = &env.data.change {
        v.insert("motivo", reason.clone());
    }
    v.insert("empresa", settings.company_name.clone().unwrap_or_default());
    // The DANFE of the authorized NF-e, on the customer's page.
    if !link.is_empty() && order.nfe().is_some_and(|i| i.state == osflow_domain::InvoiceState::Authorized) {
        v.insert("danfe", format!("{link}/danfe.pdf"));
    }
    // The DANFSe of each NFS-e issued through osflow, on the customer's page.
    if !link.is_empty() {
        let danfses: Vec<String> = order.issued_nfse().map(|(_, key)| format!("{link}/danfse/{key}")).collect();
        if !danfses.is_empty() {
            v.insert("danfse", danfses.join("\n"));
        }
    }
    // The customer's page (the portal), when the notifier has a link minter.
    v.insert("link", link);
    v
}

/// How long a message waits for the one of the order's previous event, measured between the two events: messages
/// of events that far apart are not confused, and a previous message that will never come (the settings changed
/// meanwhile) holds the next one back no longer than this.
pub const ORDER_WAIT_WINDOW_MINUTES: i64 = 60;

/// How often, and how many times, a message looks again for the order's previous message before it fails (to be
/// delivered again by the queue).
const ORDER_WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(100);
const ORDER_WAIT_POLLS: u32 = 30;

/// Whether a message of `template` on `channels` reaches anyone with these settings (what
/// [`Notifier::deliveries`] would send to).
fn reaches_someone(order: &Order, template: &str, channels: &[NotifyChannel], settings: &NotificationSettings) -> bool {
    let enabled: &[NotifyChannel] =
        if settings.channels.is_empty() { &[NotifyChannel::Email] } else { &settings.channels };
    channels.iter().filter(|c| enabled.contains(c)).any(|c| match c {
        NotifyChannel::Email if template == SLA_TEMPLATE => {
            settings.reply_to.as_deref().or(settings.sender_email.as_deref()).is_some_and(|e| Email::parse(e).is_ok())
        }
        NotifyChannel::Email => order.customer.email.is_some(),
        NotifyChannel::Webhook => settings.webhook_url.is_some() && settings.webhook_secret.is_some(),
    })
}

/// The version of the order's latest event before `version` that sends a message, if any (within
/// [`ORDER_WAIT_WINDOW_MINUTES`] of the event at `version`).
fn previous_message(events: &[Event], version: u64, flow: &Flow, settings: &NotificationSettings) -> Option<u64> {
    let this = events.iter().find(|e| e.version == version)?;
    events.iter().rev().filter(|e| e.version < version).find_map(|e| {
        if (this.at - e.at).num_minutes() > ORDER_WAIT_WINDOW_MINUTES {
            return Some(None);
        }
        let (template, channels) = decide(e, flow)?;
        let order = order_as_of(events, e.version)?;
        reaches_someone(&order, &template, &channels, settings).then_some(Some(e.version))
    })?
}

/// Whether the timeline records the message of the event at `version` (sent, or failed for good).
fn message_recorded(events: &[Event], version: u64) -> bool {
    events.iter().any(|e| match &e.change {
        Change::NotificationSent { for_version: Some(v), .. } => *v == version,
        // Records made before they named their event: any record after it.
        Change::NotificationSent { for_version: None, .. } => e.version > version,
        _ => false,
    })
}

/// The order rebuilt from its events up to `version` (`None` for an order without events: nothing to tell).
fn order_as_of(events: &[osflow_domain::Event], version: u64) -> Option<Order> {
    Order::replay(events.iter().take_while(|e| e.version <= version)).ok()
}

/// One message to deliver on one channel.
struct Delivery {
    channel: NotifyChannel,
    to_masked: String,
    action: Send,
}

enum Send {
    Email(EmailMessage),
    Webhook(WebhookCall),
}

fn failed(e: impl std::fmt::Display) -> ConsumeError {
    ConsumeError::failed(e)
}

impl Notifier {
    fn deliveries(
        &self,
        order: &Order,
        env: &Envelope,
        template: &str,
        channels: &[NotifyChannel],
        settings: &NotificationSettings,
        vars: &BTreeMap<&'static str, String>,
    ) -> Result<Vec<Delivery>, ConsumeError> {
        let t = template_for(settings, template);
        let subject = render(template, t.subject, vars).map_err(failed)?;
        let body = render(template, t.body, vars).map_err(failed)?;
        let enabled: &[NotifyChannel] =
            if settings.channels.is_empty() { &[NotifyChannel::Email] } else { &settings.channels };
        let mut out = Vec::new();
        for &channel in channels.iter().filter(|c| enabled.contains(c)) {
            match channel {
                NotifyChannel::Email => {
                    let company = settings.reply_to.as_deref().or(settings.sender_email.as_deref());
                    let to = if template == SLA_TEMPLATE {
                        match company.map(Email::parse) {
                            Some(Ok(e)) => e,
                            _ => {
                                tracing::warn!(event_id = %env.event_id, "SLA alert: the company has no e-mail address (reply_to or sender_email)");
                                continue;
                            }
                        }
                    } else {
                        match &order.customer.email {
                            Some(e) => e.clone(),
                            None => continue,
                        }
                    };
                    let to = &to;
                    let message = EmailMessage {
                        from_name: settings
                            .sender_name
                            .clone()
                            .or_else(|| settings.company_name.clone())
                            .unwrap_or_else(|| self.defaults.sender_name.clone()),
                        // Always the platform's address (a company's display name on it): a company cannot send
                        // as another address of the platform's identity. Its own address is the Reply-To.
                        from_email: self.defaults.sender_email.clone(),
                        reply_to: settings.reply_to.clone().or_else(|| settings.sender_email.clone()),
                        to: to.as_str().to_owned(),
                        subject: subject.clone(),
                        body: body.clone(),
                    };
                    out.push(Delivery { channel, to_masked: mask_email(to.as_str()), action: Send::Email(message) });
                }
                NotifyChannel::Webhook => {
                    let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.webhook_secret) else { continue };
                    let payload = serde_json::json!({
                        "event_id": env.event_id,
                        "type": env.kind,
                        "template": template,
                        "order_id": env.order_id,
                        "order_number": order.number,
                        "status": env.data.status_after,
                        "customer": {
                            "name": order.customer.name,
                            "phone": order.customer.phone,
                            "email": order.customer.email,
                        },
                        "subject": subject,
                        "message": body,
                        "occurred_at": env.occurred_at,
                    });
                    let call = WebhookCall { url: url.clone(), secret: secret.clone(), body: payload.to_string() };
                    out.push(Delivery { channel, to_masked: mask_url(url), action: Send::Webhook(call) });
                }
            }
        }
        Ok(out)
    }

    /// Records the message on the timeline, once per (event, channel) (an idempotency key; a replay is fine).
    async fn record(
        &self,
        env: &Envelope,
        d: &Delivery,
        template: &str,
        ok: bool,
        error: Option<String>,
    ) -> Result<(), ConsumeError> {
        let idem = Idempotency {
            key: format!("notify:{}:{}", env.event_id, d.channel.as_str()),
            request_hash: "order.notification_sent".into(),
        };
        let cmd = Command::RecordNotification {
            channel: d.channel.as_str().to_owned(),
            to_masked: d.to_masked.clone(),
            template: template.to_owned(),
            ok,
            error,
            for_version: Some(env.data.version),
        };
        let actor = Actor::System { component: CONSUMER.into() };
        let render = |_: &Order, _: &Flow| Rendered { status: 204, body: String::new() };
        match self
            .app
            .step_as(StepRequest::new(&env.tenant, actor, &env.order_id, cmd).idempotency(Some(&idem)), &render)
            .await
        {
            Ok(_) => Ok(()),
            Err(AppError::NotFound) => Ok(()),
            Err(e) => Err(failed(format!("recording the notification: {e}"))),
        }
    }

    async fn deliver(&self, env: &Envelope, d: &Delivery, template: &str) -> Result<(), ConsumeError> {
        let key = DedupeKey {
            tenant: env.tenant.clone(),
            consumer: CONSUMER.into(),
            event_id: env.event_id.clone(),
            channel: d.channel.as_str().into(),
        };
        let now = self.app.clock.now();
        if matches!(d.action, Send::Email(_))
            && let Err(wait) = self.pace.admit(&env.tenant).await
        {
            tracing::warn!(event_id = %env.event_id, tenant = %env.tenant, ?wait, "e-mail over the company's budget; delayed");
            return Err(ConsumeError::later(wait, "email: over the sending budget"));
        }
        let claim = self
            .dedupe
            .claim(&key, now, Duration::seconds(LEASE_SECS), now + Duration::days(DEDUPE_DAYS))
            .await
            .map_err(failed)?;
        match claim {
            Claim::InFlight { claimed_at } => {
                return Err(failed(format!(
                    "{} of {} is being sent since {claimed_at}",
                    d.channel.as_str(),
                    env.event_id
                )));
            }
            // Sent before: make sure the timeline has it (a replay of the idempotent step when it does).
            Claim::Done(outcome) => {
                let error = (!outcome.ok).then(|| outcome.detail.clone());
                return self.record(env, d, template, outcome.ok, error).await;
            }
            Claim::Claimed => {}
        }
        let sent = match &d.action {
            Send::Email(m) => self.email.send_email(m).await.map(|id| format!("message id {id}")),
            Send::Webhook(c) => self.webhook.post(c).await.map(|()| "posted".to_owned()),
        };
        let (ok, detail) = match sent {
            Ok(detail) => (true, detail),
            Err(SendError::Permanent(e)) => (false, e),
            Err(SendError::Throttled(e)) => {
                // The provider's quota is reached: every send of this process slows down, and this message comes
                // back after a back-off (its visibility), not at once.
                tracing::warn!(event_id = %env.event_id, channel = d.channel.as_str(), error = %e, "throttled; delayed");
                self.pace.throttled();
                self.dedupe.release(&key).await.map_err(failed)?;
                return Err(ConsumeError::later(std::time::Duration::ZERO, format!("{}: {e}", d.channel.as_str())));
            }
            Err(SendError::Transient(e)) => {
                tracing::warn!(event_id = %env.event_id, channel = d.channel.as_str(), error = %e, "notification failed; will retry");
                self.dedupe.release(&key).await.map_err(failed)?;
                return Err(failed(format!("{}: {e}", d.channel.as_str())));
            }
        };
        let outcome = DedupeOutcome { ok, detail: detail.clone(), completed_at: self.app.clock.now() };
        self.dedupe.complete(&key, &outcome).await.map_err(failed)?;
        tracing::info!(event_id = %env.event_id, channel = d.channel.as_str(), ok, "notification sent");
        self.record(env, d, template, ok, (!ok).then_some(detail)).await
    }
}

#[async_trait]
impl Consumer for Notifier {
    fn queue(&self) -> Queue {
        Queue::Notifications
    }

    async fn handle(&self, env: &Envelope) -> Result<(), ConsumeError> {
        if matches!(env.data.change, Change::NotificationSent { .. }) {
            return Ok(());
        }
        // The order as of this event, not as it is now: a message sent late (relay lag, a retry, events held)
        // tells what happened then — the material awaited, the amount due at that moment.
        let events = self.app.orders.timeline(&env.tenant, &env.order_id).await.map_err(failed)?;
        let Some(order) = order_as_of(&events, env.data.version) else {
            return Ok(());
        };
        let flow = self.app.flow_version(&env.tenant, order.flow_version).await.map_err(failed)?;
        let Some((template, channels)) = decide(&env.data, &flow) else { return Ok(()) };
        let settings = self.settings.notification_settings(&env.tenant).await.map_err(failed)?.unwrap_or_default();
        // One order's messages leave in the order of its events: this one waits until the message of the previous
        // event that sends one is recorded — a little while here (it is usually being sent right now), then it
        // fails, to be delivered again.
        if reaches_someone(&order, &template, &channels, &settings)
            && let Some(previous) = previous_message(&events, env.data.version, &flow, &settings)
        {
            let mut timeline = events;
            let mut polls = 0;
            while !message_recorded(&timeline, previous) {
                if polls == ORDER_WAIT_POLLS {
                    tracing::info!(event_id = %env.event_id, previous, "notification waits for the order's previous message");
                    return Err(failed(format!("waiting for the message of version {previous} of the order")));
                }
                polls += 1;
                tokio::time::sleep(ORDER_WAIT_POLL).await;
                timeline = self.app.orders.timeline(&env.tenant, &env.order_id).await.map_err(failed)?;
            }
        }
        let link = self.links.as_ref().map(|l| l.link(&order, &flow, self.app.clock.now())).unwrap_or_default();
        let vars = variables(&order, &flow, env, &settings, link);
        let deliveries = self.deliveries(&order, env, &template, &channels, &settings, &vars)?;
        // Every channel is tried; the message fails if any failed (the succeeded ones are deduplicated), and
        // comes back later when one asked for it (throttling).
        let mut first_error: Option<ConsumeError> = None;
        for d in &deliveries {
            if let Err(e) = self.deliver(env, d, &template).await
                && first_error.as_ref().is_none_or(|f| f.retry_after().is_none() && e.retry_after().is_some())
            {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_money() {
        assert_eq!(mask_email("joana@exemplo.com.br"), "jo***@exemplo.com.br");
        assert_eq!(mask_url("https://user:pw@hooks.exemplo.com/x?token=1"), "https://hooks.exemplo.com/…");
        let m = |s: &str| osflow_domain::values::Money::parse(s).unwrap();
        assert_eq!(brl(m("1234567.5")), "R$ 1.234.567,50");
        assert_eq!(brl(m("269.90")), "R$ 269,90");
        assert_eq!(brl(m("0")), "R$ 0,00");
    }
}
