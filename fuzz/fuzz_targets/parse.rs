//! Arbitrary bytes → (if valid UTF-8) `SafeName::parse`, the lookup door.
//!
//! * `parse(x) == Ok(n)` ⇒ `n == x`, the independent oracle accepts `x` (N1–N11), and
//!   `sanitize(x) == x`: a lookup is never mapped onto another name and never accepts a name
//!   that could not have been stored.
//! * `parse(x) == Err(e)` ⇒ the code is `invalid_name` with a rule attached.
//! * Completeness: oracle accepts `x` and `sanitize(x) == x` ⇒ `parse(x)` is `Ok`.
#![no_main]

use airlock::{ErrorCode, SafeName};
use airlock_fuzz::rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(x) = std::str::from_utf8(data) else { return };
    let parsed = SafeName::parse(x);
    let sanitized = SafeName::sanitize(x);
    let fixed_point = matches!(&sanitized, Ok(s) if s.as_str() == x);

    match &parsed {
        Ok(name) => {
            assert_eq!(name.as_str(), x, "parse mapped {x:?} onto {:?}", name.as_str());
            if let Err(broken) = rules::check(x) {
                panic!("parse accepted {x:?}, which the oracle rejects: {broken}");
            }
            assert!(
                fixed_point,
                "parse accepted {x:?}, but sanitize gives {:?}",
                sanitized.as_ref().map(SafeName::as_str)
            );
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidName, "parse({x:?}) failed with {e}");
            assert!(e.name_rule().is_some(), "parse({x:?}): invalid_name without a rule: {e}");
        }
    }

    if rules::check(x).is_ok() && fixed_point {
        if let Err(e) = &parsed {
            panic!("oracle accepts {x:?} and sanitize leaves it unchanged, but parse refuses: {e}");
        }
    }
});
