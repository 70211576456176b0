//! osflow-console's tests: the Cognito sign-in (authorization code + PKCE) against the AWS emulator's user pool
//! and a stand-in for the hosted UI's endpoints, over real HTTP.

mod cognito;
