//! The municipal part: the emitter's NFS-e settings (checked before storing, errors naming the field, a
//! municipality outside the national system said clearly) and the DPS of an order's labor (one per service
//! code), checked with the official NFS-e 1.01 schema (NFSE_SCHEMA_DIR) and xmlsec1, and issued by the Sefin
//! simulator.

use osflow_app::{ApproximateTaxesConfig, FiscalChecks, NfseSettings};
use osflow_invoicing::{NfeChecks, dps_inputs, validate_nfse};
use osflow_nfse::simulator::Simulator;
use osflow_nfse::{SignatureAlgorithm, build, sign_dps};

use super::*;

use osflow_testkit::emitter::{campinas_address, example_nfse_settings as settings, nfse_codes as codes};

fn nfse_emitter(n: NfseSettings) -> EmitterConfig {
    EmitterConfig { address: campinas_address(), nfse: Some(n), ..emitter(simples()) }
}

fn field_of(c: &EmitterConfig) -> String {
    NfeChecks.check_emitter(c).unwrap_err().field
}

#[test]
fn nfse_settings_are_checked_and_each_refusal_names_its_field() {
    assert!(NfeChecks.check_emitter(&nfse_emitter(settings())).is_ok());
    assert!(validate_nfse(&emitter(simples())).unwrap().is_none(), "no municipal part: no NFS-e");
    let with = |f: &dyn Fn(&mut NfseSettings)| {
        let mut s = settings();
        f(&mut s);
        field_of(&nfse_emitter(s))
    };
    assert_eq!(with(&|s| s.simples_option = 4), "nfse.simples_option");
    assert_eq!(with(&|s| s.simples_option = 2), "nfse.simples_regime");
    assert_eq!(with(&|s| s.serie = 0), "nfse.serie");
    assert_eq!(with(&|s| s.service.c_trib_nac = "1401".into()), "nfse.service.c_trib_nac");
    assert_eq!(with(&|s| s.service.c_nbs = Some("12".into())), "nfse.service.c_nbs");
    assert_eq!(
        with(&|s| {
            s.services_by_type.insert("x".into(), codes("14010", "120012000"));
        }),
        "nfse.services_by_type.x.c_trib_nac"
    );
    assert_eq!(with(&|s| s.signature = "rsa-md5".into()), "nfse.signature");
    assert_eq!(with(&|s| s.iss_rate = Some("dois".into())), "nfse.iss_rate");
    // Rules of the national system, found by the DPS writer itself.
    assert_eq!(with(&|s| s.approximate_taxes = ApproximateTaxesConfig::NotInformed), "nfse.approximate_taxes");
    assert_eq!(
        with(&|s| {
            s.simples_option = 1;
            s.simples_regime = None;
        }),
        "nfse.iss_rate",
        "a non-optant does not inform pAliq"
    );
    assert_eq!(with(&|s| s.special_regime = 6), "nfse.iss_rate", "no pAliq with a special regime");
    // A municipality outside the national system, said clearly.
    let sp = EmitterConfig { nfse: Some(settings()), ..emitter(simples()) };
    let e = NfeChecks.check_emitter(&sp).unwrap_err();
    assert_eq!(e.field, "nfse");
    assert!(e.message.contains("São Paulo") && e.message.contains("emissor próprio"), "{}", e.message);
}

fn check(xml: &str) {
    let dir = temp_dir();
    let f = dir.join("dps.xml");
    std::fs::write(&f, xml).unwrap();
    let schemas = std::env::var_os("NFSE_SCHEMA_DIR").map(PathBuf::from).expect("NFSE_SCHEMA_DIR: run scripts/test");
    let out = Process::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas.join("DPS_v1.01.xsd"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    let pem = dir.join("cert.pem");
    std::fs::write(&pem, certificate().x509().to_pem().unwrap()).unwrap();
    let out = Process::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg("http://www.sped.fazenda.gov.br/nfse:infDPS")
        .arg("--trusted-pem")
        .arg(&pem)
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmlsec1: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

fn installation(price: &str) -> LineInput {
    osflow_testkit::labor("instalacao", "Instalação & configuração <rede> \"Wi-Fi\" d'água", "1", price)
}

#[tokio::test]
async fn an_order_with_two_service_codes_has_two_dps_the_simulator_issues() {
    let w = world(Some(simples())).await;
    let order = w
        .paid_order(
            cpf(31),
            vec![part("P-1", "Tela", "1", "300.00"), labor("150.00"), labor("50.00"), installation("80.00")],
        )
        .await;
    let valid = validate_nfse(&nfse_emitter(settings())).unwrap().unwrap();
    let inputs = dps_inputs(&order, &valid, &[7, 8], chrono::Utc::now());
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].service.c_trib_nac, "140101");
    assert_eq!(inputs[0].values.amount.to_string(), "200.00", "the two labor lines of the default code together");
    assert_eq!(inputs[1].service.c_trib_nac, "140201");
    assert_eq!(inputs[1].number, 8);
    let sim = Simulator::new();
    for (i, input) in inputs.iter().enumerate() {
        let alg = [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1][i];
        let dps = sign_dps(&build(input).expect("build"), certificate(), alg).expect("sign");
        check(dps.xml());
        let nfse = sim.issue_xml(dps.xml()).expect("issued");
        assert_eq!(nfse.dps_id, Some(*dps.id()));
    }
    assert_eq!(sim.issued_count(), 2);
}

#[tokio::test]
async fn mei_and_iss_withheld_by_a_cnpj_buyer() {
    let w = world(Some(simples())).await;
    let order = w.paid_order(Document::Cnpj(Cnpj::parse("11222333000181").unwrap()), vec![labor("120.00")]).await;
    let mut normal = settings();
    normal.simples_option = 1;
    normal.simples_regime = None;
    normal.iss_rate = None;
    normal.iss_withholding = 2;
    normal.approximate_taxes =
        ApproximateTaxesConfig::Rates { federal: "13.45".into(), state: "0".into(), municipal: "2".into() };
    let mut mei = settings();
    mei.simples_option = 2;
    mei.simples_regime = None;
    mei.iss_rate = None;
    mei.approximate_taxes = ApproximateTaxesConfig::NotInformed;
    for s in [normal, mei] {
        let valid = validate_nfse(&nfse_emitter(s)).unwrap().unwrap();
        let inputs = dps_inputs(&order, &valid, &[1], chrono::Utc::now());
        assert_eq!(inputs.len(), 1);
        let dps = sign_dps(&build(&inputs[0]).expect("build"), certificate(), valid.algorithm).unwrap();
        check(dps.xml());
    }
}

// ---------------------------------------------------------------------------------------------- issuing

use std::sync::atomic::AtomicBool;

use osflow_invoicing::{NfseAuthorityFor, NfseInvoicer, NfseIssued, SharedNfseAuthority};
use osflow_nfse::{DpsId, EventOutcome, IssueOutcome, IssuedNfse, NfseAuthority, NfseKey, SignedDps, TransportError};

/// Sefin that processes the first DPS but whose answer is lost (a timeout), then answers normally.
struct LosesFirstAnswer {
    sim: Arc<Simulator>,
    lost: AtomicBool,
}

#[async_trait]
impl NfseAuthority for LosesFirstAnswer {
    async fn issue(&self, dps: &SignedDps) -> Result<IssueOutcome, TransportError> {
        let out = self.sim.issue(dps).await?;
        if !self.lost.swap(true, Ordering::SeqCst) {
            return Err(TransportError::Timeout { consulted: None });
        }
        Ok(out)
    }
    async fn find_by_dps(&self, id: &DpsId) -> Result<Option<NfseKey>, TransportError> {
        self.sim.find_by_dps(id).await
    }
    async fn nfse(&self, key: &NfseKey) -> Result<Option<IssuedNfse>, TransportError> {
        self.sim.nfse(key).await
    }
    async fn register_event(&self, e: &osflow_nfse::event::SignedEvent) -> Result<EventOutcome, TransportError> {
        self.sim.register_event(e).await
    }
    async fn event(&self, key: &NfseKey, tp: &str, seq: u32) -> Result<Option<Arc<str>>, TransportError> {
        self.sim.event(key, tp, seq).await
    }
    async fn danfse(&self, key: &NfseKey) -> Result<Option<Vec<u8>>, TransportError> {
        self.sim.danfse(key).await
    }
}

/// Labor discounts (the line's own and its share of the quote's) reach the DPS as `vDescCondIncond/vDescIncond`
/// next to `vServ` before discounts; the DPS passes the schema and the signature, and the simulator issues it.
#[tokio::test]
async fn labor_discounts_reach_the_dps_as_unconditional_discounts() {
    let w = world(Some(simples())).await;
    let mut repair = labor("150.00");
    repair.discount = Some(osflow_domain::Discount::Percent { percent: "10".parse().unwrap() });
    let whole = Some(osflow_domain::Discount::Value { value: money("15.00") });
    let order = w.paid_order_with_discount(cpf(32), vec![repair, labor("50.00"), installation("80.00")], whole).await;
    // after their own: 135.00, 50.00, 80.00 (265.00); the 15.00 shared as 7.64, 2.83, 4.53
    let valid = validate_nfse(&nfse_emitter(settings())).unwrap().unwrap();
    let inputs = dps_inputs(&order, &valid, &[1, 2], chrono::Utc::now());
    let values: Vec<(String, Option<String>)> = inputs
        .iter()
        .map(|i| (i.values.amount.to_string(), i.values.unconditional_discount.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        values,
        [("200.00".to_owned(), Some("25.47".to_owned())), ("80.00".to_owned(), Some("4.53".to_owned()))]
    );
    let sim = Simulator::new();
    for input in &inputs {
        let dps = sign_dps(&build(input).expect("build"), certificate(), SignatureAlgorithm::RsaSha256).expect("sign");
        check(dps.xml());
        assert!(dps.xml().contains("<vDescCondIncond><vDescIncond>"), "{}", dps.xml());
        sim.issue_xml(dps.xml()).expect("issued");
    }
    assert_eq!(order.amount_due(), money("250.00"));
}

async fn nfse_world(s: NfseSettings, authority: Arc<dyn NfseAuthorityFor>) -> (World, Arc<NfseInvoicer>) {
    let w = world(Some(simples())).await;
    w.store.put_emitter(&w.tenant, &nfse_emitter(s)).await.unwrap();
    let nfse = Arc::new(NfseInvoicer::new(w.app.clone(), Arc::new(w.store.clone()), authority));
    (w, nfse)
}

fn documents(r: NfseIssued) -> Vec<osflow_app::InvoiceRecord> {
    match r {
        NfseIssued::Documents(d) => d,
        NfseIssued::NothingToInvoice => panic!("the order has labor"),
    }
}

fn check_nfse(xml: &str) {
    let dir = temp_dir();
    let f = dir.join("nfse.xml");
    std::fs::write(&f, xml).unwrap();
    let schemas = std::env::var_os("NFSE_SCHEMA_DIR").map(PathBuf::from).expect("NFSE_SCHEMA_DIR: run scripts/test");
    let out = Process::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas.join("NFSe_v1.01.xsd"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_labor_only_order_delivered_three_times_has_one_dps_and_one_nfse() {
    let sim = Arc::new(Simulator::new());
    let (w, nfse) = nfse_world(settings(), Arc::new(SharedNfseAuthority(sim.clone()))).await;
    let order = w.paid_order(cpf(41), vec![labor("180.00")]).await;
    // The NF-e invoicer has nothing to do for a labor-only order.
    assert_eq!(w.invoicer.issue(&w.tenant, &order.id).await.unwrap(), Issued::NothingToInvoice);
    let (a, b, c) = tokio::join!(
        nfse.issue(&w.tenant, &order.id),
        nfse.issue(&w.tenant, &order.id),
        nfse.issue(&w.tenant, &order.id)
    );
    for r in [a, b, c] {
        // A delivery racing another may find Sefin's E0014, which the port settles: every delivery succeeds.
        let docs = documents(r.expect("issue"));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].number, 1);
    }
    let docs = documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    let r = &docs[0];
    assert_eq!(r.state, InvoiceState::Authorized);
    assert_eq!(r.access_key.len(), 45, "the DPS Id");
    assert_eq!(r.protocol.as_ref().map(String::len), Some(50), "the NFS-e key");
    assert_eq!(sim.issued_count(), 1, "one NFS-e");
    let blob = w.blobs.get(&w.tenant, r.xml_ref.as_deref().unwrap()).await.unwrap().unwrap();
    check_nfse(std::str::from_utf8(&blob.bytes).unwrap());
    let listed = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    // The order shows it (once, however many deliveries), and its timeline went pending -> authorized.
    let shown = w.order(&order.id).await;
    let on_order: Vec<_> = shown.documents(osflow_domain::DocumentKind::Nfse).collect();
    assert_eq!(on_order.len(), 1);
    assert_eq!((on_order[0].state, &on_order[0].key, &on_order[0].protocol), (r.state, &r.access_key, &r.protocol));
    let states: Vec<_> = w
        .app
        .orders
        .timeline(&w.tenant, &order.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.change {
            osflow_domain::Change::InvoiceUpdated { invoice } => Some(invoice.state),
            _ => None,
        })
        .collect();
    assert_eq!(states, [InvoiceState::Pending, InvoiceState::Authorized]);
}

#[tokio::test]
async fn twenty_orders_paid_concurrently_take_dps_numbers_1_to_20() {
    let sim = Arc::new(Simulator::new());
    let (w, nfse) = nfse_world(settings(), Arc::new(SharedNfseAuthority(sim.clone()))).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(w.paid_order(cpf(200 + i), vec![labor("199.90")]).await.id);
    }
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (nfse, tenant, id) = (nfse.clone(), w.tenant.clone(), *id);
            tokio::spawn(async move { nfse.issue(&tenant, &id).await })
        })
        .collect();
    let mut numbers = std::collections::BTreeSet::new();
    for t in tasks {
        let docs = documents(t.await.unwrap().expect("issue"));
        assert_eq!(docs[0].state, InvoiceState::Authorized);
        assert!(numbers.insert(docs[0].number));
    }
    assert_eq!(numbers, (1..=20).collect());
    assert_eq!(sim.issued_count(), 20);
}

#[tokio::test]
async fn a_rejection_is_retried_after_the_fix_with_the_same_dps() {
    let sim = Arc::new(Simulator::new());
    let mut wrong = settings();
    wrong.service.c_trib_nac = "999999".into();
    let (w, nfse) = nfse_world(wrong, Arc::new(SharedNfseAuthority(sim.clone()))).await;
    let order = w.paid_order(cpf(51), vec![labor("175.00")]).await;
    let first = documents(nfse.issue(&w.tenant, &order.id).await.unwrap()).remove(0);
    assert_eq!(first.state, InvoiceState::Rejected);
    assert!(first.message.as_deref().unwrap().contains("999999"), "{:?}", first.message);
    w.store.put_emitter(&w.tenant, &nfse_emitter(settings())).await.unwrap();
    let fixed = documents(nfse.issue(&w.tenant, &order.id).await.unwrap()).remove(0);
    assert_eq!(fixed.state, InvoiceState::Authorized);
    assert_eq!((fixed.number, &fixed.access_key), (first.number, &first.access_key), "same DPS number and Id");
    assert_eq!(sim.issued_count(), 1);
}

#[tokio::test]
async fn a_timeout_is_settled_by_the_dps_consult_without_a_second_nfse() {
    let sim = Arc::new(Simulator::new());
    let flaky = LosesFirstAnswer { sim: sim.clone(), lost: AtomicBool::new(false) };
    let (w, nfse) = nfse_world(settings(), Arc::new(SharedNfseAuthority(Arc::new(flaky)))).await;
    let order = w.paid_order(cpf(61), vec![labor("160.00")]).await;
    assert!(matches!(
        nfse.issue(&w.tenant, &order.id).await,
        Err(osflow_invoicing::InvoiceError::Transport(TransportError::Timeout { .. }))
    ));
    let pending = w.store.invoices(&w.tenant, &order.id).await.unwrap().remove(0);
    assert_eq!(pending.state, InvoiceState::Pending);
    let docs = documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    assert_eq!(docs[0].state, InvoiceState::Authorized);
    assert_eq!(docs[0].number, pending.number);
    assert_eq!(sim.issued_count(), 1, "found by GET /dps, not sent again");
}

#[tokio::test]
async fn parts_and_two_service_codes_give_one_nfe_and_two_nfse() {
    let sim = Arc::new(Simulator::new());
    let (w, nfse) = nfse_world(settings(), Arc::new(SharedNfseAuthority(sim.clone()))).await;
    let order =
        w.paid_order(cpf(71), vec![part("P-1", "Tela", "1", "300.00"), labor("150.00"), installation("80.00")]).await;
    let nfe = w.issue(&order.id).await;
    assert_eq!(nfe.state, InvoiceState::Authorized);
    let docs = documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    assert_eq!(docs.iter().map(|d| d.number).collect::<Vec<_>>(), [1, 2]);
    assert!(docs.iter().all(|d| d.state == InvoiceState::Authorized));
    let again = documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    assert_eq!(again, docs);
    assert_eq!(sim.issued_count(), 2);
    assert_eq!(w.store.invoices(&w.tenant, &order.id).await.unwrap().len(), 3, "the NF-e and two DPS");
}

/// Sefin whose ADN does not serve the DANFSe (its route was suspended in production).
struct NoAdnDanfse(Arc<Simulator>);

#[async_trait]
impl NfseAuthority for NoAdnDanfse {
    async fn issue(&self, dps: &SignedDps) -> Result<IssueOutcome, TransportError> {
        self.0.issue(dps).await
    }
    async fn find_by_dps(&self, id: &DpsId) -> Result<Option<NfseKey>, TransportError> {
        self.0.find_by_dps(id).await
    }
    async fn nfse(&self, key: &NfseKey) -> Result<Option<IssuedNfse>, TransportError> {
        self.0.nfse(key).await
    }
    async fn register_event(&self, e: &osflow_nfse::event::SignedEvent) -> Result<EventOutcome, TransportError> {
        self.0.register_event(e).await
    }
    async fn event(&self, key: &NfseKey, tp: &str, seq: u32) -> Result<Option<Arc<str>>, TransportError> {
        self.0.event(key, tp, seq).await
    }
    async fn danfse(&self, _: &NfseKey) -> Result<Option<Vec<u8>>, TransportError> {
        Err(TransportError::Http { status: 404, body: "recurso suspenso".into() })
    }
}

/// The DANFSe is stored at issuance beside the NFS-e, drawn by the invoicer (the ADN does not serve it), and
/// read back through the use case by the DPS Id or the NFS-e key (pdftotext finds the key); an NF-e key or an
/// unknown key has none. Once the NFS-e is cancelled, the stored DANFSe says "CANCELADA".
#[tokio::test]
async fn the_danfse_is_stored_beside_the_nfse_and_drawn_again_when_it_is_cancelled() {
    let sim = Arc::new(Simulator::new());
    let (w, nfse) = nfse_world(settings(), Arc::new(SharedNfseAuthority(Arc::new(NoAdnDanfse(sim.clone()))))).await;
    let order = w.paid_order(cpf(71), vec![labor("210.00")]).await;
    let docs = documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    let (dps_id, key) = (docs[0].access_key.clone(), docs[0].protocol.clone().unwrap());
    let stored = w.blobs.get(&w.tenant, &osflow_app::danfse_blob_key(&order.id, &key)).await.unwrap().unwrap();
    assert_eq!(stored.content_type, "application/pdf");
    for by in [&dps_id, &key] {
        let blob = w.app.invoice_danfse(&w.caller, &order.id, by).await.unwrap();
        assert_eq!(blob.bytes, stored.bytes);
    }
    let text = pdf_text(&stored.bytes);
    assert!(text.contains(&format!("chave={key}")) && text.contains("R$ 210,00"), "{text}");
    assert!(!text.contains("CANCELADA"), "{text}");
    assert!(matches!(
        w.app.invoice_danfse(&w.caller, &order.id, "0".repeat(50).as_str()).await,
        Err(AppError::NotFound)
    ));
    // Delivered again: nothing new is issued or drawn.
    documents(nfse.issue(&w.tenant, &order.id).await.unwrap());
    assert_eq!(sim.issued_count(), 1);
    // Cancelled (e101101): the stored DANFSe is drawn again and says so.
    let cancelled = nfse.cancel(&w.tenant, &order.id, &dps_id, 1, "Serviço lançado em duplicidade").await.unwrap();
    assert_eq!(cancelled.state, osflow_domain::InvoiceState::Cancelled);
    let redrawn = w.app.invoice_danfse(&w.caller, &order.id, &dps_id).await.unwrap();
    let text = pdf_text(&redrawn.bytes);
    assert!(text.contains("CANCELADA") && text.contains(&format!("chave={key}")), "{text}");
}

/// The text of a PDF, by poppler's pdftotext.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("osflow-danfse-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("danfse.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Process::new(tool("pdftotext")).arg(&path).arg("-").output().expect("run pdftotext");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sefin by the emitter's environment: produção restrita and a production stand-in, each its own simulator.
struct SefinByEnvironment {
    restricted: Arc<Simulator>,
    production: Arc<Simulator>,
}

impl NfseAuthorityFor for SefinByEnvironment {
    fn authority(
        &self,
        settings: &osflow_invoicing::ValidNfse,
        _: &osflow_nfse::Certificate,
    ) -> Result<Arc<dyn NfseAuthority>, TransportError> {
        Ok(match settings.environment {
            osflow_nfse::Environment::Production => self.production.clone(),
            osflow_nfse::Environment::Homologation => self.restricted.clone(),
        })
    }
}

/// The emitter moves from homologação (tpAmb 2) to produção (tpAmb 1) after its DPS were rejected: each order's
/// NFS-e is issued in the production DPS sequence, and the homologação DPS left rejected no longer holds the
/// release (the latest attempt decides), whether its DPS Id differs from the new one's or is the same (each
/// environment numbers from 1 and the Id holds no environment: the new DPS is signed and sent anew, never the
/// kept homologação bytes).
#[tokio::test]
async fn a_dps_rejected_before_the_emitter_went_live_does_not_hold_the_release() {
    let sefin =
        SefinByEnvironment { restricted: Arc::new(Simulator::new()), production: Arc::new(Simulator::production()) };
    let (restricted, production) = (sefin.restricted.clone(), sefin.production.clone());
    let mut wrong = settings();
    wrong.service.c_trib_nac = "999999".into();
    let (w, nfse) = nfse_world(wrong, Arc::new(sefin)).await;
    let both = osflow_domain::Invoicing { nfe: true, nfse: true };
    let mut orders = Vec::new();
    for i in 0..3 {
        let order = w.paid_order(cpf(71 + i), vec![labor("175.00")]).await;
        let first = documents(nfse.issue(&w.tenant, &order.id).await.unwrap()).remove(0);
        assert_eq!((first.state, first.number), (InvoiceState::Rejected, u64::from(i) + 1));
        assert!(!w.order(&order.id).await.fiscal_documents_ready(both));
        orders.push((order.id, first));
    }
    let live = EmitterConfig { environment: FiscalEnvironment::Production, ..nfse_emitter(settings()) };
    w.store.put_emitter(&w.tenant, &live).await.unwrap();
    // production DPS 1 and 2 for the second and first orders (Ids unlike their homologação ones), 3 for the third
    // (the same Id as its homologação DPS 3)
    for (at, expected) in [(1, 1), (0, 2), (2, 3)] {
        let (id, homologation) = &orders[at];
        let live = documents(nfse.issue(&w.tenant, id).await.unwrap()).remove(0);
        assert_eq!((live.state, live.number), (InvoiceState::Authorized, expected), "{:?}", live.message);
        assert_eq!(live.numbering.environment, FiscalEnvironment::Production);
        assert_eq!(live.access_key == homologation.access_key, expected == 3);
        let order = w.order(id).await;
        let shown: Vec<_> = order.documents(osflow_domain::DocumentKind::Nfse).collect();
        assert_eq!(shown.len(), if expected == 3 { 1 } else { 2 }, "{shown:?}");
        assert_eq!(shown.last().unwrap().state, InvoiceState::Authorized);
        assert!(order.fiscal_documents_ready(both), "{shown:?}");
        w.step(id, Command::Release).await.expect("released");
        // the homologação record stays rejected in the store
        let records = w.store.invoices(&w.tenant, id).await.unwrap();
        assert!(
            records.iter().any(
                |r| r.numbering.environment == FiscalEnvironment::Homologation && r.state == InvoiceState::Rejected
            ),
            "{records:?}"
        );
        // each environment's DPS kept apart, each with its tpAmb
        for (environment, tp_amb) in [(FiscalEnvironment::Homologation, 2), (FiscalEnvironment::Production, 1)] {
            let key =
                if environment == FiscalEnvironment::Production { &live.access_key } else { &homologation.access_key };
            let blob = w.blobs.get(&w.tenant, &osflow_invoicing::nfse_issue::dps_blob_key(id, environment, key)).await;
            let xml = String::from_utf8(blob.unwrap().expect("kept DPS").bytes).unwrap();
            assert!(xml.contains(&format!("<tpAmb>{tp_amb}</tpAmb>")), "{xml}");
            check(&xml);
        }
    }
    assert_eq!((restricted.issued_count(), production.issued_count()), (0, 3));
}
