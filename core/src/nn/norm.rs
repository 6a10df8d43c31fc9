//! GroupNorm over NHWC activations, optionally fused with SiLU.

use super::activation::{silu, simd_dispatch};
use super::par;
use super::workspace::Workspace;
use crate::config::GROUPNORM_EPS;

/// GroupNorm with `groups` groups of `c / groups` consecutive channels and an affine
/// `gamma`, `beta` per channel (PyTorch `nn.GroupNorm`, biased variance, eps [`GROUPNORM_EPS`]).
#[derive(Clone, Debug)]
pub(crate) struct GroupNorm {
    pub(crate) c: usize,
    pub(crate) groups: usize,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl GroupNorm {
    pub(crate) fn new(gamma: &[f32], beta: &[f32], groups: usize) -> Self {
        GroupNorm { c: gamma.len(), groups, gamma: gamma.to_vec(), beta: beta.to_vec() }
    }

    /// `y = GN(x)` or `y = SiLU(GN(x))`; `x`, `y` are `[batch][hw][c]`.
    ///
    /// Statistics per (sample, group) in f64, two-pass (mean, then the mean squared deviation),
    /// summed per channel in pixel order and then over the group's channels in channel order, so
    /// they are independent of the batch and of the thread count. Then, in f32,
    /// `y = ((x − mean_hi) − mean_lo)·(gamma·rstd) + beta`, where the mean is split into two
    /// f32s (`mean_hi + mean_lo`) so that a large common offset cancels exactly.
    pub(crate) fn forward(&self, x: &[f32], batch: usize, hw: usize, with_silu: bool, y: &mut [f32], ws: &mut Workspace) {
        let c = self.c;
        debug_assert!(x.len() == batch * hw * c && y.len() == x.len());
        if x.is_empty() {
            return;
        }
        // Per sample: mean and scale per channel.
        let mut params = ws.take(batch * 3 * c);
        let tasks = par::num_tasks(batch, 2 * x.len());
        let mut acc = ws.take64(tasks * 2 * c);
        par::for_each_task(&mut params, 3 * c, tasks, &mut acc, |b0, chunk, acc| {
            for (i, p) in chunk.chunks_mut(3 * c).enumerate() {
                let b = b0 + i;
                self.stats(&x[b * hw * c..(b + 1) * hw * c], hw, acc, p);
            }
        });
        let tasks = par::num_tasks(batch, x.len());
        let params_ref: &[f32] = &params;
        par::for_each_task(y, hw * c, tasks, &mut [] as &mut [f32], |b0, chunk, _| {
            for (i, ys) in chunk.chunks_mut(hw * c).enumerate() {
                let b = b0 + i;
                let p = &params_ref[b * 3 * c..(b + 1) * 3 * c];
                let (mean_hi, mean_lo, scale) = (&p[..c], &p[c..2 * c], &p[2 * c..]);
                let xs = &x[b * hw * c..(b + 1) * hw * c];
                apply(ys, xs, [mean_hi, mean_lo, scale, &self.beta], with_silu);
            }
        });
        ws.give(params);
        ws.give64(acc);
    }

    /// Statistics of one sample `xs` (`[hw][c]`): writes `[mean_hi; mean_lo; scale]` per channel.
    fn stats(&self, xs: &[f32], hw: usize, acc: &mut [f64], out: &mut [f32]) {
        let c = self.c;
        let cpg = c / self.groups;
        let count = (hw * cpg) as f64;
        let (sums, means) = acc[..2 * c].split_at_mut(c);
        sums.fill(0.0);
        for px in xs.chunks_exact(c) {
            for (s, &v) in sums.iter_mut().zip(px) {
                *s += v as f64;
            }
        }
        for g in 0..self.groups {
            let mean = sums[g * cpg..(g + 1) * cpg].iter().sum::<f64>() / count;
            means[g * cpg..(g + 1) * cpg].fill(mean);
        }
        sums.fill(0.0);
        for px in xs.chunks_exact(c) {
            for ((s, &v), &m) in sums.iter_mut().zip(px).zip(means.iter()) {
                let d = v as f64 - m;
                *s += d * d;
            }
        }
        let (hi_out, rest) = out.split_at_mut(c);
        let (lo_out, scale_out) = rest.split_at_mut(c);
        for g in 0..self.groups {
            let var = sums[g * cpg..(g + 1) * cpg].iter().sum::<f64>() / count;
            let rstd = 1.0 / (var + GROUPNORM_EPS as f64).sqrt();
            for ch in g * cpg..(g + 1) * cpg {
                hi_out[ch] = means[ch] as f32;
                lo_out[ch] = (means[ch] - hi_out[ch] as f64) as f32;
                scale_out[ch] = (self.gamma[ch] as f64 * rstd) as f32;
            }
        }
    }
}

/// `y = ((x − hi) − lo)·scale + beta` (then SiLU) for one sample, `[hw][c]`, with the
/// per-channel `[hi, lo, scale, beta]`.
fn apply(ys: &mut [f32], xs: &[f32], p: [&[f32]; 4], with_silu: bool) {
    simd_dispatch!(apply_body(ys, xs, p, with_silu))
}

#[inline(always)]
fn apply_body(ys: &mut [f32], xs: &[f32], [hi, lo, scale, beta]: [&[f32]; 4], with_silu: bool) {
    let c = hi.len();
    for (yp, xp) in ys.chunks_exact_mut(c).zip(xs.chunks_exact(c)) {
        let params = hi.iter().zip(lo).zip(scale.iter().zip(beta));
        for ((y, &x), ((&hi, &lo), (&sc, &bt))) in yp.iter_mut().zip(xp).zip(params) {
            *y = ((x - hi) - lo) * sc + bt;
        }
        if with_silu {
            for y in yp.iter_mut() {
                *y = silu(*y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::naive;
    use crate::noise::Stream;

    /// Against the plain f64 GroupNorm (+ SiLU). The f32 path rounds the scale and the mean's low
    /// part (2⁻²⁴ relative each; `x − mean_hi` is exact), then subtracts, multiplies and adds
    /// (3 roundings), and SiLU adds ≲ 8 ulp: error ≲ 16·2⁻²⁴·max|y| ≈ 1e-6; we allow 2e-6
    /// relative to the largest output. The data have a large common offset (mean 50, sd 0.58)
    /// that a one-pass variance or an f32 mean would not survive at this tolerance.
    #[test]
    fn groupnorm_silu_matches_naive() {
        let (batch, c, hw, groups) = (3, 12, 7 * 5, 4);
        let s = Stream::new(3, 3);
        let x: Vec<f32> = (0..batch * c * hw).map(|i| 50.0 + (2.0 * s.uniform(i as u64) - 1.0) as f32).collect();
        let gamma: Vec<f32> = (0..c).map(|i| 1.0 + 0.1 * (2.0 * s.uniform(10_000 + i as u64) - 1.0) as f32).collect();
        let beta: Vec<f32> = (0..c).map(|i| 0.1 * (2.0 * s.uniform(20_000 + i as u64) - 1.0) as f32).collect();
        let gn = GroupNorm::new(&gamma, &beta, groups);
        let xn = naive::nchw_to_nhwc(&x, batch, c, hw);
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let gd: Vec<f64> = gamma.iter().map(|&v| v as f64).collect();
        let bd: Vec<f64> = beta.iter().map(|&v| v as f64).collect();
        let mut ws = Workspace::new();
        for with_silu in [false, true] {
            let mut y = vec![0.0; x.len()];
            gn.forward(&xn, batch, hw, with_silu, &mut y, &mut ws);
            let mut want = naive::group_norm(&xd, batch, c, hw, groups, &gd, &bd);
            if with_silu {
                want = naive::silu(&want);
            }
            let got = naive::nhwc_to_nchw(&y, batch, c, hw);
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for i in 0..got.len() {
                assert!((got[i] as f64 - want[i]).abs() <= 2e-6 * scale, "silu {with_silu} element {i}: {} vs {}", got[i], want[i]);
            }
        }
    }
}
