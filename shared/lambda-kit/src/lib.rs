//! Glue for osflow's functions, shared by every Lambda and by osflow-local.
//!
//! - [`config`]: configuration from the environment;
//! - [`logging`]: JSON tracing and the request span (`tenant`, `order_id`, `event_id`);
//! - [`caller`]: the caller from the API Gateway JWT authorizer claims (no claims → 401);
//! - [`problem`]: `application/problem+json` errors with stable `type` URIs and Portuguese titles;
//! - [`etag`]: `ETag`/`If-Match` on versions;
//! - [`idempotency`]: `Idempotency-Key` and the request hash;
//! - [`blob`]: the blob store on a local folder (osflow-local, tests);
//! - [`users`]: the development users (osflow-local, tests): the user directory without Cognito.

pub mod blob;
pub mod caller;
pub mod config;
pub mod etag;
pub mod gateway;
pub mod idempotency;
pub mod logging;
pub mod problem;
pub mod users;

pub use blob::LocalBlobStore;
pub use caller::{api_gateway_context, caller_from_request, claims_of};
pub use config::{Config, ConfigError, LogFormat};
pub use etag::{etag, if_match};
pub use idempotency::{CLIENT_KEY_PREFIX, IDEMPOTENT_REPLAYED, client_key, idempotency, idempotency_key, request_hash};
pub use logging::{init_tracing, init_tracing_with, json_subscriber, request_span};
pub use problem::{PROBLEM_CONTENT_TYPE, Problem, ProblemDetails, ProblemType};
pub use users::DevelopmentUsers;
