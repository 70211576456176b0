//! Benchmarks: build of a 5-item NF-e, its signature next to one bare RSA-2048 PKCS#1 v1.5
//! SHA-1 signature by OpenSSL (the floor), and PKCS#12 loading per encoding.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use osflow_nfe::{Certificate, build, sign};

#[path = "../tests/nfe/support.rs"]
mod support;

use support::*;

fn benches(c: &mut Criterion) {
    let inp = input(5);
    let unsigned = build(&inp).expect("build");
    let cert = a1();

    c.bench_function("build/5 items", |b| b.iter(|| build(black_box(&inp)).expect("build")));

    let mut g = c.benchmark_group("sign");
    g.bench_function("NF-e 5 items (digest + SignedInfo + RSA-SHA1 + document)", |b| {
        b.iter(|| sign(black_box(&unsigned), cert).expect("sign"))
    });
    // The floor: one RSA-2048 PKCS#1 v1.5 SHA-1 signature over a SignedInfo-sized message.
    let key = &pki().leaf_key;
    let msg = vec![b'x'; 780];
    g.bench_function("bare RSA-2048 SHA-1 (OpenSSL)", |b| {
        b.iter(|| {
            let mut s = Signer::new(MessageDigest::sha1(), key).expect("signer");
            s.sign_oneshot_to_vec(black_box(&msg)).expect("sign")
        })
    });
    g.finish();

    let p = pki();
    let mut g = c.benchmark_group("pkcs12 load");
    g.sample_size(20);
    for (name, enc) in [
        ("AES-256/PBKDF2", P12Encoding::Aes256),
        ("3DES", P12Encoding::TripleDes),
        ("legacy RC2-40", P12Encoding::LegacyRc2),
    ] {
        let der = pkcs12(&p.leaf_key, &p.leaf, &p.ca, enc);
        g.bench_function(name, |b| b.iter(|| Certificate::from_pkcs12(black_box(&der), PASSWORD).expect("load")));
    }
    g.finish();
}

criterion_group! {
    name = nfe;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(nfe);
