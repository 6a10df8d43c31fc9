//! Linear layers (and 1×1 convolutions, which are linears over NHWC pixels).

use super::gemm::{gemm, ASrc, Init, PackedB};
use super::workspace::Workspace;

/// `y = x·Wᵀ + b` with `W` in PyTorch layout `[fout, fin]` (or a 1×1 conv `[fout, fin, 1, 1]`,
/// the same memory), packed once for the GEMM.
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub(crate) fin: usize,
    pub(crate) fout: usize,
    w: PackedB,
    pub(crate) bias: Vec<f32>,
}

impl Linear {
    /// From a weight `[fout, fin]` and bias `[fout]`.
    pub(crate) fn new(weight: &[f32], bias: &[f32], fin: usize, fout: usize) -> Self {
        Linear { fin, fout, w: PackedB::from_transposed(weight, fin, fout), bias: bias.to_vec() }
    }

    /// `out = x·Wᵀ + b`: `x` is `[rows][fin]`, `out` is `[rows][fout]`.
    pub(crate) fn forward(&self, x: &[f32], rows: usize, out: &mut [f32], ws: &mut Workspace) {
        self.forward_init(x, rows, out, Init::Bias(&self.bias), ws)
    }

    /// `out += x·Wᵀ + b` (a residual connection).
    pub(crate) fn forward_add(&self, x: &[f32], rows: usize, out: &mut [f32], ws: &mut Workspace) {
        self.forward_init(x, rows, out, Init::AddBias(&self.bias), ws)
    }

    /// With an explicit [`Init`] (which must include the bias).
    pub(crate) fn forward_init(&self, x: &[f32], rows: usize, out: &mut [f32], init: Init<'_>, ws: &mut Workspace) {
        debug_assert!(x.len() >= rows * self.fin && out.len() >= rows * self.fout);
        gemm(rows, &ASrc::Dense { data: x, lda: self.fin }, self.w.view(), out, self.fout, init, ws);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::naive;
    use crate::noise::Stream;

    /// A 1×1 convolution over NHWC pixels against the plain NCHW f64 convolution; bound
    /// `(K+2)·2⁻²⁴·(|b| + Σ|w·x|)` with K = cin (see the GEMM tests).
    #[test]
    fn conv1x1_matches_naive() {
        let (batch, cin, cout, hw) = (3, 20, 12, 5 * 4);
        let s = Stream::new(9, 9);
        let r = |o: u64, n: usize| -> Vec<f32> { (0..n).map(|i| (2.0 * s.uniform(o + i as u64) - 1.0) as f32).collect() };
        let (x, w, b) = (r(0, batch * cin * hw), r(10_000, cout * cin), r(20_000, cout));
        let lin = Linear::new(&w, &b, cin, cout);
        let mut out = vec![0.0; batch * hw * cout];
        lin.forward(&naive::nchw_to_nhwc(&x, batch, cin, hw), batch * hw, &mut out, &mut Workspace::new());
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let a = |v: &[f32]| v.iter().map(|&x| (x as f64).abs()).collect::<Vec<_>>();
        let (want, _, _) = naive::conv2d(&f(&x), batch, cin, 5, 4, &f(&w), &f(&b), cout, 1, 1);
        let (mag, _, _) = naive::conv2d(&a(&x), batch, cin, 5, 4, &a(&w), &a(&b), cout, 1, 1);
        let got = naive::nhwc_to_nchw(&out, batch, cout, hw);
        for i in 0..got.len() {
            let bound = (cin + 2) as f64 * 2f64.powi(-24) * mag[i];
            assert!((got[i] as f64 - want[i]).abs() <= bound, "element {i}");
        }
    }
}
