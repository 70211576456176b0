//! The company's notification settings: addresses, the webhook, the template overrides. `representante` only.

use osflow_domain::DomainError;

use crate::ports::{NotificationSettings, NotifyChannel};
use crate::usecases::{App, AppError, AppResult, Caller};
use osflow_domain::Role;

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

/// A webhook URL: `https://`, or `http://` to this machine only (a local integration or a test receiver).
fn check_webhook_url(url: &str) -> AppResult<()> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid_setting("webhook_url", "not a URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    // `[::1]:8080` -> `[::1]`; `example.com:8443` -> `example.com`.
    let hostname = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(ip, _)| ip),
        None => host.split(':').next().unwrap_or(""),
    };
    let local = matches!(hostname, "127.0.0.1" | "localhost" | "::1");
    match scheme {
        _ if hostname.is_empty() || url.len() > 2_000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(invalid_setting("webhook_url", "not a URL"))
        }
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => Err(invalid_setting("webhook_url", "must use https:// (http:// only to 127.0.0.1 or localhost)")),
    }
}

impl App {
    /// The company's notification settings (defaults when never saved). `representante` only. The webhook
    /// secret is the caller's to strip (it is never shown).
    pub async fn notification_settings(&self, caller: &Caller) -> AppResult<NotificationSettings> {
        self.require(caller, &[Role::Representante])?;
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
        self.require(caller, &[Role::Representante])?;
        check_text_setting("company_name", &settings.company_name, SETTINGS_TEXT_MAX)?;
        check_text_setting("sender_name", &settings.sender_name, SETTINGS_TEXT_MAX)?;
        check_email_setting("sender_email", &settings.sender_email)?;
        check_email_setting("reply_to", &settings.reply_to)?;
        let saved = self.settings.notification_settings(&caller.tenant).await?.unwrap_or_default();
        if let Some(url) = &settings.webhook_url {
            check_webhook_url(url)?;
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
