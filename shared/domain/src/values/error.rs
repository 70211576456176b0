//! The error returned by every value constructor.

use std::fmt;

/// Which value type rejected its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    Cpf,
    Cnpj,
    Document,
    Email,
    Phone,
    Uf,
    CityCode,
    Zip,
    Ncm,
    Money,
    Quantity,
    Percent,
    OrderId,
    TenantId,
    UserId,
}

impl ValueKind {
    /// Short English name of the kind ("CPF", "city code", ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Cpf => "CPF",
            Self::Cnpj => "CNPJ",
            Self::Document => "document",
            Self::Email => "email",
            Self::Phone => "phone number",
            Self::Uf => "UF",
            Self::CityCode => "city code",
            Self::Zip => "CEP",
            Self::Ncm => "NCM",
            Self::Money => "amount",
            Self::Quantity => "quantity",
            Self::Percent => "percentage",
            Self::OrderId => "order id",
            Self::TenantId => "tenant id",
            Self::UserId => "user id",
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value failed validation.
///
/// `Display` gives a short English message such as
/// "invalid CPF check digits". The message never contains the rejected
/// input, so it is safe to log and to return to clients; the API layer adds
/// the field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    kind: ValueKind,
    message: &'static str,
}

impl ValueError {
    pub(crate) const fn new(kind: ValueKind, message: &'static str) -> Self {
        Self { kind, message }
    }

    /// The value type that rejected the input.
    pub const fn kind(&self) -> ValueKind {
        self.kind
    }

    /// What was wrong, in English.
    pub const fn message(&self) -> &'static str {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_message_and_kind_is_kept() {
        let err = ValueError::new(ValueKind::Cpf, "invalid CPF check digits");
        assert_eq!(err.to_string(), "invalid CPF check digits");
        assert_eq!(err.kind(), ValueKind::Cpf);
        assert_eq!(err.message(), "invalid CPF check digits");
        assert_eq!(ValueKind::CityCode.to_string(), "city code");
    }
}
