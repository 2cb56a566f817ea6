//! The lazily initialised, thread-safe model handle.
//!
//! A [`Model`] loads its ONNX file exactly once however many threads ask, reports its state
//! without blocking ([`Model::status`]), can start loading in the background at startup
//! ([`Model::start_loading`]), lets callers wait with a timeout ([`Model::wait_ready`]) or fail
//! fast ([`Model::try_ready`]), backs off after a failure, and swaps in a new plan on
//! [`Model::reload`] without disturbing runs in flight. Once ready, getting the plan is one
//! atomic load; inference runs from many threads at once on one plan.
//!
//! Model files are trusted configuration, never user uploads. Pin their SHA-256 with
//! [`ModelOptions::sha256`] to make sure the file is the one you reviewed.
//!
//! # Ambient Authority
//!
//! [`Model::open_ambient`] opens the model's directory by path. [`Model::new`] takes a
//! directory capability and a file name relative to it.

mod plan;

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use cap_std::ambient_authority;
use cap_std::fs::Dir;

pub use plan::OutputTensor;
use crate::preprocess::ImagePreprocess;

use crate::error::{Error, ErrorCode, LoadFailure, Result};
use crate::events;
use crate::name::SafeName;
use crate::store::UploadStore;
use plan::LoadedPlan;

/// The longest backoff between failed loads: a day. Longer configured waits are cut to it.
///
/// ```
/// assert_eq!(airlock::MAX_BACKOFF.as_secs(), 24 * 3600);
/// ```
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// Options of a [`Model`].
///
/// ```
/// use airlock::{ImagePreprocess, ModelOptions};
/// let options = ModelOptions::new([1, 64])
///     .labels((0..10).map(|d| d.to_string()))
///     .backoff(std::time::Duration::from_millis(500), std::time::Duration::from_secs(30));
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct ModelOptions {
    input_shape: Vec<usize>,
    sha256: Option<[u8; 32]>,
    backoff_initial: Duration,
    backoff_max: Duration,
    max_model_bytes: u64,
    max_image_bytes: u64,
    preprocess: Option<ImagePreprocess>,
    labels: Option<Vec<String>>,
}

impl ModelOptions {
    /// A model with one `f32` input of this fixed shape (symbolic batch or spatial dimensions
    /// are fixed to it, which tract needs to optimise). Defaults: no pinned digest, backoff
    /// 1 s doubling to 60 s, model files up to 1 GiB, images up to 64 MiB, no preprocessing.
    pub fn new(input_shape: impl Into<Vec<usize>>) -> Self {
        ModelOptions {
            input_shape: input_shape.into(),
            sha256: None,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_model_bytes: 1 << 30,
            max_image_bytes: 64 << 20,
            preprocess: None,
            labels: None,
        }
    }

    /// Options for an image model: the input shape comes from `preprocess`.
    pub fn for_images(preprocess: ImagePreprocess) -> Self {
        let mut options = ModelOptions::new(preprocess.input_shape());
        options.preprocess = Some(preprocess);
        options
    }

    /// Refuse to load a file whose SHA-256 is not `hex` (64 hex digits).
    pub fn sha256(mut self, hex: &str) -> Result<Self> {
        let hex = hex.trim();
        let bad = || Error::InvalidConfig { reason: "sha256 must be 64 hex digits".into() };
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        self.sha256 = Some(digest);
        Ok(self)
    }

    /// Wait `initial` after the first failed load, doubling per failure up to `max` (and never
    /// more than [`MAX_BACKOFF`], a day: longer waits are cut to it rather than overflow a
    /// clock).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }

    /// Largest model file read.
    pub fn max_model_bytes(mut self, bytes: u64) -> Self {
        self.max_model_bytes = bytes;
        self
    }

    /// Largest stored image [`Model::classify_stored`] reads.
    pub fn max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// How images become input tensors; its shape must equal the input shape.
    pub fn preprocess(mut self, preprocess: ImagePreprocess) -> Self {
        self.preprocess = Some(preprocess);
        self
    }

    /// Names of the classes of the first output, in order.
    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = Some(labels.into_iter().map(Into::into).collect());
        self
    }
}

/// The state of a [`Model`], read without blocking. Aligned with the Triton / KServe readiness
/// states: liveness never depends on it, readiness is [`ModelState::is_ready`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelState {
    /// Nothing attempted yet.
    NotLoaded,
    /// One load is running.
    Loading {
        /// When it started.
        since: SystemTime,
    },
    /// A runnable plan is available.
    Ready {
        /// When the plan became available.
        loaded_at: SystemTime,
        /// How long the load took.
        load_time: Duration,
    },
    /// The last load failed.
    Failed {
        /// Why.
        failure: LoadFailure,
        /// Consecutive failed attempts.
        attempts: u32,
        /// When the last attempt failed.
        since: SystemTime,
        /// When the next attempt is allowed.
        next_retry: SystemTime,
    },
}

impl ModelState {
    /// Whether inference can run now.
    pub fn is_ready(&self) -> bool {
        matches!(self, ModelState::Ready { .. })
    }

    /// A short name: `not_loaded`, `loading`, `ready`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelState::NotLoaded => "not_loaded",
            ModelState::Loading { .. } => "loading",
            ModelState::Ready { .. } => "ready",
            ModelState::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for ModelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelState::Failed { failure, attempts, .. } => {
                write!(f, "failed after {attempts} attempt(s): {failure}")
            }
            ModelState::Ready { load_time, .. } => write!(f, "ready (loaded in {load_time:.2?})"),
            other => f.write_str(other.name()),
        }
    }
}

/// The scores of a classification, with labels when the model has them.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    scores: Vec<f32>,
    labels: Option<Arc<[String]>>,
}

impl Classification {
    /// One score per class, in the model's order.
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// The index and score of the best class.
    pub fn top(&self) -> (usize, f32) {
        self.scores
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, s)| if s > best.1 { (i, s) } else { best })
    }

    /// The label of class `index`, if labels were configured.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.as_ref()?.get(index).map(String::as_str)
    }

    /// The label of the best class, or its index as text.
    pub fn top_label(&self) -> String {
        let (i, _) = self.top();
        self.label(i).map(str::to_owned).unwrap_or_else(|| i.to_string())
    }
}

/// A ready model: cheap to clone (one reference count), usable from many threads, unaffected
/// by a later reload.
#[derive(Clone)]
pub struct ReadyModel {
    inner: Arc<Loaded>,
}

/// Everything a run needs, built once per load so that handing out a [`ReadyModel`] is one
/// atomic load and one reference count, with no lock.
struct Loaded {
    plan: LoadedPlan,
    options: Arc<ModelOptions>,
    labels: Option<Arc<[String]>>,
}

impl fmt::Debug for ReadyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyModel")
            .field("input_shape", &self.inner.plan.input_shape())
            .field("sha256", &plan::hex(&self.inner.plan.sha256))
            .finish()
    }
}

impl ReadyModel {
    /// Runs the model on `input` (row-major, in the input shape).
    pub fn run(&self, input: &[f32]) -> Result<Vec<OutputTensor>> {
        self.inner.plan.run(input)
    }

    /// Runs the model and returns the first output as class scores.
    pub fn classify(&self, input: &[f32]) -> Result<Classification> {
        let first = self.run(input)?.into_iter().next().ok_or_else(|| Error::ModelInvalid {
            reason: "model has no outputs".into(),
        })?;
        Ok(Classification { scores: first.data, labels: self.inner.labels.clone() })
    }

    /// Decodes `image` (PNG or JPEG) with the configured [`ImagePreprocess`] and classifies it.
    pub fn classify_image(&self, image: &[u8]) -> Result<Classification> {
        let preprocess = self.inner.options.preprocess.as_ref().ok_or_else(|| Error::InvalidConfig {
            reason: "the model has no image preprocessing configured".into(),
        })?;
        self.classify(&preprocess.tensor(image)?)
    }

    /// The SHA-256 of the loaded file, hex.
    pub fn sha256_hex(&self) -> String {
        plan::hex(&self.inner.plan.sha256)
    }
}

/// A lazily loaded ONNX model. Cheap to clone; clones share one load and one plan.
///
/// ```
/// use airlock::{Model, ModelOptions};
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/models/digits.onnx");
/// let model = Model::open_ambient(path, ModelOptions::new([1, 64]))?;
/// assert_eq!(model.status().name(), "not_loaded");
/// let scores = model.ready()?.classify(&[0.0; 64])?; // the first caller loads it
/// assert_eq!(scores.scores().len(), 10);
/// assert!(model.status().is_ready());
/// # Ok::<(), airlock::Error>(())
/// ```
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

struct Inner {
    dir: Dir,
    file: String,
    options: Arc<ModelOptions>,
    labels: Option<Arc<[String]>>,
    /// The hot path: one atomic load once ready.
    ready: ArcSwapOption<Loaded>,
    /// What [`Model::status`] returns, without touching the load lock.
    state: ArcSwap<ModelState>,
    slot: Mutex<LoadSlot>,
    finished: Condvar,
    /// Load attempts started, for metrics and tests.
    attempts_started: AtomicU64,
    /// The process whose thread runs the current attempt. After `fork` only the forking thread
    /// exists in the child: an attempt marked running by another process will never end there.
    loader_pid: AtomicU32,
}

#[derive(Default)]
struct LoadSlot {
    running: bool,
    /// Incremented when an attempt ends; waiters compare it to see their attempt finish.
    attempts_ended: u64,
    last_failure: Option<LoadFailure>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("file", &self.inner.file)
            .field("state", &self.status().name())
            .finish()
    }
}

enum Wait {
    /// Load if needed and wait for it.
    Forever,
    /// Wait for a load until the deadline; the duration is the caller's timeout.
    Until(Instant, Duration),
    /// Never wait.
    No,
}

impl Model {
    /// A model from the file at `path`; nothing is read until the first use.
    ///
    /// # Ambient Authority
    ///
    /// Opens `path`'s parent directory by path. The file itself is then opened relative to
    /// that directory capability at each load.
    pub fn open_ambient(path: impl AsRef<Path>, options: ModelOptions) -> Result<Model> {
        let path = path.as_ref();
        let bad = || Error::InvalidConfig { reason: "model path has no file name".into() };
        let file = path.file_name().and_then(|f| f.to_str()).ok_or_else(bad)?.to_owned();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = Dir::open_ambient_dir(parent, ambient_authority())
            .map_err(|e| Error::io("open model directory", e))?;
        Model::new(dir, &file, options)
    }

    /// A model from `file`, relative to the directory capability `dir`.
    pub fn new(dir: Dir, file: &str, options: ModelOptions) -> Result<Model> {
        if options.input_shape.is_empty() || options.input_shape.contains(&0) {
            return Err(Error::InvalidConfig { reason: "input shape must be non-empty with no zero dimension".into() });
        }
        if let Some(p) = &options.preprocess {
            p.validate()?;
            if p.input_shape() != options.input_shape {
                return Err(Error::InvalidConfig {
                    reason: format!(
                        "preprocess produces shape {:?} but the model input is {:?}",
                        p.input_shape(),
                        options.input_shape
                    ),
                });
            }
        }
        let labels = options.labels.clone().map(Arc::from);
        Ok(Model {
            inner: Arc::new(Inner {
                dir,
                file: file.to_owned(),
                options: Arc::new(options),
                labels,
                ready: ArcSwapOption::empty(),
                state: ArcSwap::from_pointee(ModelState::NotLoaded),
                slot: Mutex::new(LoadSlot::default()),
                finished: Condvar::new(),
                attempts_started: AtomicU64::new(0),
                loader_pid: AtomicU32::new(0),
            }),
        })
    }

    /// The current state. Never blocks and never takes the load lock: call it from health
    /// checks as often as you like.
    pub fn status(&self) -> ModelState {
        let state = ModelState::clone(&self.inner.state.load());
        if matches!(state, ModelState::Loading { .. }) && self.load_orphaned_by_fork() {
            // The attempt belongs to the parent process; here nothing is loading.
            return ModelState::NotLoaded;
        }
        state
    }

    /// Whether the running attempt was started by another process (this one is a `fork` child).
    fn load_orphaned_by_fork(&self) -> bool {
        self.inner.loader_pid.load(Ordering::Acquire) != std::process::id()
    }

    /// How many load attempts have started (including reloads). Never blocks.
    pub fn load_attempts(&self) -> u64 {
        self.inner.attempts_started.load(Ordering::Relaxed)
    }

    /// The ready model, loading it first if needed. The first caller loads; concurrent callers
    /// wait for that one load and receive its result (a failure is not retried by each of
    /// them). After a failure, a new attempt is allowed once the backoff has passed.
    pub fn ready(&self) -> Result<ReadyModel> {
        self.get(Wait::Forever)
    }

    /// The ready model, or [`Error::ModelNotReady`] at once. If nothing is loading, a
    /// background load is started, so a readiness probe calling this brings the model up.
    pub fn try_ready(&self) -> Result<ReadyModel> {
        self.get(Wait::No)
    }

    /// Starts loading in the background (if not loaded or loading) and waits at most
    /// `timeout` for the result: [`Error::ModelTimeout`] if it is still loading then.
    pub fn wait_ready(&self, timeout: Duration) -> Result<ReadyModel> {
        // A timeout too large to add to the clock (`Duration::MAX`, 1e19 s from Python) is a
        // caller's way of saying "no limit", not a reason to panic.
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.get(Wait::Until(deadline, timeout)),
            None => self.get(Wait::Forever),
        }
    }

    /// Starts loading on a background thread if the model is neither ready nor loading (nor
    /// waiting out a failure backoff), and returns at once.
    pub fn start_loading(&self) {
        if self.inner.ready.load().is_some() {
            return;
        }
        let slot = self.lock_slot();
        let backing_off = slot.retry_at.is_some_and(|t| Instant::now() < t);
        if !slot.running && !backing_off && self.inner.ready.load().is_none() {
            self.spawn_attempt(slot);
        }
    }

    /// Loads the file again and swaps the new plan in. Runs already in flight finish on the
    /// plan they started with. Ignores the failure backoff (it is an explicit request); if
    /// the new load fails, the old plan stays in service and the error is returned.
    pub fn reload(&self) -> Result<ReadyModel> {
        let mut slot = self.lock_slot();
        while slot.running {
            slot = self.inner.finished.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
        slot.retry_at = None;
        self.begin_attempt(&mut slot);
        drop(slot);
        self.do_attempt()
    }

    /// Runs the model on `input`, loading it first if needed.
    pub fn run(&self, input: &[f32]) -> Result<Vec<OutputTensor>> {
        self.ready()?.run(input)
    }

    /// Classifies an image (PNG or JPEG bytes), loading the model first if needed.
    pub fn classify_image(&self, image: &[u8]) -> Result<Classification> {
        self.ready()?.classify_image(image)
    }

    /// Classifies a stored upload: opened through the store (no links, regular files only),
    /// read up to [`ModelOptions::max_image_bytes`], decoded within the decode limits.
    pub fn classify_stored(&self, store: &UploadStore, name: &SafeName) -> Result<Classification> {
        let ready = self.ready()?;
        let limit = self.inner.options.max_image_bytes;
        let mut bytes = Vec::new();
        store
            .open(name)?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read stored image", e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge { limit });
        }
        ready.classify_image(&bytes)
    }

    fn lock_slot(&self) -> MutexGuard<'_, LoadSlot> {
        // A panic while holding this lock cannot leave the slot inconsistent (every field is
        // written in one step), so a poisoned lock is safe to keep using.
        let mut slot = self.inner.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.running && self.load_orphaned_by_fork() {
            // Pre-fork servers: the loading thread stayed in the parent. Without this the child
            // would wait forever for an attempt no thread of its own is running.
            slot.running = false;
            slot.attempts_ended += 1;
            if self.inner.ready.load().is_none() {
                self.inner.state.store(Arc::new(ModelState::NotLoaded));
            }
        }
        slot
    }

    fn ready_model(&self, loaded: Arc<Loaded>) -> ReadyModel {
        ReadyModel { inner: loaded }
    }

    fn failed(&self, slot: &LoadSlot) -> Error {
        let failure = slot.last_failure.clone().unwrap_or(LoadFailure {
            code: ErrorCode::ModelFailed,
            reason: "unknown failure".into(),
        });
        let retry_in = slot.retry_at.map(|t| t.saturating_duration_since(Instant::now()));
        Error::ModelFailed { failure, attempts: slot.failures, retry_in }
    }

    fn get(&self, wait: Wait) -> Result<ReadyModel> {
        if let Some(plan) = self.inner.ready.load_full() {
            return Ok(self.ready_model(plan));
        }
        let mut slot = self.lock_slot();
        loop {
            if let Some(plan) = self.inner.ready.load_full() {
                return Ok(self.ready_model(plan));
            }
            if slot.running {
                let ended = slot.attempts_ended;
                match wait {
                    Wait::No => return Err(Error::ModelNotReady { state: "loading" }),
                    Wait::Forever => {
                        while slot.running && slot.attempts_ended == ended {
                            slot = self.inner.finished.wait(slot).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    Wait::Until(deadline, timeout) => {
                        while slot.running && slot.attempts_ended == ended {
                            let now = Instant::now();
                            if now >= deadline {
                                return Err(Error::ModelTimeout { waited: timeout });
                            }
                            slot = self
                                .inner
                                .finished
                                .wait_timeout(slot, deadline - now)
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                    }
                }
                // The attempt we waited for ended. Callers that queued behind a failed attempt
                // get its error instead of each starting another load.
                if self.inner.ready.load().is_none() && slot.last_failure.is_some() {
                    return Err(self.failed(&slot));
                }
                continue;
            }
            if let Some(retry_at) = slot.retry_at {
                if Instant::now() < retry_at {
                    return Err(self.failed(&slot));
                }
            }
            match wait {
                Wait::Forever => {
                    self.begin_attempt(&mut slot);
                    drop(slot);
                    return self.do_attempt();
                }
                Wait::No => {
                    self.spawn_attempt(slot);
                    return Err(Error::ModelNotReady { state: "loading" });
                }
                Wait::Until(..) => {
                    // Load in the background and wait for it on the next turn of the loop,
                    // so the caller can give up at its deadline while the load goes on.
                    self.spawn_attempt(slot);
                    slot = self.lock_slot();
                }
            }
        }
    }

    /// Marks an attempt as running. Called with the slot lock held.
    fn begin_attempt(&self, slot: &mut LoadSlot) {
        slot.running = true;
        self.inner.loader_pid.store(std::process::id(), Ordering::Release);
        self.inner.attempts_started.fetch_add(1, Ordering::Relaxed);
        if self.inner.ready.load().is_none() {
            self.inner.state.store(Arc::new(ModelState::Loading { since: SystemTime::now() }));
        }
    }

    /// Starts an attempt on a background thread. Called with the slot lock held and no attempt
    /// running; `running` is set before the lock is released, so no second attempt can start.
    fn spawn_attempt(&self, mut slot: MutexGuard<'_, LoadSlot>) {
        self.begin_attempt(&mut slot);
        drop(slot);
        let model = self.clone();
        let spawned = std::thread::Builder::new()
            .name("airlock-model-load".into())
            // The outcome is recorded in the state and handed to waiters.
            .spawn(move || drop(model.do_attempt()));
        if spawned.is_err() {
            // No thread to be had: load on this one rather than leave `running` set forever.
            drop(self.do_attempt());
        }
    }

    /// Runs one load attempt. `running` is already set; the slot lock is not held.
    fn do_attempt(&self) -> Result<ReadyModel> {
        let started = Instant::now();
        events::model_loading(&self.inner.file);

        // tract runs inside catch_unwind (see `plan`); this guard is the last line: if anything
        // else panics before the outcome is recorded, the attempt still ends as a failure and
        // the waiters are woken, instead of the state saying `loading` forever.
        struct Unfinished<'a>(&'a Model);
        impl Drop for Unfinished<'_> {
            fn drop(&mut self) {
                let mut slot = self.0.lock_slot();
                let panicked = Error::Internal { reason: "the model load panicked".into() };
                self.0.record_failure(&mut slot, &panicked);
                slot.running = false;
                slot.attempts_ended += 1;
                drop(slot);
                self.0.inner.finished.notify_all();
            }
        }
        let unfinished = Unfinished(self);
        let result = self.load_plan();

        let mut slot = self.lock_slot();
        let outcome = match result {
            Ok(plan) => {
                let plan = Arc::new(Loaded {
                    plan,
                    options: self.inner.options.clone(),
                    labels: self.inner.labels.clone(),
                });
                let load_time = started.elapsed();
                self.inner.ready.store(Some(plan.clone()));
                self.inner.state.store(Arc::new(ModelState::Ready { loaded_at: SystemTime::now(), load_time }));
                slot.failures = 0;
                slot.retry_at = None;
                slot.last_failure = None;
                events::model_ready(&self.inner.file, load_time.as_millis());
                Ok(self.ready_model(plan))
            }
            Err(error) => {
                self.record_failure(&mut slot, &error);
                Err(self.failed(&slot))
            }
        };
        slot.running = false;
        slot.attempts_ended += 1;
        std::mem::forget(unfinished);
        drop(slot);
        self.inner.finished.notify_all();
        outcome
    }

    /// Records a failed attempt: backoff, reason, audit event, and the `Failed` state (unless
    /// an earlier plan is still in service: a failed reload keeps the state `Ready`).
    fn record_failure(&self, slot: &mut LoadSlot, error: &Error) {
        slot.failures = slot.failures.saturating_add(1);
        let backoff = self.backoff(slot.failures);
        slot.retry_at = Some(Instant::now() + backoff);
        let failure = LoadFailure { code: error.code(), reason: error.to_string() };
        slot.last_failure = Some(failure.clone());
        events::model_failed(&self.inner.file, error, slot.failures);
        if self.inner.ready.load().is_none() {
            self.inner.state.store(Arc::new(ModelState::Failed {
                failure,
                attempts: slot.failures,
                since: SystemTime::now(),
                next_retry: SystemTime::now() + backoff,
            }));
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let o = &self.inner.options;
        let factor = 1u32.checked_shl(failures.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
        o.backoff_initial.saturating_mul(factor).min(o.backoff_max).min(MAX_BACKOFF)
    }

    fn load_plan(&self) -> Result<LoadedPlan> {
        let o = &self.inner.options;
        let file = self
            .inner
            .dir
            .open(&self.inner.file)
            .map_err(|e| Error::io("open model file", e))?;
        let meta = file.metadata().map_err(|e| Error::io("stat model file", e))?;
        if !meta.is_file() {
            return Err(Error::ModelInvalid { reason: "model path is not a regular file".into() });
        }
        plan::load(file.into_std(), o.max_model_bytes, &o.input_shape, o.sha256.as_ref())
    }
}
