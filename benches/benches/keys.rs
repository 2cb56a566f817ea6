//! API key verification with 1 and 10 active keys, and a timing-uniformity check: verifying a
//! matching key, a wrong key of the same length, and wrong keys of other lengths should cost
//! the same (RATIO lines near 1.0; the hash of the presented bytes is the only length-dependent
//! part, and it runs for every request alike).

use std::hint::black_box;
use std::time::Duration;

use airlock::{generate_key, KeyRing, KeyRingOptions};
use airlock_benches::{measuring, ratio};
use criterion::Criterion;

fn ring(keys: &[String]) -> KeyRing {
    let value = keys.iter().enumerate().map(|(i, k)| format!("k{i}:{k}")).collect::<Vec<_>>().join(",");
    KeyRing::from_lookup("API_KEY", KeyRingOptions::new(), move |v| (v == "API_KEY").then(|| value.clone().into()))
        .expect("key ring")
}

fn main() {
    // Audit events are emitted per verification; with no subscriber installed they cost nothing.
    let keys: Vec<String> = (0..10).map(|_| generate_key()).collect();
    let one = ring(&keys[..1]);
    let ten = ring(&keys);
    let last = keys[9].clone();
    let mut wrong_same_len = last.clone().into_bytes();
    wrong_same_len[10] ^= 1;
    let wrong_short = b"alk_x".to_vec();
    let wrong_long = vec![b'a'; 47 * 4];

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("verify, 1 key, match", |b| b.iter(|| black_box(one.verify(black_box(keys[0].as_bytes())).is_ok())));
    c.bench_function("verify, 10 keys, match (last)", |b| b.iter(|| black_box(ten.verify(black_box(last.as_bytes())).is_ok())));
    c.bench_function("verify, 10 keys, wrong", |b| b.iter(|| black_box(ten.verify(black_box(&wrong_same_len)).is_ok())));
    c.final_summary();

    if measuring() {
        let budget = Duration::from_secs(3);
        ratio("verify, 10 keys: matching (last) vs wrong key of the same length", budget,
            || drop(black_box(ten.verify(black_box(last.as_bytes())))),
            || drop(black_box(ten.verify(black_box(&wrong_same_len)))));
        ratio("verify, 10 keys: matching (first) vs matching (last)", budget,
            || drop(black_box(ten.verify(black_box(keys[0].as_bytes())))),
            || drop(black_box(ten.verify(black_box(last.as_bytes())))));
        ratio("verify, 10 keys: wrong 5-byte key vs wrong 47-byte key", budget,
            || drop(black_box(ten.verify(black_box(&wrong_short)))),
            || drop(black_box(ten.verify(black_box(&wrong_same_len)))));
        ratio("verify, 10 keys: wrong 188-byte key vs wrong 47-byte key", budget,
            || drop(black_box(ten.verify(black_box(&wrong_long)))),
            || drop(black_box(ten.verify(black_box(&wrong_same_len)))));
        ratio("verify: 10 keys vs 1 key (matching)", budget,
            || drop(black_box(ten.verify(black_box(keys[0].as_bytes())))),
            || drop(black_box(one.verify(black_box(keys[0].as_bytes())))));
    }
}
