//! The company's notification settings: addresses, the webhook, the template overrides. `representante` only.

use osflow_domain::DomainError;

use crate::ports::{NotificationSettings, NotifyChannel};
use crate::usecases::{App, AppError, AppResult, Caller};

/// Longest company name, sender name or template text accepted in the notification settings.
const SETTINGS_TEXT_MAX: usize = 200;
const TEMPLATE_TEXT_MAX: usize = 4_000;
/// Shortest webhook secret (HMAC-SHA256 key) accepted.
pub const WEBHOOK_SECRET_MIN: usize = 16;

fn invalid_setting(field: &str, reason: impl Into<String>) -> AppError {
    AppError::Domain(DomainError::Invalid { field: field.to_owned(), reason: reason.into() })
}

fn check_email_setting(field: &str, value: &Option<String>) -> AppResult<()> {
    if let Some(v) = value {
        osflow_domain::values::Email::parse(v).map_err(|e| invalid_setting(field, e.to_string()))?;
    }
    Ok(())
}

fn check_text_setting(field: &str, value: &Option<String>, max: usize) -> AppResult<()> {
    if let Some(v) = value
        && (v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control))
    {
        return Err(invalid_setting(field, format!("must be 1 to {max} characters, without control characters")));
    }
    Ok(())
}

/// A webhook URL, parsed as the sender parses it: `https://` (or, with `local`, `http://` to this machine's
/// loopback), no credentials in it, and no internal address literal (the sender also checks every resolved
/// address when it connects).
fn check_webhook_url(url: &str, local: bool) -> AppResult<()> {
    let not_a_url = || invalid_setting("webhook_url", "not a URL");
    if url.len() > 2_000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_a_url());
    }
    let parsed = url::Url::parse(url).map_err(|_| not_a_url())?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid_setting("webhook_url", "must not carry a user or password"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(not_a_url()),
    };
    let internal_literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()
        }
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            ip.is_unspecified() || ip.is_multicast() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        _ => false,
    };
    match parsed.scheme() {
        _ if internal_literal || (loopback && !local) => {
            Err(invalid_setting("webhook_url", "must be a public address"))
        }
        "https" => Ok(()),
        "http" if local && loopback => Ok(()),
        _ if local => Err(invalid_setting("webhook_url", "must use https:// (http:// only to 127.0.0.1 or localhost)")),
        _ => Err(invalid_setting("webhook_url", "must use https://")),
    }
}

impl App {
    /// The company's notification settings (defaults when never saved). `representante` only. The webhook
    /// secret is the caller's to strip (it is never shown).
    pub async fn notification_settings(&self, caller: &Caller) -> AppResult<NotificationSettings> {
        self.require(caller, &crate::usecases::ADMIN_ROLES)?;
        Ok(self.settings.notification_settings(&caller.tenant).await?.unwrap_or_default())
    }

    /// Replaces the company's notification settings after checking them: addresses, the webhook (https, a
    /// secret of at least [`WEBHOOK_SECRET_MIN`] characters — kept from the saved settings when not sent again),
    /// and the template overrides (known templates and variables). `representante` only.
    pub async fn put_notification_settings(
        &self,
        caller: &Caller,
        mut settings: NotificationSettings,
    ) -> AppResult<NotificationSettings> {
        self.require(caller, &crate::usecases::ADMIN_ROLES)?;
        check_text_setting("company_name", &settings.company_name, SETTINGS_TEXT_MAX)?;
        check_text_setting("sender_name", &settings.sender_name, SETTINGS_TEXT_MAX)?;
        check_email_setting("sender_email", &settings.sender_email)?;
        check_email_setting("reply_to", &settings.reply_to)?;
        let saved = self.settings.notification_settings(&caller.tenant).await?.unwrap_or_default();
        if let Some(url) = &settings.webhook_url {
            check_webhook_url(url, self.local_webhooks)?;
            if settings.webhook_secret.is_none() && saved.webhook_url.is_some() {
                settings.webhook_secret = saved.webhook_secret.clone();
            }
            match &settings.webhook_secret {
                None => return Err(invalid_setting("webhook_secret", "required with webhook_url")),
                Some(secret) if secret.chars().count() < WEBHOOK_SECRET_MIN || secret.chars().count() > 256 => {
                    return Err(invalid_setting(
                        "webhook_secret",
                        format!("must be {WEBHOOK_SECRET_MIN} to 256 characters"),
                    ));
                }
                Some(_) => {}
            }
        } else if settings.webhook_secret.is_some() {
            return Err(invalid_setting("webhook_url", "required with webhook_secret"));
        }
        if settings.channels.contains(&NotifyChannel::Webhook) && settings.webhook_url.is_none() {
            return Err(invalid_setting("channels", "webhook needs webhook_url and webhook_secret"));
        }
        for (name, t) in &settings.templates {
            if t.body.chars().count() > TEMPLATE_TEXT_MAX
                || t.subject.as_ref().is_some_and(|s| s.chars().count() > SETTINGS_TEXT_MAX)
            {
                return Err(invalid_setting(&format!("templates.{name}"), "too long"));
            }
        }
        crate::templates::validate_overrides(&settings.templates).map_err(|e| {
            let field = match &e {
                crate::templates::TemplateError::UnknownTemplate { template }
                | crate::templates::TemplateError::UnknownVariable { template, .. }
                | crate::templates::TemplateError::Unclosed { template, .. }
                | crate::templates::TemplateError::EmptyBody { template } => format!("templates.{template}"),
            };
            invalid_setting(&field, e.to_string())
        })?;
        settings.channels.sort();
        settings.channels.dedup();
        self.settings.put_notification_settings(&caller.tenant, &settings).await?;
        Ok(settings)
    }
}
