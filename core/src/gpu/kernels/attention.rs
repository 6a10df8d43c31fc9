//! `attention.wgsl` (row softmax) and the two strided, (sample, head)-batched GEMMs of
//! `linear.wgsl` around it: the UNet's multi-head self-attention (`nn::attention`).
//!
//! With `qkv` the `[batch][l][3·ch]` output of the qkv projection (q, k, v each `ch` wide, head
//! `h` using channels `h·d .. (h+1)·d`, `d = ch / heads`):
//!
//! ```text
//! S[b][h] = q_h · k_hᵀ            [batch][heads][l][l]   (scores)
//! P       = softmax(S / √d) per row (in place)
//! o[b][:, h·d..(h+1)·d] = P[b][h] · v_h     [batch][l][ch]
//! ```

use super::linear::Gemm;
use super::{Entry, Spec, f, grid_groups};

/// `S = q_h·k_hᵀ` for every (sample, head): A = q rows of `qkv`, B[kk][j] = k[j][h·d + kk].
pub(crate) fn scores_gemm(batch: u32, ch: u32, heads: u32, l: u32) -> Gemm {
    let d = ch / heads;
    Gemm {
        m: l,
        n: l,
        k: d,
        a_rs: 3 * ch,
        a_zo: l * 3 * ch,
        a_zi: d,
        b_off: ch,
        b_rs: 1,
        b_cs: 3 * ch,
        b_zo: l * 3 * ch,
        b_zi: d,
        c_rs: l,
        c_zo: heads * l * l,
        c_zi: l * l,
        z: batch * heads,
        z_inner: heads,
        rows_per_group: 1,
        alpha: 1.0,
        ..Gemm::default()
    }
}

/// `o_h = P·v_h` for every (sample, head), written into channels `h·d..` of `o [batch][l][ch]`.
pub(crate) fn values_gemm(batch: u32, ch: u32, heads: u32, l: u32) -> Gemm {
    let d = ch / heads;
    Gemm {
        m: l,
        n: d,
        k: l,
        a_rs: l,
        a_zo: heads * l * l,
        a_zi: l * l,
        b_off: 2 * ch,
        b_rs: 3 * ch,
        b_cs: 1,
        b_zo: l * 3 * ch,
        b_zi: d,
        c_rs: ch,
        c_zo: l * ch,
        c_zi: d,
        z: batch * heads,
        z_inner: heads,
        rows_per_group: 1,
        alpha: 1.0,
        ..Gemm::default()
    }
}

/// Softmax of `rows` rows of `l` scores, scaled by `scale` first, in place.
pub(crate) fn softmax<'a>(rows: u32, l: u32, scale: f32, s: &'a wgpu::Buffer) -> Spec<'a> {
    Spec { entry: Entry::Softmax, buffers: vec![s], params: vec![rows, l, f(scale), 0], groups: grid_groups(rows as usize) }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::concat::concat_channels;
    use crate::gpu::kernels::groupnorm::Norm;
    use crate::gpu::kernels::linear::{pack_linear, ACCUMULATE, HAS_BIAS};
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_close, gpu, max_abs, uniform};
    use crate::nn::attention::Attention;
    use crate::nn::linear::Linear;
    use crate::nn::norm::GroupNorm;
    use crate::nn::Workspace;

    /// The whole attention block `y = x + proj(attn(GN(x)))` (GroupNorm, qkv GEMM, the batched
    /// score GEMM, softmax, the batched value GEMM, proj GEMM accumulated onto a copy of x)
    /// against the CPU reference `nn::attention::Attention`, for several heads, lengths
    /// (including one past a 64-row tile) and batches. Error sources: GroupNorm ~1e-6 relative,
    /// the qkv / proj sums (K = ch) and the score / value sums (K = d, l) ~K·2⁻²⁴ each, exp
    /// ~2 ulp, all amplified by |q|·|k| = O(1). With K ≤ 70 the sums are good to ≲ √K·2⁻²⁴
    /// ≈ 5e-7 relative in the typical (random-walk) case: tolerance 5e-6 × max|y| (observed
    /// on lavapipe: ≤ 2.2e-7 × max|y|).
    #[test]
    fn attention_block_matches_cpu() {
        let Some(ctx) = gpu() else { return };
        for &(batch, ch, heads, l, groups) in &[(2usize, 8usize, 2usize, 12usize, 4usize), (1, 16, 1, 49, 8), (3, 12, 3, 5, 2), (2, 8, 1, 70, 4)] {
            let x = uniform(61, batch * l * ch, 1.5);
            let gamma: Vec<f32> = uniform(62, ch, 0.1).iter().map(|v| 1.0 + v).collect();
            let beta = uniform(63, ch, 0.1);
            let (wqkv, bqkv) = (uniform(64, 3 * ch * ch, 1.0 / (ch as f32).sqrt()), uniform(65, 3 * ch, 0.1));
            let (wp, bp) = (uniform(66, ch * ch, 1.0 / (ch as f32).sqrt()), uniform(67, ch, 0.1));
            let att = Attention {
                ch,
                heads,
                norm: GroupNorm::new(&gamma, &beta, groups),
                qkv: Linear::new(&wqkv, &bqkv, ch, 3 * ch),
                proj: Linear::new(&wp, &bp, ch, ch),
            };
            let want = att.forward(&x, batch, l, &mut Workspace::new()).to_vec();

            let up = |n: &str, v: &[f32]| ctx.upload(n, v).unwrap();
            let (xb, gb, bb) = (up("x", &x), up("gamma", &gamma), up("beta", &beta));
            let (wq, bq, wpb, bpb) = (up("wqkv", &pack_linear(&wqkv, ch, 3 * ch)), up("bqkv", &bqkv), up("wp", &pack_linear(&wp, ch, ch)), up("bp", &bp));
            let empty = |n: &str, len: usize| up(n, &vec![f32::NAN; len]);
            let (xn, qkv, s, o, y) = (empty("xn", x.len()), empty("qkv", 3 * x.len()), empty("s", batch * heads * l * l), empty("o", x.len()), empty("y", x.len()));
            let dummy = up("dummy", &[0.0; 4]);
            let (b32, ch32, h32, l32) = (batch as u32, ch as u32, heads as u32, l as u32);
            let rows = b32 * l32;
            let specs = [
                Norm { batch: b32, hw: l32, c: ch32, groups: groups as u32, silu: false, variant: Default::default() }.spec(&xb, &gb, &bb, &xn),
                Gemm::dense(rows, ch32, 3 * ch32, HAS_BIAS).spec(&xn, &wq, Some(&bq), None, &qkv, &dummy),
                scores_gemm(b32, ch32, h32, l32).spec(&qkv, &qkv, None, None, &s, &dummy),
                softmax(b32 * h32 * l32, l32, 1.0 / ((ch / heads) as f32).sqrt(), &s),
                values_gemm(b32, ch32, h32, l32).spec(&s, &qkv, None, None, &o, &dummy),
                concat_channels(rows, ch32, 0, &xb, &xb, &y),
                Gemm::dense(rows, ch32, ch32, HAS_BIAS | ACCUMULATE).spec(&o, &wpb, Some(&bpb), None, &y, &dummy),
            ];
            let got = pollster::block_on(run_and_read(&ctx, &specs, &y, x.len())).unwrap();
            assert_close(&format!("attention b{batch} ch{ch} heads{heads} l{l}"), &got, &want, 5e-6 * max_abs(&want, 1.0));
        }
    }
}
