//! Trained burn networks → a Beeline model file.

use super::modules::Net;
use crate::config::{ModelConfig, NetRole};
use crate::error::{Error, Result};
use crate::modelfile::ModelFile;
use crate::weights::Weights;

/// The model file of `config` with the weights of `nets`, one per network role of `config`
/// (e.g. `[(NetRole::Velocity, &net)]`, or CAF's initial-velocity and acceleration pair). Each
/// net's architecture must equal the config's for its role; the tensors are named
/// `"<role>.<param>"` in Beeline layouts (see [`convert`](super::convert)). The file is
/// validated like any loaded one ([`ModelFile::new`]); write it with [`ModelFile::write`].
pub fn export(nets: &[(NetRole, &Net)], config: ModelConfig) -> Result<ModelFile> {
    let mut weights = Weights::default();
    for (role, net) in nets {
        let arch = config
            .networks
            .get(role)
            .ok_or_else(|| Error::BadConfig(format!("the config has no `{}` network", role.prefix())))?;
        if net.arch() != *arch {
            return Err(Error::BadConfig(format!("the `{}` network's architecture differs from the config's", role.prefix())));
        }
        let w = net.to_weights(role.prefix())?;
        let before = weights.tensors.len();
        let added = w.tensors.len();
        weights.tensors.extend(w.tensors);
        if weights.tensors.len() != before + added {
            return Err(Error::BadConfig(format!("network `{}` is given twice", role.prefix())));
        }
    }
    if let Some(role) = config.networks.keys().find(|r| !nets.iter().any(|(n, _)| n == *r)) {
        return Err(Error::BadConfig(format!("no network given for `{}`", role.prefix())));
    }
    ModelFile::new(config, weights)
}
