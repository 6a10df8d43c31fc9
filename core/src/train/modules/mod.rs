//! burn modules mirroring Beeline's two network families, parameter for parameter.
//!
//! Each module tree is named like the tensors of [`ArchConfig::params`]: the field path of a
//! parameter (burn's module path, `Vec` items by index, `Option` transparent) is its Beeline
//! name, up to the per-layer renames and transposes of [`super::convert`].

mod attention;
mod embedding;
mod mlp;
mod resblock;
mod unet;

pub use attention::Attention;
pub use embedding::{class_rows, time_features, TimeEmbedding};
pub use mlp::Mlp;
pub use resblock::ResBlock;
pub use unet::{DownLevel, MidBlock, OutHead, Unet, UpLevel};

use crate::config::ArchConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};

pub(crate) fn check_dropout(p: f64) -> Result<()> {
    if p.is_finite() && (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::BadConfig(format!("dropout probability must be in [0, 1), got {p}")))
    }
}

/// A network of either family; what training code holds. (The variants differ in size, but
/// there are one or two of these per process; boxing them would hide them from burn's derive.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Net {
    /// An MLP for points.
    Mlp(Mlp),
    /// A UNet for images.
    Unet(Unet),
}

impl Net {
    /// A freshly initialised network for `arch` on `device`, with training-only dropout `dropout`.
    pub fn new(arch: &ArchConfig, dropout: f64, device: &Device) -> Result<Net> {
        Ok(match arch {
            ArchConfig::Mlp(m) => Net::Mlp(Mlp::new(m, dropout, device)?),
            ArchConfig::Unet(u) => Net::Unet(Unet::new(u, dropout, device)?),
        })
    }

    /// The network `arch` with the tensors `"<prefix>.<param>"` of `weights` (bare names for an
    /// empty prefix), as [`Network::new`](crate::nn::Network::new) reads them.
    pub fn from_weights(arch: &ArchConfig, weights: &Weights, prefix: &str, dropout: f64, device: &Device) -> Result<Net> {
        super::convert::load_weights(Net::new(arch, dropout, device)?, arch, weights, prefix)
    }

    /// The weights in Beeline names and layouts, named `"<prefix>.<param>"`.
    pub fn to_weights(&self, prefix: &str) -> Result<Weights> {
        super::convert::to_weights(self, &self.arch(), prefix)
    }

    /// The architecture.
    pub fn arch(&self) -> ArchConfig {
        match self {
            Net::Mlp(m) => ArchConfig::Mlp(m.config.clone()),
            Net::Unet(u) => ArchConfig::Unet(u.config.clone()),
        }
    }

    /// The sinusoidal time features of Beeline times `t` for this network.
    pub fn time_features(&self, t: &[f32], device: &Device) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.time_features(t, device),
            Net::Unet(u) => u.time_features(t, device),
        }
    }

    /// Forward on flat samples, like [`Network::forward`](crate::nn::Network::forward): `x`
    /// `[B, sample_numel]` (NCHW per sample for images), `cond` `[B, cond_numel]` iff the
    /// architecture has one, time features from [`time_features`](Self::time_features), class
    /// rows from [`class_rows`]. Returns `[B, sample_numel]`.
    pub fn forward_flat(&self, x: Tensor<2>, cond: Option<Tensor<2>>, features: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.forward_features(x, cond, features, labels),
            Net::Unet(u) => {
                let cfg = &u.config;
                let [b, n] = x.dims();
                let (h, w) = (cfg.height, cfg.width);
                let x = x.reshape([b, cfg.channels, h, w]);
                let cond = cond.map(|c| c.reshape([b, cfg.cond_channels, h, w]));
                u.forward_features(x, cond, features, labels).reshape([b, n])
            }
        }
    }
}
