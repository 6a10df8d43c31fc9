//! burn module ⇄ [`Weights`]: names and layouts.
//!
//! A parameter's Beeline name is its burn module path (struct fields by name, `Vec` items by
//! index, `Option`s and the [`Net`](super::Net) enum transparent), with these per-layer rules,
//! decided by the burn layer type that owns the parameter:
//!
//! | burn layer | burn parameter, layout | Beeline tensor, layout |
//! |---|---|---|
//! | `Linear` | `weight` `[in, out]` | `weight` `[out, in]` (transposed) |
//! | `Linear` | `bias` `[out]` | `bias` `[out]` |
//! | `Conv2d` | `weight` `[out, in, kh, kw]` | `weight` `[out, in, kh, kw]` (same memory) |
//! | `Conv2d` | `bias` `[out]` | `bias` `[out]` |
//! | `GroupNorm` | `gamma` `[C]`, `beta` `[C]` | `weight` `[C]`, `bias` `[C]` |
//! | `Embedding` | `weight` `[rows, dim]` | `weight` `[rows, dim]` |
//!
//! Any other float parameter is an error, and the exported set of names and shapes must equal
//! [`ArchConfig::params`] exactly, so a module that drifted from the architecture cannot export.

use crate::config::{ArchConfig, ParamSpec};
use crate::error::{Error, Result};
use crate::weights::Weights;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use std::collections::{BTreeMap, BTreeSet};

/// How one burn parameter maps to a Beeline tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    /// Beeline name without the role prefix.
    name: String,
    /// Whether the 2-D burn tensor is stored transposed (`Linear.weight`).
    transpose: bool,
}

/// The module path seen by a visitor or mapper: `(name, container type)` per level.
#[derive(Default)]
struct PathStack(Vec<(String, String)>);

impl PathStack {
    fn enter(&mut self, name: &str, container: &str) {
        self.0.push((name.to_string(), container.to_string()));
    }
    fn exit(&mut self) {
        self.0.pop();
    }

    /// The mapping of the parameter at the current path (the last entry is the parameter's
    /// field inside the layer that owns it).
    fn mapping(&self) -> Result<Mapping> {
        let path = || self.0.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(".");
        let Some(((field, owner), parents)) = self.0.split_last() else {
            return Err(Error::BadConfig("a parameter outside any module".into()));
        };
        let (beeline_field, transpose) = match (owner.as_str(), field.as_str()) {
            ("Struct:Linear", "weight") => ("weight", true),
            ("Struct:Linear", "bias") => ("bias", false),
            ("Struct:Conv2d", "weight") => ("weight", false),
            ("Struct:Conv2d", "bias") => ("bias", false),
            ("Struct:GroupNorm", "gamma") => ("weight", false),
            ("Struct:GroupNorm", "beta") => ("bias", false),
            ("Struct:Embedding", "weight") => ("weight", false),
            _ => return Err(Error::BadConfig(format!("parameter `{}` of a {owner} has no Beeline mapping", path()))),
        };
        let mut name: Vec<&str> = parents.iter().filter(|(_, c)| !c.starts_with("Enum:")).map(|(n, _)| n.as_str()).collect();
        name.push(beeline_field);
        Ok(Mapping { name: name.join("."), transpose })
    }
}

fn full_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// Row-major `[rows, cols]` → `[cols, rows]`.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// Every float parameter as (mapping, burn shape, burn data).
type Found = Vec<(Mapping, Vec<usize>, Vec<f32>)>;

/// Collects every float parameter.
struct Collector {
    path: PathStack,
    with_data: bool,
    found: Found,
    error: Option<Error>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match self.path.mapping() {
            Ok(m) => {
                let shape = param.lazy_shape().to_vec();
                let data = if self.with_data {
                    param.val().into_data().try_into_vec_as::<f32>().expect("an f32 tensor converts to Vec<f32>")
                } else {
                    Vec::new()
                };
                self.found.push((m, shape, data));
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }
}

fn collect<M: Module>(module: &M, with_data: bool) -> Result<Found> {
    let mut c = Collector { path: PathStack::default(), with_data, found: Vec::new(), error: None };
    module.visit(&mut c);
    match c.error {
        Some(e) => Err(e),
        None => Ok(c.found),
    }
}

/// Beeline shape of a burn parameter.
fn beeline_shape(m: &Mapping, shape: &[usize]) -> Vec<usize> {
    if m.transpose { vec![shape[1], shape[0]] } else { shape.to_vec() }
}

/// The Beeline names (without prefix) and shapes of `module`'s parameters, in module order.
/// For a module built from `arch` this is [`ArchConfig::params`] up to order (a test checks it).
pub fn param_specs<M: Module>(module: &M) -> Result<Vec<ParamSpec>> {
    Ok(collect(module, false)?.into_iter().map(|(m, shape, _)| ParamSpec { shape: beeline_shape(&m, &shape), name: m.name }).collect())
}

/// Checks that `module`'s parameters are exactly `arch`'s, by name and shape.
fn check_against(arch: &ArchConfig, found: &BTreeMap<String, Vec<usize>>) -> Result<()> {
    let want: BTreeMap<String, Vec<usize>> = arch.params().into_iter().map(|p| (p.name, p.shape)).collect();
    for (name, shape) in &want {
        match found.get(name) {
            None => return Err(Error::MissingTensor(name.clone())),
            Some(s) if s != shape => return Err(Error::WrongShape { name: name.clone(), expected: shape.clone(), found: s.clone() }),
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|n| !want.contains_key(*n)) {
        return Err(Error::UnexpectedTensor(extra.clone()));
    }
    Ok(())
}

/// `module`'s parameters as Beeline weights named `"<prefix>.<param>"` (bare for an empty
/// prefix), in Beeline layouts. Errors if they are not exactly the parameters of `arch`.
pub fn to_weights<M: Module>(module: &M, arch: &ArchConfig, prefix: &str) -> Result<Weights> {
    let found = collect(module, true)?;
    let shapes: BTreeMap<String, Vec<usize>> = found.iter().map(|(m, s, _)| (m.name.clone(), beeline_shape(m, s))).collect();
    if shapes.len() != found.len() {
        return Err(Error::BadConfig("two burn parameters map to the same Beeline name".into()));
    }
    check_against(arch, &shapes)?;
    let mut w = Weights::default();
    for (m, shape, data) in found {
        let (shape, data) = if m.transpose { (vec![shape[1], shape[0]], transpose(&data, shape[0], shape[1])) } else { (shape, data) };
        w.insert(full_name(prefix, &m.name), shape, data)?;
    }
    Ok(w)
}

/// Replaces every float parameter with the Beeline tensor of the same name.
struct Loader<'a> {
    path: PathStack,
    weights: &'a Weights,
    prefix: &'a str,
    used: BTreeSet<String>,
    error: Option<Error>,
}

impl Loader<'_> {
    fn tensor_for<const D: usize>(&mut self, shape: &[usize]) -> Result<(String, TensorData)> {
        let m = self.path.mapping()?;
        let want = beeline_shape(&m, shape);
        let full = full_name(self.prefix, &m.name);
        let data = self.weights.get(&full, &want)?;
        let data = if m.transpose { transpose(data, want[0], want[1]) } else { data.to_vec() };
        Ok((m.name, TensorData::new(data, shape.to_vec())))
    }
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let shape = param.lazy_shape().to_vec();
        match self.tensor_for::<D>(&shape) {
            Ok((name, data)) => {
                self.used.insert(name);
                // Keeps the parameter's id and its gradient setting; the value is replaced.
                param.map(|old| {
                    let require_grad = old.is_require_grad();
                    Tensor::<D>::from_data(data, &old.device()).set_require_grad(require_grad)
                })
            }
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// `module` (built for `arch`) with every parameter replaced by the tensor
/// `"<prefix>.<param>"` of `weights`, converted to burn's layout. Errors: the first missing or
/// misshapen tensor, or a module whose parameters are not exactly `arch`'s. Tensors of other
/// networks (other prefixes) are ignored, as by [`Network::new`](crate::nn::Network::new).
pub fn load_weights<M: Module>(module: M, arch: &ArchConfig, weights: &Weights, prefix: &str) -> Result<M> {
    let shapes: BTreeMap<String, Vec<usize>> = param_specs(&module)?.into_iter().map(|p| (p.name, p.shape)).collect();
    check_against(arch, &shapes)?;
    let mut loader = Loader { path: PathStack::default(), weights, prefix, used: BTreeSet::new(), error: None };
    let module = module.map(&mut loader);
    if let Some(e) = loader.error {
        return Err(e);
    }
    debug_assert_eq!(loader.used.len(), shapes.len());
    Ok(module)
}
