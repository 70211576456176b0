//! Fixtures for tests (feature `testing`, a dev-dependency's feature only; `osflow-testkit` re-exports them): the
//! reference example's lines, its opening and the approval of a quote, built from parsed values. The domain's own
//! tests take them from here, because the test kit depends on the domain.

use crate::values::{Document, Money, Ncm, OrderId, Quantity, TenantId};
use crate::{Command, Customer, Equipment, LineInput, LineKind, OpenOrder, QuoteDecision, Service};

/// A money amount from its decimal text (`"149.90"`).
pub fn money(s: &str) -> Money {
    Money::parse(s).expect("a money amount")
}

/// A part line (NCM 85044010: a power supply), without a discount or its own warranty.
pub fn part(code: &str, description: &str, quantity: &str, unit_price: &str) -> LineInput {
    LineInput {
        kind: LineKind::Part,
        code: code.into(),
        description: description.into(),
        ncm: Some(Ncm::parse("85044010").expect("an NCM")),
        quantity: Quantity::parse(quantity).expect("a quantity"),
        unit_price: money(unit_price),
        discount: None,
        warranty_days: None,
    }
}

/// A labor line, without a discount or its own warranty.
pub fn labor(code: &str, description: &str, quantity: &str, unit_price: &str) -> LineInput {
    LineInput {
        kind: LineKind::Labor,
        code: code.into(),
        description: description.into(),
        ncm: None,
        quantity: Quantity::parse(quantity).expect("a quantity"),
        unit_price: money(unit_price),
        discount: None,
        warranty_days: None,
    }
}

/// The reference example's lines: a part (P-001 Fonte 65W, NCM 85044010, 149.90) and labor (S-001 Diagnóstico e
/// reparo, 120.00).
pub fn example_items() -> Vec<LineInput> {
    vec![part("P-001", "Fonte 65W", "1", "149.90"), labor("S-001", "Diagnóstico e reparo", "1", "120.00")]
}

/// The reference example's customer with only the required fields: Maria Souza, CPF 529.982.247-25.
pub fn example_customer() -> Customer {
    Customer {
        name: "Maria Souza".into(),
        document: Document::parse("529.982.247-25").expect("a CPF"),
        email: None,
        phone: None,
        address: None,
    }
}

/// Order `number` of `tenant` opened with [`example_customer`], a notebook (no brand, model or serial) to repair
/// ("Não liga"), [`example_items`], no due date, technician, discount, intake or warranty link; its id is
/// `01900000-0000-7000-8000-<number, 12 digits>`. Tests change what they need with `..opening(…)`.
pub fn opening(tenant: &str, number: u64) -> OpenOrder {
    OpenOrder {
        id: OrderId::parse(&format!("01900000-0000-7000-8000-{number:012}")).expect("an order id"),
        tenant: TenantId::parse(tenant).expect("a tenant"),
        number,
        customer: example_customer(),
        equipment: Equipment { description: "Notebook".into(), brand: None, model: None, serial: None },
        service: Service { kind: "reparo".into(), reported_problem: "Não liga".into() },
        items: example_items(),
        due_date: None,
        technician: None,
        discount: None,
        intake: None,
        warranty_of: None,
    }
}

/// The approval of the whole quote waiting for a decision.
pub fn approve() -> Command {
    Command::DecideQuote {
        revision: None,
        decision: QuoteDecision::Approve,
        lines: vec![],
        comment: None,
        evidence: None,
    }
}
