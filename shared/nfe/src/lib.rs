//! osflow-nfe
