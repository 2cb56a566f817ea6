//! Arbitrary bytes off the wire → `SafeName::sanitize_bytes`.
//!
//! On `Ok(out)`:
//! * the independent oracle accepts `out` (rules N1–N11),
//! * `out` is at most `MAX_NAME_BYTES` (255) bytes,
//! * N13: `out`'s last extension (if ASCII alphanumeric) is literally at the end of the input,
//! * idempotence: `sanitize(out) == out`,
//! * a stored name is its own lookup key: `parse(out) == out`.
//!
//! On `Err(e)`: the code is `invalid_name` and a `NameRule` is attached; `InvalidUtf8` is
//! reported exactly when the bytes (within `MAX_CLIENT_NAME_BYTES`) are not valid UTF-8.
//!
//! When the bytes are valid UTF-8, `sanitize(&str)` gives the same result as `sanitize_bytes`.
#![no_main]

use airlock::{ErrorCode, NameRule, SafeName, MAX_CLIENT_NAME_BYTES, MAX_NAME_BYTES};
use airlock_fuzz::rules;
use libfuzzer_sys::fuzz_target;

/// A comparable summary of a result: the stored name, or the error's code and rule.
fn verdict(r: &airlock::Result<SafeName>) -> Result<String, (ErrorCode, Option<NameRule>)> {
    match r {
        Ok(n) => Ok(n.as_str().to_owned()),
        Err(e) => Err((e.code(), e.name_rule())),
    }
}

fuzz_target!(|data: &[u8]| {
    let result = SafeName::sanitize_bytes(data);
    let utf8 = std::str::from_utf8(data).ok();

    match &result {
        Ok(name) => {
            let out = name.as_str();
            // Ok is only possible for valid UTF-8 input.
            let input = utf8.unwrap_or_else(|| {
                panic!("sanitize_bytes accepted invalid UTF-8 {data:02x?} as {out:?}")
            });
            if let Err(broken) = rules::check(out) {
                panic!("oracle rejects sanitize output: {input:?} -> {out:?}: {broken}");
            }
            assert!(
                out.len() <= MAX_NAME_BYTES,
                "output too long ({} bytes): {input:?} -> {out:?}",
                out.len()
            );
            if let Err(e) = rules::extension_is_honest(input, out) {
                panic!("N13 dishonest extension: {input:?} -> {out:?}: {e}");
            }
            match SafeName::sanitize(out) {
                Ok(again) => assert_eq!(
                    again.as_str(),
                    out,
                    "not idempotent: {input:?} -> {out:?} -> {:?}",
                    again.as_str()
                ),
                Err(e) => panic!("sanitize output refused by sanitize: {input:?} -> {out:?}: {e}"),
            }
            match SafeName::parse(out) {
                Ok(parsed) => assert_eq!(parsed.as_str(), out, "parse changed {out:?}"),
                Err(e) => panic!("parse refuses sanitize output: {input:?} -> {out:?}: {e}"),
            }
        }
        Err(e) => {
            assert_eq!(
                e.code(),
                ErrorCode::InvalidName,
                "sanitize_bytes({data:02x?}) failed with code {} ({e})",
                e.code().as_str()
            );
            let rule = e.name_rule();
            assert!(rule.is_some(), "invalid_name without a rule for {data:02x?}: {e}");
            if data.len() <= MAX_CLIENT_NAME_BYTES {
                assert_eq!(
                    rule == Some(NameRule::InvalidUtf8),
                    utf8.is_none(),
                    "invalid_utf8 must be reported exactly for invalid UTF-8: {data:02x?} -> {e}"
                );
            }
        }
    }

    if let Some(s) = utf8 {
        let via_str = SafeName::sanitize(s);
        assert_eq!(
            verdict(&via_str),
            verdict(&result),
            "sanitize(&str) and sanitize_bytes disagree on {s:?}"
        );
    }
});
