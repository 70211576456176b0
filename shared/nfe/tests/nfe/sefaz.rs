//! SefazSoap against a loopback SEFAZ over HTTPS that requires the client certificate.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osflow_nfe::sefaz::{EndpointOverride, SefazConfig, SefazSoap};
use osflow_nfe::*;

use crate::support::*;

#[derive(Debug, Clone)]
pub struct Req {
    pub content_type: String,
    pub body: String,
}

#[derive(Default)]
pub struct MockState {
    requests: Mutex<Vec<Req>>,
    /// key -> protNFe of the documents this SEFAZ holds as authorized.
    authorized: Mutex<HashMap<String, String>>,
    handshake_failures: AtomicU32,
    stop: AtomicBool,
    /// What every other number, the events, the inutilização and the status are answered by.
    pub simulator: osflow_nfe::simulator::Simulator,
}

pub struct Mock {
    pub addr: SocketAddr,
    pub state: Arc<MockState>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}

const HANG: Duration = Duration::from_secs(8);

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

fn prot_nfe(key: &str, c_stat: u16, x_motivo: &str, n_prot: Option<&str>) -> String {
    let n = n_prot.map(|n| format!("<nProt>{n}</nProt>")).unwrap_or_default();
    format!(
        "<protNFe versao=\"4.00\"><infProt Id=\"ID{}\"><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic><chNFe>{key}</chNFe>\
         <dhRecbto>2026-11-30T10:00:05-03:00</dhRecbto>{n}<digVal>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</digVal><cStat>{c_stat}</cStat>\
         <xMotivo>{x_motivo}</xMotivo></infProt></protNFe>",
        n_prot.unwrap_or("135260000000000")
    )
}

fn soap(service: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>\
         <nfeResultMsg xmlns=\"http://www.portalfiscal.inf.br/nfe/wsdl/{service}\">{inner}</nfeResultMsg></soap:Body></soap:Envelope>"
    )
}

fn ret_envi(c_stat: u16, x_motivo: &str, prot: &str) -> String {
    soap(
        "NFeAutorizacao4",
        &format!(
            "<retEnviNFe versao=\"4.00\" xmlns=\"http://www.portalfiscal.inf.br/nfe\"><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic>\
             <cStat>{c_stat}</cStat><xMotivo>{x_motivo}</xMotivo><cUF>35</cUF><dhRecbto>2026-11-30T10:00:05-03:00</dhRecbto>{prot}</retEnviNFe>"
        ),
    )
}

/// The SEFAZ behaviour, chosen by nNF: 101 authorizes, 102 rejects (225), 103 denies (302),
/// 104 authorizes but answers too late, 105 was already authorized (204), 107 never answers
/// and keeps nothing, 106 is a duplicate (204) whose consult is throttled (656), 108 meets a paused service;
/// numbers from 200 on, the events, the inutilização and the status are answered by the simulator.
fn respond(state: &MockState, req: &Req) -> Option<String> {
    let body = &req.body;
    let simulated = |b: &str| {
        between(b, "Id=\"NFe", "\"").and_then(|k| k.get(25..34)?.parse::<u32>().ok()).unwrap_or(0) >= 200
            || between(b, "<chNFe>", "</chNFe>").and_then(|k| k.get(25..34)?.parse::<u32>().ok()).unwrap_or(0) >= 200
    };
    let action_of = |ct: &str| ct.split("action=").nth(1).unwrap_or_default().trim_matches('"').to_owned();
    if !req.content_type.contains("nfeAutorizacaoLote") && !req.content_type.contains("nfeConsultaNF")
        || simulated(body)
    {
        return state.simulator.soap(&action_of(&req.content_type), body);
    }
    if req.content_type.contains("NFeAutorizacao4/nfeAutorizacaoLote") {
        if verify(body).is_err() {
            return Some(ret_envi(
                104,
                "Lote processado",
                &prot_nfe("0", 297, "Rejeição: Assinatura difere do calculado", None),
            ));
        }
        let key = between(body, "Id=\"NFe", "\"")?.to_owned();
        let n_nf: u32 = key[25..34].parse().ok()?;
        let authorized = prot_nfe(&key, 100, "Autorizado o uso da NF-e", Some("135260000000101"));
        return Some(match n_nf {
            101 => {
                state.authorized.lock().unwrap().insert(key, authorized.clone());
                ret_envi(104, "Lote processado", &authorized)
            }
            102 => ret_envi(225, "Rejeição: Falha no Schema XML do lote de NFe", ""),
            103 => ret_envi(
                104,
                "Lote processado",
                &prot_nfe(&key, 302, "Uso Denegado: Irregularidade fiscal do destinatário", Some("135260000000103")),
            ),
            104 => {
                state.authorized.lock().unwrap().insert(key, authorized);
                std::thread::sleep(HANG);
                return None;
            }
            107 => {
                std::thread::sleep(HANG);
                return None;
            }
            105 | 106 => ret_envi(104, "Lote processado", &prot_nfe(&key, 204, "Rejeição: Duplicidade de NF-e", None)),
            108 => ret_envi(108, "Serviço Paralisado Momentaneamente (curto prazo)", ""),
            _ => ret_envi(104, "Lote processado", &prot_nfe(&key, 999, "Rejeição: Erro não catalogado", None)),
        });
    }
    if req.content_type.contains("NFeConsultaProtocolo4/nfeConsultaNF") {
        let key = between(body, "<chNFe>", "</chNFe>")?;
        if key.get(25..34) == Some("000000106") {
            return Some(soap(
                "NFeConsultaProtocolo4",
                "<retConsSitNFe versao=\"4.00\" xmlns=\"http://www.portalfiscal.inf.br/nfe\"><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic>\
                 <cStat>656</cStat><xMotivo>Rejeição: Consumo Indevido</xMotivo><cUF>35</cUF><dhRecbto>2026-11-30T10:01:00-03:00</dhRecbto></retConsSitNFe>",
            ));
        }
        let inner = match state.authorized.lock().unwrap().get(key) {
            Some(p) => format!(
                "<cStat>100</cStat><xMotivo>Autorizado o uso da NF-e</xMotivo><cUF>35</cUF><dhRecbto>2026-11-30T10:01:00-03:00</dhRecbto><chNFe>{key}</chNFe>{p}"
            ),
            None => format!(
                "<cStat>217</cStat><xMotivo>Rejeição: NF-e não consta na base de dados da SEFAZ</xMotivo><cUF>35</cUF><dhRecbto>2026-11-30T10:01:00-03:00</dhRecbto><chNFe>{key}</chNFe>"
            ),
        };
        return Some(soap(
            "NFeConsultaProtocolo4",
            &format!(
                "<retConsSitNFe versao=\"4.00\" xmlns=\"http://www.portalfiscal.inf.br/nfe\"><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic>{inner}</retConsSitNFe>"
            ),
        ));
    }
    if req.content_type.contains("NFeStatusServico4/nfeStatusServicoNF") {
        return Some(soap(
            "NFeStatusServico4",
            "<retConsStatServ versao=\"4.00\" xmlns=\"http://www.portalfiscal.inf.br/nfe\"><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic>\
             <cStat>107</cStat><xMotivo>Serviço em Operação</xMotivo><cUF>35</cUF><dhRecbto>2026-11-30T10:00:00-03:00</dhRecbto><tMed>1</tMed></retConsStatServ>",
        ));
    }
    None
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
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_owned())
    };
    let len: usize = header("content-length")?.parse().ok()?;
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Req {
        content_type: header("content-type").unwrap_or_default(),
        body: String::from_utf8_lossy(&buf[header_end..header_end + len]).to_string(),
    })
}

pub fn start_mock() -> Mock {
    // Mutual TLS: a client certificate chaining to the test CA is required.
    start_mock_on(tls_server_config())
}

pub fn start_mock_on(acceptor: Arc<rustls::ServerConfig>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(MockState::default());
    let st = state.clone();
    std::thread::spawn(move || {
        // Bounded: at most 64 connections and 120 s, and it stops when the test drops it.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut served = 0;
        while served < 64 && Instant::now() < deadline && !st.stop.load(Ordering::SeqCst) {
            let Ok((tcp, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let (acc, st) = (acceptor.clone(), st.clone());
            std::thread::spawn(move || {
                let Some(mut tls) = tls_accept(&acc, tcp) else {
                    st.handshake_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let Some(req) = read_request(&mut tls) else {
                    st.handshake_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                st.requests.lock().unwrap().push(req.clone());
                if let Some(body) = respond(&st, &req) {
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(resp.as_bytes());
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
        }
    });
    Mock { addr, state }
}

pub fn client(mock: &Mock) -> SefazSoap {
    let base = format!("https://127.0.0.1:{}", mock.addr.port());
    let mut cfg = SefazConfig::new(Environment::Homologation, Uf::SP, a1().clone(), pki().ca.to_pem().unwrap());
    cfg.timeout = Duration::from_secs(3);
    cfg.endpoints = Some(EndpointOverride {
        authorization: format!("{base}/ws/nfeautorizacao4.asmx"),
        consult: format!("{base}/ws/nfeconsultaprotocolo4.asmx"),
        status: format!("{base}/ws/nfestatusservico4.asmx"),
        event: format!("{base}/ws/nferecepcaoevento4.asmx"),
        inutilization: format!("{base}/ws/nfeinutilizacao4.asmx"),
    });
    SefazSoap::new(cfg).unwrap()
}

pub fn nfe(n_nf: u32) -> SignedNfe {
    signed(&NfeInput { n_nf, ..input(2) })
}

pub fn requests(mock: &Mock, action: &str) -> Vec<Req> {
    mock.state.requests.lock().unwrap().iter().filter(|r| r.content_type.contains(action)).cloned().collect()
}

#[tokio::test]
async fn authorization_100_over_mutual_tls() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let doc = nfe(101);
    let Outcome::Authorized(p) = sefaz.authorize(&doc).await.unwrap() else { panic!("not authorized") };
    assert_eq!((p.c_stat, p.number.as_str(), p.key), (100, "135260000000101", *doc.key()));
    let sent = requests(&mock, "nfeAutorizacaoLote");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].content_type,
        "application/soap+xml;charset=utf-8;action=\"http://www.portalfiscal.inf.br/nfe/wsdl/NFeAutorizacao4/nfeAutorizacaoLote\""
    );
    assert!(sent[0].body.contains("<indSinc>1</indSinc>") && sent[0].body.contains(doc.xml()));
    // The bytes on the wire verify with xmlsec1, and the stored nfeProc is schema-valid.
    xmlsec1(&sent[0].body);
    let proc_ = osflow_nfe::wrap::nfe_proc(&doc, &p).unwrap();
    xmllint(&proc_, "procNFe_v4.00.xsd");
    xmlsec1(&proc_);
    assert!(sefaz.status().await.unwrap().in_operation());
}

#[tokio::test]
async fn rejection_225_and_denial_302() {
    let mock = start_mock();
    let sefaz = client(&mock);
    assert_eq!(
        sefaz.authorize(&nfe(102)).await.unwrap(),
        Outcome::Rejected { c_stat: 225, x_motivo: "Rejeição: Falha no Schema XML do lote de NFe".into() }
    );
    let denied = sefaz.authorize(&nfe(103)).await.unwrap();
    let Outcome::Denied { c_stat: 302, protocol: Some(p), .. } = denied else { panic!("{denied:?}") };
    assert_eq!(p.number, "135260000000103");
}

#[tokio::test]
async fn timeout_then_consult_by_key_finds_it_authorized() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let doc = nfe(104);
    let out = sefaz.authorize(&doc).await.unwrap();
    let Outcome::Authorized(p) = out else { panic!("{out:?}") };
    assert_eq!(p.key, *doc.key());
    assert_eq!(p.key.cnf(), "00013579", "same cNF");
    let auths = requests(&mock, "nfeAutorizacaoLote");
    assert_eq!(auths.len(), 1, "only one authorization request was sent");
    let consults = requests(&mock, "nfeConsultaNF");
    assert_eq!(consults.len(), 1);
    assert!(consults[0].body.contains(&format!("<chNFe>{}</chNFe>", doc.key())));
    assert!(auths[0].body.contains(&format!("Id=\"NFe{}\"", doc.key())));
}

#[tokio::test]
async fn timeout_with_nothing_found_is_a_timeout_error_after_the_consult() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let doc = nfe(107);
    let e = sefaz.authorize(&doc).await.unwrap_err();
    assert_eq!(e, TransportError::Timeout { consulted: Some(217) });
    assert!(e.must_consult());
    assert_eq!(requests(&mock, "nfeAutorizacaoLote").len(), 1);
    assert_eq!(requests(&mock, "nfeConsultaNF").len(), 1, "consulted before anything else");
}

#[tokio::test]
async fn duplicate_204_is_settled_by_consulting() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let doc = nfe(105);
    let prot = prot_nfe(doc.key().as_str(), 100, "Autorizado o uso da NF-e", Some("135260000000042"));
    mock.state.authorized.lock().unwrap().insert(doc.key().to_string(), prot);
    let Outcome::Authorized(p) = sefaz.authorize(&doc).await.unwrap() else { panic!("not settled") };
    assert_eq!(p.number, "135260000000042");
    assert_eq!(requests(&mock, "nfeConsultaNF").len(), 1);
}

#[tokio::test]
async fn client_without_certificate_is_refused_at_the_tls_layer() {
    let mock = start_mock();
    let r = anonymous_client()
        .post(format!("https://127.0.0.1:{}/ws/nfestatusservico4.asmx", mock.addr.port()))
        .header("Content-Type", "application/soap+xml;charset=utf-8")
        .body("<x/>")
        .send()
        .await;
    assert!(r.is_err(), "the server must refuse a client without certificate: {r:?}");
    assert!(mock.state.requests.lock().unwrap().is_empty(), "no HTTP request got through");
    // In TLS 1.3 the client learns of the refusal from the server's alert, which the server sends before its
    // handshake returns the error it counts: wait a little for the count.
    for _ in 0..50 {
        if mock.state.handshake_failures.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(mock.state.handshake_failures.load(Ordering::SeqCst) >= 1);
    // The same server accepts the A1 client.
    assert!(client(&mock).status().await.unwrap().in_operation());
}

#[tokio::test]
async fn an_authorizer_that_speaks_only_tls_1_2_is_reached_with_the_client_certificate() {
    // Many SEFAZ endpoints offer TLS 1.2 and nothing newer.
    let mock = start_mock_on(tls_server_config_for(&[&rustls::version::TLS12]));
    assert!(client(&mock).status().await.unwrap().in_operation());
    assert_eq!(requests(&mock, "nfeStatusServicoNF").len(), 1);
    assert_eq!(mock.state.handshake_failures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_server_outside_the_trust_store_is_refused() {
    let mock = start_mock();
    // Trust a different CA than the one that issued the server certificate.
    let other = {
        let key = rsa_key();
        issue(&pki().ca, &pki().ca_key, &key, LeafSpec { cn: "NOT A ROOT", san_cnpj: None, days: 1, server: true })
    };
    let mut cfg = SefazConfig::new(Environment::Homologation, Uf::SP, a1().clone(), other.to_pem().unwrap());
    cfg.endpoints = Some(EndpointOverride::single(&format!("https://127.0.0.1:{}/ws/status", mock.addr.port())));
    let e = SefazSoap::new(cfg).unwrap().status().await.unwrap_err();
    assert!(matches!(e, TransportError::Connect(_)), "{e:?}");
}

#[tokio::test]
async fn paused_service_108_is_a_transport_error_not_a_rejection() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let e = sefaz.authorize(&nfe(108)).await.unwrap_err();
    assert!(matches!(e, TransportError::Inconclusive { c_stat: 108, .. }), "{e:?}");
    assert!(e.must_consult());
}

#[tokio::test]
async fn duplicate_whose_consult_is_throttled_decides_nothing() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let e = sefaz.authorize(&nfe(106)).await.unwrap_err();
    assert!(matches!(e, TransportError::Inconclusive { c_stat: 204, .. }), "{e:?}");
    assert_eq!(requests(&mock, "nfeConsultaNF").len(), 1, "the duplicate was consulted");
}
