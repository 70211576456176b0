//! osflow-app
