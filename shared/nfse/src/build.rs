//! `build(&DpsInput)`: validates the input (typed errors naming the schema field), composes the
//! Id and writes `infDPS` in canonical form (C14N 1.0 escaping, no whitespace between tags, no
//! empty optional elements), in the schema's order.

use std::borrow::Cow;

use rust_decimal::Decimal;

use osflow_nfe::error::{BuildError, Problem};
use osflow_nfe::num::{check, push_money};
use osflow_nfe::text::{clean, digits, push_text, required};

use crate::id::DpsId;
use crate::model::*;

/// The NFS-e namespace (DPS, NFS-e and events).
pub const NFSE_NS: &str = "http://www.sped.fazenda.gov.br/nfse";
/// The leiaute written (`versao`).
pub const VERSION: &str = "1.01";

/// A built DPS, not yet signed: the Id and the canonical content of `infDPS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedDps {
    id: DpsId,
    environment: Environment,
    content: String,
}

impl UnsignedDps {
    pub fn id(&self) -> &DpsId {
        &self.id
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    /// The children of `infDPS` as written.
    pub fn content(&self) -> &str {
        &self.content
    }
    /// `infDPS` with `Id`; `with_ns` adds the namespace it inherits from `DPS` (its canonical
    /// form in context, which is what the signature digests).
    pub fn push_inf_dps(&self, out: &mut String, with_ns: bool) {
        out.push_str("<infDPS");
        if with_ns {
            out.push_str(" xmlns=\"");
            out.push_str(NFSE_NS);
            out.push('"');
        }
        out.push_str(" Id=\"");
        out.push_str(self.id.as_str());
        out.push_str("\">");
        out.push_str(&self.content);
        out.push_str("</infDPS>");
    }
    /// The unsigned document (`DPS` without `Signature`; the schema allows it).
    pub fn xml(&self) -> String {
        let mut s = String::with_capacity(self.content.len() + 128);
        s.push_str("<DPS xmlns=\"");
        s.push_str(NFSE_NS);
        s.push_str("\" versao=\"");
        s.push_str(VERSION);
        s.push_str("\">");
        self.push_inf_dps(&mut s, false);
        s.push_str("</DPS>");
        s
    }
}

fn err(field: &str, p: Problem) -> BuildError {
    BuildError::new(field, p)
}

/// `<name>text</name>`, the text escaped (the DPS's and the events' one element writer).
pub(crate) fn tag(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_text(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn money_tag(out: &mut String, name: &str, d: Decimal) {
    open(out, name);
    push_money(out, d);
    close(out, name);
}

fn money(field: &str, d: Decimal) -> Result<Decimal, BuildError> {
    check(field, d, 2, Decimal::ZERO, Decimal::new(99_999_999_999_999_999, 2), "between 0 and 999999999999999.99")
}

fn rate(field: &str, d: Decimal, max: Decimal, range: &'static str) -> Result<Decimal, BuildError> {
    check(field, d, 2, Decimal::ZERO, max, range)
}

fn only_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn city(field: &str, s: &str) -> Result<(), BuildError> {
    osflow_domain::values::CityCode::parse(s).map(|_| ()).map_err(|e| err(field, e.into()))
}

fn phone(field: &str, s: &Option<String>) -> Result<Option<String>, BuildError> {
    match s {
        None => Ok(None),
        Some(p) => {
            let d = only_digits(p);
            if d.is_empty() && p.trim().is_empty() {
                return Ok(None);
            }
            digits(field, &d, 6, 20, "6 to 20 digits (DDD + number)")?;
            Ok(Some(d))
        }
    }
}

fn email<'a>(field: &str, s: &'a Option<String>) -> Result<Option<Cow<'a, str>>, BuildError> {
    match s {
        None => Ok(None),
        Some(e) => {
            let c = clean(field, e, 0, 80)?;
            if let Some(c) = &c
                && (!c.contains('@') || c.contains(' '))
            {
                return Err(err(field, Problem::Format("an e-mail address")));
            }
            Ok(c)
        }
    }
}

fn im<'a>(field: &str, s: &'a Option<String>) -> Result<Option<Cow<'a, str>>, BuildError> {
    match s {
        None => Ok(None),
        Some(v) => clean(field, v, 0, 15),
    }
}

/// Validates `input` and writes the DPS. Business rules of the national system that the
/// schema does not carry are checked here too (each error names its field):
/// `regApTribSN` only for ME/EPP; `pTotTribSN` only for Simples optants and required for
/// ME/EPP (E0712: `indTotTrib` is never accepted from them); `pAliq` not with a special
/// regime (E0604) nor for a non-optant; `regEspTrib` ≠ 0 only when taxable (E0172); ISS
/// withheld by the buyer needs an identified buyer; `cNBS` required with IBSCBS.
pub fn build(input: &DpsInput) -> Result<UnsignedDps, BuildError> {
    let p = &input.provider;
    let cnpj = p.cnpj.as_str();
    if p.cnpj.is_alphanumeric() {
        return Err(err(
            "prest.CNPJ",
            Problem::Format("a numeric CNPJ (the NFS-e 1.01 schema does not accept the alphanumeric CNPJ)"),
        ));
    }
    city("cLocEmi", &input.issuer_city)?;
    if input.serie == 0 || input.serie > 99_999 {
        return Err(err("serie", Problem::OutOfRange("between 1 and 99999")));
    }
    if input.number == 0 || input.number > 999_999_999_999_999 {
        return Err(err("nDPS", Problem::OutOfRange("between 1 and 999999999999999")));
    }
    let id = DpsId::compose(&input.issuer_city, cnpj, input.serie, input.number)
        .ok_or_else(|| err("infDPS.Id", Problem::Format("DPS + 42 digits")))?;
    let ver = required("verAplic", &input.app_version, 1, 20)?;

    let mut o = String::with_capacity(2048);
    tag(&mut o, "tpAmb", &input.environment.code().to_string());
    tag(&mut o, "dhEmi", &input.issued_at.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    let off = input.issued_at.offset().local_minus_utc();
    if off % 3600 != 0 || !(-11 * 3600..=12 * 3600).contains(&off) {
        return Err(err("dhEmi", Problem::Format("a date-time with a whole-hour UTC offset")));
    }
    tag(&mut o, "verAplic", &ver);
    tag(&mut o, "serie", &input.serie.to_string());
    tag(&mut o, "nDPS", &input.number.to_string());
    tag(&mut o, "dCompet", &input.competence.format("%Y-%m-%d").to_string());
    if input.competence > input.issued_at.date_naive() {
        return Err(err("dCompet", Problem::Inconsistent("is after dhEmi".into())));
    }
    tag(&mut o, "tpEmit", "1");
    tag(&mut o, "cLocEmi", &input.issuer_city);

    // prest
    open(&mut o, "prest");
    tag(&mut o, "CNPJ", cnpj);
    if let Some(v) = im("prest.IM", &p.im)? {
        tag(&mut o, "IM", &v);
    }
    if let Some(v) = phone("prest.fone", &p.phone)? {
        tag(&mut o, "fone", &v);
    }
    if let Some(v) = email("prest.email", &p.email)? {
        tag(&mut o, "email", &v);
    }
    open(&mut o, "regTrib");
    tag(&mut o, "opSimpNac", &p.regime.simples.code().to_string());
    if let SimplesOption::MeEpp { regime_ap: Some(r) } = p.regime.simples {
        if !(1..=3).contains(&r) {
            return Err(err("prest.regTrib.regApTribSN", Problem::OutOfRange("1, 2 or 3")));
        }
        tag(&mut o, "regApTribSN", &r.to_string());
    }
    if !matches!(p.regime.special, 0..=6 | 9) {
        return Err(err("prest.regTrib.regEspTrib", Problem::OutOfRange("0 to 6 or 9")));
    }
    if p.regime.special != 0 && input.values.iss.taxation != IssTaxation::Taxable {
        return Err(err(
            "prest.regTrib.regEspTrib",
            Problem::Inconsistent("must be 0 unless the service is taxable (tribISSQN = 1)".into()),
        ));
    }
    tag(&mut o, "regEspTrib", &p.regime.special.to_string());
    close(&mut o, "regTrib");
    close(&mut o, "prest");

    // toma
    if let Some(t) = &input.taker {
        open(&mut o, "toma");
        match &t.id {
            TakerId::Cpf(c) => tag(&mut o, "CPF", c.as_str()),
            TakerId::Cnpj(c) => {
                if c.is_alphanumeric() {
                    return Err(err(
                        "toma.CNPJ",
                        Problem::Format("a numeric CNPJ (the NFS-e 1.01 schema does not accept the alphanumeric CNPJ)"),
                    ));
                }
                tag(&mut o, "CNPJ", c.as_str())
            }
        }
        if let Some(v) = im("toma.IM", &t.im)? {
            tag(&mut o, "IM", &v);
        }
        tag(&mut o, "xNome", &required("toma.xNome", &t.name, 1, 300)?);
        if let Some(a) = &t.address {
            open(&mut o, "end");
            open(&mut o, "endNac");
            city("toma.end.endNac.cMun", &a.city_code)?;
            tag(&mut o, "cMun", &a.city_code);
            let cep = only_digits(&a.cep);
            digits("toma.end.endNac.CEP", &cep, 8, 8, "8 digits")?;
            tag(&mut o, "CEP", &cep);
            close(&mut o, "endNac");
            tag(&mut o, "xLgr", &required("toma.end.xLgr", &a.street, 1, 255)?);
            tag(&mut o, "nro", &required("toma.end.nro", &a.number, 1, 60)?);
            if let Some(c) = &a.complement
                && let Some(c) = clean("toma.end.xCpl", c, 0, 156)?
            {
                tag(&mut o, "xCpl", &c);
            }
            tag(&mut o, "xBairro", &required("toma.end.xBairro", &a.district, 1, 60)?);
            close(&mut o, "end");
        }
        if let Some(v) = phone("toma.fone", &t.phone)? {
            tag(&mut o, "fone", &v);
        }
        if let Some(v) = email("toma.email", &t.email)? {
            tag(&mut o, "email", &v);
        }
        close(&mut o, "toma");
    }

    // serv
    let s = &input.service;
    open(&mut o, "serv");
    open(&mut o, "locPrest");
    city("serv.locPrest.cLocPrestacao", &s.place_city)?;
    tag(&mut o, "cLocPrestacao", &s.place_city);
    close(&mut o, "locPrest");
    open(&mut o, "cServ");
    digits("serv.cServ.cTribNac", &s.c_trib_nac, 6, 6, "6 digits (item, subitem, desdobro)")?;
    tag(&mut o, "cTribNac", &s.c_trib_nac);
    if let Some(m) = &s.c_trib_mun {
        digits("serv.cServ.cTribMun", m, 3, 3, "3 digits")?;
        tag(&mut o, "cTribMun", m);
    }
    tag(&mut o, "xDescServ", &required("serv.cServ.xDescServ", &s.description, 1, 2000)?);
    if let Some(n) = &s.c_nbs {
        digits("serv.cServ.cNBS", n, 9, 9, "9 digits")?;
        tag(&mut o, "cNBS", n);
    } else if input.ibs_cbs.is_some() {
        return Err(err("serv.cServ.cNBS", Problem::Inconsistent("is required with IBSCBS".into())));
    }
    if let Some(c) = &s.internal_code {
        let f = "serv.cServ.cIntContrib";
        if c.is_empty() || c.len() > 20 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(f, Problem::Format("1 to 20 letters and digits")));
        }
        tag(&mut o, "cIntContrib", c);
    }
    close(&mut o, "cServ");
    close(&mut o, "serv");

    // valores
    let v = &input.values;
    let amount = money("valores.vServPrest.vServ", v.amount)?;
    if amount.is_zero() {
        return Err(err("valores.vServPrest.vServ", Problem::OutOfRange("greater than 0")));
    }
    open(&mut o, "valores");
    open(&mut o, "vServPrest");
    money_tag(&mut o, "vServ", amount);
    close(&mut o, "vServPrest");
    let inc = v.unconditional_discount.map(|d| money("valores.vDescCondIncond.vDescIncond", d)).transpose()?;
    let cond = v.conditional_discount.map(|d| money("valores.vDescCondIncond.vDescCond", d)).transpose()?;
    let inc = inc.filter(|d| !d.is_zero());
    let cond = cond.filter(|d| !d.is_zero());
    if inc.unwrap_or_default() + cond.unwrap_or_default() >= amount {
        return Err(err("valores.vDescCondIncond", Problem::Inconsistent("discounts must be less than vServ".into())));
    }
    if inc.is_some() || cond.is_some() {
        open(&mut o, "vDescCondIncond");
        if let Some(d) = inc {
            money_tag(&mut o, "vDescIncond", d);
        }
        if let Some(d) = cond {
            money_tag(&mut o, "vDescCond", d);
        }
        close(&mut o, "vDescCondIncond");
    }
    open(&mut o, "trib");
    open(&mut o, "tribMun");
    tag(&mut o, "tribISSQN", &v.iss.taxation.code().to_string());
    if v.iss.withholding == Withholding::ByTaker && input.taker.is_none() {
        return Err(err(
            "valores.trib.tribMun.tpRetISSQN",
            Problem::Inconsistent("ISS withheld by the buyer needs toma".into()),
        ));
    }
    tag(&mut o, "tpRetISSQN", &v.iss.withholding.code().to_string());
    if let Some(r) = v.iss.rate {
        let field = "valores.trib.tribMun.pAliq";
        if p.regime.special != 0 {
            return Err(err(field, Problem::Inconsistent("is not accepted with a special regime (regEspTrib)".into())));
        }
        if p.regime.simples == SimplesOption::NotOptant {
            return Err(err(
                field,
                Problem::Inconsistent("is set by the municipality for a non-optant (opSimpNac = 1)".into()),
            ));
        }
        if v.iss.taxation != IssTaxation::Taxable {
            return Err(err(field, Problem::Inconsistent("only for a taxable service".into())));
        }
        let r = rate(field, r, Decimal::new(999, 2), "between 0 and 9.99")?;
        money_tag(&mut o, "pAliq", r);
    }
    close(&mut o, "tribMun");
    open(&mut o, "totTrib");
    let optant = p.regime.simples != SimplesOption::NotOptant;
    match v.approximate_taxes {
        ApproximateTaxes::SimplesRate(r) => {
            let f = "valores.trib.totTrib.pTotTribSN";
            if !optant {
                return Err(err(f, Problem::Inconsistent("only for Simples Nacional optants".into())));
            }
            money_tag(&mut o, "pTotTribSN", rate(f, r, Decimal::new(9999, 2), "between 0 and 99.99")?);
        }
        ApproximateTaxes::Rates { federal, state, municipal } => {
            if matches!(p.regime.simples, SimplesOption::MeEpp { .. }) {
                return Err(err(
                    "valores.trib.totTrib.pTotTrib",
                    Problem::Inconsistent("a ME/EPP informs pTotTribSN".into()),
                ));
            }
            open(&mut o, "pTotTrib");
            let max = Decimal::new(99_999, 2);
            let range = "between 0 and 999.99";
            money_tag(&mut o, "pTotTribFed", rate("valores.trib.totTrib.pTotTrib.pTotTribFed", federal, max, range)?);
            money_tag(&mut o, "pTotTribEst", rate("valores.trib.totTrib.pTotTrib.pTotTribEst", state, max, range)?);
            money_tag(&mut o, "pTotTribMun", rate("valores.trib.totTrib.pTotTrib.pTotTribMun", municipal, max, range)?);
            close(&mut o, "pTotTrib");
        }
        ApproximateTaxes::NotInformed => {
            if matches!(p.regime.simples, SimplesOption::MeEpp { .. }) {
                return Err(err(
                    "valores.trib.totTrib.indTotTrib",
                    Problem::Inconsistent("a ME/EPP informs pTotTribSN (indTotTrib is refused, E0712)".into()),
                ));
            }
            tag(&mut o, "indTotTrib", "0");
        }
    }
    close(&mut o, "totTrib");
    close(&mut o, "trib");
    close(&mut o, "valores");

    if let Some(ib) = &input.ibs_cbs {
        open(&mut o, "IBSCBS");
        tag(&mut o, "finNFSe", "0");
        if let Some(f) = ib.final_consumer {
            tag(&mut o, "indFinal", if f { "1" } else { "0" });
        }
        digits("IBSCBS.cIndOp", &ib.c_ind_op, 6, 6, "6 digits")?;
        tag(&mut o, "cIndOp", &ib.c_ind_op);
        // 0: the recipient of the service is the buyer (toma).
        tag(&mut o, "indDest", "0");
        open(&mut o, "valores");
        open(&mut o, "trib");
        open(&mut o, "gIBSCBS");
        digits("IBSCBS.valores.trib.gIBSCBS.CST", &ib.cst, 3, 3, "3 digits")?;
        tag(&mut o, "CST", &ib.cst);
        digits("IBSCBS.valores.trib.gIBSCBS.cClassTrib", &ib.c_class_trib, 6, 6, "6 digits")?;
        tag(&mut o, "cClassTrib", &ib.c_class_trib);
        close(&mut o, "gIBSCBS");
        close(&mut o, "trib");
        close(&mut o, "valores");
        close(&mut o, "IBSCBS");
    }
    Ok(UnsignedDps { id, environment: input.environment, content: o })
}
