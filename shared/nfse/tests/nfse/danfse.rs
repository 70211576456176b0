//! The DANFSe checked by tools that did not make it: pdftotext finds the key, the numbers, the values and the
//! names (accents and `" ' & < >` included); pdftoppm + zbarimg decode its QR code to the public consult URL with
//! the key.

use osflow_nfse::simulator::Simulator;
use osflow_nfse::*;

use crate::support::*;

fn issued(inp: &DpsInput) -> IssuedNfse {
    Simulator::new().issue_xml(signed(inp, SignatureAlgorithm::RsaSha256).xml()).expect("issued")
}

/// The text of a PDF with its line breaks and runs of spaces made single spaces (a field may wrap).
fn flat(pdf: &[u8]) -> String {
    pdftotext(pdf).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn grouped(key: &str) -> String {
    key.as_bytes().chunks(5).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

#[test]
fn shows_the_key_numbers_parties_service_and_values_and_its_qr_code_opens_the_consult() {
    let n = issued(&input());
    let pdf = danfse(&n.xml, Situation::Issued).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(dir) = std::env::var_os("OSFLOW_NFSE_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join("danfse.pdf"), &pdf).unwrap();
    }
    let text = flat(&pdf);
    let key = n.key.as_str();
    assert!(text.contains(&grouped(key)), "grouped key not found in:\n{text}");
    assert!(text.contains(&format!("chave={key}")), "key not found in the consult URL:\n{text}");
    for expected in [
        "DANFSe",
        "NÚMERO DA NFS-e",
        "NÚMERO DA DPS",
        "04/12/2026 10:30:00",
        "Maria da Conceição & Filhos <ME>",
        "Rua dos \"Clientes\"",
        "Apto 1 'B'",
        "Vila Olímpia & Itaim",
        "529.982.247-25",
        "140101",
        "Troca de tela \"premium\" & <conector> 'ç'",
        "R$ 350,00",
        "R$ 20,00",
        "R$ 330,00",
        "2,00%",
        "R$ 6,60",
        "Optante - Microempresa ou Empresa de Pequeno Porte (ME/EPP)",
        "INTERMEDIÁRIO DO SERVIÇO NÃO IDENTIFICADO NA NFS-e",
        "SEM VALIDADE JURÍDICA",
        "6,00%",
    ] {
        assert!(text.contains(expected), "{expected:?} not found in:\n{text}");
    }
    assert!(text.contains(&n.number.to_string()));
    assert!(!text.contains("CANCELADA"));
    assert_eq!(qr_codes(&pdf), [consult_url(key)]);
}

#[test]
fn a_cnpj_buyer_with_iss_withheld_and_ibs_cbs() {
    let n = issued(&input_ibs_cbs());
    let text = flat(&danfse(&n.xml, Situation::Issued).unwrap());
    for expected in
        ["Comércio <Tomador> & Cia LTDA", "11.222.333/0001-81", "Retido pelo Tomador", "IBS / CBS", "000001"]
    {
        assert!(text.contains(expected), "{expected:?} not found in:\n{text}");
    }
    assert!(text.contains("13,45%") && text.contains("2,50%"), "approximate rates:\n{text}");
}

#[test]
fn a_cancelled_nfse_says_so_and_what_is_not_an_nfse_has_no_danfse() {
    let n = issued(&input_mei());
    let pdf = danfse(&n.xml, Situation::Cancelled).unwrap();
    assert!(flat(&pdf).contains("NFS-e CANCELADA"));
    assert_eq!(qr_codes(&pdf), [consult_url(n.key.as_str())]);
    let dps = signed(&input(), SignatureAlgorithm::RsaSha256);
    assert!(matches!(danfse(dps.xml(), Situation::Issued), Err(DanfseError::NotAnNfse(_))));
}
