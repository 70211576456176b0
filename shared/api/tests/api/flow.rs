//! The default flow through its eight steps, with the reference example's requests (ARCHITECTURE.md) as written there.

use serde_json::{Value, json};

use crate::support::*;

fn status(order: &Value) -> (&str, &str) {
    (order["status"].as_str().unwrap(), order["status_label"].as_str().unwrap())
}

#[tokio::test]
async fn the_default_flow_with_the_design_examples() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let rep = Who::representante(SHOP);

    // 1. Abertura
    let r = api.open(&staff, &example_order()).await;
    let order = r.json();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location"), Some(format!("/v1/orders/{id}").as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(order["number"], 1);
    assert_eq!(status(&order), ("aberta", "Aberta"));
    assert_eq!(order["version"], 1);
    assert_eq!(order["flow_version"], 1);
    assert_eq!(order["quote"]["revision"], 1);
    assert_eq!(order["quote"]["status"], "draft");
    assert_eq!(order["quote"]["total"], "269.90");
    assert_eq!(order["quote"]["parts_total"], "149.90");
    assert_eq!(order["quote"]["labor_total"], "120.00");
    assert_eq!(order["quote"]["lines"][0]["unit_price"], "149.90");
    assert_eq!(order["quote"]["lines"][0]["quantity"], "1");
    assert_eq!(order["quote"]["lines"][0]["ncm"], "85044010");
    assert_eq!(order["customer"]["document"], "52998224725");
    assert_eq!(order["customer"]["document_formatted"], "529.982.247-25");
    assert_eq!(order["customer"]["document_type"], "CPF");
    assert_eq!(order["customer"]["phone"], "+5511987654321");
    assert_eq!(order["customer"]["address"]["uf"], "SP");
    assert_eq!(order["equipment"]["model"], "Inspiron 15");
    assert_eq!(order["service"]["type"], "reparo");
    assert_eq!(order["due_date"], "2026-12-10");
    assert_eq!(order["amount_due"], "0.00");
    assert_eq!(order["material"], Value::Null);
    assert_eq!(order["invoice"], Value::Null);

    // GET returns the same order with its ETag.
    let r = api.get(&staff, &format!("/v1/orders/{id}")).await;
    assert_eq!((r.status, r.header("etag")), (200, Some("\"1\"")));
    // (plus the actions the caller may take now, which only GET carries).
    let mut got = r.json();
    assert!(got["allowed_actions"].as_array().is_some_and(|a| !a.is_empty()), "{got}");
    got.as_object_mut().unwrap().remove("allowed_actions");
    assert_eq!(got, order);

    // 2. Aprovação do cliente
    let base = format!("/v1/orders/{id}");
    let o = api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    assert_eq!(status(&o), ("aguardando_aprovacao", "Aguardando Aprovação"));
    assert_eq!(o["quote"]["status"], "sent");
    let o = api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    assert_eq!(status(&o), ("aprovada", "Aprovada"));
    assert_eq!(o["quote"]["status"], "approved");
    assert_eq!(o["quote"]["approved_total"], "269.90");
    assert_eq!(o["amount_due"], "269.90");
    assert_eq!(o["balance"], "269.90");

    // 3. Execução
    let o = api.ok(&staff, "POST", &format!("{base}/start"), "{}").await;
    assert_eq!(status(&o), ("em_execucao", "Em Execução"));
    let o = api
        .ok(&staff, "POST", &format!("{base}/notes"), r#"{"text": "Placa limpa", "visible_to_customer": true}"#)
        .await;
    assert_eq!(o["notes"][0]["text"], "Placa limpa");
    assert_eq!(o["notes"][0]["visible_to_customer"], true);
    assert_eq!(status(&o).0, "em_execucao");

    // 4. Pausa para materiais
    let o = api
        .ok(
            &staff,
            "POST",
            &format!("{base}/material/wait"),
            r#"{"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": "2026-12-05"}"#,
        )
        .await;
    assert_eq!(status(&o), ("aguardando_material", "Aguardando Material"));
    assert_eq!(o["material"]["expected_at"], "2026-12-05");
    assert_eq!(o["material"]["parts"], json!(["P-001"]));
    let o = api.ok(&staff, "PATCH", &format!("{base}/material"), r#"{"expected_at": "2026-12-08"}"#).await;
    assert_eq!(o["material"]["expected_at"], "2026-12-08");
    assert_eq!(status(&o).0, "aguardando_material");
    let o = api.ok(&staff, "POST", &format!("{base}/material/arrived"), "{}").await;
    assert_eq!(status(&o).0, "em_execucao");
    assert_eq!(o["material"], Value::Null);

    // 5. Finalização
    let o =
        api.ok(&staff, "POST", &format!("{base}/finish"), r#"{"tests_performed": "Ligou e carregou por 2 h"}"#).await;
    assert_eq!(status(&o), ("finalizada", "Finalizado"));
    assert_eq!(o["tests_performed"], "Ligou e carregou por 2 h");

    // 6. Validação
    let o = api
        .ok(
            &staff,
            "POST",
            &format!("{base}/validation"),
            r#"{"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}"#,
        )
        .await;
    assert_eq!(status(&o), ("em_validacao", "Em Validação"));
    assert_eq!(o["checklist"][0]["ok"], true);

    // 7. Pagamento e liberação
    let o = api.ok(&staff, "POST", &format!("{base}/payment/request"), "{}").await;
    assert_eq!(status(&o), ("aguardando_pagamento", "Aguardando Pagamento"));
    let o = api.ok(&staff, "POST", &format!("{base}/payments"), r#"{"amount": "269.90", "method": "pix"}"#).await;
    assert_eq!(o["payments"][0]["amount"], "269.90");
    assert_eq!(o["payments"][0]["method"], "pix");
    assert_eq!(o["amount_paid"], "269.90");
    assert_eq!(o["balance"], "0.00");
    let o = api.ok(&staff, "POST", &format!("{base}/release"), "{}").await;
    assert_eq!(status(&o), ("liberada", "Liberada"));
    let r = api.get(&staff, &format!("{base}/invoices")).await;
    assert_eq!((r.status, r.json()), (200, json!({"items": []})), "no NF-e emitter: no invoice");

    // 8. Encerramento
    let o = api.ok(&rep, "POST", &format!("{base}/close"), "{}").await;
    assert_eq!(status(&o), ("encerrada", "Encerrado"));
    assert_eq!(o["version"], 14);

    // The timeline has every change, in order, with the event ids consumers deduplicate on.
    let r = api.get(&staff, &format!("{base}/timeline")).await;
    assert_eq!(r.status, 200);
    let events = r.json()["events"].as_array().unwrap().clone();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "order.opened",
            "order.quote_sent",
            "order.quote_decided",
            "order.started",
            "order.note_added",
            "order.material_awaited",
            "order.material_date_changed",
            "order.material_arrived",
            "order.finished",
            "order.validated",
            "order.payment_requested",
            "order.payment_registered",
            "order.released",
            "order.closed",
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"], i as u64 + 1);
        assert_eq!(e["event_id"], format!("{id}:{}", i + 1));
        assert_eq!(e["actor"]["type"], "staff");
    }
    assert_eq!(events[0]["status_after"], "aberta");
    assert_eq!(events[0]["status_label"], "Aberta");
    assert_eq!(events[1]["action"], "send_quote");
    assert_eq!(events[6]["data"]["previous"], "2026-12-05");
    assert_eq!(events[13]["status_label"], "Encerrado");
    assert_eq!(events[13]["actor"]["user"], "rep-1");

    // A closed order accepts no further step: 409 naming the status.
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "tarde demais"})).by(&staff)).await;
    let p = r.problem(409, "not-allowed-in-status");
    assert_eq!(p["status_key"], "encerrada");
}

#[tokio::test]
async fn cancel_with_the_design_example() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let o = api.ok(&staff, "POST", &format!("/v1/orders/{id}/cancel"), r#"{"reason": "Cliente desistiu"}"#).await;
    assert_eq!(status(&o), ("cancelada", "Cancelada"));
    assert_eq!(o["cancel_reason"], "Cliente desistiu");
}

#[tokio::test]
async fn adjustments_make_a_new_revision() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;

    // Adjust without a comment is refused, naming the field.
    let r = api.send(Call::post(&format!("{base}/quote/decision"), &json!({"decision": "adjust"})).by(&staff)).await;
    r.problem_at(422, "invalid-field", "comment");

    let o = api
        .ok(
            &staff,
            "POST",
            &format!("{base}/quote/decision"),
            r#"{"decision": "adjust", "comment": "Pode usar uma fonte paralela?"}"#,
        )
        .await;
    assert_eq!(status(&o).0, "aberta");
    assert_eq!(o["quote"]["status"], "adjustment_requested");
    assert_eq!(o["quote"]["customer_comment"], "Pode usar uma fonte paralela?");

    // PUT quote: revision 2, with a cheaper part.
    let o = api
        .ok(
            &staff,
            "PUT",
            &format!("{base}/quote"),
            r#"{"items": [{"kind": "part", "code": "P-002", "description": "Fonte paralela 65W", "ncm": "85044010",
                           "quantity": "1", "unit_price": "89.90"},
                          {"kind": "labor", "code": "S-001", "description": "Diagnóstico e reparo", "quantity": "1",
                           "unit_price": "120.00"}]}"#,
        )
        .await;
    assert_eq!(o["quote"]["revision"], 2);
    assert_eq!(o["quote"]["status"], "draft");
    assert_eq!(o["quote"]["total"], "209.90");
    assert_eq!(o["quote_revisions"].as_array().unwrap().len(), 2);
    assert_eq!(o["quote_revisions"][0]["status"], "adjustment_requested");

    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    // Revised while waiting for approval: revision 3 replaces 2 and is sent at once.
    let o = api
        .ok(
            &staff,
            "PUT",
            &format!("{base}/quote"),
            r#"{"items": [{"kind": "labor", "description": "Reparo sem troca de peça", "quantity": "2", "unit_price": "60.00"}]}"#,
        )
        .await;
    assert_eq!(status(&o).0, "aguardando_aprovacao");
    assert_eq!(o["quote"]["revision"], 3);
    assert_eq!(o["quote"]["status"], "sent");
    assert_eq!(o["quote_revisions"][1]["status"], "superseded");

    // A decision on revision 2 is stale.
    let r = api
        .send(Call::post(&format!("{base}/quote/decision"), &json!({"decision": "approve", "revision": 2})).by(&staff))
        .await;
    r.problem_at(409, "stale-revision", "revision");

    let o =
        api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve", "revision": 3}"#).await;
    assert_eq!(status(&o).0, "aprovada");
    assert_eq!(o["amount_due"], "120.00");
}

#[tokio::test]
async fn discounts_per_line_and_on_the_revision_are_shown_and_owed() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    let o = api
        .ok(
            &staff,
            "PUT",
            &format!("{base}/quote"),
            r#"{"items": [{"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010",
                           "quantity": "1", "unit_price": "149.90", "discount": {"type": "value", "value": "9.90"}},
                          {"kind": "labor", "description": "Diagnóstico e reparo", "quantity": "1",
                           "unit_price": "120.00", "discount": {"type": "percent", "percent": "10"}}],
                "discount": {"type": "percent", "percent": "5"}}"#,
        )
        .await;
    // 140.00 and 108.00 after their own; 5 % of 248.00 = 12.40, shared as 7.00 and 5.40
    let q = &o["quote"];
    assert_eq!(q["lines"][0]["discount"], json!({"type": "value", "value": "9.90"}));
    assert_eq!((&q["lines"][0]["discount_total"], &q["lines"][0]["net"]), (&json!("16.90"), &json!("133.00")));
    assert_eq!((&q["lines"][1]["discount_total"], &q["lines"][1]["net"]), (&json!("17.40"), &json!("102.60")));
    assert_eq!(q["discount"], json!({"type": "percent", "percent": "5"}));
    assert_eq!(
        (&q["subtotal"], &q["discount_total"], &q["total"]),
        (&json!("269.90"), &json!("34.30"), &json!("235.60"))
    );
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    let o = api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    assert_eq!((&o["quote"]["approved_total"], &o["amount_due"]), (&json!("235.60"), &json!("235.60")));
}

#[tokio::test]
async fn per_line_approval_and_rejection() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    let o = api
        .ok(
            &staff,
            "POST",
            &format!("{base}/quote/decision"),
            r#"{"decision": "approve", "lines": [{"line": 1, "decision": "reject"}]}"#,
        )
        .await;
    assert_eq!(o["quote"]["lines"][0]["decision"], "reject");
    assert_eq!(o["quote"]["lines"][1]["decision"], "approve");
    assert_eq!(o["amount_due"], "120.00");

    let other = api.open_example(&staff).await;
    api.ok(&staff, "POST", &format!("/v1/orders/{other}/quote/send"), "{}").await;
    let o = api.ok(&staff, "POST", &format!("/v1/orders/{other}/quote/decision"), r#"{"decision": "reject"}"#).await;
    assert_eq!(status(&o).0, "cancelada");
    assert_eq!(o["quote"]["status"], "rejected");
}

#[tokio::test]
async fn extra_items_at_validation_go_back_for_approval() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    for (path, body) in
        [("quote/send", "{}"), ("quote/decision", r#"{"decision": "approve"}"#), ("start", "{}"), ("finish", "{}")]
    {
        api.ok(&staff, "POST", &format!("{base}/{path}"), body).await;
    }
    let o = api
        .ok(
            &staff,
            "POST",
            &format!("{base}/validation"),
            r#"{"checklist": [{"item": "Equipamento liga", "ok": true}],
                "extra_items": [{"kind": "part", "code": "P-009", "description": "Cooler", "ncm": "84145990",
                                 "quantity": "1", "unit_price": "45.50"}]}"#,
        )
        .await;
    assert_eq!(status(&o), ("aguardando_aprovacao", "Aguardando Aprovação"));
    assert_eq!(o["quote"]["revision"], 2);
    assert_eq!(o["quote"]["supplementary"], true);
    assert_eq!(o["quote"]["status"], "sent");
    assert_eq!(o["quote"]["total"], "45.50");
    assert_eq!(o["amount_due"], "269.90", "extra items count once approved");

    // Payment cannot be requested while the extra items wait for the customer.
    let r = api.send(Call::post(&format!("{base}/payment/request"), &json!({})).by(&staff)).await;
    assert_eq!(r.problem(409, "not-allowed-in-status")["status_key"], "aguardando_aprovacao");

    // Approved: back to execution, the amount due grows.
    let o = api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    assert_eq!(status(&o).0, "em_execucao");
    assert_eq!(o["amount_due"], "315.40");
    api.ok(&staff, "POST", &format!("{base}/finish"), "{}").await;
    api.ok(&staff, "POST", &format!("{base}/validation"), r#"{"checklist": [{"item": "Cooler girando", "ok": true}]}"#)
        .await;
    let o = api.ok(&staff, "POST", &format!("{base}/payment/request"), "{}").await;
    assert_eq!(status(&o).0, "aguardando_pagamento");
    assert_eq!(o["balance"], "315.40");
}

#[tokio::test]
async fn partial_payments_and_the_release_guard() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let fin = Who::financeiro(SHOP);
    let tech = Who::tecnico(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");

    // No payment before the quote is approved.
    let r =
        api.send(Call::post(&format!("{base}/payments"), &json!({"amount": "50.00", "method": "pix"})).by(&fin)).await;
    assert_eq!(r.problem(409, "not-allowed-in-status")["status_key"], "aberta");

    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    // A deposit in aprovada.
    let o = api.ok(&fin, "POST", &format!("{base}/payments"), r#"{"amount": "100.00", "method": "pix"}"#).await;
    assert_eq!((o["amount_paid"].as_str(), o["balance"].as_str()), (Some("100.00"), Some("169.90")));
    assert_eq!(status(&o).0, "aprovada", "a payment changes no status");
    // A technician may not register payments.
    let r =
        api.send(Call::post(&format!("{base}/payments"), &json!({"amount": "1.00", "method": "cash"})).by(&tech)).await;
    let p = r.problem(403, "forbidden");
    assert!(p["allowed_roles"].as_array().unwrap().contains(&json!("financeiro")));

    for (path, body) in [
        ("start", "{}"),
        ("finish", "{}"),
        ("validation", r#"{"checklist": [{"item": "Equipamento liga", "ok": true}]}"#),
        ("payment/request", "{}"),
    ] {
        api.ok(&staff, "POST", &format!("{base}/{path}"), body).await;
    }
    // Not paid in full: release refused by the guard.
    let r = api.send(Call::post(&format!("{base}/release"), &json!({})).by(&fin)).await;
    let p = r.problem(409, "guard-failed");
    assert_eq!(p["guard"], "paid_in_full");
    // More than the balance is refused.
    let r = api
        .send(Call::post(&format!("{base}/payments"), &json!({"amount": "200.00", "method": "credit"})).by(&fin))
        .await;
    r.problem_at(422, "invalid-field", "amount");
    let o = api
        .ok(
            &fin,
            "POST",
            &format!("{base}/payments"),
            r#"{"amount": "69.90", "method": "credit", "reference": "AUT123"}"#,
        )
        .await;
    assert_eq!(o["balance"], "100.00");
    let o = api.ok(&fin, "POST", &format!("{base}/payments"), r#"{"amount": "100.00", "method": "cash"}"#).await;
    assert_eq!(o["balance"], "0.00");
    let methods: Vec<&str> = o["payments"].as_array().unwrap().iter().map(|p| p["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["pix", "credit", "cash"]);
    assert_eq!(o["payments"][1]["reference"], "AUT123");
    let o = api.ok(&fin, "POST", &format!("{base}/release"), "{}").await;
    assert_eq!(status(&o).0, "liberada");
}

#[tokio::test]
async fn a_failed_checklist_item_sends_the_order_back_to_rework() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    for (path, body) in [
        ("quote/send", "{}"),
        ("quote/decision", r#"{"decision": "approve"}"#),
        ("start", "{}"),
        ("finish", "{}"),
        ("validation", r#"{"checklist": [{"item": "Bateria carrega", "ok": false, "note": "não passa de 80%"}]}"#),
    ] {
        api.ok(&staff, "POST", &format!("{base}/{path}"), body).await;
    }
    let r = api.send(Call::post(&format!("{base}/payment/request"), &json!({})).by(&staff)).await;
    assert_eq!(r.problem(409, "guard-failed")["guard"], "checklist_complete");
    let o = api.ok(&staff, "POST", &format!("{base}/start"), "{}").await;
    assert_eq!(status(&o).0, "em_execucao");
}

/// The invoicing policy (a store read in Lambda) is asked only for steps whose transition carries the
/// `invoice_authorized` guard — the release — and its answer holds: with invoicing on, the release of a paid
/// order without an authorized NF-e is refused.
#[tokio::test]
async fn the_invoicing_policy_is_read_only_for_guarded_steps() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);
    #[async_trait::async_trait]
    impl osflow_app::InvoicingPolicy for Counting {
        async fn invoicing_enabled(
            &self,
            _tenant: &osflow_domain::values::TenantId,
        ) -> Result<bool, osflow_app::StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        }
    }

    let mut api = Api::new();
    let policy = std::sync::Arc::new(Counting(AtomicUsize::new(0)));
    api.app.invoicing = policy.clone();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    for (step, body) in [
        ("quote/send", "{}"),
        ("quote/decision", r#"{"decision": "approve"}"#),
        ("start", "{}"),
        ("finish", r#"{"tests_performed": "ok"}"#),
        ("validation", r#"{"checklist": [{"item": "Liga", "ok": true}], "extra_items": []}"#),
        ("payment/request", "{}"),
        ("payments", r#"{"amount": "269.90", "method": "pix"}"#),
    ] {
        api.ok(&staff, "POST", &format!("{base}/{step}"), body).await;
    }
    assert_eq!(policy.0.load(Ordering::SeqCst), 0, "no step before the release needs the policy");
    let r = api.send(Call::post(&format!("{base}/release"), &json!({})).by(&staff)).await;
    r.problem(409, "guard-failed");
    assert_eq!(policy.0.load(Ordering::SeqCst), 1, "asked once for the release");
}
