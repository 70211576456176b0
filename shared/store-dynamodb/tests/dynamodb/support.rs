//! The emulator plumbing the modules share: the endpoint check, unique names and the HTTP client that lets one
//! request at a time reach the emulator (the testkit's), and a fresh table.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use osflow_app::StoreError;
use osflow_store_dynamodb::{create_table, table_definition};
pub use osflow_testkit::emulator::{OneRequestAtATime, RUN_SCRIPTS_TEST, require_endpoint, unique_name as unique};

/// Creates a fresh table through the single [`table_definition`]; a connection failure fails the test with
/// [`RUN_SCRIPTS_TEST`].
pub async fn create_fresh_table(client: &Client, endpoint: &str) -> String {
    let name = unique("osflow-test");
    match create_table(client, &table_definition(&name), Duration::from_secs(30)).await {
        Ok(()) => name,
        Err(StoreError::Unavailable(reason)) => {
            panic!("cannot reach the emulator at {endpoint} ({reason}); {RUN_SCRIPTS_TEST}")
        }
        Err(e) => panic!("cannot create table {name} on {endpoint}: {e}"),
    }
}
