//! NF-e events (`envEvento` 1.00, NFeRecepcaoEvento4): the cancellation (110111) and the carta de correção
//! (110110) of an authorized NF-e, and the inutilização of numbers never authorized (`inutNFe` 4.00,
//! NFeInutilizacao4).
//!
//! Each request is written in canonical form and signed like the NF-e (enveloped XMLDSig of `infEvento` /
//! `infInut`, C14N 1.0, RSA-SHA1, the certificate only); the answer (`retEvento`, `retInutNFe`) is kept
//! verbatim so that `procEventoNFe` / `procInutNFe` embed both documents byte for byte.

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset};

use crate::build::NFE_NS;
use crate::cert::Certificate;
use crate::error::{BuildError, Problem};
use crate::key::{AccessKey, Cnpj, Uf};
use crate::model::Environment;
use crate::sign::{SignError, sign_document};
use crate::text;

/// The fixed `xCondUso` of the carta de correção (the accented text of `e110110_v1.00.xsd`).
pub const CCE_CONDITIONS: &str = "A Carta de Correção é disciplinada pelo § 1º-A do art. 7º do Convênio S/N, de 15 de dezembro de 1970 e pode ser utilizada para regularização de erro ocorrido na emissão de documento fiscal, desde que o erro não esteja relacionado com: I - as variáveis que determinam o valor do imposto tais como: base de cálculo, alíquota, diferença de preço, quantidade, valor da operação ou da prestação; II - a correção de dados cadastrais que implique mudança do remetente ou do destinatário; III - a data de emissão ou de saída.";

/// The highest `nSeqEvento` of a carta de correção (each one supersedes the earlier ones).
pub const MAX_CORRECTIONS: u8 = 20;

/// Why an event or an inutilização request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// What the event says about the NF-e.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetail {
    /// 110111: `nProt` of the authorization and the justification (15–255 characters).
    Cancel { protocol: String, justification: String },
    /// 110110: the correction (15–1000 characters); `xCondUso` is fixed.
    Correction { text: String },
}

/// The event types this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Cancel,
    Correction,
}

impl EventType {
    /// `tpEvento`.
    pub fn code(self) -> &'static str {
        match self {
            EventType::Cancel => "110111",
            EventType::Correction => "110110",
        }
    }
    /// `descEvento`.
    pub fn description(self) -> &'static str {
        match self {
            EventType::Cancel => "Cancelamento",
            EventType::Correction => "Carta de Correção",
        }
    }
    pub fn from_code(code: &str) -> Option<EventType> {
        match code {
            "110111" => Some(EventType::Cancel),
            "110110" => Some(EventType::Correction),
            _ => None,
        }
    }
}

impl EventDetail {
    pub fn kind(&self) -> EventType {
        match self {
            EventDetail::Cancel { .. } => EventType::Cancel,
            EventDetail::Correction { .. } => EventType::Correction,
        }
    }
}

/// An event about one NF-e.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput {
    pub environment: Environment,
    /// The NF-e the event is about; its cUF is `cOrgao`.
    pub key: AccessKey,
    /// The author: the emitter.
    pub author: Cnpj,
    /// `dhEvento`.
    pub at: DateTime<FixedOffset>,
    /// `nSeqEvento`: 1 for a cancellation, 1–20 for the corrections of one NF-e.
    pub seq: u8,
    pub detail: EventDetail,
}

/// A signed `evento` (the exact bytes, never modified after signing).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEvent {
    key: AccessKey,
    kind: EventType,
    seq: u8,
    environment: Environment,
    xml: Arc<str>,
}

impl std::fmt::Debug for SignedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedEvent").field("id", &self.id()).field("bytes", &self.xml.len()).finish()
    }
}

impl SignedEvent {
    pub fn key(&self) -> &AccessKey {
        &self.key
    }
    pub fn kind(&self) -> EventType {
        self.kind
    }
    pub fn seq(&self) -> u8 {
        self.seq
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    /// `infEvento/@Id`: `ID` + tpEvento + chNFe + nSeqEvento (2 digits).
    pub fn id(&self) -> String {
        event_id(self.kind, &self.key, self.seq)
    }
    /// The signed `evento` element.
    pub fn xml(&self) -> &str {
        &self.xml
    }
    /// Reloads stored bytes: reads the key, type, sequence and environment from `infEvento`.
    pub fn from_stored(xml: impl Into<Arc<str>>) -> Result<SignedEvent, crate::xml::XmlError> {
        let xml: Arc<str> = xml.into();
        let bad = |m: &str| crate::xml::XmlError { pos: 0, msg: m.to_owned() };
        let root = crate::xml::parse(&xml)?;
        let inf =
            root.child("infEvento").filter(|_| root.local_name() == "evento").ok_or_else(|| bad("no infEvento"))?;
        let key = inf
            .text_at(&["chNFe"])
            .and_then(|k| AccessKey::parse(k.trim()).ok())
            .ok_or_else(|| bad("infEvento/chNFe"))?;
        let kind =
            inf.text_at(&["tpEvento"]).and_then(|t| EventType::from_code(t.trim())).ok_or_else(|| bad("tpEvento"))?;
        let seq = inf.text_at(&["nSeqEvento"]).and_then(|s| s.trim().parse().ok()).ok_or_else(|| bad("nSeqEvento"))?;
        let environment = match inf.text_at(&["tpAmb"]).as_deref() {
            Some("1") => Environment::Production,
            _ => Environment::Homologation,
        };
        Ok(SignedEvent { key, kind, seq, environment, xml })
    }
}

/// `ID` + tpEvento + chNFe + nSeqEvento.
pub fn event_id(kind: EventType, key: &AccessKey, seq: u8) -> String {
    format!("ID{}{}{seq:02}", kind.code(), key.as_str())
}

fn push_el(out: &mut String, tag: &str, value: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    text::push_text(out, value);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

fn check_offset(field: &str, at: &DateTime<FixedOffset>) -> Result<(), BuildError> {
    let off = at.offset().local_minus_utc();
    if off % 3600 != 0 || !(-11 * 3600..=12 * 3600).contains(&off) || !(2000..=2099).contains(&at.year()) {
        return Err(BuildError::new(field, Problem::Format("a date-time of 2000–2099 with a whole-hour UTC offset")));
    }
    Ok(())
}

/// Validates, writes and signs an event.
pub fn sign_event(input: &EventInput, cert: &Certificate) -> Result<SignedEvent, DocumentError> {
    let kind = input.detail.kind();
    check_offset("infEvento.dhEvento", &input.at)?;
    let max_seq = match kind {
        EventType::Cancel => 1,
        EventType::Correction => MAX_CORRECTIONS,
    };
    if input.seq == 0 || input.seq > max_seq {
        return Err(BuildError::new(
            "infEvento.nSeqEvento",
            Problem::OutOfRange(if max_seq == 1 { "1 for a cancellation" } else { "1 to 20" }),
        )
        .into());
    }
    if input.author.as_str().bytes().any(|b| !b.is_ascii_digit()) {
        return Err(BuildError::new("infEvento.CNPJ", Problem::Format("a numeric CNPJ (event schema 1.00)")).into());
    }
    let mut c = String::with_capacity(1600);
    push_el(&mut c, "cOrgao", input.key.cuf());
    push_el(&mut c, "tpAmb", &input.environment.code().to_string());
    push_el(&mut c, "CNPJ", input.author.as_str());
    push_el(&mut c, "chNFe", input.key.as_str());
    push_el(&mut c, "dhEvento", &input.at.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    push_el(&mut c, "tpEvento", kind.code());
    push_el(&mut c, "nSeqEvento", &input.seq.to_string());
    push_el(&mut c, "verEvento", "1.00");
    c.push_str("<detEvento versao=\"1.00\">");
    push_el(&mut c, "descEvento", kind.description());
    match &input.detail {
        EventDetail::Cancel { protocol, justification } => {
            text::digits("detEvento.nProt", protocol, 15, 15, "the 15-digit authorization protocol")?;
            push_el(&mut c, "nProt", protocol);
            push_el(&mut c, "xJust", &text::required("detEvento.xJust", justification, 15, 255)?);
        }
        EventDetail::Correction { text: correction } => {
            push_el(&mut c, "xCorrecao", &text::required("detEvento.xCorrecao", correction, 15, 1000)?);
            push_el(&mut c, "xCondUso", CCE_CONDITIONS);
        }
    }
    c.push_str("</detEvento>");
    let id = event_id(kind, &input.key, input.seq);
    let open = format!("<evento xmlns=\"{NFE_NS}\" versao=\"1.00\">");
    let xml = sign_document(&open, "evento", "infEvento", &id, &c, cert)?;
    Ok(SignedEvent { key: input.key, kind, seq: input.seq, environment: input.environment, xml: xml.into() })
}

/// `envEvento` with the events (1 to 20) of one batch; `id_lote` has up to 15 digits.
pub fn env_evento(events: &[&SignedEvent], id_lote: u64) -> String {
    let id_lote = id_lote % 1_000_000_000_000_000;
    let mut s = String::with_capacity(events.iter().map(|e| e.xml.len()).sum::<usize>() + 120);
    s.push_str("<envEvento xmlns=\"");
    s.push_str(NFE_NS);
    s.push_str("\" versao=\"1.00\"><idLote>");
    s.push_str(&id_lote.to_string());
    s.push_str("</idLote>");
    for e in events {
        s.push_str(e.xml());
    }
    s.push_str("</envEvento>");
    s
}

/// The authority's answer to one event (`retEvento/infEvento`), or to the batch when it had none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReceipt {
    pub c_stat: u16,
    pub x_motivo: String,
    /// `nProt` of the registration.
    pub protocol: Option<String>,
    /// `dhRegEvento`.
    pub registered_at: Option<String>,
    /// The `retEvento` element, verbatim (absent when the batch itself was refused).
    pub ret_evento: Option<Arc<str>>,
}

impl EventReceipt {
    /// 135 registered and linked, 136 registered but not linked, 155 cancellation accepted late.
    pub fn registered(&self) -> bool {
        matches!(self.c_stat, 135 | 136 | 155)
    }
}

/// Why a proc file cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcError {
    #[error("the answer was not a registration (cStat {0})")]
    NotRegistered(u16),
}

/// `procEventoNFe` = the signed event plus its `retEvento`, both verbatim.
pub fn proc_evento(event: &SignedEvent, receipt: &EventReceipt) -> Result<String, ProcError> {
    let ret = match (&receipt.ret_evento, receipt.registered()) {
        (Some(r), true) => r,
        _ => return Err(ProcError::NotRegistered(receipt.c_stat)),
    };
    let mut s = String::with_capacity(event.xml.len() + ret.len() + 100);
    s.push_str("<procEventoNFe xmlns=\"");
    s.push_str(NFE_NS);
    s.push_str("\" versao=\"1.00\">");
    s.push_str(event.xml());
    s.push_str(ret);
    s.push_str("</procEventoNFe>");
    Ok(s)
}

// ---------------------------------------------------------------- inutilização

/// A range of numbers of one série to void (`inutNFe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidInput {
    pub environment: Environment,
    pub uf: Uf,
    /// The year of the request (`ano`, two digits are written).
    pub year: i32,
    pub cnpj: Cnpj,
    pub serie: u16,
    pub first: u32,
    pub last: u32,
    /// 15–255 characters.
    pub justification: String,
}

/// A signed `inutNFe`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedVoid {
    id: String,
    uf: Uf,
    environment: Environment,
    first: u32,
    last: u32,
    xml: Arc<str>,
}

impl std::fmt::Debug for SignedVoid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedVoid").field("id", &self.id).field("bytes", &self.xml.len()).finish()
    }
}

impl SignedVoid {
    /// `infInut/@Id`.
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn uf(&self) -> Uf {
        self.uf
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    pub fn range(&self) -> (u32, u32) {
        (self.first, self.last)
    }
    pub fn xml(&self) -> &str {
        &self.xml
    }
    /// Reloads stored bytes (to resend them verbatim): reads the Id, UF, environment and range from `infInut`.
    pub fn from_stored(xml: impl Into<Arc<str>>) -> Result<SignedVoid, crate::xml::XmlError> {
        let xml: Arc<str> = xml.into();
        let bad = |m: &str| crate::xml::XmlError { pos: 0, msg: m.to_owned() };
        let root = crate::xml::parse(&xml)?;
        let inf = root.child("infInut").filter(|_| root.local_name() == "inutNFe").ok_or_else(|| bad("no infInut"))?;
        let id = inf.attr("Id").map(str::to_owned).ok_or_else(|| bad("infInut/@Id"))?;
        let uf = inf
            .text_at(&["cUF"])
            .and_then(|c| c.trim().parse().ok())
            .and_then(Uf::from_code)
            .ok_or_else(|| bad("infInut/cUF"))?;
        let number = |tag: &str| inf.text_at(&[tag]).and_then(|n| n.trim().parse::<u32>().ok()).ok_or_else(|| bad(tag));
        let (first, last) = (number("nNFIni")?, number("nNFFin")?);
        let environment = match inf.text_at(&["tpAmb"]).as_deref() {
            Some("1") => Environment::Production,
            _ => Environment::Homologation,
        };
        Ok(SignedVoid { id, uf, environment, first, last, xml })
    }
}

/// Validates, writes and signs an inutilização request.
pub fn sign_void(input: &VoidInput, cert: &Certificate) -> Result<SignedVoid, DocumentError> {
    if !(1..=999_999_999).contains(&input.first) || input.last < input.first || input.last > 999_999_999 {
        return Err(
            BuildError::new("infInut.nNFFin", Problem::OutOfRange("nNFIni ≤ nNFFin, both 1 to 999999999")).into()
        );
    }
    if input.serie > 999 {
        return Err(BuildError::new("infInut.serie", Problem::OutOfRange("0 to 999")).into());
    }
    if !(2000..=2099).contains(&input.year) {
        return Err(BuildError::new("infInut.ano", Problem::OutOfRange("a year between 2000 and 2099")).into());
    }
    if input.cnpj.as_str().bytes().any(|b| !b.is_ascii_digit()) {
        return Err(BuildError::new("infInut.CNPJ", Problem::Format("a numeric CNPJ (schema 4.00)")).into());
    }
    let ano = format!("{:02}", input.year % 100);
    let cuf = format!("{:02}", input.uf.code());
    let id = format!("ID{cuf}{ano}{}55{:03}{:09}{:09}", input.cnpj.as_str(), input.serie, input.first, input.last);
    let mut c = String::with_capacity(400);
    push_el(&mut c, "tpAmb", &input.environment.code().to_string());
    push_el(&mut c, "xServ", "INUTILIZAR");
    push_el(&mut c, "cUF", &cuf);
    push_el(&mut c, "ano", &ano);
    push_el(&mut c, "CNPJ", input.cnpj.as_str());
    push_el(&mut c, "mod", "55");
    push_el(&mut c, "serie", &input.serie.to_string());
    push_el(&mut c, "nNFIni", &input.first.to_string());
    push_el(&mut c, "nNFFin", &input.last.to_string());
    push_el(&mut c, "xJust", &text::required("infInut.xJust", &input.justification, 15, 255)?);
    let open = format!("<inutNFe xmlns=\"{NFE_NS}\" versao=\"4.00\">");
    let xml = sign_document(&open, "inutNFe", "infInut", &id, &c, cert)?;
    Ok(SignedVoid {
        id,
        uf: input.uf,
        environment: input.environment,
        first: input.first,
        last: input.last,
        xml: xml.into(),
    })
}

/// The authority's answer to an inutilização (`retInutNFe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidReceipt {
    pub c_stat: u16,
    pub x_motivo: String,
    pub protocol: Option<String>,
    pub received_at: Option<String>,
    /// The `retInutNFe` element, verbatim.
    pub ret_inut: Arc<str>,
}

impl VoidReceipt {
    /// 102: inutilização de número homologado.
    pub fn voided(&self) -> bool {
        self.c_stat == 102
    }
}

/// `ProcInutNFe` (the schema capitalizes it) = the signed request plus its `retInutNFe`, both verbatim.
pub fn proc_inut(request: &SignedVoid, receipt: &VoidReceipt) -> Result<String, ProcError> {
    if !receipt.voided() {
        return Err(ProcError::NotRegistered(receipt.c_stat));
    }
    let mut s = String::with_capacity(request.xml.len() + receipt.ret_inut.len() + 100);
    s.push_str("<ProcInutNFe xmlns=\"");
    s.push_str(NFE_NS);
    s.push_str("\" versao=\"4.00\">");
    s.push_str(request.xml());
    s.push_str(&receipt.ret_inut);
    s.push_str("</ProcInutNFe>");
    Ok(s)
}
