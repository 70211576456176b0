//! osflow-store-dynamodb
