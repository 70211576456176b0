//! The flow editor: the representante publishes a new version; new orders use it, old ones stay on theirs.

use osflow_app::SettingsStore;
use serde_json::{Value, json};

use crate::support::*;

/// The default flow without the validation step, with a custom "Diagnóstico" status before the quote.
fn shop_flow(current: &Value) -> Value {
    let mut def = current.clone();
    def.as_object_mut().unwrap().remove("version");
    let statuses = def["statuses"].as_array_mut().unwrap();
    statuses.retain(|s| s["key"] != "em_validacao");
    statuses.insert(
        1,
        json!({"key": "diagnostico", "label": "Diagnóstico", "kind": "custom", "notify": true,
                              "channels": ["whatsapp"], "sla_hours": 48}),
    );
    let transitions = def["transitions"].as_array_mut().unwrap();
    transitions.retain(|t| t["from"] != "em_validacao" && t["to"] != "em_validacao");
    transitions.extend([
        json!({"from": "aberta", "to": "diagnostico", "action": "move", "roles": ["representante", "tecnico"]}),
        json!({"from": "diagnostico", "to": "aguardando_aprovacao", "action": "send_quote", "roles": ["representante", "atendente", "tecnico"]}),
        json!({"from": "diagnostico", "to": "cancelada", "action": "cancel", "roles": ["representante", "atendente"]}),
        json!({"from": "finalizada", "to": "aguardando_pagamento", "action": "request_payment",
               "roles": ["representante", "atendente", "financeiro"]}),
    ]);
    def
}

#[tokio::test]
async fn publishing_a_flow_version() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let staff = Who::staff(SHOP);

    let r = api.get(&Who::tecnico(SHOP), "/v1/flow").await;
    assert_eq!((r.status, r.header("etag")), (200, Some("\"1\"")));
    let v1 = r.json();
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["initial"], "aberta");
    assert_eq!(v1["statuses"][1]["label"], "Aguardando Aprovação");
    assert_eq!(v1["statuses"][1]["kind"], "awaiting_approval");

    let old = api.open_example(&staff).await;
    let def = shop_flow(&v1);

    // Only the representante publishes.
    for who in [Who::atendente(SHOP), Who::tecnico(SHOP), Who::financeiro(SHOP)] {
        let r = api.send(Call::new("PUT", "/v1/flow").json(&def).by(&who).if_match("\"1\"")).await;
        r.problem(403, "forbidden");
        api.get(&who, "/v1/flow/versions").await.problem(403, "forbidden");
    }
    let r = api.send(Call::new("PUT", "/v1/flow").json(&def).by(&rep).if_match("\"1\"")).await;
    assert_eq!((r.status, r.header("etag")), (200, Some("\"2\"")), "{}", r.body);
    let v2 = r.json();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["statuses"][1]["label"], "Diagnóstico");

    // A retried PUT of the same definition publishes nothing new.
    let r = api.send(Call::new("PUT", "/v1/flow").json(&def).by(&rep).if_match("\"1\"").idem("flow-2")).await;
    assert_eq!((r.status, r.header("etag")), (200, Some("\"2\"")), "{}", r.body);
    // Another edit started from version 1 is stale.
    let mut late = def.clone();
    late["statuses"][0]["label"] = json!("Recebida");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&late).by(&rep).if_match("\"1\"")).await;
    assert_eq!(r.problem(412, "precondition-failed")["current_version"], 2);
    // …also when the base version travels in the body.
    late["version"] = json!(1);
    let r = api.send(Call::new("PUT", "/v1/flow").json(&late).by(&rep)).await;
    r.problem(412, "precondition-failed");

    let r = api.get(&rep, "/v1/flow/versions").await;
    let versions: Vec<u64> =
        r.json()["items"].as_array().unwrap().iter().map(|f| f["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2]);

    // A new order runs on version 2; the old one stays on version 1.
    let new = api.open_example(&staff).await;
    assert_eq!(api.order(&staff, &new).await["flow_version"], 2);
    assert_eq!(api.order(&staff, &old).await["flow_version"], 1);

    let o = api.ok(&Who::tecnico(SHOP), "POST", &format!("/v1/orders/{new}/move"), r#"{"to": "diagnostico"}"#).await;
    assert_eq!((o["status"].as_str(), o["status_label"].as_str()), (Some("diagnostico"), Some("Diagnóstico")));
    let r = api.send(Call::post(&format!("/v1/orders/{old}/move"), &json!({"to": "diagnostico"})).by(&rep)).await;
    r.problem_at(422, "unknown-status", "to");

    // Each order follows its own version: validation exists in version 1 only.
    let run = |id: String, steps: Vec<(&'static str, &'static str)>| {
        let api = &api;
        let staff = staff.clone();
        async move {
            for (path, body) in steps {
                api.ok(&staff, "POST", &format!("/v1/orders/{id}/{path}"), body).await;
            }
        }
    };
    let common =
        vec![("quote/send", "{}"), ("quote/decision", r#"{"decision": "approve"}"#), ("start", "{}"), ("finish", "{}")];
    run(new.clone(), common.clone()).await;
    run(old.clone(), common).await;
    let r = api
        .send(
            Call::post(&format!("/v1/orders/{new}/validation"), &json!({"checklist": [{"item": "ok", "ok": true}]}))
                .by(&staff),
        )
        .await;
    assert_eq!(r.problem(409, "not-allowed-in-status")["status_key"], "finalizada");
    api.ok(&staff, "POST", &format!("/v1/orders/{new}/payment/request"), "{}").await;
    let r = api.send(Call::post(&format!("/v1/orders/{old}/payment/request"), &json!({})).by(&staff)).await;
    r.problem(409, "not-allowed-in-status");
    api.ok(&staff, "POST", &format!("/v1/orders/{old}/validation"), r#"{"checklist": [{"item": "ok", "ok": true}]}"#)
        .await;
    assert_eq!(api.order(&staff, &old).await["status_label"], "Em Validação");
    // Statuses of older versions still list their orders.
    let r = api.send(Call::get("/v1/orders").query("status", "em_validacao").by(&staff)).await;
    assert_eq!(r.json()["items"][0]["id"], old.as_str());
}

#[tokio::test]
async fn invalid_flows_name_what_is_wrong() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let current = api.get(&rep, "/v1/flow").await.json();
    let base = shop_flow(&current);
    let n = base["transitions"].as_array().unwrap().len();

    let mut fly = base.clone();
    fly["transitions"][n - 1]["action"] = json!("fly");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&fly).by(&rep)).await;
    let p = r.problem_at(422, "invalid-field", &format!("transitions[{}].action", n - 1));
    assert!(p["detail"].as_str().unwrap().contains("fly"), "{p}");

    let mut unknown = base.clone();
    unknown["transitions"][0]["to"] = json!("em_conserto");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&unknown).by(&rep)).await;
    let p = r.problem_at(422, "unknown-status", "transitions[0].to");
    assert!(p["detail"].as_str().unwrap().contains("em_conserto"));

    let mut unreachable = base.clone();
    unreachable["transitions"].as_array_mut().unwrap().retain(|t| t["to"] != "diagnostico");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&unreachable).by(&rep)).await;
    let p = r.problem_at(422, "invalid-flow", "statuses[1]");
    assert!(p["detail"].as_str().unwrap().contains("diagnostico"));

    let mut no_time = base.clone();
    no_time["statuses"][1]["sla_hours"] = json!(0);
    let r = api.send(Call::new("PUT", "/v1/flow").json(&no_time).by(&rep)).await;
    r.problem_at(422, "invalid-flow", "statuses[1].sla_hours");

    let mut misfit = base.clone();
    misfit["transitions"][0]["action"] = json!("release");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&misfit).by(&rep)).await;
    r.problem_at(422, "invalid-flow", "transitions[0].action");

    let mut bad_key = base.clone();
    bad_key["statuses"][1]["key"] = json!("Diagnóstico");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&bad_key).by(&rep)).await;
    r.problem_at(422, "invalid-field", "statuses[1].key");

    let mut extra = base.clone();
    extra["owner"] = json!("zé");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&extra).by(&rep)).await;
    r.problem_at(422, "unknown-field", "owner");

    assert_eq!(api.get(&rep, "/v1/flow").await.json()["version"], 1, "nothing was published");
}

/// The notification settings: representante only, checked when saved, the webhook secret never shown.
#[tokio::test]
async fn notification_settings_are_checked_and_the_secret_is_write_only() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let path = "/v1/settings/notifications";

    let r = api.get(&rep, path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let defaults = r.json();
    assert_eq!(defaults["webhook_secret_set"], false);
    assert_eq!(defaults["channels"], json!([]));

    for who in [Who::atendente(SHOP), Who::tecnico(SHOP), Who::financeiro(SHOP)] {
        api.get(&who, path).await.problem(403, "forbidden");
        api.send(Call::new("PUT", path).json(&json!({})).by(&who)).await.problem(403, "forbidden");
    }

    let settings = json!({
        "company_name": "Oficina do Zé", "sender_email": "contato@oficinadoze.com.br",
        "webhook_url": "https://hooks.example.com/osflow", "webhook_secret": "segredo-bem-comprido-123",
        "channels": ["webhook", "email", "email"],
        "templates": {"awaiting_approval": {"subject": "Orçamento da OS {os}", "body": "Olá, {cliente}: {valor}. {link}"}}
    });
    let r = api.send(Call::new("PUT", path).json(&settings).by(&rep)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let saved = r.json();
    assert_eq!(saved["webhook_secret_set"], true);
    assert_eq!(saved["channels"], json!(["email", "webhook"]), "sorted, without repeats");
    assert!(!r.body.contains("segredo"), "the secret is never returned: {}", r.body);
    let shown = api.get(&rep, path).await;
    assert!(!shown.body.contains("segredo"));
    assert_eq!(shown.json()["templates"]["awaiting_approval"]["body"], "Olá, {cliente}: {valor}. {link}");

    // Sent again without the secret: the saved one is kept.
    let mut again = settings.clone();
    again.as_object_mut().unwrap().remove("webhook_secret");
    again["company_name"] = json!("Oficina do Zé Ltda");
    let r = api.send(Call::new("PUT", path).json(&again).by(&rep)).await;
    assert_eq!((r.status, r.json()["webhook_secret_set"].clone()), (200, json!(true)), "{}", r.body);
    let stored = api.store.notification_settings(&osflow_domain::values::TenantId::parse(SHOP).unwrap()).await;
    assert_eq!(stored.unwrap().unwrap().webhook_secret.as_deref(), Some("segredo-bem-comprido-123"));

    // Bad input names the field and stores nothing.
    let bad = [
        (json!({"sender_email": "não é e-mail"}), "sender_email"),
        (json!({"reply_to": "x@"}), "reply_to"),
        (json!({"webhook_url": "http://hooks.example.com/x", "webhook_secret": "0123456789abcdef"}), "webhook_url"),
        (json!({"webhook_url": "https://hooks.example.com/x", "webhook_secret": "curto"}), "webhook_secret"),
        (json!({"webhook_secret": "0123456789abcdef"}), "webhook_url"),
        (json!({"channels": ["webhook"]}), "channels"),
        (json!({"templates": {"nao_existe": {"body": "x"}}}), "templates.nao_existe"),
        (json!({"templates": {"approved": {"body": "Olá {nome}"}}}), "templates.approved"),
        (json!({"templates": {"approved": {"body": "Olá {cliente"}}}), "templates.approved"),
        (json!({"templates": {"approved": {"body": "  "}}}), "templates.approved"),
        (json!({"company_name": ""}), "company_name"),
    ];
    for (body, field) in bad {
        let r = api.send(Call::new("PUT", path).json(&body).by(&rep)).await;
        r.problem_at(422, "invalid-field", field);
    }
    let r = api.send(Call::new("PUT", path).json(&json!({"channels": ["sms"]})).by(&rep)).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "channels[0]");
    let r = api.send(Call::new("PUT", path).json(&json!({"unknown": 1})).by(&rep)).await;
    assert_eq!(r.problem(422, "unknown-field")["field"], "unknown");
    assert_eq!(api.get(&rep, path).await.json()["company_name"], "Oficina do Zé Ltda", "nothing stored");

    // In AWS: https:// to a public address only; the URL is parsed as the sender parses it (the host of the
    // backslash one is evil.example, over http).
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "https://localhost/hook",
        "https://[::1]:8080/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
        "https://user:pass@hooks.example.com/x",
        "http://evil.example\\@127.0.0.1/",
        "http://[::2]:8080/hook",
    ] {
        let body = json!({"webhook_url": url, "webhook_secret": "0123456789abcdef"});
        api.send(Call::new("PUT", path).json(&body).by(&rep)).await.problem_at(422, "invalid-field", "webhook_url");
    }

    // Another company sees its own defaults.
    let other = api.get(&Who::representante("outra-oficina"), path).await.json();
    assert_eq!(other["webhook_secret_set"], false);
    assert_eq!(other["company_name"], Value::Null);
}
