//! Networks with fixed weights on the training device: a method's teacher (PeRFlow's window
//! targets, SlimFlow's flow-guided regulariser) and CAF's stage-1 initial-velocity network.
//!
//! A [`Frozen`] holds a burn [`Net`] on the device without autodiff, so its evaluations cost
//! what the trained network's forward costs on the same backend (libtorch, wgpu, flex) and
//! record no graph. It is evaluated two ways:
//!
//! * on device tensors ([`Frozen::forward`], [`Frozen::guided`]), when the result feeds a loss
//!   on the same device (SlimFlow's regulariser: nothing is read back to the host);
//! * as a [`ConditionalField`] on host slices, so that the samplers' plan interpreter
//!   ([`sampling::run`](crate::sampling::run)) solves a teacher's ODE with it unchanged
//!   (PeRFlow's windows). Each evaluation uploads `x` and reads back the velocity, `B·numel`
//!   floats each way.
//!
//! Classifier-free guidance follows [`Guided`](crate::sampling::Guided) exactly: scale 1 is one
//! conditional evaluation, scale 0 one unconditional evaluation, any other scale one evaluation
//! of the doubled batch `[x; x]` with labels `[labels; NULL…]`, combined by `u + s·(c − u)`.

use super::modules::{class_rows, Net};
use crate::config::{ArchConfig, ModelConfig, NetRole};
use crate::error::{Error, Result};
use crate::field::{ConditionalField, NULL_LABEL};
use crate::modelfile::ModelFile;
use crate::sampling::GuidanceMode;
use crate::weights::Weights;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;

/// A network with fixed weights on a device without autodiff.
pub struct Frozen {
    net: Net,
    device: Device,
    numel: usize,
    classes: usize,
}

impl Frozen {
    /// The network `arch` with `weights` (bare names) on `device` (without autodiff: pass
    /// `device.inner()` of a training device).
    pub fn new(arch: &ArchConfig, weights: &Weights, device: &Device) -> Result<Frozen> {
        let net = Net::from_weights(arch, weights, "", 0.0, device)?.valid();
        Ok(Frozen { net, device: device.clone(), numel: arch.sample_shape().iter().product(), classes: arch.num_classes() })
    }

    /// The velocity network of the model file at `path` on `device`, with the file's config.
    /// `what` names the file's role in errors ("teacher", "initial_velocity").
    pub fn velocity_of(path: &Path, what: &str, device: &Device) -> Result<(ModelConfig, Frozen)> {
        let (config, arch, weights) = velocity_weights(path, what)?;
        Ok((config, Frozen::new(&arch, &weights, device)?))
    }

    /// The network (for export beside a stage-2 network).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The architecture.
    pub fn arch(&self) -> ArchConfig {
        self.net.arch()
    }

    /// `[B, numel]` velocities at Beeline times `t` (one per sample) of `x` `[B, numel]`, with
    /// `cond` `[B, numel]` for a network with a conditioning input and one label per sample
    /// for a class-conditional one (ignored by an unconditional network).
    pub fn forward(&self, x: Tensor<2>, cond: Option<Tensor<2>>, t: &[f32], labels: &[u32]) -> Result<Tensor<2>> {
        let b = x.dims()[0];
        if t.len() != b || (self.classes > 0 && labels.len() != b) {
            return Err(Error::InvalidInput(format!("frozen network: {b} samples, {} times, {} labels", t.len(), labels.len())));
        }
        let rows = if self.classes > 0 { Some(class_rows(labels, self.classes, &self.device)?) } else { None };
        Ok(self.net.forward_flat(x, cond, self.net.time_features(t, &self.device), rows))
    }

    /// Classifier-free guided velocities `[B, numel]` at one Beeline time `t` for all of `x`
    /// `[B, numel]` (the three cases of `scale` are in the module docs).
    pub fn guided(&self, x: Tensor<2>, cond: Option<Tensor<2>>, t: f32, labels: &[u32], scale: f32) -> Result<Tensor<2>> {
        let b = x.dims()[0];
        let mode = GuidanceMode::of(scale)?;
        if self.classes == 0 || mode == GuidanceMode::Conditional {
            return self.forward(x, cond, &vec![t; b], labels);
        }
        let nulls = vec![NULL_LABEL; b];
        if mode == GuidanceMode::Unconditional {
            return self.forward(x, cond, &vec![t; b], &nulls);
        }
        let doubled: Vec<u32> = labels.iter().copied().chain(nulls).collect();
        let cond2 = cond.map(|c| Tensor::cat(vec![c.clone(), c], 0));
        let both = self.forward(Tensor::cat(vec![x.clone(), x], 0), cond2, &vec![t; 2 * b], &doubled)?;
        let n = both.dims()[1];
        let (v_c, v_u) = (both.clone().slice([0..b, 0..n]), both.slice([b..2 * b, 0..n]));
        Ok(v_u.clone() + (v_c - v_u).mul_scalar(scale))
    }

    /// A host batch `[len / numel, numel]` on the device.
    fn upload(&self, x: &[f32]) -> Result<Tensor<2>> {
        if self.numel == 0 || !x.len().is_multiple_of(self.numel) {
            return Err(Error::InvalidInput(format!("a batch of {} scalars is not a whole number of {}-scalar samples", x.len(), self.numel)));
        }
        Ok(Tensor::from_data(TensorData::new(x.to_vec(), [x.len() / self.numel, self.numel]), &self.device))
    }
}

impl ConditionalField<f32> for Frozen {
    fn sample_numel(&self) -> usize {
        self.numel
    }

    /// One device evaluation. A frozen network is one network: `net` may name the velocity or
    /// the initial-velocity role.
    fn eval_labels(&mut self, net: NetRole, x: &[f32], cond: Option<&[f32]>, t: f64, labels: &[u32], out: &mut [f32]) -> Result<()> {
        if net != NetRole::Velocity && net != NetRole::InitialVelocity {
            return Err(Error::InvalidInput(format!("a frozen network answers for its own network, not {net:?}")));
        }
        if out.len() != x.len() {
            return Err(Error::InvalidInput(format!("output of {} scalars for an input of {}", out.len(), x.len())));
        }
        let xt = self.upload(x)?;
        let ct = cond.map(|c| self.upload(c)).transpose()?;
        let b = xt.dims()[0];
        let v = self.forward(xt, ct, &vec![t as f32; b], labels)?;
        let host = v.into_data().try_into_vec_as::<f32>().map_err(|e| Error::InvalidInput(format!("frozen network output: {e:?}")))?;
        out.copy_from_slice(&host);
        Ok(())
    }
}

/// The config, velocity architecture and velocity weights (bare names) of the model file at
/// `path`; `what` names it in errors.
pub(crate) fn velocity_weights(path: &Path, what: &str) -> Result<(ModelConfig, ArchConfig, Weights)> {
    let file = ModelFile::read(path)?;
    let arch = file.config.networks.get(&NetRole::Velocity).cloned().ok_or_else(|| Error::InvalidInput(format!("{what} {}: the model has no velocity network", path.display())))?;
    let prefix = format!("{}.", NetRole::Velocity.prefix());
    let mut weights = Weights::default();
    for (name, t) in file.weights.tensors {
        if let Some(bare) = name.strip_prefix(&prefix) {
            weights.tensors.insert(bare.to_string(), t);
        }
    }
    Ok((file.config, arch, weights))
}
