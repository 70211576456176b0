//! The DANFSe (Documento Auxiliar da NFS-e) of an NFS-e Nacional: an A4 portrait PDF with the blocks of the national
//! layout, read from the `NFSe` document Sefin returned (its `infNFSe` and the `infDPS` inside it):
//!
//! - the header: the NFS-e's access key (50 digits), number, competência, emission date and time, the DPS's number,
//!   série and emission, and the QR code of the public consult URL with the key ([`consult_url`]);
//! - the emitente (prestador), the tomador and the intermediário (or that none is identified);
//! - the service (cTribNac with its description, cTribMun, cNBS, local de prestação, the description);
//! - the municipal taxation (ISSQN: taxation, incidence, special regime, retention, value, discounts, deductions,
//!   base, rate, ISSQN), IBS/CBS when the DPS carries the group, the totals (vServ, discounts, ISSQN withheld,
//!   the net value), the approximate taxes, and complementary information.
//!
//! A produção restrita NFS-e says "SEM VALIDADE JURÍDICA"; a cancelled one (the cancellation is an event apart
//! from the NFS-e, so the caller says so) says "NFS-e CANCELADA". The ADN's own DANFSe route was suspended in
//! 2026 (NT 008): the emitter prints it.

use osflow_nfe::danfe::{br_number, date_time, document, field, money, t};
use osflow_nfe::xml::{self, Element};
use osflow_pdf::{Align, Document, Font, Page};

/// The portal's public consult of an NFS-e by its access key (what the DANFSe's QR code opens).
pub fn consult_url(key: &str) -> String {
    format!("https://www.nfse.gov.br/ConsultaPublica/?tpc=1&chave={key}")
}

/// The DANFSe cannot be made from this document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DanfseError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("not an NFS-e: {0}")]
    NotAnNfse(&'static str),
    #[error(transparent)]
    Code(#[from] osflow_pdf::BarcodeError),
}

/// The NFS-e's standing, which the NFS-e document itself does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Situation {
    #[default]
    Issued,
    /// A cancellation event (e101101) was registered.
    Cancelled,
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

/// "2026-12-04T10:30:00-03:00" → "04/12/2026 10:30:00".
fn when(s: &str) -> String {
    let (d, h) = date_time(s);
    or_dash(format!("{d} {h}").trim().to_owned())
}

/// "2026-12-04" → "04/12/2026".
fn day(s: &str) -> String {
    if s.len() < 10 {
        return or_dash(s.to_owned());
    }
    format!("{}/{}/{}", &s[8..10], &s[5..7], &s[0..4])
}

fn money_or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { format!("R$ {}", money(&s)) }
}

fn percent(s: &str) -> String {
    if s.is_empty() { "-".into() } else { format!("{}%", br_number(s, 2)) }
}

fn simples(code: &str) -> &'static str {
    match code {
        "1" => "Não Optante",
        "2" => "Optante - Microempreendedor Individual (MEI)",
        "3" => "Optante - Microempresa ou Empresa de Pequeno Porte (ME/EPP)",
        _ => "-",
    }
}

fn simples_regime(code: &str) -> &'static str {
    match code {
        "1" => "Tributos federais e municipal pelo SN",
        "2" => "Tributos federais pelo SN e ISSQN pela NFS-e",
        "3" => "Tributos federais e municipal pela NFS-e",
        _ => "-",
    }
}

fn special_regime(code: &str) -> &'static str {
    match code {
        "0" | "" => "Nenhum",
        "1" => "Ato Cooperado",
        "2" => "Estimativa",
        "3" => "Microempresa Municipal",
        "4" => "Notário ou Registrador",
        "5" => "Profissional Autônomo",
        "6" => "Sociedade de Profissionais",
        _ => "Outros",
    }
}

fn iss_taxation(code: &str) -> &'static str {
    match code {
        "1" => "Operação Tributável",
        "2" => "Imunidade",
        "3" => "Exportação de Serviço",
        "4" => "Não Incidência",
        _ => "-",
    }
}

fn retention(code: &str) -> &'static str {
    match code {
        "2" => "Retido pelo Tomador",
        "3" => "Retido pelo Intermediário",
        _ => "Não Retido",
    }
}

/// The key in groups of 5 digits (easier to read aloud and to type).
fn grouped_key(key: &str) -> String {
    key.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

const LEFT: f32 = 7.0;
const WIDTH: f32 = 196.0;
const ROW: f32 = 7.0;

/// One row of fields sharing the width in the given proportions.
fn row(p: &mut Page, y: &mut f32, cells: &[(&str, String, f32)]) {
    let total: f32 = cells.iter().map(|c| c.2).sum();
    let mut x = LEFT;
    for (label, value, share) in cells {
        let w = WIDTH * share / total;
        field(p, x, *y, w, ROW, label, value, Align::Left);
        x += w;
    }
    *y += ROW;
}

fn title(p: &mut Page, y: &mut f32, s: &str) {
    *y += 1.0;
    p.fill(LEFT, *y, WIDTH, 4.0, 0.85);
    p.text(LEFT + 1.0, *y + 3.0, Font::Bold, 7.0, s);
    *y += 4.0;
}

fn note(p: &mut Page, y: &mut f32, s: &str) {
    p.rect(LEFT, *y, WIDTH, 5.0, 0.2);
    p.text_in(LEFT + 1.0, *y + 3.6, WIDTH - 2.0, Align::Left, Font::Regular, 7.0, s);
    *y += 5.0;
}

/// A party (prestador, tomador, intermediário): document, IM, phone; name, e-mail; address, municipality, CEP.
fn party(p: &mut Page, y: &mut f32, e: &Element, city: &dyn Fn(&str) -> String) {
    let doc = ["CNPJ", "CPF", "NIF"].iter().map(|tag| t(Some(e), &[tag])).find(|s| !s.is_empty()).unwrap_or_default();
    row(
        p,
        y,
        &[
            ("CNPJ / CPF / NIF", or_dash(document(&doc)), 2.0),
            ("INSCRIÇÃO MUNICIPAL", or_dash(t(Some(e), &["IM"])), 1.5),
            ("TELEFONE", or_dash(t(Some(e), &["fone"])), 1.5),
        ],
    );
    row(
        p,
        y,
        &[
            ("NOME / NOME EMPRESARIAL", or_dash(t(Some(e), &["xNome"])), 3.0),
            ("E-MAIL", or_dash(t(Some(e), &["email"])), 2.0),
        ],
    );
    let addr = e.child("enderNac").or_else(|| e.child("end"));
    let nac = addr.and_then(|a| if a.local_name() == "end" { a.child("endNac") } else { Some(a) });
    let street = [t(addr, &["xLgr"]), t(addr, &["nro"]), t(addr, &["xCpl"]), t(addr, &["xBairro"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let c_mun = t(nac, &["cMun"]);
    let uf = {
        let u = t(nac, &["UF"]);
        if u.is_empty() {
            osflow_domain::values::CityCode::parse(&c_mun).map(|c| c.uf().to_string()).unwrap_or_default()
        } else {
            u
        }
    };
    let municipality = if c_mun.is_empty() { String::new() } else { format!("{} - {uf}", city(&c_mun)) };
    row(
        p,
        y,
        &[
            ("ENDEREÇO", or_dash(street), 3.0),
            ("MUNICÍPIO - UF", or_dash(municipality), 1.4),
            ("CEP", or_dash(t(nac, &["CEP"])), 0.6),
        ],
    );
}

/// Renders the DANFSe of an `NFSe` document as Sefin returned it.
pub fn danfse(nfse_xml: &str, situation: Situation) -> Result<Vec<u8>, DanfseError> {
    let root = xml::parse(nfse_xml)?;
    let inf = xml::find_path(&root, &|e| e.local_name() == "infNFSe")
        .and_then(|p| p.last().copied())
        .ok_or(DanfseError::NotAnNfse("no infNFSe"))?;
    let key = inf.attr("Id").and_then(|i| i.strip_prefix("NFS")).ok_or(DanfseError::NotAnNfse("infNFSe/@Id"))?;
    if key.len() != 50 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DanfseError::NotAnNfse("the access key is not 50 digits"));
    }
    let dps = inf.path(&["DPS", "infDPS"]).ok_or(DanfseError::NotAnNfse("no DPS/infDPS"))?;
    let inf = Some(inf);
    let d = Some(dps);
    let emit = inf.and_then(|i| i.child("emit")).ok_or(DanfseError::NotAnNfse("no emit"))?;
    let c_loc_emi = t(d, &["cLocEmi"]);
    let c_loc_prest = t(d, &["serv", "locPrest", "cLocPrestacao"]);
    let c_loc_incid = t(inf, &["cLocIncid"]);
    let (x_emi, x_prest, x_incid) = (t(inf, &["xLocEmi"]), t(inf, &["xLocPrestacao"]), t(inf, &["xLocIncid"]));
    let city = |code: &str| -> String {
        let name = if code == c_loc_emi {
            &x_emi
        } else if code == c_loc_prest {
            &x_prest
        } else if code == c_loc_incid {
            &x_incid
        } else {
            ""
        };
        if name.is_empty() { code.to_owned() } else { name.to_owned() }
    };
    let homologation = t(d, &["tpAmb"]) == "2" || t(inf, &["ambGer"]) == "2";
    let number = t(inf, &["nNFSe"]);

    let mut doc = Document::new(&format!("DANFSe NFS-e {number}"));
    let mut p = Page::new();
    let mut y = 6.0;

    // Header: title, municipality, QR code.
    let qr_side = 26.0;
    let head_h = 30.0;
    p.rect(LEFT, y, WIDTH, head_h, 0.3);
    p.text(LEFT + 3.0, y + 7.0, Font::Bold, 14.0, "DANFSe v1.0");
    p.text(LEFT + 3.0, y + 11.5, Font::Regular, 8.0, "Documento Auxiliar da NFS-e");
    p.text_in(
        LEFT + 60.0,
        y + 7.0,
        100.0,
        Align::Center,
        Font::Bold,
        10.0,
        "NFS-e - Nota Fiscal de Serviço eletrônica",
    );
    p.text_in(
        LEFT + 60.0,
        y + 11.5,
        100.0,
        Align::Center,
        Font::Regular,
        8.0,
        &format!("Município emissor: {}", city(&c_loc_emi)),
    );
    if homologation {
        p.text_in(
            LEFT + 3.0,
            y + 19.0,
            WIDTH - qr_side - 8.0,
            Align::Center,
            Font::Bold,
            9.0,
            "NFS-e SEM VALIDADE JURÍDICA (produção restrita)",
        );
    }
    if situation == Situation::Cancelled {
        p.text_in(LEFT + 3.0, y + 26.0, WIDTH - qr_side - 8.0, Align::Center, Font::Bold, 16.0, "NFS-e CANCELADA");
    }
    let url = consult_url(key);
    // The symbol inside its quiet zone (white around it: the box's border stays outside it).
    let module = qr_side / (qr_side / 0.75).floor();
    let quiet = osflow_pdf::QR_QUIET_MODULES * module;
    let qx = LEFT + WIDTH - qr_side - 1.0;
    p.qr(qx + quiet, y + 2.0 + quiet, qr_side - 2.0 * quiet, &url)?;
    y += head_h;
    p.rect(LEFT, y, WIDTH, 8.0, 0.2);
    p.text(LEFT + 0.8, y + 2.3, Font::Regular, 5.0, "CHAVE DE ACESSO DA NFS-e");
    p.text_in(LEFT + 0.8, y + 6.5, WIDTH - 1.6, Align::Center, Font::Bold, 10.0, &grouped_key(key));
    y += 8.0;
    row(
        &mut p,
        &mut y,
        &[
            ("NÚMERO DA NFS-e", or_dash(number.clone()), 1.0),
            ("COMPETÊNCIA DA NFS-e", day(&t(d, &["dCompet"])), 1.0),
            ("DATA E HORA DA EMISSÃO DA NFS-e", when(&t(inf, &["dhProc"])), 1.4),
        ],
    );
    row(
        &mut p,
        &mut y,
        &[
            ("NÚMERO DA DPS", or_dash(t(d, &["nDPS"])), 1.0),
            ("SÉRIE DA DPS", or_dash(t(d, &["serie"])), 1.0),
            ("DATA E HORA DA EMISSÃO DA DPS", when(&t(d, &["dhEmi"])), 1.4),
        ],
    );

    // Emitente (prestador).
    title(&mut p, &mut y, "EMITENTE DA NFS-e - PRESTADOR DO SERVIÇO");
    party(&mut p, &mut y, emit, &city);
    let reg = dps.path(&["prest", "regTrib"]);
    row(
        &mut p,
        &mut y,
        &[
            ("SIMPLES NACIONAL NA DATA DE COMPETÊNCIA", simples(&t(reg, &["opSimpNac"])).to_owned(), 1.0),
            ("REGIME DE APURAÇÃO TRIBUTÁRIA PELO SN", simples_regime(&t(reg, &["regApTribSN"])).to_owned(), 1.0),
        ],
    );

    // Tomador and intermediário.
    title(&mut p, &mut y, "TOMADOR DO SERVIÇO");
    match dps.child("toma") {
        Some(toma) => party(&mut p, &mut y, toma, &city),
        None => note(&mut p, &mut y, "TOMADOR DO SERVIÇO NÃO IDENTIFICADO NA NFS-e"),
    }
    title(&mut p, &mut y, "INTERMEDIÁRIO DO SERVIÇO");
    match dps.child("interm") {
        Some(interm) => party(&mut p, &mut y, interm, &city),
        None => note(&mut p, &mut y, "INTERMEDIÁRIO DO SERVIÇO NÃO IDENTIFICADO NA NFS-e"),
    }

    // Serviço prestado.
    title(&mut p, &mut y, "SERVIÇO PRESTADO");
    let c_serv = dps.path(&["serv", "cServ"]);
    let trib_nac = [t(c_serv, &["cTribNac"]), t(inf, &["xTribNac"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" - ");
    row(&mut p, &mut y, &[("CÓDIGO DE TRIBUTAÇÃO NACIONAL", or_dash(trib_nac), 1.0)]);
    let place = if c_loc_prest.is_empty() { t(d, &["serv", "locPrest", "cPaisPrestacao"]) } else { city(&c_loc_prest) };
    row(
        &mut p,
        &mut y,
        &[
            ("CÓDIGO DE TRIBUTAÇÃO MUNICIPAL", or_dash(t(c_serv, &["cTribMun"])), 1.0),
            ("CÓDIGO NBS", or_dash(t(c_serv, &["cNBS"])), 1.0),
            ("LOCAL DA PRESTAÇÃO", or_dash(place), 1.5),
        ],
    );
    let description = t(c_serv, &["xDescServ"]);
    let lines = osflow_pdf::wrap(Font::Regular, 7.5, &description, WIDTH - 2.0);
    let shown = lines.len().clamp(1, 14);
    let h = 4.0 + 3.3 * shown as f32;
    p.rect(LEFT, y, WIDTH, h, 0.2);
    p.text(LEFT + 0.8, y + 2.3, Font::Regular, 5.0, "DESCRIÇÃO DO SERVIÇO");
    for (i, l) in lines.iter().take(shown).enumerate() {
        p.text(LEFT + 1.0, y + 5.5 + 3.3 * i as f32, Font::Regular, 7.5, l);
    }
    y += h;

    // Tributação municipal.
    title(&mut p, &mut y, "TRIBUTAÇÃO MUNICIPAL (ISSQN)");
    let v = dps.child("valores");
    let trib_mun = v.and_then(|v| v.path(&["trib", "tribMun"]));
    let tp_ret = t(trib_mun, &["tpRetISSQN"]);
    let regime_code = t(reg, &["regEspTrib"]);
    row(
        &mut p,
        &mut y,
        &[
            ("TRIBUTAÇÃO DO ISSQN", iss_taxation(&t(trib_mun, &["tribISSQN"])).to_owned(), 1.0),
            (
                "MUNICÍPIO DE INCIDÊNCIA DO ISSQN",
                or_dash(if c_loc_incid.is_empty() { String::new() } else { city(&c_loc_incid) }),
                1.0,
            ),
            ("REGIME ESPECIAL DE TRIBUTAÇÃO", special_regime(&regime_code).to_owned(), 1.0),
            ("RETENÇÃO DO ISSQN", retention(&tp_ret).to_owned(), 1.0),
        ],
    );
    let nv = inf.and_then(|i| i.child("valores"));
    let v_serv = t(v, &["vServPrest", "vServ"]);
    let v_iss = t(nv, &["vISSQN"]);
    let rate = {
        let r = t(nv, &["pAliqAplic"]);
        if r.is_empty() { t(trib_mun, &["pAliq"]) } else { r }
    };
    row(
        &mut p,
        &mut y,
        &[
            ("VALOR DO SERVIÇO", money_or_dash(v_serv.clone()), 1.0),
            ("DESCONTO INCONDICIONADO", money_or_dash(t(v, &["vDescCondIncond", "vDescIncond"])), 1.0),
            ("TOTAL DEDUÇÕES / REDUÇÕES", money_or_dash(t(nv, &["vDR"])), 1.0),
            ("BASE DE CÁLCULO DO ISSQN", money_or_dash(t(nv, &["vBC"])), 1.0),
            ("ALÍQUOTA APLICADA", percent(&rate), 0.8),
            ("ISSQN APURADO", money_or_dash(v_iss.clone()), 1.0),
        ],
    );

    // IBS / CBS (the tax reform's group, when the DPS carries it).
    if let Some(ibs) = dps.child("IBSCBS") {
        title(&mut p, &mut y, "IBS / CBS");
        let g = ibs.path(&["valores", "trib", "gIBSCBS"]);
        let totals = inf.and_then(|i| i.child("IBSCBS"));
        let find = |tag: &str| -> String {
            totals
                .and_then(|tot| xml::find_path(tot, &|e| e.local_name() == tag))
                .and_then(|p| p.last().map(|e| e.text().trim().to_owned()))
                .unwrap_or_default()
        };
        row(
            &mut p,
            &mut y,
            &[
                ("CST", or_dash(t(g, &["CST"])), 0.6),
                ("CLASSIFICAÇÃO TRIBUTÁRIA", or_dash(t(g, &["cClassTrib"])), 1.0),
                ("INDICADOR DA OPERAÇÃO", or_dash(t(Some(ibs), &["cIndOp"])), 1.0),
                ("CONSUMIDOR FINAL", if t(Some(ibs), &["indFinal"]) == "1" { "Sim".into() } else { "Não".into() }, 0.8),
                ("VALOR DO IBS", money_or_dash(find("vIBSTot")), 1.0),
                ("VALOR DA CBS", money_or_dash(find("vCBS")), 1.0),
            ],
        );
    }

    // Valor total.
    title(&mut p, &mut y, "VALOR TOTAL DA NFS-e");
    let withheld = if tp_ret == "2" || tp_ret == "3" { v_iss.clone() } else { String::new() };
    row(
        &mut p,
        &mut y,
        &[
            ("VALOR DO SERVIÇO", money_or_dash(v_serv), 1.0),
            ("DESCONTO CONDICIONADO", money_or_dash(t(v, &["vDescCondIncond", "vDescCond"])), 1.0),
            ("DESCONTO INCONDICIONADO", money_or_dash(t(v, &["vDescCondIncond", "vDescIncond"])), 1.0),
            ("ISSQN RETIDO", money_or_dash(withheld), 1.0),
            ("VALOR LÍQUIDO DA NFS-e", money_or_dash(t(nv, &["vLiq"])), 1.2),
        ],
    );

    // Totais aproximados dos tributos.
    title(&mut p, &mut y, "TOTAIS APROXIMADOS DOS TRIBUTOS");
    let tot = v.and_then(|v| v.path(&["trib", "totTrib"]));
    let sn = t(tot, &["pTotTribSN"]);
    if !sn.is_empty() {
        row(&mut p, &mut y, &[("SIMPLES NACIONAL (PERCENTUAL APROXIMADO)", percent(&sn), 1.0)]);
    } else if tot.and_then(|t| t.child("pTotTrib")).is_some() {
        row(
            &mut p,
            &mut y,
            &[
                ("FEDERAIS", percent(&t(tot, &["pTotTrib", "pTotTribFed"])), 1.0),
                ("ESTADUAIS", percent(&t(tot, &["pTotTrib", "pTotTribEst"])), 1.0),
                ("MUNICIPAIS", percent(&t(tot, &["pTotTrib", "pTotTribMun"])), 1.0),
            ],
        );
    } else if tot.and_then(|t| t.child("vTotTrib")).is_some() {
        row(
            &mut p,
            &mut y,
            &[
                ("FEDERAIS", money_or_dash(t(tot, &["vTotTrib", "vTotTribFed"])), 1.0),
                ("ESTADUAIS", money_or_dash(t(tot, &["vTotTrib", "vTotTribEst"])), 1.0),
                ("MUNICIPAIS", money_or_dash(t(tot, &["vTotTrib", "vTotTribMun"])), 1.0),
            ],
        );
    } else {
        note(&mut p, &mut y, "Valor aproximado dos tributos não informado");
    }

    // Informações complementares.
    title(&mut p, &mut y, "INFORMAÇÕES COMPLEMENTARES");
    let mut info = Vec::new();
    let complement = t(d, &["serv", "infoCompl", "xInfComp"]);
    if !complement.is_empty() {
        info.push(complement);
    }
    let internal = t(c_serv, &["cIntContrib"]);
    if !internal.is_empty() {
        info.push(format!("Código interno do contribuinte: {internal}"));
    }
    info.push(format!("Consulte a autenticidade desta NFS-e em {url}"));
    let lines: Vec<String> = info.iter().flat_map(|s| osflow_pdf::wrap(Font::Regular, 7.0, s, WIDTH - 2.0)).collect();
    let h = (297.0 - 8.0 - y).clamp(8.0, 4.0 + 3.2 * lines.len() as f32);
    p.rect(LEFT, y, WIDTH, h, 0.2);
    for (i, l) in lines.iter().take(((h - 3.0) / 3.2) as usize).enumerate() {
        p.text(LEFT + 1.0, y + 3.5 + 3.2 * i as f32, Font::Regular, 7.0, l);
    }
    doc.push(p);
    Ok(doc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(day("2026-12-04"), "04/12/2026");
        assert_eq!(when("2026-12-04T10:30:00-03:00"), "04/12/2026 10:30:00");
        assert_eq!(percent("2.00"), "2,00%");
        assert_eq!(money_or_dash(String::new()), "-");
        assert_eq!(grouped_key("12345678901"), "12345 67890 1");
        assert!(consult_url("1").ends_with("chave=1"));
        assert!(matches!(danfse("<a/>", Situation::Issued), Err(DanfseError::NotAnNfse(_))));
    }
}
