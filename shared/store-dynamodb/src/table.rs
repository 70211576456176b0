//! The one definition of osflow's DynamoDB table, as data ([`table_definition`]) and as SDK calls
//! ([`create_table`]). Tests create their tables through it; the SAM template is checked against it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode as SdkBillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use osflow_app::StoreError;

use crate::error::{build_error, sdk_error};

/// Partition key attribute of the table.
pub const PK: &str = "PK";
/// Sort key attribute of the table.
pub const SK: &str = "SK";
/// Status index: orders of a tenant by status, oldest `updated_at` first. The indexes project only keys: a
/// step rewrites the order (and moves its GSI1 entry), and a key-only entry costs one write unit where a copy
/// of the order would cost its size; a list page reads the orders with one `BatchGetItem`.
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// Customer index: orders of a tenant by customer document, newest `created_at` first.
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// SLA index: a company's orders by the deadline of their current stay (`Order::sla_due`), earliest first; only
/// the orders that have one are in it (a sparse index), and it projects only the keys.
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// The TTL attribute (epoch seconds, a number), set on idempotency and dedupe records.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The scalar type of a key attribute (every key of this table is a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// `S`
    String,
    /// `N`
    Number,
}

impl AttributeType {
    /// The DynamoDB / CloudFormation spelling (`S`, `N`).
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "S",
            AttributeType::Number => "N",
        }
    }
}

/// One attribute of the key schema with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: &'static str,
    pub attribute_type: AttributeType,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: KeyAttribute,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE` (then [`IndexDefinition::non_key_attributes`]). Every index of the
    /// table projects keys only.
    pub projection: &'static str,
    /// The attributes an `INCLUDE` projection copies besides the keys.
    pub non_key_attributes: &'static [&'static str],
}

/// The table, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: KeyAttribute,
    /// Every attribute used by a key of the table or an index (CloudFormation `AttributeDefinitions`).
    pub attribute_definitions: Vec<KeyAttribute>,
    pub global_secondary_indexes: Vec<IndexDefinition>,
    /// `NEW_IMAGE`: the outbox relay turns every new `EVT#` item into bus messages.
    pub stream_view_type: &'static str,
    /// The TTL attribute (idempotency and dedupe records expire through it).
    pub ttl_attribute: &'static str,
    /// `PAY_PER_REQUEST`.
    pub billing_mode: &'static str,
}

const fn string_key(name: &'static str) -> KeyAttribute {
    KeyAttribute { name, attribute_type: AttributeType::String }
}

/// The definition of osflow's table named `name` (the Lambda functions read the name from `OSFLOW_TABLE`).
pub fn table_definition(name: &str) -> TableDefinition {
    TableDefinition {
        name: name.to_owned(),
        partition_key: string_key(PK),
        sort_key: string_key(SK),
        attribute_definitions: [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK]
            .into_iter()
            .map(string_key)
            .collect(),
        global_secondary_indexes: vec![
            IndexDefinition {
                name: GSI1,
                partition_key: string_key(GSI1PK),
                sort_key: string_key(GSI1SK),
                projection: "KEYS_ONLY",
                non_key_attributes: &[],
            },
            IndexDefinition {
                name: GSI2,
                partition_key: string_key(GSI2PK),
                sort_key: string_key(GSI2SK),
                projection: "KEYS_ONLY",
                non_key_attributes: &[],
            },
            IndexDefinition {
                name: GSI3,
                partition_key: string_key(GSI3PK),
                sort_key: string_key(GSI3SK),
                projection: "KEYS_ONLY",
                non_key_attributes: &[],
            },
        ],
        stream_view_type: "NEW_IMAGE",
        ttl_attribute: TTL_ATTRIBUTE,
        billing_mode: "PAY_PER_REQUEST",
    }
}

fn key_element(key: KeyAttribute, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(key.name).key_type(key_type).build().map_err(build_error)
}

fn scalar(t: AttributeType) -> ScalarAttributeType {
    match t {
        AttributeType::String => ScalarAttributeType::S,
        AttributeType::Number => ScalarAttributeType::N,
    }
}

/// Creates the table described by `def`, waits until it is ACTIVE (at most `wait`), then enables TTL.
pub async fn create_table(client: &Client, def: &TableDefinition, wait: Duration) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(&def.name)
        .key_schema(key_element(def.partition_key, KeyType::Hash)?)
        .key_schema(key_element(def.sort_key, KeyType::Range)?)
        .billing_mode(SdkBillingMode::from(def.billing_mode))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(def.stream_view_type))
                .build()
                .map_err(build_error)?,
        );
    for attribute in &def.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute.name)
                .attribute_type(scalar(attribute.attribute_type))
                .build()
                .map_err(build_error)?,
        );
    }
    for index in &def.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key_element(index.partition_key, KeyType::Hash)?)
                .key_schema(key_element(index.sort_key, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::from(index.projection)).build())
                .build()
                .map_err(build_error)?,
        );
    }
    request.send().await.map_err(sdk_error)?;

    client
        .wait_until_table_exists()
        .table_name(&def.name)
        .wait(wait)
        .await
        .map_err(|e| StoreError::Unavailable(format!("table {} did not become ACTIVE: {e}", def.name)))?;

    client
        .update_time_to_live()
        .table_name(&def.name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(def.ttl_attribute)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_key_is_defined_and_nothing_else() {
        let def = table_definition("t");
        let mut keys = vec![def.partition_key.name, def.sort_key.name];
        for index in &def.global_secondary_indexes {
            keys.push(index.partition_key.name);
            keys.push(index.sort_key.name);
            assert_eq!(index.projection, "KEYS_ONLY");
        }
        let defined: Vec<_> = def.attribute_definitions.iter().map(|a| a.name).collect();
        assert_eq!(defined, keys);
        assert_eq!(def.stream_view_type, "NEW_IMAGE");
        assert_eq!(def.billing_mode, "PAY_PER_REQUEST");
        assert_eq!(def.ttl_attribute, "ttl");
    }
}
