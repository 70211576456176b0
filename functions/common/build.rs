//! Empty: the build-dependencies of this crate only align the features of the proc-macros' graph between a build
//! of some functions and the build of all of them (see Cargo.toml).

fn main() {}
