//! Benchmarks: build of a 5-item NF-e, its signature next to one bare RSA-2048 PKCS#1 v1.5
//! SHA-1 signature (the floor), an event and an inutilização built and signed, the
//! DANFE, and PKCS#12 loading per encoding.
//!
//! Every benchmark runs twice: with wall time (criterion's default) and with the CPU time of
//! the benchmarking thread (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` through the `cpu-time`
//! crate), which stays meaningful when the machine is shared with other builds.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osflow_nfe::{
    Certificate, Cnpj, Environment, EventDetail, EventInput, Outcome, Uf, VoidInput, build, danfe, sign, sign_event,
    sign_void,
};

#[path = "../tests/nfe/support.rs"]
mod support;

use support::*;

/// CPU time consumed by the benchmarking thread.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    cpu_time::ThreadTime::now().as_duration().as_nanos() as u64
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (d, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e3, "µs cpu")
        } else {
            (1e6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v /= d);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, _t: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = 0.0);
        "n/a"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

fn benches<M: Measurement + 'static>(c: &mut Criterion<M>, suffix: &str) {
    let inp = input(5);
    let unsigned = build(&inp).expect("build");
    let cert = a1();

    c.bench_function(&format!("build/5 items{suffix}"), |b| b.iter(|| build(black_box(&inp)).expect("build")));

    let mut g = c.benchmark_group(format!("sign{suffix}"));
    g.bench_function("NF-e 5 items (digest + SignedInfo + RSA-SHA1 + document)", |b| {
        b.iter(|| sign(black_box(&unsigned), cert).expect("sign"))
    });
    // The floor: one (blinded) RSA-2048 PKCS#1 v1.5 SHA-1 signature over a SignedInfo-sized message.
    let msg = "x".repeat(780);
    g.bench_function("bare RSA-2048 SHA-1 (rsa crate)", |b| {
        b.iter(|| {
            osflow_nfe::dsig::signature_value(cert, osflow_nfe::SignatureAlgorithm::RsaSha1, black_box(&msg))
                .expect("sign")
        })
    });
    // What the signature adds to the RSA operation: SHA-1 over the canonical infNFe.
    g.bench_function("SHA-1 digest of the canonical infNFe", |b| {
        b.iter(|| osflow_nfe::sign::digest(black_box(&unsigned)))
    });
    g.finish();

    // Events: build + sign a cancellation; the DANFE of the authorized 5-item NF-e.
    let signed_nfe = sign(&unsigned, cert).expect("sign");
    let cancel = EventInput {
        environment: Environment::Homologation,
        key: *signed_nfe.key(),
        author: Cnpj::parse(CNPJ).expect("cnpj"),
        at: brt(2026, 12, 4, 11),
        seq: 1,
        detail: EventDetail::Cancel {
            protocol: "135260000000001".into(),
            justification: "Venda desfeita a pedido do cliente".into(),
        },
    };
    c.bench_function(&format!("event/cancel build + sign{suffix}"), |b| {
        b.iter(|| sign_event(black_box(&cancel), cert).expect("event"))
    });
    // The inutilização of a range given up: build + sign the inutNFe.
    let void = VoidInput {
        environment: Environment::Homologation,
        uf: Uf::SP,
        year: 2026,
        cnpj: Cnpj::parse(CNPJ).expect("cnpj"),
        serie: 1,
        first: 7,
        last: 9,
        justification: "Numeros rejeitados & abandonados: \"peca\" <importada>".into(),
    };
    c.bench_function(&format!("inutilização build + sign{suffix}"), |b| {
        b.iter(|| sign_void(black_box(&void), cert).expect("inutNFe"))
    });
    let Outcome::Authorized(prot) = osflow_nfe::simulator::Simulator::new().authorize_xml(signed_nfe.xml()) else {
        panic!("authorized")
    };
    let proc_ = osflow_nfe::wrap::nfe_proc(&signed_nfe, &prot).expect("proc");
    c.bench_function(&format!("danfe/5 items{suffix}"), |b| b.iter(|| danfe(black_box(&proc_)).expect("danfe")));

    let p = pki();
    let mut g = c.benchmark_group(format!("pkcs12 load{suffix}"));
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

fn wall(c: &mut Criterion<WallTime>) {
    benches(c, "");
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    benches(c, " (thread CPU)");
}

criterion_group! {
    name = nfe_wall;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = wall
}
criterion_group! {
    name = nfe_cpu;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = cpu
}
criterion_main!(nfe_wall, nfe_cpu);
