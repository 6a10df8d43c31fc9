//! Host-side weight tensors: what a model file holds once loaded (always expanded to f32).

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Storage dtype of a tensor in a model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredDtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (expanded to f32 on load).
    F16,
}

/// One weight tensor on the host, f32, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
    /// The dtype it was (or will be) stored in.
    pub stored: StoredDtype,
}

impl Tensor {
    /// An f32 tensor. Errors if `data` does not match `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(Error::InvalidInput(format!("{} values do not fill shape {shape:?}", data.len())));
        }
        Ok(Tensor { shape, data, stored: StoredDtype::F32 })
    }
}

/// Named weight tensors (full names including the role prefix, e.g. `velocity.input.weight`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    /// The tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// The values of tensor `name`, checked against the expected `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let t = self.tensors.get(name).ok_or_else(|| Error::MissingTensor(name.to_string()))?;
        if t.shape != shape {
            return Err(Error::WrongShape { name: name.into(), expected: shape.to_vec(), found: t.shape.clone() });
        }
        Ok(&t.data)
    }

    /// Inserts an f32 tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<()> {
        self.tensors.insert(name.into(), Tensor::new(shape, data)?);
        Ok(())
    }
}
