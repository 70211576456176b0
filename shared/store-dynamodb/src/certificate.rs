//! [`DynamoEmitterStore`]: the `EmitterStore` port on the table (the configuration, and the certificate's
//! pointer) and AWS Secrets Manager (the certificate).
//!
//! - The A1 certificate of a company is the secret `<prefix>/<tenant>/a1`, tagged `osflow:tenant = <tenant>`. Its
//!   value is JSON: `{"tenant", "pkcs12" (standard base64), "password"}`. Every upload writes a new secret version
//!   (`PutSecretValue`; `CreateSecret` the first time).
//! - The item `T#<tenant>#EMITTER` / `CERT` is the pointer: `revision`, `secret_arn`, `secret_version` (the
//!   version id written for that revision). It is written after the secret, by a `PutItem` conditioned on the
//!   revision it read (`attribute_not_exists(PK)` for the first): two concurrent uploads get distinct revisions,
//!   and the pointer always names the version that was written for its revision. A failed condition returns the
//!   stored item (`ReturnValuesOnConditionCheckFailure::AllOld`) and the write is tried again on top of it.
//! - `certificate` reads the pointer (strongly consistent) and then exactly that version (`GetSecretValue` with
//!   `VersionId`), so the bytes always match the revision returned, even while another upload is half done.
//!
//! An upload that fails after its secret version was written leaves that version unreferenced (the pointer keeps
//! naming the previous revision's version); Secrets Manager removes unlabeled versions by itself.
//!
//! Nothing of the certificate or its password reaches a log, an error message or `Debug` output: errors about
//! the secret value name the tenant and the problem, never the content.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use aws_sdk_secretsmanager::types::Tag;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use osflow_app::{EmitterCertificate, EmitterConfig, EmitterStore, StoreError, StoreResult};
use osflow_aws_kit::SecretsReader;
use osflow_domain::values::TenantId;
use serde::{Deserialize, Serialize};

use crate::error::sdk_error;
use crate::items::{self, CertificatePointer, attr, n};
use crate::table::PK;
use crate::tx::backoff;
use crate::{DynamoStore, keys, load_sdk_config};

/// The tag naming the tenant a secret belongs to.
pub const TENANT_TAG: &str = "osflow:tenant";

/// Rounds of the pointer write whose condition failed (each means another upload of the same tenant won the
/// revision in between).
const POINTER_ROUNDS: u32 = 8;

/// The secret value. No `Debug`: it holds the key and the password.
#[derive(Serialize, Deserialize)]
struct SecretValue {
    tenant: String,
    /// The PKCS#12 bytes, standard base64.
    pkcs12: String,
    password: String,
}

/// The `EmitterStore` of the AWS functions: the configuration and the certificate's revision on the DynamoDB
/// table of a [`DynamoStore`], the certificate in Secrets Manager under `<prefix>/<tenant>/a1`. Clones share the
/// clients.
#[derive(Clone)]
pub struct DynamoEmitterStore {
    store: DynamoStore,
    /// The writes (`CreateSecret`, `PutSecretValue`).
    secrets: aws_sdk_secretsmanager::Client,
    /// The reads (`GetSecretValue`), as every secret of osflow is read.
    reader: SecretsReader,
    prefix: Arc<str>,
}

impl std::fmt::Debug for DynamoEmitterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoEmitterStore")
            .field("table", &self.store.table())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl DynamoEmitterStore {
    /// The emitter store on `store`'s table, with the certificates as secrets `<prefix>/<tenant>/a1`, written
    /// through `secrets` and read through `reader`.
    pub fn new(
        store: DynamoStore,
        secrets: aws_sdk_secretsmanager::Client,
        reader: SecretsReader,
        prefix: impl Into<String>,
    ) -> DynamoEmitterStore {
        DynamoEmitterStore { store, secrets, reader, prefix: Arc::from(prefix.into()) }
    }

    /// [`DynamoEmitterStore::new`] with the configuration from the standard AWS environment ([`load_sdk_config`]).
    pub async fn from_env(store: DynamoStore, prefix: impl Into<String>) -> DynamoEmitterStore {
        let config = load_sdk_config().await;
        DynamoEmitterStore::new(
            store,
            aws_sdk_secretsmanager::Client::new(&config),
            SecretsReader::new(&config),
            prefix,
        )
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    pub fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        &self.secrets
    }

    /// The name of `tenant`'s certificate secret.
    pub fn secret_name(&self, tenant: &TenantId) -> String {
        keys::certificate_secret_name(&self.prefix, tenant)
    }

    /// The certificate pointer of `tenant`, strongly consistent.
    async fn pointer(&self, tenant: &TenantId) -> StoreResult<Option<CertificatePointer>> {
        self.store
            .get_item(keys::emitter_pk(tenant), keys::EMITTER_CERT_SK)
            .await?
            .map(|item| items::read_certificate_pointer(&item))
            .transpose()
    }

    /// Writes `value` as a new version of `tenant`'s secret (creating the secret the first time): its ARN and the
    /// new version id.
    async fn write_secret(&self, tenant: &TenantId, value: &str) -> StoreResult<(String, String)> {
        let name = self.secret_name(tenant);
        let missing = |what: &str| StoreError::Other(format!("Secrets Manager answered without the {what}"));
        // Twice at most: a secret created by a concurrent first upload between our PutSecretValue and CreateSecret.
        for _ in 0..2 {
            let put = self.secrets.put_secret_value().secret_id(&name).secret_string(value).send().await;
            match put {
                Ok(out) => {
                    let arn = out.arn.ok_or_else(|| missing("ARN"))?;
                    return Ok((arn, out.version_id.ok_or_else(|| missing("version id"))?));
                }
                Err(err)
                    if matches!(err.as_service_error(), Some(PutSecretValueError::ResourceNotFoundException(_))) => {}
                Err(err) => return Err(osflow_aws_kit::secrets_error(err)),
            }
            let created = self
                .secrets
                .create_secret()
                .name(&name)
                .description("osflow: the NF-e A1 certificate (PKCS#12, base64) and its password")
                .secret_string(value)
                .tags(Tag::builder().key(TENANT_TAG).value(tenant.as_str()).build())
                .send()
                .await;
            match created {
                Ok(out) => {
                    let arn = out.arn.ok_or_else(|| missing("ARN"))?;
                    return Ok((arn, out.version_id.ok_or_else(|| missing("version id"))?));
                }
                Err(err) if matches!(err.as_service_error(), Some(CreateSecretError::ResourceExistsException(_))) => {}
                Err(err) => return Err(osflow_aws_kit::secrets_error(err)),
            }
        }
        Err(StoreError::Unavailable(format!("certificate secret {name}: created and not found, try again")))
    }
}

#[async_trait]
impl EmitterStore for DynamoEmitterStore {
    async fn emitter(&self, tenant: &TenantId) -> StoreResult<Option<EmitterConfig>> {
        self.store.emitter_config(tenant).await
    }

    async fn put_emitter(&self, tenant: &TenantId, config: &EmitterConfig) -> StoreResult<()> {
        self.store.put_emitter_config(tenant, config).await
    }

    async fn contingency(&self, tenant: &TenantId) -> StoreResult<Option<osflow_app::ContingencyState>> {
        self.store.contingency_state(tenant).await
    }

    async fn save_contingency(
        &self,
        tenant: &TenantId,
        state: &osflow_app::ContingencyState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        self.store.save_contingency_state(tenant, state, expected_revision).await
    }

    async fn certificate(&self, tenant: &TenantId) -> StoreResult<Option<EmitterCertificate>> {
        let Some(pointer) = self.pointer(tenant).await? else {
            return Ok(None);
        };
        let out = self.reader.read(&pointer.secret_arn, Some(&pointer.secret_version)).await?;
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!("certificate secret of {tenant} (revision {}): {what}", pointer.revision))
        };
        let text = out.string.ok_or_else(|| corrupt("no secret string"))?;
        // The parser's message may quote the content: only its position is kept.
        let value: SecretValue = serde_json::from_str(&text)
            .map_err(|e| corrupt(&format!("not the expected JSON (line {}, column {})", e.line(), e.column())))?;
        if value.tenant != tenant.as_str() {
            return Err(corrupt("it belongs to another tenant"));
        }
        let pkcs12 = STANDARD.decode(value.pkcs12.as_bytes()).map_err(|_| corrupt("pkcs12 is not base64"))?;
        Ok(Some(EmitterCertificate { pkcs12, password: value.password, revision: pointer.revision }))
    }

    async fn put_certificate(&self, tenant: &TenantId, pkcs12: &[u8], password: &str) -> StoreResult<u64> {
        let value = SecretValue {
            tenant: tenant.as_str().to_owned(),
            pkcs12: STANDARD.encode(pkcs12),
            password: password.to_owned(),
        };
        let value = serde_json::to_string(&value)
            .map_err(|_| StoreError::Other("cannot write the certificate secret".into()))?;
        let (secret_arn, secret_version) = self.write_secret(tenant, &value).await?;
        drop(value);

        let mut current = self.pointer(tenant).await?.map(|p| p.revision);
        for round in 0..POINTER_ROUNDS {
            if round > 0 {
                backoff(round, Duration::from_millis(5), Duration::from_millis(100)).await;
            }
            let pointer = CertificatePointer {
                revision: current.unwrap_or(0) + 1,
                secret_arn: secret_arn.clone(),
                secret_version: secret_version.clone(),
            };
            let item = items::certificate_pointer_item(tenant, &pointer, chrono::Utc::now());
            let put = self.store.client().put_item().table_name(self.store.table()).set_item(Some(item));
            let put = match current {
                None => put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", PK),
                Some(revision) => put
                    .condition_expression("#revision = :revision")
                    .expression_attribute_names("#revision", attr::REVISION)
                    .expression_attribute_values(":revision", n(revision)),
            };
            let sent =
                put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld).send().await;
            let err = match sent {
                Ok(_) => return Ok(pointer.revision),
                Err(err) => err,
            };
            // Another upload wrote the pointer since it was read: go on from the revision it wrote.
            current = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                    Some(old) if !old.is_empty() => Some(items::read_certificate_pointer(old)?.revision),
                    _ => self.pointer(tenant).await?.map(|p| p.revision),
                },
                _ => return Err(sdk_error(err)),
            };
        }
        Err(StoreError::Unavailable(format!(
            "certificate of {tenant}: the revision kept changing for {POINTER_ROUNDS} rounds (concurrent uploads)"
        )))
    }
}
