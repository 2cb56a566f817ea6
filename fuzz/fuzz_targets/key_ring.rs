//! Arbitrary bytes as a key ring's configured value and as a presented key, read as
//! `value \0 presented`. Properties: loading and verifying never panic; a refused value is
//! `invalid_config`; `verify` succeeds exactly for the key part of a configured entry and names
//! that entry's id; no key part (16 bytes or longer, so a match is not a coincidence) appears
//! in an error message or in the ring's `Debug`.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use airlock::{ErrorCode, KeyRing, KeyRingOptions};
use libfuzzer_sys::fuzz_target;

/// `(id, key)` of each comma-separated entry, as the spec defines them: `id:key` when the part
/// before the first `:` is a valid id (1–32 of `A-Za-z0-9_-`), else the whole entry is the key.
fn entries(value: &str) -> Vec<(Option<&str>, &str)> {
    value
        .split(',')
        .map(|entry| match entry.split_once(':') {
            Some((id, key))
                if (1..=32).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                (Some(id), key)
            }
            _ => (None, entry),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let (value, presented) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let raw = OsString::from_vec(value.to_vec());
    // Development mode, so weak keys load (with a warning) and verification gets exercised.
    let lookup = |var: &str| match var {
        "API_KEY" => Some(raw.clone()),
        "MODE" => Some(OsString::from("test")),
        _ => None,
    };
    let loaded = KeyRing::from_lookup("API_KEY", KeyRingOptions::new().mode_var("MODE"), lookup);
    let text = std::str::from_utf8(value).ok();
    // Ids are public: a key part that is also part of an id may show.
    let secrets: Vec<&str> = text
        .map(|t| {
            let all = entries(t);
            let public = |k: &str| all.iter().any(|(id, _)| id.is_some_and(|id| id.contains(k)));
            all.iter().map(|(_, k)| *k).filter(|k| k.len() >= 16 && !public(k)).collect()
        })
        .unwrap_or_default();
    let ring = match loaded {
        Ok(ring) => ring,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
            let said = format!("{e} {e:?}");
            assert!(secrets.iter().all(|k| !said.contains(k)), "a key leaked into {said:?}");
            return;
        }
    };
    let text = text.expect("a loaded value is UTF-8");
    let debug = format!("{ring:?}");
    assert!(secrets.iter().all(|k| !debug.contains(k)), "a key leaked into {debug:?}");
    let configured = entries(text);
    let matching = configured.iter().find(|(_, k)| k.as_bytes() == presented);
    match (ring.verify(presented), matching) {
        (Ok(id), Some((Some(want), _))) => assert_eq!(id.as_str(), *want),
        (Ok(id), Some((None, _))) => assert!(id.as_str().starts_with("key-")),
        (Err(e), None) => assert_eq!(e.code(), ErrorCode::Unauthorized),
        (got, want) => panic!("verify gave {got:?}, the configuration says {want:?}"),
    }
    // Every configured key verifies as itself.
    for (_, key) in &configured {
        assert!(ring.verify(key.as_bytes()).is_ok(), "configured key refused");
    }
});
