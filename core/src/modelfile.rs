//! The model file: one `safetensors` file holding f32 or f16 tensors and, in
//! `__metadata__["beeline"]`, the versioned JSON [`ModelConfig`].
//!
//! Reading checks everything before any weight is used, and reports the first problem as a typed
//! [`Error`]: truncated files, header lengths past the end or over 100 MB, bad header JSON,
//! overlapping or partial tensor data, a missing or unknown-version config, missing, extra or
//! misnamed tensors, wrong shapes or dtypes, NaN/Inf weights, and configs that contradict the
//! tensors. Nothing allocates more than the file's own size, and nothing panics.
//!
//! Writing validates the same way (a file Beeline writes always loads), stores tensors in the
//! order of [`ModelConfig::tensor_specs`], and replaces the destination atomically.

use crate::config::{FORMAT_NAME, FORMAT_VERSION, METADATA_KEY, ModelConfig};
use crate::error::{Error, Result};
use crate::weights::{StoredDtype, Tensor, Weights};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Largest header the format allows (the safetensors crate's limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest model file Beeline reads (2 GiB: one browser ArrayBuffer).
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// A loaded model: its config and its weights (expanded to f32).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// The validated config.
    pub config: ModelConfig,
    /// Every tensor the config needs, checked for shape and finiteness.
    pub weights: Weights,
}

/// One tensor as listed in a file header (for `beeline info`).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    /// Full name.
    pub name: String,
    /// Dtype as the file names it (`"F32"`, `"F16"`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Bytes of data.
    pub bytes: usize,
}

impl ModelFile {
    /// Builds a model from a config and weights, validating both against each other.
    pub fn new(config: ModelConfig, weights: Weights) -> Result<Self> {
        check_model(&config, &weights)?;
        Ok(ModelFile { config, weights })
    }

    /// Parses and validates a model file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (st, json) = parse_container(bytes)?;
        let config = config_from_json(&json.ok_or(Error::NotBeeline)?)?;
        let specs = config.tensor_specs();
        let expected: HashMap<&str, &[usize]> = specs.iter().map(|s| (s.name.as_str(), s.shape.as_slice())).collect();

        let mut views: BTreeMap<String, TensorView<'_>> = BTreeMap::new();
        for (name, view) in st.tensors() {
            if !expected.contains_key(name.as_str()) {
                return Err(Error::UnexpectedTensor(name));
            }
            views.insert(name, view);
        }
        let mut weights = Weights::default();
        for spec in &specs {
            let view = views.get(&spec.name).ok_or_else(|| Error::MissingTensor(spec.name.clone()))?;
            let stored = match view.dtype() {
                Dtype::F32 => StoredDtype::F32,
                Dtype::F16 => StoredDtype::F16,
                other => return Err(Error::WrongDtype { name: spec.name.clone(), dtype: format!("{other:?}") }),
            };
            if view.shape() != spec.shape.as_slice() {
                return Err(Error::WrongShape {
                    name: spec.name.clone(),
                    expected: spec.shape.clone(),
                    found: view.shape().to_vec(),
                });
            }
            let data = decode(view.data(), stored);
            check_finite(&spec.name, &data)?;
            weights.tensors.insert(spec.name.clone(), Tensor { shape: spec.shape.clone(), data, stored });
        }
        Ok(ModelFile { config, weights })
    }

    /// Reads and validates a model file from disk.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&read_bounded(path.as_ref())?)
    }

    /// Serialises to safetensors bytes. `dtype` overrides every tensor's stored dtype; `None`
    /// keeps each tensor's own. Fails (and writes nothing) if a weight does not fit in f16.
    pub fn to_bytes(&self, dtype: Option<StoredDtype>) -> Result<Vec<u8>> {
        check_model(&self.config, &self.weights)?;
        let json = serde_json::to_string(&self.config).map_err(|e| Error::BadConfig(e.to_string()))?;
        let mut encoded: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for spec in self.config.tensor_specs() {
            let t = &self.weights.tensors[&spec.name]; // present: checked above
            let stored = dtype.unwrap_or(t.stored);
            let bytes = encode(&t.data, stored);
            if stored == StoredDtype::F16 {
                check_finite(&spec.name, &decode(&bytes, stored))?;
            }
            let dt = match stored {
                StoredDtype::F32 => Dtype::F32,
                StoredDtype::F16 => Dtype::F16,
            };
            encoded.push((spec.name, dt, spec.shape, bytes));
        }
        let mut views = Vec::with_capacity(encoded.len());
        for (name, dt, shape, bytes) in &encoded {
            let view = TensorView::new(*dt, shape.clone(), bytes).map_err(|e| Error::BadLayout(e.to_string()))?;
            views.push((name.clone(), view));
        }
        let meta = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::BadLayout(e.to_string()))
    }

    /// Writes the file atomically: to a temporary file beside `path`, then renamed over it, so a
    /// killed process never leaves a half-written model.
    pub fn write(&self, path: impl AsRef<Path>, dtype: Option<StoredDtype>) -> Result<()> {
        crate::files::write_atomic(path.as_ref(), &self.to_bytes(dtype)?)
    }

    /// Parameter count over all networks.
    pub fn num_params(&self) -> usize {
        self.weights.tensors.values().map(|t| t.data.len()).sum()
    }
}

/// Lists a file's tensors and raw config JSON without validating the config against them, for
/// inspecting files that fail to load. The container itself must still be well formed.
pub fn inspect(bytes: &[u8]) -> Result<(Option<String>, Vec<TensorEntry>)> {
    let (st, config) = parse_container(bytes)?;
    let mut entries: Vec<TensorEntry> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| TensorEntry {
            name,
            dtype: format!("{:?}", v.dtype()),
            shape: v.shape().to_vec(),
            bytes: v.data().len(),
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((config, entries))
}

/// Reads a whole model file (a regular file only), refusing one larger than [`MAX_FILE_BYTES`]
/// as invalid before reading it.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    crate::files::read_regular(path, MAX_FILE_BYTES, |len| {
        Error::BadLayout(format!("{} is {len} bytes; model files are limited to {MAX_FILE_BYTES} bytes", path.display()))
    })
}

/// Checks the outer container: header length, header JSON, tensor layout.
fn parse_container(bytes: &[u8]) -> Result<(SafeTensors<'_>, Option<String>)> {
    let file_len = bytes.len() as u64;
    let Some(len_bytes) = bytes.get(..8) else {
        return Err(Error::Truncated(format!("{file_len} bytes is shorter than the 8-byte header length")));
    };
    let header_len = u64::from_le_bytes(len_bytes.try_into().map_err(|_| Error::Truncated("header length".into()))?);
    if header_len > MAX_HEADER_BYTES {
        return Err(Error::HeaderTooLarge(header_len));
    }
    if header_len > file_len - 8 {
        return Err(Error::HeaderPastEnd { header_len, file_len });
    }
    let map = |e| match e {
        SafeTensorError::MetadataIncompleteBuffer => data_length_error(bytes, header_len as usize),
        other => map_st_error(other),
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(map)?;
    // The safetensors reader keeps the last of two equal keys (a tensor or `__metadata__` given
    // twice); refuse such a header. It parsed, so it is UTF-8 JSON.
    let header = std::str::from_utf8(&bytes[8..8 + header_len as usize]).map_err(|e| Error::BadHeader(format!("header is not UTF-8: {e}")))?;
    crate::strict_json::parse(header).map_err(|e| Error::BadHeader(format!("header JSON: {e}")))?;
    let config = meta.metadata().as_ref().and_then(|m| m.get(METADATA_KEY).cloned());
    Ok((SafeTensors::deserialize(bytes).map_err(map)?, config))
}

/// Explains a mismatch between the header's tensor extent and the data actually present.
fn data_length_error(bytes: &[u8], header_len: usize) -> Error {
    let have = bytes.len() - 8 - header_len;
    let need = std::str::from_utf8(&bytes[8..8 + header_len])
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| {
            v.as_object()?
                .iter()
                .filter(|(k, _)| k.as_str() != "__metadata__")
                .filter_map(|(_, t)| t.get("data_offsets")?.get(1)?.as_u64())
                .max()
        })
        .unwrap_or(0);
    if (have as u64) < need {
        Error::Truncated(format!("the header describes {need} bytes of tensor data but only {have} follow"))
    } else {
        Error::BadLayout(format!("{} unexpected bytes follow the last tensor", have as u64 - need))
    }
}

fn map_st_error(e: SafeTensorError) -> Error {
    match e {
        SafeTensorError::InvalidHeader(u) => Error::BadHeader(format!("header is not UTF-8: {u}")),
        SafeTensorError::InvalidHeaderDeserialization(j) | SafeTensorError::JsonError(j) => {
            Error::BadHeader(format!("header JSON: {j}"))
        }
        SafeTensorError::HeaderTooLarge => Error::HeaderTooLarge(u64::MAX),
        SafeTensorError::HeaderTooSmall => Error::Truncated("no header length".into()),
        SafeTensorError::InvalidHeaderLength => Error::BadHeader("header length is invalid".into()),
        SafeTensorError::MetadataIncompleteBuffer => Error::Truncated("tensor data is incomplete".into()),
        SafeTensorError::IoError(io) => Error::Io(io.to_string()),
        other => Error::BadLayout(other.to_string()),
    }
}

/// Parses the config JSON of `__metadata__["beeline"]`, checking format and version before the
/// full schema so that a newer file gets a version error rather than a schema error.
pub fn config_from_json(json: &str) -> Result<ModelConfig> {
    let value = crate::strict_json::parse(json).map_err(|e| Error::BadConfig(format!("config is not JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| Error::BadConfig("config is not a JSON object".into()))?;
    match obj.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT_NAME) => {}
        Some(other) => return Err(Error::BadConfig(format!("format is {other:?}, expected {FORMAT_NAME:?}"))),
        None => return Err(Error::BadConfig("config has no \"format\"".into())),
    }
    match obj.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == FORMAT_VERSION as u64 => {}
        Some(v) => return Err(Error::UnknownVersion { found: v, supported: FORMAT_VERSION }),
        None => return Err(Error::BadConfig("config has no integer \"version\"".into())),
    }
    let config: ModelConfig = serde_json::from_value(value).map_err(|e| Error::BadConfig(e.to_string()))?;
    config.validate()?;
    Ok(config)
}

/// Checks weights against a config: every tensor present with the right shape, no extra tensor,
/// every value finite.
fn check_model(config: &ModelConfig, weights: &Weights) -> Result<()> {
    config.validate()?;
    let specs = config.tensor_specs();
    for name in weights.tensors.keys() {
        if !specs.iter().any(|s| &s.name == name) {
            return Err(Error::UnexpectedTensor(name.clone()));
        }
    }
    for spec in &specs {
        let data = weights.get(&spec.name, &spec.shape)?;
        check_finite(&spec.name, data)?;
    }
    Ok(())
}

fn check_finite(name: &str, data: &[f32]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { name: name.into(), index, value: data[index] }),
        None => Ok(()),
    }
}

fn decode(bytes: &[u8], dtype: StoredDtype) -> Vec<f32> {
    match dtype {
        StoredDtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        StoredDtype::F16 => {
            bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
        }
    }
}

fn encode(data: &[f32], dtype: StoredDtype) -> Vec<u8> {
    match dtype {
        StoredDtype::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        StoredDtype::F16 => data.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
    }
}
