//! The carta de correção (event 110110) of an authorized NF-e, and [`NfeEvents`] — the port the API's use
//! cases send the events through — on the [`Invoicer`].

use async_trait::async_trait;
use osflow_app::{
    AppError, Blob, FieldProblem, InvoiceRecord, NfeEventError, NfeEvents, Rendered, StepRequest, StoreError,
    nfe_event_blob_key,
};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Actor, Command, DomainError, InvoiceCorrection, InvoiceState, MAX_CORRECTIONS, Order};
use osflow_nfe::{DocumentError, EventDetail, SignedEvent, proc_evento, sign_event};

use crate::cancel::CancelError;
use crate::invoicer::{COMPONENT, InvoiceError, Invoicer, order_and_invoice};

/// `tpEvento` of the carta de correção.
const CORRECTION: &str = "110110";

fn store(e: impl std::fmt::Display) -> NfeEventError {
    NfeEventError::Store(StoreError::Other(e.to_string()))
}

impl From<InvoiceError> for NfeEventError {
    fn from(e: InvoiceError) -> NfeEventError {
        match e {
            InvoiceError::NotFound => NfeEventError::NotFound,
            InvoiceError::Store(s) => NfeEventError::Store(s),
            InvoiceError::Transport(t) => NfeEventError::Unavailable(t.to_string()),
            // The emitter's configuration or certificate: someone must fix it before any event can be signed.
            other => NfeEventError::Refused { c_stat: None, message: other.to_string() },
        }
    }
}

/// A request to SEFAZ that could not be built or signed: a problem of the user's text (the schema's `tag`) is the
/// request's `field`; any other (the emitter's data, such as an alphanumeric CNPJ the schema does not take yet, or
/// the signature) is refused with its reason, never blamed on the text.
pub(crate) fn document_error(e: DocumentError, tag: &str, field: &str) -> NfeEventError {
    match &e {
        DocumentError::Build(b) if b.field.ends_with(tag) => {
            NfeEventError::Invalid(FieldProblem { field: field.into(), message: e.to_string() })
        }
        _ => NfeEventError::Refused { c_stat: None, message: format!("pedido à SEFAZ não assinado: {e}") },
    }
}

impl From<CancelError> for NfeEventError {
    fn from(e: CancelError) -> NfeEventError {
        match e {
            CancelError::NotFound => NfeEventError::NotFound,
            CancelError::Event(d) => document_error(d, "xJust", "justification"),
            CancelError::Refused { c_stat, x_motivo } => {
                NfeEventError::Refused { c_stat: Some(c_stat), message: format!("SEFAZ: {c_stat} {x_motivo}") }
            }
            CancelError::Invoice(i) => i.into(),
            other @ (CancelError::NotAuthorized(_) | CancelError::WindowClosed { .. }) => {
                NfeEventError::Refused { c_stat: None, message: other.to_string() }
            }
        }
    }
}

/// The `xCorrecao` of a stored procEventoNFe.
fn correction_text(proc_xml: &str) -> Option<String> {
    let t = proc_xml.split("<xCorrecao>").nth(1)?.split("</xCorrecao>").next()?;
    Some(
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// `nProt` of the `retEvento` of a stored procEventoNFe.
fn registration_protocol(proc_xml: &str) -> Option<String> {
    let ret = proc_xml.split("<retEvento").nth(1)?;
    Some(ret.split("<nProt>").nth(1)?.split('<').next()?.to_owned())
}

impl Invoicer {
    /// Registers the next carta de correção of the order's authorized NF-e `key` (`text`: 15–1000 characters).
    ///
    /// The sequence number is the order's count of corrections of that NF-e plus one (at most 20). The
    /// procEventoNFe is stored before the correction is recorded on the order, so an attempt whose record was
    /// lost is finished by the next one (SEFAZ answers 573 for the number: the stored document settles it); a
    /// text equal to the latest correction's is that correction, registered once.
    pub async fn correct(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        key: &str,
        text: &str,
    ) -> Result<InvoiceCorrection, NfeEventError> {
        let (order, record) = order_and_invoice(&self.app, tenant, order_id, |r| r.access_key == key)
            .await?
            .ok_or(NfeEventError::NotFound)?;
        let done: Vec<&InvoiceCorrection> = order.corrections_of(key).collect();
        if let Some(last) = done.last()
            && last.text == text
        {
            return Ok((*last).clone());
        }
        if record.state != InvoiceState::Authorized {
            return Err(NfeEventError::Refused {
                c_stat: None,
                message: format!("só uma NF-e autorizada recebe carta de correção (esta está {:?})", record.state),
            });
        }
        let seq = u8::try_from(done.len() + 1).unwrap_or(u8::MAX);
        if seq > MAX_CORRECTIONS {
            return Err(NfeEventError::Refused {
                c_stat: None,
                message: format!("a NF-e já tem {MAX_CORRECTIONS} cartas de correção, o máximo"),
            });
        }
        let blob_key = nfe_event_blob_key(order_id, key, CORRECTION, seq);
        let now = self.app.clock.now();

        let detail = EventDetail::Correction { text: text.to_owned() };
        let (input, certificate, authority) = self.event_for(tenant, &record, seq, detail).await?;
        let event: SignedEvent =
            sign_event(&input, &certificate).map_err(|e| document_error(e, "xCorrecao", "text"))?;
        let receipt = authority.send_event(&event).await.map_err(InvoiceError::from)?;
        let (protocol, text) = if receipt.registered() {
            let proc_ = proc_evento(&event, &receipt).map_err(store)?;
            let blob = Blob { content_type: "application/xml".into(), bytes: proc_.into_bytes() };
            self.app.blobs.put(tenant, &blob_key, &blob).await?;
            (receipt.protocol.clone(), text.to_owned())
        } else if receipt.c_stat == 573
            && let Some(stored) = self.app.blobs.get(tenant, &blob_key).await?
        {
            // Registered by an earlier attempt that stored its document but not its record: that one stands.
            let xml = String::from_utf8_lossy(&stored.bytes).into_owned();
            (registration_protocol(&xml), correction_text(&xml).unwrap_or_else(|| text.to_owned()))
        } else {
            return Err(NfeEventError::Refused {
                c_stat: Some(receipt.c_stat),
                message: format!("SEFAZ: {} {}", receipt.c_stat, receipt.x_motivo),
            });
        };
        let correction = InvoiceCorrection { key: key.to_owned(), seq, text, protocol, at: now };
        let actor = Actor::System { component: COMPONENT.into() };
        let render = |_: &Order, _: &osflow_domain::Flow| Rendered { status: 200, body: String::new() };
        let command = Command::RecordInvoiceCorrection { correction: correction.clone() };
        match self.app.step_as(StepRequest::new(tenant, actor, order_id, command), &render).await {
            Ok(_) => Ok(correction),
            Err(AppError::Domain(DomainError::Invalid { .. })) => Err(NfeEventError::Refused {
                c_stat: None,
                message: "outra carta de correção desta NF-e foi registrada ao mesmo tempo: tente de novo".into(),
            }),
            Err(AppError::Store(s)) => Err(NfeEventError::Store(s)),
            Err(e) => Err(store(e)),
        }
    }
}

#[async_trait]
impl NfeEvents for Invoicer {
    async fn cancel(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        justification: &str,
    ) -> Result<InvoiceRecord, NfeEventError> {
        Ok(Invoicer::cancel(self, tenant, order, key, justification).await?)
    }

    async fn correct(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        key: &str,
        text: &str,
    ) -> Result<InvoiceCorrection, NfeEventError> {
        Invoicer::correct(self, tenant, order, key, text).await
    }

    async fn gaps(
        &self,
        tenant: &TenantId,
        environment: Option<osflow_app::FiscalEnvironment>,
    ) -> Result<osflow_app::NfeGaps, NfeEventError> {
        match Invoicer::gaps(self, tenant, environment).await {
            // No emitter, no sequence to list: not found, as the emitter itself is.
            Err(InvoiceError::NotConfigured) => Err(NfeEventError::NotFound),
            other => Ok(other?),
        }
    }

    async fn void_range(
        &self,
        tenant: &TenantId,
        environment: Option<osflow_app::FiscalEnvironment>,
        first: u64,
        last: u64,
        justification: &str,
    ) -> Result<osflow_app::VoidRecord, NfeEventError> {
        Invoicer::void_range(self, tenant, environment, first, last, justification).await
    }
}

#[cfg(test)]
mod tests {
    use osflow_app::NfeEventError;
    use osflow_nfe::{BuildError, DocumentError, Problem};

    use super::document_error;

    #[test]
    fn only_the_users_text_is_blamed_on_the_request_field() {
        let text = DocumentError::Build(BuildError::new("infInut.xJust", Problem::TooShort { min: 15, len: 5 }));
        let NfeEventError::Invalid(problem) = document_error(text, "xJust", "justification") else { panic!("text") };
        assert_eq!(problem.field, "justification");
        let cnpj = DocumentError::Build(BuildError::new("infInut.CNPJ", Problem::Format("a numeric CNPJ")));
        let refused = document_error(cnpj, "xJust", "justification");
        assert!(
            matches!(&refused, NfeEventError::Refused { c_stat: None, message } if message.contains("infInut.CNPJ")),
            "{refused:?}"
        );
    }
}
