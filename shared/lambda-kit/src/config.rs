//! Configuration from the environment (the SAM template sets it for every function; osflow-local sets its own).

/// Why the configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch Logs Insights); the default.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// What a function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `OSFLOW_TABLE`: the DynamoDB table.
    pub table: Option<String>,
    /// `OSFLOW_BUCKET`: the S3 bucket of attachments and fiscal XML.
    pub bucket: Option<String>,
    /// `RUST_LOG`: the tracing filter (default `info`).
    pub log_filter: String,
    /// `OSFLOW_LOG_FORMAT`: `json` (default) or `text`.
    pub log_format: LogFormat,
    /// `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda.
    pub function_name: Option<String>,
    /// `AWS_REGION`, set by Lambda.
    pub region: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var` (for tests and for osflow-local's own settings).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let log_format = match get("OSFLOW_LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "OSFLOW_LOG_FORMAT",
                    reason: format!("{other:?} is neither json nor text"),
                });
            }
        };
        Ok(Config {
            table: get("OSFLOW_TABLE"),
            bucket: get("OSFLOW_BUCKET"),
            log_filter: get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            log_format,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
            region: get("AWS_REGION"),
        })
    }

    /// The DynamoDB table, required by every function that touches the store.
    pub fn table(&self) -> Result<&str, ConfigError> {
        self.table.as_deref().ok_or(ConfigError::Missing("OSFLOW_TABLE"))
    }

    /// The S3 bucket, required by the functions that store files.
    pub fn bucket(&self) -> Result<&str, ConfigError> {
        self.bucket.as_deref().ok_or(ConfigError::Missing("OSFLOW_BUCKET"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_and_values() {
        let c = config(&[]).unwrap();
        assert_eq!((c.log_filter.as_str(), c.log_format), ("info", LogFormat::Json));
        assert_eq!(c.table(), Err(ConfigError::Missing("OSFLOW_TABLE")));
        assert_eq!(c.table().unwrap_err().to_string(), "environment variable OSFLOW_TABLE is required");

        let c = config(&[
            ("OSFLOW_TABLE", "osflow"),
            ("OSFLOW_BUCKET", " files "),
            ("RUST_LOG", "osflow=debug"),
            ("OSFLOW_LOG_FORMAT", "text"),
            ("AWS_LAMBDA_FUNCTION_NAME", "quote"),
        ])
        .unwrap();
        assert_eq!(c.table(), Ok("osflow"));
        assert_eq!(c.bucket(), Ok("files"));
        assert_eq!(c.log_filter, "osflow=debug");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.function_name.as_deref(), Some("quote"));
    }

    #[test]
    fn invalid_values_are_named() {
        let err = config(&[("OSFLOW_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(err.to_string().contains("OSFLOW_LOG_FORMAT"), "{err}");
    }
}
