//! Parameter-wise machinery of the trainer, keyed by a parameter's position in module order
//! (never by burn's random `ParamId`s, so that a network rebuilt from a checkpoint lines up with
//! the saved optimiser state): listing and replacing parameters, the global gradient norm, one
//! AdamW step driven through burn's [`AdamW`] optimiser, and the EMA.
//!
//! burn's `ModuleOptimizer` is not used because its state is keyed by `ParamId` and its
//! `load_record` materialises the state on `Device::default()` (burn's wgpu device in this build),
//! and because its gradient clipping is per tensor, where the rectified-flow recipe clips the
//! global norm. The AdamW arithmetic is burn's own ([`Optimizer::step`] of
//! [`AdamWConfig::build`](burn::optim::AdamWConfig::build)).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamW, AdamWState, AdaptiveMomentumState, GradientsParams, Optimizer};
use burn::tensor::Tensor;

/// A parameter's module path (burn field names joined by `.`) and burn shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// E.g. `Mlp.hidden.0.weight`.
    pub path: String,
    /// burn's shape (`Linear.weight` is `[in, out]`).
    pub shape: Vec<usize>,
}

impl ParamInfo {
    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// AdamW's per-parameter state, flattened: burn's `AdaptiveMomentumState` without AMSGrad.
#[derive(Clone, Debug)]
pub struct Moments {
    /// Steps taken (bias correction).
    pub time: usize,
    /// First moment, flattened.
    pub m1: Tensor<1>,
    /// Second moment, flattened.
    pub m2: Tensor<1>,
}

struct Lister {
    path: Vec<String>,
    infos: Vec<ParamInfo>,
    values: Option<Vec<Tensor<1>>>,
}

impl ModuleVisitor for Lister {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.lazy_shape().to_vec();
        let n: usize = shape.iter().product();
        if let Some(values) = &mut self.values {
            values.push(param.val().inner().reshape([n]));
        }
        self.infos.push(ParamInfo { path: self.path.join("."), shape });
    }
}

/// The float parameters of `module`, in module order.
pub fn param_infos<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut l = Lister { path: Vec::new(), infos: Vec::new(), values: None };
    module.visit(&mut l);
    l.infos
}

/// The float parameters of `module`, in module order, flattened and without autodiff.
pub fn flat_params<M: Module>(module: &M) -> Vec<Tensor<1>> {
    let mut l = Lister { path: Vec::new(), infos: Vec::new(), values: Some(Vec::new()) };
    module.visit(&mut l);
    l.values.unwrap_or_default()
}

/// Reads flattened tensors back to the host.
pub fn to_host(values: &[Tensor<1>]) -> Vec<Vec<f32>> {
    values.iter().map(|v| v.to_data().try_into_vec_as::<f32>().expect("an f32 tensor converts to Vec<f32>")).collect()
}

struct Setter {
    values: std::vec::IntoIter<Tensor<1>>,
}

impl ModuleMapper for Setter {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let value = self.values.next().expect("one value per parameter");
        param.map(|old| {
            let new = value.reshape(old.dims());
            if old.is_autodiff() {
                let t = Tensor::from_inner(new);
                if old.is_require_grad() { t.require_grad() } else { t }
            } else {
                new
            }
        })
    }
}

/// `module` with its float parameters replaced, in module order, by `values` (flattened,
/// without autodiff, on the module's device). Parameters keep their ids and their autodiff and
/// gradient settings. `values` must hold one tensor of the right size per parameter.
pub fn set_params<M: Module>(module: M, values: Vec<Tensor<1>>) -> M {
    assert_eq!(values.len(), param_infos(&module).len(), "one value per parameter");
    module.map(&mut Setter { values: values.into_iter() })
}

struct NormVisitor<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for NormVisitor<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

/// The global L2 norm of the gradients of `module`'s parameters, `[1]` on the device (no host
/// round trip), summed in module order. `None` if no parameter has a gradient.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut v = NormVisitor { grads, total: None };
    module.visit(&mut v);
    v.total.map(|t| t.sqrt())
}

/// Applies one AdamW step to every parameter that has a gradient.
struct AdamStep<'a> {
    adam: &'a AdamW,
    lr: f64,
    grads: &'a mut GradientsParams,
    /// Multiplies every gradient (global-norm clipping), `[1]`.
    scale: Option<Tensor<1>>,
    states: &'a mut [Option<Moments>],
    index: usize,
}

impl ModuleMapper for AdamStep<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let i = self.index;
        self.index += 1;
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let grad = match &self.scale {
            Some(s) => grad * s.clone().reshape([1; D]).expand(dims),
            None => grad,
        };
        let state = self.states[i].take().map(|m| AdamWState {
            momentum: AdaptiveMomentumState { time: m.time, moment_1: m.m1.reshape(dims), moment_2: m.m2.reshape(dims), max_moment_2: None },
        });
        let require_grad = tensor.is_require_grad();
        let autodiff = tensor.is_autodiff();
        let (updated, state) = self.adam.step(self.lr, tensor.inner(), grad, state);
        if let Some(s) = state {
            let n: usize = dims.iter().product();
            self.states[i] = Some(Moments { time: s.momentum.time, m1: s.momentum.moment_1.reshape([n]), m2: s.momentum.moment_2.reshape([n]) });
        }
        let updated = if autodiff { Tensor::from_inner(updated) } else { updated };
        let updated = if require_grad { updated.require_grad() } else { updated };
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// One AdamW step of `module` with learning rate `lr`, the gradients `grads` multiplied by
/// `scale` (if any), and the per-parameter `states` (module order; `None` before the first step).
pub fn adamw_step<M: Module>(adam: &AdamW, module: M, lr: f64, grads: &mut GradientsParams, scale: Option<Tensor<1>>, states: &mut [Option<Moments>]) -> M {
    module.map(&mut AdamStep { adam, lr, grads, scale, states, index: 0 })
}

/// `ema ← d·ema + (1 − d)·params`, parameter by parameter (module order, flattened).
pub fn ema_update<M: Module>(ema: &mut [Tensor<1>], module: &M, d: f64) {
    for (e, p) in ema.iter_mut().zip(flat_params(module)) {
        *e = e.clone().mul_scalar(d) + p.mul_scalar(1.0 - d);
    }
}
