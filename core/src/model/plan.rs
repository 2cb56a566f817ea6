//! The boundary with tract: loading a plan and running it. Nothing of tract leaves this file;
//! its `anyhow` errors and its panics become [`Error`]s here.

use std::any::Any;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::error::{Error, Result};

type Plan = Arc<TypedRunnableModel>;

/// A loaded, optimised, runnable model. `Send + Sync`: every `run` makes its own state.
pub(crate) struct LoadedPlan {
    plan: Plan,
    input_shape: Vec<usize>,
    pub(crate) sha256: [u8; 32],
}

/// An output tensor of a model run, as `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<f32>,
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    };
    shorten(&text)
}

/// tract's messages can quote tensor contents; keep the first line, cut, so a log never carries
/// a tensor dump.
fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(200).collect();
    if first.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn tract_error(stage: &str, e: &TractError) -> Error {
    // `{:#}` gives the context chain; its root cause is the informative part.
    Error::ModelInvalid { reason: format!("{stage}: {}", shorten(&format!("{:#}", e.root_cause()))) }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads, verifies and builds a plan with a fixed input shape, then runs it once on zeros so a
/// model that fails only at run time fails here, at load, not on the first user request.
pub(crate) fn load(
    mut source: impl Read,
    max_bytes: u64,
    input_shape: &[usize],
    pinned: Option<&[u8; 32]>,
) -> Result<LoadedPlan> {
    let mut bytes = Vec::new();
    source
        .by_ref()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read model file", e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::ModelInvalid { reason: format!("model file larger than {max_bytes} bytes") });
    }
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(expected) = pinned {
        if &sha256 != expected {
            return Err(Error::ModelDigestMismatch { expected: hex(expected), found: hex(&sha256) });
        }
    }
    let shape = input_shape.to_vec();
    // tract 0.23 still panics on some structurally odd models (an output no node produces, a
    // ConstantOfShape allocation bomb): contain the panic and report it as an invalid model.
    let built = catch_unwind(AssertUnwindSafe(|| -> Result<Plan> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(&bytes))
            .map_err(|e| tract_error("parse", &e))?;
        if model.input_outlets().map_err(|e| tract_error("inputs", &e))?.len() != 1 {
            return Err(Error::ModelInvalid { reason: "only single-input models are supported".into() });
        }
        let model = model
            .with_input_fact(0, f32::fact(&shape).into())
            .map_err(|e| tract_error("input fact", &e))?
            .into_optimized()
            .map_err(|e| tract_error("optimize", &e))?;
        model.into_runnable().map_err(|e| tract_error("plan", &e))
    }));
    let plan = match built {
        Ok(result) => result?,
        Err(payload) => {
            return Err(Error::ModelInvalid { reason: format!("tract panicked: {}", panic_message(payload)) })
        }
    };
    let loaded = LoadedPlan { plan, input_shape: input_shape.to_vec(), sha256 };
    let zeros = vec![0f32; input_shape.iter().product()];
    loaded.run(&zeros).map_err(|e| match e {
        Error::ModelInvalid { reason } => Error::ModelInvalid { reason: format!("trial run: {reason}") },
        other => other,
    })?;
    Ok(loaded)
}

impl LoadedPlan {
    pub(crate) fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Runs on `data`, shaped as the fixed input shape. Checks length and finiteness first:
    /// tract accepts NaN silently and it can vanish from the output.
    pub(crate) fn run(&self, data: &[f32]) -> Result<Vec<OutputTensor>> {
        let expected: usize = self.input_shape.iter().product();
        if data.len() != expected {
            return Err(Error::InvalidInput {
                reason: format!(
                    "expected {expected} values for shape {:?}, got {}",
                    self.input_shape,
                    data.len()
                ),
            });
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput { reason: format!("value at index {i} is not finite") });
        }
        let ran = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<OutputTensor>> {
            let input = Tensor::from_shape(&self.input_shape, data)
                .map_err(|e| tract_error("input", &e))?;
            let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(|e| tract_error("run", &e))?;
            outputs
                .iter()
                .map(|t| {
                    let t = t.cast_to::<f32>().map_err(|e| tract_error("output", &e))?;
                    let view = t.to_plain_array_view::<f32>().map_err(|e| tract_error("output", &e))?;
                    Ok(OutputTensor { shape: t.shape().to_vec(), data: view.iter().copied().collect() })
                })
                .collect()
        }));
        match ran {
            Ok(result) => result,
            Err(payload) => {
                Err(Error::ModelInvalid { reason: format!("tract panicked: {}", panic_message(payload)) })
            }
        }
    }
}
