//! Attachments: recorded on the order, uploaded to the blob store with a signed URL.

use osflow_app::{Blob, BlobStore, InvoiceRecord, InvoiceStore, NumberingKey};
use osflow_domain::InvoiceState;
use osflow_domain::values::{OrderId, TenantId};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_attachment_is_recorded_and_its_upload_url_signed() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let body = json!({"content_type": "image/jpeg", "caption": "Placa antes da limpeza", "visible_to_customer": true});
    let call = Call::post(&format!("/v1/orders/{id}/attachments"), &body).by(&staff).idem("photo-1");
    let r = api.send(call.clone()).await;
    assert_eq!((r.status, r.header("etag")), (201, Some("\"2\"")), "{}", r.body);
    let created = r.json();
    let key = created["attachment"]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("orders/{id}/attachments/")) && key.ends_with(".jpg"), "{key}");
    assert_eq!(created["attachment"]["caption"], "Placa antes da limpeza");
    assert_eq!(created["order"]["attachments"][0]["key"], key.as_str());
    assert_eq!(created["order"]["version"], 2);
    assert_eq!(created["upload"]["method"], "POST");
    assert_eq!(created["upload"]["content_type"], "image/jpeg");
    assert_eq!(created["upload"]["max_bytes"], osflow_api::MAX_ATTACHMENT_BYTES);

    // A form to the embedded server, signed for this tenant, key, type and size bound.
    let url = created["upload"]["url"].as_str().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:3000/blobs/{SHOP}/{key}"));
    let get = |name: &str| created["upload"]["fields"][name].as_str().unwrap().to_owned();
    assert_eq!(get("Content-Type"), "image/jpeg");
    assert_eq!(get("max-bytes"), osflow_api::MAX_ATTACHMENT_BYTES.to_string());
    let tenant = TenantId::parse(SHOP).unwrap();
    let signed = osflow_lambda_kit::blob::LocalUpload {
        content_type: "image/jpeg".into(),
        expires: get("expires").parse().unwrap(),
        max_bytes: osflow_api::MAX_ATTACHMENT_BYTES,
    };
    let now = chrono::Utc::now();
    assert!(api.blobs.verify_upload(&tenant, &key, &signed, &get("signature"), now));
    assert!(!api.blobs.verify_upload(&TenantId::parse(OTHER_SHOP).unwrap(), &key, &signed, &get("signature"), now));

    // The upload lands in the blob store.
    let photo = Blob { content_type: "image/jpeg".into(), bytes: vec![0xff, 0xd8, 0xff, 0xe0] };
    api.blobs.put(&tenant, &key, &photo).await.unwrap();
    assert_eq!(api.app.blobs.get(&tenant, &key).await.unwrap(), Some(photo));

    // A retry replays the first answer: the same key and URL, no second attachment.
    let again = api.send(call).await;
    assert_eq!((again.status, again.body.as_str()), (201, r.body.as_str()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.order(&staff, &id).await["attachments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invoices_and_their_xml() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let r = api.get(&staff, &format!("/v1/orders/{id}/invoices")).await;
    assert_eq!((r.status, r.json()), (200, json!({"items": []})));

    // An NF-e as the invoicer stores it: the record, and the signed XML in the blob store.
    let tenant = TenantId::parse(SHOP).unwrap();
    let order_id = OrderId::parse(&id).unwrap();
    let key = "35261112345678000195550010000000011234567890";
    let now = chrono::Utc::now();
    let record = InvoiceRecord {
        tenant: tenant.clone(),
        order_id,
        numbering: NumberingKey::nfe("12345678000195", 1),
        number: 1,
        cnf: "12345678".into(),
        access_key: key.into(),
        state: InvoiceState::Authorized,
        cstat: Some(100),
        message: Some("Autorizado o uso da NF-e".into()),
        protocol: Some("135260000000001".into()),
        xml_ref: Some(format!("nfe/{key}.xml")),
        revision: 1,
        created_at: now,
        updated_at: now,
        contingency: None,
    };
    api.store.save_invoice(&record, 0).await.unwrap();
    let xml = format!("<nfeProc versao=\"4.00\"><NFe><infNFe Id=\"NFe{key}\"/></NFe></nfeProc>");
    api.blobs
        .put(
            &tenant,
            &format!("nfe/{key}.xml"),
            &Blob { content_type: "application/xml".into(), bytes: xml.clone().into_bytes() },
        )
        .await
        .unwrap();

    let r = api.get(&staff, &format!("/v1/orders/{id}/invoices")).await;
    let list = r.json();
    assert_eq!(list["items"][0]["access_key"], key);
    assert_eq!(list["items"][0]["state"], "authorized");
    assert_eq!(list["items"][0]["cstat"], 100);
    let url = list["items"][0]["xml_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/v1/orders/{id}/invoices/{key}/xml"));
    let r = api.get(&staff, &url).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/xml")));
    assert_eq!(r.body, xml);
    api.get(&staff, &format!("/v1/orders/{id}/invoices/{}/xml", "3".repeat(44))).await.problem(404, "not-found");
    // Another company sees neither.
    api.get(&Who::staff(OTHER_SHOP), &url).await.problem(404, "not-found");
}
