//! The API's data: request bodies (parsed into domain values) and response bodies (views of the domain).

pub mod enums;
pub mod fiscal;
mod instant;
pub mod requests;
pub mod views;
pub mod voids;

pub use fiscal::*;
pub use requests::*;
pub use views::*;
pub use voids::*;
