//! Sanitizing client names: Airlock against the `sanitize-filename` crate, over the shared
//! vectors. Criterion reports the time per corpus; the RATIO line is per name.

use std::hint::black_box;
use std::time::Duration;

use airlock::SafeName;
use airlock_benches::{measuring, ratio, vector_names};
use criterion::{Criterion, Throughput};

fn main() {
    let names = vector_names();
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("sanitize");
    g.throughput(Throughput::Elements(names.len() as u64));
    g.bench_function("airlock", |b| {
        b.iter(|| {
            for n in &names {
                let _ = black_box(SafeName::sanitize(black_box(n)));
            }
        })
    });
    g.bench_function("sanitize-filename crate", |b| {
        b.iter(|| {
            for n in &names {
                black_box(sanitize_filename::sanitize(black_box(n)));
            }
        })
    });
    g.finish();
    let stored: Vec<String> =
        names.iter().filter_map(|n| SafeName::sanitize(n).ok()).map(String::from).collect();
    c.bench_function("parse (lookup of stored names)", |b| {
        b.iter(|| {
            for n in &stored {
                let _ = black_box(SafeName::parse(black_box(n)));
            }
        })
    });
    c.final_summary();

    if measuring() {
        let per = names.len() as f64;
        let r = ratio(
            &format!("sanitize, whole corpus of {} names (airlock vs sanitize-filename crate)", names.len()),
            Duration::from_secs(4),
            || {
                for n in &names {
                    let _ = black_box(SafeName::sanitize(black_box(n)));
                }
            },
            || {
                for n in &names {
                    black_box(sanitize_filename::sanitize(black_box(n)));
                }
            },
        );
        let t = airlock_benches::absolute("sanitize corpus (airlock)", Duration::from_secs(2), || {
            for n in &names {
                let _ = black_box(SafeName::sanitize(black_box(n)));
            }
        });
        println!("PER-NAME airlock sanitize: {:.0} ns/name (ratio to baseline {r:.3})", t.as_secs_f64() * 1e9 / per);
    }
}
