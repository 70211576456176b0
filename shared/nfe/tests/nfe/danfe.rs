//! The DANFE checked by tools that did not make it: pdftotext (poppler-utils) finds the key, the number, the
//! totals and the protocol; the barcode rendered by pdftoppm decodes with zbarimg (zbar-tools) to the key.

use std::process::Command;

use osflow_nfe::simulator::Simulator;
use osflow_nfe::*;

use crate::support::*;

fn proc_of(inp: &NfeInput) -> (SignedNfe, Protocol, String) {
    let doc = signed(inp);
    let sefaz = Simulator::new();
    // The SVC authorizes only while the UF's authorizer is down.
    sefaz.set_outage(inp.emission != EmissionType::Normal);
    let Outcome::Authorized(p) = sefaz.authorize_xml(doc.xml()) else { panic!("not authorized") };
    let proc_ = osflow_nfe::wrap::nfe_proc(&doc, &p).unwrap();
    (doc, p, proc_)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{cmd}` is required (scripts/setup installs poppler-utils and zbar-tools): {e}"));
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pdf_text(pdf: &[u8]) -> String {
    let f = write_temp("danfe.pdf", pdf);
    run("pdftotext", &["-layout", f.to_str().unwrap(), "-"])
}

fn barcode(pdf: &[u8]) -> String {
    let f = write_temp("danfe.pdf", pdf);
    let prefix = f.with_extension("");
    run("pdftoppm", &["-r", "300", "-f", "1", "-l", "1", "-png", f.to_str().unwrap(), prefix.to_str().unwrap()]);
    let png = std::fs::read_dir(f.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .expect("pdftoppm wrote a PNG");
    run("zbarimg", &["--quiet", "--raw", "-Scode128.enable", png.to_str().unwrap()]).trim().to_owned()
}

fn grouped(key: &str) -> String {
    key.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

#[test]
fn danfe_shows_key_number_totals_protocol_and_its_barcode_decodes_to_the_key() {
    let (doc, prot, proc_) = proc_of(&input(5));
    let pdf = danfe(&proc_).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(dir) = std::env::var_os("OSFLOW_NFE_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join("danfe.pdf"), &pdf).unwrap();
    }
    let text = pdf_text(&pdf);
    let key = doc.key().as_str();
    assert!(text.contains(&grouped(key)), "key not found in:\n{text}");
    assert!(text.contains("Nº 000.001.000") && text.contains("SÉRIE 001"), "{text}");
    assert!(text.contains(&prot.number), "protocol {} not found", prot.number);
    // vNF as written in the NF-e ("1003.04"), as a Brazilian reads it ("1.003,04").
    let raw = doc.xml().split("<vNF>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let (int, cents) = raw.split_once('.').unwrap();
    let thousands =
        if int.len() > 3 { format!("{}.{}", &int[..int.len() - 3], &int[int.len() - 3..]) } else { int.into() };
    let v_nf = format!("{thousands},{cents}");
    assert!(text.contains(&v_nf), "vNF {v_nf} not found in:\n{text}");
    assert!(text.contains("DANFE") && text.contains("FOLHA 1/1"));
    assert!(text.contains("SEM VALOR FISCAL"), "homologation notice");
    assert!(!text.contains("CONTINGÊNCIA"));
    for i in 1..=5 {
        assert!(text.contains(&format!("PC-{i:04}")), "item {i}");
    }
    assert_eq!(barcode(&pdf), key);
}

#[test]
fn contingency_notice_and_more_pages_when_the_products_do_not_fit() {
    let inp = NfeInput {
        emission: EmissionType::SvcAn,
        contingency: Some(Contingency {
            since: brt(2026, 11, 30, 9),
            reason: "SEFAZ SP fora do ar (cStat 108) - emissão em SVC-AN".into(),
        }),
        ..input(30)
    };
    let inp = NfeInput { payments: vec![pay(PaymentMethod::Cash, build(&inp).unwrap().totals().v_nf)], ..inp };
    let (doc, _, proc_) = proc_of(&inp);
    let pdf = danfe(&proc_).unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains("EMITIDA EM CONTINGÊNCIA SVC-AN desde 30/11/2026 09:00:00"), "{text}");
    assert!(text.contains("FOLHA 1/2") && text.contains("FOLHA 2/2"));
    assert!(text.contains("PC-0030"));
    assert_eq!(barcode(&pdf), doc.key().as_str());
}

#[test]
fn only_an_authorized_nfe_proc_has_a_danfe() {
    let doc = signed(&input(1));
    assert!(matches!(danfe(doc.xml()), Err(DanfeError::NotAuthorized(_))));
}
