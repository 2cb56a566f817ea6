//! The audit trail: audit events (target [`AUDIT_TARGET`]) written as JSON lines with a fixed
//! schema to a per-process, size- and time-rotated file with a restrictive mode.
//!
//! * [`AuditLayer`] — a `tracing_subscriber` layer that keeps only audit events and writes each
//!   one as a single JSON line: `ts`, `seq`, `level`, `action`, `outcome`, `reason`,
//!   `request_id`, `client_ip`, `key_id`, `app`, `app_version`, `message` (always present, `null`
//!   when unknown) and `fields` (every other field). Strings are escaped with
//!   [`escape_untrusted`] and secret-looking fields are redacted.
//! * [`AuditWriter`] — the file: `{dir}/{stem}.{pid}.jsonl`, rotated by size and age, synchronous
//!   (never silently lossy: a failed write is counted and the line goes to stderr), reopened for
//!   the new pid after `fork`.
//! * [`OperationalLayer`] — the operational log: every other event as one JSON line, with the
//!   same escaping and redaction.
//! * [`init_logging`] — installs the global subscriber: the operational log on stderr plus the
//!   audit layer.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use tracing_subscriber::layer::SubscriberExt;
//! let layer = airlock::AuditLayer::new(
//!     airlock::AuditConfig::new(dir.path()).app_name("demo").app_version("1.0"))?;
//! let writer = layer.writer();
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     tracing::warn!(target: "airlock::audit", action = "authn_token_fail",
//!         outcome = "failure", reason = "no_matching_key", "API key refused");
//! });
//! let text = std::fs::read_to_string(writer.path())?;
//! assert!(text.contains(r#""action":"authn_token_fail""#));
//! assert_eq!(writer.dropped_events(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::error::{Error, Result};
use crate::events::{escape_untrusted, AUDIT_TARGET};

/// Default size after which the audit file is rotated: 10 MiB.
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Default age after which the audit file is rotated: 24 hours.
pub const DEFAULT_AUDIT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Default number of rotated files kept per process.
pub const DEFAULT_AUDIT_KEEP_FILES: usize = 14;
/// Default mode of audit files: owner read/write only.
pub const DEFAULT_AUDIT_FILE_MODE: u32 = 0o600;

/// Mode bits an audit file may never have: execute for anyone, write for the group, anything
/// for others.
const AUDIT_MODE_FORBIDDEN: u32 = 0o137;

/// The value written in place of a secret-looking field.
pub const REDACTED: &str = "[redacted]";

/// Where and how the audit trail is written.
///
/// ```
/// use std::time::Duration;
/// let config = airlock::AuditConfig::new("/var/log/myapp")
///     .file_stem("audit")
///     .app_name("myapp")
///     .app_version("2.1.0")
///     .max_bytes(5 * 1024 * 1024)
///     .max_age(Duration::from_secs(3600))
///     .keep_files(30)
///     .file_mode(0o640);
/// assert_eq!(config.path_for_pid(42), std::path::Path::new("/var/log/myapp/audit.42.jsonl"));
/// ```
#[derive(Clone, Debug)]
pub struct AuditConfig {
    dir: PathBuf,
    file_stem: String,
    app_name: Option<String>,
    app_version: Option<String>,
    max_bytes: u64,
    max_age: Duration,
    keep_files: usize,
    file_mode: u32,
}

impl AuditConfig {
    /// Audit files in `dir`, with the defaults: stem `audit`, 10 MiB, 24 h, 14 files, mode 0600.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AuditConfig {
            dir: dir.into(),
            file_stem: "audit".to_owned(),
            app_name: None,
            app_version: None,
            max_bytes: DEFAULT_AUDIT_MAX_BYTES,
            max_age: DEFAULT_AUDIT_MAX_AGE,
            keep_files: DEFAULT_AUDIT_KEEP_FILES,
            file_mode: DEFAULT_AUDIT_FILE_MODE,
        }
    }

    /// The file name stem (`{stem}.{pid}.jsonl`).
    pub fn file_stem(mut self, stem: impl Into<String>) -> Self {
        self.file_stem = stem.into();
        self
    }

    /// The `app` field of every line.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// The `app_version` field of every line.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Rotate once the current file has grown past this many bytes.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Rotate once the current file has been open this long.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Number of rotated files kept per process (the oldest are removed). Files of processes
    /// that have exited (a restarted worker's) are removed once they are older than
    /// `keep_files × max_age`, the span a running process keeps.
    pub fn keep_files(mut self, n: usize) -> Self {
        self.keep_files = n;
        self
    }

    /// Unix mode of the audit files: `0o600` (the default) or `0o640`. Anything that lets
    /// the group write, or others read, or anyone execute, is refused when logging starts: an
    /// audit trail others can rewrite is no trail. The mode is set on the open file, so neither
    /// the umask nor an existing file with looser bits changes it.
    pub fn file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode;
        self
    }

    /// The directory of the audit files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current audit file of process `pid`.
    pub fn path_for_pid(&self, pid: u32) -> PathBuf {
        self.dir.join(format!("{}.{}.jsonl", self.file_stem, pid))
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: &str| Err(Error::InvalidConfig { reason: reason.to_owned() });
        if self.file_stem.is_empty()
            || self.file_stem.contains('/')
            || self.file_stem.contains('\0')
            || self.file_stem.starts_with('.')
        {
            return bad("audit file stem must be a plain, non-hidden file name");
        }
        if self.max_bytes == 0 {
            return bad("audit max_bytes must be positive");
        }
        if self.max_age.is_zero() {
            return bad("audit max_age must be positive");
        }
        if self.keep_files == 0 {
            return bad("audit keep_files must be at least 1");
        }
        if self.file_mode & !0o777 != 0
            || self.file_mode & 0o600 != 0o600
            || self.file_mode & AUDIT_MODE_FORBIDDEN != 0
        {
            return bad("audit file_mode must be 0o600 or 0o640 (owner read/write, group read at most)");
        }
        Ok(())
    }
}

struct OpenFile {
    pid: u32,
    path: PathBuf,
    file: FileRotate<AppendCount>,
    opened_at: Instant,
    /// Mirrors file-rotate's byte count, so a size rotation also restarts the age clock.
    bytes: u64,
    next_seq: u64,
}

/// The audit file of this process: synchronous, rotated by size and age, reopened after fork.
///
/// Each line is written with one `write` and flushed under a mutex. A line that cannot be
/// written is counted ([`AuditWriter::dropped_events`]) and printed to stderr instead.
pub struct AuditWriter {
    config: AuditConfig,
    state: Mutex<Option<OpenFile>>,
    dropped: AtomicU64,
}

impl fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditWriter")
            .field("config", &self.config)
            .field("dropped", &self.dropped_events())
            .finish_non_exhaustive()
    }
}

impl AuditWriter {
    /// Opens (creating it and its directory if needed) the audit file of this process.
    pub fn open(config: AuditConfig) -> Result<Self> {
        config.validate()?;
        let file = open_file(&config, std::process::id())?;
        Ok(AuditWriter { config, state: Mutex::new(Some(file)), dropped: AtomicU64::new(0) })
    }

    /// The configuration.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// The current audit file of this process.
    pub fn path(&self) -> PathBuf {
        self.config.path_for_pid(std::process::id())
    }

    /// Lines that could not be written to the file (they went to stderr instead).
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Flushes the current file.
    pub fn flush(&self) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = guard.as_mut() {
            if open.pid == std::process::id() {
                let _ = open.file.flush();
            }
        }
    }

    /// Writes one record: adds its `seq` (per process, from 1), serialises it as one JSON line,
    /// rotates if the file is too big or too old, writes and flushes.
    pub fn write_record(&self, mut record: Map<String, Value>) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if guard.as_ref().is_none_or(|open| open.pid != pid) {
            // First write after a fork (or after a failed reopen): the child gets its own file
            // and never touches the parent's. Forget the parent's handle without rotating.
            match open_file(&self.config, pid) {
                Ok(fresh) => *guard = Some(fresh),
                Err(_) => *guard = None,
            }
        }
        let seq = match guard.as_mut() {
            Some(open) => {
                let s = open.next_seq;
                open.next_seq += 1;
                s
            }
            None => 0,
        };
        record.insert("seq".to_owned(), Value::from(seq));
        let mut line = serde_json::to_string(&Value::Object(record))
            .unwrap_or_else(|_| r#"{"message":"unserialisable audit record"}"#.to_owned());
        line.push('\n');
        let written = match guard.as_mut() {
            Some(open) => open.write_line(&self.config, line.as_bytes()),
            None => Err(std::io::Error::other("audit file could not be opened")),
        };
        if written.is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

impl OpenFile {
    fn write_line(&mut self, config: &AuditConfig, line: &[u8]) -> std::io::Result<()> {
        if self.bytes > config.max_bytes {
            // file-rotate (BytesSurpassed) rotates inside this write.
            self.bytes = 0;
            self.opened_at = Instant::now();
        } else if self.opened_at.elapsed() >= config.max_age {
            self.file.rotate()?;
            self.bytes = 0;
            self.opened_at = Instant::now();
        }
        if !self.path.exists() {
            // file-rotate forgets a failed (re)open and then discards writes; refuse instead.
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "audit file missing"));
        }
        self.file.write_all(line)?;
        self.bytes += line.len() as u64;
        self.file.flush()
    }
}

/// Removes the audit files of processes that have exited and that are older than the retention
/// span (`keep_files × max_age`).
///
/// Why: rotation and its count limit are per process, so each restarted worker of a pre-fork
/// server would otherwise leave its files behind forever. A file whose pid is alive (or whose
/// pid was reused) is never touched: one process never removes another's current trail.
fn prune_exited(config: &AuditConfig, own_pid: u32) {
    let retention = config.max_age.saturating_mul(u32::try_from(config.keep_files).unwrap_or(u32::MAX));
    let Ok(entries) = std::fs::read_dir(&config.dir) else { return };
    let prefix = format!("{}.", config.file_stem);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        // `{pid}.jsonl` or a rotated `{pid}.jsonl.{n}`.
        let Some((pid, suffix)) = rest.split_once('.') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !(suffix == "jsonl" || suffix.strip_prefix("jsonl.").is_some_and(|n| n.parse::<u32>().is_ok())) {
            continue;
        }
        if pid == own_pid || process_exists(pid) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > retention);
        if meta.is_file() && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { return true };
    // Signal 0 checks existence only; EPERM means it exists under another user.
    !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

fn open_file(config: &AuditConfig, pid: u32) -> Result<OpenFile> {
    std::fs::create_dir_all(&config.dir).map_err(|e| Error::io("create audit directory", e))?;
    prune_exited(config, pid);
    let path = config.path_for_pid(pid);
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true).mode(config.file_mode);
    // Open once ourselves: file-rotate swallows open errors.
    let probe = options.open(&path).map_err(|e| Error::io("open audit file", e))?;
    // `mode` applies only to a file this call creates, minus the umask: set it on the
    // descriptor, so a file left with looser bits (by another tool, or an older config) is
    // tightened too.
    rustix::fs::fchmod(&probe, rustix::fs::Mode::from_raw_mode(config.file_mode))
        .map_err(|e| Error::io("set audit file mode", e))?;
    let bytes = probe.metadata().map(|m| m.len()).unwrap_or(0);
    drop(probe);
    let file = FileRotate::new(
        &path,
        AppendCount::new(config.keep_files),
        ContentLimit::BytesSurpassed(usize::try_from(config.max_bytes).unwrap_or(usize::MAX)),
        Compression::None,
        Some(options),
    );
    Ok(OpenFile { pid, path, file, opened_at: Instant::now(), bytes, next_seq: 1 })
}

/// Whether a field name looks like it holds a secret.
///
/// ```
/// assert!(airlock::audit::is_secret_field("api_key"));
/// assert!(airlock::audit::is_secret_field("Authorization"));
/// assert!(!airlock::audit::is_secret_field("key_id"));
/// assert!(!airlock::audit::is_secret_field("keys"));
/// ```
pub fn is_secret_field(name: &str) -> bool {
    if matches!(name, "key_id" | "key_ids" | "keys") {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    ["key", "token", "secret", "password", "passwd", "authorization", "cookie"]
        .iter()
        .any(|needle| lower.contains(needle))
}

const SCHEMA_FIELDS: [&str; 6] = ["action", "outcome", "reason", "request_id", "client_ip", "key_id"];
const SPAN_FIELDS: [&str; 3] = ["request_id", "client_ip", "key_id"];

/// Collects fields as escaped, redacted JSON values.
#[derive(Default)]
struct Collect {
    values: Vec<(&'static str, Value)>,
    only: Option<&'static [&'static str]>,
}

impl Collect {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if self.only.is_some_and(|only| !only.contains(&name)) {
            return;
        }
        let value = if is_secret_field(name) {
            Value::from(REDACTED)
        } else {
            match value {
                Value::String(s) => Value::from(escape_untrusted(&s)),
                other => other,
            }
        };
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, value));
    }
}

impl Visit for Collect {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// `request_id`, `client_ip` and `key_id` recorded on a span, kept in its extensions.
struct SpanFields(Vec<(&'static str, Value)>);

/// Fills `record`'s unset (or null) span fields from the spans around `event`, innermost
/// first. The fields were collected by the [`AuditLayer`] when each span was created.
/// An event as a JSON record of `ts`, `level` and its fields, escaped and redacted: the ones
/// `top_level` picks at the top, the others under `fields`. Shared by the audit and the
/// operational layer, so both treat attacker text the same way.
fn event_record(event: &Event<'_>, top_level: impl Fn(&str) -> bool) -> Map<String, Value> {
    let mut c = Collect::default();
    event.record(&mut c);
    let mut record = Map::new();
    record.insert("ts".to_owned(), Value::from(rfc3339_millis(SystemTime::now())));
    record.insert("level".to_owned(), Value::from(event.metadata().level().as_str()));
    let mut fields = Map::new();
    for (name, value) in c.values {
        if top_level(name) {
            record.insert(name.to_owned(), value);
        } else {
            fields.insert(name.to_owned(), value);
        }
    }
    record.insert("fields".to_owned(), Value::Object(fields));
    record
}

fn fill_span_fields<S>(record: &mut Map<String, Value>, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(scope) = ctx.event_scope(event) else { return };
    for span in scope {
        let ext = span.extensions();
        let Some(SpanFields(values)) = ext.get::<SpanFields>() else { continue };
        for (name, value) in values {
            if record.get(*name).is_none_or(Value::is_null) {
                record.insert((*name).to_owned(), value.clone());
            }
        }
    }
}

/// A `tracing_subscriber` layer writing audit events ([`AUDIT_TARGET`]) to an [`AuditWriter`].
///
/// Events of other targets are ignored. `request_id`, `client_ip` and `key_id` come from the
/// event or, failing that, from the innermost enclosing span that has them.
#[derive(Debug, Clone)]
pub struct AuditLayer {
    writer: Arc<AuditWriter>,
}

impl AuditLayer {
    /// Opens the audit file described by `config` and builds the layer.
    pub fn new(config: AuditConfig) -> Result<Self> {
        Ok(AuditLayer { writer: Arc::new(AuditWriter::open(config)?) })
    }

    /// A layer over an existing writer.
    pub fn with_writer(writer: Arc<AuditWriter>) -> Self {
        AuditLayer { writer }
    }

    /// The writer (for [`AuditWriter::dropped_events`], [`AuditWriter::flush`], the path).
    pub fn writer(&self) -> Arc<AuditWriter> {
        Arc::clone(&self.writer)
    }
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Collect { only: Some(&SPAN_FIELDS), ..Collect::default() };
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(c.values));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut c = Collect { only: Some(&SPAN_FIELDS), ..Collect::default() };
        values.record(&mut c);
        if c.values.is_empty() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(fields) => {
                    for (name, value) in c.values {
                        fields.0.retain(|(n, _)| *n != name);
                        fields.0.push((name, value));
                    }
                }
                None => ext.insert(SpanFields(c.values)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() != AUDIT_TARGET {
            return;
        }
        let mut record = event_record(event, |name| name == "message" || SCHEMA_FIELDS.contains(&name));
        // The fixed schema: every field present, null when neither the event nor a span sets it.
        for name in SCHEMA_FIELDS.into_iter().chain(["message"]) {
            record.entry(name).or_insert(Value::Null);
        }
        let config = self.writer.config();
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, |s| escape_untrusted(s).into());
        record.insert("app".to_owned(), opt(&config.app_name));
        record.insert("app_version".to_owned(), opt(&config.app_version));

        // Span fields fill in what the event did not set, innermost span first.
        fill_span_fields(&mut record, event, &ctx);
        self.writer.write_record(record);
    }
}

/// The operational log: every event that is not an audit event, as one JSON line
/// (`ts`, `level`, `target`, `message`, `fields`, and the request fields of the enclosing
/// [`events::request_span`](crate::events::request_span) when there is one).
///
/// Why not tracing-subscriber's own JSON formatter: it writes field values as they are, so an
/// application's `api_key = …` field, or a client name with bidi controls, would reach the
/// operational log unredacted and unescaped. This layer applies the audit trail's rules to
/// every field: secret-looking names are redacted ([`is_secret_field`]) and text is escaped and
/// cut ([`escape_untrusted`]). Unlike the audit trail it is best effort: a failed write is lost.
///
/// Span fields come from the [`AuditLayer`]'s records, so install both (as [`init_logging`]
/// does) to get `request_id` and `client_ip` here.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use std::sync::{Arc, Mutex};
/// #[derive(Clone, Default)]
/// struct Buffer(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buffer {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let out = Buffer::default();
/// let sink = out.clone();
/// let layer = airlock::audit::OperationalLayer::new(move || sink.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::info!(db_password = "hunter2", user = "a\r\nforged", "connected");
/// });
/// let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
/// assert_eq!(text.lines().count(), 1);
/// assert!(!text.contains("hunter2") && text.contains("[redacted]"));
/// ```
pub struct OperationalLayer<W> {
    make_writer: W,
}

impl<W> fmt::Debug for OperationalLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationalLayer").finish_non_exhaustive()
    }
}

impl<W> OperationalLayer<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    /// A layer writing each line to a fresh writer from `make_writer` (`std::io::stderr`, say).
    pub fn new(make_writer: W) -> Self {
        OperationalLayer { make_writer }
    }
}

impl<S, W> Layer<S> for OperationalLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() == AUDIT_TARGET {
            return;
        }
        let mut record = event_record(event, |name| name == "message");
        record.insert("target".to_owned(), Value::from(meta.target()));
        fill_span_fields(&mut record, event, &ctx);
        let Ok(mut line) = serde_json::to_string(&Value::Object(record)) else { return };
        line.push('\n');
        // One write per line, so concurrent events never interleave within a line.
        let _ = self.make_writer.make_writer_for(meta).write_all(line.as_bytes());
    }
}

/// `time` as UTC RFC 3339 with milliseconds, e.g. `2026-12-03T19:52:34.123Z`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // 2000-02-29
/// assert_eq!(airlock::audit::rfc3339_millis(t), "2000-02-29T00:00:00.123Z");
/// ```
pub fn rfc3339_millis(time: SystemTime) -> String {
    let d = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Configuration of [`init_logging`].
///
/// ```
/// let config = airlock::LoggingConfig::new(airlock::AuditConfig::new("/var/log/myapp"))
///     .filter("info,airlock=debug");
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct LoggingConfig {
    filter: String,
    audit: AuditConfig,
}

impl LoggingConfig {
    /// Operational log at `info`, audit trail as configured.
    pub fn new(audit: AuditConfig) -> Self {
        LoggingConfig { filter: "info".to_owned(), audit }
    }

    /// A `RUST_LOG`-style filter for the operational log (stderr). The audit target is always
    /// excluded from it; the audit trail is not level-filtered.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = filter.into();
        self
    }
}

/// Returned by [`init_logging`]; writes the `shutdown` audit event and flushes the audit file
/// when dropped (or at [`LoggingHandle::shutdown`]).
#[derive(Debug)]
pub struct LoggingHandle {
    writer: Arc<AuditWriter>,
    /// The pid that wrote `shutdown`: a forked child inherits the handle but has not shut down.
    shut_down_by: AtomicU64,
}

impl LoggingHandle {
    /// Audit lines that could not be written to the file (they went to stderr instead).
    pub fn dropped_events(&self) -> u64 {
        self.writer.dropped_events()
    }

    /// Flushes the audit file.
    pub fn flush(&self) {
        self.writer.flush();
    }

    /// The audit writer.
    pub fn writer(&self) -> Arc<AuditWriter> {
        Arc::clone(&self.writer)
    }

    /// Writes the `shutdown` audit event and flushes: call it as the process exits (Python
    /// does, through `atexit`). Once per process; later calls only flush. Each process of a
    /// pre-fork server writes its own, in its own file.
    pub fn shutdown(&self) {
        let pid = u64::from(std::process::id());
        if self.shut_down_by.swap(pid, Ordering::SeqCst) != pid {
            crate::events::shutdown();
        }
        self.writer.flush();
    }
}

impl Drop for LoggingHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Installs the global `tracing` subscriber: an operational JSON log on stderr (filtered by
/// [`LoggingConfig::filter`], without audit events) and the [`AuditLayer`].
///
/// A second call, or a call after another global subscriber was installed, returns
/// [`Error::InvalidConfig`].
///
/// ```no_run
/// let handle = airlock::init_logging(
///     airlock::LoggingConfig::new(airlock::AuditConfig::new("/var/log/myapp").app_name("myapp")),
/// )?;
/// // ... serve ...
/// assert_eq!(handle.dropped_events(), 0);
/// # Ok::<(), airlock::Error>(())
/// ```
pub fn init_logging(config: LoggingConfig) -> Result<LoggingHandle> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::EnvFilter;

    let already = || Error::InvalidConfig { reason: "logging is already initialised".to_owned() };
    if INITIALISED.load(Ordering::SeqCst) {
        return Err(already());
    }
    let filter = EnvFilter::try_new(format!("{},{AUDIT_TARGET}=off", config.filter)).map_err(|e| {
        Error::InvalidConfig { reason: format!("invalid log filter: {e}") }
    })?;
    let layer = AuditLayer::new(config.audit)?;
    let writer = layer.writer();
    let operational = OperationalLayer::new(std::io::stderr).with_filter(filter);
    let subscriber = tracing_subscriber::registry().with(operational).with(layer);
    if INITIALISED.swap(true, Ordering::SeqCst) {
        return Err(already());
    }
    tracing::subscriber::set_global_default(subscriber).map_err(|_| already())?;
    Ok(LoggingHandle { writer, shut_down_by: AtomicU64::new(0) })
}
