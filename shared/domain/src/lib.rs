//! osflow-domain
