//! Ready-made configs: the sizes Beeline trains and ships, and tiny ones for tests.

use crate::config::*;
use std::collections::BTreeMap;

/// An MLP velocity field for `dim`-dimensional points (the 2D toys use `dim = 2`).
pub fn mlp(dim: usize, hidden: usize, depth: usize, num_classes: usize) -> MlpConfig {
    MlpConfig { dim, hidden, depth, time_embed_dim: 64.min(hidden.max(2) & !1), cond_dim: 0, num_classes }
}

/// A UNet for `channels × size × size` images. `base` C, levels from `mult`.
pub fn unet(channels: usize, size: usize, base: usize, mult: &[usize], res_blocks: usize, attention: bool, num_classes: usize) -> UnetConfig {
    UnetConfig {
        channels,
        height: size,
        width: size,
        base_channels: base,
        channel_mult: mult.to_vec(),
        num_res_blocks: res_blocks,
        attention,
        attention_heads: 1,
        groups: [8, 4, 2, 1].into_iter().find(|g| base % g == 0).unwrap_or(1),
        cond_channels: 0,
        num_classes,
    }
}

/// The MNIST/Fashion-MNIST UNet Beeline trains by default (≈ 1.4 M parameters, class-conditional,
/// attention at 7×7).
pub fn unet_mnist() -> UnetConfig {
    unet(1, 28, 32, &[1, 2, 2], 1, true, 10)
}

/// Class names "0".."n-1".
pub fn digit_classes(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// A single-network velocity model config around `arch`.
pub fn velocity_model(arch: ArchConfig, data: DataSpec, classes: Vec<String>, sampler: SamplerDefaults) -> ModelConfig {
    ModelConfig {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        networks: BTreeMap::from([(NetRole::Velocity, arch)]),
        parameterization: Parameterization::Velocity,
        data,
        classes,
        sampler,
        provenance: Provenance::default(),
    }
}

/// Euler with `steps` steps on a uniform grid, no guidance.
pub fn euler(steps: u32) -> SamplerDefaults {
    SamplerDefaults { solver: Solver::Euler, steps, guidance: 1.0, time_grid: TimeGrid::Uniform }
}

/// A 2D point data spec.
pub fn points2d(name: &str, half_width: f32) -> DataSpec {
    DataSpec { name: name.into(), shape: vec![2], range: [-half_width, half_width] }
}

/// An image data spec in `[-1, 1]`.
pub fn images(name: &str, channels: usize, size: usize) -> DataSpec {
    DataSpec { name: name.into(), shape: vec![channels, size, size], range: [-1.0, 1.0] }
}
