use crate::support::cnpj_from_base;
use osflow_nfe::key::{FORBIDDEN_CNF, KeyFields, mod11_dv};
use osflow_nfe::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The key of the reference NF-e (test-cert/nfe-sn-csosn102-signed.xml), computed by hand from
/// its fields: cUF 35, dhEmi 2026-11 → 2611, CNPJ 12345678000195, mod 55, série 001,
/// nNF 000001000, tpEmis 1, cNF 00013579; mod-11 over the 43 digits leaves 10, so DV = 11 - 10 = 1.
const REFERENCE_KEY: &str = "35261112345678000195550010000010001000135791";

#[test]
fn reference_key_is_reproduced_from_its_fields() {
    let k = AccessKey::compose(&KeyFields {
        uf: Uf::SP,
        year: 2026,
        month: 11,
        emitter: "12345678000195",
        model: 55,
        serie: 1,
        n_nf: 1000,
        tp_emis: 1,
        cnf: Cnf::from_stored(13579, 1000).unwrap(),
    })
    .unwrap();
    assert_eq!(k.as_str(), REFERENCE_KEY);
    assert_eq!(k.dv(), 1);
    let p = AccessKey::parse(REFERENCE_KEY).unwrap();
    assert_eq!((p.cuf(), p.aamm(), p.emitter(), p.model()), ("35", "2611", "12345678000195", "55"));
    assert_eq!((p.serie(), p.n_nf(), p.tp_emis(), p.cnf()), ("001", "000001000", "1", "00013579"));
}

#[test]
fn reference_document_carries_the_same_key() {
    let doc = include_str!("../data/reference-nfe-sn-csosn102.xml");
    assert!(doc.contains(&format!("Id=\"NFe{REFERENCE_KEY}\"")));
}

#[test]
fn parse_rejects_wrong_check_digit_and_format() {
    let mut bad = REFERENCE_KEY.to_owned();
    bad.replace_range(43.., "2");
    assert_eq!(AccessKey::parse(&bad), Err(KeyError::CheckDigit { found: 2, expected: 1 }));
    assert_eq!(AccessKey::parse(&REFERENCE_KEY[..43]), Err(KeyError::Format));
    assert_eq!(AccessKey::parse(&REFERENCE_KEY.replace("3526", "35a6")), Err(KeyError::Format));
}

#[test]
fn alphanumeric_cnpj_check_digits_and_key() {
    // SERPRO's example of the alphanumeric CNPJ: 12.ABC.345/01DE-35 (letters count ord - 48).
    assert_eq!(cnpj_from_base("12ABC34501DE").as_str(), "12ABC34501DE35");
    assert_eq!(Cnpj::parse("12.ABC.345/01DE-35").unwrap().as_str(), "12ABC34501DE35");
    assert!(Cnpj::parse("12ABC34501DE36").is_err());
    assert_eq!(mod11_dv(b"12ABC34501DE"), 3);
    let k = AccessKey::compose(&KeyFields {
        uf: Uf::SP,
        year: 2026,
        month: 7,
        emitter: "12ABC34501DE35",
        model: 55,
        serie: 1,
        n_nf: 7,
        tp_emis: 1,
        cnf: Cnf::from_stored(48151623, 7).unwrap(),
    })
    .unwrap();
    assert_eq!(&k.as_str()[..6], "352607");
    assert_eq!(&k.as_str()[6..20], "12ABC34501DE35");
    assert_eq!(k.dv(), mod11_dv(&k.as_str().as_bytes()[..43]));
    assert_eq!(AccessKey::parse(k.as_str()).unwrap(), k);
}

#[test]
fn cpf_and_cnpj_validation() {
    assert!(Cpf::parse("529.982.247-25").is_ok());
    assert!(Cpf::parse("529.982.247-24").is_err());
    assert!(Cpf::parse("111.111.111-11").is_err());
    assert!(Cnpj::parse("12.345.678/0001-95").is_ok());
    assert!(Cnpj::parse("12345678000196").is_err());
    assert!(Cnpj::parse("1234").is_err());
}

#[test]
fn stored_cnf_rules() {
    assert!(Cnf::from_stored(1000, 1000).is_err());
    for f in FORBIDDEN_CNF {
        assert!(Cnf::from_stored(f, 1).is_err(), "{f:08}");
    }
    assert!(Cnf::from_stored(100_000_000, 1).is_err());
    assert_eq!(Cnf::from_stored(42, 1).unwrap().to_string(), "00000042");
}

#[test]
fn generation_is_deterministic_for_a_seeded_rng() {
    let a = Cnf::generate(&mut StdRng::seed_from_u64(7), 10);
    let b = Cnf::generate(&mut StdRng::seed_from_u64(7), 10);
    assert_eq!(a, b);
}

proptest! {
    #[test]
    fn generated_cnf_is_never_forbidden_nor_nnf(seed: u64, n_nf in 1u32..=999_999_999) {
        let mut rng = StdRng::seed_from_u64(seed);
        let c = Cnf::generate(&mut rng, n_nf);
        prop_assert!(c.value() < 100_000_000);
        prop_assert!(c.value() != n_nf);
        prop_assert!(!FORBIDDEN_CNF.contains(&c.value()));
        prop_assert!(Cnf::from_stored(c.value(), n_nf).is_ok());
    }

    #[test]
    fn any_composed_key_parses_and_its_dv_checks(
        n_nf in 1u32..=999_999_999, serie in 0u16..=999, cnf in 0u32..100_000_000, month in 1u8..=12,
    ) {
        prop_assume!(Cnf::allowed(cnf, n_nf));
        let k = AccessKey::compose(&KeyFields {
            uf: Uf::MG, year: 2027, month, emitter: "12ABC34501DE35", model: 55, serie, n_nf, tp_emis: 1,
            cnf: Cnf::from_stored(cnf, n_nf).unwrap(),
        }).unwrap();
        prop_assert_eq!(AccessKey::parse(k.as_str()), Ok(k));
        prop_assert_eq!(k.cnf(), format!("{cnf:08}"));
    }
}
