//! An independent oracle for the filename rules N1–N11 of `filenames.md`, written from the
//! specification and sharing no code with the crate, so a bug in the crate's checker cannot
//! hide a bug in its sanitizer.

use unicode_normalization::UnicodeNormalization;

fn forbidden(c: char) -> bool {
    let cp = c as u32;
    matches!(c, '/' | '\\' | '\0')                                    // N3
        || cp < 0x20 || cp == 0x7f || (0x80..=0x9f).contains(&cp)      // N4
        || cp == 0x2028 || cp == 0x2029
        || matches!(cp, 0x061c | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069) // N5 bidi
        || matches!(cp, 0x200b..=0x200d | 0x2060 | 0xfeff | 0x00ad)    // N5 invisible
        || cp == 0xfffe || cp == 0xffff                                // N5 noncharacters
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')        // N9
}

const DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5",
    "LPT6", "LPT7", "LPT8", "LPT9", "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
];

/// `Err(description)` naming the first rule `name` breaks.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("N1 empty".into());
    }
    if name.len() > 255 {
        return Err(format!("N2 {} bytes", name.len()));
    }
    if let Some(c) = name.chars().find(|&c| forbidden(c)) {
        return Err(format!("N3/N4/N5/N9 forbidden char U+{:04X}", c as u32));
    }
    if name == "." || name == ".." || name.chars().all(|c| c == '.' || c == ' ') {
        return Err("N6 dots/spaces only".into());
    }
    if name.starts_with('.') {
        return Err("N6 leading dot".into());
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err("N7 trailing dot or space".into());
    }
    let stem = name.split('.').next().unwrap().trim_matches(' ').to_uppercase();
    if DEVICES.contains(&stem.as_str()) {
        return Err(format!("N8 device {stem}"));
    }
    if name.nfc().collect::<String>() != name {
        return Err("N10 not NFC".into());
    }
    if name.starts_with('-') {
        return Err("N11 leading dash".into());
    }
    let chars: Vec<char> = name.chars().collect();
    if chars.windows(2).any(|w| w[0] == '~' && w[1].is_ascii_digit()) {
        return Err("N11 tilde digit".into());
    }
    Ok(())
}

/// N13: sanitizing never produces an extension the input did not literally end with. Checked
/// for extensions made of ASCII letters and digits (the ones a server maps to a handler).
pub fn extension_is_honest(input: &str, output: &str) -> Result<(), String> {
    let Some(dot) = output.rfind('.') else { return Ok(()) };
    let ext = &output[dot..];
    if ext.len() < 2 || !ext[1..].bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    // What Windows and the separator split would strip from the end of the input.
    let trimmed = input.trim_end_matches(['.', ' ', '/', '\\']);
    // Literally: not after NFC, which maps the Kelvin sign U+212A to `K` (`evil.ln\u{212a}`
    // must not become a `.lnK` file).
    if trimmed.ends_with(ext) {
        Ok(())
    } else {
        Err(format!("output extension {ext:?} not literally at the end of the input"))
    }
}
