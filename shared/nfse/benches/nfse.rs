//! Benchmarks: DPS build + sign next to one bare RSA-2048 PKCS#1 v1.5 signature (the
//! floor), with the same digest, in the same run; for RSA-SHA256 (the default) and RSA-SHA1. And the DANFSe of an
//! issued NFS-e (its size is printed once).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use osflow_nfse::simulator::Simulator;
use osflow_nfse::{SignatureAlgorithm, Situation, build, danfse, sign_dps};

#[path = "../tests/nfse/support.rs"]
mod support;

use support::*;

fn benches(c: &mut Criterion) {
    let inp = input();
    let cert = a1();
    // A SignedInfo-sized message.
    let msg = "x".repeat(800);
    c.bench_function("build DPS", |b| b.iter(|| build(black_box(&inp)).expect("build")));
    for (alg, name) in [(SignatureAlgorithm::RsaSha256, "RSA-SHA256"), (SignatureAlgorithm::RsaSha1, "RSA-SHA1")] {
        let mut g = c.benchmark_group(name);
        g.bench_function("DPS build + sign", |b| {
            b.iter(|| sign_dps(&build(black_box(&inp)).expect("build"), cert, alg).expect("sign"))
        });
        g.bench_function("bare RSA-2048 signature (rsa crate)", |b| {
            b.iter(|| osflow_nfe::dsig::signature_value(cert, alg, black_box(&msg)).expect("sign"))
        });
        g.finish();
    }
    let nfse = Simulator::new()
        .issue_xml(sign_dps(&build(&inp).expect("build"), cert, SignatureAlgorithm::RsaSha256).expect("sign").xml())
        .expect("issued");
    let pdf = danfse(&nfse.xml, Situation::Issued).expect("danfse");
    println!("DANFSe: {} bytes", pdf.len());
    c.bench_function("DANFSe render", |b| b.iter(|| danfse(black_box(&nfse.xml), Situation::Issued).expect("danfse")));
}

criterion_group! {
    name = nfse;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(nfse);
