//! `DynamoEmitterStore` (feature `secrets`) against the emulator (moto: DynamoDB and Secrets Manager over real
//! HTTP): the emitter configuration round trip and replacement, per tenant; the certificate in Secrets Manager
//! (named `<prefix>/<tenant>/a1`, tagged with the tenant), its revision incremented by every upload, distinct
//! under concurrent uploads; nothing of the certificate on the table nor in `Debug` output.
//!
//! The conformance suite of `osflow-app` has no `EmitterStore` cases yet: these are the equivalent of the SQLite
//! adapter's behavior (shared/store-sqlite/src/emitter.rs).
//!
//! Needs `AWS_ENDPOINT_URL` (set by `scripts/test`); without it, or with nothing listening there, the tests fail
//! saying so.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use osflow_app::{EmitterCertificate, EmitterConfig, EmitterStore, FiscalEnvironment, StoreError, TaxRules};
use osflow_domain::Address;
use osflow_store_dynamodb::{
    DynamoEmitterStore, DynamoStore, SecretsReader, TENANT_TAG, aws_sdk_secretsmanager, load_sdk_config,
};
use osflow_testkit::conformance::tenant;
use osflow_testkit::{example_address, example_emitter};

use crate::support::{OneRequestAtATime, create_fresh_table, require_endpoint, unique};

/// A fresh table and a fresh secret prefix on the emulator.
async fn emitters() -> DynamoEmitterStore {
    let endpoint = require_endpoint();
    let config = load_sdk_config().await;
    let http = OneRequestAtATime::over(config.http_client().expect("load_sdk_config sets the HTTP client"));
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .http_client(http.clone())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&config)
            .http_client(http)
            .stalled_stream_protection(aws_sdk_secretsmanager::config::StalledStreamProtectionConfig::disabled())
            .build(),
    );
    let table = create_fresh_table(&dynamo, &endpoint).await;
    let reader = SecretsReader::new(&config);
    DynamoEmitterStore::new(DynamoStore::new(dynamo, table), secrets, reader, format!("{}/", unique("osflow/test")))
}

/// The example emitter with every optional field exercised: a complement, no phone, regime normal, IBS/CBS.
fn emitter(cnpj: &str, serie: u32) -> EmitterConfig {
    EmitterConfig {
        cnpj: cnpj.into(),
        address: Address { complement: Some("Loja 2".into()), ..example_address() },
        phone: None,
        serie,
        tax: TaxRules::RegimeNormal {
            icms_percent: "18".into(),
            pis_percent: "1.65".into(),
            cofins_percent: "7.6".into(),
            pis_cofins_base_excludes_icms: true,
        },
        ibs_cbs: true,
        ..example_emitter()
    }
}

/// Bytes that stand for a PKCS#12 file (the store does not parse it), every byte value included.
fn pkcs12(seed: u8) -> Vec<u8> {
    (0..=255u8).cycle().take(3000).map(|b| b.wrapping_mul(31).wrapping_add(seed)).collect()
}

async fn raw_items(store: &DynamoStore) -> BTreeMap<(String, String), BTreeMap<String, AttributeValue>> {
    let out = store.client().scan().table_name(store.table()).send().await.expect("scan");
    assert!(out.last_evaluated_key.is_none(), "one page is enough for these tests");
    out.items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            ((text("PK"), text("SK")), item.into_iter().collect())
        })
        .collect()
}

// -------------------------------------------------------------------------------------------------------------
// Configuration
// -------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn emitter_configuration_round_trips_and_is_replaced() {
    let s = emitters().await;
    let t = tenant("acme");
    assert_eq!(s.emitter(&t).await.unwrap(), None);
    // The HTTP functions' invoicing policy reads the same item: off without an emitter, on with one.
    let policy: &dyn osflow_app::InvoicingPolicy = s.store();
    assert!(!policy.invoicing_enabled(&t).await.unwrap());

    let first = emitter("12345678000195", 1);
    s.put_emitter(&t, &first).await.unwrap();
    assert_eq!(s.emitter(&t).await.unwrap(), Some(first));
    assert!(policy.invoicing_enabled(&t).await.unwrap());
    assert!(!policy.invoicing_enabled(&tenant("other")).await.unwrap());

    let mut second = emitter("12ABC34501DE35", 7);
    second.trade_name = None;
    second.tax = TaxRules::SimplesNacional { csosn: "102".into() };
    second.environment = FiscalEnvironment::Production;
    s.put_emitter(&t, &second).await.unwrap();
    assert_eq!(s.emitter(&t).await.unwrap(), Some(second), "the configuration is replaced, not merged");

    let items = raw_items(s.store()).await;
    assert_eq!(items.keys().collect::<Vec<_>>(), [&("T#acme#EMITTER".to_owned(), "CONFIG".to_owned())]);
    let item = &items[&("T#acme#EMITTER".to_owned(), "CONFIG".to_owned())];
    assert_eq!(item["entity"].as_s().unwrap(), "emitter");
    assert_eq!(item["tenant"].as_s().unwrap(), "acme");
    assert!(item["config"].as_m().is_ok(), "the configuration is one map attribute");
}

#[tokio::test(flavor = "multi_thread")]
async fn emitters_and_certificates_are_per_tenant() {
    let s = emitters().await;
    let (a, b, c) = (tenant("oficina-a"), tenant("oficina-b"), tenant("oficina-a1"));
    s.put_emitter(&a, &emitter("12345678000195", 1)).await.unwrap();
    s.put_emitter(&b, &emitter("11222333000181", 2)).await.unwrap();
    assert_eq!(s.put_certificate(&a, &pkcs12(1), "senha-a").await.unwrap(), 1);
    assert_eq!(s.put_certificate(&b, &pkcs12(2), "senha-b").await.unwrap(), 1);
    assert_eq!(s.put_certificate(&b, &pkcs12(3), "senha-b2").await.unwrap(), 2);

    assert_eq!(s.emitter(&a).await.unwrap().unwrap().serie, 1);
    assert_eq!(s.emitter(&b).await.unwrap().unwrap().serie, 2);
    assert_eq!(s.emitter(&c).await.unwrap(), None, "a tenant whose id extends another's sees nothing of it");

    let cert_a = s.certificate(&a).await.unwrap().unwrap();
    assert_eq!((cert_a.pkcs12, cert_a.password.as_str(), cert_a.revision), (pkcs12(1), "senha-a", 1));
    let cert_b = s.certificate(&b).await.unwrap().unwrap();
    assert_eq!((cert_b.pkcs12, cert_b.password.as_str(), cert_b.revision), (pkcs12(3), "senha-b2", 2));
    assert_eq!(s.certificate(&c).await.unwrap(), None);
    assert_ne!(s.secret_name(&a), s.secret_name(&b));
}

// -------------------------------------------------------------------------------------------------------------
// Certificate
// -------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn certificate_revision_increments_and_reads_the_latest() {
    let s = emitters().await;
    let t = tenant("acme");
    assert_eq!(s.certificate(&t).await.unwrap(), None);

    assert_eq!(s.put_certificate(&t, &pkcs12(1), "s3nh@-A1 \"quoted\"").await.unwrap(), 1);
    let first = s.certificate(&t).await.unwrap().unwrap();
    assert_eq!(first, EmitterCertificate { pkcs12: pkcs12(1), password: "s3nh@-A1 \"quoted\"".into(), revision: 1 });

    assert_eq!(s.put_certificate(&t, &pkcs12(2), "outra").await.unwrap(), 2);
    assert_eq!(s.put_certificate(&t, &pkcs12(3), "").await.unwrap(), 3);
    let latest = s.certificate(&t).await.unwrap().unwrap();
    assert_eq!(latest, EmitterCertificate { pkcs12: pkcs12(3), password: String::new(), revision: 3 });

    // Replacing the certificate leaves the configuration alone, and the other way round.
    s.put_emitter(&t, &emitter("12345678000195", 1)).await.unwrap();
    assert_eq!(s.certificate(&t).await.unwrap().unwrap().revision, 3);
    assert_eq!(s.put_certificate(&t, &pkcs12(4), "quarta").await.unwrap(), 4);
    assert_eq!(s.emitter(&t).await.unwrap(), Some(emitter("12345678000195", 1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_is_a_secret_named_by_tenant_tagged_and_never_on_the_table() {
    let s = emitters().await;
    let t = tenant("acme");
    let password = "p@ss-que-nao-pode-vazar";
    s.put_emitter(&t, &emitter("12345678000195", 1)).await.unwrap();
    s.put_certificate(&t, &pkcs12(9), password).await.unwrap();
    s.put_certificate(&t, &pkcs12(10), password).await.unwrap();

    // The secret: <prefix>/<tenant>/a1, tagged with the tenant, its value JSON with the tenant.
    let name = s.secret_name(&t);
    assert!(name.starts_with("osflow/test-") && name.ends_with("/acme/a1"), "{name}");
    assert!(!name.contains("//"), "{name}");
    let described = s.secrets().describe_secret().secret_id(&name).send().await.expect("the secret exists");
    let tags: BTreeMap<_, _> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or("").to_owned(), t.value().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(tags.get(TENANT_TAG).map(String::as_str), Some("acme"), "{tags:?}");
    let current = s.secrets().get_secret_value().secret_id(&name).send().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
    assert_eq!(value["tenant"], "acme");
    assert_eq!(value["password"], password);
    assert_eq!(STANDARD.decode(value["pkcs12"].as_str().unwrap()).unwrap(), pkcs12(10));

    // The table: the configuration item and the certificate's pointer, nothing of the certificate.
    let items = raw_items(s.store()).await;
    let keys: Vec<_> = items.keys().map(|(pk, sk)| format!("{pk} {sk}")).collect();
    assert_eq!(keys, ["T#acme#EMITTER CERT", "T#acme#EMITTER CONFIG"]);
    let pointer = &items[&("T#acme#EMITTER".to_owned(), "CERT".to_owned())];
    let names: BTreeSet<_> = pointer.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["PK", "SK", "entity", "tenant", "revision", "secret_arn", "secret_version", "updated_at"])
    );
    assert_eq!(pointer["revision"].as_n().unwrap(), "2");
    assert_eq!(pointer["secret_arn"].as_s().unwrap(), described.arn().unwrap());
    let config = &items[&("T#acme#EMITTER".to_owned(), "CONFIG".to_owned())];
    assert!(!config.contains_key("certificate") && !config.contains_key("password"));
    let dump = format!("{items:?}");
    let encoded = STANDARD.encode(pkcs12(10));
    for secret in [password, &encoded[..40], &STANDARD.encode(pkcs12(9))[..40]] {
        assert!(!dump.contains(secret), "the table holds part of the certificate or its password");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_uploads_get_distinct_revisions() {
    let s = emitters().await;
    let t = tenant("acme");
    let uploads = (0..6u8).map(|i| {
        let (s, t) = (s.clone(), t.clone());
        tokio::spawn(async move { (s.put_certificate(&t, &pkcs12(i), &format!("senha-{i}")).await.unwrap(), i) })
    });
    let mut results = Vec::new();
    for upload in uploads {
        results.push(upload.await.unwrap());
    }
    let revisions: BTreeSet<u64> = results.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions, (1..=6).collect(), "{results:?}");

    // The stored certificate is the one uploaded as the last revision: pointer and secret version agree.
    let (_, winner) = results.iter().find(|(r, _)| *r == 6).unwrap();
    let stored = s.certificate(&t).await.unwrap().unwrap();
    assert_eq!(
        stored,
        EmitterCertificate { pkcs12: pkcs12(*winner), password: format!("senha-{winner}"), revision: 6 }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_of_another_tenant_is_refused() {
    let s = emitters().await;
    let (a, b) = (tenant("oficina-a"), tenant("oficina-b"));
    s.put_certificate(&a, &pkcs12(1), "senha-a").await.unwrap();
    s.put_certificate(&b, &pkcs12(2), "senha-b").await.unwrap();
    // Someone writes a's value into b's secret (a new AWSCURRENT version), and b's pointer is moved to it.
    let a_value = s.secrets().get_secret_value().secret_id(s.secret_name(&a)).send().await.unwrap();
    let put = s
        .secrets()
        .put_secret_value()
        .secret_id(s.secret_name(&b))
        .secret_string(a_value.secret_string().unwrap())
        .send()
        .await
        .unwrap();
    s.store()
        .client()
        .update_item()
        .table_name(s.store().table())
        .key("PK", AttributeValue::S("T#oficina-b#EMITTER".into()))
        .key("SK", AttributeValue::S("CERT".into()))
        .update_expression("SET secret_version = :v")
        .expression_attribute_values(":v", AttributeValue::S(put.version_id().unwrap().into()))
        .send()
        .await
        .unwrap();
    let err = s.certificate(&b).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("another tenant")), "{err:?}");
    assert!(!format!("{err:?}").contains("senha-a"), "the error shows nothing of the secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_output_shows_nothing_of_the_certificate() {
    let s = emitters().await;
    let t = tenant("acme");
    s.put_certificate(&t, &pkcs12(5), "senha-secreta").await.unwrap();
    let cert = s.certificate(&t).await.unwrap().unwrap();
    let shown = format!("{cert:?} {s:?}");
    assert!(!shown.contains("senha-secreta"), "{shown}");
    assert!(shown.contains("<redacted>") && shown.contains("<3000 bytes>"), "{shown}");
}

#[tokio::test]
async fn contingency_state_is_versioned_and_per_company() {
    let store = std::sync::Arc::new(emitters().await);
    osflow_testkit::contingency_conformance::contingency_state_is_versioned_and_per_company(store.clone()).await;
    // One item beside the configuration, in the company's emitter partition.
    let items =
        store.store().client().scan().table_name(store.store().table()).send().await.unwrap().items.unwrap_or_default();
    let contingency: Vec<_> = items
        .iter()
        .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "CONTINGENCY"))
        .collect();
    assert_eq!(contingency.len(), 1, "{items:?}");
    let pk = contingency[0]["PK"].as_s().unwrap();
    assert!(pk.starts_with("T#acme-") && pk.ends_with("#EMITTER"), "{pk}");
    assert!(contingency[0]["revision"].as_n().is_ok());
}

/// The unlock codes' sealing key read from its secret as the functions read it (`secrets_key_from_secret`): the
/// key derived from the secret's string seals what the read key opens; a string under 32 characters and a
/// missing secret are errors, and no error quotes the value.
#[tokio::test]
async fn the_sealing_key_is_read_from_its_secret() {
    use osflow_app::sealed::{SecretsKey, seal, unseal};
    use osflow_store_dynamodb::secrets_key_from_secret;
    let s = emitters().await;
    let config = load_sdk_config().await;
    let reader = SecretsReader::new(&config);
    let value = format!("{}-{}", unique("sealing"), "0123456789abcdef0123456789abcdef");
    let name = unique("osflow/test/sealing");
    s.secrets().create_secret().name(&name).secret_string(&value).send().await.expect("CreateSecret");
    let key = secrets_key_from_secret(&reader, &name).await.expect("the sealing key");
    let sealed = seal(&SecretsKey::derive(value.as_bytes()), "ctx", "1234").unwrap();
    assert_eq!(unseal(Some(&key), "ctx", sealed).unwrap(), "1234");

    let short = unique("osflow/test/sealing-short");
    s.secrets().create_secret().name(&short).secret_string("pequena-demais").send().await.expect("CreateSecret");
    let e = secrets_key_from_secret(&reader, &short).await.unwrap_err();
    assert!(matches!(&e, StoreError::Other(m) if m.contains("fewer than 32") && !m.contains("pequena")), "{e:?}");
    let e = secrets_key_from_secret(&reader, &unique("osflow/test/none")).await.unwrap_err();
    assert!(matches!(&e, StoreError::Other(m) if m.contains("ResourceNotFoundException")), "{e:?}");
}
