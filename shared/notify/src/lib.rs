//! osflow's customer notifications: the notifier consumer of the `notifications` queue, the pt-BR
//! templates with company overrides, and the channels — e-mail (a mailbox folder of `.eml` files locally; SES in
//! AWS, `SesEmailSender` behind the feature `ses`) and a signed webhook.

mod mailbox;
mod notifier;
mod pace;
#[cfg(feature = "ses")]
mod ses;
mod webhook;

pub use mailbox::{MailboxSender, base64, encode_header, to_eml};
pub use notifier::{CONSUMER, DEDUPE_DAYS, LEASE_SECS, Notifier, NotifierDefaults, brl, mask_email, mask_url};
/// The templates live with the use cases (the settings are validated when saved); re-exported here.
pub use osflow_app::templates as template;
pub use osflow_app::templates::{TemplateError, validate_overrides};
pub use pace::SendPace;
#[cfg(feature = "ses")]
pub use ses::{SES_TIMEOUT, SesEmailSender, classify as classify_ses_error, from_address as ses_from_address};
pub use webhook::{
    HttpWebhookSender, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookTargets, public_address, signature, verify,
};
