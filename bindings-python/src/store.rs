//! `UploadStore`, `Stored`.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use airlock::{ConflictPolicy, Durability, StoreOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use crate::errors::{guard, to_py, IntoPy};
use crate::names::{lookup_name, ClientName};

/// A directory opened as a capability: uploads stream into staged files and appear only when
/// committed; names are sanitized; links and special files are refused.
#[pyclass(module = "airlock", frozen)]
pub(crate) struct UploadStore {
    pub(crate) inner: airlock::UploadStore,
    path: PathBuf,
}

/// A committed upload.
#[pyclass(module = "airlock", frozen, get_all)]
pub(crate) struct Stored {
    /// The stored (safe) name.
    name: String,
    /// Bytes written.
    size: u64,
    /// SHA-256 of the content, hex.
    sha256: String,
}

#[pymethods]
impl Stored {
    fn __repr__(&self) -> String {
        format!("Stored(name={:?}, size={}, sha256='{}…')", self.name, self.size, &self.sha256[..12])
    }
}

fn conflict(value: &str) -> PyResult<ConflictPolicy> {
    match value {
        "rename" => Ok(ConflictPolicy::Rename),
        "refuse" => Ok(ConflictPolicy::Refuse),
        other => Err(PyValueError::new_err(format!("conflict must be 'rename' or 'refuse', not {other:?}"))),
    }
}

fn durability(value: &str) -> PyResult<Durability> {
    match value {
        "fsync" => Ok(Durability::Fsync),
        "none" => Ok(Durability::None),
        other => Err(PyValueError::new_err(format!("durability must be 'fsync' or 'none', not {other:?}"))),
    }
}

#[pymethods]
impl UploadStore {
    /// Opens (ambient authority: by path) the store directory. Every later operation is
    /// relative to the opened directory; staged files left by a crashed process are swept.
    #[new]
    #[pyo3(signature = (path, *, max_size = airlock::DEFAULT_MAX_SIZE, allowed_extensions = None,
        conflict = "rename", durability = "fsync", check_content = true, file_mode = 0o640,
        create_dir = false, stale_after = 60.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        max_size: u64,
        allowed_extensions: Option<Vec<String>>,
        conflict: &str,
        durability: &str,
        check_content: bool,
        file_mode: u32,
        create_dir: bool,
        stale_after: f64,
    ) -> PyResult<Self> {
        guard(py, || {
            let stale_after = Duration::try_from_secs_f64(stale_after)
                .map_err(|_| PyValueError::new_err("stale_after must be a non-negative number of seconds"))?;
            let mut options = StoreOptions::new()
                .max_size(max_size)
                .conflict(self::conflict(conflict)?)
                .durability(self::durability(durability)?)
                .check_content(check_content)
                .file_mode(file_mode)
                .create_dir(create_dir)
                .stale_after(stale_after);
            if let Some(exts) = allowed_extensions {
                options = options.allow_extensions(exts);
            }
            let inner = py.detach(|| airlock::UploadStore::open_ambient(&path, options)).py(py)?;
            Ok(UploadStore { inner, path })
        })
    }

    /// Stores `data` under the sanitized `client_name` and returns what was stored.
    ///
    /// `data` is `bytes`, any buffer (`bytearray`, `memoryview`), or a binary file-like object
    /// with `read(n)` (werkzeug's `FileStorage.stream`, `io.BytesIO`, a socket file); it is read
    /// in 256 KiB chunks with the GIL released for the disk writes and hashing. On any error
    /// nothing is left behind.
    fn save(&self, py: Python<'_>, client_name: &Bound<'_, PyAny>, data: &Bound<'_, PyAny>) -> PyResult<Stored> {
        guard(py, || {
            let name = ClientName::extract(client_name)?;
            let store = &self.inner;
            // Through the core's own `save`: the same streaming, cleanup and audit events as
            // in Rust. A name that is not UTF-8 is refused by `begin_bytes` before any body.
            let save = |body: &mut dyn Read| match &name {
                ClientName::Text(t) => store.save(t, body),
                ClientName::Bytes(b) => store.begin_bytes(b).and_then(|mut upload| {
                    upload.copy_from(body)?;
                    upload.commit().map_err(airlock::CommitError::into_error)
                }),
            };
            let result = if let Ok(bytes) = data.cast::<PyBytes>() {
                // bytes are immutable: safe to read without the GIL.
                let mut body = bytes.as_bytes();
                py.detach(|| save(&mut body))
            } else {
                let mut source = Source::new(data)?;
                let result = py.detach(|| save(&mut source));
                if let Some(err) = source.error.take() {
                    return Err(read_failure(py, err, result.err()));
                }
                result
            };
            let stored = result.py(py)?;
            Ok(Stored { name: stored.name().as_str().to_owned(), size: stored.size(), sha256: stored.sha256_hex() })
        })
    }

    /// Opens a stored file for reading: a binary file object (usable with
    /// `shutil.copyfileobj` and Flask's `send_file`). Refuses links and special files.
    fn open<'py>(&self, py: Python<'py>, name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let name = lookup_name(py, name)?;
            let file = py.detach(|| self.inner.open(&name)).py(py)?;
            let fd = OwnedFd::from(file.into_file());
            let io = py.import("io")?;
            // Ownership passes in two steps so the descriptor is closed exactly once on every
            // path. A FileIO whose __init__ fails leaves a passed-in descriptor open: `fd` still
            // owns it and closes it on drop. Once FileIO exists it owns the descriptor (closefd
            // defaults to True), so `fd` is forgotten at once; if the buffered wrapper then
            // fails, dropping the FileIO closes it. (`io.open` does both steps in one call,
            // which leaves no way to tell whether a failure has already closed the descriptor.)
            let raw_file = io.getattr("FileIO")?.call1((fd.as_raw_fd(), "rb"))?;
            std::mem::forget(fd);
            io.getattr("BufferedReader")?.call1((raw_file,))
        })
    }

    /// The stored names, sorted. Never staged files, links or special files.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        guard(py, || {
            let names = py.detach(|| self.inner.list()).py(py)?;
            Ok(names.into_iter().map(String::from).collect())
        })
    }

    /// Removes a stored file (the name only; links and special files are refused).
    fn remove(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let name = lookup_name(py, name)?;
            py.detach(|| self.inner.remove(&name)).py(py)
        })
    }

    /// The size limit in bytes.
    #[getter]
    fn max_size(&self) -> u64 {
        self.inner.options().get_max_size()
    }

    /// The extension allowlist (lower-case), or `None` for any extension.
    #[getter]
    fn allowed_extensions(&self) -> Option<Vec<String>> {
        self.inner.options().get_allowed_extensions().map(<[String]>::to_vec)
    }

    fn __repr__(&self) -> String {
        format!("UploadStore({:?})", self.path)
    }
}

/// An upload body that is not `bytes`: read in chunks, taking the GIL for each chunk only.
struct Source {
    kind: SourceKind,
    /// The Python exception that ended the stream, re-raised after the upload is cleaned up.
    error: Option<PyErr>,
}

enum SourceKind {
    /// A binary file-like object: `read(n)`.
    File(Py<PyAny>),
    /// A buffer, through a byte-format memoryview: copied a slice at a time, because its
    /// owner may change it whenever the GIL is free.
    View { view: Py<PyMemoryView>, offset: usize, len: usize },
}

impl Source {
    fn new(data: &Bound<'_, PyAny>) -> PyResult<Source> {
        let kind = if data.hasattr("read")? {
            SourceKind::File(data.clone().unbind())
        } else if data.cast::<PyByteArray>().is_ok() || data.cast::<PyMemoryView>().is_ok() || has_buffer(data) {
            let view = PyMemoryView::from(data)?.call_method1("cast", ("B",))?.cast_into::<PyMemoryView>()?;
            let len = view.len()?;
            SourceKind::View { view: view.unbind(), offset: 0, len }
        } else {
            return Err(PyTypeError::new_err(format!(
                "upload data must be bytes, a buffer or a binary file object, not {}",
                data.get_type().name()?
            )));
        };
        Ok(Source { kind, error: None })
    }

    fn fill(&mut self, py: Python<'_>, buf: &mut [u8]) -> PyResult<usize> {
        // Ctrl-C and signal handlers get their turn at every chunk.
        py.check_signals()?;
        match &mut self.kind {
            SourceKind::File(file) => {
                let chunk = file.call_method1(py, "read", (buf.len(),))?;
                let chunk = chunk.bind(py);
                if chunk.is_none() {
                    return Err(PyTypeError::new_err("read() returned None: non-blocking streams are not supported"));
                }
                let Ok(bytes) = chunk.cast::<PyBytes>() else {
                    if let Ok(array) = chunk.cast::<PyByteArray>() {
                        let data = array.to_vec();
                        return copy_into(buf, &data);
                    }
                    return Err(PyTypeError::new_err(format!(
                        "read() returned {}, not bytes: open the file in binary mode",
                        chunk.get_type().name()?
                    )));
                };
                copy_into(buf, bytes.as_bytes())
            }
            SourceKind::View { view, offset, len } => {
                let end = (*offset + buf.len()).min(*len);
                if end == *offset {
                    return Ok(0);
                }
                let slice = view.bind(py).get_item(pyo3::types::PySlice::new(py, *offset as isize, end as isize, 1))?;
                let bytes = slice.call_method0("tobytes")?;
                let n = copy_into(buf, bytes.cast::<PyBytes>()?.as_bytes())?;
                *offset += n;
                Ok(n)
            }
        }
    }
}

fn has_buffer(data: &Bound<'_, PyAny>) -> bool {
    PyMemoryView::from(data).is_ok()
}

fn copy_into(buf: &mut [u8], data: &[u8]) -> PyResult<usize> {
    if data.len() > buf.len() {
        return Err(PyValueError::new_err("read(n) returned more than n bytes"));
    }
    buf[..data.len()].copy_from_slice(data);
    Ok(data.len())
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Err(io::Error::other("upload source already failed"));
        }
        Python::attach(|py| self.fill(py, buf)).map_err(|err| {
            let message = err.to_string();
            self.error = Some(err);
            io::Error::other(message)
        })
    }
}

/// The upload's source raised: the staged file is already gone. Type errors (a text-mode
/// file) are the caller's bug and surface as themselves; anything else (a client that went
/// away) is `UploadAbortedError` chained to the original exception.
fn read_failure(py: Python<'_>, source_error: PyErr, core: Option<airlock::Error>) -> PyErr {
    // KeyboardInterrupt, SystemExit and other non-`Exception`s keep their meaning too.
    if source_error.is_instance_of::<PyTypeError>(py) || !source_error.is_instance_of::<pyo3::exceptions::PyException>(py) {
        return source_error;
    }
    let core = core.unwrap_or_else(|| airlock::Error::UploadAborted {
        received: 0,
        source: io::Error::other(source_error.to_string()),
    });
    let err = to_py(py, core);
    err.set_cause(py, Some(source_error));
    err
}
