//! The portal's use cases: reaching an order through its link, the page of the order, the customer's decision
//! (the staff's `decide_quote` step by the customer, with evidence).

use std::collections::BTreeMap;

use base64::Engine as _;
use lambda_http::http::StatusCode;
use osflow_app::{AppError, Idempotency, Reply, StepRequest};
use osflow_domain::{
    Actor, Change, Command, DecisionEvidence, DomainError, Event, Flow, LineDecision, Order, QuoteDecision,
    RevisionStatus, StatusKind,
};
use sha2::{Digest, Sha256};

use crate::token::{Claims, Purpose};
use crate::{Portal, page, quote, quote_sha256};

/// Largest form accepted.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// Photos embedded in the page: each at most this big, and all of them together at most [`PHOTOS_BUDGET`].
const PHOTO_MAX: usize = 512 * 1024;
const PHOTOS_BUDGET: usize = 3 * 1024 * 1024;
/// Photos read from the blob store for one page, at most (the latest ones are the ones shown first).
const PHOTOS_READ: usize = 12;

/// Why a request gets something other than the page it asked for.
pub(crate) enum Refusal {
    /// The one page of every bad link.
    Neutral,
    /// A page explaining the refusal.
    Page(StatusCode, String),
    Failed(String),
}

impl From<osflow_app::StoreError> for Refusal {
    fn from(e: osflow_app::StoreError) -> Refusal {
        Refusal::Failed(e.to_string())
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Refusal {
        match e {
            AppError::NotFound => Refusal::Neutral,
            other => Refusal::Failed(other.to_string()),
        }
    }
}

pub(crate) type Served = Result<(StatusCode, String), Refusal>;

/// An order as the link reaches it.
struct Reached {
    claims: Claims,
    order: Order,
    flow: Flow,
    company: String,
}

impl Portal {
    async fn reach(&self, token: &str) -> Result<Reached, Refusal> {
        let claims = match self.key.verify(token, self.app.clock.now()) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(reason = %e, "portal link refused");
                return Err(Refusal::Neutral);
            }
        };
        let order = self.app.orders.get(&claims.tenant, &claims.order).await?.ok_or(Refusal::Neutral)?;
        let flow = self.app.flow_version(&claims.tenant, order.flow_version).await?;
        let settings = self.app.settings.notification_settings(&claims.tenant).await?.unwrap_or_default();
        let company = settings.company_name.unwrap_or_else(|| claims.tenant.to_string());
        Ok(Reached { claims, order, flow, company })
    }

    pub(crate) async fn page(&self, token: &str) -> Served {
        let r = self.reach(token).await?;
        let events = self.app.orders.timeline(&r.claims.tenant, &r.claims.order).await?;
        let timeline = self.timeline(&r, &events).await?;
        // The latest revision the customer was sent (a draft being prepared is not shown).
        let rev = r.order.quote.iter().rev().find(|q| q.status != RevisionStatus::Draft);
        let (form, notice) = match (r.claims.purpose, rev) {
            (Purpose::Decide { revision }, Some(q)) if q.revision == revision && q.status == RevisionStatus::Sent => {
                let sha = quote_sha256(&r.order, q);
                let form = page::Form {
                    action: format!("{token}/decision"),
                    nonce: self.key.form_nonce(token, &sha),
                    quote_sha256: sha,
                    per_line: r.flow.def.per_line_approval,
                };
                (Some(form), None)
            }
            (Purpose::Decide { revision }, Some(q)) if q.revision > revision => (
                None,
                Some("Este link de aprovação é de uma versão anterior do orçamento. Use o link da mensagem mais recente.".into()),
            ),
            _ => (None, None),
        };
        let label = r.flow.status(&r.order.status).map_or_else(|| r.order.status.to_string(), |s| s.label.clone());
        let view = page::OrderPage {
            company: &r.company,
            first_name: first_name(&r.order.customer.name),
            number: r.order.number,
            equipment: equipment(&r.order),
            status_label: label,
            status_since: r.order.status_since,
            due_date: r.order.due_date,
            quote: rev,
            form,
            notice,
            timeline,
            danfe: r
                .order
                .nfe()
                .filter(|i| i.state == osflow_domain::InvoiceState::Authorized)
                .map(|i| (i.number, format!("{token}/danfe.pdf"))),
            receipts: receipt_links(&r.order, token),
            danfses: danfse_links(&r.order, token),
        };
        Ok((StatusCode::OK, page::order_page(&view)))
    }

    /// The DANFE of the order's authorized NF-e (its access key and the PDF): any link of the order opens it,
    /// as it opens the page; none while the order has no authorized NF-e.
    pub(crate) async fn danfe(&self, token: &str) -> Result<(String, Vec<u8>), Refusal> {
        let r = self.reach(token).await?;
        let invoice =
            r.order.nfe().filter(|i| i.state == osflow_domain::InvoiceState::Authorized).ok_or(Refusal::Neutral)?;
        let at = osflow_app::danfe_blob_key(&r.order.id, &invoice.key);
        let blob = self.app.blobs.get(&r.claims.tenant, &at).await?.ok_or(Refusal::Neutral)?;
        Ok((invoice.key.clone(), blob.bytes))
    }

    /// The DANFSe of the order's issued NFS-e whose access key is `key`: any link of the order opens it, as it
    /// opens the page.
    pub(crate) async fn danfse(&self, token: &str, key: &str) -> Result<Vec<u8>, Refusal> {
        let r = self.reach(token).await?;
        let issued = r.order.issued_nfse().any(|(_, k)| k == key);
        if !issued {
            return Err(Refusal::Neutral);
        }
        let at = osflow_app::danfse_blob_key(&r.order.id, key);
        Ok(self.app.blobs.get(&r.claims.tenant, &at).await?.ok_or(Refusal::Neutral)?.bytes)
    }

    /// A printed OS of the link's order (PDF bytes): the entry receipt, and the delivery receipt with the
    /// warranty term once released.
    pub(crate) async fn receipt(&self, token: &str, kind: &str) -> Result<Vec<u8>, Refusal> {
        let r = self.reach(token).await?;
        let kind = match kind {
            "entry" => osflow_app::ReceiptKind::Entry,
            "delivery" if r.order.released_at.is_some() => osflow_app::ReceiptKind::Delivery,
            _ => return Err(Refusal::Neutral),
        };
        self.app.receipt_of(&r.order, kind).await.map_err(|e| Refusal::Failed(e.to_string()))
    }

    /// The customer's timeline: status changes, quotes, decisions, material, payments, and only the notes and
    /// photos staff marked visible to the customer.
    async fn timeline(&self, r: &Reached, events: &[Event]) -> Result<Vec<page::Entry>, Refusal> {
        let label =
            |e: &Event| r.flow.status(&e.status_after).map_or_else(|| e.status_after.to_string(), |s| s.label.clone());
        let mut out = Vec::new();
        let mut budget = PHOTOS_BUDGET;
        // The newest photos first: the page lists the timeline newest first.
        let mut to_read: Vec<&str> = events
            .iter()
            .rev()
            .filter_map(|e| match &e.change {
                Change::AttachmentAdded { attachment } if attachment.visible_to_customer && attachment.is_photo() => {
                    Some(attachment.key.as_str())
                }
                _ => None,
            })
            .take(PHOTOS_READ)
            .collect();
        for e in events {
            let text = match &e.change {
                Change::Opened(_) => Some("OS aberta".to_owned()),
                Change::QuoteSent { revision }
                | Change::QuoteRevised {
                    revision: osflow_domain::QuoteRevision { revision, status: RevisionStatus::Sent, .. },
                } => Some(format!("Orçamento enviado (versão {revision})")),
                Change::QuoteDecided { revision, decision, .. } => Some(format!(
                    "Orçamento (versão {revision}) {}",
                    match decision {
                        QuoteDecision::Approve => "aprovado",
                        QuoteDecision::Reject => "recusado",
                        QuoteDecision::Adjust => "com ajustes pedidos",
                    }
                )),
                Change::NoteAdded { note } if note.visible_to_customer => Some(note.text.clone()),
                Change::AttachmentAdded { attachment } if attachment.visible_to_customer && attachment.is_photo() => {
                    let text = attachment.caption.clone().unwrap_or_else(|| "Foto".to_owned());
                    let wanted = to_read.contains(&attachment.key.as_str());
                    to_read.retain(|k| *k != attachment.key);
                    let blob = if wanted {
                        self.photo(&r.claims.tenant, &attachment.key, PHOTO_MAX.min(budget)).await
                    } else {
                        None
                    };
                    let photo = match blob {
                        Some(b) if b.bytes.len() <= PHOTO_MAX.min(budget) && b.content_type.starts_with("image/") => {
                            budget -= b.bytes.len();
                            Some(format!(
                                "data:{};base64,{}",
                                b.content_type,
                                base64::engine::general_purpose::STANDARD.encode(&b.bytes)
                            ))
                        }
                        _ => None,
                    };
                    out.push(page::Entry { at: e.at, text, photo });
                    None
                }
                Change::MaterialAwaited { material } => Some(format!(
                    "Aguardando material: {}. Previsão de chegada: {}",
                    material.reason,
                    page::date(material.expected_at)
                )),
                Change::MaterialDateChanged { expected_at, .. } => {
                    Some(format!("Nova previsão de chegada do material: {}", page::date(*expected_at)))
                }
                Change::PaymentRegistered { payment, .. } => {
                    Some(format!("Pagamento recebido: {}", quote::brl(payment.amount)))
                }
                Change::Finished { .. } => Some("Serviço concluído".to_owned()),
                Change::NotificationSent { .. } => None,
                _ if e.changes_status() => Some(format!("Situação: {}", label(e))),
                _ => None,
            };
            if let Some(text) = text {
                out.push(page::Entry { at: e.at, text, photo: None });
            }
        }
        Ok(out)
    }

    /// A photo for the page: sized first (the store's `head`, S3's HeadObject) and read only when it is an image
    /// within `limit`, so a big file is never read whole. A photo that cannot be sized or read (never uploaded,
    /// refused by the store) is left out like one too big: one bad photo never hides the page.
    async fn photo(
        &self,
        tenant: &osflow_domain::values::TenantId,
        key: &str,
        limit: usize,
    ) -> Option<osflow_app::Blob> {
        let head = match self.app.blobs.head(tenant, key).await {
            Ok(Some(head)) => head,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(key, error = %e, "customer photo left out");
                return None;
            }
        };
        if head.size > limit as u64 || !head.content_type.starts_with("image/") {
            tracing::info!(key, size = head.size, limit, "customer photo too big for the page; left out");
            return None;
        }
        match self.app.blobs.get(tenant, key).await {
            Ok(blob) => blob,
            Err(e) => {
                tracing::warn!(key, error = %e, "customer photo left out");
                None
            }
        }
    }

    /// The customer's decision: `body` is the form as posted, `ip` and `user_agent` the client's (evidence).
    pub(crate) async fn decide(&self, token: &str, body: &[u8], ip: String, user_agent: String) -> Served {
        let r = self.reach(token).await?;
        let Purpose::Decide { revision } = r.claims.purpose else { return Err(Refusal::Neutral) };
        let back = format!("../{token}");
        let refuse = |status: StatusCode, title: &str, why: &str| {
            Refusal::Page(status, page::outcome(&r.company, r.order.number, "err", title, &[why.to_owned()], &back))
        };
        if body.len() > MAX_FORM_BYTES {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Formulário grande demais",
                "Envie um comentário mais curto.",
            ));
        }
        let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let field = |name: &str| form.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());
        // CSRF: the nonce of this token and of the quote the form showed.
        let shown = field("orcamento").unwrap_or_default();
        if !self.key.check_form_nonce(token, shown, field("nonce").unwrap_or_default()) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "Formulário inválido",
                "Abra o link do orçamento de novo e responda pela página.",
            ));
        }
        let current = r.order.current_revision();
        let Some(rev) = current.filter(|q| q.revision == revision) else {
            return Err(refuse(
                StatusCode::CONFLICT,
                "Orçamento substituído",
                "Há uma versão mais recente deste orçamento. Use o link da mensagem mais recente.",
            ));
        };
        if quote_sha256(&r.order, rev) != shown {
            return Err(refuse(
                StatusCode::CONFLICT,
                "Orçamento alterado",
                "O orçamento mudou depois que a página foi aberta. Abra o link de novo para ver a versão atual.",
            ));
        }
        let decision = match field("decisao") {
            Some("aprovar") => QuoteDecision::Approve,
            Some("ajustar") => QuoteDecision::Adjust,
            Some("recusar") => QuoteDecision::Reject,
            _ => {
                return Err(refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Resposta incompleta",
                    "Escolha aprovar, pedir ajustes ou recusar.",
                ));
            }
        };
        let name = match field("nome") {
            Some(n)
                if (2..=100).contains(&n.chars().count())
                    && !n.chars().any(char::is_control)
                    && osflow_domain::values::text::untransportable(n).is_none() =>
            {
                n.to_owned()
            }
            _ => {
                return Err(refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Informe o seu nome",
                    "Digite o seu nome completo (de 2 a 100 caracteres) para responder ao orçamento.",
                ));
            }
        };
        let comment = field("comentario").map(str::to_owned);
        let mut lines = Vec::new();
        if decision == QuoteDecision::Approve && r.flow.def.per_line_approval {
            for l in &rev.lines {
                let d = match field(&format!("linha_{}", l.line)) {
                    Some("recusar") => LineDecision::Reject,
                    _ => LineDecision::Approve,
                };
                lines.push((l.line, d));
            }
            if lines.iter().all(|(_, d)| *d == LineDecision::Approve) {
                lines.clear();
            }
        }
        let evidence = DecisionEvidence { ip, user_agent, name: name.clone(), quote_sha256: shown.to_owned() };
        let request_hash = {
            let canonical = serde_json::json!([decision, name, comment, lines, shown]).to_string();
            hex::encode(Sha256::digest(canonical.as_bytes()))
        };
        // One decision per revision: the first is saved with its answer page; the same form again gets that page
        // back, any other answer is refused.
        let idem = Idempotency { key: format!("portal:{}:{}", r.order.id, revision), request_hash };
        let cmd = Command::DecideQuote { revision: Some(revision), decision, lines, comment, evidence: Some(evidence) };
        let actor = Actor::Customer { name: Some(name.clone()) };
        let company = r.company.clone();
        let render = |o: &Order, flow: &Flow| {
            let status = flow.status(&o.status).map_or_else(|| o.status.to_string(), |s| s.label.clone());
            let what = match decision {
                QuoteDecision::Approve => "Orçamento aprovado.",
                QuoteDecision::Adjust => {
                    "Pedido de ajustes enviado: a empresa vai preparar uma nova versão do orçamento."
                }
                QuoteDecision::Reject => "Orçamento recusado.",
            };
            let body = page::outcome(
                &company,
                o.number,
                "ok",
                "Resposta registrada",
                &[
                    format!("Obrigado, {}. {what}", first_name(&name)),
                    format!("Situação da OS: {status}."),
                    format!("Registrado em {}.", page::date_time(o.updated_at)),
                ],
                &back,
            );
            osflow_app::Rendered { status: 200, body }
        };
        match self
            .app
            .step_as(StepRequest::new(&r.claims.tenant, actor, &r.order.id, cmd).idempotency(Some(&idem)), &render)
            .await
        {
            Ok(Reply::Fresh(done)) => {
                tracing::info!(event_id = %format!("{}:{}", done.order.id, done.order.version), "customer decided");
                Ok((StatusCode::OK, done.rendered.body))
            }
            Ok(Reply::Replayed(saved)) => {
                Ok((StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK), saved.body))
            }
            Err(AppError::IdempotencyMismatch)
            | Err(AppError::Domain(DomainError::StaleRevision { .. } | DomainError::NotAllowedInStatus { .. })) => {
                Err(refuse(StatusCode::CONFLICT, "Orçamento já respondido", "Este orçamento já recebeu uma resposta."))
            }
            Err(AppError::Domain(DomainError::Invalid { field, reason })) => {
                let why = match field.as_str() {
                    "comment" if reason.contains("character") => {
                        "O comentário tem um caractere que não pode ser enviado; apague-o e envie de novo.".to_owned()
                    }
                    "comment" if decision == QuoteDecision::Adjust => {
                        "Para pedir ajustes, escreva no comentário o que deve mudar.".to_owned()
                    }
                    "comment" => "O comentário pode ter até 1000 caracteres.".to_owned(),
                    "lines" => "Aprove ao menos um item, ou recuse o orçamento.".to_owned(),
                    _ => format!("{field}: {reason}"),
                };
                Err(refuse(StatusCode::UNPROCESSABLE_ENTITY, "Resposta incompleta", &why))
            }
            Err(AppError::Conflict { .. }) => Err(refuse(
                StatusCode::CONFLICT,
                "Tente de novo",
                "A OS foi alterada enquanto você respondia. Abra o link de novo.",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// The customer's first name (all the page needs to greet).
fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or("")
}

fn equipment(o: &Order) -> String {
    let e = &o.equipment;
    [Some(e.description.as_str()), e.brand.as_deref(), e.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the status of `order` waits for the customer's decision on its current revision.
pub fn awaits_decision(order: &Order, flow: &Flow) -> bool {
    flow.kind_of(&order.status) == Some(StatusKind::AwaitingApproval)
        && order.current_revision().is_some_and(|r| r.status == RevisionStatus::Sent)
}

/// The receipts linked on the customer's page (relative to `/p/{token}`).
/// The DANFSe links of the order's issued NFS-e: (DPS number, href).
fn danfse_links(order: &Order, token: &str) -> Vec<(u64, String)> {
    order.issued_nfse().map(|(n, key)| (n, format!("{token}/danfse/{key}"))).collect()
}

fn receipt_links(order: &Order, token: &str) -> Vec<(&'static str, String)> {
    let mut links = vec![("Recibo de entrada (PDF)", format!("{token}/receipts/entry"))];
    if order.released_at.is_some() {
        links.push(("Recibo de entrega e termo de garantia (PDF)", format!("{token}/receipts/delivery")));
    }
    links
}
