//! A strict CORS origin policy: exact origins and one-label wildcards, normalised once at load
//! time, decided by one pure function that returns the exact response headers to set.
//!
//! No regular expressions anywhere: an allowed origin is a hash-set hit on the canonical
//! request origin, or a hash-set hit on its parent for a `https://*.example.com` entry. The
//! only origin string ever written into a response is one Airlock rebuilt from parsed parts,
//! never the request's bytes.

mod origin;

use std::collections::HashSet;
use std::fmt;

use crate::error::{Error, Result};
use crate::events;
use origin::Entry;

pub use origin::MAX_ORIGIN_LEN;

/// Default `Access-Control-Max-Age` of allowed preflights, in seconds.
pub const DEFAULT_MAX_AGE: u32 = 600;

/// A parsed, normalised CORS policy. Build one with [`CorsPolicy::builder`].
///
/// ```
/// let policy = airlock::CorsPolicy::builder()
///     .allow_origins(["https://app.example.com", "https://*.example.com"])
///     .allow_credentials(true)
///     .allow_methods(["GET", "POST"])
///     .allow_headers(["content-type", "x-api-key"])
///     .allow_private_network(false)
///     .build()?; // configuration errors are refused here
/// let decision = policy.decide(&airlock::CorsRequest {
///     origin: Some("https://app.example.com"), method: "PUT",
///     request_headers: &["content-type"], preflight: true, private_network: false,
/// });
/// assert!(!decision.is_allowed()); // PUT is not an allowed method
/// assert_eq!(decision.reason(), airlock::CorsReason::MethodNotAllowed);
/// assert_eq!(decision.headers().collect::<Vec<_>>(), vec![("Vary", "Origin")]);
/// # Ok::<(), airlock::Error>(())
/// ```
#[derive(Clone)]
pub struct CorsPolicy {
    any_origin: bool,
    exact: HashSet<String>,
    /// Parent keys of one-label wildcards (`https://*.example.com` → `https://example.com`).
    wildcards: HashSet<String>,
    credentials: bool,
    methods: Vec<String>,
    methods_header: String,
    /// Lower-case.
    headers: HashSet<String>,
    expose_headers: String,
    max_age: u32,
    private_network: PrivateNetwork,
}

/// Which allowed origins get Private Network Access.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PrivateNetwork {
    Off,
    EveryAllowedOrigin,
    /// Canonical exact origins and wildcard parent keys, as in the policy's own sets.
    Only { exact: HashSet<String>, wildcards: HashSet<String> },
}

impl fmt::Debug for CorsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsPolicy")
            .field("any_origin", &self.any_origin)
            .field("exact", &self.exact.len())
            .field("wildcards", &self.wildcards.len())
            .field("credentials", &self.credentials)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// Collects a policy's configuration; [`CorsPolicyBuilder::build`] validates all of it.
#[derive(Clone, Debug)]
pub struct CorsPolicyBuilder {
    origins: Vec<String>,
    credentials: bool,
    methods: Vec<String>,
    headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: u32,
    private_network: bool,
    private_network_origins: Option<Vec<String>>,
}

/// One request, as the decision function sees it.
#[derive(Clone, Copy, Debug)]
pub struct CorsRequest<'a> {
    /// The `Origin` header, or `None` when absent.
    pub origin: Option<&'a str>,
    /// For a preflight, `Access-Control-Request-Method`; otherwise the request's method.
    pub method: &'a str,
    /// For a preflight, the names listed in `Access-Control-Request-Headers`.
    pub request_headers: &'a [&'a str],
    /// Whether this is a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub preflight: bool,
    /// Whether the preflight carries `Access-Control-Request-Private-Network: true`.
    pub private_network: bool,
}

/// Why a request was allowed or refused. Stable codes via [`CorsReason::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsReason {
    /// Allowed.
    Allowed,
    /// No `Origin` header: not a cross-origin request, nothing to allow.
    NoOrigin,
    /// The `Origin` header is not a canonical origin (whitespace, CR/LF, path, case, ...).
    MalformedOrigin,
    /// `Origin: null`.
    NullOrigin,
    /// A well-formed origin that the policy does not list.
    OriginNotAllowed,
    /// Preflight for a method the policy does not allow.
    MethodNotAllowed,
    /// Preflight for a request header the policy does not allow.
    HeaderNotAllowed,
}

impl CorsReason {
    /// Stable machine-readable code, used in audit events.
    pub const fn code(self) -> &'static str {
        match self {
            CorsReason::Allowed => "allowed",
            CorsReason::NoOrigin => "no_origin",
            CorsReason::MalformedOrigin => "malformed_origin",
            CorsReason::NullOrigin => "null_origin",
            CorsReason::OriginNotAllowed => "origin_not_allowed",
            CorsReason::MethodNotAllowed => "method_not_allowed",
            CorsReason::HeaderNotAllowed => "header_not_allowed",
        }
    }
}

/// The outcome of [`CorsPolicy::decide`]: allowed or not, why, and exactly the headers to set
/// on the response (framework adapters only copy them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsDecision {
    reason: CorsReason,
    headers: Vec<(&'static str, String)>,
}

impl CorsDecision {
    /// Whether the cross-origin request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.reason == CorsReason::Allowed
    }

    /// Why.
    pub fn reason(&self) -> CorsReason {
        self.reason
    }

    /// `(header name, value)` pairs to set on the response.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.headers.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The value of one of [`CorsDecision::headers`], by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl CorsPolicy {
    /// A builder with nothing allowed, no credentials, methods `GET, HEAD, POST`, no extra
    /// request headers, max-age [`DEFAULT_MAX_AGE`], Private Network Access off.
    pub fn builder() -> CorsPolicyBuilder {
        CorsPolicyBuilder {
            origins: Vec::new(),
            credentials: false,
            methods: vec!["GET".into(), "HEAD".into(), "POST".into()],
            headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: DEFAULT_MAX_AGE,
            private_network: false,
            private_network_origins: None,
        }
    }

    /// Decides one request and returns the headers to set. Refusals of an origin are audit
    /// events (`malicious_cors`) with the escaped origin and the reason code.
    pub fn decide(&self, request: &CorsRequest<'_>) -> CorsDecision {
        let decision = self.decide_quietly(request);
        if !matches!(decision.reason, CorsReason::Allowed | CorsReason::NoOrigin) {
            events::cors_refused(request.origin.unwrap_or(""), decision.reason.code());
        }
        decision
    }

    fn refuse(&self, reason: CorsReason) -> CorsDecision {
        // Even a refusal varies by Origin, so a shared cache never replays it to another origin.
        let headers = if self.any_origin { Vec::new() } else { vec![("Vary", "Origin".to_owned())] };
        CorsDecision { reason, headers }
    }

    /// [`CorsPolicy::decide`] without the audit event (for benchmarks and dry runs).
    pub fn decide_quietly(&self, request: &CorsRequest<'_>) -> CorsDecision {
        let Some(raw) = request.origin else { return self.refuse(CorsReason::NoOrigin) };
        let mut private_network = false;
        let allow_origin = if self.any_origin {
            // A public API: the literal `*`, never a reflected origin, never with credentials.
            "*".to_owned()
        } else {
            if raw == "null" {
                return self.refuse(CorsReason::NullOrigin);
            }
            let Ok(origin) = origin::parse_request(raw) else {
                return self.refuse(CorsReason::MalformedOrigin);
            };
            let canonical = origin.to_string();
            let parent = origin.parent_key();
            let listed_in = |exact: &HashSet<String>, wildcards: &HashSet<String>| {
                exact.contains(&canonical) || parent.as_ref().is_some_and(|k| wildcards.contains(k))
            };
            if !listed_in(&self.exact, &self.wildcards) {
                return self.refuse(CorsReason::OriginNotAllowed);
            }
            private_network = match &self.private_network {
                PrivateNetwork::Off => false,
                PrivateNetwork::EveryAllowedOrigin => true,
                PrivateNetwork::Only { exact, wildcards } => listed_in(exact, wildcards),
            };
            canonical
        };
        let mut headers = Vec::with_capacity(7);
        headers.push(("Access-Control-Allow-Origin", allow_origin));
        if !self.any_origin {
            headers.push(("Vary", "Origin".to_owned()));
        }
        if self.credentials {
            headers.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        if request.preflight {
            if !self.methods.iter().any(|m| m == request.method) {
                return self.refuse(CorsReason::MethodNotAllowed);
            }
            let mut requested = Vec::with_capacity(request.request_headers.len());
            for h in request.request_headers {
                let lower = h.trim().to_ascii_lowercase();
                if !self.headers.contains(&lower) {
                    return self.refuse(CorsReason::HeaderNotAllowed);
                }
                requested.push(lower);
            }
            headers.push(("Access-Control-Allow-Methods", self.methods_header.clone()));
            if !requested.is_empty() {
                headers.push(("Access-Control-Allow-Headers", requested.join(", ")));
            }
            headers.push(("Access-Control-Max-Age", self.max_age.to_string()));
            // Answered only after the origin check, and only for origins it is enabled for
            // (CVE-2024-6221).
            if request.private_network && private_network {
                headers.push(("Access-Control-Allow-Private-Network", "true".to_owned()));
            }
        } else if !self.expose_headers.is_empty() {
            headers.push(("Access-Control-Expose-Headers", self.expose_headers.clone()));
        }
        CorsDecision { reason: CorsReason::Allowed, headers }
    }
}

fn is_token(s: &str) -> bool {
    // RFC 9110 token characters: what a method or header name may contain.
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl CorsPolicyBuilder {
    /// Allowed origins: exact (`https://app.example.com`, optional port) or one-label
    /// wildcards (`https://*.example.com`), or the single entry `*` for a public API.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.origins.extend(origins.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth).
    pub fn allow_credentials(mut self, on: bool) -> Self {
        self.credentials = on;
        self
    }

    /// Methods a preflight may ask for, compared exactly (methods are case-sensitive).
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.methods = methods.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Request headers a preflight may ask for, compared case-insensitively.
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.headers = headers.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Response headers scripts may read (`Access-Control-Expose-Headers`).
    pub fn expose_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.expose_headers = headers.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// `Access-Control-Max-Age` of allowed preflights, in seconds.
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.max_age = seconds;
        self
    }

    /// Answer Private Network Access preflights from every allowed origin (off by default).
    /// To allow it for some origins only, use
    /// [`CorsPolicyBuilder::allow_private_network_origins`].
    pub fn allow_private_network(mut self, on: bool) -> Self {
        self.private_network = on;
        self
    }

    /// Answer Private Network Access preflights only from these origins (exact or one-label
    /// wildcards, as in [`CorsPolicyBuilder::allow_origins`]). Each must also be an allowed
    /// origin; `build` refuses one that is not, since it could never be answered.
    ///
    /// ```
    /// let policy = airlock::CorsPolicy::builder()
    ///     .allow_origins(["https://app.example.com", "https://router.example.com"])
    ///     .allow_private_network_origins(["https://router.example.com"])
    ///     .build()?;
    /// let ask = |origin| policy.decide_quietly(&airlock::CorsRequest {
    ///     origin: Some(origin), method: "GET", request_headers: &[],
    ///     preflight: true, private_network: true,
    /// });
    /// assert_eq!(ask("https://router.example.com").header("Access-Control-Allow-Private-Network"), Some("true"));
    /// assert_eq!(ask("https://app.example.com").header("Access-Control-Allow-Private-Network"), None);
    /// # Ok::<(), airlock::Error>(())
    /// ```
    pub fn allow_private_network_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.private_network_origins
            .get_or_insert_with(Vec::new)
            .extend(origins.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// Validates and normalises everything. Refused with [`Error::InvalidConfig`], naming the
    /// entry and the reason: `null`, `*` with credentials or with other entries, partial-label
    /// wildcards, paths, userinfo, non-http(s) schemes, invalid methods or header names.
    /// Either way the outcome is an audit event (`config_loaded` or `config_rejected`).
    pub fn build(self) -> Result<CorsPolicy> {
        let built = self.validate();
        match &built {
            Ok(p) => events::cors_loaded(p.exact.len(), p.wildcards.len(), p.any_origin, p.credentials),
            Err(e) => events::config_rejected("cors", e),
        }
        built
    }

    fn validate(self) -> Result<CorsPolicy> {
        let bad = |reason: String| Err(Error::InvalidConfig { reason });
        let mut policy = CorsPolicy {
            any_origin: false,
            exact: HashSet::new(),
            wildcards: HashSet::new(),
            credentials: self.credentials,
            methods: Vec::new(),
            methods_header: String::new(),
            headers: HashSet::new(),
            expose_headers: String::new(),
            max_age: self.max_age,
            private_network: if self.private_network {
                PrivateNetwork::EveryAllowedOrigin
            } else {
                PrivateNetwork::Off
            },
        };
        for raw in &self.origins {
            let shown = events::escape_untrusted(raw);
            match origin::parse_config(raw) {
                Ok(Entry::Any) => policy.any_origin = true,
                Ok(Entry::Exact(o)) => drop(policy.exact.insert(o.to_string())),
                Ok(Entry::Wildcard(o)) => drop(policy.wildcards.insert(o.to_string())),
                Err(why) => return bad(format!("CORS origin \"{shown}\": {why}")),
            }
        }
        if policy.any_origin && policy.credentials {
            return bad("CORS origin \"*\" cannot be combined with credentials: it would let \
                        every site make credentialed requests"
                .into());
        }
        if policy.any_origin && (!policy.exact.is_empty() || !policy.wildcards.is_empty()) {
            return bad("CORS origin \"*\" must be the only entry".into());
        }
        if let Some(entries) = &self.private_network_origins {
            if self.private_network {
                return bad("Private Network Access: set either every allowed origin or a list of \
                            origins, not both"
                    .into());
            }
            let (mut exact, mut wildcards) = (HashSet::new(), HashSet::new());
            for raw in entries {
                let shown = events::escape_untrusted(raw);
                let listed = match origin::parse_config(raw) {
                    Ok(Entry::Exact(o)) => {
                        let key = o.to_string();
                        let ok = policy.exact.contains(&key)
                            || o.parent_key().is_some_and(|k| policy.wildcards.contains(&k));
                        exact.insert(key);
                        ok
                    }
                    Ok(Entry::Wildcard(o)) => {
                        let key = o.to_string();
                        let ok = policy.wildcards.contains(&key);
                        wildcards.insert(key);
                        ok
                    }
                    Ok(Entry::Any) => {
                        return bad("Private Network Access cannot be allowed for every origin".into())
                    }
                    Err(why) => return bad(format!("Private Network Access origin \"{shown}\": {why}")),
                };
                if !listed {
                    return bad(format!(
                        "Private Network Access origin \"{shown}\" is not an allowed CORS origin"
                    ));
                }
            }
            policy.private_network = PrivateNetwork::Only { exact, wildcards };
        }
        if policy.any_origin && policy.private_network != PrivateNetwork::Off {
            return bad("Private Network Access cannot be allowed for every origin".into());
        }
        for m in &self.methods {
            if !is_token(m) {
                return bad(format!("CORS method \"{}\" is not a valid method", events::escape_untrusted(m)));
            }
            if !policy.methods.contains(m) {
                policy.methods.push(m.clone());
            }
        }
        policy.methods_header = policy.methods.join(", ");
        for h in &self.headers {
            if !is_token(h) {
                return bad(format!("CORS header \"{}\" is not a valid header name", events::escape_untrusted(h)));
            }
            policy.headers.insert(h.to_ascii_lowercase());
        }
        for h in &self.expose_headers {
            if !is_token(h) {
                return bad(format!("CORS header \"{}\" is not a valid header name", events::escape_untrusted(h)));
            }
        }
        policy.expose_headers = self.expose_headers.join(", ");
        Ok(policy)
    }
}
