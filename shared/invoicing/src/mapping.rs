//! `Order` + emitter → [`NfeInput`].
//!
//! - One `det` per approved part line of the approved revisions that costs something after its discounts (NCM,
//!   the emitter's CFOP, quantity, unit price, the line's whole discount as `vDesc`, the emitter's tax rules);
//!   labor lines are left to the NFS-e.
//! - `dest` from the customer: CPF or CNPJ, name, address when present, e-mail.
//! - `pag` from the order's payments, oldest first, each taken up to what the parts still owe: the payments of
//!   an OS also pay its labor, which is not on this document, and the excess must not be declared as change
//!   (`vTroco`).
//! - `infAdic/infCpl` names the OS number.

use chrono::{DateTime, FixedOffset, Utc};
use osflow_domain::values::Document;
use osflow_domain::{Order, PaymentMethod as OrderPayment};
use osflow_nfe::{Card, Cnf, EmissionType, Item, NfeInput, Payment, PaymentMethod, Recipient, RecipientId};
use rust_decimal::Decimal;

use crate::config::{ValidEmitter, nfe_address};

/// Why an order cannot be turned into an NF-e (messages in Portuguese: they reach the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("a peça da linha {line} (\"{description}\") não tem NCM")]
    MissingNcm { line: u32, description: String },
    #[error("documento do cliente inválido: {0}")]
    Customer(String),
    #[error("os pagamentos ({paid}) não cobrem as peças ({parts})")]
    Unpaid { paid: Decimal, parts: Decimal },
}

/// Brasília time (`dhEmi` needs a whole-hour offset).
pub fn brt(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::west_opt(3 * 3600).expect("a valid offset"))
}

/// The `verProc` written on every NF-e.
pub const APP_VERSION: &str = concat!("osflow ", env!("CARGO_PKG_VERSION"));

/// The NF-e input of the order's parts, or `None` when the order has no approved part.
pub fn nfe_input(
    order: &Order,
    emitter: &ValidEmitter,
    n_nf: u32,
    cnf: Cnf,
    issued_at: DateTime<Utc>,
) -> Result<Option<NfeInput>, MapError> {
    let items = order
        .approved_parts()
        .map(|l| {
            let ncm = l
                .ncm
                .as_ref()
                .ok_or_else(|| MapError::MissingNcm { line: l.line, description: l.description.clone() })?;
            Ok(Item {
                code: if l.code.trim().is_empty() { format!("LINHA-{}", l.line) } else { l.code.clone() },
                description: l.description.clone(),
                ncm: ncm.as_str().to_owned(),
                cfop: emitter.cfop.clone(),
                unit: "UN".into(),
                quantity: l.quantity.as_decimal(),
                unit_price: l.unit_price.as_decimal(),
                discount: (!l.discount_total.is_zero()).then(|| l.discount_total.as_decimal()),
                origin: 0,
                tax: emitter.tax.clone(),
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    if items.is_empty() {
        return Ok(None);
    }
    let parts: Decimal = order.approved_parts().map(|l| l.net().as_decimal()).sum();
    Ok(Some(NfeInput {
        environment: emitter.environment,
        emission: EmissionType::Normal,
        contingency: None,
        nat_op: "Venda de peças".into(),
        serie: emitter.serie,
        n_nf,
        cnf,
        issued_at: brt(issued_at),
        departure_at: None,
        emitter: emitter.emitter.clone(),
        recipient: recipient(order)?,
        items,
        payments: payments(order, parts)?,
        ibs_cbs: emitter.ibs_cbs.clone(),
        additional_info: Some(format!("Peças da ordem de serviço nº {}.", order.number)),
        tech_responsible: emitter.tech_responsible.clone(),
        app_version: APP_VERSION.into(),
    }))
}

fn recipient(order: &Order) -> Result<Recipient, MapError> {
    let c = &order.customer;
    let id = match &c.document {
        Document::Cpf(cpf) => RecipientId::Cpf(*cpf),
        Document::Cnpj(cnpj) => RecipientId::Cnpj(*cnpj),
    };
    // The phone: DDD and number (the E.164 form without "+55"), the customer's phone as the order holds it now.
    let address = c.address.as_ref().map(|a| nfe_address(a, c.phone.as_ref().map(|p| p.as_str()[3..].to_owned())));
    Ok(Recipient { id, name: c.name.clone(), address, email: c.email.as_ref().map(|e| e.as_str().to_owned()) })
}

fn payments(order: &Order, parts: Decimal) -> Result<Vec<Payment>, MapError> {
    let mut owed = parts;
    let mut out = Vec::new();
    for p in &order.payments {
        if owed <= Decimal::ZERO {
            break;
        }
        let amount = p.amount.as_decimal().min(owed);
        if amount <= Decimal::ZERO {
            continue;
        }
        owed -= amount;
        let card = || Card { integrated: false, acquirer_cnpj: None, brand: None, authorization: p.reference.clone() };
        let method = match p.method {
            OrderPayment::Pix => PaymentMethod::PixDynamic,
            OrderPayment::Cash => PaymentMethod::Cash,
            OrderPayment::Credit => PaymentMethod::CreditCard(card()),
            OrderPayment::Debit => PaymentMethod::DebitCard(card()),
            OrderPayment::Boleto => PaymentMethod::Boleto,
            OrderPayment::Transfer => PaymentMethod::Transfer,
        };
        out.push(Payment { method, amount });
    }
    if owed > Decimal::ZERO {
        return Err(MapError::Unpaid { paid: parts - owed, parts });
    }
    Ok(out)
}
