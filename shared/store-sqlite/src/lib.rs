//! osflow-store-sqlite
