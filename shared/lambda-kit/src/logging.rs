//! Tracing: JSON logs with an env filter, and the request span every log line of a request carries.
//!
//! The span [`request_span`] has the fields `tenant`, `order_id` and `event_id` empty at first; the handler
//! records them as it learns them (`span.record("tenant", …)`), and the JSON formatter writes them on every
//! event inside the span.

use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber from the environment (`RUST_LOG`, `OSFLOW_LOG_FORMAT`). Calling it again (or
/// after another subscriber was set) does nothing.
pub fn init_tracing() {
    let config = Config::from_env().unwrap_or_else(|_| {
        Config::from_vars(|name| if name == "RUST_LOG" { std::env::var(name).ok() } else { None })
            .expect("defaults are valid")
    });
    init_tracing_with(&config);
}

/// Installs the global subscriber with this configuration (see [`init_tracing`]).
pub fn init_tracing_with(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    // `try_init` fails only when a global subscriber exists already: keep that one.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// The span of one HTTP request. `tenant`, `order_id`, `event_id`, `user` and `status` are recorded later.
pub fn request_span(method: &str, route: &str, request_id: Option<&str>) -> Span {
    tracing::info_span!(
        "request",
        method = method,
        route = route,
        request_id = request_id.unwrap_or(""),
        tenant = tracing::field::Empty,
        user = tracing::field::Empty,
        order_id = tracing::field::Empty,
        event_id = tracing::field::Empty,
        status = tracing::field::Empty,
    )
}
