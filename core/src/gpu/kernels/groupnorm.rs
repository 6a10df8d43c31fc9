//! `groupnorm.wgsl`: GroupNorm over NHWC activations, optionally fused with SiLU.

use super::{Entry, KernelVariant, MAX_GROUPS, Spec, f};
use crate::config::GROUPNORM_EPS;

/// The fewest (group, sample) pairs the direct kernel takes (4 of its workgroups).
const DIRECT_MIN_PAIRS: u64 = 32;

/// The parameter block of `groupnorm.wgsl`: `batch` samples of `hw` pixels × `c` channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Norm {
    pub(crate) batch: u32,
    pub(crate) hw: u32,
    pub(crate) c: u32,
    pub(crate) groups: u32,
    pub(crate) silu: bool,
    /// The preferred algorithm (`groupnorm_direct.wgsl` when the group's channels are a
    /// multiple of 4).
    pub(crate) variant: KernelVariant,
}

impl Norm {
    /// The algorithm that runs this GroupNorm: the direct one needs the group's channels a
    /// multiple of 4, and enough (group, sample) pairs to occupy the cores — with fewer than
    /// [`DIRECT_MIN_PAIRS`] (a batch of 1 or 2) its 8-invocation workgroups would leave
    /// cores idle, and the tiled kernel's 256 invocations per pair are faster.
    fn algorithm(&self) -> KernelVariant {
        let g = self.groups.max(1);
        let aligned = self.c % g == 0 && (self.c / g) % 4 == 0;
        self.variant.resolve(aligned && u64::from(g) * u64::from(self.batch) >= DIRECT_MIN_PAIRS)
    }

    /// Workgroups: groups × batch (tiled), or ⌈groups·batch/8⌉ (direct).
    fn grid(&self) -> [u32; 3] {
        match self.algorithm() {
            KernelVariant::Tiled => [self.groups, self.batch, 1],
            KernelVariant::Direct => [(self.groups as u64 * self.batch as u64).div_ceil(8).min(u32::MAX as u64) as u32, 1, 1],
        }
    }

    /// Whether the grid fits the default limits.
    pub(crate) fn fits(&self) -> bool {
        self.grid().iter().all(|&g| g <= MAX_GROUPS)
    }

    /// The dispatch: x, gamma, beta, y (x and y distinct).
    pub(crate) fn spec<'a>(&self, x: &'a wgpu::Buffer, gamma: &'a wgpu::Buffer, beta: &'a wgpu::Buffer, y: &'a wgpu::Buffer) -> Spec<'a> {
        Spec {
            entry: match self.algorithm() {
                KernelVariant::Tiled => Entry::GroupNorm,
                KernelVariant::Direct => Entry::GroupNormDirect,
            },
            buffers: vec![x, gamma, beta, y],
            params: vec![self.hw, self.c, self.groups, u32::from(self.silu), f(GROUPNORM_EPS), self.batch, 0, 0],
            groups: self.grid(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_close, gpu, max_abs, uniform};
    use crate::nn::norm::GroupNorm;
    use crate::nn::Workspace;

    /// Against the CPU reference `nn::norm::GroupNorm` (f64 statistics), with and without SiLU,
    /// on data with a large common offset (mean 50, sd 0.58) that a one-pass f32 variance would
    /// not survive, and on a group larger than the workgroup. The GPU's f32 statistics sum
    /// n/256 values per invocation and then 8 tree levels: ≲ (n/256 + 8)·2⁻²⁴ relative error
    /// in the variance (≈ 1.5e-6 at n = 3136), which the shifted second pass keeps independent
    /// of the offset; the normalised values then carry ~3 roundings: ≲ 2e-6 × max|y| in all. Tolerance 5e-6 × max|y|
    /// (observed on lavapipe: ≤ 2e-7 × max|y|). The direct variant sums blocks of 64 vec4s
    /// and then the block sums: ≲ (64 + n/256)·2⁻²⁴, the same order; same tolerance.
    #[test]
    fn groupnorm_matches_cpu() {
        let Some(ctx) = gpu() else { return };
        let cases = [(3usize, 12usize, 35usize, 4usize, 50.0f32), (2, 32, 28 * 28, 8, 0.0), (1, 6, 5, 3, -3.0), (17, 16, 35, 2, 50.0), (9, 64, 49, 8, 1.0), (4, 32, 28 * 28, 8, -20.0), (40, 8, 9, 1, 3.0)];
        for (&(batch, c, hw, groups, offset), variant) in cases.iter().flat_map(|c| [(c, KernelVariant::Tiled), (c, KernelVariant::Direct)]) {
            let x: Vec<f32> = uniform(21, batch * hw * c, 1.0).iter().map(|v| v + offset).collect();
            let gamma: Vec<f32> = uniform(22, c, 0.1).iter().map(|v| 1.0 + v).collect();
            let beta = uniform(23, c, 0.1);
            let gn = GroupNorm::new(&gamma, &beta, groups);
            let xb = ctx.upload("x", &x).unwrap();
            let gb = ctx.upload("gamma", &gamma).unwrap();
            let bb = ctx.upload("beta", &beta).unwrap();
            let yb = ctx.upload("y", &vec![f32::NAN; x.len()]).unwrap();
            for silu in [false, true] {
                let mut want = vec![0.0; x.len()];
                gn.forward(&x, batch, hw, silu, &mut want, &mut Workspace::new());
                let p = Norm { batch: batch as u32, hw: hw as u32, c: c as u32, groups: groups as u32, silu, variant };
                let got = pollster::block_on(run_and_read(&ctx, &[p.spec(&xb, &gb, &bb, &yb)], &yb, x.len())).unwrap();
                let what = format!("groupnorm {} b{batch} c{c} hw{hw} g{groups} offset {offset} silu {silu}", p.algorithm().name());
                assert_close(&what, &got, &want, 5e-6 * max_abs(&want, 1.0));
            }
        }
    }
}
