//! Filename rules: the shared vectors, the cross-language verdict file, and properties over
//! arbitrary strings.

mod common;

use std::collections::BTreeMap;

use airlock::{NameRule, SafeName};
use common::rules;
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// The verdict Airlock gives one input, in the form every binding's tests compare against.
fn verdict(result: airlock::Result<SafeName>) -> serde_json::Value {
    match result {
        Ok(name) => serde_json::json!({ "stored": name.as_str() }),
        Err(e) => serde_json::json!({
            "error": e.code().as_str(),
            "rule": e.name_rule().map(NameRule::code),
        }),
    }
}

fn all_verdicts() -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for v in common::name_vectors() {
        out.insert(v.id.clone(), verdict(SafeName::sanitize(&v.name)));
        if let Some(raw) = &v.raw_hex {
            out.insert(format!("{}/raw", v.id), verdict(SafeName::sanitize_bytes(&common::hex_bytes(raw))));
        }
    }
    out
}

#[test]
fn every_vector_obeys_the_rules() {
    let vectors = common::name_vectors();
    assert!(vectors.len() >= 62 + 20, "vectors missing: {}", vectors.len());
    for v in vectors {
        match SafeName::sanitize(&v.name) {
            Ok(out) => {
                let out = out.as_str();
                rules::check(out).unwrap_or_else(|e| panic!("{}: {out:?} breaks {e}", v.id));
                rules::extension_is_honest(&v.name, out).unwrap_or_else(|e| panic!("{}: {e}", v.id));
                assert!(!out.split(['.', ' ']).any(|_| out == ".."), "{}", v.id);
                // A stored name is its own lookup key.
                assert_eq!(SafeName::parse(out).unwrap().as_str(), out, "{}", v.id);
            }
            Err(e) => {
                assert_eq!(v.expect, "reject_or_store", "{}: legitimate name refused: {e}", v.id);
                assert_eq!(e.code(), airlock::ErrorCode::InvalidName);
            }
        }
    }
}

#[test]
fn legitimate_names_keep_their_letters_and_extension() {
    for v in common::name_vectors().into_iter().filter(|v| v.expect == "store") {
        let out = SafeName::sanitize(&v.name).unwrap_or_else(|e| panic!("{}: {e}", v.id));
        let nfc: String = v.name.nfc().collect();
        let letters = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).collect::<String>();
        assert_eq!(letters(out.as_str()), letters(&nfc), "{}: letters lost in {out:?}", v.id);
        let ext = |s: &str| s.rsplit_once('.').map(|(_, e)| e.to_owned());
        assert_eq!(ext(out.as_str()), ext(&nfc), "{}", v.id);
        assert!(out.as_str().len() <= 255);
    }
}

#[test]
fn vector_specific_requirements() {
    let get = |name: &str| SafeName::sanitize(name).map(String::from);
    // uni-06 / uni-07: NFC and NFD spellings are one stored name.
    assert_eq!(get("café.txt").unwrap(), get("cafe\u{301}.txt").unwrap());
    // len-06: exactly 255 bytes is stored unchanged.
    let exact = format!("{}.txt", "b".repeat(251));
    assert_eq!(get(&exact).unwrap(), exact);
    // len-02: shortened on a character boundary, extension kept.
    let long = format!("{}.pdf", "é".repeat(200));
    let out = get(&long).unwrap();
    assert!(out.len() <= 255 && out.ends_with(".pdf"));
    // ctl-01: never 'shell.php'.
    assert!(get("shell.php\0.jpg").unwrap().ends_with(".jpg"));
    // uni-09: the homoglyph extension is not 'pdf'.
    assert!(!SafeName::sanitize("scan.\u{440}df").unwrap().has_extension("pdf"));
    // ext-08: upper-case extension matches a lower-case allowlist entry.
    assert!(SafeName::sanitize("photo.JPG").unwrap().has_extension("jpg"));
    // uni-12 / N14: emoji-only stems survive.
    assert_eq!(get("😀🎉.png").unwrap(), "😀🎉.png");
    assert_eq!(get("文件.txt").unwrap(), "文件.txt");
    // The raw (non-UTF-8) forms are refused, never decoded leniently.
    for raw in ["c0aec0aec0af706173737764", "626164eda0806e616d652e747874"] {
        let err = SafeName::sanitize_bytes(&common::hex_bytes(raw)).unwrap_err();
        assert_eq!(err.name_rule(), Some(NameRule::InvalidUtf8));
    }
}

/// `testdata/vectors/filenames.verdicts.json` records Airlock's verdict for every vector; the
/// Python and Node tests compare against the same file, so all languages agree. Regenerate
/// with `AIRLOCK_BLESS=1 cargo test -p airlock --test names` after an intended change.
#[test]
fn verdicts_match_the_shared_file() {
    let path = common::testdata("vectors/filenames.verdicts.json");
    let actual = all_verdicts();
    if std::env::var_os("AIRLOCK_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let expected: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("verdict file")).unwrap();
    assert_eq!(actual, expected);
}

#[test]
fn parse_refuses_what_sanitize_would_change() {
    for (name, rule) in [
        ("", NameRule::Empty),
        ("a/b", NameRule::Separator),
        ("a\\b", NameRule::Separator),
        ("a\nb", NameRule::ControlCharacter),
        ("a\u{202e}b", NameRule::InvisibleCharacter),
        ("..", NameRule::DotsOnly),
        (".env", NameRule::LeadingDot),
        ("a.txt.", NameRule::TrailingDotOrSpace),
        ("a.txt ", NameRule::TrailingDotOrSpace),
        ("nul.txt", NameRule::DeviceName),
        ("a:b", NameRule::ReservedCharacter),
        ("cafe\u{301}", NameRule::NotNfc),
        ("-x", NameRule::LeadingDash),
        ("a~1", NameRule::TildeDigit),
    ] {
        assert_eq!(SafeName::parse(name).unwrap_err().name_rule(), Some(rule), "{name:?}");
    }
    let too_long = "x".repeat(256);
    assert_eq!(SafeName::parse(&too_long).unwrap_err().name_rule(), Some(NameRule::TooLong));
    let huge = "x".repeat(airlock::MAX_CLIENT_NAME_BYTES + 1);
    assert_eq!(SafeName::sanitize(&huge).unwrap_err().name_rule(), Some(NameRule::TooLong));
}

/// Strings built from the characters the rules care about, so properties hit edge cases far
/// more often than uniform random text would.
fn hostile_string() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(".".to_owned()), Just("..".to_owned()), Just("/".to_owned()), Just("\\".to_owned()),
        Just(" ".to_owned()), Just("~".to_owned()), Just("-".to_owned()), Just("1".to_owned()),
        Just("CON".to_owned()), Just("com¹".to_owned()), Just("\u{0}".to_owned()),
        Just("\u{202e}".to_owned()), Just("\u{200b}".to_owned()), Just("\u{301}".to_owned()),
        Just("e".to_owned()), Just("é".to_owned()), Just("文".to_owned()), Just("😀".to_owned()),
        Just(":".to_owned()), Just("\u{ffff}".to_owned()), Just("\u{1112}".to_owned()),
        Just("\u{1161}".to_owned()), Just("txt".to_owned()), Just("php".to_owned()),
        "[a-z]{1,40}".prop_map(String::from),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..120).prop_map(|v| v.concat())
}

fn assert_properties(input: &str) -> Result<(), TestCaseError> {
    if let Ok(out) = SafeName::sanitize(input) {
        let out = out.as_str();
        prop_assert!(rules::check(out).is_ok(), "{:?} -> {:?}: {:?}", input, out, rules::check(out));
        prop_assert!(rules::extension_is_honest(input, out).is_ok(), "{:?} -> {:?}", input, out);
        let again = SafeName::sanitize(out).expect("sanitize output must be accepted again");
        prop_assert_eq!(again.as_str(), out, "not idempotent");
        let parsed = SafeName::parse(out).expect("parse(sanitize(x))");
        prop_assert_eq!(parsed.as_str(), out);
    }
    // parse accepts exactly the names the rules allow and sanitize leaves alone.
    if let Ok(parsed) = SafeName::parse(input) {
        prop_assert!(rules::check(input).is_ok());
        prop_assert_eq!(parsed.as_str(), input);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn properties_over_arbitrary_strings(input in any::<String>()) {
        assert_properties(&input)?;
    }

    #[test]
    fn properties_over_hostile_strings(input in hostile_string()) {
        assert_properties(&input)?;
    }

    #[test]
    fn raw_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        match SafeName::sanitize_bytes(&bytes) {
            Ok(out) => prop_assert!(rules::check(out.as_str()).is_ok()),
            Err(e) => prop_assert_eq!(e.code(), airlock::ErrorCode::InvalidName),
        }
    }
}
