//! osflow-invoicing, one test binary: orders walked through the use cases on the SQLite store (temporary file),
//! issued with the homologation [`Simulator`] and a generated A1 certificate. Every authorized nfeProc is checked
//! by the official schema (`xmllint`, procNFe_v4.00.xsd) and by `xmlsec1`; both tools and NFE_SCHEMA_DIR come
//! from `scripts/test` (the tests fail saying so when they are missing).

use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use osflow_app::{
    App, AppError, BlobStore, Caller, EmitterConfig, EmitterStore, FiscalEnvironment, InvoiceStore, OpenOrderInput,
    TaxRules,
};
use osflow_domain::values::{Document, OrderId, Percent, TenantId};
use osflow_domain::{Command, Discount, DomainError, Guard, InvoiceState, LineInput, Order, Role};
use osflow_invoicing::{AuthorityFor, EmitterPolicy, Invoicer, Issued, SefazAuthorities, SharedAuthority, validate};
use osflow_nfe::simulator::Simulator;
use osflow_nfe::{Certificate, Cnpj};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::cpf;
use osflow_testkit::emitter::{CERTIFICATE_PASSWORD as PASSWORD, example_certificate as certificate};
use osflow_testkit::usecases::{opening, paid_in_full, step};
use osflow_testkit::{MemoryBlobs, Walk, caller, example_emitter, money, part};

use osflow_testkit::EMITTER_CNPJ;

// ---------------------------------------------------------------------------------------------- fixtures

struct World {
    store: SqliteStore,
    app: App,
    blobs: Arc<MemoryBlobs>,
    invoicer: Arc<Invoicer>,
    tenant: TenantId,
    caller: Caller,
}

fn emitter(tax: TaxRules) -> EmitterConfig {
    EmitterConfig { tax, ..example_emitter() }
}

fn simples() -> TaxRules {
    TaxRules::SimplesNacional { csosn: "102".into() }
}

fn normal() -> TaxRules {
    TaxRules::RegimeNormal {
        icms_percent: "18".into(),
        pis_percent: "1.65".into(),
        cofins_percent: "7.6".into(),
        pis_cofins_base_excludes_icms: false,
    }
}

async fn world(tax: Option<TaxRules>) -> World {
    let store = SqliteStore::open_temporary().expect("temporary SQLite store");
    let blobs = Arc::new(MemoryBlobs::default());
    let app = App::over(Arc::new(store.clone()))
        .with_invoicing(Arc::new(EmitterPolicy::new(Arc::new(store.clone()))))
        .with_blobs(blobs.clone());
    let tenant = TenantId::parse("oficina-teste").unwrap();
    if let Some(tax) = tax {
        store.put_emitter(&tenant, &emitter(tax)).await.unwrap();
        store.put_certificate(&tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    }
    let authority = SharedAuthority(Arc::new(Simulator::new()));
    let invoicer = Arc::new(Invoicer::new(app.clone(), Arc::new(store.clone()), Arc::new(authority)));
    let caller = caller(&tenant, "user-1", &[Role::Representante]);
    World { store, app, blobs, invoicer, tenant, caller }
}

fn labor(price: &str) -> LineInput {
    osflow_testkit::labor("S-001", "Diagnóstico e reparo", "1", price)
}

impl World {
    async fn step(&self, id: &OrderId, cmd: Command) -> Result<Order, AppError> {
        step(&self.app, &self.caller, id, cmd).await
    }

    /// Opens an order with these lines and walks it to paid in full (credit card 100.00, then PIX for the rest).
    async fn paid_order(&self, document: Document, items: Vec<LineInput>) -> Order {
        self.paid_order_with_discount(document, items, None).await
    }

    /// [`World::paid_order`] with a discount on the whole quote.
    async fn paid_order_with_discount(
        &self,
        document: Document,
        items: Vec<LineInput>,
        discount: Option<Discount>,
    ) -> Order {
        let input = OpenOrderInput { discount, ..opening(document, items) };
        paid_in_full(&self.app, &self.caller, input, &Walk::straight()).await
    }

    async fn issue(&self, id: &OrderId) -> osflow_app::InvoiceRecord {
        match self.invoicer.issue(&self.tenant, id).await.expect("issue") {
            Issued::Invoice(r) => *r,
            Issued::NothingToInvoice => panic!("the order has parts"),
        }
    }

    async fn order(&self, id: &OrderId) -> Order {
        self.app.orders.get(&self.tenant, id).await.unwrap().unwrap()
    }

    async fn proc_xml(&self, record: &osflow_app::InvoiceRecord) -> String {
        let key = record.xml_ref.as_deref().expect("an authorized invoice has its nfeProc");
        let blob = self.blobs.get(&self.tenant, key).await.unwrap().expect("stored nfeProc");
        assert_eq!(blob.content_type, "application/xml");
        String::from_utf8(blob.bytes).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------- external tools

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: run scripts/test (it installs libxml2-utils and xmlsec1)")
    })
}

fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("NFE_SCHEMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("NFE_SCHEMA_DIR is not set: run scripts/test"));
    assert!(
        dir.join("procNFe_v4.00.xsd").is_file(),
        "NFE_SCHEMA_DIR={} has no procNFe_v4.00.xsd: run scripts/test",
        dir.display()
    );
    dir
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "osflow-invoicing-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The nfeProc passes the official schema and its signature verifies with xmlsec1 (trusting the test certificate).
fn check_proc(xml: &str) {
    check_signed(xml, &schema_dir().join("procNFe_v4.00.xsd"), "infNFe");
}

/// `xml` passes the schema `xsd` and the signature over `signed` (e.g. "infEvento") verifies with xmlsec1.
fn check_signed(xml: &str, xsd: &std::path::Path, signed: &str) {
    let dir = temp_dir();
    let doc = dir.join("doc.xml");
    std::fs::write(&doc, xml).unwrap();
    let pem = dir.join("cert.pem");
    std::fs::write(&pem, certificate().x509().to_pem().unwrap()).unwrap();
    let out = Process::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg(&doc)
        .output()
        .expect("run xmllint");
    assert!(out.status.success(), "xmllint rejected {}:\n{}", doc.display(), String::from_utf8_lossy(&out.stderr));
    let out = Process::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg(format!("http://www.portalfiscal.inf.br/nfe:{signed}"))
        .arg("--trusted-pem")
        .arg(&pem)
        .arg(&doc)
        .output()
        .expect("run xmlsec1");
    assert!(
        out.status.success(),
        "xmlsec1 --verify failed on {}:\n{}",
        doc.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Vec<&'a str> {
    s.split(a).skip(1).filter_map(|rest| rest.split(b).next()).collect()
}

// ---------------------------------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread")]
async fn paid_order_is_authorized_and_release_waits_for_it() {
    let w = world(Some(simples())).await;
    assert!(w.app.invoicing.invoicing_enabled(&w.tenant).await.unwrap());
    let order = w
        .paid_order(
            cpf(7),
            vec![part("P-001", "Fonte 65W", "1", "149.90"), part("P-002", "Cabo", "2", "10.05"), labor("120.00")],
        )
        .await;

    // Paid but not invoiced: the release guard refuses.
    let refused = w.step(&order.id, Command::Release).await.unwrap_err();
    assert!(
        matches!(&refused, AppError::Domain(DomainError::GuardFailed { guard: Guard::InvoiceAuthorized, .. })),
        "{refused:?}"
    );

    let record = w.issue(&order.id).await;
    assert_eq!(record.state, InvoiceState::Authorized, "{record:?}");
    assert_eq!((record.number, record.numbering.cnpj.as_str(), record.numbering.serie), (1, EMITTER_CNPJ, 1));
    assert_eq!(record.cstat, Some(100));
    assert!(record.protocol.is_some());
    assert_eq!(&record.access_key[22..25], "001", "série in the key");
    assert_eq!(&record.access_key[35..43], record.cnf, "cNF in the key");

    let invoice = w.order(&order.id).await.nfe().cloned().expect("the order shows its invoice");
    assert_eq!(invoice.state, InvoiceState::Authorized);
    assert_eq!((invoice.number, invoice.key.as_str()), (1, record.access_key.as_str()));
    assert_eq!(invoice.protocol, record.protocol);

    let xml = w.proc_xml(&record).await;
    check_proc(&xml);
    // Parts only (149.90 + 20.10), the card with its group, the rest by PIX; no change; CSOSN 102, CPF buyer.
    assert_eq!(between(&xml, "<vNF>", "</vNF>"), ["170.00"]);
    assert_eq!(between(&xml, "<tPag>", "</tPag>"), ["03", "17"]);
    assert_eq!(between(&xml, "<vPag>", "</vPag>"), ["100.00", "70.00"]);
    assert!(xml.contains("<card><tpIntegra>2</tpIntegra><cAut>A1B2C3</cAut></card>"), "{xml}");
    assert!(!xml.contains("<vTroco>"));
    assert_eq!(between(&xml, "<CSOSN>", "</CSOSN>"), ["102", "102"]);
    assert_eq!(between(&xml, "<det nItem=", ">").len(), 2, "labor is not on the NF-e");
    assert!(xml.contains(&format!("<CPF>{}</CPF>", order.customer.document.as_str())));
    assert!(xml.contains(&format!("ordem de serviço nº {}", order.number)));

    let released = w.step(&order.id, Command::Release).await.expect("release after authorization");
    assert_ne!(released.status, order.status);
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivery_issues_one_number_and_one_document() {
    let w = world(Some(simples())).await;
    let order = w.paid_order(cpf(8), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let first = w.issue(&order.id).await;
    let events_after_first = w.app.orders.timeline(&w.tenant, &order.id).await.unwrap().len();
    for _ in 0..2 {
        assert_eq!(w.issue(&order.id).await, first);
    }
    let records = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(records, vec![first.clone()]);
    assert_eq!(w.blobs.len(), 2, "one stored document (the nfeProc) and its DANFE");
    let danfe = osflow_app::BlobStore::get(
        w.blobs.as_ref(),
        &w.tenant,
        &osflow_app::danfe_blob_key(&order.id, &first.access_key),
    )
    .await
    .unwrap()
    .expect("the DANFE, drawn at authorization");
    assert_eq!(danfe.content_type, "application/pdf");
    assert!(danfe.bytes.starts_with(b"%PDF-"));
    assert_eq!(
        w.app.orders.timeline(&w.tenant, &order.id).await.unwrap().len(),
        events_after_first,
        "a redelivery adds nothing to the timeline"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_orders_issued_concurrently_take_numbers_1_to_20() {
    let w = world(Some(simples())).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(w.paid_order(cpf(100 + i), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let (invoicer, tenant) = (w.invoicer.clone(), w.tenant.clone());
        tasks.spawn(async move { (id, invoicer.issue(&tenant, &id).await) });
    }
    let mut numbers = Vec::new();
    let mut keys = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (id, issued) = joined.unwrap();
        let Issued::Invoice(r) = issued.expect("issue") else { panic!("parts to invoice") };
        assert_eq!(r.state, InvoiceState::Authorized);
        assert_eq!(r.order_id, id);
        assert!(keys.insert(r.access_key.clone()));
        numbers.push(r.number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn rejection_is_shown_on_the_order_and_the_fixed_retry_keeps_number_and_key() {
    let w = world(Some(simples())).await;
    // Misconfigured: the certificate uploaded is another company's (cStat 213).
    let other = Certificate::generate_for_homologation(&Cnpj::parse("11222333000181").unwrap(), "OUTRA LTDA", 30)
        .expect("another certificate");
    w.store.put_certificate(&w.tenant, &other.to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    let order = w.paid_order(cpf(9), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;

    let rejected = w.issue(&order.id).await;
    assert_eq!(rejected.state, InvoiceState::Rejected);
    assert_eq!(rejected.cstat, Some(213));
    assert!(rejected.xml_ref.is_none());
    let shown = w.order(&order.id).await.nfe().cloned().unwrap();
    assert_eq!((shown.state, shown.cstat), (InvoiceState::Rejected, Some(213)));
    assert!(shown.message.as_deref().unwrap().contains("Certificado"), "{shown:?}");
    assert!(w.step(&order.id, Command::Release).await.is_err(), "a rejected invoice does not release");

    w.store.put_certificate(&w.tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    // The representante asks for the retry: the order shows the NF-e pending again and the event goes to the
    // invoicer's queue; a pending NF-e may be retried too (its message may have been lost), an authorized one not.
    let retried = w.step(&order.id, Command::RetryInvoice { key: None }).await.expect("retry");
    let pending = retried.nfe().cloned().unwrap();
    assert_eq!((pending.state, pending.cstat, &pending.key), (InvoiceState::Pending, None, &rejected.access_key));
    let last = w.app.orders.timeline(&w.tenant, &order.id).await.unwrap().pop().unwrap();
    assert!(osflow_bus::triggers_invoicing(&last), "{last:?}");
    w.step(&order.id, Command::RetryInvoice { key: None }).await.expect("a pending NF-e can be retried");
    let authorized = w.issue(&order.id).await;
    assert_eq!(authorized.state, InvoiceState::Authorized);
    assert_eq!(
        (authorized.number, &authorized.cnf, &authorized.access_key),
        (rejected.number, &rejected.cnf, &rejected.access_key)
    );
    check_proc(&w.proc_xml(&authorized).await);
    assert_eq!(w.order(&order.id).await.nfe().cloned().unwrap().state, InvoiceState::Authorized);
    match w.step(&order.id, Command::RetryInvoice { key: None }).await {
        Err(AppError::Domain(osflow_domain::DomainError::InvoiceNotRejected { state })) => {
            assert_eq!(state, Some(InvoiceState::Authorized))
        }
        other => panic!("an authorized NF-e is not retried: {other:?}"),
    }
    w.step(&order.id, Command::Release).await.expect("release");
}

#[tokio::test(flavor = "multi_thread")]
async fn regime_normal_with_a_cnpj_buyer() {
    let w = world(Some(normal())).await;
    let buyer = Document::parse("11.444.777/0001-61").unwrap();
    let order = w.paid_order(buyer, vec![part("P-010", "Placa-mãe", "1", "500.00"), labor("80.00")]).await;
    let record = w.issue(&order.id).await;
    assert_eq!(record.state, InvoiceState::Authorized, "{record:?}");
    let xml = w.proc_xml(&record).await;
    check_proc(&xml);
    assert!(xml.contains("<CNPJ>11444777000161</CNPJ>"));
    assert!(xml.contains("<CRT>3</CRT>"));
    assert_eq!(between(&xml, "<vICMS>", "</vICMS>")[0], "90.00");
    assert_eq!(between(&xml, "<vPIS>", "</vPIS>")[0], "8.25");
    assert_eq!(between(&xml, "<vCOFINS>", "</vCOFINS>")[0], "38.00");
}

/// Discounts per line (an amount, a percentage) and on the whole quote reach the NF-e as `vDesc` per item and in
/// `ICMSTot`, exact to the centavo: the document passes the schema, the signature and the SEFAZ simulator's totals
/// check (it is authorized), and the ICMS base of the normal regime is the value after the discount.
#[tokio::test(flavor = "multi_thread")]
async fn discounts_reach_the_nfe_per_item_and_in_the_totals() {
    let w = world(Some(normal())).await;
    let mut fonte = part("P-001", "Fonte 65W", "1", "149.90");
    fonte.discount = Some(Discount::Value { value: money("9.90") });
    let mut cabo = part("P-002", "Cabo", "3", "10.05");
    cabo.discount = Some(Discount::Percent { percent: Percent::parse("10").unwrap() });
    let whole = Some(Discount::Value { value: money("20.00") });
    let order = w.paid_order_with_discount(cpf(31), vec![fonte, cabo, labor("120.00")], whole).await;
    // 149.90 − 9.90 = 140.00; 30.15 − 3.02 = 27.13; labor 120.00: the 20.00 shared as 9.75, 1.89, 8.36
    let lines = &order.quote[0].lines;
    let disc: Vec<String> = lines.iter().map(|l| l.discount_total.to_string()).collect();
    assert_eq!(disc, ["19.65", "4.91", "8.36"]);
    assert_eq!(order.amount_due(), money("267.13"));
    let record = w.issue(&order.id).await;
    assert_eq!(record.state, InvoiceState::Authorized, "{record:?}");
    let xml = w.proc_xml(&record).await;
    check_proc(&xml);
    assert_eq!(between(&xml, "<vProd>", "</vProd>"), ["149.90", "30.15", "180.05"]);
    assert_eq!(between(&xml, "<vDesc>", "</vDesc>"), ["19.65", "4.91", "24.56"]);
    assert_eq!(between(&xml, "<vNF>", "</vNF>"), ["155.49"]);
    // the ICMS base (and PIS/COFINS) is the value after the discount; ICMS 18 %: 23.45 + 4.54
    let bases = between(&xml, "<vBC>", "</vBC>");
    assert!(bases.contains(&"130.25") && bases.contains(&"25.24"), "{bases:?}");
    assert_eq!(between(&xml, "<vICMS>", "</vICMS>")[..2], ["23.45", "4.54"]);
    let paid: Vec<&str> = between(&xml, "<vPag>", "</vPag>");
    let sum: rust_decimal::Decimal = paid.iter().map(|v| v.parse::<rust_decimal::Decimal>().unwrap()).sum();
    assert_eq!(sum.to_string(), "155.49", "the parts' payments cover vNF exactly");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_without_parts_issues_nothing() {
    let w = world(Some(simples())).await;
    let order = w.paid_order(cpf(10), vec![labor("120.00")]).await;
    assert_eq!(w.invoicer.issue(&w.tenant, &order.id).await.unwrap(), Issued::NothingToInvoice);
    assert!(w.store.invoices(&w.tenant, &order.id).await.unwrap().is_empty());
    assert!(w.order(&order.id).await.nfe().is_none());
    w.step(&order.id, Command::Release).await.expect("nothing to invoice: the guard lets it go");
}

#[tokio::test(flavor = "multi_thread")]
async fn emitter_store_keeps_the_certificate_apart_and_drives_the_policy() {
    let w = world(None).await;
    assert!(!w.app.invoicing.invoicing_enabled(&w.tenant).await.unwrap());
    assert!(w.store.emitter(&w.tenant).await.unwrap().is_none());
    assert!(w.store.certificate(&w.tenant).await.unwrap().is_none());

    let config = emitter(normal());
    w.store.put_emitter(&w.tenant, &config).await.unwrap();
    assert_eq!(w.store.emitter(&w.tenant).await.unwrap(), Some(config));
    assert!(w.app.invoicing.invoicing_enabled(&w.tenant).await.unwrap());
    let other = TenantId::parse("outra-oficina").unwrap();
    assert!(!w.app.invoicing.invoicing_enabled(&other).await.unwrap());

    assert_eq!(w.store.put_certificate(&w.tenant, b"p12-1", "secret-password").await.unwrap(), 1);
    assert_eq!(w.store.put_certificate(&w.tenant, b"p12-2", "secret-password").await.unwrap(), 2);
    let cert = w.store.certificate(&w.tenant).await.unwrap().unwrap();
    assert_eq!((cert.pkcs12.as_slice(), cert.revision), (&b"p12-2"[..], 2));
    assert!(!format!("{cert:?}").contains("secret-password"));

    // No certificate that parses: nothing is sent; the attempt ends rejected with the reason and no cStat.
    let order = w.paid_order(cpf(11), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let Issued::Invoice(failed) = w.invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!((failed.state, failed.cstat), (InvoiceState::Rejected, None));
    assert!(failed.message.as_deref().unwrap().starts_with("certificado digital"), "{failed:?}");
}

/// What the first `authorize` reaching [`Counting`] gets.
enum FirstAnswer {
    /// The simulator's.
    Answered,
    /// The simulator processes it, but its answer is lost: what the SEFAZ client reports after a timeout whose
    /// consult did not find the document yet.
    Lost,
    /// This answer; the document never reaches the simulator.
    Scripted(osflow_nfe::Outcome),
}

/// The homologation simulator, counting the authorizations, consults, events and inutilizações it is asked for;
/// its first authorization may be answered otherwise ([`FirstAnswer`]).
struct Counting {
    inner: Simulator,
    first: Mutex<FirstAnswer>,
    authorizations: AtomicU32,
    consults: AtomicU32,
    events: AtomicU32,
    voids: AtomicU32,
}

impl Counting {
    fn new(first: FirstAnswer) -> Arc<Counting> {
        Arc::new(Counting {
            inner: Simulator::new(),
            first: Mutex::new(first),
            authorizations: AtomicU32::new(0),
            consults: AtomicU32::new(0),
            events: AtomicU32::new(0),
            voids: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl osflow_nfe::FiscalAuthority for Counting {
    async fn authorize(&self, nfe: &osflow_nfe::SignedNfe) -> Result<osflow_nfe::Outcome, osflow_nfe::TransportError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        let first = std::mem::replace(&mut *self.first.lock().unwrap(), FirstAnswer::Answered);
        match first {
            FirstAnswer::Answered => self.inner.authorize(nfe).await,
            FirstAnswer::Lost => {
                let _processed = self.inner.authorize(nfe).await;
                Err(osflow_nfe::TransportError::Timeout { consulted: None })
            }
            FirstAnswer::Scripted(outcome) => Ok(outcome),
        }
    }
    async fn consult(&self, key: &osflow_nfe::AccessKey) -> Result<osflow_nfe::Outcome, osflow_nfe::TransportError> {
        self.consults.fetch_add(1, Ordering::SeqCst);
        self.inner.consult(key).await
    }
    async fn status(&self) -> Result<osflow_nfe::ServiceStatus, osflow_nfe::TransportError> {
        self.inner.status().await
    }
    async fn send_event(
        &self,
        event: &osflow_nfe::SignedEvent,
    ) -> Result<osflow_nfe::EventReceipt, osflow_nfe::TransportError> {
        self.events.fetch_add(1, Ordering::SeqCst);
        self.inner.send_event(event).await
    }
    async fn void_numbers(
        &self,
        request: &osflow_nfe::SignedVoid,
    ) -> Result<osflow_nfe::VoidReceipt, osflow_nfe::TransportError> {
        self.voids.fetch_add(1, Ordering::SeqCst);
        self.inner.void_numbers(request).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_leaves_the_invoice_pending_and_the_retry_consults_before_sending() {
    let w = world(Some(simples())).await;
    let authority = Counting::new(FirstAnswer::Lost);
    let invoicer =
        Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(authority.clone())));
    let order = w.paid_order(cpf(12), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;

    let err = invoicer.issue(&w.tenant, &order.id).await.unwrap_err();
    assert!(matches!(err, osflow_invoicing::InvoiceError::Transport(_)), "{err:?}");
    let pending = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, InvoiceState::Pending);
    assert_eq!(w.order(&order.id).await.nfe().cloned().unwrap().state, InvoiceState::Pending);

    let Issued::Invoice(record) = invoicer.issue(&w.tenant, &order.id).await.expect("retry") else {
        panic!("parts to invoice")
    };
    assert_eq!(record.state, InvoiceState::Authorized);
    assert_eq!((record.number, &record.access_key), (pending[0].number, &pending[0].access_key));
    assert_eq!(authority.consults.load(Ordering::SeqCst), 1, "the retry consulted the key");
    assert_eq!(authority.authorizations.load(Ordering::SeqCst), 1, "and did not send the document again");
    check_proc(&w.proc_xml(&record).await);
    assert_eq!(w.order(&order.id).await.nfe().cloned().unwrap().state, InvoiceState::Authorized);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_certificate_is_used_by_the_next_issue() {
    let w = world(Some(simples())).await;
    // Another company's certificate (213: CNPJ base differs from the certificate's).
    let wrong =
        Certificate::generate_for_homologation(&Cnpj::parse("11444777000161").unwrap(), "OUTRA EMPRESA", 30).unwrap();
    w.store.put_certificate(&w.tenant, &wrong.to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    let order = w.paid_order(cpf(13), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;

    let rejected = w.issue(&order.id).await;
    assert_eq!((rejected.state, rejected.cstat), (InvoiceState::Rejected, Some(213)), "{rejected:?}");

    // The parsed certificate is cached per stored revision: the new upload is picked up.
    w.store.put_certificate(&w.tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    let authorized = w.issue(&order.id).await;
    assert_eq!(authorized.state, InvoiceState::Authorized);
    assert_eq!(authorized.access_key, rejected.access_key);
    check_proc(&w.proc_xml(&authorized).await);
}

/// A change to a valid configuration.
type Edit = fn(&mut EmitterConfig);

#[test]
fn configuration_errors_name_the_field_in_portuguese() {
    let ok = osflow_invoicing::validate(&emitter(normal())).expect("valid configuration");
    assert_eq!((ok.serie, ok.cfop.as_str(), ok.emitter.crt), (1, "5102", osflow_nfe::Crt::RegimeNormal));
    let cases: Vec<(&str, Edit)> = vec![
        ("cnpj", (|c| c.cnpj = "12345678000100".into())),
        ("ie", (|c| c.ie = "12-AB".into())),
        ("serie", (|c| c.serie = 1000)),
        ("cfop", (|c| c.cfop = "6102".into())),
        ("tax.csosn", (|c| c.tax = TaxRules::SimplesNacional { csosn: "101".into() })),
        (
            "tax.icms_percent",
            (|c| {
                c.tax = TaxRules::RegimeNormal {
                    icms_percent: "dezoito".into(),
                    pis_percent: "1.65".into(),
                    cofins_percent: "7.6".into(),
                    pis_cofins_base_excludes_icms: false,
                }
            }),
        ),
        ("tech_responsible.cnpj", (|c| c.tech_responsible.cnpj = "1".into())),
    ];
    for (field, edit) in cases {
        let mut config = emitter(normal());
        edit(&mut config);
        let err = osflow_invoicing::validate(&config).unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.to_string().starts_with("configuração do emitente inválida"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inconclusive_answer_leaves_the_invoice_pending_and_the_retry_consults_first() {
    for (c_stat, x_motivo) in [(656, "Rejeição: Consumo Indevido"), (108, "Serviço Paralisado Momentaneamente")] {
        let w = world(Some(simples())).await;
        let authority =
            Counting::new(FirstAnswer::Scripted(osflow_nfe::Outcome::Rejected { c_stat, x_motivo: x_motivo.into() }));
        let invoicer =
            Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(authority.clone())));
        let order = w.paid_order(cpf(13), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;

        let err = invoicer.issue(&w.tenant, &order.id).await.unwrap_err();
        assert!(matches!(err, osflow_invoicing::InvoiceError::Transport(_)), "{c_stat}: {err:?}");
        let pending = w.store.invoices(&w.tenant, &order.id).await.unwrap();
        assert_eq!(pending[0].state, InvoiceState::Pending, "{c_stat} is not a rejection");
        assert_eq!(w.order(&order.id).await.nfe().cloned().unwrap().state, InvoiceState::Pending);

        let Issued::Invoice(record) = invoicer.issue(&w.tenant, &order.id).await.expect("retry") else {
            panic!("parts to invoice")
        };
        assert_eq!(record.state, InvoiceState::Authorized);
        assert_eq!((record.number, &record.access_key), (pending[0].number, &pending[0].access_key));
        assert_eq!(authority.consults.load(Ordering::SeqCst), 1, "the retry consulted the key first");
        check_proc(&w.proc_xml(&record).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_homologation_nfe_never_stands_for_the_production_one() {
    let w = world(Some(simples())).await;
    let order = w.paid_order(cpf(14), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let Issued::Invoice(homologation) = w.invoicer.issue(&w.tenant, &order.id).await.unwrap() else {
        panic!("parts to invoice")
    };
    assert_eq!((homologation.state, homologation.number), (InvoiceState::Authorized, 1));
    assert_eq!(homologation.numbering.environment, FiscalEnvironment::Homologation);

    // The company goes live: the same order gets its own production NF-e, numbered in the production sequence
    // (the homologation simulator refuses tpAmb 1 with 252, which shows the document was built and sent anew).
    let live = EmitterConfig { environment: FiscalEnvironment::Production, ..emitter(simples()) };
    w.store.put_emitter(&w.tenant, &live).await.unwrap();
    let Issued::Invoice(production) = w.invoicer.issue(&w.tenant, &order.id).await.unwrap() else {
        panic!("parts to invoice")
    };
    assert_eq!(production.numbering.environment, FiscalEnvironment::Production);
    assert_eq!(production.number, 1, "production numbers start at 1");
    assert_ne!(production.access_key, homologation.access_key);
    assert_eq!((production.state, production.cstat), (InvoiceState::Rejected, Some(252)));
    let records = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(records.len(), 2, "both records kept: {records:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_that_does_not_load_rejects_the_attempt_and_the_retry_consults_first() {
    let w = world(Some(simples())).await;
    let authority = Counting::new(FirstAnswer::Lost);
    let invoicer =
        Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(authority.clone())));
    let order = w.paid_order(cpf(15), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    // Sent, the answer lost: pending, maybe authorized.
    assert!(invoicer.issue(&w.tenant, &order.id).await.is_err());
    // The certificate is replaced by one that does not load: nothing a redelivery can fix. The attempt ends as
    // rejected with the reason and no cStat (the queue moves on), not as an error.
    w.store.put_certificate(&w.tenant, b"not a pkcs12", PASSWORD).await.unwrap();
    let Issued::Invoice(failed) = invoicer.issue(&w.tenant, &order.id).await.expect("handled") else {
        panic!("parts to invoice")
    };
    assert_eq!((failed.state, failed.cstat), (InvoiceState::Rejected, None));
    assert!(failed.message.as_deref().unwrap().starts_with("certificado digital"), "{failed:?}");
    let shown = w.order(&order.id).await.nfe().cloned().unwrap();
    assert_eq!((shown.state, shown.cstat), (InvoiceState::Rejected, None));
    // Fixed and retried: consulted first (it was sent before), found authorized, not sent again.
    w.store.put_certificate(&w.tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    w.step(&order.id, Command::RetryInvoice { key: None }).await.expect("retry");
    let Issued::Invoice(done) = invoicer.issue(&w.tenant, &order.id).await.expect("issued") else {
        panic!("parts to invoice")
    };
    assert_eq!(
        (done.state, done.number, &done.access_key),
        (InvoiceState::Authorized, failed.number, &failed.access_key)
    );
    assert_eq!(authority.authorizations.load(Ordering::SeqCst), 1, "not sent a second time");
    assert_eq!(authority.consults.load(Ordering::SeqCst), 1, "consulted before");
}

#[path = "invoicing/cancel.rs"]
mod cancel;
#[path = "invoicing/contingency.rs"]
mod contingency;
#[path = "invoicing/nfse.rs"]
mod nfse;
#[path = "invoicing/voids.rs"]
mod voids;

#[test]
fn sefaz_authorities_need_trust_roots_and_keep_one_client_per_emitter_and_certificate() {
    assert!(SefazAuthorities::new(b"not a PEM".to_vec()).is_err());
    // Any PEM certificate makes a trust store; the test certificate will do.
    let body = certificate().cert_base64().as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap());
    let roots =
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", body.collect::<Vec<_>>().join("\n"));
    let authorities = SefazAuthorities::new(roots.clone().into_bytes()).unwrap();
    let valid = validate(&emitter(simples())).unwrap();
    let first = authorities.authority(&valid, certificate()).unwrap();
    let again = authorities.authority(&valid, certificate()).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "a warm container reuses the client (and its connections)");

    let replaced =
        Certificate::generate_for_homologation(&Cnpj::parse(EMITTER_CNPJ).unwrap(), "OFICINA TESTE LTDA", 30).unwrap();
    let after = authorities.authority(&valid, &replaced).unwrap();
    assert!(!Arc::ptr_eq(&first, &after), "a replaced certificate gets a client with it as TLS identity");
    assert!(!format!("{authorities:?}").contains("BEGIN"), "{authorities:?}");

    // The setting is the PEM itself or the path of a PEM file.
    assert!(SefazAuthorities::from_setting(&roots).is_ok());
    let file = temp_dir().join("roots.pem");
    std::fs::write(&file, &roots).unwrap();
    assert!(SefazAuthorities::from_setting(&format!(" {} ", file.display())).is_ok());
    let missing = SefazAuthorities::from_setting("/nonexistent/roots.pem").unwrap_err();
    assert!(missing.contains("/nonexistent/roots.pem"), "{missing}");
    std::fs::write(&file, "no certificate here").unwrap();
    assert!(SefazAuthorities::from_setting(&file.display().to_string()).is_err());
}
