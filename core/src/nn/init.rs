//! Deterministic random weights for tests and benchmarks (and a training starting point).

use crate::config::ArchConfig;
use crate::noise::Stream;
use crate::weights::Weights;

/// 64-bit FNV-1a of a tensor name: its random stream index, so a tensor's values depend only on
/// the seed and its own name.
fn name_stream(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01B3))
}

/// Weights for every parameter of `arch`, named `"<prefix>.<param>"` (bare `"<param>"` for an
/// empty prefix), drawn from [`Stream`]`::new(seed, fnv1a(full name))` so they are the same on
/// every platform:
///
/// * linear and conv weights and biases: PyTorch's default, uniform(±1/√fan_in) with
///   `fan_in = in·kh·kw` of the layer's weight;
/// * GroupNorm: weight `1 + 0.1·u`, bias `0.1·u` with `u` uniform(−1, 1) (not the 1/0 of a
///   fresh PyTorch layer, so that tests see every parameter);
/// * class embeddings: `0.5·N(0, 1)`.
pub fn random_weights(arch: &ArchConfig, prefix: &str, seed: u64) -> Weights {
    let specs = arch.params();
    let mut w = Weights::default();
    for spec in &specs {
        let full = if prefix.is_empty() { spec.name.clone() } else { format!("{prefix}.{}", spec.name) };
        let s = Stream::new(seed, name_stream(&full));
        let n: usize = spec.shape.iter().product();
        let u = |i: usize| (2.0 * s.uniform(i as u64) - 1.0) as f32;
        let (stem, kind) = spec.name.rsplit_once('.').unwrap_or(("", &spec.name));
        let layer = stem.rsplit('.').next().unwrap_or("");
        let data: Vec<f32> = if spec.name == "class_embed.weight" {
            let mut v = vec![0.0; n];
            s.fill_normal(&mut v);
            v.iter().map(|x| 0.5 * x).collect()
        } else if layer.starts_with("norm") {
            if kind == "weight" { (0..n).map(|i| 1.0 + 0.1 * u(i)).collect() } else { (0..n).map(|i| 0.1 * u(i)).collect() }
        } else {
            let weight_shape = specs.iter().find(|p| p.name == format!("{stem}.weight")).map_or(&spec.shape, |p| &p.shape);
            let fan_in: usize = weight_shape[1..].iter().product::<usize>().max(1);
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|i| bound * u(i)).collect()
        };
        // Shapes come from the config, so they always match the data.
        let _ = w.insert(full, spec.shape.clone(), data);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn deterministic_nonzero_and_scaled() {
        let arch = ArchConfig::Unet(presets::unet(1, 28, 8, &[1, 2], 1, true, 3));
        let a = random_weights(&arch, "velocity", 5);
        assert_eq!(a, random_weights(&arch, "velocity", 5));
        assert_ne!(a, random_weights(&arch, "velocity", 6));
        assert_eq!(a.tensors.len(), arch.params().len());
        for (name, t) in &a.tensors {
            assert!(t.data.iter().all(|v| *v != 0.0 && v.is_finite()), "{name}");
        }
        let conv = &a.tensors["velocity.down.0.res.0.conv1.weight"];
        let bound = 1.0 / ((8 * 9) as f32).sqrt();
        assert!(conv.data.iter().all(|v| v.abs() <= bound));
        assert!(conv.data.iter().any(|v| v.abs() > 0.9 * bound));
        let norm = &a.tensors["velocity.mid.attn.norm.weight"];
        assert!(norm.data.iter().all(|v| (v - 1.0).abs() <= 0.1));
    }
}
