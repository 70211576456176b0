//! A homologation authority without network. It checks a document the way SEFAZ does before
//! its business rules — well-formedness, the signature over the canonical `infNFe` with the
//! embedded certificate, the access key against ide/emit, the homologation environment and
//! recipient name, the totals and the payments — and answers with a protocol or with the
//! rejection SEFAZ would give.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{FixedOffset, Utc};
use rust_decimal::Decimal;

use crate::authority::{FiscalAuthority, Outcome, Protocol, ServiceStatus, TransportError};
use crate::build::NFE_NS;
use crate::key::{AccessKey, Cnf, KeyError};
use crate::model::HOMOLOGATION_DEST_NAME;
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
}

/// The offline homologation authority.
#[derive(Debug, Default)]
pub struct Simulator {
    state: Mutex<State>,
    seq: AtomicU64,
    requests: AtomicU64,
}

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
    let cnf: u32 = key.cnf().parse().unwrap_or(0);
    let nnf: u32 = key.n_nf().parse().unwrap_or(0);
    if !Cnf::allowed(cnf, nnf) {
        return Err(rej(503, "Código numérico (cNF) inválido: igual ao nNF ou na lista da NT 2019.001"));
    }

    // Environment and certificate holder.
    if t(ide, "tpAmb") != "2" {
        return Err(rej(252, "Ambiente informado diverge do Ambiente de recebimento"));
    }
    let cert_cnpj = cert.to_der().ok().and_then(|d| crate::cert::Certificate::cnpj_of_der(&d));
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

    /// Authorizes raw bytes (for documents that did not come from [`crate::sign`]).
    pub fn authorize_xml(&self, doc: &str) -> Outcome {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let (key, digest) = match check(doc) {
            Ok(v) => v,
            Err(r) => return Outcome::Rejected { c_stat: r.c_stat, x_motivo: r.x_motivo },
        };
        let number = (key.emitter().to_owned(), key.serie().to_owned(), key.n_nf().to_owned());
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
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
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let brt = FixedOffset::west_opt(3 * 3600).expect("UTC-3 is a valid offset");
        let now = Utc::now().with_timezone(&brt);
        let received_at = now.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let number_s = format!("1{}{}{seq:010}", key.cuf(), now.format("%y"));
        let x_motivo = "Autorizado o uso da NF-e".to_owned();
        let prot_nfe = format!(
            "<protNFe versao=\"4.00\"><infProt><tpAmb>2</tpAmb><verAplic>OSFLOW-SIM-1</verAplic><chNFe>{key}</chNFe><dhRecbto>{received_at}</dhRecbto><nProt>{number_s}</nProt><digVal>{digest}</digVal><cStat>100</cStat><xMotivo>{x_motivo}</xMotivo></infProt></protNFe>"
        );
        let p = Protocol { key, number: number_s, c_stat: 100, x_motivo, received_at, prot_nfe: Arc::from(prot_nfe) };
        st.by_key.insert(key.as_str().to_owned(), p.clone());
        st.by_number.insert(number, key.as_str().to_owned());
        Outcome::Authorized(p)
    }
}

#[async_trait]
impl FiscalAuthority for Simulator {
    async fn authorize(&self, nfe: &SignedNfe) -> Result<Outcome, TransportError> {
        Ok(self.authorize_xml(nfe.xml()))
    }

    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match st.by_key.get(key.as_str()) {
            Some(p) => Outcome::Authorized(p.clone()),
            None => Outcome::Rejected {
                c_stat: 217,
                x_motivo: "Rejeição: NF-e não consta na base de dados da SEFAZ".into(),
            },
        })
    }

    async fn status(&self) -> Result<ServiceStatus, TransportError> {
        Ok(ServiceStatus {
            c_stat: 107,
            x_motivo: "Serviço em Operação".into(),
            received_at: None,
            average_seconds: Some(1),
        })
    }
}
