//! An offline Sefin Nacional (produção restrita) for osflow-local and the tests. It checks a
//! DPS in the order Sefin does before its business rules — the payload, the structure the
//! schema fixes (root, version, element order, patterns of the codes), the signature with the
//! embedded certificate, the Id against the fields, the certificate's owner — then the business
//! rules it reproduces, and answers with an NFS-e it signs itself (RSA-SHA256). It keeps what it
//! issued, so `GET /dps/{id}`, `GET /nfse/{key}`, events and the DANFSe work.
//!
//! Error codes: E0014 (DPS already used), E0712 (indTotTrib from a ME/EPP), E0714 (RSA-SHA1
//! refused, when configured so) and E1235 (schema) are the codes production reports; the
//! `X0…` codes are the simulator's own for rejections whose production code is not known here
//! (X0005: a production DPS sent to produção restrita; X0006: the other way round, from
//! [`Simulator::production`]).
//!
//! [`Simulator::handle`] answers HTTP requests (method, path, body) with the JSON of the API,
//! so an HTTPS front end can serve it; [`NfseAuthority`] is implemented in process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{FixedOffset, Utc};
use serde_json::{Value, json};

use osflow_domain::values::{Cnpj, Cpf};
use osflow_nfe::dsig::{self, SignatureAlgorithm};
use osflow_nfe::xml::{self, Element};
use osflow_nfe::{Certificate, VerifyError};

use crate::authority::{EventOutcome, IssueOutcome, IssuedNfse, NfseAuthority, SefinError, TransportError};
use crate::build::{NFSE_NS, VERSION};
use crate::codec;
use crate::event::SignedEvent;
use crate::id::{DpsId, NfseKey, key_dv};
use crate::sign::SignedDps;

/// The answer of an HTTP request to the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct Record {
    nfse: IssuedNfse,
    provider: String,
    events: Vec<(String, Arc<str>)>,
}

#[derive(Debug, Default)]
struct State {
    by_key: HashMap<String, Record>,
    by_dps: HashMap<String, String>,
}

/// The offline Sefin.
#[derive(Debug)]
pub struct Simulator {
    cert: Certificate,
    state: Mutex<State>,
    seq: AtomicU64,
    refuse_sha1: AtomicBool,
    /// Stands for the production Sefin (accepts `tpAmb` 1 only) instead of produção restrita.
    production: bool,
}

fn e(code: &str, msg: impl Into<String>) -> SefinError {
    SefinError::new(code, msg)
}

const SCHEMA: &str = "E1235";

fn schema(msg: impl std::fmt::Display) -> Vec<SefinError> {
    vec![e(SCHEMA, format!("Falha no esquema XML: {msg}"))]
}

fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_money(s: &str) -> bool {
    // TSDec15V2: 0 | 0.dd | [1-9]d{0,14}(.dd)?
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let frac_ok = frac.is_none_or(|f| is_digits(f, 2, 2));
    let int_ok = int == "0" || (is_digits(int, 1, 15) && !int.starts_with('0'));
    int_ok && frac_ok && !(int == "0" && frac.is_none() && s != "0")
}

/// The children of `infDPS` in schema order: (name, required).
const INF_DPS_ORDER: [(&str, bool); 18] = [
    ("tpAmb", true),
    ("dhEmi", true),
    ("verAplic", true),
    ("serie", true),
    ("nDPS", true),
    ("dCompet", true),
    ("tpEmit", true),
    ("cMotivoEmisTI", false),
    ("chNFSeRej", false),
    ("cLocEmi", true),
    ("subst", false),
    ("prest", true),
    ("toma", false),
    ("interm", false),
    ("serv", true),
    ("valores", true),
    ("IBSCBS", false),
    ("", false),
];

fn check_order(inf: &Element) -> Result<(), Vec<SefinError>> {
    let names: Vec<&str> = inf.elements().map(|c| c.local_name()).collect();
    let mut i = 0;
    for (name, required) in INF_DPS_ORDER.iter().take(17) {
        if names.get(i) == Some(name) {
            i += 1;
        } else if *required {
            return Err(schema(format!("infDPS: elemento {name} esperado")));
        }
    }
    if i != names.len() {
        return Err(schema(format!("infDPS: elemento {} não esperado", names[i])));
    }
    Ok(())
}

fn text(e: &Element, path: &[&str]) -> Option<String> {
    e.text_at(path)
}

fn city_name(code: &str) -> String {
    match code {
        "3550308" => "São Paulo".into(),
        "3304557" => "Rio de Janeiro".into(),
        "3106200" => "Belo Horizonte".into(),
        "4106902" => "Curitiba".into(),
        "4202404" => "Blumenau".into(),
        "4314902" => "Porto Alegre".into(),
        "5300108" => "Brasília".into(),
        _ => format!("Município {code}"),
    }
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator::new()
    }
}

impl Simulator {
    /// A simulator signing its NFS-e with a certificate of its own.
    pub fn new() -> Simulator {
        // The CNPJ of the national system's signer is not known here: a valid test CNPJ.
        let cnpj = Cnpj::parse("11222333000181").unwrap_or_else(|_| unreachable!("valid test CNPJ"));
        let cert = Certificate::generate_for_homologation(&cnpj, "SEFIN NACIONAL SIMULADA", 3650)
            .unwrap_or_else(|e| panic!("the simulator's certificate: {e}"));
        Simulator {
            cert,
            state: Mutex::new(State::default()),
            seq: AtomicU64::new(0),
            refuse_sha1: AtomicBool::new(false),
            production: false,
        }
    }

    /// A simulator standing for the production Sefin (tpAmb 1; a homologação DPS refused with `X0006`), for the
    /// tests of an emitter moving from homologação to produção. osflow-local runs the produção restrita one.
    pub fn production() -> Simulator {
        Simulator { production: true, ..Simulator::new() }
    }

    /// Reproduce production's refusal of RSA-SHA1 (E0714).
    pub fn refuse_sha1(&self, refuse: bool) {
        self.refuse_sha1.store(refuse, Ordering::SeqCst);
    }

    /// The certificate the simulator signs with (to verify its NFS-e).
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// How many NFS-e it issued.
    pub fn issued_count(&self) -> usize {
        self.state.lock().map(|s| s.by_key.len()).unwrap_or(0)
    }

    /// The events registered for an NFS-e: (tpEvento, evento XML).
    pub fn events(&self, key: &NfseKey) -> Vec<(String, Arc<str>)> {
        self.state.lock().ok().and_then(|s| s.by_key.get(key.as_str()).map(|r| r.events.clone())).unwrap_or_default()
    }

    fn allowed(&self) -> Vec<SignatureAlgorithm> {
        if self.refuse_sha1.load(Ordering::SeqCst) {
            vec![SignatureAlgorithm::RsaSha256]
        } else {
            vec![SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1]
        }
    }

    /// The checks and the issue of one DPS document.
    pub fn issue_xml(&self, doc: &str) -> Result<IssuedNfse, Vec<SefinError>> {
        let root = xml::parse(doc).map_err(|err| schema(format!("XML mal formado ({err})")))?;
        if root.local_name() != "DPS" || xml::ns_uri(&root, &Default::default()).as_deref() != Some(NFSE_NS) {
            return Err(schema("o elemento raiz deve ser DPS no namespace http://www.sped.fazenda.gov.br/nfse"));
        }
        if root.attr("versao") != Some(VERSION) {
            return Err(schema("versao deve ser 1.01"));
        }
        let inf = root.child("infDPS").ok_or_else(|| schema("infDPS ausente"))?;
        let id = inf.attr("Id").and_then(DpsId::parse).ok_or_else(|| schema("Id deve seguir DPS[0-9]{42}"))?;
        check_order(inf)?;
        let t = |p: &[&str]| text(inf, p).unwrap_or_default();
        if !matches!(t(&["tpAmb"]).as_str(), "1" | "2") {
            return Err(schema("tpAmb"));
        }
        if !is_digits(&t(&["cLocEmi"]), 7, 7) {
            return Err(schema("cLocEmi deve ter 7 dígitos"));
        }
        let serie = t(&["serie"]);
        let n_dps = t(&["nDPS"]);
        if !is_digits(&serie, 1, 5) || !is_digits(&n_dps, 1, 15) || n_dps.starts_with('0') {
            return Err(schema("serie/nDPS"));
        }
        let prest = inf.child("prest").ok_or_else(|| schema("prest"))?;
        let prest_doc = text(prest, &["CNPJ"]).or_else(|| text(prest, &["CPF"])).unwrap_or_default();
        if !(is_digits(&prest_doc, 14, 14) || is_digits(&prest_doc, 11, 11)) {
            return Err(schema("prest: CNPJ ou CPF"));
        }
        if !matches!(text(prest, &["regTrib", "opSimpNac"]).as_deref(), Some("1" | "2" | "3")) {
            return Err(schema("prest/regTrib/opSimpNac"));
        }
        if let Some(toma) = inf.child("toma") {
            let d = text(toma, &["CNPJ"]).or_else(|| text(toma, &["CPF"]));
            if let Some(d) = &d
                && !(is_digits(d, 14, 14) || is_digits(d, 11, 11))
            {
                return Err(schema("toma: CNPJ ou CPF"));
            }
            if text(toma, &["xNome"]).is_none_or(|n| n.is_empty()) {
                return Err(schema("toma/xNome"));
            }
        }
        let c_trib_nac = t(&["serv", "cServ", "cTribNac"]);
        if !is_digits(&c_trib_nac, 6, 6) {
            return Err(schema("cTribNac deve ter 6 dígitos"));
        }
        if t(&["serv", "cServ", "xDescServ"]).is_empty() {
            return Err(schema("xDescServ"));
        }
        let v_serv = t(&["valores", "vServPrest", "vServ"]);
        if !is_money(&v_serv) {
            return Err(schema("vServ"));
        }
        let tot = inf.path(&["valores", "trib", "totTrib"]).ok_or_else(|| schema("totTrib"))?;
        let tot_kind: Vec<&str> = tot.elements().map(|c| c.local_name()).collect();
        if tot_kind.len() != 1 || !matches!(tot_kind[0], "vTotTrib" | "pTotTrib" | "indTotTrib" | "pTotTribSN") {
            return Err(schema("totTrib deve ter um de vTotTrib, pTotTrib, indTotTrib, pTotTribSN"));
        }

        // Signature.
        let (signer, _alg) = match dsig::verify_enveloped(doc, "DPS", "infDPS", &self.allowed()) {
            Ok(ok) => ok,
            Err(VerifyError::NoSignature) => return Err(vec![e("X0001", "DPS sem assinatura")]),
            Err(VerifyError::Profile(m)) if m.starts_with("SignatureMethod") => {
                return Err(vec![e("E0714", format!("Algoritmo de assinatura não suportado: {m}"))]);
            }
            Err(err) => return Err(vec![e("X0002", format!("Assinatura inválida: {err}"))]),
        };
        // The Id against its fields.
        let expected =
            DpsId::compose(&t(&["cLocEmi"]), &prest_doc, serie.parse().unwrap_or(0), n_dps.parse().unwrap_or(0));
        if expected != Some(id) {
            return Err(vec![e("X0003", "Id da DPS difere do composto por cLocEmi, inscrição, série e nDPS")]);
        }
        // The certificate's owner is the provider.
        let owner = signer.cnpj();
        if owner.as_ref().map(|c| &c.as_str()[..8]) != Some(&prest_doc[..8.min(prest_doc.len())]) {
            return Err(vec![e("X0004", "O certificado não pertence ao prestador da DPS")]);
        }
        match (self.production, t(&["tpAmb"]).as_str()) {
            (false, "1") => {
                return Err(vec![e("X0005", "Ambiente de produção não disponível no simulador (produção restrita)")]);
            }
            (true, "2") => return Err(vec![e("X0006", "DPS de homologação enviada ao ambiente de produção")]),
            _ => {}
        }

        // Business rules.
        let duplicate = self.state.lock().map(|s| s.by_dps.contains_key(id.as_str())).unwrap_or(false);
        if duplicate {
            return Err(vec![e("E0014", "DPS já utilizada para gerar uma NFS-e")]);
        }
        let (item, sub, split) = (&c_trib_nac[0..2], &c_trib_nac[2..4], &c_trib_nac[4..6]);
        let item_ok = matches!(item.parse::<u8>(), Ok(1..=40));
        if !item_ok || sub == "00" || split == "00" {
            return Err(vec![e("X0006", format!("Código de tributação nacional {c_trib_nac} inexistente"))]);
        }
        if let Some(toma) = inf.child("toma") {
            if let Some(c) = text(toma, &["CNPJ"])
                && Cnpj::parse(&c).is_err()
            {
                return Err(vec![e("X0007", "CNPJ do tomador inválido")]);
            }
            if let Some(c) = text(toma, &["CPF"])
                && Cpf::parse(&c).is_err()
            {
                return Err(vec![e("X0007", "CPF do tomador inválido")]);
            }
        }
        if text(prest, &["regTrib", "opSimpNac"]).as_deref() == Some("3") && tot_kind[0] == "indTotTrib" {
            return Err(vec![e(
                "E0712",
                "indTotTrib nunca poderá ser informado por ME/EPP optante do Simples Nacional",
            )]);
        }
        if text(prest, &["regTrib", "regApTribSN"]).is_some()
            && text(prest, &["regTrib", "opSimpNac"]).as_deref() != Some("3")
        {
            return Err(vec![e("X0008", "regApTribSN só pode ser informado por ME/EPP")]);
        }

        // Issue.
        let mut st = self.state.lock().map_err(|_| vec![e("X0009", "estado do simulador indisponível")])?;
        if st.by_dps.contains_key(id.as_str()) {
            return Err(vec![e("E0014", "DPS já utilizada para gerar uma NFS-e")]);
        }
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let now = Utc::now().with_timezone(&FixedOffset::west_opt(3 * 3600).unwrap_or_else(|| unreachable!()));
        let c_mun = t(&["cLocEmi"]);
        let tp_insc = if prest_doc.len() == 14 { "2" } else { "1" };
        let c_num = format!("{:09}", (n * 7_919 + 104_729) % 1_000_000_000);
        let body = format!("{c_mun}2{tp_insc}{prest_doc:0>14}{n:013}{}{c_num}", now.format("%y%m"));
        let key = NfseKey::parse(&format!("{body}{}", key_dv(&body))).ok_or_else(|| vec![e("X0009", "chave")])?;
        let place = t(&["serv", "locPrest", "cLocPrestacao"]);
        let xml = self.nfse_xml(inf, doc, &key, n, &now.format("%Y-%m-%dT%H:%M:%S%:z").to_string(), &c_mun, &place);
        let nfse = IssuedNfse::from_xml(xml).map_err(|m| vec![e("X0009", m)])?;
        st.by_dps.insert(id.as_str().to_owned(), key.as_str().to_owned());
        st.by_key
            .insert(key.as_str().to_owned(), Record { nfse: nfse.clone(), provider: prest_doc, events: Vec::new() });
        Ok(nfse)
    }

    #[allow(clippy::too_many_arguments)]
    fn nfse_xml(
        &self,
        inf: &Element,
        dps_doc: &str,
        key: &NfseKey,
        n: u64,
        dh: &str,
        c_mun: &str,
        place: &str,
    ) -> String {
        let t = |p: &[&str]| text(inf, p).unwrap_or_default();
        let mut c = String::with_capacity(dps_doc.len() + 2048);
        let tag = |c: &mut String, name: &str, v: &str| {
            c.push('<');
            c.push_str(name);
            c.push('>');
            osflow_nfe::text::push_text(c, v);
            c.push_str("</");
            c.push_str(name);
            c.push('>');
        };
        tag(&mut c, "xLocEmi", &city_name(c_mun));
        tag(&mut c, "xLocPrestacao", &city_name(place));
        tag(&mut c, "nNFSe", &n.to_string());
        tag(&mut c, "cLocIncid", place);
        tag(&mut c, "xLocIncid", &city_name(place));
        tag(
            &mut c,
            "xTribNac",
            &format!("Serviço de código de tributação nacional {}", t(&["serv", "cServ", "cTribNac"])),
        );
        tag(&mut c, "verAplic", "SefinNacSimulador1.0");
        tag(&mut c, "ambGer", "2");
        tag(&mut c, "tpEmis", "1");
        tag(&mut c, "procEmi", "1");
        tag(&mut c, "cStat", "100");
        tag(&mut c, "dhProc", dh);
        tag(&mut c, "nDFSe", &n.to_string());
        c.push_str("<emit>");
        let doc_tag = if text(inf, &["prest", "CNPJ"]).is_some() { "CNPJ" } else { "CPF" };
        tag(&mut c, doc_tag, &t(&["prest", doc_tag]));
        if let Some(im) = text(inf, &["prest", "IM"]) {
            tag(&mut c, "IM", &im);
        }
        tag(&mut c, "xNome", &format!("PRESTADOR {}", t(&["prest", doc_tag])));
        c.push_str("<enderNac>");
        tag(&mut c, "xLgr", "ENDERECO DO CADASTRO NACIONAL");
        tag(&mut c, "nro", "S/N");
        tag(&mut c, "xBairro", "CENTRO");
        tag(&mut c, "cMun", c_mun);
        let uf =
            osflow_domain::values::CityCode::parse(c_mun).map(|c| c.uf().to_string()).unwrap_or_else(|_| "SP".into());
        tag(&mut c, "UF", &uf);
        tag(&mut c, "CEP", "01001000");
        c.push_str("</enderNac>");
        if let Some(f) = text(inf, &["prest", "fone"]) {
            tag(&mut c, "fone", &f);
        }
        if let Some(m) = text(inf, &["prest", "email"]) {
            tag(&mut c, "email", &m);
        }
        c.push_str("</emit><valores>");
        let v_serv = t(&["valores", "vServPrest", "vServ"]);
        let disc = text(inf, &["valores", "vDescCondIncond", "vDescIncond"]).unwrap_or_else(|| "0".into());
        let bc = v_serv.parse::<rust_decimal::Decimal>().unwrap_or_default()
            - disc.parse::<rust_decimal::Decimal>().unwrap_or_default();
        let mut money = String::new();
        osflow_nfe::num::push_money(&mut money, bc);
        tag(&mut c, "vBC", &money);
        if let Some(p) = text(inf, &["valores", "trib", "tribMun", "pAliq"]) {
            tag(&mut c, "pAliqAplic", &p);
            let iss = osflow_nfe::num::round2(
                bc * p.parse::<rust_decimal::Decimal>().unwrap_or_default() / rust_decimal::Decimal::from(100),
            );
            let mut s = String::new();
            osflow_nfe::num::push_money(&mut s, iss);
            tag(&mut c, "vISSQN", &s);
        }
        tag(&mut c, "vLiq", &money);
        c.push_str("</valores>");
        // The DPS as received, its root in the inherited namespace (its canonical form here).
        let start = dps_doc.find("<infDPS").unwrap_or(0);
        c.push_str("<DPS versao=\"1.01\">");
        c.push_str(&dps_doc[start..]);

        let id = format!("NFS{key}");
        let inf_nfse = format!("<infNFSe Id=\"{id}\">{c}</infNFSe>");
        let wrapped = format!("<NFSe xmlns=\"{NFSE_NS}\" versao=\"{VERSION}\">{inf_nfse}</NFSe>");
        // Digest over the canonical infNFSe in context (the embedded DPS may not be canonical).
        let canon = match xml::parse(&wrapped) {
            Ok(root) => root.child("infNFSe").map(|i| xml::c14n(i, &xml::scope_of(&[&root]))).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let alg = SignatureAlgorithm::RsaSha256;
        let mut out = String::with_capacity(wrapped.len() + 4096);
        out.push_str(&wrapped[..wrapped.len() - "</NFSe>".len()]);
        let _ = dsig::push_signature(&mut out, &self.cert, alg, &id, &alg.digest_b64(canon.as_bytes()));
        out.push_str("</NFSe>");
        out
    }

    /// Registers an event request document.
    pub fn event_xml(&self, key: &NfseKey, doc: &str) -> Result<Arc<str>, Vec<SefinError>> {
        let root = xml::parse(doc).map_err(|err| schema(format!("XML mal formado ({err})")))?;
        if root.local_name() != "pedRegEvento" || root.attr("versao") != Some(VERSION) {
            return Err(schema("o elemento raiz deve ser pedRegEvento versao 1.01"));
        }
        let inf = root.child("infPedReg").ok_or_else(|| schema("infPedReg"))?;
        let ch = text(inf, &["chNFSe"]).unwrap_or_default();
        let ev = inf.elements().last().map(|e| e.local_name().to_owned()).unwrap_or_default();
        let tp = ev.strip_prefix('e').unwrap_or_default().to_owned();
        if inf.attr("Id") != Some(&format!("PRE{ch}{tp}")) || !is_digits(&tp, 6, 6) {
            return Err(schema("Id do pedido deve ser PRE + chNFSe + tpEvento"));
        }
        if ch != key.as_str() {
            return Err(vec![e("X0010", "chNFSe difere da chave do recurso")]);
        }
        let (signer, _) = match dsig::verify_enveloped(doc, "pedRegEvento", "infPedReg", &self.allowed()) {
            Ok(ok) => ok,
            Err(VerifyError::Profile(m)) if m.starts_with("SignatureMethod") => {
                return Err(vec![e("E0714", format!("Algoritmo de assinatura não suportado: {m}"))]);
            }
            Err(err) => return Err(vec![e("X0002", format!("Assinatura inválida: {err}"))]),
        };
        if tp == "101101" {
            let reason = text(inf, &["e101101", "cMotivo"]).unwrap_or_default();
            let why = text(inf, &["e101101", "xMotivo"]).unwrap_or_default();
            if !matches!(reason.as_str(), "1" | "2" | "9") || !(15..=255).contains(&why.chars().count()) {
                return Err(schema("e101101: cMotivo 1, 2 ou 9 e xMotivo de 15 a 255 caracteres"));
            }
        } else {
            return Err(vec![e("X0011", format!("Evento {tp} não suportado pelo simulador"))]);
        }
        let author = text(inf, &["CNPJAutor"]).or_else(|| text(inf, &["CPFAutor"])).unwrap_or_default();
        let owner = signer.cnpj().map(|c| c.as_str().to_owned()).unwrap_or_default();
        let mut st = self.state.lock().map_err(|_| vec![e("X0009", "estado do simulador indisponível")])?;
        let rec = st.by_key.get_mut(key.as_str()).ok_or_else(|| vec![e("X0012", "NFS-e inexistente")])?;
        if author != rec.provider || owner.get(..8) != author.get(..8) {
            return Err(vec![e("X0013", "O autor do evento não é o prestador da NFS-e")]);
        }
        if rec.events.iter().any(|(t, _)| t == &tp) {
            return Err(vec![e("X0014", "Evento já registrado para esta NFS-e")]);
        }
        let now = Utc::now().with_timezone(&FixedOffset::west_opt(3 * 3600).unwrap_or_else(|| unreachable!()));
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("EVT{key}{tp}001");
        let ped_start = doc.find("<infPedReg").unwrap_or(0);
        let inf_ev = format!(
            "<infEvento Id=\"{id}\"><verAplic>SefinNacSimulador1.0</verAplic><ambGer>2</ambGer><nSeqEvento>1</nSeqEvento>\
             <dhProc>{}</dhProc><nDFSe>{n}</nDFSe><pedRegEvento versao=\"1.01\">{}</infEvento>",
            now.format("%Y-%m-%dT%H:%M:%S%:z"),
            &doc[ped_start..]
        );
        let wrapped = format!("<evento xmlns=\"{NFSE_NS}\" versao=\"{VERSION}\">{inf_ev}</evento>");
        let canon = xml::parse(&wrapped)
            .ok()
            .and_then(|root| root.child("infEvento").map(|i| xml::c14n(i, &xml::scope_of(&[&root]))))
            .unwrap_or_default();
        let alg = SignatureAlgorithm::RsaSha256;
        let mut out = String::with_capacity(wrapped.len() + 4096);
        out.push_str(&wrapped[..wrapped.len() - "</evento>".len()]);
        let _ = dsig::push_signature(&mut out, &self.cert, alg, &id, &alg.digest_b64(canon.as_bytes()));
        out.push_str("</evento>");
        let xml: Arc<str> = out.into();
        rec.events.push((tp, xml.clone()));
        Ok(xml)
    }

    /// The DANFSe of an NFS-e it issued, drawn from the NFS-e as issued (cancelled once e101101 is registered).
    pub fn danfse_pdf(&self, key: &NfseKey) -> Option<Vec<u8>> {
        let (xml, cancelled) = {
            let st = self.state.lock().ok()?;
            let r = st.by_key.get(key.as_str())?;
            (r.nfse.xml.clone(), r.events.iter().any(|(t, _)| t == "101101"))
        };
        let situation = if cancelled { crate::Situation::Cancelled } else { crate::Situation::Issued };
        crate::danfse(&xml, situation).map_err(|e| tracing::error!(%key, error = %e, "DANFSe not drawn")).ok()
    }

    /// Serves one HTTP request of the Sefin/ADN API (`path` relative to the base URL).
    pub fn handle(&self, method: &str, path: &str, body: &[u8]) -> SimResponse {
        let json_resp = |status: u16, v: Value| SimResponse {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(&v).unwrap_or_default(),
        };
        let errors = |status: u16, errs: Vec<SefinError>| {
            let list: Vec<Value> = errs
                .iter()
                .map(|e| json!({"Codigo": e.code, "Descricao": e.description, "Complemento": e.complement}))
                .collect();
            json_resp(status, json!({"tipoAmbiente": 2, "versaoAplicativo": "SefinNacSimulador1.0", "erros": list}))
        };
        let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let field = |name: &str| -> Option<String> {
            let v: Value = serde_json::from_slice(body).ok()?;
            v.get(name)?.as_str().map(str::to_owned)
        };
        match (method, parts.as_slice()) {
            ("POST", ["nfse"]) => {
                let Some(b64) = field("dpsXmlGZipB64") else {
                    return errors(400, schema("dpsXmlGZipB64 ausente"));
                };
                let doc = match codec::decode(&b64) {
                    Ok(d) => d,
                    Err(m) => return errors(400, schema(format!("dpsXmlGZipB64 inválido ({m})"))),
                };
                match self.issue_xml(&doc) {
                    Ok(n) => json_resp(
                        201,
                        json!({
                            "tipoAmbiente": 2,
                            "versaoAplicativo": "SefinNacSimulador1.0",
                            "dataHoraProcessamento": n.processed_at,
                            "idDps": n.dps_id.map(|d| d.to_string()),
                            "chaveAcesso": n.key.as_str(),
                            "nfseXmlGZipB64": codec::encode(&n.xml),
                        }),
                    ),
                    Err(errs) => errors(400, errs),
                }
            }
            ("GET", ["dps", id]) => {
                let key = self.state.lock().ok().and_then(|s| s.by_dps.get(*id).cloned());
                match key {
                    Some(k) => json_resp(200, json!({"tipoAmbiente": 2, "idDps": id, "chaveAcesso": k})),
                    None => errors(404, vec![e("X0015", "DPS não encontrada")]),
                }
            }
            ("GET", ["nfse", key]) => {
                let found = self.state.lock().ok().and_then(|s| s.by_key.get(*key).map(|r| r.nfse.clone()));
                match found {
                    Some(n) => json_resp(
                        200,
                        json!({"tipoAmbiente": 2, "chaveAcesso": n.key.as_str(), "nfseXmlGZipB64": codec::encode(&n.xml)}),
                    ),
                    None => errors(404, vec![e("X0012", "NFS-e inexistente")]),
                }
            }
            ("POST", ["nfse", key, "eventos"]) => {
                let Some(k) = NfseKey::parse(key) else { return errors(400, schema("chave de acesso")) };
                let Some(b64) = field("pedidoRegistroEventoXmlGZipB64") else {
                    return errors(400, schema("pedidoRegistroEventoXmlGZipB64 ausente"));
                };
                let doc = match codec::decode(&b64) {
                    Ok(d) => d,
                    Err(m) => return errors(400, schema(format!("pedidoRegistroEventoXmlGZipB64 inválido ({m})"))),
                };
                match self.event_xml(&k, &doc) {
                    Ok(x) => json_resp(201, json!({"tipoAmbiente": 2, "eventoXmlGZipB64": codec::encode(&x)})),
                    Err(errs) => errors(400, errs),
                }
            }
            ("GET", ["nfse", key, "eventos", tp, "1"]) => {
                let found = NfseKey::parse(key)
                    .and_then(|k| self.events(&k).into_iter().find(|(t, _)| t == tp).map(|(_, x)| x));
                match found {
                    Some(x) => json_resp(200, json!({"tipoAmbiente": 2, "eventoXmlGZipB64": codec::encode(&x)})),
                    None => errors(404, vec![e("X0017", "Evento não encontrado")]),
                }
            }
            ("GET", ["danfse", key]) => match NfseKey::parse(key).and_then(|k| self.danfse_pdf(&k)) {
                Some(pdf) => SimResponse { status: 200, content_type: "application/pdf", body: pdf },
                None => errors(404, vec![e("X0012", "NFS-e inexistente")]),
            },
            _ => errors(404, vec![e("X0016", format!("{method} {path}: recurso inexistente"))]),
        }
    }
}

#[async_trait]
impl NfseAuthority for Simulator {
    async fn issue(&self, dps: &SignedDps) -> Result<IssueOutcome, TransportError> {
        Ok(match self.issue_xml(dps.xml()) {
            Ok(n) => IssueOutcome::Issued(n),
            Err(errs) => {
                let out = IssueOutcome::Rejected(errs);
                // As the client does: a duplicate is settled by the DPS consult.
                if out.is_duplicate()
                    && let Some(k) = self.find_by_dps(dps.id()).await?
                    && let Some(n) = self.nfse(&k).await?
                {
                    return Ok(IssueOutcome::Issued(n));
                }
                out
            }
        })
    }
    async fn find_by_dps(&self, id: &DpsId) -> Result<Option<NfseKey>, TransportError> {
        Ok(self.state.lock().ok().and_then(|s| s.by_dps.get(id.as_str()).and_then(|k| NfseKey::parse(k))))
    }
    async fn nfse(&self, key: &NfseKey) -> Result<Option<IssuedNfse>, TransportError> {
        Ok(self.state.lock().ok().and_then(|s| s.by_key.get(key.as_str()).map(|r| r.nfse.clone())))
    }
    async fn register_event(&self, event: &SignedEvent) -> Result<EventOutcome, TransportError> {
        Ok(match self.event_xml(event.key(), event.xml()) {
            Ok(xml) => EventOutcome::Registered { xml },
            Err(errs) => EventOutcome::Rejected(errs),
        })
    }
    async fn event(&self, key: &NfseKey, event_type: &str, seq: u32) -> Result<Option<Arc<str>>, TransportError> {
        Ok((seq == 1).then(|| self.events(key).into_iter().find(|(t, _)| t == event_type).map(|(_, x)| x)).flatten())
    }
    async fn danfse(&self, key: &NfseKey) -> Result<Option<Vec<u8>>, TransportError> {
        Ok(self.danfse_pdf(key))
    }
}

#[cfg(test)]
mod tests {
    use super::is_money;

    #[test]
    fn money_pattern() {
        for ok in ["0", "0.00", "20.00", "999999999999999.99", "7"] {
            assert!(is_money(ok), "{ok}");
        }
        for bad in ["01.00", "1.5", "", "1.000", "-1.00"] {
            assert!(!is_money(bad), "{bad}");
        }
    }
}
