//! osflow-domain

pub mod values;
