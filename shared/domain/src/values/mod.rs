//! Parsed value types of the osflow domain.
//!
//! Every type here is built through a `parse` constructor (or a checked
//! `from_*` constructor) that validates and normalizes its input, so an
//! invalid value cannot be represented. Each type implements `Display`,
//! `FromStr`, `TryFrom<String>`, `TryFrom<&str>` and `From<T> for String`,
//! and serializes as its normalized string; deserialization goes through the
//! same `parse`, so stored or received data is validated on the way in.
//!
//! Validation errors are [`ValueError`]s: a short English message (which
//! never echoes the rejected input, so no personal data ends up in logs) plus
//! the [`ValueKind`] that failed. The API layer adds the field name.

/// Implements the string conversions shared by every value type:
/// `FromStr`, `TryFrom<String>`, `TryFrom<&str>` (all through `parse`) and
/// `From<T> for String` (the normalized form, used by serde's `into`).
macro_rules! impl_text_conversions {
    ($ty:ty, $to_string:expr) => {
        impl ::core::str::FromStr for $ty {
            type Err = $crate::values::ValueError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::values::ValueError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$ty>::parse(&s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::values::ValueError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                <$ty>::parse(s)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                let to_string: fn(&$ty) -> String = $to_string;
                to_string(&value)
            }
        }
    };
}

mod ascii;
mod check_digit;
mod city_code;
mod cnpj;
mod cpf;
mod document;
mod email;
mod error;
mod ids;
mod money;
mod ncm;
mod number;
mod percent;
mod phone;
mod quantity;
pub mod text;
mod uf;
mod zip;

pub use city_code::CityCode;
pub use cnpj::Cnpj;
pub use cpf::Cpf;
pub use document::{Document, DocumentKind};
pub use email::Email;
pub use error::{ValueError, ValueKind};
pub use ids::{OrderId, TenantId, UserId};
pub use money::Money;
pub use ncm::Ncm;
pub use percent::Percent;
pub use phone::Phone;
pub use quantity::Quantity;
pub use uf::Uf;
pub use zip::Zip;
