//! `KeyRing`, `generate_key`, `CorsPolicy`, `CorsDecision`.

use std::time::Duration;

use airlock::{CorsRequest, KeyRingOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{guard, IntoPy};

/// API keys from `NAME` or `NAME_FILE`, kept as digests only, verified in constant time.
/// Its `repr` shows key ids, never key material.
#[pyclass(module = "airlock", frozen)]
pub(crate) struct KeyRing {
    inner: airlock::KeyRing,
}

#[pymethods]
impl KeyRing {
    /// Loads keys from the environment variable `name`, or from the file named by
    /// `{name}_FILE`. Production rules apply unless `mode_var` (default `APP_ENV`) says
    /// `development`, `dev` or `test`. `NAME_FILE` is re-read when it changes, checked at most
    /// every `refresh_interval` seconds.
    #[staticmethod]
    #[pyo3(signature = (name, *, mode_var = "APP_ENV", refresh_interval = None))]
    fn from_env(py: Python<'_>, name: &str, mode_var: &str, refresh_interval: Option<f64>) -> PyResult<KeyRing> {
        guard(py, || {
            let mut options = KeyRingOptions::new().mode_var(mode_var);
            if let Some(every) = refresh_interval {
                let every = Duration::try_from_secs_f64(every)
                    .map_err(|_| PyValueError::new_err("refresh_interval must be a non-negative number of seconds"))?;
                options = options.refresh_interval(every);
            }
            let inner = py.detach(|| airlock::KeyRing::from_env_with(name, options)).py(py)?;
            Ok(KeyRing { inner })
        })
    }

    /// Returns the id of the key that matches `presented` (`str` or `bytes`, any content), or
    /// raises `UnauthorizedError` (a `PermissionError`). Constant time over the active keys.
    fn verify(&self, py: Python<'_>, presented: &Bound<'_, PyAny>) -> PyResult<String> {
        guard(py, || {
            let id = if let Ok(b) = presented.cast::<PyBytes>() {
                self.inner.verify(b.as_bytes())
            } else if let Ok(s) = presented.cast::<PyString>() {
                // Lone surrogates cannot be a key: they are not UTF-8, so encode them as they
                // are; the digest then matches nothing.
                let bytes = s.call_method1("encode", ("utf-8", "surrogatepass"))?;
                self.inner.verify(bytes.cast::<PyBytes>()?.as_bytes())
            } else {
                return Err(PyTypeError::new_err("a presented key must be str or bytes"));
            };
            Ok(id.py(py)?.as_str().to_owned())
        })
    }

    /// Re-reads `NAME_FILE` now if it changed; `True` when new keys were loaded.
    fn refresh(&self, py: Python<'_>) -> PyResult<bool> {
        guard(py, || py.detach(|| self.inner.refresh()).py(py))
    }

    /// Whether production rules apply.
    #[getter]
    fn is_production(&self) -> bool {
        self.inner.is_production()
    }

    /// The ids of the active keys.
    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner.key_ids().into_iter().map(|k| k.as_str().to_owned()).collect()
    }

    fn __repr__(&self) -> String {
        format!("KeyRing(key_ids={:?}, production={})", self.key_ids(), self.inner.is_production())
    }
}

/// A new random API key (256 bits, base62, prefixed `alk_` so secret scanners can find it).
#[pyfunction]
pub(crate) fn generate_key(py: Python<'_>) -> PyResult<String> {
    guard(py, || Ok(airlock::generate_key()))
}

/// A strict CORS policy: exact origins and one-label wildcards (`https://*.example.com`),
/// normalised once; configuration errors raise `InvalidConfigError` here.
#[pyclass(module = "airlock", frozen)]
pub(crate) struct CorsPolicy {
    inner: airlock::CorsPolicy,
}

/// The outcome of `CorsPolicy.decide`: allowed or not, why, and the exact headers to set.
#[pyclass(module = "airlock", frozen, get_all)]
pub(crate) struct CorsDecision {
    /// Whether the browser may share the response with the origin.
    allowed: bool,
    /// Stable reason code: `allowed`, `no_origin`, `malformed_origin`, `null_origin`,
    /// `origin_not_allowed`, `method_not_allowed`, `header_not_allowed`.
    reason: &'static str,
    /// `(name, value)` pairs to set on the response, in order.
    headers: Vec<(&'static str, String)>,
}

#[pymethods]
impl CorsDecision {
    /// The value of one header of the decision (case-insensitive name), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        format!("<CorsDecision {} headers={:?}>", self.reason, self.headers)
    }
}

#[pymethods]
impl CorsPolicy {
    #[new]
    #[pyo3(signature = (origins, *, allow_credentials = false, allow_methods = None, allow_headers = None,
        expose_headers = None, max_age = airlock::DEFAULT_MAX_AGE, allow_private_network = false,
        allow_private_network_origins = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        origins: Vec<String>,
        allow_credentials: bool,
        allow_methods: Option<Vec<String>>,
        allow_headers: Option<Vec<String>>,
        expose_headers: Option<Vec<String>>,
        max_age: u32,
        allow_private_network: bool,
        allow_private_network_origins: Option<Vec<String>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut builder = airlock::CorsPolicy::builder()
                .allow_origins(origins)
                .allow_credentials(allow_credentials)
                .max_age(max_age)
                .allow_private_network(allow_private_network);
            if let Some(m) = allow_methods {
                builder = builder.allow_methods(m);
            }
            if let Some(h) = allow_headers {
                builder = builder.allow_headers(h);
            }
            if let Some(h) = expose_headers {
                builder = builder.expose_headers(h);
            }
            if let Some(o) = allow_private_network_origins {
                builder = builder.allow_private_network_origins(o);
            }
            Ok(CorsPolicy { inner: builder.build().py(py)? })
        })
    }

    /// Decides one request. `origin` is the `Origin` header or `None`; for a preflight,
    /// `method` is `Access-Control-Request-Method` and `request_headers` the names listed in
    /// `Access-Control-Request-Headers`. Refused origins become audit events; with
    /// `quiet=True` they do not (dry runs).
    #[pyo3(signature = (origin, method, *, request_headers = Vec::new(), preflight = false,
        private_network = false, quiet = false))]
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        py: Python<'_>,
        origin: Option<&Bound<'_, PyString>>,
        method: &str,
        request_headers: Vec<String>,
        preflight: bool,
        private_network: bool,
        quiet: bool,
    ) -> PyResult<CorsDecision> {
        guard(py, || {
            // An origin with lone surrogates cannot be canonical: decide on a string that
            // cannot match, so it is refused as malformed like any other garbage.
            let origin = origin.map(|o| o.to_str().map(str::to_owned).unwrap_or_else(|_| "\u{fffd}".to_owned()));
            let headers: Vec<&str> = request_headers.iter().map(String::as_str).collect();
            let request = CorsRequest {
                origin: origin.as_deref(),
                method,
                request_headers: &headers,
                preflight,
                private_network,
            };
            let d = if quiet { self.inner.decide_quietly(&request) } else { self.inner.decide(&request) };
            Ok(CorsDecision {
                allowed: d.is_allowed(),
                reason: d.reason().code(),
                headers: d.headers().map(|(n, v)| (n, v.to_owned())).collect(),
            })
        })
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}
