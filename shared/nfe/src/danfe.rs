//! The DANFE (Documento Auxiliar da NF-e) of an authorized NF-e: an A4 portrait PDF with the blocks of the MOC
//! layout — canhoto, emitente, the DANFE box (entrada/saída, número, série, folha), the CODE-128C barcode of the
//! access key and the protocol, natureza da operação, destinatário, fatura/pagamento, cálculo do imposto,
//! transportador, produtos, cálculo do ISSQN, dados adicionais — read from the stored `nfeProc`. A homologation
//! NF-e says "SEM VALOR FISCAL"; an NF-e issued in contingency (SVC) says so with dhCont and xJust. Products that
//! do not fit continue on further pages (folha n/m).

use osflow_pdf::{Align, Document, Font, Page};

use crate::xml::{self, Element};

/// The DANFE cannot be made from this document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DanfeError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("not an authorized nfeProc: {0}")]
    NotAuthorized(&'static str),
    #[error(transparent)]
    Barcode(#[from] osflow_pdf::BarcodeError),
}

struct Item {
    code: String,
    description: String,
    ncm: String,
    cst: String,
    cfop: String,
    unit: String,
    quantity: String,
    unit_price: String,
    total: String,
    v_bc: String,
    v_icms: String,
    v_ipi: String,
    p_icms: String,
    p_ipi: String,
}

/// The trimmed text at `path` under `e` (empty when absent). (Shared with the DANFSe.)
pub fn t(e: Option<&Element>, path: &[&str]) -> String {
    e.and_then(|e| e.text_at(path)).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// (Shared with the other printed fiscal documents, such as the DANFSe.)
///
/// "1234.5" → "1.234,50" (dots for thousands, comma for decimals, at least `places` decimals).
pub fn br_number(s: &str, places: usize) -> String {
    if s.is_empty() {
        return String::new();
    }
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.trim_end_matches('0').to_owned();
    while frac.len() < places {
        frac.push('0');
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{}{grouped},{frac}", if neg { "-" } else { "" })
}

pub fn money(s: &str) -> String {
    br_number(if s.is_empty() { "0" } else { s }, 2)
}

/// 12345678000195 → 12.345.678/0001-95; 11 digits → CPF format.
pub fn document(s: &str) -> String {
    match s.len() {
        14 => format!("{}.{}.{}/{}-{}", &s[0..2], &s[2..5], &s[5..8], &s[8..12], &s[12..14]),
        11 => format!("{}.{}.{}-{}", &s[0..3], &s[3..6], &s[6..9], &s[9..11]),
        _ => s.to_owned(),
    }
}

/// The key in 11 groups of 4 digits.
fn grouped_key(key: &str) -> String {
    key.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// "2026-11-30T10:00:00-03:00" → ("30/11/2026", "10:00:00").
pub fn date_time(s: &str) -> (String, String) {
    if s.len() < 19 {
        return (String::new(), String::new());
    }
    (format!("{}/{}/{}", &s[8..10], &s[5..7], &s[0..4]), s[11..19].to_owned())
}

fn payment_name(code: &str) -> &'static str {
    match code {
        "01" => "Dinheiro",
        "02" => "Cheque",
        "03" => "Cartão de Crédito",
        "04" => "Cartão de Débito",
        "05" => "Crédito Loja",
        "10" => "Vale Alimentação",
        "11" => "Vale Refeição",
        "12" => "Vale Presente",
        "13" => "Vale Combustível",
        "15" => "Boleto Bancário",
        "16" => "Depósito Bancário",
        "17" => "PIX",
        "18" => "Transferência",
        "19" => "Fidelidade",
        "20" => "PIX",
        "90" => "Sem pagamento",
        _ => "Outros",
    }
}

/// A labelled field box: the label small at the top, the value below. (Shared with the DANFSe.)
#[allow(clippy::too_many_arguments)]
pub fn field(p: &mut Page, x: f32, y: f32, w: f32, h: f32, label: &str, value: &str, align: Align) {
    p.rect(x, y, w, h, 0.2);
    p.text_in(x + 0.8, y + 2.3, w - 1.6, Align::Left, Font::Regular, 5.0, label);
    p.text_in(x + 0.8, y + h - 1.5, w - 1.6, align, Font::Bold, 7.5, value);
}

fn title(p: &mut Page, x: f32, y: f32, s: &str) {
    p.text(x, y - 0.8, Font::Bold, 6.5, s);
}

const LEFT: f32 = 7.0;
const WIDTH: f32 = 196.0;
const ROW: f32 = 7.0;

/// Product table columns: (label, width, alignment).
const COLUMNS: [(&str, f32, Align); 14] = [
    ("CÓDIGO", 15.0, Align::Left),
    ("DESCRIÇÃO DO PRODUTO / SERVIÇO", 45.0, Align::Left),
    ("NCM/SH", 12.0, Align::Center),
    ("O/CST", 8.0, Align::Center),
    ("CFOP", 8.0, Align::Center),
    ("UN", 7.0, Align::Center),
    ("QUANT.", 13.0, Align::Right),
    ("VALOR UNIT.", 15.0, Align::Right),
    ("VALOR TOTAL", 15.0, Align::Right),
    ("B.CÁLC ICMS", 14.0, Align::Right),
    ("VALOR ICMS", 12.0, Align::Right),
    ("VALOR IPI", 11.0, Align::Right),
    ("ALÍQ. ICMS", 11.0, Align::Right),
    ("ALÍQ. IPI", 10.0, Align::Right),
];

/// Renders the DANFE of an authorized `nfeProc` (as stored: the signed NF-e plus its `protNFe`).
pub fn danfe(nfe_proc: &str) -> Result<Vec<u8>, DanfeError> {
    let root = xml::parse(nfe_proc)?;
    let inf = xml::find_path(&root, &|e| e.local_name() == "infNFe")
        .and_then(|p| p.last().copied())
        .ok_or(DanfeError::NotAuthorized("no infNFe"))?;
    let prot = xml::find_path(&root, &|e| e.local_name() == "infProt")
        .and_then(|p| p.last().copied())
        .ok_or(DanfeError::NotAuthorized("no protNFe"))?;
    let c_stat = t(Some(prot), &["cStat"]);
    if c_stat != "100" && c_stat != "150" {
        return Err(DanfeError::NotAuthorized("the protocol is not an authorization (cStat 100/150)"));
    }
    let key = inf.attr("Id").and_then(|i| i.strip_prefix("NFe")).ok_or(DanfeError::NotAuthorized("infNFe/@Id"))?;
    let (ide, emit, dest) = (inf.child("ide"), inf.child("emit"), inf.child("dest"));
    let tot = inf.path(&["total", "ICMSTot"]);
    let ender_emit = emit.and_then(|e| e.child("enderEmit"));
    let ender_dest = dest.and_then(|e| e.child("enderDest"));
    let n_nf = t(ide, &["nNF"]);
    let n_nf_fmt = format!("{:0>9}", n_nf);
    let n_nf_fmt = format!("{}.{}.{}", &n_nf_fmt[0..3], &n_nf_fmt[3..6], &n_nf_fmt[6..9]);
    let serie = format!("{:0>3}", t(ide, &["serie"]));
    let homologation = t(ide, &["tpAmb"]) == "2";
    let tp_emis = t(ide, &["tpEmis"]);

    let items: Vec<Item> = inf
        .elements()
        .filter(|e| e.local_name() == "det")
        .map(|det| {
            let prod = det.child("prod");
            let icms = det.path(&["imposto", "ICMS"]).and_then(|i| i.elements().next());
            let ipi = det.path(&["imposto", "IPI", "IPITrib"]);
            let orig = t(icms, &["orig"]);
            let cst = t(icms, &["CST"]);
            let cst = if cst.is_empty() { t(icms, &["CSOSN"]) } else { cst };
            Item {
                code: t(prod, &["cProd"]),
                description: t(prod, &["xProd"]),
                ncm: t(prod, &["NCM"]),
                cst: format!("{orig}{cst}"),
                cfop: t(prod, &["CFOP"]),
                unit: t(prod, &["uCom"]),
                quantity: br_number(&t(prod, &["qCom"]), 2),
                unit_price: br_number(&t(prod, &["vUnCom"]), 2),
                total: money(&t(prod, &["vProd"])),
                v_bc: money(&t(icms, &["vBC"])),
                v_icms: money(&t(icms, &["vICMS"])),
                v_ipi: money(&t(ipi, &["vIPI"])),
                p_icms: br_number(&t(icms, &["pICMS"]), 2),
                p_ipi: br_number(&t(ipi, &["pIPI"]), 2),
            }
        })
        .collect();

    // Pages: the first has every block; further pages repeat the header and continue the products.
    const FIRST_ROWS: usize = 22;
    const NEXT_ROWS: usize = 48;
    let pages = if items.len() <= FIRST_ROWS { 1 } else { 1 + (items.len() - FIRST_ROWS).div_ceil(NEXT_ROWS) };
    let mut doc = Document::new(&format!("DANFE NF-e {n_nf_fmt} série {serie}"));
    let mut remaining = &items[..];
    for page_no in 1..=pages {
        let mut p = Page::new();
        let mut y = 6.0;
        if page_no == 1 {
            // Canhoto.
            p.rect(LEFT, y, WIDTH - 35.0, 16.0, 0.2);
            let receipt = format!(
                "RECEBEMOS DE {} OS PRODUTOS E/OU SERVIÇOS CONSTANTES DA NOTA FISCAL ELETRÔNICA INDICADA AO LADO. EMISSÃO: {} VALOR TOTAL: R$ {} DESTINATÁRIO: {}",
                t(emit, &["xNome"]),
                date_time(&t(ide, &["dhEmi"])).0,
                money(&t(tot, &["vNF"])),
                t(dest, &["xNome"])
            );
            for (i, line) in osflow_pdf::wrap(Font::Regular, 5.5, &receipt, WIDTH - 37.0).iter().take(2).enumerate() {
                p.text(LEFT + 1.0, y + 2.8 + 2.4 * i as f32, Font::Regular, 5.5, line);
            }
            field(&mut p, LEFT, y + 8.0, 40.0, 8.0, "DATA DE RECEBIMENTO", "", Align::Left);
            field(
                &mut p,
                LEFT + 40.0,
                y + 8.0,
                WIDTH - 75.0,
                8.0,
                "IDENTIFICAÇÃO E ASSINATURA DO RECEBEDOR",
                "",
                Align::Left,
            );
            p.rect(LEFT + WIDTH - 35.0, y, 35.0, 16.0, 0.2);
            p.text_in(LEFT + WIDTH - 35.0, y + 5.0, 35.0, Align::Center, Font::Bold, 10.0, "NF-e");
            p.text_in(LEFT + WIDTH - 35.0, y + 10.0, 35.0, Align::Center, Font::Bold, 8.0, &format!("Nº {n_nf_fmt}"));
            p.text_in(LEFT + WIDTH - 35.0, y + 14.0, 35.0, Align::Center, Font::Bold, 8.0, &format!("SÉRIE {serie}"));
            y += 18.0;
            for x in (0..WIDTH as i32).step_by(3) {
                p.line(LEFT + x as f32, y - 1.0, LEFT + x as f32 + 1.5, y - 1.0, 0.15);
            }
            y += 1.0;
        }

        // Emitente, DANFE box, barcode and key.
        let h = 32.0;
        p.rect(LEFT, y, 80.0, h, 0.2);
        p.text_in(LEFT + 1.0, y + 3.0, 78.0, Align::Left, Font::Regular, 5.0, "IDENTIFICAÇÃO DO EMITENTE");
        let emit_name = osflow_pdf::wrap(Font::Bold, 9.0, &t(emit, &["xNome"]), 76.0);
        for (i, l) in emit_name.iter().take(2).enumerate() {
            p.text_in(LEFT + 2.0, y + 8.0 + 4.0 * i as f32, 76.0, Align::Center, Font::Bold, 9.0, l);
        }
        let addr = [
            format!("{}, {} {}", t(ender_emit, &["xLgr"]), t(ender_emit, &["nro"]), t(ender_emit, &["xCpl"])),
            format!("{} - CEP {}", t(ender_emit, &["xBairro"]), t(ender_emit, &["CEP"])),
            format!("{} - {}  Fone: {}", t(ender_emit, &["xMun"]), t(ender_emit, &["UF"]), t(ender_emit, &["fone"])),
        ];
        for (i, l) in addr.iter().enumerate() {
            p.text_in(LEFT + 2.0, y + 18.0 + 3.5 * i as f32, 76.0, Align::Center, Font::Regular, 7.0, l.trim());
        }
        let bx = LEFT + 80.0;
        p.rect(bx, y, 34.0, h, 0.2);
        p.text_in(bx, y + 5.0, 34.0, Align::Center, Font::Bold, 12.0, "DANFE");
        p.text_in(bx, y + 8.5, 34.0, Align::Center, Font::Regular, 6.0, "Documento Auxiliar da");
        p.text_in(bx, y + 11.0, 34.0, Align::Center, Font::Regular, 6.0, "Nota Fiscal Eletrônica");
        p.text(bx + 2.0, y + 15.5, Font::Regular, 6.5, "0 - ENTRADA");
        p.text(bx + 2.0, y + 18.5, Font::Regular, 6.5, "1 - SAÍDA");
        p.rect(bx + 24.0, y + 13.5, 6.0, 6.0, 0.2);
        p.text_in(bx + 24.0, y + 18.0, 6.0, Align::Center, Font::Bold, 9.0, &t(ide, &["tpNF"]));
        p.text_in(bx, y + 23.5, 34.0, Align::Center, Font::Bold, 8.0, &format!("Nº {n_nf_fmt}"));
        p.text_in(bx, y + 27.0, 34.0, Align::Center, Font::Bold, 8.0, &format!("SÉRIE {serie}"));
        p.text_in(bx, y + 30.5, 34.0, Align::Center, Font::Regular, 7.0, &format!("FOLHA {page_no}/{pages}"));
        let kx = bx + 34.0;
        let kw = WIDTH - 114.0;
        p.rect(kx, y, kw, 14.0, 0.2);
        p.code128c(kx + 3.0, y + 1.5, kw - 6.0, 11.0, key)?;
        field(&mut p, kx, y + 14.0, kw, 7.0, "CHAVE DE ACESSO", &grouped_key(key), Align::Center);
        p.rect(kx, y + 21.0, kw, 11.0, 0.2);
        p.text_in(
            kx + 1.0,
            y + 25.0,
            kw - 2.0,
            Align::Center,
            Font::Regular,
            6.5,
            "Consulta de autenticidade no portal nacional da NF-e",
        );
        p.text_in(
            kx + 1.0,
            y + 28.0,
            kw - 2.0,
            Align::Center,
            Font::Regular,
            6.5,
            "www.nfe.fazenda.gov.br/portal ou no site da Sefaz Autorizadora",
        );
        y += h;
        let (auth_date, auth_time) = date_time(&t(Some(prot), &["dhRecbto"]));
        let protocol = format!("{} - {} {}", t(Some(prot), &["nProt"]), auth_date, auth_time);
        field(&mut p, LEFT, y, 114.0, ROW, "NATUREZA DA OPERAÇÃO", &t(ide, &["natOp"]), Align::Left);
        field(&mut p, LEFT + 114.0, y, WIDTH - 114.0, ROW, "PROTOCOLO DE AUTORIZAÇÃO DE USO", &protocol, Align::Center);
        y += ROW;
        field(&mut p, LEFT, y, 65.0, ROW, "INSCRIÇÃO ESTADUAL", &t(emit, &["IE"]), Align::Left);
        field(&mut p, LEFT + 65.0, y, 65.0, ROW, "INSC. ESTADUAL DO SUBST. TRIB.", &t(emit, &["IEST"]), Align::Left);
        field(&mut p, LEFT + 130.0, y, WIDTH - 130.0, ROW, "CNPJ", &document(&t(emit, &["CNPJ"])), Align::Left);
        y += ROW + 1.0;

        if homologation || tp_emis != "1" {
            let mut notes = Vec::new();
            if homologation {
                notes.push("NF-E EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO - SEM VALOR FISCAL".to_owned());
            }
            if tp_emis != "1" {
                let svc = if tp_emis == "6" {
                    "SVC-AN"
                } else if tp_emis == "7" {
                    "SVC-RS"
                } else {
                    "CONTINGÊNCIA"
                };
                let (d, hm) = date_time(&t(ide, &["dhCont"]));
                notes.push(format!("EMITIDA EM CONTINGÊNCIA {svc} desde {d} {hm}: {}", t(ide, &["xJust"])));
            }
            for n in notes {
                p.text_in(LEFT, y + 3.0, WIDTH, Align::Center, Font::Bold, 8.0, &n);
                y += 4.0;
            }
            y += 1.0;
        }

        if page_no == 1 {
            // Destinatário / remetente.
            title(&mut p, LEFT, y + 2.5, "DESTINATÁRIO / REMETENTE");
            y += 3.0;
            let dest_doc = {
                let c = t(dest, &["CNPJ"]);
                if c.is_empty() { t(dest, &["CPF"]) } else { c }
            };
            let (emi_d, _) = date_time(&t(ide, &["dhEmi"]));
            let (sai_d, sai_h) = date_time(&t(ide, &["dhSaiEnt"]));
            field(&mut p, LEFT, y, 120.0, ROW, "NOME / RAZÃO SOCIAL", &t(dest, &["xNome"]), Align::Left);
            field(&mut p, LEFT + 120.0, y, 46.0, ROW, "CNPJ / CPF", &document(&dest_doc), Align::Left);
            field(&mut p, LEFT + 166.0, y, 30.0, ROW, "DATA DA EMISSÃO", &emi_d, Align::Center);
            y += ROW;
            let street =
                format!("{}, {} {}", t(ender_dest, &["xLgr"]), t(ender_dest, &["nro"]), t(ender_dest, &["xCpl"]));
            field(&mut p, LEFT, y, 100.0, ROW, "ENDEREÇO", street.trim(), Align::Left);
            field(&mut p, LEFT + 100.0, y, 45.0, ROW, "BAIRRO / DISTRITO", &t(ender_dest, &["xBairro"]), Align::Left);
            field(&mut p, LEFT + 145.0, y, 21.0, ROW, "CEP", &t(ender_dest, &["CEP"]), Align::Left);
            field(&mut p, LEFT + 166.0, y, 30.0, ROW, "DATA DA SAÍDA/ENTRADA", &sai_d, Align::Center);
            y += ROW;
            field(&mut p, LEFT, y, 80.0, ROW, "MUNICÍPIO", &t(ender_dest, &["xMun"]), Align::Left);
            field(&mut p, LEFT + 80.0, y, 40.0, ROW, "FONE / FAX", &t(ender_dest, &["fone"]), Align::Left);
            field(&mut p, LEFT + 120.0, y, 10.0, ROW, "UF", &t(ender_dest, &["UF"]), Align::Center);
            field(&mut p, LEFT + 130.0, y, 36.0, ROW, "INSCRIÇÃO ESTADUAL", &t(dest, &["IE"]), Align::Left);
            field(&mut p, LEFT + 166.0, y, 30.0, ROW, "HORA DA SAÍDA/ENTRADA", &sai_h, Align::Center);
            y += ROW + 1.0;

            // Fatura / pagamento.
            title(&mut p, LEFT, y + 2.5, "FATURA / DUPLICATAS - PAGAMENTO");
            y += 3.0;
            let pays: Vec<String> = inf
                .child("pag")
                .map(|pag| {
                    pag.elements()
                        .filter(|e| e.local_name() == "detPag")
                        .map(|d| {
                            format!("{}: R$ {}", payment_name(&t(Some(d), &["tPag"])), money(&t(Some(d), &["vPag"])))
                        })
                        .collect()
                })
                .unwrap_or_default();
            field(&mut p, LEFT, y, WIDTH, ROW, "PAGAMENTO À VISTA", &pays.join("   "), Align::Left);
            y += ROW + 1.0;

            // Cálculo do imposto.
            title(&mut p, LEFT, y + 2.5, "CÁLCULO DO IMPOSTO");
            y += 3.0;
            let w = WIDTH / 6.0;
            let row1 = [
                ("BASE DE CÁLC. DO ICMS", "vBC"),
                ("VALOR DO ICMS", "vICMS"),
                ("BASE DE CÁLC. ICMS S.T.", "vBCST"),
                ("VALOR DO ICMS SUBST.", "vST"),
                ("V. APROX. DOS TRIBUTOS", "vTotTrib"),
                ("VALOR TOTAL DOS PRODUTOS", "vProd"),
            ];
            for (i, (label, tag)) in row1.iter().enumerate() {
                field(&mut p, LEFT + w * i as f32, y, w, ROW, label, &money(&t(tot, &[tag])), Align::Right);
            }
            y += ROW;
            let row2 = [
                ("VALOR DO FRETE", "vFrete"),
                ("VALOR DO SEGURO", "vSeg"),
                ("DESCONTO", "vDesc"),
                ("OUTRAS DESPESAS", "vOutro"),
                ("VALOR TOTAL DO IPI", "vIPI"),
                ("VALOR TOTAL DA NOTA", "vNF"),
            ];
            for (i, (label, tag)) in row2.iter().enumerate() {
                field(&mut p, LEFT + w * i as f32, y, w, ROW, label, &money(&t(tot, &[tag])), Align::Right);
            }
            y += ROW + 1.0;

            // Transportador / volumes.
            title(&mut p, LEFT, y + 2.5, "TRANSPORTADOR / VOLUMES TRANSPORTADOS");
            y += 3.0;
            let transp = inf.child("transp");
            let mod_frete = match t(transp, &["modFrete"]).as_str() {
                "0" => "0 - Por conta do Remetente",
                "1" => "1 - Por conta do Destinatário",
                "2" => "2 - Por conta de Terceiros",
                "3" => "3 - Próprio por conta do Remetente",
                "4" => "4 - Próprio por conta do Destinatário",
                _ => "9 - Sem Ocorrência de Transporte",
            };
            let transporter = transp.and_then(|tr| tr.child("transporta"));
            field(&mut p, LEFT, y, 90.0, ROW, "NOME / RAZÃO SOCIAL", &t(transporter, &["xNome"]), Align::Left);
            field(&mut p, LEFT + 90.0, y, 50.0, ROW, "FRETE POR CONTA", mod_frete, Align::Left);
            field(&mut p, LEFT + 140.0, y, 56.0, ROW, "CNPJ / CPF", &document(&t(transporter, &["CNPJ"])), Align::Left);
            y += ROW + 1.0;
        }

        // Produtos.
        title(&mut p, LEFT, y + 2.5, "DADOS DOS PRODUTOS / SERVIÇOS");
        y += 3.0;
        let rows = if page_no == 1 { FIRST_ROWS } else { NEXT_ROWS };
        let (now, rest) = remaining.split_at(rows.min(remaining.len()));
        remaining = rest;
        let table_h = 5.0 + 4.0 * rows as f32;
        let mut x = LEFT;
        for (label, w, _) in COLUMNS {
            p.rect(x, y, w, table_h, 0.2);
            p.text_in(x + 0.3, y + 3.2, w - 0.6, Align::Center, Font::Bold, 4.6, label);
            x += w;
        }
        p.line(LEFT, y + 5.0, LEFT + WIDTH, y + 5.0, 0.2);
        for (i, it) in now.iter().enumerate() {
            let ry = y + 8.2 + 4.0 * i as f32;
            let values = [
                &it.code,
                &it.description,
                &it.ncm,
                &it.cst,
                &it.cfop,
                &it.unit,
                &it.quantity,
                &it.unit_price,
                &it.total,
                &it.v_bc,
                &it.v_icms,
                &it.v_ipi,
                &it.p_icms,
                &it.p_ipi,
            ];
            let mut x = LEFT;
            for ((_, w, align), v) in COLUMNS.iter().zip(values) {
                p.text_in(x + 0.6, ry, w - 1.2, *align, Font::Regular, 6.0, v);
                x += w;
            }
        }
        y += table_h + 1.0;

        if page_no == 1 {
            // ISSQN and dados adicionais.
            title(&mut p, LEFT, y + 2.5, "CÁLCULO DO ISSQN");
            y += 3.0;
            let iss = inf.path(&["total", "ISSQNtot"]);
            let w = WIDTH / 4.0;
            field(&mut p, LEFT, y, w, ROW, "INSCRIÇÃO MUNICIPAL", &t(emit, &["IM"]), Align::Left);
            field(&mut p, LEFT + w, y, w, ROW, "VALOR TOTAL DOS SERVIÇOS", &money(&t(iss, &["vServ"])), Align::Right);
            field(
                &mut p,
                LEFT + 2.0 * w,
                y,
                w,
                ROW,
                "BASE DE CÁLCULO DO ISSQN",
                &money(&t(iss, &["vBC"])),
                Align::Right,
            );
            field(&mut p, LEFT + 3.0 * w, y, w, ROW, "VALOR DO ISSQN", &money(&t(iss, &["vISS"])), Align::Right);
            y += ROW + 1.0;
            title(&mut p, LEFT, y + 2.5, "DADOS ADICIONAIS");
            y += 3.0;
            let h = (297.0 - 6.0 - y).max(14.0);
            p.rect(LEFT, y, 130.0, h, 0.2);
            p.text(LEFT + 0.8, y + 2.3, Font::Regular, 5.0, "INFORMAÇÕES COMPLEMENTARES");
            let info = [t(inf.child("infAdic"), &["infAdFisco"]), t(inf.child("infAdic"), &["infCpl"])]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            for (i, l) in
                osflow_pdf::wrap(Font::Regular, 6.5, &info, 128.0).iter().take(((h - 4.0) / 3.0) as usize).enumerate()
            {
                p.text(LEFT + 1.0, y + 5.5 + 3.0 * i as f32, Font::Regular, 6.5, l);
            }
            p.rect(LEFT + 130.0, y, WIDTH - 130.0, h, 0.2);
            p.text(LEFT + 130.8, y + 2.3, Font::Regular, 5.0, "RESERVADO AO FISCO");
        }
        doc.push(p);
    }
    Ok(doc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brazilian_number_formats() {
        assert_eq!(br_number("1234.5", 2), "1.234,50");
        assert_eq!(br_number("3.3300", 2), "3,33");
        assert_eq!(br_number("2.0000", 4), "2,0000");
        assert_eq!(money(""), "0,00");
        assert_eq!(document("12345678000195"), "12.345.678/0001-95");
        assert_eq!(document("52998224725"), "529.982.247-25");
        assert_eq!(grouped_key("3526"), "3526");
    }
}
