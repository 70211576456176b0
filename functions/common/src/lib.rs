//! The wiring every Lambda function shares: the environment, read once ([`Env`]); the DynamoDB store (table
//! from `OSFLOW_TABLE`) and the S3 blob store (bucket from `OSFLOW_BUCKET`) behind the ports of an `App`
//! ([`app`]), served by `osflow_api::handle_only` for one function's routes (a route of another function answers
//! 404). An HTTP function's `main.rs` is one call to [`serve`], named by its marker type (`osflow_api::only::…`):
//! the binary then links only that function's handlers, the S3 client only when its routes use blobs, and the
//! Cognito client (the company's users, pool from `OSFLOW_USER_POOL_ID`) only when they check or list users.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_http::{Error, Request};
use osflow_api::{Every, Serves, TenantRateLimit};
use osflow_app::App;
use osflow_blob_s3::S3BlobStore;
use osflow_lambda_kit::Config;
use osflow_store_dynamodb::{DynamoStore, SecretsKey};
use osflow_users_cognito::CognitoUsers;

/// `OSFLOW_SECRETS_PREFIX`: the A1 certificates are the Secrets Manager secrets `<prefix>/<tenant>/a1`.
pub const SECRETS_PREFIX_ENV: &str = "OSFLOW_SECRETS_PREFIX";
/// `OSFLOW_SEFAZ_TRUST_ROOTS`: the PEM bundle of the roots SEFAZ servers are trusted with (ICP-Brasil), a file
/// path or the PEM itself.
pub const SEFAZ_TRUST_ROOTS_ENV: &str = "OSFLOW_SEFAZ_TRUST_ROOTS";
/// The Sefin Nacional (NFS-e) trust roots, optional: the invoicer (issuing) and fiscal-admin (the cancellation)
/// talk to Sefin only when it is set.
pub const SEFIN_TRUST_ROOTS_ENV: &str = "OSFLOW_SEFIN_TRUST_ROOTS";
/// `OSFLOW_SENDER_EMAIL`: the `From` address of e-mails of companies without one of their own (SES-verified).
pub const SENDER_EMAIL_ENV: &str = "OSFLOW_SENDER_EMAIL";
/// `OSFLOW_SENDER_NAME`: the display name of those e-mails.
pub const SENDER_NAME_ENV: &str = "OSFLOW_SENDER_NAME";
/// `OSFLOW_PORTAL_URL`: the customer's page's public base URL (`https://…`, without `/p/`).
pub const PORTAL_URL_ENV: &str = "OSFLOW_PORTAL_URL";
/// `OSFLOW_PORTAL_KEY_SECRET`: the Secrets Manager secret holding the portal key.
pub const PORTAL_KEY_SECRET_ENV: &str = "OSFLOW_PORTAL_KEY_SECRET";
/// `OSFLOW_PORTAL_LINK_DAYS`: how long the customer's links are valid (1 to 90 days, default 7).
pub const PORTAL_LINK_DAYS_ENV: &str = "OSFLOW_PORTAL_LINK_DAYS";
/// `OSFLOW_CONSOLE_SECRET`: the Secrets Manager secret of the console (session key and Cognito app client).
pub const CONSOLE_SECRET_ENV: &str = "OSFLOW_CONSOLE_SECRET";
/// `OSFLOW_COGNITO_DOMAIN`: the Cognito hosted UI's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`).
pub const COGNITO_DOMAIN_ENV: &str = "OSFLOW_COGNITO_DOMAIN";
/// `OSFLOW_COGNITO_ISSUER`: the user pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`).
pub const COGNITO_ISSUER_ENV: &str = "OSFLOW_COGNITO_ISSUER";
/// `OSFLOW_CONSOLE_UPLOAD_ORIGIN`: the origin the console's pages upload attachments to (the bucket's).
pub const CONSOLE_UPLOAD_ORIGIN_ENV: &str = "OSFLOW_CONSOLE_UPLOAD_ORIGIN";
/// `OSFLOW_FISCAL_FUNCTION`: the fiscal-admin function (name or ARN) the console sends the fiscal routes to.
pub const FISCAL_FUNCTION_ENV: &str = "OSFLOW_FISCAL_FUNCTION";
/// `OSFLOW_SEALING_KEY_SECRET`: the Secrets Manager secret whose value (at least 32 characters) seals the
/// equipment's unlock codes; set only for the functions that keep or read them (open-order, records).
pub const SEALING_KEY_SECRET_ENV: &str = "OSFLOW_SEALING_KEY_SECRET";
/// `OSFLOW_USER_POOL_ID`: the staff's Cognito user pool, the company's users (the functions that give an order a
/// technician or list the users: open-order, records, console).
pub const USER_POOL_ID_ENV: &str = osflow_users_cognito::USER_POOL_ID_ENV;
/// How long a warm function trusts the user pool's answers: Cognito's request quotas are per account and region,
/// shared by every company and by the sign-ins, and a busy shop assigns technicians all day; a technician removed
/// from the pool can still be assigned for this long.
pub const USER_CACHE_SECONDS: i64 = osflow_app::USER_CACHE_SECONDS;
/// The sender address when `OSFLOW_SENDER_EMAIL` is unset.
pub const DEFAULT_SENDER_EMAIL: &str = "nao-responda@osflow.com.br";
/// The sender name when `OSFLOW_SENDER_NAME` is unset.
pub const DEFAULT_SENDER_NAME: &str = "osflow";

/// Everything the functions read from their environment, read once at start; a blank value is unset. What a
/// function needs and is missing fails its start with the variable's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// lambda-kit's part: table, bucket, logs.
    pub config: Config,
    pub secrets_prefix: Option<String>,
    pub sefaz_trust_roots: Option<String>,
    /// Unset: no NFS-e at Sefin Nacional (neither issued nor cancelled).
    pub sefin_trust_roots: Option<String>,
    pub sender_email: String,
    pub sender_name: String,
    pub portal_url: Option<String>,
    pub portal_key_secret: Option<String>,
    pub portal_link_days: Option<String>,
    pub console_secret: Option<String>,
    pub cognito_domain: Option<String>,
    pub cognito_issuer: Option<String>,
    pub console_upload_origin: Option<String>,
    /// The console's fiscal-admin function; unset: the console's App serves the fiscal routes (or refuses them).
    pub fiscal_function: Option<String>,
    pub sealing_key_secret: Option<String>,
    pub user_pool_id: Option<String>,
    /// `OSFLOW_TENANT_RPS` / `OSFLOW_TENANT_BURST`: each company's request limit in this instance.
    pub tenant_rps: Option<String>,
    pub tenant_burst: Option<String>,
}

impl Env {
    /// Reads the process environment.
    pub fn from_env() -> Result<Env, Error> {
        Env::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var` (tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Env, Error> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(Env {
            config: Config::from_vars(&var)?,
            secrets_prefix: get(SECRETS_PREFIX_ENV),
            sefaz_trust_roots: get(SEFAZ_TRUST_ROOTS_ENV),
            sefin_trust_roots: get(SEFIN_TRUST_ROOTS_ENV),
            sender_email: get(SENDER_EMAIL_ENV).unwrap_or_else(|| DEFAULT_SENDER_EMAIL.to_owned()),
            sender_name: get(SENDER_NAME_ENV).unwrap_or_else(|| DEFAULT_SENDER_NAME.to_owned()),
            portal_url: get(PORTAL_URL_ENV),
            portal_key_secret: get(PORTAL_KEY_SECRET_ENV),
            portal_link_days: get(PORTAL_LINK_DAYS_ENV),
            console_secret: get(CONSOLE_SECRET_ENV),
            cognito_domain: get(COGNITO_DOMAIN_ENV),
            cognito_issuer: get(COGNITO_ISSUER_ENV),
            console_upload_origin: get(CONSOLE_UPLOAD_ORIGIN_ENV),
            fiscal_function: get(FISCAL_FUNCTION_ENV),
            sealing_key_secret: get(SEALING_KEY_SECRET_ENV),
            user_pool_id: get(USER_POOL_ID_ENV),
            tenant_rps: get(osflow_api::limit::TENANT_RPS_ENV),
            tenant_burst: get(osflow_api::limit::TENANT_BURST_ENV),
        })
    }

    /// The certificates' secret name prefix, required by the functions that read or write A1 certificates.
    pub fn secrets_prefix(&self) -> Result<&str, Error> {
        self.secrets_prefix.as_deref().ok_or_else(|| {
            format!("{SECRETS_PREFIX_ENV} is not set (certificates are the secrets <prefix>/<tenant>/a1)").into()
        })
    }

    /// The SEFAZ trust roots setting (a PEM or a path), required by the invoicer.
    pub fn sefaz_trust_roots(&self) -> Result<&str, Error> {
        self.sefaz_trust_roots.as_deref().ok_or_else(|| {
            format!("{SEFAZ_TRUST_ROOTS_ENV} is not set (the PEM bundle of the ICP-Brasil roots)").into()
        })
    }

    /// The portal key's secret name, required by the portal function.
    pub fn portal_key_secret(&self) -> Result<&str, Error> {
        self.portal_key_secret.as_deref().ok_or_else(|| format!("{PORTAL_KEY_SECRET_ENV} is not set").into())
    }

    /// The console's secret name, required by the console function.
    pub fn console_secret(&self) -> Result<&str, Error> {
        self.console_secret.as_deref().ok_or_else(|| format!("{CONSOLE_SECRET_ENV} is not set").into())
    }

    /// The Cognito hosted UI's base URL, required by the console function.
    pub fn cognito_domain(&self) -> Result<&str, Error> {
        self.cognito_domain.as_deref().ok_or_else(|| format!("{COGNITO_DOMAIN_ENV} is not set").into())
    }

    /// The staff's user pool, required by the functions that check or list the company's users.
    pub fn user_pool_id(&self) -> Result<&str, Error> {
        self.user_pool_id.as_deref().ok_or_else(|| format!("{USER_POOL_ID_ENV} is not set").into())
    }

    /// The user pool's issuer, required by the console function.
    pub fn cognito_issuer(&self) -> Result<&str, Error> {
        self.cognito_issuer.as_deref().ok_or_else(|| format!("{COGNITO_ISSUER_ENV} is not set").into())
    }
}

/// The AWS adapters of a function behind the ports: the DynamoDB store (orders, flows with a per-container cache
/// of the immutable versions, invoices, idempotency, settings) and the S3 blob store. Also the wiring of the
/// queue consumers, which act on orders through the same use cases.
pub async fn app(env: &Env) -> Result<(App, Arc<DynamoStore>), Error> {
    app_for::<Every>(env).await
}

/// [`app`] for a binary serving `S`'s routes: without the S3 client (and `OSFLOW_BUCKET`) when they use no blob,
/// and without the Secrets Manager client when they keep no unlock code (`S::BLOBS` and `S::UNLOCK_CODES` are
/// constants: the clients are then not linked).
pub async fn app_for<S: Serves>(env: &Env) -> Result<(App, Arc<DynamoStore>), Error> {
    let mut store = DynamoStore::from_env(env.config.table()?).await;
    // The functions that keep or read unlock codes read their sealing key once per container.
    if let Some(secret) = &env.sealing_key_secret
        && let Some(read) = sealing_key_reader::<S>()
    {
        store = store.with_secrets_key(read(secret.clone()).await?);
    }
    let store = Arc::new(store);
    let mut app = App::over(store.clone())
        // Published flow versions are immutable: a warm container reads each once.
        .with_flow_cache()
        // Invoicing is on once the company's emitter is configured: the release then waits for the NF-e.
        .with_invoicing(store.clone());
    // Synchronous: in this constant-false branch nothing of the S3 client is linked.
    if S::BLOBS {
        let config = osflow_blob_s3::sdk_config_from_env();
        app = app.with_blobs(Arc::new(S3BlobStore::from_config(&config, env.config.bucket()?)));
    }
    // The company's users from the Cognito pool, each answer trusted for a short while per warm container:
    // required by a function whose routes need them; the console's App (every route) has them
    // when the pool is named. Synchronous as the S3 store: where `S::USERS` is false, the Cognito client is not
    // linked.
    if S::USERS {
        let pool = match S::ONLY {
            Some(_) => Some(env.user_pool_id()?),
            None => env.user_pool_id.as_deref(),
        };
        if let Some(pool) = pool {
            let users = CognitoUsers::from_env(pool);
            app = app.with_users(Arc::new(users)).with_user_cache(USER_CACHE_SECONDS);
        }
    }
    // Each company's requests limited in this instance (one company's traffic never takes what all share).
    let app = match TenantRateLimit::from_settings(env.tenant_rps.as_deref(), env.tenant_burst.as_deref())? {
        Some(limit) => app.with_request_limit(Arc::new(limit)),
        None => app,
    };
    Ok((app, store))
}

/// Reads the sealing key from its Secrets Manager secret.
type SealingKeyReader = fn(String) -> Pin<Box<dyn Future<Output = Result<SecretsKey, Error>> + Send>>;

/// The sealing key's reader for a binary of `S`, if its routes keep unlock codes. Chosen here, in plain code, so
/// that the other binaries do not link the Secrets Manager client: an `.await` of the read in a constant-false
/// branch of [`app_for`] would still put its future in the state machine of every function (the resumption of a
/// state is code even when the state is never entered).
fn sealing_key_reader<S: Serves>() -> Option<SealingKeyReader> {
    if S::UNLOCK_CODES { Some(|secret| Box::pin(read_sealing_key(secret))) } else { None }
}

async fn read_sealing_key(secret: String) -> Result<SecretsKey, Error> {
    let secrets = osflow_store_dynamodb::SecretsReader::new(&osflow_store_dynamodb::load_sdk_config().await);
    Ok(osflow_store_dynamodb::secrets_key_from_secret(&secrets, &secret).await?)
}

/// The wiring of a queue consumer ([`app_for`]): every use case, with the S3 client when `BLOBS` and the sealing
/// key when `UNLOCK_CODES` (the notifier reads neither: `Wiring<false, false>`; the reporter writes report files:
/// `Wiring<true, false>`, as do the invoicer and the portal), never the user directory.
#[derive(Debug, Clone, Copy)]
pub struct Wiring<const BLOBS: bool, const UNLOCK_CODES: bool>;

impl<const B: bool, const U: bool> Serves for Wiring<B, U> {
    const ONLY: Option<osflow_api::Function> = None;
    const BLOBS: bool = B;
    const UNLOCK_CODES: bool = U;
    // No consumer gives an order a technician (the template names the user pool to none of them): the Cognito
    // client is not linked into them.
    const USERS: bool = false;
}

/// Builds the AWS adapters once per container and serves the routes of `S` (a function's marker,
/// `osflow_api::only::Close`) until the runtime stops.
pub async fn serve<S: Serves>() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let (app, _) = app_for::<S>(&env).await?;
    serve_app::<S>(app).await
}

/// Serves the routes of `S` with an `App` the function completed (e.g. with the fiscal admin).
pub async fn serve_app<S: Serves>(app: App) -> Result<(), Error> {
    osflow_lambda_kit::gateway::run(|req: Request| osflow_api::handle_only::<S>(&app, req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_once_with_defaults() {
        let env = Env::from_vars(|name| match name {
            "OSFLOW_TABLE" => Some("osflow".into()),
            "OSFLOW_SECRETS_PREFIX" => Some(" osflow/prod ".into()),
            "OSFLOW_SENDER_NAME" => Some("  ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.config.table().unwrap(), "osflow");
        assert_eq!(env.secrets_prefix().unwrap(), "osflow/prod");
        assert_eq!((env.sender_name.as_str(), env.sender_email.as_str()), (DEFAULT_SENDER_NAME, DEFAULT_SENDER_EMAIL));
        let missing = env.sefaz_trust_roots().unwrap_err().to_string();
        assert!(missing.contains(SEFAZ_TRUST_ROOTS_ENV), "{missing}");
        let missing = env.portal_key_secret().unwrap_err().to_string();
        assert!(missing.contains(PORTAL_KEY_SECRET_ENV), "{missing}");
        assert!(Env::from_vars(|name| (name == "OSFLOW_LOG_FORMAT").then(|| "xml".into())).is_err());
    }
}
