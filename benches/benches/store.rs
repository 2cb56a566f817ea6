//! Saving an upload: Airlock's confined, staged, no-replace save against a plain
//! `std::fs::write` of the same bytes into the same directory, 4 KiB to 100 MiB. Both sides
//! remove their file after each call. Printed as ratios (airlock / baseline).

use std::hint::black_box;
use std::time::Duration;

use airlock::{Durability, StoreOptions, UploadStore};
use airlock_benches::{measuring, ratio};
use criterion::{Criterion, Throughput};

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sizes: [(usize, &str); 3] = [(4 << 10, "4 KiB"), (1 << 20, "1 MiB"), (100 << 20, "100 MiB")];
    let plain = |durability| {
        UploadStore::open_ambient(
            dir.path(),
            StoreOptions::new().max_size(200 << 20).check_content(false).durability(durability),
        )
        .expect("store")
    };
    let fast = plain(Durability::None);
    let durable = plain(Durability::Fsync);
    let path = dir.path().join("upload.bin");

    let mut c = Criterion::default().configure_from_args();
    for (size, label) in sizes {
        let body = vec![0x5au8; size];
        let mut g = c.benchmark_group(format!("save {label}"));
        g.throughput(Throughput::Bytes(size as u64));
        if size > (1 << 20) {
            g.sample_size(10);
        }
        g.bench_function("airlock (no fsync)", |b| {
            b.iter(|| {
                let s = fast.save("upload.bin", black_box(&body[..])).unwrap();
                fast.remove(s.name()).unwrap();
            })
        });
        g.bench_function("std::fs::write", |b| {
            b.iter(|| {
                std::fs::write(&path, black_box(&body)).unwrap();
                std::fs::remove_file(&path).unwrap();
            })
        });
        g.finish();
    }
    c.final_summary();

    if measuring() {
        for (size, label) in sizes {
            let body = vec![0x5au8; size];
            let budget = Duration::from_secs(if size > (1 << 20) { 8 } else { 3 });
            // Captures only shared references, so it is Copy and serves both comparisons.
            let save_fast = || {
                let s = fast.save("upload.bin", &body[..]).unwrap();
                fast.remove(s.name()).unwrap();
            };
            ratio(
                &format!("save {label}, no fsync (airlock vs std::fs::write)"),
                budget,
                save_fast,
                || {
                    std::fs::write(&path, &body).unwrap();
                    std::fs::remove_file(&path).unwrap();
                },
            );
            // The same work minus the store: write the bytes and hash them (the store computes
            // SHA-256 while streaming), so this ratio is the cost of confinement and staging.
            ratio(
                &format!("save {label}, no fsync (airlock vs std::fs::write + SHA-256 of the body)"),
                budget,
                save_fast,
                || {
                    std::fs::write(&path, &body).unwrap();
                    black_box(<sha2::Sha256 as sha2::Digest>::digest(&body));
                    std::fs::remove_file(&path).unwrap();
                },
            );
            ratio(
                &format!("save {label}, fsync (airlock Durability::Fsync vs write + sync_all + directory fsync)"),
                budget,
                || {
                    let s = durable.save("upload.bin", &body[..]).unwrap();
                    durable.remove(s.name()).unwrap();
                },
                || {
                    let mut f = std::fs::File::create(&path).unwrap();
                    std::io::Write::write_all(&mut f, &body).unwrap();
                    f.sync_all().unwrap();
                    drop(f);
                    // The name is durable only once the directory is flushed too.
                    std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
                    std::fs::remove_file(&path).unwrap();
                },
            );
        }
    }
}
