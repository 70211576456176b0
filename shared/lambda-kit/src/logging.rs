//! Tracing: JSON logs filtered by target and level (`RUST_LOG`: `info`, `osflow_api=debug,info`…; the
//! `filter::Targets` syntax: no span or field filters, so no regular-expression engine in every function), and
//! the request span every log line of a request carries.
//!
//! The span [`request_span`] has the fields `tenant`, `user`, `order_id`, `event_id` and `status` empty at
//! first; the handler records them as it learns them (`span.record("tenant", …)`), and the JSON formatter writes
//! the span's fields (`span`, and every enclosing span in `spans`) on every event inside it.

use tracing::level_filters::LevelFilter;
use tracing::{Level, Span, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

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

/// The filter of `RUST_LOG`'s directives; `info` for all when they do not parse.
fn filter(directives: &str) -> Targets {
    directives.parse().unwrap_or_else(|_| Targets::new().with_default(Level::INFO))
}

/// The JSON subscriber: one object per line with the event's fields flattened, its target, and the fields of
/// the current span and of every enclosing span.
pub fn json_subscriber<W>(directives: &str, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // The builder's own filter (INFO by default) lets everything through: `Targets` decides.
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .json()
        .with_target(true)
        .with_current_span(true)
        .with_span_list(true)
        .flatten_event(true)
        .finish()
        .with(filter(directives))
}

/// Installs the global subscriber with this configuration (see [`init_tracing`]).
pub fn init_tracing_with(config: &Config) {
    // `try_init`/`set_global_default` fail only when a global subscriber exists already: keep that one.
    let _ = match config.log_format {
        LogFormat::Json => {
            tracing::subscriber::set_global_default(json_subscriber(&config.log_filter, std::io::stdout))
        }
        LogFormat::Text => tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(LevelFilter::TRACE)
                .with_ansi(false)
                .finish()
                .with(filter(&config.log_filter)),
        ),
    };
}

/// The span of one HTTP request. `tenant`, `user`, `order_id`, `event_id` and `status` are recorded later.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_the_request_span_fields() {
        let buffer = Buffer::default();
        let subscriber = json_subscriber("info", buffer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = request_span("POST", "/v1/orders/{id}/start", Some("req-1"));
            let _entered = span.enter();
            span.record("tenant", "oficina-do-ze");
            span.record("order_id", "0193a1f2-5c3e-7a10-9b2c-1d2e3f4a5b6c");
            span.record("event_id", "0193a1f2-5c3e-7a10-9b2c-1d2e3f4a5b6c:4");
            tracing::info!(status = 200, "request served");
            tracing::debug!("filtered out at info");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["message"], "request served");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["status"], 200);
        let span = &line["span"];
        assert_eq!(span["name"], "request");
        assert_eq!(span["tenant"], "oficina-do-ze");
        assert_eq!(span["order_id"], "0193a1f2-5c3e-7a10-9b2c-1d2e3f4a5b6c");
        assert_eq!(span["event_id"], "0193a1f2-5c3e-7a10-9b2c-1d2e3f4a5b6c:4");
        assert_eq!(span["route"], "/v1/orders/{id}/start");
        assert_eq!(line["spans"][0]["request_id"], "req-1");
    }

    #[test]
    fn rust_log_names_levels_per_target() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(json_subscriber("osflow_lambda_kit=debug,warn", buffer.clone()), || {
            tracing::debug!("kept: this crate at debug");
            tracing::info!(target: "other", "dropped: other targets at warn");
            tracing::warn!(target: "other", "kept: a warning");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let messages: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(messages, ["kept: this crate at debug", "kept: a warning"]);
        // Directives that do not parse: info for all.
        let buffer = Buffer::default();
        tracing::subscriber::with_default(json_subscriber("osflow=loud", buffer.clone()), || {
            tracing::info!(target: "other", "kept");
            tracing::debug!(target: "other", "dropped");
        });
        assert_eq!(String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap().lines().count(), 1);
    }
}
