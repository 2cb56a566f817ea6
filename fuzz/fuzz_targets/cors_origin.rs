//! Arbitrary bytes as the `Origin` header (and a preflight's method and header list) through
//! `CorsPolicy::decide`. Properties: never panics; an allowed origin is echoed only if it is
//! exactly one of the listed origins or one label in front of a wildcard's parent; every
//! response header value is printable ASCII without CR/LF; a refusal carries only `Vary`.
#![no_main]

use std::sync::OnceLock;

use airlock::{CorsPolicy, CorsRequest};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static CorsPolicy {
    static POLICY: OnceLock<CorsPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        CorsPolicy::builder()
            .allow_origins(["https://app.example.com", "http://[::1]:8080", "https://*.example.org"])
            .allow_credentials(true)
            .allow_methods(["GET", "POST"])
            .allow_headers(["content-type", "x-api-key"])
            .build()
            .expect("fixed policy")
    })
}

fn allowed_origin(origin: &str) -> bool {
    if ["https://app.example.com", "http://[::1]:8080"].contains(&origin) {
        return true;
    }
    match origin.strip_prefix("https://").and_then(|h| h.strip_suffix(".example.org")) {
        Some(label) => {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Layout: origin \0 method \0 header,header,...  (missing parts are empty)
    let mut parts = text.splitn(3, '\0');
    let origin = parts.next().unwrap_or("");
    let method = parts.next().unwrap_or("GET");
    let headers: Vec<&str> = parts.next().map(|h| h.split(',').collect()).unwrap_or_default();
    for preflight in [false, true] {
        let d = policy().decide_quietly(&CorsRequest {
            origin: Some(origin),
            method,
            request_headers: &headers,
            preflight,
            private_network: true,
        });
        for (name, value) in d.headers() {
            assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name}: {value:?}");
        }
        if d.is_allowed() {
            assert!(allowed_origin(origin), "allowed {origin:?}");
            assert_eq!(d.header("Access-Control-Allow-Origin"), Some(origin));
            assert_eq!(d.header("Access-Control-Allow-Private-Network"), None);
        } else {
            assert!(d.headers().all(|(k, _)| k == "Vary"), "{:?}", d);
        }
    }
});
