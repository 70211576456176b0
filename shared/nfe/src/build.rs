//! Validation, tax and total computation, and the canonical writer of `infNFe`.
//!
//! The writer emits Canonical XML 1.0 by construction: no XML declaration, no whitespace
//! between elements, attributes in canonical order (`Id` before `versao`), start/end tag pairs
//! for every element, and text escaped as C14N escapes it ([`crate::text`]).

use std::borrow::Cow;

use chrono::{DateTime, Datelike, FixedOffset};
use rust_decimal::Decimal;

use crate::error::{BuildError, Problem};
use crate::key::{AccessKey, Cnpj, KeyFields};
use crate::model::*;
use crate::num::{self, push_fixed, push_money, push_rate, round2};
use crate::text::{self, push_text};

/// The NF-e namespace.
pub const NFE_NS: &str = "http://www.portalfiscal.inf.br/nfe";

/// IBS/CBS totals (`total/IBSCBSTot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IbsCbsTotals {
    pub v_bc: Decimal,
    pub v_ibs_uf: Decimal,
    pub v_ibs_mun: Decimal,
    pub v_ibs: Decimal,
    pub v_cbs: Decimal,
}

/// The computed totals of a built NF-e.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub v_prod: Decimal,
    pub v_desc: Decimal,
    pub v_bc: Decimal,
    pub v_icms: Decimal,
    pub v_pis: Decimal,
    pub v_cofins: Decimal,
    /// `vNF` = vProd − vDesc (the other terms of the formula are zero for these documents;
    /// IBS/CBS are not added in 2026).
    pub v_nf: Decimal,
    /// Σ vPag.
    pub v_pag: Decimal,
    /// Σ vPag − vNF, written as `vTroco` when positive.
    pub v_troco: Decimal,
    pub ibs_cbs: Option<IbsCbsTotals>,
}

/// A built, not yet signed NF-e: the access key and the canonical content of `infNFe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedNfe {
    key: AccessKey,
    environment: Environment,
    /// Children of `infNFe`, canonical.
    content: String,
    totals: Totals,
}

impl UnsignedNfe {
    pub fn key(&self) -> &AccessKey {
        &self.key
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
    /// The canonical children of `infNFe` (what lies between its tags).
    pub fn content(&self) -> &str {
        &self.content
    }
    /// `infNFe` as Canonical XML 1.0 sees it inside `NFe`: with the inherited default
    /// namespace declaration. These are the bytes the SHA-1 digest is computed over.
    pub fn canonical_inf_nfe(&self) -> String {
        let mut s = String::with_capacity(self.content.len() + 140);
        self.push_inf_nfe(&mut s, true);
        s
    }
    pub(crate) fn push_inf_nfe(&self, out: &mut String, with_ns: bool) {
        out.push_str("<infNFe ");
        if with_ns {
            out.push_str("xmlns=\"");
            out.push_str(NFE_NS);
            out.push_str("\" ");
        }
        out.push_str("Id=\"NFe");
        out.push_str(self.key.as_str());
        out.push_str("\" versao=\"4.00\">");
        out.push_str(&self.content);
        out.push_str("</infNFe>");
    }
}

struct W {
    s: String,
}

/// `("<tag>", "</tag>")` at compile time.
macro_rules! e {
    ($t:literal) => {
        (concat!("<", $t, ">"), concat!("</", $t, ">"))
    };
}

type Tag = (&'static str, &'static str);

impl W {
    #[inline]
    fn open(&mut self, tag: Tag) {
        self.s.push_str(tag.0);
    }
    #[inline]
    fn close(&mut self, tag: Tag) {
        self.s.push_str(tag.1);
    }
    /// Element with a value that needs no escaping (digits, codes, fixed texts).
    #[inline]
    fn raw(&mut self, tag: Tag, v: &str) {
        self.open(tag);
        self.s.push_str(v);
        self.close(tag);
    }
    /// Element with user text.
    #[inline]
    fn text(&mut self, tag: Tag, v: &str) {
        self.open(tag);
        push_text(&mut self.s, v);
        self.close(tag);
    }
    #[inline]
    fn money(&mut self, tag: Tag, v: Decimal) {
        self.open(tag);
        push_money(&mut self.s, v);
        self.close(tag);
    }
    #[inline]
    fn rate(&mut self, tag: Tag, v: Decimal) {
        self.open(tag);
        push_rate(&mut self.s, v);
        self.close(tag);
    }
    #[inline]
    fn fixed(&mut self, tag: Tag, v: Decimal, places: u32) {
        self.open(tag);
        push_fixed(&mut self.s, v, places);
        self.close(tag);
    }
    #[inline]
    fn num(&mut self, tag: Tag, v: u64) {
        self.open(tag);
        push_u64(&mut self.s, v);
        self.close(tag);
    }
}

fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// A field path built only when an error needs it: `{a}[{n}].{b}`, or `{a}.{b}` when n == 0.
struct FieldPath<'a>(&'a str, usize, &'a str);

impl std::fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1 == 0 { write!(f, "{}.{}", self.0, self.2) } else { write!(f, "{}[{}].{}", self.0, self.1, self.2) }
    }
}

fn push_2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm` (the offset was checked to be whole hours).
fn push_datetime(out: &mut String, dt: &DateTime<FixedOffset>) {
    use chrono::Timelike;
    let y = dt.year() as u32;
    push_2(out, y / 100);
    push_2(out, y % 100);
    out.push('-');
    push_2(out, dt.month());
    out.push('-');
    push_2(out, dt.day());
    out.push('T');
    push_2(out, dt.hour());
    out.push(':');
    push_2(out, dt.minute());
    out.push(':');
    push_2(out, dt.second());
    let off = dt.offset().local_minus_utc();
    out.push(if off < 0 { '-' } else { '+' });
    let off = off.unsigned_abs();
    push_2(out, off / 3600);
    out.push(':');
    push_2(out, off % 3600 / 60);
}

fn check_datetime(field: &str, dt: &DateTime<FixedOffset>) -> Result<(), BuildError> {
    let off = dt.offset().local_minus_utc();
    if off % 3600 != 0 || !(-11 * 3600..=12 * 3600).contains(&off) {
        return Err(BuildError::new(
            field,
            Problem::Format("a date-time with a whole-hour UTC offset between -11:00 and +12:00"),
        ));
    }
    if !(2000..=2099).contains(&dt.year()) {
        return Err(BuildError::new(field, Problem::OutOfRange("a year between 2000 and 2099")));
    }
    Ok(())
}

fn only_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn hundred() -> Decimal {
    Decimal::ONE_HUNDRED
}

fn check_rate<F: std::fmt::Display + ?Sized>(field: &F, d: Decimal) -> Result<Decimal, BuildError> {
    num::check(field, d, 4, Decimal::ZERO, hundred(), "between 0 and 100")
}

/// Address fields, validated and normalized.
struct Addr<'a> {
    street: Cow<'a, str>,
    number: Cow<'a, str>,
    complement: Option<Cow<'a, str>>,
    district: Cow<'a, str>,
    city_code: &'a str,
    city: Cow<'a, str>,
    uf: &'static str,
    cep: String,
    phone: Option<String>,
}

fn addr<'a>(p: &str, a: &'a Address) -> Result<Addr<'a>, BuildError> {
    let f = |n: &'static str| FieldPath(p, 0, n);
    text::digits(&f("cMun"), &a.city_code, 7, 7, "the 7-digit IBGE city code")?;
    let cep = only_digits(&a.cep);
    text::digits(&f("CEP"), &cep, 8, 8, "8 digits")?;
    if a.cep.chars().any(|c| !c.is_ascii_digit() && !matches!(c, '-' | '.' | ' ')) {
        return Err(BuildError::new(f("CEP"), Problem::Format("8 digits")));
    }
    let phone = match &a.phone {
        Some(ph) if !ph.trim().is_empty() => {
            let d = only_digits(ph);
            text::digits(&f("fone"), &d, 6, 14, "6 to 14 digits")?;
            Some(d)
        }
        _ => None,
    };
    Ok(Addr {
        street: text::required(&f("xLgr"), &a.street, 2, 60)?,
        number: text::required(&f("nro"), &a.number, 1, 60)?,
        complement: match &a.complement {
            Some(c) => text::clean(&f("xCpl"), c, 0, 60)?,
            None => None,
        },
        district: text::required(&f("xBairro"), &a.district, 2, 60)?,
        city_code: &a.city_code,
        city: text::required(&f("xMun"), &a.city, 2, 60)?,
        uf: a.uf.as_str(),
        cep,
        phone,
    })
}

fn write_addr(w: &mut W, tag: Tag, a: &Addr<'_>) {
    w.open(tag);
    w.text(e!("xLgr"), &a.street);
    w.text(e!("nro"), &a.number);
    if let Some(c) = &a.complement {
        w.text(e!("xCpl"), c);
    }
    w.text(e!("xBairro"), &a.district);
    w.raw(e!("cMun"), a.city_code);
    w.text(e!("xMun"), &a.city);
    w.raw(e!("UF"), a.uf);
    w.raw(e!("CEP"), &a.cep);
    w.raw(e!("cPais"), "1058");
    w.raw(e!("xPais"), "Brasil");
    if let Some(p) = &a.phone {
        w.raw(e!("fone"), p);
    }
    w.close(tag);
}

fn check_email(field: &str, e: &str, min: usize) -> Result<String, BuildError> {
    let e = text::required(field, e, min, 60)?;
    let at = e.find('@');
    let ok =
        matches!(at, Some(i) if i > 0 && e[i + 1..].contains('.') && !e[i + 1..].contains('@')) && !e.contains(' ');
    if !ok {
        return Err(BuildError::new(field, Problem::Format("an e-mail address")));
    }
    Ok(e.into_owned())
}

/// Per-item computed values.
struct ItemCalc {
    v_prod: Decimal,
    v_desc: Decimal,
    icms: IcmsCalc,
    v_pis: Decimal,
    v_cofins: Decimal,
    pis_base: Decimal,
    ibs: Option<IbsCbsTotals>,
}

enum IcmsCalc {
    Sn102(&'static str),
    Sn101 { p: Decimal, v: Decimal },
    Sn500,
    Icms00 { v_bc: Decimal, p: Decimal, v: Decimal, p_pis: Decimal, p_cofins: Decimal },
}

/// Builds the NF-e: validates every input (errors name the field), computes item values,
/// taxes and totals, composes the access key and writes the canonical `infNFe` content.
pub fn build(input: &NfeInput) -> Result<UnsignedNfe, BuildError> {
    let em = &input.emitter;
    let homolog = input.environment == Environment::Homologation;

    // ---- ide ---------------------------------------------------------------------
    let nat_op = text::required("ide.natOp", &input.nat_op, 1, 60)?;
    let ver_proc = text::required("ide.verProc", &input.app_version, 1, 20)?;
    if input.serie > 999 {
        return Err(BuildError::new("ide.serie", Problem::OutOfRange("between 0 and 999")));
    }
    if input.n_nf == 0 || input.n_nf > 999_999_999 {
        return Err(BuildError::new("ide.nNF", Problem::OutOfRange("between 1 and 999999999")));
    }
    if input.cnf.value() == input.n_nf {
        return Err(BuildError::new("ide.cNF", Problem::Inconsistent("cNF must differ from nNF (NT 2019.001)".into())));
    }
    crate::key::Cnf::from_stored(input.cnf.value(), input.n_nf).map_err(|p| BuildError::new("ide.cNF", p))?;
    check_datetime("ide.dhEmi", &input.issued_at)?;
    if let Some(d) = &input.departure_at {
        check_datetime("ide.dhSaiEnt", d)?;
    }
    let contingency = match (input.emission, &input.contingency) {
        (EmissionType::Normal, None) => None,
        (EmissionType::Normal, Some(_)) => {
            return Err(BuildError::new(
                "ide.dhCont",
                Problem::Inconsistent("contingency data requires tpEmis 6 or 7".into()),
            ));
        }
        (_, None) => {
            return Err(BuildError::new(
                "ide.dhCont",
                Problem::Inconsistent("tpEmis 6/7 requires dhCont and xJust".into()),
            ));
        }
        (_, Some(c)) => {
            check_datetime("ide.dhCont", &c.since)?;
            Some((c.since, text::required("ide.xJust", &c.reason, 15, 256)?))
        }
    };

    // ---- emit ------------------------------------------------------------------------
    let em_name = text::required("emit.xNome", &em.name, 2, 60)?;
    let em_fant = match &em.trade_name {
        Some(t) => text::clean("emit.xFant", t, 0, 60)?,
        None => None,
    };
    let em_addr = addr("emit.enderEmit", &em.address)?;
    let ie = em.ie.trim().to_ascii_uppercase();
    let ie = if ie == "ISENTO" { ie } else { only_digits(&ie) };
    if ie != "ISENTO" {
        text::digits("emit.IE", &ie, 2, 14, "2 to 14 digits or ISENTO")?;
    }
    let uf = em.address.uf;
    let c_mun_fg = &em.address.city_code;

    // ---- dest ------------------------------------------------------------------------
    let rc = &input.recipient;
    let dest_name: Cow<'_, str> =
        if homolog { Cow::Borrowed(HOMOLOGATION_DEST_NAME) } else { text::required("dest.xNome", &rc.name, 2, 60)? };
    let dest_addr = match &rc.address {
        Some(a) => Some(addr("dest.enderDest", a)?),
        None => None,
    };
    let dest_email = match &rc.email {
        Some(e) if !e.trim().is_empty() => Some(check_email("dest.email", e, 1)?),
        _ => None,
    };
    let id_dest = match &rc.address {
        Some(a) if a.uf != uf => 2u8,
        _ => 1u8,
    };

    // ---- items -----------------------------------------------------------------------
    if input.items.is_empty() || input.items.len() > 990 {
        return Err(BuildError::new("det", Problem::OutOfRange("between 1 and 990 items")));
    }
    if let Some(ib) = &input.ibs_cbs {
        text::digits("det.imposto.IBSCBS.CST", &ib.cst, 3, 3, "3 digits")?;
        text::digits("det.imposto.IBSCBS.cClassTrib", &ib.c_class_trib, 6, 6, "6 digits")?;
        check_rate("det.imposto.IBSCBS.gIBSCBS.gIBSUF.pIBSUF", ib.p_ibs_uf)?;
        check_rate("det.imposto.IBSCBS.gIBSCBS.gIBSMun.pIBSMun", ib.p_ibs_mun)?;
        check_rate("det.imposto.IBSCBS.gIBSCBS.gCBS.pCBS", ib.p_cbs)?;
    }

    let mut tot = Totals::default();
    let mut ibs_tot = input.ibs_cbs.as_ref().map(|_| IbsCbsTotals::default());
    let mut w = W { s: String::with_capacity(2048 + input.items.len() * 1100) };

    // ide
    w.open(e!("ide"));
    w.num(e!("cUF"), uf.code() as u64);
    w.open(e!("cNF"));
    let cnf = input.cnf.value();
    for d in [10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1] {
        w.s.push((b'0' + (cnf / d % 10) as u8) as char);
    }
    w.close(e!("cNF"));
    w.text(e!("natOp"), &nat_op);
    w.raw(e!("mod"), "55");
    w.num(e!("serie"), input.serie as u64);
    w.num(e!("nNF"), input.n_nf as u64);
    w.open(e!("dhEmi"));
    push_datetime(&mut w.s, &input.issued_at);
    w.close(e!("dhEmi"));
    if let Some(d) = &input.departure_at {
        w.open(e!("dhSaiEnt"));
        push_datetime(&mut w.s, d);
        w.close(e!("dhSaiEnt"));
    }
    w.raw(e!("tpNF"), "1");
    w.num(e!("idDest"), id_dest as u64);
    text::digits("emit.enderEmit.cMun", c_mun_fg, 7, 7, "the 7-digit IBGE city code")?;
    w.raw(e!("cMunFG"), c_mun_fg);
    w.raw(e!("tpImp"), "1");
    w.num(e!("tpEmis"), input.emission.code() as u64);
    let key = AccessKey::compose(&KeyFields {
        uf,
        year: input.issued_at.year() as u16,
        month: input.issued_at.month() as u8,
        emitter: em.cnpj.as_str(),
        model: 55,
        serie: input.serie,
        n_nf: input.n_nf,
        tp_emis: input.emission.code(),
        cnf: input.cnf,
    })?;
    w.num(e!("cDV"), key.dv() as u64);
    w.num(e!("tpAmb"), input.environment.code() as u64);
    w.raw(e!("finNFe"), "1");
    w.raw(e!("indFinal"), "1");
    w.raw(e!("indPres"), "1");
    w.raw(e!("procEmi"), "0");
    w.text(e!("verProc"), &ver_proc);
    if let Some((since, why)) = &contingency {
        w.open(e!("dhCont"));
        push_datetime(&mut w.s, since);
        w.close(e!("dhCont"));
        w.text(e!("xJust"), why);
    }
    w.close(e!("ide"));

    // emit
    w.open(e!("emit"));
    w.raw(e!("CNPJ"), em.cnpj.as_str());
    w.text(e!("xNome"), &em_name);
    if let Some(f) = &em_fant {
        w.text(e!("xFant"), f);
    }
    write_addr(&mut w, e!("enderEmit"), &em_addr);
    w.raw(e!("IE"), &ie);
    w.num(e!("CRT"), em.crt.code() as u64);
    w.close(e!("emit"));

    // dest
    w.open(e!("dest"));
    match &rc.id {
        RecipientId::Cpf(c) => w.raw(e!("CPF"), c.as_str()),
        RecipientId::Cnpj(c) => w.raw(e!("CNPJ"), c.as_str()),
    }
    w.text(e!("xNome"), &dest_name);
    if let Some(a) = &dest_addr {
        write_addr(&mut w, e!("enderDest"), a);
    }
    w.raw(e!("indIEDest"), "9");
    if let Some(e) = &dest_email {
        w.text(e!("email"), e);
    }
    w.close(e!("dest"));

    // det
    for (i, it) in input.items.iter().enumerate() {
        let n = i + 1;
        let f = |s: &'static str| FieldPath("det", n, s);
        let c_prod = text::required(&f("prod.cProd"), &it.code, 1, 60)?;
        let x_prod = text::required(&f("prod.xProd"), &it.description, 1, 120)?;
        text::digits(&f("prod.NCM"), &it.ncm, 8, 8, "8 digits")?;
        text::digits(&f("prod.CFOP"), &it.cfop, 4, 4, "4 digits")?;
        let cfop_first = it.cfop.as_bytes()[0];
        if !matches!(cfop_first, b'5' | b'6' | b'7') {
            return Err(BuildError::new(f("prod.CFOP"), Problem::Format("an outgoing CFOP (5xxx, 6xxx or 7xxx)")));
        }
        if (id_dest == 1 && cfop_first != b'5') || (id_dest == 2 && cfop_first != b'6') {
            return Err(BuildError::new(
                f("prod.CFOP"),
                Problem::Inconsistent(format!(
                    "CFOP {} does not match idDest {id_dest} (5xxx in-state, 6xxx interstate)",
                    it.cfop
                )),
            ));
        }
        let unit = text::required(&f("prod.uCom"), &it.unit, 1, 6)?;
        let q = num::check(
            &f("prod.qCom"),
            it.quantity,
            4,
            Decimal::new(1, 4),
            Decimal::new(99_999_999_999, 0),
            "greater than 0",
        )?;
        let vun = num::check(
            &f("prod.vUnCom"),
            it.unit_price,
            10,
            Decimal::ZERO,
            Decimal::new(99_999_999_999, 0),
            "at least 0",
        )?;
        if it.origin > 8 {
            return Err(BuildError::new(f("imposto.ICMS.orig"), Problem::OutOfRange("0..=8")));
        }
        let v_prod = round2(q * vun);
        let v_desc = match it.discount {
            Some(d) if !d.is_zero() => {
                num::check(&f("prod.vDesc"), d, 2, Decimal::ZERO, v_prod, "between 0 and vProd")?
            }
            _ => Decimal::ZERO,
        };
        if v_prod.is_zero() {
            return Err(BuildError::new(f("prod.vProd"), Problem::OutOfRange("greater than 0")));
        }
        let net = v_prod - v_desc;

        let (icms, v_pis, v_cofins, pis_base) = match (&it.tax, em.crt) {
            (ItemTax::Simples(s), Crt::SimplesNacional) => {
                let c = match s {
                    SimplesIcms::Sn102(c) => IcmsCalc::Sn102(c.code()),
                    SimplesIcms::Sn101 { p_cred_sn } => {
                        let p = check_rate(&f("imposto.ICMS.ICMSSN101.pCredSN"), *p_cred_sn)?;
                        IcmsCalc::Sn101 { p, v: round2(net * p / hundred()) }
                    }
                    SimplesIcms::Sn500 => IcmsCalc::Sn500,
                };
                (c, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
            }
            (ItemTax::Normal(t), Crt::RegimeNormal) => {
                let p = check_rate(&f("imposto.ICMS.ICMS00.pICMS"), t.p_icms)?;
                let p_pis = check_rate(&f("imposto.PIS.PISAliq.pPIS"), t.p_pis)?;
                let p_cof = check_rate(&f("imposto.COFINS.COFINSAliq.pCOFINS"), t.p_cofins)?;
                let v_icms = round2(net * p / hundred());
                let base = if t.pis_cofins_base_excludes_icms { net - v_icms } else { net };
                let vp = round2(base * p_pis / hundred());
                let vc = round2(base * p_cof / hundred());
                (IcmsCalc::Icms00 { v_bc: net, p, v: v_icms, p_pis, p_cofins: p_cof }, vp, vc, base)
            }
            _ => {
                return Err(BuildError::new(
                    f("imposto.ICMS"),
                    Problem::Inconsistent(format!(
                        "the item's tax group does not match the emitter's CRT {}",
                        em.crt.code()
                    )),
                ));
            }
        };
        let v_icms_item = match &icms {
            IcmsCalc::Icms00 { v, .. } => *v,
            _ => Decimal::ZERO,
        };
        let ibs = input.ibs_cbs.as_ref().map(|ib| {
            let v_bc = net - v_icms_item - v_pis - v_cofins;
            let v_ibs_uf = round2(v_bc * ib.p_ibs_uf / hundred());
            let v_ibs_mun = round2(v_bc * ib.p_ibs_mun / hundred());
            IbsCbsTotals {
                v_bc,
                v_ibs_uf,
                v_ibs_mun,
                v_ibs: v_ibs_uf + v_ibs_mun,
                v_cbs: round2(v_bc * ib.p_cbs / hundred()),
            }
        });
        let calc = ItemCalc { v_prod, v_desc, icms, v_pis, v_cofins, pis_base, ibs };

        // write det
        w.s.push_str("<det nItem=\"");
        push_u64(&mut w.s, n as u64);
        w.s.push_str("\">");
        w.open(e!("prod"));
        w.text(e!("cProd"), &c_prod);
        w.raw(e!("cEAN"), "SEM GTIN");
        w.text(e!("xProd"), &x_prod);
        w.raw(e!("NCM"), &it.ncm);
        w.raw(e!("CFOP"), &it.cfop);
        w.text(e!("uCom"), &unit);
        w.fixed(e!("qCom"), q, 4);
        w.fixed(e!("vUnCom"), vun, 10);
        w.money(e!("vProd"), calc.v_prod);
        w.raw(e!("cEANTrib"), "SEM GTIN");
        w.text(e!("uTrib"), &unit);
        w.fixed(e!("qTrib"), q, 4);
        w.fixed(e!("vUnTrib"), vun, 10);
        if !calc.v_desc.is_zero() {
            w.money(e!("vDesc"), calc.v_desc);
        }
        w.raw(e!("indTot"), "1");
        w.close(e!("prod"));
        w.open(e!("imposto"));
        w.open(e!("ICMS"));
        let orig = [b'0' + it.origin];
        let orig = std::str::from_utf8(&orig).unwrap_or("0");
        match &calc.icms {
            IcmsCalc::Sn102(c) => {
                w.open(e!("ICMSSN102"));
                w.raw(e!("orig"), orig);
                w.raw(e!("CSOSN"), c);
                w.close(e!("ICMSSN102"));
            }
            IcmsCalc::Sn101 { p, v } => {
                w.open(e!("ICMSSN101"));
                w.raw(e!("orig"), orig);
                w.raw(e!("CSOSN"), "101");
                w.rate(e!("pCredSN"), *p);
                w.money(e!("vCredICMSSN"), *v);
                w.close(e!("ICMSSN101"));
            }
            IcmsCalc::Sn500 => {
                w.open(e!("ICMSSN500"));
                w.raw(e!("orig"), orig);
                w.raw(e!("CSOSN"), "500");
                w.close(e!("ICMSSN500"));
            }
            IcmsCalc::Icms00 { v_bc, p, v, .. } => {
                w.open(e!("ICMS00"));
                w.raw(e!("orig"), orig);
                w.raw(e!("CST"), "00");
                w.raw(e!("modBC"), "3");
                w.money(e!("vBC"), *v_bc);
                w.rate(e!("pICMS"), *p);
                w.money(e!("vICMS"), *v);
                w.close(e!("ICMS00"));
            }
        }
        w.close(e!("ICMS"));
        match &calc.icms {
            IcmsCalc::Icms00 { p_pis, p_cofins, .. } => {
                w.s.push_str("<PIS><PISAliq><CST>01</CST>");
                w.money(e!("vBC"), calc.pis_base);
                w.rate(e!("pPIS"), *p_pis);
                w.money(e!("vPIS"), calc.v_pis);
                w.s.push_str("</PISAliq></PIS><COFINS><COFINSAliq><CST>01</CST>");
                w.money(e!("vBC"), calc.pis_base);
                w.rate(e!("pCOFINS"), *p_cofins);
                w.money(e!("vCOFINS"), calc.v_cofins);
                w.s.push_str("</COFINSAliq></COFINS>");
            }
            _ => w.s.push_str(
                "<PIS><PISOutr><CST>49</CST><vBC>0.00</vBC><pPIS>0.00</pPIS><vPIS>0.00</vPIS>\
                 </PISOutr></PIS><COFINS><COFINSOutr><CST>49</CST><vBC>0.00</vBC>\
                 <pCOFINS>0.00</pCOFINS><vCOFINS>0.00</vCOFINS></COFINSOutr></COFINS>",
            ),
        }
        if let (Some(ib), Some(v)) = (&input.ibs_cbs, &calc.ibs) {
            w.open(e!("IBSCBS"));
            w.raw(e!("CST"), &ib.cst);
            w.raw(e!("cClassTrib"), &ib.c_class_trib);
            w.open(e!("gIBSCBS"));
            w.money(e!("vBC"), v.v_bc);
            w.open(e!("gIBSUF"));
            w.rate(e!("pIBSUF"), ib.p_ibs_uf);
            w.money(e!("vIBSUF"), v.v_ibs_uf);
            w.close(e!("gIBSUF"));
            w.open(e!("gIBSMun"));
            w.rate(e!("pIBSMun"), ib.p_ibs_mun);
            w.money(e!("vIBSMun"), v.v_ibs_mun);
            w.close(e!("gIBSMun"));
            w.money(e!("vIBS"), v.v_ibs);
            w.open(e!("gCBS"));
            w.rate(e!("pCBS"), ib.p_cbs);
            w.money(e!("vCBS"), v.v_cbs);
            w.close(e!("gCBS"));
            w.close(e!("gIBSCBS"));
            w.close(e!("IBSCBS"));
            if let Some(t) = ibs_tot.as_mut() {
                t.v_bc += v.v_bc;
                t.v_ibs_uf += v.v_ibs_uf;
                t.v_ibs_mun += v.v_ibs_mun;
                t.v_ibs += v.v_ibs;
                t.v_cbs += v.v_cbs;
            }
        }
        w.close(e!("imposto"));
        w.close(e!("det"));

        tot.v_prod += calc.v_prod;
        tot.v_desc += calc.v_desc;
        if let IcmsCalc::Icms00 { v_bc, v, .. } = calc.icms {
            tot.v_bc += v_bc;
            tot.v_icms += v;
        }
        tot.v_pis += calc.v_pis;
        tot.v_cofins += calc.v_cofins;
    }
    tot.v_nf = tot.v_prod - tot.v_desc;
    tot.ibs_cbs = ibs_tot;

    // ---- payments --------------------------------------------------------------------
    if input.payments.is_empty() || input.payments.len() > 100 {
        return Err(BuildError::new("pag.detPag", Problem::OutOfRange("between 1 and 100 payments")));
    }
    for (i, p) in input.payments.iter().enumerate() {
        let fp = FieldPath("pag.detPag", i + 1, "vPag");
        let v = num::check(&fp, p.amount, 2, Decimal::new(1, 2), Decimal::new(9_999_999_999_999, 0), "greater than 0")?;
        tot.v_pag += v;
    }
    if tot.v_pag < tot.v_nf {
        return Err(BuildError::new(
            "pag.detPag.vPag",
            Problem::Inconsistent(format!("payments sum {} but vNF is {} (rejection 865)", tot.v_pag, tot.v_nf)),
        ));
    }
    tot.v_troco = tot.v_pag - tot.v_nf;

    // ---- total -----------------------------------------------------------------------
    let z = Decimal::ZERO;
    w.open(e!("total"));
    w.open(e!("ICMSTot"));
    w.money(e!("vBC"), tot.v_bc);
    w.money(e!("vICMS"), tot.v_icms);
    w.money(e!("vICMSDeson"), z);
    w.money(e!("vFCP"), z);
    w.money(e!("vBCST"), z);
    w.money(e!("vST"), z);
    w.money(e!("vFCPST"), z);
    w.money(e!("vFCPSTRet"), z);
    w.money(e!("vProd"), tot.v_prod);
    w.money(e!("vFrete"), z);
    w.money(e!("vSeg"), z);
    w.money(e!("vDesc"), tot.v_desc);
    w.money(e!("vII"), z);
    w.money(e!("vIPI"), z);
    w.money(e!("vIPIDevol"), z);
    w.money(e!("vPIS"), tot.v_pis);
    w.money(e!("vCOFINS"), tot.v_cofins);
    w.money(e!("vOutro"), z);
    w.money(e!("vNF"), tot.v_nf);
    w.close(e!("ICMSTot"));
    if let Some(t) = &tot.ibs_cbs {
        w.open(e!("IBSCBSTot"));
        w.money(e!("vBCIBSCBS"), t.v_bc);
        w.s.push_str("<gIBS><gIBSUF><vDif>0.00</vDif><vDevTrib>0.00</vDevTrib>");
        w.money(e!("vIBSUF"), t.v_ibs_uf);
        w.s.push_str("</gIBSUF><gIBSMun><vDif>0.00</vDif><vDevTrib>0.00</vDevTrib>");
        w.money(e!("vIBSMun"), t.v_ibs_mun);
        w.close(e!("gIBSMun"));
        w.money(e!("vIBS"), t.v_ibs);
        w.s.push_str("<vCredPres>0.00</vCredPres><vCredPresCondSus>0.00</vCredPresCondSus></gIBS>");
        w.s.push_str("<gCBS><vDif>0.00</vDif><vDevTrib>0.00</vDevTrib>");
        w.money(e!("vCBS"), t.v_cbs);
        w.s.push_str("<vCredPres>0.00</vCredPres><vCredPresCondSus>0.00</vCredPresCondSus></gCBS>");
        w.close(e!("IBSCBSTot"));
    }
    w.close(e!("total"));

    // ---- transp, pag -------------------------------------------------------------------
    w.s.push_str("<transp><modFrete>9</modFrete></transp>");
    w.open(e!("pag"));
    for (i, p) in input.payments.iter().enumerate() {
        let n = i + 1;
        w.open(e!("detPag"));
        w.raw(e!("indPag"), "0");
        w.raw(e!("tPag"), p.method.t_pag());
        if let PaymentMethod::Other(desc) = &p.method {
            let d = text::required(&format!("pag.detPag[{n}].xPag"), desc, 2, 60)?;
            w.text(e!("xPag"), &d);
        }
        w.money(e!("vPag"), p.amount);
        if let PaymentMethod::CreditCard(c) | PaymentMethod::DebitCard(c) = &p.method {
            w.open(e!("card"));
            w.raw(e!("tpIntegra"), if c.integrated { "1" } else { "2" });
            if let Some(cnpj) = &c.acquirer_cnpj {
                w.raw(e!("CNPJ"), cnpj.as_str());
            }
            if let Some(b) = &c.brand {
                text::digits(&format!("pag.detPag[{n}].card.tBand"), b, 2, 2, "2 digits")?;
                w.raw(e!("tBand"), b);
            }
            if let Some(a) = &c.authorization
                && let Some(a) = text::clean(&format!("pag.detPag[{n}].card.cAut"), a, 0, 128)?
            {
                w.text(e!("cAut"), &a);
            }
            w.close(e!("card"));
        }
        w.close(e!("detPag"));
    }
    if tot.v_troco > Decimal::ZERO {
        w.money(e!("vTroco"), tot.v_troco);
    }
    w.close(e!("pag"));

    // ---- infAdic, infRespTec -------------------------------------------------------------
    if let Some(info) = &input.additional_info
        && let Some(info) = text::clean("infAdic.infCpl", info, 0, 5000)?
    {
        w.open(e!("infAdic"));
        w.text(e!("infCpl"), &info);
        w.close(e!("infAdic"));
    }
    let rt = &input.tech_responsible;
    let contact = text::required("infRespTec.xContato", &rt.contact, 2, 60)?;
    let email = check_email("infRespTec.email", &rt.email, 6)?;
    let phone = only_digits(&rt.phone);
    text::digits("infRespTec.fone", &phone, 6, 14, "6 to 14 digits")?;
    w.open(e!("infRespTec"));
    w.raw(e!("CNPJ"), rt.cnpj.as_str());
    w.text(e!("xContato"), &contact);
    w.text(e!("email"), &email);
    w.raw(e!("fone"), &phone);
    w.close(e!("infRespTec"));

    Ok(UnsignedNfe { key, environment: input.environment, content: w.s, totals: tot })
}

/// Parses a CNPJ for a field, naming the field in the error.
pub fn cnpj(field: &str, s: &str) -> Result<Cnpj, BuildError> {
    Cnpj::parse(s).map_err(|e| BuildError::new(field, e.into()))
}
