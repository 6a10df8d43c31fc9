//! Training checkpoints: one `safetensors` file, `<out>/checkpoint.safetensors`, replaced
//! atomically (written to a temporary sibling, synced, renamed: [`write_atomic`]), so a run
//! killed at any moment leaves either the previous checkpoint or the new one, never half of one.
//!
//! Contents (all f32, burn layouts, parameters in module order):
//!
//! | tensor | what |
//! |---|---|
//! | `model.<path>` | the trained weights |
//! | `ema.<path>` | their exponential moving average |
//! | `adam.m1.<path>`, `adam.m2.<path>` | AdamW's moments (absent before the first step) |
//!
//! and `__metadata__["beeline_checkpoint"]`: JSON [`CheckpointMeta`] — format version, steps
//! done, the [`TrainConfig`], each parameter's path, shape and AdamW step count, and the
//! training time so far. `<path>` is the burn module path (e.g. `Mlp.hidden.0.weight`). With
//! the seed in the config and every random draw a function of (seed, step), this is the whole
//! state of a run: resuming from it continues bit for bit (see [`trainer`](super::trainer)).

use super::config::TrainConfig;
use super::optim::ParamInfo;
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::modelfile::read_bounded;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The checkpoint's file name inside the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The `__metadata__` key holding [`CheckpointMeta`].
pub const METADATA_KEY: &str = "beeline_checkpoint";
/// The version this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// One parameter's entry in the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamMeta {
    /// burn module path.
    pub path: String,
    /// burn shape.
    pub shape: Vec<usize>,
    /// AdamW steps taken for this parameter (0: no moments stored).
    pub adam_time: usize,
}

/// The JSON metadata of a checkpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// Optimiser steps done.
    pub step: u64,
    /// Seconds spent training up to this checkpoint (over all resumed runs).
    pub elapsed_s: f64,
    /// The run's config.
    pub config: TrainConfig,
    /// The parameters, in module order.
    pub params: Vec<ParamMeta>,
}

/// A checkpoint in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Metadata.
    pub meta: CheckpointMeta,
    /// Trained weights, per parameter, flattened.
    pub model: Vec<Vec<f32>>,
    /// EMA weights.
    pub ema: Vec<Vec<f32>>,
    /// AdamW (m1, m2) per parameter; `None` before its first step.
    pub moments: Vec<Option<(Vec<f32>, Vec<f32>)>>,
}

fn bad(path: &Path, m: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("checkpoint {}: {m}", path.display()))
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Checkpoint {
    /// Checks that the tensors agree with the metadata.
    fn check(&self) -> Result<()> {
        let n = self.meta.params.len();
        if self.model.len() != n || self.ema.len() != n || self.moments.len() != n {
            return Err(Error::InvalidInput("checkpoint: tensor lists differ from the parameter list".into()));
        }
        Ok(())
    }

    /// The parameter list as [`ParamInfo`]s.
    pub fn param_infos(&self) -> Vec<ParamInfo> {
        self.meta.params.iter().map(|p| ParamInfo { path: p.path.clone(), shape: p.shape.clone() }).collect()
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.check()?;
        let json = serde_json::to_string(&self.meta).map_err(|e| Error::InvalidInput(format!("checkpoint metadata: {e}")))?;
        let mut encoded: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, p) in self.meta.params.iter().enumerate() {
            encoded.push((format!("model.{}", p.path), p.shape.clone(), f32_bytes(&self.model[i])));
            encoded.push((format!("ema.{}", p.path), p.shape.clone(), f32_bytes(&self.ema[i])));
            if let Some((m1, m2)) = &self.moments[i] {
                encoded.push((format!("adam.m1.{}", p.path), p.shape.clone(), f32_bytes(m1)));
                encoded.push((format!("adam.m2.{}", p.path), p.shape.clone(), f32_bytes(m2)));
            }
        }
        let mut views = Vec::with_capacity(encoded.len());
        for (name, shape, bytes) in &encoded {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| Error::InvalidInput(format!("checkpoint tensor {name}: {e}")))?;
            views.push((name.clone(), view));
        }
        let meta = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::InvalidInput(format!("checkpoint: {e}")))
    }

    /// Parses checkpoint bytes (`path` only names the file in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let meta = meta_from_bytes(bytes, path)?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(path, e))?;
        let get = |name: String, shape: &[usize]| -> Result<Option<Vec<f32>>> {
            let view = match st.tensor(&name) {
                Ok(v) => v,
                Err(_) => return Ok(None),
            };
            if view.dtype() != Dtype::F32 || view.shape() != shape {
                return Err(bad(path, format!("tensor {name} is {:?} {:?}, expected F32 {shape:?}", view.dtype(), view.shape())));
            }
            Ok(Some(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
        };
        let need = |name: String, shape: &[usize]| get(name.clone(), shape)?.ok_or_else(|| bad(path, format!("tensor {name} is missing")));
        let (mut model, mut ema, mut moments) = (Vec::new(), Vec::new(), Vec::new());
        for p in &meta.params {
            model.push(need(format!("model.{}", p.path), &p.shape)?);
            ema.push(need(format!("ema.{}", p.path), &p.shape)?);
            moments.push(if p.adam_time > 0 {
                Some((need(format!("adam.m1.{}", p.path), &p.shape)?, need(format!("adam.m2.{}", p.path), &p.shape)?))
            } else {
                None
            });
        }
        Ok(Checkpoint { meta, model, ema, moments })
    }

    /// The checkpoint file of output folder `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(CHECKPOINT_FILE)
    }

    /// Writes `<dir>/checkpoint.safetensors` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(&Self::path_in(dir), &self.to_bytes()?)
    }

    /// Reads `<dir>/checkpoint.safetensors`; `Ok(None)` if there is none.
    pub fn read(dir: &Path) -> Result<Option<Checkpoint>> {
        let path = Self::path_in(dir);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(Self::from_bytes(&read_bounded(&path)?, &path)?))
    }
}

fn meta_from_bytes(bytes: &[u8], path: &Path) -> Result<CheckpointMeta> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(path, format!("not a readable safetensors file ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY).cloned())
        .ok_or_else(|| bad(path, "no beeline_checkpoint metadata (not a training checkpoint)"))?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| bad(path, e))?;
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == CHECKPOINT_VERSION as u64 => {}
        other => return Err(bad(path, format!("checkpoint version {other:?}; this build reads version {CHECKPOINT_VERSION}"))),
    }
    serde_json::from_value(value).map_err(|e| bad(path, e))
}

/// The metadata (config and step) of `<dir>/checkpoint.safetensors` without its tensors;
/// `Ok(None)` if there is none.
pub fn read_meta(dir: &Path) -> Result<Option<CheckpointMeta>> {
    let path = Checkpoint::path_in(dir);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(meta_from_bytes(&read_bounded(&path)?, &path)?))
}
