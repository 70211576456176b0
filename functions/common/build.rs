//! Empty: the build-dependencies of this crate only align the features of the proc-macros' graph between the
//! cargo invocations of infra/Makefile (see Cargo.toml).

fn main() {}
