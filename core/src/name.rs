//! Untrusted client file names and the safe names Airlock stores under.
//!
//! This module is pure policy: no I/O, so it can be fuzzed and benchmarked alone.
//!
//! A [`SafeName`] can only be made by this module, through one of two doors:
//!
//! * [`SafeName::sanitize`] turns an attacker-controlled client name into a safe leaf name, for
//!   *saving*. It fails only when nothing usable is left.
//! * [`SafeName::parse`] accepts a name only if it is already safe and [`SafeName::sanitize`] would
//!   leave it unchanged, for *looking up*. It never transforms: mapping a lookup onto a different
//!   file is itself a vulnerability.
//!
//! Both obey every rule of [`NameRule`]. Nothing is decoded (no percent-decoding, HTML entities or
//! RFC 2047 words): a web layer that decodes must do so once, before Airlock sees the name.

use std::fmt;

use unicode_normalization::{is_nfc, UnicodeNormalization};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Error, Result};

/// The longest stored name, in bytes (the limit of ext4, XFS, btrfs, NTFS in UTF-16 units aside).
pub const MAX_NAME_BYTES: usize = 255;

/// Client names longer than this are refused before any work is done on them, so a hostile
/// multi-megabyte "file name" costs nothing. Far above anything a browser sends.
pub const MAX_CLIENT_NAME_BYTES: usize = 8 * 1024;

/// Extensions longer than this are not treated as extensions when a name must be shortened:
/// a 200-byte "extension" is more likely an attack on the shortening than a file type.
const MAX_KEPT_EXTENSION_BYTES: usize = 32;

/// The rule a name broke. Each has a stable code (see [`NameRule::code`]) and the number of the
/// rule in Airlock's filename specification ([`NameRule::spec_id`]).
///
/// ```
/// use airlock::{NameRule, SafeName};
/// let err = SafeName::parse(".htaccess").unwrap_err();
/// assert_eq!(err.name_rule(), Some(NameRule::LeadingDot));
/// assert_eq!(NameRule::LeadingDot.code(), "leading_dot");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameRule {
    /// N1: the name is empty (or nothing was left of it).
    Empty,
    /// N2: longer than [`MAX_NAME_BYTES`] (or, for client names, [`MAX_CLIENT_NAME_BYTES`]).
    TooLong,
    /// N2: the bytes are not valid UTF-8 (or the string held a lone surrogate).
    InvalidUtf8,
    /// N3: contains `/` or `\`.
    Separator,
    /// N4: contains a C0 or C1 control character, DEL, U+2028 or U+2029.
    ControlCharacter,
    /// N5: contains a bidi control, an invisible format character or a noncharacter.
    InvisibleCharacter,
    /// N6: `.`, `..`, or made only of dots and spaces.
    DotsOnly,
    /// N6: starts with `.` (a dotfile such as `.htaccess`).
    LeadingDot,
    /// N7: ends with `.` or a space.
    TrailingDotOrSpace,
    /// N8: the stem is a Windows device name (`CON`, `nul`, `COM1`, `LPT¹`, ...).
    DeviceName,
    /// N9: contains one of `< > : " | ? *`.
    ReservedCharacter,
    /// N10: not in Unicode Normalization Form C.
    NotNfc,
    /// N11: starts with `-` (would be read as an option by shell tools).
    LeadingDash,
    /// N11: contains `~` followed by a digit (a Windows 8.3 short-name alias).
    TildeDigit,
    /// Every rule holds, but sanitize would still change the name.
    NotCanonical,
}

impl NameRule {
    /// Stable machine-readable code, shared with the Python and Node bindings.
    pub const fn code(self) -> &'static str {
        match self {
            NameRule::Empty => "empty",
            NameRule::TooLong => "too_long",
            NameRule::InvalidUtf8 => "invalid_utf8",
            NameRule::Separator => "separator",
            NameRule::ControlCharacter => "control_character",
            NameRule::InvisibleCharacter => "invisible_character",
            NameRule::DotsOnly => "dots_only",
            NameRule::LeadingDot => "leading_dot",
            NameRule::TrailingDotOrSpace => "trailing_dot_or_space",
            NameRule::DeviceName => "device_name",
            NameRule::ReservedCharacter => "reserved_character",
            NameRule::NotNfc => "not_nfc",
            NameRule::LeadingDash => "leading_dash",
            NameRule::TildeDigit => "tilde_digit",
            NameRule::NotCanonical => "not_canonical",
        }
    }

    /// The rule's number in the filename specification (`N1` ... `N11`); `parse` for
    /// [`NameRule::NotCanonical`], which only [`SafeName::parse`] reports.
    pub const fn spec_id(self) -> &'static str {
        match self {
            NameRule::Empty => "N1",
            NameRule::TooLong | NameRule::InvalidUtf8 => "N2",
            NameRule::Separator => "N3",
            NameRule::ControlCharacter => "N4",
            NameRule::InvisibleCharacter => "N5",
            NameRule::DotsOnly | NameRule::LeadingDot => "N6",
            NameRule::TrailingDotOrSpace => "N7",
            NameRule::DeviceName => "N8",
            NameRule::ReservedCharacter => "N9",
            NameRule::NotNfc => "N10",
            NameRule::LeadingDash | NameRule::TildeDigit => "N11",
            NameRule::NotCanonical => "parse",
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            NameRule::Empty => "the name is empty",
            NameRule::TooLong => "the name is too long",
            NameRule::InvalidUtf8 => "the name is not valid UTF-8",
            NameRule::Separator => "the name contains a path separator",
            NameRule::ControlCharacter => "the name contains a control character",
            NameRule::InvisibleCharacter => {
                "the name contains a bidi control, invisible or noncharacter code point"
            }
            NameRule::DotsOnly => "the name is made only of dots and spaces",
            NameRule::LeadingDot => "the name starts with a dot",
            NameRule::TrailingDotOrSpace => "the name ends with a dot or a space",
            NameRule::DeviceName => "the name is a Windows device name",
            NameRule::ReservedCharacter => "the name contains one of < > : \" | ? *",
            NameRule::NotNfc => "the name is not NFC-normalised",
            NameRule::LeadingDash => "the name starts with '-'",
            NameRule::TildeDigit => "the name contains '~' followed by a digit",
            NameRule::NotCanonical => "the name is not in its sanitized form",
        }
    }
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.describe(), self.spec_id(), self.code())
    }
}

/// A file name that obeys every [`NameRule`]: one leaf, no separators, no controls, no
/// invisible characters, no dotfile, no device name, NFC, at most 255 bytes.
///
/// Only [`SafeName::sanitize`], [`SafeName::sanitize_bytes`] and [`SafeName::parse`] make one,
/// so holding a `SafeName` is proof that the rules were checked.
///
/// ```
/// use airlock::SafeName;
/// let saved = SafeName::sanitize("../../etc/passwd")?;
/// assert_eq!(saved.as_str(), "etc_passwd");
/// // A lookup accepts the stored name, and nothing that would need changing.
/// assert_eq!(SafeName::parse("etc_passwd")?, saved);
/// assert!(SafeName::parse("../etc_passwd").is_err());
/// # Ok::<(), airlock::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeName(String);

impl SafeName {
    /// Turns an untrusted client name into a safe stored name.
    ///
    /// Separators split the name into components; empty, `.` and `..` components are dropped and
    /// the rest joined with `_` (`../../etc/passwd` → `etc_passwd`). Controls, bidi and invisible
    /// characters and `< > : " | ? *` become `_` (replaced, not removed, so removing them can never
    /// assemble a new extension such as `.ph\u{200b}p` → `.php`). A leading `.` gets a `_` prefix
    /// (`.htaccess` → `_.htaccess`), as does a device stem (`CON.txt` → `_CON.txt`); a leading `-`
    /// becomes `_`; trailing dots and spaces are stripped; the result is NFC; names over 255
    /// bytes are cut on a grapheme boundary, keeping the extension.
    ///
    /// Fails with [`Error::InvalidName`] only when nothing usable is left (`""`, `..`, `"   "`) or
    /// the input exceeds [`MAX_CLIENT_NAME_BYTES`].
    ///
    /// ```
    /// use airlock::SafeName;
    /// assert_eq!(SafeName::sanitize("photo.JPG")?.as_str(), "photo.JPG");
    /// assert_eq!(SafeName::sanitize("invoice\u{202e}fdp.exe")?.as_str(), "invoice_fdp.exe");
    /// assert_eq!(SafeName::sanitize("nul.txt")?.as_str(), "_nul.txt");
    /// assert!(SafeName::sanitize("...").is_err());
    /// # Ok::<(), airlock::Error>(())
    /// ```
    pub fn sanitize(client_name: &str) -> Result<SafeName> {
        sanitize_str(client_name)
            .map(SafeName)
            .map_err(|rule| Error::InvalidName { rule })
    }

    /// [`SafeName::sanitize`] for raw bytes off the wire. Bytes that are not valid UTF-8 are
    /// refused with [`NameRule::InvalidUtf8`] — never decoded leniently (overlong forms such as
    /// `C0 AE` must not become `.`), never a panic.
    ///
    /// ```
    /// use airlock::{NameRule, SafeName};
    /// let err = SafeName::sanitize_bytes(b"\xc0\xae\xc0\xaepasswd").unwrap_err();
    /// assert_eq!(err.name_rule(), Some(NameRule::InvalidUtf8));
    /// assert_eq!(SafeName::sanitize_bytes("café.txt".as_bytes())?.as_str(), "café.txt");
    /// # Ok::<(), airlock::Error>(())
    /// ```
    pub fn sanitize_bytes(client_name: &[u8]) -> Result<SafeName> {
        if client_name.len() > MAX_CLIENT_NAME_BYTES {
            return Err(Error::InvalidName { rule: NameRule::TooLong });
        }
        match std::str::from_utf8(client_name) {
            Ok(s) => SafeName::sanitize(s),
            Err(_) => Err(Error::InvalidName { rule: NameRule::InvalidUtf8 }),
        }
    }

    /// Accepts `name` only if it obeys every rule and sanitize would leave it unchanged. For
    /// lookups (`GET /uploads/<name>`): it never maps one name onto another.
    ///
    /// ```
    /// use airlock::{NameRule, SafeName};
    /// assert!(SafeName::parse("report 2024.pdf").is_ok());
    /// assert_eq!(SafeName::parse("CON").unwrap_err().name_rule(), Some(NameRule::DeviceName));
    /// assert_eq!(SafeName::parse("a/b").unwrap_err().name_rule(), Some(NameRule::Separator));
    /// ```
    pub fn parse(name: &str) -> Result<SafeName> {
        check(name).map_err(|rule| Error::InvalidName { rule })?;
        // Defence in depth: the rules above are exactly sanitize's fixed points (a property test
        // checks it), but a lookup must never be mapped to another name even if they drift.
        match sanitize_str(name) {
            Ok(s) if s == name => Ok(SafeName(s)),
            _ => Err(Error::InvalidName { rule: NameRule::NotCanonical }),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last extension, without the dot (`archive.tar.gz` → `gz`), or `None`.
    ///
    /// ```
    /// let n = airlock::SafeName::parse("archive.tar.gz")?;
    /// assert_eq!(n.extension(), Some("gz"));
    /// # Ok::<(), airlock::Error>(())
    /// ```
    pub fn extension(&self) -> Option<&str> {
        // No leading dot is possible, so a dot at index > 0 always has a non-empty stem.
        self.0.rfind('.').map(|i| &self.0[i + 1..])
    }

    /// Whether the name ends with `.` + `suffix`, comparing ASCII case-insensitively, with a
    /// non-empty part before it. `suffix` may itself contain dots (`tar.gz`).
    ///
    /// ```
    /// let n = airlock::SafeName::parse("photo.JPG")?;
    /// assert!(n.has_extension("jpg"));
    /// assert!(!airlock::SafeName::parse("scan.\u{440}df")?.has_extension("pdf"));
    /// # Ok::<(), airlock::Error>(())
    /// ```
    pub fn has_extension(&self, suffix: &str) -> bool {
        let name = self.0.as_bytes();
        let suffix = suffix.as_bytes();
        if suffix.is_empty() || name.len() < suffix.len() + 2 {
            return false;
        }
        let dot = name.len() - suffix.len() - 1;
        name[dot] == b'.' && name[dot + 1..].eq_ignore_ascii_case(suffix)
    }

    /// The same name with ` (tag)` inserted before the last extension, the stem cut on a
    /// grapheme boundary to fit in [`MAX_NAME_BYTES`]; used to find a free name when the
    /// conflict policy renames (`tag` is a number or a random hex string).
    ///
    /// Never fails, so a legitimate name can always be stored beside an earlier one (N15). An
    /// "extension" too long to keep beside the tag and a few bytes of stem is not kept as one:
    /// the tag then ends the name, so the last extension ends in `)` and can never be a
    /// dangerous one (N13).
    pub(crate) fn tagged(&self, tag: &str) -> SafeName {
        debug_assert!(tag.bytes().all(|b| b.is_ascii_alphanumeric()), "{tag}");
        let suffix = format!(" ({tag})");
        // Room for at least one character of stem (4 bytes at most) besides tag and extension.
        let (stem, ext) = match self.0.rfind('.') {
            Some(i) if i > 0 && (self.0.len() - i) + suffix.len() + 4 <= MAX_NAME_BYTES => {
                self.0.split_at(i)
            }
            _ => (self.0.as_str(), ""),
        };
        let budget = MAX_NAME_BYTES.saturating_sub(suffix.len() + ext.len());
        let mut stem = cut_to_graphemes(stem, budget).to_owned();
        stem.truncate(stem.trim_end_matches(['.', ' ']).len());
        if stem.is_empty() {
            stem.push('_');
        }
        let candidate = format!("{stem}{suffix}{ext}");
        // The stem is a prefix of a safe name followed by ` (`, so every rule still holds; should
        // that ever be wrong, a plain generated name is still safe and still free of conflicts.
        SafeName::parse(&candidate).unwrap_or_else(|_| SafeName(format!("upload{suffix}")))
    }
}

impl fmt::Debug for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SafeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for SafeName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SafeName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<SafeName> for String {
    fn from(n: SafeName) -> String {
        n.0
    }
}

/// What a single character means for a name.
fn char_rule(c: char) -> Option<NameRule> {
    match c {
        '/' | '\\' => Some(NameRule::Separator),
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => {
            Some(NameRule::ControlCharacter)
        }
        // Bidi controls: they make `invoice<RLO>fdp.exe` display as `invoiceexe.pdf`.
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Invisible format characters: they make two different names look identical.
        | '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}'
        | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        // Noncharacters: never meant for interchange.
        | '\u{fdd0}'..='\u{fdef}' => Some(NameRule::InvisibleCharacter),
        c if (c as u32) & 0xfffe == 0xfffe => Some(NameRule::InvisibleCharacter),
        // Reserved on Windows; ':' also selects NTFS alternate data streams and drive letters.
        '<' | '>' | ':' | '"' | '|' | '?' | '*' => Some(NameRule::ReservedCharacter),
        _ => None,
    }
}

/// The only characters outside ASCII whose canonical (NFC) form is ASCII: GREEK QUESTION MARK
/// (`;`), GREEK VARIA (`` ` ``) and KELVIN SIGN (`K`). Canonical singletons are frozen by
/// Unicode's normalization stability policy; a unit test scans every code point to prove the
/// list complete.
fn becomes_ascii_under_nfc(c: char) -> bool {
    matches!(c, '\u{37e}' | '\u{1fef}' | '\u{212a}')
}

fn is_device_stem(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_matches(' ');
    // Every device name is 3 to 7 bytes long (COM¹ is 5); a stem that upper-cases to one is at
    // most twice that (ı, U+0131, is 2 bytes and upper-cases to ASCII I). Skip the rest cheaply.
    if !(3..=14).contains(&stem.len()) {
        return false;
    }
    // Full Unicode upper-casing, not ASCII: `conın$` (dotless i) upper-cases to CONIN$, and a
    // case-insensitive comparison elsewhere may fold it the same way.
    let upper = if stem.is_ascii() { stem.to_ascii_uppercase() } else { stem.to_uppercase() };
    let u = upper.as_bytes();
    match u {
        b"CON" | b"PRN" | b"AUX" | b"NUL" | b"CONIN$" | b"CONOUT$" => true,
        [b'C', b'O', b'M', rest @ ..] | [b'L', b'P', b'T', rest @ ..] => {
            // ASCII digits, or the superscripts ¹ ² ³ (U+00B9, U+00B2, U+00B3 in UTF-8).
            matches!(rest, [b'0'..=b'9'] | [0xc2, 0xb9] | [0xc2, 0xb2] | [0xc2, 0xb3])
        }
        _ => false,
    }
}

fn has_tilde_digit(name: &str) -> bool {
    name.as_bytes().windows(2).any(|w| w[0] == b'~' && w[1].is_ascii_digit())
}

fn is_dots_and_spaces(name: &str) -> bool {
    name.bytes().all(|b| b == b'.' || b == b' ')
}

/// Checks every rule; the first broken one is returned.
fn check(name: &str) -> std::result::Result<(), NameRule> {
    if name.is_empty() {
        return Err(NameRule::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameRule::TooLong);
    }
    if let Some(rule) = name.chars().find_map(char_rule) {
        return Err(rule);
    }
    if is_dots_and_spaces(name) {
        return Err(NameRule::DotsOnly);
    }
    if name.starts_with('.') {
        return Err(NameRule::LeadingDot);
    }
    if name.ends_with(['.', ' ']) {
        return Err(NameRule::TrailingDotOrSpace);
    }
    if name.starts_with('-') {
        return Err(NameRule::LeadingDash);
    }
    if has_tilde_digit(name) {
        return Err(NameRule::TildeDigit);
    }
    if is_device_stem(name) {
        return Err(NameRule::DeviceName);
    }
    if !name.is_ascii() && !is_nfc(name) {
        return Err(NameRule::NotNfc);
    }
    Ok(())
}

/// The longest prefix of `s` of at most `max` bytes that ends on a grapheme boundary, or on a
/// char boundary when a single grapheme (e.g. thousands of combining marks) is longer than `max`.
fn cut_to_graphemes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = 0;
    for (i, g) in s.grapheme_indices(true) {
        if i + g.len() > max {
            break;
        }
        end = i + g.len();
    }
    if end == 0 {
        end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
    }
    &s[..end]
}

/// Shortens to [`MAX_NAME_BYTES`], keeping a plausible last extension (N2, N14).
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    if let Some(dot) = name.rfind('.') {
        let ext = &name[dot..];
        if dot > 0 && ext.len() > 1 && ext.len() <= MAX_KEPT_EXTENSION_BYTES {
            let stem = cut_to_graphemes(&name[..dot], MAX_NAME_BYTES - ext.len());
            let stem = stem.trim_end_matches(['.', ' ']);
            // N14: never let the extension become the whole name.
            if !stem.is_empty() && !is_dots_and_spaces(stem) {
                return format!("{stem}{ext}");
            }
        }
    }
    // No extension is kept, so the cut must not create one: a cut inside the last "extension"
    // of `x….php…` could end exactly after `.php` (N13). Neutralise the dot that would start
    // the new last extension unless that extension is literally the input's.
    let mut out = cut_to_graphemes(name, MAX_NAME_BYTES).to_owned();
    let input_ext = name.rfind('.').map(|i| &name[i..]);
    if let Some(i) = out.rfind('.') {
        if Some(&out[i..]) != input_ext {
            out.replace_range(i..i + 1, "_");
        }
    }
    out
}

/// One pass of the sanitizer.
fn sanitize_pass(input: &str) -> std::result::Result<String, NameRule> {
    // N3: both separators split on every OS. Drop empty, `.` and `..` components (and any made
    // only of dots and spaces) instead of keeping them as text, then join what is left with `_`.
    let mut joined = String::with_capacity(input.len() + 4);
    for part in input.split(['/', '\\']) {
        if part.is_empty() || is_dots_and_spaces(part) {
            continue;
        }
        if !joined.is_empty() {
            joined.push('_');
        }
        joined.push_str(part);
    }
    if joined.is_empty() {
        return Err(if input.is_empty() { NameRule::Empty } else { NameRule::DotsOnly });
    }

    // N10: canonical composition only. Compatibility folding (NFKC) would turn `ｐｈｐ` into
    // `php` and `／` into `/`.
    let normalized: String = if joined.is_ascii() || is_nfc(&joined) {
        joined
    } else {
        // N13: even NFC maps three characters to ASCII (see `becomes_ascii_under_nfc`), which
        // would turn `evil.ln\u{212a}` into a `.lnK` file. Replace them first.
        joined.chars().map(|c| if becomes_ascii_under_nfc(c) { '_' } else { c }).nfc().collect()
    };

    // N4, N5, N9: replace, never remove, so that removal cannot join `.ph` and `p` into `.php`.
    let mut out = String::with_capacity(normalized.len());
    let mut chars = normalized.chars().peekable();
    while let Some(c) = chars.next() {
        let tilde_digit = c == '~' && chars.peek().is_some_and(|n| n.is_ascii_digit());
        if tilde_digit || char_rule(c).is_some() {
            out.push('_');
        } else {
            out.push(c);
        }
    }

    // N7: Windows strips trailing dots and spaces, which would change the extension.
    out.truncate(out.trim_end_matches(['.', ' ']).len());
    if out.is_empty() || is_dots_and_spaces(&out) {
        return Err(NameRule::DotsOnly);
    }
    // N6, N11: no dotfile, no option-looking name. Prefix rather than strip the dot, so `.jpg`
    // keeps a stem (`_.jpg`) instead of becoming the bare word `jpg` (N14).
    if out.starts_with('.') {
        out.insert(0, '_');
    } else if out.starts_with('-') {
        out.replace_range(..1, "_");
    }
    // N8: device names are devices on Windows with any extension and any trailing spaces.
    if is_device_stem(&out) {
        out.insert(0, '_');
    }
    Ok(shorten(&out))
}

fn sanitize_str(input: &str) -> std::result::Result<String, NameRule> {
    if input.len() > MAX_CLIENT_NAME_BYTES {
        return Err(NameRule::TooLong);
    }
    let mut current = sanitize_pass(input)?;
    // Shortening or normalising can, in principle, expose a new violation (a cut that ends in a
    // dot, a composition at the cut). Re-run until nothing changes; two passes suffice in
    // practice, the bound only guarantees termination.
    for _ in 0..4 {
        if check(&current).is_ok() {
            return Ok(current);
        }
        current = sanitize_pass(&current)?;
    }
    check(&current).map(|()| current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        SafeName::sanitize(x).map(String::from).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn examples() {
        assert_eq!(s("../../../etc/passwd"), "etc_passwd");
        assert_eq!(s("..\\..\\windows\\win.ini"), "windows_win.ini");
        assert_eq!(s("C:\\Windows\\System32"), "C__Windows_System32");
        assert_eq!(s(".htaccess"), "_.htaccess");
        assert_eq!(s(".jpg"), "_.jpg");
        assert_eq!(s("-rf"), "_rf");
        assert_eq!(s("PROGRA~1.txt"), "PROGRA_1.txt");
        assert_eq!(s("CON"), "_CON");
        assert_eq!(s("con .txt"), "_con .txt");
        assert_eq!(s("COM¹.txt"), "_COM¹.txt");
        assert_eq!(s("COM10.txt"), "COM10.txt");
        assert_eq!(s("con\u{131}n$.txt"), "_con\u{131}n$.txt");
        assert_eq!(s("trailing.dot."), "trailing.dot");
        assert_eq!(s("a.ph\u{200b}p"), "a.ph_p");
        assert_eq!(s("shell.php\0.jpg"), "shell.php_.jpg");
        assert_eq!(s("cafe\u{301}.txt"), "café.txt");
        assert_eq!(s("ｐｈｐ.ｐｈｐ"), "ｐｈｐ.ｐｈｐ");
        assert!(s("").starts_with("ERR"));
        assert!(s(" . ").starts_with("ERR"));
        assert!(s("/").starts_with("ERR"));
    }

    #[test]
    fn shortening_keeps_extension_and_boundaries() {
        let long = format!("{}.txt", "é".repeat(200));
        let out = s(&long);
        assert!(out.len() <= MAX_NAME_BYTES);
        assert!(out.ends_with(".txt"));
        // A whole-grapheme cut: a base letter is never separated from its combining accent.
        let decomposed = format!("{}.txt", "e\u{301}\u{302}".repeat(100));
        let out = s(&decomposed);
        assert!(out.len() <= MAX_NAME_BYTES && out.ends_with(".txt"), "{out}");
        // An absurd extension is not kept as an extension.
        let silly = format!("a.{}", "b".repeat(300));
        assert_eq!(s(&silly).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn tagged_names() {
        let n = SafeName::parse("photo.jpg").unwrap();
        assert_eq!(n.tagged("2").as_str(), "photo (2).jpg");
        assert_eq!(SafeName::parse("README").unwrap().tagged("2").as_str(), "README (2)");
        let long = SafeName::sanitize(&format!("{}.png", "x".repeat(300))).unwrap();
        let numbered = long.tagged("12345");
        assert!(numbered.as_str().len() <= MAX_NAME_BYTES);
        assert!(numbered.as_str().ends_with(" (12345).png"));
        // Extensions too long to keep beside the tag: the tag ends the name instead.
        for name in [format!("a.{}", "b".repeat(250)), format!("{}.{}", "é".repeat(2), "c".repeat(248))] {
            let name = SafeName::sanitize(&name).unwrap();
            let tagged = name.tagged("a1b2c3d4e5f6");
            assert!(tagged.as_str().len() <= MAX_NAME_BYTES, "{tagged:?}");
            assert!(tagged.as_str().ends_with(" (a1b2c3d4e5f6)"), "{tagged:?}");
            assert_eq!(SafeName::parse(tagged.as_str()).unwrap(), tagged);
        }
        // Every length of a one-letter stem and an extension: always a distinct, valid name.
        for ext_len in 1..=253 {
            let name = SafeName::parse(&format!("x.{}", "e".repeat(ext_len))).unwrap();
            for tag in ["1", "99", "0123456789ab"] {
                let tagged = name.tagged(tag);
                assert_ne!(tagged, name);
                assert!(tagged.as_str().len() <= MAX_NAME_BYTES && tagged.as_str().contains(tag));
            }
        }
    }

    #[test]
    fn nfc_never_introduces_forbidden_characters() {
        // Canonical decompositions (singletons like U+037E → ';') must never produce a character
        // the rules forbid, or sanitize's order of steps would be unsound.
        for cp in 0..=0x10ffffu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            if char_rule(c).is_some() {
                continue;
            }
            let normalized: String = std::iter::once(c).nfc().collect();
            assert!(normalized.chars().all(|n| char_rule(n).is_none()), "U+{cp:04X}");
        }
    }

    #[test]
    fn nfc_makes_ascii_only_of_the_listed_characters() {
        for cp in 0x80..=0x10ffffu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            let normalized: String = std::iter::once(c).nfc().collect();
            assert_eq!(normalized.is_ascii(), becomes_ascii_under_nfc(c), "U+{cp:04X}");
        }
        // N13: the input did not end with `.lnk`, so the output must not either.
        assert_eq!(s("evil.ln\u{212a}"), "evil.ln_");
        assert_eq!(s("run.\u{212a}sh"), "run._sh");
        assert_eq!(s("a\u{37e}b\u{1fef}.txt"), "a_b_.txt");
    }

    #[test]
    fn every_rule_has_a_distinct_code() {
        use NameRule::*;
        let all = [
            Empty, TooLong, InvalidUtf8, Separator, ControlCharacter, InvisibleCharacter,
            DotsOnly, LeadingDot, TrailingDotOrSpace, DeviceName, ReservedCharacter, NotNfc,
            LeadingDash, TildeDigit, NotCanonical,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
