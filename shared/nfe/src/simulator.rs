//! A homologation authority without network. It checks a document the way SEFAZ does before
//! its business rules — well-formedness, the signature over the canonical `infNFe` with the
//! embedded certificate, the access key against ide/emit, the homologation environment and
//! recipient name, the NCM (chapter 77, reserved in the HS, is 778 "NCM inexistente": a rejection
//! a retry under the same key cannot cure), the totals and the payments — and answers with a protocol or with the
//! rejection SEFAZ would give.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;

use crate::authority::{FiscalAuthority, Outcome, Protocol, ServiceStatus, TransportError};
use crate::build::NFE_NS;
use crate::event::{EventReceipt, EventType, SignedEvent, SignedVoid, VoidReceipt};
use crate::key::{AccessKey, Cnf, KeyError, Uf};
use crate::model::HOMOLOGATION_DEST_NAME;
use crate::sefaz::endpoints;
use crate::sign::SignedNfe;
use crate::verify::{self, VerifyError};
use crate::xml::{self, Element};

/// The answer of a failed check: cStat and the SEFAZ message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub c_stat: u16,
    pub x_motivo: String,
}

fn rej(c_stat: u16, x_motivo: impl Into<String>) -> Rejection {
    Rejection { c_stat, x_motivo: format!("Rejeição: {}", x_motivo.into()) }
}

#[derive(Debug, Default)]
struct State {
    /// Authorized documents by key.
    by_key: HashMap<String, Protocol>,
    /// (CNPJ, serie, nNF) -> key, to detect 539.
    by_number: HashMap<(String, String, String), String>,
    /// When each key was authorized (simulator time), for the cancellation window.
    authorized_at: HashMap<String, DateTime<Utc>>,
    /// Registered events: (key, tpEvento, nSeqEvento) -> the retEvento.
    events: HashMap<(String, String, u8), EventReceipt>,
    /// Cancelled keys.
    cancelled: HashMap<String, String>,
    /// Voided ranges: (CNPJ, serie as in the key, first, last) and their answer.
    voided: Vec<((String, String, u32, u32), VoidReceipt)>,
}

/// The offline homologation authority.
#[derive(Debug, Default)]
pub struct Simulator {
    state: Mutex<State>,
    seq: AtomicU64,
    requests: AtomicU64,
    /// The UF authorizers are down: tpEmis 1 is answered 108, SVC (tpEmis 6/7) still works.
    outage: AtomicBool,
    /// Seconds added to the wall clock (to test the cancellation window).
    clock_offset: AtomicI64,
}

/// The legal window to cancel an authorized NF-e (the common rule; some UFs accept later, answering 151/155).
pub const CANCEL_WINDOW_HOURS: i64 = 24;

fn dec(e: &Element, path: &[&str]) -> Result<Decimal, Rejection> {
    match e.text_at(path) {
        None => Ok(Decimal::ZERO),
        Some(t) => t
            .trim()
            .parse::<Decimal>()
            .map_err(|_| rej(225, format!("Falha no Schema XML: {} = {t:?}", path.join("/")))),
    }
}

/// The checks, in the order SEFAZ applies them (the schema itself is not validated here).
/// Returns the key and `DigestValue` of a document that passes.
pub fn check(doc: &str) -> Result<(AccessKey, String), Rejection> {
    let root = xml::parse(doc).map_err(|e| rej(243, format!("XML Mal Formado ({e})")))?;
    let path = xml::find_path(&root, &|e| e.local_name() == "NFe")
        .ok_or_else(|| rej(225, "Falha no Schema XML: NFe ausente"))?;
    let nfe = *path.last().ok_or_else(|| rej(225, "NFe"))?;
    if xml::ns_uri(nfe, &xml::scope_of(&path[..path.len() - 1])).as_deref() != Some(NFE_NS) {
        return Err(rej(404, "Uso de prefixo de namespace não permitido"));
    }
    let inf = nfe.child("infNFe").ok_or_else(|| rej(225, "Falha no Schema XML: infNFe ausente"))?;
    if inf.attr("versao") != Some("4.00") {
        return Err(rej(239, "Versão do arquivo XML não suportada"));
    }

    // Signature.
    let cert = match verify::verify_tree(&root) {
        Ok(c) => c,
        Err(VerifyError::Digest | VerifyError::Signature) => {
            return Err(rej(297, "Assinatura difere do calculado"));
        }
        Err(VerifyError::Profile(m)) => {
            return Err(rej(298, format!("Assinatura difere do padrão do Projeto ({m})")));
        }
        Err(VerifyError::NoSignature) => return Err(rej(225, "Falha no Schema XML: Signature ausente")),
        Err(e) => return Err(rej(290, format!("Certificado Assinatura inválido ({e})"))),
    };
    let digest = nfe.text_at(&["Signature", "SignedInfo", "Reference", "DigestValue"]).unwrap_or_default();

    // Access key.
    let id = inf.attr("Id").unwrap_or_default();
    let raw_key = id.strip_prefix("NFe").ok_or_else(|| rej(225, "Falha no Schema XML: Id"))?;
    let key = match AccessKey::parse(raw_key) {
        Ok(k) => k,
        Err(KeyError::CheckDigit { .. }) => {
            return Err(rej(236, "Chave de Acesso com dígito verificador inválido"));
        }
        Err(KeyError::Format) => return Err(rej(225, "Falha no Schema XML: Id")),
    };
    let ide = inf.child("ide").ok_or_else(|| rej(225, "ide"))?;
    let emit = inf.child("emit").ok_or_else(|| rej(225, "emit"))?;
    let t = |e: &Element, p: &str| e.text_at(&[p]).unwrap_or_default().trim().to_owned();
    let dh = t(ide, "dhEmi");
    let doc_id = emit.text_at(&["CNPJ"]).or_else(|| emit.text_at(&["CPF"])).unwrap_or_default();
    let fields_match = key.cuf() == t(ide, "cUF")
        && dh.len() >= 7
        && key.aamm() == format!("{}{}", &dh[2..4], &dh[5..7])
        && key.emitter() == format!("{doc_id:0>14}")
        && key.model() == t(ide, "mod")
        && key.serie() == format!("{:0>3}", t(ide, "serie"))
        && key.n_nf() == format!("{:0>9}", t(ide, "nNF"))
        && key.tp_emis() == t(ide, "tpEmis")
        && key.cnf() == t(ide, "cNF")
        && key.dv().to_string() == t(ide, "cDV");
    if !fields_match {
        return Err(rej(
            502,
            "Erro na Chave de Acesso - Campo Id não corresponde à concatenação dos campos correspondentes",
        ));
    }
    // Contingency data only with a contingency tpEmis, and always with one.
    let (dh_cont, x_just) = (t(ide, "dhCont"), t(ide, "xJust"));
    if key.tp_emis() == "1" && (!dh_cont.is_empty() || !x_just.is_empty()) {
        return Err(rej(
            556,
            "Justificativa de entrada em contingência não deve ser informada para tipo de emissão normal",
        ));
    }
    if key.tp_emis() != "1" && (dh_cont.is_empty() || x_just.is_empty()) {
        return Err(rej(557, "A Justificativa de entrada em contingência deve ser informada."));
    }
    let cnf: u32 = key.cnf().parse().unwrap_or(0);
    let nnf: u32 = key.n_nf().parse().unwrap_or(0);
    if !Cnf::allowed(cnf, nnf) {
        return Err(rej(503, "Código numérico (cNF) inválido: igual ao nNF ou na lista da NT 2019.001"));
    }

    // Environment and certificate holder.
    if t(ide, "tpAmb") != "2" {
        return Err(rej(252, "Ambiente informado diverge do Ambiente de recebimento"));
    }
    let cert_cnpj = cert.cnpj();
    match cert_cnpj {
        Some(c) if doc_id.len() == 14 && c.root() == &doc_id[..8] => {}
        _ => {
            return Err(rej(213, "CNPJ-Base do Emitente difere do CNPJ-Base do Certificado Digital"));
        }
    }
    let dest_name = inf.text_at(&["dest", "xNome"]).unwrap_or_default();
    if dest_name != HOMOLOGATION_DEST_NAME {
        return Err(rej(
            598,
            "NF-e emitida em ambiente de homologação com Razão Social do destinatário diferente de NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL",
        ));
    }

    // Totals.
    let cent = Decimal::new(1, 2);
    let mut sum_prod = Decimal::ZERO;
    let mut sum_desc = Decimal::ZERO;
    for det in inf.elements().filter(|e| e.local_name() == "det") {
        let prod = det.child("prod").ok_or_else(|| rej(225, "prod"))?;
        // Chapter 77 of the HS is reserved for future use: no NCM of the TIPI starts with it (one of the
        // rejections users hit most, and one a retry under the same key cannot cure).
        if t(prod, "NCM").starts_with("77") {
            return Err(rej(778, "Rejeição: Informado NCM inexistente"));
        }
        let (q, v, vp) = (dec(prod, &["qCom"])?, dec(prod, &["vUnCom"])?, dec(prod, &["vProd"])?);
        if (q * v - vp).abs() > cent {
            return Err(rej(
                629,
                "Valor do Produto difere do produto Valor Unitário de Comercialização e Quantidade Comercial",
            ));
        }
        if t(prod, "indTot") == "1" {
            sum_prod += vp;
        }
        sum_desc += dec(prod, &["vDesc"])?;
    }
    let tot = inf.path(&["total", "ICMSTot"]).ok_or_else(|| rej(225, "ICMSTot"))?;
    let g = |k: &str| dec(tot, &[k]);
    if g("vProd")? != sum_prod {
        return Err(rej(564, "Total do Produto / Serviço difere do somatório dos itens"));
    }
    if g("vDesc")? != sum_desc {
        return Err(rej(535, "Total do Desconto difere do somatório dos itens"));
    }
    let vserv = dec(inf, &["total", "ISSQNtot", "vServ"])?;
    let v_nf = g("vNF")?;
    let calc = g("vProd")? - g("vDesc")? - g("vICMSDeson")?
        + g("vST")?
        + g("vFCPST")?
        + g("vFrete")?
        + g("vSeg")?
        + g("vOutro")?
        + g("vII")?
        + g("vIPI")?
        + g("vIPIDevol")?
        + vserv;
    if calc != v_nf {
        return Err(rej(610, "Total da NF difere do somatório dos Valores compõe o valor Total da NF."));
    }
    if let Some(pag) = inf.child("pag") {
        let dets: Vec<&Element> = pag.elements().filter(|e| e.local_name() == "detPag").collect();
        if !dets.iter().all(|d| t(d, "tPag") == "90") {
            let mut paid = Decimal::ZERO;
            for d in &dets {
                paid += dec(d, &["vPag"])?;
            }
            if paid < v_nf {
                return Err(rej(865, "Total dos pagamentos menor que o total da nota"));
            }
            if paid - dec(pag, &["vTroco"])? != v_nf {
                return Err(rej(
                    866,
                    "Ausência de troco quando o valor dos pagamentos informados for maior que o total da nota",
                ));
            }
        }
    } else {
        return Err(rej(225, "Falha no Schema XML: pag ausente"));
    }
    Ok((key, digest))
}

impl Simulator {
    pub fn new() -> Simulator {
        Simulator::default()
    }

    /// Number of authorization requests received.
    pub fn authorization_requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Turns the outage of the UF authorizers on or off (SVC keeps answering).
    pub fn set_outage(&self, down: bool) {
        self.outage.store(down, Ordering::SeqCst);
    }

    /// Moves the simulator's clock forward (e.g. past the cancellation window).
    pub fn advance(&self, by: chrono::Duration) {
        self.clock_offset.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.clock_offset.load(Ordering::SeqCst))
    }

    fn now_brt(&self) -> String {
        let brt = FixedOffset::west_opt(3 * 3600).expect("UTC-3 is a valid offset");
        self.now().with_timezone(&brt).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    fn paused() -> TransportError {
        TransportError::Inconclusive {
            c_stat: 108,
            x_motivo: "Serviço Paralisado Momentaneamente (curto prazo)".into(),
        }
    }

    fn next_protocol(&self, cuf: &str) -> String {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        format!("1{cuf}{}{seq:010}", self.now().format("%y"))
    }

    /// An NF-e of a contingency tpEmis (6 SVC-AN, 7 SVC-RS) is authorized only by the SVC of its UF, and only
    /// while the SEFAZ of origin has it on (here: during the outage): 114 otherwise.
    fn svc_refusal(&self, key: &AccessKey) -> Option<Outcome> {
        let asked = match key.tp_emis() {
            "6" => "SVCAN",
            "7" => "SVCRS",
            _ => return None,
        };
        let of_the_uf = key.cuf().parse().ok().and_then(Uf::from_code).map(endpoints::contingency_authorizer);
        if self.outage.load(Ordering::SeqCst) && of_the_uf == Some(asked) {
            return None;
        }
        let label = if asked == "SVCAN" { "SVC-AN" } else { "SVC-RS" };
        Some(Outcome::Rejected { c_stat: 114, x_motivo: format!("{label} desabilitada pela SEFAZ de Origem") })
    }

    /// Authorizes raw bytes (for documents that did not come from [`crate::sign`]).
    pub fn authorize_xml(&self, doc: &str) -> Outcome {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let (key, digest) = match check(doc) {
            Ok(v) => v,
            Err(r) => return Outcome::Rejected { c_stat: r.c_stat, x_motivo: r.x_motivo },
        };
        if let Some(refused) = self.svc_refusal(&key) {
            return refused;
        }
        let number = (key.emitter().to_owned(), key.serie().to_owned(), key.n_nf().to_owned());
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n: u32 = key.n_nf().parse().unwrap_or(0);
        if st.voided.iter().any(|((c, s, a, b), _)| *c == number.0 && *s == number.1 && (*a..=*b).contains(&n)) {
            return Outcome::Rejected {
                c_stat: 206,
                x_motivo: "Rejeição: NF-e já está inutilizada na Base de dados da SEFAZ".into(),
            };
        }
        if let Some(p) = st.by_key.get(key.as_str()) {
            return Outcome::Rejected {
                c_stat: 204,
                x_motivo: format!("Rejeição: Duplicidade de NF-e [nProt:{}][dhAut:{}]", p.number, p.received_at),
            };
        }
        if let Some(other) = st.by_number.get(&number) {
            return Outcome::Rejected {
                c_stat: 539,
                x_motivo: format!("Rejeição: Duplicidade de NF-e com diferença na Chave de Acesso [chNFe:{other}]"),
            };
        }
        let received_at = self.now_brt();
        let number_s = self.next_protocol(key.cuf());
        let x_motivo = "Autorizado o uso da NF-e".to_owned();
        let prot_nfe = format!(
            "<protNFe versao=\"4.00\"><infProt><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><chNFe>{key}</chNFe><dhRecbto>{received_at}</dhRecbto><nProt>{number_s}</nProt><digVal>{digest}</digVal><cStat>100</cStat><xMotivo>{x_motivo}</xMotivo></infProt></protNFe>"
        );
        let p = Protocol { key, number: number_s, c_stat: 100, x_motivo, received_at, prot_nfe: Arc::from(prot_nfe) };
        st.by_key.insert(key.as_str().to_owned(), p.clone());
        st.by_number.insert(number, key.as_str().to_owned());
        st.authorized_at.insert(key.as_str().to_owned(), self.now());
        Outcome::Authorized(p)
    }

    /// Registers an event (raw `evento` bytes) the way SEFAZ does: signature, Id, environment, author, the
    /// NF-e authorized, the protocol, the cancellation window, the sequence.
    pub fn event_xml(&self, doc: &str) -> EventReceipt {
        let refuse = |c_stat: u16, m: &str| EventReceipt {
            c_stat,
            x_motivo: format!("Rejeição: {m}"),
            protocol: None,
            registered_at: None,
            ret_evento: None,
        };
        let root = match xml::parse(doc) {
            Ok(r) => r,
            Err(e) => return refuse(215, &format!("Falha no schema XML ({e})")),
        };
        let cert = match verify::verify_signed(&root, "evento", "infEvento") {
            Ok(c) => c,
            Err(VerifyError::Digest | VerifyError::Signature) => return refuse(297, "Assinatura difere do calculado"),
            Err(e) => return refuse(298, &format!("Assinatura difere do padrão do Projeto ({e})")),
        };
        let Some(ev) = xml::find_path(&root, &|e| e.local_name() == "evento").and_then(|p| p.last().copied()) else {
            return refuse(215, "Falha no schema XML");
        };
        let Some(inf) = ev.child("infEvento") else { return refuse(215, "Falha no schema XML") };
        let t = |p: &str| inf.text_at(&[p]).unwrap_or_default().trim().to_owned();
        let (ch, tp, cnpj) = (t("chNFe"), t("tpEvento"), t("CNPJ"));
        let seq: u8 = t("nSeqEvento").parse().unwrap_or(0);
        if inf.attr("Id") != Some(format!("ID{tp}{ch}{seq:02}").as_str()) {
            return refuse(215, "Falha no schema XML: Id do evento difere da concatenação dos campos");
        }
        if t("tpAmb") != "2" {
            return refuse(252, "Ambiente informado diverge do Ambiente de recebimento");
        }
        let Ok(key) = AccessKey::parse(&ch) else { return refuse(236, "Chave de Acesso inválida") };
        if key.emitter() != cnpj {
            return refuse(574, "O autor do evento diverge do emissor da NF-e");
        }
        let cert_cnpj = cert.cnpj();
        if !cert_cnpj.is_some_and(|c| cnpj.len() == 14 && c.root() == &cnpj[..8]) {
            return refuse(213, "CNPJ-Base do Autor difere do CNPJ-Base do Certificado Digital");
        }
        let Some(kind) = EventType::from_code(&tp) else { return refuse(490, "Tipo do evento não suportado") };
        let now = self.now();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(done) = st.events.get(&(ch.clone(), tp.clone(), seq)) {
            return EventReceipt { c_stat: 573, x_motivo: "Rejeição: Duplicidade de Evento".into(), ..done.clone() };
        }
        let Some(prot) = st.by_key.get(&ch).cloned() else {
            return refuse(217, "NF-e não consta na base de dados da SEFAZ");
        };
        if st.cancelled.contains_key(&ch) {
            return refuse(580, "O evento exige uma NF-e autorizada");
        }
        let (c_stat, x_motivo, x_evento) = match kind {
            EventType::Cancel => {
                let n_prot = inf.text_at(&["detEvento", "nProt"]).unwrap_or_default();
                if n_prot.trim() != prot.number {
                    return refuse(222, "Protocolo de Autorização de Uso difere do cadastrado");
                }
                let at = st.authorized_at.get(&ch).copied().unwrap_or(now);
                if now - at > chrono::Duration::hours(CANCEL_WINDOW_HOURS) {
                    return refuse(220, "Prazo de Cancelamento superior ao previsto na Legislação");
                }
                (135, "Evento registrado e vinculado a NF-e", "Cancelamento registrado")
            }
            EventType::Correction => {
                if seq > crate::event::MAX_CORRECTIONS {
                    return refuse(594, "O número de sequencia do evento informado é maior que o permitido");
                }
                (135, "Evento registrado e vinculado a NF-e", "Carta de Correção registrada")
            }
        };
        let protocol = self.next_protocol(key.cuf());
        let registered_at = self.now_brt();
        let ret = format!(
            "<retEvento versao=\"1.00\"><infEvento><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cOrgao>{}</cOrgao><cStat>{c_stat}</cStat><xMotivo>{x_motivo}</xMotivo><chNFe>{ch}</chNFe><tpEvento>{tp}</tpEvento><xEvento>{x_evento}</xEvento><nSeqEvento>{seq}</nSeqEvento><dhRegEvento>{registered_at}</dhRegEvento><nProt>{protocol}</nProt></infEvento></retEvento>",
            key.cuf()
        );
        let receipt = EventReceipt {
            c_stat,
            x_motivo: x_motivo.into(),
            protocol: Some(protocol),
            registered_at: Some(registered_at),
            ret_evento: Some(Arc::from(ret)),
        };
        if kind == EventType::Cancel {
            st.cancelled.insert(ch.clone(), receipt.protocol.clone().unwrap_or_default());
        }
        st.events.insert((ch, tp, seq), receipt.clone());
        receipt
    }

    /// Voids a range (raw `inutNFe` bytes): signature, Id, environment, certificate, no number of the range
    /// used (241), not voided before (563 for the same range, 256 for an overlap).
    pub fn void_xml(&self, doc: &str) -> VoidReceipt {
        let brt_now = self.now_brt();
        let answer = |c_stat: u16, m: &str, protocol: Option<String>, body: &str| {
            let n = protocol.as_ref().map(|p| format!("<nProt>{p}</nProt>")).unwrap_or_default();
            VoidReceipt {
                c_stat,
                x_motivo: m.to_owned(),
                protocol,
                received_at: Some(brt_now.clone()),
                ret_inut: Arc::from(format!(
                    "<retInutNFe xmlns=\"{NFE_NS}\" versao=\"4.00\"><infInut><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cStat>{c_stat}</cStat><xMotivo>{m}</xMotivo>{body}<dhRecbto>{brt_now}</dhRecbto>{n}</infInut></retInutNFe>"
                )),
            }
        };
        let root = match xml::parse(doc) {
            Ok(r) => r,
            Err(e) => return answer(215, &format!("Rejeição: Falha no schema XML ({e})"), None, "<cUF>35</cUF>"),
        };
        let Some(inf) = xml::find_path(&root, &|e| e.local_name() == "infInut").and_then(|p| p.last().copied()) else {
            return answer(215, "Rejeição: Falha no schema XML", None, "<cUF>35</cUF>");
        };
        let t = |p: &str| inf.text_at(&[p]).unwrap_or_default().trim().to_owned();
        let (cuf, ano, cnpj, serie) = (t("cUF"), t("ano"), t("CNPJ"), t("serie"));
        let (first, last): (u32, u32) = (t("nNFIni").parse().unwrap_or(0), t("nNFFin").parse().unwrap_or(0));
        let body = format!(
            "<cUF>{cuf}</cUF><ano>{ano}</ano><CNPJ>{cnpj}</CNPJ><mod>55</mod><serie>{serie}</serie><nNFIni>{first}</nNFIni><nNFFin>{last}</nNFFin>"
        );
        let cert = match verify::verify_signed(&root, "inutNFe", "infInut") {
            Ok(c) => c,
            Err(VerifyError::Digest | VerifyError::Signature) => {
                return answer(297, "Rejeição: Assinatura difere do calculado", None, &body);
            }
            Err(e) => return answer(298, &format!("Rejeição: Assinatura difere do padrão ({e})"), None, &body),
        };
        let expected = format!("ID{cuf}{ano}{cnpj}55{:0>3}{first:09}{last:09}", serie);
        if inf.attr("Id") != Some(expected.as_str()) {
            return answer(215, "Rejeição: Falha no schema XML: Id", None, &body);
        }
        if t("tpAmb") != "2" {
            return answer(252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", None, &body);
        }
        let cert_cnpj = cert.cnpj();
        if !cert_cnpj.is_some_and(|c| cnpj.len() == 14 && c.root() == &cnpj[..8]) {
            return answer(
                213,
                "Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do Certificado Digital",
                None,
                &body,
            );
        }
        let serie_key = format!("{serie:0>3}");
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let used = st.by_number.keys().any(|(c, s, n)| {
            *c == cnpj && *s == serie_key && n.parse::<u32>().is_ok_and(|n| (first..=last).contains(&n))
        });
        if used {
            return answer(241, "Rejeição: Um número da faixa já foi utilizado", None, &body);
        }
        for ((c, s, a, b), _) in &st.voided {
            if *c == cnpj && *s == serie_key && first <= *b && *a <= last {
                let (m, code) = if (*a, *b) == (first, last) {
                    ("Rejeição: Já existe pedido de Inutilização com a mesma faixa de inutilização", 563)
                } else {
                    ("Rejeição: Uma NF-e da faixa já está inutilizada na Base de dados da SEFAZ", 256)
                };
                return answer(code, m, None, &body);
            }
        }
        let protocol = self.next_protocol(&cuf);
        let r = answer(102, "Inutilização de número homologado", Some(protocol), &body);
        st.voided.push(((cnpj, serie_key, first, last), r.clone()));
        r
    }

    /// The authority's SOAP answer to a request as [`crate::sefaz::SefazSoap`] sends it (the SOAP 1.2 action
    /// names the service), for a test SEFAZ over HTTPS; `None` for an unknown action.
    pub fn soap(&self, action: &str, body: &str) -> Option<String> {
        let envelope = |service: &str, inner: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body><nfeResultMsg xmlns=\"http://www.portalfiscal.inf.br/nfe/wsdl/{service}\">{inner}</nfeResultMsg></soap:Body></soap:Envelope>"
            )
        };
        let now = self.now_brt();
        let between = |a: &str, b: &str| {
            let i = body.find(a)? + a.len();
            let j = body[i..].find(b)? + i;
            Some(body[i..j].to_owned())
        };
        let head = |c: u16, m: &str| {
            format!("<tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cStat>{c}</cStat><xMotivo>{m}</xMotivo>")
        };
        let outage_for = |tp_emis: &str| self.outage.load(Ordering::SeqCst) && tp_emis == "1";
        if action.contains("NFeAutorizacao4") {
            let key = between("Id=\"NFe", "\"").unwrap_or_default();
            let tp_emis = key.get(34..35).unwrap_or("1");
            let inner = if outage_for(tp_emis) {
                format!(
                    "{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto>",
                    head(108, "Serviço Paralisado Momentaneamente (curto prazo)")
                )
            } else {
                let prot = match self.authorize_xml(body) {
                    Outcome::Authorized(p) => p.prot_nfe.to_string(),
                    Outcome::Denied { protocol: Some(p), .. } => p.prot_nfe.to_string(),
                    other => format!(
                        "<protNFe versao=\"4.00\"><infProt><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><chNFe>{key}</chNFe><dhRecbto>{now}</dhRecbto><cStat>{}</cStat><xMotivo>{}</xMotivo></infProt></protNFe>",
                        other.c_stat(),
                        match &other {
                            Outcome::Rejected { x_motivo, .. } | Outcome::Denied { x_motivo, .. } => x_motivo.clone(),
                            Outcome::Authorized(p) => p.x_motivo.clone(),
                        }
                    ),
                };
                format!("{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto>{prot}", head(104, "Lote processado"))
            };
            return Some(envelope(
                "NFeAutorizacao4",
                &format!("<retEnviNFe xmlns=\"{NFE_NS}\" versao=\"4.00\">{inner}</retEnviNFe>"),
            ));
        }
        if action.contains("NFeConsultaProtocolo4") {
            let ch = between("<chNFe>", "</chNFe>").unwrap_or_default();
            let tp_emis = ch.get(34..35).unwrap_or("1");
            let inner = if outage_for(tp_emis) {
                head(108, "Serviço Paralisado Momentaneamente (curto prazo)")
            } else {
                let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                match (st.by_key.get(&ch), st.cancelled.contains_key(&ch)) {
                    (Some(_), true) => format!(
                        "{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto><chNFe>{ch}</chNFe>",
                        head(101, "Cancelamento de NF-e homologado")
                    ),
                    (Some(p), false) => format!(
                        "{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto><chNFe>{ch}</chNFe>{}",
                        head(100, "Autorizado o uso da NF-e"),
                        p.prot_nfe
                    ),
                    (None, _) => format!(
                        "{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto><chNFe>{ch}</chNFe>",
                        head(217, "Rejeição: NF-e não consta na base de dados da SEFAZ")
                    ),
                }
            };
            return Some(envelope(
                "NFeConsultaProtocolo4",
                &format!("<retConsSitNFe xmlns=\"{NFE_NS}\" versao=\"4.00\">{inner}</retConsSitNFe>"),
            ));
        }
        if action.contains("NFeStatusServico4") {
            let (c, m) = if self.outage.load(Ordering::SeqCst) {
                (108, "Serviço Paralisado Momentaneamente (curto prazo)")
            } else {
                (107, "Serviço em Operação")
            };
            return Some(envelope(
                "NFeStatusServico4",
                &format!(
                    "<retConsStatServ xmlns=\"{NFE_NS}\" versao=\"4.00\">{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto><tMed>1</tMed></retConsStatServ>",
                    head(c, m)
                ),
            ));
        }
        if action.contains("NFeRecepcaoEvento4") {
            let id_lote = between("<idLote>", "</idLote>").unwrap_or_else(|| "1".into());
            let ch = between("<chNFe>", "</chNFe>").unwrap_or_default();
            let inner = if outage_for(ch.get(34..35).unwrap_or("1")) {
                head(108, "Serviço Paralisado Momentaneamente (curto prazo)")
                    .replace("<cStat>", "<cOrgao>35</cOrgao><cStat>")
            } else {
                let start = body.find("<evento ").unwrap_or(0);
                let end = body.rfind("</evento>").map(|i| i + "</evento>".len()).unwrap_or(body.len());
                let r = self.event_xml(&body[start..end]);
                let ret = r.ret_evento.as_deref().map(str::to_owned).unwrap_or_else(|| format!(
                    "<retEvento versao=\"1.00\"><infEvento><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cOrgao>35</cOrgao><cStat>{}</cStat><xMotivo>{}</xMotivo><chNFe>{ch}</chNFe><dhRegEvento>{now}</dhRegEvento></infEvento></retEvento>",
                    r.c_stat, r.x_motivo
                ));
                // A duplicate answers with its own cStat, not the stored registration.
                let ret = if r.c_stat == 573 {
                    format!(
                        "<retEvento versao=\"1.00\"><infEvento><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cOrgao>35</cOrgao><cStat>573</cStat><xMotivo>{}</xMotivo><chNFe>{ch}</chNFe><dhRegEvento>{now}</dhRegEvento></infEvento></retEvento>",
                        r.x_motivo
                    )
                } else {
                    ret
                };
                format!(
                    "<tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><cOrgao>35</cOrgao><cStat>128</cStat><xMotivo>Lote de Evento Processado</xMotivo>{ret}"
                )
            };
            return Some(envelope(
                "NFeRecepcaoEvento4",
                &format!(
                    "<retEnvEvento xmlns=\"{NFE_NS}\" versao=\"1.00\"><idLote>{id_lote}</idLote>{inner}</retEnvEvento>"
                ),
            ));
        }
        if action.contains("NFeInutilizacao4") {
            let start = body.find("<inutNFe ").unwrap_or(0);
            let end = body.rfind("</inutNFe>").map(|i| i + "</inutNFe>".len()).unwrap_or(body.len());
            let r = if self.outage.load(Ordering::SeqCst) {
                return Some(envelope(
                    "NFeInutilizacao4",
                    &format!(
                        "<retInutNFe xmlns=\"{NFE_NS}\" versao=\"4.00\"><infInut>{}<cUF>35</cUF><dhRecbto>{now}</dhRecbto></infInut></retInutNFe>",
                        head(108, "Serviço Paralisado Momentaneamente (curto prazo)")
                    ),
                ));
            } else {
                self.void_xml(&body[start..end])
            };
            return Some(envelope("NFeInutilizacao4", &r.ret_inut));
        }
        None
    }
}

#[async_trait]
impl FiscalAuthority for Simulator {
    async fn authorize(&self, nfe: &SignedNfe) -> Result<Outcome, TransportError> {
        if self.outage.load(Ordering::SeqCst) && nfe.key().tp_emis() == "1" {
            return Err(Self::paused());
        }
        Ok(self.authorize_xml(nfe.xml()))
    }

    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        if self.outage.load(Ordering::SeqCst) && key.tp_emis() == "1" {
            return Err(Self::paused());
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match (st.by_key.get(key.as_str()), st.cancelled.contains_key(key.as_str())) {
            (Some(_), true) => Outcome::Rejected { c_stat: 101, x_motivo: "Cancelamento de NF-e homologado".into() },
            (Some(p), false) => Outcome::Authorized(p.clone()),
            (None, _) => Outcome::Rejected {
                c_stat: 217,
                x_motivo: "Rejeição: NF-e não consta na base de dados da SEFAZ".into(),
            },
        })
    }

    async fn status(&self) -> Result<ServiceStatus, TransportError> {
        let (c_stat, x_motivo) = if self.outage.load(Ordering::SeqCst) {
            (108, "Serviço Paralisado Momentaneamente (curto prazo)")
        } else {
            (107, "Serviço em Operação")
        };
        Ok(ServiceStatus { c_stat, x_motivo: x_motivo.into(), received_at: None, average_seconds: Some(1) })
    }

    async fn send_event(&self, event: &SignedEvent) -> Result<EventReceipt, TransportError> {
        if self.outage.load(Ordering::SeqCst) && event.key().tp_emis() == "1" {
            return Err(Self::paused());
        }
        let r = self.event_xml(event.xml());
        if r.c_stat == 573 {
            return Ok(EventReceipt { ret_evento: None, protocol: None, registered_at: None, ..r });
        }
        Ok(r)
    }

    async fn void_numbers(&self, request: &SignedVoid) -> Result<VoidReceipt, TransportError> {
        if self.outage.load(Ordering::SeqCst) {
            return Err(Self::paused());
        }
        Ok(self.void_xml(request.xml()))
    }
}
