//! Which API keys are too weak for production. Pure policy, no I/O: fuzzable and benchable.

use zeroize::Zeroizing;

/// Shortest key accepted in production, in characters.
pub const MIN_KEY_CHARS: usize = 32;
/// Lowest estimated strength accepted in production, in bits.
pub const MIN_KEY_BITS: f64 = 128.0;

/// Tokens that mark a hand-made, development or documentation key.
const MARKERS: &[&str] = &[
    "dev", "development", "test", "testing", "example", "sample", "changeme", "change", "placeholder",
    "dummy", "demo", "secret", "password", "passwd", "default", "local", "localhost", "insecure",
    "fake", "todo", "xxx", "key", "apikey", "token",
];

/// Why a key is weak. Stable codes via [`Weakness::code`]; the key itself is never described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Weakness {
    /// Shorter than [`MIN_KEY_CHARS`].
    TooShort,
    /// A placeholder or a value carrying a dev/test/example marker token.
    Placeholder,
    /// One character repeated, or too few distinct characters.
    Repetitive,
    /// An obvious ascending or descending sequence (`abcdef…`, `123456…`).
    Sequence,
    /// Under [`MIN_KEY_BITS`] of estimated entropy.
    LowEntropy,
}

impl Weakness {
    /// Stable machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Weakness::TooShort => "key_too_short",
            Weakness::Placeholder => "key_placeholder",
            Weakness::Repetitive => "key_repetitive",
            Weakness::Sequence => "key_sequence",
            Weakness::LowEntropy => "key_low_entropy",
        }
    }

    /// What the rule means, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Weakness::TooShort => "shorter than 32 characters",
            Weakness::Placeholder => "a placeholder or a value marked dev/test/example",
            Weakness::Repetitive => "made of too few distinct characters",
            Weakness::Sequence => "an obvious character sequence",
            Weakness::LowEntropy => "under 128 bits of estimated entropy",
        }
    }
}

/// Estimated entropy in bits: length × log2 of the alphabet the characters are drawn from
/// (digits, hex, lower, upper, symbols). Generous to random keys, harsh to words.
///
/// ```
/// use airlock::keys::estimated_bits;
/// assert_eq!(estimated_bits("0123456789abcdef0123456789abcdef"), 128.0); // 32 hex digits
/// assert!(estimated_bits(&"7".repeat(32)) < 107.0);                       // 32 decimal digits
/// ```
pub fn estimated_bits(key: &str) -> f64 {
    let (mut lower, mut upper, mut digit, mut symbol, mut hex_only) = (false, false, false, false, true);
    for c in key.chars() {
        match c {
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            '0'..='9' => digit = true,
            _ => symbol = true,
        }
        if !c.is_ascii_hexdigit() || c.is_ascii_uppercase() {
            hex_only = false;
        }
    }
    let alphabet = if hex_only && !lower {
        // Digits only: ten symbols, not sixteen. Counting them as hex credited a 32-digit
        // number with 128 bits instead of its 106, and the entropy rule could never fire.
        10.0
    } else if hex_only {
        16.0
    } else {
        [(lower, 26.0), (upper, 26.0), (digit, 10.0), (symbol, 32.0)]
            .iter()
            .filter(|(present, _)| *present)
            .map(|(_, n)| n)
            .sum::<f64>()
    };
    key.chars().count() as f64 * alphabet.max(1.0).log2()
}

/// The first rule `key` breaks, or `None` if it is fit for production.
///
/// ```
/// use airlock::keys::{weakness, Weakness};
/// assert_eq!(weakness("hunter2"), Some(Weakness::TooShort));
/// assert_eq!(weakness("dev-key"), Some(Weakness::Placeholder));
/// assert_eq!(weakness("changeme-changeme-changeme-changeme"), Some(Weakness::Placeholder));
/// assert_eq!(weakness(&airlock::generate_key()), None);
/// ```
pub fn weakness(key: &str) -> Option<Weakness> {
    // Every copy of the key made here is wiped when dropped, like the key itself.
    let lower = Zeroizing::new(key.to_ascii_lowercase());
    if lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| MARKERS.contains(&t)) {
        return Some(Weakness::Placeholder);
    }
    let chars: Zeroizing<Vec<char>> = Zeroizing::new(key.chars().collect());
    if chars.len() < MIN_KEY_CHARS {
        return Some(Weakness::TooShort);
    }
    let mut distinct = chars.clone(); // Zeroizing too
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 || distinct.len() * 4 < chars.len().min(64) {
        return Some(Weakness::Repetitive);
    }
    let steps = chars.windows(2).filter(|w| (w[1] as i64 - w[0] as i64).abs() == 1).count();
    if steps * 2 > chars.len() {
        return Some(Weakness::Sequence);
    }
    if estimated_bits(key) < MIN_KEY_BITS {
        return Some(Weakness::LowEntropy);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_keys() {
        for (key, why) in [
            ("dev-key", Weakness::Placeholder),
            ("changeme", Weakness::Placeholder),
            ("test", Weakness::Placeholder),
            ("example-8f3a9c1d2e4b6a7c9d0e1f2a3b4c5d6e", Weakness::Placeholder),
            ("8f3a9c1d2e4b6a7c9d0e1f2a3b4c5d6e_DEV", Weakness::Placeholder),
            ("hunter2", Weakness::TooShort),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Weakness::Repetitive),
            ("abababababababababababababababababab", Weakness::Repetitive),
            ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", Weakness::Sequence),
            ("0123456789012345678901234567890123", Weakness::Sequence),
            // Long and varied, but digits only: 36 × log2(10) ≈ 120 bits < 128.
            ("830572916480295736148029573618402957", Weakness::LowEntropy),
        ] {
            assert_eq!(weakness(key), Some(why), "{key}");
        }
    }

    #[test]
    fn strong_keys() {
        // 128-bit random hex, 256-bit base64url, and the generator's output.
        assert_eq!(weakness("9f86d081884c7d659a2feaa0c55ad015"), None);
        assert_eq!(weakness("q8Xf_0-VnR2mZk7LwT3yHc9aJd4sPb1eUo6iGx5tNrE"), None);
        for _ in 0..100 {
            assert_eq!(weakness(&super::super::generate_key()), None);
        }
    }
}
