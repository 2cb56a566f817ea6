//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod rules;

use std::path::PathBuf;

/// The repository's shared test data (`testdata/`), used by the Rust, Python and Node tests.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("testdata").join(rel)
}

/// One entry of `testdata/vectors/filenames*.json`.
#[derive(serde::Deserialize, Debug, Clone)]
pub struct NameVector {
    pub id: String,
    pub name: String,
    pub category: String,
    pub expect: String,
    pub rule: String,
    pub raw_hex: Option<String>,
}

pub fn name_vectors() -> Vec<NameVector> {
    let mut all = Vec::new();
    for file in ["vectors/filenames.json", "vectors/filenames.extra.json"] {
        let text = std::fs::read_to_string(testdata(file)).expect(file);
        let mut v: Vec<NameVector> = serde_json::from_str(&text).expect(file);
        all.append(&mut v);
    }
    all
}

pub fn hex_bytes(hex: &str) -> Vec<u8> {
    let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Every entry name in a directory, sorted (staged dot-files included).
pub fn dir_entries(path: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
