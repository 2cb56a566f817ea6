//! The one place where Airlock errors and panics become Python exceptions.
//!
//! Exception classes live in `airlock/_errors.py` (a Python class can have two bases, such as
//! `AirlockError` and `ValueError`; PyO3's macros allow one). Each class is looked up by the
//! core's stable code, so `exc.code == airlock::ErrorCode::as_str()` always.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use airlock::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Converts a core error into the matching `airlock` exception, with its extra attributes
/// (`rule`, `limit`, `name`) set.
pub(crate) fn to_py(py: Python<'_>, error: Error) -> PyErr {
    build(py, &error).unwrap_or_else(|e| e)
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let by_code = py.import("airlock._errors")?.getattr("_BY_CODE")?;
    let class = by_code.get_item(error.code().as_str())?;
    let exc = class.call1((error.to_string(),))?;
    match error {
        Error::InvalidName { rule } => exc.setattr("rule", rule.code())?,
        Error::TooLarge { limit } => exc.setattr("limit", *limit)?,
        Error::AlreadyExists { name }
        | Error::NotFound { name }
        | Error::NotRegularFile { name }
        | Error::EscapeAttempt { name } => exc.setattr("filename", name.as_str())?,
        Error::ModelFailed { attempts, retry_in, failure } => {
            exc.setattr("attempts", *attempts)?;
            exc.setattr("retry_in", retry_in.map(|d| d.as_secs_f64()))?;
            exc.setattr("cause_code", failure.code.as_str())?;
        }
        Error::ModelNotReady { state } => exc.setattr("state", *state)?,
        _ => {}
    }
    if let Error::Io { source, .. } | Error::UploadAborted { source, .. } = error {
        if let Some(errno) = source.raw_os_error() {
            exc.setattr("errno", errno)?;
        }
    }
    Ok(PyErr::from_value(exc))
}

/// Extension trait: `result.py(py)?` converts a core error.
pub(crate) trait IntoPy<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for airlock::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// Runs `f`, turning a panic into `airlock.InternalError` (code `internal`).
///
/// PyO3 would raise `PanicException`, a `BaseException` that `except Exception` does not
/// catch: one bug would take a whole gunicorn worker down. Every entry point goes through here.
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(to_py(py, Error::Internal { reason: panic_text(payload.as_ref()) })),
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned());
    text.lines().next().unwrap_or("").chars().take(200).collect()
}

/// Error codes of the core, for the test that every code has an exception class.
pub(crate) fn codes() -> Vec<&'static str> {
    airlock::ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// A `RuntimeError` for misuse that is not an Airlock error (closed objects and the like).
pub(crate) fn runtime(message: &str) -> PyErr {
    PyRuntimeError::new_err(message.to_owned())
}

