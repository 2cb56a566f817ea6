//! Security-relevant events, emitted as `tracing` events with stable names.
//!
//! Every event has `target: "airlock::audit"` and an `action` field using the OWASP logging
//! vocabulary where one exists. Attacker-controlled text only ever goes into named fields, and
//! escaped ([`escape_untrusted`]), never into the message template: a client name with CR/LF
//! cannot forge a log line even with a plain-text formatter.

use crate::error::{Error, ErrorCode};
use crate::name::SafeName;
use crate::store::Stored;

/// The `tracing` target of every audit event.
pub const AUDIT_TARGET: &str = "airlock::audit";

/// Longest escaped untrusted field kept in an event; longer ones are cut and marked.
const MAX_FIELD_CHARS: usize = 256;

/// Escapes untrusted text for a log field: control, bidi and other non-printable characters
/// become `\u{..}` escapes, and anything beyond 256 characters is cut and marked with `…[cut]`.
///
/// ```
/// let line = airlock::events::escape_untrusted("a.txt\r\n127.0.0.1 - admin [login ok]");
/// assert!(!line.contains('\n') && !line.contains('\r'));
/// ```
pub fn escape_untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_FIELD_CHARS) + 8);
    for (i, c) in text.chars().enumerate() {
        if i == MAX_FIELD_CHARS {
            out.push_str("…[cut]");
            break;
        }
        // escape_debug escapes controls, bidi overrides, zero-width and other invisible
        // characters, and quotes/backslashes.
        out.extend(c.escape_debug());
    }
    out
}

pub(crate) fn upload_stored(stored: &Stored) {
    tracing::info!(
        target: AUDIT_TARGET,
        action = "upload_stored",
        outcome = "success",
        name = %escape_untrusted(stored.name().as_str()),
        size = stored.size(),
        sha256 = %stored.sha256_hex(),
        "upload stored"
    );
}

pub(crate) fn upload_refused(client_name: &str, error: &Error) {
    let rule = error.name_rule().map(|r| r.code()).unwrap_or("");
    tracing::warn!(
        target: AUDIT_TARGET,
        action = "upload_refused",
        outcome = "failure",
        reason = error.code().as_str(),
        rule,
        client_name = %escape_untrusted(client_name),
        "upload refused"
    );
}

pub(crate) fn upload_discarded(name: &SafeName, received: u64, failure: Option<ErrorCode>) {
    tracing::warn!(
        target: AUDIT_TARGET,
        action = "upload_refused",
        outcome = "failure",
        reason = failure.map_or("abandoned", ErrorCode::as_str),
        name = %escape_untrusted(name.as_str()),
        received,
        "upload discarded; nothing was stored"
    );
}

pub(crate) fn escape_attempt(name: &str, op: &'static str) {
    tracing::warn!(
        target: AUDIT_TARGET,
        action = "path_escape_attempt",
        outcome = "failure",
        reason = "symlink",
        op,
        name = %escape_untrusted(name),
        "refused to follow a symbolic link in the store"
    );
}

#[cfg(feature = "model")]
pub(crate) fn model_loading(model: &str) {
    tracing::info!(target: AUDIT_TARGET, action = "model_load_started", outcome = "pending",
        model = %escape_untrusted(model), "model loading");
}

#[cfg(feature = "model")]
pub(crate) fn model_ready(model: &str, load_ms: u128) {
    tracing::info!(target: AUDIT_TARGET, action = "model_ready", outcome = "success",
        model = %escape_untrusted(model), load_ms = load_ms as u64, "model ready");
}

#[cfg(feature = "model")]
pub(crate) fn model_failed(model: &str, error: &Error, attempts: u32) {
    tracing::error!(target: AUDIT_TARGET, action = "model_load_failed", outcome = "failure",
        reason = error.code().as_str(), detail = %escape_untrusted(&error.to_string()),
        model = %escape_untrusted(model), attempts, "model failed to load");
}

pub(crate) fn cors_refused(origin: &str, reason: &'static str) {
    tracing::warn!(target: AUDIT_TARGET, action = "malicious_cors", outcome = "failure",
        reason, origin = %escape_untrusted(origin), "cross-origin request refused");
}

pub(crate) fn keys_loaded(variable: &str, count: usize, production: bool) {
    tracing::info!(target: AUDIT_TARGET, action = "config_loaded", outcome = "success",
        variable, keys = count as u64, production, "API keys loaded");
}

pub(crate) fn keys_rejected(variable: &str, error: &Error) {
    tracing::error!(target: AUDIT_TARGET, action = "config_rejected", outcome = "failure",
        reason = error.code().as_str(), variable, detail = %escape_untrusted(&error.to_string()),
        "API key file change refused; the previous keys stay active");
}

/// A configuration refused at load time (`component`: the key variable, or `cors`), so a
/// server that fails to start leaves the reason in the audit trail, not only on its console.
pub(crate) fn config_rejected(component: &str, error: &Error) {
    tracing::error!(target: AUDIT_TARGET, action = "config_rejected", outcome = "failure",
        reason = error.code().as_str(), variable = %escape_untrusted(component),
        detail = %escape_untrusted(&error.to_string()), "configuration refused");
}

pub(crate) fn cors_loaded(exact: usize, wildcards: usize, any_origin: bool, credentials: bool) {
    tracing::info!(target: AUDIT_TARGET, action = "config_loaded", outcome = "success",
        variable = "cors", exact_origins = exact as u64, wildcard_origins = wildcards as u64,
        any_origin, credentials, "CORS policy loaded");
}

/// The audit trail's last event of a process, written by [`crate::LoggingHandle::shutdown`].
pub(crate) fn shutdown() {
    tracing::info!(target: AUDIT_TARGET, action = "shutdown", outcome = "success", "shutting down");
}

pub(crate) fn weak_key_accepted(variable: &str, key_id: &str, rule: &'static str) {
    tracing::warn!(target: AUDIT_TARGET, action = "config_weak_key", outcome = "warning",
        reason = rule, variable, key_id, "weak API key accepted because this is not production");
}

pub(crate) fn key_verified(variable: &str, key_id: &str) {
    tracing::info!(target: AUDIT_TARGET, action = "authn_token_verified", outcome = "success",
        variable, key_id, "API key verified");
}

pub(crate) fn key_refused(variable: &str) {
    tracing::warn!(target: AUDIT_TARGET, action = "authn_token_fail", outcome = "failure",
        reason = "no_matching_key", variable, "API key refused");
}

/// Whether an application event succeeded. Chooses the level too: failures are warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The action was allowed or completed.
    Success,
    /// The action was refused or failed.
    Failure,
}

impl Outcome {
    /// `success` or `failure`, as written in the audit schema.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// An audit event of the application's own (an HTTP handler's, or a binding's), written with
/// the same schema as Airlock's events. Every text field is untrusted: it is escaped and cut.
///
/// ```
/// use airlock::events::{record, AppEvent, Outcome};
/// record(&AppEvent {
///     action: "upload_deleted",
///     outcome: Outcome::Success,
///     reason: None,
///     detail: Some("photo.jpg"),
///     request_id: Some("r-42"),
///     client_ip: Some("203.0.113.7"),
///     key_id: Some("ops"),
/// });
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AppEvent<'a> {
    /// What happened, in the OWASP logging vocabulary where one fits (`authz_fail`, ...).
    pub action: &'a str,
    /// Success or failure.
    pub outcome: Outcome,
    /// A short machine-readable reason (an error code, say).
    pub reason: Option<&'a str>,
    /// Free text: the object acted on, a status code.
    pub detail: Option<&'a str>,
    /// The request id; when `None`, the enclosing [`request_span`]'s is used.
    pub request_id: Option<&'a str>,
    /// The client address; when `None`, the enclosing [`request_span`]'s is used.
    pub client_ip: Option<&'a str>,
    /// The verified key id; when `None`, the enclosing [`request_span`]'s is used.
    pub key_id: Option<&'a str>,
}

/// Writes an [`AppEvent`] to the audit trail (target [`AUDIT_TARGET`]).
pub fn record(event: &AppEvent<'_>) {
    let e = |s: Option<&str>| s.map(escape_untrusted);
    let (action, reason, detail) = (escape_untrusted(event.action), e(event.reason), e(event.detail));
    let (request_id, client_ip, key_id) = (e(event.request_id), e(event.client_ip), e(event.key_id));
    macro_rules! emit {
        ($level:ident) => {
            tracing::$level!(target: AUDIT_TARGET, action = %action, outcome = event.outcome.as_str(),
                reason = reason.as_deref(), detail = detail.as_deref(), request_id = request_id.as_deref(),
                client_ip = client_ip.as_deref(), key_id = key_id.as_deref(), "application event")
        };
    }
    match event.outcome {
        Outcome::Success => emit!(info),
        Outcome::Failure => emit!(warn),
    }
}

/// A span carrying the request fields of the audit schema: every audit event emitted while it
/// is entered (by Airlock or by [`record`]) gets its `request_id` and `client_ip`, and the
/// `key_id` once recorded with `span.record("key_id", id)`.
///
/// ```
/// let span = airlock::events::request_span(Some("r-7"), Some("198.51.100.2"));
/// let _entered = span.enter();
/// span.record("key_id", "ops");
/// ```
pub fn request_span(request_id: Option<&str>, client_ip: Option<&str>) -> tracing::Span {
    let e = |s: Option<&str>| s.map(escape_untrusted);
    let (request_id, client_ip) = (e(request_id), e(client_ip));
    tracing::info_span!(target: AUDIT_TARGET, "request", request_id = request_id.as_deref(),
        client_ip = client_ip.as_deref(), key_id = tracing::field::Empty)
}
