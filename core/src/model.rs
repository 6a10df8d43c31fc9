//! A loaded model on the CPU: its config plus one reference [`Network`] per role, usable as a
//! [`ConditionalField`] by every sampler.

use crate::config::{ModelConfig, NetRole};
use crate::error::{Error, Result};
use crate::field::ConditionalField;
use crate::modelfile::ModelFile;
use crate::nn::{Network, Workspace};
use std::collections::BTreeMap;
use std::path::Path;

/// A model ready to evaluate on the CPU reference backend.
pub struct Model {
    config: ModelConfig,
    nets: BTreeMap<NetRole, Network>,
    workspace: Workspace,
    times: Vec<f32>,
}

impl Model {
    /// Builds the networks of a validated model file.
    pub fn new(file: &ModelFile) -> Result<Self> {
        let mut nets = BTreeMap::new();
        for (role, arch) in &file.config.networks {
            nets.insert(*role, Network::new(arch, &file.weights, role.prefix())?);
        }
        Ok(Model { config: file.config.clone(), nets, workspace: Workspace::new(), times: Vec::new() })
    }

    /// Reads, validates and builds a model from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::new(&ModelFile::read(path)?)
    }

    /// The model's config.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The network of `role`, if the model has one.
    pub fn network(&self, role: NetRole) -> Option<&Network> {
        self.nets.get(&role)
    }
}

impl ConditionalField<f32> for Model {
    fn sample_numel(&self) -> usize {
        self.config.data.numel()
    }

    /// Every network's activations (one workspace serves them all, so their pools add up).
    fn activation_bytes(&self, batch: usize) -> u64 {
        self.nets.values().map(|n| crate::nn::activation_bytes(n.arch(), batch)).fold(0, u64::saturating_add)
    }

    fn eval_labels(
        &mut self,
        net: NetRole,
        x: &[f32],
        cond: Option<&[f32]>,
        t: f64,
        labels: &[u32],
        out: &mut [f32],
    ) -> Result<()> {
        let network = self
            .nets
            .get(&net)
            .ok_or_else(|| Error::InvalidInput(format!("this model has no `{}` network", net.prefix())))?;
        self.times.clear();
        self.times.resize(labels.len(), t as f32);
        network.forward(x, cond, &self.times, Some(labels), out, &mut self.workspace)
    }
}
