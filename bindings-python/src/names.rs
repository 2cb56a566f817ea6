//! `sanitize_filename` / `parse_filename`.

use airlock::{Error, NameRule, SafeName};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{guard, IntoPy};

/// A client name as Python holds it: `str` (possibly with lone surrogates, which are not
/// UTF-8) or `bytes` (raw header bytes).
pub(crate) enum ClientName {
    Text(String),
    /// Not valid UTF-8: kept as bytes so the core gives its `invalid_utf8` verdict.
    Bytes(Vec<u8>),
}

impl ClientName {
    pub(crate) fn extract(name: &Bound<'_, PyAny>) -> PyResult<ClientName> {
        if let Ok(s) = name.cast::<PyString>() {
            return Ok(match s.to_str() {
                Ok(text) => ClientName::Text(text.to_owned()),
                // Lone surrogates: encode them as-is and let the core refuse the bytes, so
                // Python gets the same verdict as Rust's `sanitize_bytes` on the wire bytes.
                Err(_) => ClientName::Bytes(
                    s.call_method1("encode", ("utf-8", "surrogatepass"))?.cast_into::<PyBytes>()?.as_bytes().to_vec(),
                ),
            });
        }
        if let Ok(b) = name.cast::<PyBytes>() {
            let bytes = b.as_bytes();
            return Ok(match std::str::from_utf8(bytes) {
                Ok(text) => ClientName::Text(text.to_owned()),
                Err(_) => ClientName::Bytes(bytes.to_vec()),
            });
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "a file name must be str or bytes, not {}",
            name.get_type().name()?
        )))
    }

    pub(crate) fn sanitize(&self) -> airlock::Result<SafeName> {
        match self {
            ClientName::Text(s) => SafeName::sanitize(s),
            ClientName::Bytes(b) => SafeName::sanitize_bytes(b),
        }
    }

    pub(crate) fn parse(&self) -> airlock::Result<SafeName> {
        match self {
            ClientName::Text(s) => SafeName::parse(s),
            ClientName::Bytes(_) => Err(Error::InvalidName { rule: NameRule::InvalidUtf8 }),
        }
    }
}

/// Makes an untrusted client file name safe to store, following every rule of the name spec.
/// Raises `InvalidNameError` (a `ValueError`) when nothing safe is left.
#[pyfunction]
pub(crate) fn sanitize_filename(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(py, || Ok(ClientName::extract(name)?.sanitize().py(py)?.into()))
}

/// Accepts only names that `sanitize_filename` leaves unchanged: the check for lookups.
#[pyfunction]
pub(crate) fn parse_filename(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(py, || Ok(ClientName::extract(name)?.parse().py(py)?.into()))
}

/// A `SafeName` from a Python name argument (lookups).
pub(crate) fn lookup_name(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<SafeName> {
    ClientName::extract(name)?.parse().py(py)
}
