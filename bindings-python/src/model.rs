//! `Model`, `ImagePreprocess`, `ModelStatus`, `Classification`, `OutputTensor`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock::{ChannelOrder, DecodeLimits, Layout, ModelOptions, ModelState, ReadyModel};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{guard, IntoPy};
use crate::names::lookup_name;
use crate::store::UploadStore;

/// How an image becomes the model's input: resize, channel order, normalisation, layout, and
/// the decode limits checked before any pixel memory is allocated.
#[pyclass(module = "airlock", frozen)]
#[derive(Clone)]
pub(crate) struct ImagePreprocess {
    inner: airlock::ImagePreprocess,
}

#[pymethods]
impl ImagePreprocess {
    #[new]
    #[pyo3(signature = (width, height, *, channels = "rgb", pixel_scale = 1.0, mean = (0.0, 0.0, 0.0),
        std = (1.0, 1.0, 1.0), layout = "nhwc", max_width = 10_000, max_height = 10_000, max_pixels = 40_000_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        width: u32,
        height: u32,
        channels: &str,
        pixel_scale: f32,
        mean: (f32, f32, f32),
        std: (f32, f32, f32),
        layout: &str,
        max_width: u32,
        max_height: u32,
        max_pixels: u64,
    ) -> PyResult<Self> {
        let channels = match channels {
            "rgb" => ChannelOrder::Rgb,
            "bgr" => ChannelOrder::Bgr,
            "gray" => ChannelOrder::Gray,
            other => return Err(PyValueError::new_err(format!("channels must be 'rgb', 'bgr' or 'gray', not {other:?}"))),
        };
        let layout = match layout {
            "nhwc" => Layout::Nhwc,
            "nchw" => Layout::Nchw,
            "flat" => Layout::Flat,
            other => return Err(PyValueError::new_err(format!("layout must be 'nhwc', 'nchw' or 'flat', not {other:?}"))),
        };
        let inner = airlock::ImagePreprocess::new(width, height)
            .channels(channels)
            .pixel_scale(pixel_scale)
            .mean([mean.0, mean.1, mean.2])
            .std([std.0, std.1, std.2])
            .layout(layout)
            .limits(DecodeLimits { max_width, max_height, max_pixels });
        Ok(ImagePreprocess { inner })
    }

    /// The tensor shape this preprocessing produces.
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        self.inner.input_shape()
    }

    /// Decodes a PNG or JPEG and returns the model input, row-major (GIL released).
    fn tensor(&self, py: Python<'_>, image: &Bound<'_, PyBytes>) -> PyResult<Vec<f32>> {
        guard(py, || {
            let bytes = image.as_bytes();
            py.detach(|| self.inner.tensor(bytes)).py(py)
        })
    }

    fn __repr__(&self) -> String {
        format!("ImagePreprocess(input_shape={:?})", self.inner.input_shape())
    }
}

/// A snapshot of a model's state, read without blocking.
#[pyclass(module = "airlock", frozen, get_all)]
pub(crate) struct ModelStatus {
    /// `not_loaded`, `loading`, `ready` or `failed`.
    state: &'static str,
    /// Whether inference can run now.
    ready: bool,
    /// Seconds the successful load took.
    load_time: Option<f64>,
    /// For `failed`: the error code of the last attempt (`model_invalid`, `io`, ...).
    error_code: Option<&'static str>,
    /// For `failed`: why, safe to log.
    error: Option<String>,
    /// For `failed`: consecutive failed attempts.
    attempts: u32,
    /// For `failed`: seconds until another attempt is allowed.
    retry_in: Option<f64>,
    /// Unix time of the last change (load start, ready, failure), if any.
    since: Option<f64>,
}

fn unix(t: SystemTime) -> Option<f64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
}

impl From<ModelState> for ModelStatus {
    fn from(state: ModelState) -> Self {
        let mut s = ModelStatus {
            state: state.name(),
            ready: state.is_ready(),
            load_time: None,
            error_code: None,
            error: None,
            attempts: 0,
            retry_in: None,
            since: None,
        };
        match state {
            ModelState::Loading { since } => s.since = unix(since),
            ModelState::Ready { loaded_at, load_time } => {
                s.since = unix(loaded_at);
                s.load_time = Some(load_time.as_secs_f64());
            }
            ModelState::Failed { failure, attempts, since, next_retry } => {
                s.error_code = Some(failure.code.as_str());
                s.error = Some(failure.reason);
                s.attempts = attempts;
                s.since = unix(since);
                s.retry_in = Some(next_retry.duration_since(SystemTime::now()).unwrap_or_default().as_secs_f64());
            }
            _ => {}
        }
        s
    }
}

#[pymethods]
impl ModelStatus {
    fn __repr__(&self) -> String {
        match self.state {
            "ready" => format!("<ModelStatus ready (loaded in {:.3}s)>", self.load_time.unwrap_or(0.0)),
            "failed" => format!(
                "<ModelStatus failed after {} attempt(s): {} ({}); retry in {:.1}s>",
                self.attempts,
                self.error.as_deref().unwrap_or(""),
                self.error_code.unwrap_or(""),
                self.retry_in.unwrap_or(0.0)
            ),
            other => format!("<ModelStatus {other}>"),
        }
    }

    fn __bool__(&self) -> bool {
        self.ready
    }
}

/// Class scores, with labels when the model has them.
#[pyclass(module = "airlock", frozen, get_all)]
pub(crate) struct Classification {
    /// One score per class, in the model's order.
    scores: Vec<f32>,
    /// The labels, if configured.
    labels: Option<Vec<String>>,
    /// Index of the best class.
    top_index: usize,
    /// Score of the best class.
    top_score: f32,
    /// Label of the best class, or its index as text.
    top_label: String,
}

impl From<airlock::Classification> for Classification {
    fn from(c: airlock::Classification) -> Self {
        let (top_index, top_score) = c.top();
        let labels = (0..c.scores().len()).map(|i| c.label(i).map(str::to_owned)).collect::<Option<Vec<_>>>();
        Classification { top_label: c.top_label(), scores: c.scores().to_vec(), labels, top_index, top_score }
    }
}

#[pymethods]
impl Classification {
    /// `{label: score}` (labels, or indexes as text).
    fn as_dict(&self) -> Vec<(String, f32)> {
        self.scores
            .iter()
            .enumerate()
            .map(|(i, s)| (self.labels.as_ref().map_or_else(|| i.to_string(), |l| l[i].clone()), *s))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<Classification {} {:.4}>", self.top_label, self.top_score)
    }
}

/// One output tensor of a run.
#[pyclass(module = "airlock", frozen, get_all)]
pub(crate) struct OutputTensor {
    /// Dimensions.
    shape: Vec<usize>,
    /// Values, row-major.
    data: Vec<f32>,
}

#[pymethods]
impl OutputTensor {
    fn __repr__(&self) -> String {
        format!("<OutputTensor shape={:?}>", self.shape)
    }
}

/// A lazily loaded ONNX model: loads exactly once however many threads ask; `status()` never
/// blocks; inference runs from many threads at once with the GIL released.
#[pyclass(module = "airlock", frozen)]
pub(crate) struct Model {
    inner: airlock::Model,
    path: String,
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| PyValueError::new_err(format!("{what} must be a non-negative number of seconds")))
}

impl Model {
    /// The ready model: `timeout=None` loads and waits as long as it takes, `0` fails fast
    /// (`ModelNotReadyError`, starting a background load), anything else waits that long.
    fn ready_within(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<ReadyModel> {
        let wait = timeout.map(|t| seconds(t, "timeout")).transpose()?;
        py.detach(|| match wait {
            None => self.inner.ready(),
            Some(d) if d.is_zero() => self.inner.try_ready(),
            Some(d) => self.inner.wait_ready(d),
        })
        .py(py)
    }
}

/// An `f32` input from a buffer (array('f'), numpy float32) or a sequence of numbers.
fn input_vector(data: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    if let Ok(buffer) = PyBuffer::<f32>::get(data) {
        return buffer.to_vec(data.py());
    }
    data.extract::<Vec<f32>>()
}

#[pymethods]
impl Model {
    /// A model from the ONNX file at `path` (ambient authority: its directory is opened by
    /// path; the file is opened relative to it at each load). Nothing is read until first use.
    ///
    /// Give `input_shape`, or `image` (an `ImagePreprocess`, which implies the shape).
    #[new]
    #[pyo3(signature = (path, *, input_shape = None, image = None, sha256 = None, labels = None,
        backoff = (0.5, 30.0), max_model_bytes = None, max_image_bytes = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        input_shape: Option<Vec<usize>>,
        image: Option<PyRef<'_, ImagePreprocess>>,
        sha256: Option<&str>,
        labels: Option<Vec<String>>,
        backoff: (f64, f64),
        max_model_bytes: Option<u64>,
        max_image_bytes: Option<u64>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut options = match (input_shape, image) {
                (Some(shape), None) => ModelOptions::new(shape),
                (shape, Some(pre)) => {
                    let o = ModelOptions::for_images(pre.inner.clone());
                    if let Some(shape) = shape {
                        if shape != pre.inner.input_shape() {
                            return Err(PyValueError::new_err(format!(
                                "input_shape {shape:?} differs from the image preprocessing's {:?}",
                                pre.inner.input_shape()
                            )));
                        }
                    }
                    o
                }
                (None, None) => return Err(PyValueError::new_err("give input_shape or image")),
            };
            if let Some(hex) = sha256 {
                options = options.sha256(hex).py(py)?;
            }
            if let Some(labels) = labels {
                options = options.labels(labels);
            }
            options = options.backoff(seconds(backoff.0, "backoff")?, seconds(backoff.1, "backoff")?);
            if let Some(n) = max_model_bytes {
                options = options.max_model_bytes(n);
            }
            if let Some(n) = max_image_bytes {
                options = options.max_image_bytes(n);
            }
            let inner = py.detach(|| airlock::Model::open_ambient(&path, options)).py(py)?;
            Ok(Model { inner, path: path.display().to_string() })
        })
    }

    /// The current state. Never blocks: call it from health checks as often as you like.
    fn status(&self, py: Python<'_>) -> PyResult<ModelStatus> {
        guard(py, || Ok(self.inner.status().into()))
    }

    /// Starts loading on a background thread (if not ready, loading or backing off).
    fn start_loading(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            self.inner.start_loading();
            Ok(())
        })
    }

    /// Loads if needed and waits: forever when `timeout` is `None` (the first caller loads,
    /// the others wait for that one load), `ModelTimeoutError` after `timeout` seconds, or
    /// `ModelNotReadyError` at once when `timeout` is 0.
    #[pyo3(signature = (timeout = None))]
    fn wait_ready(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<ModelStatus> {
        guard(py, || {
            self.ready_within(py, timeout)?;
            Ok(self.inner.status().into())
        })
    }

    /// Loads the file again and swaps the new plan in; runs in flight finish on the old one.
    /// If the new load fails the old plan stays in service and the error is raised.
    fn reload(&self, py: Python<'_>) -> PyResult<ModelStatus> {
        guard(py, || {
            py.detach(|| self.inner.reload()).py(py)?;
            Ok(self.inner.status().into())
        })
    }

    /// Load attempts started so far (including reloads).
    #[getter]
    fn load_attempts(&self) -> u64 {
        self.inner.load_attempts()
    }

    /// Runs the model on a float32 input (buffer or sequence, row-major, in the input shape).
    #[pyo3(signature = (input, *, timeout = None))]
    fn run(&self, py: Python<'_>, input: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<Vec<OutputTensor>> {
        guard(py, || {
            let input = input_vector(input)?;
            let ready = self.ready_within(py, timeout)?;
            let outputs = py.detach(|| ready.run(&input)).py(py)?;
            Ok(outputs.into_iter().map(|o| OutputTensor { shape: o.shape, data: o.data }).collect())
        })
    }

    /// Runs the model and returns its first output as class scores.
    #[pyo3(signature = (input, *, timeout = None))]
    fn classify(&self, py: Python<'_>, input: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<Classification> {
        guard(py, || {
            let input = input_vector(input)?;
            let ready = self.ready_within(py, timeout)?;
            Ok(py.detach(|| ready.classify(&input)).py(py)?.into())
        })
    }

    /// Decodes PNG/JPEG bytes within the decode limits, preprocesses and classifies them.
    #[pyo3(signature = (image, *, timeout = None))]
    fn classify_image(&self, py: Python<'_>, image: &Bound<'_, PyBytes>, timeout: Option<f64>) -> PyResult<Classification> {
        guard(py, || {
            let ready = self.ready_within(py, timeout)?;
            let bytes = image.as_bytes();
            Ok(py.detach(|| ready.classify_image(bytes)).py(py)?.into())
        })
    }

    /// Classifies a stored upload, read through the store (no links, regular files only).
    #[pyo3(signature = (store, name, *, timeout = None))]
    fn classify_stored(
        &self,
        py: Python<'_>,
        store: &UploadStore,
        name: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Classification> {
        guard(py, || {
            let name = lookup_name(py, name)?;
            self.ready_within(py, timeout)?;
            Ok(py.detach(|| self.inner.classify_stored(&store.inner, &name)).py(py)?.into())
        })
    }

    fn __repr__(&self) -> String {
        format!("Model({:?}, state={:?})", self.path, self.inner.status().name())
    }
}
