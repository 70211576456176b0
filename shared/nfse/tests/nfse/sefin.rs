//! SefinClient against a test Sefin on 127.0.0.1 over HTTPS that requires the client
//! certificate; behind it, the simulator answers as Sefin does.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osflow_nfse::client::{BaseUrls, SefinClient, SefinConfig};
use osflow_nfse::event::{CancelReason, cancel};
use osflow_nfse::simulator::Simulator;
use osflow_nfse::*;

use crate::support::*;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    body: Vec<u8>,
}

struct TestSefin {
    addr: SocketAddr,
    sim: Arc<Simulator>,
    requests: Arc<Mutex<Vec<Req>>>,
    /// The next POST /nfse is processed but never answered (the answer is lost).
    lose_next_answer: Arc<AtomicBool>,
    /// The same for the next POST /nfse/{key}/eventos.
    lose_next_event_answer: Arc<AtomicBool>,
    handshake_failures: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
}

impl Drop for TestSefin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl TestSefin {
    fn requests(&self, method: &str, prefix: &str) -> Vec<Req> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn read_request(s: &mut impl Read) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut first = head.lines().next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let len: usize = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-length:"))
        .and_then(|l| l[15..].trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Req { method, path, body: buf[header_end..header_end + len].to_vec() })
}

fn start() -> TestSefin {
    // Mutual TLS: a client certificate chaining to the test CA is required.
    let acceptor = tls_server_config();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let t = TestSefin {
        addr: listener.local_addr().unwrap(),
        sim: Arc::new(Simulator::new()),
        requests: Arc::default(),
        lose_next_answer: Arc::default(),
        lose_next_event_answer: Arc::default(),
        handshake_failures: Arc::default(),
        stop: Arc::default(),
    };
    let (sim, requests, lose, failures, stop) =
        (t.sim.clone(), t.requests.clone(), t.lose_next_answer.clone(), t.handshake_failures.clone(), t.stop.clone());
    let lose_event = t.lose_next_event_answer.clone();
    std::thread::spawn(move || {
        // Bounded: at most 64 connections and 120 s, and it stops when the test drops it.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut served = 0;
        while served < 64 && Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
            let Ok((tcp, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let (acc, sim, requests, lose, failures) =
                (acceptor.clone(), sim.clone(), requests.clone(), lose.clone(), failures.clone());
            let lose_event = lose_event.clone();
            std::thread::spawn(move || {
                let Some(mut tls) = tls_accept(&acc, tcp) else {
                    failures.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let Some(req) = read_request(&mut tls) else { return };
                requests.lock().unwrap().push(req.clone());
                let resp = sim.handle(&req.method, &req.path, &req.body);
                let lost = match (req.method.as_str(), req.path.as_str()) {
                    ("POST", "/nfse") => lose.swap(false, Ordering::SeqCst),
                    ("POST", p) if p.ends_with("/eventos") => lose_event.swap(false, Ordering::SeqCst),
                    _ => false,
                };
                if lost {
                    // Processed, but the answer never leaves.
                    std::thread::sleep(Duration::from_secs(6));
                    return;
                }
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    resp.status,
                    resp.content_type,
                    resp.body.len()
                );
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(&resp.body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    t
}

fn client(t: &TestSefin) -> SefinClient {
    let base = format!("https://127.0.0.1:{}", t.addr.port());
    let mut cfg = SefinConfig::new(Environment::Homologation, a1().clone(), ca_pem());
    cfg.timeout = Duration::from_secs(3);
    cfg.base = Some(BaseUrls { sefin: base.clone(), adn: base });
    SefinClient::new(cfg).unwrap()
}

#[tokio::test]
async fn issue_over_mutual_tls() {
    let t = start();
    let sefin = client(&t);
    let dps = signed(&input(), SignatureAlgorithm::RsaSha256);
    let IssueOutcome::Issued(n) = sefin.issue(&dps).await.unwrap() else { panic!("not issued") };
    assert_eq!(n.dps_id, Some(*dps.id()));
    // On the wire: JSON with the gzip+base64 of the exact signed bytes.
    let post = &t.requests("POST", "/nfse")[0];
    let v: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    let sent = osflow_nfse::codec::decode(v["dpsXmlGZipB64"].as_str().unwrap()).unwrap();
    assert_eq!(sent, dps.xml());
    check_dps(&sent);
    xmllint(&n.xml, "NFSe_v1.01.xsd");
    // GET /nfse/{key} answers the same document.
    assert_eq!(sefin.nfse(&n.key).await.unwrap().unwrap(), n);
    assert_eq!(sefin.find_by_dps(dps.id()).await.unwrap(), Some(n.key.clone()));
    let unknown = DpsId::compose("3550308", CNPJ, 1, 777).unwrap();
    assert_eq!(sefin.find_by_dps(&unknown).await.unwrap(), None);
    // The DANFSe from the ADN route.
    let pdf = sefin.danfse(&n.key).await.unwrap().unwrap();
    assert!(pdftotext(&pdf).contains(n.key.as_str()));
}

#[tokio::test]
async fn rejection_then_the_same_dps_number_after_the_fix() {
    let t = start();
    let sefin = client(&t);
    let mut bad = input();
    bad.service.c_trib_nac = "999999".into();
    let first = signed(&bad, SignatureAlgorithm::RsaSha256);
    let IssueOutcome::Rejected(errs) = sefin.issue(&first).await.unwrap() else { panic!("issued") };
    assert_eq!(errs[0].code, "X0006");
    assert!(errs[0].description.contains("999999"));
    let fixed = signed(&input(), SignatureAlgorithm::RsaSha256);
    assert_eq!(fixed.id(), first.id());
    assert!(matches!(sefin.issue(&fixed).await.unwrap(), IssueOutcome::Issued(_)));
    assert_eq!(t.sim.issued_count(), 1);
}

#[tokio::test]
async fn timeout_then_consult_by_dps_finds_the_nfse_without_a_second_one() {
    let t = start();
    let sefin = client(&t);
    let dps = signed(&input(), SignatureAlgorithm::RsaSha1);
    t.lose_next_answer.store(true, Ordering::SeqCst);
    let IssueOutcome::Issued(n) = sefin.issue(&dps).await.unwrap() else { panic!("not settled") };
    assert_eq!(n.dps_id, Some(*dps.id()));
    assert_eq!(t.requests("POST", "/nfse").len(), 1, "never resent");
    assert_eq!(t.requests("GET", "/dps/").len(), 1);
    assert_eq!(t.sim.issued_count(), 1);
    // A retry of the caller sends the same DPS: Sefin answers E0014, the client settles it.
    let IssueOutcome::Issued(again) = sefin.issue(&dps).await.unwrap() else { panic!("not settled") };
    assert_eq!(again.key, n.key);
    assert_eq!(t.sim.issued_count(), 1);
}

#[tokio::test]
async fn cancel_over_mutual_tls() {
    let t = start();
    let sefin = client(&t);
    let IssueOutcome::Issued(n) = sefin.issue(&signed(&input(), SignatureAlgorithm::RsaSha256)).await.unwrap() else {
        panic!("not issued")
    };
    let req = cancel_input(n.key.clone(), CancelReason::NotProvided, "Servico nao foi prestado ao cliente");
    let ev = cancel(&req, a1(), SignatureAlgorithm::RsaSha256).unwrap();
    let EventOutcome::Registered { xml } = sefin.register_event(&ev).await.unwrap() else { panic!("refused") };
    xmllint(&xml, "evento_v1.01.xsd");
    let EventOutcome::Rejected(e) = sefin.register_event(&ev).await.unwrap() else { panic!("twice") };
    assert_eq!(e[0].code, "X0014");
    assert!(pdftotext(&sefin.danfse(&n.key).await.unwrap().unwrap()).contains("CANCELADA"));
}

/// The event call and its consult over mutual TLS, as the cancellation use case makes them: Sefin asked for the
/// event first (`GET /nfse/{key}/eventos/101101/1`: none), the request sent with the exact signed bytes (RSA-SHA1
/// here; SHA-256 above), its answer lost, the consult then finding it registered, and a second request refused.
#[tokio::test]
async fn cancel_event_consulted_sent_and_found_after_a_lost_answer_over_mutual_tls() {
    let t = start();
    let sefin = client(&t);
    let IssueOutcome::Issued(n) = sefin.issue(&signed(&input(), SignatureAlgorithm::RsaSha1)).await.unwrap() else {
        panic!("not issued")
    };
    assert_eq!(sefin.event(&n.key, "101101", 1).await.unwrap(), None, "no event yet");
    let req = cancel_input(n.key.clone(), CancelReason::Other, "Cliente desistiu: \"garantia\" & <troca> d'água, ação");
    let ev = cancel(&req, a1(), SignatureAlgorithm::RsaSha1).unwrap();
    t.lose_next_event_answer.store(true, Ordering::SeqCst);
    let lost = sefin.register_event(&ev).await;
    assert!(matches!(lost, Err(TransportError::Timeout { .. })), "{lost:?}");
    // On the wire: JSON with the gzip+base64 of the exact signed request, valid and signed.
    let posts = t.requests("POST", &format!("/nfse/{}/eventos", n.key));
    assert_eq!(posts.len(), 1);
    let v: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    let sent = osflow_nfse::codec::decode(v["pedidoRegistroEventoXmlGZipB64"].as_str().unwrap()).unwrap();
    assert_eq!(sent, ev.xml());
    xmllint(&sent, "pedRegEvento_v1.01.xsd");
    xmlsec1(&sent, "infPedReg", &ca_pem());
    // The consult finds what Sefin registered: its evento, signed by Sefin, holding our request.
    let xml = sefin.event(&n.key, "101101", 1).await.unwrap().expect("registered despite the lost answer");
    assert_eq!(t.requests("GET", &format!("/nfse/{}/eventos/101101/1", n.key)).len(), 2);
    xmllint(&xml, "evento_v1.01.xsd");
    xmlsec1_root(&xml, "infEvento", &t.sim.certificate().x509().to_pem().unwrap());
    xmlsec1(&xml, "infPedReg", &ca_pem());
    assert!(
        xml.contains("&quot;garantia&quot; &amp; &lt;troca&gt; d'água, ação")
            || xml.contains("\"garantia\" &amp; &lt;troca&gt; d'água, ação"),
        "{xml}"
    );
    assert_eq!(sefin.event(&n.key, "101101", 2).await.unwrap(), None, "only sequence 1");
    let EventOutcome::Rejected(e) = sefin.register_event(&ev).await.unwrap() else { panic!("twice") };
    assert_eq!(e[0].code, "X0014");
    assert_eq!(t.sim.events(&n.key).len(), 1, "one event at Sefin");
}

#[tokio::test]
async fn a_client_without_certificate_is_refused_at_the_tls_layer() {
    let t = start();
    let r = anonymous_client().get(format!("https://127.0.0.1:{}/nfse/1", t.addr.port())).send().await;
    assert!(r.is_err(), "answered without a client certificate");
    for _ in 0..50 {
        if t.handshake_failures.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(t.handshake_failures.load(Ordering::SeqCst) > 0);
    assert!(t.requests.lock().unwrap().is_empty());
}
