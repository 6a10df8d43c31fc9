//! Multi-head self-attention over the pixels of an NHWC feature map (the UNet's `mid.attn`).

use super::activation::exp;
use super::gemm::{gemm_rows, pack_b_strided, packed_len, ASrc, Init};
use super::linear::Linear;
use super::norm::GroupNorm;
use super::par;
use super::workspace::{Buf, Workspace};

/// `y = x + proj(attn(GN(x)))` with `heads` heads of `d = ch / heads` channels:
///
/// ```text
/// [q | k | v] = qkv(GN(x))                      per pixel, q, k, v each ch wide (in that order)
/// head h uses channels h·d .. (h+1)·d of q, k and v
/// S = q_h · k_hᵀ / √d       (L × L, L = pixels of one sample)
/// P = softmax over each row of S (max subtracted first)
/// o_h = P · v_h             written to channels h·d .. (h+1)·d of o
/// y = x + proj(o)
/// ```
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    pub(crate) ch: usize,
    pub(crate) heads: usize,
    pub(crate) norm: GroupNorm,
    pub(crate) qkv: Linear,
    pub(crate) proj: Linear,
}

impl Attention {
    /// `x` is `[batch][l][ch]`; returns `y` of the same shape (a workspace buffer).
    pub(crate) fn forward(&self, x: &[f32], batch: usize, l: usize, ws: &mut Workspace) -> Buf<f32> {
        let ch = self.ch;
        let n = batch * l;
        let d = ch / self.heads;
        let mut xn = ws.take(n * ch);
        self.norm.forward(x, batch, l, false, &mut xn, ws);
        let mut qkv = ws.take(n * 3 * ch);
        self.qkv.forward(&xn, n, &mut qkv, ws);
        ws.give(xn);

        // Per sample: scores (l × l) and one packed B (kᵀ: d × l, or v: l × d).
        let slot = l * l + packed_len(d, l).max(packed_len(l, d));
        let tasks = par::num_tasks(batch, batch * self.heads * 2 * l * l * d);
        let mut scratch = ws.take(tasks * slot);
        let mut o = ws.take(n * ch);
        let qkv_ref: &[f32] = &qkv;
        let scale = 1.0 / (d as f32).sqrt();
        par::for_each_task(&mut o, l * ch, tasks, &mut scratch, |b0, chunk, slot| {
            let (scores, bpack) = slot.split_at_mut(l * l);
            for (i, ob) in chunk.chunks_mut(l * ch).enumerate() {
                let q = &qkv_ref[(b0 + i) * l * 3 * ch..(b0 + i + 1) * l * 3 * ch];
                for h in 0..self.heads {
                    // S = q_h · k_hᵀ: B[kk][j] = k[j][h·d + kk].
                    let kt = pack_b_strided(d, l, &q[ch + h * d..], 1, 3 * ch, bpack);
                    gemm_rows(0, l, &ASrc::Dense { data: &q[h * d..], lda: 3 * ch }, kt, scores, l, Init::Zero, &mut []);
                    softmax_rows(scores, l, scale);
                    // o_h = P · v_h: B[kk][j] = v[kk][h·d + j].
                    let v = pack_b_strided(l, d, &q[2 * ch + h * d..], 3 * ch, 1, bpack);
                    gemm_rows(0, l, &ASrc::Dense { data: scores, lda: l }, v, &mut ob[h * d..], ch, Init::Zero, &mut []);
                }
            }
        });
        ws.give(scratch);
        ws.give(qkv);
        let mut y = ws.take(n * ch);
        y.copy_from_slice(x);
        self.proj.forward_add(&o, n, &mut y, ws);
        ws.give(o);
        y
    }
}

/// Row-wise `softmax(scale·s)` of an `[l][l]` matrix, in place: subtract the row maximum,
/// exponentiate, sum in order, multiply by the reciprocal of the sum.
fn softmax_rows(s: &mut [f32], l: usize, scale: f32) {
    for row in s.chunks_exact_mut(l) {
        let mut max = f32::NEG_INFINITY;
        for v in row.iter_mut() {
            *v *= scale;
            max = max.max(*v);
        }
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = exp(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::naive;
    use crate::noise::Stream;

    /// Against the plain f64 attention (GroupNorm, qkv, per-head softmax, proj, residual).
    /// Errors: GroupNorm ~1e-6 relative, the qkv and proj sums (K = ch) and the score and PV sums
    /// (K = d, L) ~K·2⁻²⁴, softmax exp ~2 ulp; amplified by |q|·|k| of O(1). We allow 1e-5
    /// relative to the output's largest magnitude, about 10× what is observed.
    #[test]
    fn attention_matches_naive() {
        for &(batch, ch, heads, l, groups) in &[(2usize, 8usize, 2usize, 12usize, 4usize), (1, 16, 1, 49, 8), (3, 12, 3, 5, 2)] {
            let s = Stream::new(11, ch as u64);
            let mut i = 0u64;
            let mut r = |n: usize, sc: f32| -> Vec<f32> {
                (0..n).map(|_| { i += 1; sc * (2.0 * s.uniform(i) - 1.0) as f32 }).collect()
            };
            let x = r(batch * ch * l, 1.5);
            let gamma: Vec<f32> = r(ch, 0.1).iter().map(|v| 1.0 + v).collect();
            let beta = r(ch, 0.1);
            let (wqkv, bqkv) = (r(3 * ch * ch, 1.0 / (ch as f32).sqrt()), r(3 * ch, 0.1));
            let (wp, bp) = (r(ch * ch, 1.0 / (ch as f32).sqrt()), r(ch, 0.1));
            let att = Attention {
                ch,
                heads,
                norm: GroupNorm::new(&gamma, &beta, groups),
                qkv: Linear::new(&wqkv, &bqkv, ch, 3 * ch),
                proj: Linear::new(&wp, &bp, ch, ch),
            };
            let mut ws = Workspace::new();
            let y = att.forward(&naive::nchw_to_nhwc(&x, batch, ch, l), batch, l, &mut ws);
            let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            let want = naive::attention(&f(&x), batch, ch, l, heads, groups, &f(&gamma), &f(&beta), &f(&wqkv), &f(&bqkv), &f(&wp), &f(&bp));
            let got = naive::nhwc_to_nchw(&y, batch, ch, l);
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let err = got.iter().zip(&want).fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
            assert!(err <= 1e-5 * scale, "batch {batch} ch {ch} heads {heads} l {l}: err {err:e}");
        }
    }
}
