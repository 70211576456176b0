//! osflow-console's tests: the Cognito sign-in (authorization code + PKCE) against the AWS emulator's user pool
//! and a stand-in for the hosted UI's endpoints, over real HTTP; the fiscal routes sent to the fiscal function as
//! Lambda events (`forward`) and, with the feature `aws` (on in a workspace build: the console function turns it
//! on), through the Lambda API of the emulator (`lambda_aws`).

mod cognito;
mod forward;
#[cfg(feature = "aws")]
mod lambda_aws;
