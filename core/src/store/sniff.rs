//! Content check: do an upload's leading bytes match the type its extension claims?
//!
//! Pure policy over the first [`HEAD_LEN`] bytes, so it can be fuzzed alone. Only the common
//! types a browser renders are checked; a `.png` that is really HTML is the attack this stops
//! (served back with a guessed type, it becomes stored XSS).

/// How many leading bytes the check needs.
pub(crate) const HEAD_LEN: usize = 12;

/// The types the content check knows, by the extension that claims them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
}

impl Kind {
    /// The kind claimed by an extension (ASCII case-insensitive), if the check knows it.
    pub(crate) fn from_extension(ext: &str) -> Option<Kind> {
        let ext = ext.to_ascii_lowercase();
        Some(match ext.as_str() {
            "png" => Kind::Png,
            "jpg" | "jpeg" | "jpe" | "jfif" => Kind::Jpeg,
            "gif" => Kind::Gif,
            "webp" => Kind::Webp,
            "pdf" => Kind::Pdf,
            _ => return None,
        })
    }

    /// Whether `head` (the first bytes of the content, possibly fewer than [`HEAD_LEN`]) starts
    /// like a file of this kind.
    pub(crate) fn matches(self, head: &[u8]) -> bool {
        match self {
            Kind::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
            Kind::Jpeg => head.starts_with(b"\xff\xd8\xff"),
            Kind::Gif => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
            Kind::Webp => head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP",
            Kind::Pdf => head.starts_with(b"%PDF-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types() {
        assert!(Kind::from_extension("PNG").unwrap().matches(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!Kind::Png.matches(b"<html><script>"));
        assert!(!Kind::Png.matches(b"\x89PNG"));
        assert!(Kind::from_extension("JPEG").unwrap().matches(b"\xff\xd8\xff\xe0"));
        assert!(Kind::Gif.matches(b"GIF89a...."));
        assert!(Kind::Webp.matches(b"RIFF\x10\0\0\0WEBPVP8 "));
        assert!(!Kind::Webp.matches(b"RIFF\x10\0\0\0WAVE"));
        assert!(Kind::Pdf.matches(b"%PDF-1.7\n"));
        assert_eq!(Kind::from_extension("txt"), None);
        assert_eq!(Kind::from_extension("\u{440}df"), None);
    }
}
