//! Lambda `portal`: the customer's page, `GET /p/{token}` (HTML) and `POST /p/{token}/decision` (the decision
//! form). Public routes: no JWT authorizer, the signed link is the credential.
//!
//! Wiring only: the App of [`osflow_fn_common::app_for`] with `Wiring<true, false>` (`OSFLOW_TABLE`,
//! `OSFLOW_BUCKET`), the portal key from the Secrets Manager secret named by `OSFLOW_PORTAL_KEY_SECRET`, served by
//! [`osflow_portal::handle`].

use std::sync::Arc;

use lambda_http::{Error, Request};
use osflow_fn_common::Env;
use osflow_portal::Portal;
use osflow_portal::secrets::key_from_secret;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    // Every use case and S3 (the photos), no user directory and no sealing key: the portal gives no order a
    // technician and opens no unlock code, and neither is in its environment.
    let (app, _) = osflow_fn_common::app_for::<osflow_fn_common::Wiring<true, false>>(&env).await?;
    let portal = Arc::new(Portal { app, key: key_from_secret(env.portal_key_secret()?).await? });
    osflow_lambda_kit::gateway::run(|req: Request| osflow_portal::handle(&portal, req)).await
}
