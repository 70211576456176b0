//! `--demo`: the company `demo` with the default flow, a few example orders in different statuses and three weeks
//! of history (dated in the past through the clock port, [`DemoClock`]), made once by walking the real API (the
//! same requests a client would send), never by writing rows.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lambda_http::http::{self, Method, header};
use osflow_app::{Caller, Clock, EmitterConfig, EmitterStore, NfseSettings, PageRequest, TechResponsibleConfig};
use osflow_domain::values::{CityCode, Cnpj, TenantId, Uf, UserId, Zip};
use osflow_domain::{Address, Role};
use osflow_nfe::Certificate;
use serde_json::{Value, json};

use crate::gateway::Gateway;

/// The demo company's tenant id.
pub const TENANT: &str = "demo";

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// The company had orders already: nothing was done.
    AlreadyThere,
    /// This many example orders were created.
    Created(usize),
}

/// The demo company's CNPJ (valid check digits; homologation only).
pub const DEMO_CNPJ: &str = "11222333000181";

/// How long the seed waits for the demo's NF-e and NFS-e (the in-process relay issues them against the simulators).
const INVOICE_WAIT: Duration = Duration::from_secs(15);

/// Seeds the demo company unless it has orders already: first its NF-e emitter with its municipal part (Campinas,
/// on the NFS-e Nacional; homologação, Simples Nacional, a self-signed test certificate — only the SEFAZ and Sefin
/// simulators accept it), then the orders.
pub async fn seed(gw: &Gateway, emitters: &dyn EmitterStore, clock: Option<&DemoClock>) -> Result<Seeded, String> {
    if has_orders(gw).await? {
        return Ok(Seeded::AlreadyThere);
    }
    seed_emitter(emitters).await?;
    let client = Client { gw, token: gw.keys().issue(TENANT, "demo-seed", &Role::ALL, Duration::from_secs(600)) };
    // Three weeks of history first (OS numbers follow the dates), then the examples, today.
    let mut created = match clock {
        Some(clock) => seed_history(&client, clock).await?,
        None => 0,
    };

    // 1. The whole flow, start to end: encerrada.
    let id = client.open_approved(maria()).await?;
    client.post(&id, "start", json!({})).await?;
    client.post(&id, "notes", json!({"text": "Placa limpa", "visible_to_customer": true})).await?;
    client
        .post(
            &id,
            "material/wait",
            json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": days_ahead(1)}),
        )
        .await?;
    client.call(Method::PATCH, &format!("/v1/orders/{id}/material"), json!({"expected_at": days_ahead(4)})).await?;
    client.post(&id, "material/arrived", json!({})).await?;
    client.post(&id, "finish", json!({"tests_performed": "Ligou e carregou por 2 h"})).await?;
    client
        .post(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await?;
    client.post(&id, "payment/request", json!({})).await?;
    client.post(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await?;
    // Paid in full: the invoicer issues the NF-e of the part and the NFS-e of the labor; the release waits for both.
    client.wait_for_documents(&id, &["nfe", "nfse"]).await?;
    client.post(&id, "release", json!({})).await?;
    client.post(&id, "close", json!({})).await?;
    created += 1;

    // 2. In execution, with a note the customer can see.
    let id = client
        .open_approved(order(
            customer("João Pereira", "111.444.777-35", "joao@example.com"),
            ("Smartphone", "Samsung", "Galaxy S21", "RX8F40ABC"),
            ("reparo", "Tela quebrada"),
            vec![
                part("P-210", "Tela AMOLED 6.2\"", "85177099", "1", "689.00"),
                labor("S-002", "Troca de tela", "1", "150.00"),
            ],
        ))
        .await?;
    client.post(&id, "start", json!({})).await?;
    client.post(&id, "notes", json!({"text": "Tela removida; conector íntegro", "visible_to_customer": true})).await?;
    created += 1;

    // 3. Waiting for a part.
    let id = client
        .open_approved(order(
            customer("Oficina Bom Pedal Ltda", "11.222.333/0001-81", "contato@bompedal.example.com"),
            ("Bicicleta elétrica", "Caloi", "E-Vibe City", "CL-99812"),
            ("reparo", "Motor falhando em subidas"),
            vec![
                part("P-330", "Controlador 36V", "85044090", "1", "420.00"),
                labor("S-010", "Diagnóstico e troca do controlador", "2", "90.00"),
            ],
        ))
        .await?;
    client.post(&id, "start", json!({})).await?;
    client
        .post(
            &id,
            "material/wait",
            json!({"reason": "Controlador em falta no fornecedor", "parts": ["P-330"], "expected_at": days_ahead(11)}),
        )
        .await?;
    created += 1;

    // 4. Quote sent, waiting for the customer.
    let id = client
        .open(order(
            customer("Ana Lima", "390.533.447-05", "ana.lima@example.com"),
            ("Impressora", "HP", "LaserJet M111w", "VNB3K12345"),
            ("manutencao", "Papel enroscando"),
            vec![
                part("P-051", "Rolo de tração", "84439999", "2", "35.50"),
                labor("S-003", "Limpeza e troca dos rolos", "1", "80.00"),
            ],
        ))
        .await?;
    client.post(&id, "quote/send", json!({})).await?;
    created += 1;

    // 5. Just opened.
    client
        .open(order(
            customer("Carlos Souza", "123.456.789-09", "carlos@example.com"),
            ("TV", "LG", "55UR8750", "LG55-0042"),
            ("orcamento", "Sem imagem, com som"),
            vec![labor("S-001", "Diagnóstico", "1", "60.00")],
        ))
        .await?;
    created += 1;

    // 6. Validated and partly paid: waiting for the rest of the payment.
    let id = client
        .open_approved(order(
            customer("Beatriz Costa", "987.654.321-00", "bia@example.com"),
            ("Console", "Sony", "PlayStation 5", "PS5-771199"),
            ("reparo", "Superaquecendo"),
            vec![
                part("P-777", "Pasta térmica de metal líquido", "34039900", "1", "45.00"),
                labor("S-020", "Limpeza interna e troca da pasta térmica", "1", "180.00"),
            ],
        ))
        .await?;
    client.post(&id, "payments", json!({"amount": "100.00", "method": "cash"})).await?;
    client.post(&id, "start", json!({})).await?;
    client.post(&id, "finish", json!({"tests_performed": "Duas horas de jogo a 68 °C"})).await?;
    client
        .post(
            &id,
            "validation",
            json!({"checklist": [{"item": "Temperatura sob carga", "ok": true}], "extra_items": []}),
        )
        .await?;
    client.post(&id, "payment/request", json!({})).await?;
    created += 1;

    // 7. Quote rejected by the customer: cancelled.
    let id = client
        .open(order(
            customer("Pedro Alves", "714.602.380-01", "pedro@example.com"),
            ("Notebook", "Lenovo", "IdeaPad 3", "LN-3344"),
            ("reparo", "Teclado falhando"),
            vec![
                part("P-404", "Teclado ABNT2", "84716052", "1", "210.00"),
                labor("S-004", "Troca do teclado", "1", "90.00"),
            ],
        ))
        .await?;
    client.post(&id, "quote/send", json!({})).await?;
    client.post(&id, "quote/decision", json!({"decision": "reject", "comment": "Vou comprar outro"})).await?;
    created += 1;

    Ok(Seeded::Created(created))
}

/// The clock of a `--demo` start: the real time moved by an offset, so that the seed's history happens in the
/// past (every event, notification and report day dated as if the shop had run for weeks); back to the real
/// time (offset 0) once seeded.
#[derive(Debug, Default)]
pub struct DemoClock {
    offset_ms: AtomicI64,
}

impl DemoClock {
    fn set(&self, offset: chrono::Duration) {
        self.offset_ms.store(offset.num_milliseconds(), Ordering::SeqCst);
    }

    fn advance(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for DemoClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

/// Days of history the demo seeds.
const HISTORY_DAYS: i64 = 21;
/// The demo's technicians (registered as its development users with the `tecnico` role).
pub const TECHNICIANS: [&str; 3] = ["tecnico@demo", "joana@demo", "rafael@demo"];
/// Orders of the history, one opened every ~20 h.
const HISTORY_ORDERS: i64 = 24;

/// Three weeks of a shop's work through the API with the clock in the past: orders opened every ~20 hours by
/// three technicians, most closed after days of work (labor only: no NF-e to wait for), some cancelled, and the
/// rest left in the flow's open statuses since the day they got there — the old ones beyond their SLA or due
/// date (the board's red cards).
async fn seed_history(client: &Client<'_>, clock: &DemoClock) -> Result<usize, String> {
    const CUSTOMERS: [(&str, &str); 6] = [
        ("Lucas Martins", "529.982.247-25"),
        ("Fernanda Rocha", "111.444.777-35"),
        ("Marcos Teixeira", "390.533.447-05"),
        ("Juliana Mendes", "123.456.789-09"),
        ("Restaurante Sabor Caseiro Ltda", "11.222.333/0001-81"),
        ("Patrícia Gomes", "987.654.321-00"),
    ];
    const EQUIPMENT: [(&str, &str, &str, &str); 6] = [
        ("Notebook", "Acer", "Aspire 5", "NXA5"),
        ("Smartphone", "Motorola", "Moto G54", "MTG54"),
        ("Geladeira", "Brastemp", "BRM44", "BRM"),
        ("Ar-condicionado", "LG", "Dual Inverter 12k", "LGAC"),
        ("Forno elétrico", "Fischer", "Gourmet 44L", "FSCH"),
        ("Tablet", "Samsung", "Galaxy Tab A8", "TABA8"),
    ];
    const SERVICES: [(&str, &str); 3] =
        [("reparo", "Não liga"), ("manutencao", "Manutenção preventiva"), ("instalacao", "Instalação no local")];
    let hours = chrono::Duration::hours;
    let mut created = 0;
    for i in 0..HISTORY_ORDERS {
        let k = i as usize;
        clock.set(chrono::Duration::days(-HISTORY_DAYS) + hours(i * 20));
        let (name, document) = CUSTOMERS[k % CUSTOMERS.len()];
        let (description, brand, model, serial) = EQUIPMENT[k % EQUIPMENT.len()];
        let (service, problem) = SERVICES[k % SERVICES.len()];
        let due = (clock.now() + chrono::Duration::days(4 + i % 5)).date_naive();
        let mut body = order(
            customer(name, document, &format!("cliente{i}@example.com")),
            (description, brand, model, &format!("{serial}-{:04}", 1000 + i)),
            (service, problem),
            vec![labor("S-100", "Mão de obra", "1", &format!("{}.00", 120 + 15 * i))],
        );
        body["technician"] = json!(TECHNICIANS[k % TECHNICIANS.len()]);
        body["due_date"] = json!(due.to_string());
        let id = client.open(body).await?;
        created += 1;
        // Older orders went further; some are left where a shop's work stalls.
        let age_days = HISTORY_DAYS - i * 20 / 24;
        let walk: &[(&str, Value)] = &[
            ("quote/send", json!({})),
            ("quote/decision", json!({"decision": "approve"})),
            ("start", json!({})),
            ("finish", json!({"tests_performed": "Testado em bancada"})),
            ("validation", json!({"checklist": [{"item": "Funcionando", "ok": true}], "extra_items": []})),
            ("payment/request", json!({})),
            ("payments", json!({"amount": format!("{}.00", 120 + 15 * i), "method": "pix"})),
            ("release", json!({})),
            ("close", json!({})),
        ];
        let steps = match (i % 8, age_days) {
            (7, _) => {
                // The customer said no.
                clock.advance(hours(5));
                client.post(&id, "quote/send", json!({})).await?;
                clock.advance(hours(20));
                client.post(&id, "quote/decision", json!({"decision": "reject", "comment": "Ficou caro"})).await?;
                continue;
            }
            (_, d) if d > 7 => walk.len(),
            (0 | 3, _) => 1,
            (1 | 4, _) => 3,
            (2, _) => 4,
            (5, _) => 6,
            _ => 0,
        };
        for (step, body) in &walk[..steps] {
            clock.advance(hours(3 + i % 9));
            if *step == "release" {
                // The labor's NFS-e, issued at payment, before the release.
                client.wait_for_documents(&id, &["nfse"]).await?;
            }
            client.post(&id, step, body.clone()).await?;
        }
    }
    clock.set(chrono::Duration::zero());
    Ok(created as usize)
}

/// The demo company's emitter and its test certificate.
async fn seed_emitter(emitters: &dyn EmitterStore) -> Result<(), String> {
    let tenant = TenantId::parse(TENANT).map_err(|e| e.to_string())?;
    let cnpj = Cnpj::parse(DEMO_CNPJ).map_err(|e| e.to_string())?;
    // Campinas issues on the NFS-e Nacional (São Paulo capital keeps its own issuer): the labor's NFS-e too.
    let address = Address {
        street: "Rua Barão de Jaguara".into(),
        number: "1500".into(),
        complement: None,
        district: "Centro".into(),
        city: "Campinas".into(),
        city_code: CityCode::parse("3509502").map_err(|e| e.to_string())?,
        uf: Uf::parse("SP").map_err(|e| e.to_string())?,
        zip: Zip::parse("13015-002").map_err(|e| e.to_string())?,
    };
    let tech_responsible = TechResponsibleConfig {
        cnpj: DEMO_CNPJ.into(),
        contact: "Equipe Demo".into(),
        email: "fiscal@example.com".into(),
        phone: "11999990000".into(),
    };
    let config = EmitterConfig {
        nfse: Some(NfseSettings::example()),
        ..EmitterConfig::example(
            DEMO_CNPJ,
            "Oficina Demonstração Ltda",
            "Oficina Demo",
            address,
            "(19) 3333-4444",
            tech_responsible,
        )
    };
    osflow_invoicing::validate_nfse(&config).map_err(|e| format!("the demo emitter's NFS-e settings: {e}"))?;
    osflow_invoicing::validate(&config).map_err(|e| format!("the demo emitter: {e}"))?;
    let certificate = Certificate::generate_for_homologation(&cnpj, "OFICINA DEMONSTRACAO LTDA", 365)
        .map_err(|e| format!("the demo certificate: {e}"))?;
    let password: String = {
        use rand::Rng;
        rand::rng().sample_iter(rand::distr::Alphanumeric).take(24).map(char::from).collect()
    };
    let pkcs12 = certificate.to_pkcs12(&password).map_err(|e| format!("the demo certificate: {e}"))?;
    emitters.put_emitter(&tenant, &config).await.map_err(|e| format!("saving the demo emitter: {e}"))?;
    emitters
        .put_certificate(&tenant, &pkcs12, &password)
        .await
        .map_err(|e| format!("saving the demo certificate: {e}"))?;
    Ok(())
}

/// Whether the demo company has any order, in any status of its flow.
async fn has_orders(gw: &Gateway) -> Result<bool, String> {
    let tenant = TenantId::parse(TENANT).map_err(|e| e.to_string())?;
    let caller =
        Caller { tenant, user: UserId::parse("demo-seed").map_err(|e| e.to_string())?, roles: Role::ALL.to_vec() };
    let flow = gw.app().get_flow(&caller).await.map_err(|e| format!("reading the demo flow: {e}"))?;
    for status in &flow.def.statuses {
        let page = gw
            .app()
            .list_by_status(&caller, &status.key, &PageRequest::first(1))
            .await
            .map_err(|e| format!("listing demo orders: {e}"))?;
        if !page.items.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sends requests through the gateway, as the demo's staff.
struct Client<'a> {
    gw: &'a Gateway,
    token: String,
}

impl Client<'_> {
    async fn call(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        // The seeding's gateway has no request limit (it is this process, not a client).
        let req = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .map_err(|e| e.to_string())?;
        let resp = self.gw.dispatch(req, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
        let status = resp.status();
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        if !status.is_success() {
            return Err(format!("{method} {path} answered {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: unreadable response ({e}): {text}"))
    }

    async fn post(&self, id: &str, step: &str, body: Value) -> Result<Value, String> {
        self.call(Method::POST, &format!("/v1/orders/{id}/{step}"), body).await
    }

    /// Waits until the order shows a document of each of `kinds` (`nfe`, `nfse`) and all of them authorized.
    async fn wait_for_documents(&self, id: &str, kinds: &[&str]) -> Result<(), String> {
        let deadline = std::time::Instant::now() + INVOICE_WAIT;
        loop {
            let order = self.call(Method::GET, &format!("/v1/orders/{id}"), Value::Null).await?;
            let docs = order["invoices"].as_array().cloned().unwrap_or_default();
            if let Some(bad) = docs.iter().find(|d| matches!(d["state"].as_str(), Some("rejected" | "denied"))) {
                return Err(format!("a demo fiscal document was refused: {bad}"));
            }
            let issued = kinds.iter().all(|k| docs.iter().any(|d| d["kind"] == *k))
                && docs.iter().all(|d| d["state"] == "authorized");
            if issued {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("the demo order's documents after {INVOICE_WAIT:?}: {}", order["invoices"]));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens an order and returns its id.
    async fn open(&self, body: Value) -> Result<String, String> {
        let created = self.call(Method::POST, "/v1/orders", body).await?;
        created["id"].as_str().map(str::to_owned).ok_or_else(|| format!("POST /v1/orders returned no id: {created}"))
    }

    /// Opens an order, sends its quote and approves it as the customer would; returns its id.
    async fn open_approved(&self, body: Value) -> Result<String, String> {
        let id = self.open(body).await?;
        self.post(&id, "quote/send", json!({})).await?;
        self.post(&id, "quote/decision", json!({"decision": "approve"})).await?;
        Ok(id)
    }
}

/// The reference example order (ARCHITECTURE.md).
fn maria() -> Value {
    order(
        customer("Maria Souza", "529.982.247-25", "maria@example.com"),
        ("Notebook", "Dell", "Inspiron 15", "BR123456"),
        ("reparo", "Não liga"),
        vec![
            part("P-001", "Fonte 65W", "85044010", "1", "149.90"),
            labor("S-001", "Diagnóstico e reparo", "1", "120.00"),
        ],
    )
}

fn customer(name: &str, document: &str, email: &str) -> Value {
    json!({
        "name": name, "document": document, "email": email, "phone": "+55 11 98765-4321",
        "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                    "city_code": "3550308", "uf": "SP", "zip": "01305-000"}
    })
}

fn order(customer: Value, equipment: (&str, &str, &str, &str), service: (&str, &str), items: Vec<Value>) -> Value {
    let (description, brand, model, serial) = equipment;
    json!({
        "customer": customer,
        "equipment": {"description": description, "brand": brand, "model": model, "serial": serial},
        "service": {"type": service.0, "reported_problem": service.1},
        "items": items,
        "due_date": days_ahead(6)
    })
}

/// The date `days` after today (São Paulo), as the API takes it: the examples' material and due dates stay in
/// the future whatever day the demo is first started.
fn days_ahead(days: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(-3)).date_naive();
    (today + chrono::Duration::days(days)).to_string()
}

fn part(code: &str, description: &str, ncm: &str, quantity: &str, unit_price: &str) -> Value {
    json!({"kind": "part", "code": code, "description": description, "ncm": ncm, "quantity": quantity,
           "unit_price": unit_price})
}

fn labor(code: &str, description: &str, quantity: &str, unit_price: &str) -> Value {
    json!({"kind": "labor", "code": code, "description": description, "quantity": quantity, "unit_price": unit_price})
}
