//! The native module `airlock._airlock`. The Python package `airlock` re-exports it with the
//! exception classes of `airlock/_errors.py`; see `bindings-python/README` and the stub.
//!
//! Thin by design: each function converts arguments, releases the GIL around the core call,
//! and converts the result. Errors are converted in one place (`errors.rs`), and every entry
//! point catches panics there, so none reaches Python as `PanicException`.

mod errors;
mod logging;
mod model;
mod names;
mod policy;
mod store;

use pyo3::prelude::*;

#[pymodule]
mod _airlock {
    #[pymodule_export]
    use crate::logging::{audit_event, init_logging, LoggingHandle, RequestScope};
    #[pymodule_export]
    use crate::model::{Classification, ImagePreprocess, Model, ModelStatus, OutputTensor};
    #[pymodule_export]
    use crate::names::{parse_filename, sanitize_filename};
    #[pymodule_export]
    use crate::policy::{generate_key, CorsDecision, CorsPolicy, KeyRing};
    #[pymodule_export]
    use crate::store::{Stored, UploadStore};

    use super::*;

    /// Every stable error code of the core, in declaration order.
    #[pyfunction]
    fn error_codes() -> Vec<&'static str> {
        crate::errors::codes()
    }

    /// Panics inside the binding, to test that panics become `InternalError`, never
    /// `PanicException`. Not part of the API.
    #[pyfunction]
    fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
        crate::errors::guard(py, || panic!("deliberate panic for tests"))
    }

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
