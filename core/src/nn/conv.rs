//! 3×3 convolutions over NHWC images (`[batch][height][width][channels]`), padding 1, as a GEMM
//! over the implicit im2col matrix: row = output pixel `(b, y, x)`, column = `tap·cin + ci` with
//! `tap = 3·ky + kx`. The weight `[cout, cin, 3, 3]` (PyTorch layout) is packed once into the
//! matching `(9·cin) × cout` right-hand matrix. 1×1 convolutions are linears over pixels
//! (see [`super::linear::Linear`]).

use super::gemm::{gemm, ASrc, Init, PackedB};
use super::workspace::Workspace;

/// Which 3×3 convolution (all pad 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvMode {
    /// Stride 1: `h × w → h × w`.
    Same,
    /// Stride 2 (downsampling): `h × w → ⌈h/2⌉ × ⌈w/2⌉`.
    Down,
    /// Nearest-neighbour ×2 upsampling, then stride 1: `h × w → 2h × 2w`. The upsampled image is
    /// never stored: im2col reads pixel `(y/2, x/2)` for upsampled position `(y, x)`.
    Up,
}

impl ConvMode {
    /// Output height and width for an `h × w` input.
    pub(crate) fn out_hw(self, h: usize, w: usize) -> (usize, usize) {
        match self {
            ConvMode::Same => (h, w),
            ConvMode::Down => (h.div_ceil(2), w.div_ceil(2)),
            ConvMode::Up => (2 * h, 2 * w),
        }
    }
}

/// The im2col view of a 3×3 convolution's input: `src` is NHWC `[batch][h][w][cin]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Im2col<'a> {
    pub(crate) src: &'a [f32],
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) cin: usize,
    pub(crate) mode: ConvMode,
}

impl<'a> Im2col<'a> {
    /// The k-block length for this convolution: the largest divisor of `3·cin` (one kernel row
    /// `ky` of taps) that is at most `max_kc`. A block then never straddles two kernel rows, and
    /// for an interior pixel it is one contiguous run of the NHWC input (3 neighbouring pixels'
    /// channels), which the GEMM reads in place. Depends on `cin` only.
    pub(crate) fn k_block(&self, max_kc: usize) -> usize {
        let row = 3 * self.cin;
        let mut blocks = row.div_ceil(max_kc).max(1);
        while !row.is_multiple_of(blocks) {
            blocks += 1;
        }
        row / blocks
    }

    /// The `tile` rows `row0 + i` of columns `k0 .. k0 + kc` (a block from [`k_block`]) as
    /// slices: straight into `src` for pixels whose three taps of this kernel row lie inside the
    /// image (not for `Up`), otherwise gathered into `apack` (`tile·kc` values) with zero padding.
    /// Rows `mr ..` repeat the last valid row; their results are discarded.
    pub(crate) fn rows<'s, const TILE: usize>(&'s self, row0: usize, mr: usize, k0: usize, kc: usize, apack: &'s mut [f32]) -> [&'s [f32]; TILE]
    where
        'a: 's,
    {
        let mut direct = [usize::MAX; TILE];
        for (i, d) in direct.iter_mut().enumerate() {
            let r = row0 + i.min(mr - 1);
            match self.direct_offset(r, k0) {
                Some(off) => *d = off,
                None => self.gather(r, k0, &mut apack[i * kc..(i + 1) * kc]),
            }
        }
        let packed: &'s [f32] = apack;
        std::array::from_fn(|i| if direct[i] == usize::MAX { &packed[i * kc..(i + 1) * kc] } else { &self.src[direct[i]..direct[i] + kc] })
    }

    /// Output pixel `r` as (sample, y, x).
    #[inline]
    fn pixel(&self, r: usize) -> (usize, usize, usize) {
        let (oh, ow) = self.mode.out_hw(self.h, self.w);
        let (b, rem) = (r / (oh * ow), r % (oh * ow));
        (b, rem / ow, rem % ow)
    }

    /// Where row `r`, block starting at `k0`, lies contiguously in `src`, if it does.
    #[inline]
    fn direct_offset(&self, r: usize, k0: usize) -> Option<usize> {
        let stride = match self.mode {
            ConvMode::Same => 1,
            ConvMode::Down => 2,
            ConvMode::Up => return None,
        };
        let (b, oy, ox) = self.pixel(r);
        let row = 3 * self.cin;
        let (ky, within) = (k0 / row, k0 % row);
        let vy = (oy * stride + ky).wrapping_sub(1);
        let vx0 = (ox * stride).wrapping_sub(1);
        (vy < self.h && vx0 < self.w && vx0 + 2 < self.w).then(|| ((b * self.h + vy) * self.w + vx0) * self.cin + within)
    }

    /// Copies row `r`, columns `k0 .. k0 + dst.len()`, into `dst`, zero outside the image.
    fn gather(&self, r: usize, k0: usize, dst: &mut [f32]) {
        let (h, w, cin) = (self.h, self.w, self.cin);
        let (stride, vh, vw) = match self.mode {
            ConvMode::Same => (1, h, w),
            ConvMode::Down => (2, h, w),
            ConvMode::Up => (1, 2 * h, 2 * w),
        };
        let (b, oy, ox) = self.pixel(r);
        let end = k0 + dst.len();
        let mut k = k0;
        while k < end {
            let tap = k / cin;
            let ci = k - tap * cin;
            let run = (cin - ci).min(end - k);
            let (ky, kx) = (tap / 3, tap % 3);
            // Position in the (virtual, possibly upsampled) input, shifted by the padding.
            let vy = (oy * stride + ky).wrapping_sub(1);
            let vx = (ox * stride + kx).wrapping_sub(1);
            let out = &mut dst[k - k0..k - k0 + run];
            if vy < vh && vx < vw {
                let (sy, sx) = if self.mode == ConvMode::Up { (vy / 2, vx / 2) } else { (vy, vx) };
                let off = ((b * h + sy) * w + sx) * cin + ci;
                out.copy_from_slice(&self.src[off..off + run]);
            } else {
                out.fill(0.0);
            }
            k += run;
        }
    }
}

/// A 3×3 convolution, padding 1, with its weight packed for the GEMM.
#[derive(Clone, Debug)]
pub(crate) struct Conv3x3 {
    pub(crate) cin: usize,
    pub(crate) cout: usize,
    w: PackedB,
    pub(crate) bias: Vec<f32>,
}

impl Conv3x3 {
    /// From a PyTorch weight `[cout, cin, 3, 3]` and bias `[cout]`.
    pub(crate) fn new(weight: &[f32], bias: &[f32], cin: usize, cout: usize) -> Self {
        let w = PackedB::new(9 * cin, cout, |k, o| {
            let (tap, ci) = (k / cin, k % cin);
            weight[(o * cin + ci) * 9 + tap]
        });
        Conv3x3 { cin, cout, w, bias: bias.to_vec() }
    }

    /// `out = conv(src) + bias`: `src` NHWC `[batch][h][w][cin]`, `out` NHWC
    /// `[batch][oh][ow][cout]` with `(oh, ow) = mode.out_hw(h, w)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward(&self, src: &[f32], batch: usize, h: usize, w: usize, mode: ConvMode, out: &mut [f32], ws: &mut Workspace) {
        self.forward_init(src, batch, h, w, mode, out, Init::Bias(&self.bias), ws)
    }

    /// Like [`forward`](Self::forward) with an explicit [`Init`] (which must include the bias).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward_init(&self, src: &[f32], batch: usize, h: usize, w: usize, mode: ConvMode, out: &mut [f32], init: Init<'_>, ws: &mut Workspace) {
        let (oh, ow) = mode.out_hw(h, w);
        let m = batch * oh * ow;
        debug_assert_eq!(src.len(), batch * h * w * self.cin);
        debug_assert_eq!(out.len(), m * self.cout);
        let a = ASrc::Im2col(Im2col { src, h, w, cin: self.cin, mode });
        gemm(m, &a, self.w.view(), out, self.cout, init, ws);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::naive;
    use crate::noise::Stream;

    fn rand(seed: u64, n: usize) -> Vec<f32> {
        let s = Stream::new(seed, 1);
        (0..n).map(|i| (2.0 * s.uniform(i as u64) - 1.0) as f32).collect()
    }

    /// Against the plain NCHW f64 convolution of `naive`, with the rigorous bound for an f32
    /// sum of K = 9·cin products plus the bias: `(K+2)·2⁻²⁴·(|bias| + Σ|w·x|)` per element.
    fn check(mode: ConvMode, batch: usize, cin: usize, cout: usize, h: usize, w: usize) {
        let x = rand(1, batch * cin * h * w); // NCHW
        let wt = rand(2, cout * cin * 9);
        let bias = rand(3, cout);
        let conv = Conv3x3::new(&wt, &bias, cin, cout);
        let nhwc = naive::nchw_to_nhwc(&x, batch, cin, h * w);
        let (oh, ow) = mode.out_hw(h, w);
        let mut out = vec![f32::NAN; batch * oh * ow * cout];
        let mut ws = Workspace::new();
        conv.forward(&nhwc, batch, h, w, mode, &mut out, &mut ws);
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let (xin, ih, iw) = if mode == ConvMode::Up { (naive::upsample2(&xd, batch * cin, h, w), 2 * h, 2 * w) } else { (xd, h, w) };
        let stride = if mode == ConvMode::Down { 2 } else { 1 };
        let wd: Vec<f64> = wt.iter().map(|&v| v as f64).collect();
        let bd: Vec<f64> = bias.iter().map(|&v| v as f64).collect();
        let (r, rh, rw) = naive::conv2d(&xin, batch, cin, ih, iw, &wd, &bd, cout, 3, stride);
        assert_eq!((rh, rw), (oh, ow));
        let absw: Vec<f64> = wd.iter().map(|v| v.abs()).collect();
        let absx: Vec<f64> = xin.iter().map(|v| v.abs()).collect();
        let absb: Vec<f64> = bd.iter().map(|v| v.abs()).collect();
        let (mag, _, _) = naive::conv2d(&absx, batch, cin, ih, iw, &absw, &absb, cout, 3, stride);
        let got = naive::nhwc_to_nchw(&out, batch, cout, oh * ow);
        let k = 9 * cin;
        for i in 0..got.len() {
            let bound = (k + 2) as f64 * 2f64.powi(-24) * mag[i];
            let err = (got[i] as f64 - r[i]).abs();
            assert!(err <= bound, "{mode:?} {cin}->{cout} {h}x{w}: element {i} err {err:e} > {bound:e}");
        }
    }

    #[test]
    fn conv3x3_same() {
        check(ConvMode::Same, 2, 3, 5, 6, 7);
        check(ConvMode::Same, 1, 40, 16, 5, 5); // 3 k-blocks (one per kernel row)
        check(ConvMode::Same, 1, 90, 8, 4, 5); // 3·cin = 270 > 256: 6 k-blocks of 135
        check(ConvMode::Same, 1, 97, 5, 3, 3); // 3·cin = 291: blocks of 97
        check(ConvMode::Same, 3, 1, 9, 4, 3);
    }

    #[test]
    fn conv3x3_stride2() {
        check(ConvMode::Down, 2, 4, 6, 8, 6);
        check(ConvMode::Down, 1, 3, 8, 7, 5); // odd sizes
    }

    #[test]
    fn conv3x3_upsample() {
        check(ConvMode::Up, 2, 4, 6, 3, 4);
        check(ConvMode::Up, 1, 33, 8, 2, 2);
    }
}
