//! Lambda `console`: the staff console, `GET /` and every other path the HTTP API's other routes do not take
//! (`ANY /{proxy+}`). Public routes (no JWT authorizer): the console signs staff in through Cognito's hosted UI
//! (authorization code + PKCE) and its signed session cookie is the credential.
//!
//! Wiring only: the App of [`osflow_fn_common::app`] (`OSFLOW_TABLE`, `OSFLOW_BUCKET`); the session key and the
//! console's app client from the secret `OSFLOW_CONSOLE_SECRET`; the hosted UI `OSFLOW_COGNITO_DOMAIN` and the
//! pool's issuer `OSFLOW_COGNITO_ISSUER`; uploads go to `OSFLOW_CONSOLE_UPLOAD_ORIGIN` (the bucket's origin); the
//! fiscal routes to the function `OSFLOW_FISCAL_FUNCTION` (fiscal-admin), invoked with the session's claims.

use std::sync::Arc;

use lambda_http::{Error, Request};
use osflow_console::cognito::{Cognito, CognitoConfig};
use osflow_console::forward::{FunctionInvoker, LambdaFunction};
use osflow_console::{Console, SignIn};
use osflow_fn_common::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let (app, _) = osflow_fn_common::app(&env).await?;
    let (key, client_id) = osflow_console::secrets::from_secret(env.console_secret()?).await?;
    let cognito = Cognito::new(CognitoConfig::new(env.cognito_domain()?, &client_id, env.cognito_issuer()?))?;
    // The fiscal routes (the emitter's certificate, the NF-e and NFS-e events, the inutilização) go to the
    // fiscal-admin function, which links the fiscal crates; this one does not.
    let fiscal_function = match env.fiscal_function.as_deref() {
        Some(name) => Some(Arc::new(LambdaFunction::from_env(name).await) as Arc<dyn FunctionInvoker>),
        None => None,
    };
    let console = Arc::new(Console {
        app,
        key,
        sign_in: SignIn::Cognito(Arc::new(cognito)),
        secure: true,
        upload_origins: env.console_upload_origin.iter().cloned().collect(),
        fiscal_function,
    });
    osflow_lambda_kit::gateway::run(|req: Request| osflow_console::handle(&console, req)).await
}
