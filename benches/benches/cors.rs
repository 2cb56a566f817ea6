//! CORS decisions: exact and wildcard matches with 1 and 1,000 configured origins. Matching is
//! a hash lookup, so the RATIO of 1,000 origins over 1 should stay near 1.

use std::hint::black_box;
use std::time::Duration;

use airlock::{CorsPolicy, CorsRequest};
use airlock_benches::{measuring, ratio};
use criterion::Criterion;

fn policy(n: usize) -> CorsPolicy {
    let mut origins: Vec<String> = (0..n.saturating_sub(1)).map(|i| format!("https://app{i}.example.org")).collect();
    origins.push("https://app.example.com".into());
    origins.push("https://*.tenant.example.com".into());
    CorsPolicy::builder()
        .allow_origins(&origins)
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT"])
        .allow_headers(["content-type", "x-api-key"])
        .build()
        .unwrap()
}

fn request(origin: &str) -> CorsRequest<'_> {
    CorsRequest { origin: Some(origin), method: "GET", request_headers: &[], preflight: false, private_network: false }
}

fn main() {
    let (one, thousand) = (policy(1), policy(1000));
    let mut c = Criterion::default().configure_from_args();
    for (label, p) in [("1 origin", &one), ("1000 origins", &thousand)] {
        let mut g = c.benchmark_group(format!("cors decide, {label}"));
        g.bench_function("exact match", |b| b.iter(|| black_box(p.decide_quietly(&request(black_box("https://app.example.com"))))));
        g.bench_function("wildcard match", |b| b.iter(|| black_box(p.decide_quietly(&request(black_box("https://a.tenant.example.com"))))));
        g.bench_function("refused", |b| b.iter(|| black_box(p.decide_quietly(&request(black_box("https://evil.example.net"))))));
        g.finish();
    }
    c.final_summary();
    if measuring() {
        for (what, origin) in [("exact", "https://app.example.com"), ("wildcard", "https://a.tenant.example.com"), ("refused", "https://evil.example.net")] {
            ratio(
                &format!("cors decide, {what}: 1000 origins vs 1 origin"),
                Duration::from_secs(2),
                || drop(black_box(thousand.decide_quietly(&request(black_box(origin))))),
                || drop(black_box(one.decide_quietly(&request(black_box(origin))))),
            );
        }
    }
}
