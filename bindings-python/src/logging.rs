//! `init_logging`, `LoggingHandle`, `audit_event`, `RequestScope`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airlock::events::{AppEvent, Outcome};
use airlock::{AuditConfig, AuditWriter, LoggingConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::{guard, runtime, IntoPy};

/// Untrusted text bound for the audit trail. A Python `str` may hold lone surrogates, which are
/// not UTF-8; they become U+FFFD here, as the audit schema replaces invalid UTF-8, so a hostile
/// value never makes the audit call itself fail (and the event go missing).
pub(crate) struct AuditText(String);

impl<'a, 'py> FromPyObject<'a, 'py> for AuditText {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(AuditText(obj.cast::<PyString>()?.to_string_lossy().into_owned()))
    }
}

fn text(value: &Option<AuditText>) -> Option<&str> {
    value.as_ref().map(|t| t.0.as_str())
}

/// Returned by `init_logging`: the audit trail's counters and flush. Keep it for the life of
/// the process; the audit file is flushed when it is garbage-collected.
#[pyclass(module = "airlock", frozen)]
pub(crate) struct LoggingHandle {
    inner: airlock::LoggingHandle,
    writer: Arc<AuditWriter>,
}

#[pymethods]
impl LoggingHandle {
    /// Audit lines that could not be written to the file (they went to stderr instead).
    #[getter]
    fn dropped_events(&self) -> u64 {
        self.inner.dropped_events()
    }

    /// This process's current audit file (one per process: a forked worker writes its own).
    #[getter]
    fn audit_path(&self) -> PathBuf {
        self.writer.path()
    }

    /// Flushes the audit file.
    fn flush(&self, py: Python<'_>) {
        py.detach(|| self.inner.flush());
    }

    /// Writes this process's `shutdown` audit event (once) and flushes. Registered with
    /// `atexit` by `init_logging`.
    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.inner.shutdown());
    }

    fn __repr__(&self) -> String {
        format!("<LoggingHandle audit_path={:?} dropped_events={}>", self.writer.path(), self.dropped_events())
    }
}

/// Installs logging once per process: the operational log as JSON lines on stderr (filtered
/// by `filter`, a `RUST_LOG`-style directive) and the audit trail as fixed-schema JSON lines
/// in `audit_dir/{file_stem}.{pid}.jsonl`, rotated by size and age, mode `file_mode`.
#[pyfunction]
#[pyo3(signature = (audit_dir, *, app_name = None, app_version = None, filter = "info", max_bytes = 10 * 1024 * 1024,
    max_age = 86_400.0, keep_files = 14, file_mode = 0o600, file_stem = "audit"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn init_logging(
    py: Python<'_>,
    audit_dir: PathBuf,
    app_name: Option<String>,
    app_version: Option<String>,
    filter: &str,
    max_bytes: u64,
    max_age: f64,
    keep_files: usize,
    file_mode: u32,
    file_stem: &str,
) -> PyResult<Py<LoggingHandle>> {
    guard(py, || {
        let max_age = Duration::try_from_secs_f64(max_age)
            .map_err(|_| PyValueError::new_err("max_age must be a non-negative number of seconds"))?;
        let mut audit = AuditConfig::new(audit_dir)
            .file_stem(file_stem)
            .max_bytes(max_bytes)
            .max_age(max_age)
            .keep_files(keep_files)
            .file_mode(file_mode);
        if let Some(name) = app_name {
            audit = audit.app_name(name);
        }
        if let Some(version) = app_version {
            audit = audit.app_version(version);
        }
        let inner = airlock::init_logging(LoggingConfig::new(audit).filter(filter)).py(py)?;
        let writer = inner.writer();
        let handle = Bound::new(py, LoggingHandle { inner, writer })?;
        // Lines are flushed as they are written; at interpreter exit (also one that never
        // garbage-collects the handle) each process writes its `shutdown` event.
        py.import("atexit")?.call_method1("register", (handle.getattr("shutdown")?,))?;
        Ok(handle.unbind())
    })
}

/// Writes an application audit event (`outcome` is `"success"` or `"failure"`) with the same
/// schema as Airlock's own. Every text is escaped and cut; request fields left `None` come
/// from the enclosing `RequestScope`.
#[pyfunction]
#[pyo3(signature = (action, outcome, *, reason = None, detail = None, request_id = None, client_ip = None, key_id = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn audit_event(
    py: Python<'_>,
    action: AuditText,
    outcome: AuditText,
    reason: Option<AuditText>,
    detail: Option<AuditText>,
    request_id: Option<AuditText>,
    client_ip: Option<AuditText>,
    key_id: Option<AuditText>,
) -> PyResult<()> {
    guard(py, || {
        let outcome = match outcome.0.as_str() {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            other => return Err(PyValueError::new_err(format!("outcome must be 'success' or 'failure', not {other:?}"))),
        };
        let event = AppEvent {
            action: &action.0,
            outcome,
            reason: text(&reason),
            detail: text(&detail),
            request_id: text(&request_id),
            client_ip: text(&client_ip),
            key_id: text(&key_id),
        };
        py.detach(|| airlock::events::record(&event));
        Ok(())
    })
}

/// A context manager that gives every audit event emitted inside it (Airlock's own and
/// `audit_event`'s) the request's `request_id`, `client_ip` and, once set, `key_id`.
///
/// It is a tracing span entered on the thread that enters the scope (a Flask request
/// handler's) and must be exited on that thread; `set_key_id` works from any thread. Misuse is
/// a `RuntimeError`, never a panic: the class is not `unsendable`, because PyO3 turns a
/// cross-thread use of an unsendable object into a `PanicException`.
#[pyclass(module = "airlock")]
pub(crate) struct RequestScope {
    span: tracing::Span,
    /// The thread whose span stack holds the span while the scope is entered.
    entered_on: Option<std::thread::ThreadId>,
}

#[pymethods]
impl RequestScope {
    #[new]
    #[pyo3(signature = (*, request_id = None, client_ip = None))]
    fn new(request_id: Option<AuditText>, client_ip: Option<AuditText>) -> Self {
        RequestScope { span: airlock::events::request_span(text(&request_id), text(&client_ip)), entered_on: None }
    }

    /// Records the verified key id on the scope.
    fn set_key_id(&self, key_id: AuditText) {
        self.span.record("key_id", airlock::events::escape_untrusted(&key_id.0));
    }

    fn __enter__(mut slf: PyRefMut<'_, Self>) -> PyResult<PyRefMut<'_, Self>> {
        if slf.entered_on.is_some() {
            return Err(runtime("RequestScope is already entered"));
        }
        slf.span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        slf.entered_on = Some(std::thread::current().id());
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        match self.entered_on {
            None => Ok(false),
            Some(thread) if thread == std::thread::current().id() => {
                self.exit();
                Ok(false)
            }
            Some(_) => Err(runtime("RequestScope must be exited on the thread that entered it")),
        }
    }
}

impl RequestScope {
    fn exit(&mut self) {
        if self.entered_on.take().is_some() {
            self.span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }
}

impl Drop for RequestScope {
    fn drop(&mut self) {
        // Collected without `__exit__` (a scope used without `with`): leave the span on the
        // thread that entered it, if that is this one, so later events are not tagged with it.
        if self.entered_on == Some(std::thread::current().id()) {
            self.exit();
        }
    }
}
