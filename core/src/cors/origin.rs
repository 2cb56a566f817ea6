//! Origins: strict parsing of the `Origin` request header, and normalising parsing of
//! configured entries. Pure functions, no I/O, so they can be fuzzed alone.
//!
//! A browser serialises an origin canonically: lower-case scheme and host, no default port, no
//! path, A-labels for internationalised names, compressed IPv6 in brackets. A request origin is
//! accepted only in that exact form, so comparing strings is comparing origins, and the only
//! string ever echoed back is one Airlock rebuilt from parsed parts.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest `Origin` header value considered at all.
pub const MAX_ORIGIN_LEN: usize = 2048;
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A canonical tuple origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    /// Lower-case host: A-labels, dotted IPv4, or a bracketed compressed IPv6.
    pub(crate) host: String,
    /// `None` for the scheme's default port.
    pub(crate) port: Option<u16>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl Origin {
    /// The key under which a one-label wildcard covering this origin is stored: the origin
    /// with its first host label removed (`https://app.example.com` → `https://example.com`).
    /// `None` for IP hosts and hosts of a single label.
    pub(crate) fn parent_key(&self) -> Option<String> {
        if self.host.starts_with('[') || self.host.parse::<Ipv4Addr>().is_ok() {
            return None;
        }
        let (_, rest) = self.host.split_once('.')?;
        Some(Origin { scheme: self.scheme, host: rest.to_owned(), port: self.port }.to_string())
    }
}

/// Why a request `Origin` header is not a canonical origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    TooLong,
    NotAscii,
    Scheme,
    Userinfo,
    Path,
    Host,
    Port,
    NonCanonical,
}

fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    Some((scheme, rest))
}

/// Splits `authority` into host and optional port text. IPv6 literals keep their brackets.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), Malformed> {
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or(Malformed::Host)?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => Ok((host, None)),
            _ => rest.strip_prefix(':').map(|p| (host, Some(p))).ok_or(Malformed::Host),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => Ok((host, Some(port))),
            None => Ok((authority, None)),
        }
    }
}

fn parse_port(text: &str) -> Result<u16, Malformed> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed::Port);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(Malformed::Port),
        Ok(p) => Ok(p),
    }
}

/// Checks a lower-case ASCII DNS name: labels of letters, digits and hyphens, 1–63 bytes, no
/// leading or trailing hyphen, 253 bytes at most.
fn valid_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// An IPv6 address as browsers serialise it in an origin (WHATWG URL, "IPv6 serializer"):
/// lower-case hex pieces without leading zeros, the first longest run of two or more zero
/// pieces as `::`, and never a dotted IPv4 tail. Rust's `Display` writes IPv4-mapped
/// addresses as `::ffff:127.0.0.1`, a spelling no browser sends, so such an origin could
/// never match.
fn whatwg_ipv6(addr: Ipv6Addr) -> String {
    let pieces = addr.segments();
    // The first longest run of zero pieces, if it has at least two.
    let (mut best, mut run) = (None::<(usize, usize)>, None::<(usize, usize)>);
    for (i, &p) in pieces.iter().enumerate() {
        if p == 0 {
            let (start, len) = run.map_or((i, 1), |(s, l)| (s, l + 1));
            run = Some((start, len));
            if len >= 2 && best.is_none_or(|(_, b)| len > b) {
                best = Some((start, len));
            }
        } else {
            run = None;
        }
    }
    let mut out = String::with_capacity(41);
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = best.filter(|&(s, _)| s == i) {
            out.push_str(if start == 0 { "::" } else { ":" });
            i = start + len;
            continue;
        }
        out.push_str(&format!("{:x}", pieces[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// Canonical form of a host that is already lower-case ASCII, or `None` if it is not a host.
fn canonical_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let addr: Ipv6Addr = inner.parse().ok()?;
        return Some(format!("[{}]", whatwg_ipv6(addr)));
    }
    // All-numeric dotted hosts must be a real IPv4 address in dotted-decimal form.
    if host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())) {
        let addr: Ipv4Addr = host.parse().ok()?;
        return Some(addr.to_string());
    }
    valid_dns_name(host).then(|| host.to_owned())
}

/// Parses a request's `Origin` header value strictly: it must already be canonical.
pub(crate) fn parse_request(value: &str) -> Result<Origin, Malformed> {
    if value.len() > MAX_ORIGIN_LEN {
        return Err(Malformed::TooLong);
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        // Spaces (two origins, leading space), CR/LF, controls, raw UTF-8.
        return Err(Malformed::NotAscii);
    }
    let (scheme, authority) = split_scheme(value).ok_or(Malformed::Scheme)?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(Malformed::Scheme),
    };
    if authority.contains('@') {
        return Err(Malformed::Userinfo);
    }
    if authority.contains(['/', '?', '#']) {
        return Err(Malformed::Path);
    }
    let (host, port) = split_host_port(authority)?;
    let port = port.map(parse_port).transpose()?;
    if port == Some(scheme.default_port()) {
        return Err(Malformed::NonCanonical);
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Malformed::NonCanonical);
    }
    let canonical = canonical_host(host).ok_or(Malformed::Host)?;
    let origin = Origin { scheme, host: canonical, port };
    // The one check that covers every non-canonical spelling (upper case, default or
    // zero-padded ports, long IPv6 forms, ...): the value must be exactly what we would write.
    if origin.to_string() != value {
        return Err(Malformed::NonCanonical);
    }
    Ok(origin)
}

/// One configured allowlist entry, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `*`: any origin (a public API; never with credentials).
    Any,
    /// An exact origin.
    Exact(Origin),
    /// `scheme://*.parent[:port]`: exactly one label in front of `parent`.
    Wildcard(Origin),
}

/// Parses and normalises a configured entry: case, default ports, one trailing slash, IDN to
/// A-labels, IPv6 brackets. Everything else that is not a plain origin is refused, with a
/// message saying why.
pub(crate) fn parse_config(entry: &str) -> Result<Entry, String> {
    if entry == "*" {
        return Ok(Entry::Any);
    }
    if entry.is_empty() {
        return Err("empty entry".into());
    }
    if entry.eq_ignore_ascii_case("null") {
        return Err("'null' is sent by sandboxed iframes, file: and data: pages; allowing it \
                    allows all of them"
            .into());
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("whitespace or control characters".into());
    }
    if entry.contains(['^', '$', '(', ')', '[', '|', '+', '\\']) && !entry.contains("://[") {
        return Err("regular-expression syntax is not supported; list exact origins or \
                    one-label wildcards such as https://*.example.com"
            .into());
    }
    let (scheme, rest) = split_scheme(entry).ok_or("missing scheme (expected http:// or https://)")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("scheme {other:?} is not http or https")),
    };
    // One trailing slash is tolerated (a common way to write an origin); any other path is not.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        return Err("userinfo (user@host) is not part of an origin".into());
    }
    if authority.contains(['/', '?', '#']) {
        return Err("an origin has no path, query or fragment".into());
    }
    let (host, port) = split_host_port(authority).map_err(|_| "malformed host".to_owned())?;
    let port = match port {
        Some(p) => Some(parse_port(p).map_err(|_| format!("invalid port {p:?}"))?),
        None => None,
    };
    let port = port.filter(|p| *p != scheme.default_port());
    let (wildcard, host) = match host.strip_prefix("*.") {
        Some(parent) => (true, parent),
        None => (false, host),
    };
    if host.contains('*') {
        return Err("'*' must be a whole leftmost label, as in https://*.example.com".into());
    }
    let host = if host.starts_with('[') {
        canonical_host(&host.to_ascii_lowercase()).ok_or("invalid IPv6 address")?
    } else {
        // UTS-46 processing: lower-cases, maps, and converts Unicode labels to A-labels.
        let ascii = idna::domain_to_ascii(host).map_err(|_| format!("invalid host name {host:?}"))?;
        canonical_host(&ascii).ok_or_else(|| format!("invalid host name {host:?}"))?
    };
    let origin = Origin { scheme, host, port };
    if wildcard {
        if origin.host.starts_with('[') || origin.host.parse::<Ipv4Addr>().is_ok() {
            return Err("a wildcard needs a domain name, not an IP address".into());
        }
        // `*.com` would allow every .com site.
        if !origin.host.contains('.') {
            return Err("a wildcard must be followed by at least two labels (*.example.com)".into());
        }
        Ok(Entry::Wildcard(origin))
    } else {
        Ok(Entry::Exact(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_serialised_like_browsers() {
        for (addr, whatwg) in [
            ("::1", "::1"),
            ("::", "::"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("1:2:3:4:5:6:0:0", "1:2:3:4:5:6::"),
            ("::ffff:127.0.0.1", "::ffff:7f00:1"),
            ("::ffff:7f00:1", "::ffff:7f00:1"),
            ("::127.0.0.1", "::7f00:1"),
            ("fe80::0001", "fe80::1"),
        ] {
            assert_eq!(whatwg_ipv6(addr.parse().unwrap()), whatwg, "{addr}");
        }
        // Rust's own form agrees wherever it has no dotted IPv4 tail.
        for bits in [1u128, 0x2001_0db8 << 96, u128::MAX, 0xfe80 << 112 | 0xabcd, 1 << 64 | 1] {
            let addr = Ipv6Addr::from(bits);
            assert_eq!(whatwg_ipv6(addr), addr.to_string(), "{addr}");
        }
    }

    #[test]
    fn request_origins_must_be_canonical() {
        assert_eq!(parse_request("https://app.example.com").unwrap().to_string(), "https://app.example.com");
        assert_eq!(parse_request("http://[::1]:8080").unwrap().to_string(), "http://[::1]:8080");
        assert_eq!(parse_request("http://127.0.0.1:3000").unwrap().port, Some(3000));
        for (bad, why) in [
            ("https://APP.example.com", Malformed::NonCanonical),
            ("https://app.example.com:443", Malformed::NonCanonical),
            ("https://app.example.com/", Malformed::Path),
            ("https://u:p@app.example.com", Malformed::Userinfo),
            ("http://[0:0:0:0:0:0:0:1]:8080", Malformed::NonCanonical),
            ("https://bücher.example", Malformed::NotAscii),
            (" https://app.example.com", Malformed::NotAscii),
            ("https://a.com https://b.com", Malformed::NotAscii),
            ("https://a.com\r\nSet-Cookie: x", Malformed::NotAscii),
            ("file://", Malformed::Scheme),
            ("null", Malformed::Scheme),
            ("https://.example.com", Malformed::Host),
            ("https://a..b", Malformed::Host),
            ("https://-a.com", Malformed::Host),
            ("https://a.com:0", Malformed::Port),
            ("https://a.com:99999", Malformed::Port),
            ("https://a.com:+80", Malformed::Port),
            ("https://010.0.0.1", Malformed::Host),
            // Found by the cors_origin fuzz target: a zero-padded port was accepted.
            ("http://[::1]:08080", Malformed::NonCanonical),
            ("https://a.com:0443", Malformed::NonCanonical),
        ] {
            assert_eq!(parse_request(bad), Err(why), "{bad:?}");
        }
        let long = format!("https://{}.example.com", "a".repeat(64));
        assert_eq!(parse_request(&long), Err(Malformed::Host));
    }

    #[test]
    fn config_entries_are_normalised() {
        let exact = |s| match parse_config(s).unwrap() {
            Entry::Exact(o) => o.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(exact("HTTPS://App.Example.COM"), "https://app.example.com");
        assert_eq!(exact("https://app.example.com:443"), "https://app.example.com");
        assert_eq!(exact("https://app.example.com/"), "https://app.example.com");
        assert_eq!(exact("https://bücher.example"), "https://xn--bcher-kva.example");
        assert_eq!(exact("http://[0:0:0:0:0:0:0:1]:8080"), "http://[::1]:8080");
        assert!(matches!(parse_config("https://*.example.com"), Ok(Entry::Wildcard(_))));
        for bad in [
            "null", "NULL", "", "https://*example.com", "https://a*.example.com", "https://*.com",
            "https://app.example.com/path", "https://u@app.example.com", "ftp://a.com",
            "app.example.com", "https://*.*.example.com", "https://.*\\.example\\.com",
            "https://a.com:99999", "https://*.127.0.0.1", " https://a.com",
        ] {
            assert!(parse_config(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn parent_keys() {
        let o = parse_request("https://app.example.com").unwrap();
        assert_eq!(o.parent_key().unwrap(), "https://example.com");
        assert_eq!(parse_request("http://localhost:3000").unwrap().parent_key(), None);
        assert_eq!(parse_request("http://127.0.0.1").unwrap().parent_key(), None);
    }
}
