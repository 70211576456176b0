//! The e-mail channel in AWS: Amazon SES v2 `SendEmail` with simple content (feature `ses`).
//!
//! The subject and the text body go as UTF-8 (`Charset: UTF-8`; SES does the MIME encoding). The `From` is
//! `Name <address>`: a display name of plain ASCII as is (quoted when it has specials such as `,`), any other as
//! RFC 2047 encoded-words ([`encode_header`]), which is what SES requires of non-ASCII display names.
//!
//! Errors: throttling (`TooManyRequestsException`, `Throttling`, HTTP 429, "Maximum sending rate exceeded") is
//! [`SendError::Throttled`] (the notifier releases its claim, slows its pace and backs off with the message's
//! visibility); a paused account, 5xx, timeouts and transport failures are [`SendError::Transient`] (the
//! notifier releases its claim and SQS brings the message back; after `maxReceiveCount` it is in the DLQ, from
//! where it can be redriven once the cause is gone). `MessageRejected`, `MailFromDomainNotVerified`, a bad request,
//! a suspended account and any other 4xx are [`SendError::Permanent`]: sending again will not help.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::timeout::TimeoutConfig;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use osflow_app::{EmailMessage, EmailSender, SendError};

use crate::mailbox::{encode_header, safe_address};

/// The time one `SendEmail` may take, retries of the SDK included.
pub const SES_TIMEOUT: Duration = Duration::from_secs(10);

/// The SES v2 client behind the [`EmailSender`] port.
#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: Client,
}

impl SesEmailSender {
    pub fn new(client: Client) -> SesEmailSender {
        SesEmailSender { client }
    }

    /// A client from the standard AWS environment (region, credentials, `AWS_ENDPOINT_URL`…) over rustls on ring
    /// ([`osflow_bus::load_sdk_config`]), every call bounded by [`SES_TIMEOUT`].
    pub async fn from_env() -> SesEmailSender {
        let sdk = osflow_bus::load_sdk_config().await;
        let timeouts = TimeoutConfig::builder().operation_timeout(SES_TIMEOUT).build();
        let config = aws_sdk_sesv2::config::Builder::from(&sdk).timeout_config(timeouts).build();
        SesEmailSender::new(Client::from_conf(config))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Whether every character may appear unquoted in a display name (RFC 5322 `atext` and spaces).
fn is_atext_phrase(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c))
}

/// The `From` of SES: `address`, or `Name <address>` with the name as is, quoted, or encoded-words (unfolded:
/// SES takes the value as one line).
pub fn from_address(name: &str, address: &str) -> Result<String, SendError> {
    if !safe_address(address) {
        return Err(SendError::Permanent(format!("invalid sender address {address:?}")));
    }
    let name = name.trim();
    if name.is_empty() {
        return Ok(address.to_owned());
    }
    let display = if is_atext_phrase(name) {
        name.to_owned()
    } else if name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encode_header(name).replace("\r\n ", " ")
    };
    Ok(format!("{display} <{address}>"))
}

/// Throttled, transient or permanent, from what SES answered: its error code, HTTP status and message.
pub fn classify(code: Option<&str>, status: Option<u16>, message: String) -> SendError {
    let code = code.unwrap_or("");
    let throttled = code == "TooManyRequestsException"
        || code.contains("Throttl")
        || status == Some(429)
        || message.contains("Maximum sending rate exceeded");
    if throttled {
        return SendError::Throttled(message);
    }
    let transient = match code {
        "LimitExceededException" | "SendingPausedException" => true,
        "MessageRejected"
        | "MailFromDomainNotVerifiedException"
        | "BadRequestException"
        | "NotFoundException"
        | "AccountSuspendedException" => false,
        _ => match status {
            Some(s) => s >= 500 || s == 429 || s == 408,
            None => true,
        },
    };
    if transient { SendError::Transient(message) } else { SendError::Permanent(message) }
}

fn send_error<E>(err: &SdkError<E>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            let message =
                format!("SES {}: {}", e.code().unwrap_or("unknown error"), e.message().unwrap_or("(no message)"));
            classify(e.code(), Some(status), message)
        }
        // The request could not be built from the message: sending it again builds the same.
        SdkError::ConstructionFailure(_) => SendError::Permanent(format!("SES: {}", DisplayErrorContext(err))),
        // Timeouts, dispatch (connection, TLS) failures, unreadable responses.
        _ => SendError::Transient(format!("SES: {}", DisplayErrorContext(err))),
    }
}

fn utf8(data: &str) -> Result<Content, SendError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| SendError::Permanent(format!("SES: {e}")))
}

#[async_trait]
impl EmailSender for SesEmailSender {
    async fn send_email(&self, m: &EmailMessage) -> Result<String, SendError> {
        let from = from_address(&m.from_name, &m.from_email)?;
        for a in [Some(&m.to), m.reply_to.as_ref()].into_iter().flatten() {
            if !safe_address(a) {
                return Err(SendError::Permanent(format!("invalid address {a:?}")));
            }
        }
        let message =
            Message::builder().subject(utf8(&m.subject)?).body(Body::builder().text(utf8(&m.body)?).build()).build();
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .set_reply_to_addresses(m.reply_to.clone().map(|r| vec![r]))
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| send_error(&e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::base64;

    #[test]
    fn from_is_plain_quoted_or_encoded() {
        let a = "os@oficina.com.br";
        assert_eq!(from_address("", a).unwrap(), a);
        assert_eq!(from_address("Oficina do Ze", a).unwrap(), "Oficina do Ze <os@oficina.com.br>");
        assert_eq!(from_address("Silva, Filhos", a).unwrap(), "\"Silva, Filhos\" <os@oficina.com.br>");
        assert_eq!(from_address(r#"O "Ze""#, a).unwrap(), r#""O \"Ze\"" <os@oficina.com.br>"#);
        let encoded = format!("=?UTF-8?B?{}?= <os@oficina.com.br>", base64("Oficina do Zé".as_bytes()));
        assert_eq!(from_address("Oficina do Zé", a).unwrap(), encoded);
        // Long names: several encoded-words on one line; line breaks in a name never reach the header.
        let long = from_address(&"Assistência Técnica ".repeat(5), a).unwrap();
        assert!(long.matches("=?UTF-8?B?").count() > 1 && !long.contains(['\r', '\n']), "{long}");
        let sneaky = from_address("x\r\nBcc: y@z.com", a).unwrap();
        assert!(!sneaky.contains(['\r', '\n']) && sneaky.starts_with("=?UTF-8?B?"), "{sneaky}");
        assert!(matches!(from_address("x", "a@b.com>\r\nBcc: c@d.com"), Err(SendError::Permanent(_))));
        assert!(matches!(from_address("x", "sem-arroba"), Err(SendError::Permanent(_))));
    }

    #[test]
    fn errors_are_transient_or_permanent() {
        let t = |code: Option<&str>, status: Option<u16>| {
            matches!(classify(code, status, String::new()), SendError::Transient(_))
        };
        let throttled = |code: Option<&str>, status: Option<u16>, message: &str| {
            matches!(classify(code, status, message.into()), SendError::Throttled(_))
        };
        assert!(throttled(Some("TooManyRequestsException"), Some(429), ""));
        assert!(throttled(Some("Throttling"), Some(400), "Maximum sending rate exceeded."));
        assert!(throttled(Some("ThrottlingException"), Some(400), "Daily message quota exceeded"));
        assert!(throttled(None, Some(429), ""));
        assert!(throttled(Some("Unknown"), Some(400), "SES Unknown: Maximum sending rate exceeded."));
        for code in ["LimitExceededException", "SendingPausedException"] {
            assert!(t(Some(code), Some(400)), "{code}");
        }
        for code in [
            "MessageRejected",
            "MailFromDomainNotVerifiedException",
            "BadRequestException",
            "NotFoundException",
            "AccountSuspendedException",
        ] {
            assert!(!t(Some(code), Some(400)), "{code}");
        }
        assert!(t(Some("InternalFailure"), Some(500)));
        assert!(t(None, Some(503)));
        assert!(!t(Some("ValidationException"), Some(400)));
        assert!(!t(None, Some(403)));
    }
}
